//! The soname of cargo's shared library: `librtio.so.0`, the ABI major (docs/c.md). The
//! library that ships (`make install`, the .deb) is linked from the static library by
//! ffi-c/c.mk with the same soname plus the symbol versions of `ffi-c/rtio.map`: rustc passes
//! an anonymous version script of its own to the cdylib link, which a named one cannot join.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,librtio.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
