// `rtio serve` (issue 18) with the official socket.io-client: the CLI and its configuration,
// the HTTP publish API, the backend's connect decisions (auth URL, JWT), webhooks, health,
// metrics and a clean stop. The backend is a real HTTP server (lib.mjs).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, RTIO, STEP_MS, backend, call, connect, io, refused, run, serve, waitFor, withTimeout } from './lib.mjs';

const KEY = 'k-3f9a';
const dir = mkdtempSync(path.join(tmpdir(), 'rtio-serve-'));

/** Resolves with the args of the next `event` on `socket`. */
const next = (socket, event) => waitFor(socket, event);

/** Fails if `event` comes on `socket` within `ms`. */
async function nothing(socket, event, ms = 300) {
  let got = null;
  const on = (...args) => (got = args);
  socket.on(event, on);
  await new Promise((resolve) => setTimeout(resolve, ms));
  socket.off(event, on);
  assert.equal(got, null, `unexpected ${event}: ${JSON.stringify(got)}`);
}

describe('the command line and its configuration', () => {
  it('--help lists the commands and every flag of serve', async () => {
    const top = await run(['--help']);
    assert.equal(top.code, 0);
    assert.match(top.stdout, /serve/);
    assert.match(top.stdout, /check-config/);
    const help = await run(['serve', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--config', '--host', '--port', '--static', '--api-key', '--api-listen', '--redis', '--auth-url', '--webhook-url', '--cors']) {
      assert.ok(help.stdout.includes(flag), `serve --help lacks ${flag}`);
    }
    assert.match(help.stdout, /RTIO_API_KEY/);
  });

  it('check-config names the bad key and its line; a good file passes', async () => {
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, 'port = 3000\n[api]\nkey = "x"\nlisten_on = "127.0.0.1:1"\n');
    const out = await run(['check-config', bad]);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /line 4/);
    assert.match(out.stderr, /listen_on/);
    const wrongType = path.join(dir, 'type.toml');
    writeFileSync(wrongType, 'port = "three thousand"\n');
    const typed = await run(['check-config', wrongType]);
    assert.equal(typed.code, 2);
    assert.match(typed.stderr, /line 1/);
    const good = path.join(dir, 'good.toml');
    writeFileSync(good, 'port = 3000\nnamespaces = ["/", "/team-*"]\n[api]\nkey = "x"\n[webhook]\nurl = "http://127.0.0.1:9/hook"\nevents = ["client:*"]\n');
    const ok = await run(['check-config', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /OK/);
  });

  it('serve refuses a bad setting with a clear error and exit code 2', async () => {
    const out = await run(['serve', '--port', '0', '--webhook-url', 'ftp://x']);
    assert.equal(out.code, 2);
    assert.match(out.stderr, /webhook url/);
  });

  it('settings come from the file, then RTIO_* variables, then flags', async () => {
    const file = path.join(dir, 'layers.toml');
    writeFileSync(file, '[api]\nkey = "from-file"\n');
    const s = await serve(['--config', file, '--api-key', 'from-flag'], { env: { RTIO_API_KEY: 'from-env' } });
    try {
      assert.equal((await call(s.url, '/api/stats', { key: 'from-flag' })).status, 200);
      assert.equal((await call(s.url, '/api/stats', { key: 'from-env' })).status, 401);
    } finally {
      await s.stop();
    }
    const e = await serve(['--config', file], { env: { RTIO_API_KEY: 'from-env' } });
    try {
      assert.equal((await call(e.url, '/api/stats', { key: 'from-env' })).status, 200);
      assert.equal((await call(e.url, '/api/stats', { key: 'from-file' })).status, 401);
    } finally {
      await e.stop();
    }
  });
});

