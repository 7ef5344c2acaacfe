#!/usr/bin/env node
// The reference scenarios server: the behaviour contract of SCENARIOS.md (shared/, beside the repo)
// written with the real Node socket.io 4.8. The interop suites are checked against it
// (`RTIO_HOST=socketio node --test js/`), and the benchmark runs it beside rtio.
//
//   node reference/server.js [--port N] [--ping-interval MS] [--ping-timeout MS]
//                            [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
//                            [--redis URL [--redis-key PREFIX] [--redis-sharded]]
//                            [--recovery MS] [--parser msgpack] [--eio3] [--per-message-deflate]
//                            [--tls-cert FILE --tls-key FILE] [--cookie NAME]
//
// The protocol options are socket.io's own: connectionStateRecovery (middlewares skipped),
// socket.io-msgpack-parser, allowEIO3, perMessageDeflate (threshold 0), an https.Server,
// engine.io's session cookie.
//
// With --redis, every namespace is on @socket.io/redis-adapter 8.x (node-redis 4 clients):
// `createAdapter` (classic Pub/Sub, `key` PREFIX) or, with --redis-sharded, `createShardedAdapter`
// (`channelPrefix` PREFIX). Without it, socket.io's in-memory adapter: a cluster of one.
//
// Prints `READY <port>` on stdout once listening; logs go to stderr.
'use strict';

const http = require('node:http');
const { parseArgs } = require('node:util');
const { once } = require('node:events');
const { setTimeout: delay } = require('node:timers/promises');
const { Server } = require('socket.io');

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
    recovery: { type: 'string' },
    parser: { type: 'string' },
    eio3: { type: 'boolean', default: false },
    'per-message-deflate': { type: 'boolean', default: false },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    cookie: { type: 'string' },
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

// ---------------------------------------------------------------------------------------------
// The cluster: @socket.io/redis-adapter on two node-redis clients (publisher and subscriber)
// ---------------------------------------------------------------------------------------------
let clusterJoined = Promise.resolve();

function redisAdapter(url, key, sharded) {
  const { createClient } = require('redis');
  const { createAdapter, createShardedAdapter } = require('@socket.io/redis-adapter');
  const pubClient = createClient({ url });
  const subClient = pubClient.duplicate();
  // node-redis 4.7 crashes on the replies to SUBSCRIBEs queued before a failed first
  // connection attempt (Redis not there when the server starts): the adapter's subscriptions
  // wait until the subscriber is connected (later reconnections resubscribe by themselves).
  const subscriberReady = new Promise((resolve) => subClient.once('ready', resolve));
  const subscriptions = [];
  for (const method of ['subscribe', 'pSubscribe', 'sSubscribe']) {
    const subscribe = subClient[method].bind(subClient);
    subClient[method] = (...args) => {
      const done = subscriberReady.then(() => subscribe(...args));
      subscriptions.push(done);
      return done;
    };
  }
  // The server says READY once the namespaces' adapters are subscribed, or at once when Redis
  // cannot be reached (it serves its own clients meanwhile).
  const unreachable = new Promise((resolve) => {
    pubClient.once('error', resolve);
    subClient.once('error', resolve);
  });
  clusterJoined = Promise.race([
    new Promise((resolve) => setImmediate(resolve)).then(() => Promise.all(subscriptions)),
    unreachable,
  ]);
  for (const [name, client] of [['publisher', pubClient], ['subscriber', subClient]]) {
    // node-redis reconnects by itself (with backoff, the subscriptions restored); the server
    // keeps serving its own clients meanwhile. Each loss is reported once.
    let up = null; // unknown until the first connection or error
    client.on('ready', () => {
      up = true;
      console.error(`redis ${name}: connected to ${url}`);
    });
    client.on('error', (err) => {
      if (up !== false) console.error(`redis ${name}: ${err.message || err} (reconnecting)`);
      up = false;
    });
    // not awaited: when Redis is not there yet the server starts anyway, and commands wait
    // in node-redis' offline queue until it is
    client.connect().catch((err) => console.error(`redis ${name}: ${err.message}`));
  }
  return sharded
    ? createShardedAdapter(pubClient, subClient, { channelPrefix: key })
    : // a short requestsTimeout (default 5000): with a node that stopped answering, fetchSockets
      // and serverSideEmit acks give up after 2 s
      createAdapter(pubClient, subClient, { key, requestsTimeout: 2000 });
}

// A publish that fails while Redis is away rejects a promise nobody awaits (the adapter does
// not): report it instead of letting Node stop the process.
process.on('unhandledRejection', (err) => console.error('unhandled rejection:', err?.message ?? err));

