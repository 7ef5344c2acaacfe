// The job board's deployments (examples/php-job-board in front of `rtio serve`), as
// docs/deploy.md gives them: Apache with mod_php and `ProxyPass ... upgrade=websocket`, or nginx
// with php-fpm on a unix socket. The configuration text below is the documented one with the
// test's ports and directories filled in. Like tests/interop/cluster/proxies.mjs: each server
// runs in the foreground on a free loopback port, its files in a temporary directory every user
// may read (the PHP and nginx workers run as www-data when the tests run as root), stopped by
// its PID. Every wait has a deadline.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../cluster/lib.mjs';
import { ROOT } from './lib.mjs';

export { freePort };

export const APP_SRC = path.join(ROOT, 'examples', 'php-job-board');
const WWW = 'www-data';

const running = new Set();
/** SIGKILL to `child`'s process group (it leads one: spawned detached), workers included. */
function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

process.once('exit', () => {
  for (const child of running) killGroup(child);
});

/** www-data's uid and gid, from /etc/passwd (the workers' user). */
function wwwIds() {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${WWW}:`));
  if (!line) throw new Error(`no ${WWW} user: the PHP workers run as ${WWW}`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A deployment's directory: the app copied in (so the repo's own permissions do not matter),
 * readable by everyone, and a data dir (jobs.sqlite, sessions) owned by www-data and by nobody
 * else — the PHP workers write it, the web server never serves it.
 */
export function appDir(label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rtio-job-board-${label}-`));
  fs.chmodSync(dir, 0o755);
  const app = path.join(dir, 'app');
  fs.cpSync(APP_SRC, app, { recursive: true, filter: (src) => !src.startsWith(path.join(APP_SRC, 'data')) });
  for (const p of [app, path.join(app, 'public')]) fs.chmodSync(p, 0o755);
  const data = path.join(dir, 'data');
  fs.mkdirSync(data, { mode: 0o700 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = wwwIds();
    fs.chownSync(data, uid, gid);
  }
  return { dir, app, data, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves once something accepts connections at `where` ({port} or {path}); rejects after `ms`. */
async function accepting(where, exited, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = where.path ? net.connect({ path: where.path }) : net.connect({ host: '127.0.0.1', port: where.port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const ended = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 50))]);
    if (ended) throw new Error(`it exited before accepting connections (${JSON.stringify(ended)})`);
    if (Date.now() > deadline) throw new Error(`nothing accepts connections at ${JSON.stringify(where)} after ${ms} ms`);
  }
}

