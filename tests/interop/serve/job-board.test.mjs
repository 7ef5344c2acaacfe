// The PHP job board (examples/php-job-board, issue 18 item 5) deployed as docs/deploy.md says:
// `rtio serve` with its API on an internal address and auth.php as its auth URL, behind Apache
// (mod_php, ProxyPass ... upgrade=websocket) and behind nginx (php-fpm on a unix socket). Headless
// Chromium logs in, opens two pages, saves a job in one: the other shows it without a reload,
// and no browser sent it anywhere — PHP told rtio through POST /api/emit. A page without the
// session cookie is refused with auth.php's "login first". Then deploy/: rtio.toml passes
// `rtio check-config`, and rtio.service `systemd-analyze verify` where systemd-analyze exists.
//
// Real peers only: apache2, nginx, php-fpm8.2, chromium, started on free loopback ports as root
// with workers as www-data, stopped by PID. Every wait has a deadline.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, PAGE_MS } from '../browser/lib.mjs';
import { ROOT, call, run, serve } from './lib.mjs';
import { apacheSite, appDir, fpmPool, freePort, nginxServer, startApache, startFpm, startNginx, wstunnel } from './deploy.mjs';

const KEY = `jb-${randomBytes(8).toString('hex')}`;

let browser;

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // root in CI, hence --no-sandbox; no QUIC or background traffic to other origins
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
    timeout: PAGE_MS * 3,
  });
});

after(async () => {
  await browser?.close();
});

/** Waits until `#status` of `page` reads `text`; the error says what it reads instead. */
async function statusBecomes(page, text, what) {
  try {
    await page.waitForFunction((want) => document.getElementById('status')?.textContent === want, text, { timeout: PAGE_MS });
  } catch (err) {
    const shown = await page.locator('#status').textContent().catch(() => '?');
    throw new Error(`${what}: #status should read ${JSON.stringify(text)}, reads ${JSON.stringify(shown)} (${err.message.split('\n')[0]})`);
  }
}

/** The job list of `page`: [{ id, text }]. */
const jobsOf = (page) =>
  page.locator('#jobs li').evaluateAll((lis) => lis.map((li) => ({ id: li.dataset.id, text: li.textContent })));

/**
 * A page that records what it sends: every HTTP request and every WebSocket frame, so a test
 * can show the browser relayed nothing.
 */
async function recordedPage(context, label, pageErrors) {
  const page = await context.newPage();
  page.sent = { requests: [], frames: [] };
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  page.on('request', (req) => page.sent.requests.push({ method: req.method(), url: req.url(), body: req.postData() ?? '' }));
  page.on('websocket', (ws) => ws.on('framesent', (f) => page.sent.frames.push(String(f.payload))));
  return page;
}

/** Submits `#post-job` on `page` and waits for the page its redirect loads. */
async function postJob(page, title, company) {
  await page.fill('#title', title);
  await page.fill('#company', company);
  const posted = page.waitForResponse((res) => res.request().method() === 'POST', { timeout: PAGE_MS });
  const loaded = page.waitForNavigation({ waitUntil: 'load', timeout: PAGE_MS });
  await page.click('#post-job button');
  const res = await posted;
  assert.equal(res.status(), 303, `POST index.php answers 303 (${await res.text().catch(() => '')})`);
  await loaded;
}

