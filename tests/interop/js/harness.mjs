// Shared helpers of the JavaScript interop suites (node:test + the official socket.io-client).
//
// The host under test comes from RTIO_HOST (rust | c | python | node | socketio; default rust).
// Every suite starts its own scenarios server through the launcher
// (tests/interop/scenarios-server HOST --port 0 ...) and stops it afterwards.
//
// Nothing here sleeps and hopes: every wait is for an event, with a deadline, and a missing or
// misbehaving server makes the waiting test fail.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import assert from 'node:assert/strict';
import { io, Manager } from 'socket.io-client';
import WebSocket from 'ws';

export { io, Manager, WebSocket };

export const HOST = process.env.RTIO_HOST || 'rust';
const here = path.dirname(fileURLToPath(import.meta.url));
export const LAUNCHER = path.resolve(here, '..', 'scenarios-server');

/** The first start of a host may build it (cargo), hence the long default. */
export const READY_TIMEOUT_MS = Number(process.env.RTIO_READY_TIMEOUT_MS || 600_000);
/** Default deadline of a single wait for something the server should do promptly. */
export const STEP_MS = Number(process.env.RTIO_STEP_MS || 3000);

// ---------------------------------------------------------------------------------------------
// Timeouts and events
// ---------------------------------------------------------------------------------------------

