// Engine.IO session rules as engine.io 6.6 applies them, proven on the wire (raw HTTP and
// WebSocket, no client library): when a session ends and what its sid gets afterwards, what
// a duplicate or malformed WebSocket handshake gets, and the request gate (allowRequest).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import {
  HOST,
  startServer,
  http,
  io,
  PollingSession,
  RawWebSocket,
  withTimeout,
  waitFor,
} from './harness.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const SLACK = 700; // scheduling noise allowed on top of a deadline (2 shared cores)
const UNKNOWN = { code: 1, message: 'Session ID unknown' };

let server; // defaults, --no-visits
let fast; // short heartbeat
before(async () => {
  server = await startServer(['--no-visits']);
  fast = await startServer(['--ping-interval', String(PING_INTERVAL), '--ping-timeout', String(PING_TIMEOUT), '--no-visits']);
});
after(async () => {
  await server?.stop();
  await fast?.stop();
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The answer of a request with an sid the server no longer knows. */
function assertUnknown(res, what) {
  assert.equal(res.status, 400, `${what}: expected 400 "Session ID unknown", got ${res.status} ${res.body}`);
  assert.deepEqual(JSON.parse(res.body), UNKNOWN, what);
}

/** A polling session that joined `/` (the CONNECT answer and `auth` collected). */
async function joined(srv) {
  const session = new PollingSession(srv);
  await session.open();
  assert.equal((await session.post(['40'])).status, 200);
  await session.collect({ count: 2 });
  return session;
}

/** Sends a raw HTTP/1.1 request head and resolves with the response head (status, headers). */
function rawHead(srv, head) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      let data = '';
      sock.setEncoding('latin1');
      sock.on('data', (chunk) => {
        data += chunk;
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const [statusLine, ...lines] = data.slice(0, end).split('\r\n');
        const headers = Object.fromEntries(
          lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
        );
        sock.destroy();
        resolve({ status: Number(statusLine.split(' ')[1]), headers });
      });
      sock.on('error', reject);
      sock.write(head);
    }),
    5000,
    'the answer to a raw request',
  );
}

