#!/usr/bin/env node
// Makes sure the native addon (rtio.<platform>.node) exists and is current.
//
// - In a packed or installed package (`npm install rtio`, `npm install rtio-x.y.z.tgz`: no
//   Rust sources beside it) the prebuilt addon ships inside the package: when one matches
//   this platform and loads, nothing to do, no Rust needed. When none fits (another platform,
//   or a C library too old for it), a clear error that says what is there, what is missing
//   (cargo, and rtio's sources) and what to do: build from source.
// - In the source tree (bindings-node/ of a clone, `npm install ./bindings-node`), builds it
//   when it is missing or older than the Rust sources: with @napi-rs/cli
//   (`napi build --platform --release`) when installed, otherwise with cargo directly (same
//   output). Without cargo on PATH, a clear error saying so. Nothing is downloaded.
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

const FROM_SOURCE =
  'install Rust (https://rustup.rs: cargo and rustc 1.88 or later), clone rtio and run ' +
  '`npm install /path/to/rtio/bindings-node` in your project (a release build of the core, ' +
  'about 3 to 5 minutes on 2 cores); see docs/node.md, "Install"';

/** True when `cargo` runs (on PATH, or $CARGO). */
function hasCargo() {
  const result = spawnSync(process.env.CARGO || 'cargo', ['--version'], { stdio: 'ignore' });
  return !result.error && result.status === 0;
}

/** The prebuilt addons this package carries (rtio.<platform>.node). */
function prebuilt() {
  return fs.readdirSync(pkgDir).filter((f) => /^rtio\..+\.node$/.test(f));
}

/** An installed package: the prebuilt addon of this platform, loaded once to be sure it fits. */
function checkPrebuilt() {
  const name = path.basename(addon);
  const carried = prebuilt();
  const there = carried.length ? `it carries ${carried.join(', ')}` : 'it carries none';
  if (!fs.existsSync(addon)) {
    log(
      `no prebuilt native addon fits this platform: ${name} is needed, ${there}. ` +
        'Building one needs rtio\'s Rust sources, which this package does not hold, and cargo' +
        `${hasCargo() ? '' : ' (not found on PATH either)'}: ${FROM_SOURCE}.`,
    );
    process.exit(1);
  }
  try {
    require(addon);
  } catch (err) {
    const why = String((err && err.message) || err).split('\n')[0];
    log(
      `the prebuilt native addon ${name} does not load here: ${why}. ` +
        'The published linux addon needs glibc 2.17 or later (see docs/node.md); otherwise build from source: ' +
        `${FROM_SOURCE}.`,
    );
    process.exit(1);
  }
}

function main() {
  const requireBuilt = process.argv.includes('--require-built');
  if (process.env.RTIO_SKIP_BUILD && !requireBuilt) return;
  if (!inSourceTree) {
    checkPrebuilt();
    return;
  }
  if (stale()) {
    if (!hasCargo()) {
      log(
        `the native addon ${path.basename(addon)} must be built from the Rust sources here ` +
          `(${fs.existsSync(addon) ? 'it is older than them' : 'it is missing'}), and cargo is not ` +
          'on PATH: install Rust (https://rustup.rs: cargo and rustc 1.88 or later), then run ' +
          'npm install again (a release build of the core, about 3 to 5 minutes on 2 cores). ' +
          'Or install the published package (`npm install rtio`), which carries the addon ' +
          'prebuilt for linux-x64.',
      );
      process.exit(1);
    }
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
