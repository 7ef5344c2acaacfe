'use strict';
// The protocol options of issue 19 on the Node host: `parser` (socket.io-msgpack-parser's
// wire format, with the official client using that parser), `perMessageDeflate` (the
// client's `ws` negotiates RFC 7692; bytes on the wire tell compressed from not),
// `compress(false)` on every kind of emit, and `allowEIO3` (passed to the core).
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const https = require('node:https');
const { execFileSync } = require('node:child_process');
const rtio = require('rtio');
const { parserSetting, perMessageDeflateSettings } = require('../lib/options');
const { client, connect, connected, closeClients, next, request, serverSocketOf, withTimeout, STEP_MS } = require('./helpers');

const { Server } = rtio;
const interopModules = path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node_modules');
const haveMsgpack = fs.existsSync(path.join(interopModules, 'socket.io-msgpack-parser', 'package.json'));
const noMsgpack = !haveMsgpack && 'socket.io-msgpack-parser is not installed in tests/interop (npm install there)';
const msgpackParser = haveMsgpack ? require(path.join(interopModules, 'socket.io-msgpack-parser')) : undefined;

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

function listening(httpServer) {
  return new Promise((resolve) => {
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer.address().port));
    closers.push(() => new Promise((done) => httpServer.close(() => done())));
  });
}

// ---------------------------------------------------------------------------------------------
// the mapping of the options
// ---------------------------------------------------------------------------------------------

describe('option mapping', () => {
  it('parser: socket.io-msgpack-parser, rtio.msgpackParser and "msgpack" are the msgpack format', { skip: noMsgpack }, () => {
    assert.equal(parserSetting(msgpackParser), 'msgpack');
    assert.equal(parserSetting(rtio.msgpackParser), 'msgpack');
    assert.equal(parserSetting('msgpack'), 'msgpack');
  });

  it('parser: socket.io-msgpack-parser imported as an ES module (default or namespace) is the msgpack format', { skip: noMsgpack }, async () => {
    const url = require('node:url').pathToFileURL(path.join(interopModules, 'socket.io-msgpack-parser', 'index.js')).href;
    const ns = await import(url);
    assert.equal(parserSetting(ns), 'msgpack');
    assert.equal(parserSetting(ns.default), 'msgpack');
    // its Encoder with another Decoder is a custom parser
    assert.throws(() => parserSetting({ Encoder: ns.Encoder, Decoder: class {} }), /"parser"/);
  });

  it('parser: nothing, and socket.io-parser, are the default format', { skip: !fs.existsSync(path.join(interopModules, 'socket.io-parser')) }, () => {
    assert.equal(parserSetting(undefined), 'default');
    assert.equal(parserSetting(require(path.join(interopModules, 'socket.io-parser'))), 'default');
  });

  it('parser: a look-alike of socket.io-msgpack-parser (same shape, another module) is refused', () => {
    const fake = { protocol: 5, Encoder: function Encoder() {}, Decoder: function Decoder() {}, PacketType: {} };
    assert.throws(() => parserSetting(fake), /"parser".*socket\.io-msgpack-parser.*custom parser is not supported/);
    assert.throws(() => new Server({ parser: fake }), /"parser"/);
  });

  it('rtio.msgpackParser is exported by the ESM entry point too', async () => {
    const esm = await import('rtio');
    assert.equal(esm.msgpackParser, rtio.msgpackParser);
    assert.ok(Object.isFrozen(rtio.msgpackParser));
  });

  it('perMessageDeflate: true and {} are threshold 1024 (ws\'s default), {threshold} its own, false off', () => {
    assert.deepEqual(perMessageDeflateSettings(undefined), {});
    assert.deepEqual(perMessageDeflateSettings(false), {});
    assert.deepEqual(perMessageDeflateSettings(true), { perMessageDeflateThreshold: 1024 });
    assert.deepEqual(perMessageDeflateSettings({}), { perMessageDeflateThreshold: 1024 });
    assert.deepEqual(perMessageDeflateSettings({ threshold: 0 }), { perMessageDeflateThreshold: 0 });
    assert.deepEqual(perMessageDeflateSettings({ threshold: 4096 }), { perMessageDeflateThreshold: 4096 });
    assert.throws(() => perMessageDeflateSettings({ clientNoContextTakeover: true }), /"perMessageDeflate\.clientNoContextTakeover"/);
  });

});