function upgradeHead(srv, { version = '13', key = 'dGhlIHNhbXBsZSBub25jZQ==', query = '' } = {}) {
  return (
    `GET /socket.io/?EIO=4&transport=websocket${query} HTTP/1.1\r\n` +
    `Host: 127.0.0.1:${srv.port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    `Sec-WebSocket-Key: ${key}\r\n${version === null ? '' : `Sec-WebSocket-Version: ${version}\r\n`}\r\n`
  );
}

describe(`${HOST} host, when a polling session ends (--ping-interval ${PING_INTERVAL} --ping-timeout ${PING_TIMEOUT})`, () => {
  it('a session whose client never polls again is gone at pingInterval + pingTimeout: GET and POST get 400', async () => {
    const session = await joined(fast);
    const opened = Date.now();
    // no GET at all: the ping is queued and never fetched
    await sleep(PING_INTERVAL + PING_TIMEOUT + SLACK);
    assertUnknown(await session.get(), 'GET after the deadline');
    assertUnknown(await session.post(['42["message",1]']), 'POST after the deadline');
    assert.ok(Date.now() - opened >= PING_INTERVAL + PING_TIMEOUT);
  });

  it('a session whose client fetched the ping but never answered it is gone at the deadline (no stale 200)', async () => {
    const session = await joined(fast);
    let res;
    do {
      res = await session.get({ timeout: PING_INTERVAL + SLACK });
      assert.equal(res.status, 200);
    } while (!res.packets.includes('2'));
    await sleep(PING_TIMEOUT + SLACK);
    assertUnknown(await session.get(), 'GET after the ping timeout');
  });

  it('a session still answering pings lives on', async () => {
    const session = await joined(fast);
    const until = Date.now() + 3 * (PING_INTERVAL + PING_TIMEOUT);
    let pongs = 0;
    while (Date.now() < until) {
      const res = await session.get({ timeout: PING_INTERVAL + SLACK });
      assert.equal(res.status, 200, `the session was closed: ${res.body}`);
      if (res.packets.includes('2')) {
        pongs++;
        assert.equal((await session.post(['3'])).status, 200);
      }
    }
    assert.ok(pongs >= 2, `answered ${pongs} pings`);
  });

  // engine.io itself answers such a POST 200 "ok" (and closes the session); rtio tells the
  // client with a 400.
  it('a POST that is not a payload (`abc`) is answered 400 and closes the session', { skip: HOST === 'socketio' }, async () => {
    const session = await joined(server);
    const res = await session.post('abc');
    assert.equal(res.status, 400, `answered ${res.status} ${res.body}`);
    assertUnknown(await session.get(), 'GET after the malformed POST');
  });

  // engine.io answers 413 and keeps the session; rtio closes it, as the client does anyway.
  it('a POST over maxHttpBufferSize is answered 413 (not cut) and closes the session', { skip: HOST === 'socketio' }, async () => {
    for (const size of [1_000_001, 3_000_000]) {
      const session = await joined(server);
      const res = await session.post(`4${'x'.repeat(size)}`);
      assert.equal(res.status, 413, `a ${size}-byte body answered ${res.status}`);
      assertUnknown(await session.get(), `GET after the ${size}-byte POST`);
    }
  });

  it('a POST of `1` while a GET is pending: the GET gets the noop `6`, then the sid is unknown', async () => {
    const session = await joined(server);
    const pending = session.get();
    await sleep(100); // the GET is waiting on the server
    assert.equal((await session.post(['1'])).status, 200);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body, '6');
    assertUnknown(await session.get(), 'GET after the client closed');
    assertUnknown(await session.post(['40']), 'POST after the client closed');
  });
});

describe(`${HOST} host, WebSocket handshakes`, () => {
  it('a WebSocket for a session that already upgraded is opened and closed at once; the session carries on', async () => {
    const session = await joined(server);
    const sid = encodeURIComponent(session.sid);
    const ws = await RawWebSocket.open(server, `&sid=${sid}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    ws.send('5');
    ws.send('421["whoami"]');
    const [whoami] = [await ws.next()];
    assert.match(whoami, /^431\["/);

    const second = await RawWebSocket.open(server, `&sid=${sid}`);
    await second.waitClosed();
    assert.deepEqual(second.queue, [], 'nothing is sent on the duplicate');

    ws.send('422["whoami"]');
    assert.equal(await ws.next(), whoami.replace('431', '432'), 'the session carries on');
    ws.close();
  });

  it('a WebSocket for a session that is upgrading is opened and closed at once; the upgrade completes', async () => {
    const session = await joined(server);
    const sid = encodeURIComponent(session.sid);
    const ws = await RawWebSocket.open(server, `&sid=${sid}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');

    const second = await RawWebSocket.open(server, `&sid=${sid}`);
    second.send('2probe');
    await second.waitClosed();
    assert.deepEqual(second.queue, [], 'the duplicate gets no 3probe');

    ws.send('5');
    ws.send('421["whoami"]');
    assert.match(await ws.next(), /^431\["/);
    ws.close();
  });

  // engine.io's `ws` also accepts version 8 (a pre-RFC draft); rtio speaks RFC 6455 only.
  // Under uvicorn (python-asgi) the server's WebSocket library answers before the app: 426
  // Upgrade Required, which RFC 6455 §4.4 allows as well.
  it('a WebSocket upgrade with Sec-WebSocket-Version other than 13 is refused with 400 and `Sec-WebSocket-Version: 13`', { skip: HOST === 'socketio' }, async () => {
    const refusal = HOST === 'python-asgi' ? [400, 426] : [400];
    for (const version of ['8', '12', '14', null]) {
      const res = await rawHead(server, upgradeHead(server, { version }));
      assert.ok(refusal.includes(res.status), `version ${version}: answered ${res.status}`);
      assert.equal(res.headers['sec-websocket-version'], '13', `version ${version}`);
    }
    const ok = await rawHead(server, upgradeHead(server));
    assert.equal(ok.status, 101, 'version 13 is upgraded');
  });

  it('a WebSocket upgrade with a malformed Sec-WebSocket-Key is refused with 400', async () => {
    for (const key of ['', 'short', 'dGhlIHNhbXBsZSBub25jZQ', 'dGhlIHNhbXBsZSBub25j!Q==']) {
      const res = await rawHead(server, upgradeHead(server, { key }));
      assert.equal(res.status, 400, `key ${JSON.stringify(key)}: answered ${res.status}`);
    }
  });
});

// The request gate: the Rust, C and Node scenarios servers refuse handshakes whose query has
// `deny=1` (allowRequest). Python has no allowRequest: its origin checks are tested with the
// Python binding.
describe(`${HOST} host, the request gate (allowRequest)`, { skip: !['rust', 'c', 'node', 'socketio'].includes(HOST) }, () => {
  const DENIED = { code: 4, message: 'denied by the request gate' };

  it('a refused polling handshake gets 403 with the message; an allowed one opens', async () => {
    const res = await http(server, '/socket.io/?EIO=4&transport=polling&deny=1');
    assert.equal(res.status, 403);
    assert.deepEqual(JSON.parse(res.body), DENIED);
    const ok = await http(server, '/socket.io/?EIO=4&transport=polling&deny=0');
    assert.equal(ok.status, 200);
    assert.equal(ok.body[0], '0');
  });

  it('a refused WebSocket handshake is not upgraded', async () => {
    const raw = new RawWebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket&deny=1`);
    await assert.rejects(withTimeout(raw.opened, 3000, 'the upgrade'), /upgrade refused: HTTP (400|403)/);
  });

  for (const transports of [['polling'], ['websocket']]) {
    it(`socket.io-client over ${transports[0]} gets connect_error when refused, connects when allowed`, async () => {
      const refused = io(server.url, { transports, query: { deny: 1 }, reconnection: false, forceNew: true });
      try {
        const [err] = await waitFor(refused, 'connect_error');
        assert.ok(err instanceof Error);
        assert.equal(refused.connected, false);
      } finally {
        refused.close();
      }
      const allowed = io(server.url, { transports, query: { deny: 0 }, reconnection: false, forceNew: true });
      try {
        await waitFor(allowed, 'connect');
      } finally {
        allowed.close();
      }
    });
  }
});
