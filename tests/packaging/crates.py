#!/usr/bin/env python3
"""The crates as crates.io would take them (make test-dist-rust), quickly: no verify build.

For rtio and rtio-redis: the metadata crates.io and docs.rs use is there, every dependency
would resolve from the registry (no path-only dependency), and `cargo package` holds only
what the crate needs — the sources, Cargo.toml, README.md, LICENSE — and builds the .crate
files (`--no-verify --offline`; `make dist-rust` runs the full verify build).
"""
import json
import pathlib
import subprocess
import sys
import tarfile
import tomllib

TOP = pathlib.Path(__file__).resolve().parents[2]
CRATES = ["rtio", "rtio-redis"]
errors = []


def cargo(*args):
    return subprocess.run(["cargo", *args], cwd=TOP, check=True, capture_output=True,
                          text=True).stdout


meta = json.loads(cargo("metadata", "--no-deps", "--format-version", "1", "--offline"))
packages = {p["name"]: p for p in meta["packages"]}
version = tomllib.loads((TOP / "Cargo.toml").read_text())["workspace"]["package"]["version"]

for name in CRATES:
    p = packages[name]
    root = pathlib.Path(p["manifest_path"]).parent
    for field in ["description", "license", "repository", "homepage", "documentation", "readme"]:
        if not p.get(field):
            errors.append(f"{name}: no {field}")
    if p.get("readme") and not (root / p["readme"]).is_file():
        errors.append(f"{name}: readme {p['readme']} does not exist")
    if not 1 <= len(p.get("keywords", [])) <= 5:
        errors.append(f"{name}: 1 to 5 keywords, not {p.get('keywords')}")
    if not 1 <= len(p.get("categories", [])) <= 5:
        errors.append(f"{name}: 1 to 5 categories, not {p.get('categories')}")
    if not ((p.get("metadata") or {}).get("docs") or {}).get("rs"):
        errors.append(f"{name}: no [package.metadata.docs.rs]")
    if p.get("publish") == []:
        errors.append(f"{name}: publish = false")
    for dep in p["dependencies"]:
        if dep.get("path") and dep["kind"] != "dev" and dep.get("req", "*") == "*":
            errors.append(f"{name}: dependency {dep['name']} is path-only (give it a version)")
        if dep.get("path") and dep["kind"] != "dev" and dep["name"] not in CRATES:
            errors.append(f"{name}: depends on {dep['name']}, which is not published")

    listed = cargo("package", "-p", name, "--list", "--allow-dirty", "--offline").split()
    print(f"{name}: {len(listed)} files")
    for must in ["Cargo.toml", "README.md", "LICENSE", "src/lib.rs"]:
        if must not in listed:
            errors.append(f"{name}: {must} not in the package")
    allowed = {"Cargo.toml", "Cargo.toml.orig", "Cargo.lock", ".cargo_vcs_info.json",
               "README.md", "LICENSE"}
    for f in listed:
        if f not in allowed and not (f.startswith("src/") and f.endswith(".rs")):
            errors.append(f"{name}: {f} should not be in the package")

# Both .crate files, the way `cargo publish` uploads them (rtio-redis resolves rtio from the
# same run, as the registry will once rtio is published first).
args = ["package", "--no-verify", "--allow-dirty", "--offline"]
for name in CRATES:
    args += ["-p", name]
subprocess.run(["cargo", *args], cwd=TOP, check=True, capture_output=True, text=True)
for name in CRATES:
    crate = TOP / "target" / "package" / f"{name}-{version}.crate"
    with tarfile.open(crate) as tar:
        members = tar.getnames()
        manifest = tomllib.loads(
            tar.extractfile(f"{name}-{version}/Cargo.toml").read().decode())
    print(f"{crate.relative_to(TOP)}: {len(members)} files, {crate.stat().st_size} bytes")
    for section in ["dependencies", "dev-dependencies", "build-dependencies"]:
        for dep, spec in manifest.get(section, {}).items():
            if isinstance(spec, dict) and "path" in spec:
                errors.append(f"{crate.name}: {section}.{dep} keeps a path")
    if name == "rtio-redis":
        req = manifest["dependencies"]["rtio"].get("version")
        if req != version:
            errors.append(f"{crate.name}: depends on rtio {req!r}, not {version}")

if errors:
    for e in errors:
        print(f"  {e}", file=sys.stderr)
    sys.exit(1)
print("crates: rtio and rtio-redis package cleanly")