describe('the HTTP publish API', () => {
  let s;
  before(async () => {
    s = await serve(['--api-key', KEY, '--namespace', '/', '--namespace', '/admin']);
  });
  after(() => s.stop());

  it('serves the socket.io-client bundle with no file beside the binary', async () => {
    const res = await call(s.url, '/socket.io/socket.io.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /javascript/);
    const npm = readFileSync(path.join(ROOT, 'tests/interop/node_modules/socket.io-client/dist/socket.io.min.js'), 'utf8');
    assert.equal(res.text, npm);
    for (const name of ['socket.io.esm.min.js', 'socket.io.msgpack.min.js']) {
      const other = await call(s.url, `/socket.io/${name}`);
      assert.equal(other.status, 200, name);
      const dist = readFileSync(path.join(ROOT, `tests/interop/node_modules/socket.io-client/dist/${name}`), 'utf8');
      assert.equal(other.text, dist, name);
    }
  });

  it('POST /api/emit reaches every client, over websocket and polling', async () => {
    const ws = await connect(s.url, { transports: ['websocket'] });
    const polling = await connect(s.url, { transports: ['polling'] });
    try {
      const got = Promise.all([next(ws, 'server:created:job'), next(polling, 'server:created:job')]);
      const res = await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'server:created:job', args: [{ id: 7, title: 'Welder' }, 'x'] } });
      assert.deepEqual(res.json, { ok: true });
      for (const args of await got) assert.deepEqual(args, [{ id: 7, title: 'Welder' }, 'x']);
    } finally {
      ws.close();
      polling.close();
    }
  });

  it('rooms: join by sid, emit to / except rooms, leave, list sockets, disconnect', async () => {
    const a = await connect(s.url, { transports: ['websocket'] });
    const b = await connect(s.url, { transports: ['websocket'] });
    try {
      const join = await call(s.url, '/api/join', { method: 'POST', key: KEY, body: { sid: a.id, room: 'team' } });
      assert.deepEqual(join.json, { ok: true });
      const toTeam = next(a, 'note');
      await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'note', args: ['team only'], to: ['team'] } });
      assert.deepEqual(await toTeam, ['team only']);
      await nothing(b, 'note');
      const others = next(b, 'note');
      await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'note', args: ['not team'], except: ['team'] } });
      assert.deepEqual(await others, ['not team']);
      await nothing(a, 'note');

      const listed = await call(s.url, '/api/sockets?nsp=%2F&room=team', { key: KEY });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.json.sockets.map((x) => x.id), [a.id]);
      assert.ok(listed.json.sockets[0].rooms.includes('team'));

      // every socket of the room `team` joins `vip`, then leaves `team`
      await call(s.url, '/api/join', { method: 'POST', key: KEY, body: { in: ['team'], room: 'vip' } });
      await call(s.url, '/api/leave', { method: 'POST', key: KEY, body: { sid: a.id, room: 'team' } });
      const vip = await call(s.url, '/api/sockets?room=vip', { key: KEY });
      assert.deepEqual(vip.json.sockets.map((x) => x.id), [a.id]);
      assert.equal((await call(s.url, '/api/sockets?room=team', { key: KEY })).json.sockets.length, 0);

      const stats = await call(s.url, '/api/stats', { key: KEY });
      assert.equal(stats.json.namespaces['/'].sockets, 2);

      const gone = next(a, 'disconnect');
      await call(s.url, '/api/disconnect', { method: 'POST', key: KEY, body: { in: ['vip'] } });
      assert.equal((await gone)[0], 'io server disconnect');
      assert.equal(b.connected, true);
    } finally {
      a.close();
      b.close();
    }
  });

  it('POST /api/batch applies its commands in order, on other namespaces too', async () => {
    const admin = await connect(s.url, { nsp: '/admin', transports: ['websocket'] });
    try {
      const got = [];
      const both = new Promise((resolve) =>
        admin.on('step', (n) => {
          got.push(n);
          if (got.length === 2) resolve();
        }),
      );
      const res = await call(s.url, '/api/batch', {
        method: 'POST',
        key: KEY,
        body: [
          { op: 'join', nsp: '/admin', sid: admin.id, room: 'ops' },
          { op: 'emit', nsp: '/admin', event: 'step', args: [1], to: ['ops'] },
          { op: 'emit', nsp: '/admin', event: 'step', args: [2] },
        ],
      });
      assert.deepEqual(res.json, { ok: true, count: 3 });
      await withTimeout(both, STEP_MS, 'two steps');
      assert.deepEqual(got, [1, 2]);
    } finally {
      admin.close();
    }
  });

  it('a wrong or missing key is 401; bad input is 400 naming the field, and changes nothing', async () => {
    const c = await connect(s.url, { transports: ['websocket'] });
    try {
      const noKey = await call(s.url, '/api/emit', { method: 'POST', body: { event: 'x' } });
      assert.equal(noKey.status, 401);
      assert.match(noKey.headers.get('www-authenticate'), /Bearer/);
      assert.equal((await call(s.url, '/api/emit', { method: 'POST', key: 'wrong', body: { event: 'x' } })).status, 401);

      const cases = [
        [{ event: 'x', argz: [] }, /argz/],
        [{ event: 'x', to: 'room' }, /^to:/],
        [{ event: 5 }, /^event:/],
        [{ event: 'disconnect' }, /reserved/],
        [{ event: 'x', nsp: '/nope' }, /^nsp:/],
        ['{"event": "x"', /EOF|end/i],
      ];
      for (const [body, message] of cases) {
        const res = await call(s.url, '/api/emit', { method: 'POST', key: KEY, body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(res.json.ok, false);
        assert.match(res.json.error, message);
      }
      // a batch with one bad command applies none of them
      const batch = await call(s.url, '/api/batch', {
        method: 'POST',
        key: KEY,
        body: [{ op: 'emit', event: 'x', args: [1] }, { op: 'join', sid: c.id }],
      });
      assert.equal(batch.status, 400);
      assert.match(batch.json.error, /\[1\].*room/);
      assert.equal((await call(s.url, '/api/join', { method: 'POST', key: KEY, body: { room: 'r' } })).status, 400);
      assert.equal((await call(s.url, '/api/emit', { key: KEY })).status, 405);
      assert.equal((await call(s.url, '/api/nope', { method: 'POST', key: KEY, body: {} })).status, 404);
      // nothing reached the client: the first event it gets is the one sent now
      const first = next(c, 'x');
      await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'x', args: ['after'] } });
      assert.deepEqual(await first, ['after']);
    } finally {
      c.close();
    }
  });

  it('/health and /metrics', async () => {
    const health = await call(s.url, '/health');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    const metrics = await call(s.url, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.headers.get('content-type'), /text\/plain/);
    assert.match(metrics.text, /^rtio_api_requests_total\{endpoint="emit",status="200"\} \d+$/m);
    assert.match(metrics.text, /^rtio_api_requests_total\{endpoint="emit",status="401"\} \d+$/m);
    assert.match(metrics.text, /^rtio_connects_total\{nsp="\/"\} \d+$/m);
    assert.match(metrics.text, /^# TYPE rtio_sockets gauge$/m);
  });
});

