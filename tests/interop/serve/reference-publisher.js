// The reference for `rtio serve`'s HTTP publish API in the benchmark (issue 18 item 6,
// bench/README.md, scenario `publish`): what a team writes today with Node, Express and
// socket.io 4.8 to let a PHP/Ruby/Python backend publish to Socket.IO clients over HTTP.
//
//   node tests/interop/serve/reference-publisher.js [--host H] [--port N] [--api-key KEY]
//
// POST /api/emit {"event", "args", "to", "except", "nsp"} with `Authorization: Bearer KEY`
// → io.of(nsp).to(to).except(except).emit(event, ...args), answers {"ok":true} (401 without
// the key, 400 for a body without an event). Prints
// `reference-publisher: listening on http://HOST:PORT/socket.io/` once listening (the same
// kind of line `rtio serve` prints); SIGTERM or SIGINT closes it.
'use strict';

const express = require('express');

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = flag('--host', '127.0.0.1');
const port = Number(flag('--port', '0'));
const apiKey = flag('--api-key', process.env.RTIO_API_KEY || '');

const app = express();
const http = require('http').Server(app);
const io = require('socket.io')(http);

const rooms = (v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

app.post('/api/emit', express.json({ limit: '1mb' }), (req, res) => {
  if (!apiKey || req.get('authorization') !== `Bearer ${apiKey}`) {
    res.status(401).json({ ok: false, error: 'missing or wrong API key' });
    return;
  }
  const { event, args = [], to, except, nsp = '/' } = req.body || {};
  if (typeof event !== 'string' || !Array.isArray(args)) {
    res.status(400).json({ ok: false, error: 'event must be a string and args an array' });
    return;
  }
  io.of(nsp).to(rooms(to)).except(rooms(except)).emit(event, ...args);
  res.json({ ok: true });
});

http.listen(port, host, () => {
  const { port: bound } = http.address();
  console.log(`reference-publisher: listening on http://${host}:${bound}/socket.io/`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    io.close();
    http.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
