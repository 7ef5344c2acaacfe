// Type definitions of rtio for Node: socket.io 4's server API on rtio's Rust core.
// Hand-written (the native layer's generated types are in lib/native.d.ts and are internal).
// The event-map generics follow socket.io's, so typed socket.io code type-checks unchanged:
//
//   interface ClientToServer { hello: (name: string, ack: (greeting: string) => void) => void }
//   interface ServerToClient { news: (text: string) => void }
//   const io = new Server<ClientToServer, ServerToClient>(3000);

/// <reference types="node" />
import { EventEmitter } from 'node:events';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Http2SecureServer } from 'node:http2';

// ---------------------------------------------------------------------------------------------
// Event maps
// ---------------------------------------------------------------------------------------------

/** A map of event names to listener signatures. */
export interface EventsMap {
  [event: string]: any;
}

/** The map used when none is given: any event, any arguments. */
export interface DefaultEventsMap {
  [event: string]: (...args: any[]) => void;
}

export type EventNames<Map extends EventsMap> = keyof Map & (string | symbol);
export type EventParams<Map extends EventsMap, Ev extends EventNames<Map>> = Parameters<Map[Ev]>;

type IsAny<T> = 0 extends 1 & T ? true : false;
type Last<T extends readonly unknown[]> = T extends readonly [...unknown[], infer L] ? L : T extends readonly (infer E)[] ? E : never;
type AllButLast<T extends readonly unknown[]> = T extends readonly [...infer H, unknown] ? H : unknown[];

/** The ack callback type of an event, or never when its last parameter is not a function. */
type AckOf<F> = F extends (...args: infer P) => any ? (Last<P> extends (...a: any[]) => any ? Last<P> : never) : never;

/** What an `emitWithAck` resolves with: the first argument of the event's ack. */
type AckResult<F> = IsAny<F> extends true
  ? any
  : AckOf<F> extends (...args: infer A) => any
    ? A extends [Error, ...infer R]
      ? R[0]
      : A[0]
    : never;

/** The ack callbacks get an Error first once a `timeout(ms)` is set (socket.io's shape). */
type PrependTimeoutError<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer P) => infer R ? (P[0] extends Error ? T[K] : (err: Error, ...args: P) => R) : T[K];
};
export type DecorateAcknowledgements<E> = {
  [K in keyof E]: E[K] extends (...args: infer P) => infer R ? (...args: PrependTimeoutError<P>) => R : E[K];
};

/** Broadcast acks: one answer per socket, so each ack parameter becomes an array. */
type MultiplyArgs<T extends any[]> = { [K in keyof T]: T[K][] };
type ExpectMultipleResponses<T extends any[]> = {
  [K in keyof T]: T[K] extends (...args: infer P) => infer R
    ? P extends [Error, ...infer Rest]
      ? (err: Error, ...args: MultiplyArgs<Rest>) => R
      : (...args: MultiplyArgs<P>) => R
    : T[K];
};
export type DecorateAcknowledgementsWithMultipleResponses<E> = {
  [K in keyof E]: E[K] extends (...args: infer P) => infer R ? (...args: ExpectMultipleResponses<P>) => R : E[K];
};
export type DecorateAcknowledgementsWithTimeoutAndMultipleResponses<E> = DecorateAcknowledgementsWithMultipleResponses<
  DecorateAcknowledgements<E>
>;

/** Listener of a reserved event, or of a user event, or any listener for unknown names. */
type Listener<Reserved extends EventsMap, User extends EventsMap, Ev> = Ev extends keyof Reserved
  ? Reserved[Ev]
  : Ev extends keyof User
    ? User[Ev]
    : (...args: any[]) => void | Promise<void>;

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

/** A `cors.origin` value other than a function: `true` (any), `"*"`, an origin, a RegExp, or a list. */
export type StaticOrigin = boolean | string | RegExp | Array<boolean | string | RegExp>;

/** A `cors.origin` function: `callback(null, allowed)` where `allowed` is a {@link StaticOrigin}. */
export type CustomOrigin = (requestOrigin: string | undefined, callback: (err: Error | null, origin?: StaticOrigin) => void) => void;

/**
 * socket.io's `cors` option (the `cors` package's options), decided as that package decides
 * (see docs/node.md). Its `exposedHeaders`, `maxAge`, `preflightContinue: true` and other
 * `optionsSuccessStatus` than 204 are refused, as is an options function `(req, callback)`.
 */
