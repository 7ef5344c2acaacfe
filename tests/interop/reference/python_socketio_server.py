#!/usr/bin/env python3
"""The python-socketio reference: the behaviour contract of SCENARIOS.md (shared/, beside the
repository) written with python-socketio's own ``AsyncServer`` on aiohttp, from PyPI. The
benchmark runs it beside rtio's Python host (``make bench HOSTS="python python-socketio"``:
the Python host's ratios are taken against it). python-socketio itself departs from the
contract in places (it refuses an unknown namespace with ``Unable to connect``, not
``Invalid namespace``), so the interop suites are not part of ``make test`` against it.

    python_socketio_server.py [--port N] [--ping-interval MS] [--ping-timeout MS]
                              [--max-payload BYTES] [--connect-timeout MS] [--no-visits]

Prints ``READY <port>`` on stdout once listening; logs go to stderr; SIGTERM or SIGINT
disconnects every client and exits 0.
"""

import argparse
import asyncio
import json
import logging
import signal
import sys
from pathlib import Path

import socketio
from aiohttp import web

BUNDLE = (Path(__file__).resolve().parent.parent
          / "node_modules" / "socket.io-client" / "dist" / "socket.io.js")
HOME_PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>scenarios server</title></head>
  <body><h1>Scenarios server (reference: python-socketio)</h1></body>
</html>
"""


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ping-interval", type=int, default=25000, metavar="MS")
    p.add_argument("--ping-timeout", type=int, default=20000, metavar="MS")
    p.add_argument("--max-payload", type=int, default=1_000_000, metavar="BYTES")
    p.add_argument("--connect-timeout", type=int, default=45000, metavar="MS")
    p.add_argument("--no-visits", action="store_true")
    return p.parse_args(argv)


def text(value):
    """A value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def build(args):
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        cors_allowed_origins="*",
        ping_interval=args.ping_interval / 1000,
        ping_timeout=args.ping_timeout / 1000,
        max_http_buffer_size=args.max_payload,
    )

    def stats(namespace="/"):
        """{sockets, rooms}: rooms with members, not counting each socket's own room."""
        rooms = sio.manager.rooms.get(namespace, {})
        sockets = rooms.get(None, {})
        named = [r for r, members in rooms.items()
                 if r is not None and r not in sockets and members]
        return {"sockets": len(sockets), "rooms": len(named)}

    async def send_visits():
        await sio.emit("visits", stats()["sockets"])

    async def greet(sid, auth, namespace, more=None):
        # After the connect handler has returned, so that CONNECT reaches the client first
        # (python-socketio sends it only then).
        await asyncio.sleep(0)
        await sio.emit("auth", auth or {}, to=sid, namespace=namespace)
        if more is not None:
            await more()

    # ------------------------------------------------------------------ namespace /
    @sio.event
    async def connect(sid, environ, auth):
        sio.start_background_task(greet, sid, auth, "/",
                                  None if args.no_visits else send_visits)

    @sio.event
    async def disconnect(sid, reason):
        if not args.no_visits:
            sio.start_background_task(send_visits)

    @sio.event
    async def message(sid, *data):
        await sio.emit("message-back", data, to=sid)

    @sio.on("message-with-ack")
    async def message_with_ack(sid, *data):
        return data

    @sio.event
    async def toServer(sid, data):  # noqa: N802 - the event's name
        line = f"{text(data.get('nome'))}:{text(data.get('msg'))}"
        await sio.emit("toClient", line, to=sid)
        await sio.emit("toClient", line, skip_sid=sid)

    @sio.on("client:created:job")
    async def created_job(sid, *data):
        await sio.emit("server:created:job", data)

    @sio.event
    async def whoami(sid):
        return sid

    @sio.event
    async def join(sid, room):
        await sio.enter_room(sid, text(room))
        return True

    @sio.event
    async def leave(sid, room):
        await sio.leave_room(sid, text(room))
        return True

    @sio.on("to-room")
    async def to_room(sid, data):
        await sio.emit(text(data["event"]), data.get("data"), room=text(data["room"]))

    @sio.on("to-room-except-me")
    async def to_room_except_me(sid, data):
        await sio.emit(text(data["event"]), data.get("data"), room=text(data["room"]),
                       skip_sid=sid)

    @sio.event
    async def broadcast(sid, *data):
        await sio.emit("broadcast", data, skip_sid=sid)

    @sio.event
    async def fanout(sid, data):
        await sio.emit(text(data["event"]), data.get("data"))

    @sio.event
    async def ask(sid, data):
        try:
            value = await sio.call("question", data.get("question"), to=sid,
                                   timeout=data.get("timeout_ms", 5000) / 1000)
            answer = {"ok": True, "value": value[0] if isinstance(value, tuple) else value}
        except socketio.exceptions.TimeoutError:
            answer = {"ok": False, "error": "timeout"}
        await sio.emit("answer", answer, to=sid)

    @sio.event
    async def later(sid, data):
        loop = asyncio.get_running_loop()
        loop.call_later(data.get("ms", 0) / 1000, lambda: asyncio.ensure_future(
            sio.emit(text(data["event"]), data.get("data"), to=sid)))

    @sio.on("kick-me")
    async def kick_me(sid, *_):
        eio_sid = sio.manager.eio_sid_from_sid(sid, "/")
        await sio.disconnect(sid)
        await sio.eio.disconnect(eio_sid)  # the underlying connection too

    @sio.on("throw")
    async def throw(sid, *_):
        raise RuntimeError('the client asked this handler to fail ("throw")')

    @sio.on("stats")
    async def on_stats(sid, *_):
        return stats()

    # ------------------------------------------------------------------ namespace /custom
    @sio.on("connect", namespace="/custom")
    async def custom_connect(sid, environ, auth):
        sio.start_background_task(greet, sid, auth, "/custom")

    # ------------------------------------------------------------------ namespace /admin
    @sio.on("connect", namespace="/admin")
    async def admin_connect(sid, environ, auth):
        if auth != {"token": "secret"}:
            raise socketio.exceptions.ConnectionRefusedError("unauthorized")

        async def hello():
            await asyncio.sleep(0)
            await sio.emit("admin-hello", {"id": sid}, to=sid, namespace="/admin")

        sio.start_background_task(hello)

    @sio.on("broadcast-main", namespace="/admin")
    async def broadcast_main(sid, *data):
        await sio.emit("announcement", data, namespace="/")

    return sio


async def serve(args):
    sio = build(args)
    app = web.Application()
    sio.attach(app)

    async def home(_request):
        return web.Response(text=HOME_PAGE, content_type="text/html")

    async def bundle(_request):
        return web.FileResponse(BUNDLE)

    app.router.add_get("/", home)
    app.router.add_get("/socket.io/socket.io.js", bundle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    print(f"READY {port}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sio.shutdown()
    await runner.cleanup()


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
