// The protocol options of SCENARIOS.md that a host has (issue 19), with the official
// socket.io-client: --tls-cert/--tls-key (HTTPS and WSS on the server's own port),
// --cookie NAME (engine.io's session cookie on the handshake), --recovery MS (connection
// state recovery, with the `is-recovered` row), --parser msgpack (with
// socket.io-msgpack-parser on the client), --per-message-deflate (the client's `ws`
// negotiates RFC 7692) and --eio3 (socket.io-client 2.x beside 4.x). A host without an option yet skips its tests, saying so.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { HOST, STEP_MS, WebSocket, io, startServer, until, waitFor, withTimeout } from './harness.mjs';

const require = createRequire(import.meta.url);
const msgpackParser = require('socket.io-msgpack-parser');
/** socket.io-client 2.x (Engine.IO v3, Socket.IO protocol v4), from npm. */
const ioV2 = require('socket.io-client-v2');

/** Which hosts have which option today. */
const HAS = {
  tls: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-asgi', 'python-aiohttp']),
  cookie: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-asgi', 'python-aiohttp', 'python-wsgi']),
  recovery: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-wsgi', 'python-asgi', 'python-aiohttp']),
  parser: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-wsgi', 'python-asgi', 'python-aiohttp']),
  'per-message-deflate': new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-wsgi', 'python-asgi', 'python-aiohttp']),
  eio3: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-wsgi', 'python-asgi', 'python-aiohttp']),
};
const skip = (option) => !HAS[option].has(HOST) && `the ${HOST} host has no --${option} yet (issue 19)`;

/** A self-signed certificate for 127.0.0.1, made with Debian's openssl. */
function certificate() {
  const dir = mkdtempSync(path.join(tmpdir(), 'rtio-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** A client over https/wss that trusts the self-signed certificate. */
function tlsClient(port, transports, ca) {
  const socket = io(`https://127.0.0.1:${port}`, { forceNew: true, reconnection: false, transports, ca, rejectUnauthorized: true });
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (e) => reject(e));
    }),
    STEP_MS,
    `connect over ${transports.join('+')}`,
  );
}

describe(`${HOST} host: --tls-cert / --tls-key`, { skip: skip('tls') }, () => {
  let server;
  let ca;
  before(async () => {
    const files = certificate();
    ca = readFileSync(files.cert);
    server = await startServer(['--tls-cert', files.cert, '--tls-key', files.key]);
  });
  after(() => server?.stop());

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`the official client over ${transports.join(' → ')} on https, emits and acks`, async () => {
      const socket = await tlsClient(server.port, transports, ca);
      try {
        if (transports.length === 2 && socket.io.engine.transport.name !== 'websocket') {
          await waitFor(socket.io.engine, 'upgrade');
        }
        const echoed = waitFor(socket, 'message-back');
        socket.emit('message', 'over tls', { n: 1 });
        assert.deepEqual(await echoed, ['over tls', { n: 1 }]);
        const id = await withTimeout(socket.emitWithAck('whoami'), STEP_MS, 'whoami');
        assert.equal(id, socket.id);
      } finally {
        socket.close();
      }
    });
  }

  it('plain HTTP on the TLS port gets no Engine.IO answer', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=polling`).catch((e) => e);
    assert.ok(res instanceof Error || res.status >= 400, `answered ${res.status}`);
  });

  it('a client that does not trust the certificate cannot connect', async () => {
    const socket = io(`https://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports: ['polling'] });
    const [err] = await waitFor(socket, 'connect_error', STEP_MS * 2);
    socket.close();
    assert.ok(err instanceof Error);
  });
});

