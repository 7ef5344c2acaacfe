// The demo (`make demo`: examples/rust/demo.rs serving examples/web/index.html) in a real
// browser: headless Chromium driven by playwright-core opens the page twice and checks the
// visitor counter and the chat, with the official socket.io-client bundle the demo serves at
// /socket.io/socket.io.js (the scenario is in lib.mjs). Run with `node --test
// tests/interop/browser/` from the repo root.
//
// Environment: RTIO_CHROMIUM (default /usr/bin/chromium), RTIO_DEMO_BIN (default
// target/release/demo, built first with cargo like the scenarios-server launcher does).
// A missing demo or browser makes `before` and so every test fail.
import { describe, before, after } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { READY_TIMEOUT_MS, STEP_MS, withTimeout } from '../js/harness.mjs';
import { launchChromium, visitorsAndChat } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..', '..');
const DEMO = process.env.RTIO_DEMO_BIN || path.join(ROOT, 'target', 'release', 'demo');

let demo; // { child, url, exited, stderr() }
let browser; // { context, close() }

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

before(async () => {
  demo = await startDemo();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await stopDemo();
});

describe('the demo in headless Chromium: visitor counter and chat over two pages', () => {
  visitorsAndChat(() => ({ context: browser.context, url: demo.url }));
});
