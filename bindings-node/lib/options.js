'use strict';
// socket.io 4.8's (and engine.io 6.6's) server options, checked: every option rtio takes
// works as it does in socket.io; any other is refused when the Server is made, with what to
// do instead. Nothing is accepted and then ignored. The table of docs/node.md says the same.

const path = require('node:path');
const { adapterSettings } = require('./cluster');

const DOCS = 'see docs/node.md';

/** The `cors` package's defaults (engine.io hands `cors` to it). */
const CORS_DEFAULT_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE';

/** Options rtio takes, socket.io's and its own, with a check of the value (throws). */
const TAKEN = {
  // socket.io
  path: string,
  serveClient: any,
  connectTimeout: number,
  adapter: (v) => adapterSettings(v, isDefaultAdapter), // rtio's Redis adapters, or the default
  parser: (v, name) => defaultOrRefused(v, name, isDefaultParser, 'rtio speaks socket.io\'s default packet format only (no msgpack or custom parser); remove the option here and on the clients'),
  connectionStateRecovery: (v) => {
    recoverySettings(v);
  },
  cleanupEmptyChildNamespaces: (v, name) => falsyOrRefused(v, name, 'child namespaces stay once created; remove the option'),
  // engine.io
  pingTimeout: number,
  pingInterval: number,
  upgradeTimeout: number,
  maxHttpBufferSize: number,
  allowRequest: (v, name) => {
    if (v !== undefined && v !== null && typeof v !== 'function') throw new TypeError(`rtio: option "${name}" must be a function (req, callback), got ${typeof v}`);
  },
  transports: (v, name) => {
    if (v === undefined) return;
    if (!Array.isArray(v)) throw new TypeError(`rtio: option "${name}" must be an array of "polling" and "websocket"`);
    for (const t of v) {
      if (t === 'webtransport') refuse(name, 'rtio has no WebTransport; use ["polling", "websocket"] (or either one)');
      if (t !== 'polling' && t !== 'websocket') throw new TypeError(`rtio: option "${name}": unknown transport ${JSON.stringify(t)} (rtio has "polling" and "websocket")`);
    }
  },
  allowUpgrades: (v, name) => {
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`rtio: option "${name}" must be a boolean`);
  },
  perMessageDeflate: (v, name) => falsyOrRefused(v, name, 'rtio does not compress WebSocket messages (permessage-deflate); remove the option or set it to false'),
  httpCompression: (v) => {
    compressionSettings(v);
  },
  wsEngine: (v, name) => {
    if (v !== undefined) refuse(name, 'rtio\'s WebSocket server is part of its core; remove the option');
  },
  initialPacket: (v, name) => {
    if (v !== undefined) refuse(name, 'rtio sends no extra packet with the handshake; send an event on "connection" instead');
  },
  cookie: (v) => {
    cookieSettings(v);
  },
  cors: () => {}, // checked by corsPolicy
  allowEIO3: (v, name) => falsyOrRefused(v, name, 'rtio speaks Engine.IO v4 only: use socket.io-client 3 or later (not 2.x)'),
  destroyUpgrade: (v, name) => {
    if (v === false) refuse(name, 'rtio owns its port: it answers upgrade requests for other paths itself (404); remove the option');
  },
  destroyUpgradeTimeout: (v, name) => {
    if (v !== undefined) refuse(name, 'rtio answers upgrade requests for other paths at once (404), with no delay to set; remove the option');
  },
  addTrailingSlash: any, // rtio serves both `<path>` and `<path>/`
  // rtio's own
  host: string,
  staticDir: string,
  clientBundle: string,
  workerThreads: number,
  eventQueue: number,
  tls: (v) => {
    tlsFiles(v);
  },
};

function any() {}

function string(v, name) {
  if (v !== undefined && typeof v !== 'string') throw new TypeError(`rtio: option "${name}" must be a string, got ${typeof v}`);
}

function number(v, name) {
  if (v !== undefined && (typeof v !== 'number' || !(v >= 0))) throw new TypeError(`rtio: option "${name}" must be a non-negative number, got ${String(v)}`);
}

function refuse(name, why) {
  throw new Error(`rtio does not support the option "${name}": ${why} (${DOCS})`);
}

function falsyOrRefused(v, name, why) {
  if (v) refuse(name, why);
}

function defaultOrRefused(v, name, isDefault, why) {
  if (v !== undefined && v !== null && !isDefault(v)) refuse(name, why);
}

/** The attributes of engine.io's cookie (the `cookie` package's options) that rtio sets. */
const COOKIE_KEYS = new Set(['name', 'path', 'httpOnly', 'sameSite']);

