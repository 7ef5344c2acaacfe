'use strict';
// The JS view of who is where in one namespace, with the shape of socket.io's in-memory
// Adapter (`rooms`: room -> Set of socket ids, `sids`: socket id -> Set of rooms).
//
// rtio's core keeps the authoritative room index (broadcasts are selected and encoded there,
// off the JS thread). Every membership change goes through this binding, so this mirror is
// kept in step with it; it answers the JS-side questions without a native call: `socket.rooms`
// (also inside `disconnecting`), `fetchSockets`, `socketsJoin`, acks from several sockets.

// Every socket is in its own room (named by its id), and most sockets are in no other: a
// Set of rooms in `sids` and a Set of members in `rooms` for each of them were 300 bytes of
// an idle socket's memory. Such a socket is kept as an id in `sids` alone ("own-only"); both
// maps answer for it as if its Sets were there, and make them the first time one is asked
// for by key (`sids.get(id)`, `rooms.get(id)`, `socket.rooms`), or when it joins or leaves a
// room. Iterating yields a Set made for the iteration for an own room nobody asked for.

/** `adapter.sids`: socket id -> Set of its rooms. An own-only socket's value is `undefined`. */
class SocketIndex extends Map {
  constructor() {
    super();
    /** How many sockets are own-only. */
    this.ownOnly = 0;
    /** @type {RoomIndex} set by the Adapter */
    this.rooms = undefined;
  }

  /** Adds a socket whose only room is its own. */
  addOwnOnly(id) {
    super.set(id, undefined);
    this.ownOnly++;
  }

  isOwnOnly(id) {
    return super.get(id) === undefined && super.has(id);
  }

  /** Makes the Sets of an own-only socket, in both maps; returns its Set of rooms. */
  materialize(id) {
    const rooms = new Set([id]);
    super.set(id, rooms);
    this.ownOnly--;
    this.rooms.set(id, new Set([id]));
    return rooms;
  }

  get(id) {
    const rooms = super.get(id);
    if (rooms === undefined && super.has(id)) return this.materialize(id);
    return rooms;
  }

  set(id, rooms) {
    if (this.isOwnOnly(id)) this.ownOnly--;
    return super.set(id, rooms);
  }

  delete(id) {
    if (this.isOwnOnly(id)) this.ownOnly--;
    return super.delete(id);
  }

  clear() {
    this.ownOnly = 0;
    super.clear();
  }

  *entries() {
    for (const [id, rooms] of super.entries()) yield [id, rooms === undefined ? new Set([id]) : rooms];
  }

  *values() {
    for (const [, rooms] of this.entries()) yield rooms;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  forEach(fn, self) {
    for (const [id, rooms] of this.entries()) fn.call(self, rooms, id, this);
  }
}

/** `adapter.rooms`: room -> Set of the ids of its members; own-only sockets' rooms implied. */
class RoomIndex extends Map {
  constructor(sids) {
    super();
    /** @type {SocketIndex} */
    this.sids = sids;
  }

  /** The members of `room` as stored, without making an own-only socket's Sets. */
  getRaw(room) {
    return super.get(room);
  }

  get(room) {
    const members = super.get(room);
    if (members !== undefined || !this.sids.isOwnOnly(room)) return members;
    this.sids.materialize(room);
    return super.get(room);
  }

  has(room) {
    return super.has(room) || this.sids.isOwnOnly(room);
  }

  get size() {
    return super.size + this.sids.ownOnly;
  }

  *entries() {
    yield* super.entries();
    for (const id of this.sids.keys()) {
      // made during this iteration: already yielded above, or stored after it
      if (this.sids.isOwnOnly(id)) yield [id, new Set([id])];
    }
  }

  *keys() {
    for (const [room] of this.entries()) yield room;
  }

  *values() {
    for (const [, members] of this.entries()) yield members;
  }

  [Symbol.iterator]() {
    return this.entries();
  }

  forEach(fn, self) {
    for (const [room, members] of this.entries()) fn.call(self, members, room, this);
  }
}

class Adapter {
  constructor(nsp) {
    this.nsp = nsp;
    /** @type {Map<string, Set<string>>} */
    this.sids = new SocketIndex();
    /** @type {Map<string, Set<string>>} */
    this.rooms = new RoomIndex(this.sids);
    this.sids.rooms = this.rooms;
  }

  /** Adds socket `id` to `rooms` (an array); a new socket joins `[id]`, its own room. */
  addAll(id, rooms) {
    if (rooms.length === 1 && rooms[0] === id && !this.sids.has(id)) {
      this.sids.addOwnOnly(id);
      return;
    }
    let own = this.sids.get(id);
    if (!own) {
      own = new Set();
      this.sids.set(id, own);
    }
    for (const room of rooms) {
      own.add(room);
      let members = this.rooms.get(room);
      if (!members) {
        members = new Set();
        this.rooms.set(room, members);
      }
      members.add(id);
    }
  }

  del(id, room) {
    const own = this.sids.get(id);
    if (own) own.delete(room);
    const members = this.rooms.get(room);
    if (members) {
      members.delete(id);
      if (members.size === 0) this.rooms.delete(room);
    }
  }

  delAll(id) {
    if (this.sids.isOwnOnly(id)) {
      this.sids.delete(id);
      return;
    }
    const own = this.sids.get(id);
    if (!own) return;
    for (const room of own) {
      const members = this.rooms.getRaw(room);
      if (members) {
        members.delete(id);
        if (members.size === 0) this.rooms.delete(room);
      }
    }
    this.sids.delete(id);
  }

  /** The rooms of a socket (the live set), or undefined. */
  socketRooms(id) {
    return this.sids.get(id);
  }

  /** The members of `room` (a Set, or an array for an own-only socket), made for nobody. */
  members(room) {
    const members = this.rooms.getRaw(room);
    if (members !== undefined) return members;
    return this.sids.isOwnOnly(room) ? [room] : undefined;
  }

  /**
   * The ids of the sockets in any of `rooms` (every socket when empty) and in none of
   * `except`, each once.
   */
  select(rooms, except) {
    const excluded = new Set();
    if (except) {
      for (const room of except) {
        const members = this.members(room);
        if (members) for (const id of members) excluded.add(id);
      }
    }
    const out = [];
    if (rooms && rooms.size > 0) {
      const seen = new Set();
      for (const room of rooms) {
        const members = this.members(room);
        if (!members) continue;
        for (const id of members) {
          if (seen.has(id) || excluded.has(id)) continue;
          seen.add(id);
          out.push(id);
        }
      }
    } else {
      for (const id of this.sids.keys()) if (!excluded.has(id)) out.push(id);
    }
    return out;
  }

  /** socket.io's `adapter.sockets(rooms)`: a Promise of the Set of ids in those rooms. */
  sockets(rooms) {
    return Promise.resolve(new Set(this.select(rooms)));
  }
}

module.exports = { Adapter };
