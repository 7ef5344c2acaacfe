//! Python binding of rtio (work in progress).