/** Rejects with a descriptive error when `promise` does not settle within `ms`. */
export function withTimeout(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * Re-evaluates `check` (sync or async) every 20 ms until it returns a truthy value, which it
 * resolves with; rejects after `ms`. For states that no event announces.
 */
export async function until(check, ms = STEP_MS, what = 'a condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Waits for one `event` on an emitter (socket.io-client socket or Manager, engine.io socket,
 * Node EventEmitter, ws WebSocket) and resolves with the event's arguments as an array.
 */
export function waitFor(emitter, event, ms = STEP_MS) {
  return withTimeout(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `event "${event}"`,
  );
}

// ---------------------------------------------------------------------------------------------
// The scenarios server
// ---------------------------------------------------------------------------------------------

// servers still running when this test process exits (a crash, a cancelled run) are killed
const runningServers = new Set();
process.once('exit', () => {
  for (const child of runningServers) child.kill('SIGKILL');
});

/**
 * Starts the scenarios server of HOST with `flags` and resolves once it printed `READY <port>`.
 * Returns { port, url, child, exited, stderr(), stop() }; `exited` resolves with
 * { code, signal, afterMs } (afterMs: time since `signal()` was last called, if any).
 */
export async function startServer(flags = [], { host = HOST } = {}) {
  const child = spawn(LAUNCHER, [host, '--port', '0', ...flags], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningServers.add(child);
  child.once('exit', () => runningServers.delete(child));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
    if (process.env.RTIO_SERVER_LOG) process.stderr.write(chunk);
  });
  let signalledAt = null;
  let isReady = false;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      if (isReady && signalledAt === null) {
        // a crash in the middle of the tests: show why
        process.stderr.write(
          `[harness] the ${host} scenarios server (${flags.join(' ')}) exited unexpectedly ` +
            `(code ${code}, signal ${signal}); the end of its stderr:\n${stderr.slice(-8192)}\n`,
        );
      }
      resolve({ code, signal, afterMs: signalledAt === null ? null : Date.now() - signalledAt });
    });
  });
  // stdout: exactly one line `READY <port>`; anything after it is kept to be reported
  const extraStdout = [];
  const lines = createInterface({ input: child.stdout });
  const ready = new Promise((resolve, reject) => {
    let first = true;
    lines.on('line', (line) => {
      if (!first) return extraStdout.push(line);
      first = false;
      const m = /^READY (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`the server's first stdout line is not "READY <port>": ${JSON.stringify(line)}`));
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`the ${host} scenarios server exited (code ${code}, signal ${signal}) before READY\n${stderr}`)),
    );
    child.once('error', reject);
  });
  let port;
  try {
    port = await withTimeout(ready, READY_TIMEOUT_MS, `READY from the ${host} scenarios server`);
    isReady = true;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}`,
    child,
    exited,
    extraStdout,
    stderr: () => stderr,
    /** Sends `sig`; `exited.afterMs` is measured from here. */
    signal(sig) {
      signalledAt = Date.now();
      child.kill(sig);
    },
    /** Stops the server (SIGTERM, then SIGKILL after 3 s); safe to call twice. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      signalledAt = Date.now();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// socket.io-client clients that record everything they receive
// ---------------------------------------------------------------------------------------------

/** The three transport setups every scenario runs under. */
export const SETUPS = {
  websocket: { transports: ['websocket'] },
  polling: { transports: ['polling'] },
  // default transports: polling first, then the probe upgrade to websocket
  upgrade: {},
};

const liveClients = new Set();

/**
 * A socket.io-client socket whose received events (custom and reserved ones) are all recorded
 * in order, so that a test can wait for them (`next`) and assert on what did NOT arrive
 * (`quiet(...).through(...)`) without racing the server.
 * Reserved events are recorded as '@connect', '@connect_error', '@disconnect', '@upgrade'.
 */
export class Client {
  constructor(url, { setup = 'websocket', nsp = '/', auth, manager, options = {} } = {}) {
    this.setup = setup;
    this.history = []; // { seq, name, args, taken }
    this.waiters = [];
    this.seq = 0;
    this.shared = Boolean(manager);
    if (manager) {
      this.socket = manager.socket(nsp, auth === undefined ? {} : { auth });
      if (!this.socket.active) this.socket.connect(); // (a Manager with autoConnect did already)
    } else {
      this.socket = io(url + (nsp === '/' ? '' : nsp), {
        forceNew: true,
        reconnection: false,
        timeout: STEP_MS,
        ...SETUPS[setup],
        ...(auth === undefined ? {} : { auth }),
        ...options,
      });
    }
    this.socket.onAny((name, ...args) => this.record(name, args));
    for (const reserved of ['connect', 'connect_error', 'disconnect']) {
      this.socket.on(reserved, (...args) => this.record(`@${reserved}`, args));
    }
    const watchEngine = () => {
      this.socket.io.engine.on('upgrade', (transport) => this.record('@upgrade', [transport.name]));
    };
    if (this.socket.io.engine) watchEngine();
    else this.socket.io.once('open', watchEngine);
    liveClients.add(this);
  }

  record(name, args) {
    const entry = { seq: ++this.seq, name, args, taken: false };
    this.history.push(entry);
    for (const waiter of this.waiters) {
      if (waiter.names.includes(name) && waiter.where(args)) {
        entry.taken = true;
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
        return;
      }
    }
  }

  /** Marks everything received so far as taken: later `next` calls only see newer events. */
  drain() {
    for (const entry of this.history) entry.taken = true;
  }

  /** The sequence number of the last received event; see `since`. */
  mark() {
    return this.seq;
  }

  /**
   * Argument lists of the `name` events received after `mark` (and up to `until`) that no
   * `next` took (the expected ones are taken by the test before it checks for the rest).
   */
  since(mark, name, until = Infinity) {
    return this.history
      .filter((e) => e.seq > mark && e.seq <= until && e.name === name && !e.taken)
      .map((e) => e.args);
  }

  /**
   * Waits for the first not yet taken `name` event matching `where`; resolves with its entry.
   * `name` may be an array of names: the first event with any of them.
   */
  nextEntry(name, { timeout = STEP_MS, where = () => true } = {}) {
    const names = Array.isArray(name) ? name : [name];
    const found = this.history.find((e) => !e.taken && names.includes(e.name) && where(e.args));
    if (found) {
      found.taken = true;
      return Promise.resolve(found);
    }
    let waiter;
    const promise = new Promise((resolve) => {
      waiter = { names, where, resolve };
      this.waiters.push(waiter);
    });
    return withTimeout(promise, timeout, `"${names.join('" or "')}" on ${this.describe()}`).catch((err) => {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      const seen = this.history.map((e) => e.name).join(', ') || 'nothing';
      err.message += ` (received so far: ${seen})`;
      throw err;
    });
  }

  /** Waits for the next `name` event and resolves with its arguments (an array). */
  async next(name, options) {
    return (await this.nextEntry(name, options)).args;
  }

  /** Waits for the next `name` event and resolves with its first argument. */
  async nextValue(name, options) {
    return (await this.next(name, options))[0];
  }

  describe() {
    return `client ${this.socket.nsp} (${this.setup}${this.socket.id ? ` ${this.socket.id}` : ''})`;
  }

  get id() {
    return this.socket.id;
  }

  /** The name of the Engine.IO transport in use ('polling' or 'websocket'). */
  get transport() {
    return this.socket.io.engine?.transport?.name;
  }

  emit(event, ...args) {
    this.socket.emit(event, ...args);
    return this;
  }

  /** Emits with an ack and resolves with ALL the ack's arguments (an array). */
  request(event, ...args) {
    return withTimeout(
      new Promise((resolve) => this.socket.emit(event, ...args, (...ackArgs) => resolve(ackArgs))),
      STEP_MS,
      `the ack of "${event}" on ${this.describe()}`,
    );
  }

  /** Emits with an ack and resolves with the ack's first argument. */
  async call(event, ...args) {
    return (await this.request(event, ...args))[0];
  }

  /**
   * Resolves once connected (rejects on connect_error or timeout), checking that the transport
   * in use is the one of the setup; for 'upgrade', once the engine has upgraded to websocket.
   */
  async ready() {
    const outcome = await this.nextEntry(['@connect', '@connect_error']);
    if (outcome.name === '@connect_error') {
      throw new Error(`${this.describe()}: connect_error ${outcome.args[0]?.message}`);
    }
    if (this.setup === 'upgrade') {
      // a client of its own starts on polling and must see the upgrade; one sharing a
      // Manager may join an engine that has upgraded already
      if (!this.shared || this.transport !== 'websocket') await this.upgraded();
    } else {
      assert.equal(this.transport, this.setup, `${this.describe()} uses the ${this.setup} transport`);
    }
    return this;
  }

  /** Resolves once the engine has upgraded from polling to websocket (the `upgrade` event fired). */
  async upgraded() {
    await this.nextEntry('@upgrade', { timeout: STEP_MS * 2 });
    assert.equal(this.transport, 'websocket', 'the upgrade event fired but the transport is not websocket');
  }

  close() {
    liveClients.delete(this);
    if (this.socket.connected || this.socket.active) this.socket.disconnect();
    this.socket.io.engine?.close();
  }
}

/** Creates a client and waits until it is connected (and upgraded for the 'upgrade' setup). */
export function connect(server, options = {}) {
  return new Client(server.url, options).ready();
}

/** A Manager for several namespaces over one Engine.IO connection (multiplexing). */
export function sharedManager(server, setup) {
  return new Manager(server.url, { reconnection: false, timeout: STEP_MS, ...SETUPS[setup] });
}

/** Closes every client created so far (use in afterEach/after). */
export function closeAllClients() {
  for (const client of [...liveClients]) client.close();
}

let barrierCount = 0;

/**
 * Proves that some events did NOT reach some clients, without sleeping: `pairs` is a list of
 * [client, eventName]; `through(sender)` has `sender` emit `fanout` of a unique `barrier` event
 * (reaching every socket on `/`, after everything the sender caused before, since a connection's
 * packets are handled in order) and fails if any watched event arrived before that barrier.
 * With { laterMs }, the barrier is the sender's own `later` event after that many milliseconds
 * (for things that could only show up late, like a second answer to an ack that came too late).
 */
export function quiet(pairs) {
  const marks = new Map(pairs.map(([client]) => [client, client.mark()]));
  return {
    async through(sender, { laterMs } = {}) {
      const token = `barrier-${++barrierCount}`;
      const clients = laterMs === undefined ? [...new Set([sender, ...marks.keys()])] : [sender];
      if (laterMs === undefined) sender.emit('fanout', { event: 'barrier', data: token });
      else sender.emit('later', { ms: laterMs, event: 'barrier', data: token });
      const reached = new Map();
      for (const client of clients) {
        const entry = await client.nextEntry('barrier', {
          where: (args) => args[0] === token,
          timeout: STEP_MS + (laterMs ?? 0),
        });
        reached.set(client, entry.seq);
      }
      for (const [client, name] of pairs) {
        const got = client.since(marks.get(client), name, reached.get(client) ?? Infinity);
        assert.deepEqual(got, [], `${client.describe()} must not receive "${name}", got ${JSON.stringify(got)}`);
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Raw Engine.IO probes: HTTP long-polling (fetch) and WebSocket (ws)
// ---------------------------------------------------------------------------------------------

export const SEP = '\x1e';

/** Splits a polling payload into its packets (strings). */
export function decodePayload(body) {
  return body === '' ? [] : body.split(SEP);
}

/** A raw HTTP request to the server; resolves with { status, headers, body (text) }.
 * A GET whose pooled keep-alive connection the server had closed meanwhile (a race of
 * keep-alive, e.g. gunicorn closing after answering an oversized POST) is sent again once,
 * as browsers do for idempotent requests; any other failure fails. */
export async function http(server, pathAndQuery, { method = 'GET', body, headers = {}, signal } = {}) {
  const send = () => fetch(server.url + pathAndQuery, { method, body, headers, signal });
  let res;
  try {
    res = await send();
  } catch (e) {
    const reused = ['UND_ERR_SOCKET', 'ECONNRESET'].includes(e?.cause?.code);
    if (method !== 'GET' || !reused) throw e;
    res = await send();
  }
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** A raw Engine.IO v4 long-polling session (no socket.io-client involved). */
export class PollingSession {
  constructor(server) {
    this.server = server;
  }

  query(extra = '') {
    return `/socket.io/?EIO=4&transport=polling${this.sid ? `&sid=${encodeURIComponent(this.sid)}` : ''}${extra}`;
  }

  /** GET without sid: the Engine.IO handshake. Resolves with the parsed open packet. */
  async open() {
    const res = await http(this.server, this.query());
    assert.equal(res.status, 200, `handshake answered ${res.status}: ${res.body}`);
    const packets = decodePayload(res.body);
    assert.ok(packets[0]?.startsWith('0'), `the handshake answer starts with an open packet: ${res.body}`);
    this.handshake = JSON.parse(packets[0].slice(1));
    this.sid = this.handshake.sid;
    this.pending = packets.slice(1);
    return this.handshake;
  }

  /** One GET (long-poll); resolves with { status, packets, body }. */
  async get({ timeout = STEP_MS, signal } = {}) {
    const res = await withTimeout(http(this.server, this.query(), { signal }), timeout, 'a polling GET');
    return { ...res, packets: res.status === 200 ? decodePayload(res.body) : [] };
  }

  /** POSTs packets (joined with the record separator); resolves with { status, body }. */
  post(packets, headers = {}) {
    const body = Array.isArray(packets) ? packets.join(SEP) : packets;
    return withTimeout(
      http(this.server, this.query(), {
        method: 'POST',
        body,
        headers: { 'Content-Type': 'text/plain;charset=UTF-8', ...headers },
      }),
      STEP_MS,
      'a polling POST',
    );
  }

  /**
   * GETs until `count` packets (besides pings, which are answered) were received, or `until`
   * returns true for the packets so far. Resolves with the packets.
   */
  async collect({ count = 1, until, timeout = STEP_MS } = {}) {
    const packets = this.pending.splice(0);
    const deadline = Date.now() + timeout;
    const done = () => (until ? until(packets) : packets.length >= count);
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out collecting polling packets; got ${JSON.stringify(packets)}`);
      const res = await this.get({ timeout: left });
      assert.equal(res.status, 200, `polling GET answered ${res.status}: ${res.body}`);
      for (const packet of res.packets) {
        if (packet === '2') await this.post(['3']);
        else if (packet !== '6') packets.push(packet);
      }
    }
    return packets;
  }
}