// ---------------------------------------------------------------------------------------------
// allowEIO3: socket.io-client 2.x (Engine.IO v3) beside 4.x
// ---------------------------------------------------------------------------------------------

const haveV2 = fs.existsSync(path.join(interopModules, 'socket.io-client-v2', 'package.json'));

describe('allowEIO3 with socket.io-client 2.x', { skip: !haveV2 && 'socket.io-client-v2 is not installed in tests/interop (npm install there)' }, () => {
  const ioV2 = haveV2 ? require(path.join(interopModules, 'socket.io-client-v2')) : undefined;
  const v2Clients = [];
  afterEach(() => {
    for (const c of v2Clients.splice(0)) c.close();
  });
  function v2(port, transports) {
    const c = ioV2(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false, transports });
    v2Clients.push(c);
    return c;
  }
  const v2Connected = (c) => withTimeout(new Promise((resolve, reject) => {
    c.once('connect', resolve);
    c.once('connect_error', reject);
    c.once('error', reject);
  }), STEP_MS, 'the 2.x client to connect');

  for (const transports of [['polling'], ['websocket']]) {
    it(`true: a 2.x client over ${transports[0]} connects, acks with binary, hears a 4.x client's broadcast`, async () => {
      const io = server(0, { host: '127.0.0.1', allowEIO3: true });
      io.on('connection', (socket) => {
        socket.on('bin', (data, ack) => ack(Buffer.concat([data, Buffer.from('!')]), { ok: true }));
        socket.on('shout', (text) => socket.broadcast.emit('shout', text));
      });
      const port = io.address().port;
      const old = v2(port, transports);
      await v2Connected(old);
      const modern = await connect(port);
      const [bin, obj] = await withTimeout(
        new Promise((resolve) => old.emit('bin', Buffer.from('hi'), (...answer) => resolve(answer))),
        STEP_MS,
        'the 2.x ack',
      );
      assert.equal(Buffer.from(bin).toString(), 'hi!');
      assert.deepEqual(obj, { ok: true });
      const heard = next(old, 'shout');
      modern.emit('shout', 'from 4.x');
      assert.deepEqual(await heard, ['from 4.x']);
    });
  }

  it('false (the default): a 2.x client is refused', async () => {
    const io = server(0, { host: '127.0.0.1' });
    await assert.rejects(v2Connected(v2(io.address().port, ['polling'])));
  });
});

// ---------------------------------------------------------------------------------------------
// parser: socket.io-msgpack-parser
// ---------------------------------------------------------------------------------------------

