// The ESM entry point: `import { Server } from 'rtio'` and the default export.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import rtio, { Server, Namespace, Socket, BroadcastOperator, RemoteSocket, createRedisAdapter, createShardedRedisAdapter } from 'rtio';

const require = createRequire(import.meta.url);
const { connect, closeClients, request } = require('./helpers.js');

describe('ESM entry point', () => {
  it('has the named exports and the default of the CommonJS entry point', () => {
    const cjs = require('rtio');
    assert.equal(rtio, cjs);
    assert.equal(Server, cjs.Server);
    assert.equal(Namespace, cjs.Namespace);
    assert.equal(Socket, cjs.Socket);
    assert.equal(BroadcastOperator, cjs.BroadcastOperator);
    assert.equal(RemoteSocket, cjs.RemoteSocket);
    assert.equal(createRedisAdapter, cjs.createRedisAdapter);
    assert.equal(createShardedRedisAdapter, cjs.createShardedRedisAdapter);
    assert.equal(typeof createRedisAdapter, 'function');
  });

  it('serves a client', async () => {
    const io = new Server(0, { host: '127.0.0.1' });
    io.on('connection', (socket) => socket.on('ping', (ack) => ack('pong')));
    try {
      const c = await connect(io.address().port);
      assert.deepEqual(await request(c, 'ping'), ['pong']);
    } finally {
      closeClients();
      await io.close();
    }
  });
});
