#!/usr/bin/env python3
"""The Python scenarios server: every behaviour of shared/SCENARIOS.md, written the way a
python-socketio user writes a server, on rtio. Run it through
``tests/interop/scenarios-server python``.

    scenarios_server.py [--port N] [--ping-interval MS] [--ping-timeout MS]
                        [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
                        [--client-bundle FILE] [--asyncio] [--mount SERVER]
                        [--redis URL [--redis-key PREFIX] [--redis-sharded]]
                        [--tls-cert FILE --tls-key FILE] [--cookie NAME] [--recovery MS]
                        [--parser msgpack] [--per-message-deflate] [--eio3]

Prints ``READY <port>`` once accepting; stops cleanly on SIGTERM or Ctrl-C. With
``--asyncio`` the same scenarios run on ``rtio.AsyncServer`` (async_scenarios.py); with
``--mount gunicorn|uvicorn|aiohttp`` they run mounted in that server's app
(mounted_scenarios.py).

With ``--redis URL`` the server joins a Socket.IO cluster through Redis
(``client_manager=rtio.RedisManager(URL)``, wire-compatible with Node's
``@socket.io/redis-adapter``); the cluster rows work without it too, on one server.

With ``--tls-cert`` and ``--tls-key`` (PEM files) rtio's own listener serves HTTPS and WSS
only (``sio.start(..., ssl_certfile=, ssl_keyfile=)``); mounted, the app's server does
(uvicorn's ``ssl_certfile``, aiohttp's ``ssl_context``; not with gunicorn). With ``--cookie NAME``, python-engineio's
``cookie`` option: the session cookie NAME with ``Path=/; HttpOnly; SameSite=Lax``.

``--parser msgpack`` is python-socketio's ``serializer='msgpack'`` (every client then
uses socket.io-msgpack-parser's format); ``--per-message-deflate`` is rtio's
``websocket_compression=True`` with threshold 0 (every WebSocket message compressed for
clients that negotiate it; mounted in uvicorn, whose WebSocket is its own, uvicorn's
``ws_per_message_deflate`` instead); ``--eio3`` is rtio's ``allow_eio3=True`` (socket.io-client 2.x).
"""

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

import rtio
from rtio.exceptions import ClusterError, ConnectionRefusedError

WEB = Path(__file__).resolve().parent.parent / "web"

#: How long a request to the other servers of the cluster waits for their answers (Node's
#: requestsTimeout is 5 s): short, so that a node that stopped answering costs 2 s.
REQUESTS_TIMEOUT = 2.0


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
    p.add_argument("--mount", choices=["gunicorn", "uvicorn", "aiohttp"],
                   help="mounted in that server's app (mounted_scenarios.py)")
    p.add_argument("--redis", metavar="URL")
    p.add_argument("--redis-key", metavar="PREFIX")
    p.add_argument("--redis-sharded", action="store_true")
    p.add_argument("--tls-cert", metavar="FILE", help="PEM certificate chain: HTTPS and WSS")
    p.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    p.add_argument("--cookie", metavar="NAME", help="engine.io's session cookie")
    p.add_argument("--recovery", type=int, metavar="MS",
                   help="connection state recovery with this window")
    p.add_argument("--parser", choices=["msgpack"],
                   help="the socket.io-msgpack-parser packet format (serializer='msgpack')")
    p.add_argument("--per-message-deflate", action="store_true",
                   help="WebSocket permessage-deflate, every message (threshold 0)")
    p.add_argument("--eio3", action="store_true",
                   help="accept Engine.IO v3 clients (socket.io-client 2.x) too")
    args = p.parse_args(argv)
    if (args.tls_cert is None) != (args.tls_key is None):
        p.error("--tls-cert and --tls-key go together")
    if args.tls_cert is not None and args.mount == "gunicorn":
        p.error("--tls-cert/--tls-key do not go with --mount gunicorn (gunicorn's TLS leaves "
                "WebSocket clients on polling; see docs/python.md)")
    if args.redis is None and (args.redis_key is not None or args.redis_sharded):
        p.error("--redis-key and --redis-sharded need --redis")
    return args


