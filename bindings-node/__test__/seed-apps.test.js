'use strict';
// The seed apps of examples/node (visitor counter, chat, job board, and the Express ones) are
// socket.io apps with only the require changed. Each runs twice, unchanged on rtio and with `require('socket.io')`
// put back on the real socket.io 4.8 (from tests/interop), and the same client checks pass on
// both.
const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { io: connectClient } = require('socket.io-client');
const { Recorder, STEP_MS, startProcess, freePort, withTimeout, seedAppFile, haveSocketIo } = require('./helpers');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-seed-apps-'));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const appFile = (app, kind) => seedAppFile(work, app, kind);

const clients = [];
function client(port, options = {}) {
  const socket = connectClient(`http://127.0.0.1:${port}`, { forceNew: true, reconnection: false, ...options });
  clients.push(socket);
  const recorder = new Recorder(socket);
  recorder.connected = withTimeout(new Promise((resolve) => socket.once('connect', resolve)), STEP_MS, 'connect');
  return recorder;
}

async function run(app, kind, check) {
  const port = await freePort();
  const server = await startProcess(appFile(app, kind), [], {
    env: { PORT: String(port) },
    ready: /listening on port (\d+)/,
  });
  try {
    await check(port);
  } finally {
    for (const socket of clients.splice(0)) socket.disconnect();
    await server.kill();
  }
}

const checks = {
  // rtio attached to Express's http.Server: the app's routes and Socket.IO on one port
  'express-chat': async (port) => {
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).ok, true);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.match(await page.text(), /socket\.io\/socket\.io\.js/);
    const bundle = await fetch(`http://127.0.0.1:${port}/socket.io/socket.io.js`);
    assert.equal(bundle.status, 200);
    await bundle.text();
    const a = client(port, { transports: ['polling'] });
    const b = client(port, { transports: ['websocket'] });
    const c = client(port);
    await Promise.all([a.connected, b.connected, c.connected]);
    assert.equal((await (await fetch(`http://127.0.0.1:${port}/health`)).json()).clients, 3);
    a.socket.emit('chat message', 'hello');
    for (const r of [a, b, c]) assert.equal(await r.value('chat message'), 'hello');
  },

  // the visitor counter and the chat on Express, as the tutorials write them (the browser test
  // express-seed-browser.test.mjs drives its page in Chromium)
  'express-seed': async (port) => {
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-powered-by'), 'Express', 'the page comes from the app\'s own route');
    assert.match(await page.text(), /<script src="\/socket\.io\/socket\.io\.js">/);
    const a = client(port, { transports: ['polling'] });
    await a.connected;
    assert.equal(await a.value('visits'), 1);
    const b = client(port, { transports: ['websocket'] });
    await b.connected;
    assert.equal(await a.value('visits'), 2);
    assert.equal(await b.value('visits'), 2);
    b.socket.emit('toServer', { nome: 'bia', msg: 'oi' });
    assert.equal(await a.value('toClient'), 'bia:oi');
    assert.equal(await b.value('toClient'), 'bia:oi');
    b.socket.disconnect();
    assert.equal(await a.value('visits'), 1);
  },

  'visitor-counter': async (port) => {
    const a = client(port);
    await a.connected;
    assert.equal(await a.value('visits'), 1);
    const b = client(port, { transports: ['websocket'] });
    await b.connected;
    assert.equal(await a.value('visits'), 2);
    assert.equal(await b.value('visits'), 2);
    b.socket.disconnect();
    assert.equal(await a.value('visits'), 1);
  },

  chat: async (port) => {
    const a = client(port);
    const b = client(port, { transports: ['websocket'] });
    await Promise.all([a.connected, b.connected]);
    a.socket.emit('toServer', { nome: 'ana', msg: 'olá' });
    assert.equal(await a.value('toClient'), 'ana:olá');
    assert.equal(await b.value('toClient'), 'ana:olá');
    b.socket.emit('toServer', { nome: 'bia', msg: 'oi' });
    assert.equal(await b.value('toClient'), 'bia:oi');
    assert.equal(await a.value('toClient'), 'bia:oi');
    assert.deepEqual(a.pending('toClient'), []);
  },

  'job-board': async (port) => {
    const a = client(port);
    const b = client(port, { transports: ['polling'] });
    await Promise.all([a.connected, b.connected]);
    assert.deepEqual(await a.value('server:jobs'), []);
    const job = { title: 'Rust developer', company: 'rtio', remote: true };
    const ack = await withTimeout(a.socket.emitWithAck('client:created:job', job), STEP_MS, 'the ack');
    assert.deepEqual(ack, { id: 1 });
    assert.deepEqual(await a.value('server:created:job'), job);
    assert.deepEqual(await b.value('server:created:job'), job);
    const c = client(port);
    await c.connected;
    assert.deepEqual(await c.value('server:jobs'), [job]);
  },
};

for (const [app, check] of Object.entries(checks)) {
  describe(`seed app ${app}`, () => {
    it('on rtio (examples/node, unchanged)', () => run(app, 'rtio', check));
    it('on socket.io 4.8 (the same file with require("socket.io"))', { skip: haveSocketIo ? false : 'tests/interop dependencies not installed' }, () =>
      run(app, 'socket.io', check),
    );
  });
}
