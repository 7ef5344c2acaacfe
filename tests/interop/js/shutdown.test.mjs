// SIGTERM / SIGINT: every connected client sees a disconnect and the process exits 0 within 2 s.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { HOST, SETUPS, startServer, connect, closeAllClients, rawSocketIo, withTimeout } from './harness.mjs';

const EXIT_WITHIN_MS = 2000;

describe(`${HOST} host, shutdown`, () => {
  after(closeAllClients);

  for (const signal of ['SIGTERM', 'SIGINT']) {
    it(`${signal}: clients of every transport see a disconnect, the process exits 0 within 2 s`, async () => {
      const server = await startServer();
      try {
        const clients = [];
        for (const setup of Object.keys(SETUPS)) {
          clients.push(await connect(server, { setup }));
          clients.push(await connect(server, { setup, nsp: '/custom' }));
        }
        clients.push(await connect(server, { setup: 'websocket', nsp: '/admin', auth: { token: 'secret' } }));
        const raw = await rawSocketIo(server);
        for (const client of clients) assert.equal(client.socket.connected, true);

        server.signal(signal);
        const disconnects = clients.map((client) =>
          client.nextEntry('@disconnect', { timeout: EXIT_WITHIN_MS }).then(({ args: [reason] }) => {
            // a DISCONNECT packet, or a proper transport close (a close frame; over polling the
            // close packet `1`). A server that just vanishes gives `transport error` instead.
            assert.ok(
              ['io server disconnect', 'transport close'].includes(reason),
              `${client.describe()} disconnected with reason ${reason}`,
            );
          }),
        );
        await Promise.all(disconnects);
        const { code: closeCode } = await raw.waitClosed(EXIT_WITHIN_MS);
        assert.notEqual(closeCode, 1006, 'the websocket is closed with a close frame, not just dropped');

        const { code, signal: killedBy, afterMs } = await withTimeout(server.exited, EXIT_WITHIN_MS + 500, 'the process to exit');
        assert.equal(killedBy, null, `the process ended by ${killedBy}, not by exiting`);
        assert.equal(code, 0);
        assert.ok(afterMs <= EXIT_WITHIN_MS, `exited ${afterMs} ms after ${signal}`);
      } finally {
        closeAllClients();
        await server.stop();
      }
    });
  }
});
