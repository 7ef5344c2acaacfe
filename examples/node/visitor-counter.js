// Online visitor counter (seed 000), written with socket.io 4's API: the only change from a
// socket.io app is `require('rtio')` instead of `require('socket.io')`.
//
//   PORT=3000 node visitor-counter.js     then connect socket.io clients: each gets `visits`
'use strict';

const { Server } = require('rtio');

const port = Number(process.env.PORT || 3000);
const io = new Server(port, { cors: { origin: '*' } });

io.on('connection', (socket) => {
  // everyone, the newcomer included, learns how many are here
  io.emit('visits', io.of('/').sockets.size);

  socket.on('disconnect', () => {
    io.emit('visits', io.of('/').sockets.size);
  });
});

console.log(`visitor counter listening on port ${port}`);