describe('parser: socket.io-msgpack-parser with the official client', { skip: noMsgpack }, () => {
  function msgpackServer() {
    const io = server(0, { host: '127.0.0.1', parser: msgpackParser });
    io.on('connection', (socket) => {
      socket.on('echo', (...args) => socket.emit('echo', ...args));
      socket.on('kinds', (...args) => {
        const ack = args.pop();
        ack(args.map((a) => (Buffer.isBuffer(a) ? 'Buffer' : a === null ? 'null' : Array.isArray(a) ? 'array' : typeof a)));
      });
      socket.on('give-binary', (ack) => ack(Buffer.from([9, 8, 7]), { inner: Buffer.from('in') }));
    });
    return io;
  }

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`over ${transports.join(' → ')}: JSON values and Buffers both ways, acks`, async () => {
      const io = msgpackServer();
      const c = await connect(io.address().port, { transports, parser: msgpackParser });
      const values = ['text', 42, 2.5, true, null, { deep: [1, 'é', { x: null }] }, Buffer.from([0, 1, 2, 255])];
      assert.deepEqual(await request(c, 'kinds', ...values), [['string', 'number', 'number', 'boolean', 'null', 'object', 'Buffer']]);
      const echoed = next(c, 'echo');
      c.emit('echo', 'a', Buffer.from('bin'), { nested: Buffer.from([1, 2]) }, 2 ** 40);
      const got = await echoed;
      assert.equal(got[0], 'a');
      assert.ok(Buffer.isBuffer(got[1]), 'a Buffer emitted by the server arrives as a Buffer');
      assert.equal(got[1].toString(), 'bin');
      assert.ok(Buffer.isBuffer(got[2].nested));
      assert.deepEqual([...got[2].nested], [1, 2]);
      assert.equal(got[3], 2 ** 40);
      const [bin, obj] = await withTimeout(
        new Promise((resolve) => c.emit('give-binary', (...answer) => resolve(answer))),
        STEP_MS,
        'the binary ack',
      );
      assert.ok(Buffer.isBuffer(bin));
      assert.deepEqual([...bin], [9, 8, 7]);
      assert.equal(obj.inner.toString(), 'in');
    });
  }

  it('broadcasts to rooms and server-side acks with binary reach msgpack clients', async () => {
    const io = msgpackServer();
    const port = io.address().port;
    const a = await connect(port, { parser: msgpackParser });
    const b = await connect(port, { parser: msgpackParser });
    (await serverSocketOf(io.of('/'), a)).join('room');
    const got = next(a, 'news');
    io.to('room').emit('news', Buffer.from('to the room'));
    assert.equal((await got)[0].toString(), 'to the room');
    b.on('question', (bin, ack) => ack(Buffer.concat([bin, Buffer.from('!')])));
    const sb = await serverSocketOf(io.of('/'), b);
    const answer = await sb.timeout(STEP_MS).emitWithAck('question', Buffer.from('why'));
    assert.ok(Buffer.isBuffer(answer));
    assert.equal(answer.toString(), 'why!');
  });

  it('a client with the default parser cannot talk to a msgpack server', async () => {
    const io = msgpackServer();
    const c = client(io.address().port); // socket.io-parser: text packets the server cannot decode
    await assert.rejects(connected(c));
  });
});

// ---------------------------------------------------------------------------------------------
// perMessageDeflate and compress(false)
// ---------------------------------------------------------------------------------------------

const BIG = 'socket.io '.repeat(5000); // 50 KB, compressible to well under 2 KB

/** The WebSocket (ws) under a connected socket.io-client socket. */
function wsOf(c) {
  return c.io.engine.transport.ws;
}

/**
 * How many bytes the client's TCP socket read until `event` arrived, after `trigger()`:
 * resolves with [bytes, args].
 */
async function bytesFor(c, event, trigger) {
  const tcp = wsOf(c)._socket;
  const before = tcp.bytesRead;
  const got = next(c, event);
  trigger();
  const args = await got;
  return [tcp.bytesRead - before, args];
}

const compressed = (bytes) => bytes < 5000;
const plain = (bytes) => bytes >= BIG.length;

