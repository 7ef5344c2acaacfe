'use strict';
// rtio attached to the app's own server (issue 17): an Express 4 app written like the
// tutorials, Koa, Fastify, a plain http.Server, an https.Server with a self-signed certificate
// (its wss close codes compared with socket.io 4.8's), an HTTP/2 server; the official
// socket.io-client over websocket-only, polling-only and upgrade, on the app's port, beside the
// app's own routes.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const https = require('node:https');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { once } = require('node:events');
const { io: connectClient } = require('socket.io-client');
const express = require('express');
const session = require('express-session');
const rtio = require('..');
const { Server } = rtio;
const { next, withTimeout, request } = require('./helpers');

const STEP_MS = 5000;
const clients = new Set();

function client(url, options) {
  const socket = connectClient(url, { forceNew: true, reconnection: false, timeout: STEP_MS, ...options });
  clients.add(socket);
  return socket;
}

function connected(socket) {
  if (socket.connected) return Promise.resolve(socket);
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    STEP_MS,
    'the client to connect',
  );
}

test.afterEach(() => {
  for (const socket of clients) socket.disconnect();
  clients.clear();
});

/** GET `url` on the app's server: `{ status, headers, body }`. */
function get(url, options = {}) {
  const mod = url.startsWith('https:') ? https : http;
  return withTimeout(
    new Promise((resolve, reject) => {
      mod
        .get(url, { agent: false, ...options }, (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        })
        .on('error', reject);
    }),
    STEP_MS,
    `GET ${url}`,
  );
}

