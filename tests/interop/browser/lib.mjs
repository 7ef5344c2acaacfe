// The browser tests' shared part: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and the visitor-counter-and-chat scenario over two pages, for any server
// whose page has the demo's elements (#visits, #status, #log, #nome, #msg, form #chat) and loads
// the socket.io-client bundle from /socket.io/socket.io.js. Used by demo.test.mjs (the Rust demo)
// and bindings-node/__test__/express-seed-browser.test.mjs (the Express seed app on rtio).
//
// Environment: RTIO_CHROMIUM (default /usr/bin/chromium). Nothing sleeps and hopes: every wait is
// for a state of the page, with a deadline.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { STEP_MS } from '../js/harness.mjs';

export const CHROMIUM = process.env.RTIO_CHROMIUM || '/usr/bin/chromium';
/** A page load or a socket.io round trip through the browser (2 shared cores: generous). */
export const PAGE_MS = Math.max(STEP_MS * 3, 10_000);

/**
 * Launches headless Chromium with a fresh profile. It runs as root in CI, hence --no-sandbox.
 * Resolves to `{ context, close() }`; `close` also removes the profile.
 */
export async function launchChromium() {
  const profile = mkdtempSync(path.join(tmpdir(), 'rtio-chromium-'));
  let context;
  try {
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
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
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

/**
 * The scenario's tests, for the current `node:test` suite. `target()` gives `{ context, url }`
 * once the suite's `before` has started the server and the browser; `checkPage(response)` adds
 * assertions on the page's own HTTP response (e.g. which server answered it).
 *
 * Beyond the counter and the chat, every request and WebSocket a page opens must go to the
 * page's own origin: the page, the client bundle and Socket.IO on one port.
 */
export function visitorsAndChat(target, { checkPage = () => {} } = {}) {
  const pageErrors = [];
  const foreign = []; // requests or WebSockets to another origin than the page's
  let one;
  let two;

  async function openPage(label) {
    const { context, url } = target();
    const origin = new URL(url).origin;
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(`${label}: ${err.message}`));
    page.on('request', (req) => {
      if (new URL(req.url()).origin !== origin) foreign.push(`${label}: ${req.method()} ${req.url()}`);
    });
    page.on('websocket', (ws) => {
      const wsUrl = new URL(ws.url());
      if (`${wsUrl.protocol === 'wss:' ? 'https:' : 'http:'}//${wsUrl.host}` !== origin) foreign.push(`${label}: WebSocket ${ws.url()}`);
    });
    const websocket = page.waitForEvent('websocket', {
      predicate: (ws) => new URL(ws.url()).pathname === '/socket.io/',
      timeout: PAGE_MS,
    });
    const bundle = page.waitForResponse((res) => new URL(res.url()).pathname === '/socket.io/socket.io.js', {
      timeout: PAGE_MS,
    });
    const res = await page.goto(url, { waitUntil: 'load', timeout: PAGE_MS });
    assert.equal(res.status(), 200, `GET ${url} answers 200`);
    assert.match(res.headers()['content-type'] ?? '', /^text\/html/);
    await checkPage(res);
    const bundleRes = await bundle;
    assert.equal(bundleRes.status(), 200, 'GET /socket.io/socket.io.js answers 200');
    assert.match(bundleRes.headers()['content-type'] ?? '', /javascript/);
    assert.equal(await page.evaluate(() => typeof io), 'function', 'the socket.io-client bundle defines io()');
    await websocket; // the upgrade's WebSocket, on the page's port (checked by `foreign`)
    return page;
  }

  it('two pages: the visitor counter shows 2 on both', async () => {
    one = await openPage('page one');
    await visitsBecome(one, 1, 'page one alone');
    two = await openPage('page two');
    await visitsBecome(two, 2, 'page two');
    await visitsBecome(one, 2, 'page one after page two connected');
    // both sockets end on websocket (polling first, then the upgrade)
    await upgraded(one);
    await upgraded(two);
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreign, [], 'the page, the bundle and Socket.IO on the page\'s own port');
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

  it("closing page two brings page one's counter back to 1", async () => {
    assert.ok(one && two, 'the pages of the previous tests');
    await two.close();
    await visitsBecome(one, 1, 'page one after page two closed');
    assert.equal(await one.locator('#status').textContent(), 'connected');
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(foreign, []);
  });
}
