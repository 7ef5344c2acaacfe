#!/usr/bin/env node
// The cluster suite (`make interop-cluster`): starts ONE redis-server for the whole run on a
// free loopback port (no persistence), runs every *.test.mjs of this folder with node:test one
// file at a time (the Redis restart test takes the server away), then stops the redis-server by
// its PID (the one the restart test left, which it wrote to the state file).
//
//   node tests/interop/cluster/run.mjs [files...]      CLUSTER_HOSTS="socketio+socketio rust+rust"
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnRedis, stopPid, PAIRS } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const files = process.argv.length > 2
  ? process.argv.slice(2)
  : fs.readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => path.join(here, f));

const started = Date.now();
const port = await freePort();
const redis = await spawnRedis(port);
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtio-cluster-'));
const stateFile = path.join(stateDir, 'redis.json');
fs.writeFileSync(stateFile, JSON.stringify({ port, pid: redis.pid }));
console.error(`cluster suite: redis-server on 127.0.0.1:${port} (pid ${redis.pid}); pairs: ${PAIRS.map((p) => p.name).join(', ')}`);

// Ctrl-C reaches node:test too (same process group): let it end, then clean up here.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => {});

const tests = spawn(
  process.execPath,
  ['--test', '--test-concurrency=1', '--test-timeout=120000', ...files],
  { stdio: 'inherit', env: { ...process.env, CLUSTER_REDIS_STATE: stateFile } },
);
const code = await new Promise((resolve) => tests.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

const { pid } = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
await stopPid(pid);
if (pid !== redis.pid) await stopPid(redis.pid);
fs.rmSync(stateDir, { recursive: true, force: true });
console.error(`cluster suite: ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(code);
