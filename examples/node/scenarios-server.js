#!/usr/bin/env node
// The Node scenarios server: the behaviour contract of SCENARIOS.md (shared/, beside the repo)
// written with rtio's socket.io-compatible API. It is tests/interop/reference/server.js (the
// same contract on the real socket.io) with `require('socket.io')` changed to
// `require('rtio')` and these differences:
//   - rtio does its own HTTP: no http.createServer; `staticDir` serves the home page
//     (examples/web) and the client bundle is served from the socket.io-client dependency;
//   - handlers need no try/catch wrapper: rtio reports what a handler throws (stderr, or the
//     `error` listeners of `io`) and keeps serving;
//   - shutdown is `io.close()`; the process then exits by itself;
//   - `visits` is a counter of its own (seed 000's `totalUsers++` / `totalUsers--`), so that
//     the count follows the connect and disconnect events in the order they are handled;
//   - the cluster: `createRedisAdapter(url)` from rtio where the reference makes node-redis
//     clients for @socket.io/redis-adapter's `createAdapter(pub, sub)` (rtio's core holds the
//     Redis connections, retries while Redis is away, and says so on stderr).
//
//   node scenarios-server.js [--port N] [--ping-interval MS] [--ping-timeout MS]
//                            [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
//                            [--redis URL [--redis-key PREFIX] [--redis-sharded]]
//                            [--attach] [--tls-cert FILE --tls-key FILE] [--cookie NAME]
//                            [--recovery MS] [--parser msgpack] [--per-message-deflate] [--eio3]
//
// With --redis, the server joins a Socket.IO cluster through Redis, wire-compatible with
// @socket.io/redis-adapter 8.x: `createRedisAdapter` (classic Pub/Sub, `key` PREFIX) or, with
// --redis-sharded, `createShardedRedisAdapter` (`channelPrefix` PREFIX). Without it: a cluster
// of one.
//
// With --attach, rtio is attached to an http.Server of the app's (which serves examples/web
// itself), as socket.io apps do: `new Server(httpServer)`.
//
// With --tls-cert and --tls-key (PEM files), HTTPS and WSS only, as a socket.io app does it:
// an `https.createServer({ cert, key })` of the app's, with rtio attached to it
// (`new Server(httpsServer)`). With --cookie NAME, engine.io's session cookie (socket.io's
// `cookie` option) named NAME, with engine.io's attributes `Path=/; HttpOnly; SameSite=Lax`.
//
// The protocol options, as a socket.io app sets them: --parser msgpack is
// `parser: require('socket.io-msgpack-parser')` (every client must use that parser too),
// --per-message-deflate is `perMessageDeflate: { threshold: 0 }` (every WebSocket message
// compressed for clients that negotiate it), --eio3 is `allowEIO3: true` (socket.io-client 2.x
// beside 3.x and 4.x).
//
// Prints `READY <port>` on stdout once listening; logs go to stderr.
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { parseArgs } = require('node:util');
const { Server, createRedisAdapter, createShardedRedisAdapter } = require('rtio');

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------
const { values: flags } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'ping-interval': { type: 'string', default: '25000' },
    'ping-timeout': { type: 'string', default: '20000' },
    'max-payload': { type: 'string', default: '1000000' },
    'connect-timeout': { type: 'string', default: '45000' },
    'no-visits': { type: 'boolean', default: false },
    redis: { type: 'string' },
    'redis-key': { type: 'string', default: 'socket.io' },
    'redis-sharded': { type: 'boolean', default: false },
    attach: { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    cookie: { type: 'string' },
    recovery: { type: 'string' },
    parser: { type: 'string' },
    'per-message-deflate': { type: 'boolean', default: false },
    eio3: { type: 'boolean', default: false },
  },
});

