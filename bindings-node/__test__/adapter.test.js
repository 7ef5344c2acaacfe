'use strict';
// The JS room mirror (lib/adapter.js): sockets whose only room is their own keep no Sets until
// asked, and both maps still answer exactly as socket.io's in-memory adapter would.
const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { Adapter } = require('../lib/adapter');

/** Plain copies of both maps, as socket.io's adapter would hold them. */
function snapshot(adapter) {
  const plain = (map) => [...map].map(([k, v]) => [k, [...v].sort()]).sort();
  return { rooms: plain(adapter.rooms), sids: plain(adapter.sids) };
}

describe('Adapter', () => {
  it('a socket in its own room only: found by every read of both maps', () => {
    const a = new Adapter({});
    a.addAll('A', ['A']);
    a.addAll('B', ['B']);
    assert.equal(a.sids.isOwnOnly('A'), true, 'no Sets made on connect');
    assert.equal(a.rooms.size, 2);
    assert.equal(a.sids.size, 2);
    assert.equal(a.rooms.has('A'), true);
    assert.equal(a.rooms.has('C'), false);
    assert.equal(a.rooms.get('C'), undefined);
    assert.deepEqual([...a.rooms.keys()].sort(), ['A', 'B']);
    assert.deepEqual([...a.rooms.values()].map((s) => [...s]).sort(), [['A'], ['B']]);
    const seen = [];
    a.rooms.forEach((members, room, map) => seen.push([room, [...members], map === a.rooms]));
    assert.deepEqual(seen.sort(), [['A', ['A'], true], ['B', ['B'], true]]);
    assert.deepEqual(snapshot(a), { rooms: [['A', ['A']], ['B', ['B']]], sids: [['A', ['A']], ['B', ['B']]] });
    assert.equal(a.sids.isOwnOnly('A'), true, 'iterating made nothing');
    assert.deepEqual(a.select(new Set(['B'])), ['B']);
    assert.deepEqual(a.select(new Set(), new Set(['A'])), ['B']);
    assert.equal(a.sids.isOwnOnly('B'), true, 'selecting made nothing');
  });

  it('a Set asked for by key is made once, kept and live', () => {
    const a = new Adapter({});
    a.addAll('A', ['A']);
    const own = a.rooms.get('A');
    assert.deepEqual([...own], ['A']);
    assert.equal(a.rooms.get('A'), own, 'the same Set each time');
    assert.equal(a.sids.isOwnOnly('A'), false);
    assert.deepEqual([...a.sids.get('A')], ['A']);
    assert.equal(a.rooms.size, 1);
    a.addAll('B', ['B']);
    const rooms = a.socketRooms('B');
    a.addAll('B', ['r']);
    assert.deepEqual([...rooms].sort(), ['B', 'r'], 'socket.rooms is the live Set');
  });

  it('join, leave, leaving its own room, joining another socket\'s room, disconnect', () => {
    const a = new Adapter({});
    for (const id of ['A', 'B', 'C']) a.addAll(id, [id]);
    a.addAll('A', ['r']);
    a.addAll('C', ['B']); // a socket id is a room anyone may join
    assert.deepEqual(snapshot(a), {
      rooms: [['A', ['A']], ['B', ['B', 'C']], ['C', ['C']], ['r', ['A']]],
      sids: [['A', ['A', 'r']], ['B', ['B']], ['C', ['B', 'C']]],
    });
    a.del('B', 'B');
    assert.deepEqual(snapshot(a).rooms, [['A', ['A']], ['B', ['C']], ['C', ['C']], ['r', ['A']]]);
    assert.deepEqual([...a.sids.get('B')], []);
    a.delAll('A');
    a.delAll('C');
    assert.deepEqual(snapshot(a), { rooms: [], sids: [['B', []]] });
    assert.equal(a.rooms.size, 0);
    a.addAll('D', ['D']);
    a.delAll('D');
    assert.equal(a.sids.has('D'), false);
    assert.equal(a.rooms.has('D'), false);
    assert.equal(a.rooms.size, 0);
    assert.equal(a.sids.ownOnly, 0);
  });
});
