'use strict';
// The HTTP request socket.io hands to `allowRequest` and shows as `socket.request`: rtio's
// core keeps no Node request objects, so this is a plain object with the parts of
// `http.IncomingMessage` (and engine.io's `_query`) that gates and handlers read.

/** engine.io's `req._query`: the query parameters as an object (the last of a repeated name). */
function queryOf(url) {
  const query = {};
  for (const [key, value] of new URL(url, 'https://socket.io').searchParams) query[key] = value;
  return query;
}

/**
 * A request as `http.IncomingMessage` shows it: `method`, `url`, `headers` (names in lower
 * case), `httpVersion`, `socket` / `connection` (`remoteAddress`, `remotePort`, `encrypted`)
 * and engine.io's `_query`.
 */
function incomingMessage({ method, url, headers, remoteAddress, remotePort }) {
  const socket = {
    remoteAddress,
    remotePort,
    remoteFamily: remoteAddress.includes(':') ? 'IPv6' : 'IPv4',
    encrypted: false,
  };
  return {
    method,
    url,
    headers,
    httpVersion: '1.1',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    socket,
    connection: socket,
    _query: queryOf(url),
  };
}

module.exports = { incomingMessage };
