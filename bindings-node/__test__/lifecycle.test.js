'use strict';
// The process lifecycle: a listening server keeps the process alive (as socket.io's does);
// after io.close() nothing of rtio is left open and the process exits by itself.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { connect, closeClients, next, request, startProcess, withTimeout } = require('./helpers');

const SERVE = path.join(__dirname, 'fixtures', 'serve.js');
const EXIT_MS = 5000;
const running = [];

afterEach(async () => {
  closeClients();
  await Promise.all(running.splice(0).map((p) => p.kill()));
});

async function serve(mode) {
  const p = await startProcess(SERVE, mode ? [mode] : []);
  running.push(p);
  return { ...p, port: Number(p.match[1]) };
}

describe('process lifecycle', () => {
  it('a listening server keeps the process alive (nothing else does in the script)', async () => {
    const p = await serve();
    // the script's last line ran long ago by the time a client is served
    const c = await connect(p.port);
    assert.deepEqual(await request(c, 'ping'), ['pong']);
    assert.equal(p.child.exitCode, null);
  });

  it('io.close() from a handler: clients of every transport are told, the process exits 0 by itself', async () => {
    const p = await serve();
    const clients = [
      await connect(p.port, { transports: ['websocket'] }),
      await connect(p.port, { transports: ['polling'] }),
      await connect(p.port, { transports: ['polling', 'websocket'] }),
    ];
    for (const c of clients) assert.deepEqual(await request(c, 'ping'), ['pong']);
    const told = clients.map((c) => next(c, 'disconnect', EXIT_MS));
    clients[0].emit('close-server');
    const reasons = (await Promise.all(told)).map(([reason]) => reason);
    for (const reason of reasons) assert.ok(['io server disconnect', 'transport close'].includes(reason), reason);
    const { code, signal } = await withTimeout(p.exited, EXIT_MS, 'the process to exit by itself');
    assert.equal(signal, null);
    assert.equal(code, 0);
    assert.ok(p.stdout.includes('CLOSED'), 'the close callback ran before the exit');
  });

  it('io.close() right after start: the process exits by itself', async () => {
    const p = await serve('stop');
    const { code, signal } = await withTimeout(p.exited, EXIT_MS, 'the process to exit by itself');
    assert.deepEqual({ code, signal }, { code: 0, signal: null });
    assert.deepEqual(p.stdout.slice(-1), ['CLOSED']);
  });
});
