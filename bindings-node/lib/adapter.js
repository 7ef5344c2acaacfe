'use strict';
// The JS view of who is where in one namespace, with the shape of socket.io's in-memory
// Adapter (`rooms`: room -> Set of socket ids, `sids`: socket id -> Set of rooms).
//
// rtio's core keeps the authoritative room index (broadcasts are selected and encoded there,
// off the JS thread). Every membership change goes through this binding, so this mirror is
// kept in step with it; it answers the JS-side questions without a native call: `socket.rooms`
// (also inside `disconnecting`), `fetchSockets`, `socketsJoin`, acks from several sockets.

class Adapter {
  constructor(nsp) {
    this.nsp = nsp;
    /** @type {Map<string, Set<string>>} */
    this.rooms = new Map();
    /** @type {Map<string, Set<string>>} */
    this.sids = new Map();
  }

  addAll(id, rooms) {
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
    const own = this.sids.get(id);
    if (!own) return;
    for (const room of own) {
      const members = this.rooms.get(room);
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

  /**
   * The ids of the sockets in any of `rooms` (every socket when empty) and in none of
   * `except`, each once.
   */
  select(rooms, except) {
    const excluded = new Set();
    if (except) {
      for (const room of except) {
        const members = this.rooms.get(room);
        if (members) for (const id of members) excluded.add(id);
      }
    }
    const out = [];
    if (rooms && rooms.size > 0) {
      const seen = new Set();
      for (const room of rooms) {
        const members = this.rooms.get(room);
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
