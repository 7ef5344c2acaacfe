'use strict';
// socket.io 4's Server, on rtio's core. The core (Rust) does the sockets on its own threads;
// its events reach `_onEvents` on the JS thread, in batches, through one ThreadsafeFunction.

const { EventEmitter } = require('node:events');
const native = require('./native');
const { pack, unpack } = require('./binary');
const { Namespace } = require('./namespace');
const { ParentNamespace, matcherOf } = require('./parent-namespace');
const { Socket, buildHandshake } = require('./socket');
const { BroadcastOperator } = require('./broadcast');
const { NO_TIMEOUT_MS, timeoutError, parseAuth } = require('./common');
const {
  checkOptions,
  compressionSettings,
  cookieSettings,
  corsPolicy,
  isDefaultAdapter,
  parserSetting,
  perMessageDeflateSettings,
  recoverySettings,
  tlsFiles,
  DOCS,
} = require('./options');
const { adapterSettings, RemoteSocket } = require('./cluster');
const { incomingMessage } = require('./request');
const { Attachment } = require('./attach');

const {
  NativeServer,
  EVENT_FIELDS,
  KIND_CONNECT_REQUEST,
  KIND_CONNECT,
  KIND_MESSAGE,
  KIND_DISCONNECT,
  KIND_ACK,
  KIND_CLOSED,
  KIND_REQUEST,
  KIND_BROADCAST_ACK,
  KIND_FETCH_SOCKETS,
  KIND_SERVER_SIDE_EMIT,
  KIND_SERVER_SIDE_ACK,
  KIND_SERVER_COUNT,
  KIND_HTTP_RESPONSE,
  KIND_WS_ANSWER,
  KIND_WS_SEND,
  KIND_WS_CLOSE,
} = native;

/** socket.io's Redis adapter's default `requestsTimeout`. */
const REQUESTS_TIMEOUT_MS = 5000;

function clientBundle() {
  try {
    return require.resolve('socket.io-client/dist/socket.io.js');
  } catch {
    return undefined;
  }
}

/** The description `Server#_call` reports a failure with. */
function describe(what, self, detail) {
  return typeof what === 'function' ? what.call(self, detail) : what;
}

/** The event at `batch[i]` as an object (fields in `EVENT_FIELDS` order, see src/batch.rs). */
function eventAt(batch, i) {
  return {
    kind: batch[i],
    sid: batch[i + 1],
    nsp: batch[i + 2],
    name: batch[i + 3],
    data: batch[i + 4],
    bins: batch[i + 5],
    id: batch[i + 6],
    reason: batch[i + 7],
    handshake: batch[i + 8],
  };
}

/** True for a request engine.io hands to allowRequest: a handshake (GET, a known transport, a WebSocket one an upgrade). */
function isHandshake(req, transports) {
  const transport = req._query.transport;
  if (req.method !== 'GET' || req._query.sid !== undefined || !transports.includes(transport)) return false;
  return transport !== 'websocket' || String(req.headers.upgrade).toLowerCase() === 'websocket';
}

/** The message of allowRequest's refusal, as engine.io makes it (`err || "Forbidden"`). */
function refusalMessage(err) {
  if (!err) return 'Forbidden';
  if (typeof err === 'string') return err;
  if (err instanceof Error) return err.message || 'Forbidden';
  return String(err);
}

/** What links a handshake allowRequest let through to the sockets its connection opens. */
function gatedKey(address, port, url) {
  const i = url.indexOf('?');
  return `${address} ${port} ${i === -1 ? '' : url.slice(i + 1)}`;
}

/** An `http.Server` / `https.Server` (or one alike: Koa's, Fastify's `server`). */
function isHttpServer(value) {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof value.listen === 'function' &&
    typeof value.on === 'function' &&
    typeof value.listeners === 'function'
  );
}

function isPort(value) {
  return typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value));
}

