// The deployments of docs/cluster.md: two nodes of one cluster (an rtio node and a Node
// socket.io node) behind nginx (`ip_hash`) and behind Apache httpd (mod_proxy_balancer with a
// route cookie), each configured as the documentation says. Official clients connect through
// the proxy with the default transports (long-polling, then the upgrade to WebSocket) and with
// long-polling only; the balancer spreads them over both nodes, every polling request of a
// session reaches the node that holds it (else: 400 "Session ID unknown" and a disconnect),
// and a broadcast from one client reaches the clients on both nodes.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Client, STEP_MS, closeAllClients, connectTo, startNode, stopNodes, uniqueKey, until } from './lib.mjs';
import { startApache, startNginx } from './proxies.mjs';

const HOSTS = ['rust', 'socketio'];
let nodes;

before(async () => {
  const key = uniqueKey('proxies');
  nodes = await Promise.all(HOSTS.map((host, i) => startNode(host, { key, name: `${host}#${i + 1}` })));
});
after(() => stopNodes(nodes));
afterEach(() => closeAllClients());

/** A client through `proxy`; `options` go to socket.io-client. */
async function viaProxy(proxy, setup, options = {}) {
  const client = new Client(proxy.url, { setup, options: { timeout: 10_000, ...options } });
  try {
    return await client.ready();
  } catch (e) {
    throw new Error(`${e.message}\nproxy log:\n${proxy.log()}`);
  }
}

/** How many sockets each node has on `/` (a direct client of each asks for its node's stats). */
async function perNode() {
  const counts = [];
  for (const node of nodes) {
    const probe = await connectTo(node);
    counts.push((await probe.call('stats')).sockets - 1);
    probe.close();
  }
  return counts;
}

/**
 * The sockets per node once they add up to `total` (the previous test's clients may still be
 * leaving), spread over both nodes.
 */
async function spreadOverBothNodes(total, proxyName) {
  let counts;
  await until(async () => {
    counts = await perNode();
    return counts[0] + counts[1] === total;
  }, STEP_MS * 2, `${total} sockets over the two nodes`).catch((e) => {
    throw new Error(`${e.message} (sockets per node: ${counts})`);
  });
  assert.ok(counts.every((n) => n > 0), `both nodes have clients through ${proxyName}: ${counts}`);
}

/** Every client receives a broadcast that one of them sent through its own node. */
async function broadcastReachesAll(clients, label) {
  const data = `${label}-${Date.now()}`;
  clients[0].emit('fanout', { event: 'hello', data });
  for (const c of clients) {
    assert.equal(await c.nextValue('hello', { where: (args) => args[0] === data }), data, c.describe());
  }
}

/**
 * Ends a test: the clients close while their proxy still runs (a long-polling client says
 * goodbye with a request through it), the nodes see them go, then the proxy stops.
 */
function closeThrough(t, proxy) {
  t.after(async () => {
    closeAllClients();
    await until(async () => (await perNode()).every((n) => n === 0), STEP_MS * 2, 'the clients to leave both nodes');
    await proxy.stop();
  });
}

/** A polling-only client makes several round trips through the proxy on one session. */
async function pollingKeepsItsSession(client) {
  const sid = client.socket.io.engine.id;
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(await client.call('message-with-ack', `round ${i}`), `round ${i}`);
  }
  assert.equal(client.socket.io.engine.id, sid, 'the session survived its polling requests');
  assert.equal(client.transport, 'polling');
}

test('nginx with ip_hash: sessions stay on their node, broadcasts cross nodes', async (t) => {
  const proxy = await startNginx(nodes);
  closeThrough(t, proxy);
  // ip_hash keys on the client address's first three bytes: clients from eight /24 networks
  // of the loopback range spread over both nodes.
  const clients = [];
  for (let net = 1; net <= 8; net++) {
    const localAddress = `127.0.${net}.1`;
    const agent = new http.Agent({ localAddress });
    clients.push(await viaProxy(proxy, net % 2 ? 'upgrade' : 'polling', { agent, localAddress }));
  }
  await spreadOverBothNodes(clients.length, 'nginx');
  await broadcastReachesAll(clients, 'nginx');
  await pollingKeepsItsSession(clients[1]);
});

test('Apache with mod_proxy_balancer and a route cookie: sessions stay on their node, broadcasts cross nodes', async (t) => {
  const proxy = await startApache(nodes);
  closeThrough(t, proxy);
  // byrequests gives new sessions to the nodes in turn; the ROUTEID cookie (kept by the
  // client's cookie jar: withCredentials) brings each session's later requests back.
  const clients = [];
  for (let i = 0; i < 4; i++) {
    clients.push(await viaProxy(proxy, i % 2 ? 'polling' : 'upgrade', { withCredentials: true }));
  }
  await spreadOverBothNodes(clients.length, 'Apache');
  await broadcastReachesAll(clients, 'apache');
  await pollingKeepsItsSession(clients[1]);
});
