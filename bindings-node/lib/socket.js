'use strict';
// socket.io's server-side Socket: one client in one namespace.

const { EventEmitter } = require('node:events');
const querystring = require('node:querystring');
const native = require('./native');
const { pack } = require('./binary');
const { BroadcastOperator } = require('./broadcast');
const { RESERVED_EVENTS, timeoutError, parseAuth } = require('./common');
const { incomingMessage } = require('./request');

/**
 * A hidden slot of `socket.handshake`: what names the connection's opening request for the
 * native readers (src/opening.rs): the socket's id while it is connected, an external value
 * before (a connect request) and after; replaced by a `HandshakeState` holding it when a
 * computed field is first read.
 */
const OPENING = Symbol('rtio.opening');
/** A hidden slot of `socket.handshake`: the server's path, for `url`. */
const PATH = Symbol('rtio.path');

/** What a handshake read so far: the native opening and the values computed from it. */
class HandshakeState {
  constructor(opening) {
    this.opening = opening;
    this.info = undefined; // the native opening's address, port, query and time
  }
}

/** The state of `handshake`, made on the first read of a computed field. */
function stateOf(handshake) {
  const held = handshake[OPENING];
  if (held instanceof HandshakeState) return held;
  const state = new HandshakeState(held);
  handshake[OPENING] = state;
  return state;
}

/** The native opening of `handshake`, without making its state. */
function openingOf(handshake) {
  const held = handshake[OPENING];
  return held instanceof HandshakeState ? held.opening : held;
}

/** Names the native opening of `handshake` by `opening` from now on. */
function setOpening(handshake, opening) {
  if (opening == null || handshake === null || typeof handshake !== 'object') return;
  const held = handshake[OPENING];
  if (held instanceof HandshakeState) held.opening = opening;
  else if (held !== undefined) handshake[OPENING] = opening;
}

function infoOf(state) {
  if (state.info === undefined) state.info = native.openingInfo(state.opening);
  return state.info;
}

/**
 * An accessor of `socket.handshake` computed from the native opening when first read, then
 * kept (or replaced by an assignment). Accessors defined with the same functions share one
 * hidden class across sockets, so they cost a socket nothing until read.
 */
function computed(name, compute) {
  const key = `_${name}`;
  return {
    enumerable: true,
    configurable: true,
    get() {
      const state = stateOf(this);
      if (!(key in state)) state[key] = compute(state, this);
      return state[key];
    },
    set(value) {
      stateOf(this)[key] = value;
    },
  };
}

const HANDSHAKE = {
  headers: computed('headers', (state) => native.openingHeaders(state.opening)),
  time: computed('time', (state) => new Date(infoOf(state).issued) + ''),
  address: computed('address', (state) => infoOf(state).address),
  xdomain: computed('xdomain', (_, handshake) => Boolean(handshake.headers.origin)),
  secure: computed('secure', (state) => infoOf(state).secure),
  issued: computed('issued', (state) => infoOf(state).issued),
  url: computed('url', (state, handshake) => `${handshake[PATH]}/?${infoOf(state).query}`),
  query: computed('query', (state) => querystring.parse(infoOf(state).query)),
};

/**
 * socket.io's handshake object, with its fields in socket.io's order. `auth` is a plain value;
 * the others are computed on first read: most apps read `auth` and little
 * else, and each socket would otherwise keep its own copy of every header (a browser sends a
 * dozen), of its address and of its query as JS strings.
 */
function buildHandshake(server, ev) {
  const handshake = Object.defineProperties({}, {
    // a connect request carries its opening; a connected socket's id names it
    [OPENING]: { value: ev.handshake !== undefined ? ev.handshake : ev.sid, writable: true },
    [PATH]: { value: server._path },
    headers: HANDSHAKE.headers,
    time: HANDSHAKE.time,
    address: HANDSHAKE.address,
    xdomain: HANDSHAKE.xdomain,
    secure: HANDSHAKE.secure,
  });
  Object.defineProperties(handshake, { issued: HANDSHAKE.issued, url: HANDSHAKE.url, query: HANDSHAKE.query });
  handshake.auth = parseAuth(ev.data);
  return handshake;
}

