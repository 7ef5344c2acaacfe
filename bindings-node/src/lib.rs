//! Node binding of rtio (work in progress).
