'use strict';
// socket.io's Namespace: a group of sockets with its own middlewares, rooms and events.

const { EventEmitter } = require('node:events');
const { Adapter } = require('./adapter');
const { BroadcastOperator } = require('./broadcast');
const { pack, unpack } = require('./binary');
const { NAMESPACE_RESERVED_EVENTS, clusterError } = require('./common');

const emitLocal = EventEmitter.prototype.emit;

class Namespace extends EventEmitter {
  /** @private — use `io.of(name)`. */
  constructor(server, name) {
    super();
    this.name = name;
    this.server = server;
    /** @type {Map<string, import('./socket').Socket>} */
    this.sockets = new Map();
    this.adapter = new Adapter(this);
    this._fns = [];
    this._ids = 0;
  }

  /**
   * Registers a connection middleware: `(socket, next) => next()` accepts, `next(err)`
   * refuses (the client gets `connect_error` with `err.message` and `err.data`).
   */
  use(fn) {
    this._fns.push(fn);
    if (this._fns.length === 1) this.server._namespaceChanged(this);
    return this;
  }

  /** Runs the middlewares; `fn(err?)` once they are done. */
  _run(socket, fn) {
    const fns = this._fns.slice();
    if (fns.length === 0) return fn();
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      fn(err);
    };
    const run = (i) => {
      try {
        fns[i](socket, (err) => {
          if (err) return finish(err);
          if (i + 1 < fns.length) return run(i + 1);
          return finish();
        });
      } catch (err) {
        // a middleware that throws refuses the connection, and the error is reported
        this.server._report(err, `a connection middleware of namespace ${this.name}`);
        finish(err);
      }
    };
    run(0);
  }

  _remove(socket) {
    this.sockets.delete(socket.id);
  }

  /** Runs the `connect` / `connection` listeners; what they throw is reported. */
  _emitConnection(socket) {
    for (const name of ['connect', 'connection']) {
      for (const listener of this.rawListeners(name)) {
        this.server._call(listener, this, [socket], `a "${name}" listener of namespace ${this.name}`);
      }
    }
  }

  // --- broadcasting -----------------------------------------------------------------------

  to(room) {
    return new BroadcastOperator(this).to(room);
  }

  in(room) {
    return new BroadcastOperator(this).in(room);
  }

  except(room) {
    return new BroadcastOperator(this).except(room);
  }

  /** Emits to every socket of the namespace. */
  emit(ev, ...args) {
    if (NAMESPACE_RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    return new BroadcastOperator(this).emit(ev, ...args);
  }

  send(...args) {
    this.emit('message', ...args);
    return this;
  }

  write(...args) {
    this.emit('message', ...args);
    return this;
  }

  /**
   * Sends an event to the other servers of the cluster (not this one), where listeners
   * registered with `nsp.on(ev, ...)` get it. With a function as the last argument, asks each
   * for an answer: `(err, responses)` once every other server answered (`responses` their
   * answers) or after the adapter's `requestsTimeout` (`err` set, with the answers that
   * came). Without a cluster adapter there is no one to reach: `(null, [])`.
   */
  serverSideEmit(ev, ...args) {
    if (NAMESPACE_RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    const server = this.server;
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    const { args: packed, bins } = pack(args);
    if (!ack) {
      if (server._native) server._native.serverSideEmit(this.name, String(ev), packed, bins);
      return true;
    }
    const answer = (err, responses) => server._call(ack, this, [err, responses], 'a serverSideEmit ack callback');
    const started = server._clusterCall(
      (native) => native.serverSideEmitWithAck(this.name, String(ev), packed, bins, server._requestsTimeout()),
      (done) => answer(done.reason != null ? clusterError(done.reason) : null, unpack(done.data, done.bins) || []),
    );
    if (!started) process.nextTick(() => answer(null, []));
    return true;
  }

  /**
   * An event from another server's `serverSideEmit` (or an emitter's): runs this namespace's
   * listeners of that name, the last argument being the answer callback when one is asked.
   * Names socket.io reserves for the namespace itself never reach listeners.
   */
  _onServerSideEmit(name, args) {
    if (NAMESPACE_RESERVED_EVENTS.has(name) || name === 'error' || name === 'newListener' || name === 'removeListener') return;
    for (const listener of this.rawListeners(name)) {
      this.server._call(listener, this, args, `a "${name}" server-side listener of namespace ${this.name}`);
    }
  }

  serverSideEmitWithAck(ev, ...args) {
    return new Promise((resolve, reject) => {
      args.push((err, responses) => (err ? reject(err) : resolve(responses)));
      this.serverSideEmit(ev, ...args);
    });
  }

  allSockets() {
    return new BroadcastOperator(this).allSockets();
  }

  compress(compress) {
    return new BroadcastOperator(this).compress(compress);
  }

  get volatile() {
    return new BroadcastOperator(this).volatile;
  }

  get local() {
    return new BroadcastOperator(this).local;
  }

  timeout(timeout) {
    return new BroadcastOperator(this).timeout(timeout);
  }

  fetchSockets() {
    return new BroadcastOperator(this).fetchSockets();
  }

  socketsJoin(room) {
    return new BroadcastOperator(this).socketsJoin(room);
  }

  socketsLeave(room) {
    return new BroadcastOperator(this).socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return new BroadcastOperator(this).disconnectSockets(close);
  }
}

/** Emits a namespace event to its local listeners (socket.io's `emitReserved`). */
Namespace.prototype.emitReserved = function emitReserved(ev, ...args) {
  return emitLocal.call(this, ev, ...args);
};

module.exports = { Namespace };