/** A cookie name as the `cookie` package takes it (RFC 6265's token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** A cookie path as the `cookie` package takes it (no `;`, no control characters). */
const COOKIE_PATH = /^[\u0020-\u003A\u003D-\u007E]*$/;

/**
 * socket.io's (engine.io's) `cookie` option -> the core's cookie, or undefined for none:
 * `true` is `{}`, and an object gets engine.io's defaults `{ name: 'io', path: '/', httpOnly:
 * true, sameSite: 'lax' }` under its own values; `path` and `sameSite` false leave that
 * attribute out, `sameSite` true is `Strict` (as the `cookie` package writes them). Throws,
 * naming the attribute, on a value engine.io would fail on and on the attributes rtio does
 * not set.
 */
/**
 * engine.io's `httpCompression` (default on, `{threshold: 1024}`) as the core's settings:
 * `{httpCompressionOff}` or `{httpCompressionThreshold}`. zlib's own tuning options are refused.
 */
function compressionSettings(v) {
  if (v === undefined || v === true) return { httpCompressionThreshold: 1024 };
  if (v === false || v === null) return { httpCompressionOff: true };
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError('rtio: option "httpCompression" must be a boolean or an object {threshold}');
  }
  for (const key of Object.keys(v)) {
    if (key !== 'threshold' && v[key] !== undefined) {
      refuse(`httpCompression.${key}`, 'rtio takes httpCompression.threshold only (its own zlib settings); remove it');
    }
  }
  const threshold = v.threshold ?? 1024;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw new TypeError(`rtio: option "httpCompression.threshold" must be a number of bytes, got ${threshold}`);
  }
  return { httpCompressionThreshold: threshold };
}

/**
 * socket.io's `connectionStateRecovery` ({maxDisconnectionDuration = 2 min, skipMiddlewares =
 * true}) as the core's settings; undefined when off.
 */
function recoverySettings(v) {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) v = {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError('rtio: option "connectionStateRecovery" must be an object {maxDisconnectionDuration, skipMiddlewares}');
  }
  for (const key of Object.keys(v)) {
    if (key !== 'maxDisconnectionDuration' && key !== 'skipMiddlewares' && v[key] !== undefined) {
      refuse(`connectionStateRecovery.${key}`, 'rtio takes maxDisconnectionDuration and skipMiddlewares; remove it');
    }
  }
  const max = v.maxDisconnectionDuration ?? 2 * 60 * 1000;
  if (typeof max !== 'number' || !Number.isFinite(max) || max <= 0 || max > 2 ** 31) {
    throw new TypeError(`rtio: option "connectionStateRecovery.maxDisconnectionDuration" must be a positive number of ms, got ${max}`);
  }
  return { recoveryMaxDisconnection: max, recoverySkipMiddlewares: v.skipMiddlewares ?? true };
}

function cookieSettings(v) {
  if (v === undefined || v === null || v === false) return undefined;
  if (v === true) v = {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`rtio: option "cookie" must be a boolean or an object {name, path, httpOnly, sameSite}, got ${Array.isArray(v) ? 'an array' : typeof v}`);
  }
  for (const key of Object.keys(v)) {
    if (!COOKIE_KEYS.has(key) && v[key] !== undefined) {
      refuse(`cookie.${key}`, 'rtio\'s session cookie has the attributes name, path, httpOnly and sameSite only; remove it');
    }
  }
  const o = { name: 'io', path: '/', httpOnly: true, sameSite: 'lax', ...v };
  if (typeof o.name !== 'string' || !COOKIE_NAME.test(o.name)) {
    throw new TypeError(`rtio: option "cookie.name" must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${JSON.stringify(o.name)}`);
  }
  let cookiePath;
  if (o.path) {
    if (typeof o.path !== 'string' || !COOKIE_PATH.test(o.path)) {
      throw new TypeError(`rtio: option "cookie.path" must be a path without ";" or control characters, got ${JSON.stringify(o.path)}`);
    }
    cookiePath = o.path;
  }
  let sameSite;
  if (o.sameSite) {
    const value = typeof o.sameSite === 'string' ? o.sameSite.toLowerCase() : o.sameSite;
    if (value === true || value === 'strict') sameSite = 'Strict';
    else if (value === 'lax') sameSite = 'Lax';
    else if (value === 'none') sameSite = 'None';
    else {
      throw new TypeError(`rtio: option "cookie.sameSite" must be true, false, "strict", "lax" or "none", got ${JSON.stringify(o.sameSite)}`);
    }
  }
  return { name: o.name, path: cookiePath, httpOnly: Boolean(o.httpOnly), sameSite };
}

