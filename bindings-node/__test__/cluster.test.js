'use strict';
// rtio in a Socket.IO cluster through Redis, from the JS API: an rtio server and a real Node
// socket.io 4.8 server with @socket.io/redis-adapter 8.x (from tests/interop) on one
// redis-server of this file's own (Debian's redis-server, on a free loopback port), with
// official socket.io-client clients. The adapter options and their errors need no Redis.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, spawnSync } = require('node:child_process');
const net = require('node:net');
const rtio = require('rtio');
const { Server, Socket, RemoteSocket, createRedisAdapter, createShardedRedisAdapter } = rtio;
const { connect, closeClients, next, serverSocketOf, withTimeout, freePort, STEP_MS } = require('./helpers');

const interopModules = path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node_modules');
const haveSocketIo = fs.existsSync(path.join(interopModules, '@socket.io', 'redis-adapter', 'package.json'));
const fromInterop = (name) => require(path.join(interopModules, name));

describe('createRedisAdapter / createShardedRedisAdapter: options and errors', () => {
  it('refuses what is not a URL or an option it knows, naming it', () => {
    assert.throws(() => createRedisAdapter(), /createRedisAdapter takes a Redis URL/);
    assert.throws(() => createRedisAdapter(6379), /createRedisAdapter takes a Redis URL/);
    assert.throws(() => createRedisAdapter({ url: 'redis://h', keyPrefix: 'x' }), /no option "keyPrefix"/);
    assert.throws(() => createRedisAdapter({ url: 'redis://h', requestsTimeout: -1 }), /"requestsTimeout"/);
    assert.throws(() => createRedisAdapter({ url: 'redis://h', key: '' }), /"key"/);
    assert.throws(() => createShardedRedisAdapter({ url: 'redis://h', subscriptionMode: 'sometimes' }), /"subscriptionMode"/);
    assert.throws(() => createShardedRedisAdapter({ url: 'redis://h', key: 'x' }), /no option "key".*channelPrefix/);
  });

  it('the factory is for rtio\'s Server: calling it as socket.io would is an error', () => {
    const adapter = createRedisAdapter('redis://127.0.0.1:6379');
    assert.equal(typeof adapter, 'function');
    assert.throws(() => adapter({}), /gives an adapter for rtio's Server/);
  });

  it('a URL that is not redis:// is refused when the server starts', () => {
    const io = new Server({ host: '127.0.0.1', adapter: createRedisAdapter('http://127.0.0.1:6379') });
    assert.throws(() => io.listen(0), /redis/i);
    assert.equal(io.address(), null);
  });

  it('@socket.io/redis-adapter\'s own createAdapter(pub, sub) is refused, pointing at rtio\'s', { skip: !haveSocketIo && 'tests/interop dependencies not installed' }, () => {
    const { createAdapter } = fromInterop('@socket.io/redis-adapter');
    const { createClient } = fromInterop('redis');
    const pub = createClient({ url: 'redis://127.0.0.1:1' });
    const theirs = createAdapter(pub, pub.duplicate());
    const expected = /"adapter".*createRedisAdapter\("redis:\/\/host:6379"\).*@socket\.io\/redis-adapter/s;
    assert.throws(() => new Server({ adapter: theirs }), expected);
    assert.throws(() => new Server().adapter(theirs), expected);
    assert.throws(() => new Server().listen(0, { adapter: theirs }), expected);
  });

  it('the option and io.adapter() take rtio\'s adapters (and the getter gives them back)', () => {
    const classic = createRedisAdapter({ url: 'redis://127.0.0.1:1', key: 'app', requestsTimeout: 100, publishOnSpecificResponseChannel: true });
    const sharded = createShardedRedisAdapter({ url: 'redis://127.0.0.1:1', channelPrefix: 'app', subscriptionMode: 'static' });
    assert.equal(new Server({ adapter: classic }).adapter(), classic);
    assert.equal(new Server().adapter(sharded).adapter(), sharded);
  });
});

// ---------------------------------------------------------------------------------------------
// A cluster: redis-server, an rtio server, a socket.io server
// ---------------------------------------------------------------------------------------------

function redisAnswers(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(500, () => socket.destroy());
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}

/** A redis-server of this file's own on a free loopback port; fails clearly when there is none. */
async function startRedis() {
  const found = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (found.error) {
    throw new Error('these tests need redis-server (Debian: apt-get install redis-server); it was not found in PATH');
  }
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-node-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error('redis-server did not answer within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: `redis://127.0.0.1:${port}`, child, dir };
}

/** Resolves once `fn()` resolves with a value `ok` accepts (asked again every 50 ms), or fails after `ms`. */
async function until(fn, ok, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (ok(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('a cluster of an rtio server and a socket.io server (Redis, classic)', { skip: !haveSocketIo && 'tests/interop dependencies not installed' }, () => {
  let redis;
  let io; // rtio
  let other; // socket.io + @socket.io/redis-adapter
  let redisClients;
  let a; // { c, s } a client of the rtio server and its Socket
  let b; // { c, s } a client of the socket.io server and its socket there

  before(async () => {
    redis = await startRedis();
    io = new Server(0, { host: '127.0.0.1' });
    io.adapter(createRedisAdapter({ url: redis.url, key: 'rtio-test', requestsTimeout: 2000 }));
    const { Server: IoServer } = fromInterop('socket.io');
    const { createAdapter } = fromInterop('@socket.io/redis-adapter');
    const { createClient } = fromInterop('redis');
    const pub = createClient({ url: redis.url });
    const sub = pub.duplicate();
    redisClients = [pub, sub];
    await Promise.all([pub.connect(), sub.connect()]);
    other = new IoServer({ adapter: createAdapter(pub, sub, { key: 'rtio-test', requestsTimeout: 2000 }) });
    other.listen(await freePort());
    other.on('connection', (socket) => {
      socket.data = { user: 'bob' };
      socket.join('r');
    });
    await until(() => io.of('/').adapter.serverCount(), (n) => n === 2, STEP_MS, 'the rtio server to count 2 servers');
    await until(() => other.of('/').adapter.serverCount(), (n) => n === 2, STEP_MS, 'the socket.io server to count 2 servers');
  });

  after(async () => {
    closeClients();
    if (io) await io.close();
    if (other) await new Promise((resolve) => other.close(() => resolve()));
    if (redisClients) await Promise.allSettled(redisClients.map((c) => c.quit()));
    if (redis) {
      redis.child.kill('SIGKILL');
      fs.rmSync(redis.dir, { recursive: true, force: true });
    }
  });

  afterEach(() => closeClients());

  async function clients() {
    const ca = await connect(io.address().port, { auth: { name: 'alice' } });
    const sa = await serverSocketOf(io.of('/'), ca);
    const cb = await connect(other.httpServer.address().port, { auth: { name: 'bob' } });
    const sb = await serverSocketOf(other.of('/'), cb);
    a = { c: ca, s: sa };
    b = { c: cb, s: sb };
  }

  it('fetchSockets: this server\'s Socket instances and RemoteSockets for the other\'s (id, handshake, rooms, data)', async () => {
    await clients();
    const all = await io.fetchSockets();
    assert.deepEqual(all.map((s) => s.id).sort(), [a.s.id, b.s.id].sort());
    const local = all.find((s) => s.id === a.s.id);
    assert.equal(local, a.s, 'the local socket is its Socket');
    assert.ok(local instanceof Socket);
    const remote = all.find((s) => s.id === b.s.id);
    assert.ok(remote instanceof RemoteSocket);
    assert.deepEqual(remote.handshake.auth, { name: 'bob' });
    assert.equal(typeof remote.handshake.headers, 'object');
    assert.ok(remote.rooms instanceof Set);
    assert.deepEqual([...remote.rooms].sort(), [b.s.id, 'r'].sort());
    assert.deepEqual(remote.data, { user: 'bob' });
    const inR = await io.in('r').fetchSockets();
    assert.deepEqual(inR.map((s) => s.id), [b.s.id]);
    assert.deepEqual((await io.except('r').fetchSockets()).map((s) => s.id), [a.s.id]);
    assert.deepEqual((await io.local.fetchSockets()).map((s) => s.id), [a.s.id], 'local: this server only');
    assert.deepEqual([...(await io.allSockets())], [a.s.id], 'allSockets: this server\'s');
  });

  it('a RemoteSocket: emit, timeout().emitWithAck, join, leave, disconnect', async () => {
    await clients();
    const [remote] = await io.in(b.s.id).fetchSockets();
    const hello = next(b.c, 'hello');
    remote.emit('hello', 1, { two: 2 });
    assert.deepEqual(await hello, [1, { two: 2 }]);

    b.c.on('question', (q, ack) => ack(`${q}?`));
    assert.equal(await remote.timeout(STEP_MS).emitWithAck('question', 'why'), 'why?');

    remote.join('x');
    const viaX = next(b.c, 'via-x');
    io.to('x').emit('via-x', 'in x');
    assert.deepEqual(await viaX, ['in x']);
    assert.ok(b.s.rooms.has('x'), 'joined on its own server');
    remote.leave('x');
    await until(() => io.in('x').fetchSockets(), (s) => s.length === 0, STEP_MS, 'the socket to leave x');
    assert.equal(b.s.rooms.has('x'), false);

    const gone = next(b.c, 'disconnect');
    remote.disconnect(true);
    assert.equal((await gone)[0], 'io server disconnect');
  });

  it('serverSideEmit with a callback and serverSideEmitWithAck reach the other server\'s listeners', async () => {
    other.on('add-one', (n, ack) => ack(n + 1));
    const viaCallback = await withTimeout(
      new Promise((resolve) => io.serverSideEmit('add-one', 41, (err, responses) => resolve({ err, responses }))),
      STEP_MS,
      'the serverSideEmit callback',
    );
    assert.deepEqual(viaCallback, { err: null, responses: [42] });
    assert.deepEqual(await io.serverSideEmitWithAck('add-one', 1), [2]);
    const seen = new Promise((resolve) => other.once('plain', (...args) => resolve(args)));
    io.serverSideEmit('plain', 'x', { y: [1] });
    assert.deepEqual(await withTimeout(seen, STEP_MS, '"plain" on the socket.io server'), ['x', { y: [1] }]);
  });

  it('io.on(event) on rtio: the other server\'s serverSideEmit, the last argument its answer', async () => {
    io.on('shout', (word, ack) => ack(`${word}!`));
    const seen = new Promise((resolve) => io.once('note', (...args) => resolve(args)));
    const responses = await other.serverSideEmitWithAck('shout', 'hey');
    assert.deepEqual(responses, ['hey!']);
    other.serverSideEmit('note', 7, Buffer.from([1, 2]));
    const [n, bin] = await withTimeout(seen, STEP_MS, '"note" on rtio');
    assert.equal(n, 7);
    // socket.io's Redis adapter sends server-side events as JSON: a Buffer arrives as its
    // toJSON(), on socket.io servers too
    assert.deepEqual(bin, { type: 'Buffer', data: [1, 2] });
  });

  it('a server-side event nobody answers: (err, responses) after requestsTimeout', async () => {
    const started = Date.now();
    const { err, responses } = await withTimeout(
      new Promise((resolve) => io.serverSideEmit('nobody-answers', (e, r) => resolve({ err: e, responses: r }))),
      STEP_MS,
      'the serverSideEmit callback',
    );
    assert.ok(err instanceof Error, 'an error');
    assert.deepEqual(responses, []);
    assert.ok(Date.now() - started >= 1500, 'not before the requests timeout (2 s)');
  });

  it('io.timeout(ms).emit(cb) and emitWithAck gather the acks of every server\'s clients', async () => {
    await clients();
    a.c.on('poll', (ack) => ack('from a'));
    b.c.on('poll', (ack) => ack('from b'));
    const viaCallback = await withTimeout(
      new Promise((resolve) => io.timeout(STEP_MS).emit('poll', (err, responses) => resolve({ err, responses }))),
      STEP_MS + 1000,
      'the broadcast ack callback',
    );
    assert.equal(viaCallback.err, null);
    assert.deepEqual(viaCallback.responses.sort(), ['from a', 'from b']);
    assert.deepEqual((await io.timeout(STEP_MS).emitWithAck('poll')).sort(), ['from a', 'from b']);
    assert.deepEqual(await io.local.timeout(STEP_MS).emitWithAck('poll'), ['from a'], 'local: this server\'s clients only');
  });

  it('a client that does not answer: the error after the timeout, with the answers that came', async () => {
    await clients();
    a.c.on('maybe', (ack) => ack('yes'));
    b.c.on('maybe', () => {}); // never answers
    const { err, responses } = await withTimeout(
      new Promise((resolve) => io.timeout(300).emit('maybe', (e, r) => resolve({ err: e, responses: r }))),
      STEP_MS,
      'the broadcast ack callback',
    );
    assert.ok(err instanceof Error);
    assert.match(err.message, /timed out/);
    assert.deepEqual(responses, ['yes']);
  });

  it('io.local.emit reaches this server\'s clients only; io.emit both', async () => {
    await clients();
    const got = [];
    b.c.on('only-here', () => got.push('b'));
    const onA = next(a.c, 'only-here');
    io.local.emit('only-here');
    await onA;
    const fence = next(b.c, 'fence');
    io.emit('fence'); // after only-here on the same connection: b would have it by now
    await fence;
    assert.deepEqual(got, []);
  });

  it('socketsJoin, socketsLeave and disconnectSockets apply on both servers', async () => {
    await clients();
    io.socketsJoin('everyone');
    await until(() => io.in('everyone').fetchSockets(), (s) => s.length === 2, STEP_MS, 'both sockets in "everyone"');
    assert.ok(b.s.rooms.has('everyone'));
    assert.ok(a.s.rooms.has('everyone'), 'socket.rooms asks the core, which the operation changed');
    io.in('r').socketsLeave('everyone');
    await until(() => io.in('everyone').fetchSockets(), (s) => s.length === 1, STEP_MS, 'the socket of "r" to leave');
    const gone = next(b.c, 'disconnect');
    const stays = next(a.c, 'stays');
    io.except(a.s.id).disconnectSockets();
    assert.equal((await gone)[0], 'io server disconnect');
    io.emit('stays');
    await stays;
    assert.equal(a.s.connected, true);
  });

  it('socket.data travels: a top-level key or the whole object, seen by the other server', async () => {
    await clients();
    a.s.data.user = 'alice';
    const seen = async () => {
      const sockets = await other.in(a.s.id).fetchSockets();
      return sockets.length === 1 ? sockets[0].data : undefined;
    };
    assert.deepEqual(await seen(), { user: 'alice' });
    a.s.data = { n: 1, list: [1, 2] };
    assert.deepEqual(await seen(), { n: 1, list: [1, 2] });
    delete a.s.data.n;
    assert.deepEqual(await seen(), { list: [1, 2] });
    a.s.data.list.push(3); // nested, in place: not seen until the next assignment
    assert.deepEqual(await seen(), { list: [1, 2] });
    a.s.data.list = a.s.data.list; // eslint-disable-line no-self-assign
    assert.deepEqual(await seen(), { list: [1, 2, 3] });
  });

  it('serverCount() counts both servers', async () => {
    assert.equal(await io.of('/').adapter.serverCount(), 2);
  });
});

describe('two rtio servers on the sharded adapter (Redis 7 SPUBLISH / SSUBSCRIBE)', () => {
  let redis;
  let one;
  let two;

  before(async () => {
    redis = await startRedis();
    const adapter = () => createShardedRedisAdapter({ url: redis.url, channelPrefix: 'rtio-sharded', subscriptionMode: 'dynamic' });
    one = new Server(0, { host: '127.0.0.1', adapter: adapter() });
    two = new Server(0, { host: '127.0.0.1' });
    two.adapter(adapter());
    for (const io of [one, two]) {
      await until(() => io.of('/').adapter.serverCount(), (n) => n === 2, STEP_MS, 'each server to count 2 servers');
    }
  });

  after(async () => {
    closeClients();
    await Promise.all([one, two].filter(Boolean).map((io) => io.close()));
    if (redis) {
      redis.child.kill('SIGKILL');
      fs.rmSync(redis.dir, { recursive: true, force: true });
    }
  });

  it('fetchSockets gives the other rtio server\'s socket as a RemoteSocket, with the data set there', async () => {
    two.on('connection', (socket) => {
      socket.data.role = 'admin';
      socket.join('staff');
    });
    const c = await connect(two.address().port, { auth: { token: 't' } });
    const s = await serverSocketOf(two.of('/'), c);
    const [remote] = await until(() => one.in('staff').fetchSockets(), (list) => list.length === 1, STEP_MS, 'the socket in "staff"');
    assert.ok(remote instanceof RemoteSocket);
    assert.equal(remote.id, s.id);
    assert.deepEqual(remote.data, { role: 'admin' });
    assert.deepEqual(remote.handshake.auth, { token: 't' });
    assert.deepEqual([...remote.rooms].sort(), [s.id, 'staff'].sort());
    c.on('q', (ack) => ack('a'));
    assert.equal(await remote.timeout(STEP_MS).emitWithAck('q'), 'a');
  });

  it('serverSideEmit with acks between the two', async () => {
    two.on('double', (n, ack) => ack(n * 2));
    assert.deepEqual(await one.serverSideEmitWithAck('double', 21), [42]);
  });
});
