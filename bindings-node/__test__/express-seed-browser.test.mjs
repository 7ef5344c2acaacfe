// The Express seed app (examples/node/express-seed.js: `const http = require('http').Server(app);
// const io = require('rtio')(http);`) in headless Chromium: two pages load the app's own route,
// the socket.io-client bundle from /socket.io/socket.io.js and Socket.IO (polling, then the
// WebSocket upgrade), all on the app's one port; the visitor counter shows 2 then 1, and a chat
// line typed in one page shows in both. The scenario is the demo's (tests/interop/browser/lib.mjs),
// run with Debian's /usr/bin/chromium (RTIO_CHROMIUM) through playwright-core from tests/interop.
// The same file with `require('socket.io')` passes the same test on socket.io 4.8.
import { describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import helpers from './helpers.js';

const { seedAppFile, startProcess, haveSocketIo } = helpers;
const here = path.dirname(fileURLToPath(import.meta.url));
const browserDir = path.resolve(here, '..', '..', 'tests', 'interop', 'browser');
const havePlaywright = existsSync(path.resolve(browserDir, '..', 'node_modules', 'playwright-core', 'package.json'));

for (const kind of ['rtio', 'socket.io']) {
  const missing = !havePlaywright || (kind === 'socket.io' && !haveSocketIo);
  describe(`the Express seed app on ${kind} in headless Chromium: page, counter and chat on one port`, {
    skip: missing ? 'tests/interop dependencies (playwright-core, socket.io) not installed' : false,
  }, async () => {
    if (missing) return;
    const { launchChromium, visitorsAndChat } = await import(pathToFileURL(path.join(browserDir, 'lib.mjs')).href);
    const work = mkdtempSync(path.join(tmpdir(), 'rtio-express-seed-'));
    let app; // the app's process
    let url;
    let browser;

    before(async () => {
      app = await startProcess(seedAppFile(work, 'express-seed', kind), [], {
        env: { PORT: '0' },
        ready: /^express seed listening on port (\d+)$/,
      });
      url = `http://127.0.0.1:${app.match[1]}/`;
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await app?.kill();
      rmSync(work, { recursive: true, force: true });
    });

    visitorsAndChat(() => ({ context: browser.context, url }), {
      checkPage: (res) => assert.equal(res.headers()['x-powered-by'], 'Express', "the page comes from the app's own route"),
    });
  });
}
