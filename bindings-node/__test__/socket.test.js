'use strict';
// Sockets: handshake, events and acks (binary anywhere), middlewares, rooms, broadcasts,
// acks from the server, disconnect reasons, errors in handlers.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { Server } = require('rtio');
const { connect, closeClients, next, request, serverSocketOf, withTimeout, STEP_MS } = require('./helpers');

let io;
let port;

before(() => {
  io = new Server(0, { host: '127.0.0.1' });
  port = io.address().port;
});
after(() => io.close());
afterEach(() => {
  closeClients();
  io.sockets.removeAllListeners('connection');
  io.removeAllListeners('error');
});

/** A connected client and its server-side Socket. */
async function pair(options) {
  const c = await connect(port, options);
  const s = await serverSocketOf(io.of(options?.nsp || '/'), c);
  return { c, s };
}

/** Resolves once every event the server sent `c` before now has arrived (a whoami round trip). */
async function barrier(c, s) {
  if (!s.listeners('__barrier').length) s.on('__barrier', (ack) => ack());
  await request(c, '__barrier');
}

function bytes(value) {
  return Buffer.isBuffer(value) ? [...value] : value instanceof ArrayBuffer ? [...new Uint8Array(value)] : value;
}

describe('handshake and state', () => {
  it('id, handshake (auth, query, headers, address), rooms, data', async () => {
    const { c, s } = await pair({
      auth: { token: 'abc', n: 1 },
      query: { room: 'lobby' },
      extraHeaders: { 'x-test': 'yes' },
    });
    assert.equal(s.id, c.id);
    assert.equal(s.connected, true);
    assert.equal(s.disconnected, false);
    assert.deepEqual(s.handshake.auth, { token: 'abc', n: 1 });
    assert.equal(s.handshake.query.room, 'lobby');
    assert.equal(s.handshake.query.EIO, '4');
    assert.equal(s.handshake.headers['x-test'], 'yes');
    assert.equal(s.handshake.address, '127.0.0.1');
    assert.equal(typeof s.handshake.issued, 'number');
    assert.match(s.handshake.url, /^\/socket\.io\/\?/);
    assert.deepEqual([...s.rooms], [s.id]);
    assert.deepEqual(s.data, {});
    assert.equal(s.nsp, io.sockets);
    assert.equal(s.server, io);
    assert.equal(s.conn.remoteAddress, '127.0.0.1');
    assert.ok(Number.isInteger(s.conn.remotePort) && s.conn.remotePort > 0);
    assert.equal(s.conn, s.conn, 'one conn object per socket');
    assert.equal(s.conn.readyState, 'open');
    assert.equal(typeof s.conn.on, 'function');
  });

  it('handshake: a plain object in socket.io\'s shape, computed fields kept once read and assignable', async () => {
    const { s } = await pair({ query: { q: '1' }, extraHeaders: { origin: 'http://a.test' } });
    const h = s.handshake;
    assert.deepEqual(Object.keys(h), ['headers', 'time', 'address', 'xdomain', 'secure', 'issued', 'url', 'query', 'auth']);
    assert.equal(h.headers, h.headers, 'one headers object');
    assert.equal(h.query, h.query, 'one query object');
    assert.equal(h.xdomain, true);
    assert.equal(h.time, new Date(h.issued) + '');
    const copy = JSON.parse(JSON.stringify(h));
    assert.equal(copy.headers.origin, 'http://a.test');
    assert.equal(copy.query.q, '1');
    assert.deepEqual({ ...h }.query, h.query);
    h.query = { replaced: true };
    assert.deepEqual(s.handshake.query, { replaced: true });
    s.data = { user: 7 };
    assert.deepEqual(s.data, { user: 7 });
    const { c: otherClient, s: other } = await pair({ extraHeaders: { 'x-late': 'read' } });
    // first read after the client left: the opening is still there
    const left = next(other, 'disconnect');
    otherClient.disconnect();
    await left;
    assert.equal(other.handshake.headers['x-late'], 'read');
    assert.equal(other.handshake.address, '127.0.0.1');
    assert.match(other.handshake.url, /^\/socket\.io\/\?EIO=4&/);
    assert.equal(other.handshake.xdomain, false);
    assert.deepEqual(other.data, {});
    assert.equal(other.data, other.data, 'one data object');
  });

  it('the handshake stays readable however the socket ends, first read during or after', async () => {
    const headersOf = (s) => s.handshake.headers['x-who'];
    // the server disconnects it (JS ends the socket before the core reports it)
    const { c: kickedClient, s: kicked } = await pair({ extraHeaders: { 'x-who': 'kicked' } });
    let during;
    kicked.on('disconnect', () => { during = kicked.handshake.address; });
    const kickedOut = next(kickedClient, 'disconnect');
    kicked.disconnect();
    assert.equal(during, '127.0.0.1');
    await kickedOut;
    await pair(); // events taken since: the core reported the kicked socket gone meanwhile
    assert.equal(headersOf(kicked), 'kicked');
    // the client leaves; first read inside the disconnect listener, then after
    const { c: leaving, s: left } = await pair({ extraHeaders: { 'x-who': 'left' } });
    const gone = new Promise((resolve) => left.on('disconnect', () => resolve(headersOf(left))));
    leaving.disconnect();
    assert.equal(await withTimeout(gone, STEP_MS, 'disconnect'), 'left');
    assert.match(left.handshake.url, /^\/socket\.io\/\?EIO=4&/);
    // through a middleware (connect request), read after it connected and after it left
    const guarded = io.of('/guarded');
    guarded.use((socket, next) => next());
    const { c: member, s: guardedSocket } = await pair({ nsp: '/guarded', extraHeaders: { 'x-who': 'member' } });
    assert.equal(headersOf(guardedSocket), 'member');
    const out = next(guardedSocket, 'disconnect');
    member.disconnect();
    await out;
    assert.equal(guardedSocket.handshake.address, '127.0.0.1');
    assert.equal(guardedSocket.conn.remoteAddress, '127.0.0.1');
  });

  it('a server that closes leaves its sockets\' handshakes readable', async () => {
    const own = new Server(0, { host: '127.0.0.1' });
    const c = await connect(own.address().port, { extraHeaders: { 'x-who': 'closed' } });
    const s = await serverSocketOf(own.of('/'), c);
    await own.close();
    assert.equal(s.connected, false);
    assert.equal(s.handshake.headers['x-who'], 'closed');
    assert.equal(s.handshake.address, '127.0.0.1');
  });

  it('listeners behave as on any EventEmitter (no inherited names, once, off)', async () => {
    const { s } = await pair();
    assert.deepEqual(s.eventNames(), []);
    assert.equal(s.listenerCount('toString'), 0, 'no inherited keys in the listener table');
    const f = () => {};
    s.on('a', f).once('b', f).on('a', f);
    assert.deepEqual(s.eventNames(), ['a', 'b']);
    assert.equal(s.listenerCount('a'), 2);
    s.off('a', f);
    assert.equal(s.listenerCount('a'), 1);
    s.removeAllListeners('a');
    assert.deepEqual(s.eventNames(), ['b']);
  });

  it('a socket with many listeners keeps a listener table of fast properties, and its listeners work', async () => {
    // V8 turns an object that gets over 12 properties by keyed stores (EventEmitter's
    // `events[name] = listener`) into a dictionary: ~1.2 KB more per idle socket.
    require('node:v8').setFlagsFromString('--allow-natives-syntax');
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)');
    const { c, s } = await pair();
    const heard = [];
    for (let i = 0; i < 40; i++) {
      const add = ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener'][i % 5];
      s[add](`event:${i}`, (n) => heard.push([i, n]));
    }
    assert.equal(hasFastProperties(s._events), true);
    assert.equal(s.eventNames().length, 40);
    c.emit('event:39', 1);
    c.emit('event:2', 2);
    c.emit('event:2', 3); // a `once` listener: heard once
    await barrier(c, s);
    assert.deepEqual(heard, [[39, 1], [2, 2]]);
    assert.deepEqual(s.eventNames().length, 39);
  });

  it('without auth, handshake.auth is {}', async () => {
    const { s } = await pair();
    assert.deepEqual(s.handshake.auth, {});
  });
});

