'use strict';
// socket.io 4.8's server options on rtio: every option works as in socket.io or is refused
// when the Server is made; `cors` decides as the `cors` package does (checked against the
// real socket.io of tests/interop, request by request); `allowRequest` gates handshakes.
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { once } = require('node:events');
const WebSocket = require('ws');
const { Server } = require('rtio');
const { client, connect, closeClients, next, serverSocketOf, withTimeout, STEP_MS } = require('./helpers');

const interopModules = path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node_modules');
const haveSocketIo = fs.existsSync(path.join(interopModules, 'socket.io', 'package.json'));

const servers = [];
function server(...args) {
  const io = new Server(...args);
  servers.push(io);
  return io;
}
const closers = [];

afterEach(async () => {
  closeClients();
  await Promise.all(servers.splice(0).map((io) => io.close()));
  await Promise.all(closers.splice(0).map((close) => close()));
});

const HANDSHAKE = '/socket.io/?EIO=4&transport=polling';

async function fetchRaw(port, url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers, body });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Resolves once a socket.io-client's connection has upgraded to WebSocket. */
function upgraded(c) {
  if (c.io.engine.transport.name === 'websocket') return Promise.resolve();
  return withTimeout(new Promise((resolve) => c.io.engine.once('upgrade', resolve)), STEP_MS, 'the client upgrade');
}

// ---------------------------------------------------------------------------------------------
// Options: each works or is refused at construction
// ---------------------------------------------------------------------------------------------