/**
 * Asserts that a polling session has been closed by the server: a GET gets the close packet
 * `1` (then the sid is unknown), or straight away HTTP 400 `{"code":1,"message":"Session ID unknown"}`.
 */
export async function expectSessionClosed(session) {
  const unknown = (res) => {
    assert.equal(res.status, 400, `expected the session to be gone, got ${res.status} ${res.body}`);
    assert.deepEqual(JSON.parse(res.body), { code: 1, message: 'Session ID unknown' });
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const res = await session.get();
    if (res.status !== 200) return unknown(res);
    if (res.packets.includes('1')) return unknown(await session.get());
  }
  assert.fail('the polling session was not closed');
}

/**
 * A raw WebSocket that queues what it receives: `next()` resolves with the next message as a
 * string (text frame) or Buffer (binary frame); `closed` resolves with { code, reason }.
 */
export class RawWebSocket {
  constructor(url, options = {}) {
    const { autoPong = false, ...wsOptions } = options;
    this.ws = new WebSocket(url, wsOptions);
    this.queue = [];
    this.waiters = [];
    this.pings = 0;
    this.ws.on('message', (data, isBinary) => {
      const message = isBinary ? Buffer.from(data) : data.toString('utf8');
      if (message === '2') this.pings++;
      if (autoPong && message === '2') {
        this.send('3'); // answered here, never queued
        return;
      }
      const waiter = this.waiters.shift();
      if (waiter) waiter(message);
      else this.queue.push(message);
    });
    this.ws.on('error', () => {}); // surfaced through `closed` / `opened`
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
  }

