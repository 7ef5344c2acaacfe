#!/usr/bin/env python3
"""The Python scenarios server: every behaviour of shared/SCENARIOS.md, written the way a
python-socketio user writes a server, on rtio. Run it through
``tests/interop/scenarios-server python``.

    scenarios_server.py [--port N] [--ping-interval MS] [--ping-timeout MS]
                        [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
                        [--client-bundle FILE] [--asyncio]

Prints ``READY <port>`` once accepting; stops cleanly on SIGTERM or Ctrl-C. With
``--asyncio`` the same scenarios run on ``rtio.AsyncServer`` (async_scenarios.py).
"""

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

import rtio
from rtio.exceptions import ConnectionRefusedError

WEB = Path(__file__).resolve().parent.parent / "web"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--ping-interval", type=int, default=25000, metavar="MS")
    p.add_argument("--ping-timeout", type=int, default=20000, metavar="MS")
    p.add_argument("--max-payload", type=int, default=1_000_000, metavar="BYTES")
    p.add_argument("--connect-timeout", type=int, default=45000, metavar="MS")
    p.add_argument("--no-visits", action="store_true")
    p.add_argument("--client-bundle")
    p.add_argument("--asyncio", action="store_true")
    return p.parse_args(argv)


def server_options(args):
    """The rtio.Server / rtio.AsyncServer options the flags ask for."""
    return dict(
        # Any origin, its requests with credentials (cookies) allowed: the contract's CORS.
        cors_allowed_origins="*",
        cors_credentials=True,
        ping_interval=args.ping_interval / 1000,
        ping_timeout=args.ping_timeout / 1000,
        max_http_buffer_size=args.max_payload,
        connect_timeout=args.connect_timeout / 1000,
        static_files=str(WEB),
        client_bundle=args.client_bundle,
    )


def text(value):
    """A value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def build(args):
    # async_handlers=False: each client's handlers run one at a time, in the order its
    # events came (the contract's `message-back`s follow the `message`s); different
    # clients' handlers still run side by side, on rtio's handler threads.
    sio = rtio.Server(async_handlers=False, **server_options(args))

    # The visitor counter of seed 000 (totalUsers++ / totalUsers--): counted here, in the
    # order the connect and disconnect handlers run, and sent while the lock is held so
    # that the counts go out in that order too.
    visits = 0
    visits_lock = threading.Lock()

    def count_visit(change):
        nonlocal visits
        with visits_lock:
            visits += change
            sio.emit("visits", visits)

    # ------------------------------------------------------------------ namespace /
    @sio.event
    def connect(sid, environ, auth):
        sio.emit("auth", auth or {}, to=sid)
        if not args.no_visits:
            count_visit(+1)

    @sio.event
    def disconnect(sid, reason):
        if not args.no_visits:
            count_visit(-1)

    @sio.event
    def message(sid, *data):
        sio.emit("message-back", data, to=sid)

    @sio.on("message-with-ack")
    def message_with_ack(sid, *data):
        return data  # the ack, with the same arguments

    @sio.event
    def toServer(sid, data):  # noqa: N802 - the event's name
        line = f"{text(data.get('nome'))}:{text(data.get('msg'))}"
        sio.emit("toClient", line, to=sid)
        sio.emit("toClient", line, skip_sid=sid)

    @sio.on("client:created:job")
    def created_job(sid, *data):
        sio.emit("server:created:job", data)

    @sio.event
    def whoami(sid):
        return sid

    @sio.event
    def join(sid, room):
        sio.enter_room(sid, text(room))
        return True

    @sio.event
    def leave(sid, room):
        sio.leave_room(sid, text(room))
        return True

    @sio.on("to-room")
    def to_room(sid, data):
        sio.emit(text(data["event"]), data.get("data"), room=text(data["room"]))

    @sio.on("to-room-except-me")
    def to_room_except_me(sid, data):
        sio.emit(text(data["event"]), data.get("data"), room=text(data["room"]), skip_sid=sid)

    @sio.event
    def broadcast(sid, *data):
        sio.emit("broadcast", data, skip_sid=sid)

    @sio.event
    def fanout(sid, data):
        sio.emit(text(data["event"]), data.get("data"))

    @sio.event
    def ask(sid, data):
        def ask_and_answer():
            try:
                value = sio.call("question", data.get("question"), to=sid,
                                 timeout=data.get("timeout_ms", 5000) / 1000)
                answer = {"ok": True, "value": value[0] if isinstance(value, tuple) else value}
            except TimeoutError:
                answer = {"ok": False, "error": "timeout"}
            sio.emit("answer", answer, to=sid)

        sio.start_background_task(ask_and_answer)

    @sio.event
    def later(sid, data):
        # Emits from a timer thread, not from an rtio handler.
        timer = threading.Timer(data.get("ms", 0) / 1000, sio.emit,
                                args=(text(data["event"]), data.get("data")),
                                kwargs={"to": sid})
        timer.daemon = True
        timer.start()

    @sio.on("kick-me")
    def kick_me(sid, *_):
        sio.disconnect(sid, close_connection=True)

    @sio.on("throw")
    def throw(sid, *_):
        raise RuntimeError('the client asked this handler to fail ("throw")')

    @sio.event
    def stats(sid, *_):
        return sio.stats("/")

    # ------------------------------------------------------------------ namespace /custom
    @sio.on("connect", namespace="/custom")
    def custom_connect(sid, environ, auth):
        sio.emit("auth", auth or {}, to=sid, namespace="/custom")

    # ------------------------------------------------------------------ namespace /admin
    @sio.on("connect", namespace="/admin")
    def admin_connect(sid, environ, auth):
        if auth != {"token": "secret"}:
            raise ConnectionRefusedError("unauthorized")
        sio.emit("admin-hello", {"id": sid}, to=sid, namespace="/admin")

    @sio.on("broadcast-main", namespace="/admin")
    def broadcast_main(sid, *data):
        sio.emit("announcement", data, namespace="/")

    return sio


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(argv)
    if args.asyncio:
        import async_scenarios

        return async_scenarios.main(args)
    sio = build(args)
    port = sio.start(port=args.port, host="127.0.0.1")
    print(f"READY {port}", flush=True)
    sio.run()  # until SIGTERM / Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())
