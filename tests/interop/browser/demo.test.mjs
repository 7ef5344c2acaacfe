// The demo (`make demo`: examples/rust/demo.rs serving examples/web/index.html) in a real
// browser: headless Chromium driven by playwright-core opens the page twice and checks the
// visitor counter and the chat, with the official socket.io-client bundle the demo serves at
// /socket.io/socket.io.js. Run with `node --test tests/interop/browser/` from the repo root.
//
// Environment: RTIO_CHROMIUM (default /usr/bin/chromium), RTIO_DEMO_BIN (default
// target/release/demo, built first with cargo like the scenarios-server launcher does).
// Nothing sleeps and hopes: every wait is for a state of the page, with a deadline; a missing
// demo or browser makes `before` and so every test fail.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { READY_TIMEOUT_MS, STEP_MS, withTimeout } from '../js/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..', '..');
const DEMO = process.env.RTIO_DEMO_BIN || path.join(ROOT, 'target', 'release', 'demo');
const CHROMIUM = process.env.RTIO_CHROMIUM || '/usr/bin/chromium';
/** A page load or a socket.io round trip through the browser (2 shared cores: generous). */
const PAGE_MS = Math.max(STEP_MS * 3, 10_000);

let demo; // { child, url, exited, stderr() }
let context; // the persistent context of a fresh profile
let profile; // its user-data-dir
let pages = [];
const pageErrors = [];

/** Starts the demo on a free port; resolves once it printed `rtio demo on http://…/`. */
async function startDemo() {
  if (!process.env.RTIO_DEMO_BIN) {
    // like the scenarios-server launcher: a no-op when nothing changed
    const build = spawnSync('cargo', ['build', '--quiet', '--release', '-p', 'rtio-examples', '--bin', 'demo'], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: READY_TIMEOUT_MS,
    });
    if (build.status !== 0) throw new Error(`cargo build of the demo failed (${build.status ?? build.error})`);
  }
  const child = spawn(DEMO, [], {
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  process.once('exit', () => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-64 * 1024);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      const m = /^rtio demo on (http:\/\/127\.0\.0\.1:(\d+)\/)$/.exec(line);
      if (m && Number(m[2]) > 0) resolve(m[1]);
      else reject(new Error(`the demo's first stdout line is not "rtio demo on http://127.0.0.1:<port>/": ${JSON.stringify(line)}`));
    });
    child.once('error', reject); // e.g. ENOENT: no demo binary
    exited.then(({ code, signal }) =>
      reject(new Error(`the demo exited (code ${code}, signal ${signal}) before listening\n${stderr}`)),
    );
  });
  try {
    return { child, exited, stderr: () => stderr, url: await withTimeout(url, STEP_MS * 2, 'the demo to listen') };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

async function stopDemo() {
  const child = demo?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await demo.exited;
  clearTimeout(timer);
}

/** Opens the demo in a new page; resolves once the socket.io bundle has loaded and ran. */
async function openDemoPage(label) {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
  const bundle = page.waitForResponse((res) => new URL(res.url()).pathname === '/socket.io/socket.io.js', {
    timeout: PAGE_MS,
  });
  const res = await page.goto(demo.url, { waitUntil: 'load', timeout: PAGE_MS });
  assert.equal(res.status(), 200, `GET ${demo.url} answers 200`);
  assert.match(res.headers()['content-type'] ?? '', /^text\/html/);
  const bundleRes = await bundle;
  assert.equal(bundleRes.status(), 200, 'GET /socket.io/socket.io.js answers 200');
  assert.match(bundleRes.headers()['content-type'] ?? '', /javascript/);
  assert.equal(await page.evaluate(() => typeof io), 'function', 'the socket.io-client bundle defines io()');
  pages.push(page);
  return page;
}

/** Waits until `#visits` shows `n` on `page`. */
async function visitsBecome(page, n, what) {
  try {
    await page.waitForFunction((want) => document.getElementById('visits').textContent === String(want), n, {
      timeout: PAGE_MS,
    });
  } catch (err) {
    const shown = await page.locator('#visits').textContent().catch(() => '?');
    throw new Error(`${what}: #visits should show ${n}, shows ${JSON.stringify(shown)} (${err.message.split('\n')[0]})`);
  }
}

/** Waits until the page's socket is connected and its engine has upgraded to websocket. */
async function upgraded(page) {
  await page.waitForFunction(
    () => document.getElementById('status').textContent === 'connected' && socket.io.engine?.transport?.name === 'websocket',
    null,
    { timeout: PAGE_MS },
  );
}

/** The lines of `#log`. */
const logLines = (page) => page.locator('#log li').allTextContents();

/** Waits until `#log` holds `line`. */
async function logShows(page, line, what) {
  try {
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('#log li')].some((li) => li.textContent === want),
      line,
      { timeout: PAGE_MS },
    );
  } catch (err) {
    throw new Error(`${what}: #log should show ${JSON.stringify(line)}, shows ${JSON.stringify(await logLines(page))}`);
  }
}

before(async () => {
  demo = await startDemo();
  profile = mkdtempSync(path.join(tmpdir(), 'rtio-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: PAGE_MS * 3,
  });
});

after(async () => {
  await context?.close().catch(() => {});
  if (profile) rmSync(profile, { recursive: true, force: true });
  await stopDemo();
});

describe('the demo in headless Chromium: visitor counter and chat over two pages', () => {
  let one;
  let two;

  it('two pages: the visitor counter shows 2 on both', async () => {
    one = await openDemoPage('page one');
    await visitsBecome(one, 1, 'page one alone');
    two = await openDemoPage('page two');
    await visitsBecome(two, 2, 'page two');
    await visitsBecome(one, 2, 'page one after page two connected');
    // both sockets end on websocket (polling first, then the upgrade)
    await upgraded(one);
    await upgraded(two);
    assert.deepEqual(pageErrors, []);
  });

  it('chat: a message typed in page one shows as `name:message` in both pages', async () => {
    assert.ok(one && two, 'the pages of the previous test');
    const name = await one.inputValue('#nome');
    assert.match(name, /^guest\d+$/, 'the page picks a name');
    const text = `hello from one ${Date.now()}`;
    const line = `${name}:${text}`;
    await one.fill('#msg', text);
    await one.press('#msg', 'Enter'); // submits #chat
    await logShows(two, line, 'page two');
    await logShows(one, line, 'page one (the sender)');
    assert.equal(await one.inputValue('#msg'), '', 'the input is cleared after sending');
    // exactly once on each page, and nothing else
    assert.deepEqual(await logLines(two), [line]);
    assert.deepEqual(await logLines(one), [line]);
    // and the other way round, through the button this time
    const reply = `reply from two ${Date.now()}`;
    const name2 = await two.inputValue('#nome');
    await two.fill('#msg', reply);
    await two.click('#chat button');
    await logShows(one, `${name2}:${reply}`, 'page one');
    await logShows(two, `${name2}:${reply}`, 'page two (the sender)');
    assert.deepEqual(await logLines(one), [line, `${name2}:${reply}`]);
    assert.deepEqual(await logLines(two), [line, `${name2}:${reply}`]);
    assert.deepEqual(pageErrors, []);
  });

  it('closing page two brings page one\'s counter back to 1', async () => {
    assert.ok(one && two, 'the pages of the previous tests');
    await two.close();
    pages = pages.filter((p) => p !== two);
    await visitsBecome(one, 1, 'page one after page two closed');
    assert.equal(await one.locator('#status').textContent(), 'connected');
    assert.deepEqual(pageErrors, []);
  });
});