async function listening(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

/** The tutorials' chat: a message goes to everyone, with an ack to the sender. */
function chat(io) {
  io.on('connection', (socket) => {
    socket.on('chat message', (msg, ack) => {
      io.emit('chat message', msg);
      if (typeof ack === 'function') ack({ ok: true, transport: socket.conn.transport.name });
    });
    socket.on('whoami', (ack) =>
      ack({
        address: socket.handshake.address,
        secure: socket.handshake.secure,
        agent: socket.request.headers['x-test'],
        sameRequest: socket.request === socket.request,
      }),
    );
  });
}

test('an Express 4 app as in the tutorials: its routes and Socket.IO on one port, every transport', async () => {
  const app = express();
  app.get('/', (req, res) => res.send('<h1>Hello world</h1>'));
  app.get('/api/ping', (req, res) => res.json({ pong: true }));
  const server = require('http').Server(app);
  const io = require('..')(server);
  chat(io);
  assert.equal(io.httpServer, server);
  const port = await listening(server);
  const base = `http://127.0.0.1:${port}`;
  try {
    // the app's routes answer beside Socket.IO
    const page = await get(`${base}/`);
    assert.equal(page.status, 200);
    assert.equal(page.body, '<h1>Hello world</h1>');
    assert.deepEqual(JSON.parse((await get(`${base}/api/ping`)).body), { pong: true });
    assert.equal((await get(`${base}/nowhere`)).status, 404); // Express's own 404
    // the client bundle, on the app's server
    const bundle = await get(`${base}/socket.io/socket.io.js`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers['content-type'], /javascript/);
    assert.match(bundle.body, /Socket\.IO v4/);

    const ws = await connected(client(base, { transports: ['websocket'], extraHeaders: { 'x-test': 'ws' } }));
    const polling = await connected(client(base, { transports: ['polling'], extraHeaders: { 'x-test': 'polling' } }));
    const upgrading = client(base, { extraHeaders: { 'x-test': 'upgrade' } });
    await connected(upgrading);
    if (upgrading.io.engine.transport.name !== 'websocket') {
      await withTimeout(once(upgrading.io.engine, 'upgrade'), STEP_MS, 'the upgrade to websocket');
    }
    assert.equal(upgrading.io.engine.transport.name, 'websocket');
    assert.equal(ws.io.engine.transport.name, 'websocket');
    assert.equal(polling.io.engine.transport.name, 'polling');

    // emit + ack + broadcast: every client gets the message, whatever its transport
    const got = [ws, polling, upgrading].map((c) => next(c, 'chat message'));
    const [answer] = await request(polling, 'chat message', 'hello from polling');
    assert.deepEqual(answer, { ok: true, transport: 'polling' });
    for (const [msg] of await Promise.all(got)) assert.equal(msg, 'hello from polling');
    const [wsAnswer] = await request(ws, 'chat message', 'x');
    assert.equal(wsAnswer.transport, 'websocket');

    // socket.request is the app's request: its headers, the client's address
    for (const [c, tag] of [
      [ws, 'ws'],
      [polling, 'polling'],
      [upgrading, 'upgrade'],
    ]) {
      const [me] = await request(c, 'whoami');
      assert.equal(me.agent, tag);
      assert.match(me.address, /127\.0\.0\.1$/);
      assert.equal(me.secure, false);
      assert.equal(me.sameRequest, true);
    }
    assert.equal(io.engine.clientsCount, 3);
  } finally {
    await io.close();
  }
  assert.equal(server.listening, false, 'io.close() closes the app server, as socket.io');
});

test('new Server(httpServer): other upgrades and requests stay the app\'s; serveClient: false', async () => {
  const server = http.createServer((req, res) => res.end(`app ${req.url}`));
  const io = new Server(server, { serveClient: false, path: '/rt' });
  server.on('upgrade', (req, socket) => {
    if (req.url.startsWith('/other')) socket.end('HTTP/1.1 418 I\'m a teapot\r\ncontent-length: 0\r\n\r\n');
  });
  io.on('connection', (socket) => socket.on('echo', (v, ack) => ack(v)));
  const port = await listening(server);
  const base = `http://127.0.0.1:${port}`;
  try {
    assert.equal((await get(`${base}/hello`)).body, 'app /hello');
    // no bundle: the request goes to the engine, which refuses it as a bad Engine.IO request
    assert.notEqual((await get(`${base}/rt/socket.io.js`)).status, 200);
    // an upgrade to another path reaches the app's listener
    const answered = await withTimeout(
      new Promise((resolve, reject) => {
        http
          .get({ port, host: '127.0.0.1', path: '/other', headers: { connection: 'upgrade', upgrade: 'websocket' } })
          .on('response', (res) => resolve(res.statusCode))
          .on('error', reject);
      }),
      STEP_MS,
      'the app to answer its upgrade',
    );
    assert.equal(answered, 418);
    for (const transports of [['websocket'], ['polling']]) {
      const c = await connected(client(base, { path: '/rt', transports }));
      const [v] = await request(c, 'echo', { n: 1, b: Buffer.from([1, 2, 3]) });
      assert.equal(v.n, 1);
      assert.deepEqual([...v.b], [1, 2, 3]);
    }
  } finally {
    await io.close();
  }
});

test('io.attach / io.listen(httpServer), and io.engine.use with express-session: socket.request.session', async () => {
  const app = express();
  const sessions = session({ secret: 'test', resave: false, saveUninitialized: true });
  app.use(sessions);
  app.get('/login', (req, res) => {
    req.session.user = 'ada';
    res.send('ok');
  });
  const server = http.createServer(app);
  const io = new Server();
  io.engine.use(sessions);
  const headersSeen = [];
  io.engine.on('initial_headers', (headers) => {
    headers['x-rtio'] = 'initial';
  });
  io.engine.on('headers', (headers, req) => headersSeen.push(req.url));
  io.attach(server);
  io.on('connection', (socket) => socket.on('me', (ack) => ack(socket.request.session && socket.request.session.user)));
  const port = await listening(server);
  const base = `http://127.0.0.1:${port}`;
  try {
    const login = await get(`${base}/login`);
    const cookie = login.headers['set-cookie'][0].split(';')[0];
    const handshake = await get(`${base}/socket.io/?EIO=4&transport=polling`, { headers: { cookie } });
    assert.equal(handshake.status, 200);
    assert.equal(handshake.headers['x-rtio'], 'initial');
    assert.match(handshake.body, /^0\{"sid"/);
    assert.ok(headersSeen.length >= 1);
    for (const transports of [['polling'], ['websocket']]) {
      const c = await connected(client(base, { transports, extraHeaders: { cookie } }));
      const [user] = await request(c, 'me');
      assert.equal(user, 'ada', `the session over ${transports}`);
    }
  } finally {
    await io.close();
  }
  // io.listen(httpServer) is the same
  const other = http.createServer();
  const io2 = new Server().listen(other);
  assert.equal(io2.httpServer, other);
  await io2.close();
  // a standalone server runs no engine middleware: said at once
  const standalone = new Server(0);
  try {
    assert.throws(() => standalone.engine.use(() => {}), /attached/);
  } finally {
    await standalone.close();
  }
});

/** A self-signed certificate for 127.0.0.1, made now (openssl from Debian). */
function selfSigned() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  const pair = { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
  fs.rmSync(dir, { recursive: true, force: true });
  return pair;
}

test('an https.Server with a self-signed certificate: polling, websocket and upgrade on the app\'s TLS, secure handshakes', async (t) => {
  let tls;
  try {
    tls = selfSigned();
  } catch (err) {
    return t.skip(`openssl is missing: ${err.message}`);
  }
  const server = https.createServer(tls, (req, res) => res.end('secure app'));
  const io = require('..')(server);
  chat(io);
  const upgradeHeaders = [];
  io.engine.on('headers', (headers, req) => {
    if (req.headers.upgrade) upgradeHeaders.push(req.url);
  });
  const port = await listening(server);
  const base = `https://127.0.0.1:${port}`;
  const ca = tls.cert;
  try {
    assert.equal((await get(`${base}/`, { ca })).body, 'secure app');
    const polling = await connected(client(base, { transports: ['polling'], ca, extraHeaders: { 'x-test': 'tls' } }));
    const [me] = await request(polling, 'whoami');
    assert.deepEqual({ secure: me.secure, agent: me.agent }, { secure: true, agent: 'tls' });
    const got = next(polling, 'chat message');
    await request(polling, 'chat message', 'over tls');
    assert.deepEqual(await got, ['over tls']);
    // WebSocket over the app's TLS: Node frames it (ws), rtio's core does the rest
    const ws = await connected(client(base, { ca, transports: ['websocket'], extraHeaders: { 'x-test': 'wss' } }));
    const [wsMe] = await request(ws, 'whoami');
    assert.deepEqual({ secure: wsMe.secure, agent: wsMe.agent }, { secure: true, agent: 'wss' });
    const [wsAnswer] = await request(ws, 'chat message', { bin: Buffer.from([7, 8]) });
    assert.equal(wsAnswer.transport, 'websocket');
    assert.ok(upgradeHeaders.length >= 1, 'engine "headers" fires for a WebSocket Node frames');
    // the default transports upgrade to it
    const upgrading = await connected(client(base, { ca }));
    if (upgrading.io.engine.transport.name !== 'websocket') {
      await withTimeout(once(upgrading.io.engine, 'upgrade'), STEP_MS, 'the upgrade to websocket over TLS');
    }
    const both = [polling, ws, upgrading].map((c) => next(c, 'chat message'));
    await request(upgrading, 'chat message', 'to all');
    for (const [msg] of await Promise.all(both)) assert.equal(msg, 'to all');
  } finally {
    await io.close();
  }
});

/**
 * `new Server(httpServer, opts)` of rtio, and of the reference socket.io 4.8 from tests/interop
 * when its dependencies are installed, by name.
 */
function implementations(t) {
  const socketIoDir = path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node_modules', 'socket.io');
  const all = { rtio: (srv, opts) => new Server(srv, opts) };
  if (fs.existsSync(path.join(socketIoDir, 'package.json'))) {
    all['socket.io'] = (srv, opts) => new (require(socketIoDir).Server)(srv, opts);
  } else t.diagnostic('tests/interop dependencies not installed: rtio only');
  return all;
}

/**
 * Over wss to `port`: opens a raw WebSocket to the Engine.IO path, connects to `/`, sends an
 * `echo` event whose Engine.IO message is `size` bytes long; resolves to `{ echoed }` (the
 * length the server saw) or `{ closed }` (the close code the client got).
 */
async function wssMessage(port, ca, size) {
  const WebSocket = require('ws');
  const ws = new WebSocket(`wss://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`, { ca });
  try {
    const messages = [];
    let wake = () => {};
    ws.on('message', (data) => {
      messages.push(data.toString());
      wake();
    });
    const closed = new Promise((resolve) => ws.once('close', (code) => resolve({ closed: code })));
    ws.on('error', () => {});
    /** The next message starting with `prefix` (or the close, whichever comes first). */
    const take = (prefix) =>
      withTimeout(
        Promise.race([
          closed,
          new Promise((resolve) => {
            const look = () => {
              const i = messages.findIndex((m) => m.startsWith(prefix));
              if (i >= 0) resolve(messages.splice(i, 1)[0]);
            };
            wake = look;
            look();
          }),
        ]),
        STEP_MS,
        `a "${prefix}" message over wss`,
      );
    assert.match(await take('0{'), /^0\{"sid"/);
    ws.send('40');
    assert.match(await take('40'), /^40\{"sid"/);
    const head = '42["echo","';
    ws.send(`${head}${'x'.repeat(size - head.length - 2)}"]`);
    const answer = await take('42["echo",');
    if (typeof answer === 'object') return answer;
    return { echoed: JSON.parse(answer.slice(2))[1] };
  } finally {
    ws.terminate();
  }
}

test('over wss, a message over maxHttpBufferSize closes the WebSocket with 1009, one at the limit passes, as socket.io 4.8', async (t) => {
  let tls;
  try {
    tls = selfSigned();
  } catch (err) {
    return t.skip(`openssl is missing: ${err.message}`);
  }
  const limit = 2000;
  for (const [name, make] of Object.entries(implementations(t))) {
    const server = https.createServer(tls, (req, res) => res.end('app'));
    const io = make(server, { maxHttpBufferSize: limit });
    io.on('connection', (socket) => socket.on('echo', (text) => socket.emit('echo', text.length)));
    const port = await listening(server);
    try {
      const head = '42["echo","'.length + 2;
      assert.deepEqual(await wssMessage(port, tls.cert, limit), { echoed: limit - head }, `${name}: a message of maxHttpBufferSize bytes`);
      assert.deepEqual(await wssMessage(port, tls.cert, limit + 1), { closed: 1009 }, `${name}: one byte more`);
      assert.deepEqual(await wssMessage(port, tls.cert, limit * 4), { closed: 1009 }, `${name}: far more`);
    } finally {
      await new Promise((resolve) => io.close(resolve));
    }
  }
});

test('an http2.createSecureServer({ allowHTTP1: true }): polling over HTTP/2 itself, HTTP/1.1 clients on every transport', async (t) => {
  let tls;
  try {
    tls = selfSigned();
  } catch (err) {
    return t.skip(`openssl is missing: ${err.message}`);
  }
  const http2 = require('node:http2');
  const server = http2.createSecureServer({ allowHTTP1: true, ...tls }, (req, res) => res.end(`h2 app ${req.httpVersion}`));
  const io = new Server(server);
  chat(io);
  const port = await listening(server);
  const base = `https://127.0.0.1:${port}`;
  const session = http2.connect(base, { ca: tls.cert });
  session.on('error', () => {});
  /** One request over the HTTP/2 session: `{ status, body }`. */
  const h2 = (path, { method = 'GET', body } = {}) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const stream = session.request({ ':path': path, ':method': method });
        let status;
        let text = '';
        stream.setEncoding('utf8');
        stream.on('response', (headers) => (status = headers[':status']));
        stream.on('data', (chunk) => (text += chunk));
        stream.on('end', () => resolve({ status, body: text }));
        stream.on('error', reject);
        stream.end(body);
      }),
      STEP_MS,
      `${method} ${path} over HTTP/2`,
    );
  try {
    assert.deepEqual(await h2('/'), { status: 200, body: 'h2 app 2.0' });
    const connection = new Promise((resolve) => io.once('connection', resolve));
    const open = await h2('/socket.io/?EIO=4&transport=polling');
    assert.equal(open.status, 200);
    const { sid } = JSON.parse(open.body.slice(1));
    const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    assert.deepEqual(await h2(path, { method: 'POST', body: '40' }), { status: 200, body: 'ok' });
    assert.match((await h2(path)).body, /^40\{"sid":/);
    const socket = await withTimeout(connection, STEP_MS, 'the connection over HTTP/2');
    assert.equal(socket.handshake.secure, true);
    // HTTP/1.1 clients of the same server: polling, and WebSocket (Node frames it over TLS)
    for (const transports of [['polling'], ['websocket']]) {
      const c = await connected(client(base, { ca: tls.cert, transports }));
      const [answer] = await request(c, 'chat message', `over ${transports[0]}`);
      assert.equal(answer.transport, transports[0]);
    }
  } finally {
    session.close();
    await io.close();
  }
});

test('io.engine "connection_error" for the requests the core refuses, as socket.io 4.8 (polling, and wss upgrades)', async (t) => {
  let tls = null;
  try {
    tls = selfSigned();
  } catch (err) {
    t.diagnostic(`openssl is missing (${err.message}): no wss upgrade`);
  }
  const expected = [
    ['?EIO=4&transport=foo', {}, 400, { code: 0, message: 'Transport unknown', context: { transport: 'foo' } }],
    ['?EIO=4&transport=polling&sid=nope', {}, 400, { code: 1, message: 'Session ID unknown', context: { sid: 'nope' } }],
    ['?EIO=4&transport=polling', { method: 'PUT' }, 400, { code: 2, message: 'Bad handshake method', context: { method: 'PUT' } }],
    ['?EIO=3&transport=polling', {}, 400, { code: 5, message: 'Unsupported protocol version', context: { protocol: 3 } }],
    ['?EIO=4&transport=polling', { headers: { 'x-deny': '1' } }, 403, { code: 4, message: 'Forbidden', context: { message: 'go away' } }],
  ];
  for (const [name, make] of Object.entries(implementations(t))) {
    const server = tls ? https.createServer(tls, (req, res) => res.end('app')) : http.createServer((req, res) => res.end('app'));
    const io = make(server, { allowRequest: (req, cb) => cb(req.headers['x-deny'] ? 'go away' : null, !req.headers['x-deny']) });
    const errors = [];
    io.engine.on('connection_error', ({ req, code, message, context }) => errors.push({ url: req.url, code, message, context }));
    const port = await listening(server);
    const base = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/socket.io/`;
    try {
      for (const [query, options, status, error] of expected) {
        const method = options.method || 'GET';
        const answer = await withTimeout(
          new Promise((resolve, reject) => {
            const r = (tls ? https : http).request(`${base}${query}`, { method, headers: options.headers, ca: tls && tls.cert, agent: false }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            });
            r.on('error', reject);
            r.end();
          }),
          STEP_MS,
          `${name}: ${method} ${query}`,
        );
        assert.equal(answer, status, `${name}: ${method} ${query}`);
        assert.deepEqual(errors.shift(), { url: `/socket.io/${query}`, ...error }, `${name}: ${method} ${query}`);
      }
      if (tls) {
        // a WebSocket upgrade the core refuses (Node frames wss, so it sees the refusal)
        const WebSocket = require('ws');
        const ws = new WebSocket(`wss://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket&sid=nope`, { ca: tls.cert });
        ws.on('error', () => {});
        const status = await withTimeout(
          new Promise((resolve) => {
            ws.once('unexpected-response', (req, res) => resolve(res.statusCode));
            ws.once('open', () => resolve(101));
          }),
          STEP_MS,
          `${name}: the refused upgrade`,
        );
        ws.terminate();
        assert.equal(status, 400, name);
        assert.deepEqual(
          errors.shift(),
          { url: '/socket.io/?EIO=4&transport=websocket&sid=nope', code: 1, message: 'Session ID unknown', context: { sid: 'nope' } },
          name,
        );
      }
      assert.deepEqual(errors, [], name);
    } finally {
      await new Promise((resolve) => io.close(resolve));
    }
  }
});

