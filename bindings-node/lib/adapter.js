'use strict';
// `nsp.adapter`: socket.io's Adapter shape (`rooms`: room -> Set of socket ids, `sids`: socket
// id -> Set of rooms, `serverCount()`), answered by rtio's core, which holds the one room
// index: in a cluster, other servers change the rooms of this server's sockets
// (`socketsJoin` from another node), which only the core hears of. `rooms` and `sids` are
// this server's sockets, as in socket.io; each read is a fresh snapshot.

const { clusterError } = require('./common');

class Adapter {
  constructor(nsp) {
    this.nsp = nsp;
  }

  /** The rooms of each socket of this server in the namespace, from the core. */
  _roomsBySocket() {
    const native = this.nsp.server._native;
    const out = new Map();
    if (!native) return out;
    for (const id of native.sockets(this.nsp.name, null)) {
      const rooms = native.rooms(id);
      if (rooms) out.set(id, new Set(rooms));
    }
    return out;
  }

  /** socket id -> Set of its rooms (a snapshot of this server's sockets). */
  get sids() {
    return this._roomsBySocket();
  }

  /** room -> Set of the ids of its members (a snapshot of this server's sockets). */
  get rooms() {
    const out = new Map();
    for (const [id, rooms] of this._roomsBySocket()) {
      for (const room of rooms) {
        let members = out.get(room);
        if (!members) out.set(room, (members = new Set()));
        members.add(id);
      }
    }
    return out;
  }

  /** The rooms of a socket of this server (a Set), or undefined when it is not here. */
  socketRooms(id) {
    const native = this.nsp.server._native;
    const rooms = native ? native.rooms(id) : null;
    return rooms ? new Set(rooms) : undefined;
  }

  /** socket.io's `adapter.sockets(rooms)`: a Promise of the Set of this server's ids in those rooms. */
  sockets(rooms) {
    return this.nsp.in([...(rooms || [])]).allSockets();
  }

  /**
   * A Promise of the number of servers of the namespace's cluster, this one included (1
   * without a cluster adapter). Rejects when Redis cannot be asked.
   */
  serverCount() {
    const server = this.nsp.server;
    return new Promise((resolve, reject) => {
      const started = server._clusterCall(
        (native) => native.serverCount(this.nsp.name),
        (done) => (done.reason != null ? reject(clusterError(done.reason)) : resolve(Number(done.data))),
      );
      if (!started) resolve(1);
    });
  }
}

module.exports = { Adapter };