class Server {
  /**
   * `new Server()`, `new Server(port[, opts])` (listens right away), `new Server(opts)` or
   * `new Server(httpServer[, opts])` (attached to the app's own `http.Server` /
   * `https.Server`: see `attach`).
   */
  constructor(srv, opts = {}) {
    if (srv !== null && typeof srv === 'object' && typeof srv.listen !== 'function') {
      opts = srv;
      srv = undefined;
    }
    this.opts = opts || {};
    checkOptions(this.opts); // throws on an option rtio does not apply as socket.io does
    this._path = String(this.opts.path || '/socket.io').replace(/\/$/, '');
    this._serveClient = this.opts.serveClient !== false;
    this._connectTimeout = this.opts.connectTimeout || 45000;
    /** @type {Map<string, Namespace>} */
    this._nsps = new Map();
    /** @type {Map<Function, ParentNamespace>} dynamic namespaces: matcher -> parent */
    this._parentNsps = new Map();
    /** @type {Map<string, Socket>} every connected socket, by id (ids are unique across namespaces) */
    this._sockets = new Map();
    /** the native server while listening (null before listen and from close() on) */
    this._native = null;
    /** the current (or last) listening run: see `listen` */
    this._run = null;
    /** the `redis` settings of the native server, from the adapter option or `adapter()` */
    this._adapterSettings = adapterSettings(this.opts.adapter, isDefaultAdapter);
    this._adapter = this.opts.adapter;
    /** the app's server rtio is attached to (socket.io's `io.httpServer`), if any */
    this.httpServer = undefined;
    /** the listeners put on `httpServer` (see lib/attach.js) while attached */
    this._attachment = null;
    /** `io.engine.use(fn)` middlewares, run on each request before rtio answers it */
    this._engineMiddlewares = [];
    this.sockets = this.of('/');
    if (srv !== undefined && srv !== null && srv !== false) this.listen(srv);
  }

  // --- settings (socket.io's getters / setters) -------------------------------------------

  path(v) {
    if (!arguments.length) return this._path;
    this._assertNotListening('path');
    this._path = String(v).replace(/\/$/, '');
    return this;
  }

  serveClient(v) {
    if (!arguments.length) return this._serveClient;
    this._assertNotListening('serveClient');
    this._serveClient = Boolean(v);
    return this;
  }

  connectTimeout(v) {
    if (v === undefined) return this._connectTimeout;
    this._assertNotListening('connectTimeout');
    this._connectTimeout = v;
    return this;
  }

  /**
   * The adapter (what was set), or sets it: `io.adapter(createRedisAdapter(url))` (rtio's
   * own adapters only: see `createRedisAdapter`). rtio's core takes its adapter when it
   * starts: before `listen()`, or in the same tick as `new Server(port)` (the core that has
   * just started, with no client yet, is then restarted with it on the same port, the JS
   * thread waiting about a millisecond for that). Later, it throws.
   */
  adapter(v) {
    if (!arguments.length) return this._adapter;
    const settings = adapterSettings(v, isDefaultAdapter);
    const run = this._run;
    if (this._native && !(run.fresh && this._sockets.size === 0)) {
      throw new Error(
        'rtio: io.adapter(...) must come before the server listens: rtio\'s core takes its ' +
          'adapter when it starts; call it in the same tick as new Server(port), before ' +
          `io.listen(port), or give the "adapter" option (${DOCS})`,
      );
    }
    this._adapterSettings = settings;
    this._adapter = v;
    if (this._native) {
      const port = this._native.port;
      run.closing = true;
      this._native = null;
      run.native.stopNow(); // the port is free when it returns
      this.listen(port);
    }
    return this;
  }

  /**
   * rtio's own: reads the `tls` option's certificate and key files again (after a renewal).
   * New connections get the new certificate, open ones keep theirs. Throws, naming the file,
   * when they cannot be used (the certificate in use then stays), and when rtio's own
   * listener has no TLS (not listening, attached, or no `tls` option).
   */
  reloadTls() {
    if (!this._native || this._attachment || !tlsFiles(this.opts.tls)) {
      throw new Error('rtio: reloadTls() needs rtio\'s own listener started with the "tls" option');
    }
    this._native.reloadTls();
  }

  /** True when the server joins a cluster (an adapter of rtio's was given). */
  _clustered() {
    return this._adapterSettings !== null;
  }

  /** How long requests to the other servers wait (the adapter's `requestsTimeout`). */
  _requestsTimeout() {
    const s = this._adapterSettings;
    return s && s.requestsTimeout !== undefined ? s.requestsTimeout : REQUESTS_TIMEOUT_MS;
  }

  _assertNotListening(what) {
    if (this._native) throw new Error(`rtio: ${what} cannot change while the server is listening`);
  }

  // --- listening --------------------------------------------------------------------------