export interface CorsOptions {
  /**
   * Which origins get CORS headers (default `"*"`: any): `true` (the request's origin),
   * `"*"`, an origin, a RegExp, an array of those, or a function `(origin, callback)`.
   * `false`: none.
   */
  origin?: StaticOrigin | CustomOrigin;
  /** Send `Access-Control-Allow-Credentials: true` (default false). */
  credentials?: boolean;
  /** Methods a preflight allows (default `GET,HEAD,PUT,PATCH,POST,DELETE`). */
  methods?: string | string[];
  /** Headers a preflight allows (default: the ones it asks for). */
  allowedHeaders?: string | string[];
  /** Same as `allowedHeaders`. */
  headers?: string | string[];
  /** Refused unless empty. */
  exposedHeaders?: string | string[];
  /** Refused: rtio sends no `Access-Control-Max-Age`. */
  maxAge?: never;
  /** Only false: rtio answers preflights itself. */
  preflightContinue?: false;
  /** Only 204. */
  optionsSuccessStatus?: 204;
}

/**
 * The request `allowRequest` gets (and `socket.request`): the parts of Node's
 * `http.IncomingMessage` rtio keeps, and engine.io's `_query`.
 */
export interface IncomingRequest {
  readonly method: string;
  /** Path and query, e.g. `/socket.io/?EIO=4&transport=polling`. */
  readonly url: string;
  /** The headers: names in lower case, repeated headers joined as Node joins them. */
  readonly headers: Record<string, string | undefined>;
  readonly httpVersion: string;
  readonly httpVersionMajor: number;
  readonly httpVersionMinor: number;
  readonly socket: { readonly remoteAddress: string; readonly remotePort: number; readonly remoteFamily: string; readonly encrypted: boolean };
  /** Same as `socket`. */
  readonly connection: { readonly remoteAddress: string; readonly remotePort: number; readonly remoteFamily: string; readonly encrypted: boolean };
  /** The query parameters (engine.io's `req._query`). */
  readonly _query: Record<string, string>;
  /** What the app puts on it (in `allowRequest`) stays for `socket.request`. */
  [key: string]: unknown;
}

/** engine.io's `cookie` option (the attributes rtio sets; see `ServerOptions.cookie`). */
export interface CookieOptions {
  /** The cookie's name (default `io`). */
  name?: string;
  /** Its `Path` (default `/`); false: no `Path` attribute. */
  path?: string | false;
  /** `HttpOnly` (default true). */
  httpOnly?: boolean;
  /** `SameSite`: `"strict"` or true, `"lax"` (the default), `"none"`; false: no attribute. */
  sameSite?: boolean | 'strict' | 'lax' | 'none' | 'Strict' | 'Lax' | 'None';
}

/**
 * socket.io 4.8's server options (engine.io's included). Every option works as in
 * socket.io, or `new Server` throws naming it (see the table in docs/node.md); those typed
 * `false`, `true` or `never` below are accepted only with that value (socket.io's default).
 */
