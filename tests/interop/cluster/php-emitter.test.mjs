// The PHP emitter of docs/cluster.md (examples/php/SocketIoEmitter.php, on phpredis and the
// msgpack extension from Debian) pushing into a cluster of an rtio node and a Node socket.io
// node: emit to all / a room / all but a room / another namespace, socketsJoin, socketsLeave,
// disconnectSockets, serverSideEmit (→ the `relay` server-side event). Each push is one run of
// `php tests/interop/cluster/php-emitter.php`, which prints "ok" once it published.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STEP_MS, closeAllClients, connectTo, quietUntil, roomIs, startNode, stopNodes, unique, uniqueKey, useRedis } from './lib.mjs';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'php-emitter.php');
const HOSTS = ['rust', 'socketio'];
let nodes;
let key;

before(async () => {
  key = uniqueKey('php');
  nodes = await Promise.all(HOSTS.map((host, i) => startNode(host, { key, name: `${host}#${i + 1}` })));
});
after(() => stopNodes(nodes));
afterEach(() => closeAllClients());

/** Runs the PHP emitter on `ops` (see php-emitter.php). */
async function php(...ops) {
  const { port } = await useRedis();
  const out = await new Promise((resolve, reject) => {
    execFile('php', [script, String(port), key, JSON.stringify(ops)], { timeout: STEP_MS * 2 }, (err, stdout, stderr) =>
      err ? reject(new Error(`php: ${err.message}\n${stderr}`)) : resolve(stdout),
    );
  });
  assert.equal(out.trim(), 'ok');
}

/** a on the rtio node (websocket), b on the socket.io node (polling). */
async function two() {
  return [await connectTo(nodes[0], { setup: 'websocket' }), await connectTo(nodes[1], { setup: 'polling' })];
}

test('PHP emit reaches both nodes: everyone, a room, all but a room, another namespace', async () => {
  const [a, b] = await two();
  const room = unique('php-room');
  await b.call('join', room);
  const notForThem = quietUntil([[a, 'members'], [b, 'others']]);
  await php(
    { op: 'emit', event: 'server:created:job', args: [{ id: 42, title: 'Wélder', tags: ['a', 'b'] }] },
    { op: 'emit', to: [room], event: 'members', args: ['only', 2] },
    { op: 'emit', except: [room], event: 'others', args: [] },
  );
  for (const c of [a, b]) {
    assert.deepEqual(await c.next('server:created:job'), [{ id: 42, title: 'Wélder', tags: ['a', 'b'] }], c.describe());
  }
  assert.deepEqual(await b.next('members'), ['only', 2]);
  assert.deepEqual(await a.next('others'), []);
  const x = await connectTo(nodes[0], { setup: 'websocket', nsp: '/custom' });
  const y = await connectTo(nodes[1], { setup: 'websocket', nsp: '/custom' });
  await php({ op: 'emit', nsp: '/custom', event: 'custom-news', args: [{ n: 3 }] });
  for (const c of [x, y]) assert.deepEqual(await c.next('custom-news'), [{ n: 3 }], c.describe());
  // a is in no room, b in no other: a later push through the same Redis comes after all
  await notForThem.through((event, token) => php({ op: 'emit', event, args: [token] }));
});

test('PHP socketsJoin, socketsLeave, serverSideEmit and disconnectSockets apply on both nodes', async () => {
  const [a, b] = await two();
  const [from, joined] = [unique('from'), unique('joined')];
  await a.call('join', from);
  await b.call('join', from);
  await php({ op: 'join', to: [from], rooms: [joined] });
  await roomIs(a, joined, [a.id, b.id]);
  await php({ op: 'leave', to: [from], rooms: [joined] });
  await roomIs(a, joined, []);

  const data = { token: unique('relay') };
  await php({ op: 'server-side', event: 'relay', args: [{ event: 'relayed', data }] });
  for (const c of [a, b]) assert.deepEqual(await c.next('relayed'), [data], c.describe());

  await php({ op: 'disconnect', to: [from], close: true });
  for (const c of [a, b]) assert.equal((await c.next('@disconnect'))[0], 'io server disconnect', c.describe());
});
