'use strict';
// `nsp.adapter`: socket.io's Adapter shape answered by rtio's core (the one room index), so
// that what the core changes on its own (socketsJoin, another server's operations) shows.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { Server } = require('rtio');
const { connect, closeClients, serverSocketOf } = require('./helpers');

let io;
before(() => {
  io = new Server(0, { host: '127.0.0.1' });
});
after(() => io.close());
afterEach(() => closeClients());

/** Plain copies of both maps. */
function snapshot(adapter) {
  const plain = (map) => [...map].map(([k, v]) => [k, [...v].sort()]).sort();
  return { rooms: plain(adapter.rooms), sids: plain(adapter.sids) };
}

async function pair() {
  const c = await connect(io.address().port);
  return { c, s: await serverSocketOf(io.of("/"), c) };
}

describe('Adapter (from the core)', () => {
  it('rooms and sids: every socket in its own room; join, leave, socketsJoin, a socket id as a room', async () => {
    const a = await pair();
    const b = await pair();
    const adapter = io.of('/').adapter;
    const [A, B] = [a.s.id, b.s.id];
    assert.deepEqual(snapshot(adapter), { rooms: [[A, [A]], [B, [B]]].sort(), sids: [[A, [A]], [B, [B]]].sort() });
    a.s.join('r');
    b.s.join(A); // a socket id is a room anyone may join
    io.in(A).socketsJoin('s'); // done by the core: no JS join involved
    assert.deepEqual(snapshot(adapter).rooms, [[A, [A, B].sort()], [B, [B]], ['r', [A]], ['s', [A, B].sort()]].sort());
    assert.deepEqual([...adapter.socketRooms(B)].sort(), [A, B, 's'].sort());
    assert.deepEqual([...b.s.rooms].sort(), [A, B, 's'].sort(), 'socket.rooms asks the core');
    a.s.leave('r');
    io.in('s').socketsLeave('s');
    assert.deepEqual(snapshot(adapter).sids, [[A, [A]], [B, [A, B].sort()]].sort());
    assert.deepEqual([...(await adapter.sockets(new Set([A])))].sort(), [A, B].sort());
    assert.equal(adapter.socketRooms('nobody'), undefined);
  });

  it('serverCount() is 1 without a cluster adapter', async () => {
    assert.equal(await io.of('/').adapter.serverCount(), 1);
    assert.equal(await io.of('/other').adapter.serverCount(), 1);
  });

  it('a server not listening: empty maps, one server', async () => {
    const idle = new Server({ host: '127.0.0.1' });
    assert.equal(idle.of('/').adapter.rooms.size, 0);
    assert.equal(idle.of('/').adapter.sids.size, 0);
    assert.equal(await idle.of('/').adapter.serverCount(), 1);
  });
});
