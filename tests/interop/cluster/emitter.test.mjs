// @socket.io/redis-emitter 5.x (and a PHP-style emitter message) pushing into a cluster of two
// nodes: emit to all / a room / all but a room / another namespace, socketsJoin, socketsLeave,
// disconnectSockets, serverSideEmit (→ the `relay` server-side event). The clients of the
// first node use websocket, those of the second polling.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { Emitter } from '@socket.io/redis-emitter';
import {
  PAIRS,
  assertPayload,
  closeAllClients,
  connectTo,
  quietUntil,
  roomIs,
  settle,
  startPair,
  stopNodes,
  unique,
  uniqueKey,
  useRedis,
} from './lib.mjs';

/**
 * A msgpack encoder that always takes the widest families (str16, array16, map16, int32),
 * as other msgpack libraries may: the nodes must decode any family, not only notepack's.
 */
function wideMsgpack(value) {
  const parts = [];
  const u8 = (...bytes) => parts.push(Buffer.from(bytes));
  const u16 = (tag, n) => u8(tag, n >> 8, n & 255);
  const walk = (v) => {
    if (v === null) u8(0xc0);
    else if (v === true || v === false) u8(v ? 0xc3 : 0xc2);
    else if (Number.isInteger(v)) {
      const b = Buffer.alloc(5);
      b[0] = 0xd2;
      b.writeInt32BE(v, 1);
      parts.push(b);
    } else if (typeof v === 'string') {
      const s = Buffer.from(v, 'utf8');
      u16(0xda, s.length);
      parts.push(s);
    } else if (Buffer.isBuffer(v)) {
      u16(0xc5, v.length);
      parts.push(v);
    } else if (Array.isArray(v)) {
      u16(0xdc, v.length);
      v.forEach(walk);
    } else {
      const entries = Object.entries(v);
      u16(0xde, entries.length);
      for (const [k, x] of entries) {
        walk(k);
        walk(x);
      }
    }
  };
  walk(value);
  return Buffer.concat(parts);
}

for (const pair of PAIRS) {
  describe(`emitter → cluster ${pair.name}`, () => {
    let nodes;
    let redis;
    let emitter;
    let key;
    before(async () => {
      key = uniqueKey('emitter');
      nodes = await startPair(pair, { key });
      redis = createClient({ url: (await useRedis()).url });
      redis.on('error', (err) => console.error(`emitter's redis client: ${err.message}`));
      await redis.connect();
      emitter = new Emitter(redis, { key });
    });
    after(async () => {
      closeAllClients();
      await redis?.quit();
      await stopNodes(nodes);
    });
    afterEach(() => closeAllClients());

    // a, b on the first node (websocket), c, d on the second (polling)
    const four = async () => {
      const a = await connectTo(nodes[0], { setup: 'websocket' });
      const b = await connectTo(nodes[0], { setup: 'websocket' });
      const c = await connectTo(nodes[1], { setup: 'polling' });
      const d = await connectTo(nodes[1], { setup: 'polling' });
      return [a, b, c, d];
    };
    // a barrier through the same Redis connection, after the operation under test
    const viaEmitter = (event, token) => emitter.emit(event, token);

    test('emit reaches the sockets of both nodes, binary included', async () => {
      const [a, b, c, d] = await four();
      const data = { token: unique('emitted'), bin: Buffer.from([9, 8, 7]) };
      emitter.emit('from-emitter', data);
      for (const client of [a, b, c, d]) assertPayload(await client.nextValue('from-emitter'), data, client.describe());
      await quietUntil([a, b, c, d].map((cl) => [cl, 'from-emitter'])).through(viaEmitter);
    });

    test('to(room) reaches the members on both nodes, except(room) the others', async () => {
      const [a, b, c, d] = await four();
      const room = unique('room');
      await a.call('join', room);
      await c.call('join', room);
      emitter.to(room).emit('to-room', 1);
      emitter.except(room).emit('but-room', 2);
      for (const client of [a, c]) assert.deepEqual(await client.next('to-room'), [1], client.describe());
      for (const client of [b, d]) assert.deepEqual(await client.next('but-room'), [2], client.describe());
      await quietUntil([a, b, c, d].flatMap((cl) => [[cl, 'to-room'], [cl, 'but-room']])).through(viaEmitter);
    });

    test("of('/custom') reaches that namespace on both nodes", async () => {
      const x = await connectTo(nodes[0], { setup: 'websocket', nsp: '/custom' });
      const y = await connectTo(nodes[1], { setup: 'polling', nsp: '/custom' });
      emitter.of('/custom').emit('custom-news', { n: 3 });
      for (const client of [x, y]) assert.deepEqual(await client.next('custom-news'), [{ n: 3 }], client.describe());
    });

    test('socketsJoin and socketsLeave apply on both nodes', async () => {
      const [a, b, c, d] = await four();
      const [from, room] = [unique('from'), unique('joined')];
      await a.call('join', from);
      await c.call('join', from);
      emitter.in(from).socketsJoin(room);
      await roomIs(b, room, [a.id, c.id]);
      await roomIs(d, room, [a.id, c.id]);
      emitter.in(from).socketsLeave(room);
      await roomIs(b, room, []);
      await roomIs(d, room, []);
    });

    test('disconnectSockets disconnects the members of a room on both nodes', async () => {
      const [a, b, c, d] = await four();
      const room = unique('doomed');
      await a.call('join', room);
      await c.call('join', room);
      emitter.in(room).disconnectSockets(true);
      for (const client of [a, c]) {
        assert.equal((await client.next('@disconnect'))[0], 'io server disconnect', client.describe());
      }
      await quietUntil([[b, '@disconnect'], [d, '@disconnect']]).through(viaEmitter);
      await settle(b, { sockets: 2, servers: 2 });
    });

    test('serverSideEmit("relay") makes every node relay to its own sockets', async () => {
      const [a, b, c, d] = await four();
      const data = { token: unique('relay') };
      emitter.serverSideEmit('relay', { event: 'relayed', data });
      for (const client of [a, b, c, d]) assert.deepEqual(await client.next('relayed'), [data], client.describe());
      await quietUntil([a, b, c, d].map((cl) => [cl, 'relayed'])).through(viaEmitter);
    });

    test('a PHP-style message (no except, other key order, wide msgpack families) reaches both nodes', async () => {
      const [a, b, c, d] = await four();
      const room = unique('php-room');
      await a.call('join', room);
      await c.call('join', room);
      // to everyone: [uid, packet, {rooms, flags}] on `{key}#/#`
      const packet = { type: 2, data: ['from-php', { n: 1, text: 'héllo' }], nsp: '/' };
      await redis.publish(`${key}#/#`, wideMsgpack(['php-emitter', packet, { rooms: [], flags: {} }]));
      // to one room: on `{key}#/#{room}#`, the packet's nsp left out (it defaults to "/")
      const toRoom = { type: 2, data: ['php-room', 'members only'] };
      await redis.publish(`${key}#/#${room}#`, wideMsgpack(['php-emitter', toRoom, { flags: {}, rooms: [room] }]));
      for (const client of [a, b, c, d]) {
        assert.deepEqual(await client.next('from-php'), [{ n: 1, text: 'héllo' }], client.describe());
      }
      for (const client of [a, c]) assert.deepEqual(await client.next('php-room'), ['members only'], client.describe());
      await quietUntil([a, b, c, d].flatMap((cl) => [[cl, 'from-php'], [cl, 'php-room']])).through(viaEmitter);
    });
  });
}
