#!/usr/bin/env node
// The reference scenarios server: the behaviour contract of SCENARIOS.md (shared/, beside the repo)
// written with the real Node socket.io 4.8. The interop suites are checked against it
// (`RTIO_HOST=socketio node --test js/`), and the benchmark runs it beside rtio.
//
//   node reference/server.js [--port N] [--ping-interval MS] [--ping-timeout MS]
//                            [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
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

const httpServer = http.createServer((req, res) => {
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
  // handshakes that ask for it (`?deny=1`) are refused, so that the suites can check what a
  // refused client sees
  allowRequest: (req, callback) => {
    const denied = new URL(req.url, 'http://localhost').searchParams.get('deny') === '1';
    callback(denied ? 'denied by the request gate' : null, !denied);
  },
});

// Registers an event handler that reports a failure on stderr instead of crashing the
// process: a handler that throws (see the `throw` scenario) must not stop the server.
function handle(socket, event, handler) {
  socket.on(event, (...args) => {
    try {
      handler(...args);
    } catch (err) {
      console.error(`[${socket.nsp.name} ${socket.id}] handler for "${event}" failed:`, err);
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
httpServer.listen(port, '127.0.0.1', () => {
  process.stdout.write(`READY ${httpServer.address().port}\n`);
  console.error(`reference scenarios server (socket.io) listening on 127.0.0.1:${httpServer.address().port}`);
});

async function shutdown(signal) {
  console.error(`${signal}: disconnecting every client and exiting`);
  setTimeout(() => process.exit(0), 1500).unref(); // whatever happens, exit in time
  // a DISCONNECT packet to every socket, then its connection is closed once that is written;
  // long-polling clients pick it up with their next GET, so give the sessions a moment to end
  const sessionsEnded = Object.values(io.engine.clients).map((session) => once(session, 'close'));
  for (const nsp of [main, custom, admin]) nsp.disconnectSockets(true);
  await Promise.race([Promise.all(sessionsEnded), delay(1000)]);
  io.close(); // closes what is left (and the HTTP server)
  process.exit(0);
}

process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
