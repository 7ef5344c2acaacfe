// Run by smoke.test.js in the fresh project: an ES module app (`import { Server } from 'rtio'`)
// serves one client, then closes; the process must exit by itself.
import { Server } from 'rtio';
import { io as connect } from 'socket.io-client';

const io = new Server(0, { host: '127.0.0.1' });
io.on('connection', (socket) => socket.on('ping-me', (n, ack) => ack(n + 1)));
const client = connect(`http://127.0.0.1:${io.address().port}`, { reconnection: false });
client.on('connect', async () => {
  const answer = await client.timeout(5000).emitWithAck('ping-me', 41);
  client.disconnect();
  await io.close();
  console.log(`ESM ${answer}`);
});
