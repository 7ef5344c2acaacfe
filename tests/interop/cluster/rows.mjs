// Every cluster row of SCENARIOS.md across two nodes, in both directions, with the official
// socket.io-client over websocket and over polling. Shared by the classic (rows.test.mjs) and
// the sharded (sharded.test.mjs) variants.
//
// In each test, X is the node whose client asks for the operation and Y the other one; every
// test runs once with X = the pair's first node and once with X = its second.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAIRS,
  SLACK_MS,
  assertPayload,
  callWithin,
  closeAllClients,
  connectTo,
  fanoutFrom,
  quietUntil,
  roomChannelSubscribed,
  roomIs,
  settle,
  sorted,
  startPair,
  stopNodes,
  timedCall,
  unique,
  uniqueKey,
} from './lib.mjs';

const SETUP_NAMES = ['websocket', 'polling'];

/** The next `event` whose first argument is (deep-)equal to `value`. */
function nextWith(client, event, value) {
  const wanted = JSON.stringify(value);
  return client.next(event, { where: (args) => JSON.stringify(args[0]) === wanted });
}

/** Makes a client answer `event` acks with `<its id>:<data>`. */
function answers(client, event) {
  client.socket.on(event, (data, ack) => ack(`${client.id}:${data}`));
}

/**
 * Defines the row tests of one variant: `classic` (the default adapter) or `sharded`
 * (--redis-sharded).
 */