describe('options', () => {
  /** [option, value, what new Server does: "ok" or a RegExp its error matches] */
  const table = [
    ['path', '/io', 'ok'],
    ['serveClient', false, 'ok'],
    ['connectTimeout', 1000, 'ok'],
    ['pingInterval', 1000, 'ok'],
    ['pingTimeout', 1000, 'ok'],
    ['upgradeTimeout', 1000, 'ok'],
    ['maxHttpBufferSize', 1000, 'ok'],
    ['transports', ['websocket'], 'ok'],
    ['transports', ['polling', 'webtransport'], /"transports".*WebTransport/],
    ['transports', ['carrier-pigeon'], /"transports".*unknown transport/],
    ['allowRequest', (req, cb) => cb(null, true), 'ok'],
    ['allowRequest', 'yes', /"allowRequest" must be a function/],
    ['cors', { origin: /a\.test$/, credentials: true }, 'ok'],
    ['cors', (req, cb) => cb(null, {}), /"cors".*options function/],
    ['cors', { origin: '*', maxAge: 600 }, /"cors\.maxAge"/],
    ['cors', { exposedHeaders: ['x-a'] }, /"cors\.exposedHeaders"/],
    ['cors', { preflightContinue: true }, /"cors\.preflightContinue"/],
    ['cors', { optionsSuccessStatus: 200 }, /"cors\.optionsSuccessStatus"/],
    ['cors', { origin: '*', orign: 'typo' }, /"cors\.orign"/],
    ['adapter', class MyAdapter {}, /"adapter".*createRedisAdapter/],
    ['parser', { Encoder: class {}, Decoder: class {} }, /"parser".*socket\.io-parser.*socket\.io-msgpack-parser.*custom parser is not supported/],
    ['parser', { protocol: 5, Encoder: class {}, Decoder: class {} }, /"parser".*custom parser is not supported/],
    ['parser', 'msgpack', 'ok'],
    ['parser', require('rtio').msgpackParser, 'ok'],
    ['parser', 'json', /"parser"/],
    ['connectionStateRecovery', { maxDisconnectionDuration: 1000 }, 'ok'],
    ['connectionStateRecovery', { maxDisconnectionDuration: 1000, skipMiddlewares: false }, 'ok'],
    ['connectionStateRecovery', { maxDisconnectionDuration: -1 }, /"connectionStateRecovery\.maxDisconnectionDuration"/],
    ['connectionStateRecovery', { maxDisconectionDuration: 1000 }, /"connectionStateRecovery\.maxDisconectionDuration"/],
    ['connectionStateRecovery', false, 'ok'],
    ['cleanupEmptyChildNamespaces', true, 'ok'],
    ['cleanupEmptyChildNamespaces', false, 'ok'],
    ['cleanupEmptyChildNamespaces', 'yes', /"cleanupEmptyChildNamespaces" must be a boolean/],
    ['allowUpgrades', false, 'ok'],
    ['allowUpgrades', true, 'ok'],
    ['allowUpgrades', 'no', /"allowUpgrades"/],
    ['perMessageDeflate', true, 'ok'],
    ['perMessageDeflate', { threshold: 0 }, 'ok'],
    ['perMessageDeflate', {}, 'ok'],
    ['perMessageDeflate', false, 'ok'],
    ['perMessageDeflate', { threshold: -1 }, /"perMessageDeflate\.threshold"/],
    ['perMessageDeflate', { threshold: '1k' }, /"perMessageDeflate\.threshold"/],
    ['perMessageDeflate', { threshold: 0, serverMaxWindowBits: 10 }, /"perMessageDeflate\.serverMaxWindowBits".*negotiates permessage-deflate itself/],
    ['perMessageDeflate', { zlibDeflateOptions: { level: 9 } }, /"perMessageDeflate\.zlibDeflateOptions"/],
    ['perMessageDeflate', 'yes', /"perMessageDeflate" must be a boolean or an object/],
    ['httpCompression', true, 'ok'],
    ['httpCompression', { threshold: 2048 }, 'ok'],
    ['httpCompression', { threshold: 1024, level: 9 }, /"httpCompression\.level"/],
    ['httpCompression', { threshold: -1 }, /"httpCompression\.threshold"/],
    ['httpCompression', false, 'ok'],
    ['wsEngine', class {}, /"wsEngine"/],
    ['initialPacket', 'hello', /"initialPacket"/],
    ['cookie', true, 'ok'],
    ['cookie', { name: 'io' }, 'ok'],
    ['cookie', { name: 'sticky', path: false, httpOnly: false, sameSite: 'strict' }, 'ok'],
    ['cookie', false, 'ok'],
    ['cookie', 'io', /"cookie" must be a boolean or an object/],
    ['cookie', { name: 'a b' }, /"cookie\.name" must be a cookie name/],
    ['cookie', { name: 'io=1' }, /"cookie\.name"/],
    ['cookie', { path: '/a;b' }, /"cookie\.path"/],
    ['cookie', { sameSite: 'sometimes' }, /"cookie\.sameSite"/],
    ['cookie', { sameSite: 'true' }, /"cookie\.sameSite"/],
    ['cookie', { secure: true }, /"cookie\.secure"/],
    ['cookie', { maxAge: 60 }, /"cookie\.maxAge"/],
    ['cookie', { domain: 'a.test' }, /"cookie\.domain"/],
    ['allowEIO3', true, 'ok'],
    ['allowEIO3', false, 'ok'],
    ['allowEIO3', 'yes', /"allowEIO3" must be a boolean/],
    ['destroyUpgrade', false, /"destroyUpgrade"/],
    ['destroyUpgrade', true, 'ok'],
    ['destroyUpgradeTimeout', 1000, /"destroyUpgradeTimeout"/],
    ['addTrailingSlash', false, 'ok'],
    ['host', '127.0.0.1', 'ok'],
    ['staticDir', __dirname, 'ok'],
    ['clientBundle', __filename, 'ok'],
    ['workerThreads', 1, 'ok'],
    ['eventQueue', 64, 'ok'],
    ['tls', { certFile: 'cert.pem', keyFile: 'key.pem' }, 'ok'],
    ['tls', { certFile: 'cert.pem' }, /"tls\.keyFile" must be the path of a PEM file/],
    ['tls', { cert: 'PEM', key: 'PEM' }, /unknown option "tls\.cert".*https\.Server/],
    ['tls', 'cert.pem', /"tls" must be an object/],
    ['pingIntervall', 1000, /unknown option "pingIntervall"/],
  ];
  for (const [option, value, expected] of table) {
    const shown = typeof value === 'function' ? 'a function' : JSON.stringify(value) || String(value);
    it(`${option}: ${shown} -> ${expected === 'ok' ? 'accepted' : 'refused'}`, () => {
      const opts = { [option]: value };
      if (expected === 'ok') {
        assert.doesNotThrow(() => new Server(opts)); // not listening: nothing to close
      } else {
        assert.throws(() => new Server(opts), expected);
        // the same when given to listen() (nothing starts)
        const io = new Server();
        assert.throws(() => io.listen(0, opts), expected);
        assert.equal(io.address(), null);
      }
    });
  }

  it('adapter and parser are accepted when they are socket.io\'s defaults', { skip: !haveSocketIo }, () => {
    const cwd = process.cwd();
    process.chdir(path.dirname(interopModules)); // where the app's socket.io-adapter is
    try {
      const { Adapter } = require(path.join(interopModules, 'socket.io-adapter'));
      const parser = require(path.join(interopModules, 'socket.io-parser'));
      assert.doesNotThrow(() => new Server({ adapter: Adapter, parser }));
      assert.throws(() => new Server({ adapter: class extends Adapter {} }), /"adapter"/);
    } finally {
      process.chdir(cwd);
    }
  });

  it('a refused option is refused by new Server(port, opts) before anything listens', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const port = io.address().port;
    await io.close();
    assert.throws(() => new Server(port, { host: '127.0.0.1', perMessageDeflate: { level: 9 } }), /perMessageDeflate/);
    const again = server(port, { host: '127.0.0.1' }); // the port was not taken
    assert.equal(again.address().port, port);
  });

  it('addTrailingSlash: false clients (no slash after the path) are served', async () => {
    const io = server(0, { host: '127.0.0.1', addTrailingSlash: false });
    const res = await fetchRaw(io.address().port, '/socket.io?EIO=4&transport=polling');
    assert.equal(res.status, 200);
    assert.match(res.body, /^0\{"sid"/);
    await connect(io.address().port, { addTrailingSlash: false });
  });
});

