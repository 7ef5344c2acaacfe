// The wire protocol itself, without socket.io-client: Engine.IO v4 over HTTP long-polling
// (fetch) and WebSocket (ws), Socket.IO v5 packets on top, the HTTP error answers, the
// heartbeat, the probe upgrade, and the rest of the HTTP surface (CORS, home page, bundle).
// What is asserted is what real engine.io 6.6 / socket.io 4.8 answer.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOST,
  SEP,
  startServer,
  http,
  PollingSession,
  RawWebSocket,
  rawSocketIo,
  parseSocketIo,
  withTimeout,
  expectSessionClosed,
} from './harness.mjs';

const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const CONNECT_TIMEOUT = 600;
const SLACK = 700; // scheduling noise allowed on top of a deadline (2 shared cores)

let server; // defaults, --no-visits: `auth` is the only packet sent unprompted
let fast; // short heartbeat and connect timeout
before(async () => {
  server = await startServer(['--no-visits']);
  fast = await startServer([
    '--ping-interval', String(PING_INTERVAL),
    '--ping-timeout', String(PING_TIMEOUT),
    '--connect-timeout', String(CONNECT_TIMEOUT),
    '--no-visits',
  ]);
});
after(async () => {
  await server?.stop();
  await fast?.stop();
});

/** A polling session connected to `/` (CONNECT sent, `40{sid}` and `auth` received). */
async function pollingSocketIo(srv = server) {
  const session = new PollingSession(srv);
  await session.open();
  const res = await session.post(['40']);
  assert.equal(res.status, 200);
  const [connected, auth] = await session.collect({ count: 2 });
  assert.equal(parseSocketIo(connected).type, 0);
  session.socketId = parseSocketIo(connected).data.sid;
  assert.equal(auth, '42["auth",{}]');
  return session;
}