export function defineRows(variant) {
  const sharded = variant === 'sharded';

  for (const pair of PAIRS) {
    for (const setup of SETUP_NAMES) {
      // fresh nodes for each direction: the counts start from zero
      for (const x of [0, 1]) defineVisits(variant, pair, setup, x);

      describe(`${variant} cluster ${pair.name} over ${setup}: rows`, () => {
        let nodes;
        let key;
        before(async () => {
          key = uniqueKey(`${variant}-rows`);
          nodes = await startPair(pair, { key, sharded });
        });
        after(async () => {
          closeAllClients();
          await stopNodes(nodes);
        });
        afterEach(() => closeAllClients());

        for (const [x, y] of [[0, 1], [1, 0]]) {
          const dir = `${pair.hosts[x]}#${x + 1} → ${pair.hosts[y]}#${y + 1}`;
          // the clients of X and Y
          const on = (which) => connectTo(which === 'X' ? nodes[x] : nodes[y], { setup });

          test(`cluster-stats counts the sockets of both nodes and both servers; stats stay per node (${dir})`, async () => {
            const a = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            await settle(a, { sockets: 3, servers: 2 });
            assert.deepEqual(await c.call('cluster-stats'), { sockets: 3, servers: 2 });
            assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 0 });
            assert.deepEqual(await d.call('stats'), { sockets: 2, rooms: 0 });
          });

          test(`broadcast and toServer skip the sender wherever it is (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const token = unique('broadcast');
            a.emit('broadcast', token);
            for (const client of [b, c]) assert.deepEqual(await nextWith(client, 'broadcast', token), [token]);
            const back = unique('broadcast');
            c.emit('broadcast', back);
            for (const client of [a, b]) assert.deepEqual(await nextWith(client, 'broadcast', back), [back]);
            a.emit('toServer', { nome: 'ana', msg: token });
            for (const client of [a, b, c]) {
              assert.deepEqual(await nextWith(client, 'toClient', `ana:${token}`), [`ana:${token}`]);
            }
            await quietUntil([a, b, c].flatMap((cl) => [[cl, 'broadcast'], [cl, 'toClient']])).through(fanoutFrom(a));
          });

          test(`to-room reaches members on the other node when this one has none; to-room-except-me skips the sender (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            const room = unique('room');
            assert.equal(await c.call('join', room), true);
            if (sharded) await roomChannelSubscribed(key, room, 1);
            const data = { token: unique('to-room'), bin: Buffer.from([0, 1, 2, 255]) };
            a.emit('to-room', { room, event: 'in-room', data });
            assertPayload(await c.nextValue('in-room'), data, 'to-room across nodes, with binary');
            await quietUntil([a, b, c, d].map((cl) => [cl, 'in-room'])).through(fanoutFrom(a));

            assert.equal(await b.call('join', room), true);
            b.emit('to-room-except-me', { room, event: 'in-room', data: 'not-b' });
            assert.deepEqual(await c.next('in-room'), ['not-b']);
            await quietUntil([a, b, c, d].map((cl) => [cl, 'in-room'])).through(fanoutFrom(b));
          });

          test(`fanout, client:created:job and /admin broadcast-main reach both nodes (${dir})`, async () => {
            const a = await on('X');
            const c = await on('Y');
            const data = { token: unique('fanout'), bin: Buffer.from('binary across nodes') };
            a.emit('fanout', { event: 'fanned', data });
            for (const client of [a, c]) assertPayload(await client.nextValue('fanned'), data, client.describe());
            const job = { id: unique('job'), title: 'cluster' };
            c.emit('client:created:job', job);
            for (const client of [a, c]) assert.deepEqual(await client.next('server:created:job'), [job]);
            const admin = await connectTo(nodes[x], { setup, nsp: '/admin', auth: { token: 'secret' } });
            await admin.next('admin-hello');
            admin.emit('broadcast-main', { note: 'to every node' });
            for (const client of [a, c]) assert.deepEqual(await client.next('announcement'), [{ note: 'to every node' }]);
            await quietUntil(
              [a, c].flatMap((cl) => [[cl, 'fanned'], [cl, 'server:created:job'], [cl, 'announcement']]),
            ).through(fanoutFrom(a));
          });

          test(`room-sockets lists the members of both nodes (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const room = unique('room');
            await a.call('join', room);
            await c.call('join', room);
            const members = sorted([a.id, c.id]);
            assert.deepEqual(await a.call('room-sockets', room), members);
            assert.deepEqual(await c.call('room-sockets', room), members);
            assert.deepEqual(await b.call('room-sockets', unique('empty-room')), []);
            assert.deepEqual(await b.call('room-sockets', c.id), [c.id], "a socket's own room");
          });

          test(`sockets-join puts the members of a room of both nodes in another room (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            const [from, room] = [unique('from'), unique('joined')];
            await a.call('join', from);
            await c.call('join', from);
            assert.equal(await b.call('sockets-join', { in: from, room }), true);
            await roomIs(d, room, [a.id, c.id]);
            await roomIs(b, room, [a.id, c.id]);
            if (sharded) await roomChannelSubscribed(key, room, 2);
            d.emit('to-room', { room, event: 'in-joined', data: 1 });
            for (const client of [a, c]) assert.deepEqual(await client.next('in-joined'), [1]);
            await quietUntil([a, b, c, d].map((cl) => [cl, 'in-joined'])).through(fanoutFrom(d));
          });

          test(`sockets-leave takes the members of a room of both nodes out of another room (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            const [from, room] = [unique('from'), unique('left')];
            for (const client of [a, c]) {
              await client.call('join', from);
              await client.call('join', room);
            }
            assert.equal(await d.call('join', room), true);
            assert.equal(await b.call('sockets-leave', { in: from, room }), true);
            await roomIs(d, room, [d.id]);
            await roomIs(b, room, [d.id]);
            await roomIs(b, from, [a.id, c.id]);
            b.emit('to-room', { room, event: 'in-left', data: 2 });
            assert.deepEqual(await d.next('in-left'), [2]);
            await quietUntil([a, b, c, d].map((cl) => [cl, 'in-left'])).through(fanoutFrom(b));
          });

          test(`disconnect-in disconnects the members of a room on both nodes (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            const room = unique('doomed');
            await a.call('join', room);
            await c.call('join', room);
            b.emit('disconnect-in', room);
            for (const client of [a, c]) {
              assert.equal((await client.next('@disconnect'))[0], 'io server disconnect', client.describe());
            }
            await quietUntil([[b, '@disconnect'], [d, '@disconnect']]).through(fanoutFrom(b));
            await settle(d, { sockets: 2, servers: 2 });
          });

          test(`fanout-except reaches every node but the members of a room (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            const room = unique('except');
            await b.call('join', room);
            await d.call('join', room);
            a.emit('fanout-except', { except: room, event: 'but-room', data: 'x' });
            for (const client of [a, c]) assert.deepEqual(await client.next('but-room'), ['x'], client.describe());
            // a socket id is a room too
            c.emit('fanout-except', { except: a.id, event: 'but-a', data: 'y' });
            for (const client of [b, c, d]) assert.deepEqual(await client.next('but-a'), ['y'], client.describe());
            await quietUntil([a, b, c, d].flatMap((cl) => [[cl, 'but-room'], [cl, 'but-a']])).through(fanoutFrom(a));
          });

          test(`server-side-emit: every other node relays to its own sockets (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const data = { token: unique('relay') };
            a.emit('server-side-emit', { event: 'relayed', data });
            assert.deepEqual(await c.next('relayed'), [data]);
            await quietUntil([a, b, c].map((cl) => [cl, 'relayed'])).through(fanoutFrom(a));
          });

          test(`server-side-ping: the other node answers with its socket count (${dir})`, async () => {
            const a = await on('X');
            const c = await on('Y');
            await on('Y');
            await settle(a, { sockets: 3, servers: 2 });
            assert.deepEqual(await a.call('server-side-ping'), { ok: true, responses: [2] });
            assert.deepEqual(await c.call('server-side-ping'), { ok: true, responses: [1] });
          });

          test(`broadcast-with-ack collects the acks of both nodes, and times out on a silent client (${dir})`, async () => {
            const a = await on('X');
            const b = await on('X');
            const c = await on('Y');
            const d = await on('Y');
            for (const client of [a, b, c, d]) answers(client, 'poll');
            await settle(a, { sockets: 4, servers: 2 });
            const token = unique('poll');
            const all = await callWithin(a, 2000 + SLACK_MS, 'broadcast-with-ack', { event: 'poll', data: token, timeout_ms: 2000 });
            assert.equal(all.ok, true, JSON.stringify(all));
            assert.deepEqual(sorted(all.responses), sorted([a, b, c, d].map((cl) => `${cl.id}:${token}`)));

            d.socket.off('poll'); // d stops answering (still connected)
            const { value, ms } = await timedCall(c, 500 + SLACK_MS, 'broadcast-with-ack', { event: 'poll', data: 'late', timeout_ms: 500 });
            assert.equal(value.ok, false, JSON.stringify(value));
            assert.deepEqual(sorted(value.responses), sorted([a, b, c].map((cl) => `${cl.id}:late`)));
            assert.ok(ms >= 400, `answered after ${ms} ms, before the 500 ms timeout`);
          });
        }
      });
    }
  }
}

