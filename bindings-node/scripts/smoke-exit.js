// Run by smoke.test.js in the fresh project: serve one client, then close; the process must
// exit by itself.
'use strict';
const { Server } = require('rtio');
const { io: connect } = require('socket.io-client');

const io = new Server(0, { host: '127.0.0.1' });
io.on('connection', (socket) => socket.on('bye', () => io.close(() => console.log('CLOSED'))));
const client = connect(`http://127.0.0.1:${io.address().port}`, { reconnection: false });
client.on('connect', () => client.emit('bye'));
