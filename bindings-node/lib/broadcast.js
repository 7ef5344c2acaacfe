'use strict';
// socket.io's BroadcastOperator: `io.to(room).except(room).emit(...)` and friends. Each
// operation is one call to rtio's core, which selects the sockets (on every server of a
// cluster, unless `local`), encodes a packet once, and reports results that need other
// servers (acks, fetchSockets) as events that `Server#_clusterCall` hands back.

const { pack, unpack } = require('./binary');
const { RESERVED_EVENTS, NO_TIMEOUT_MS, timeoutError, clusterError } = require('./common');

function addRooms(set, room) {
  const out = new Set(set);
  if (Array.isArray(room)) for (const r of room) out.add(String(r));
  else out.add(String(room));
  return out;
}

function roomList(room) {
  return Array.isArray(room) ? room.map(String) : [String(room)];
}

class BroadcastOperator {
  constructor(nsp, rooms = new Set(), exceptRooms = new Set(), flags = {}) {
    this.nsp = nsp;
    this.adapter = nsp.adapter;
    this.rooms = rooms;
    this.exceptRooms = exceptRooms;
    this.flags = flags;
  }

  /** Targets a room (or rooms); several calls add up (a socket gets the event once). */
  to(room) {
    return new BroadcastOperator(this.nsp, addRooms(this.rooms, room), this.exceptRooms, this.flags);
  }

  /** Same as `to`. */
  in(room) {
    return this.to(room);
  }

  /** Leaves out the members of a room (or rooms). */
  except(room) {
    return new BroadcastOperator(this.nsp, this.rooms, addRooms(this.exceptRooms, room), this.flags);
  }

  /**
   * `compress(false)`: the event is never permessage-deflate-compressed (with the
   * `perMessageDeflate` option on; without it nothing is).
   */
  compress(compress) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, compress });
  }

  /** The event is dropped for a socket whose transport cannot take it right now. */
  get volatile() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, volatile: true });
  }

  /** This server's sockets only: in a cluster, the operation is not sent to the others. */
  get local() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, local: true });
  }

  /** Sets how long acks are waited for (`emit(..., (err, responses) => ...)`). */
  timeout(timeout) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, timeout });
  }

  /** The selection as the native calls take it: namespace, rooms, except, local. */
  _selection() {
    return [this.nsp.name, [...this.rooms], [...this.exceptRooms], Boolean(this.flags.local)];
  }

  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    const server = this.nsp.server;
    if (typeof args[args.length - 1] === 'function') {
      const ack = args.pop();
      this._emitWithAcks(String(ev), args, ack);
      return true;
    }
    const native = server._native;
    if (!native) return true; // not listening: nobody to reach
    const { args: packed, bins } = pack(args);
    const [nsp, to, except, local] = this._selection();
    native.broadcast(nsp, to, except, String(ev), packed, bins, local, Boolean(this.flags.volatile), this.flags.compress !== false);
    return true;
  }

  /**
   * A broadcast expecting an ack from each socket reached, on every server: the core gathers
   * the answers (the first argument of each) and completes at the timeout with those that
   * came, as socket.io does.
   */
  _emitWithAcks(ev, args, ack) {
    const server = this.nsp.server;
    const timeout = this.flags.timeout;
    const single = Boolean(this.flags.expectSingleResponse);
    const finish = (err, responses) => {
      server._call(ack, this, [err, single ? (err ? null : responses[0]) : responses], 'a broadcast ack callback');
    };
    const ms = timeout === undefined ? NO_TIMEOUT_MS : Math.max(0, Math.min(Number(timeout) || 0, NO_TIMEOUT_MS));
    const { args: packed, bins } = pack(args);
    const [nsp, to, except, local] = this._selection();
    const started = server._clusterCall(
      (native) => native.broadcastWithAck(nsp, to, except, local, ev, packed, bins, ms),
      (done) => finish(done.reason != null ? clusterError(done.reason) : null, unpack(done.data, done.bins) || []),
    );
    if (started) return;
    // not listening: nobody to answer; a single target times out, as in socket.io
    if (single && timeout !== undefined) setTimeout(() => finish(timeoutError(), []), timeout);
    else process.nextTick(() => finish(null, []));
  }

  /** Emits and resolves with the acks of every targeted socket (rejects on timeout). */
  emitWithAck(ev, ...args) {
    return new Promise((resolve, reject) => {
      args.push((err, responses) => {
        if (err) {
          err.responses = responses;
          return reject(err);
        }
        return resolve(responses);
      });
      this.emit(ev, ...args);
    });
  }

  /** A Promise of the Set of the ids of the targeted sockets of this server. */
  allSockets() {
    return this.local._fetch().then((sockets) => new Set(sockets.map((s) => s.id)));
  }

  /**
   * A Promise of the targeted sockets of every server: this server's as their Socket
   * instances, the others' as RemoteSocket snapshots. Rejects when a server did not answer
   * within the adapter's `requestsTimeout`.
   */
  fetchSockets() {
    return this._fetch();
  }

  _fetch() {
    const server = this.nsp.server;
    return new Promise((resolve, reject) => {
      const [nsp, to, except, local] = this._selection();
      const started = server._clusterCall(
        (native) => native.fetchSockets(nsp, to, except, local),
        (done) => {
          if (done.reason != null) return reject(clusterError(done.reason));
          return resolve(server._fetched(this.nsp, done));
        },
      );
      if (!started) resolve([]);
    });
  }

  /** Makes the targeted sockets (of every server) join a room (or rooms). */
  socketsJoin(room) {
    const native = this.nsp.server._native;
    if (native) native.socketsJoin(...this._selection(), roomList(room));
  }

  /** Makes the targeted sockets (of every server) leave a room (or rooms). */
  socketsLeave(room) {
    const native = this.nsp.server._native;
    if (native) native.socketsLeave(...this._selection(), roomList(room));
  }

  /** Disconnects the targeted sockets of every server (with `close`, their whole connections). */
  disconnectSockets(close = false) {
    const native = this.nsp.server._native;
    if (native) native.disconnectSockets(...this._selection(), Boolean(close));
  }
}

module.exports = { BroadcastOperator };
