#!/usr/bin/env node
// Makes sure the native addon (rtio.<platform>.node) exists and is current.
//
// - In a packed or installed package (no Rust sources beside it) the addon ships inside the
//   package: nothing to do, or a clear error when it was built for another platform.
// - In the source tree (bindings-node/ of a clone), builds it when it is missing or older than
//   the Rust sources: with @napi-rs/cli (`napi build --platform --release`) when installed,
//   otherwise with cargo directly (same output). Nothing is downloaded.
//
//   node scripts/install.js                 npm's `install` step
//   node scripts/install.js --require-built `prepack`: build if stale, fail if impossible
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { addonFileName } = require('../lib/platform');

const pkgDir = path.resolve(__dirname, '..');
const addon = path.join(pkgDir, addonFileName());
const crateManifest = path.join(pkgDir, 'Cargo.toml');
const inSourceTree = fs.existsSync(crateManifest) && fs.existsSync(path.join(pkgDir, 'src', 'lib.rs'));

function log(message) {
  process.stderr.write(`rtio: ${message}\n`);
}

/** Newest modification time (ms) of the files under `dir` (recursively) or of `dir` itself. */
function newest(file) {
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of fs.readdirSync(file)) max = Math.max(max, newest(path.join(file, entry)));
  return max;
}

/** True when the addon is missing or older than a Rust source it is built from. */
function stale() {
  if (!fs.existsSync(addon)) return true;
  const root = path.resolve(pkgDir, '..');
  const inputs = [
    path.join(pkgDir, 'src'),
    crateManifest,
    path.join(pkgDir, 'build.rs'),
    path.join(root, 'core', 'src'),
    path.join(root, 'core', 'Cargo.toml'),
    path.join(root, 'Cargo.lock'),
  ];
  const built = fs.statSync(addon).mtimeMs;
  return inputs.some((input) => newest(input) > built);
}

function run(command, args, options = {}) {
  log(`${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: pkgDir, stdio: ['ignore', 'inherit', 'inherit'], ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} exited with ${result.status}`);
}

function napiCli() {
  try {
    return require.resolve('@napi-rs/cli/package.json', { paths: [pkgDir] }) && true;
  } catch {
    return false;
  }
}

function build() {
  if (napiCli()) {
    run(process.execPath, [
      path.join(path.dirname(require.resolve('@napi-rs/cli/package.json', { paths: [pkgDir] })), 'dist', 'cli.js'),
      'build',
      '--platform',
      '--release',
      '--no-js',
      '--dts',
      'lib/native.d.ts',
    ]);
    return;
  }
  // Without the CLI: the same cargo build, then copy the library where napi would put it.
  run('cargo', ['build', '--release', '--manifest-path', crateManifest]);
  const meta = spawnSync('cargo', ['metadata', '--format-version', '1', '--no-deps', '--manifest-path', crateManifest], {
    cwd: pkgDir,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (meta.status !== 0) throw new Error(`cargo metadata failed: ${meta.stderr}`);
  const targetDir = JSON.parse(meta.stdout).target_directory;
  const lib = { darwin: 'librtio_node.dylib', win32: 'rtio_node.dll' }[process.platform] || 'librtio_node.so';
  fs.copyFileSync(path.join(targetDir, 'release', lib), addon);
  log(`built ${path.basename(addon)}`);
}

function main() {
  const requireBuilt = process.argv.includes('--require-built');
  if (process.env.RTIO_SKIP_BUILD && !requireBuilt) return;
  if (!inSourceTree) {
    if (!fs.existsSync(addon)) {
      log(
        `this package has no native addon for ${process.platform}-${process.arch} ` +
          `(${path.basename(addon)}); build rtio from source (bindings-node/, needs Rust) on this platform`,
      );
      process.exit(1);
    }
    return;
  }
  if (stale()) {
    try {
      build();
    } catch (err) {
      log(`could not build the native addon: ${err.message} (needs Rust and cargo, see docs/node.md)`);
      process.exit(1);
    }
  }
  installRuntimeDependencies();
}

/**
 * `npm install ./bindings-node` links this directory into the app without installing the
 * package's own dependencies: install the runtime ones (the client bundle) here then.
 */
function installRuntimeDependencies() {
  try {
    require.resolve('socket.io-client/package.json', { paths: [pkgDir] });
    return;
  } catch {
    // missing: install below
  }
  const npm = process.env.npm_execpath;
  const [command, args] = npm && npm.endsWith('.js') ? [process.execPath, [npm]] : ['npm', []];
  try {
    run(command, [...args, 'install', '--omit=dev', '--ignore-scripts', '--no-save', '--no-audit', '--no-fund']);
  } catch (err) {
    log(`could not install socket.io-client (the client bundle will not be served): ${err.message}`);
  }
}

main();
