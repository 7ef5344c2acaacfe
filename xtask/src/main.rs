//! `cargo run -p xtask -- header [--check]`: writes `include/rtio.h` from the `ffi-c` crate
//! with cbindgen, or (with `--check`) fails when the committed header differs.

use std::path::Path;
use std::process::ExitCode;

fn generate(root: &Path) -> Result<String, String> {
    let crate_dir = root.join("ffi-c");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .map_err(|e| format!("ffi-c/cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("header") {
        eprintln!("usage: cargo run -p xtask -- header [--check]");
        return ExitCode::from(2);
    }
    let check = args.iter().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let header_path = root.join("include/rtio.h");
    let fresh = match generate(&root) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    if check {
        let committed = std::fs::read_to_string(&header_path).unwrap_or_default();
        if committed != fresh {
            eprintln!("include/rtio.h is stale: run `make header` and commit the result");
            return ExitCode::FAILURE;
        }
        println!("include/rtio.h is up to date");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = std::fs::create_dir_all(root.join("include"))
        .and_then(|_| std::fs::write(&header_path, fresh))
    {
        eprintln!("writing include/rtio.h: {e}");
        return ExitCode::FAILURE;
    }
    println!("wrote include/rtio.h");
    ExitCode::SUCCESS
}