/**
 * The listener table of a socket. EventEmitter's own is `{ __proto__: null }`, an object V8
 * keeps in dictionary mode: with the dozen listeners an app puts on each socket, it takes
 * most of an idle socket's memory (800 B). Objects made by this constructor have no
 * inherited keys either, but get fast properties whose layout sockets share, listeners
 * being added in the same order on each (Node's EventEmitter did the same until v10) —
 * as long as each event's slot is made by `reserveSlot` (see there).
 */
function Listeners() {}
Listeners.prototype = Object.create(null);

/** A slot with no listener yet, made as a named property (see `reserveSlot`). */
const EMPTY_SLOT = { value: undefined, writable: true, enumerable: true, configurable: true };

/**
 * Makes the slot of event `name` in `events` before EventEmitter stores its first listener
 * there. EventEmitter stores with `events[name] = listener`, a keyed store, and V8 turns an
 * object that gets more than 12 properties by keyed stores into a dictionary (~1.2 KB per
 * socket with the scenarios server's 28 listeners); a property made by `defineProperty` is
 * a named one, up to 128 of which keep the object's fast, shared layout.
 */
function reserveSlot(events, name) {
  if (events instanceof Listeners && !Object.prototype.hasOwnProperty.call(events, name)) {
    Object.defineProperty(events, name, EMPTY_SLOT);
  }
}

/** What a report calls a listener of `this` socket for event `name`. */
function describeListener(name) {
  return `a "${name}" listener of socket ${this.id} (namespace ${this.nsp.name})`;
}

/** Shared until a socket sets a flag (most never do): one object less per socket. */
const NO_FLAGS = Object.freeze({});
/** Shared until a socket gets a middleware of its own. */
const NO_MIDDLEWARES = Object.freeze([]);

class Socket extends EventEmitter {
  /** @private — sockets are made by rtio when clients connect. */
  constructor(nsp, ev) {
    super();
    this._events = new Listeners();
    this.nsp = nsp;
    /** Assigned before connection middlewares run, and kept on accept. */
    this.id = ev.sid;
    this.handshake = buildHandshake(nsp.server, ev);
    this.connected = false;
    this.flags = NO_FLAGS;
    this._data = undefined;
    this._fns = NO_MIDDLEWARES;
    this._accepted = false; // true once rtio accepted it (middlewares passed)
    this._run = undefined; // the server's listening run this socket belongs to
    // Set on a socket only when it gets one (absent reads as undefined): most sockets never
    // do, and each slot is 8 bytes of every idle socket. `_anyListeners`,
    // `_anyOutgoingListeners`, `_pendingRooms` (rooms joined while middlewares run), `_acks`
    // (tokens of acks waited for without a timeout, a Set), `_connView` (`socket.conn`),
    // `_request` (`socket.request`), `_transport` (the last transport the core told),
    // `_upgradeWatch` (the timer of `socket.conn`'s `upgrade` event).
    // socket.io adds a no-op "error" listener so that a socket never crashes the process;
    // here `_emitReserved` reports an "error" nobody listens to instead.
  }

  /** The Server (the namespace's: not a slot of its own on each socket). */
  get server() {
    return this.nsp.server;
  }

  /** The namespace's adapter. */
  get adapter() {
    return this.nsp.adapter;
  }

  /**
   * Arbitrary data of the app, kept with the socket (an object made on first use). In a
   * cluster, other servers see it in their `fetchSockets()`: assigning `socket.data`, or a
   * top-level key of it, hands its JSON to the core; a change nested deeper in place
   * (`socket.data.user.name = ...`) is not seen until the next such assignment.
   */
  get data() {
    if (this._data === undefined) this._data = {};
    if (this._dataView !== undefined && this._dataView.target === this._data) return this._dataView.proxy;
    const data = this._data;
    if (data === null || typeof data !== 'object' || !this.server._clustered()) return data;
    const socket = this;
    const proxy = new Proxy(data, {
      set(target, key, value, receiver) {
        const ok = Reflect.set(target, key, value, receiver);
        socket._shareData();
        return ok;
      },
      deleteProperty(target, key) {
        const ok = Reflect.deleteProperty(target, key);
        socket._shareData();
        return ok;
      },
    });
    this._dataView = { target: data, proxy };
    return proxy;
  }