function number(name) {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name}: expected a non-negative integer, got "${flags[name]}"`);
    process.exit(2);
  }
  return value;
}

const port = number('port');
const visits = !flags['no-visits'];
const clustered = flags.redis !== undefined;
if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) {
  console.error('--tls-cert and --tls-key go together');
  process.exit(2);
}
const tls = flags['tls-cert'] !== undefined;
if (flags.parser !== undefined && flags.parser !== 'msgpack') {
  console.error(`--parser: only msgpack is known, got "${flags.parser}"`);
  process.exit(2);
}
// over TLS, rtio is attached to the app's https.Server (socket.io has no TLS option of its own)
const attached = flags.attach || tls;

// ---------------------------------------------------------------------------------------------
// The cluster: rtio's Redis adapter (rtio's core connects, and reconnects, by itself)
// ---------------------------------------------------------------------------------------------
function redisAdapter(url, key, sharded) {
  return sharded
    ? createShardedRedisAdapter({ url, channelPrefix: key })
    : // a short requestsTimeout (default 5000): with a node that stopped answering, fetchSockets
      // and serverSideEmit acks give up after 2 s
      createRedisAdapter({ url, key, requestsTimeout: 2000 });
}

// ---------------------------------------------------------------------------------------------
// The server: rtio serves /socket.io/ (and the client bundle) and the files of examples/web
// ---------------------------------------------------------------------------------------------
const web = path.join(__dirname, '..', 'web');
const io = new Server({
  host: '127.0.0.1', // rtio option: the address to bind
  staticDir: attached ? undefined : web, // rtio option: GET / serves index.html
  path: '/socket.io/',
  serveClient: true, // GET /socket.io/socket.io.js
  cors: { origin: true, credentials: true }, // any origin (the request's is echoed), with credentials
  pingInterval: number('ping-interval'),
  pingTimeout: number('ping-timeout'),
  maxHttpBufferSize: number('max-payload'),
  connectTimeout: number('connect-timeout'),
  adapter: clustered ? redisAdapter(flags.redis, flags['redis-key'], flags['redis-sharded']) : undefined,
  // engine.io's session cookie (for sticky load balancers), with engine.io's attributes
  cookie: flags.cookie !== undefined ? { name: flags.cookie, path: '/', httpOnly: true, sameSite: 'lax' } : false,
  // socket.io's connection state recovery, middlewares skipped for a recovered socket
  ...(flags.recovery !== undefined && {
    connectionStateRecovery: { maxDisconnectionDuration: number('recovery'), skipMiddlewares: true },
  }),
  // socket.io-msgpack-parser's packets instead of socket.io-parser's
  ...(flags.parser === 'msgpack' && { parser: require('socket.io-msgpack-parser') }),
  // WebSocket permessage-deflate for every message (socket.io's default threshold is 1024)
  ...(flags['per-message-deflate'] && { perMessageDeflate: { threshold: 0 } }),
  // Engine.IO v3 clients (socket.io-client 2.x) too
  ...(flags.eio3 && { allowEIO3: true }),
  // handshakes that ask for it (`?deny=1`) are refused (HTTP 403), so that the suites can
  // check what a refused client sees
  allowRequest: (req, callback) => {
    const denied = req._query.deny === '1';
    callback(denied ? 'denied by the request gate' : null, !denied);
  },
});

// Malformed packets close the offending connection inside rtio; a socket's `error` event
// carries what its middlewares refuse.
function logErrors(socket) {
  socket.on('error', (err) => console.error(`[${socket.nsp.name} ${socket.id}] error:`, err.message));
}

// Number of rooms that have members, not counting each socket's own room (named after its id).
function roomCount(nsp) {
  const { rooms, sids } = nsp.adapter;
  let count = 0;
  for (const [room, members] of rooms) {
    if (members.size > 0 && !sids.has(room)) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Namespace `/`
// ---------------------------------------------------------------------------------------------
const main = io.of('/');
let totalUsers = 0; // seed 000's visitor counter

main.on('connection', (socket) => {
  logErrors(socket);

  socket.emit('auth', socket.handshake.auth);
  totalUsers++;
  if (visits) main.emit('visits', totalUsers);

  socket.on('disconnect', () => {
    totalUsers--;
    if (visits) main.emit('visits', totalUsers);
  });

  socket.on('message', (...args) => {
    socket.emit('message-back', ...args);
  });

  socket.on('message-with-ack', (...args) => {
    const ack = args.pop();
    ack(...args);
  });

  socket.on('toServer', ({ nome, msg }) => {
    const line = `${nome}:${msg}`;
    socket.emit('toClient', line);
    socket.broadcast.emit('toClient', line);
  });

  socket.on('client:created:job', (data) => {
    main.emit('server:created:job', data);
  });

  socket.on('whoami', (ack) => ack(socket.id));
  socket.on('is-recovered', (ack) => ack(socket.recovered));

  socket.on('join', (room, ack) => {
    socket.join(room);
    ack(true);
  });

  socket.on('leave', (room, ack) => {
    socket.leave(room);
    ack(true);
  });

  socket.on('to-room', ({ room, event, data }) => {
    main.to(room).emit(event, data);
  });

  socket.on('to-room-except-me', ({ room, event, data }) => {
    socket.to(room).emit(event, data);
  });

  socket.on('broadcast', (data) => {
    socket.broadcast.emit('broadcast', data);
  });

  socket.on('fanout', ({ event, data }) => {
    main.emit(event, data);
  });

  socket.on('ask', ({ question, timeout_ms }) => {
    // the callback is called exactly once: with an error on timeout (a late ack is dropped)
    socket.timeout(timeout_ms).emit('question', question, (err, value) => {
      socket.emit('answer', err ? { ok: false, error: 'timeout' } : { ok: true, value });
    });
  });

  socket.on('later', ({ ms, event, data }) => {
    // emitted from a timer, outside of any rtio handler
    setTimeout(() => socket.emit(event, data), ms);
  });

  socket.on('kick-me', () => {
    socket.disconnect(true); // true: close the underlying connection too
  });

  socket.on('throw', () => {
    // rtio reports this on stderr and keeps serving
    throw new Error('thrown on purpose by the "throw" scenario');
  });

  socket.on('stats', (ack) => {
    ack({ sockets: main.sockets.size, rooms: roomCount(main) });
  });

  // --- the cluster rows (on one node without --redis) ---------------------------------------

  // A request to other nodes can fail (a node that does not answer in time): the client then
  // gets `{error}` rather than no answer at all.
  const failed = (ack) => (err) => {
    console.error(`[/ ${socket.id}] ${err.message}`);
    ack({ error: err.message });
  };

  socket.on('cluster-stats', (ack) =>
    Promise.all([main.fetchSockets(), main.adapter.serverCount()]).then(
      ([sockets, servers]) => ack({ sockets: sockets.length, servers }),
      failed(ack),
    ),
  );

  socket.on('room-sockets', (room, ack) =>
    main
      .in(room)
      .fetchSockets()
      .then((sockets) => ack(sockets.map((s) => s.id).sort()), failed(ack)),
  );

  socket.on('sockets-join', ({ in: from, room }, ack) => {
    main.in(from).socketsJoin(room);
    ack(true);
  });

  socket.on('sockets-leave', ({ in: from, room }, ack) => {
    main.in(from).socketsLeave(room);
    ack(true);
  });

  socket.on('disconnect-in', (room) => {
    main.in(room).disconnectSockets(true);
  });

  socket.on('fanout-except', ({ except, event, data }) => {
    main.except(except).emit(event, data);
  });

  socket.on('server-side-emit', ({ event, data }) => {
    // the other nodes relay it to their sockets; a single node has no one to tell
    if (clustered) main.serverSideEmit('relay', { event, data });
  });

  socket.on('server-side-ping', (ack) => {
    if (!clustered) return ack({ ok: true, responses: [] }); // no other node to ask
    main.serverSideEmit('ping', (err, responses) => ack({ ok: !err, responses }));
  });

  socket.on('broadcast-with-ack', ({ event, data, timeout_ms }, ack) => {
    main.timeout(timeout_ms).emit(event, data, (err, responses) => ack({ ok: !err, responses }));
  });
});

// Server-side events, from the other nodes' serverSideEmit (or the emitter's).
main.on('relay', ({ event, data } = {}) => {
  main.local.emit(event, data); // this node's sockets only
});

main.on('ping', (...args) => {
  const ack = args.pop();
  if (typeof ack === 'function') ack(main.sockets.size);
});

// ---------------------------------------------------------------------------------------------
// Namespace `/custom`
// ---------------------------------------------------------------------------------------------
const custom = io.of('/custom');

custom.on('connection', (socket) => {
  logErrors(socket);
  socket.emit('auth', socket.handshake.auth);
});

// ---------------------------------------------------------------------------------------------
// Namespace `/admin`: connection middleware
// ---------------------------------------------------------------------------------------------
const admin = io.of('/admin');

admin.use((socket, next) => {
  const auth = socket.handshake.auth;
  if (auth && auth.token === 'secret') next();
  else next(new Error('unauthorized')); // the client gets connect_error "unauthorized"
});

admin.on('connection', (socket) => {
  logErrors(socket);
  socket.emit('admin-hello', { id: socket.id });
  socket.on('broadcast-main', (data) => {
    main.emit('announcement', data); // cross-namespace emit
  });
});

// Any other namespace is refused by rtio itself: connect_error "Invalid namespace".

// ---------------------------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------------------------
/** The app's own handler when attached: the files of examples/web. */
function serveWeb(req, res) {
  const name = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = path.join(web, name === '/' ? 'index.html' : name);
  if (!file.startsWith(web + path.sep)) return res.writeHead(404).end();
  fs.readFile(file, (err, body) => {
    if (err) return res.writeHead(404).end();
    const type = file.endsWith('.html') ? 'text/html; charset=utf-8' : 'application/octet-stream';
    res.writeHead(200, { 'content-type': type }).end(body);
  });
}

function ready(where) {
  process.stdout.write(`READY ${io.address().port}\n`);
  console.error(`node scenarios server (rtio${where}) listening on 127.0.0.1:${io.address().port}`);
}

if (tls) {
  const httpsServer = https.createServer(
    { cert: fs.readFileSync(flags['tls-cert']), key: fs.readFileSync(flags['tls-key']) },
    serveWeb,
  );
  io.attach(httpsServer);
  httpsServer.listen(port, '127.0.0.1', () => ready(', attached to an https.Server'));
} else if (flags.attach) {
  const httpServer = http.createServer(serveWeb);
  io.attach(httpServer);
  httpServer.listen(port, '127.0.0.1', () => ready(', attached to an http.Server'));
} else {
  io.listen(port);
  ready('');
}

function shutdown(signal) {
  console.error(`${signal}: disconnecting every client; the process exits once rtio has stopped`);
  io.close(); // every client gets a disconnect; nothing is left to keep the process alive
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
