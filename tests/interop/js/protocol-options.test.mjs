// The protocol options of SCENARIOS.md that a host has (issue 19), with the official
// socket.io-client: --tls-cert/--tls-key (HTTPS and WSS on the server's own port),
// --cookie NAME (engine.io's session cookie on the handshake) and --recovery MS (connection
// state recovery, with the `is-recovered` row). A host without an option yet
// skips its tests, saying so.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HOST, STEP_MS, io, startServer, waitFor, withTimeout } from './harness.mjs';

/** Which hosts have which option today. */
const HAS = {
  tls: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-asgi', 'python-aiohttp']),
  cookie: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-asgi', 'python-aiohttp', 'python-wsgi']),
  recovery: new Set(['rust', 'c', 'socketio', 'node', 'node-http', 'python', 'python-async', 'python-wsgi', 'python-asgi', 'python-aiohttp']),
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
