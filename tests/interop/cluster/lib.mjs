// Shared helpers of the cluster suite (SCENARIOS.md, "Cluster"): one redis-server for the whole
// run, pairs of scenarios servers joined through it, and the waits the cluster tests need.
//
// The redis-server is started by run.mjs (`make interop-cluster`) and described to the test
// files by CLUSTER_REDIS_STATE (a JSON file: { port, pid }), which the Redis restart test
// rewrites when it starts a new redis-server on the same port. A test file run on its own
// (`node --test tests/interop/cluster/x.test.mjs`) starts its own redis-server instead.
//
// Host pairs come from CLUSTER_HOSTS: whitespace- or comma-separated `A+B` (each a HOST of
// tests/interop/scenarios-server), default DEFAULT_PAIRS.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { startServer, withTimeout, until, connect, STEP_MS } from '../js/harness.mjs';

export * from '../js/harness.mjs';

// Each rtio host beside a Node socket.io node, two rtio hosts, and the reference pair (which
// checks the suite itself); python-async is the Python host on rtio.AsyncServer.
export const DEFAULT_PAIRS = 'socketio+socketio rust+socketio c+socketio python+socketio node+socketio rust+rust python-async+node';

/** The host pairs under test: [{ name: 'rust+socketio', hosts: ['rust', 'socketio'] }]. */
export const PAIRS = (process.env.CLUSTER_HOSTS || DEFAULT_PAIRS)
  .split(/[\s,]+/)
  .filter(Boolean)
  .map((name) => {
    const hosts = name.split('+');
    assert.equal(hosts.length, 2, `CLUSTER_HOSTS: "${name}" is not HOST+HOST`);
    return { name, hosts };
  });

/**
 * The longest requests timeout a host may use (socket.io's default `requestsTimeout`, and the
 * sharded adapter's fixed one): a request to a node that does not answer ends within it.
 */
export const REQUESTS_TIMEOUT_MS = 5000;
/** What a timed wait may overrun its deadline by on a busy 2-core machine. */
export const SLACK_MS = 1500;

// ---------------------------------------------------------------------------------------------
// redis-server
// ---------------------------------------------------------------------------------------------

/** A free TCP port on the loopback interface. */
export async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves true when a redis-server answers PING on `port`, false when nothing does. */
export function redisAnswers(port, ms = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let got = '';
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), ms);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      got += data;
      if (got.includes('\r\n')) done(got.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/**
 * Starts `redis-server` on 127.0.0.1:`port` without persistence and resolves with its child
 * process once it answers PING. `detached`: it outlives this process (its PID is then the only
 * handle on it).
 */
export async function spawnRedis(port, { detached = false } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')],
    { stdio: 'ignore', detached },
  );
  if (detached) child.unref();
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await redisAnswers(port, 500)) return child;
    const ended = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 50))]);
    if (ended) throw new Error(`redis-server on port ${port} exited (${JSON.stringify(ended)}); log in ${dir}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
    }
  }
}

/** Stops a process by PID (SIGTERM, SIGKILL after `ms`); resolves once it is gone. */
export async function stopPid(pid, ms = 2000) {
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + ms;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (alive()) process.kill(pid, 'SIGKILL');
}

let ownRedis = null;

/**
 * The run's redis-server: { port, url, pid }. Started here (and stopped when this process
 * exits) when no runner gave one.
 */
export async function useRedis() {
  const stateFile = process.env.CLUSTER_REDIS_STATE;
  if (stateFile) {
    const { port, pid } = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    return { port, pid, url: `redis://127.0.0.1:${port}` };
  }
  ownRedis ??= (async () => {
    const port = await freePort();
    const child = await spawnRedis(port);
    child.unref(); // (it must not keep this process alive)
    process.once('exit', () => child.kill('SIGKILL'));
    return { port, pid: child.pid };
  })();
  const { port, pid } = await ownRedis;
  return { port, pid, url: `redis://127.0.0.1:${port}` };
}

/** The number of subscribers of a shard channel (`PUBSUB SHARDNUMSUB channel`). */
function shardSubscribers(port, channel) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const args = ['PUBSUB', 'SHARDNUMSUB', channel];
    const command = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
    let got = '';
    socket.on('connect', () => socket.write(command));
    socket.on('data', (data) => {
      got += data;
      const count = /\r\n:(\d+)\r\n$/.exec(got);
      if (count) {
        socket.destroy();
        resolve(Number(count[1]));
      }
    });
    socket.on('error', reject);
  });
}

/**
 * Waits until `count` servers subscribe the shard channel of `room` (the sharded adapter's
 * dynamic mode): a server subscribes when a room gets its first local member, and Node's
 * adapter does so after `join` returned, so a broadcast to that room right after the join
 * could be published before the other node listens.
 */
export async function roomChannelSubscribed(key, room, count, nsp = '/') {
  const { port } = await useRedis();
  const channel = `${key}#${nsp}#${room}#`;
  await until(async () => (await shardSubscribers(port, channel)) >= count, STEP_MS, `${count} subscribers of ${channel}`);
}