export interface ServerOptions {
  /** Endpoint path (default `/socket.io`). */
  path?: string;
  /** Serve the client bundle at `<path>/socket.io.js` from the `socket.io-client` dependency (default true). */
  serveClient?: boolean;
  /** Milliseconds between pings (default 25000). */
  pingInterval?: number;
  /** Milliseconds to wait for a pong (default 20000). */
  pingTimeout?: number;
  /** Milliseconds a transport upgrade may take (default 10000). */
  upgradeTimeout?: number;
  /** Largest message or polling body, in bytes (default 1e6). */
  maxHttpBufferSize?: number;
  /** Milliseconds a client has to join a namespace (default 45000). */
  connectTimeout?: number;
  /** Allowed transports (default both). */
  transports?: Array<'polling' | 'websocket'>;
  /** Cross-origin requests: off by default, as in socket.io. */
  cors?: boolean | CorsOptions;
  /**
   * Decides whether a handshake (polling or WebSocket) goes on: `callback(null, true)` lets
   * it through, `callback(err, false)` refuses it with 403 `{"code":4,"message": err || "Forbidden"}`.
   * Sync or async; what it throws is reported and refuses the request.
   */
  allowRequest?: (req: IncomingRequest, callback: (err: string | Error | null | undefined, success: boolean) => void) => void | Promise<void>;
  /** rtio serves both `<path>` and `<path>/`: either value works. */
  addTrailingSlash?: boolean;
  /** rtio: the address to bind (default `0.0.0.0`). */
  host?: string;
  /** rtio: serve the files of this directory for other paths (`/` serves `index.html`). */
  staticDir?: string;
  /** rtio: the `socket.io.js` bundle to serve (default: the one of `socket.io-client`). */
  clientBundle?: string;
  /** rtio: worker threads of the core (default one per core). */
  workerThreads?: number;
  /** rtio: capacity of the core's event queue (default 4096). */
  eventQueue?: number;
  /**
   * rtio: HTTPS and WSS on rtio's own listener (rustls), from PEM files: the certificate
   * chain (leaf first) and its private key (`io.reloadTls()` reads them again). Attached to
   * an app's server, TLS is that server's (an `https.Server`): the option is refused there.
   */
  tls?: { certFile: string; keyFile: string };
  /**
   * engine.io's session cookie, set on the polling handshake's answer (for sticky load
   * balancers): `true` is `{ name: 'io' }`; absent or false, none. Defaults as engine.io's:
   * `{ name: 'io', path: '/', httpOnly: true, sameSite: 'lax' }`. Other attributes of the
   * `cookie` package (`domain`, `secure`, `maxAge`, ...) are refused.
   */
  cookie?: boolean | CookieOptions;
  /** engine.io's allowEIO3: accept Engine.IO v3 clients (socket.io-client 2.x) too (default false). */
  allowEIO3?: boolean;
  /** Offer polling clients the upgrade to WebSocket (default true). */
  allowUpgrades?: boolean;
  /**
   * WebSocket permessage-deflate (RFC 7692), off by default as in socket.io: `true` compresses
   * messages of at least 1024 bytes (ws's default threshold), `{ threshold }` of at least that
   * many; `emit`s flagged `compress(false)` never are. ws's zlib tuning keys are refused (rtio's
   * core negotiates it, with server_no_context_takeover so that a broadcast is compressed once).
   * Attached to an `https.Server` (or HTTP/2), Node's ws compresses, with the same threshold,
   * and `compress(false)` does not apply there.
   */
  perMessageDeflate?: boolean | { threshold?: number };
  /** gzip/deflate polling responses of at least `threshold` bytes (default on, 1024); false: off. */
  httpCompression?: boolean | { threshold?: number };
  // Accepted only with socket.io's default value (anything else throws; see docs/node.md):
  /** Refused: rtio's WebSocket server is in its core. */
  wsEngine?: never;
  /** Refused. */
  initialPacket?: never;
  /** Only true: rtio answers other upgrade requests itself. */
  destroyUpgrade?: true;
  /** Refused: rtio answers other upgrade requests at once. */
  destroyUpgradeTimeout?: never;
  /**
   * socket.io's cleanupEmptyChildNamespaces: a child namespace of a parent namespace
   * (`io.of(regexp | fn)`) is removed once its last socket left (its adapter closed); the next
   * client to join it creates it anew (default false: children stay).
   */
  cleanupEmptyChildNamespaces?: boolean;
  /**
   * rtio's Redis adapters (`createRedisAdapter(...)`, `createShardedRedisAdapter(...)`), or
   * socket.io-adapter's in-memory `Adapter` (the default). Any other adapter (e.g.
   * `@socket.io/redis-adapter`'s `createAdapter(pub, sub)`) is refused with an error naming
   * rtio's export: rtio's core does the adapter work, wire-compatible with it.
   */
  adapter?: RtioAdapter | unknown;
  /**
   * The packet format: socket.io-parser's (the default; its module is accepted) or
   * socket.io-msgpack-parser's, given as `require('socket.io-msgpack-parser')`, as rtio's
   * `msgpackParser` export, or as `'msgpack'` (every client must use that parser too). rtio's
   * core encodes and decodes: payloads and Buffers reach handlers as with the default parser.
   * Any other (custom) parser is refused.
   */
  parser?: MsgpackParser | 'msgpack' | 'default' | object;
  /**
   * Connection state recovery (socket.io 4.6+): a client whose connection broke and that
   * comes back within `maxDisconnectionDuration` ms (default 2 minutes) gets its socket back
   * (same id, rooms, data) and the events emitted to it meanwhile; `socket.recovered` is
   * then true. `skipMiddlewares` (default true): a recovered socket skips `use()` middlewares.
   * Kept on this server only (see docs/node.md).
   */
  connectionStateRecovery?: false | { maxDisconnectionDuration?: number; skipMiddlewares?: boolean };
}

// ---------------------------------------------------------------------------------------------
// Handshake, reasons
// ---------------------------------------------------------------------------------------------

export interface Handshake {
  /** Headers of the opening request (names in lower case). */
  headers: Record<string, string>;
  /** When the connection opened, as a date string. */
  time: string;
  /** The client's IP address. */
  address: string;
  /** Whether the request came with an `Origin` header. */
  xdomain: boolean;
  /** Whether the handshake came over TLS: true through an `https.Server` rtio is attached to. */
  secure: boolean;
  /** When the connection opened, in milliseconds since the epoch. */
  issued: number;
  /** Path and query of the opening request. */
  url: string;
  /** The query parameters of the opening request. */
  query: Record<string, string | string[] | undefined>;
  /** The client's `auth` payload (`{}` when none). */
  auth: { [key: string]: any };
}

/** Why a socket left, named as socket.io names it (plus rtio's `send queue full`). */
export type DisconnectReason =
  | 'client namespace disconnect'
  | 'server namespace disconnect'
  | 'transport close'
  | 'transport error'
  | 'ping timeout'
  | 'parse error'
  | 'forced close'
  | 'server shutting down'
  | 'send queue full';

export type Room = string;
export type SocketId = string;

/** A connection middleware's refusal: the client's `connect_error` gets `message` and `data`. */
export interface ExtendedError extends Error {
  data?: any;
}

// ---------------------------------------------------------------------------------------------
// Reserved events
// ---------------------------------------------------------------------------------------------