describe(`${HOST} host: --cookie NAME`, { skip: skip('cookie') }, () => {
  let server;
  before(async () => {
    server = await startServer(['--cookie', 'sticky']);
  });
  after(() => server?.stop());

  it('the polling handshake sets NAME=<sid>; Path=/; HttpOnly; SameSite=Lax', async () => {
    const res = await fetch(`http://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=polling`);
    const body = await res.text();
    const sid = JSON.parse(body.slice(1)).sid;
    assert.equal(res.headers.get('set-cookie'), `sticky=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    // requests of the session that follow set nothing more
    const next = await fetch(`http://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method: 'POST', body: '40' });
    assert.equal(next.status, 200);
    assert.equal(next.headers.get('set-cookie'), null);
  });

  it('a fresh WebSocket gets none in its 101, as in engine.io (one connection needs no stickiness)', async () => {
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    const [[res], [open]] = await Promise.all([waitFor(ws, 'upgrade'), waitFor(ws, 'message')]);
    ws.close();
    assert.match(String(open), /^0\{"sid":/);
    assert.equal(res.headers['set-cookie'], undefined);
  });
});

describe(`${HOST} host: --recovery MS (connection state recovery)`, { skip: skip('recovery') }, () => {
  let server;
  before(async () => {
    server = await startServer(['--recovery', '10000', '--no-visits']);
  });
  after(() => server?.stop());

  const client = (transports) =>
    io(`http://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports });
  const connected = (socket) => withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
  }), STEP_MS, 'connect');

  for (const transports of [['websocket'], ['polling']]) {
    it(`over ${transports[0]}: a broken connection's socket comes back with its id, rooms and the events it missed`, async () => {
      const a = client(transports);
      const b = client(['websocket']);
      try {
        const auth = waitFor(a, 'auth');
        await Promise.all([connected(a), connected(b)]);
        await auth; // (an event with an offset: what the client shows when it comes back)
        assert.equal(a.recovered, false);
        assert.equal(await withTimeout(a.emitWithAck('is-recovered'), STEP_MS, 'is-recovered'), false);
        assert.equal(await withTimeout(a.emitWithAck('join', 'night'), STEP_MS, 'join'), true);
        const id = a.id;
        const gone = waitFor(a, 'disconnect');
        a.io.engine.close(); // the connection breaks: the server keeps the socket
        await gone;
        b.emit('to-room', { room: 'night', event: 'missed', data: 1 });
        b.emit('to-room', { room: 'night', event: 'missed', data: 2 });
        b.emit('to-room', { room: 'day', event: 'not-mine', data: 3 });
        await withTimeout(b.emitWithAck('whoami'), STEP_MS, 'the emits done');
        const missed = [];
        a.on('missed', (n) => missed.push(n));
        a.on('not-mine', (n) => missed.push(`not mine ${n}`));
        a.connect();
        await connected(a);
        assert.equal(a.recovered, true);
        assert.equal(a.id, id);
        assert.equal(await withTimeout(a.emitWithAck('is-recovered'), STEP_MS, 'is-recovered'), true);
        assert.deepEqual(missed, [1, 2]);
        // still in its room
        const again = waitFor(a, 'later');
        b.emit('to-room', { room: 'night', event: 'later', data: 4 });
        assert.equal((await again)[0], 4); // (then its offset, as socket.io sends it)
      } finally {
        a.close();
        b.close();
      }
    });
  }

  // Under load the new connection can reach the server before the old one's close: the
  // client only reconnects once it saw that connection end, so rtio ends it then. (socket.io
  // starts such a client afresh: its store only holds sockets whose close it processed.)
  it('a client back before its old connection closed on the server takes its socket back; the old connection ends',
    { skip: HOST === 'socketio' && 'socket.io does not recover a socket still connected' }, async () => {
      const a = client(['websocket']);
      const b = io(`http://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports: ['websocket'], autoConnect: false });
      try {
        const auth = waitFor(a, 'auth');
        await connected(a);
        await auth;
        assert.equal(await withTimeout(a.emitWithAck('join', 'night'), STEP_MS, 'join'), true);
        // b is the same client after a break the server has not seen yet: a's private id
        // and last offset, what socket.io-client shows when it reconnects.
        b._pid = a._pid;
        b._lastOffset = a._lastOffset;
        const gone = waitFor(a, 'disconnect');
        b.connect();
        await connected(b);
        assert.equal(b.recovered, true);
        assert.equal(b.id, a.id);
        assert.equal((await gone)[0], 'transport close');
        const again = waitFor(b, 'later');
        b.emit('to-room', { room: 'night', event: 'later', data: 5 });
        assert.equal((await again)[0], 5);
      } finally {
        a.close();
        b.close();
      }
    });

  it('a client that disconnected on purpose starts afresh', async () => {
    const a = client(['websocket']);
    try {
      const auth = waitFor(a, 'auth');
      await connected(a);
      await auth;
      const id = a.id;
      a.disconnect();
      a.connect();
      await connected(a);
      assert.equal(a.recovered, false);
      assert.notEqual(a.id, id);
    } finally {
      a.close();
    }
  });
});

/** Resolves once `socket` connected, rejects on its connect_error. */
const connected = (socket) => withTimeout(new Promise((resolve, reject) => {
  socket.once('connect', resolve);
  socket.once('connect_error', reject);
}), STEP_MS, 'connect');

describe(`${HOST} host: --parser msgpack (socket.io-msgpack-parser)`, { skip: skip('parser') }, () => {
  let server;
  before(async () => {
    server = await startServer(['--parser', 'msgpack', '--no-visits']);
  });
  after(() => server?.stop());

  const client = (transports, options = {}) => io(`http://127.0.0.1:${server.port}`, {
    forceNew: true, reconnection: false, transports, parser: msgpackParser, ...options,
  });
  const args = ['text', Buffer.from([0, 1, 2, 255]), { nested: { list: [1, -2, 2.5, null, true, 'é'], big: 2 ** 40 } }];

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`over ${transports.join(' → ')}: events and acks carry JSON and native binary`, async () => {
      const socket = client(transports);
      try {
        const auth = waitFor(socket, 'auth');
        await connected(socket);
        assert.deepEqual((await auth)[0], {});
        const back = waitFor(socket, 'message-back');
        socket.emit('message', ...args);
        const got = await back;
        assert.equal(got[0], 'text');
        assert.ok(Buffer.isBuffer(got[1]), 'binary arrives as a Buffer');
        assert.deepEqual([...got[1]], [0, 1, 2, 255]);
        assert.deepEqual(got[2], args[2]);
        const acked = await withTimeout(
          new Promise((resolve) => socket.emit('message-with-ack', 'a', Buffer.from('b'), (...r) => resolve(r))),
          STEP_MS, 'ack');
        assert.equal(acked[0], 'a');
        assert.equal(Buffer.from(acked[1]).toString(), 'b');
        assert.equal(await withTimeout(socket.emitWithAck('join', 'room-m'), STEP_MS, 'join'), true);
        const inRoom = waitFor(socket, 'hello');
        socket.emit('to-room', { room: 'room-m', event: 'hello', data: { n: 1 } });
        assert.deepEqual((await inRoom)[0], { n: 1 });
      } finally {
        socket.close();
      }
    });
  }

  it('a middleware refusal reaches the client as a connect_error with its message', async () => {
    const socket = io(`http://127.0.0.1:${server.port}/admin`, {
      forceNew: true, reconnection: false, transports: ['websocket'], parser: msgpackParser, auth: { token: 'wrong' },
    });
    try {
      const error = await withTimeout(new Promise((resolve) => socket.once('connect_error', resolve)), STEP_MS, 'connect_error');
      assert.equal(error.message, 'unauthorized');
    } finally {
      socket.close();
    }
  });

  it('a malformed msgpack message closes that connection only', async () => {
    const good = client(['websocket']);
    const raw = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`);
    const opened = withTimeout(new Promise((resolve) => raw.once('message', resolve)), STEP_MS, 'open packet');
    try {
      await connected(good);
      await opened;
      const closed = withTimeout(new Promise((resolve) => raw.once('close', resolve)), STEP_MS, 'the bad connection closes');
      raw.send(Buffer.from([0x84, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x02, 0xdd, 0xff, 0xff]));
      await closed;
      assert.equal(await withTimeout(good.emitWithAck('whoami'), STEP_MS, 'the other client'), good.id);
    } finally {
      good.close();
      raw.terminate();
    }
  });
});

describe(`${HOST} host: --per-message-deflate (WebSocket permessage-deflate)`, { skip: skip('per-message-deflate') }, () => {
  let server;
  before(async () => {
    server = await startServer(['--per-message-deflate', '--no-visits', '--max-payload', '1000000']);
  });
  after(() => server?.stop());

  it('the official client negotiates it; large messages both ways arrive whole and travel compressed', async () => {
    const socket = io(`http://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports: ['websocket'] });
    try {
      await connected(socket);
      const ws = socket.io.engine.transport.ws;
      assert.match(ws.extensions, /permessage-deflate/);
      const tcp = ws._socket;
      const before = tcp.bytesRead;
      const big = 'socket.io '.repeat(20_000); // 200 KB, compressible
      const back = waitFor(socket, 'message-back');
      socket.emit('message', big, { small: 1 });
      const got = await back;
      assert.equal(got[0], big);
      assert.deepEqual(got[1], { small: 1 });
      const read = tcp.bytesRead - before;
      assert.ok(read < 20_000, `the 200 KB answer took ${read} bytes on the wire`);
    } finally {
      socket.close();
    }
  });

  it('a message that inflates past the size limit closes that connection with 1009; others keep working', async () => {
    const good = io(`http://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports: ['websocket'] });
    const bomb = new WebSocket(`ws://127.0.0.1:${server.port}/socket.io/?EIO=4&transport=websocket`, { perMessageDeflate: true });
    const opened = withTimeout(new Promise((resolve) => bomb.once('message', resolve)), STEP_MS, 'open packet');
    try {
      await connected(good);
      await opened;
      assert.match(bomb.extensions, /permessage-deflate/);
      const closed = withTimeout(new Promise((resolve) => bomb.once('close', resolve)), STEP_MS, 'the bomb closes');
      bomb.send('4' + '0'.repeat(5_000_000), { compress: true });
      assert.equal(await closed, 1009);
      assert.equal(await withTimeout(good.emitWithAck('whoami'), STEP_MS, 'the other client'), good.id);
    } finally {
      good.close();
      bomb.terminate();
    }
  });

  it('a client that does not offer it gets uncompressed messages', async () => {
    const socket = io(`http://127.0.0.1:${server.port}`, {
      forceNew: true, reconnection: false, transports: ['websocket'], perMessageDeflate: false,
    });
    try {
      await connected(socket);
      assert.equal(socket.io.engine.transport.ws.extensions, '');
      const back = waitFor(socket, 'message-back');
      socket.emit('message', 'x'.repeat(5000));
      assert.equal((await back)[0], 'x'.repeat(5000));
    } finally {
      socket.close();
    }
  });
});

