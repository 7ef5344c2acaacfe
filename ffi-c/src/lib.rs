//! The C ABI of rtio: `include/rtio.h` is generated from this crate by cbindgen.
//!
//! Every entry point runs inside one guard (`error::guard`) that catches panics and records
//! the thread-local error message; pointer and UTF-8 checks go through shared helpers.

mod cluster;
mod config;
mod emitter;
mod error;
mod event;
mod intake;
mod json;
mod server;

pub use cluster::*;
pub use config::*;
pub use emitter::*;
pub use error::*;
pub use event::*;
pub use intake::*;
pub use json::*;
pub use server::*;

/// The rtio version, e.g. `"0.1.0"`. Static storage; never free it.
#[no_mangle]
pub extern "C" fn rtio_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const std::ffi::c_char
}