export interface NamespaceReservedEvents<L extends EventsMap, E extends EventsMap, S extends EventsMap, D> {
  connect: (socket: Socket<L, E, S, D>) => void;
  connection: (socket: Socket<L, E, S, D>) => void;
}

export interface ServerReservedEvents<L extends EventsMap, E extends EventsMap, S extends EventsMap, D>
  extends NamespaceReservedEvents<L, E, S, D> {
  new_namespace: (namespace: Namespace<L, E, S, D>) => void;
  /** rtio: a handler, listener or middleware threw (or its Promise rejected); `where` says which. */
  error: (err: unknown, where: string) => void;
}

export interface SocketReservedEvents {
  disconnect: (reason: DisconnectReason, description?: any) => void;
  disconnecting: (reason: DisconnectReason, description?: any) => void;
  /** A `socket.use()` middleware refused a packet, or a listener failed with no `io` error listener. */
  error: (err: Error) => void;
}

// ---------------------------------------------------------------------------------------------
// Broadcasting
// ---------------------------------------------------------------------------------------------

export interface TypedEventBroadcaster<EmitEvents extends EventsMap> {
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
}

/** `io.to(room).except(room)...`: who an emit reaches. */
export declare class BroadcastOperator<EmitEvents extends EventsMap = DefaultEventsMap, SocketData = any>
  implements TypedEventBroadcaster<EmitEvents>
{
  private constructor();
  /** Targets a room (or rooms); chained calls add up, each socket gets the event once. */
  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  /** Same as `to`. */
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  /** Leaves out the members of a room (or rooms). */
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  /** `compress(false)`: the event is never permessage-deflate-compressed (see `perMessageDeflate`). */
  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData>;
  /** The event is dropped (never queued) for a socket whose transport cannot take it right now. */
  readonly volatile: BroadcastOperator<EmitEvents, SocketData>;
  /** This server's sockets only: in a cluster, the operation is not sent to the other servers. */
  readonly local: BroadcastOperator<EmitEvents, SocketData>;
  /**
   * Waits at most `timeout` ms for the acks (of the sockets of every server): the callback
   * gets `(err, responses)`, each socket's first ack argument; `err` when some did not answer
   * in time, with the responses that came.
   */
  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData>;
  /** Emits to the targeted sockets; a last-argument callback gets every socket's ack. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  /** Emits and resolves with the acks of every targeted socket. */
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<any[]>;
  /** The ids of the targeted sockets of this server. */
  allSockets(): Promise<Set<SocketId>>;
  /**
   * The targeted sockets of every server: this server's as their `Socket` instances, the
   * others' as `RemoteSocket` snapshots. Rejects when a server did not answer within the
   * adapter's `requestsTimeout`.
   */
  fetchSockets(): Promise<Array<Socket<any, EmitEvents, any, SocketData> | RemoteSocket<EmitEvents, SocketData>>>;
  /** Makes the targeted sockets (of every server) join a room (or rooms). */
  socketsJoin(room: Room | Room[]): void;
  /** Makes the targeted sockets (of every server) leave a room (or rooms). */
  socketsLeave(room: Room | Room[]): void;
  /** Disconnects the targeted sockets of every server (with `close`, their whole connections). */
  disconnectSockets(close?: boolean): void;
}

/**
 * A socket of another server of the cluster, as `fetchSockets()` gives it: a snapshot of its
 * id, handshake, rooms and data (as that server reported them), and operations that reach it
 * through the cluster. Made by rtio, on the JS thread.
 */
export declare class RemoteSocket<EmitEvents extends EventsMap = DefaultEventsMap, SocketData = any> {
  private constructor();
  readonly id: SocketId;
  readonly handshake: Handshake;
  readonly rooms: Set<Room>;
  /** Its `socket.data` when fetched (`{}` when its server reported none). */
  readonly data: SocketData;
  /** Emits to it; with `timeout(ms)`, a last-argument callback gets `(err, answer)`. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  /** `socket.timeout(ms).emitWithAck(ev, ...)` resolves with its answer (rejects after `ms`). */
  timeout(timeout: number): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData>;
  /** Makes it join a room (or rooms), on its server. */
  join(room: Room | Room[]): void;
  /** Makes it leave a room, on its server. */
  leave(room: Room): void;
  /** Disconnects it (with `close`, its whole connection), on its server. */
  disconnect(close?: boolean): this;
}

/**
 * An adapter of rtio's, for `io.adapter(...)` or the `adapter` option. Made by
 * `createRedisAdapter` / `createShardedRedisAdapter`; rtio's core holds the Redis
 * connections (made when the server starts, retried with backoff while Redis is away).
 */
export type RtioAdapter = ((nsp: unknown) => never) & { readonly __rtioAdapter?: never };