describe(`${HOST} host: --eio3 (socket.io-client 2.x beside 4.x)`, { skip: skip('eio3') }, () => {
  let server;
  before(async () => {
    server = await startServer(['--eio3', '--no-visits', '--ping-interval', '400', '--ping-timeout', '400']);
  });
  after(() => server?.stop());

  const v2 = (transports, nsp = '', options = {}) => ioV2(`http://127.0.0.1:${server.port}${nsp}`, {
    forceNew: true, reconnection: false, transports, ...options,
  });
  /** Resolves once a 2.x socket connected; rejects on its connect_error or error. */
  const v2Connected = (socket) => withTimeout(new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', reject);
    socket.once('error', reject);
  }), STEP_MS, 'connect (2.x)');
  const ack = (socket, ...args) => withTimeout(
    new Promise((resolve) => socket.emit(...args, (...r) => resolve(r))), STEP_MS, `ack of ${args[0]}`);

  for (const transports of [['polling'], ['websocket'], ['polling', 'websocket']]) {
    it(`over ${transports.join(' → ')}: connects, emits, acks with binary, joins rooms, hears 4.x clients`, async () => {
      const old = v2(transports);
      const modern = io(`http://127.0.0.1:${server.port}`, { forceNew: true, reconnection: false, transports: ['websocket'] });
      try {
        const auth = waitFor(old, 'auth');
        await Promise.all([v2Connected(old), connected(modern)]);
        assert.deepEqual((await auth)[0], {});
        if (transports.length === 2) {
          await until(() => old.io.engine.transport.name === 'websocket', STEP_MS, 'the upgrade');
        }
        assert.equal((await ack(old, 'whoami'))[0], old.id, 'the socket id is the one the 2.x client uses');
        const back = waitFor(old, 'message-back');
        old.emit('message', 'é😀', Buffer.from([1, 2, 3]), { n: [1, null] });
        const got = await back;
        assert.equal(got[0], 'é😀');
        assert.deepEqual([...got[1]], [1, 2, 3]);
        assert.deepEqual(got[2], { n: [1, null] });
        const acked = await ack(old, 'message-with-ack', 'x', Buffer.from('yz'));
        assert.equal(acked[0], 'x');
        assert.equal(Buffer.from(acked[1]).toString(), 'yz');
        assert.deepEqual(await ack(old, 'join', 'old-room'), [true]);
        const inRoom = waitFor(old, 'news');
        modern.emit('to-room', { room: 'old-room', event: 'news', data: 'from 4.x' });
        assert.deepEqual(await inRoom, ['from 4.x']);
        const heard = waitFor(modern, 'broadcast');
        old.emit('broadcast', { from: '2.x' });
        assert.deepEqual((await heard)[0], { from: '2.x' });
        // The 2.x client pings (every 400 ms here) and the server answers.
        await withTimeout(new Promise((resolve) => {
          let pongs = 0;
          old.io.on('pong', () => { if (++pongs === 2) resolve(); });
        }), 4 * STEP_MS, 'two pongs');
        assert.equal(old.connected, true);
      } finally {
        old.close();
        modern.close();
      }
    });
  }

  it('a namespace with a middleware gets the query as auth; a refusal is an error event', async () => {
    const ok = v2(['websocket'], '/admin', { query: { token: 'secret' } });
    const refused = v2(['polling'], '/admin', { query: { token: 'nope' } });
    const error = withTimeout(new Promise((resolve) => refused.once('error', resolve)), STEP_MS, 'error');
    try {
      const hello = waitFor(ok, 'admin-hello');
      await v2Connected(ok);
      assert.deepEqual((await hello)[0], { id: ok.id });
      assert.equal(ok.id, `/admin#${ok.io.engine.id}`);
      assert.equal(await error, 'unauthorized');
    } finally {
      ok.close();
      refused.close();
    }
  });

  it('a 2.x client whose server has no --eio3 is refused', async () => {
    const plain = await startServer(['--no-visits']);
    const old = ioV2(`http://127.0.0.1:${plain.port}`, { forceNew: true, reconnection: false, transports: ['polling'] });
    try {
      await withTimeout(new Promise((resolve) => old.once('connect_error', resolve)), STEP_MS, 'connect_error');
      assert.equal(old.connected, false);
    } finally {
      old.close();
      await plain.stop();
    }
  });
});
