'use strict';
// Helpers of the binding's tests: official socket.io-client clients, waits with deadlines
// (nothing sleeps and hopes: every wait is for an event, and fails after its deadline).

const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { spawn } = require('node:child_process');
const { createInterface } = require('node:readline');
const { io: connectClient } = require('socket.io-client');

const STEP_MS = Number(process.env.RTIO_STEP_MS || 5000);

/** Rejects with a clear message when `promise` does not settle within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The arguments of the next `event` on an emitter (socket.io-client socket, Socket, ...). */
function next(emitter, event, ms = STEP_MS) {
  return withTimeout(
    new Promise((resolve) => emitter.once(event, (...args) => resolve(args))),
    ms,
    `event "${event}"`,
  );
}

const clients = new Set();

/** A socket.io-client socket (not connected yet is fine: use `connected()`). */
function client(port, { nsp = '/', ...options } = {}) {
  const socket = connectClient(`http://127.0.0.1:${port}${nsp === '/' ? '' : nsp}`, {
    forceNew: true,
    reconnection: false,
    timeout: STEP_MS,
    transports: ['websocket'],
    ...options,
  });
  clients.add(socket);
  return socket;
}

/** Resolves with the socket once connected; rejects on connect_error or timeout. */
function connected(socket) {
  if (socket.connected) return Promise.resolve(socket);
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (err) => reject(new Error(`connect_error: ${err.message}`)));
    }),
    STEP_MS,
    'the client to connect',
  );
}

/** Connects a client and resolves with it. */
function connect(port, options) {
  return connected(client(port, options));
}

function closeClients() {
  for (const socket of clients) socket.disconnect();
  clients.clear();
}

/** Emits with an ack from a client and resolves with all the ack's arguments. */
function request(socket, event, ...args) {
  return withTimeout(
    new Promise((resolve) => socket.emit(event, ...args, (...answer) => resolve(answer))),
    STEP_MS,
    `the ack of "${event}"`,
  );
}

/**
 * A server-side socket for a client: resolves with the server's Socket once `connection`
 * fired for this client's id.
 */
function serverSocketOf(nsp, clientSocket) {
  const found = nsp.sockets.get(clientSocket.id);
  if (found) return Promise.resolve(found);
  return withTimeout(
    new Promise((resolve) => {
      const listener = (socket) => {
        if (socket.id === clientSocket.id) {
          nsp.off('connection', listener);
          resolve(socket);
        }
      };
      nsp.on('connection', listener);
    }),
    STEP_MS,
    `the server socket of ${clientSocket.id}`,
  );
}

/**
 * Records the events a client receives, so that a test can wait for the next one of a name
 * (`take`) without racing the server, however early it came.
 */
class Recorder {
  constructor(socket) {
    this.socket = socket;
    this.queues = new Map();
    this.waiters = new Map();
    socket.onAny((name, ...args) => {
      const waiting = this.waiters.get(name);
      if (waiting && waiting.length) return waiting.shift()(args);
      if (!this.queues.has(name)) this.queues.set(name, []);
      this.queues.get(name).push(args);
    });
  }

  /** The arguments of the next `name` event not taken yet. */
  take(name, ms = STEP_MS) {
    const queued = this.queues.get(name);
    if (queued && queued.length) return Promise.resolve(queued.shift());
    return withTimeout(
      new Promise((resolve) => {
        if (!this.waiters.has(name)) this.waiters.set(name, []);
        this.waiters.get(name).push(resolve);
      }),
      ms,
      `event "${name}"`,
    );
  }

  /** The first argument of the next `name` event. */
  async value(name, ms) {
    return (await this.take(name, ms))[0];
  }

  /** The `name` events received and not taken. */
  pending(name) {
    return this.queues.get(name) || [];
  }
}

/** Runs `node file args` and resolves once it printed a line matching `ready` on stdout. */
async function startProcess(file, args = [], { env = {}, ready = /^READY (\d+)$/ } = {}) {
  const child = spawn(process.execPath, [file, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-32 * 1024);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const stdout = [];
  const match = new Promise((resolve, reject) => {
    lines.on('line', (line) => {
      stdout.push(line);
      const m = ready.exec(line);
      if (m) resolve(m);
    });
    exited.then(({ code, signal }) => reject(new Error(`${file} exited (code ${code}, signal ${signal}) before it was ready:\n${stderr}`)));
  });
  let m;
  try {
    m = await withTimeout(match, 30_000, `${file} to be ready`);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    child,
    match: m,
    exited,
    stdout,
    stderr: () => stderr,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A port that was free a moment ago (for apps that take their port from the environment). */
async function freePort() {
  const net = require('node:net');
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.close();
  await once(server, 'close');
  return port;
}

const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples', 'node');
/** The reference socket.io 4.8 of tests/interop (installed by `make deps`). */
const SOCKET_IO_DIR = path.resolve(__dirname, '..', '..', 'tests', 'interop', 'node_modules', 'socket.io');
const haveSocketIo = fs.existsSync(path.join(SOCKET_IO_DIR, 'package.json'));
// the code's require (the comments name it too)
const RTIO_REQUIRE = "= require('rtio')";

/**
 * A copy of the seed app examples/node/<app>.js in a project of its own under `work`, whose
 * node_modules links `rtio` to this binding (kind 'rtio': the file unchanged) or `socket.io` to
 * the reference socket.io (kind 'socket.io': the require swapped), and `express` to the
 * binding's devDependency. Resolves to the copy's path.
 */
function seedAppFile(work, app, kind) {
  const source = fs.readFileSync(path.join(EXAMPLES, `${app}.js`), 'utf8');
  if (source.split(RTIO_REQUIRE).length !== 2) throw new Error(`${app}.js must require rtio exactly once`);
  const [name, target, text] =
    kind === 'rtio'
      ? ['rtio', path.resolve(__dirname, '..'), source]
      : ['socket.io', SOCKET_IO_DIR, source.replace(RTIO_REQUIRE, "= require('socket.io')")];
  const dir = path.join(work, `${kind}-${app}`);
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(target, path.join(dir, 'node_modules', name), 'dir');
  fs.symlinkSync(path.resolve(__dirname, '..', 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'), 'dir');
  fs.writeFileSync(path.join(dir, `${app}.js`), text);
  return path.join(dir, `${app}.js`);
}

module.exports = {
  seedAppFile,
  haveSocketIo,
  STEP_MS,
  Recorder,
  withTimeout,
  next,
  client,
  connected,
  connect,
  closeClients,
  request,
  serverSocketOf,
  startProcess,
  freePort,
};
