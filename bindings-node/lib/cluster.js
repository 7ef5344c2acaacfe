'use strict';
// rtio in a Socket.IO cluster through Redis: the adapter factories an app passes to
// `io.adapter(...)` or the `adapter` option (wire-compatible with @socket.io/redis-adapter 8.x,
// the work done by rtio's core, crate rtio-redis), and RemoteSocket, what `fetchSockets()`
// gives for a socket of another server.

const { BroadcastOperator } = require('./broadcast');

const DOCS = 'see docs/node.md, "Cluster (Redis)"';

/** Where an rtio adapter factory keeps its settings (what the native server is given). */
const RTIO_ADAPTER = Symbol.for('rtio.adapter');

function urlOf(url, what) {
  if (typeof url !== 'string' || url.length === 0) {
    throw new TypeError(`rtio: ${what} takes a Redis URL ("redis://host:port") or { url, ... }, got ${url === undefined ? 'nothing' : typeof url}`);
  }
  return url;
}

function checkKeys(opts, allowed, what) {
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new Error(`rtio: ${what} has no option "${key}" (it takes ${allowed.join(', ')}; ${DOCS})`);
    }
  }
}

function optionalString(v, name, what) {
  if (v !== undefined && (typeof v !== 'string' || v.length === 0)) throw new TypeError(`rtio: ${what}: "${name}" must be a non-empty string`);
  return v;
}

/**
 * An adapter factory as socket.io takes one (a function of the namespace), carrying rtio's
 * settings. socket.io would call it once per namespace; rtio's core makes the adapters itself,
 * so calling it is a mistake, reported as such.
 */
function factory(settings, name) {
  const make = function rtioRedisAdapter() {
    throw new Error(`rtio: ${name}() gives an adapter for rtio's Server (io.adapter(...) or the "adapter" option), not one to construct (${DOCS})`);
  };
  Object.defineProperty(make, RTIO_ADAPTER, { value: Object.freeze(settings) });
  return make;
}

/**
 * The classic Redis adapter (Pub/Sub), as `@socket.io/redis-adapter`'s `createAdapter`:
 * `createRedisAdapter(url)` or `createRedisAdapter({ url, key, requestsTimeout,
 * publishOnSpecificResponseChannel })`. rtio's core holds the Redis connections (it connects
 * when the server starts, and retries while Redis is away).
 */
function createRedisAdapter(opts) {
  const what = 'createRedisAdapter';
  if (typeof opts === 'string') opts = { url: opts };
  if (opts === null || typeof opts !== 'object') urlOf(opts, what);
  checkKeys(opts, ['url', 'key', 'requestsTimeout', 'publishOnSpecificResponseChannel'], what);
  const settings = { url: urlOf(opts.url, what), sharded: false };
  settings.key = optionalString(opts.key, 'key', what);
  if (opts.requestsTimeout !== undefined) {
    if (typeof opts.requestsTimeout !== 'number' || !(opts.requestsTimeout >= 0)) {
      throw new TypeError(`rtio: ${what}: "requestsTimeout" must be a non-negative number of milliseconds`);
    }
    settings.requestsTimeout = opts.requestsTimeout;
  }
  if (opts.publishOnSpecificResponseChannel !== undefined) {
    settings.publishOnSpecificResponseChannel = Boolean(opts.publishOnSpecificResponseChannel);
  }
  return factory(settings, what);
}

const SUBSCRIPTION_MODES = ['static', 'dynamic', 'dynamic-private'];

/**
 * The sharded Redis adapter (Redis 7 or later, SPUBLISH / SSUBSCRIBE), as
 * `@socket.io/redis-adapter`'s `createShardedAdapter`: `createShardedRedisAdapter(url)` or
 * `createShardedRedisAdapter({ url, channelPrefix, subscriptionMode })`.
 */
function createShardedRedisAdapter(opts) {
  const what = 'createShardedRedisAdapter';
  if (typeof opts === 'string') opts = { url: opts };
  if (opts === null || typeof opts !== 'object') urlOf(opts, what);
  checkKeys(opts, ['url', 'channelPrefix', 'subscriptionMode'], what);
  const settings = { url: urlOf(opts.url, what), sharded: true };
  settings.key = optionalString(opts.channelPrefix, 'channelPrefix', what);
  if (opts.subscriptionMode !== undefined) {
    if (!SUBSCRIPTION_MODES.includes(opts.subscriptionMode)) {
      throw new TypeError(`rtio: ${what}: "subscriptionMode" must be one of ${SUBSCRIPTION_MODES.map((m) => `"${m}"`).join(', ')}`);
    }
    settings.subscriptionMode = opts.subscriptionMode;
  }
  return factory(settings, what);
}

/**
 * The native server's `redis` settings for an adapter given to rtio: null for none (or
 * socket.io's default in-memory adapter, when `isDefault` says so); throws a clear error for
 * any other adapter (`@socket.io/redis-adapter`'s own factory, a custom Adapter class).
 */
function adapterSettings(adapter, isDefault) {
  if (adapter === undefined || adapter === null) return null;
  if (typeof adapter === 'function' && adapter[RTIO_ADAPTER]) return adapter[RTIO_ADAPTER];
  if (isDefault(adapter)) return null;
  throw new Error(
    'rtio does not support the option "adapter" with this value: rtio\'s core does the adapter ' +
      'work, so it takes only its own adapters: `const { createRedisAdapter } = require("rtio"); ' +
      'io.adapter(createRedisAdapter("redis://host:6379"))` (createShardedRedisAdapter for the ' +
      'sharded one) instead of @socket.io/redis-adapter\'s createAdapter(pubClient, subClient); ' +
      `the wire format is the same, so rtio and socket.io servers share one cluster (${DOCS})`,
  );
}

/**
 * A socket of the cluster as `fetchSockets()` gives it when it is not on this server
 * (socket.io's RemoteSocket): a snapshot of its id, handshake, rooms and data, and the
 * operations that reach it wherever it is, through the cluster.
 */
class RemoteSocket {
  /** @private — made by `fetchSockets()`. */
  constructor(nsp, id, handshake, rooms, data) {
    this.nsp = nsp;
    this.id = id;
    this.handshake = handshake;
    this.rooms = new Set(rooms);
    this.data = data;
    this._operator = new BroadcastOperator(nsp, new Set([id]), new Set(), { expectSingleResponse: true });
  }

  /** Emits to this socket (a function as the last argument: its ack, with `timeout()`). */
  emit(ev, ...args) {
    return this._operator.emit(ev, ...args);
  }

  /** Sets the ack timeout: `socket.timeout(ms).emitWithAck(ev, ...)` resolves with its answer. */
  timeout(timeout) {
    return this._operator.timeout(timeout);
  }

  /** Makes the socket join a room (or rooms), on its server. */
  join(room) {
    return this._operator.socketsJoin(room);
  }

  /** Makes the socket leave a room, on its server. */
  leave(room) {
    return this._operator.socketsLeave(room);
  }

  /** Disconnects the socket (with `close`, its whole connection), on its server. */
  disconnect(close = false) {
    this._operator.disconnectSockets(close);
    return this;
  }
}

module.exports = { createRedisAdapter, createShardedRedisAdapter, adapterSettings, RemoteSocket, RTIO_ADAPTER };
