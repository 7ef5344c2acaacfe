// Plain Engine.IO v4 against the OFFICIAL engine.io-client (6.6): the host's scenarios server
// started with `--engineio-echo` is an Engine.IO server at `/engine.io/` that sends every message
// (text or binary) back to its sender. Run with `node --test tests/interop/engineio/`.
//
// Every check runs under websocket-only, polling-only and polling-then-upgrade; a second server
// with a short heartbeat (--ping-interval 300 --ping-timeout 200) checks that the client's
// automatic pongs keep the session alive (and that without them the server closes it).
// The expectations are what engine.io 6.6 (the reference server) does with the same client.
// Nothing sleeps and hopes: every wait is for an event, with a deadline.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'engine.io-client';
import { HOST, STEP_MS, startServer, http, until, withTimeout } from '../js/harness.mjs';

const PATH = '/engine.io/';
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;
const SLACK = 700; // scheduling noise allowed on top of a deadline (2 shared cores)

/** The three transport setups, as engine.io-client options. */
const SETUPS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  // the default: polling first, then the probe upgrade to websocket
  upgrade: { transports: ['polling', 'websocket'] },
};

const live = new Set();

/**
 * An engine.io-client Socket whose messages, pings and close are recorded in order, so that a
 * test can wait for the next one (with a deadline) and check that nothing else arrived.
 */
class EioClient {
  constructor(server, setup, { binaryType } = {}) {
    this.setup = setup;
    this.messages = [];
    this.pings = []; // arrival times (ms since epoch)
    this.closes = []; // [reason, description]
    this.errors = [];
    this.upgrades = [];
    this.waiters = [];
    this.socket = new Socket(server.url, { path: PATH, ...SETUPS[setup] });
    if (binaryType) this.socket.binaryType = binaryType;
    this.handshake = new Promise((resolve) => this.socket.once('handshake', resolve));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => {
        this.openedAt = Date.now();
        resolve();
      });
      this.socket.once('close', (reason, description) =>
        reject(new Error(`closed before open: ${reason} ${description?.message ?? description ?? ''}`)),
      );
    });
    this.opened.catch(() => {}); // observed by ready()
    this.socket.on('message', (data) => {
      this.messages.push(data);
      this.wake();
    });
    this.socket.on('ping', () => {
      this.pings.push(Date.now());
      this.wake();
    });
    this.socket.on('upgrade', (transport) => {
      this.upgrades.push(transport.name);
      this.wake();
    });
    this.socket.on('close', (reason, description) => {
      this.closes.push([reason, description]);
      this.wake();
    });
    this.socket.on('error', (err) => this.errors.push(err));
    live.add(this);
  }

  wake() {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves with check()'s truthy value as soon as an event makes it so; rejects after `ms`. */
  when(check, ms, what) {
    let waiter;
    return withTimeout(
      new Promise((resolve) => {
        waiter = () => {
          const value = check();
          if (value) resolve(value);
        };
        this.waiters.push(waiter);
        waiter();
      }),
      ms,
      `${what} on ${this.describe()} (messages ${this.messages.length}, pings ${this.pings.length}, ` +
        `closes ${JSON.stringify(this.closes.map(([r]) => r))})`,
    ).finally(() => this.waiters.splice(this.waiters.indexOf(waiter), 1));
  }

  /** Waits until `count` messages have arrived in all and resolves with them. */
  async received(count, ms = STEP_MS) {
    await this.when(() => this.messages.length >= count, ms, `${count} message(s)`);
    return this.messages.slice(0, count);
  }

  /** Sends `data` and resolves with the next message received (the echo). */
  async echo(data, ms = STEP_MS) {
    const index = this.messages.length;
    this.socket.send(data);
    await this.when(() => this.messages.length > index, ms, 'the echo');
    return this.messages[index];
  }

  /** Waits for `open` (and, for the upgrade setup, for the upgrade to websocket). */
  async ready() {
    const handshake = await withTimeout(this.handshake, STEP_MS, `the handshake of ${this.describe()}`);
    await withTimeout(this.opened, STEP_MS, `"open" on ${this.describe()}`);
    if (this.setup === 'upgrade') {
      assert.equal(this.transport, 'polling', 'the upgrade setup starts on polling');
      await this.when(() => this.upgrades.length > 0, STEP_MS * 2, 'the upgrade');
      assert.deepEqual(this.upgrades, ['websocket']);
      assert.equal(this.transport, 'websocket', 'the upgrade event fired but the transport is not websocket');
    } else {
      assert.equal(this.transport, this.setup, `${this.describe()} uses the ${this.setup} transport`);
    }
    return handshake;
  }

  get transport() {
    return this.socket.transport?.name;
  }

  describe() {
    return `engine.io-client (${this.setup}${this.socket.id ? ` ${this.socket.id}` : ''})`;
  }

  close() {
    live.delete(this);
    this.socket.close();
  }
}