  /**
   * Opens `ws://…/socket.io/?EIO=4&transport=websocket[&sid=…]` and waits for the open event.
   * Option autoPong: answer every ping `2` with `3` without queueing it.
   */
  static async open(server, query = '', options) {
    const raw = new RawWebSocket(`${server.wsUrl}/socket.io/?EIO=4&transport=websocket${query}`, options);
    await withTimeout(raw.opened, STEP_MS, 'the websocket to open');
    return raw;
  }

  next(timeout = STEP_MS) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    let waiter;
    const promise = new Promise((resolve) => {
      waiter = resolve;
      this.waiters.push(waiter);
    });
    return withTimeout(promise, timeout, 'a websocket message').catch((err) => {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      throw err;
    });
  }

  /** The next message that is not a ping (pings are answered with pongs). */
  async nextData(timeout = STEP_MS) {
    for (;;) {
      const message = await this.next(timeout);
      if (message === '2') this.send('3');
      else return message;
    }
  }

  /** Waits until the server closes the connection; resolves with { code, reason }. */
  waitClosed(timeout = STEP_MS) {
    return withTimeout(this.closed, timeout, 'the server to close the websocket');
  }

  send(data) {
    this.ws.send(data);
  }

  close() {
    this.ws.terminate();
  }
}

/**
 * Parses a Socket.IO v5 packet (as carried in an Engine.IO message `4…`):
 * `4<type>[<attachments>-][<nsp>,][<ack id>][<json>]`. Returns { type, attachments, nsp, id, data }.
 */