/** `createRedisAdapter` options, named as `@socket.io/redis-adapter`'s `createAdapter`. */
export interface RedisAdapterOptions {
  /** `redis://[user[:password]@]host[:port][/db]`. */
  url: string;
  /** The channels' prefix (default `"socket.io"`); every node of a cluster uses the same. */
  key?: string;
  /** Milliseconds a request to the other servers waits (fetchSockets, serverSideEmit acks; default 5000). */
  requestsTimeout?: number;
  /** Answer requests on the requester's own response channel (default false). */
  publishOnSpecificResponseChannel?: boolean;
}

/** `createShardedRedisAdapter` options, named as `@socket.io/redis-adapter`'s `createShardedAdapter`. */
export interface ShardedRedisAdapterOptions {
  /** `redis://[user[:password]@]host[:port][/db]` (Redis 7 or later). */
  url: string;
  /** The channels' prefix (default `"socket.io"`). */
  channelPrefix?: string;
  /** Which channels a server subscribes: `"dynamic"` (default; one per room), `"static"`, `"dynamic-private"`. */
  subscriptionMode?: 'static' | 'dynamic' | 'dynamic-private';
}

/**
 * The classic Redis adapter (Pub/Sub), wire-compatible with `@socket.io/redis-adapter` 8.x:
 * rtio servers and Node socket.io servers share one cluster, and `@socket.io/redis-emitter`
 * pushes into it. Throws on a bad option; an unreachable Redis is not an error (the server
 * serves its own clients and retries).
 */
/**
 * socket.io-msgpack-parser's packet format, for the `parser` option: `new Server({ parser:
 * msgpackParser })` is the same as `parser: require('socket.io-msgpack-parser')`.
 */
export interface MsgpackParser {
  readonly name: 'msgpack';
  readonly protocol: 5;
}
export declare const msgpackParser: MsgpackParser;

export declare function createRedisAdapter(opts: string | RedisAdapterOptions): RtioAdapter;
/** The sharded Redis adapter (SPUBLISH / SSUBSCRIBE, Redis 7 or later), as `createShardedAdapter`. */
export declare function createShardedRedisAdapter(opts: string | ShardedRedisAdapterOptions): RtioAdapter;

/** `instrument`'s basic authentication: `password` is a bcrypt hash (of the dashboard's password). */
export interface AdminUiBasicAuthentication {
  type: 'basic';
  username: string;
  /** A bcrypt hash, e.g. from `require('bcryptjs').hashSync(password, 10)`. */
  password: string;
}

/** Where `instrument` keeps the session ids of dashboards that logged in. */
export interface AdminUiStore {
  doesSessionExist(sessionId: string): Promise<boolean>;
  saveSession(sessionId: string): void | Promise<void>;
}

/** `@socket.io/admin-ui`'s in-memory session store (the default). */
export declare class InMemoryStore implements AdminUiStore {
  doesSessionExist(sessionId: string): Promise<boolean>;
  saveSession(sessionId: string): void;
}

/** `instrument` options, as `@socket.io/admin-ui` 0.5's. */
export interface AdminUiOptions {
  /** Required: `false` (no authentication: not for production) or basic authentication. */
  auth: false | AdminUiBasicAuthentication;
  /** The admin namespace. Default `'/admin'`. */
  namespaceName?: string;
  /** True: the dashboard only looks (no emit, join, leave, disconnect). Default false. */
  readonly?: boolean;
  /** The server's id in the dashboard. Default: the host name (`host#pid` in a cluster worker). */
  serverId?: string;
  /** Where session ids are kept. Default: a new `InMemoryStore`. */
  store?: AdminUiStore;
  /**
   * `'development'` (default unless `NODE_ENV` says otherwise): every socket and the events
   * they receive and are sent; `'production'`: the server's stats only.
   */
  mode?: 'development' | 'production';
}

/**
 * Serves the `@socket.io/admin-ui` dashboard (https://admin.socket.io) on `io`, as that
 * package's `instrument(io, opts)`: the dashboard connects to the admin namespace, sees
 * every socket and the server's stats (every 2 s), and may emit, make sockets join or leave
 * rooms, and disconnect them. Returns the admin namespace. Throws on a missing `auth` or a
 * `password` that is not a bcrypt hash.
 */
export declare function instrument(io: Server<any, any, any, any>, opts: AdminUiOptions): Namespace<any, any, any, any>;

// ---------------------------------------------------------------------------------------------
// Socket
// ---------------------------------------------------------------------------------------------

