// Redis goes away and comes back (SCENARIOS.md "Cluster"; issue 16, faults): the run's
// redis-server is killed (SIGKILL) and a new one started on the same port.
// - while it is away, each node keeps serving its own clients (echo, acks, local broadcasts
//   and rooms), and a node started meanwhile starts anyway and serves its clients;
// - once it is back, every node reconnects and resubscribes: cluster delivery resumes in both
//   directions, the three nodes count each other, and server-side requests are answered.
// Classic adapter only (the emitter and most deployments use it).
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAIRS,
  closeAllClients,
  connectTo,
  killRedis,
  restartRedis,
  settle,
  sorted,
  startNode,
  startPair,
  stopNodes,
  unique,
  uniqueKey,
} from './lib.mjs';

/** How long nodes may take to reconnect and resubscribe after Redis is back. */
const RESUME_MS = 30_000;

/** Waits until a `fanout` from `from` reaches `to`, sending a new probe every 300 ms. */
async function resumes(from, to) {
  const deadline = Date.now() + RESUME_MS;
  for (;;) {
    const token = unique('probe');
    from.emit('fanout', { event: 'probe', data: token });
    try {
      await to.next('probe', { where: (args) => args[0] === token, timeout: 300 });
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`cluster delivery from ${from.describe()} to ${to.describe()} did not resume within ${RESUME_MS} ms`);
      }
    }
  }
}

/** The socket's own node still serves it: echo, ack, a local broadcast, a local room. */
async function servedLocally(client) {
  const token = unique('local');
  client.emit('message', token);
  assert.deepEqual(await client.next('message-back'), [token], client.describe());
  assert.equal(await client.call('whoami'), client.id);
  client.emit('fanout', { event: 'local-fanout', data: token });
  assert.deepEqual(await client.next('local-fanout', { where: (args) => args[0] === token }), [token]);
  const room = unique('local-room');
  assert.equal(await client.call('join', room), true);
  client.emit('to-room', { room, event: 'local-room', data: token });
  assert.deepEqual(await client.next('local-room'), [token], client.describe());
}

for (const pair of PAIRS) {
  describe(`cluster ${pair.name}: Redis restarted`, () => {
    const started = [];
    after(async () => {
      closeAllClients();
      await stopNodes(started);
    });

    test('local delivery never stops, a node started meanwhile serves its clients, cluster delivery resumes', async () => {
      const key = uniqueKey('redis-restart');
      const nodes = await startPair(pair, { key });
      started.push(...nodes);
      const [X, Y] = nodes;
      const a = await connectTo(X, { setup: 'websocket' });
      const c = await connectTo(Y, { setup: 'polling' });
      await settle(a, { sockets: 2, servers: 2 });
      await resumes(a, c);

      await killRedis();
      for (const client of [a, c]) await servedLocally(client);
      const Z = await startNode(pair.hosts[0], { key, name: `${pair.hosts[0]}#3` });
      started.push(Z);
      const z = await connectTo(Z, { setup: 'websocket' });
      await servedLocally(z);

      await restartRedis();
      await resumes(a, c);
      await resumes(c, a);
      await resumes(z, c);
      await resumes(c, z);
      await settle(a, { sockets: 3, servers: 3 });
      await settle(c, { sockets: 3, servers: 3 });
      const room = unique('room');
      await c.call('join', room);
      z.emit('to-room', { room, event: 'after-restart', data: 'back' });
      assert.deepEqual(await c.next('after-restart'), ['back']);
      const ping = await a.call('server-side-ping');
      assert.equal(ping.ok, true, JSON.stringify(ping));
      assert.deepEqual(sorted(ping.responses), [1, 1]);
    });
  });
}
