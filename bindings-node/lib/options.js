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
  parser: (v) => {
    parserSetting(v);
  },
  connectionStateRecovery: (v) => {
    recoverySettings(v);
  },
  cleanupEmptyChildNamespaces: (v, name) => {
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`rtio: option "${name}" must be a boolean`);
  },
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
  perMessageDeflate: (v) => {
    perMessageDeflateSettings(v);
  },
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
  allowEIO3: (v, name) => {
    if (v !== undefined && typeof v !== 'boolean') throw new TypeError(`rtio: option "${name}" must be a boolean`);
  },
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

/**
 * rtio's own export for `parser`: socket.io-msgpack-parser's wire format, encoded and decoded
 * by rtio's core (`new Server({ parser: msgpackParser })`, the same as passing
 * `require('socket.io-msgpack-parser')`).
 */
const msgpackParser = Object.freeze({ name: 'msgpack', protocol: 5 });

/**
 * The package name of the installed parser module `v` is (from require's cache): its
 * exports, or an object with the same Encoder and Decoder (an ES module namespace,
 * `import * as parser from '...'`).
 */
function packageOf(v) {
  for (const mod of Object.values(require.cache)) {
    const e = mod && mod.exports;
    if (!e || (e !== v && (typeof e.Encoder !== 'function' || e.Encoder !== v.Encoder || e.Decoder !== v.Decoder))) continue;
    const parts = mod.filename.split(path.sep);
    const at = parts.lastIndexOf('node_modules');
    if (at >= 0 && at + 1 < parts.length) {
      const scoped = parts[at + 1].startsWith('@');
      return scoped ? `${parts[at + 1]}/${parts[at + 2]}` : parts[at + 1];
    }
  }
  return undefined;
}

/** socket.io-msgpack-parser's module (as the app or any package of it loaded it). */
function isMsgpackParser(v) {
  if (v === msgpackParser || v === 'msgpack') return true;
  if (!v || typeof v !== 'object' || typeof v.Encoder !== 'function' || typeof v.Decoder !== 'function') return false;
  return packageOf(v) === 'socket.io-msgpack-parser' || appModules('socket.io-msgpack-parser').some((mod) => v === mod);
}

/**
 * socket.io's `parser` option -> the core's packet encoding, `'default'` or `'msgpack'`:
 * socket.io-parser (the default) or socket.io-msgpack-parser (its module, or rtio's
 * `msgpackParser` export, or `'msgpack'`). Any other parser is refused: rtio's core encodes
 * and decodes packets itself, so a parser's JS code would never run.
 */
function parserSetting(v) {
  if (v === undefined || v === null || v === 'default' || isDefaultParser(v)) return 'default';
  if (isMsgpackParser(v)) return 'msgpack';
  return refuse('parser', 'rtio\'s core encodes packets itself and knows two formats: socket.io-parser\'s (the default) and socket.io-msgpack-parser\'s (`parser: require(\'socket.io-msgpack-parser\')`, or `require(\'rtio\').msgpackParser`); a custom parser is not supported');
}

/** What ws (and so engine.io) takes in `perMessageDeflate` besides `threshold`: zlib's tuning. */
const WS_DEFLATE_KEYS = ['serverNoContextTakeover', 'clientNoContextTakeover', 'serverMaxWindowBits', 'clientMaxWindowBits', 'zlibDeflateOptions', 'zlibInflateOptions', 'concurrencyLimit'];

/**
 * engine.io's `perMessageDeflate` (default false: off) as the core's settings:
 * `{perMessageDeflateThreshold}` when on. `true` is ws's default threshold, 1024 bytes; an
 * object `{threshold}` sets it. ws's zlib tuning keys are refused (rtio's core negotiates
 * RFC 7692 itself, always with server_no_context_takeover, so that a broadcast is compressed
 * once for every socket).
 */
function perMessageDeflateSettings(v) {
  if (v === undefined || v === null || v === false) return {};
  if (v === true) return { perMessageDeflateThreshold: 1024 };
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new TypeError('rtio: option "perMessageDeflate" must be a boolean or an object {threshold}');
  }
  for (const key of Object.keys(v)) {
    if (key !== 'threshold' && v[key] !== undefined) {
      const why = WS_DEFLATE_KEYS.includes(key)
        ? 'rtio\'s core negotiates permessage-deflate itself (server_no_context_takeover, so that a broadcast is compressed once) and takes perMessageDeflate.threshold only; remove it'
        : 'perMessageDeflate takes {threshold} only; remove it';
      refuse(`perMessageDeflate.${key}`, why);
    }
  }
  const threshold = v.threshold ?? 1024;
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 0) {
    throw new TypeError(`rtio: option "perMessageDeflate.threshold" must be a number of bytes, got ${threshold}`);
  }
  return { perMessageDeflateThreshold: threshold };
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
  if (v && typeof v === 'object' && packageOf(v) === 'socket.io-parser') return true;
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

module.exports = {
  checkOptions,
  compressionSettings,
  cookieSettings,
  corsPolicy,
  isDefaultAdapter,
  msgpackParser,
  parserSetting,
  perMessageDeflateSettings,
  recoverySettings,
  tlsFiles,
  DOCS,
};
