// HTTP compression of polling responses (engine.io's httpCompression, on by default with a
// 1024-byte threshold): a response at least that long goes gzip- or deflate-compressed to a
// client that accepts it, anything shorter or to a client that does not as it is.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { gunzipSync, inflateSync } from 'node:zlib';
import { HOST, PollingSession, SEP, STEP_MS, startServer, withTimeout } from './harness.mjs';

/** A GET of the session with these request headers; resolves with status, headers, raw body. */
function rawGet(server, session, headers) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: session.query(), headers, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
    }),
    STEP_MS,
    'a polling GET',
  );
}

describe(`${HOST} host: compressed polling responses`, () => {
  let server;
  before(async () => {
    server = await startServer(['--no-visits']);
  });
  after(() => server?.stop());

  /** A session joined to / whose next GET will carry `message-back` with `text`. */
  async function echoing(text) {
    const session = new PollingSession(server);
    await session.open();
    await session.post(['40']);
    await session.collect({ until: (p) => p.some((x) => x.startsWith('42["auth"')) });
    await session.post([`42["message",${JSON.stringify(text)}]`]);
    return session;
  }

  const decoded = (body) => body.toString('utf8').split(SEP).find((p) => p.startsWith('42["message-back"'));

  for (const [accept, coding, inflate] of [
    ['gzip, deflate, br', 'gzip', gunzipSync],
    ['deflate', 'deflate', inflateSync],
  ]) {
    it(`Accept-Encoding: ${accept} → ${coding} for a response of 1024 bytes or more`, async () => {
      const text = 'z'.repeat(4000);
      const session = await echoing(text);
      const res = await rawGet(server, session, { 'Accept-Encoding': accept });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-encoding'], coding);
      assert.ok(res.body.length < 1000, `compressed to ${res.body.length} bytes`);
      assert.equal(decoded(inflate(res.body)), `42["message-back",${JSON.stringify(text)}]`);
    });
  }

  it('no compression below the threshold, nor for a client that does not ask', async () => {
    const small = await echoing('short');
    const res = await rawGet(server, small, { 'Accept-Encoding': 'gzip' });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(decoded(res.body), '42["message-back","short"]');
    const big = await echoing('y'.repeat(4000));
    const plain = await rawGet(server, big, {});
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(decoded(plain.body), `42["message-back","${'y'.repeat(4000)}"]`);
  });
});