export function parseSocketIo(message) {
  const m = /^4(\d)(?:(\d+)-)?(?:(\/[^,]*),)?(\d*)([\s\S]*)$/.exec(message);
  assert.ok(m, `not a Socket.IO packet: ${message.slice(0, 80)}`);
  return {
    type: Number(m[1]),
    attachments: m[2] === undefined ? undefined : Number(m[2]),
    nsp: m[3] ?? '/',
    id: m[4] === '' ? undefined : Number(m[4]),
    data: m[5] === '' ? undefined : JSON.parse(m[5]),
  };
}

/** Raw Socket.IO over a raw websocket: handshake + CONNECT to `/`; resolves with the socket. */
export async function rawSocketIo(server, { auth } = {}) {
  const raw = await RawWebSocket.open(server);
  const open = await raw.next();
  assert.match(open, /^0\{/);
  raw.send(auth === undefined ? '40' : `40${JSON.stringify(auth)}`);
  const connected = await raw.nextData();
  assert.match(connected, /^40\{"sid":"[^"]+"/);
  raw.sid = JSON.parse(connected.slice(2)).sid;
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Comparing payloads
// ---------------------------------------------------------------------------------------------

/**
 * A deep copy of `value` where every binary (Buffer, ArrayBuffer, typed array) becomes
 * { binary: '<hex>' }, so that sent and received payloads compare with deepEqual whatever
 * binary type the client library hands out.
 */
export function plain(value) {
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) {
    return { binary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  }
  if (value instanceof ArrayBuffer) return { binary: Buffer.from(value).toString('hex') };
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** JSON for messages: long strings are cut, so a failure does not print 50 kB. */
export function brief(value) {
  return JSON.stringify(plain(value), (key, v) =>
    typeof v === 'string' && v.length > 64 ? `${v.slice(0, 32)}…(${v.length} chars)` : v,
  );
}

/** deepEqual of two payloads whatever their binary types, with a short message on failure. */
export function assertPayload(actual, expected, message = 'payload differs') {
  try {
    assert.deepStrictEqual(plain(actual), plain(expected));
  } catch {
    throw new assert.AssertionError({
      message: `${message}:\n  got      ${brief(actual)}\n  expected ${brief(expected)}`,
      actual: brief(actual),
      expected: brief(expected),
      operator: 'deepStrictEqual',
    });
  }
}