/** One client in one namespace. */
export declare class Socket<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends EventEmitter {
  private constructor();
  /** The socket id (undefined only inside connection middlewares, before rtio accepts it). */
  readonly id: SocketId;
  readonly nsp: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly adapter: Adapter;
  readonly handshake: Handshake;
  /**
   * Anything the app keeps with the socket. In a cluster, other servers see it in their
   * `fetchSockets()`: assigning `socket.data` or a top-level key of it shares its JSON; a
   * change nested deeper in place is not seen until the next such assignment.
   */
  data: SocketData;
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** True when this socket came back with connection state recovery. */
  readonly recovered: boolean;
  /** The rooms of the socket, its own room (its id) included. */
  readonly rooms: Set<Room>;
  /**
   * What rtio knows of the underlying connection: an EventEmitter that emits `upgrade` (with
   * the new transport) when the connection upgrades from polling to WebSocket.
   */
  readonly conn: EventEmitter & {
    /** Equal for the sockets of one connection. */
    readonly id: string;
    readonly remoteAddress: string;
    readonly remotePort: number;
    /** The transport in use now (the last one, once the socket left). */
    readonly transport: { readonly name: 'polling' | 'websocket' };
    readonly readyState: 'open' | 'closed';
    /** Closes the whole connection (as `disconnect(true)`). */
    close(): void;
  };
  /** The opening request: the one `allowRequest` let through, if set (the same object on each read). */
  readonly request: IncomingRequest;

