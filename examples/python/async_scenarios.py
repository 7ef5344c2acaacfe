"""The scenarios of shared/SCENARIOS.md on ``rtio.AsyncServer`` (asyncio handlers):
``scenarios_server.py --asyncio``, or ``RTIO_PY_ASYNC=1 tests/interop/scenarios-server python``.
"""

import asyncio

import rtio
from rtio.exceptions import ClusterError, ConnectionRefusedError

from scenarios_server import client_manager, failure, server_options, text, tls_options


def build(args):
    sio = rtio.AsyncServer(client_manager=client_manager(args, rtio.AsyncRedisManager),
                           **server_options(args))

    # The visitor counter of seed 000 (totalUsers++ / totalUsers--), counted in the order
    # the connect and disconnect handlers run (all on the event loop: no lock needed, as
    # long as nothing is awaited between the count and its emit).
    visits = 0

    async def count_visit(change):
        nonlocal visits
        visits += change
        await sio.emit("visits", visits)

    # ------------------------------------------------------------------ namespace /
    @sio.event
    async def connect(sid, environ, auth):
        await sio.emit("auth", auth or {}, to=sid)
        if not args.no_visits:
            await count_visit(+1)

    @sio.event
    async def disconnect(sid, reason):
        if not args.no_visits:
            await count_visit(-1)

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
    def whoami(sid):  # plain functions work too
        return sid

    @sio.on("is-recovered")
    def is_recovered(sid):
        return sio.recovered(sid)

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
        except TimeoutError:
            answer = {"ok": False, "error": "timeout"}
        await sio.emit("answer", answer, to=sid)

    @sio.event
    async def later(sid, data):
        # Emits from a loop callback scheduled for later, not from within a handler.
        loop = asyncio.get_running_loop()
        loop.call_later(data.get("ms", 0) / 1000, lambda: asyncio.ensure_future(
            sio.emit(text(data["event"]), data.get("data"), to=sid)))

    @sio.on("kick-me")
    async def kick_me(sid, *_):
        await sio.disconnect(sid, close_connection=True)

    @sio.on("throw")
    async def throw(sid, *_):
        raise RuntimeError('the client asked this handler to fail ("throw")')

    @sio.event
    async def stats(sid, *_):
        return sio.stats("/")

    # ------------------------------------------------------------------ cluster rows
    # (on one server without --redis: a cluster of one)
    @sio.on("cluster-stats")
    async def cluster_stats(sid, *_):
        try:
            return {"sockets": len(await sio.fetch_sockets()),
                    "servers": await sio.server_count()}
        except ClusterError as e:
            return failure(e)

    @sio.on("room-sockets")
    async def room_sockets(sid, room):
        try:
            return sorted(s.id for s in await sio.fetch_sockets(text(room)))
        except ClusterError as e:
            return failure(e)

    @sio.on("sockets-join")
    async def sockets_join(sid, data):
        await sio.sockets_join(text(data["room"]), to=text(data["in"]))
        return True

    @sio.on("sockets-leave")
    async def sockets_leave(sid, data):
        await sio.sockets_leave(text(data["room"]), to=text(data["in"]))
        return True

    @sio.on("disconnect-in")
    async def disconnect_in(sid, room):
        await sio.disconnect_sockets(to=text(room), close_connection=True)

    @sio.on("fanout-except")
    async def fanout_except(sid, data):
        await sio.emit(text(data["event"]), data.get("data"), skip_sid=text(data["except"]))

    @sio.on("server-side-emit")
    async def server_side_emit(sid, data):
        # the other servers relay it to their sockets (a single server tells no one)
        await sio.server_side_emit("relay", {"event": data.get("event"),
                                             "data": data.get("data")})

    @sio.on("server-side-ping")
    async def server_side_ping(sid, *_):
        try:
            return {"ok": True, "responses": await sio.server_side_call("ping")}
        except ClusterError as e:
            return {"ok": False, "responses": e.result or []}

    @sio.on("broadcast-with-ack")
    async def broadcast_with_ack(sid, data):
        timeout = data.get("timeout_ms", 5000) / 1000
        try:
            answers = await sio.emit_with_ack(text(data["event"]), data.get("data"),
                                              timeout=timeout)
            return {"ok": True, "responses": answers}
        except ClusterError as e:
            return {"ok": False, "responses": e.result or []}

    # Sent by the other servers (or an emitter's serverSideEmit).
    @sio.on_server_side("relay")
    async def relay(data=None, *_):
        data = data if isinstance(data, dict) else {}
        # this server's sockets only
        await sio.emit(text(data.get("event")), data.get("data"), ignore_queue=True)

    @sio.on_server_side("ping")
    def ping(*_):
        return sio.stats("/")["sockets"]

    # ------------------------------------------------------------------ namespace /custom
    @sio.on("connect", namespace="/custom")
    async def custom_connect(sid, environ, auth):
        await sio.emit("auth", auth or {}, to=sid, namespace="/custom")

    # ------------------------------------------------------------------ namespace /admin
    @sio.on("connect", namespace="/admin")
    async def admin_connect(sid, environ, auth):
        if auth != {"token": "secret"}:
            raise ConnectionRefusedError("unauthorized")
        await sio.emit("admin-hello", {"id": sid}, to=sid, namespace="/admin")

    @sio.on("broadcast-main", namespace="/admin")
    async def broadcast_main(sid, *data):
        await sio.emit("announcement", data, namespace="/")

    return sio


async def serve(args):
    sio = build(args)
    port = await sio.start(port=args.port, host="127.0.0.1", **tls_options(args))
    print(f"READY {port}", flush=True)
    await sio.serve()  # until SIGTERM / Ctrl-C


def main(args):
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0