describe('events and acks', () => {
  it('arguments and acks cross both ways, JSON of every kind', async () => {
    const { c, s } = await pair();
    s.on('echo', (...args) => {
      const ack = args.pop();
      ack(...args);
    });
    const values = [null, 0, -1.5, 'héllo ☃ \u0000 "quoted"', true, [1, [2, [3]]], { a: { b: { c: [] } } }];
    assert.deepEqual(await request(c, 'echo', ...values), values);
    assert.deepEqual(await request(c, 'echo'), []);
  });

  it('strings, integers, booleans and null (written natively, not by JSON.stringify) arrive as JSON.stringify writes them', async () => {
    const { c, s } = await pair();
    // each array is "simple" (src/args.rs writes its JSON) but for the last few elements,
    // which send the whole array through JSON.stringify
    const simple = ['', 'plain', 'quote " backslash \\ slash /', 'controls \u0000\u0001\b\f\n\r\t\u001f\u007f', 'separators \u2028 \u2029', 'emoji 😀 é ☃', 'x'.repeat(100000), 0, -0, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, true, false, null];
    const cases = [simple, [...simple, 'lone \ud800 high', 'lone \udc00 low'], [...simple, 2 ** 53, 1.5, NaN, Infinity, undefined]];
    s.on('echo', (...args) => {
      const ack = args.pop();
      ack(...args);
    });
    for (const values of cases) {
      const expected = JSON.parse(JSON.stringify(values));
      assert.deepEqual(await request(c, 'echo', ...values), expected, 'ack');
      const emitted = next(c, 'emitted');
      s.emit('emitted', ...values);
      assert.deepEqual(await emitted, expected, 'emit');
      const broadcast = next(c, 'broadcast');
      io.emit('broadcast', ...values);
      assert.deepEqual(await broadcast, expected, 'broadcast');
    }
  });

  it('plain arguments from the client (made into values natively, not by JSON.parse) are what JSON.parse gives', async () => {
    const { c, s } = await pair();
    const plain = ['', 'plain', 'emoji 😀 é ☃ \u2028', 'y'.repeat(70000), 0, 1.5, -2.5e-7, 1e21, 2 ** 53 + 2, Number.MAX_VALUE, -Number.MIN_VALUE, true, false, null];
    // escapes and nested values send the whole array through JSON.parse
    const cases = [plain, [...plain, 'quote " and \\ and \n'], [...plain, { a: [1] }], []];
    const received = [];
    s.on('plain', (...args) => received.push(args));
    for (const values of cases) c.emit('plain', ...values);
    await barrier(c, s);
    assert.deepEqual(received, cases.map((values) => JSON.parse(JSON.stringify(values))));
    assert.equal(typeof received[0][4], 'number');
    assert.equal(typeof received[0][11], 'boolean');
  });

  it('the native per-event calls refuse bad arguments with an error, and say false for a socket that is gone', () => {
    const native = io._native;
    assert.throws(() => native.ack(42, 1, '[]'), /expected a string/);
    assert.throws(() => native.ack('nosuch', 1, [{}]), /event arguments: an object/);
    assert.throws(() => native.emit('nosuch', 'ev', [1.5]), /not a safe integer/);
    assert.throws(() => native.emit('nosuch', 'ev'), /neither a string nor an array/);
    assert.throws(() => native.emit('nosuch', Symbol('ev'), '[]'), /string/i);
    assert.equal(native.emit('nosuch', 'ev', ['fine', 1, true, null]), false);
    assert.equal(native.ack('nosuch', 1, '[]', [Buffer.from('x')]), false);
  });

  it('the native handshake readers refuse anything but a socket\'s opening', () => {
    const addon = require('../lib/native');
    for (const value of [undefined, null, {}, 'x', 1]) {
      assert.throws(() => addon.openingInfo(value), /expected a socket's opening/);
      assert.throws(() => addon.openingHeaders(value), /expected a socket's opening/);
    }
    assert.equal(addon.opening('no such socket'), null);
  });

  it('binary anywhere: Buffers arrive as Buffers; Buffer, ArrayBuffer, typed arrays and DataView go out', async () => {
    const { c, s } = await pair();
    const received = next(s, 'bin');
    c.emit('bin', Buffer.from([1, 2]), { deep: [{ x: new Uint8Array([3, 4]) }] }, 'text');
    const [top, nested, text] = await received;
    assert.ok(Buffer.isBuffer(top));
    assert.deepEqual([...top], [1, 2]);
    assert.ok(Buffer.isBuffer(nested.deep[0].x));
    assert.deepEqual([...nested.deep[0].x], [3, 4]);
    assert.equal(text, 'text');

    const floats = new Float32Array([1.5]);
    const back = next(c, 'out');
    s.emit(
      'out',
      Buffer.from('buf'),
      new Uint8Array([9, 8]).buffer,
      { list: [new Uint16Array([0x0102]), new DataView(new Uint8Array([7, 7, 7]).buffer, 1, 2)], n: 1 },
      floats,
    );
    const [buf, arrayBuffer, mixed, float] = await back;
    assert.equal(Buffer.from(buf).toString(), 'buf');
    assert.deepEqual(bytes(Buffer.from(arrayBuffer)), [9, 8]);
    assert.deepEqual([...Buffer.from(mixed.list[0])], [...Buffer.from(new Uint16Array([0x0102]).buffer)]);
    assert.deepEqual([...Buffer.from(mixed.list[1])], [7, 7]);
    assert.equal(mixed.n, 1);
    assert.equal(Buffer.from(float).readFloatLE(0), 1.5);
  });

  it('an ack answers with binary too, and only once', async () => {
    const { c, s } = await pair();
    s.on('twice', (ack) => {
      ack({ data: Buffer.from([5]) });
      ack('second answer is dropped');
    });
    const [answer] = await request(c, 'twice');
    assert.deepEqual([...Buffer.from(answer.data)], [5]);
    await barrier(c, s);
  });

  it('onAny sees every event first; onAnyOutgoing sees what is emitted; offAny removes', async () => {
    const { c, s } = await pair();
    const seen = [];
    const any = (event, ...args) => seen.push(['any', event, ...args]);
    s.onAny(any);
    s.on('x', (v) => seen.push(['x', v]));
    const outgoing = [];
    s.onAnyOutgoing((event, ...args) => outgoing.push([event, ...args]));
    const done = next(s, 'y');
    c.emit('x', 1);
    c.emit('y', 2);
    await done;
    assert.deepEqual(seen, [['any', 'x', 1], ['x', 1], ['any', 'y', 2]]);
    assert.deepEqual(s.listenersAny(), [any]);
    s.offAny(any);
    assert.deepEqual(s.listenersAny(), []);
    s.emit('hello', 'world');
    assert.deepEqual(outgoing, [['hello', 'world']]);
  });

  it('socket.use: middlewares see [event, ...args]; next(err) drops the packet and emits "error"', async () => {
    const { c, s } = await pair();
    s.use(([event, ...args], next) => {
      if (event === 'forbidden') return next(new Error('not allowed'));
      args[0].checked = true; // middlewares may change the arguments
      next();
    });
    const handled = [];
    s.on('forbidden', () => handled.push('forbidden'));
    const allowed = next(s, 'allowed');
    const error = next(s, 'error');
    c.emit('forbidden', {});
    c.emit('allowed', {});
    const [err] = await error;
    assert.equal(err.message, 'not allowed');
    assert.deepEqual(await allowed, [{ checked: true }]);
    assert.deepEqual(handled, []);
  });

  it('reserved event names cannot be emitted', async () => {
    const { s } = await pair();
    for (const name of ['connect', 'disconnect', 'disconnecting', 'connect_error']) {
      assert.throws(() => s.emit(name), /reserved event name/);
    }
    assert.throws(() => io.emit('connection'), /reserved event name/);
  });

  it('many events from one client keep their order through a busy JS thread', async () => {
    const { c, s } = await pair();
    const count = 3000;
    const got = [];
    const all = withTimeout(
      new Promise((resolve) =>
        s.on('n', (i) => {
          if (i === 0) {
            const until = Date.now() + 200; // a slow handler: events pile up in rtio meanwhile
            while (Date.now() < until);
          }
          got.push(i);
          if (got.length === count) resolve();
        }),
      ),
      STEP_MS * 4,
      `${count} events`,
    );
    for (let i = 0; i < count; i++) c.emit('n', i);
    await all;
    assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
  });
});

describe('acks asked by the server', () => {
  it('emit with a callback gets the answer; emitWithAck resolves with it', async () => {
    const { c, s } = await pair();
    c.on('question', (q, ack) => ack(`answer to ${q}`, Buffer.from([1])));
    const answer = await withTimeout(
      new Promise((resolve) => s.emit('question', 'q1', (...args) => resolve(args))),
      STEP_MS,
      'the ack',
    );
    assert.equal(answer[0], 'answer to q1');
    assert.deepEqual([...Buffer.from(answer[1])], [1]);
    assert.equal(await s.emitWithAck('question', 'q2'), 'answer to q2');
  });

  it('timeout(ms): (null, ...answer) in time, an Error after; emitWithAck rejects', async () => {
    const { c, s } = await pair();
    c.on('fast', (ack) => ack('quick'));
    c.on('never', () => {});
    const inTime = await new Promise((resolve) => s.timeout(STEP_MS).emit('fast', (...args) => resolve(args)));
    assert.deepEqual(inTime, [null, 'quick']);
    const started = Date.now();
    const [err] = await withTimeout(
      new Promise((resolve) => s.timeout(100).emit('never', (...args) => resolve(args))),
      STEP_MS,
      'the timeout',
    );
    assert.ok(err instanceof Error);
    assert.equal(err.message, 'operation has timed out');
    assert.ok(Date.now() - started >= 90, 'not before the timeout');
    await assert.rejects(s.timeout(50).emitWithAck('never'), /operation has timed out/);
    assert.equal(await s.timeout(STEP_MS).emitWithAck('fast'), 'quick');
  });

  it('a socket that left: a timeout ack still fails, after the timeout', async () => {
    const { c, s } = await pair();
    const gone = next(s, 'disconnect');
    c.disconnect();
    await gone;
    const started = Date.now();
    await assert.rejects(s.timeout(50).emitWithAck('anything'), /operation has timed out/);
    assert.ok(Date.now() - started >= 45, 'not before the timeout');
  });

  it('io.timeout(ms).emit gathers one answer per socket; a silent one makes it fail with the others', async () => {
    const a = await pair();
    const b = await pair();
    a.c.on('poll', (ack) => ack('a'));
    b.c.on('poll', (ack) => ack('b'));
    const responses = await io.timeout(STEP_MS).emitWithAck('poll');
    assert.deepEqual(responses.sort(), ['a', 'b']);

    const silent = await pair();
    silent.c.on('poll', () => {});
    const [err, partial] = await withTimeout(
      new Promise((resolve) => io.timeout(200).emit('poll', (...args) => resolve(args))),
      STEP_MS,
      'the broadcast ack',
    );
    assert.equal(err.message, 'operation has timed out');
    assert.deepEqual(partial.sort(), ['a', 'b']);
    const none = await io.to('empty-room').timeout(100).emitWithAck('poll');
    assert.deepEqual(none, []);
  });
});

describe('rooms and broadcasts', () => {
  /** Three clients: a and b in room "r", c not. */
  async function three() {
    const a = await pair();
    const b = await pair();
    const c = await pair();
    a.s.join('r');
    b.s.join(['r', 'other']);
    return { a, b, c };
  }

  /** The events named `name` each client got before a final io.emit barrier. */
  async function collect(clients, name, action) {
    const got = new Map(clients.map((p) => [p, []]));
    const listeners = clients.map((p) => {
      const l = (...args) => got.get(p).push(args);
      p.c.on(name, l);
      return l;
    });
    const fences = clients.map((p) => next(p.c, 'fence'));
    action();
    io.emit('fence');
    await Promise.all(fences);
    clients.forEach((p, i) => p.c.off(name, listeners[i]));
    return clients.map((p) => got.get(p).length);
  }

  it('socket.rooms and adapter.rooms follow join and leave', async () => {
    const { a, b } = await three();
    assert.deepEqual([...a.s.rooms].sort(), [a.s.id, 'r'].sort());
    assert.deepEqual([...io.sockets.adapter.rooms.get('r')].sort(), [a.s.id, b.s.id].sort());
    b.s.leave('r');
    assert.deepEqual([...b.s.rooms].sort(), [b.s.id, 'other'].sort());
    assert.deepEqual([...io.sockets.adapter.rooms.get('r')], [a.s.id]);
    a.s.leave('r');
    assert.equal(io.sockets.adapter.rooms.has('r'), false);
  });

  it('io.to, io.except, io.to().except(), socket.to, socket.broadcast, socket.except', async () => {
    const { a, b, c } = await three();
    const all = [a, b, c];
    assert.deepEqual(await collect(all, 'e', () => io.to('r').emit('e')), [1, 1, 0]);
    assert.deepEqual(await collect(all, 'e', () => io.except('r').emit('e')), [0, 0, 1]);
    assert.deepEqual(await collect(all, 'e', () => io.to('r').except(b.s.id).emit('e')), [1, 0, 0]);
    assert.deepEqual(await collect(all, 'e', () => io.to(['r', 'other']).emit('e')), [1, 1, 0], 'a socket gets it once');
    assert.deepEqual(await collect(all, 'e', () => a.s.to('r').emit('e')), [0, 1, 0]);
    assert.deepEqual(await collect(all, 'e', () => a.s.broadcast.emit('e')), [0, 1, 1]);
    assert.deepEqual(await collect(all, 'e', () => a.s.except('other').emit('e')), [0, 0, 1]);
    assert.deepEqual(await collect(all, 'e', () => io.in(c.s.id).emit('e')), [0, 0, 1], 'a socket id is a room');
    assert.deepEqual(await collect(all, 'e', () => io.emit('e', Buffer.from([1]))), [1, 1, 1]);
  });

  it('fetchSockets, allSockets, socketsJoin, socketsLeave', async () => {
    const { a, b, c } = await three();
    const inR = await io.in('r').fetchSockets();
    assert.deepEqual(inR.map((s) => s.id).sort(), [a.s.id, b.s.id].sort());
    assert.ok(inR.includes(a.s), 'fetchSockets gives the Socket instances');
    assert.deepEqual([...(await io.except('r').allSockets())], [c.s.id]);
    io.in('r').socketsJoin('joined');
    assert.deepEqual([...io.sockets.adapter.rooms.get('joined')].sort(), [a.s.id, b.s.id].sort());
    assert.deepEqual(await collect([a, b, c], 'e', () => io.to('joined').emit('e')), [1, 1, 0]);
    io.in('joined').except(a.s.id).socketsLeave('joined');
    assert.deepEqual([...io.sockets.adapter.rooms.get('joined')], [a.s.id]);
    assert.deepEqual(await collect([a, b, c], 'e', () => io.to('joined').emit('e')), [1, 0, 0]);
  });

  it('disconnectSockets (all in a room) and socket.disconnect', async () => {
    const { a, b, c } = await three();
    const reasons = [next(a.c, 'disconnect'), next(b.c, 'disconnect')];
    const serverReasons = [next(a.s, 'disconnect'), next(b.s, 'disconnect')];
    io.in('r').disconnectSockets();
    assert.deepEqual((await Promise.all(reasons)).map(([r]) => r), ['io server disconnect', 'io server disconnect']);
    assert.deepEqual((await Promise.all(serverReasons)).map(([r]) => r), ['server namespace disconnect', 'server namespace disconnect']);
    assert.equal(a.s.connected, false);
    assert.equal(io.sockets.sockets.has(a.s.id), false);
    assert.equal(c.s.connected, true);
    assert.deepEqual([...(await io.allSockets())], [c.s.id]);
  });
});

describe('disconnects', () => {
  it('client disconnect: "client namespace disconnect"; "disconnecting" still sees the rooms', async () => {
    const { c, s } = await pair();
    s.join('room');
    io.in(s.id).socketsJoin('by-selector'); // not through the socket: only the core knows
    const disconnecting = withTimeout(
      new Promise((resolve) => s.once('disconnecting', (reason) => resolve({ reason, rooms: [...s.rooms] }))),
      STEP_MS,
      '"disconnecting"',
    );
    const disconnect = next(s, 'disconnect');
    c.disconnect();
    const before = await disconnecting;
    assert.equal(before.reason, 'client namespace disconnect');
    assert.deepEqual(before.rooms.sort(), [s.id, 'by-selector', 'room'].sort());
    assert.deepEqual(await disconnect, ['client namespace disconnect', undefined]);
    assert.equal(s.connected, false);
    assert.deepEqual([...s.rooms], []);
    assert.equal(io.sockets.adapter.rooms.has('room'), false);
  });

  it('server disconnect: sync "disconnect" with "server namespace disconnect"; the client sees "io server disconnect"', async () => {
    const { c, s } = await pair();
    const clientSide = next(c, 'disconnect');
    let reason;
    s.on('disconnect', (r) => (reason = r));
    assert.equal(s.disconnect(), s);
    assert.equal(reason, 'server namespace disconnect');
    assert.deepEqual(await clientSide, ['io server disconnect', undefined]);
    assert.equal(s.emit('after', 1), true, 'emitting to a gone socket is a no-op');
  });

  it('disconnect(true) closes the whole connection: sibling namespaces end too', async () => {
    io.of('/side');
    const c = await connect(port);
    const s = await serverSocketOf(io.sockets, c);
    const side = c.io.socket('/side'); // connects at once (the Manager auto-connects)
    await next(side, 'connect');
    const sideServer = await serverSocketOf(io.of('/side'), side);
    const sideGone = next(sideServer, 'disconnect');
    const clientGone = next(c, 'disconnect');
    s.disconnect(true);
    assert.deepEqual(await sideGone, ['server namespace disconnect', undefined]);
    assert.equal((await clientGone)[0], 'io server disconnect');
  });

  it('the client closing its connection: "transport close"', async () => {
    const { c, s } = await pair();
    const gone = next(s, 'disconnect');
    c.io.engine.close();
    assert.equal((await gone)[0], 'transport close');
  });
});

describe('failures in user code', () => {
  it('a handler that throws is reported to io "error" listeners; the socket keeps being served', async () => {
    const { c, s } = await pair();
    const reported = next(io, 'error');
    s.on('throw', () => {
      throw new Error('on purpose');
    });
    s.on('whoami', (ack) => ack(s.id));
    c.emit('throw');
    const [err, where] = await reported;
    assert.equal(err.message, 'on purpose');
    assert.match(where, /"throw" listener/);
    assert.deepEqual(await request(c, 'whoami'), [c.id]);
  });

  it('an async handler that rejects is reported too', async () => {
    const { c, s } = await pair();
    const reported = next(io, 'error');
    s.on('async', async () => {
      await null;
      throw new Error('rejected on purpose');
    });
    c.emit('async');
    const [err] = await reported;
    assert.equal(err.message, 'rejected on purpose');
  });

  it('an ack callback that throws is reported', async () => {
    const { c, s } = await pair();
    c.on('q', (ack) => ack(1));
    const reported = next(io, 'error');
    s.emit('q', () => {
      throw new Error('ack callback failed');
    });
    const [err, where] = await reported;
    assert.equal(err.message, 'ack callback failed');
    assert.match(where, /ack callback/);
  });

  it('with no "error" listener, failures go to stderr (and the server keeps serving)', async () => {
    const { c, s } = await pair();
    const original = console.error;
    const lines = [];
    const logged = new Promise((resolve) => {
      console.error = (...args) => {
        lines.push(args.map(String).join(' '));
        resolve();
      };
    });
    try {
      s.on('throw', () => {
        throw new Error('to stderr');
      });
      c.emit('throw');
      await withTimeout(logged, STEP_MS, 'the report');
    } finally {
      console.error = original;
    }
    assert.match(lines[0], /rtio: .*"throw" listener.* failed: Error: to stderr/);
    s.on('ping', (ack) => ack('pong'));
    assert.deepEqual(await request(c, 'ping'), ['pong']);
  });
});

describe('transports', () => {
  for (const transports of [['polling'], ['polling', 'websocket']]) {
    it(`events, binary and acks over ${transports.join(' then ')}`, async () => {
      const c = await connect(port, { transports });
      const s = await serverSocketOf(io.sockets, c);
      s.on('echo', (data, ack) => ack(data));
      const data = { text: 'é', bin: Buffer.from([0, 255]) };
      const [answer] = await request(c, 'echo', data);
      assert.equal(answer.text, 'é');
      assert.deepEqual([...Buffer.from(answer.bin)], [0, 255]);
    });
  }
});

describe('volatile', () => {
  it('an event a client\'s transport cannot take now is dropped for it, never queued', async () => {
    const base = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
    const get = async (url) => (await withTimeout(fetch(url), STEP_MS, 'a polling GET')).text();
    const open = JSON.parse((await get(base)).slice(1));
    const url = `${base}&sid=${open.sid}`;
    const connected = new Promise((resolve) => io.once('connection', resolve));
    await fetch(url, { method: 'POST', body: '40' });
    const socket = await withTimeout(connected, STEP_MS, 'the connection');
    assert.match(await get(url), /^40\{"sid":/);
    // no GET waiting: both volatile events are dropped, the normal one waits for the next GET
    io.volatile.emit('v', 1);
    socket.volatile.emit('w', 2);
    io.emit('n', 3);
    assert.equal(await get(url), '42["n",3]');
    // a GET waiting: a volatile event reaches it
    const polled = get(url);
    let sent = 0;
    const timer = setInterval(() => socket.volatile.emit('w', ++sent), 10);
    try {
      assert.match(await polled, /^42\["w",\d+\]$/);
    } finally {
      clearInterval(timer);
      socket.disconnect(true);
    }
  });
});
