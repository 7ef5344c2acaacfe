//! The C ABI of rtio (work in progress).
