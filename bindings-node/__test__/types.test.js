'use strict';
// index.d.ts: socket.io-style code (typed and untyped) compiles against it with `strict`, and
// the misuses marked @ts-expect-error in types/usage.ts are rejected.
const { it } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

it('index.d.ts type-checks the usage file (tsc --strict)', () => {
  const tsc = require.resolve('typescript/bin/tsc', { paths: [path.join(__dirname, '..')] });
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types')], { encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
});
