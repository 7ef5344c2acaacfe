'use strict';
// rtio attached to the app's own `http.Server` / `https.Server` (Express, Koa, plain http):
// requests to the Socket.IO path are handed to rtio's core (`handleRequest`, answered by a
// `KIND_HTTP_RESPONSE` event that is written here), WebSocket upgrades to it give their TCP
// connection to the core (`adoptWebSocket`: the core duplicates the descriptor, Node's socket
// object is then destroyed), every other request and upgrade stays the app's, as with
// socket.io's `attach`.

const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const { perMessageDeflateSettings } = require('./options');

/** socket.io's answer to a bad request (engine.io's `BAD_REQUEST`). */
const BAD_REQUEST = JSON.stringify({ code: 3, message: 'Bad request' });
/** How long an upgrade to another path may stay unanswered when the app has no upgrade listener (engine.io's `destroyUpgradeTimeout`). */
const DESTROY_UPGRADE_MS = 1000;

/** socket.io-client's dist directory, or null when the package is absent. */
function clientDist() {
  try {
    return path.dirname(require.resolve('socket.io-client/dist/socket.io.js'));
  } catch {
    return null;
  }
}

/** The client bundle files served at `<path>/<name>` (socket.io serves these names). */
const BUNDLE_FILES = [
  'socket.io.js',
  'socket.io.js.map',
  'socket.io.min.js',
  'socket.io.min.js.map',
  'socket.io.esm.min.js',
  'socket.io.esm.min.js.map',
  'socket.io.msgpack.min.js',
  'socket.io.msgpack.min.js.map',
];

/** The headers of an answer as `res.writeHead` takes them (a repeated name as an array). */
function headerObject(pairs) {
  const headers = {};
  for (const [name, value] of pairs) {
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  return headers;
}

/**
 * `req.rawHeaders` as an HTTP/1.1 request has them. A request made over HTTP/2 (an
 * `http2.createSecureServer({ allowHTTP1: true })`) has pseudo-headers instead of a request
 * line and `host`: they are dropped, `:authority` becoming `host`.
 */
function http1Headers(req) {
  if (req.httpVersionMajor < 2) return req.rawHeaders;
  const raw = req.rawHeaders;
  const headers = [];
  let authority;
  let host = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name === ':authority') authority = raw[i + 1];
    else if (name[0] !== ':') {
      if (name.toLowerCase() === 'host') host = true;
      headers.push(name, raw[i + 1]);
    }
  }
  if (!host && authority !== undefined) headers.push('host', authority);
  return headers;
}

/** Whether the app's server received on `socket` over TLS (an `https.Server`'s TLSSocket). */
function overTls(socket) {
  return socket.encrypted === true;
}

/**
 * `rawHeaders` without Sec-WebSocket-Extensions: on a bridged WebSocket, ws negotiates
 * permessage-deflate with the client and rtio's core must see plain messages (given the
 * offer, the core would negotiate compression on its side of the bridge too).
 */
function withoutExtensions(raw) {
  const out = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].toLowerCase() !== 'sec-websocket-extensions') out.push(raw[i], raw[i + 1]);
  }
  return out;
}

/**
 * The code a bridged WebSocket closes with: rtio's, when ws may send it (1005 and 1006 are
 * never sent on the wire; ws throws on them), else 1011.
 */
function closeCode(code) {
  const n = Number(code);
  const sendable = (n >= 1000 && n <= 1014 && n !== 1004 && n !== 1005 && n !== 1006) || (n >= 3000 && n <= 4999);
  return sendable ? n : 1011;
}

/** True for a socket whose descriptor the core can take: plain TCP (not TLS: Node holds the TLS state). */
function adoptableFd(socket) {
  if (overTls(socket)) return -1;
  const handle = socket._handle;
  return handle && typeof handle.fd === 'number' ? handle.fd : -1;
}

/** Runs engine middlewares (`io.engine.use`) in order, as engine.io does; `done(err)`. */
function runMiddlewares(fns, req, res, done) {
  const next = (i) => {
    if (i >= fns.length) return done(null);
    let called = false;
    try {
      fns[i](req, res, (err) => {
        if (called) return;
        called = true;
        if (err) return done(err);
        next(i + 1);
      });
    } catch (err) {
      if (!called) {
        called = true;
        done(err);
      }
    }
  };
  next(0);
}

/**
 * One `http.Server` an rtio `Server` is attached to: the listeners it added and the requests
 * waiting for the core's answer.
 */
