'use strict';
// socket.io's ParentNamespace: `io.of(/^\/room-\d+$/)` or `io.of((name, auth, next) => ...)`.
// A client joining a namespace no one created is offered to each parent in turn; the first
// that matches creates the namespace as its child, which gets the parent's middlewares and
// connection listeners. The parent's broadcasts reach every child.

const { Namespace } = require('./namespace');
const { NAMESPACE_RESERVED_EVENTS } = require('./common');

let count = 0;

/** Broadcasts of a parent namespace: the same chain applied to each child. */
class ParentBroadcastOperator {
  constructor(parent, chain = (op) => op) {
    this.parent = parent;
    this._chain = chain;
  }

  _then(step) {
    const chain = this._chain;
    return new ParentBroadcastOperator(this.parent, (op) => step(chain(op)));
  }

  to(room) {
    return this._then((op) => op.to(room));
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return this._then((op) => op.except(room));
  }

  compress(compress) {
    return this._then((op) => op.compress(compress));
  }

  get volatile() {
    return this._then((op) => op.volatile);
  }

  get local() {
    return this._then((op) => op.local);
  }

  _each() {
    return [...this.parent.children].map((child) => this._chain(child.to([])));
  }

  emit(ev, ...args) {
    if (NAMESPACE_RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    if (typeof args[args.length - 1] === 'function') {
      throw new Error('rtio: a broadcast with acks to a parent namespace is not supported; emit to each child namespace');
    }
    for (const op of this._each()) op.emit(ev, ...args);
    return true;
  }

  async fetchSockets() {
    const all = await Promise.all(this._each().map((op) => op.fetchSockets()));
    return all.flat();
  }

  socketsJoin(room) {
    for (const op of this._each()) op.socketsJoin(room);
  }

  socketsLeave(room) {
    for (const op of this._each()) op.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    for (const op of this._each()) op.disconnectSockets(close);
  }
}

class ParentNamespace extends Namespace {
  /**
   * @private — use `io.of(regexp)` or `io.of(fn)`.
   * @param {(name: string, auth: object, next: (err: Error | null, ok?: boolean) => void) => void} matcher
   */
  constructor(server, matcher) {
    super(server, `/_${count++}`);
    this._matcher = matcher;
    /** @type {Set<Namespace>} the namespaces this parent created */
    this.children = new Set();
  }

  /** Creates the child namespace `name` (socket.io's `createChild`). */
  createChild(name) {
    const child = new Namespace(this.server, name);
    child._fns = this._fns.slice();
    for (const ev of ['connect', 'connection']) {
      for (const listener of this.listeners(ev)) child.on(ev, listener);
    }
    this.children.add(child);
    if (this.server.opts.cleanupEmptyChildNamespaces === true) {
      // socket.io's cleanupEmptyChildNamespaces: gone with its last socket (as the core
      // says: see Server._childEmptied)
      const remove = child._remove;
      child._remove = (socket) => {
        remove.call(child, socket);
        if (child.sockets.size === 0) this.server._childEmptied(child, this);
      };
    }
    return child;
  }

  to(room) {
    return new ParentBroadcastOperator(this).to(room);
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return new ParentBroadcastOperator(this).except(room);
  }

  emit(ev, ...args) {
    return new ParentBroadcastOperator(this).emit(ev, ...args);
  }

  compress(compress) {
    return new ParentBroadcastOperator(this).compress(compress);
  }

  get volatile() {
    return new ParentBroadcastOperator(this).volatile;
  }

  get local() {
    return new ParentBroadcastOperator(this).local;
  }

  fetchSockets() {
    return new ParentBroadcastOperator(this).fetchSockets();
  }

  socketsJoin(room) {
    return new ParentBroadcastOperator(this).socketsJoin(room);
  }

  socketsLeave(room) {
    return new ParentBroadcastOperator(this).socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return new ParentBroadcastOperator(this).disconnectSockets(close);
  }

  /** The ids of the children's sockets on this server (as a namespace's `allSockets()`). */
  allSockets() {
    return this.local.fetchSockets().then((sockets) => new Set(sockets.map((s) => s.id)));
  }

  timeout() {
    throw new Error('rtio: a broadcast with acks to a parent namespace is not supported; emit to each child namespace');
  }
}

/** The matcher of `io.of(name)` for a RegExp or a function (socket.io's signature). */
function matcherOf(name) {
  if (name instanceof RegExp) return (nsp, _auth, next) => next(null, name.test(nsp));
  return name;
}

module.exports = { ParentNamespace, matcherOf };