/**
 * rtio's `tls` option -> the core's TLS files (`{ tlsCertFile, tlsKeyFile }`), or undefined:
 * `{ certFile, keyFile }`, the PEM certificate chain (leaf first) and private key files that
 * rtio's own listener serves HTTPS and WSS with (`io.reloadTls()` reads them again).
 */
function tlsFiles(v) {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError(`rtio: option "tls" must be an object { certFile, keyFile } (PEM file paths), got ${Array.isArray(v) ? 'an array' : typeof v}`);
  }
  for (const key of Object.keys(v)) {
    if (key !== 'certFile' && key !== 'keyFile') {
      throw new Error(`rtio: unknown option "tls.${key}": rtio's TLS takes { certFile, keyFile }, paths of PEM files (for Node's own TLS options, attach rtio to an https.Server: ${DOCS})`);
    }
  }
  for (const key of ['certFile', 'keyFile']) {
    if (typeof v[key] !== 'string' || v[key] === '') {
      throw new TypeError(`rtio: option "tls.${key}" must be the path of a PEM file, got ${v[key] === undefined ? 'nothing' : JSON.stringify(v[key])}`);
    }
  }
  return { tlsCertFile: v.certFile, tlsKeyFile: v.keyFile };
}

/** The module `name` as the app may load it (from its main module or the working directory). */
function appModules(name) {
  const bases = [process.cwd()];
  if (require.main && require.main.filename) bases.unshift(path.dirname(require.main.filename));
  const found = [];
  for (const base of bases) {
    try {
      found.push(require(require.resolve(name, { paths: [base] })));
    } catch {
      // not installed there
    }
  }
  return found;
}

/** socket.io's default adapter: socket.io-adapter's in-memory `Adapter`. */
function isDefaultAdapter(v) {
  return appModules('socket.io-adapter').some((mod) => v === mod.Adapter);
}

/** socket.io's default parser: the socket.io-parser module. */
function isDefaultParser(v) {
  return appModules('socket.io-parser').some((mod) => v === mod || (v && v.Encoder === mod.Encoder && v.Decoder === mod.Decoder));
}

/**
 * Checks the options of `new Server(...)` / `listen(port, opts)`: throws, naming the option,
 * on any that rtio does not apply as socket.io does.
 */
function checkOptions(opts) {
  for (const name of Object.keys(opts)) {
    const check = TAKEN[name];
    if (!check) {
      throw new Error(`rtio: unknown option "${name}" (socket.io would ignore it; rtio refuses what it does not apply: ${DOCS})`);
    }
    check(opts[name], name);
  }
  corsPolicy(opts.cors); // throws on what it refuses
}

// ---------------------------------------------------------------------------------------------
// cors: engine.io passes it to the `cors` package; the same evaluation here
// ---------------------------------------------------------------------------------------------

const CORS_KEYS = new Set([
  'origin',
  'methods',
  'allowedHeaders',
  'headers',
  'exposedHeaders',
  'credentials',
  'maxAge',
  'preflightContinue',
  'optionsSuccessStatus',
]);

function isString(s) {
  return typeof s === 'string' || s instanceof String;
}

/** The `cors` package's test of a request's origin against a (non-function) origin option. */
function isOriginAllowed(origin, allowed) {
  if (Array.isArray(allowed)) return allowed.some((a) => isOriginAllowed(origin, a));
  if (isString(allowed)) return origin === String(allowed);
  if (allowed instanceof RegExp) {
    allowed.lastIndex = 0; // a /g or /y RegExp keeps state between tests
    return allowed.test(origin);
  }
  return Boolean(allowed);
}

/**
 * Whether a browser lets the page of `origin` read responses that carry the headers the
 * `cors` package makes for the origin option `allowed` (not a function): `*` and a matching
 * reflected origin allow; a fixed string allows only that origin.
 */
function originAllowed(origin, allowed) {
  if (origin === undefined) return false;
  if (!allowed) return false;
  if (allowed === '*') return true;
  if (isString(allowed)) return origin === String(allowed);
  return isOriginAllowed(origin, allowed);
}

