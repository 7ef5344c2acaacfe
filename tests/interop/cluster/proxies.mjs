// nginx and Apache httpd in front of the nodes of a cluster, configured as docs/cluster.md
// says (the configuration text below is the documented one, with the test's ports and
// directories filled in). Each is started on a free loopback port, in the foreground, with its
// files in a temporary directory readable by www-data (their workers run as www-data when the
// tests run as root), and stopped by its PID.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './lib.mjs';

/** A temporary directory every user may read and traverse (workers run as www-data). */
function publicTempDir(label) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rtio-${label}-`));
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Resolves once something accepts TCP connections on `port`; rejects after `ms`. */
async function listening(port, exited, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    const ended = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 50))]);
    if (ended) throw new Error(`it exited before listening (${JSON.stringify(ended)})`);
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port} after ${ms} ms`);
  }
}

/** Spawns a proxy in the foreground; resolves with { url, stop, log } once it listens. */
async function startProxy(name, command, args, port, logFile) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.once('error', (e) => (stderr += String(e)));
  const log = () => `${stderr}${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : ''}`;
  try {
    await listening(port, exited);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${name} (${command} ${args.join(' ')}): ${e.message}\n${log()}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

/**
 * nginx with `ip_hash` stickiness over `nodes` ([{port}]), WebSocket upgrades passed on.
 */
export async function startNginx(nodes) {
  const dir = publicTempDir('nginx');
  const port = await freePort();
  const servers = nodes.map((n) => `    server 127.0.0.1:${n.port};`).join('\n');
  // The part from `upstream` to the end of `location` is docs/cluster.md's, verbatim.
  const conf = `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;

  upstream rtio_nodes {
    ip_hash;                       # one client address, one node (long-polling needs it)
${servers}
  }
  server {
    listen 127.0.0.1:${port};
    location /socket.io/ {
      proxy_pass http://rtio_nodes;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 60s;      # > pingInterval + pingTimeout: a long-poll waits that long
    }
  }
}
`;
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  return startProxy('nginx', 'nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf')], port, path.join(dir, 'error.log'));
}

const APACHE_MODULES = [
  'mpm_event', 'authz_core', 'proxy', 'proxy_http', 'proxy_wstunnel', 'proxy_balancer',
  'slotmem_shm', 'lbmethod_byrequests', 'headers', 'rewrite',
];

/**
 * Apache httpd with mod_proxy_balancer over `nodes`: a route cookie (ROUTEID) keeps a
 * client on its node, WebSocket upgrades go to a `ws://` balancer with the same routes.
 */
export async function startApache(nodes) {
  const dir = publicTempDir('apache');
  const port = await freePort();
  const members = (scheme) =>
    nodes.map((n, i) => `  BalancerMember "${scheme}://127.0.0.1:${n.port}" route=node${i + 1}`).join('\n');
  const modules = APACHE_MODULES.map((m) => `LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so`).join('\n');
  // From `Header` to the last RewriteRule: docs/cluster.md's, verbatim.
  const conf = `ServerRoot ${dir}
ServerName localhost
Listen 127.0.0.1:${port}
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}
Mutex file:${dir} default
ErrorLog ${dir}/error.log
LogLevel warn
User www-data
Group www-data
${modules}

Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED
<Proxy "balancer://rtio_polling">
${members('http')}
  ProxySet stickysession=ROUTEID
</Proxy>
<Proxy "balancer://rtio_ws">
${members('ws')}
  ProxySet stickysession=ROUTEID
</Proxy>
ProxyTimeout 60
RewriteEngine On
RewriteCond %{HTTP:Upgrade} =websocket [NC]
RewriteRule ^/(socket\\.io/.*) balancer://rtio_ws/$1 [P,L]
RewriteRule ^/(socket\\.io/.*) balancer://rtio_polling/$1 [P,L]
`;
  fs.writeFileSync(path.join(dir, 'httpd.conf'), conf);
  return startProxy('apache2', 'apache2', ['-f', path.join(dir, 'httpd.conf'), '-DFOREGROUND'], port, path.join(dir, 'error.log'));
}