/** Opens a client and waits until it is ready; resolves with [client, handshake]. */
async function open(server, setup, options) {
  const client = new EioClient(server, setup, options);
  const handshake = await client.ready();
  return [client, handshake];
}

/**
 * Resolves once the server has forgotten `sid`: a polling GET with it is answered
 * 400 `{"code":1,"message":"Session ID unknown"}` (what engine.io 6.6 answers for a closed session).
 */
async function sessionGone(server, sid) {
  let last;
  await until(
    async () => {
      const query = `${PATH}?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
      try {
        last = await http(server, query, { signal: AbortSignal.timeout(500) });
      } catch (err) {
        last = { status: 'no answer', body: String(err) };
        return false;
      }
      return last.status === 400 && /"code":1\b/.test(last.body);
    },
    STEP_MS,
    `the server to forget session ${sid}`,
  ).catch((err) => {
    err.message += ` (last answer: ${last?.status} ${last?.body})`;
    throw err;
  });
}

const bytes = (n, seed = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff));

let server; // default heartbeat
let fast; // --ping-interval 300 --ping-timeout 200
before(async () => {
  server = await startServer(['--engineio-echo']);
  fast = await startServer([
    '--engineio-echo',
    '--ping-interval', String(PING_INTERVAL),
    '--ping-timeout', String(PING_TIMEOUT),
  ]);
});
after(async () => {
  for (const client of [...live]) client.close();
  await server?.stop();
  await fast?.stop();
});
afterEach(() => {
  for (const client of [...live]) client.close();
});

for (const setup of Object.keys(SETUPS)) {
  describe(`${HOST} host, engine.io-client 6.6, ${setup}`, () => {
    it('open: the handshake the client reports (sid, upgrades, pingInterval, pingTimeout, maxPayload)', async () => {
      const [client, handshake] = await open(server, setup);
      assert.equal(typeof handshake.sid, 'string');
      assert.ok(handshake.sid.length > 0, 'a non-empty sid');
      assert.equal(client.socket.id, handshake.sid, 'the client took the sid of the handshake');
      assert.deepEqual(
        handshake.upgrades,
        setup === 'websocket' ? [] : ['websocket'],
        'upgrades: websocket from polling, none from websocket',
      );
      assert.equal(handshake.pingInterval, 25000);
      assert.equal(handshake.pingTimeout, 20000);
      assert.equal(handshake.maxPayload, 1000000);
      assert.equal(client.socket.readyState, 'open');
      assert.deepEqual(client.errors, []);
      // a second client gets a session of its own
      const [other, otherHandshake] = await open(server, setup);
      assert.notEqual(otherHandshake.sid, handshake.sid, 'two clients, two sids');
      other.close();
    });

    it('text echo (ASCII, UTF-8 beyond the BMP, JSON-looking)', async () => {
      const [client] = await open(server, setup);
      for (const text of ['hello', 'héllo wörld ✓ — 日本語 😀🚀', '{"a":[1,2,"x"]}', '4not-a-packet', ' ']) {
        const got = await client.echo(text);
        assert.equal(typeof got, 'string', `a text message comes back as text: ${JSON.stringify(text)}`);
        assert.equal(got, text);
      }
    });

    it('binary echo: Buffer, ArrayBuffer and typed array, received as Buffer (nodebuffer)', async () => {
      const [client] = await open(server, setup);
      const data = bytes(256);
      const fromBuffer = await client.echo(data);
      assert.ok(Buffer.isBuffer(fromBuffer), `a Buffer comes back, got ${Object.prototype.toString.call(fromBuffer)}`);
      assert.deepEqual(Buffer.from(fromBuffer), data);
      const ab = new Uint8Array([0, 1, 2, 254, 255]).buffer;
      const fromArrayBuffer = await client.echo(ab);
      assert.ok(Buffer.isBuffer(fromArrayBuffer));
      assert.deepEqual([...fromArrayBuffer], [0, 1, 2, 254, 255]);
      const typed = new Uint8Array([9, 8, 7]);
      assert.deepEqual([...(await client.echo(typed))], [9, 8, 7]);
    });

    it('binary echo received as ArrayBuffer (binaryType "arraybuffer")', async () => {
      const [client] = await open(server, setup, { binaryType: 'arraybuffer' });
      const data = bytes(300, 7);
      const got = await client.echo(data);
      assert.ok(got instanceof ArrayBuffer, `an ArrayBuffer comes back, got ${Object.prototype.toString.call(got)}`);
      assert.deepEqual(Buffer.from(got), data);
      // text stays text
      assert.equal(await client.echo('still text'), 'still text');
    });

    it('empty messages: "" and a 0-byte binary come back', async () => {
      const [client] = await open(server, setup);
      // "" travels as the bare packet `4`, which engine.io-client decodes as a message without
      // data (undefined), on both ends: engine.io 6.6 + engine.io-client 6.6 behave the same
      assert.equal(await client.echo(''), undefined);
      const empty = await client.echo(Buffer.alloc(0));
      assert.ok(Buffer.isBuffer(empty), `a Buffer comes back, got ${JSON.stringify(empty)}`);
      assert.equal(empty.length, 0);
    });

    it('several messages (text and binary mixed), sent at once, come back in order', async () => {
      const [client] = await open(server, setup);
      const sent = [];
      for (let i = 0; i < 40; i++) sent.push(i % 3 === 2 ? bytes(10 + i, i) : `message ${i}`);
      for (const data of sent) client.socket.send(data);
      const got = await client.received(sent.length, STEP_MS * 2);
      for (let i = 0; i < sent.length; i++) {
        if (typeof sent[i] === 'string') assert.equal(got[i], sent[i], `message ${i}`);
        else {
          assert.ok(Buffer.isBuffer(got[i]), `message ${i} is binary`);
          assert.deepEqual(Buffer.from(got[i]), sent[i], `message ${i}`);
        }
      }
      // nothing more than the echoes: one more round trip, then count
      assert.equal(await client.echo('last'), 'last');
      assert.equal(client.messages.length, sent.length + 1, 'exactly one echo per message');
    });

    it('large messages: 100 KB of text and 100 KB of binary', async () => {
      const [client] = await open(server, setup);
      const text = Array.from({ length: 100 * 1024 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      const gotText = await client.echo(text, STEP_MS * 2);
      assert.equal(typeof gotText, 'string');
      assert.equal(gotText.length, text.length);
      assert.ok(gotText === text, 'the 100 KB text comes back unchanged');
      const binary = bytes(100 * 1024, 3);
      const gotBinary = await client.echo(binary, STEP_MS * 2);
      assert.ok(Buffer.isBuffer(gotBinary));
      assert.equal(gotBinary.length, binary.length);
      assert.ok(Buffer.from(gotBinary).equals(binary), 'the 100 KB binary comes back unchanged');
    });

    it('close: the client closes ("forced close") and the server forgets the session', async () => {
      const [client, handshake] = await open(server, setup);
      assert.equal(await client.echo('before close'), 'before close');
      const closed = client.when(() => client.closes.length > 0, STEP_MS, '"close"');
      client.close();
      await closed;
      assert.equal(client.closes[0][0], 'forced close');
      assert.equal(client.socket.readyState, 'closed');
      await sessionGone(server, handshake.sid);
      // and the server still serves new clients
      const [again] = await open(server, setup);
      assert.equal(await again.echo('after close'), 'after close');
    });

    it(`heartbeat (--ping-interval ${PING_INTERVAL} --ping-timeout ${PING_TIMEOUT}): pings answered automatically, still open after > 1 s`, async () => {
      const [client, handshake] = await open(fast, setup);
      assert.equal(handshake.pingInterval, PING_INTERVAL);
      assert.equal(handshake.pingTimeout, PING_TIMEOUT);
      const start = client.openedAt;
      // four pings = about 4 x 300 ms; had the client's pongs not been taken, the server would
      // have closed the session after the first ping (300 + 200 ms) and the client would have
      // seen "close" ("transport close" / "ping timeout") instead of further pings
      await client.when(
        () => client.closes.length > 0 || client.pings.length >= 4,
        4 * PING_INTERVAL + PING_TIMEOUT + SLACK * 2,
        '4 pings',
      );
      assert.deepEqual(client.closes.map(([reason]) => reason), [], 'no close while pinging');
      assert.ok(client.pings.length >= 4);
      const elapsed = Date.now() - start;
      assert.ok(elapsed >= 1000, `4 pings at ${PING_INTERVAL} ms take > 1 s, took ${elapsed} ms`);
      assert.equal(client.socket.readyState, 'open');
      assert.equal(client.transport, setup === 'polling' ? 'polling' : 'websocket');
      // the pings are paced by pingInterval, not sent in a burst
      const first = client.pings[0] - start;
      assert.ok(first >= PING_INTERVAL / 2, `the first ping comes about ${PING_INTERVAL} ms after "open", came after ${first} ms`);
      // and the session still echoes
      assert.equal(await client.echo('still here'), 'still here');
      assert.deepEqual(client.closes, []);
      assert.deepEqual(client.errors, []);
    });

    it('heartbeat, the other way: a client that stops answering pings is closed by the server', async () => {
      // the counter-proof of the test above: the pongs are what keeps the session alive.
      // engine.io-client answers a ping with `_sendPacket("pong")` (6.6); drop those
      const [client, handshake] = await open(fast, setup);
      assert.equal(typeof client.socket._sendPacket, 'function', 'engine.io-client 6.6 internals');
      const send = client.socket._sendPacket.bind(client.socket);
      client.socket._sendPacket = (type, ...rest) => (type === 'pong' ? undefined : send(type, ...rest));
      const pingsBefore = client.pings.length;
      await client.when(() => client.closes.length > 0, PING_INTERVAL + PING_TIMEOUT + SLACK * 2, '"close"');
      const closedAt = Date.now();
      // engine.io 6.6 closes the transport pingTimeout after an unanswered ping; the client
      // sees "transport close" (it would say "ping timeout" only if the server had stopped
      // pinging, and then only pingInterval + pingTimeout after the last ping)
      assert.equal(client.closes[0][0], 'transport close', `closed by the server, got ${client.closes[0][0]}`);
      assert.ok(client.pings.length > pingsBefore, 'an unanswered ping came first');
      const waited = closedAt - client.pings.at(-1);
      assert.ok(waited >= PING_TIMEOUT * 0.75, `closed about pingTimeout after the unanswered ping, after ${waited} ms`);
      await sessionGone(fast, handshake.sid);
    });
  });
}
