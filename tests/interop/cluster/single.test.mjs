// The cluster rows on one server WITHOUT --redis (SCENARIOS.md: "a cluster of one"), for each
// host of the pairs under test: the rows answer from the server's own sockets, 1 server, no
// other node to relay to or ask.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAIRS,
  closeAllClients,
  connectTo,
  fanoutFrom,
  quietUntil,
  settle,
  sorted,
  startServer,
  unique,
} from './lib.mjs';

const hosts = [...new Set(PAIRS.flatMap((pair) => pair.hosts))];

for (const host of hosts) {
  describe(`${host}: the cluster rows on a single server (no --redis)`, () => {
    let server;
    before(async () => {
      server = await startServer([], { host });
      server.name = host;
    });
    after(async () => {
      closeAllClients();
      await server?.stop();
    });
    afterEach(() => closeAllClients());

    test('cluster-stats, room-sockets, sockets-join, sockets-leave', async () => {
      const a = await connectTo(server, { setup: 'websocket' });
      const b = await connectTo(server, { setup: 'polling' });
      await settle(a, { sockets: 2, servers: 1 });
      const [from, room] = [unique('from'), unique('room')];
      await a.call('join', from);
      assert.deepEqual(await b.call('room-sockets', from), [a.id]);
      assert.equal(await b.call('sockets-join', { in: from, room }), true);
      assert.deepEqual(await b.call('room-sockets', room), [a.id]);
      assert.equal(await b.call('sockets-leave', { in: from, room }), true);
      assert.deepEqual(await b.call('room-sockets', room), []);
    });

    test('fanout-except, disconnect-in, server-side-emit (no one to relay it)', async () => {
      const a = await connectTo(server, { setup: 'websocket' });
      const b = await connectTo(server, { setup: 'polling' });
      const c = await connectTo(server, { setup: 'websocket' });
      const room = unique('room');
      await b.call('join', room);
      a.emit('fanout-except', { except: room, event: 'but-room', data: 1 });
      for (const client of [a, c]) assert.deepEqual(await client.next('but-room'), [1]);
      a.emit('server-side-emit', { event: 'relayed', data: 2 });
      await quietUntil([a, b, c].flatMap((cl) => [[cl, 'but-room'], [cl, 'relayed']])).through(fanoutFrom(a));
      c.emit('disconnect-in', room);
      assert.equal((await b.next('@disconnect'))[0], 'io server disconnect');
      await quietUntil([[a, '@disconnect'], [c, '@disconnect']]).through(fanoutFrom(c));
    });

    test('server-side-ping answers at once with no responses; broadcast-with-ack collects the acks', async () => {
      const a = await connectTo(server, { setup: 'websocket' });
      const b = await connectTo(server, { setup: 'polling' });
      for (const client of [a, b]) client.socket.on('poll', (data, ack) => ack(`${client.id}:${data}`));
      await settle(a, { sockets: 2, servers: 1 });
      assert.deepEqual(await a.call('server-side-ping'), { ok: true, responses: [] });
      const acks = await a.call('broadcast-with-ack', { event: 'poll', data: 'one', timeout_ms: 2000 });
      assert.equal(acks.ok, true, JSON.stringify(acks));
      assert.deepEqual(sorted(acks.responses), sorted([a, b].map((cl) => `${cl.id}:one`)));
    });
  });
}
