// The official socket.io-client against the C examples built from the installed .deb:
// `node deb-client.mjs CHAT_BINARY COUNTER_BINARY`. Each runs on a free port: the chat
// answers `toServer` with `toClient` ("nome:msg", over websocket and over polling), the
// visitor counter sends `visits` with the count (two clients: 1, then 2 to both).
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(path.join(root, 'tests/interop/package.json'));
const { io } = require('socket.io-client');

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });

const within = (ms, what, promise) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

async function start(binary) {
  const port = await freePort();
  const child = spawn(binary, [String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await within(10000, `${binary} listening`, new Promise((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`${binary} exited with ${code}`)));
    const probe = () => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); resolve(); });
      c.on('error', () => setTimeout(probe, 50));
    };
    probe();
  }));
  return { port, child };
}

const connect = (port, transports) =>
  io(`http://127.0.0.1:${port}`, { transports, reconnection: false, forceNew: true });

const once = (socket, event) => new Promise((resolve) => socket.once(event, resolve));

const [chatBin, counterBin] = process.argv.slice(2);
const servers = [];
try {
  const chat = await start(chatBin);
  servers.push(chat.child);
  for (const transports of [['websocket'], ['polling']]) {
    const s = connect(chat.port, transports);
    const reply = once(s, 'toClient');
    s.emit('toServer', { nome: 'deb', msg: `hi over ${transports[0]}` });
    const line = await within(5000, 'chat reply', reply);
    if (line !== `deb:hi over ${transports[0]}`) throw new Error(`chat answered ${JSON.stringify(line)}`);
    console.log(`chat (${transports[0]}): ${line}`);
    s.close();
  }

  const counter = await start(counterBin);
  servers.push(counter.child);
  const a = connect(counter.port, ['websocket']);
  const first = await within(5000, 'first visits', once(a, 'visits'));
  const aSees = once(a, 'visits');
  const b = connect(counter.port, ['polling', 'websocket']);
  const [second, aSecond] = await within(5000, 'second visits', Promise.all([once(b, 'visits'), aSees]));
  if (first !== 1 || second !== 2 || aSecond !== 2) {
    throw new Error(`visits: ${first}, ${second}, ${aSecond} (expected 1, 2, 2)`);
  }
  console.log(`visitor_counter: visits ${first}, then ${second} to both`);
  a.close();
  b.close();
} finally {
  for (const child of servers) child.kill('SIGTERM');
}
process.exit(0);
