'use strict';
// socket.io's BroadcastOperator: `io.to(room).except(room).emit(...)` and friends.
// A plain broadcast is one native call: rtio's core selects the sockets and encodes the
// packet once. A broadcast expecting acks asks each selected socket (rtio has no broadcast
// ack of its own) and gathers the answers as socket.io does.

const { pack } = require('./binary');
const { RESERVED_EVENTS, timeoutError } = require('./common');

function addRooms(set, room) {
  const out = new Set(set);
  if (Array.isArray(room)) for (const r of room) out.add(String(r));
  else out.add(String(room));
  return out;
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

  /** Accepted for compatibility; rtio does not compress messages. */
  compress(compress) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, compress });
  }

  /** Accepted for compatibility; the event is sent normally (see docs/node.md). */
  get volatile() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, volatile: true });
  }

  /** This server only: with rtio, always the case. */
  get local() {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, local: true });
  }

  /** Sets how long acks are waited for (`emit(..., (err, responses) => ...)`). */
  timeout(timeout) {
    return new BroadcastOperator(this.nsp, this.rooms, this.exceptRooms, { ...this.flags, timeout });
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
    native.broadcast(this.nsp.name, [...this.rooms], [...this.exceptRooms], String(ev), packed, bins);
    return true;
  }

  _emitWithAcks(ev, args, ack) {
    const server = this.nsp.server;
    const timeout = this.flags.timeout;
    const single = Boolean(this.flags.expectSingleResponse);
    const targets = server._native ? this.adapter.select(this.rooms, this.exceptRooms) : [];
    const responses = [];
    let expected = 0;
    let finished = false;
    const finish = (err) => {
      if (finished) return;
      finished = true;
      server._call(ack, this, [err, single ? (err ? null : responses[0]) : responses], 'a broadcast ack callback');
    };
    if (targets.length === 0) {
      // nobody to answer: socket.io completes right away, or after the timeout for a single target
      if (single && timeout !== undefined) {
        setTimeout(() => finish(timeoutError()), timeout);
      } else {
        process.nextTick(() => finish(null));
      }
      return;
    }
    const { args: packed, bins } = pack(args);
    for (const sid of targets) {
      const registered = server._emitWithAck(sid, ev, packed, bins, timeout, (err, response) => {
        if (finished) return;
        if (err) return finish(err);
        responses.push(response[0]);
        if (responses.length === expected) finish(null);
      });
      if (registered) expected++;
    }
    if (expected === 0) {
      // every target left meanwhile
      if (timeout !== undefined) setTimeout(() => finish(timeoutError()), timeout);
      else process.nextTick(() => finish(null));
    }
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

  /** A Promise of the Set of the targeted socket ids. */
  allSockets() {
    return Promise.resolve(new Set(this.adapter.select(this.rooms, this.exceptRooms)));
  }

  /** A Promise of the targeted Socket instances. */
  fetchSockets() {
    const sockets = this.nsp.sockets;
    const out = [];
    for (const id of this.adapter.select(this.rooms, this.exceptRooms)) {
      const socket = sockets.get(id);
      if (socket) out.push(socket);
    }
    return Promise.resolve(out);
  }

  /** Makes the targeted sockets join a room (or rooms). */
  socketsJoin(room) {
    for (const socket of this._targets()) socket.join(room);
  }

  /** Makes the targeted sockets leave a room (or rooms). */
  socketsLeave(room) {
    const rooms = Array.isArray(room) ? room : [room];
    for (const socket of this._targets()) for (const r of rooms) socket.leave(r);
  }

  /** Disconnects the targeted sockets (with `close`, their whole connections). */
  disconnectSockets(close = false) {
    for (const socket of this._targets()) socket.disconnect(close);
  }

  _targets() {
    const sockets = this.nsp.sockets;
    const out = [];
    for (const id of this.adapter.select(this.rooms, this.exceptRooms)) {
      const socket = sockets.get(id);
      if (socket) out.push(socket);
    }
    return out;
  }
}

module.exports = { BroadcastOperator };