describe(`${HOST} host, Engine.IO v4 over HTTP long-polling`, () => {
  it('handshake: GET answers `0{sid, upgrades, pingInterval, pingTimeout, maxPayload}`', async () => {
    const res = await http(server, '/socket.io/?EIO=4&transport=polling');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/plain/);
    assert.ok(!res.body.includes(SEP), `a single packet: ${res.body}`);
    assert.equal(res.body[0], '0');
    const open = JSON.parse(res.body.slice(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.equal(typeof open.sid, 'string');
    assert.ok(open.sid.length > 0);
    assert.deepEqual(open.upgrades, ['websocket']);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(open.maxPayload, 1000000);
    const other = await new PollingSession(server).open();
    assert.notEqual(other.sid, open.sid, 'every handshake gets a new sid');
  });

  it('POST answers 200 "ok"; packets in both directions are separated by \\x1e, in order', async () => {
    const session = new PollingSession(server);
    await session.open();
    const res = await session.post(['40']);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    const [connected, auth] = await session.collect({ count: 2 });
    const connect = parseSocketIo(connected);
    assert.equal(connect.type, 0);
    assert.deepEqual(Object.keys(connect.data), ['sid']);
    assert.notEqual(connect.data.sid, session.sid, 'the Socket.IO id is not the Engine.IO sid');
    assert.equal(auth, '42["auth",{}]');

    await session.post(['42["message",1]', '42["message","two"]', '423["whoami"]', '42["message",{"three":[3]}]']);
    const packets = await session.collect({ count: 4 });
    assert.deepEqual(packets.map(parseSocketIo), [
      { type: 2, attachments: undefined, nsp: '/', id: undefined, data: ['message-back', 1] },
      { type: 2, attachments: undefined, nsp: '/', id: undefined, data: ['message-back', 'two'] },
      { type: 3, attachments: undefined, nsp: '/', id: 3, data: [connect.data.sid] },
      { type: 2, attachments: undefined, nsp: '/', id: undefined, data: ['message-back', { three: [3] }] },
    ]);
  });

  it('packets the server queued while no GET was pending come in one GET, separated by \\x1e', async () => {
    const session = await pollingSocketIo();
    await session.post([20, 40, 60, 80, 100].map((ms, i) => `42["later",{"ms":${ms},"event":"batch","data":${i}}]`));
    // deliberately no GET for a while, so that the server has to queue the five packets
    await new Promise((resolve) => setTimeout(resolve, 500));
    const res = await session.get();
    assert.equal(res.status, 200);
    assert.deepEqual(res.packets, [0, 1, 2, 3, 4].map((i) => `42["batch",${i}]`));
  });

  it('binary over polling: `b`-prefixed base64 attachments, placeholders in order', async () => {
    const session = await pollingSocketIo();
    await session.post(['451-["message",{"_placeholder":true,"num":0}]', 'bAQID']);
    const [echoHead, echoData] = await session.collect({ count: 2 });
    assert.deepEqual(parseSocketIo(echoHead), {
      type: 5,
      attachments: 1,
      nsp: '/',
      id: undefined,
      data: ['message-back', { _placeholder: true, num: 0 }],
    });
    assert.equal(echoData, 'bAQID');

    // two attachments nested in objects and arrays, the second one empty
    await session.post([
      '452-["message",{"a":{"_placeholder":true,"num":0}},[1,{"_placeholder":true,"num":1}]]',
      'b/w==',
      'b',
    ]);
    const [head, first, second] = await session.collect({ count: 3 });
    const packet = parseSocketIo(head);
    assert.equal(packet.type, 5);
    assert.equal(packet.attachments, 2);
    const placeholders = [packet.data[1].a, packet.data[2][1]];
    assert.deepEqual(packet.data[0], 'message-back');
    const attachments = [first, second].map((p) => {
      assert.equal(p[0], 'b');
      return Buffer.from(p.slice(1), 'base64');
    });
    const byNum = placeholders.map((ph) => {
      assert.equal(ph._placeholder, true);
      return attachments[ph.num].toString('hex');
    });
    assert.deepEqual(byNum, ['ff', '']);

    // binary ack: 451-<id>[…] is answered by 461-<id>[…]
    await session.post(['451-12["message-with-ack",{"_placeholder":true,"num":0}]', 'bAAEC']);
    const [ackHead, ackData] = await session.collect({ count: 2 });
    assert.deepEqual(parseSocketIo(ackHead), {
      type: 6,
      attachments: 1,
      nsp: '/',
      id: 12,
      data: [{ _placeholder: true, num: 0 }],
    });
    assert.equal(ackData, 'bAAEC');
  });

  it('the client close packet `1` ends the session', async () => {
    const session = await pollingSocketIo();
    assert.equal((await session.post(['1'])).status, 200);
    await expectSessionClosed(session);
  });

  it('kick-me over polling: `41` then the session is closed', async () => {
    const session = await pollingSocketIo();
    await session.post(['42["kick-me"]']);
    const [disconnect] = await session.collect({ count: 1 });
    assert.equal(disconnect, '41');
    await expectSessionClosed(session);
  });

  it('a second concurrent GET on one session: HTTP 400 and the session is closed', async () => {
    const session = await pollingSocketIo();
    // whichever of the two the server sees second is refused; the other one then ends with
    // the close packet
    const [a, b] = await Promise.all([session.get(), session.get()]);
    const refused = [a, b].filter((r) => r.status === 400);
    const closed = [a, b].filter((r) => r.status === 200);
    assert.equal(refused.length, 1, `one GET is refused: ${a.status} ${b.status}`);
    assert.equal(closed.length, 1);
    assert.ok(closed[0].packets.includes('1'), `the pending GET gets the close packet: ${JSON.stringify(closed[0].body)}`);
    const after = await session.get();
    assert.equal(after.status, 400);
    assert.deepEqual(JSON.parse(after.body), { code: 1, message: 'Session ID unknown' });
  });

  it('namespaces over polling: /custom, /admin refused and accepted, unknown namespace', async () => {
    const session = await pollingSocketIo();
    await session.post(['40/custom,{"k":1}', '40/admin,{"token":"nope"}', '40/nope,', '40/admin,{"token":"secret"}']);
    const packets = await session.collect({ count: 6 });
    const custom = packets.filter((p) => p.startsWith('40/custom,') || p.startsWith('42/custom,'));
    assert.equal(parseSocketIo(custom[0]).type, 0);
    assert.equal(custom[1], '42/custom,["auth",{"k":1}]');
    assert.ok(packets.includes('44/admin,{"message":"unauthorized"}'), JSON.stringify(packets));
    assert.ok(packets.includes('44/nope,{"message":"Invalid namespace"}'), JSON.stringify(packets));
    const adminConnect = packets.find((p) => p.startsWith('40/admin,'));
    const adminId = parseSocketIo(adminConnect).data.sid;
    assert.ok(packets.includes(`42/admin,["admin-hello",{"id":"${adminId}"}]`), JSON.stringify(packets));
  });
});

describe(`${HOST} host, Engine.IO v4 over WebSocket`, () => {
  it('a websocket-only connection without prior handshake gets `0{…}` with upgrades []', async () => {
    const raw = await RawWebSocket.open(server);
    const first = await raw.next();
    assert.equal(typeof first, 'string');
    assert.equal(first[0], '0');
    const open = JSON.parse(first.slice(1));
    assert.deepEqual(Object.keys(open).sort(), ['maxPayload', 'pingInterval', 'pingTimeout', 'sid', 'upgrades']);
    assert.deepEqual(open.upgrades, []);
    assert.equal(open.pingInterval, 25000);
    assert.equal(open.pingTimeout, 20000);
    assert.equal(open.maxPayload, 1000000);
    raw.send('40');
    const connect = parseSocketIo(await raw.next());
    assert.equal(connect.type, 0);
    assert.equal(await raw.next(), '42["auth",{}]');
    raw.send('42["message","hi",{"n":1}]');
    assert.equal(await raw.next(), '42["message-back","hi",{"n":1}]');
    raw.send('425["whoami"]');
    assert.equal(await raw.next(), `435["${connect.data.sid}"]`);
    raw.close();
  });

  it('binary over websocket: attachments are binary frames (no prefix), after their packet', async () => {
    const raw = await rawSocketIo(server);
    await raw.next(); // auth
    raw.send('452-["message",{"_placeholder":true,"num":0},[{"_placeholder":true,"num":1}]]');
    raw.send(Buffer.from([1, 2, 3]));
    raw.send(Buffer.from([]));
    const head = parseSocketIo(await raw.next());
    assert.equal(head.type, 5);
    assert.equal(head.attachments, 2);
    assert.equal(head.data[0], 'message-back');
    const frames = [await raw.next(), await raw.next()];
    for (const frame of frames) assert.ok(Buffer.isBuffer(frame), 'a binary frame');
    const ordered = [head.data[1], head.data[2][0]].map((ph) => frames[ph.num].toString('hex'));
    assert.deepEqual(ordered, ['010203', '']);

    raw.send('451-7["message-with-ack",{"_placeholder":true,"num":0}]');
    raw.send(Buffer.from([9]));
    assert.deepEqual(parseSocketIo(await raw.next()), {
      type: 6,
      attachments: 1,
      nsp: '/',
      id: 7,
      data: [{ _placeholder: true, num: 0 }],
    });
    assert.deepEqual(await raw.next(), Buffer.from([9]));
    raw.close();
  });

  it('probe upgrade: 2probe → 3probe, the pending GET is flushed with a noop `6`, then 5', async () => {
    const session = await pollingSocketIo();
    const pending = session.get({ timeout: 5000 });
    const ws = await RawWebSocket.open(server, `&sid=${encodeURIComponent(session.sid)}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    const flushed = await pending;
    assert.equal(flushed.status, 200);
    assert.deepEqual(flushed.packets, ['6'], 'the pending GET ends with a noop');
    ws.send('5');
    // from now on the session lives on the websocket
    ws.send('42["message","over websocket"]');
    assert.equal(await ws.next(), '42["message-back","over websocket"]');
    ws.send('421["whoami"]');
    assert.equal(await ws.next(), `431["${session.socketId}"]`);
    // polling requests for an upgraded session are bad requests
    const get = await session.get();
    assert.equal(get.status, 400);
    assert.deepEqual(JSON.parse(get.body), { code: 3, message: 'Bad request' });
    ws.close();
  });

  it('packets sent by the server during the upgrade are not lost', async () => {
    const session = await pollingSocketIo();
    const ws = await RawWebSocket.open(server, `&sid=${encodeURIComponent(session.sid)}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    // still on polling: ask for a message to be sent soon, during the upgrade
    await session.post(['42["later",{"ms":50,"event":"during","data":1}]']);
    const got = await session.collect({ until: (p) => p.length >= 1, timeout: 2000 }).catch(() => []);
    ws.send('5');
    const received = [...got];
    if (!received.includes('42["during",1]')) received.push(await ws.next());
    assert.ok(received.includes('42["during",1]'), JSON.stringify(received));
    ws.close();
  });

  it('a second upgrade of the same session is refused', async () => {
    const session = await pollingSocketIo();
    const ws = await RawWebSocket.open(server, `&sid=${encodeURIComponent(session.sid)}`);
    ws.send('2probe');
    assert.equal(await ws.next(), '3probe');
    ws.send('5');
    ws.send('421["whoami"]');
    assert.equal(await ws.next(), `431["${session.socketId}"]`);
    const second = new RawWebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket&sid=${encodeURIComponent(session.sid)}`);
    // either the upgrade request is refused, or the websocket is closed right away
    try {
      await withTimeout(second.opened, 3000, 'the second websocket');
      await second.waitClosed();
    } catch (err) {
      assert.match(err.message, /upgrade refused/);
    }
    assert.deepEqual(second.queue, [], 'nothing is sent on the refused websocket');
    ws.send('422["whoami"]');
    assert.equal(await ws.next(), `432["${session.socketId}"]`, 'the first websocket still works');
    ws.close();
  });

  it('kick-me over websocket: `41`, then the server closes the connection', async () => {
    const raw = await rawSocketIo(server);
    await raw.next(); // auth
    raw.send('42["kick-me"]');
    assert.equal(await raw.next(), '41');
    await raw.waitClosed();
  });

  it('namespaces over websocket: raw CONNECT / CONNECT_ERROR packets', async () => {
    const raw = await rawSocketIo(server);
    await raw.next(); // auth
    raw.send('40/admin,{"token":"x"}');
    assert.equal(await raw.next(), '44/admin,{"message":"unauthorized"}');
    raw.send('40/nope,');
    assert.equal(await raw.next(), '44/nope,{"message":"Invalid namespace"}');
    raw.send('40/custom,');
    const custom = parseSocketIo(await raw.next());
    assert.equal(custom.nsp, '/custom');
    assert.equal(custom.type, 0);
    assert.equal(await raw.next(), '42/custom,["auth",{}]');
    raw.send('41/custom,'); // leave /custom; / is still connected
    raw.send('423["whoami"]');
    assert.equal(await raw.next(), `433["${raw.sid}"]`);
    raw.close();
  });
});

describe(`${HOST} host, heartbeat and connect timeout (--ping-interval ${PING_INTERVAL} --ping-timeout ${PING_TIMEOUT} --connect-timeout ${CONNECT_TIMEOUT})`, () => {
  it('websocket: the server pings every pingInterval and closes when no pong comes within pingTimeout', async () => {
    const opened = Date.now();
    const raw = await RawWebSocket.open(fast);
    const open = JSON.parse((await raw.next()).slice(1));
    assert.equal(open.pingInterval, PING_INTERVAL);
    assert.equal(open.pingTimeout, PING_TIMEOUT);
    raw.send('40');
    await raw.next(); // 40{sid}
    await raw.next(); // auth
    for (let i = 0; i < 2; i++) {
      assert.equal(await raw.next(PING_INTERVAL + SLACK), '2', 'a bare ping');
      raw.send('3');
    }
    const elapsed = Date.now() - opened;
    assert.ok(elapsed >= 2 * PING_INTERVAL - 50, `two pings after ${elapsed} ms`);
    assert.equal(await raw.next(PING_INTERVAL + SLACK), '2');
    const pinged = Date.now();
    await raw.waitClosed(PING_TIMEOUT + SLACK); // no pong
    assert.ok(Date.now() - pinged >= PING_TIMEOUT - 50, `closed ${Date.now() - pinged} ms after the ping`);
  });

  it('polling: the ping comes in a GET; without pong the session is closed', async () => {
    const session = new PollingSession(fast);
    await session.open();
    await session.post(['40']);
    const started = Date.now();
    await session.collect({ count: 2 }); // answers pings if any
    let packets = [];
    while (!packets.includes('2')) {
      const res = await session.get({ timeout: PING_INTERVAL + SLACK });
      assert.equal(res.status, 200);
      packets = res.packets;
    }
    assert.ok(Date.now() - started >= PING_INTERVAL - 50);
    assert.equal((await session.post(['3'])).status, 200);
    // the next ping goes unanswered
    const next = await session.get({ timeout: PING_INTERVAL + SLACK });
    assert.deepEqual(next.packets, ['2']);
    await expectSessionClosed(session);
  });

  it('pongs keep a connection alive past several ping timeouts', async () => {
    const raw = await RawWebSocket.open(fast, '', { autoPong: true });
    await raw.next(); // open
    raw.send('40');
    await raw.next();
    await raw.next(); // auth
    // a `later` of 4 ping intervals comes back only if the connection survived
    raw.send(`42["later",{"ms":${4 * PING_INTERVAL},"event":"still-alive","data":true}]`);
    assert.equal(await raw.next(4 * PING_INTERVAL + SLACK), '42["still-alive",true]');
    assert.ok(raw.pings >= 3, `answered ${raw.pings} pings`);
    raw.close();
  });

  it('a connection that joins no namespace within --connect-timeout is closed', async () => {
    const started = Date.now();
    const raw = await RawWebSocket.open(fast, '', { autoPong: true });
    await raw.next(); // open
    await raw.waitClosed(CONNECT_TIMEOUT + SLACK);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= CONNECT_TIMEOUT - 50, `closed after ${elapsed} ms`);
  });
});

describe(`${HOST} host, HTTP error answers (400 with JSON {code, message})`, () => {
  const cases = [
    ['GET', '?EIO=4&transport=unknown', 0, 'Transport unknown'],
    ['GET', '?EIO=4', 0, 'Transport unknown'],
    ['POST', '?EIO=4&transport=unknown', 0, 'Transport unknown'],
    ['GET', '?EIO=4&transport=polling&sid=does-not-exist', 1, 'Session ID unknown'],
    ['POST', '?EIO=4&transport=polling&sid=does-not-exist', 1, 'Session ID unknown'],
    ['GET', '?EIO=4&transport=websocket&sid=does-not-exist', 1, 'Session ID unknown'],
    ['POST', '?EIO=4&transport=polling', 2, 'Bad handshake method'],
    ['PUT', '?EIO=4&transport=polling', 2, 'Bad handshake method'],
    ['GET', '?EIO=4&transport=websocket', 3, 'Bad request'],
    ['GET', '?EIO=3&transport=polling', 5, 'Unsupported protocol version'],
    ['GET', '?EIO=5&transport=polling', 5, 'Unsupported protocol version'],
    ['GET', '?transport=polling', 5, 'Unsupported protocol version'],
  ];
  for (const [method, query, code, message] of cases) {
    it(`${method} /socket.io/${query} → ${code} "${message}"`, async () => {
      const res = await http(server, `/socket.io/${query}`, { method, body: method === 'GET' ? undefined : '40' });
      assert.equal(res.status, 400);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.deepEqual(JSON.parse(res.body), { code, message });
    });
  }

  it('a websocket upgrade with an unknown sid is refused with HTTP 400', async () => {
    const raw = new RawWebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket&sid=does-not-exist`);
    await assert.rejects(withTimeout(raw.opened, 3000, 'the upgrade'), /upgrade refused: HTTP 400/);
  });
});

describe(`${HOST} host, HTTP surface`, () => {
  it('CORS: the Origin is echoed with credentials allowed, on GET, POST and the preflight', async () => {
    const origin = 'http://example.test:8080';
    const session = new PollingSession(server);
    const get = await http(server, session.query(), { headers: { Origin: origin } });
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('access-control-allow-origin'), origin);
    assert.equal(get.headers.get('access-control-allow-credentials'), 'true');
    session.sid = JSON.parse(get.body.slice(1)).sid;

    const preflight = await http(server, session.query(), {
      method: 'OPTIONS',
      headers: {
        Origin: origin,
        'Access-Control-Request-Method': 'POST',
        'Access-Control-Request-Headers': 'content-type',
      },
    });
    assert.ok([200, 204].includes(preflight.status), `preflight answered ${preflight.status}`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /content-type/i);

    const post = await http(server, session.query(), {
      method: 'POST',
      body: '40',
      headers: { Origin: origin, 'Content-Type': 'text/plain;charset=UTF-8' },
    });
    assert.equal(post.status, 200);
    assert.equal(post.headers.get('access-control-allow-origin'), origin);
    assert.equal(post.headers.get('access-control-allow-credentials'), 'true');
  });

  it('GET / answers 200 with a small HTML page', async () => {
    const res = await http(server, '/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.body, /<html|<!doctype html/i);
  });

  it('GET /socket.io/socket.io.js serves the socket.io-client 4.8 bundle', async () => {
    const res = await http(server, '/socket.io/socket.io.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.match(res.body.slice(0, 200), /Socket\.IO v4\.8\./);
  });

  it('the server printed nothing on stdout after READY', () => {
    assert.deepEqual(server.extraStdout, []);
    assert.deepEqual(fast.extraStdout, []);
  });
});