/** Spawns a server in the foreground; resolves with { pid, log(), stop() } once it accepts. */
async function startDaemon(name, command, args, where, logFiles) {
  // detached: its own process group, because Apache's prefork MPM stops by signalling its whole
  // group (killpg), which would otherwise take this test runner with it
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.once('error', (e) => (stderr += String(e)));
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  const log = () =>
    stderr + logFiles.filter((f) => fs.existsSync(f)).map((f) => `--- ${f}\n${fs.readFileSync(f, 'utf8')}`).join('');
  try {
    await accepting(where, exited);
  } catch (e) {
    killGroup(child);
    throw new Error(`${name} (${command} ${args.join(' ')}): ${e.message}\n${log()}`);
  }
  return {
    pid: child.pid,
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(child), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The PHP app's settings: where its data goes and how it reaches rtio's internal API. */
function phpEnv({ data, apiPort, apiKey }) {
  return { JOB_BOARD_DATA: data, RTIO_API_URL: `http://127.0.0.1:${apiPort}`, RTIO_API_KEY: apiKey };
}

/** Apache >= 2.4.47: mod_proxy_http tunnels the WebSocket upgrade itself. */
const upgrade = (rtioPort) => `  # Socket.IO: long-polling and the WebSocket upgrade, both to rtio serve
  ProxyPass        /socket.io/ http://127.0.0.1:${rtioPort}/socket.io/ upgrade=websocket
  ProxyPassReverse /socket.io/ http://127.0.0.1:${rtioPort}/socket.io/
`;

/** Older Apache: mod_rewrite hands WebSocket upgrades to mod_proxy_wstunnel (ws://). */
export const wstunnel = (rtioPort) => `  # Socket.IO: the WebSocket upgrade through mod_proxy_wstunnel, long-polling through mod_proxy_http
  RewriteEngine On
  RewriteCond %{HTTP:Upgrade} =websocket [NC]
  RewriteRule ^/(socket\\.io/.*) ws://127.0.0.1:${rtioPort}/$1 [P,L]
  ProxyPass        /socket.io/ http://127.0.0.1:${rtioPort}/socket.io/
  ProxyPassReverse /socket.io/ http://127.0.0.1:${rtioPort}/socket.io/
`;

/**
 * docs/deploy.md's Apache site: the app under mod_php, /socket.io/ proxied to rtio serve, the
 * WebSocket by `upgrade=websocket` (default) or by mod_proxy_wstunnel (`websocket: 'wstunnel'`).
 */
export function apacheSite({ app, port, rtioPort, env, websocket = 'upgrade' }) {
  return `Listen 127.0.0.1:${port}
<VirtualHost 127.0.0.1:${port}>
  DocumentRoot ${app}/public
  DirectoryIndex index.php
  <Directory ${app}/public>
    Require all granted
  </Directory>
  <FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
  </FilesMatch>
  # rtio serve asks auth.php from this host; browsers have no business there
  <Files "auth.php">
    Require ip 127.0.0.1 ::1
  </Files>
  # the PHP app's settings (app.php reads them)
  SetEnv JOB_BOARD_DATA ${env.JOB_BOARD_DATA}
  SetEnv RTIO_API_URL ${env.RTIO_API_URL}
  SetEnv RTIO_API_KEY ${env.RTIO_API_KEY}

${websocket === 'wstunnel' ? wstunnel(rtioPort) : upgrade(rtioPort)}  # longer than pingInterval + pingTimeout (25 s + 20 s): a long-poll waits that long
  ProxyTimeout 60
</VirtualHost>
`;
}

const APACHE_MODULES = [
  ['mpm_prefork', 'mod_mpm_prefork.so'], // mod_php is not thread-safe: prefork
  ['authz_core', 'mod_authz_core.so'],
  ['authz_host', 'mod_authz_host.so'],
  ['dir', 'mod_dir.so'],
  ['env', 'mod_env.so'],
  ['mime', 'mod_mime.so'],
  ['php', 'libphp8.2.so'],
  ['proxy', 'mod_proxy.so'],
  ['proxy_http', 'mod_proxy_http.so'],
  ['proxy_wstunnel', 'mod_proxy_wstunnel.so'], // for websocket: 'wstunnel'
  ['rewrite', 'mod_rewrite.so'],
];

/** Apache httpd with mod_php serving the app and proxying /socket.io/ to rtio on `rtioPort`. */
export async function startApache({ dir, app, data, rtioPort, apiPort, apiKey, port, websocket }) {
  port ??= await freePort();
  const modules = APACHE_MODULES.map(([m, f]) => `LoadModule ${m}_module /usr/lib/apache2/modules/${f}`).join('\n');
  const conf = `ServerRoot ${dir}
ServerName localhost
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${dir}/apache-error.log
LogLevel warn
User ${WWW}
Group ${WWW}
# prefork: every proxied long-poll and WebSocket holds a process for its whole life; room for
# two pages, their upgrades and the PHP requests without waiting for prefork to spawn more
StartServers 6
MinSpareServers 4
MaxSpareServers 12
MaxRequestWorkers 32
TypesConfig /etc/mime.types
${modules}
${
  websocket === 'wstunnel'
    ? `# as before 2.4.47: mod_proxy_wstunnel itself tunnels ws://, not mod_proxy_http on its behalf
ProxyWebsocketFallbackToProxyHttp Off
`
    : ''
}
${apacheSite({ app, port, rtioPort, env: phpEnv({ data, apiPort, apiKey }), websocket })}`;
  const file = path.join(dir, 'httpd.conf');
  fs.writeFileSync(file, conf);
  const d = await startDaemon('apache2', 'apache2', ['-f', file, '-DFOREGROUND'], { port }, [path.join(dir, 'apache-error.log')]);
  return { ...d, port, url: `http://127.0.0.1:${port}`, conf };
}

/** docs/deploy.md's php-fpm pool. */
export function fpmPool({ socket, env }) {
  return `[jobboard]
user = www-data
group = www-data
listen = ${socket}
; nginx's workers (www-data) connect to it
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 4
; the PHP app's settings (app.php reads them)
env[JOB_BOARD_DATA] = ${env.JOB_BOARD_DATA}
env[RTIO_API_URL] = ${env.RTIO_API_URL}
env[RTIO_API_KEY] = ${env.RTIO_API_KEY}
`;
}

/** php-fpm (master as root, workers as www-data) on a unix socket in `dir`. */
export async function startFpm({ dir, data, apiPort, apiKey }) {
  const socket = path.join(dir, 'php-fpm.sock');
  const conf = `[global]
pid = ${dir}/php-fpm.pid
error_log = ${dir}/php-fpm.log
daemonize = no

${fpmPool({ socket, env: phpEnv({ data, apiPort, apiKey }) })}`;
  const file = path.join(dir, 'php-fpm.conf');
  fs.writeFileSync(file, conf);
  const bin = process.env.RTIO_PHP_FPM || '/usr/sbin/php-fpm8.2';
  const d = await startDaemon('php-fpm', bin, ['--nodaemonize', '--fpm-config', file], { path: socket }, [path.join(dir, 'php-fpm.log')]);
  return { ...d, socket, conf };
}

/** docs/deploy.md's nginx server block: PHP through php-fpm, /socket.io/ to rtio serve. */
export function nginxServer({ app, port, rtioPort, socket }) {
  return `server {
  listen 127.0.0.1:${port};
  root ${app}/public;
  index index.php;

  # Socket.IO: long-polling and the WebSocket upgrade, both to rtio serve
  location /socket.io/ {
    proxy_pass http://127.0.0.1:${rtioPort};
    proxy_http_version 1.1;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection "upgrade";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_read_timeout 60s;      # > pingInterval + pingTimeout: a long-poll waits that long
  }

  # rtio serve asks auth.php from this host; browsers have no business there
  location = /auth.php {
    allow 127.0.0.1;
    deny all;
    include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${socket};
  }

  location ~ \\.php$ {
    try_files $uri =404;
    include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
    fastcgi_pass unix:${socket};
  }
}
`;
}

/** nginx (workers as www-data) serving the app through php-fpm's `socket`, proxying /socket.io/. */
export async function startNginx({ dir, app, rtioPort, socket, port }) {
  port ??= await freePort();
  const conf = `daemon off;
user ${WWW};
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 512; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

${nginxServer({ app, port, rtioPort, socket })
  .split('\n')
  .map((l) => (l ? `  ${l}` : l))
  .join('\n')}}
`;
  const file = path.join(dir, 'nginx.conf');
  fs.writeFileSync(file, conf);
  const d = await startDaemon('nginx', 'nginx', ['-p', dir, '-c', file], { port }, [path.join(dir, 'nginx-error.log')]);
  return { ...d, port, url: `http://127.0.0.1:${port}`, conf };
}