  /**
   * Starts listening on `port` (0: a free one), or attaches to the app's `http.Server` /
   * `https.Server` (see `attach`). Returns the server.
   */
  listen(srv, opts) {
    if (opts && typeof opts === 'object') {
      const merged = { ...this.opts, ...opts };
      checkOptions(merged);
      this.opts = merged;
      if ('adapter' in opts) {
        this._adapterSettings = adapterSettings(opts.adapter, isDefaultAdapter);
        this._adapter = opts.adapter;
      }
    }
    if (isHttpServer(srv)) {
      if (this._native) throw new Error('rtio: the server is already listening');
      if (tlsFiles(this.opts.tls)) {
        throw new Error(`rtio: the "tls" option is for rtio's own listener; attached, the app's server does TLS (an https.Server) (${DOCS})`);
      }
      // the core runs no listener: every request comes through `srv`
      this._start(0, undefined, false);
      this.httpServer = srv;
      this._attachment = new Attachment(this, srv);
      return this;
    }
    if (!isPort(srv)) throw new TypeError(`rtio: listen() takes a port number or an http.Server, got ${String(srv)}`);
    if (this._native) throw new Error('rtio: the server is already listening');
    if (this._engineMiddlewares.length > 0) {
      throw new Error(
        'rtio: io.engine.use() middlewares run on the requests of an http.Server rtio is attached ' +
          `to (new Server(httpServer)); on rtio's own listener the core answers every request (${DOCS})`,
      );
    }
    return this._start(srv, this.opts.host);
  }

  /** Starts the core on `port` of `host`. */
  _start(srv, host, listen = true) {
    const o = this.opts;
    const cors = corsPolicy(o.cors);
    const allowRequest = typeof o.allowRequest === 'function' ? o.allowRequest : undefined;
    const transports = Array.isArray(o.transports) ? o.transports : ['polling', 'websocket'];
    const namespaces = [...this._nsps.values()].map((nsp) => ({ name: nsp.name, middleware: nsp._fns.length > 0 }));
    // What belongs to one listening run of the core: events of an earlier run (still arriving
    // after a close and a new listen) never mix with the new one's.
    const run = {
      native: null,
      closing: false,
      /** true until the next tick: `adapter()` may still restart this run (see there) */
      fresh: true,
      /** connect requests whose socket is not connected yet, by socket id */
      pending: new Map(),
      /** acks waited for, by the token the core gave */
      acks: new Map(),
      /** cluster operations waiting for their result, by the token the core gave (see `_clusterCall`) */
      cluster: new Map(),
      /** the cors option's decision per request, when JS makes it (RegExp or function origins) */
      cors,
      /** socket.io's allowRequest, when set */
      allowRequest,
      transports,
      /** requests allowRequest let through, by address, port and query, for `socket.request` */
      gated: new Map(),
      resolveClosed: null,
      closed: null,
    };
    run.closed = new Promise((resolve) => {
      run.resolveClosed = resolve;
    });
    run.native = new NativeServer(
      {
        host,
        port: Number(srv),
        listen,
        path: `${this._path}/`,
        pingInterval: o.pingInterval,
        pingTimeout: o.pingTimeout,
        upgradeTimeout: o.upgradeTimeout,
        connectTimeout: this._connectTimeout,
        maxPayload: o.maxHttpBufferSize,
        ...cors.native,
        requestGate: allowRequest !== undefined,
        websocket: transports.includes('websocket'),
        polling: transports.includes('polling'),
        staticDir: o.staticDir,
        clientBundle: this._serveClient ? o.clientBundle || clientBundle() : undefined,
        workerThreads: o.workerThreads,
        eventQueue: o.eventQueue,
        namespaces,
        // Namespaces no one created come to `_onConnectRequest`, for the parent namespaces
        // (io.of(regexp | fn)) to match, possibly after listen(); the others are refused
        // there with socket.io's "Invalid namespace".
        dynamicNamespaces: true,
        redis: this._adapterSettings || undefined,
        cookie: cookieSettings(o.cookie),
        ...recoverySettings(o.connectionStateRecovery),
        ...compressionSettings(o.httpCompression),
        parser: parserSetting(o.parser),
        // (attached to an https.Server, Node frames the WebSockets: see lib/attach.js)
        ...perMessageDeflateSettings(o.perMessageDeflate),
        allowEio3: o.allowEIO3 === true,
        // the core removes a child namespace whose last socket left (see _childEmptied)
        cleanupEmptyChildNamespaces: o.cleanupEmptyChildNamespaces === true,
        allowUpgrades: o.allowUpgrades !== false,
        ...(listen ? tlsFiles(o.tls) : undefined),
      },
      (...batch) => this._onEvents(batch, run),
    );
    // the calls made once per event, as plain N-API functions (src/fast.rs)
    Object.assign(run.native, run.native.fastCalls());
    this._run = run;
    this._native = run.native;
    process.nextTick(() => {
      run.fresh = false;
    });
    return this;
  }