class Attachment {
  /**
   * @param {import('./server').Server} io
   * @param {http.Server} httpServer
   */
  constructor(io, httpServer) {
    this.io = io;
    this.httpServer = httpServer;
    /** requests handed to the core, by token: `{ req, res, handshake }` */
    this.pending = new Map();
    /** WebSockets framed by Node (TLS), by the core's id: `{ req, socket, head, ws, queue, closed }` */
    this.bridged = new Map();
    /** ws's server, made on the first TLS upgrade (it frames; rtio's core does the rest) */
    this.wss = null;
    this.prefix = `${io._path}/`;
    this.dist = io._serveClient ? clientDist() : null;
    this.bundleCache = new Map();
    // As socket.io: the app's request listeners run for every other path.
    this.appListeners = httpServer.listeners('request').slice(0);
    httpServer.removeAllListeners('request');
    this.onRequest = (req, res) => this._request(req, res);
    this.onUpgrade = (req, socket, head) => this._upgrade(req, socket, head);
    httpServer.on('request', this.onRequest);
    httpServer.on('upgrade', this.onUpgrade);
  }

  /** Gives the app's listeners back (on close). */
  detach() {
    const srv = this.httpServer;
    srv.removeListener('request', this.onRequest);
    srv.removeListener('upgrade', this.onUpgrade);
    for (const fn of this.appListeners) srv.on('request', fn);
    this.failPending();
    this.closeBridged();
  }