/** `visits` on fresh nodes, the first clients on node `x` of the pair. */
function defineVisits(variant, pair, setup, x) {
  const y = 1 - x;
  describe(`${variant} cluster ${pair.name} over ${setup}: visits, first on ${pair.hosts[x]}#${x + 1}`, () => {
    let nodes;
    before(async () => {
      nodes = await startPair(pair, { key: uniqueKey(`${variant}-visits`), sharded: variant === 'sharded' });
    });
    after(async () => {
      closeAllClients();
      await stopNodes(nodes);
    });

    test('visits counts per node and is broadcast cluster-wide', async () => {
      const [X, Y] = [nodes[x], nodes[y]];
      const a = await connectTo(X, { setup });
      assert.deepEqual(await a.next('visits'), [1]);
      // (Y has handled X's `visits` before its first socket connects: Y answered a request
      // that X published after it)
      await settle(a, { sockets: 1, servers: 2 });
      const c = await connectTo(Y, { setup });
      assert.deepEqual(await c.next('visits'), [1], 'Y counts its own sockets');
      assert.deepEqual(await a.next('visits'), [1], "Y's count reaches X's sockets");
      const b = await connectTo(X, { setup });
      for (const client of [b, a, c]) assert.deepEqual(await client.next('visits'), [2], client.describe());
      c.close();
      for (const client of [a, b]) assert.deepEqual(await client.next('visits'), [0], client.describe());
      b.close();
      assert.deepEqual(await a.next('visits'), [1]);
      await quietUntil([[a, 'visits']]).through(fanoutFrom(a));
    });
  });
}
