'use strict';
// The server side of the `@socket.io/admin-ui` dashboard, as its `instrument(io, opts)`
// (version 0.5) does it, on rtio's public Server API:
//
//   const { Server, instrument } = require('rtio');
//   const io = new Server(3000, { cors: { origin: ['https://admin.socket.io'], credentials: true } });
//   instrument(io, { auth: { type: 'basic', username: 'admin', password: '$2b$10$...' } });
//
// The dashboard joins the admin namespace (basic auth against a bcrypt hash, then a session
// id it reconnects with), gets the configuration and every socket of every namespace, the
// server's stats every 2 s, hears sockets come, change transport and go (and, in development
// mode, the events they receive and are sent), and may emit, make sockets join or leave a
// room, and disconnect them.

const os = require('node:os');
const { isWorker } = require('node:cluster');
const { randomBytes } = require('node:crypto');
const bcrypt = require('bcryptjs');

const STATS_INTERVAL_MS = 2000;
/** The session id given to a dashboard that logged in, until it is connected. */
const SESSION = Symbol('rtio.adminSession');

/** Session ids of dashboards that logged in (`@socket.io/admin-ui`'s `InMemoryStore`). */
class InMemoryStore {
  constructor() {
    this._sessions = new Set();
  }

  /** A Promise of whether `id` was saved. */
  doesSessionExist(id) {
    return Promise.resolve(this._sessions.has(id));
  }

  saveSession(id) {
    this._sessions.add(id);
  }
}

/** A bcrypt hash: `$2a$`, `$2b$` or `$2y$`, the cost, then 53 characters of salt and hash. */
const BCRYPT_HASH = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** Refuses wrong options as `@socket.io/admin-ui` does; returns the basic credentials or null. */
function checkAuth(auth) {
  if (auth === undefined) {
    throw new Error('the `auth` option must be specified or explicitly set to `false`');
  }
  if (auth === false) return null;
  if (auth && auth.type === 'basic') {
    if (typeof auth.password !== 'string' || !BCRYPT_HASH.test(auth.password)) {
      throw new Error('the `password` field must be a valid bcrypt hash');
    }
    return auth;
  }
  throw new Error('invalid `auth` option, please check the documentation');
}

function authMiddleware(basic, store) {
  return async (socket, next) => {
    try {
      const auth = socket.handshake.auth || {};
      if (auth.sessionId && (await store.doesSessionExist(auth.sessionId))) return next();
      if (auth.username === basic.username && typeof auth.password === 'string') {
        if (await bcrypt.compare(auth.password, basic.password)) {
          const sessionId = randomBytes(8).toString('hex');
          await store.saveSession(sessionId);
          // sent once connected (socket.io buffers an emit made in a middleware until then)
          socket[SESSION] = sessionId;
          return next();
        }
      }
    } catch (err) {
      return next(err instanceof Error ? err : new Error(String(err)));
    }
    return next(new Error('invalid credentials'));
  };
}

function computeServerId(serverId) {
  if (serverId) return serverId;
  return isWorker ? `${os.hostname()}#${process.pid}` : os.hostname();
}

/** `socket.data` without the keys a dashboard should not see. */
function serializeData(data) {
  if (data === null || typeof data !== 'object') return data === undefined ? {} : data;
  const { _admin, ...rest } = data;
  return rest;
}

/** A Socket (or another server's RemoteSocket) as the dashboard lists it. */
function serialize(socket, nsp) {
  const handshake = socket.handshake || {};
  const headers = handshake.headers || {};
  let transport;
  let clientId;
  try {
    // a Socket of this server: its connection (a RemoteSocket has none)
    if (socket.conn) {
      transport = socket.conn.transport.name;
      clientId = String(socket.conn.id).slice(0, 12);
    }
  } catch {
    // the socket left meanwhile
  }
  return {
    id: socket.id,
    clientId: clientId || String(socket.id).slice(0, 12),
    transport: transport || 'websocket',
    nsp,
    data: serializeData(socket.data),
    handshake: {
      address: headers['cf-connecting-ip'] || headers['x-forwarded-for'] || handshake.address,
      headers,
      query: handshake.query,
      issued: handshake.issued,
      secure: handshake.secure,
      time: handshake.time,
      url: handshake.url,
      xdomain: handshake.xdomain,
      // neither auth nor anything else an app put there
    },
    rooms: [...socket.rooms],
  };
}

/** Every socket of every namespace (of every server of a cluster). */
async function fetchAllSockets(io) {
  const lists = await Promise.all(
    [...io._nsps.values()].map((nsp) =>
      nsp.fetchSockets().then(
        (sockets) => sockets.map((s) => serialize(s, nsp.name)),
        () => [], // a server of the cluster did not answer: what this one knows still shows
      ),
    ),
  );
  return lists.flat();
}

