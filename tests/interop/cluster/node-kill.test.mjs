// A node that stops answering, then dies (SCENARIOS.md "Cluster"; issue 16, faults):
// - frozen (SIGSTOP: still subscribed, so still counted by Redis): the other node's requests
//   end within the requests timeout (server-side-ping says not everyone answered, a
//   broadcast-with-ack ends at its own timeout with the local acks, cluster-stats answers),
//   and its local delivery goes on;
// - killed (SIGKILL): the other node counts 1 server, and its requests answer at once;
// - a new node joins the survivor: both count 2 servers and deliver to each other.
// Each direction of each pair: the pair's second node dies, then its first.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAIRS,
  REQUESTS_TIMEOUT_MS,
  SLACK_MS,
  closeAllClients,
  connectTo,
  settle,
  sorted,
  startNode,
  startPair,
  stopNodes,
  timedCall,
  unique,
  uniqueKey,
} from './lib.mjs';

/** What "at once" means for a request no one is missing from. */
const PROMPT_MS = 1000;

for (const pair of PAIRS) {
  for (const y of [1, 0]) {
    const x = 1 - y;
    describe(`cluster ${pair.name}: ${pair.hosts[y]}#${y + 1} frozen, then killed, seen from ${pair.hosts[x]}#${x + 1}`, () => {
      const started = [];
      after(async () => {
        closeAllClients();
        await stopNodes(started);
      });

      test('requests end within the timeouts; then 1 server, prompt answers; then a new node joins', async () => {
        const key = uniqueKey('node-kill');
        const nodes = await startPair(pair, { key });
        started.push(...nodes);
        const [X, Y] = [nodes[x], nodes[y]];
        const a = await connectTo(X, { setup: 'websocket' });
        const b = await connectTo(X, { setup: 'polling' });
        const c = await connectTo(Y, { setup: 'websocket' });
        for (const client of [a, b, c]) client.socket.on('poll', (data, ack) => ack(`${client.id}:${data}`));
        await settle(a, { sockets: 3, servers: 2 });

        // --- frozen -------------------------------------------------------------------------
        Y.signal('SIGSTOP');
        const token = unique('local');
        a.emit('fanout', { event: 'local', data: token });
        for (const client of [a, b]) assert.deepEqual(await client.next('local'), [token], client.describe());

        const ping = await timedCall(a, REQUESTS_TIMEOUT_MS + SLACK_MS, 'server-side-ping');
        assert.deepEqual(ping.value, { ok: false, responses: [] }, 'server-side-ping with a frozen node');

        const acks = await timedCall(a, 1000 + SLACK_MS, 'broadcast-with-ack', { event: 'poll', data: 'f', timeout_ms: 1000 });
        assert.equal(acks.value.ok, false, JSON.stringify(acks.value));
        assert.deepEqual(sorted(acks.value.responses), sorted([a, b].map((cl) => `${cl.id}:f`)));
        assert.ok(acks.ms >= 900, `broadcast-with-ack answered after ${acks.ms} ms, before its 1000 ms timeout`);

        // the answer's content is the host's (an error, or a partial count), but it comes
        const stats = await timedCall(b, REQUESTS_TIMEOUT_MS + SLACK_MS, 'cluster-stats');
        assert.notDeepEqual(stats.value, { sockets: 3, servers: 2 }, 'a frozen node cannot have answered');

        // --- killed -------------------------------------------------------------------------
        Y.signal('SIGKILL');
        await Y.exited;
        assert.match((await c.next('@disconnect', { timeout: 5000 }))[0], /^transport (close|error)$/);
        await settle(a, { sockets: 2, servers: 1 });

        const stats1 = await timedCall(b, PROMPT_MS, 'cluster-stats');
        assert.deepEqual(stats1.value, { sockets: 2, servers: 1 });
        const ping1 = await timedCall(a, PROMPT_MS, 'server-side-ping');
        assert.deepEqual(ping1.value, { ok: true, responses: [] });
        const acks1 = await timedCall(b, PROMPT_MS, 'broadcast-with-ack', { event: 'poll', data: 'k', timeout_ms: 3000 });
        assert.equal(acks1.value.ok, true, JSON.stringify(acks1.value));
        assert.deepEqual(sorted(acks1.value.responses), sorted([a, b].map((cl) => `${cl.id}:k`)));

        // --- a new node joins the survivor --------------------------------------------------
        const Z = await startNode(pair.hosts[y], { key, name: `${pair.hosts[y]}#${y + 1}'` });
        started.push(Z);
        const z = await connectTo(Z, { setup: 'websocket' });
        await settle(a, { sockets: 3, servers: 2 });
        const room = unique('room');
        await z.call('join', room);
        a.emit('to-room', { room, event: 'welcome', data: 'z' });
        assert.deepEqual(await z.next('welcome'), ['z']);
        assert.deepEqual(await a.call('server-side-ping'), { ok: true, responses: [1] });
        assert.deepEqual(await z.call('server-side-ping'), { ok: true, responses: [2] });
      });
    });
  }
}