  set data(value) {
    this._data = value;
    this._dataView = undefined;
    this._shareData();
  }

  /** Hands `socket.data` to the core, for the other servers' `fetchSockets()` (in a cluster). */
  _shareData() {
    const native = this.server._native;
    if (!native || !this.connected || !this.server._clustered()) return;
    let json;
    try {
      json = this._data === undefined ? undefined : JSON.stringify(this._data);
    } catch (err) {
      this.server._report(err, `socket.data of socket ${this.id} (not JSON: other servers keep its last value)`);
      return;
    }
    native.setSocketData(this.id, json === undefined ? null : json);
  }

  /** The flags of the next emit or broadcast, made writable on first use. */
  _flags() {
    if (this.flags === NO_FLAGS) this.flags = {};
    return this.flags;
  }

  get disconnected() {
    return !this.connected;
  }

  /**
   * The rooms this socket is in (its own room, named by its id, included), as rtio's core
   * knows them now (in a cluster, other servers' `socketsJoin` change them too). Inside
   * `disconnecting` the core has let the socket go: they are the rooms it left, as the core
   * reported them with the disconnect.
   */
  get rooms() {
    if (!this._accepted) return new Set(this._pendingRooms ? [this.id, ...this._pendingRooms] : [this.id]);
    if (!this.connected) return new Set();
    const native = this.server._native;
    const rooms = native ? native.rooms(this.id) : null;
    if (rooms) return new Set(rooms);
    if (typeof this._leftRooms === 'string') this._leftRooms = JSON.parse(this._leftRooms);
    return new Set(this._leftRooms || [this.id]);
  }

  /**
   * What rtio knows of the underlying connection (see docs/node.md): `id`, `remoteAddress`,
   * `remotePort`, `readyState`, `close()` and `transport.name` (asked from the core on each
   * read: `"polling"`, or `"websocket"` once upgraded). An EventEmitter that emits `upgrade`
   * (with the new transport) when the connection upgrades while someone listens.
   */
  get conn() {
    if (!this._connView) {
      const socket = this;
      const info = this._openingInfo();
      const conn = new EventEmitter();
      Object.defineProperties(conn, {
        id: { value: String(info.conn), enumerable: true },
        remoteAddress: { value: info.address, enumerable: true },
        remotePort: { value: info.remotePort, enumerable: true },
        transport: { get: () => transportObject(socket._transportName()), enumerable: true },
        readyState: { get: () => (socket.connected ? 'open' : 'closed'), enumerable: true },
        close: { value: () => socket.disconnect(true) },
      });
      conn.on('newListener', (name) => {
        if (name === 'upgrade') socket._watchUpgrade(info.issued);
      });
      this._connView = conn;
    }
    return this._connView;
  }

  /** The transport of the connection now (the last one known once the socket left). */
  _transportName() {
    const native = this.server._native;
    // asked in connection middlewares too (the core has the socket while they run)
    const name = native ? native.transport(this.id) : null;
    if (name) this._transport = name;
    return name || this._transport || 'polling';
  }

  /**
   * Emits `upgrade` on `socket.conn` when the connection upgrades to WebSocket. The core
   * reports no upgrade event: while a polling connection may still upgrade (the client
   * probes right after the handshake, for at most `upgradeTimeout`), its transport is asked
   * every 20 ms; nothing runs for connections already on WebSocket or past that time.
   */
  _watchUpgrade(issued) {
    if (this._upgradeWatch || this._transportName() !== 'polling') return;
    const until = issued + (this.server.opts.upgradeTimeout || 10000) + 1000;
    const timer = setInterval(() => {
      const native = this.server._native;
      const name = native ? native.transport(this.id) : null;
      if (name === 'websocket') {
        this._transport = name;
        this._stopUpgradeWatch();
        this.conn.emit('upgrade', transportObject(name));
      } else if (name === null || Date.now() > until) {
        this._stopUpgradeWatch(); // the socket is gone, or its client did not upgrade in time
      }
    }, 20);
    timer.unref();
    this._upgradeWatch = timer;
  }

  _stopUpgradeWatch() {
    clearInterval(this._upgradeWatch);
    this._upgradeWatch = undefined;
  }