describe('--api-listen keeps the API off the public port', () => {
  it('the API and /metrics answer only on the internal address', async () => {
    const probe = await serve([]);
    const internalPort = probe.port + 1; // any free port will do; retried below if taken
    await probe.stop();
    let s;
    for (let port = internalPort; !s; port++) {
      try {
        s = await serve(['--api-key', KEY, '--api-listen', `127.0.0.1:${port}`]);
        s.internal = `http://127.0.0.1:${port}`;
      } catch (e) {
        if (port > internalPort + 20) throw e;
      }
    }
    try {
      assert.equal((await call(s.url, '/api/stats', { key: KEY })).status, 404);
      assert.equal((await call(s.url, '/metrics')).status, 404);
      assert.equal((await call(s.internal, '/api/stats', { key: KEY })).status, 200);
      assert.equal((await call(s.internal, '/api/stats')).status, 401);
      assert.equal((await call(s.internal, '/metrics')).status, 200);
      const c = await connect(s.url, { transports: ['websocket'] });
      const got = next(c, 'hi');
      await call(s.internal, '/api/emit', { method: 'POST', key: KEY, body: { event: 'hi' } });
      assert.deepEqual(await got, []);
      c.close();
    } finally {
      await s.stop();
    }
  });
});

describe('the backend decides who connects (--auth-url)', () => {
  let app;
  let s;
  before(async () => {
    app = await backend((_path, body) => {
      if (body.auth?.user === 'ann') return { status: 200, body: { data: { user: 'ann', plan: 'pro' }, rooms: ['user:ann'] } };
      if (body.auth?.user === 'slow') return null;
      if (body.auth?.user === 'broken') return { status: 500, body: {} };
      return { status: 403, body: { message: 'not allowed', data: { reason: 'unknown user' } } };
    });
    const config = path.join(dir, 'auth.toml');
    writeFileSync(config, `[api]\nkey = "${KEY}"\n[auth]\nurl = "${app.url}/auth"\ntimeout = 1\n`);
    s = await serve(['--config', config]);
  });
  after(async () => {
    await s.stop();
    await app.close();
  });

  it('200 accepts: data becomes the socket\'s data, rooms are joined, before the client hears of it', async () => {
    const asked = app.next();
    const c = await connect(s.url, { auth: { user: 'ann' }, query: { v: '2' }, extraHeaders: { cookie: 'PHPSESSID=abc' }, transports: ['polling'] });
    try {
      const call0 = await asked;
      assert.equal(call0.path, '/auth');
      assert.equal(call0.body.nsp, '/');
      assert.deepEqual(call0.body.auth, { user: 'ann' });
      assert.equal(call0.body.query.v, '2');
      assert.equal(call0.body.headers.cookie, 'PHPSESSID=abc');
      assert.equal(call0.body.address, '127.0.0.1');
      const listed = await call(s.url, '/api/sockets?room=user%3Aann', { key: KEY });
      assert.deepEqual(listed.json.sockets.map((x) => [x.id, x.data]), [[c.id, { user: 'ann', plan: 'pro' }]]);
    } finally {
      c.close();
    }
  });

  it('401/403 refuse with the backend\'s message and data; 5xx and timeouts refuse clearly', async () => {
    const no = await refused(s.url, { auth: { user: 'bob' } });
    assert.equal(no.message, 'not allowed');
    assert.deepEqual(no.data, { reason: 'unknown user' });
    const broken = await refused(s.url, { auth: { user: 'broken' } });
    assert.match(broken.message, /authentication unavailable.*500/);
    const slow = await refused(s.url, { auth: { user: 'slow' } });
    assert.match(slow.message, /did not answer in time/);
  });
});