test('bad input to the native intake is a clear error, never a crash; a middleware error refuses the request', async () => {
  const server = http.createServer();
  const io = new Server(server);
  const errors = [];
  io.engine.on('connection_error', (err) => errors.push(err));
  io.engine.use((req, res, next) => next(req.headers['x-deny'] ? new Error('denied') : undefined));
  const port = await listening(server);
  try {
    const native = io._native;
    const url = '/socket.io/?EIO=4&transport=polling';
    const none = Buffer.alloc(0);
    assert.throws(() => native.handleRequest('GET', url, ['host'], none, '127.0.0.1', 1, false), /name, value pairs/);
    assert.throws(() => native.handleRequest('GET', url, [], none, 'not-an-ip', 1, false), /not an IP address/);
    assert.throws(() => native.handleRequest('GET', url, [], none, '127.0.0.1', 70000, false), /out of range/);
    assert.throws(() => native.handleRequest('GET', url, [], none, '127.0.0.1', 1, 'yes'), /bool/);
    assert.throws(() => native.adoptWebSocket(-1, 'GET', url, [], none, '127.0.0.1', 1, false), /not a file descriptor/);
    const fd = fs.openSync(__filename, 'r');
    try {
      assert.throws(() => native.adoptWebSocket(fd, 'GET', url, [], none, '127.0.0.1', 1, false), /not a connected TCP socket/);
    } finally {
      fs.closeSync(fd);
    }
    // a hand-made request through the app's server still works after all that
    const ok = await get(`http://127.0.0.1:${port}${url}`);
    assert.equal(ok.status, 200);
    const refused = await get(`http://127.0.0.1:${port}${url}`, { headers: { 'x-deny': '1' } });
    assert.equal(refused.status, 400);
    assert.deepEqual(JSON.parse(refused.body), { code: 3, message: 'Bad request' });
    assert.equal(errors.length, 1);
    assert.equal(errors[0].context.message, 'denied');
  } finally {
    await io.close();
  }
});