  /**
   * Attaches to the app's own `http.Server` / `https.Server` (or, with a port, listens as
   * `listen`): requests to the path (`/socket.io/`) go to rtio, every other request to the
   * listeners the app had put on the server; WebSocket upgrades to the path hand their TCP
   * connection to rtio's core (an `https.Server`'s are framed by Node, with `ws`, their
   * messages going to the core and back), others stay the app's. The client bundle is served at
   * `<path>/socket.io.js` unless `serveClient` is false.
   */
  attach(srv, opts) {
    return this.listen(srv, opts);
  }

  /** Keeps the handshake request of an attached server, for `socket.request` (lib/attach.js). */
  _keepRequest(req) {
    if (this._run) this._keepGated(this._run, req);
  }

  /** The largest request body taken from the app's server (the core refuses more than its limit). */
  _maxBodyBytes() {
    return Number(this.opts.maxHttpBufferSize) || 1e6;
  }

  /** engine.io's `connection_error` event, for a request rtio refused (in JS or in the core). */
  _emitEngineError(req, code, message, context) {
    const engine = this._engine;
    if (engine && engine.listenerCount('connection_error') > 0) {
      engine.emit('connection_error', { req, code, message, context });
    }
  }

  /**
   * A stand-in for socket.io's Engine.IO server: `clientsCount` counts the open Engine.IO
   * connections (in a namespace or not, as socket.io's); it is an EventEmitter that emits
   * nothing (rtio's engine is in the core).
   */
  get engine() {
    if (!this._engine) {
      const server = this;
      this._engine = Object.defineProperty(new EventEmitter(), 'clientsCount', {
        enumerable: true,
        get() {
          return server._native ? server._native.clientsCount() : 0;
        },
      });
      /**
       * engine.io's `use`: an Express-style middleware `(req, res, next)` run on every
       * request to the path of the `http.Server` rtio is attached to (handshakes, polling,
       * WebSocket upgrades with a stand-in `res`) before rtio answers it; what it puts on
       * `req` (e.g. express-session's `req.session`) stays on `socket.request`.
       */
      this._engine.use = (fn) => {
        if (typeof fn !== 'function') throw new TypeError('rtio: io.engine.use() takes a function (req, res, next)');
        if (this._native && !this._attachment) {
          throw new Error(
            'rtio: io.engine.use() middlewares run on the requests of an http.Server rtio is attached ' +
              `to (new Server(httpServer)); on rtio's own listener the core answers every request (${DOCS})`,
          );
        }
        this._engineMiddlewares.push(fn);
        return this._engine;
      };
    }
    return this._engine;
  }

  /** The bound address, like `net.Server#address()` (null when not listening). */
  address() {
    if (!this._native) return null;
    if (this._attachment) return this._attachment.httpServer.address();
    const address = this._native.address;
    return { address, family: address.includes(':') ? 'IPv6' : 'IPv4', port: this._native.port };
  }

  /**
   * Stops: every socket gets `disconnect` with "server shutting down", every client a
   * disconnect and a proper close. The Promise resolves (and `fn` is called) once the server
   * stopped; nothing of rtio is left to keep the process alive.
   */
  close(fn) {
    for (const nsp of this._nsps.values()) {
      for (const socket of [...nsp.sockets.values()]) socket._onclose('server shutting down');
    }
    const run = this._run;
    if (run && !run.closing) {
      run.closing = true;
      run.closedByApp = true;
      this._native = null;
      run.native.close();
    }
    const done = run ? run.closed : Promise.resolve();
    return done.then(() => {
      if (fn) fn();
    });
  }

  // --- namespaces -------------------------------------------------------------------------

  /**
   * The namespace of this name (created on first use); `fn` is added as a connection
   * listener. With a RegExp or a function `(name, auth, next) => next(err, ok)`, a parent
   * namespace: a client joining a namespace that matches creates it as a child.
   */
  of(name, fn) {
    if (typeof name === 'function' || name instanceof RegExp) {
      const parent = new ParentNamespace(this, name);
      this._parentNsps.set(matcherOf(name), parent);
      if (fn) parent.on('connect', fn);
      return parent;
    }
    name = String(name);
    if (name[0] !== '/') name = `/${name}`;
    let nsp = this._nsps.get(name);
    if (!nsp) {
      nsp = new Namespace(this, name);
      this._nsps.set(name, nsp);
      if (this._native) this._native.addNamespace(name, false);
      if (name !== '/') this.sockets.emitReserved('new_namespace', nsp);
    }
    if (fn) nsp.on('connect', fn);
    return nsp;
  }

  _namespaceChanged(nsp) {
    if (this._native) this._native.addNamespace(nsp.name, nsp._fns.length > 0);
  }