/** Waits until nothing answers on `port` any more (the redis-server there is gone). */
async function portClosed(port, ms = 5000) {
  const deadline = Date.now() + ms;
  while (await redisAnswers(port, 200)) {
    if (Date.now() > deadline) throw new Error(`something still answers on port ${port}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Kills the run's redis-server (SIGKILL: no goodbye to its clients) and waits until it is gone. */
export async function killRedis() {
  const redis = await useRedis();
  process.kill(redis.pid, 'SIGKILL');
  await portClosed(redis.port);
  return redis;
}

/** Starts a new redis-server on the run's port (after killRedis) and makes it the run's one. */
export async function restartRedis() {
  const { port } = await useRedis();
  const stateFile = process.env.CLUSTER_REDIS_STATE;
  if (stateFile) {
    // it must outlive this test file: run.mjs stops it by the PID written here
    const child = await spawnRedis(port, { detached: true });
    fs.writeFileSync(stateFile, JSON.stringify({ port, pid: child.pid }));
  } else {
    const child = await spawnRedis(port);
    child.unref(); // (it must not keep this process alive)
    process.once('exit', () => child.kill('SIGKILL'));
    ownRedis = Promise.resolve({ port, pid: child.pid });
  }
  return useRedis();
}

// ---------------------------------------------------------------------------------------------
// Nodes
// ---------------------------------------------------------------------------------------------

let keyCount = 0;

/** A Redis key prefix no other cluster of this run uses. */
export function uniqueKey(label) {
  return `rtio-${label}-${process.pid}-${++keyCount}`;
}

/**
 * Starts one scenarios server of `host` in the cluster of prefix `key`; `sharded` adds
 * --redis-sharded. Returns the harness' server object, with `host` and `name`.
 */
export async function startNode(host, { key, sharded = false, redisUrl, name = host } = {}) {
  const url = redisUrl ?? (await useRedis()).url;
  const flags = ['--redis', url, '--redis-key', key, ...(sharded ? ['--redis-sharded'] : [])];
  const node = await startServer(flags, { host });
  node.host = host;
  node.name = name;
  return node;
}

/** Starts the two nodes of `pair` (named after their host and position: `rust#1`, `socketio#2`). */
export async function startPair(pair, options) {
  return Promise.all(pair.hosts.map((host, i) => startNode(host, { ...options, name: `${host}#${i + 1}` })));
}

/** Connects a client to `node` (harness' connect options) whose messages name the node. */
export async function connectTo(node, options = {}) {
  const client = await connect(node, options);
  const describe = client.describe.bind(client);
  client.describe = () => `${describe()} on ${node.name}`;
  return client;
}

/** Stops nodes (SIGTERM, then SIGKILL after 3 s). */
export async function stopNodes(nodes) {
  await Promise.all((nodes ?? []).filter(Boolean).map((node) => node.stop()));
}

// ---------------------------------------------------------------------------------------------
// Waits
// ---------------------------------------------------------------------------------------------

/** Emits `event` with an ack and resolves with the ack's first argument, waiting at most `ms`. */
export function callWithin(client, ms, event, ...args) {
  return withTimeout(
    new Promise((resolve) => client.socket.emit(event, ...args, (value) => resolve(value))),
    ms,
    `the ack of "${event}" on ${client.describe()}`,
  );
}

/** Like callWithin, and also resolves how long the answer took: { value, ms }. */
export async function timedCall(client, ms, event, ...args) {
  const start = Date.now();
  const value = await callWithin(client, ms, event, ...args);
  return { value, ms: Date.now() - start };
}

/**
 * Asks `cluster-stats` until it answers `expected` ({sockets, servers}): sockets that closed
 * in an earlier test leave their nodes asynchronously, and so does a killed node.
 */
export async function settle(client, expected, ms = STEP_MS * 2) {
  let last;
  try {
    await until(
      async () => {
        last = await callWithin(client, REQUESTS_TIMEOUT_MS + SLACK_MS, 'cluster-stats');
        return last?.sockets === expected.sockets && last?.servers === expected.servers;
      },
      ms,
      'cluster-stats',
    );
  } catch (err) {
    err.message += `: expected ${JSON.stringify(expected)}, last answer ${JSON.stringify(last)}`;
    throw err;
  }
}

/** Asks `room-sockets` until it answers `expected` (sorted ids): remote joins apply later. */
export async function roomIs(client, room, expected, ms = STEP_MS) {
  const want = [...expected].sort();
  let last;
  try {
    await until(
      async () => {
        last = await callWithin(client, REQUESTS_TIMEOUT_MS + SLACK_MS, 'room-sockets', room);
        return JSON.stringify(last) === JSON.stringify(want);
      },
      ms,
      `room-sockets ${room}`,
    );
  } catch (err) {
    err.message += `: expected ${JSON.stringify(want)}, last answer ${JSON.stringify(last)}`;
    throw err;
  }
}

let barriers = 0;

/**
 * Proves that some events did NOT reach some clients: `pairs` is [client, eventName] pairs;
 * `through(send)` calls `send(event, token)`, which must make event `event` with data `token`
 * reach every watched client after anything the operation under test could have caused
 * (e.g. a `fanout` from the client that caused it, or the emitter's own emit), waits for it
 * on each, and fails if a watched event arrived before it.
 */
export function quietUntil(pairs) {
  const marks = new Map(pairs.map(([client]) => [client, client.mark()]));
  return {
    async through(send) {
      const token = `barrier-${process.pid}-${++barriers}`;
      await send('barrier', token);
      const reached = new Map();
      for (const client of marks.keys()) {
        const entry = await client.nextEntry('barrier', { where: (args) => args[0] === token });
        reached.set(client, entry.seq);
      }
      for (const [client, name] of pairs) {
        const got = client.since(marks.get(client), name, reached.get(client));
        assert.deepEqual(got, [], `${client.describe()} must not receive "${name}", got ${JSON.stringify(got)}`);
      }
    },
  };
}

/** A barrier sent by a client with `fanout` (reaches every socket on every node). */
export const fanoutFrom = (client) => (event, token) => {
  client.emit('fanout', { event, data: token });
};

/** Sorted copy. */
export const sorted = (values) => [...values].sort();

let names = 0;

/** A room or event name no other test uses. */
export function unique(label) {
  return `${label}-${++names}`;
}