describe('JWT in auth.token (--jwt-secret)', () => {
  const secret = 'jwt-s3cret';
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const sign = (claims, key = secret) => {
    const head = b64({ alg: 'HS256', typ: 'JWT' });
    const body = b64(claims);
    const mac = createHmac('sha256', key).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${mac}`;
  };
  let s;
  before(async () => {
    s = await serve(['--api-key', KEY, '--jwt-secret', secret]);
  });
  after(() => s.stop());

  it('a valid token is accepted with its claims as data and its rooms joined', async () => {
    const now = Math.floor(Date.now() / 1000);
    const c = await connect(s.url, { auth: { token: sign({ sub: 'u42', rooms: ['board'], exp: now + 60 }) } });
    try {
      const got = next(c, 'job');
      await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'job', args: [1], to: ['board'] } });
      assert.deepEqual(await got, [1]);
      const listed = await call(s.url, '/api/sockets', { key: KEY });
      assert.equal(listed.json.sockets[0].data.sub, 'u42');
    } finally {
      c.close();
    }
  });

  it('an expired, forged or missing token is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal((await refused(s.url, { auth: { token: sign({ sub: 'u', exp: now - 10 }) } })).message, 'token expired');
    assert.match((await refused(s.url, { auth: { token: sign({ sub: 'u' }, 'other') } })).message, /invalid token/);
    assert.match((await refused(s.url, {})).message, /no auth.token/);
  });
});

describe('JWT with a public key ([jwt] public_key, RS256 and ES256)', () => {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  for (const [alg, type, options, dsaEncoding] of [
    ['RS256', 'rsa', { modulusLength: 2048 }, undefined],
    ['ES256', 'ec', { namedCurve: 'P-256' }, 'ieee-p1363'],
  ]) {
    it(`${alg}: a token signed with the private key is accepted, one signed with another key is not`, async () => {
      const pair = () => generateKeyPairSync(type, options);
      const { publicKey, privateKey } = pair();
      const other = pair().privateKey;
      const pem = path.join(dir, `${alg}.pem`);
      writeFileSync(pem, publicKey.export({ type: 'spki', format: 'pem' }));
      const config = path.join(dir, `${alg}.toml`);
      writeFileSync(config, `[jwt]\npublic_key = "${pem}"\nalgorithm = "${alg}"\n`);
      const sign = (claims, key) => {
        const data = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
        return `${data}.${cryptoSign('sha256', Buffer.from(data), { key, dsaEncoding }).toString('base64url')}`;
      };
      const s = await serve(['--config', config]);
      try {
        const c = await connect(s.url, { auth: { token: sign({ sub: 'k1', exp: Math.floor(Date.now() / 1000) + 60 }, privateKey) } });
        c.close();
        assert.match((await refused(s.url, { auth: { token: sign({ sub: 'k1' }, other) } })).message, /invalid token/);
      } finally {
        await s.stop();
      }
    });
  }
});

describe('client events go to the backend (--webhook-url)', () => {
  let app;
  let s;
  before(async () => {
    app = await backend((_path, body) => {
      if (body.event === 'ask') return { status: 200, body: { ack: ['answer', body.args[0] * 2], emit: [{ event: 'told', args: [body.sid], to: ['watchers'] }] } };
      if (body.event === 'fail') return { status: 502, body: {} };
      return { status: 200, body: {} };
    });
    s = await serve(['--api-key', KEY, '--webhook-url', `${app.url}/hook`]);
  });
  after(async () => {
    await s.stop();
    await app.close();
  });

  it('the backend gets {sid, nsp, event, args, data}; its answer is the ack and broadcasts', async () => {
    const asker = await connect(s.url, { transports: ['websocket'] });
    const watcher = await connect(s.url, { transports: ['polling'] });
    try {
      await call(s.url, '/api/join', { method: 'POST', key: KEY, body: { sid: watcher.id, room: 'watchers' } });
      const told = next(watcher, 'told');
      const posted = app.next();
      const ack = await withTimeout(asker.emitWithAck('ask', 21), STEP_MS, 'the ack');
      assert.deepEqual(ack, 'answer');
      const hook = await posted;
      assert.equal(hook.path, '/hook');
      assert.deepEqual(hook.body, { sid: asker.id, nsp: '/', event: 'ask', args: [21], data: null });
      assert.deepEqual(await told, [asker.id]);
    } finally {
      asker.close();
      watcher.close();
    }
  });

  it('a failing backend answers the ack with an error object and is counted; others are served', async () => {
    const c = await connect(s.url, { transports: ['websocket'] });
    try {
      const [answer] = await withTimeout(new Promise((resolve) => c.emit('fail', 1, (...a) => resolve(a))), STEP_MS, 'the ack');
      assert.match(answer.error, /502/);
      const got = next(c, 'still');
      await call(s.url, '/api/emit', { method: 'POST', key: KEY, body: { event: 'still' } });
      await got;
      const metrics = await call(s.url, '/metrics');
      assert.match(metrics.text, /^rtio_webhook_requests_total\{outcome="error"\} [1-9]/m);
      assert.match(metrics.text, /^rtio_webhook_requests_total\{outcome="ok"\} [1-9]/m);
    } finally {
      c.close();
    }
  });
});

describe('SIGTERM', () => {
  it('a webhook call in flight finishes before the process exits 0', async () => {
    let answered;
    const done = new Promise((resolve) => (answered = resolve));
    const app = await backend(
      () =>
        new Promise((resolve) =>
          setTimeout(() => {
            resolve({ status: 200, body: { ack: ['late'] } });
            answered();
          }, 400),
        ),
    );
    const s = await serve(['--webhook-url', `${app.url}/hook`]);
    try {
      const c = await connect(s.url, { transports: ['websocket'] });
      const called = app.next();
      c.emit('slow', 1, () => {});
      await called;
      const stopped = s.stop('SIGTERM');
      await withTimeout(done, STEP_MS, 'the backend to answer');
      assert.deepEqual(await stopped, { code: 0, signal: null });
      c.close();
    } finally {
      await app.close();
    }
  });

  it('clients of every transport get a proper disconnect and the process exits 0', async () => {
    const s = await serve([]);
    const ws = await connect(s.url, { transports: ['websocket'] });
    const polling = await connect(s.url, { transports: ['polling'] });
    const reasons = Promise.all([next(ws, 'disconnect'), next(polling, 'disconnect')]);
    const exited = await s.stop('SIGTERM');
    assert.deepEqual(exited, { code: 0, signal: null });
    for (const [reason] of await reasons) assert.ok(['io server disconnect', 'transport close'].includes(reason), reason);
  });
});

describe('the @socket.io/admin-ui dashboard ([admin])', () => {
  let s;
  let admin; // the dashboard, logged in by `before`
  let early; // a client that was there before it
  let arrivals; // what the dashboard gets on login
  const dashboard = (auth) => connect(s.url, { nsp: '/admin', auth, transports: ['websocket'] });
  before(async () => {
    const hashed = spawnSync(RTIO, ['hash-password'], { input: 'pa55\n', encoding: 'utf8' });
    assert.equal(hashed.status, 0, hashed.stderr);
    assert.match(hashed.stdout, /^\$2[aby]\$\d\d\$/);
    const config = path.join(dir, 'admin.toml');
    writeFileSync(config, `[admin]\nenabled = true\nusername = "admin"\npassword = "${hashed.stdout.trim()}"\n`);
    s = await serve(['--config', config]);
    early = await connect(s.url, { transports: ['polling'] });
    admin = io(`${s.url}/admin`, { forceNew: true, reconnection: false, auth: { username: 'admin', password: 'pa55' } });
    arrivals = await Promise.all([next(admin, 'session'), next(admin, 'config'), next(admin, 'all_sockets'), next(admin, 'connect')]);
  });
  after(async () => {
    admin?.close();
    early?.close();
    await s.stop();
  });

  it('logs in with basic auth, gets a session, the config, every socket and the stats', async () => {
    const socket = admin;
    const [[session], [config], [all]] = arrivals;
    assert.match(session, /^[0-9a-f]{16}$/);
    assert.deepEqual(config.supportedFeatures, ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT']);
    const mine = all.find((x) => x.id === early.id);
    assert.ok(mine, JSON.stringify(all));
    assert.equal(mine.nsp, '/');
    assert.equal(mine.transport, 'polling');
    assert.equal(mine.handshake.address, '127.0.0.1');
    assert.deepEqual(mine.rooms, [early.id]);
    const [stats] = await waitFor(socket, 'server_stats', STEP_MS * 2);
    assert.equal(stats.clientsCount >= 2, true);
    assert.equal(typeof stats.uptime, 'number');
    // the session id logs in again without the password
    const again = await dashboard({ sessionId: session });
    again.close();
  });

  it('hears sockets come and go, and its commands act on them', async () => {
    const joined = next(admin, 'socket_connected');
    const c = await connect(s.url, { transports: ['websocket'] });
    const [serialized] = await joined;
    assert.equal(serialized.id, c.id);
    assert.equal(serialized.transport, 'websocket');
    const hello = next(c, 'hello');
    admin.emit('emit', '/', null, 'hello', 'from the dashboard');
    assert.deepEqual(await hello, ['from the dashboard']);
    admin.emit('join', '/', 'moderated', c.id);
    await withTimeout(
      (async () => {
        for (;;) {
          const [list] = await (async () => {
            const got = next(admin, 'all_sockets');
            // listened to from the start: the list can come in the same read as the
            // connect, and is then emitted before an `await connect(...)` resumes
            const fresh = io(`${s.url}/admin`, {
              forceNew: true,
              reconnection: false,
              transports: ['websocket'],
              auth: { username: 'admin', password: 'pa55' },
            });
            try {
              return await Promise.race([got, next(fresh, 'all_sockets')]);
            } finally {
              fresh.close();
            }
          })();
          if (list.find((x) => x.id === c.id)?.rooms.includes('moderated')) return;
        }
      })(),
      STEP_MS * 3,
      'the join',
    );
    const left = next(admin, 'socket_disconnected');
    const gone = next(c, 'disconnect');
    const id = c.id;
    admin.emit('_disconnect', '/', false, 'moderated');
    assert.equal((await gone)[0], 'io server disconnect');
    assert.deepEqual(await left, ['/', id, 'server namespace disconnect']);
  });

  it('a wrong password is refused', async () => {
    const err = await refused(s.url, { nsp: '/admin', auth: { username: 'admin', password: 'nope' } });
    assert.equal(err.message, 'invalid credentials');
  });
});

describe('TLS on the public port (--tls-cert, --tls-key), renewed on SIGHUP', () => {
  /** Writes a fresh self-signed certificate for 127.0.0.1 named `cn` over cert.pem/key.pem. */
  const issue = (cn) =>
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '2',
      '-subj', `/CN=${cn}`, '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { stdio: 'ignore' });
  /** The CN of the certificate a fresh TLS connection gets. */
  const presented = (port) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
          resolve(socket.getPeerCertificate().subject.CN);
          socket.end();
        });
        socket.on('error', reject);
      }),
      STEP_MS,
      'a TLS handshake',
    );

  it('serves the official client over https and wss, and a renewed certificate after SIGHUP', async () => {
    issue('first');
    const s = await serve(['--api-key', KEY, '--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')]);
    try {
      assert.match(s.url, /^https:/);
      const ca = readFileSync(path.join(dir, 'cert.pem'));
      for (const transports of [['polling'], ['websocket']]) {
        const c = await connect(s.url, { transports, ca });
        const got = next(c, 'secure');
        // (publishing over https too, trusting the self-signed certificate)
        await new Promise((resolve, reject) => {
          const req = httpsRequest(`${s.url}/api/emit`, { method: 'POST', ca, headers: { authorization: `Bearer ${KEY}` } }, (r) => {
            r.resume();
            r.on('end', resolve);
          });
          req.on('error', reject);
          req.end(JSON.stringify({ event: 'secure', args: [transports[0]] }));
        });
        assert.deepEqual(await got, [transports[0]]);
        c.close();
      }
      assert.equal(await presented(s.port), 'first');
      issue('second');
      s.child.kill('SIGHUP');
      await withTimeout(
        (async () => {
          while ((await presented(s.port)) !== 'second') await new Promise((r) => setTimeout(r, 50));
        })(),
        STEP_MS,
        'the renewed certificate',
      );
    } finally {
      await s.stop();
    }
  });
});
