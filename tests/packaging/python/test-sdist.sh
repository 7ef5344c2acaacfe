#!/usr/bin/env bash
# The sdist builds from source where no wheel fits (make test-sdist-python; not in `make test`:
# a cold release build of the core, about 4 minutes on 2 cores). A fresh venv installs
# dist/rtio-*.tar.gz with pip (maturin from PyPI through build isolation, cargo from PATH),
# then serves one official python-socketio client from a directory away from the sources.
#
#   tests/packaging/python/test-sdist.sh [DIST_DIR]      (default: dist)
set -euo pipefail
top=$(cd "$(dirname "$0")/../../.." && pwd)
dist=$(cd "${1:-$top/dist}" && pwd)
python=${PYTHON:-python3}
fail() { echo "test-sdist-python: FAIL: $*" >&2; exit 1; }

shopt -s nullglob
sdists=("$dist"/rtio-*.tar.gz)
shopt -u nullglob
[ ${#sdists[@]} -eq 1 ] || fail "expected one rtio sdist in $dist (make dist-python)"
command -v cargo >/dev/null || fail "building from the sdist needs cargo on PATH (https://rustup.rs)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtio-sdist-python.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "python-socketio[client]" requests websocket-client
# its own target directory, so nothing of this tree's builds is reused
CARGO_TARGET_DIR="$tmp/target" "$tmp/venv/bin/pip" install --disable-pip-version-check --no-cache-dir --no-binary rtio "${sdists[0]}"
cd "$tmp"
"$tmp/venv/bin/python" - <<'EOF'
import socketio, rtio
assert "/venv/" in rtio.__file__, rtio.__file__
sio = rtio.Server()
@sio.event
def echo(sid, data):
    return data
port = sio.start(0, host="127.0.0.1")
client = socketio.Client(reconnection=False)
client.connect(f"http://127.0.0.1:{port}", wait_timeout=5)
assert client.call("echo", {"n": 1}, timeout=5) == {"n": 1}
client.disconnect()
sio.shutdown()
EOF
echo "test-sdist-python: ok ($(basename "${sdists[0]}") built from source and imported)"