  // --- the main namespace's API, on the server (as socket.io) -----------------------------

  use(fn) {
    this.sockets.use(fn);
    return this;
  }

  to(room) {
    return this.sockets.to(room);
  }

  in(room) {
    return this.sockets.in(room);
  }

  except(room) {
    return this.sockets.except(room);
  }

  send(...args) {
    this.sockets.emit('message', ...args);
    return this;
  }

  write(...args) {
    this.sockets.emit('message', ...args);
    return this;
  }

  serverSideEmit(ev, ...args) {
    return this.sockets.serverSideEmit(ev, ...args);
  }

  serverSideEmitWithAck(ev, ...args) {
    return this.sockets.serverSideEmitWithAck(ev, ...args);
  }

  allSockets() {
    return this.sockets.allSockets();
  }

  compress(compress) {
    return this.sockets.compress(compress);
  }

  get volatile() {
    return this.sockets.volatile;
  }

  get local() {
    return this.sockets.local;
  }

  timeout(timeout) {
    return this.sockets.timeout(timeout);
  }

  fetchSockets() {
    return this.sockets.fetchSockets();
  }

  socketsJoin(room) {
    return this.sockets.socketsJoin(room);
  }

  socketsLeave(room) {
    return this.sockets.socketsLeave(room);
  }

  disconnectSockets(close = false) {
    return this.sockets.disconnectSockets(close);
  }

  // --- from rtio's core -------------------------------------------------------------------

  /** A batch of core events of one run, flat (`EVENT_FIELDS` elements each; on the JS thread). Never throws: failures are reported. */
  _onEvents(batch, run) {
    for (let i = 0; i < batch.length; i += EVENT_FIELDS) {
      try {
        // client events, by far the most frequent, are read from the batch directly
        if (batch[i] === KIND_MESSAGE && !run.closing) this._onMessage(batch, i);
        else this._onEvent(eventAt(batch, i), run);
      } catch (err) {
        this._report(err, 'an event handler');
      }
    }
  }

  /** The client event at `batch[i]`. */
  _onMessage(batch, i) {
    const socket = this._sockets.get(batch[i + 1]);
    if (!socket) return;
    const args = unpack(batch[i + 4], batch[i + 5]);
    const id = batch[i + 6];
    if (id !== undefined) args.push(this._ackFunction(socket, id));
    socket._onevent(batch[i + 3], args);
  }

  _onEvent(ev, run) {
    if (ev.kind === KIND_CLOSED) return this._onClosed(run);
    if (ev.kind >= KIND_HTTP_RESPONSE && ev.kind <= KIND_WS_CLOSE) {
      const attachment = this._run === run ? this._attachment : null;
      if (!attachment) return;
      if (ev.kind === KIND_HTTP_RESPONSE) attachment.answer(ev.id, ev.data, ev.bins);
      else if (ev.kind === KIND_WS_ANSWER) attachment.wsAnswer(ev.id, ev.data, ev.bins);
      else if (ev.kind === KIND_WS_SEND) attachment.wsSend(ev.id, ev.data, ev.bins);
      else attachment.wsClose(ev.id, ev.data);
      return;
    }
    if (run.closing && ev.kind !== KIND_ACK) {
      // close() ended every socket already; what the core reports while stopping (sockets
      // that connected meanwhile, their packets, their disconnects) concerns no one
      return;
    }
    switch (ev.kind) {
      case KIND_ACK: {
        const entry = run.acks.get(ev.id);
        if (!entry) return;
        run.acks.delete(ev.id);
        if (entry.socket && entry.socket._acks) entry.socket._acks.delete(ev.id);
        if (ev.reason !== undefined && ev.reason !== null) entry.cb(timeoutError());
        else entry.cb(null, unpack(ev.data, ev.bins));
        return;
      }
      case KIND_CONNECT:
        return this._onConnect(ev, run);
      case KIND_DISCONNECT: {
        const socket = this._sockets.get(ev.sid);
        if (socket) socket._onclose(ev.reason, undefined, ev.handshake, ev.data);
        return;
      }
      case KIND_CONNECT_REQUEST:
        return this._onConnectRequest(ev, run);
      case KIND_REQUEST:
        return this._onRequest(ev.id, ev.handshake, run);
      case KIND_FETCH_SOCKETS:
      case KIND_BROADCAST_ACK:
      case KIND_SERVER_SIDE_ACK:
      case KIND_SERVER_COUNT: {
        const entry = run.cluster.get(ev.id);
        if (!entry) return;
        run.cluster.delete(ev.id);
        return entry.done(ev);
      }
      case KIND_SERVER_SIDE_EMIT:
        return this._onServerSideEmit(ev, run);
      default:
        return;
    }
  }

