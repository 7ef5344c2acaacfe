'use strict';
// The @socket.io/admin-ui dashboard on rtio's Node host (`instrument(io, opts)`): the official
// socket.io-client plays the dashboard, as the real one talks to a server (basic auth with a
// bcrypt hash and a session id, config, all_sockets, socket_connected / socket_disconnected,
// server_stats every 2 s, its emit / join / _disconnect commands).
const { describe, it, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const bcrypt = require('bcryptjs');
const { Server, instrument } = require('rtio');
const { client, connect, connected, closeClients, next, withTimeout, STEP_MS } = require('./helpers');

const servers = [];
function server(...args) {
  const io = new Server(...args);
  servers.push(io);
  return io;
}

afterEach(async () => {
  closeClients();
  await Promise.all(servers.splice(0).map((io) => io.close()));
});

const HASH = bcrypt.hashSync('s3cret', 4);

/** The next `event` on `socket` whose arguments satisfy `test`, within `ms`. */
function nextMatching(socket, event, test, ms = STEP_MS) {
  let listener;
  return withTimeout(
    new Promise((resolve) => {
      listener = (...args) => {
        if (test(...args)) resolve(args);
      };
      socket.on(event, listener);
    }),
    ms,
    `a matching "${event}"`,
  ).finally(() => socket.off(event, listener));
}

/** A dashboard client (listeners for what comes right after its connect put on at once). */
function dashboard(port, auth, nsp = '/admin') {
  const socket = client(port, { nsp, auth, transports: ['polling', 'websocket'] });
  const early = {
    session: next(socket, 'session'),
    config: next(socket, 'config'),
    allSockets: next(socket, 'all_sockets'),
  };
  for (const p of Object.values(early)) p.catch(() => {});
  return { socket, early };
}

describe('instrument(io) — the @socket.io/admin-ui dashboard', () => {
  it('refuses a missing auth option and a password that is not a bcrypt hash', () => {
    const io = server();
    assert.throws(() => instrument(io, {}), /`auth` option must be specified/);
    assert.throws(() => instrument(io, { auth: { type: 'basic', username: 'a', password: 'plain' } }), /valid bcrypt hash/);
    assert.throws(() => instrument(io, { auth: { type: 'digest' } }), /invalid `auth` option/);
  });

  it('logs a dashboard in, lists the sockets, reports them coming and going, sends stats, obeys emit and _disconnect', async () => {
    const io = server(0);
    instrument(io, { auth: { type: 'basic', username: 'admin', password: HASH }, serverId: 'node-test' });
    io.of('/chat'); // a second namespace, listed too
    const port = io.address().port;
    const existing = await connect(port);

    // a refused login
    const refused = client(port, { nsp: '/admin', auth: { username: 'admin', password: 'wrong' } });
    const [err] = await next(refused, 'connect_error');
    assert.equal(err.message, 'invalid credentials');

    const { socket: admin, early } = dashboard(port, { username: 'admin', password: 's3cret' });
    await connected(admin);
    const [sessionId] = await early.session;
    assert.match(sessionId, /^[0-9a-f]{16}$/);
    const [config] = await early.config;
    assert.deepEqual(config.supportedFeatures, ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'ALL_EVENTS']);
    const [all] = await early.allSockets;
    const listed = all.find((s) => s.id === existing.id);
    assert.ok(listed, `all_sockets lists the client already connected: ${JSON.stringify(all.map((s) => s.id))}`);
    assert.equal(listed.nsp, '/');
    assert.equal(listed.transport, 'websocket');
    assert.deepEqual(listed.rooms, [existing.id]);
    assert.equal(listed.handshake.address, '127.0.0.1');
    assert.equal(typeof listed.handshake.headers, 'object');
    assert.ok(all.some((s) => s.nsp === '/admin' && s.id === admin.id), 'the dashboard itself is listed');

    // stats within 3 s (the first came at instrument(), before the dashboard joined)
    const [stats] = await next(admin, 'server_stats', 3000);
    assert.equal(stats.serverId, 'node-test');
    assert.equal(stats.pid, process.pid);
    assert.ok(stats.clientsCount >= 2, `clientsCount ${stats.clientsCount}`);
    // (the refused client's connection may still be closing at the first stats)
    await nextMatching(admin, 'server_stats', (s) => s.clientsCount === 2);
    assert.ok(stats.uptime > 0);
    const names = stats.namespaces.map((n) => n.name).sort();
    assert.deepEqual(names, ['/', '/admin', '/chat']);
    assert.equal(stats.namespaces.find((n) => n.name === '/').socketsCount, 1);

    // a socket comes
    const connectedEvent = nextMatching(admin, 'socket_connected', (s) => s.nsp === '/chat');
    const other = await connect(port, { nsp: '/chat', query: { who: 'other' } });
    const [socketInfo, at] = await connectedEvent;
    assert.equal(socketInfo.id, other.id);
    assert.equal(socketInfo.handshake.query.who, 'other');
    assert.ok(!Number.isNaN(Date.parse(at)));

    // the dashboard emits to every socket of "/"
    const got = next(existing, 'hello');
    admin.emit('emit', '/', '', 'hello', 'from', { the: 'dashboard' });
    assert.deepEqual(await got, ['from', { the: 'dashboard' }]);

    // to a room only: the dashboard makes the "/chat" socket join one, then emits to it
    const toRoom = next(other, 'to-room');
    admin.emit('join', '/chat', 'vip', other.id);
    await withTimeout(
      (async () => {
        while (!io.of('/chat').sockets.get(other.id).rooms.has('vip')) await new Promise((r) => setTimeout(r, 10));
      })(),
      STEP_MS,
      'the socket to join "vip"',
    );
    admin.emit('emit', '/chat', 'vip', 'to-room', 1);
    assert.deepEqual(await toRoom, [1]);

    // _disconnect: the dashboard disconnects the "/chat" client only
    const otherId = other.id; // (the client forgets it when disconnected)
    const gone = nextMatching(admin, 'socket_disconnected', (nsp, id) => id === otherId);
    const [reason] = await Promise.all([next(other, 'disconnect'), admin.emit('_disconnect', '/chat', false, other.id)]).then(
      ([args]) => args,
    );
    assert.equal(reason, 'io server disconnect');
    const [nsp, id, why] = await gone;
    assert.equal(nsp, '/chat');
    assert.equal(id, otherId);
    assert.equal(why, 'server namespace disconnect');
    assert.ok(existing.connected, 'the client of "/" stays connected');

    // the dashboard reconnects with its session id, no password
    const again = dashboard(port, { sessionId });
    await connected(again.socket);
    await again.early.config;
  });

  it('read-only and production mode: no commands, no socket list', async () => {
    const io = server(0);
    instrument(io, { auth: false, readonly: true, mode: 'production', namespaceName: '/dash' });
    const port = io.address().port;
    const existing = await connect(port);
    const { socket: admin, early } = dashboard(port, {}, '/dash');
    await connected(admin);
    const [config] = await early.config;
    assert.deepEqual(config.supportedFeatures, []);
    await assert.rejects(withTimeout(early.allSockets, 300, 'all_sockets'), /timed out/);
    const [stats] = await next(admin, 'server_stats', 3000);
    assert.equal(stats.clientsCount, 2);
    let got = false;
    existing.on('nope', () => (got = true));
    admin.emit('emit', '/', '', 'nope');
    admin.emit('_disconnect', '/', false);
    await next(admin, 'server_stats', 3000); // the commands had time to arrive
    assert.equal(got, false);
    assert.ok(existing.connected);
  });
});
