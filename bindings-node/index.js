'use strict';
// rtio for Node: socket.io 4's server API, with the socket work done by rtio's Rust core off
// the JS thread. `require('rtio')` where an app had `require('socket.io')`.
//
//   const { Server } = require('rtio');
//   const io = new Server(3000, { cors: { origin: '*' } });
//   io.on('connection', (socket) => socket.on('ping', (ack) => ack('pong')));
//
// Several servers (rtio's and Node socket.io's) share one cluster through Redis:
//   const { Server, createRedisAdapter } = require('rtio');
//   const io = new Server(3000);
//   io.adapter(createRedisAdapter('redis://127.0.0.1:6379'));
//
// Apps on socket.io-msgpack-parser keep their option: `parser: require('socket.io-msgpack-parser')`
// (or `parser: require('rtio').msgpackParser`); rtio's core speaks that wire format itself.

const { Server, Namespace, ParentNamespace, Socket, BroadcastOperator, RemoteSocket } = require('./lib/server');
const { createRedisAdapter, createShardedRedisAdapter } = require('./lib/cluster');
const { instrument } = require('./lib/admin');
const { msgpackParser } = require('./lib/options');

/** `require('rtio')(3000)` works as `require('socket.io')(3000)` does. */
function rtio(srv, opts) {
  return new Server(srv, opts);
}

rtio.Server = Server;
rtio.Namespace = Namespace;
rtio.ParentNamespace = ParentNamespace;
rtio.Socket = Socket;
rtio.BroadcastOperator = BroadcastOperator;
rtio.RemoteSocket = RemoteSocket;
rtio.createRedisAdapter = createRedisAdapter;
rtio.createShardedRedisAdapter = createShardedRedisAdapter;
rtio.instrument = instrument;
rtio.msgpackParser = msgpackParser;
rtio.default = rtio;

module.exports = rtio;