  on<Ev extends keyof SocketReservedEvents | EventNames<ListenEvents>>(
    ev: Ev,
    listener: Listener<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  once<Ev extends keyof SocketReservedEvents | EventNames<ListenEvents>>(
    ev: Ev,
    listener: Listener<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  off<Ev extends keyof SocketReservedEvents | EventNames<ListenEvents>>(
    ev: Ev,
    listener: Listener<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  addListener<Ev extends keyof SocketReservedEvents | EventNames<ListenEvents>>(
    ev: Ev,
    listener: Listener<SocketReservedEvents, ListenEvents, Ev>,
  ): this;
  removeListener<Ev extends keyof SocketReservedEvents | EventNames<ListenEvents>>(
    ev: Ev,
    listener: Listener<SocketReservedEvents, ListenEvents, Ev>,
  ): this;

  /** Emits to this client; a last-argument function receives the client's ack. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  /** Emits and resolves with the client's ack (rejects after `timeout(ms)` when set). */
  emitWithAck<Ev extends EventNames<EmitEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<EmitEvents, Ev>>
  ): Promise<AckResult<EmitEvents[Ev]>>;
  /** Sends a `message` event. */
  send(...args: any[]): this;
  /** Same as `send`. */
  write(...args: any[]): this;
  /** Waits at most `timeout` ms for the ack of the next emit: the callback gets `(err, ...answer)`. */
  timeout(timeout: number): Socket<ListenEvents, DecorateAcknowledgements<EmitEvents>, ServerSideEvents, SocketData>;
  /** `compress(false)`: the next emit is never permessage-deflate-compressed (see `perMessageDeflate`). */
  compress(compress: boolean): this;
  /** The next emit is dropped (never queued) if this client's transport cannot take it right now. */
  readonly volatile: this;
  /** Every other socket of the namespace. */
  readonly broadcast: BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  /** This server only (with rtio, always). */
  readonly local: BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  /** The members of a room (or rooms), this socket left out. */
  to(room: Room | Room[]): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  /** Same as `to`. */
  in(room: Room | Room[]): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;
  /** Everyone but the members of a room (or rooms), this socket left out. */
  except(room: Room | Room[]): BroadcastOperator<DecorateAcknowledgementsWithMultipleResponses<EmitEvents>, SocketData>;

  /** Joins a room (or rooms). */
  join(rooms: Room | Room[]): void;
  /** Leaves a room. */
  leave(room: Room): void;
  /** Leaves every room. */
  leaveAll(): void;
  /** Disconnects (the client sees `io server disconnect`); `close` closes the whole connection. */
  disconnect(close?: boolean): this;

  /** A middleware for incoming packets: `next(err)` drops the packet and emits `error`. */
  use(fn: (event: [string, ...any[]], next: (err?: Error) => void) => void): this;
  onAny(listener: (event: string, ...args: any[]) => void): this;
  prependAny(listener: (event: string, ...args: any[]) => void): this;
  offAny(listener?: (event: string, ...args: any[]) => void): this;
  listenersAny(): Array<(event: string, ...args: any[]) => void>;
  onAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  prependAnyOutgoing(listener: (event: string, ...args: any[]) => void): this;
  offAnyOutgoing(listener?: (event: string, ...args: any[]) => void): this;
  listenersAnyOutgoing(): Array<(event: string, ...args: any[]) => void>;
}

// ---------------------------------------------------------------------------------------------
// Namespace, adapter
// ---------------------------------------------------------------------------------------------

/**
 * Who is where in a namespace on this server, with the shape of socket.io's adapter, asked
 * from rtio's core on each read (`rooms` and `sids` are fresh snapshots: read them, changing
 * them changes nothing).
 */
export interface Adapter {
  readonly nsp: Namespace<any, any, any, any>;
  readonly rooms: Map<Room, Set<SocketId>>;
  readonly sids: Map<SocketId, Set<Room>>;
  sockets(rooms: Set<Room>): Promise<Set<SocketId>>;
  socketRooms(id: SocketId): Set<Room> | undefined;
  /** The number of servers of the namespace's cluster, this one included (1 without a cluster adapter). */
  serverCount(): Promise<number>;
}

/**
 * The namespace `io.of(RegExp | fn)` returns. Its `emit`, `to` / `in` / `except`,
 * `fetchSockets`, `socketsJoin` / `socketsLeave` / `disconnectSockets` act on every child;
 * broadcasts with acks (`timeout`, an ack callback) are not supported on it (emit to each child).
 */
export declare class ParentNamespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData> {
  private constructor();
  /** The namespaces this parent created. */
  readonly children: Set<Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>;
}

export declare class Namespace<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = DefaultEventsMap,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> extends EventEmitter {
  protected constructor();
  readonly name: string;
  readonly sockets: Map<SocketId, Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>>;
  readonly adapter: Adapter;
  readonly server: Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;

  on<Ev extends keyof NamespaceReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | EventNames<ServerSideEvents>>(
    ev: Ev,
    listener: Listener<NamespaceReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents, Ev>,
  ): this;
  once<Ev extends keyof NamespaceReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | EventNames<ServerSideEvents>>(
    ev: Ev,
    listener: Listener<NamespaceReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents, Ev>,
  ): this;

  /**
   * A connection middleware: `next()` accepts, `next(err)` refuses (the client's
   * `connect_error` gets `err.message` and `err.data`).
   */
  use(
    fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, next: (err?: ExtendedError) => void) => void,
  ): this;
  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  /** Emits to every socket of the namespace. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  send(...args: any[]): this;
  write(...args: any[]): this;
  /**
   * Sends an event to the other servers of the cluster (their `nsp.on(ev, ...)` listeners).
   * A last-argument callback gets `(err, responses)`: each other server's answer, `err` when
   * some did not answer within `requestsTimeout`. Without a cluster: `(null, [])`.
   */
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(ev: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean;
  serverSideEmitWithAck<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<any[]>;
  allSockets(): Promise<Set<SocketId>>;
  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData>;
  readonly volatile: BroadcastOperator<EmitEvents, SocketData>;
  readonly local: BroadcastOperator<EmitEvents, SocketData>;
  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData>;
  fetchSockets(): Promise<Array<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | RemoteSocket<EmitEvents, SocketData>>>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

export declare class Server<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
> {
  /**
   * `new Server(port, opts?)` listens right away; `new Server(opts?)` waits for `listen(port)`;
   * `new Server(httpServer, opts?)` attaches to the app's own `http.Server` / `https.Server`
   * (see `attach`).
   */
  constructor(opts?: Partial<ServerOptions>);
  constructor(port: number | string, opts?: Partial<ServerOptions>);
  constructor(srv: HttpServer | HttpsServer | Http2SecureServer, opts?: Partial<ServerOptions>);

  /** The main namespace (`/`). */
  readonly sockets: Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  readonly opts: Partial<ServerOptions>;

  /** Starts listening on `port` (0: a free one), or attaches to an `http.Server` (see `attach`). */
  listen(srv: number | string | HttpServer | HttpsServer | Http2SecureServer, opts?: Partial<ServerOptions>): this;
  /**
   * Attaches to the app's own `http.Server` / `https.Server`, or an
   * `http2.createSecureServer({ allowHTTP1: true })` (polling over HTTP/2, WebSocket over
   * HTTP/1.1), with a port: as `listen`. Requests to the path go to rtio, others to the app's `request` listeners; WebSocket
   * upgrades to the path hand their TCP connection to rtio's core (an `https.Server`'s are
   * framed by Node with `ws`, messages going to the core and back); other upgrades stay the
   * app's. The client bundle is served at `<path>/socket.io.js` unless
   * `serveClient` is false. `close()` gives the app its listeners back and closes its server,
   * as socket.io does. rtio's core runs no listener of its own then.
   */
  attach(srv: number | string | HttpServer | HttpsServer | Http2SecureServer, opts?: Partial<ServerOptions>): this;
  /** The app's server rtio is attached to (undefined when rtio listens on its own). */
  readonly httpServer: HttpServer | HttpsServer | Http2SecureServer | undefined;
  /**
   * A stand-in for socket.io's Engine.IO server: `clientsCount` counts the open Engine.IO
   * connections, in a namespace or not. Attached to an `http.Server` only: `use(fn)` runs an
   * Express-style middleware on every request to the path (WebSocket upgrades get a stand-in
   * `res`) before rtio answers it, on the JS thread (express-session's `req.session` stays on
   * `socket.request`); `initial_headers` (handshake answers) and `headers` (every polling
   * answer) let listeners change the headers `(headers, req)` before they are written;
   * `connection_error` `{ req, code, message, context }` for requests refused (by a middleware,
   * or by rtio's core as engine.io would: unknown transport or sid, allowRequest…; not for a
   * plain `http.Server`'s WebSocket upgrades, which the core answers on the connection it took).
   */
  readonly engine: EventEmitter & {
    readonly clientsCount: number;
    use(fn: (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void): unknown;
  };
  /** rtio: the bound address (null when not listening; the app server's when attached). */
  address(): { address: string; family: 'IPv4' | 'IPv6'; port: number } | null;
  /**
   * rtio: reads the `tls` option's certificate and key files again (after a renewal): new
   * connections get the new certificate, open ones keep theirs. Throws, naming the file, when
   * they cannot be used (the one in use stays), or without TLS on rtio's own listener.
   */
  reloadTls(): void;
  /** Stops: sockets get `disconnect` ("server shutting down"); resolves once stopped (then the process may exit). */
  close(fn?: (err?: Error) => void): Promise<void>;

  path(): string;
  path(v: string): this;
  serveClient(): boolean;
  serveClient(v: boolean): this;
  connectTimeout(): number;
  connectTimeout(v: number): this;
  /** The adapter given (`undefined`: the default). */
  adapter(): RtioAdapter | unknown;
  /**
   * Joins a cluster: `io.adapter(createRedisAdapter(url))`. Before `listen()`, or in the same
   * tick as `new Server(port)` (the fresh core then restarts with it on the same port); throws
   * later, and for an adapter that is not rtio's.
   */
  adapter(v: RtioAdapter): this;

  /** The namespace of this name (created on first use); `fn` is added as a connection listener. */
  of(
    name: string,
    fn?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): Namespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;
  /**
   * A parent namespace (socket.io's dynamic namespaces): a client joining a namespace no one
   * created, whose name matches the RegExp or that the function accepts (`next(null, true)`),
   * creates it as a child, with the parent's middlewares and connection listeners. Parents
   * are asked in the order they were made. Called on the JS thread.
   */
  of(
    name: RegExp | ((name: string, auth: { [key: string]: any }, next: (err: Error | null, success?: boolean) => void) => void),
    fn?: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>) => void,
  ): ParentNamespace<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;

  on<Ev extends keyof ServerReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | EventNames<ServerSideEvents>>(
    ev: Ev,
    listener: Listener<ServerReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents, Ev>,
  ): this;
  once<Ev extends keyof ServerReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | EventNames<ServerSideEvents>>(
    ev: Ev,
    listener: Listener<ServerReservedEvents<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, ServerSideEvents, Ev>,
  ): this;
  off(ev: string, listener: (...args: any[]) => void): this;
  addListener(ev: string, listener: (...args: any[]) => void): this;
  removeListener(ev: string, listener: (...args: any[]) => void): this;
  removeAllListeners(ev?: string): this;
  listeners(ev: string): Function[];
  listenerCount(ev: string): number;

  /** A connection middleware of the main namespace. */
  use(
    fn: (socket: Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData>, next: (err?: ExtendedError) => void) => void,
  ): this;
  to(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  in(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  except(room: Room | Room[]): BroadcastOperator<EmitEvents, SocketData>;
  /** Emits to every socket of the main namespace. */
  emit<Ev extends EventNames<EmitEvents>>(ev: Ev, ...args: EventParams<EmitEvents, Ev>): boolean;
  send(...args: any[]): this;
  write(...args: any[]): this;
  serverSideEmit<Ev extends EventNames<ServerSideEvents>>(ev: Ev, ...args: EventParams<ServerSideEvents, Ev>): boolean;
  serverSideEmitWithAck<Ev extends EventNames<ServerSideEvents>>(
    ev: Ev,
    ...args: AllButLast<EventParams<ServerSideEvents, Ev>>
  ): Promise<any[]>;
  allSockets(): Promise<Set<SocketId>>;
  compress(compress: boolean): BroadcastOperator<EmitEvents, SocketData>;
  readonly volatile: BroadcastOperator<EmitEvents, SocketData>;
  readonly local: BroadcastOperator<EmitEvents, SocketData>;
  timeout(
    timeout: number,
  ): BroadcastOperator<DecorateAcknowledgementsWithTimeoutAndMultipleResponses<EmitEvents>, SocketData>;
  fetchSockets(): Promise<Array<Socket<ListenEvents, EmitEvents, ServerSideEvents, SocketData> | RemoteSocket<EmitEvents, SocketData>>>;
  socketsJoin(room: Room | Room[]): void;
  socketsLeave(room: Room | Room[]): void;
  disconnectSockets(close?: boolean): void;
}

/** `require('rtio')(port | httpServer, opts)`, as `require('socket.io')(port | httpServer, opts)`. */
declare function rtio<
  ListenEvents extends EventsMap = DefaultEventsMap,
  EmitEvents extends EventsMap = ListenEvents,
  ServerSideEvents extends EventsMap = DefaultEventsMap,
  SocketData = any,
>(
  port?: number | string | HttpServer | HttpsServer | Http2SecureServer | Partial<ServerOptions>,
  opts?: Partial<ServerOptions>,
): Server<ListenEvents, EmitEvents, ServerSideEvents, SocketData>;

export default rtio;
