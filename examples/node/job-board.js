// Job board (seed 003), written with socket.io 4's API: the only change from a socket.io app
// is `require('rtio')` instead of `require('socket.io')`.
//
//   PORT=3000 node job-board.js
//   clients emit `client:created:job` with a job (and may ask for an ack: they get its id);
//   every client gets `server:created:job`; a newcomer gets `server:jobs` with the board so far
'use strict';

const { Server } = require('rtio');

const port = Number(process.env.PORT || 3000);
const io = new Server(port, { cors: { origin: '*' } });
const jobs = [];

io.on('connection', (socket) => {
  socket.emit('server:jobs', jobs);

  socket.on('client:created:job', (job, ack) => {
    jobs.push(job);
    io.emit('server:created:job', job);
    if (typeof ack === 'function') ack({ id: jobs.length });
  });
});

console.log(`job board listening on port ${port}`);
