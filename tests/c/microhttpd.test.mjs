// End to end: the official socket.io-client against examples/c/microhttpd_server.c (rtio
// embedded in libmicrohttpd), over websocket only, polling only and polling upgraded to
// websocket, and MHD's own page on the same port. Built by `make c-microhttpd`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { io } = require('socket.io-client');
const STEP_MS = 5000;

let server;
let url;

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

before(async () => {
  // RTIO_MHD_SERVER: another build of the example (e.g. the AddressSanitizer one).
  const bin = process.env.RTIO_MHD_SERVER || path.join(root, 'target/c/microhttpd_server');
  server = spawn(bin, ['--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: server.stdout });
  const port = await withTimeout(
    new Promise((resolve, reject) => {
      lines.on('line', (line) => {
        const m = /^READY (\d+)$/.exec(line);
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`microhttpd_server exited (${code})`)));
    }),
    STEP_MS,
    'READY from microhttpd_server',
  );
  url = `http://127.0.0.1:${port}`;
});

after(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.kill('SIGTERM');
  const code = await withTimeout(exited, STEP_MS, 'microhttpd_server to stop');
  assert.equal(code, 0, 'microhttpd_server exits cleanly on SIGTERM');
});

test("MHD's own page answers on the same port", async () => {
  const res = await fetch(`${url}/`);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /rtio in libmicrohttpd/);
  assert.equal((await fetch(`${url}/missing`)).status, 404);
});

for (const [label, transports, expected] of [
  ['websocket only', ['websocket'], 'websocket'],
  ['polling only', ['polling'], 'polling'],
  ['polling upgraded to websocket', ['polling', 'websocket'], 'websocket'],
]) {
  test(`${label}: message-with-ack and fanout to two clients`, async () => {
    const a = io(url, { transports, forceNew: true, reconnection: false });
    const b = io(url, { transports, forceNew: true, reconnection: false });
    try {
      await withTimeout(
        Promise.all([a, b].map((s) => new Promise((r) => s.once('connect', r)))),
        STEP_MS,
        'both clients to connect',
      );
      const answer = await withTimeout(
        new Promise((resolve) => a.emit('message-with-ack', 'hi', { n: 1 }, [2], (...args) => resolve(args))),
        STEP_MS,
        'the ack',
      );
      assert.deepEqual(answer, ['hi', { n: 1 }, [2]]);
      const got = [a, b].map((s) => new Promise((r) => s.once('news', r)));
      b.emit('fanout', { event: 'news', data: { text: 'to all' } });
      const received = await withTimeout(Promise.all(got), STEP_MS, 'the fanout on both clients');
      assert.deepEqual(received, [{ text: 'to all' }, { text: 'to all' }]);
      if (expected === 'websocket' && a.io.engine.transport.name !== 'websocket') {
        await withTimeout(new Promise((r) => a.io.engine.once('upgrade', r)), STEP_MS, 'the upgrade');
      }
      assert.equal(a.io.engine.transport.name, expected);
      // A long-poll waits in a suspended MHD connection: a message after a quiet moment
      // must still arrive (the answer comes when the packet is queued).
      const late = new Promise((r) => a.once('late', r));
      await new Promise((r) => setTimeout(r, 300));
      b.emit('fanout', { event: 'late', data: 42 });
      assert.equal(await withTimeout(late, STEP_MS, 'the late fanout'), 42);
    } finally {
      a.close();
      b.close();
    }
  });
}
