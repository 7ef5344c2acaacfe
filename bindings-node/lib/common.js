'use strict';

/** Event names a socket cannot emit (socket.io's own list). */
const RESERVED_EVENTS = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

/** Event names a namespace cannot broadcast. */
const NAMESPACE_RESERVED_EVENTS = new Set(['connect', 'connection', 'new_namespace']);

/**
 * The longest ack wait rtio's core is asked for when socket.io would wait forever (no
 * `timeout()`): the largest delay a JS timer takes, about 24.8 days.
 */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/** The error socket.io gives when an ack did not arrive in time. */
function timeoutError() {
  return new Error('operation has timed out');
}

/**
 * The error of a cluster operation that did not complete (`reason` as the core reports it):
 * socket.io's timeout error for a timeout.
 */
function clusterError(reason) {
  if (reason === 'operation has timed out') return timeoutError();
  return new Error(`rtio: ${reason}`);
}

/** The handshake's auth object from the core's JSON text (`{}` when absent or not an object). */
function parseAuth(json) {
  let auth;
  try {
    auth = JSON.parse(json);
  } catch {
    auth = {};
  }
  return auth && typeof auth === 'object' ? auth : {};
}

module.exports = { RESERVED_EVENTS, NAMESPACE_RESERVED_EVENTS, NO_TIMEOUT_MS, timeoutError, clusterError, parseAuth };
