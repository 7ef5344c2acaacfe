#!/usr/bin/env python3
"""One version for every package (make test-versions).

The version is set in one place, [workspace.package] version in the top Cargo.toml. This
checks every other place a version is written or derived agrees with it: every workspace
crate, the workspace dependency on the core (it carries a version so rtio-redis can publish),
the npm package (and its lockfile and per-platform packages, when present), the Python
package, the pkg-config template, rtio_version() and the other CARGO_PKG_VERSION users, and
CHANGELOG.md. Exit 1 naming each place that differs.
"""
import json
import pathlib
import re
import subprocess
import sys
import tomllib

TOP = pathlib.Path(__file__).resolve().parents[2]
errors = []


def check(what, found, want):
    if found != want:
        errors.append(f"{what}: {found!r}, expected {want!r}")
    else:
        print(f"ok  {what}: {found}")


workspace = tomllib.loads((TOP / "Cargo.toml").read_text())
VERSION = workspace["workspace"]["package"]["version"]
print(f"the version ([workspace.package] in Cargo.toml): {VERSION}")
if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", VERSION):
    errors.append(f"{VERSION!r} is not a semantic version")

# Every crate of the workspace, as cargo sees it, and how each manifest spells it.
meta = json.loads(subprocess.run(
    ["cargo", "metadata", "--no-deps", "--format-version", "1", "--offline"],
    cwd=TOP, check=True, capture_output=True, text=True).stdout)
for pkg in meta["packages"]:
    manifest = pathlib.Path(pkg["manifest_path"])
    rel = manifest.relative_to(TOP)
    check(f"crate {pkg['name']} ({rel})", pkg["version"], VERSION)
    spelled = tomllib.loads(manifest.read_text())["package"].get("version")
    if spelled != {"workspace": True}:
        errors.append(f"{rel}: write `version.workspace = true`, not {spelled!r}")

# Path dependencies on the workspace's publishable crates carry the version.
for name, dep in workspace["workspace"].get("dependencies", {}).items():
    if isinstance(dep, dict) and "path" in dep:
        check(f"Cargo.toml [workspace.dependencies] {name}", dep.get("version"), VERSION)

# The npm package, its lockfile and any per-platform packages beside it.
node = TOP / "bindings-node"
pkg = json.loads((node / "package.json").read_text())
check("bindings-node/package.json version", pkg.get("version"), VERSION)
name = pkg["name"]
for dep, ver in pkg.get("optionalDependencies", {}).items():
    if dep.startswith(name) or dep.startswith(f"@{name}/"):
        check(f"bindings-node/package.json optionalDependencies {dep}", ver, VERSION)
lock = node / "package-lock.json"
if lock.exists():
    data = json.loads(lock.read_text())
    check("bindings-node/package-lock.json version", data.get("version"), VERSION)
    check('bindings-node/package-lock.json packages[""].version',
          data.get("packages", {}).get("", {}).get("version"), VERSION)
for sub in sorted(node.glob("npm/*/package.json")):
    check(str(sub.relative_to(TOP)), json.loads(sub.read_text()).get("version"), VERSION)

# The Python package: maturin takes the crate's version (dynamic), or the same literal.
py = tomllib.loads((TOP / "bindings-python" / "pyproject.toml").read_text())["project"]
if "version" in py.get("dynamic", []):
    print("ok  bindings-python/pyproject.toml: version dynamic (the crate's)")
else:
    check("bindings-python/pyproject.toml version", py.get("version"), VERSION)

# Versions compiled in from the crate version, never written by hand.
for path, pattern in [
    ("ffi-c/src/lib.rs", r'fn rtio_version\(\)[^{]*\{\s*concat!\(env!\("CARGO_PKG_VERSION"\)'),
    ("bindings-python/src/lib.rs", r'"__version__", env!\("CARGO_PKG_VERSION"\)'),
]:
    text = (TOP / path).read_text()
    if re.search(pattern, text):
        print(f"ok  {path}: from CARGO_PKG_VERSION")
    else:
        errors.append(f"{path}: the version is not env!(\"CARGO_PKG_VERSION\")")

# pkg-config: the template takes the version make computes from Cargo.toml.
pc = (TOP / "ffi-c" / "rtio.pc.in").read_text()
if "Version: @VERSION@" not in pc:
    errors.append("ffi-c/rtio.pc.in: Version must be @VERSION@")
made = subprocess.run(["make", "--no-print-directory", "-s", "print-version"], cwd=TOP,
                      check=True, capture_output=True, text=True).stdout.strip()
check("make's VERSION (rtio.pc, the .deb)", made, VERSION)

# The changelog has a section for it (or the version is still unreleased).
changelog = (TOP / "CHANGELOG.md").read_text()
if f"## [{VERSION}]" in changelog:
    print(f"ok  CHANGELOG.md has ## [{VERSION}]")
else:
    errors.append(f"CHANGELOG.md: no '## [{VERSION}]' section")

if errors:
    print("\nversions differ:", file=sys.stderr)
    for e in errors:
        print(f"  {e}", file=sys.stderr)
    sys.exit(1)
print(f"versions: every place says {VERSION}")