/** Checks a server the framework made: its route, then Socket.IO over each transport on its port. */
async function checkFramework(base, route, body, io) {
  const page = await get(`${base}${route}`);
  assert.equal(page.status, 200);
  assert.equal(page.body, body);
  const clientsOf = [['websocket'], ['polling'], undefined].map((transports) => client(base, transports ? { transports } : {}));
  await Promise.all(clientsOf.map(connected));
  const got = clientsOf.map((c) => next(c, 'chat message'));
  const [answer] = await request(clientsOf[0], 'chat message', 'hi');
  assert.equal(answer.ok, true);
  for (const [msg] of await Promise.all(got)) assert.equal(msg, 'hi');
  assert.equal(io.engine.clientsCount, 3);
}

test('Koa: http.createServer(app.callback()) with rtio attached', async () => {
  const Koa = require('koa');
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = `koa ${ctx.path}`;
  });
  const server = http.createServer(app.callback());
  const io = new Server(server);
  chat(io);
  const port = await listening(server);
  try {
    await checkFramework(`http://127.0.0.1:${port}`, '/hello', 'koa /hello', io);
  } finally {
    await io.close();
  }
});

test('Fastify: new Server(fastify.server) beside its routes', async () => {
  const fastify = require('fastify')();
  fastify.get('/hello', async () => 'fastify hello');
  const io = new Server(fastify.server);
  chat(io);
  await fastify.listen({ port: 0, host: '127.0.0.1' });
  try {
    await checkFramework(`http://127.0.0.1:${fastify.server.address().port}`, '/hello', 'fastify hello', io);
  } finally {
    await io.close();
    await fastify.close();
  }
});