// ---------------------------------------------------------------------------------------------
// HTTP: a small home page; socket.io serves /socket.io/ (and the client bundle) itself
// ---------------------------------------------------------------------------------------------
const homePage = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>scenarios server</title></head>
  <body>
    <h1>Scenarios server (reference: Node socket.io)</h1>
    <p>Socket.IO endpoint: <code>/socket.io/</code>; client bundle: <a href="/socket.io/socket.io.js">/socket.io/socket.io.js</a></p>
  </body>
</html>
`;

if ((flags['tls-cert'] === undefined) !== (flags['tls-key'] === undefined)) {
  console.error('--tls-cert and --tls-key go together');
  process.exit(2);
}
if (flags.parser !== undefined && flags.parser !== 'msgpack') {
  console.error(`--parser: only msgpack is known, got "${flags.parser}"`);
  process.exit(2);
}
const tls = flags['tls-cert'] !== undefined;
const serve = (handler) =>
  tls
    ? require('node:https').createServer(
        { cert: require('node:fs').readFileSync(flags['tls-cert']), key: require('node:fs').readFileSync(flags['tls-key']) },
        handler,
      )
    : http.createServer(handler);

const httpServer = serve((req, res) => {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && pathname === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(homePage);
  } else {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('not found\n');
  }
});

const io = new Server(httpServer, {
  path: '/socket.io/',
  serveClient: true, // GET /socket.io/socket.io.js
  cors: { origin: true, credentials: true }, // echo the request's Origin, allow credentials
  pingInterval: number('ping-interval'),
  pingTimeout: number('ping-timeout'),
  maxHttpBufferSize: number('max-payload'),
  connectTimeout: number('connect-timeout'),
  adapter: clustered ? redisAdapter(flags.redis, flags['redis-key'], flags['redis-sharded']) : undefined,
  ...(flags.recovery !== undefined && {
    connectionStateRecovery: { maxDisconnectionDuration: number('recovery'), skipMiddlewares: true },
  }),
  ...(flags.parser === 'msgpack' && { parser: require('socket.io-msgpack-parser') }),
  ...(flags.eio3 && { allowEIO3: true }),
  ...(flags['per-message-deflate'] && { perMessageDeflate: { threshold: 0 } }),
  ...(flags.cookie !== undefined && { cookie: { name: flags.cookie, path: '/', httpOnly: true, sameSite: 'lax' } }),
  // handshakes that ask for it (`?deny=1`) are refused, so that the suites can check what a
  // refused client sees
  allowRequest: (req, callback) => {
    const denied = new URL(req.url, 'http://localhost').searchParams.get('deny') === '1';
    callback(denied ? 'denied by the request gate' : null, !denied);
  },
});

// Registers an event handler that reports a failure on stderr instead of crashing the
// process: a handler that throws (see the `throw` scenario) must not stop the server.
// Async handlers (the cluster rows) report a rejection the same way.
function handle(socket, event, handler) {
  const report = (err) => console.error(`[${socket.nsp.name} ${socket.id}] handler for "${event}" failed:`, err);
  socket.on(event, (...args) => {
    try {
      const result = handler(...args);
      if (result instanceof Promise) result.catch(report);
    } catch (err) {
      report(err);
    }
  });
}

// Malformed packets make socket.io emit `error` on the socket (then it closes the connection).
function logErrors(socket) {
  socket.on('error', (err) => console.error(`[${socket.nsp.name} ${socket.id}] error:`, err.message));
}

// Number of rooms that have members, not counting each socket's own room (named after its id).
function roomCount(nsp) {
  let count = 0;
  for (const [room, members] of nsp.adapter.rooms) {
    if (members.size > 0 && !nsp.adapter.sids.has(room)) count++;
  }
  return count;
}

// ---------------------------------------------------------------------------------------------
// Namespace `/`
// ---------------------------------------------------------------------------------------------
const main = io.of('/');

main.on('connection', (socket) => {
  logErrors(socket);

  socket.emit('auth', socket.handshake.auth);
  if (visits) main.emit('visits', main.sockets.size);

  socket.on('disconnect', () => {
    // the socket has already left the namespace here
    if (visits) main.emit('visits', main.sockets.size);
  });

  handle(socket, 'message', (...args) => {
    socket.emit('message-back', ...args);
  });

  handle(socket, 'is-recovered', (ack) => ack(socket.recovered));

  handle(socket, 'message-with-ack', (...args) => {
    const ack = args.pop();
    ack(...args);
  });

  handle(socket, 'toServer', ({ nome, msg }) => {
    const line = `${nome}:${msg}`;
    socket.emit('toClient', line);
    socket.broadcast.emit('toClient', line);
  });

  handle(socket, 'client:created:job', (data) => {
    main.emit('server:created:job', data);
  });

  handle(socket, 'whoami', (ack) => ack(socket.id));

  handle(socket, 'join', (room, ack) => {
    socket.join(room);
    ack(true);
  });

  handle(socket, 'leave', (room, ack) => {
    socket.leave(room);
    ack(true);
  });

  handle(socket, 'to-room', ({ room, event, data }) => {
    main.to(room).emit(event, data);
  });

  handle(socket, 'to-room-except-me', ({ room, event, data }) => {
    socket.to(room).emit(event, data);
  });

  handle(socket, 'broadcast', (data) => {
    socket.broadcast.emit('broadcast', data);
  });

  handle(socket, 'fanout', ({ event, data }) => {
    main.emit(event, data);
  });

  handle(socket, 'ask', ({ question, timeout_ms }) => {
    // socket.io calls the callback exactly once: with an error on timeout (a late ack is dropped)
    socket.timeout(timeout_ms).emit('question', question, (err, value) => {
      socket.emit('answer', err ? { ok: false, error: 'timeout' } : { ok: true, value });
    });
  });

  handle(socket, 'later', ({ ms, event, data }) => {
    // emitted from a timer, outside of any socket.io handler
    setTimeout(() => socket.emit(event, data), ms);
  });

  handle(socket, 'kick-me', () => {
    socket.disconnect(true); // true: close the underlying connection too
  });

  handle(socket, 'throw', () => {
    throw new Error('thrown on purpose by the "throw" scenario');
  });

  handle(socket, 'stats', (ack) => {
    ack({ sockets: main.sockets.size, rooms: roomCount(main) });
  });

  // --- the cluster rows (on one node without --redis) ---------------------------------------

  // A request to other nodes can fail (a node that does not answer in time): the client then
  // gets `{error}` rather than no answer at all.
  const failed = (ack) => (err) => {
    console.error(`[/ ${socket.id}] ${err.message}`);
    ack({ error: err.message });
  };

  handle(socket, 'cluster-stats', (ack) =>
    Promise.all([main.fetchSockets(), main.adapter.serverCount()]).then(
      ([sockets, servers]) => ack({ sockets: sockets.length, servers }),
      failed(ack),
    ),
  );

  handle(socket, 'room-sockets', (room, ack) =>
    main
      .in(room)
      .fetchSockets()
      .then((sockets) => ack(sockets.map((s) => s.id).sort()), failed(ack)),
  );

  handle(socket, 'sockets-join', ({ in: from, room }, ack) => {
    main.in(from).socketsJoin(room);
    ack(true);
  });

  handle(socket, 'sockets-leave', ({ in: from, room }, ack) => {
    main.in(from).socketsLeave(room);
    ack(true);
  });

  handle(socket, 'disconnect-in', (room) => {
    main.in(room).disconnectSockets(true);
  });

  handle(socket, 'fanout-except', ({ except, event, data }) => {
    main.except(except).emit(event, data);
  });

  handle(socket, 'server-side-emit', ({ event, data }) => {
    // the other nodes relay it to their sockets; a single node has no one to tell
    if (clustered) main.serverSideEmit('relay', { event, data });
  });

  handle(socket, 'server-side-ping', (ack) => {
    if (!clustered) return ack({ ok: true, responses: [] }); // no other node to ask
    main.serverSideEmit('ping', (err, responses) => ack({ ok: !err, responses }));
  });

  handle(socket, 'broadcast-with-ack', ({ event, data, timeout_ms }, ack) => {
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
  handle(socket, 'broadcast-main', (data) => {
    main.emit('announcement', data); // cross-namespace emit
  });
});

// Any other namespace is refused by socket.io itself: connect_error "Invalid namespace".

// ---------------------------------------------------------------------------------------------
// Start and stop
// ---------------------------------------------------------------------------------------------
clusterJoined.then(() =>
  httpServer.listen(port, '127.0.0.1', () => {
    process.stdout.write(`READY ${httpServer.address().port}\n`);
    console.error(`reference scenarios server (socket.io) listening on 127.0.0.1:${httpServer.address().port}`);
  }),
);

async function shutdown(signal) {
  console.error(`${signal}: disconnecting every client and exiting`);
  setTimeout(() => process.exit(0), 1500).unref(); // whatever happens, exit in time
  // a DISCONNECT packet to every socket, then its connection is closed once that is written;
  // long-polling clients pick it up with their next GET, so give the sessions a moment to end
  const sessionsEnded = Object.values(io.engine.clients).map((session) => once(session, 'close'));
  // (`local`: in a cluster, only this node's sockets)
  for (const nsp of [main, custom, admin]) nsp.local.disconnectSockets(true);
  await Promise.race([Promise.all(sessionsEnded), delay(1000)]);
  io.close(); // closes what is left (and the HTTP server)
  process.exit(0);
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