  /**
   * Starts a cluster operation: `start(native)` makes the native call and returns its token;
   * `done(ev)` gets the event that completes it. False when the server is not listening (or
   * the core refused: stopped, unknown namespace), and `done` is never called.
   */
  _clusterCall(start, done) {
    const native = this._native;
    if (!native) return false;
    const token = start(native);
    if (token === null || token === undefined) return false;
    this._run.cluster.set(token, { done });
    return true;
  }

  /**
   * The sockets of a `fetchSockets` answer (`KIND_FETCH_SOCKETS`): this server's as their
   * Socket, the others' as RemoteSockets.
   */
  _fetched(nsp, ev) {
    if (ev.data === undefined) return []; // failed before any answer (the server closed)
    const handshakes = ev.handshake;
    return JSON.parse(ev.data).map((fields, i) => {
      if (fields.local) {
        const socket = this._sockets.get(fields.id);
        if (socket) return socket;
      }
      const owner = this._nsps.get(fields.nsp) || nsp;
      const handshake = buildHandshake(this, { handshake: handshakes[i], data: JSON.stringify(fields.auth) });
      const data = fields.data === null || fields.data === undefined ? {} : fields.data;
      return new RemoteSocket(owner, fields.id, handshake, fields.rooms, data);
    });
  }

  /** Another server's `serverSideEmit`: to the namespace's listeners of that event. */
  _onServerSideEmit(ev, run) {
    const nsp = this._nsps.get(ev.nsp);
    if (!nsp) return;
    const args = unpack(ev.data, ev.bins);
    if (ev.id !== undefined && ev.id !== null) {
      let answered = false;
      args.push((...answer) => {
        if (answered || run.closing) return;
        answered = true;
        const { args: packed, bins } = pack(answer);
        run.native.serverSideAck(ev.id, packed, bins);
      });
    }
    nsp._onServerSideEmit(ev.name, args);
  }

  /**
   * An HTTP request waits for JS (the core answers 403 if JS does not answer within 10 s):
   * the `cors` option's origin test when it is a RegExp or a function (any request without a
   * session id, preflights too), then `allowRequest` for a handshake, as engine.io runs its
   * cors middleware and then `verify`.
   */
  _onRequest(id, info, run) {
    const req = incomingMessage(info);
    let answered = false;
    const answer = (status, message, crossOrigin) => {
      if (answered) return;
      answered = true;
      if (!run.closing) run.native.answerRequest(id, status, message, Boolean(crossOrigin));
    };
    const gate = (crossOrigin) => {
      if (!run.allowRequest || !isHandshake(req, run.transports)) return answer(0, undefined, crossOrigin);
      const callback = (err, success) => {
        if (answered) return;
        if (!success) return answer(403, refusalMessage(err), crossOrigin);
        this._keepGated(run, req);
        answer(0, undefined, crossOrigin);
      };
      const failed = (err) => {
        this._report(err, 'allowRequest');
        answer(403, 'Forbidden', crossOrigin);
      };
      try {
        const result = run.allowRequest.call(this.opts, req, callback); // engine.io calls it on its options
        if (result && typeof result.then === 'function') result.then(undefined, failed);
      } catch (err) {
        failed(err);
      }
    };
    if (!run.cors.decide) return gate(false);
    try {
      run.cors.decide(req, (err, crossOrigin) => {
        // as engine.io answers a failing middleware (its cors middleware here)
        if (err) return answer(400, 'Bad request', false);
        gate(crossOrigin);
      });
    } catch (err) {
      this._report(err, 'the cors origin function');
      answer(400, 'Bad request', false);
    }
  }

  /** Keeps a request allowRequest let through, for the sockets its connection opens. */
  _keepGated(run, req) {
    const limit = Date.now() - this._connectTimeout - 5000;
    for (const [key, entry] of run.gated) {
      if (entry.at >= limit) break; // in insertion order: the rest are newer
      run.gated.delete(key);
    }
    run.gated.set(gatedKey(req.socket.remoteAddress, req.socket.remotePort, req.url), { req, at: Date.now() });
  }

  /**
   * The request allowRequest saw for the connection of `socket` becomes its `socket.request`
   * (what allowRequest put on it stays, as in socket.io), when kept.
   */
  _adoptGated(run, socket) {
    if (run.gated.size === 0) return;
    const info = socket._openingInfo();
    const entry = run.gated.get(gatedKey(info.address, info.remotePort, `?${info.query}`));
    if (entry) socket._request = entry.req;
  }

