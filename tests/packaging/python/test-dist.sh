#!/usr/bin/env bash
# The Python distribution as a user gets it (make test-dist-python, issue 21):
#
#   1. dist/ holds one wheel, abi3 for CPython 3.9+, tagged manylinux_2_17 (honestly: its
#      extension asks for no glibc symbol newer than 2.17), with only the package inside (no
#      tests, no Rust sources), and an sdist with the Rust sources it builds from;
#   2. a fresh venv in a temporary directory, with a PATH that has no cargo and no rustc,
#      installs the wheel (pip, test dependencies from PyPI), and what runs there imports the
#      installed package, never bindings-python/python;
#   3. the examples (examples/python: visitor counter, chat) and the binding's own test suite
#      (bindings-python/tests, which includes python-socketio's documented app with only the
#      import changed: tests/docs_app.py) run against it, with the official python-socketio
#      client.
#
#   tests/packaging/python/test-dist.sh [DIST_DIR]      (default: dist)
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
dist=$(cd "${1:-$top/dist}" && pwd)
python=${PYTHON:-python3}
fail() { echo "test-dist-python: FAIL: $*" >&2; exit 1; }

# --- 1. the artifacts ------------------------------------------------------------------------
shopt -s nullglob
wheels=("$dist"/rtio-*manylinux*.whl)
sdists=("$dist"/rtio-*.tar.gz)
shopt -u nullglob
[ ${#wheels[@]} -eq 1 ] || fail "expected one manylinux rtio wheel in $dist, found ${#wheels[@]} (make dist-python)"
[ ${#sdists[@]} -eq 1 ] || fail "expected one rtio sdist in $dist, found ${#sdists[@]} (make dist-python)"
wheel=${wheels[0]}
sdist=${sdists[0]}
name=$(basename "$wheel")
echo "wheel: $name"
[[ $name == *-cp39-abi3-* ]] || fail "$name is not an abi3 wheel for CPython 3.9+"
[[ $name == *manylinux_2_17_* ]] || fail "$name is not tagged manylinux_2_17"

# (unzip when installed; Python's zipfile otherwise, which every machine here has)
entries() { "$python" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; }
if command -v unzip >/dev/null; then
  echo "unzip -l $name:"
  unzip -l "$wheel"
else
  echo "$name (python -m zipfile -l):"
  "$python" -m zipfile -l "$wheel"
fi
# every entry: the package rtio/ or the dist-info, nothing else
others=$(entries "$wheel" | grep -Ev '^(rtio/|rtio-[^/]+\.dist-info/)' || true)
[ -z "$others" ] || fail "the wheel holds files outside the package: $others"
leaks=$(entries "$wheel" | grep -Ei '(^|/)tests?/|conftest|\.rs$|Cargo\.(toml|lock)$|\.mk$' || true)
[ -z "$leaks" ] || fail "the wheel holds tests or sources: $leaks"
entries "$wheel" | grep -x 'rtio/_native.abi3.so' >/dev/null || fail "no rtio/_native.abi3.so in the wheel"
entries "$wheel" | grep -x 'rtio/py.typed' >/dev/null || fail "no rtio/py.typed in the wheel"
entries "$wheel" | grep -E '^rtio-[^/]+\.dist-info/licenses/LICENSE$' >/dev/null || fail "no LICENSE in the wheel's dist-info"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtio-dist-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# the manylinux_2_17 tag is honest: no glibc symbol version above 2.17 (maturin checked it
# when it built the wheel; this checks the file that ships)
"$python" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("rtio/_native.abi3.so", sys.argv[2])' "$wheel" "$tmp/so"
newest=$(objdump -T "$tmp/so/rtio/_native.abi3.so" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
echo "newest glibc symbol version the extension needs: $newest"
[ "$(printf '%s\n' "$newest" 2.17 | sort -V | tail -1)" = 2.17 ] || fail "needs glibc $newest > 2.17"

# the sdist: pyproject, the Rust crates it builds (binding, core, redis adapter), the lockfile
listing=$(tar tzf "$sdist")
for want in pyproject.toml Cargo.toml Cargo.lock PKG-INFO LICENSE bindings-python/Cargo.toml bindings-python/src/lib.rs \
  core/Cargo.toml core/src/lib.rs redis/Cargo.toml python/rtio/__init__.py; do
  grep -q "^[^/]*/$want\$" <<<"$listing" || fail "the sdist has no $want"
done
if grep -Eq '^[^/]*/(target|node_modules|bindings-node|ffi-c)/' <<<"$listing"; then
  fail "the sdist holds more than the Python binding's crates"
fi
echo "sdist: $(basename "$sdist"), $(wc -l <<<"$listing") files"

# --- 2. a fresh venv, no Rust on PATH ------------------------------------------------------------
. "$top/tests/packaging/without-rust.sh"
without_rust test-dist-python
unset VIRTUAL_ENV PYTHONPATH

"$python" -m venv "$tmp/venv"
venv=$tmp/venv
"$venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=rtio "$wheel"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$top/tests/interop/python/requirements.txt"

# from a directory of its own, where bindings-python/python is nowhere on sys.path
mkdir "$tmp/run"
cd "$tmp/run"
where=$("$venv/bin/python" -c 'import rtio, rtio._native as n; print(rtio.__file__); print(n.__file__)')
echo "$where"
while read -r file; do
  case "$file" in "$venv"/lib/python*/site-packages/rtio/*) ;; *) fail "rtio imported from $file, not the installed wheel" ;; esac
done <<<"$where"

# --- 3. the examples and the binding's suite, against the installed package -----------------------
# pytest runs the test files where they are (examples found from there, the socket.io-client
# bundle too when installed); sys.path gets bindings-python/tests (conftest) and this
# directory, never bindings-python/python. A conftest check makes it certain for every test.
cat >"$tmp/run/installed_only.py" <<EOF
import rtio

def pytest_sessionstart(session):
    assert rtio.__file__.startswith("$venv/"), f"rtio from {rtio.__file__}, not the wheel"
EOF
PYTHONPATH="$tmp/run" "$venv/bin/python" -m pytest -q -p installed_only \
  -o cache_dir="$tmp/pytest-cache" "$top/bindings-python/tests"
echo "test-dist-python: ok ($name in a fresh venv, no cargo on PATH)"
