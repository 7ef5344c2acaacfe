'use strict';
// A NestJS app (Express platform) with a WebSocket gateway: Nest's IoAdapter makes its
// Socket.IO server with `require('socket.io')`; an adapter whose createIOServer makes rtio's
// instead (attached to Nest's http.Server) is the only change. The app's controller routes and
// the gateway answer on one port, over every transport; the same test passes with Nest's own
// IoAdapter on socket.io 4.8. Decorators are applied as functions:
// plain JS, no TypeScript build.
require('reflect-metadata');
const test = require('node:test');
const assert = require('node:assert/strict');
const { Module, Controller, Get } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { WebSocketGateway, SubscribeMessage, WebSocketServer } = require('@nestjs/websockets');
const { IoAdapter } = require('@nestjs/platform-socket.io');
const { Server } = require('..');
const { connect, closeClients, next, request } = require('./helpers');

/** Nest's IoAdapter, with rtio's Server where it would make socket.io's. */
class RtioAdapter extends IoAdapter {
  createIOServer(port, options) {
    return port === 0 && this.httpServer ? new Server(this.httpServer, options) : new Server(port, options);
  }
}

/** Applies a method decorator as TypeScript would. */
function decorateMethod(decorator, target, name) {
  const descriptor = Object.getOwnPropertyDescriptor(target.prototype, name);
  Object.defineProperty(target.prototype, name, decorator(target.prototype, name, descriptor) || descriptor);
}

class AppController {
  hello() {
    return 'nest hello';
  }
}
decorateMethod(Get('hello'), AppController, 'hello');
Controller()(AppController);

class ChatGateway {
  // Nest's handler arguments without parameter decorators: the client's socket, then the data
  chat(client, message) {
    this.server.emit('chat message', message);
    return { ok: true, transport: client.conn.transport.name };
  }

  whoami(client) {
    return { event: 'you are', data: client.id };
  }
}
WebSocketServer()(ChatGateway.prototype, 'server');
decorateMethod(SubscribeMessage('chat message'), ChatGateway, 'chat');
decorateMethod(SubscribeMessage('whoami'), ChatGateway, 'whoami');
WebSocketGateway()(ChatGateway);

class AppModule {}
Module({ controllers: [AppController], providers: [ChatGateway] })(AppModule);

test.afterEach(() => closeClients());

for (const [name, Adapter] of [['rtio', RtioAdapter], ['socket.io 4.8 (Nest\'s own IoAdapter)', IoAdapter]]) {
  test(`NestJS: a gateway on ${name} beside the app's controller, one port, every transport`, async () => {
    const app = await NestFactory.create(AppModule, { logger: false });
    app.useWebSocketAdapter(new Adapter(app));
    await app.listen(0, '127.0.0.1');
    try {
      assert.equal(app.get(ChatGateway).server instanceof Server, Adapter === RtioAdapter);
      const port = app.getHttpServer().address().port;
      const page = await fetch(`http://127.0.0.1:${port}/hello`);
      assert.equal(await page.text(), 'nest hello');
      const bundle = await fetch(`http://127.0.0.1:${port}/socket.io/socket.io.js`);
      assert.equal(bundle.status, 200);
      await bundle.arrayBuffer();
      const clients = await Promise.all(
        [['websocket'], ['polling'], ['polling', 'websocket']].map((transports) => connect(port, { transports })),
      );
      const got = clients.map((c) => next(c, 'chat message'));
      const [answer] = await request(clients[1], 'chat message', 'hello nest');
      assert.deepEqual(answer, { ok: true, transport: 'polling' });
      for (const [msg] of await Promise.all(got)) assert.equal(msg, 'hello nest');
      // a handler's { event, data } goes back to the client as that event
      const youAre = next(clients[0], 'you are');
      clients[0].emit('whoami');
      assert.equal(typeof (await youAre)[0], 'string');
    } finally {
      await app.close();
    }
  });
}