  _onConnectRequest(ev, run) {
    const nsp = this._nsps.get(ev.nsp);
    if (nsp) return this._decide(nsp, ev, run);
    this._checkNamespace(ev.nsp, ev.data, (child) => {
      if (run.closing) return;
      if (child) this._decide(child, ev, run);
      else run.native.reject(ev.id, 'Invalid namespace');
    });
  }

  /**
   * `cleanupEmptyChildNamespaces`: the last socket of `child` (a child of `parent`) left.
   * The core removed the namespace then (its adapter closed) unless a client joined it
   * meanwhile: the core decides, and the child is forgotten here only once the core no
   * longer has it. The next client to join it makes it anew (a new child, `new_namespace`).
   */
  _childEmptied(child, parent) {
    const native = this._native;
    if (!native || native.stats(child.name) !== null) return;
    // a client still in the child's middlewares keeps it (its connect will come to it)
    for (const { socket } of this._run.pending.values()) if (socket.nsp === child) return;
    if (this._nsps.get(child.name) === child) this._nsps.delete(child.name);
    parent.children.delete(child);
  }

  /**
   * Offers a namespace no one created to each parent namespace in turn (socket.io's
   * order); `fn(child)` with the namespace the first match created, or `fn(null)`.
   */
  _checkNamespace(name, authJson, fn) {
    const parents = [...this._parentNsps];
    if (parents.length === 0) return fn(null);
    const auth = parseAuth(authJson);
    const next = (i) => {
      if (i >= parents.length) return fn(null);
      const [matcher, parent] = parents[i];
      let answered = false;
      const answer = (err, allow) => {
        if (answered) return;
        answered = true;
        if (err || !allow) return next(i + 1);
        const existing = this._nsps.get(name); // created meanwhile (another client)
        if (existing) return fn(existing);
        const child = parent.createChild(name);
        this._nsps.set(name, child);
        this._namespaceChanged(child);
        this.sockets.emitReserved('new_namespace', child);
        return fn(child);
      };
      try {
        matcher(name, auth, answer);
      } catch (err) {
        this._report(err, `the matcher of a parent namespace (checking ${name})`);
        answer(err);
      }
    };
    next(0);
  }

  /** Runs the middlewares of `nsp` for a connect request, then accepts or refuses it. */
  _decide(nsp, ev, run) {
    const native = run.native;
    const socket = new Socket(nsp, ev);
    this._adoptGated(run, socket);
    this._sweepPending(run);
    run.pending.set(ev.sid, { socket, at: Date.now() });
    nsp._run(socket, (err) => {
      if (run.closing) return;
      if (err) {
        run.pending.delete(ev.sid);
        const data = err && err.data !== undefined ? JSON.stringify(err.data) : undefined;
        const message = err && err.message !== undefined ? String(err.message) : String(err);
        native.reject(ev.id, message, data);
      } else if (!native.accept(ev.id)) {
        run.pending.delete(ev.sid); // the client left or the connect timeout passed
      }
    });
  }

  /** Forgets connect requests whose client went away before the socket connected. */
  _sweepPending(run) {
    if (run.pending.size === 0) return;
    const limit = Date.now() - this._connectTimeout - 5000;
    for (const [key, entry] of run.pending) if (entry.at < limit) run.pending.delete(key);
  }

  _onConnect(ev, run) {
    const nsp = this._nsps.get(ev.nsp);
    if (!nsp) return;
    const pending = run.pending.get(ev.sid);
    let socket;
    if (pending) {
      run.pending.delete(ev.sid);
      socket = pending.socket;
    } else {
      socket = new Socket(nsp, ev);
      this._adoptGated(run, socket);
    }
    socket._run = run;
    // (the core marks a socket that came back with connection state recovery)
    if (ev.reason === 'recovered') socket.recovered = true;
    socket._onconnect(ev.sid);
    nsp.sockets.set(ev.sid, socket);
    this._sockets.set(ev.sid, socket);
    nsp._emitConnection(socket);
  }

