'use strict';
// The Server: listening, options, namespaces and connection middlewares.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const rtio = require('rtio');
const { Server, Namespace, Socket, createRedisAdapter } = rtio;
const { client, connect, connected, closeClients, next, request, serverSocketOf, withTimeout, STEP_MS } = require('./helpers');

const servers = [];
function server(...args) {
  const io = new Server(...args);
  servers.push(io);
  return io;
}

afterEach(async () => {
  closeClients();
  await Promise.all(servers.splice(0).map((io) => io.close()));
});

async function get(port, path, headers = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

describe('listening', () => {
  it('new Server(port) listens right away', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const { port, address, family } = io.address();
    assert.ok(port > 0);
    assert.equal(address, '127.0.0.1');
    assert.equal(family, 'IPv4');
    const socket = await connect(port);
    assert.equal(socket.connected, true);
  });

  it('new Server(opts) waits for listen(port); listening twice throws', async () => {
    const io = server({ host: '127.0.0.1' });
    assert.equal(io.address(), null);
    assert.equal(io.listen(0), io);
    const socket = await connect(io.address().port);
    assert.equal(socket.connected, true);
    assert.throws(() => io.listen(0), /already listening/);
  });

  it('the module is callable like socket.io: require("rtio")(port)', async () => {
    const io = rtio(0, { host: '127.0.0.1' });
    servers.push(io);
    assert.ok(io instanceof Server);
    assert.ok(io.sockets instanceof Namespace);
    await connect(io.address().port);
  });

  it('attaches to an http.Server (see attach.test.js); listen() refuses what is neither a port nor a server', async () => {
    const httpServer = http.createServer();
    const io = new Server(httpServer);
    try {
      assert.equal(io.httpServer, httpServer);
      assert.throws(() => new Server().listen('nowhere'), (err) => err instanceof TypeError && /port number or an http\.Server/.test(err.message));
    } finally {
      await io.close();
    }
  });

  it('a port in use is an error thrown by listen', () => {
    const io = server(0, { host: '127.0.0.1' });
    assert.throws(() => new Server(io.address().port, { host: '127.0.0.1' }), /cannot listen/);
  });

  it('io.adapter() in the same tick as new Server(port): the fresh core restarts with it on the same port; later it throws', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const port = io.address().port;
    const adapter = createRedisAdapter('redis://127.0.0.1:1'); // unreachable: served locally, retried
    assert.equal(io.adapter(adapter), io);
    assert.equal(io.adapter(), adapter);
    assert.equal(io.address().port, port, 'the same port');
    await new Promise((resolve) => process.nextTick(resolve));
    assert.throws(() => io.adapter(createRedisAdapter('redis://127.0.0.1:2')), /must come before the server listens/);
    const socket = await connect(port);
    assert.equal(socket.connected, true, 'a server whose Redis is away serves its own clients');
  });

  it('the path option moves the endpoint', async () => {
    const io = server(0, { host: '127.0.0.1', path: '/custom-path' });
    assert.equal(io.path(), '/custom-path');
    const port = io.address().port;
    await connect(port, { path: '/custom-path' });
    const wrong = client(port, { path: '/socket.io' });
    const [err] = await next(wrong, 'connect_error');
    assert.ok(err instanceof Error);
  });

  it('serves the socket.io-client bundle, unless serveClient is false', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const res = await get(io.address().port, '/socket.io/socket.io.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /javascript/);
    assert.match(res.body.slice(0, 200), /Socket\.IO v4\.8\./);
    const off = server(0, { host: '127.0.0.1', serveClient: false });
    assert.equal((await get(off.address().port, '/socket.io/socket.io.js')).status, 404);
  });

  it('cors: off by default (as socket.io), an origin list is honoured', async () => {
    const handshake = '/socket.io/?EIO=4&transport=polling';
    const plain = server(0, { host: '127.0.0.1' });
    const res = await get(plain.address().port, handshake, { Origin: 'http://a.test' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('access-control-allow-origin'), null);

    const listed = server(0, { host: '127.0.0.1', cors: { origin: ['http://a.test'], credentials: true } });
    const ok = await get(listed.address().port, handshake, { Origin: 'http://a.test' });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://a.test');
    const other = await get(listed.address().port, handshake, { Origin: 'http://b.test' });
    assert.notEqual(other.headers.get('access-control-allow-origin'), 'http://b.test');

    const any = server(0, { host: '127.0.0.1', cors: { origin: '*' } });
    const echoed = await get(any.address().port, handshake, { Origin: 'http://c.test' });
    assert.equal(echoed.headers.get('access-control-allow-origin'), 'http://c.test');
    // (RegExp and function origins, credentials, preflights: options.test.js)
  });

  it('maxHttpBufferSize and pingInterval reach the handshake', async () => {
    const io = server(0, { host: '127.0.0.1', maxHttpBufferSize: 12345, pingInterval: 4321, pingTimeout: 1234 });
    const res = await get(io.address().port, '/socket.io/?EIO=4&transport=polling');
    const open = JSON.parse(res.body.slice(1));
    assert.equal(open.maxPayload, 12345);
    assert.equal(open.pingInterval, 4321);
    assert.equal(open.pingTimeout, 1234);
  });

  it('transports: ["websocket"] refuses polling', async () => {
    const io = server(0, { host: '127.0.0.1', transports: ['websocket'] });
    const res = await get(io.address().port, '/socket.io/?EIO=4&transport=polling');
    assert.equal(res.status, 400);
    await connect(io.address().port, { transports: ['websocket'] });
  });

  it('staticDir serves files for other paths', async () => {
    const io = server(0, { host: '127.0.0.1', staticDir: `${__dirname}/../../examples/web` });
    const res = await get(io.address().port, '/');
    assert.equal(res.status, 200);
    assert.match(res.body, /<html|<!doctype html/i);
  });

  it('close() resolves, calls its callback and ends every socket with "server shutting down"', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const reasons = [];
    io.on('connection', (socket) => socket.on('disconnect', (reason) => reasons.push(reason)));
    const c = await connect(io.address().port);
    await serverSocketOf(io.sockets, c);
    const clientSide = next(c, 'disconnect');
    let called = false;
    await withTimeout(io.close(() => (called = true)), STEP_MS, 'close()');
    assert.equal(called, true);
    assert.deepEqual(reasons, ['server shutting down']);
    const [reason] = await clientSide;
    assert.ok(['io server disconnect', 'transport close'].includes(reason), reason);
    assert.equal(io.address(), null);
    await io.close(); // twice is fine
  });

  it('listens again after close(); the earlier run does not disturb the new one', async () => {
    const io = server(0, { host: '127.0.0.1' });
    io.on('connection', (socket) => socket.on('whoami', (ack) => ack(socket.id)));
    const first = await connect(io.address().port);
    await serverSocketOf(io.sockets, first);
    const closed = io.close();
    io.listen(0); // before the first run has finished stopping
    const second = await connect(io.address().port);
    await closed;
    assert.deepEqual(await request(second, 'whoami'), [second.id]);
    assert.equal(io.sockets.sockets.size, 1);
    assert.ok(io.sockets.sockets.has(second.id));
  });
});

