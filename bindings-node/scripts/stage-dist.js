#!/usr/bin/env node
// make dist-node: stages the npm package in DEST — the files npm selects in bindings-node
// (`files` in package.json, as `npm pack --dry-run --json` lists them) except the addons built
// here, plus ADDON (the zig-linked one) under NAME and the repository's LICENSE — for
// `npm pack` to run there.
//
//   node scripts/stage-dist.js DEST ADDON NAME        (run in bindings-node/)
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const [dest, addon, name] = process.argv.slice(2);
if (!dest || !addon || !/^rtio\..+\.node$/.test(name || '')) {
  console.error('usage: node scripts/stage-dist.js DEST ADDON rtio.<platform>.node');
  process.exit(2);
}
const npm = process.env.NPM || 'npm';
const out = execFileSync(npm, ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], { encoding: 'utf8' });
const [pack] = JSON.parse(out);
fs.rmSync(dest, { recursive: true, force: true });
for (const { path: file } of pack.files) {
  if (file.endsWith('.node')) continue;
  fs.mkdirSync(path.dirname(path.join(dest, file)), { recursive: true });
  fs.copyFileSync(file, path.join(dest, file));
}
// the repository's license travels with the package (npm skips a symlinked LICENSE)
if (!fs.existsSync(path.join(dest, 'LICENSE'))) fs.copyFileSync(path.join('..', 'LICENSE'), path.join(dest, 'LICENSE'));
fs.copyFileSync(addon, path.join(dest, name));
fs.chmodSync(path.join(dest, name), 0o755);
console.log(`staged ${pack.files.length} files of rtio@${pack.version} in ${dest}, the addon as ${name}`);
