// Type-checks socket.io-style code against rtio's index.d.ts (`tsc -p __test__/types`).
// Lines marked @ts-expect-error must fail to compile: they prove the types reject misuse.
import rtio, {
  Server,
  Socket,
  Namespace,
  BroadcastOperator,
  RemoteSocket,
  createRedisAdapter,
  createShardedRedisAdapter,
  msgpackParser,
  type DisconnectReason,
  type ExtendedError,
} from 'rtio';

// --- untyped, as most JavaScript apps ----------------------------------------------------------
const io = new Server(0, { cors: { origin: '*' }, pingInterval: 1000, maxHttpBufferSize: 1e6, staticDir: 'public' });
const io2 = new Server({ path: '/io', serveClient: false, transports: ['websocket'] }).listen(0);
const io3 = rtio(0);
io.on('connection', (socket) => {
  const s: Socket = socket;
  s.data.user = 'x';
  const id: string = socket.id;
  const address: string = socket.handshake.address;
  socket.conn.on('upgrade', () => {});
  const transport: string | undefined = socket.conn.transport.name;
  void transport;
  const auth: { [key: string]: any } = socket.handshake.auth;
  const token: unknown = socket.handshake.query.token;
  const rooms: Set<string> = socket.rooms;
  socket.join('a');
  socket.join(['b', 'c']);
  socket.leave('a');
  socket.emit('hello', 1, 'two', { three: Buffer.from([3]) }, new Uint8Array(2));
  socket.emit('with-ack', 1, (answer: unknown) => {});
  socket.timeout(1000).emit('with-ack', 1, (err: Error, answer: unknown) => {});
  socket.broadcast.emit('news', 1);
  socket.to('room').except(['x', 'y']).emit('news');
  socket.on('echo', (...args: any[]) => {});
  socket.on('disconnect', (reason: DisconnectReason) => {});
  socket.on('disconnecting', (reason) => {
    const r: DisconnectReason = reason;
  });
  socket.onAny((event: string, ...args: any[]) => {});
  socket.onAnyOutgoing((event, ...args) => {});
  socket.use(([event, ...args], next) => next(event === 'bad' ? new Error('no') : undefined));
  socket.disconnect(true);
  void socket.emitWithAck('q', 1).then((x) => x);
  void socket.timeout(5).emitWithAck('q');
  void id, address, auth, token, rooms;
});
io.emit('all', 1);
io.to('r').except('s').emit('some', 2);
io.in('r').socketsJoin('t');
io.in('r').socketsLeave(['t']);
io.except('r').disconnectSockets(true);
void io.fetchSockets().then((sockets) => sockets.map((s) => [s.id, s.data, s.rooms.size, s.handshake.auth]));
void io.allSockets().then((ids: Set<string>) => ids.size);
void io.fetchSockets().then((sockets) => {
  for (const s of sockets) {
    if (s instanceof RemoteSocket) void s.timeout(100).emitWithAck('question', 1);
    s.join('r');
    s.disconnect(true);
  }
});
io.serverSideEmit('hello', 1, (err: Error | null, responses: unknown[]) => {});
void io.serverSideEmitWithAck('hello', 1).then((responses: any[]) => responses.length);
io.on('hello', (n: number, ack: (answer: number) => void) => ack(n + 1));
void io.of('/').adapter.serverCount().then((n: number) => n);
io.local.emit('only-here');
const clustered = new Server({ adapter: createRedisAdapter({ url: 'redis://127.0.0.1:6379', key: 'app', requestsTimeout: 2000 }) });
clustered.adapter(createShardedRedisAdapter({ url: 'redis://127.0.0.1:6379', channelPrefix: 'app', subscriptionMode: 'static' }));
new Server(3000).adapter(createRedisAdapter('redis://127.0.0.1:6379'));
io.timeout(100).emit('poll', (err: Error, responses: unknown[]) => {});
void io.timeout(100).emitWithAck('poll').then((responses: any[]) => responses.length);
const admin: Namespace = io.of('/admin');
admin.use((socket, next) => {
  const err: ExtendedError = new Error('unauthorized');
  err.data = { content: 'retry later' };
  next(socket.handshake.auth.token === 'secret' ? undefined : err);
});
admin.on('connection', (socket) => socket.emit('hi'));
io.of('custom', (socket) => socket.emit('hi'));
io.on('error', (err, where: string) => {});
const port: number | undefined = io.address()?.port;
const clients: number = io.engine.clientsCount;
io.engine.on('connection_error', (err: Error) => {});
void clients;
const op: BroadcastOperator = io.to('x');
const p: Promise<void> = io.close();
void io2.close(() => {});
void io3, port, op, p;