describe('perMessageDeflate', () => {
  it('off by default: the client\'s offer is declined', async () => {
    const io = server(0, { host: '127.0.0.1' });
    const c = await connect(io.address().port);
    assert.equal(wsOf(c).extensions, '');
  });

  it('{threshold: 0}: negotiated; large messages both ways arrive whole, compressed on the wire', async () => {
    const io = server(0, { host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    io.on('connection', (socket) => socket.on('echo', (text) => socket.emit('echo', text)));
    const c = await connect(io.address().port);
    assert.match(wsOf(c).extensions, /permessage-deflate/);
    const [bytes, [text]] = await bytesFor(c, 'echo', () => c.emit('echo', BIG));
    assert.equal(text, BIG);
    assert.ok(compressed(bytes), `the 50 KB answer took ${bytes} bytes`);
  });

  it('true: threshold 1024, a message under it goes uncompressed, one over it compressed', async () => {
    const io = server(0, { host: '127.0.0.1', perMessageDeflate: true });
    io.on('connection', (socket) => socket.on('say', (text) => socket.emit('said', text)));
    const c = await connect(io.address().port);
    assert.match(wsOf(c).extensions, /permessage-deflate/);
    const small = 'a'.repeat(900);
    const [smallBytes] = await bytesFor(c, 'said', () => c.emit('say', small));
    assert.ok(smallBytes >= 900, `900 bytes under the threshold took ${smallBytes} bytes`);
    const large = 'a'.repeat(3000);
    const [largeBytes] = await bytesFor(c, 'said', () => c.emit('say', large));
    assert.ok(largeBytes < 500, `3000 bytes over the threshold took ${largeBytes} bytes`);
  });

  it('binary attachments are compressed too, and arrive whole', async () => {
    const io = server(0, { host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    io.on('connection', (socket) => socket.emit('blob', Buffer.alloc(50_000, 7)));
    const c = client(io.address().port);
    const tcpBytes = () => (c.io.engine && c.io.engine.transport.ws ? c.io.engine.transport.ws._socket.bytesRead : 0);
    const [blob] = await next(c, 'blob');
    assert.ok(Buffer.isBuffer(blob) && blob.length === 50_000 && blob.every((b) => b === 7));
    assert.ok(tcpBytes() < 5000, `the handshake and the 50 KB blob took ${tcpBytes()} bytes`);
  });

  it('attached to an http.Server: the adopted WebSockets are compressed by the core', async () => {
    const httpServer = http.createServer((req, res) => res.end('app'));
    const io = new Server(httpServer, { perMessageDeflate: { threshold: 0 } });
    servers.push(io);
    io.on('connection', (socket) => socket.on('echo', (text) => socket.emit('echo', text)));
    const port = await listening(httpServer);
    const c = await connect(port);
    assert.match(wsOf(c).extensions, /permessage-deflate/);
    const [bytes, [text]] = await bytesFor(c, 'echo', () => c.emit('echo', BIG));
    assert.equal(text, BIG);
    assert.ok(compressed(bytes), `the 50 KB answer took ${bytes} bytes`);
  });
});

describe('compress(false)', () => {
  async function setup() {
    const io = server(0, { host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    const port = io.address().port;
    const a = await connect(port);
    const b = await connect(port);
    const sa = await serverSocketOf(io.of('/'), a);
    const sb = await serverSocketOf(io.of('/'), b);
    sa.join('room');
    sb.join('room');
    return { io, a, b, sa, sb };
  }

  it('socket.compress(false).emit goes uncompressed; the next emit is compressed again', async () => {
    const { a, sa } = await setup();
    let [bytes, [text]] = await bytesFor(a, 'big', () => sa.emit('big', BIG));
    assert.equal(text, BIG);
    assert.ok(compressed(bytes), `socket.emit: ${bytes} bytes`);
    [bytes, [text]] = await bytesFor(a, 'big', () => sa.compress(false).emit('big', BIG));
    assert.equal(text, BIG);
    assert.ok(plain(bytes), `socket.compress(false).emit: ${bytes} bytes`);
    [bytes] = await bytesFor(a, 'big', () => sa.emit('big', BIG));
    assert.ok(compressed(bytes), `the emit after: ${bytes} bytes`);
    [bytes] = await bytesFor(a, 'big', () => sa.compress(true).emit('big', BIG));
    assert.ok(compressed(bytes), `socket.compress(true).emit: ${bytes} bytes`);
  });

  it('socket.volatile.compress(false).emit: both flags hold', async () => {
    const { a, sa } = await setup();
    const [bytes, [text]] = await bytesFor(a, 'big', () => sa.volatile.compress(false).emit('big', BIG));
    assert.equal(text, BIG);
    assert.ok(plain(bytes), `${bytes} bytes`);
  });

  it('io.compress(false).emit and io.emit, to every socket', async () => {
    const { io, a, b } = await setup();
    for (const [label, send, check] of [
      ['io.compress(false).emit', () => io.compress(false).emit('big', BIG), plain],
      ['io.emit', () => io.emit('big', BIG), compressed],
      ['io.of("/").compress(false).emit', () => io.of('/').compress(false).emit('big', BIG), plain],
    ]) {
      const [[bytesA], [bytesB]] = await Promise.all([bytesFor(a, 'big', send), bytesFor(b, 'big', () => {})]);
      assert.ok(check(bytesA) && check(bytesB), `${label}: ${bytesA} and ${bytesB} bytes`);
    }
  });

  it('io.to(room).compress(false).emit and io.to(room).emit', async () => {
    const { io, a } = await setup();
    let [bytes] = await bytesFor(a, 'big', () => io.to('room').compress(false).emit('big', BIG));
    assert.ok(plain(bytes), `io.to(room).compress(false).emit: ${bytes} bytes`);
    [bytes] = await bytesFor(a, 'big', () => io.compress(false).to('room').emit('big', BIG));
    assert.ok(plain(bytes), `io.compress(false).to(room).emit: ${bytes} bytes`);
    [bytes] = await bytesFor(a, 'big', () => io.to('room').emit('big', BIG));
    assert.ok(compressed(bytes), `io.to(room).emit: ${bytes} bytes`);
  });

  it('socket.broadcast.compress(false).emit and socket.to(room).compress(false).emit', async () => {
    const { b, sa } = await setup();
    let [bytes] = await bytesFor(b, 'big', () => sa.broadcast.compress(false).emit('big', BIG));
    assert.ok(plain(bytes), `socket.broadcast.compress(false).emit: ${bytes} bytes`);
    [bytes] = await bytesFor(b, 'big', () => sa.compress(false).to('room').emit('big', BIG));
    assert.ok(plain(bytes), `socket.compress(false).to(room).emit: ${bytes} bytes`);
    [bytes] = await bytesFor(b, 'big', () => sa.broadcast.emit('big', BIG));
    assert.ok(compressed(bytes), `socket.broadcast.emit: ${bytes} bytes`);
  });
});

// ---------------------------------------------------------------------------------------------
// attached to an https.Server: Node frames the WebSockets (ws), rtio's core the rest
// ---------------------------------------------------------------------------------------------

function selfSigned() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-tls-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert) };
}

describe('perMessageDeflate attached to an https.Server', () => {
  it('the WebSockets Node frames negotiate it too (ws, with the same threshold)', async (t) => {
    let tls;
    try {
      tls = selfSigned();
    } catch (err) {
      return t.skip(`openssl is missing: ${err.message}`);
    }
    const httpsServer = https.createServer(tls, (req, res) => res.end('app'));
    const io = new Server(httpsServer, { perMessageDeflate: { threshold: 0 } });
    servers.push(io);
    io.on('connection', (socket) => socket.on('echo', (text) => socket.emit('echo', text)));
    const port = await listening(httpsServer);
    const c = await connected(
      require('socket.io-client').io(`https://127.0.0.1:${port}`, {
        forceNew: true, reconnection: false, transports: ['websocket'], ca: tls.cert,
      }),
    );
    try {
      assert.match(wsOf(c).extensions, /permessage-deflate/);
      const [bytes, [text]] = await bytesFor(c, 'echo', () => c.emit('echo', BIG));
      assert.equal(text, BIG);
      assert.ok(compressed(bytes), `the 50 KB answer took ${bytes} bytes`);
    } finally {
      c.close();
    }
  });

  it('with socket.io-msgpack-parser too: binary messages through Node\'s framing, compressed', { skip: noMsgpack }, async (t) => {
    let tls;
    try {
      tls = selfSigned();
    } catch (err) {
      return t.skip(`openssl is missing: ${err.message}`);
    }
    const httpsServer = https.createServer(tls, (req, res) => res.end('app'));
    const io = new Server(httpsServer, { perMessageDeflate: { threshold: 0 }, parser: msgpackParser });
    servers.push(io);
    io.on('connection', (socket) => socket.on('echo', (...args) => socket.emit('echo', ...args)));
    const port = await listening(httpsServer);
    for (const transports of [['polling'], ['websocket']]) {
      const c = await connected(
        require('socket.io-client').io(`https://127.0.0.1:${port}`, {
          forceNew: true, reconnection: false, transports, ca: tls.cert, parser: msgpackParser,
        }),
      );
      try {
        const got = next(c, 'echo');
        c.emit('echo', BIG, Buffer.from([1, 2, 3]));
        const [text, bin] = await got;
        assert.equal(text, BIG);
        assert.ok(Buffer.isBuffer(bin), `over ${transports}: a Buffer`);
        assert.deepEqual([...bin], [1, 2, 3]);
        if (transports[0] === 'websocket') {
          const [bytes] = await bytesFor(c, 'echo', () => c.emit('echo', BIG));
          assert.ok(compressed(bytes), `the 50 KB answer took ${bytes} bytes`);
        }
      } finally {
        c.close();
      }
    }
  });
});