/** The job board's scenario behind one web server; `start(site)` starts it (and its stop() stops it). */
function deployment(name, label, start) {
  describe(`the job board behind ${name}`, () => {
    let site;
    let rtio;
    let web; // { url, stop(), log() }
    let apiPort;
    const contexts = [];
    const pageErrors = [];
    const api = (p) => call(`http://127.0.0.1:${apiPort}`, p, { key: KEY });

    before(async () => {
      site = appDir(label); // a plain word: Apache's config does not quote paths
      const port = await freePort();
      apiPort = await freePort();
      rtio = await serve([
        '--api-key', KEY,
        '--api-listen', `127.0.0.1:${apiPort}`, // PHP reaches the API here; the proxy never does
        '--auth-url', `http://127.0.0.1:${port}/auth.php`,
      ]);
      web = await start({ ...site, port, rtioPort: rtio.port, apiPort, apiKey: KEY });
    });

    after(async () => {
      for (const c of contexts) await c.close().catch(() => {});
      await web?.stop();
      await rtio?.stop();
      site?.remove();
    });

    /** The web server's and rtio's logs, for a failing assertion's message. */
    const logs = () => `\n--- ${name}\n${web?.log() ?? ''}\n--- rtio serve\n${rtio?.stderr() ?? ''}`;

    it('auth.php answers rtio\'s contract: 401 "login first" without a session, 405 to a GET', async () => {
      const anonymous = await call(web.url, '/auth.php', {
        method: 'POST',
        body: { sid: 'x', nsp: '/', auth: {}, query: {}, headers: { cookie: 'PHPSESSID=nosuchsession0000000000000; a=b' }, address: '127.0.0.1', secure: false },
      });
      assert.equal(anonymous.status, 401, anonymous.text + logs());
      assert.deepEqual(anonymous.json, { message: 'login first' });
      const get = await call(web.url, '/auth.php');
      assert.equal(get.status, 405, get.text);
    });

    it('a page without the login cookie gets connect_error "login first", and may not post', async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await recordedPage(context, 'anonymous', pageErrors);
      const res = await page.goto(`${web.url}/`, { waitUntil: 'load', timeout: PAGE_MS });
      assert.equal(res.status(), 200, logs());
      assert.equal(await page.evaluate(() => typeof io), 'function', 'the page loaded /socket.io/socket.io.js through the proxy');
      await statusBecomes(page, 'login first', 'the page without a session');
      assert.equal(await page.locator('#post-job').count(), 0, 'no form without a login');
      // the server, not just the page, refuses a post without a session
      const post = await call(web.url, '/index.php', {
        method: 'POST',
        body: 'title=x&company=y&csrf=',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(post.status, 403);
      const { json } = await api('/api/sockets?nsp=/');
      assert.deepEqual(json.sockets, [], 'the refused socket is not connected');
      assert.deepEqual(pageErrors, []);
    });

    it('logged in: a job saved in one page shows in the other without a reload, and nothing relayed it', async () => {
      const context = await browser.newContext();
      contexts.push(context);
      const user = 'Ada <&> "L"'; // escaped wherever it is shown
      const one = await recordedPage(context, 'page one', pageErrors);
      await one.goto(`${web.url}/login.php`, { waitUntil: 'load', timeout: PAGE_MS });
      await one.fill('#name', user);
      await Promise.all([one.waitForNavigation({ waitUntil: 'load', timeout: PAGE_MS }), one.click('#login button')]);
      assert.equal(new URL(one.url()).pathname, '/index.php');
      assert.equal(await one.locator('#user').textContent(), user);
      await statusBecomes(one, 'connected', 'page one' + logs());

      const two = await recordedPage(context, 'page two', pageErrors);
      await two.goto(`${web.url}/`, { waitUntil: 'load', timeout: PAGE_MS });
      await statusBecomes(two, 'connected', 'page two');
      // the WebSocket upgrade went through the proxy too (not only long-polling)
      await two.waitForFunction(() => socket.io.engine?.transport?.name === 'websocket', null, { timeout: PAGE_MS });
      assert.deepEqual(await jobsOf(two), [], 'a fresh board has no jobs');

      // auth.php's answer: the user as socket data, the room "jobs"
      const { json } = await api('/api/sockets?nsp=/');
      assert.equal(json.sockets.length, 2, JSON.stringify(json));
      for (const s of json.sockets) {
        assert.deepEqual(s.data, { user });
        assert.ok(s.rooms.includes('jobs'), JSON.stringify(s.rooms));
      }

      // From here page two must only listen: no reload, no request but Socket.IO's own
      await two.evaluate(() => (window.notReloaded = true));
      const twoSent = { requests: two.sent.requests.length };

      const title = `Rust <b>dev</b> & "ops" ${Date.now()}`;
      const company = 'ACME & Co';
      await postJob(one, title, company);
      const line = `${title} — ${company}`;
      try {
        await two.waitForFunction((want) => [...document.querySelectorAll('#jobs li')].some((li) => li.textContent === want), line, {
          timeout: PAGE_MS,
        });
      } catch (err) {
        throw new Error(`page two should show ${JSON.stringify(line)}, shows ${JSON.stringify(await jobsOf(two))}${logs()}`);
      }
      assert.equal(await two.evaluate(() => window.notReloaded), true, 'page two was not reloaded');
      assert.equal(await two.locator('#jobs li b').count(), 0, 'the title is text, not HTML');
      const shown = await jobsOf(two);
      assert.equal(shown.length, 1);
      assert.match(shown[0].id, /^\d+$/);

      // SQLite and the sessions live in the data dir given to PHP, not beside the app
      assert.ok(fs.existsSync(path.join(site.data, 'jobs.sqlite')), 'jobs.sqlite in JOB_BOARD_DATA');
      assert.ok(fs.readdirSync(path.join(site.data, 'sessions')).some((f) => f.startsWith('sess_')), 'sessions in JOB_BOARD_DATA');
      assert.ok(!fs.existsSync(path.join(site.app, 'data')), 'nothing written beside the app');

      // the page that posted reloads (Post/Redirect/Get) and lists the job from SQLite, once
      await statusBecomes(one, 'connected', 'page one after posting');
      assert.deepEqual(await jobsOf(one), shown);
      assert.equal(await one.locator('#jobs li b').count(), 0, 'escaped by PHP too');

      // no browser carried the job: page two sent nothing but Socket.IO traffic, and no page
      // sent the title or the event over any request or frame
      for (const r of two.sent.requests.slice(twoSent.requests)) {
        assert.match(new URL(r.url).pathname, /^\/socket\.io\//, `page two requested ${r.method} ${r.url}`);
      }
      for (const page of [one, two]) {
        for (const f of page.sent.frames) assert.ok(!f.includes('created:job') && !f.includes('ACME'), `a page sent the frame ${f}`);
        for (const r of page.sent.requests) {
          if (new URL(r.url).pathname.startsWith('/socket.io/')) assert.ok(!r.body.includes('ACME'), `a page sent ${r.body}`);
        }
      }
      // (and the recorders did see page two's traffic: the checks above are not vacuous)
      assert.ok(two.sent.frames.includes('2probe'), `page two's upgrade probe recorded: ${JSON.stringify(two.sent.frames)}`);
      assert.ok(two.sent.requests.some((r) => new URL(r.url).searchParams.get('transport') === 'polling'), 'page two\'s polling recorded');

      // and the other way round: posted in page two, shown live in page one
      await two.evaluate(() => (window.notReloaded = undefined));
      await one.evaluate(() => (window.notReloaded = true));
      const second = `Second job ${Date.now()}`;
      await postJob(two, second, 'Initech');
      await one.waitForFunction(
        (want) => [...document.querySelectorAll('#jobs li')].some((li) => li.textContent === want),
        `${second} — Initech`,
        { timeout: PAGE_MS },
      );
      assert.equal(await one.evaluate(() => window.notReloaded), true, 'page one was not reloaded');
      const both = await jobsOf(one);
      assert.deepEqual(both, await jobsOf(two), 'both pages list the same jobs');
      assert.equal(both.length, 2);
      assert.notEqual(both[0].id, both[1].id);
      assert.deepEqual(pageErrors, []);
    });
  });
}

deployment('Apache (mod_php, ProxyPass upgrade=websocket)', 'apache', async (site) => startApache(site));

deployment('Apache (mod_php, mod_proxy_wstunnel)', 'apache-wstunnel', async (site) => startApache({ ...site, websocket: 'wstunnel' }));

deployment('nginx (php-fpm)', 'nginx', async (site) => {
  const fpm = await startFpm(site);
  let nginx;
  try {
    nginx = await startNginx({ ...site, socket: fpm.socket });
  } catch (err) {
    await fpm.stop();
    throw err;
  }
  return {
    url: nginx.url,
    log: () => `${nginx.log()}\n--- php-fpm\n${fpm.log()}`,
    async stop() {
      await nginx.stop();
      await fpm.stop();
    },
  };
});

describe('deploy/', () => {
  it('docs/deploy.md carries the configurations this test runs, word for word', () => {
    // the same functions wrote the test's configs above; here with the documented host's values
    const doc = fs.readFileSync(path.join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const env = { JOB_BOARD_DATA: '/var/lib/job-board', RTIO_API_URL: 'http://127.0.0.1:3001', RTIO_API_KEY: 'change-me' };
    const app = '/srv/php-job-board';
    const socket = '/run/php/job-board.sock';
    const blocks = {
      apache: apacheSite({ app, port: 8080, rtioPort: 3000, env }),
      'php-fpm pool': fpmPool({ socket, env }),
      nginx: nginxServer({ app, port: 8080, rtioPort: 3000, socket }),
      'Apache before 2.4.47 (mod_proxy_wstunnel)': wstunnel(3000),
    };
    for (const [what, block] of Object.entries(blocks)) {
      assert.ok(doc.includes(`\n${block}\`\`\``), `docs/deploy.md shows the ${what} configuration as the test runs it:\n${block}`);
    }
  });

  it('rtio check-config accepts deploy/rtio.toml', async () => {
    const file = path.join(ROOT, 'deploy', 'rtio.toml');
    const { code, stdout, stderr } = await run(['check-config', file]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /: OK\n/);
  });

  it('deploy/rtio.toml shows every key of the configuration file', async () => {
    // settings.rs's FileConfig and its sections (ApiConfig is [api], ...): check-config rejects
    // a misspelt key but not a missing one, and the example must show them all
    const text = fs.readFileSync(path.join(ROOT, 'deploy', 'rtio.toml'), 'utf8');
    const src = fs.readFileSync(path.join(ROOT, 'server', 'src', 'settings.rs'), 'utf8');
    const structs = {};
    for (const m of src.matchAll(/pub struct (\w+)Config \{([^}]*)\}/g)) {
      structs[m[1].toLowerCase()] = [...m[2].matchAll(/(?:#\[serde\(rename = "(\w+)"\)\]\s*)?pub (\w+):/g)].map((k) => k[1] ?? k[2]);
    }
    const { file: top, ...sections } = structs;
    assert.ok(top?.length > 10, 'FileConfig found in settings.rs');
    // a section starts at `[name]` (or `# [name]`, commented out); a key counts when it is set
    // or shown commented out (`# key = ...`)
    const header = /^(?:# )?\[(\w+)\]\s*$/m;
    const parts = text.split(header); // [top, name, body, name, body, ...]
    const body = { '': parts[0] };
    for (let i = 1; i < parts.length; i += 2) body[parts[i]] = parts[i + 1];
    const has = (part, key) => new RegExp(`^(?:# )?${key}\\s*=`, 'm').test(part);
    for (const key of top.filter((k) => !(k in sections))) {
      assert.ok(has(body[''], key), `deploy/rtio.toml shows the top-level key ${key}`);
    }
    for (const [section, keys] of Object.entries(sections)) {
      assert.ok(body[section] !== undefined, `deploy/rtio.toml has a [${section}] section`);
      for (const key of keys) assert.ok(has(body[section], key), `deploy/rtio.toml shows ${section}.${key}`);
    }
  });

  it('systemd-analyze verify accepts deploy/rtio.service (where systemd-analyze exists)', async (t) => {
    const probe = spawnSync('systemd-analyze', ['--version'], { timeout: 10_000 });
    if (probe.error || probe.status !== 0) {
      t.skip('no systemd-analyze here');
      return;
    }
    // The unit names /usr/local/bin/rtio; verify checks that ExecStart exists, so the copy
    // checked points at the binary just built (the one difference).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-unit-'));
    try {
      const unit = fs.readFileSync(path.join(ROOT, 'deploy', 'rtio.service'), 'utf8');
      assert.match(unit, /^ExecStart=\/usr\/local\/bin\/rtio serve --config \/etc\/rtio\/rtio\.toml$/m);
      const file = path.join(dir, 'rtio.service');
      fs.writeFileSync(file, unit.replaceAll('/usr/local/bin/rtio', path.join(ROOT, 'target', 'release', 'rtio')));
      const out = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(out.error, undefined, String(out.error));
      assert.equal(out.status, 0, out.stderr + out.stdout);
      // verify exits 0 on some warnings; any line naming the unit is a complaint about it
      const complaints = (out.stderr + out.stdout).split('\n').filter((l) => l.includes('rtio.service'));
      assert.deepEqual(complaints, []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