// ---------------------------------------------------------------------------------------------
// cors: the same decisions as socket.io (engine.io + the cors package)
// ---------------------------------------------------------------------------------------------

/** Whether a browser lets a page of `origin` read a response with these headers (Fetch's CORS check). */
function corsCheck(origin, headers, credentialed) {
  const allowOrigin = headers.get('access-control-allow-origin');
  if (allowOrigin === null) return false;
  if (!credentialed && allowOrigin === '*') return true;
  if (allowOrigin !== origin) return false;
  return !credentialed || headers.get('access-control-allow-credentials') === 'true';
}

/** Whether a browser's preflight for `method` with `asked` headers succeeds (Fetch's rules). */
function preflightPasses(origin, res, method, asked, credentialed) {
  if (res.status < 200 || res.status > 299 || !corsCheck(origin, res.headers, credentialed)) return false;
  const list = (name) =>
    (res.headers.get(name) || '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const methods = list('access-control-allow-methods');
  const headers = list('access-control-allow-headers').map((h) => h.toLowerCase());
  const wildcard = !credentialed;
  if (!['GET', 'HEAD', 'POST'].includes(method) && !methods.includes(method) && !(wildcard && methods.includes('*'))) return false;
  return asked.every((h) => headers.includes(h.toLowerCase()) || (wildcard && headers.includes('*') && h !== 'authorization'));
}

/** A socket.io 4.8 server (tests/interop) with these options on a port of its own. */
async function referenceServer(opts) {
  const { Server: SocketIoServer } = require(path.join(interopModules, 'socket.io'));
  const httpServer = http.createServer();
  const io = new SocketIoServer(httpServer, opts);
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  closers.push(() => new Promise((resolve) => io.close(() => resolve())));
  return httpServer.address().port;
}

/** What a browser makes of a handshake and of preflights from `origin` (undefined: none sent). */
async function verdicts(port, origin) {
  const originHeader = origin === undefined ? {} : { Origin: origin };
  const get = await fetchRaw(port, HANDSHAKE, { headers: originHeader });
  let message;
  try {
    message = JSON.parse(get.body).message;
  } catch {
    message = get.status === 200 ? 'open' : get.body;
  }
  const out = { status: get.status, message };
  if (origin === undefined) return out; // not a cross-origin request: CORS does not apply
  out.read = corsCheck(origin, get.headers, false);
  out.readWithCredentials = corsCheck(origin, get.headers, true);
  for (const [method, asked] of [
    ['POST', []],
    ['POST', ['content-type']],
    ['PUT', []],
    ['POST', ['x-token']],
    ['POST', ['x-other']],
  ]) {
    const headers = { ...originHeader, 'Access-Control-Request-Method': method };
    if (asked.length) headers['Access-Control-Request-Headers'] = asked.join(',');
    const res = await fetchRaw(port, HANDSHAKE, { method: 'OPTIONS', headers });
    const key = `preflight ${method}${asked.length ? ` ${asked}` : ''}`;
    out[key] = preflightPasses(origin, res, method, asked, false);
    out[`${key} with credentials`] = preflightPasses(origin, res, method, asked, true);
  }
  return out;
}

describe('cookie, as socket.io sets it', { skip: !haveSocketIo && 'socket.io is not installed in tests/interop' }, () => {
  const configs = [
    ['true', true],
    ['{ name }', { name: 'sticky' }],
    ['path false', { name: 'lb', path: false }],
    ['a path, not HttpOnly, sameSite "Strict"', { path: '/app', httpOnly: false, sameSite: 'Strict' }],
    ['sameSite true', { sameSite: true }],
    ['sameSite "none"', { name: 'x', sameSite: 'none' }],
    ['sameSite false', { sameSite: false }],
  ];
  /** The Set-Cookie of a polling handshake with `sid` in its place, and of the request after it. */
  async function setCookies(port) {
    const open = await fetchRaw(port, HANDSHAKE);
    assert.equal(open.status, 200);
    const { sid } = JSON.parse(open.body.slice(1));
    const post = await fetchRaw(port, `${HANDSHAKE}&sid=${sid}`, { method: 'POST', body: '40' });
    assert.equal(post.status, 200);
    return [open.headers.get('set-cookie')?.replace(sid, '<sid>'), post.headers.get('set-cookie')];
  }
  for (const [name, cookie] of configs) {
    it(`cookie ${name}: the same Set-Cookie as socket.io, on rtio's listener and attached`, async () => {
      const expected = await setCookies(await referenceServer({ cookie }));
      assert.match(expected[0], /=<sid>/);
      assert.deepEqual(await setCookies(server(0, { host: '127.0.0.1', cookie }).address().port), expected);
      const httpServer = http.createServer();
      server(httpServer, { cookie });
      httpServer.listen(0, '127.0.0.1');
      await once(httpServer, 'listening');
      closers.push(() => new Promise((resolve) => httpServer.close(() => resolve())));
      assert.deepEqual(await setCookies(httpServer.address().port), expected);
    });
  }

  it('no cookie option: no Set-Cookie', async () => {
    assert.deepEqual(await setCookies(server(0, { host: '127.0.0.1' }).address().port), [undefined, null]);
  });
});

describe('tls (rtio\'s own listener)', { skip: !hasOpenssl() && 'no openssl command to make a certificate' }, () => {
  const { execFileSync } = require('node:child_process');
  const os = require('node:os');
  const tls = require('node:tls');
  const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-tls-'));
  function makeCertificate(cert, key, cn = '127.0.0.1') {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
  }
  function files() {
    const d = dir();
    const f = { certFile: path.join(d, 'cert.pem'), keyFile: path.join(d, 'key.pem') };
    makeCertificate(f.certFile, f.keyFile);
    return f;
  }
  /** The certificate (DER) a new TLS connection to `port` is shown. */
  function servedCertificate(port) {
    return withTimeout(new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        resolve(s.getPeerCertificate().raw);
        s.end();
      });
      s.once('error', reject);
    }), STEP_MS, 'a TLS handshake');
  }
  const der = (pemFile) => Buffer.from(fs.readFileSync(pemFile, 'utf8').replace(/-----[^-]+-----|\s/g, ''), 'base64');

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`socket.io-client over ${transports.join(' → ')} on https/wss; handshake.secure is true`, async () => {
      const f = files();
      const io = server(0, { host: '127.0.0.1', tls: f });
      io.on('connection', (socket) => socket.on('echo', (v, ack) => ack(v, socket.handshake.secure)));
      const { io: connectClient } = require('socket.io-client');
      const c = connectClient(`https://127.0.0.1:${io.address().port}`, {
        forceNew: true, reconnection: false, transports, ca: fs.readFileSync(f.certFile), rejectUnauthorized: true,
      });
      closers.push(() => c.close());
      await withTimeout(new Promise((resolve, reject) => {
        c.once('connect', resolve);
        c.once('connect_error', reject);
      }), STEP_MS, 'the client to connect over TLS');
      if (transports.length === 2) await upgraded(c);
      assert.equal(c.io.engine.transport.name, transports.at(-1));
      const [echoed, secure] = await withTimeout(new Promise((resolve) => c.emit('echo', { over: 'tls' }, (...a) => resolve(a))), STEP_MS, 'the ack');
      assert.deepEqual(echoed, { over: 'tls' });
      assert.equal(secure, true);
      // plain HTTP on the TLS port gets no Engine.IO answer
      const plain = await fetchRaw(io.address().port, HANDSHAKE).catch((e) => e);
      assert.ok(plain instanceof Error || plain.status >= 400, `answered ${plain.status}`);
    });
  }

  it('reloadTls() gives new connections a renewed certificate; unusable files throw and the one in use stays', async () => {
    const f = files();
    const io = server(0, { host: '127.0.0.1', tls: f });
    const port = io.address().port;
    const first = der(f.certFile);
    assert.deepEqual(await servedCertificate(port), first);
    makeCertificate(f.certFile, f.keyFile, 'renewed');
    assert.deepEqual(await servedCertificate(port), first); // not re-read by itself
    io.reloadTls();
    const renewed = der(f.certFile);
    assert.notDeepEqual(renewed, first);
    assert.deepEqual(await servedCertificate(port), renewed);
    fs.writeFileSync(f.certFile, 'not a certificate');
    assert.throws(() => io.reloadTls(), /cert\.pem/);
    assert.deepEqual(await servedCertificate(port), renewed);
  });

  it('a missing file is an error naming it, from listen()', () => {
    const f = files();
    assert.throws(() => server(0, { host: '127.0.0.1', tls: { ...f, keyFile: '/nonexistent/key.pem' } }), /\/nonexistent\/key\.pem/);
  });

  it('is refused attached to an app\'s server; reloadTls() needs it', () => {
    const f = files();
    assert.throws(() => server(http.createServer(), { tls: f }), /"tls" option is for rtio's own listener/);
    const plain = server(0, { host: '127.0.0.1' });
    assert.throws(() => plain.reloadTls(), /reloadTls\(\) needs/);
  });
});

