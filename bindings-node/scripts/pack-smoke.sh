#!/usr/bin/env bash
# Packs the package (`npm pack`, which builds the addon first if it is stale), installs the
# tarball into a fresh npm project in a temporary directory, and runs a smoke test there:
# require and import work, a client is served, the process exits by itself after close().
set -euo pipefail
pkg=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rtio-pack-smoke.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

(cd "$pkg" && npm pack --pack-destination "$tmp" --loglevel=error >/dev/null)
tarball=$(ls "$tmp"/rtio-*.tgz)
mkdir "$tmp/app"
cd "$tmp/app"
npm init -y >/dev/null
npm install --no-audit --no-fund --loglevel=error "$tarball"
cp "$pkg/scripts/smoke.test.js" "$pkg/scripts/smoke-exit.js" .
node --test smoke.test.js