/** A comma-separated list (string or array) as an array of trimmed items. */
function listOf(v) {
  const text = Array.isArray(v) ? v.join(',') : String(v);
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

const SAFELISTED_METHODS = new Set(['GET', 'HEAD', 'POST']);

/**
 * socket.io's `cors` option -> what the core does (`native`: its CORS mode, origins and
 * credentials) and, when JS must look at each request (a RegExp or function origin, or
 * preflights to check against `methods` / `allowedHeaders`), `decide(req, cb)` with
 * `cb(err, crossOrigin)`: `err` when the origin function failed (the request is refused
 * as engine.io refuses it, 400 "Bad request"), else whether the origin gets CORS headers.
 */
function corsPolicy(cors) {
  if (cors === undefined || cors === null || cors === false) return { native: { cors: 'none' } };
  if (typeof cors === 'function') {
    refuse('cors', 'rtio takes no options function (req, callback) there: give an options object, whose origin may be a function (origin, callback)');
  }
  if (cors === true) cors = {};
  if (typeof cors !== 'object') throw new TypeError(`rtio: option "cors" must be a boolean or an object, got ${typeof cors}`);
  for (const key of Object.keys(cors)) {
    if (!CORS_KEYS.has(key)) throw new Error(`rtio: unknown option "cors.${key}" (${DOCS})`);
  }
  const o = { origin: '*', methods: CORS_DEFAULT_METHODS, preflightContinue: false, optionsSuccessStatus: 204, ...cors };
  if (o.preflightContinue) refuse('cors.preflightContinue', 'rtio answers CORS preflights itself; remove it');
  if (o.optionsSuccessStatus !== 204) refuse('cors.optionsSuccessStatus', 'rtio answers CORS preflights with 204; remove it');
  if (o.exposedHeaders !== undefined && o.exposedHeaders !== null && listOf(o.exposedHeaders).length > 0) {
    refuse('cors.exposedHeaders', 'rtio\'s responses carry no header a page could read through the socket.io client; remove it');
  }
  if (o.maxAge !== undefined && o.maxAge !== null) refuse('cors.maxAge', 'rtio sends no Access-Control-Max-Age (browsers then keep a preflight about 5 seconds); remove it');
  const credentials = o.credentials === true;
  const allowedHeaders = o.allowedHeaders || o.headers;
  const methods = listOf(o.methods);
  const checkPreflight = methods.join(',') !== CORS_DEFAULT_METHODS || Boolean(allowedHeaders);
  const origin = o.origin;
  if (!origin) return { native: { cors: 'none' } };

  let nativeMode;
  if (typeof origin !== 'function' && !(origin instanceof RegExp)) {
    if (origin === '*') {
      // `cors` sends `*`, with which browsers refuse credentialed requests: the request's
      // origin echoed without Access-Control-Allow-Credentials has the same effect
      nativeMode = { cors: 'any', corsCredentials: false };
    } else if (origin === true) {
      nativeMode = { cors: 'any', corsCredentials: credentials };
    } else if (isString(origin)) {
      nativeMode = { cors: 'list', corsOrigins: [String(origin)], corsCredentials: credentials };
    } else if (Array.isArray(origin) && origin.every(isString)) {
      nativeMode = { cors: 'list', corsOrigins: origin.map(String), corsCredentials: credentials };
    }
  }
  if (nativeMode && !checkPreflight) return { native: nativeMode };

  // JS decides for each request without a session id (handshakes and preflights)
  const allowedOrigin = (requestOrigin, cb) => {
    if (typeof origin !== 'function') return cb(null, originAllowed(requestOrigin, origin));
    let answered = false;
    origin(requestOrigin, (err, value) => {
      if (answered) return;
      answered = true;
      if (err) return cb(err);
      cb(null, originAllowed(requestOrigin, value));
    });
  };
  const preflightAllowed = (req) => {
    if (!checkPreflight) return true;
    const method = req.headers['access-control-request-method'];
    const wildcard = !credentials; // `*` allows any method or header only without credentials
    if (method && !SAFELISTED_METHODS.has(method) && !methods.includes(method) && !(wildcard && methods.includes('*'))) return false;
    if (!allowedHeaders) return true; // the `cors` default: the asked headers are reflected
    const allowed = listOf(allowedHeaders).map((h) => h.toLowerCase());
    if (wildcard && allowed.includes('*')) return true;
    const asked = listOf(req.headers['access-control-request-headers'] || '').map((h) => h.toLowerCase());
    return asked.every((h) => allowed.includes(h));
  };
  return {
    native: { cors: 'host', corsCredentials: origin === '*' ? false : credentials },
    decide(req, cb) {
      allowedOrigin(req.headers.origin, (err, allowed) => {
        if (err) return cb(err);
        cb(null, allowed && (req.method !== 'OPTIONS' || preflightAllowed(req)));
      });
    },
  };
}

module.exports = { checkOptions, compressionSettings, cookieSettings, corsPolicy, isDefaultAdapter, recoverySettings, tlsFiles, DOCS };
