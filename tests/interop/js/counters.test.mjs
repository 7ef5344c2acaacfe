// The rows whose answers are absolute counts: `visits` (on connect and disconnect) and `stats`.
// Each transport setup gets a server of its own, so that no other client is counted.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { HOST, SETUPS, startServer, connect, closeAllClients, until, RawWebSocket } from './harness.mjs';

for (const setup of Object.keys(SETUPS)) {
  describe(`${HOST} host, visits and stats over ${setup}`, () => {
    let server;
    before(async () => {
      server = await startServer();
    });
    after(async () => {
      closeAllClients();
      await server?.stop();
    });
    afterEach(closeAllClients);
    const join = (options = {}) => connect(server, { setup, ...options });

    // The first client of a test: once it has seen `visits` 1, the sockets of earlier tests are
    // gone from the server too.
    async function alone() {
      const a = await join();
      await a.next('visits', { where: ([n]) => n === 1 });
      a.drain();
      return a;
    }

    it('visits counts the sockets on / to everyone, on connect and on every kind of disconnect', async () => {
      const a = await join();
      assert.deepEqual(await a.next('auth'), [{}]);
      assert.deepEqual(await a.next('visits'), [1], 'the first visitor');

      const b = await join();
      assert.deepEqual(await b.next('visits'), [2]);
      assert.deepEqual(await a.next('visits'), [2], 'visits goes to every socket on /');

      // `auth` comes before `visits` on the new socket
      const order = b.history.filter((e) => e.name === 'auth' || e.name === 'visits').map((e) => e.name);
      assert.deepEqual(order, ['auth', 'visits']);

      // a socket on another namespace is no visitor
      const custom = await join({ nsp: '/custom' });
      await custom.next('auth');
      assert.deepEqual(await a.call('stats'), { sockets: 2, rooms: 0 });

      // client-side disconnect
      b.close();
      assert.deepEqual(await a.next('visits'), [1], 'visits decrements when a client disconnects');

      // server-side disconnect
      const c = await join();
      assert.deepEqual(await c.next('visits'), [2]);
      assert.deepEqual(await a.next('visits'), [2]);
      c.emit('kick-me');
      await c.next('@disconnect');
      assert.deepEqual(await a.next('visits'), [1], 'visits decrements when the server kicks a socket');

      // the connection just goes away (no Socket.IO DISCONNECT packet)
      const d = await join();
      assert.deepEqual(await a.next('visits'), [2]);
      d.socket.io.engine.close();
      assert.deepEqual(await a.next('visits'), [1], 'visits decrements when the connection closes');

      assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 0 });
    });

    it('visits follows the events: when two clients leave at once, the others see 2 then 1', async () => {
      const a = await alone();
      const b = await join();
      const c = await join();
      await a.next('visits', { where: ([n]) => n === 3 });
      a.drain();
      b.close();
      c.close();
      assert.deepEqual(await a.next('visits'), [2]);
      assert.deepEqual(await a.next('visits'), [1]);
    });

    it('visits also decrements when a raw websocket connection is dropped', async () => {
      const a = await alone();
      const raw = await RawWebSocket.open(server);
      await raw.next(); // open packet
      raw.send('40');
      await raw.nextData(); // 40{"sid"}
      assert.deepEqual(await a.next('visits'), [2]);
      raw.close(); // TCP connection dropped without a close frame
      assert.deepEqual(await a.next('visits'), [1]);
    });

    it('stats: sockets on / and rooms with members, not counting each socket\'s own room', async () => {
      const a = await alone();
      assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 0 });
      const b = await join();
      assert.deepEqual(await b.call('stats'), { sockets: 2, rooms: 0 });

      assert.equal(await a.call('join', 'red'), true);
      assert.deepEqual(await a.call('stats'), { sockets: 2, rooms: 1 });
      assert.equal(await b.call('join', 'red'), true);
      assert.equal(await a.call('join', 'blue'), true);
      assert.equal(await a.call('join', 'blue'), true, 'joining twice is fine');
      assert.deepEqual(await b.call('stats'), { sockets: 2, rooms: 2 });

      assert.equal(await a.call('leave', 'blue'), true);
      assert.deepEqual(await a.call('stats'), { sockets: 2, rooms: 1 }, 'a room without members is gone');
      assert.equal(await a.call('leave', 'never-joined'), true, 'leaving a room one is not in is fine');

      b.close();
      await a.next('visits', { where: ([n]) => n === 1 });
      assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 1 }, 'a still is in red');
      assert.equal(await a.call('leave', 'red'), true);
      assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 0 });

      // a disconnected socket leaves its rooms
      const c = await join();
      assert.equal(await c.call('join', 'green'), true);
      assert.deepEqual(await a.call('stats'), { sockets: 2, rooms: 1 });
      c.close();
      await a.next('visits', { where: ([n]) => n === 1 });
      assert.deepEqual(await a.call('stats'), { sockets: 1, rooms: 0 });
    });
  });
}

describe(`${HOST} host, --no-visits`, () => {
  let server;
  before(async () => {
    server = await startServer(['--no-visits']);
  });
  after(async () => {
    closeAllClients();
    await server?.stop();
  });

  it('sends auth and no visits', async () => {
    const a = await connect(server, { setup: 'websocket' });
    const b = await connect(server, { setup: 'polling' });
    assert.deepEqual(await a.next('auth'), [{}]);
    assert.deepEqual(await b.next('auth'), [{}]);
    assert.deepEqual(await a.call('stats'), { sockets: 2, rooms: 0 });
    b.close();
    await until(async () => (await a.call('stats')).sockets === 1, 3000, 'stats to count 1 socket');
    // the barrier is handled after both connects and the disconnect
    a.emit('fanout', { event: 'barrier', data: 'end' });
    await a.next('barrier');
    assert.deepEqual(a.since(0, 'visits'), []);
    assert.deepEqual(b.since(0, 'visits'), []);
  });
});
