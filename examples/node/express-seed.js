// The seed apps (visitor counter and chat) the way the tutorials write them on Express: Express
// serves the page from its own route, Socket.IO shares its http.Server, and the browser loads the
// client bundle from /socket.io/socket.io.js on the same port. The only change from a socket.io
// app is `require('rtio')` instead of `require('socket.io')`.
//
//   PORT=3000 node express-seed.js     open http://localhost:3000 in two tabs
'use strict';

const express = require('express');

const app = express();
const http = require('http').Server(app);
const io = require('rtio')(http);

const page = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>visitors and chat</title>
<p>Online now: <span id="visits">0</span> <span id="status">connecting…</span></p>
<ul id="log"></ul>
<form id="chat">
  <input id="nome" placeholder="name" size="10" required>
  <input id="msg" placeholder="message" autocomplete="off" required>
  <button>Send</button>
</form>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  const $ = (id) => document.getElementById(id);
  $('nome').value = 'guest' + Math.floor(Math.random() * 1000);
  socket.on('connect', () => { $('status').textContent = 'connected'; });
  socket.on('disconnect', () => { $('status').textContent = 'disconnected'; });
  socket.on('visits', (n) => { $('visits').textContent = n; });
  socket.on('toClient', (line) => {
    const li = document.createElement('li');
    li.textContent = line;
    $('log').appendChild(li);
  });
  $('chat').addEventListener('submit', (e) => {
    e.preventDefault();
    socket.emit('toServer', { nome: $('nome').value, msg: $('msg').value });
    $('msg').value = '';
  });
</script>
</html>`;

app.get('/', (req, res) => res.send(page));

io.on('connection', (socket) => {
  // everyone, the newcomer included, learns how many are here
  io.emit('visits', io.of('/').sockets.size);
  socket.on('disconnect', () => io.emit('visits', io.of('/').sockets.size));

  socket.on('toServer', ({ nome, msg }) => io.emit('toClient', `${nome}:${msg}`));
});

// PORT=0 picks a free port: the line tells which
http.listen(Number(process.env.PORT || 3000), () => {
  console.log(`express seed listening on port ${http.address().port}`);
});