  /** What the native readers tell of this socket's opening (address, port, query, time). */
  _openingInfo() {
    return native.openingInfo(openingOf(this.handshake));
  }

  /**
   * The opening HTTP request, as far as rtio keeps it (see lib/request.js): the one
   * `allowRequest` got, when it let the connection in; the same object on every read.
   */
  get request() {
    if (!this._request) {
      const info = this._openingInfo();
      this._request = incomingMessage({
        method: 'GET',
        url: this.handshake.url,
        headers: this.handshake.headers,
        remoteAddress: info.address,
        remotePort: info.remotePort,
      });
    }
    return this._request;
  }

  // --- emitting ---------------------------------------------------------------------------

  /** Emits to this client; a function as the last argument receives the client's ack. */
  emit(ev, ...args) {
    if (RESERVED_EVENTS.has(ev)) throw new Error(`"${String(ev)}" is a reserved event name`);
    const flags = this.flags;
    this.flags = NO_FLAGS;
    const name = String(ev);
    const ack = typeof args[args.length - 1] === 'function' ? args.pop() : undefined;
    this._notifyOutgoing(name, args);
    const server = this.server;
    if (ack === undefined) {
      if (this.connected && server._native) {
        const { args: packed, bins } = pack(args);
        if (flags.volatile || flags.compress === false) {
          // (a socket's id is the room that holds it alone)
          server._native.broadcast(this.nsp.name, [this.id], [], name, packed, bins, false, Boolean(flags.volatile), flags.compress !== false);
        } else {
          server._native.emit(this.id, name, packed, bins);
        }
      }
      return true;
    }
    const withErr = flags.timeout !== undefined;
    const onAnswer = (err, answer) => {
      if (withErr) server._call(ack, this, err ? [err] : [null, ...answer], `the ack callback of "${name}"`);
      else if (!err) server._call(ack, this, answer, `the ack callback of "${name}"`);
    };
    let registered = false;
    if (this.connected && server._native) {
      const { args: packed, bins } = pack(args);
      registered = server._emitWithAck(this.id, name, packed, bins, flags.timeout, onAnswer, this);
    }
    if (!registered && withErr) {
      // like socket.io: the packet goes nowhere and the timeout fires
      setTimeout(() => onAnswer(timeoutError()), flags.timeout);
    }
    return true;
  }

  /** Emits and resolves with the client's ack (rejects after `timeout(ms)` if set). */
  emitWithAck(ev, ...args) {
    const withErr = this.flags.timeout !== undefined;
    return new Promise((resolve, reject) => {
      args.push((arg1, arg2) => {
        if (withErr) return arg1 ? reject(arg1) : resolve(arg2);
        return resolve(arg1);
      });
      this.emit(ev, ...args);
    });
  }

  /** Sends a `message` event. */
  send(...args) {
    this.emit('message', ...args);
    return this;
  }

  /** Same as `send`. */
  write(...args) {
    this.emit('message', ...args);
    return this;
  }

  /** Sets the ack timeout of the next `emit` (then `(err, ...answer)` is the callback's shape). */
  timeout(timeout) {
    this._flags().timeout = timeout;
    return this;
  }

  /**
   * `compress(false)`: the next emit is never permessage-deflate-compressed (with the
   * `perMessageDeflate` option on; without it nothing is).
   */
  compress(compress) {
    this._flags().compress = compress;
    return this;
  }

  /** The next emit is dropped if this client's transport cannot take it right now. */
  get volatile() {
    this._flags().volatile = true;
    return this;
  }

  /** Every socket of the namespace but this one. */
  get broadcast() {
    return this._newBroadcastOperator();
  }

  /** This server only: with rtio, always the case. */
  get local() {
    return this._newBroadcastOperator().local;
  }

  /** The members of a room (or rooms), this socket left out. */
  to(room) {
    return this._newBroadcastOperator().to(room);
  }

  /** Same as `to`. */
  in(room) {
    return this._newBroadcastOperator().in(room);
  }

  /** Every socket but the members of a room (or rooms), this socket left out. */
  except(room) {
    return this._newBroadcastOperator().except(room);
  }