describe('namespaces and connection middlewares', () => {
  it('io.of() before and after listen; an unknown namespace gets "Invalid namespace"', async () => {
    const io = server({ host: '127.0.0.1' });
    const before = io.of('/before');
    io.listen(0);
    const after = io.of('after'); // the leading slash is added
    assert.equal(after.name, '/after');
    assert.equal(io.of('/after'), after);
    const port = io.address().port;
    const a = await connect(port, { nsp: '/before' });
    const b = await connect(port, { nsp: '/after' });
    assert.equal((await serverSocketOf(before, a)).nsp, before);
    assert.equal((await serverSocketOf(after, b)).nsp, after);
    const [err] = await next(client(port, { nsp: '/nowhere' }), 'connect_error');
    assert.equal(err.message, 'Invalid namespace');
  });

  it('io.of(RegExp): a matching namespace is created as a child with the parent\'s middlewares and listeners', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const created = [];
    io.on('new_namespace', (nsp) => created.push(nsp.name));
    const parent = io.of(/^\/room-\d+$/);
    assert.ok(parent instanceof Namespace);
    parent.use((socket, next) => {
      if (socket.handshake.auth.token === 'ok') return next();
      next(new Error('no token'));
    });
    const connections = [];
    parent.on('connection', (socket) => {
      connections.push(socket.nsp.name);
      socket.emit('hello', socket.nsp.name);
    });
    const port = io.address().port;
    const a = client(port, { nsp: '/room-1', auth: { token: 'ok' } });
    const [greeting] = await next(a, 'hello');
    assert.equal(greeting, '/room-1');
    const child = io.of('/room-1'); // the child is a namespace like any other
    assert.ok(parent.children.has(child));
    assert.deepEqual(created, ['/room-1']);
    // the child's middlewares came from the parent
    const [err] = await next(client(port, { nsp: '/room-1', auth: { token: 'bad' } }), 'connect_error');
    assert.equal(err.message, 'no token');
    // no match: socket.io's refusal
    const [invalid] = await next(client(port, { nsp: '/room-x' }), 'connect_error');
    assert.equal(invalid.message, 'Invalid namespace');
    // a second child; the parent's broadcast reaches every child
    const b = client(port, { nsp: '/room-2', auth: { token: 'ok' } });
    await next(b, 'hello');
    assert.deepEqual(connections, ['/room-1', '/room-2']);
    const both = [next(a, 'news'), next(b, 'news')];
    parent.emit('news', 42);
    assert.deepEqual(await Promise.all(both), [[42], [42]]);
    assert.equal((await parent.fetchSockets()).length, 2);
  });

  it('io.of(fn) decides with (name, auth, next), asynchronously; an error or false refuses', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const asked = [];
    const parent = io.of((name, auth, next) => {
      asked.push([name, auth]);
      setTimeout(() => next(null, auth.allow === true), 5);
    }, (socket) => socket.emit('welcome', socket.nsp.name));
    const port = io.address().port;
    const [welcome] = await next(client(port, { nsp: '/anything', auth: { allow: true } }), 'welcome');
    assert.equal(welcome, '/anything');
    assert.ok(parent.children.has(io.of('/anything')));
    const [err] = await next(client(port, { nsp: '/other', auth: { allow: false } }), 'connect_error');
    assert.equal(err.message, 'Invalid namespace');
    assert.deepEqual(asked, [['/anything', { allow: true }], ['/other', { allow: false }]]);
    // parents are asked in the order they were made: the first that matches creates it
    const second = io.of(/^\/first/);
    await next(client(port, { nsp: '/first-one', auth: { allow: true } }), 'welcome');
    assert.ok(parent.children.has(io.of('/first-one')));
    await connect(port, { nsp: '/first-two', auth: { allow: false } });
    assert.ok(second.children.has(io.of('/first-two')));
    assert.equal(second.children.size, 1);
  });

  it('cleanupEmptyChildNamespaces: a child goes with its last socket (the core removes it) and is made again', async () => {
    const io = server(0, { host: '127.0.0.1', cleanupEmptyChildNamespaces: true });
    const created = [];
    io.on('new_namespace', (nsp) => created.push(nsp.name));
    const parent = io.of(/^\/dyn-\d+$/, (socket) => socket.emit('hello', socket.nsp.name));
    const port = io.address().port;
    const a = client(port, { nsp: '/dyn-1' });
    assert.deepEqual(await next(a, 'hello'), ['/dyn-1']);
    const first = io._nsps.get('/dyn-1');
    assert.ok(parent.children.has(first));
    assert.ok(io._native.namespaces().includes('/dyn-1'), 'the core has the child');
    const [serverSocket] = [...first.sockets.values()];
    const left = next(serverSocket, 'disconnect');
    a.disconnect();
    await left;
    assert.equal(io._nsps.has('/dyn-1'), false, 'io._nsps lost the child');
    assert.equal(parent.children.size, 0, 'the parent lost the child');
    assert.equal(io._native.namespaces().includes('/dyn-1'), false, 'the core removed the child');
    assert.ok(io._native.namespaces().includes('/'), 'the main namespace stays');
    // joined again: a new child, made as the first was
    const b = client(port, { nsp: '/dyn-1' });
    assert.deepEqual(await next(b, 'hello'), ['/dyn-1']);
    const second = io._nsps.get('/dyn-1');
    assert.notEqual(second, first);
    assert.ok(parent.children.has(second));
    assert.deepEqual(created, ['/dyn-1', '/dyn-1']);
    assert.ok(io._native.namespaces().includes('/dyn-1'));
    // a child with two sockets stays until both left (hello: the server has the socket)
    const c = client(port, { nsp: '/dyn-1' });
    await next(c, 'hello');
    const [sb] = [...second.sockets.values()].filter((s) => s.id !== c.id);
    const leftB = next(sb, 'disconnect');
    b.disconnect();
    await leftB;
    assert.ok(io._nsps.has('/dyn-1') && parent.children.has(second));
    assert.ok(io._native.namespaces().includes('/dyn-1'));
  });

  it('without cleanupEmptyChildNamespaces a child stays when its last socket left', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const parent = io.of(/^\/dyn-\d+$/, (socket) => socket.emit('hello'));
    const port = io.address().port;
    const a = client(port, { nsp: '/dyn-2' });
    await next(a, 'hello'); // the server has the socket
    const child = io._nsps.get('/dyn-2');
    const [serverSocket] = [...child.sockets.values()];
    const left = next(serverSocket, 'disconnect');
    a.disconnect();
    await left;
    assert.ok(parent.children.has(child));
    assert.equal(io._nsps.get('/dyn-2'), child);
    assert.ok(io._native.namespaces().includes('/dyn-2'));
  });

  it('new_namespace fires on the main namespace', () => {
    const io = server();
    const seen = [];
    io.on('new_namespace', (nsp) => seen.push(nsp.name));
    io.of('/one');
    io.of('/one');
    assert.deepEqual(seen, ['/one']);
  });

  it('middlewares run in order; socket.data and rooms set there stay with the socket', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const nsp = io.of('/admin');
    const order = [];
    nsp.use((socket, next) => {
      order.push('first');
      assert.equal(socket.connected, false);
      socket.data.user = socket.handshake.auth.user;
      next();
    });
    nsp.use((socket, next) => {
      order.push('second');
      socket.join('admins');
      setTimeout(next, 10); // asynchronous middlewares are fine
    });
    const connection = next(nsp, 'connection');
    const c = await connect(io.address().port, { nsp: '/admin', auth: { user: 'ada' } });
    const [socket] = await connection;
    assert.deepEqual(order, ['first', 'second']);
    assert.equal(socket.id, c.id);
    assert.equal(socket.connected, true);
    assert.deepEqual(socket.data, { user: 'ada' });
    assert.deepEqual([...socket.rooms].sort(), [c.id, 'admins'].sort());
    assert.deepEqual([...nsp.adapter.rooms.get('admins')], [c.id]);
  });

  it('next(err) refuses with err.message and err.data; the socket never connects', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const nsp = io.of('/admin');
    let connections = 0;
    nsp.on('connection', () => connections++);
    nsp.use((socket, next) => {
      if (socket.handshake.auth.token === 'secret') return next();
      const err = new Error('unauthorized');
      err.data = { reason: 'bad token', retry: false };
      next(err);
    });
    const refused = client(io.address().port, { nsp: '/admin', auth: { token: 'nope' } });
    const [err] = await next(refused, 'connect_error');
    assert.equal(err.message, 'unauthorized');
    assert.deepEqual(err.data, { reason: 'bad token', retry: false });
    const accepted = await connect(io.address().port, { nsp: '/admin', auth: { token: 'secret' } });
    await serverSocketOf(nsp, accepted);
    assert.equal(connections, 1, 'only the accepted client reached "connection"');
  });

  it('a middleware that throws refuses the connection and is reported', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const reported = next(io, 'error');
    io.of('/boom').use(() => {
      throw new Error('middleware exploded');
    });
    const [err] = await next(client(io.address().port, { nsp: '/boom' }), 'connect_error');
    assert.equal(err.message, 'middleware exploded');
    const [reportedErr, where] = await reported;
    assert.equal(reportedErr.message, 'middleware exploded');
    assert.match(where, /middleware/);
  });

  it('a middleware added after listen applies to later connections (io.use too)', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const port = io.address().port;
    await connect(port);
    io.use((socket, next) => next(socket.handshake.auth.ok ? undefined : new Error('not ok')));
    const [err] = await next(client(port), 'connect_error');
    assert.equal(err.message, 'not ok');
    await connect(port, { auth: { ok: true } });
  });

  it('a namespace only gets its own broadcasts', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const port = io.address().port;
    io.of('/other');
    const main = await connect(port);
    const other = await connect(port, { nsp: '/other' });
    const got = [];
    other.onAny((event) => got.push(event));
    const toMain = next(main, 'to-main');
    const toOther = next(other, 'to-other');
    io.emit('to-main', 1);
    io.of('/other').emit('to-other', 2);
    assert.deepEqual(await toMain, [1]);
    assert.deepEqual(await toOther, [2]);
    assert.deepEqual(got, ['to-other']);
  });

  it('io.engine.clientsCount counts connections (one per client, whatever its namespaces, or none)', async () => {
    const io = server(0, { host: '127.0.0.1' });
    io.of('/side');
    assert.equal(io.engine.clientsCount, 0);
    const a = await connect(io.address().port);
    await serverSocketOf(io.sockets, a);
    const side = a.io.socket('/side'); // a second namespace over the same connection
    await next(side, 'connect');
    await serverSocketOf(io.of('/side'), side);
    const b = await connect(io.address().port);
    await serverSocketOf(io.sockets, b);
    assert.equal(io.engine.clientsCount, 2);
    // an Engine.IO connection in no namespace (a polling open, no CONNECT packet) counts too
    const open = await fetch(`http://127.0.0.1:${io.address().port}/socket.io/?EIO=4&transport=polling`);
    assert.match(await open.text(), /^0\{"sid"/);
    assert.equal(io.engine.clientsCount, 3);
    assert.equal(typeof io.engine.on, 'function');
  });

  it('exports the classes socket.io exports', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const connection = next(io, 'connection');
    await connect(io.address().port);
    const [socket] = await connection;
    assert.ok(socket instanceof Socket);
    assert.ok(io.of('/') instanceof Namespace);
    assert.equal(typeof rtio.BroadcastOperator, 'function');
    assert.equal(rtio.default, rtio);
  });

  it('a connection listener that throws is reported; the socket stays served', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const reported = next(io, 'error');
    io.on('connection', () => {
      throw new Error('listener exploded');
    });
    io.on('connection', (socket) => socket.on('whoami', (ack) => ack(socket.id)));
    const c = await connect(io.address().port);
    const [err, where] = await reported;
    assert.equal(err.message, 'listener exploded');
    assert.match(where, /connection/);
    assert.deepEqual(await request(c, 'whoami'), [c.id]);
  });
});

describe('connected', () => {
  it('the connected helper rejects on connect_error (a self-check of the tests)', async () => {
    const io = server(0, { host: '127.0.0.1' });
    io.use((socket, next) => next(new Error('no')));
    await assert.rejects(connected(client(io.address().port)), /connect_error: no/);
  });
});