  /**
   * Requests still waiting when the core stopped (their answers did not come before its event
   * stream ended): a long-poll GET gets Engine.IO's close packet, as engine.io sends on close,
   * others a 503.
   */
  failPending() {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const { req, res } of pending) {
      if (res.headersSent || res.destroyed) {
        res.destroy();
      } else if (req.method === 'GET' && /[?&]sid=/.test(req.url)) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' });
        res.end('1');
      } else {
        res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ code: 1, message: 'Server is shutting down' }));
      }
    }
  }

  _ours(url) {
    return typeof url === 'string' && url.startsWith(this.prefix);
  }

  _request(req, res) {
    if (this._ours(req.url)) {
      if (this.dist && this._serveBundle(req, res)) return;
      return this._engineRequest(req, res);
    }
    for (const fn of this.appListeners) fn.call(this.httpServer, req, res);
    // with no listener of the app's, Node would leave the request hanging
    if (this.appListeners.length === 0) res.writeHead(404).end();
  }

  /** Serves `<path>/socket.io.js` and its siblings; false when `req` is for another file. */
  _serveBundle(req, res) {
    const name = req.url.slice(this.prefix.length).split('?')[0];
    if (!BUNDLE_FILES.includes(name)) return false;
    let file = this.bundleCache.get(name);
    if (file === undefined) {
      try {
        const body = fs.readFileSync(path.join(this.dist, name));
        const version = require('socket.io-client/package.json').version;
        file = { body, etag: `"${version}"` };
      } catch {
        file = null;
      }
      this.bundleCache.set(name, file);
    }
    if (!file) return false;
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304).end();
      return true;
    }
    res.writeHead(200, {
      'content-type': name.endsWith('.map') ? 'application/json' : 'application/javascript; charset=utf-8',
      'cache-control': 'public, max-age=0',
      etag: file.etag,
    });
    res.end(file.body);
    return true;
  }

  _engineRequest(req, res) {
    runMiddlewares(this.io._engineMiddlewares, req, res, (err) => {
      if (res.writableEnded || res.headersSent) return; // a middleware answered
      if (err) {
        this.io._emitEngineError(req, 3, 'Bad request', err);
        res.writeHead(400, { 'content-type': 'application/json' });
        return res.end(BAD_REQUEST);
      }
      // A body over the limit is not read to its end: its first limit + 1 bytes go to the
      // core, which refuses it (413) and closes the session as it does on its own listener.
      const limit = this.io._maxBodyBytes();
      const chunks = [];
      let size = 0;
      const onData = (chunk) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size <= limit) return;
        req.removeListener('data', onData);
        req.removeListener('end', onEnd);
        req.pause();
        this._handOver(req, res, Buffer.concat(chunks, size).subarray(0, limit + 1), true);
      };
      const onEnd = () => this._handOver(req, res, Buffer.concat(chunks, size), false);
      req.on('data', onData);
      req.on('end', onEnd);
    });
  }

  /** `cut`: the body is cut (too large), the connection closes after the answer. */
  _handOver(req, res, body, cut) {
    // the run's native server: it still answers while it stops (clients collect their last packets)
    const run = this.io._run;
    const native = run && run.native;
    const address = req.socket.remoteAddress;
    if (address === undefined) return; // the client left already
    const handshake = req.method === 'GET' && !/[?&]sid=/.test(req.url);
    let token = null;
    if (native) {
      try {
        token = native.handleRequest(req.method, req.url, http1Headers(req), body, address, req.socket.remotePort, overTls(req.socket));
      } catch (err) {
        this.io._report(err, 'handing a request over to rtio');
      }
    }
    if (token === null) {
      // the core stopped: a polling GET gets Engine.IO's close packet, as from a closing engine.io
      if (req.method === 'GET' && !handshake) {
        res.writeHead(200, { 'content-type': 'text/plain; charset=UTF-8' });
        return res.end('1');
      }
      res.writeHead(400, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ code: 1, message: 'Session ID unknown' }));
    }
    if (handshake) this.io._keepRequest(req);
    this.pending.set(token, { req, res, handshake, cut });
    // the client went before the answer (a long-poll GET, mostly): engine.io closes the
    // session then, and so does the core once told
    res.once('close', () => {
      if (!res.writableEnded && this.pending.delete(token)) native.cancelRequest(token);
    });
  }

  /** The core's answer to the request of `token`, for its response. */
  answer(token, data, bins) {
    const entry = this.pending.get(token);
    if (!entry) return;
    this.pending.delete(token);
    const { req, res, handshake, cut } = entry;
    if (res.destroyed || res.writableEnded) return;
    const { status, headers: pairs } = JSON.parse(data);
    const headers = headerObject(pairs);
    const engine = this.io._engine;
    if (engine) {
      // engine.io's hooks to add headers (cookies, ...) before they are written
      if (handshake) engine.emit('initial_headers', headers, req);
      engine.emit('headers', headers, req);
    }
    if (status >= 400) this._refused(req, bins && bins[0]);
    // the rest of the body is never read (HTTP/2 has no such header: the stream is reset)
    if (cut && req.httpVersionMajor < 2) headers.connection = 'close';
    res.writeHead(status, headers);
    res.end(bins && bins[0]);
    if (cut) res.once('finish', () => req.destroy());
  }

  /**
   * engine.io's `connection_error` for a request the core refused, from its answer's body
   * (`{"code":1,"message":"Session ID unknown"}`); `context` has what engine.io's has that the
   * request and the answer show (the transport, sid, method or protocol asked for,
   * allowRequest's reason).
   */
  _refused(req, body) {
    const engine = this.io._engine;
    if (!engine || engine.listenerCount('connection_error') === 0 || !body) return;
    let error;
    try {
      error = JSON.parse(body.toString());
    } catch {
      return;
    }
    if (error === null || typeof error !== 'object' || typeof error.code !== 'number') return;
    const query = new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1));
    let message = error.message;
    const context = {};
    if (error.code === 0) context.transport = query.get('transport');
    else if (error.code === 1) context.sid = query.get('sid');
    else if (error.code === 2) context.method = req.method;
    else if (error.code === 4) {
      // the client is told allowRequest's reason; the event names the error, as engine.io
      context.message = message;
      message = 'Forbidden';
    } else if (error.code === 5) context.protocol = Number(query.get('EIO'));
    this.io._emitEngineError(req, error.code, message, context);
  }

  _upgrade(req, socket, head) {
    if (!this._ours(req.url)) {
      if (this.httpServer.listenerCount('upgrade') === 1) {
        // nobody else takes it: end it as engine.io does, rather than leave it hanging
        setTimeout(() => {
          if (socket.writable && socket.bytesWritten <= 0) {
            socket.on('error', () => {});
            socket.end();
          }
        }, DESTROY_UPGRADE_MS).unref();
      }
      return;
    }
    const refuse = (status, message) => {
      socket.on('error', () => {});
      if (socket.writable) {
        const body = JSON.stringify({ code: 3, message });
        socket.end(
          `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nconnection: close\r\n` +
            `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    };
    const res = new http.ServerResponse(req);
    runMiddlewares(this.io._engineMiddlewares, req, res, (err) => {
      if (err || res.writableEnded) {
        if (err) this.io._emitEngineError(req, 3, 'Bad request', err);
        return refuse(400, 'Bad request');
      }
      if (adoptableFd(socket) < 0) return this._bridge(req, socket, head, refuse);
      const native = this.io._native;
      const fd = adoptableFd(socket);
      if (!native || fd < 0) return refuse(503, 'Server is not running');
      // bytes Node read past the head meanwhile (a client's first frames) go with it
      const chunks = [head];
      if (socket.readableLength > 0) {
        for (let c = socket.read(); c !== null; c = socket.read()) chunks.push(c);
      }
      const address = socket.remoteAddress;
      if (address === undefined) return socket.destroy();
      if (!/[?&]sid=/.test(req.url)) this.io._keepRequest(req);
      try {
        native.adoptWebSocket(fd, req.method, req.url, req.rawHeaders, Buffer.concat(chunks), address, socket.remotePort, overTls(socket));
      } catch (e) {
        this.io._report(e, 'handing a WebSocket over to rtio');
        return refuse(400, 'Bad request');
      }
      // Closes Node's descriptor only (no shutdown): the core's duplicate stays open.
      socket.destroy();
    });
  }
}

/**
 * A WebSocket Node must frame itself (TLS: Node holds the session): ws frames it, rtio's core
 * gets and gives whole messages (`openWebSocket`, `KIND_WS_*` events), on the JS thread.
 */
Attachment.prototype._bridge = function bridge(req, socket, head, refuse) {
  const native = this.io._native;
  const address = socket.remoteAddress;
  if (!native || address === undefined) return refuse(503, 'Server is not running');
  let id = null;
  try {
    id = native.openWebSocket(req.method, req.url, withoutExtensions(req.rawHeaders), address, socket.remotePort, overTls(socket));
  } catch (e) {
    this.io._report(e, 'handing a WebSocket over to rtio');
    return refuse(400, 'Bad request');
  }
  if (id === null) return refuse(503, 'Server is not running');
  if (!/[?&]sid=/.test(req.url)) this.io._keepRequest(req);
  socket.on('error', () => {});
  this.bridged.set(id, { req, socket, head, ws: null, queue: [], closed: false, refuse });
};

/** rtio's answer to a bridged WebSocket: 101 completes the handshake (ws writes it), else the refusal. */
Attachment.prototype.wsAnswer = function wsAnswer(id, data, bins) {
  const entry = this.bridged.get(id);
  if (!entry || entry.ws) return;
  const { status, headers } = JSON.parse(data);
  if (status !== 101) {
    this.bridged.delete(id);
    this._refused(entry.req, bins && bins[0]);
    const { socket } = entry;
    const body = (bins && bins[0]) || Buffer.alloc(0);
    let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] || ''}\r\n`;
    for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
    head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
    if (socket.writable) socket.end(Buffer.concat([Buffer.from(head), body]));
    return;
  }
  if (!this.wss) {
    const { WebSocketServer } = require('ws');
    // The core applies maxHttpBufferSize and gives the close code (1009); ws's own bound, one
    // byte above, only keeps Node from buffering more than that before the core sees it (an
    // inflated message included). permessage-deflate, when on, is ws's here (message by
    // message, with the option's threshold; `compress(false)` does not reach this path).
    const { perMessageDeflateThreshold: threshold } = perMessageDeflateSettings(this.io.opts.perMessageDeflate);
    this.wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: threshold === undefined ? false : { threshold },
      maxPayload: this.io._maxBodyBytes() + 1,
    });
    // engine.io's hooks on the 101 Node writes here, as engine.io does with ws
    this.wss.on('headers', (lines, req) => {
      const engine = this.io._engine;
      if (!engine) return;
      const added = {};
      if (!/[?&]sid=/.test(req.url)) engine.emit('initial_headers', added, req);
      engine.emit('headers', added, req);
      for (const [name, value] of Object.entries(added)) {
        for (const v of [].concat(value)) lines.push(`${name}: ${v}`);
      }
    });
  }
  this.wss.handleUpgrade(entry.req, entry.socket, entry.head, (ws) => {
    entry.ws = ws;
    const native = () => this.io._run && this.io._run.native;
    ws.on('message', (message, isBinary) => {
      const n = native();
      if (!n || entry.closed) return;
      if (isBinary) n.webSocketReceive(id, null, Buffer.isBuffer(message) ? message : Buffer.concat([].concat(message)));
      else n.webSocketReceive(id, message.toString(), null);
    });
    ws.on('close', () => {
      this.bridged.delete(id);
      if (entry.closed) return;
      entry.closed = true;
      const n = native();
      if (n) n.webSocketClose(id);
    });
    ws.on('error', () => {});
    for (const message of entry.queue) ws.send(message);
    entry.queue = [];
    if (entry.closed) ws.close(entry.code);
  });
};

/** A message of rtio for the client of a bridged WebSocket (text, or one Buffer). */
Attachment.prototype.wsSend = function wsSend(id, text, bins) {
  const entry = this.bridged.get(id);
  if (!entry) return;
  const message = text !== undefined ? text : bins[0];
  if (entry.ws) entry.ws.send(message);
  else entry.queue.push(message);
};

/** rtio ended a bridged WebSocket: the client gets rtio's close code (1009 for a message too big…). */
Attachment.prototype.wsClose = function wsClose(id, code) {
  const entry = this.bridged.get(id);
  if (!entry) return;
  entry.closed = true;
  entry.code = closeCode(code);
  if (entry.ws) entry.ws.close(entry.code);
  else {
    this.bridged.delete(id);
    entry.socket.destroy();
  }
};

/** Bridged WebSockets end with the core. */
Attachment.prototype.closeBridged = function closeBridged() {
  for (const entry of this.bridged.values()) {
    entry.closed = true;
    if (entry.ws) entry.ws.terminate();
    else entry.socket.destroy();
  }
  this.bridged.clear();
};

module.exports = { Attachment };