  _newBroadcastOperator() {
    const flags = this.flags;
    this.flags = NO_FLAGS;
    return new BroadcastOperator(this.nsp, new Set(), new Set(this.id === undefined ? [] : [this.id]), flags);
  }

  // --- rooms ------------------------------------------------------------------------------

  /** Joins a room (or rooms). */
  join(rooms) {
    const list = (Array.isArray(rooms) ? rooms : [rooms]).map(String);
    if (!this._accepted) {
      // inside a connection middleware: joined once rtio accepts the socket
      this._pendingRooms = this._pendingRooms || new Set();
      for (const room of list) this._pendingRooms.add(room);
      return;
    }
    if (!this.connected) return;
    const native = this.server._native;
    if (native) native.join(this.id, list);
  }

  /** Leaves a room. */
  leave(room) {
    room = String(room);
    if (!this._accepted) {
      if (this._pendingRooms) this._pendingRooms.delete(room);
      return;
    }
    if (!this.connected) return;
    const native = this.server._native;
    if (native) native.leave(this.id, room);
  }

  /** Leaves every room (its own included, as socket.io does). */
  leaveAll() {
    for (const room of [...this.rooms]) this.leave(room);
  }

  // --- disconnecting ----------------------------------------------------------------------

  /**
   * Disconnects this socket (the client sees `io server disconnect`); with `close`, closes the
   * whole underlying connection (every namespace of that client).
   */
  disconnect(close = false) {
    if (!this.connected) return this;
    const native = this.server._native;
    // the rooms it leaves, for `disconnecting` (the core's own disconnect event comes later)
    const rooms = native ? native.rooms(this.id) : null;
    if (native) native.disconnect(this.id, Boolean(close));
    this._onclose('server namespace disconnect', undefined, undefined, rooms);
    return this;
  }

  // --- middlewares and catch-all listeners ------------------------------------------------

  /** Registers a middleware for incoming packets: `([event, ...args], next) => next(err?)`. */
  use(fn) {
    if (this._fns === NO_MIDDLEWARES) this._fns = [];
    this._fns.push(fn);
    return this;
  }

  onAny(listener) {
    (this._anyListeners = this._anyListeners || []).push(listener);
    return this;
  }

  prependAny(listener) {
    (this._anyListeners = this._anyListeners || []).unshift(listener);
    return this;
  }

  offAny(listener) {
    if (!this._anyListeners) return this;
    if (listener) {
      const i = this._anyListeners.indexOf(listener);
      if (i !== -1) this._anyListeners.splice(i, 1);
    } else {
      this._anyListeners = [];
    }
    return this;
  }

  listenersAny() {
    return this._anyListeners || [];
  }

  onAnyOutgoing(listener) {
    (this._anyOutgoingListeners = this._anyOutgoingListeners || []).push(listener);
    return this;
  }

  prependAnyOutgoing(listener) {
    (this._anyOutgoingListeners = this._anyOutgoingListeners || []).unshift(listener);
    return this;
  }

  offAnyOutgoing(listener) {
    if (!this._anyOutgoingListeners) return this;
    if (listener) {
      const i = this._anyOutgoingListeners.indexOf(listener);
      if (i !== -1) this._anyOutgoingListeners.splice(i, 1);
    } else {
      this._anyOutgoingListeners = [];
    }
    return this;
  }

  listenersAnyOutgoing() {
    return this._anyOutgoingListeners || [];
  }

  _notifyOutgoing(name, args) {
    if (!this._anyOutgoingListeners || this._anyOutgoingListeners.length === 0) return;
    const all = [name, ...args]; // as socket.io: without the ack callback
    for (const listener of this._anyOutgoingListeners.slice()) {
      this.server._call(listener, this, all, 'an onAnyOutgoing listener');
    }
  }

  // --- called by the server on rtio's events ----------------------------------------------

  /** @private rtio accepted the socket. */
  _onconnect(sid) {
    this.id = sid;
    this._accepted = true;
    this.connected = true;
    setOpening(this.handshake, sid); // the request's external goes (see OPENING)
    if (this._pendingRooms && this._pendingRooms.size > 0) {
      const rooms = [...this._pendingRooms];
      this._pendingRooms = undefined;
      this.join(rooms);
    }
    // what a connection middleware put in socket.data, for the other servers
    if (this._data !== undefined) this._shareData();
  }

