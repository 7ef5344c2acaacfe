// Every row of SCENARIOS.md (namespaces /, /custom, /admin and unknown ones), each under three
// transport setups, with the official socket.io-client. Counters (visits, stats) that need a
// server of their own are in counters.test.mjs.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  HOST,
  SETUPS,
  Client,
  startServer,
  connect,
  sharedManager,
  closeAllClients,
  quiet,
  assertPayload,
} from './harness.mjs';

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  closeAllClients();
  await server?.stop();
});

// JSON of all kinds and binaries, nested in objects and arrays, in one argument list
function mixedArguments() {
  return [
    1,
    'two',
    { three: 3, nested: { deep: [true, false, null] } },
    [4, 'four', [], {}],
    null,
    true,
    -0.5,
    '',
    'unicode: héllo ✓ 😀 and a record separator \x1e inside',
    Buffer.from([1, 2, 3]),
    { file: Buffer.from('hello'), list: [Buffer.from([0]), 'x', { inner: Buffer.alloc(0) }] },
    [Buffer.from([255, 254]), 42],
    { big: 'x'.repeat(50_000) },
  ];
}

for (const setup of Object.keys(SETUPS)) {
  describe(`${HOST} host, namespace / over ${setup}`, () => {
    afterEach(closeAllClients);
    const join = (options = {}) => connect(server, { setup, ...options });

    it('connects and gets `auth` with the handshake auth object', async () => {
      const auth = { token: 'abc', n: 1, nested: { list: [1, 'a'] } };
      const a = await join({ auth });
      assert.deepEqual(await a.next('auth'), [auth]);
      const b = await join();
      assert.deepEqual(await b.next('auth'), [{}], 'no auth payload: `auth` is {}');
    });

    it('message: message-back with the same mixed JSON and binary arguments, in order', async () => {
      const a = await join();
      const args = mixedArguments();
      a.emit('message', ...args);
      assertPayload(await a.next('message-back'), args);
      // binary only, and no argument at all
      a.emit('message', Buffer.from([9, 8, 7]));
      assertPayload(await a.next('message-back'), [Buffer.from([9, 8, 7])]);
      a.emit('message');
      assert.deepEqual(await a.next('message-back'), []);
    });

    it('message: frames of every WebSocket length encoding come back whole (7, 16 and 64 bits)', async () => {
      const a = await join();
      for (const size of [100, 125, 126, 65_535, 65_536, 300_000]) {
        const text = 'y'.repeat(size);
        const bytes = Buffer.alloc(size, size % 251);
        a.emit('message', text, bytes);
        assertPayload(await a.next('message-back'), [text, bytes], `${size} bytes`);
      }
    });

    it('message: many messages come back in the order they were sent', async () => {
      const a = await join();
      for (let i = 0; i < 30; i++) a.emit('message', i, i % 3 === 0 ? Buffer.from([i]) : `#${i}`);
      for (let i = 0; i < 30; i++) {
        assertPayload(await a.next('message-back'), [i, i % 3 === 0 ? Buffer.from([i]) : `#${i}`]);
      }
    });

    it('message: message-back goes to the sender only', async () => {
      const a = await join();
      const b = await join();
      const check = quiet([[b, 'message-back']]);
      a.emit('message', 'only for a');
      assert.deepEqual(await a.next('message-back'), ['only for a']);
      await check.through(a);
    });

    it('message-with-ack: the ack gets the same mixed arguments', async () => {
      const a = await join();
      const args = mixedArguments();
      assertPayload(await a.request('message-with-ack', ...args), args);
      assertPayload(await a.request('message-with-ack', Buffer.from('bin')), [Buffer.from('bin')]);
      assert.deepEqual(await a.request('message-with-ack', 'one'), ['one']);
    });

    it('toServer: toClient "nome:msg" to the sender and to everyone else (chat)', async () => {
      const a = await join();
      const b = await join();
      const c = await join();
      const check = quiet([[a, 'toClient'], [b, 'toClient'], [c, 'toClient']]);
      a.emit('toServer', { nome: 'ana', msg: 'olá' });
      assert.deepEqual(await a.next('toClient'), ['ana:olá']);
      assert.deepEqual(await b.next('toClient'), ['ana:olá']);
      assert.deepEqual(await c.next('toClient'), ['ana:olá']);
      await check.through(a); // nobody got it twice
    });

    it('client:created:job: server:created:job with the data to every socket (job board)', async () => {
      const a = await join();
      const b = await join();
      const c = await join();
      const job = { id: 7, title: 'paint the fence', tags: ['outdoor'], file: Buffer.from([7]) };
      b.emit('client:created:job', job);
      for (const client of [a, b, c]) {
        assertPayload(await client.next('server:created:job'), [job]);
      }
    });

    it('whoami: acks with socket.id', async () => {
      const a = await join();
      const b = await join();
      const idA = await a.call('whoami');
      assert.equal(typeof idA, 'string');
      assert.equal(idA, a.id);
      assert.equal(await b.call('whoami'), b.id);
      assert.notEqual(a.id, b.id);
    });

    it('join / leave / to-room / to-room-except-me', async () => {
      const a = await join();
      const b = await join();
      const c = await join();
      assert.deepEqual(await a.request('join', 'room-1'), [true]);
      assert.deepEqual(await b.request('join', 'room-1'), [true]);

      // from outside the room: a and b get it, c does not
      let check = quiet([[c, 'in-room']]);
      c.emit('to-room', { room: 'room-1', event: 'in-room', data: { n: 1 } });
      assert.deepEqual(await a.next('in-room'), [{ n: 1 }]);
      assert.deepEqual(await b.next('in-room'), [{ n: 1 }]);
      await check.through(c);

      // from inside the room: the sender included
      check = quiet([[a, 'in-room'], [b, 'in-room'], [c, 'in-room']]);
      a.emit('to-room', { room: 'room-1', event: 'in-room', data: { n: 2 } });
      assert.deepEqual(await a.next('in-room'), [{ n: 2 }]);
      assert.deepEqual(await b.next('in-room'), [{ n: 2 }]);
      await check.through(a);

      // except me: b only
      check = quiet([[a, 'in-room'], [c, 'in-room']]);
      a.emit('to-room-except-me', { room: 'room-1', event: 'in-room', data: { n: 3 } });
      assert.deepEqual(await b.next('in-room'), [{ n: 3 }]);
      await check.through(a);

      // after leaving, b is no longer reached
      assert.deepEqual(await b.request('leave', 'room-1'), [true]);
      check = quiet([[b, 'in-room'], [c, 'in-room']]);
      c.emit('to-room', { room: 'room-1', event: 'in-room', data: { n: 4 } });
      assert.deepEqual(await a.next('in-room'), [{ n: 4 }]);
      await check.through(c);

      // a room nobody is in reaches nobody; binary data goes through rooms too
      check = quiet([[a, 'in-room'], [b, 'in-room'], [c, 'in-room']]);
      c.emit('to-room', { room: 'empty-room', event: 'in-room', data: 0 });
      await check.through(c);
      c.emit('to-room', { room: 'room-1', event: 'in-room', data: Buffer.from([1, 2]) });
      assertPayload(await a.next('in-room'), [Buffer.from([1, 2])]);
    });

    it('broadcast: to every socket on / except the sender', async () => {
      const a = await join();
      const b = await join();
      const c = await join();
      const check = quiet([[a, 'broadcast']]);
      a.emit('broadcast', { hello: 'all', bin: Buffer.from([1]) });
      for (const other of [b, c]) {
        assertPayload(await other.next('broadcast'), [{ hello: 'all', bin: Buffer.from([1]) }]);
      }
      await check.through(a);
    });

    it('fanout: event with data to every socket on /, the sender included', async () => {
      const a = await join();
      const b = await join();
      a.emit('fanout', { event: 'tick', data: { seq: 1 } });
      assert.deepEqual(await a.next('tick'), [{ seq: 1 }]);
      assert.deepEqual(await b.next('tick'), [{ seq: 1 }]);
    });

    it('ask: question expecting an ack; the ack value comes back as answer {ok: true}', async () => {
      const a = await join();
      a.emit('ask', { question: 'how many?', timeout_ms: 5000 });
      const [question, ack] = await a.next('question');
      assert.equal(question, 'how many?');
      assert.equal(typeof ack, 'function', 'the server expects an ack for `question`');
      ack({ count: 42 });
      assert.deepEqual(await a.next('answer'), [{ ok: true, value: { count: 42 } }]);
      // exactly one answer
      await quiet([[a, 'answer']]).through(a, { laterMs: 100 });
    });

    it('ask: no ack within timeout_ms gives answer {ok: false, error: "timeout"}; a late ack is ignored', async () => {
      const a = await join();
      const started = Date.now();
      a.emit('ask', { question: 'too slow?', timeout_ms: 200 });
      const [question, ack] = await a.next('question');
      assert.equal(question, 'too slow?');
      assert.deepEqual(await a.next('answer'), [{ ok: false, error: 'timeout' }]);
      assert.ok(Date.now() - started >= 190, `the timeout answer came after ${Date.now() - started} ms`);
      const check = quiet([[a, 'answer']]);
      ack('too late');
      await check.through(a, { laterMs: 150 });
      assert.equal(await a.call('whoami'), a.id, 'the socket still works after a late ack');
    });

    it('later: emits event with data after ms, from outside a handler', async () => {
      const a = await join();
      const started = Date.now();
      a.emit('later', { ms: 150, event: 'wake-up', data: { n: 1, bin: Buffer.from([5]) } });
      assertPayload(await a.next('wake-up'), [{ n: 1, bin: Buffer.from([5]) }]);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 145, `wake-up came after ${elapsed} ms, expected at least 150`);
    });

    it('kick-me: the server disconnects the socket (reason "io server disconnect")', async () => {
      const a = await join();
      const b = await join();
      a.emit('kick-me');
      const [reason] = await a.next('@disconnect');
      assert.equal(reason, 'io server disconnect');
      assert.equal(a.socket.connected, false);
      assert.equal(await b.call('whoami'), b.id, 'other sockets are not affected');
    });

    it('throw: the handler fails on purpose, the server keeps serving that socket', async () => {
      const a = await join();
      a.emit('throw');
      assert.equal(await a.call('whoami'), a.id);
      a.emit('throw', { with: 'data' });
      a.emit('message', 'after throw');
      assert.deepEqual(await a.next('message-back'), ['after throw']);
    });
  });

  describe(`${HOST} host, namespaces /custom, /admin and unknown over ${setup}`, () => {
    afterEach(closeAllClients);
    const join = (options = {}) => connect(server, { setup, ...options });

    it('/custom: emits auth with the handshake auth object', async () => {
      const a = await join({ nsp: '/custom', auth: { room: 'x', n: [1, 2] } });
      assert.deepEqual(await a.next('auth'), [{ room: 'x', n: [1, 2] }]);
      const b = await join({ nsp: '/custom' });
      assert.deepEqual(await b.next('auth'), [{}]);
    });

    it('/ and /custom multiplexed over one connection', async () => {
      const manager = sharedManager(server, setup);
      const main = await new Client(null, { setup, manager, nsp: '/', auth: { who: 'main' } }).ready();
      const custom = await new Client(null, { setup, manager, nsp: '/custom', auth: { who: 'custom' } }).ready();
      assert.deepEqual(await main.next('auth'), [{ who: 'main' }]);
      assert.deepEqual(await custom.next('auth'), [{ who: 'custom' }]);
      assert.notEqual(main.id, custom.id, 'each namespace has its own socket id');
      assert.equal(await main.call('whoami'), main.id);
      assert.equal(main.socket.io.engine, custom.socket.io.engine, 'one Engine.IO connection');
    });

    it('/admin: accepts {token: "secret"} and emits admin-hello {id}', async () => {
      const a = await join({ nsp: '/admin', auth: { token: 'secret' } });
      assert.deepEqual(await a.next('admin-hello'), [{ id: a.id }]);
    });

    it('/admin: refuses other auth with connect_error "unauthorized"', async () => {
      for (const auth of [undefined, { token: 'wrong' }, { other: 'secret' }]) {
        const a = new Client(server.url, { setup, nsp: '/admin', auth });
        const [err] = await a.next('@connect_error');
        assert.equal(err.message, 'unauthorized', `auth ${JSON.stringify(auth)}`);
        assert.equal(a.socket.connected, false);
        a.close();
      }
    });

    it('/admin: a refused namespace does not affect / on the same connection', async () => {
      const manager = sharedManager(server, setup);
      const main = await new Client(null, { setup, manager, nsp: '/' }).ready();
      const refused = new Client(null, { setup, manager, nsp: '/admin', auth: { token: 'nope' } });
      assert.equal((await refused.nextValue('@connect_error')).message, 'unauthorized');
      assert.equal(await main.call('whoami'), main.id);
    });

    it('/admin: broadcast-main emits announcement to every socket on /', async () => {
      const manager = sharedManager(server, setup);
      const main = await new Client(null, { setup, manager, nsp: '/' }).ready();
      const admin = await new Client(null, { setup, manager, nsp: '/admin', auth: { token: 'secret' } }).ready();
      const other = await join();
      admin.emit('broadcast-main', { text: 'maintenance at noon', bin: Buffer.from([3]) });
      for (const client of [main, other]) {
        assertPayload(await client.next('announcement'), [{ text: 'maintenance at noon', bin: Buffer.from([3]) }]);
      }
    });

    it('any other namespace: connect_error "Invalid namespace"', async () => {
      for (const nsp of ['/nope', '/admin2', '/custom/sub']) {
        const a = new Client(server.url, { setup, nsp });
        const [err] = await a.next('@connect_error');
        assert.equal(err.message, 'Invalid namespace', nsp);
        a.close();
      }
    });
  });
}
