#!/usr/bin/env bash
# Installs the npm package into a fresh npm project in a temporary directory and runs a smoke
# test there: require and import work, a client is served, the process exits by itself after
# close(). Also lists what the package holds (`npm pack --dry-run --json`) and checks it is
# only what an app needs (tests/packaging/node/check-contents.js).
#
#   pack-smoke.sh                    packs it first (`npm pack`, which builds the addon if stale)
#   pack-smoke.sh --no-rust TARBALL  installs TARBALL (make dist-node's) with no cargo and no
#                                    rustc on PATH: the prebuilt addon must do (make test-dist-node)
set -euo pipefail
pkg=$(cd "$(dirname "$0")/.." && pwd)
top=$(cd "$pkg/.." && pwd)
no_rust=
if [ "${1:-}" = --no-rust ]; then
  no_rust=1
  shift
fi
tarball=${1:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtio-pack-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

packed_here=
if [ -z "$tarball" ]; then
  packed_here=1
  (cd "$pkg" && npm pack --pack-destination "$tmp" --loglevel=error >/dev/null)
  tarball=$(ls "$tmp"/rtio-*.tgz)
else
  tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
fi

# what the package holds: npm's own listing (scripts skipped: the addon is built already) of
# the tarball given, or of this directory when packed here; the tarball must hold the same
if [ -n "$packed_here" ]; then
  (cd "$pkg" && npm pack --dry-run --json --ignore-scripts --loglevel=error) >"$tmp/pack.json"
else
  (cd "$tmp" && npm pack --dry-run --json --ignore-scripts --loglevel=error "$tarball") >"$tmp/pack.json"
fi
tar tzf "$tarball" >"$tmp/tarball.txt"
RTIO_PACK_DIST=$no_rust node "$top/tests/packaging/node/check-contents.js" "$tmp/pack.json" "$tmp/tarball.txt"

if [ -n "$no_rust" ]; then
  . "$top/tests/packaging/without-rust.sh"
  without_rust pack-smoke
fi

mkdir "$tmp/app"
cd "$tmp/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$tarball"
if [ -n "$no_rust" ]; then
  # the distributed linux addon is linked against glibc 2.17's symbols (make dist-node)
  for addon in node_modules/rtio/rtio.linux-*-gnu.node; do
    newest=$(objdump -T "$addon" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -Vu | tail -1)
    echo "$(basename "$addon"): newest glibc symbol version needed: $newest"
    if [ "$(printf '%s\n' "$newest" 2.17 | sort -V | tail -1)" != 2.17 ]; then
      echo "pack-smoke: FAIL: $addon needs glibc $newest > 2.17" >&2
      exit 1
    fi
  done
fi
cp "$pkg/scripts/smoke.test.js" "$pkg/scripts/smoke-exit.js" "$pkg/scripts/smoke-esm.mjs" .
RTIO_SMOKE_NO_RUST=$no_rust node --test smoke.test.js
echo "pack-smoke: ok ($(basename "$tarball")${no_rust:+, installed with no cargo on PATH})"