  /** @private A client event (`args` ends with the ack function when one is asked). */
  _onevent(name, args) {
    const anyListeners = this._anyListeners;
    if ((anyListeners === undefined || anyListeners.length === 0) && this._fns.length === 0) {
      // the common case, without the packet array that onAny listeners and middlewares see
      this._dispatch(name, args);
      return;
    }
    const event = [name, ...args];
    if (anyListeners && anyListeners.length) {
      for (const listener of anyListeners.slice()) {
        this.server._call(listener, this, event, `an onAny listener (event "${name}")`);
      }
    }
    if (this._fns.length === 0) {
      this._dispatch(name, args);
      return;
    }
    const fns = this._fns.slice();
    const run = (i) => {
      this.server._call(
        fns[i],
        this,
        [
          event,
          (err) => {
            if (err) return this._emitReserved('error', err);
            if (i + 1 < fns.length) return run(i + 1);
            // a middleware may have changed the packet, as in socket.io
            return this._dispatch(event[0], event.slice(1));
          },
        ],
        'a socket middleware',
      );
    };
    run(0);
  }

  _dispatch(name, args) {
    if (!this.connected) return; // socket.io ignores packets after the disconnection
    const handler = this._events[name];
    if (handler === undefined || name === 'error') {
      this._emitReserved(name, ...args);
    } else if (typeof handler === 'function') {
      // EventEmitter's storage: one listener as is, several in an array (copied, as
      // EventEmitter#emit does, so that once-wrappers may remove themselves meanwhile)
      this._invoke(handler, name, args);
    } else {
      for (const listener of handler.slice()) this._invoke(listener, name, args);
    }
  }

  /** Runs local listeners; what they throw (or reject) is reported, never raised. */
  _emitReserved(name, ...args) {
    const listeners = this.rawListeners(name);
    if (listeners.length === 0) {
      if (name !== 'error') return false;
      // nobody listens for errors: report instead of dropping it (or crashing, as a bare
      // EventEmitter would)
      this.server._report(args[0], `socket ${this.id} (namespace ${this.nsp.name})`);
      return true;
    }
    for (const listener of listeners) this._invoke(listener, name, args);
    return true;
  }

  /**
   * Calls one listener of this socket (reported, never raised, if it fails). Its description
   * is only built for a report: this runs for every event.
   */
  _invoke(listener, name, args) {
    this.server._call(listener, this, args, describeListener, name);
  }

  /**
   * @private The socket left its namespace. `opening` is the external its disconnect event
   * carries; when JS closes the socket first, it is asked for while the id still names it.
   * `rooms`: the rooms it left, shown by `socket.rooms` in `disconnecting` (an array, or the
   * core's JSON text of it, parsed only if asked for; absent: its own room only).
   */
  _onclose(reason, description, opening, rooms) {
    if (!this.connected) return;
    if (this._upgradeWatch) this._stopUpgradeWatch();
    setOpening(this.handshake, opening !== undefined ? opening : native.opening(this.id));
    this._leftRooms = rooms;
    this._emitReserved('disconnecting', reason, description);
    this._leftRooms = undefined;
    this.nsp._remove(this);
    this.server._forget(this);
    this.connected = false;
    this._emitReserved('disconnect', reason, description);
  }
}

const TRANSPORTS = {
  polling: Object.freeze({ name: 'polling' }),
  websocket: Object.freeze({ name: 'websocket' }),
};

/** `socket.conn.transport`: an object with the transport's `name`, as socket.io's. */
function transportObject(name) {
  return TRANSPORTS[name];
}

// Every way a listener is added reserves its slot first (`once` and the prepending ones
// do not go through `on`).
for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
  const add = EventEmitter.prototype[method];
  Object.defineProperty(Socket.prototype, method, {
    value: function addListener(name, listener) {
      reserveSlot(this._events, name);
      return add.call(this, name, listener);
    },
    writable: true,
    configurable: true,
  });
}

/** False unless the socket came back with connection state recovery (then set on it). */
Socket.prototype.recovered = false;

module.exports = { Socket, buildHandshake };