function hasOpenssl() {
  try {
    require('node:child_process').execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('cors, as socket.io decides it', { skip: !haveSocketIo && 'socket.io is not installed in tests/interop' }, () => {
  const ORIGINS = ['http://a.test', 'http://b.test', 'http://x.a.test', 'http://evil.test', undefined];
  const configs = [
    ['no cors option', undefined],
    ['cors: true', true],
    ['origin "*"', { origin: '*' }],
    ['origin "*" with credentials', { origin: '*', credentials: true }],
    ['origin true with credentials', { origin: true, credentials: true }],
    ['origin false', { origin: false }],
    ['a string', { origin: 'http://a.test' }],
    ['an array of strings, credentials', { origin: ['http://a.test', 'http://b.test'], credentials: true }],
    ['["*"] (a literal, as in cors)', { origin: ['*'] }],
    ['a RegExp', { origin: /^http:\/\/([a-z]+\.)?a\.test$/ }],
    ['an array mixing strings and RegExps', { origin: ['http://b.test', /^http:\/\/x\.a\.test$/], credentials: true }],
    ['a function (sync)', { origin: (origin, cb) => cb(null, origin === 'http://a.test') }],
    ['a function (async) giving a list', { origin: (origin, cb) => setTimeout(() => cb(null, ['http://b.test', /x\.a\.test$/]), 5), credentials: true }],
    ['a function giving "*"', { origin: (origin, cb) => cb(null, '*') }],
    ['a function refusing with an error', { origin: (origin, cb) => (origin === 'http://evil.test' ? cb(new Error('Not allowed by CORS')) : cb(null, true)) }],
    ['methods and allowedHeaders', { origin: 'http://a.test', methods: ['GET', 'POST'], allowedHeaders: ['X-Token'], credentials: true }],
    ['methods with PUT, headers as a string', { origin: true, methods: 'GET,PUT', allowedHeaders: 'x-token,content-type' }],
  ];
  for (const [name, cors] of configs) {
    it(`${name}: the same verdicts as socket.io for each origin`, async () => {
      const opts = cors === undefined ? {} : { cors };
      const reference = await referenceServer(opts);
      const io = server(0, { host: '127.0.0.1', ...opts });
      for (const origin of ORIGINS) {
        const expected = await verdicts(reference, origin);
        const got = await verdicts(io.address().port, origin);
        assert.deepEqual(got, expected, `origin ${origin}`);
      }
    });
  }

  it('allowed origins get Access-Control-Allow-Origin on polling GET and POST, refused ones do not; credentials as configured', async () => {
    const io = server(0, { host: '127.0.0.1', cors: { origin: [/\.a\.test$/, 'http://b.test'], credentials: true } });
    const port = io.address().port;
    const open = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://x.a.test' } });
    assert.equal(open.headers.get('access-control-allow-origin'), 'http://x.a.test');
    assert.equal(open.headers.get('access-control-allow-credentials'), 'true');
    const sid = JSON.parse(open.body.slice(1)).sid;
    // the session's later requests from the same origin keep the headers
    const post = await fetchRaw(port, `${HANDSHAKE}&sid=${sid}`, { method: 'POST', headers: { Origin: 'http://x.a.test', 'Content-Type': 'text/plain' }, body: '40' });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('access-control-allow-origin'), 'http://x.a.test');
    // ... from another origin they do not
    const stolen = await fetchRaw(port, `${HANDSHAKE}&sid=${sid}`, { method: 'POST', headers: { Origin: 'http://evil.test', 'Content-Type': 'text/plain' }, body: '40' });
    assert.equal(stolen.headers.get('access-control-allow-origin'), null);
    const refused = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://evil.test' } });
    assert.equal(refused.status, 200); // served, as socket.io serves it, without CORS headers
    assert.equal(refused.headers.get('access-control-allow-origin'), null);
    assert.equal(refused.headers.get('access-control-allow-credentials'), null);

    const noCredentials = server(0, { host: '127.0.0.1', cors: { origin: /\.a\.test$/ } });
    const plain = await fetchRaw(noCredentials.address().port, HANDSHAKE, { headers: { Origin: 'http://x.a.test' } });
    assert.equal(plain.headers.get('access-control-allow-origin'), 'http://x.a.test');
    assert.equal(plain.headers.get('access-control-allow-credentials'), null);
  });

  it('WebSocket handshakes (ws with an Origin header) get the same CORS headers as socket.io gives', async () => {
    const opts = { cors: { origin: [/\.a\.test$/, 'http://b.test'], credentials: true } };
    const reference = await referenceServer(opts);
    const io = server(0, { host: '127.0.0.1', ...opts });
    const headersOf = (port, origin) =>
      withTimeout(
        new Promise((resolve, reject) => {
          const ws = new WebSocket(`ws://127.0.0.1:${port}${HANDSHAKE.replace('polling', 'websocket')}`, { headers: { Origin: origin } });
          ws.once('upgrade', (res) => {
            const allowed = res.headers['access-control-allow-origin'] || null;
            // (the cors package sends Access-Control-Allow-Credentials to refused origins
            // too, where it means nothing)
            resolve({ origin: allowed, credentials: allowed && (res.headers['access-control-allow-credentials'] || null) });
            ws.close();
          });
          ws.once('error', reject);
        }),
        STEP_MS,
        'the WebSocket handshake',
      );
    for (const origin of ['http://x.a.test', 'http://b.test', 'http://evil.test']) {
      const expected = await headersOf(reference, origin);
      assert.deepEqual(await headersOf(io.address().port, origin), expected, origin);
    }
    assert.deepEqual(await headersOf(io.address().port, 'http://x.a.test'), { origin: 'http://x.a.test', credentials: 'true' });
    assert.deepEqual(await headersOf(io.address().port, 'http://evil.test'), { origin: null, credentials: null });
  });

  it('the origin function gets the request\'s Origin; what it throws is reported and the request refused with 400', async () => {
    const seen = [];
    const io = server(0, {
      host: '127.0.0.1',
      cors: {
        origin(origin, cb) {
          seen.push(origin);
          if (origin === 'http://boom.test') throw new Error('origin function failed');
          cb(null, true);
        },
      },
    });
    const reported = [];
    io.on('error', (err, where) => reported.push([err.message, where]));
    const port = io.address().port;
    const ok = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://a.test' } });
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://a.test');
    const boom = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://boom.test' } });
    assert.equal(boom.status, 400);
    assert.equal(JSON.parse(boom.body).message, 'Bad request');
    assert.deepEqual(seen, ['http://a.test', 'http://boom.test']);
    assert.deepEqual(reported, [['origin function failed', 'the cors origin function']]);
  });

  it('a socket.io-client connects through a RegExp origin (polling, then the upgrade)', async () => {
    const io = server(0, { host: '127.0.0.1', cors: { origin: /^http:\/\/127\.0\.0\.1(:\d+)?$/, credentials: true } });
    const c = await connect(io.address().port, { transports: ['polling', 'websocket'], extraHeaders: { Origin: 'http://127.0.0.1' } });
    assert.equal(c.connected, true);
  });
});

// ---------------------------------------------------------------------------------------------
// allowRequest
// ---------------------------------------------------------------------------------------------

/** Opens a raw WebSocket handshake; resolves with the HTTP status of a refusal, or 101. */
function wsHandshake(port, query, headers = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket${query}`, { headers });
      ws.once('open', () => {
        ws.close();
        resolve({ status: 101 });
      });
      ws.once('unexpected-response', (req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      });
      ws.once('error', reject);
    }),
    STEP_MS,
    'the WebSocket handshake',
  );
}

describe('allowRequest', () => {
  it('is called for each handshake (polling and WebSocket) with a request like http.IncomingMessage', async () => {
    const seen = [];
    const io = server(0, {
      host: '127.0.0.1',
      allowRequest(req, callback) {
        seen.push({
          method: req.method,
          url: req.url,
          origin: req.headers.origin,
          token: req._query.token,
          transport: req._query.transport,
          address: req.connection.remoteAddress,
          socketAddress: req.socket.remoteAddress,
          port: req.socket.remotePort,
        });
        callback(null, true);
      },
    });
    const port = io.address().port;
    const res = await fetchRaw(port, `${HANDSHAKE}&token=abc`, { headers: { Origin: 'http://a.test' } });
    assert.equal(res.status, 200);
    assert.equal((await wsHandshake(port, '&token=def')).status, 101);
    assert.equal(seen.length, 2);
    assert.deepEqual(
      { ...seen[0], port: undefined },
      {
        method: 'GET',
        url: `${HANDSHAKE}&token=abc`,
        origin: 'http://a.test',
        token: 'abc',
        transport: 'polling',
        address: '127.0.0.1',
        socketAddress: '127.0.0.1',
        port: undefined,
      },
    );
    assert.ok(Number.isInteger(seen[0].port) && seen[0].port > 0);
    assert.equal(seen[1].transport, 'websocket');
    assert.equal(seen[1].token, 'def');
  });

  it('refuses with 403 {"code":4,"message": err || "Forbidden"}, as engine.io', async () => {
    const io = server(0, {
      host: '127.0.0.1',
      allowRequest(req, callback) {
        const how = req._query.how;
        if (how === 'message') return callback('not today', false);
        if (how === 'error') return callback(new Error('bad token'), false);
        if (how === 'silent') return callback(null, false);
        if (how === 'message-but-ok') return callback('ignored', true);
        callback(null, true);
      },
    });
    const port = io.address().port;
    const body = async (how) => {
      const res = await fetchRaw(port, `${HANDSHAKE}&how=${how}`);
      return [res.status, res.status === 200 ? 'open' : JSON.parse(res.body)];
    };
    assert.deepEqual(await body('message'), [403, { code: 4, message: 'not today' }]);
    assert.deepEqual(await body('error'), [403, { code: 4, message: 'bad token' }]);
    assert.deepEqual(await body('silent'), [403, { code: 4, message: 'Forbidden' }]);
    assert.deepEqual(await body('message-but-ok'), [200, 'open']);
    const ws = await wsHandshake(port, '&how=message');
    assert.equal(ws.status, 403);
    assert.match(ws.body, /not today/);
  });

  it('answers later (async) and only once; requests with a session id are not gated', async () => {
    let calls = 0;
    const io = server(0, {
      host: '127.0.0.1',
      allowRequest(req, callback) {
        calls++;
        setTimeout(() => {
          callback(null, req._query.deny !== '1');
          callback('again', false); // ignored
        }, 20);
      },
    });
    const port = io.address().port;
    assert.equal((await fetchRaw(port, `${HANDSHAKE}&deny=1`)).status, 403);
    // a client that starts on polling and upgrades: one handshake, one call
    const c = await connect(port, { transports: ['polling', 'websocket'] });
    await upgraded(c);
    assert.equal(calls, 2);
    const denied = client(port, { query: { deny: '1' } });
    const [err] = await next(denied, 'connect_error');
    assert.ok(err instanceof Error);
  });

  it('what allowRequest throws (or an async one rejects with) is reported and refuses the request', async () => {
    const io = server(0, {
      host: '127.0.0.1',
      async allowRequest(req, callback) {
        if (req._query.how === 'throw') throw new Error('gate failed');
        callback(null, true);
      },
    });
    const sync = server(0, {
      host: '127.0.0.1',
      allowRequest() {
        throw new Error('sync gate failed');
      },
    });
    const reported = [];
    io.on('error', (err, where) => reported.push([err.message, where]));
    sync.on('error', (err, where) => reported.push([err.message, where]));
    const refused = await fetchRaw(io.address().port, `${HANDSHAKE}&how=throw`);
    assert.deepEqual([refused.status, JSON.parse(refused.body)], [403, { code: 4, message: 'Forbidden' }]);
    assert.equal((await fetchRaw(io.address().port, HANDSHAKE)).status, 200);
    assert.equal((await fetchRaw(sync.address().port, HANDSHAKE)).status, 403);
    assert.deepEqual(reported, [
      ['gate failed', 'allowRequest'],
      ['sync gate failed', 'allowRequest'],
    ]);
  });

  it('socket.request is the request allowRequest let in (what it put there stays)', async () => {
    const io = server(0, {
      host: '127.0.0.1',
      allowRequest(req, callback) {
        req.user = { name: req._query.user };
        callback(null, true);
      },
    });
    io.of('/admin');
    const port = io.address().port;
    for (const transports of [['websocket'], ['polling', 'websocket']]) {
      const c = await connect(port, { transports, query: { user: `u-${transports.length}` } });
      const s = await serverSocketOf(io.of('/'), c);
      assert.deepEqual(s.request.user, { name: `u-${transports.length}` });
      assert.equal(s.request, s.request);
      assert.equal(s.request._query.user, `u-${transports.length}`);
      assert.equal(s.request.headers, s.request.headers);
    }
    // without allowRequest: a request object made from the handshake, the same on each read
    const plain = server(0, { host: '127.0.0.1' });
    const c = await connect(plain.address().port, { query: { a: '1' } });
    const s = await serverSocketOf(plain.of('/'), c);
    assert.equal(s.request, s.request);
    assert.equal(s.request.method, 'GET');
    assert.equal(s.request._query.a, '1');
    assert.equal(s.request.socket.remoteAddress, '127.0.0.1');
  });

  it('combines with a cors origin function: CORS headers on the refusal for an allowed origin', async () => {
    const io = server(0, {
      host: '127.0.0.1',
      cors: { origin: (origin, cb) => cb(null, origin === 'http://a.test') },
      allowRequest: (req, callback) => callback('no', false),
    });
    const port = io.address().port;
    const allowed = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://a.test' } });
    assert.equal(allowed.status, 403);
    assert.equal(allowed.headers.get('access-control-allow-origin'), 'http://a.test');
    const other = await fetchRaw(port, HANDSHAKE, { headers: { Origin: 'http://b.test' } });
    assert.equal(other.status, 403);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    // a preflight is the cors option's business only
    const preflight = await fetchRaw(port, HANDSHAKE, { method: 'OPTIONS', headers: { Origin: 'http://a.test', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://a.test');
  });
});

// ---------------------------------------------------------------------------------------------
// socket.conn.transport
// ---------------------------------------------------------------------------------------------

describe('socket.conn.transport', () => {
  it('is "websocket" for a WebSocket client, "polling" for a polling one', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const port = io.address().port;
    const ws = await connect(port, { transports: ['websocket'] });
    assert.equal((await serverSocketOf(io.of('/'), ws)).conn.transport.name, 'websocket');
    const polling = await connect(port, { transports: ['polling'] });
    assert.equal((await serverSocketOf(io.of('/'), polling)).conn.transport.name, 'polling');
  });

  it('follows an upgrade, and socket.conn emits "upgrade" with the new transport', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const seen = new Map(); // socket id -> { first: transport at "connection", upgrades }
    io.on('connection', (socket) => {
      const entry = { first: socket.conn.transport.name, upgrades: [] };
      seen.set(socket.id, entry);
      socket.conn.once('upgrade', (transport) => entry.upgrades.push([transport.name, socket.conn.transport.name]));
    });
    // a client whose upgrade completes before its `connection` listener runs (a busy machine)
    // shows nothing to test: take the first of a few that was still on polling there
    let c;
    let entry;
    for (let attempt = 0; attempt < 5 && !(entry && entry.first === 'polling'); attempt++) {
      c = await connect(io.address().port, { transports: ['polling', 'websocket'] });
      await serverSocketOf(io.of('/'), c);
      entry = seen.get(c.id);
    }
    assert.equal(entry.first, 'polling');
    await upgraded(c);
    const s = io.of('/').sockets.get(c.id);
    await withTimeout(
      (async () => {
        while (entry.upgrades.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      })(),
      STEP_MS,
      'the "upgrade" event of socket.conn',
    );
    assert.deepEqual(entry.upgrades, [['websocket', 'websocket']]);
    assert.equal(s.conn.transport.name, 'websocket');
    c.disconnect();
    await next(s, 'disconnect');
    assert.equal(s.conn.transport.name, 'websocket', 'the last transport, once gone');
  });
});
