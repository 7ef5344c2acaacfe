// A quick check of the floor server (bench/peers/README.md): starts it through the launcher,
// connects two raw WebSocket clients (each first gets {"connected":ID}), checks fan-out (both get it, once) and echo (the sender
// alone gets it), then SIGTERM (the clients see a close, the process exits 0).
//   node bench/peers/floor/check.mjs [floor|floor-unbatched]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import assert from 'node:assert/strict';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const WebSocket = createRequire(`${root}tests/interop/package.json`)('ws');

const withTimeout = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref()),
  ]);

const host = process.argv[2] ?? 'floor';
const server = spawn(`${root}tests/interop/scenarios-server`, [host, '--port', '0'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const exited = once(server, 'exit');
try {
  const lines = createInterface({ input: server.stdout });
  const [line] = await withTimeout(once(lines, 'line'), 600_000, 'READY');
  const port = Number(/^READY (\d+)$/.exec(line)?.[1]);
  assert.ok(port > 0, `expected READY <port>, got ${JSON.stringify(line)}`);

  // every text message a client gets, in order
  async function client() {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    ws.received = [];
    ws.on('message', (data, isBinary) => {
      assert.equal(isBinary, false, 'the floor sends text messages');
      ws.received.push(data.toString());
    });
    ws.closed = once(ws, 'close');
    const firstMessage = once(ws, 'message');
    await withTimeout(once(ws, 'open'), 3000, 'open');
    // registered: `{"connected":ID}` comes first, before any fan-out
    await withTimeout(firstMessage, 3000, 'the connected message');
    const first = JSON.parse(ws.received.shift());
    assert.ok(Number.isInteger(first.connected), `first message: ${JSON.stringify(first)}`);
    ws.id = first.connected;
    return ws;
  }
  const settle = () => new Promise((resolve) => setTimeout(resolve, 200));

  const a = await client();
  const b = await client();
  assert.notEqual(a.id, b.id, 'each connection has its own number');

  // fan-out: a 200-byte string as the harness sends it, and any JSON value
  const stamp = `${Date.now() * 1000}:1:${'x'.repeat(200)}`;
  a.send(JSON.stringify({ fanout: stamp }));
  a.send(JSON.stringify({ fanout: { event: 'b', n: [1, 2, 3] } }));
  await settle();
  for (const ws of [a, b]) {
    assert.deepEqual(ws.received, [JSON.stringify(stamp), '{"event":"b","n":[1,2,3]}']);
    ws.received.length = 0;
  }

  // echo: to the sender alone, the data's JSON text as sent
  b.send('{"echo": "ping 1"}');
  b.send(JSON.stringify({ echo: { seq: 2 } }));
  await settle();
  assert.deepEqual(b.received, ['"ping 1"', '{"seq":2}']);
  assert.deepEqual(a.received, []);

  // anything else is ignored and the connection keeps working
  a.send('not json');
  a.send(JSON.stringify({ other: 1 }));
  a.send(JSON.stringify({ echo: 'still here' }));
  await settle();
  assert.deepEqual(a.received, ['"still here"']);

  // SIGTERM: both clients see a close, the server exits 0
  server.kill('SIGTERM');
  const [code, signal] = await withTimeout(exited, 2000, 'the server to exit');
  assert.equal(code, 0, `exit code (signal ${signal})`);
  await withTimeout(Promise.all([a.closed, b.closed]), 2000, 'the clients to see a close');
  console.log(`floor check: fan-out, echo, ignored messages and SIGTERM OK (port ${port})`);
} finally {
  server.kill('SIGKILL');
}
