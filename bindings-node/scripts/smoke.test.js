'use strict';
// Smoke test of the packed package, run in a fresh npm project where the tarball was installed
// (scripts/pack-smoke.sh).
const { it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

it('is an installed copy, not a link to the sources', () => {
  const dir = path.join(process.cwd(), 'node_modules', 'rtio');
  assert.equal(fs.lstatSync(dir).isSymbolicLink(), false);
  assert.ok(require.resolve('rtio').startsWith(dir));
  assert.ok(fs.readdirSync(dir).some((f) => /^rtio\..+\.node$/.test(f)), 'the addon ships in the package');
  assert.equal(fs.existsSync(path.join(dir, 'src')), false, 'no Rust sources');
});

it('require and import give the same Server', async () => {
  const cjs = require('rtio');
  const esm = await import('rtio');
  assert.equal(esm.Server, cjs.Server);
  assert.equal(esm.default, cjs);
});

it('serves a client (binary included) and serves the client bundle', async () => {
  const { Server } = require('rtio');
  const { io: connect } = require('socket.io-client');
  const io = new Server(0, { host: '127.0.0.1' });
  io.on('connection', (socket) => socket.on('echo', (data, ack) => ack(data)));
  const port = io.address().port;
  const client = connect(`http://127.0.0.1:${port}`, { reconnection: false });
  try {
    const answer = await client.timeout(5000).emitWithAck('echo', { bin: Buffer.from([1, 2, 3]) });
    assert.deepEqual([...Buffer.from(answer.bin)], [1, 2, 3]);
    const bundle = await fetch(`http://127.0.0.1:${port}/socket.io/socket.io.js`);
    assert.equal(bundle.status, 200);
    assert.match((await bundle.text()).slice(0, 200), /Socket\.IO v4/);
  } finally {
    client.disconnect();
    await io.close();
  }
});

it('an ES module app (import { Server } from "rtio") serves a client and exits by itself', () => {
  const out = execFileSync(process.execPath, ['smoke-esm.mjs'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out.trim(), 'ESM 42');
});

it('needs no Rust: cargo is not on PATH (make test-dist-node)', { skip: !process.env.RTIO_SMOKE_NO_RUST }, () => {
  const which = require('node:child_process').spawnSync('sh', ['-c', 'command -v cargo || command -v rustc'], { encoding: 'utf8' });
  assert.notEqual(which.status, 0, `found ${which.stdout}`);
  // and the package's install step took the prebuilt addon: nothing was built here
  assert.equal(fs.existsSync(path.join(process.cwd(), 'node_modules', 'rtio', 'target')), false);
});

it('without an addon for the platform, the install step says what is missing and what to do', () => {
  // a copy of the installed package, its prebuilt addon taken away
  const copy = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'rtio-noaddon-'));
  try {
    fs.cpSync(path.join(process.cwd(), 'node_modules', 'rtio'), copy, { recursive: true });
    for (const f of fs.readdirSync(copy)) if (f.endsWith('.node')) fs.rmSync(path.join(copy, f));
    const run = require('node:child_process').spawnSync(process.execPath, [path.join(copy, 'scripts', 'install.js')], {
      cwd: copy,
      encoding: 'utf8',
      env: { ...process.env, NODE_PATH: path.join(process.cwd(), 'node_modules') },
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /no prebuilt native addon fits this platform: rtio\..+\.node is needed, it carries none/);
    assert.match(run.stderr, /cargo/);
    assert.match(run.stderr, /https:\/\/rustup\.rs/);
    assert.match(run.stderr, /npm install \/path\/to\/rtio\/bindings-node/);
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

it('the process exits by itself after close()', () => {
  const out = execFileSync(process.execPath, ['smoke-exit.js'], { encoding: 'utf8', timeout: 10_000 });
  assert.equal(out.trim(), 'CLOSED');
});