// --- typed events, as in socket.io's TypeScript docs -------------------------------------------
interface ClientToServerEvents {
  hello: (name: string) => void;
  ask: (question: string, ack: (answer: number) => void) => void;
}
interface ServerToClientEvents {
  news: (text: string, count: number) => void;
  question: (q: string, ack: (answer: string) => void) => void;
}
interface InterServerEvents {
  ping: () => void;
}
interface SocketData {
  name: string;
  age: number;
}
const typed = new Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>(0);
typed.on('connection', (socket) => {
  socket.data.name = 'john';
  socket.data.age = 42;
  socket.on('hello', (name) => {
    const n: string = name;
    void n;
  });
  socket.on('ask', (question, ack) => ack(question.length));
  socket.emit('news', 'text', 1);
  socket.emit('question', 'why?', (answer) => {
    const a: string = answer;
    void a;
  });
  socket.timeout(500).emit('question', 'why?', (err, answer) => {
    const e: Error = err;
    const a: string = answer;
    void e, a;
  });
  void socket.timeout(500).emitWithAck('question', 'why?').then((answer) => {
    const a: string = answer;
    void a;
  });
  // @ts-expect-error: unknown event to emit
  socket.emit('nope', 1);
  // @ts-expect-error: wrong argument type
  socket.emit('news', 1, 1);
  // @ts-expect-error: wrong listener parameter type
  socket.on('hello', (name: number) => {});
  // @ts-expect-error: SocketData has no such field
  socket.data.email = 'x';
});
typed.emit('news', 'everyone', 2);
typed.to('room').emit('news', 'room', 3);
typed.timeout(100).emit('question', 'all?', (err, answers) => {
  const list: string[] = answers;
  void list;
});
// @ts-expect-error: wrong arguments for a broadcast
typed.emit('news', 'only text');
// attached to the app's own server, as socket.io
const appServer = require('node:http').createServer() as import('node:http').Server;
const attached = new Server(appServer, { path: '/rt' });
const same: import('node:http').Server | import('node:https').Server | import('node:http2').Http2SecureServer | undefined =
  attached.httpServer;
void same;
// an HTTP/2 server that takes HTTP/1.1 too, as socket.io
const h2 = new Server(require('node:http2').createSecureServer({ allowHTTP1: true }) as import('node:http2').Http2SecureServer);
void h2;
attached.engine.use((req, res, next) => {
  const url: string | undefined = req.url;
  void url;
  void res;
  next();
});
rtio(appServer).listen(appServer);
// dynamic namespaces: a parent namespace, whose children are namespaces
const parent: import('../../index').ParentNamespace = io.of(/^\/dyn-\d+$/, (socket) => {
  const name: string = socket.nsp.name;
  void name;
});
io.of((name, auth, next) => next(null, name.startsWith('/team-') && auth.token !== undefined));
for (const child of parent.children) child.emit('hello');
parent.to('room').emit('news', 1);
// @ts-expect-error: a matcher answers (err, success)
io.of((name: string, auth: object, next: (err: Error | null, ok?: boolean) => void) => next('yes'));

// --- options: allowRequest, cors forms, what is accepted only with socket.io's default ------
const gated = new Server({
  allowRequest: (req, callback) => {
    const token: string | undefined = req._query.token;
    const origin = req.headers.origin;
    const address: string = req.socket.remoteAddress;
    callback(token ? null : 'no token', Boolean(token && origin && address));
  },
  cors: { origin: [/\.example\.com$/, 'https://example.org'], credentials: true, methods: ['GET', 'POST'], allowedHeaders: ['x-token'] },
});
new Server({ allowRequest: async (req, callback) => callback(new Error('no'), false) });
new Server({ cors: { origin: (origin, callback) => callback(null, origin === 'https://a.example' || /b\.example$/) } });
new Server({ cors: true, perMessageDeflate: false, httpCompression: false, allowEIO3: false, cookie: false, addTrailingSlash: false });
gated.on('connection', (socket) => {
  const name: 'polling' | 'websocket' = socket.conn.transport.name;
  socket.conn.once('upgrade', (transport: { name: string }) => void transport.name);
  const user: unknown = socket.request.user;
  const query: Record<string, string> = socket.request._query;
  void name, user, query;
});
new Server({ perMessageDeflate: { threshold: 0 }, allowEIO3: true, parser: msgpackParser });
new Server({ perMessageDeflate: true, parser: 'msgpack' });
// @ts-expect-error: perMessageDeflate takes a boolean or { threshold }
new Server({ perMessageDeflate: 1024 });
// @ts-expect-error: the threshold is a number of bytes
new Server({ perMessageDeflate: { threshold: '1k' } });
io.compress(false).emit('x', 'uncompressed');
io.to('room').compress(false).emit('x');
new Server({ cookie: true });
new Server({ tls: { certFile: 'cert.pem', keyFile: 'key.pem' } }).reloadTls();
// @ts-expect-error: rtio's tls takes file paths, not Node's TLS options
new Server({ tls: { cert: 'PEM', key: 'PEM' } });
new Server({ cookie: { name: 'io', path: false, httpOnly: true, sameSite: 'strict' } });
// @ts-expect-error: the cookie's domain is not set by rtio
new Server({ cookie: { name: 'io', domain: 'a.example' } });
// @ts-expect-error: sameSite takes strict, lax or none
new Server({ cookie: { sameSite: 'sometimes' } });
// @ts-expect-error: allowRequest's callback takes (err, success)
new Server({ allowRequest: (req, callback) => callback(true) });
