// `rtio serve` in a cluster through Redis (issue 18 with issue 16): two rtio serve nodes and a
// Node socket.io 4.8 node with @socket.io/redis-adapter on one key. What the HTTP API of one
// node does reaches the clients of every node; /api/sockets and /health see the cluster.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNode, uniqueKey, useRedis } from '../cluster/lib.mjs';
import { STEP_MS, call, connect, serve, waitFor, withTimeout } from './lib.mjs';

const KEY = 'cluster-key';

describe('rtio serve nodes and a socket.io node share one Redis', () => {
  let redis;
  let a;
  let b;
  let reference;
  const clients = [];
  before(async () => {
    redis = await useRedis();
    const key = uniqueKey('serve');
    const flags = ['--api-key', KEY, '--redis', redis.url, '--redis-key', key];
    [a, b, reference] = await Promise.all([serve(flags), serve(flags), startNode('socketio', { key, redisUrl: redis.url })]);
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all([a?.stop(), b?.stop(), reference?.stop()]);
  });

  const client = async (url, options = {}) => {
    const c = await connect(url, { transports: ['websocket'], ...options });
    clients.push(c);
    return c;
  };

  it('/health reports Redis up and the number of servers', async () => {
    const health = await withTimeout(
      (async () => {
        for (;;) {
          const h = await call(a.url, '/health');
          if (h.json?.servers === 3) return h;
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
      STEP_MS * 3,
      'three servers in /health',
    );
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: 'ok', redis: 'up', servers: 3 });
  });

  it('an emit through one node\'s API reaches the clients of every node', async () => {
    const onA = await client(a.url);
    const onB = await client(b.url, { transports: ['polling'] });
    const onRef = await client(reference.url);
    const got = Promise.all([onA, onB, onRef].map((c) => waitFor(c, 'server:created:job')));
    const res = await call(a.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'server:created:job', args: [{ id: 1 }] } });
    assert.deepEqual(res.json, { ok: true });
    for (const args of await got) assert.deepEqual(args, [{ id: 1 }]);
  });

  it('join by sid through another node, then a room emit; /api/sockets lists the cluster', async () => {
    const far = await client(b.url);
    const ref = await client(reference.url);
    const joined = await call(a.url, '/api/join', { method: 'POST', key: KEY, body: { sid: far.id, room: 'night-shift' } });
    assert.deepEqual(joined.json, { ok: true });
    await call(a.url, '/api/join', { method: 'POST', key: KEY, body: { sid: ref.id, room: 'night-shift' } });
    const listed = await withTimeout(
      (async () => {
        for (;;) {
          const l = await call(a.url, '/api/sockets?room=night-shift', { key: KEY });
          if (l.json.sockets.length === 2) return l;
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
      STEP_MS * 2,
      'two sockets in night-shift',
    );
    assert.deepEqual(listed.json.sockets.map((s) => s.id).sort(), [far.id, ref.id].sort());
    assert.ok(listed.json.sockets.every((s) => s.local === false));
    const got = Promise.all([waitFor(far, 'shift'), waitFor(ref, 'shift')]);
    await call(a.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'shift', args: ['starts'], to: ['night-shift'] } });
    for (const args of await got) assert.deepEqual(args, ['starts']);
    const gone = waitFor(ref, 'disconnect');
    await call(b.url, '/api/disconnect', { method: 'POST', key: KEY, body: { sid: ref.id } });
    assert.equal((await gone)[0], 'io server disconnect');
  });
});
