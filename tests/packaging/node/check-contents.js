#!/usr/bin/env node
// What the npm package holds (bindings-node/scripts/pack-smoke.sh): only what an app needs.
//
//   node check-contents.js PACK_JSON [TARBALL_LISTING]
//
// PACK_JSON is `npm pack --dry-run --json` of bindings-node; TARBALL_LISTING (optional) the
// `tar tzf` of the tarball actually installed, which must hold the same files. Prints the
// listing; exits 1 naming what is missing or should not be there.
'use strict';
const fs = require('node:fs');

const [packJson, listing] = process.argv.slice(2);
const [pack] = JSON.parse(fs.readFileSync(packJson, 'utf8'));
const files = pack.files.map((f) => f.path).sort();

console.log(`npm pack --dry-run: ${pack.filename}, ${pack.entryCount} files, ${pack.size} bytes packed, ${pack.unpackedSize} unpacked`);
for (const f of pack.files) console.log(`  ${String(f.size).padStart(9)}  ${f.path}`);

const errors = [];
// every file must be one of these
const allowed = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^index\.(js|mjs|d\.ts)$/,
  /^lib\/[a-z0-9-]+\.(js|d\.ts)$/,
  /^scripts\/install\.js$/,
  /^rtio\.[a-z0-9]+-[a-z0-9]+(-[a-z]+)?\.node$/,
];
for (const f of files) {
  if (!allowed.some((re) => re.test(f))) errors.push(`should not be in the package: ${f}`);
}
// named explicitly, the things that must never ship
const forbidden = [/^src\//, /^__test__\//, /^Cargo\.(toml|lock)$/, /^build\.rs$/, /^target\//, /^node_modules\//, /\.rs$/, /^node\.mk$/, /^scripts\/(pack-smoke|smoke)/];
for (const f of files) {
  for (const re of forbidden) if (re.test(f)) errors.push(`forbidden in the package: ${f} (${re})`);
}
// and what an app needs
const required = [...(process.env.RTIO_PACK_DIST ? ['LICENSE'] : []), 'package.json', 'README.md', 'index.js', 'index.mjs', 'index.d.ts', 'lib/server.js', 'lib/native.js', 'lib/platform.js', 'scripts/install.js', 'rtio.linux-x64-gnu.node'];
for (const f of required) if (!files.includes(f)) errors.push(`missing from the package: ${f}`);

if (listing) {
  const inTarball = fs
    .readFileSync(listing, 'utf8')
    .split('\n')
    .filter((l) => l && !l.endsWith('/'))
    .map((l) => l.replace(/^package\//, ''))
    .sort();
  if (JSON.stringify(inTarball) !== JSON.stringify(files)) {
    errors.push(`the tarball differs from npm pack --dry-run: ${JSON.stringify(inTarball)} vs ${JSON.stringify(files)}`);
  }
}

if (errors.length) {
  for (const e of errors) console.error(`check-contents: ${e}`);
  process.exit(1);
}
console.log(`check-contents: ok (${files.length} files, only what an app needs)`);
