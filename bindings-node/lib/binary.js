'use strict';
// Event arguments <-> what crosses to rtio's core: JSON array text plus binary attachments,
// with Socket.IO's own placeholders ({"_placeholder":true,"num":N}) where the binaries were.
// Outgoing: Buffers, ArrayBuffers and typed arrays / DataViews anywhere in the arguments become
// attachments. Incoming: attachments come back as Buffers (as Node socket.io gives them).

const hasOwn = Object.prototype.hasOwnProperty;

/** True for the values sent as binary attachments. */
function isBinary(value) {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) || // Buffer, typed arrays, DataView
    (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer)
  );
}

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (ArrayBuffer.isView(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return Buffer.from(value);
}

/** Whether `value` holds a binary anywhere (the same walk as socket.io-parser's `hasBinary`). */
function hasBinary(value, toJSONCalled) {
  if (!value || typeof value !== 'object') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasBinary(value[i])) return true;
    return false;
  }
  if (isBinary(value)) return true;
  if (typeof value.toJSON === 'function' && !toJSONCalled) return hasBinary(value.toJSON(), true);
  for (const key in value) {
    if (hasOwn.call(value, key) && hasBinary(value[key])) return true;
  }
  return false;
}

function deconstruct(value, bins) {
  if (!value || typeof value !== 'object') return value;
  if (isBinary(value)) {
    bins.push(toBuffer(value));
    return { _placeholder: true, num: bins.length - 1 };
  }
  if (Array.isArray(value)) {
    const out = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = deconstruct(value[i], bins);
    return out;
  }
  if (value instanceof Date) return value;
  const out = {};
  for (const key in value) {
    if (hasOwn.call(value, key)) out[key] = deconstruct(value[key], bins);
  }
  return out;
}

const isWellFormed = String.prototype.isWellFormed; // Node 20+
const LONE_SURROGATE = /[\ud800-\udfff]/; // (a pair matches too: then JSON.stringify decides)

/**
 * Whether the native side may write the JSON of `args` itself: every argument a string
 * without lone surrogates, a safe integer, a boolean or null (what most acks and many emits
 * carry). It does so faster than JSON.stringify (see bindings-node/src/args.rs).
 */
function isSimple(args) {
  for (let i = 0; i < args.length; i++) {
    const value = args[i];
    switch (typeof value) {
      case 'string':
        if (isWellFormed ? !isWellFormed.call(value) : LONE_SURROGATE.test(value)) return false;
        break;
      case 'number':
        if (!Number.isSafeInteger(value)) return false;
        break;
      case 'boolean':
        break;
      default:
        if (value !== null) return false;
    }
  }
  return true;
}

/**
 * Packs event arguments for the native side: `{ args, bins }` where `args` is the arguments
 * array itself when `isSimple`, else their JSON array text, and `bins` the attachments
 * (undefined when there are none).
 */
function pack(args) {
  if (isSimple(args)) return { args, bins: undefined };
  if (!hasBinary(args)) return { args: JSON.stringify(args), bins: undefined };
  const bins = [];
  const json = JSON.stringify(deconstruct(args, bins));
  return { args: json, bins };
}

/**
 * Unpacks event arguments from the native side: JSON array text and attachments into the
 * argument values (binaries as Buffers). Plain arguments come as values already (an array;
 * see bindings-node/src/batch.rs).
 */
function unpack(json, bins) {
  if (typeof json !== 'string') return json;
  if (!bins || bins.length === 0) return JSON.parse(json);
  return JSON.parse(json, (key, value) => {
    if (
      value !== null &&
      typeof value === 'object' &&
      value._placeholder === true &&
      Number.isInteger(value.num) &&
      value.num >= 0 &&
      value.num < bins.length
    ) {
      return bins[value.num];
    }
    return value;
  });
}

module.exports = { isBinary, hasBinary, pack, unpack };