const ALL_FEATURES = ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT'];

/** The dashboard's commands (with `filter`, a room or a socket id: its own room). */
function registerCommands(io, socket) {
  const target = (nsp, filter) => (filter ? io.of(nsp).in(filter) : io.of(nsp));
  socket.on('emit', (nsp, filter, ev, ...args) => {
    target(nsp, filter).emit(ev, ...args);
  });
  socket.on('join', (nsp, room, filter) => {
    target(nsp, filter).socketsJoin(room);
  });
  socket.on('leave', (nsp, room, filter) => {
    target(nsp, filter).socketsLeave(room);
  });
  socket.on('_disconnect', (nsp, close, filter) => {
    target(nsp, filter).disconnectSockets(Boolean(close));
  });
}

/** Tells the dashboards of the sockets of `nsp` (development mode). */
function registerNamespace(admin, nsp) {
  nsp.prependListener('connection', (socket) => {
    admin.emit('socket_connected', serialize(socket, nsp.name), new Date());
    socket.conn.on('upgrade', (transport) => {
      admin.emit('socket_updated', { id: socket.id, nsp: nsp.name, transport: transport.name });
    });
    if (nsp !== admin) {
      socket.onAny((...args) => {
        if (typeof args[args.length - 1] === 'function') args = args.slice(0, -1);
        admin.emit('event_received', nsp.name, socket.id, args, new Date());
      });
      socket.onAnyOutgoing((...args) => {
        admin.emit('event_sent', nsp.name, socket.id, args, new Date());
      });
    }
    socket.on('disconnect', (reason) => {
      admin.emit('socket_disconnected', nsp.name, socket.id, reason, new Date());
    });
  });
}

/** Sends `server_stats` to the dashboards now and every 2 s; returns the timer. */
function startStats(io, admin, serverId) {
  const base = { serverId: computeServerId(serverId), hostname: os.hostname(), pid: process.pid };
  const emitStats = () => {
    const namespaces = [];
    let polling = 0;
    const conns = new Set();
    for (const nsp of io._nsps.values()) {
      namespaces.push({ name: nsp.name, socketsCount: nsp.sockets.size });
      for (const socket of nsp.sockets.values()) {
        try {
          const conn = socket.conn;
          if (conns.has(conn.id)) continue;
          conns.add(conn.id);
          if (conn.transport.name === 'polling') polling += 1;
        } catch {
          // gone meanwhile
        }
      }
    }
    admin.emit('server_stats', {
      ...base,
      uptime: process.uptime(),
      clientsCount: io.engine.clientsCount,
      pollingClientsCount: polling,
      aggregatedEvents: [],
      namespaces,
    });
  };
  const timer = setInterval(emitStats, STATS_INTERVAL_MS);
  timer.unref(); // never keeps the process alive
  emitStats();
  return timer;
}

/**
 * Serves the `@socket.io/admin-ui` dashboard on `io` (options as that package's
 * `instrument`): `auth` (required: `false`, or `{ type: 'basic', username, password }` with
 * `password` a bcrypt hash), `namespaceName` (`'/admin'`), `readonly` (`false`: the
 * dashboard may emit, join, leave and disconnect), `serverId` (the host name), `store`
 * (where session ids are kept: an `InMemoryStore` by default) and `mode`
 * (`process.env.NODE_ENV || 'development'`; `'production'` sends no socket list and no
 * per-socket events, only the stats). Returns the admin namespace.
 */
function instrument(io, opts = {}) {
  const options = {
    namespaceName: '/admin',
    auth: undefined,
    readonly: false,
    serverId: undefined,
    store: new InMemoryStore(),
    mode: process.env.NODE_ENV || 'development',
    ...opts,
  };
  const basic = checkAuth(options.auth);
  const admin = io.of(options.namespaceName);
  if (basic) admin.use(authMiddleware(basic, options.store));

  const features = options.readonly ? [] : [...ALL_FEATURES];
  const development = options.mode === 'development';
  if (development) features.push('ALL_EVENTS');

  admin.on('connection', async (socket) => {
    if (socket[SESSION] !== undefined) socket.emit('session', socket[SESSION]);
    if (!options.readonly) registerCommands(io, socket);
    socket.emit('config', { supportedFeatures: features });
    if (development) socket.emit('all_sockets', await fetchAllSockets(io));
  });

  if (development) {
    for (const nsp of io._nsps.values()) registerNamespace(admin, nsp);
    io.on('new_namespace', (nsp) => registerNamespace(admin, nsp));
  }
  startStats(io, admin, options.serverId);
  return admin;
}

module.exports = { instrument, InMemoryStore };