def client_manager(args, manager_class):
    """The cluster manager the --redis flags ask for, or None."""
    if args.redis is None:
        return None
    return manager_class(args.redis, channel=args.redis_key or "socket.io",
                         sharded=args.redis_sharded, requests_timeout=REQUESTS_TIMEOUT)


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
        # engine.io's session cookie (sticky load balancers), as python-engineio takes it
        cookie=None if args.cookie is None else {
            "name": args.cookie, "path": "/", "httponly": True, "samesite": "Lax"},
        # socket.io's connection state recovery, the connect decision skipped on recovery
        connection_state_recovery=None if args.recovery is None else {
            "max_disconnection_duration": args.recovery / 1000, "skip_middlewares": True},
        # python-socketio's serializer: socket.io-msgpack-parser's format with 'msgpack'
        serializer=args.parser or "default",
        # rtio's own: WebSocket permessage-deflate (socket.io's perMessageDeflate), and
        # Engine.IO v3 clients beside v4 ones (socket.io's allowEIO3)
        # (under uvicorn, the ASGI server frames WebSocket: its own option does it, see
        # mounted_scenarios.py)
        websocket_compression=args.per_message_deflate and args.mount != "uvicorn",
        websocket_compression_threshold=0,
        allow_eio3=args.eio3,
    )


def tls_options(args):
    """The ``start`` arguments of --tls-cert / --tls-key (uvicorn's names), or none."""
    if args.tls_cert is None:
        return {}
    return dict(ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)


def failure(error):
    """The answer to a client when a cluster operation did not complete."""
    return {"error": str(error)}


def text(value):
    """A value as text: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def build(args):
    # async_handlers=False: each client's handlers run one at a time, in the order its
    # events came (the contract's `message-back`s follow the `message`s); different
    # clients' handlers still run side by side, on rtio's handler threads.
    sio = rtio.Server(async_handlers=False, client_manager=client_manager(args, rtio.RedisManager),
                      **server_options(args))

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

    @sio.on("is-recovered")
    def is_recovered(sid):
        return sio.recovered(sid)

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

    # ------------------------------------------------------------------ cluster rows
    # (on one server without --redis: a cluster of one)
    @sio.on("cluster-stats")
    def cluster_stats(sid, *_):
        try:
            return {"sockets": len(sio.fetch_sockets()), "servers": sio.server_count()}
        except ClusterError as e:
            return failure(e)

    @sio.on("room-sockets")
    def room_sockets(sid, room):
        try:
            return sorted(s.id for s in sio.fetch_sockets(text(room)))
        except ClusterError as e:
            return failure(e)

    @sio.on("sockets-join")
    def sockets_join(sid, data):
        sio.sockets_join(text(data["room"]), to=text(data["in"]))
        return True

    @sio.on("sockets-leave")
    def sockets_leave(sid, data):
        sio.sockets_leave(text(data["room"]), to=text(data["in"]))
        return True

    @sio.on("disconnect-in")
    def disconnect_in(sid, room):
        sio.disconnect_sockets(to=text(room), close_connection=True)

    @sio.on("fanout-except")
    def fanout_except(sid, data):
        sio.emit(text(data["event"]), data.get("data"), skip_sid=text(data["except"]))

    @sio.on("server-side-emit")
    def server_side_emit(sid, data):
        # the other servers relay it to their sockets (a single server tells no one)
        sio.server_side_emit("relay", {"event": data.get("event"), "data": data.get("data")})

    @sio.on("server-side-ping")
    def server_side_ping(sid, *_):
        try:
            return {"ok": True, "responses": sio.server_side_call("ping")}
        except ClusterError as e:
            return {"ok": False, "responses": e.result or []}

    @sio.on("broadcast-with-ack")
    def broadcast_with_ack(sid, data):
        timeout = data.get("timeout_ms", 5000) / 1000
        try:
            answers = sio.emit_with_ack(text(data["event"]), data.get("data"), timeout=timeout)
            return {"ok": True, "responses": answers}
        except ClusterError as e:
            return {"ok": False, "responses": e.result or []}

    # Sent by the other servers (or an emitter's serverSideEmit).
    @sio.on_server_side("relay")
    def relay(data=None, *_):
        data = data if isinstance(data, dict) else {}
        # this server's sockets only
        sio.emit(text(data.get("event")), data.get("data"), ignore_queue=True)

    @sio.on_server_side("ping")
    def ping(*_):
        return sio.stats("/")["sockets"]

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
    if args.mount:
        import mounted_scenarios

        return mounted_scenarios.main(args)
    if args.asyncio:
        import async_scenarios

        return async_scenarios.main(args)
    sio = build(args)
    port = sio.start(port=args.port, host="127.0.0.1", **tls_options(args))
    print(f"READY {port}", flush=True)
    sio.run()  # until SIGTERM / Ctrl-C
    return 0


if __name__ == "__main__":
    sys.exit(main())
