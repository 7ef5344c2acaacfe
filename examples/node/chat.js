// Chat (seed 001), written with socket.io 4's API: the only change from a socket.io app is
// `require('rtio')` instead of `require('socket.io')`.
//
//   PORT=3000 node chat.js     clients emit `toServer` {nome, msg}; everyone gets `toClient`
'use strict';

const { Server } = require('rtio');

const port = Number(process.env.PORT || 3000);
const io = new Server(port, { cors: { origin: '*' } });

io.on('connection', (socket) => {
  socket.on('toServer', ({ nome, msg }) => {
    const line = `${nome}:${msg}`;
    socket.emit('toClient', line); // the sender sees its own line
    socket.broadcast.emit('toClient', line); // and so does everyone else
  });
});

console.log(`chat listening on port ${port}`);
