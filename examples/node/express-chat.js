// The tutorials' chat on Express (socket.io's "Get started"): Express serves the page and its
// own routes, Socket.IO shares its http.Server on one port. The only change from a socket.io
// app is `require('rtio')` instead of `require('socket.io')`.
//
//   PORT=3000 node express-chat.js     open http://localhost:3000 in two tabs
'use strict';

const express = require('express');
const socketio = require('rtio');

const app = express();
const http = require('http').Server(app);
const io = socketio(http);
const port = Number(process.env.PORT || 3000);

const page = `<!doctype html>
<title>chat</title>
<ul id="messages"></ul>
<form id="form"><input id="input" autocomplete="off"><button>Send</button></form>
<script src="/socket.io/socket.io.js"></script>
<script>
  const socket = io();
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (input.value) socket.emit('chat message', input.value);
    input.value = '';
  });
  socket.on('chat message', (msg) => {
    const item = document.createElement('li');
    item.textContent = msg;
    messages.appendChild(item);
  });
</script>`;

app.get('/', (req, res) => res.send(page));
app.get('/health', (req, res) => res.json({ ok: true, clients: io.engine.clientsCount }));

io.on('connection', (socket) => {
  socket.on('chat message', (msg) => io.emit('chat message', msg));
});

http.listen(port, () => console.log(`express chat listening on port ${port}`));
