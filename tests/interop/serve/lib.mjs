// Helpers of the `rtio serve` suite: start the binary (target/release/rtio, built by
// `make test-serve`) on a free port, call its HTTP API, and play the app's backend with a
// plain Node HTTP server (the auth URL and the webhook). Every wait has a deadline.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import path from 'node:path';
import { io } from 'socket.io-client';
import { STEP_MS, withTimeout, waitFor } from '../js/harness.mjs';

export { io, STEP_MS, withTimeout, waitFor };

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..', '..');
export const RTIO = process.env.RTIO_SERVE_BIN || path.join(ROOT, 'target', 'release', 'rtio');

const running = new Set();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Runs `rtio ARGS` to its end: { code, stdout, stderr }. */
export function run(args, { env = {} } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const child = spawn(RTIO, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    }),
    STEP_MS * 3,
    `rtio ${args.join(' ')}`,
  );
}

/**
 * Starts `rtio serve --host 127.0.0.1 --port 0 ARGS`; resolves once it printed its address.
 * Returns { url, port, child, exited, stderr(), stop(signal) }.
 */
export async function serve(args = [], { env = {} } = {}) {
  const child = spawn(RTIO, ['serve', '--host', '127.0.0.1', '--port', '0', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-32 * 1024)));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const ready = new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^rtio serve: listening on (https?:\/\/127\.0\.0\.1:(\d+))\//.exec(line);
      if (m) resolve({ url: m[1], port: Number(m[2]) });
    });
    exited.then(({ code }) => reject(new Error(`rtio serve exited (${code}) before listening:\n${stderr}`)));
  });
  const { url, port } = await withTimeout(ready, STEP_MS * 5, 'rtio serve to listen');
  return {
    url,
    port,
    child,
    exited,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return withTimeout(exited, STEP_MS * 5, 'rtio serve to exit');
    },
  };
}

/** An HTTP call: { status, headers, text, json }. */
export async function call(base, pathAndQuery, { method = 'GET', body, key, headers = {} } = {}) {
  const h = { ...headers };
  if (key) h.authorization = `Bearer ${key}`;
  if (body !== undefined && typeof body !== 'string') {
    body = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await withTimeout(fetch(base + pathAndQuery, { method, body, headers: h }), STEP_MS * 3, `${method} ${pathAndQuery}`);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A connected socket.io-client socket (rejects on connect_error, with its error). */
export function connect(url, { nsp = '/', ...options } = {}) {
  const socket = io(url + nsp, { forceNew: true, reconnection: false, ...options });
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (err) => {
        socket.close();
        reject(err);
      });
    }),
    STEP_MS,
    `connect to ${nsp}`,
  );
}

/** The connect_error a client gets (fails if it connects). */
export function refused(url, options = {}) {
  const { nsp = '/', ...rest } = options;
  const socket = io(url + nsp, { forceNew: true, reconnection: false, ...rest });
  return withTimeout(
    new Promise((resolve, reject) => {
      socket.once('connect', () => {
        socket.close();
        reject(new Error('connected, but a refusal was expected'));
      });
      socket.once('connect_error', (err) => {
        socket.close();
        resolve(err);
      });
    }),
    STEP_MS * 3,
    'connect_error',
  );
}

/**
 * The app's backend: a Node HTTP server whose `answer(path, body)` (settable) returns
 * { status, body } or a Promise of it; every request is recorded in `calls`.
 */
export async function backend(answer) {
  const b = { calls: [], answer, waiters: [] };
  b.server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', async () => {
      let body;
      try {
        body = JSON.parse(raw);
      } catch {
        body = raw;
      }
      const entry = { path: req.url, headers: req.headers, body };
      b.calls.push(entry);
      b.waiters.splice(0).forEach((w) => w(entry));
      const out = await b.answer(req.url, body);
      if (out === null) return; // never answered (a timeout)
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body ?? {}));
    });
  });
  await new Promise((resolve) => b.server.listen(0, '127.0.0.1', resolve));
  b.url = `http://127.0.0.1:${b.server.address().port}`;
  b.next = () => withTimeout(new Promise((resolve) => b.waiters.push(resolve)), STEP_MS, 'a backend call');
  b.close = () => {
    b.server.closeAllConnections();
    return new Promise((resolve) => b.server.close(resolve));
  };
  return b;
}