test('a long-poll whose client goes away closes its session at once ("transport error"), as socket.io 4.8', async (t) => {
  for (const [name, make] of Object.entries(implementations(t))) {
    const server = http.createServer((req, res) => res.end('app'));
    const io = make(server);
    const gone = new Promise((resolve) => io.on('connection', (socket) => socket.on('disconnect', resolve)));
    const port = await listening(server);
    const base = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
    try {
      const open = await get(base);
      const sid = JSON.parse(open.body.slice(1)).sid;
      const path = `/socket.io/?EIO=4&transport=polling&sid=${sid}`;
      const post = (body) =>
        withTimeout(
          new Promise((resolve, reject) => {
            const r = http.request({ port, host: '127.0.0.1', path, method: 'POST', agent: false }, (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode));
            });
            r.on('error', reject);
            r.end(body);
          }),
          STEP_MS,
          'the POST',
        );
      assert.equal(await post('40'), 200);
      assert.match((await get(`http://127.0.0.1:${port}${path}`)).body, /^40\{"sid":/);
      // a GET that waits, then its client goes
      const waiting = http.get({ port, host: '127.0.0.1', path, agent: false });
      waiting.on('error', () => {});
      await new Promise((resolve) => waiting.once('socket', (s) => s.once('connect', resolve)));
      waiting.destroy();
      assert.equal(await withTimeout(gone, STEP_MS, `${name}: the disconnect`), 'transport error', name);
      assert.equal((await get(`http://127.0.0.1:${port}${path}`)).status, 400, name);
    } finally {
      await new Promise((resolve) => io.close(resolve));
    }
  }
});
