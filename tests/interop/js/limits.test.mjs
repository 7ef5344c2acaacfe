// Limits: messages over --max-payload and malformed packets close only the offending
// connection; every other client keeps working.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOST,
  SETUPS,
  startServer,
  connect,
  closeAllClients,
  rawSocketIo,
  RawWebSocket,
  PollingSession,
  assertPayload,
  expectSessionClosed,
} from './harness.mjs';

const MAX_PAYLOAD = 10_000;

let server;
let bystanders; // one client per transport setup, connected for the whole file

before(async () => {
  server = await startServer(['--max-payload', String(MAX_PAYLOAD), '--no-visits']);
  bystanders = [];
  for (const setup of Object.keys(SETUPS)) bystanders.push(await connect(server, { setup }));
});
after(async () => {
  closeAllClients();
  await server?.stop();
});

/** Every bystander is still connected and served. */
async function bystandersStillServed() {
  for (const client of bystanders) {
    assert.deepEqual(client.since(0, '@disconnect'), [], `${client.describe()} was disconnected`);
    assert.equal(await client.call('whoami'), client.id, `${client.describe()} still served`);
    client.emit('message', 'still here', Buffer.from([1]));
    assertPayload(await client.next('message-back'), ['still here', Buffer.from([1])]);
  }
}

describe(`${HOST} host, --max-payload ${MAX_PAYLOAD}`, () => {
  afterEach(bystandersStillServed);

  it('announces maxPayload in the handshake', async () => {
    const session = new PollingSession(server);
    const handshake = await session.open();
    assert.equal(handshake.maxPayload, MAX_PAYLOAD);
  });

  it('a websocket text message just under the limit is fine', async () => {
    const raw = await rawSocketIo(server);
    assert.equal(await raw.nextData(), '42["auth",{}]');
    const text = 'x'.repeat(MAX_PAYLOAD - 100);
    raw.send(`42["message","${text}"]`);
    const back = await raw.nextData();
    assert.ok(back === `42["message-back","${text}"]`, `unexpected answer (${back.length} chars): ${back.slice(0, 80)}…`);
    raw.close();
  });

  it('a websocket text message over the limit closes that connection with code 1009', async () => {
    const raw = await rawSocketIo(server);
    raw.send(`42["message","${'x'.repeat(MAX_PAYLOAD + 100)}"]`);
    const { code } = await raw.waitClosed();
    assert.equal(code, 1009);
  });

  it('a websocket binary message over the limit closes that connection with code 1009', async () => {
    const raw = await rawSocketIo(server);
    raw.send('451-["message",{"_placeholder":true,"num":0}]');
    raw.send(Buffer.alloc(MAX_PAYLOAD + 100, 7));
    const { code } = await raw.waitClosed();
    assert.equal(code, 1009);
  });

  it('a socket.io-client emitting too much over websocket is disconnected', async () => {
    const client = await connect(server, { setup: 'websocket' });
    client.emit('message', 'y'.repeat(MAX_PAYLOAD * 2));
    const [reason] = await client.next('@disconnect');
    assert.equal(reason, 'transport close');
  });

  it('a polling POST just under the limit is fine', async () => {
    const session = new PollingSession(server);
    await session.open();
    assert.equal((await session.post(['40'])).status, 200);
    await session.collect({ count: 2 }); // 40{sid}, auth
    const text = 'x'.repeat(MAX_PAYLOAD - 100);
    const res = await session.post([`42["message","${text}"]`]);
    assert.equal(res.status, 200);
    assert.equal(res.body, 'ok');
    const back = await session.collect({ count: 1 });
    assert.ok(back.length === 1 && back[0] === `42["message-back","${text}"]`, `unexpected answer: ${String(back).slice(0, 80)}…`);
  });

  it('a polling POST body over the limit is answered with HTTP 413', async () => {
    const session = new PollingSession(server);
    await session.open();
    await session.post(['40']);
    await session.collect({ count: 2 });
    const res = await session.post([`42["message","${'x'.repeat(MAX_PAYLOAD + 100)}"]`]);
    assert.equal(res.status, 413);
    // engine.io keeps the session open after a 413; rtio closes it (issue 15)
    if (HOST !== 'socketio') await expectSessionClosed(session);
  });

  it('a polling POST of many packets that together exceed the limit is answered with HTTP 413', async () => {
    const session = new PollingSession(server);
    await session.open();
    await session.post(['40']);
    await session.collect({ count: 2 });
    const packet = `42["message","${'z'.repeat(1000)}"]`;
    const res = await session.post(Array(12).fill(packet));
    assert.equal(res.status, 413);
    // engine.io keeps the session open after a 413; rtio closes it (issue 15)
    if (HOST !== 'socketio') await expectSessionClosed(session);
  });
});

describe(`${HOST} host, malformed packets close only the sender`, () => {
  afterEach(bystandersStillServed);

  const overWebSocket = [
    ['an unknown Engine.IO packet type', ['x']],
    ['an empty Engine.IO packet', ['']],
    ['an unknown Socket.IO packet type', ['49']],
    ['Socket.IO EVENT with invalid JSON', ['42{not json']],
    ['Socket.IO EVENT with truncated JSON', ['42["message"']],
    ['Socket.IO EVENT whose payload is not an array', ['42"message"']],
    ['Socket.IO EVENT without an event name', ['42[]']],
    ['Socket.IO EVENT to a namespace the client has not joined', ['42/custom,["message"]']],
    ['a binary frame nobody announced', [Buffer.from([1, 2, 3])]],
    ['a text frame where a binary attachment is due', ['451-["message",{"_placeholder":true,"num":0}]', '42["message"]']],
    ['an attachment placeholder out of range', ['451-["message",{"_placeholder":true,"num":3}]', Buffer.from([1])]],
  ];
  for (const [what, frames] of overWebSocket) {
    it(`websocket: ${what}`, async () => {
      const raw = await rawSocketIo(server);
      await raw.nextData(); // auth
      for (const frame of frames) raw.send(frame);
      await raw.waitClosed();
    });
  }

  it('websocket: an event before any CONNECT', async () => {
    const raw = await RawWebSocket.open(server);
    assert.match(await raw.next(), /^0\{/);
    raw.send('42["message","hi"]');
    await raw.waitClosed();
  });

  const overPolling = [
    ['an unknown Engine.IO packet type', ['x']],
    ['an unknown Socket.IO packet type', ['49']],
    ['Socket.IO EVENT with invalid JSON', ['42{not json']],
    ['a binary packet nobody announced', ['bAQID']],
  ];
  for (const [what, packets] of overPolling) {
    it(`polling: ${what}`, async () => {
      const session = new PollingSession(server);
      await session.open();
      await session.post(['40']);
      await session.collect({ count: 2 });
      await session.post(packets);
      await expectSessionClosed(session);
    });
  }
});