  /** The core of `run` stopped (after close(), or on its own): the last batch of that run. */
  _onClosed(run) {
    if (this._run === run) {
      for (const nsp of this._nsps.values()) {
        for (const socket of [...nsp.sockets.values()]) socket._onclose('server shutting down');
      }
      this._native = null;
    }
    run.closing = true;
    run.pending.clear();
    const attachment = this._attachment;
    if (attachment && this._run === run) {
      this._attachment = null;
      // as socket.io's close(): the app's server closes too, once the core stopped (polling
      // clients collect their last packets through it meanwhile); its listeners come back
      attachment.detach(); // requests still waiting end
      const srv = attachment.httpServer;
      if (run.closedByApp && srv.listening) {
        srv.close();
        if (typeof srv.closeIdleConnections === 'function') srv.closeIdleConnections();
      }
    }
    // the core's ack timers stopped with it: what still waits with a timeout fails now
    // (rather than never), what waits without one is dropped as socket.io does
    const acks = [...run.acks.values()];
    run.acks.clear();
    for (const entry of acks) if (!entry.socket) entry.cb(timeoutError());
    // cluster operations still waiting fail now, as they would at their timeout
    const cluster = [...run.cluster.values()];
    run.cluster.clear();
    for (const entry of cluster) {
      try {
        entry.done({ reason: 'the server closed' });
      } catch (err) {
        this._report(err, 'a cluster operation callback');
      }
    }
    native.settleOpenings(); // the disconnects of this last batch are handled
    run.resolveClosed();
  }

  _ackFunction(socket, id) {
    let sent = false;
    const server = this;
    return function ack(...args) {
      if (sent) return; // an ack answers once
      sent = true;
      const native = server._native;
      if (!native || !socket.connected) return;
      const { args: packed, bins } = pack(args);
      native.ack(socket.id, id, packed, bins);
    };
  }

  /**
   * Asks rtio to emit with an ack (`args` and `bins` as `pack` made them); `cb(err)` or
   * `cb(null, args)` exactly once (when `timeout` is undefined, only if the client
   * answers). False when the socket is gone.
   */
  _emitWithAck(sid, ev, args, bins, timeout, cb, socket) {
    const native = this._native;
    if (!native) return false;
    const run = this._run;
    const ms = timeout === undefined ? NO_TIMEOUT_MS : Math.max(0, Math.min(Number(timeout) || 0, NO_TIMEOUT_MS));
    const token = native.emitWithAck(sid, ev, args, bins, ms);
    if (token === null || token === undefined) return false;
    const owner = timeout === undefined ? socket || this._sockets.get(sid) : undefined;
    // acks without a timeout are forgotten when their socket disconnects (as socket.io does)
    if (owner) (owner._acks || (owner._acks = new Set())).add(token);
    run.acks.set(token, { cb, socket: owner });
    return true;
  }

  /** @private A socket left: drop what waits on it. */
  _forget(socket) {
    if (this._sockets.get(socket.id) === socket) this._sockets.delete(socket.id);
    if (!socket._acks) return;
    if (socket._run) for (const token of socket._acks) socket._run.acks.delete(token);
    socket._acks = undefined;
  }

  /**
   * Calls a user function; what it throws, or the Promise it returns rejects with, is
   * reported. `what` describes the function: a string, or a function called with `self` and
   * `detail` to make one only for a report (for the calls made on every event).
   */
  _call(fn, self, args, what, detail) {
    try {
      const result = fn.apply(self, args);
      if (result && typeof result.then === 'function') {
        result.then(undefined, (err) => this._report(err, describe(what, self, detail)));
      }
      return result;
    } catch (err) {
      this._report(err, describe(what, self, detail));
      return undefined;
    }
  }

  /**
   * Reports a failure of user code. The main namespace's `error` listeners get
   * `(err, where)` when there are any; otherwise it goes to stderr. The server keeps serving.
   */
  _report(err, where) {
    const listeners = this.sockets ? this.sockets.rawListeners('error') : [];
    if (listeners.length > 0) {
      for (const listener of listeners) {
        try {
          listener.call(this.sockets, err, where);
        } catch (inner) {
          console.error(`rtio: an "error" listener failed:`, inner);
        }
      }
      return;
    }
    console.error(`rtio: ${where} failed:`, err);
  }
}

// As socket.io: the EventEmitter methods of the server act on the main namespace
// (`io.on("connection", ...)`, `io.emit(...)` broadcasts to every socket of "/").
for (const method of Object.keys(EventEmitter.prototype)) {
  if (typeof EventEmitter.prototype[method] !== 'function' || method in Server.prototype) continue;
  Server.prototype[method] = function proxied(...args) {
    return this.sockets[method](...args);
  };
}
for (const method of ['on', 'once', 'off', 'addListener', 'removeListener', 'prependListener', 'prependOnceListener', 'removeAllListeners']) {
  Server.prototype[method] = function chained(...args) {
    this.sockets[method](...args);
    return this;
  };
}
Server.prototype.emit = function emit(ev, ...args) {
  return this.sockets.emit(ev, ...args);
};

module.exports = { Server, Namespace, ParentNamespace, Socket, BroadcastOperator, RemoteSocket };
