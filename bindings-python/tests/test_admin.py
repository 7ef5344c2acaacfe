"""sio.instrument(...): the Socket.IO Admin UI dashboard on rtio.Server and rtio.AsyncServer,
with the official python-socketio client playing the dashboard (login and a refused one,
config, all_sockets, socket_connected / socket_disconnected, server_stats, its emit and
_disconnect commands)."""

import asyncio
import time

import pytest
import socketio

import rtio

from conftest import WAIT, wait_until

LOGIN = {"username": "admin", "password": "s3cret"}
FEATURES = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT",
            "ALL_EVENTS"]


def expect_where(c, event, test, ns="/admin", timeout=WAIT):
    """The next `event` on `ns` whose arguments satisfy `test` (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching {event!r} within {timeout} s")
        args = c.expect(event, ns, timeout=left)
        if test(*args):
            return args


def test_auth_is_required():
    with pytest.raises(ValueError, match="auth must be specified"):
        rtio.Server().instrument()


def test_dashboard_on_server(serve, client):
    sio = rtio.Server()
    admin = sio.instrument(auth=LOGIN, server_id="py-test")
    received = []
    sio.on("connect", lambda sid, environ: None, namespace="/chat")
    sio.on("ping", lambda sid, data: sio.emit("pong", data["n"] + 1, to=sid))
    url = serve(sio)
    try:
        existing = client(url, handlers={("hello", "/"): lambda *a: received.append(a)})

        # a refused login
        with pytest.raises(socketio.exceptions.ConnectionError):
            client(url, namespaces=("/admin",), auth={"username": "admin", "password": "no"})

        dash = client(url, namespaces=("/admin",), auth=LOGIN)
        (config,) = dash.expect("config", "/admin")
        assert config["supportedFeatures"] == FEATURES
        (all_sockets,) = dash.expect("all_sockets", "/admin")
        listed = {s["id"]: s for s in all_sockets}
        mine = listed[existing.sid]
        assert mine["nsp"] == "/"
        assert mine["transport"] in ("polling", "websocket")
        assert mine["rooms"] == [existing.sid]
        assert mine["handshake"]["address"] == "127.0.0.1"
        assert "EIO" in mine["handshake"]["query"]
        assert dash.sio.get_sid("/admin") in listed

        # server_stats within 3 s
        (stats,) = dash.expect("server_stats", "/admin", timeout=3)
        assert stats["serverId"] == "py-test"
        assert stats["clientsCount"] == 2
        counts = {n["name"]: n["socketsCount"] for n in stats["namespaces"]}
        assert counts["/"] == 1 and counts["/admin"] == 1

        # a socket comes
        other = client(url, namespaces=("/chat",))
        other_sid = other.sio.get_sid("/chat")
        info, at = expect_where(dash, "socket_connected", lambda s, t: s["nsp"] == "/chat")
        assert info["id"] == other_sid
        assert at.endswith("Z")

        # the dashboard emits to "/"
        dash.sio.emit("emit", ("/", None, "hello", "from", {"the": "dashboard"}),
                      namespace="/admin")
        wait_until(lambda: received, "the dashboard's emit to reach the client")
        assert received == [("from", {"the": "dashboard"})]
        nsp, sid, args, _ = expect_where(dash, "event_sent", lambda n, s, a, t: a[0] == "hello")
        assert (nsp, sid, args) == ("/", existing.sid, ["hello", "from", {"the": "dashboard"}])

        # events the sockets receive and are sent (development mode: ALL_EVENTS)
        existing.sio.emit("ping", {"n": 1})
        nsp, sid, args, _ = expect_where(dash, "event_received", lambda n, s, a, t: True)
        assert (nsp, sid, args) == ("/", existing.sid, ["ping", {"n": 1}])
        nsp, sid, args, _ = expect_where(dash, "event_sent", lambda n, s, a, t: a[0] == "pong")
        assert (nsp, sid, args) == ("/", existing.sid, ["pong", 2])

        # joins a socket to a room, emits to that room only
        dash.sio.emit("join", ("/chat", "vip", other_sid), namespace="/admin")
        wait_until(lambda: "vip" in sio.rooms(other_sid, "/chat"), "the socket to join vip")
        dash.sio.emit("emit", ("/chat", "vip", "to-room", 1), namespace="/admin")
        assert other.expect("to-room", "/chat") == (1,)

        # _disconnect: only the "/chat" client goes
        dash.sio.emit("_disconnect", ("/chat", False, other_sid), namespace="/admin")
        ns, why = other.disconnects.get(timeout=WAIT)
        assert ns == "/chat"
        nsp, sid, reason, _ = expect_where(dash, "socket_disconnected",
                                           lambda n, s, r, t: s == other_sid)
        assert (nsp, sid) == ("/chat", other_sid)
        assert reason
        assert existing.sio.connected
    finally:
        admin.shutdown()


def test_read_only_production_and_callable_auth(serve, client):
    sio = rtio.Server()
    seen = []

    def check(auth):
        seen.append(auth)
        return auth == {"token": "t"}

    admin = sio.instrument(auth=check, read_only=True, mode="production",
                           namespace="/dash", server_stats_interval=0.5)
    url = serve(sio)
    try:
        existing = client(url)
        dash = client(url, namespaces=("/dash",), auth={"token": "t"})
        (config,) = dash.expect("config", "/dash")
        assert config["supportedFeatures"] == []
        dash.silent("all_sockets", "/dash")
        (stats,) = dash.expect("server_stats", "/dash", timeout=3)
        assert stats["clientsCount"] == 2
        existing.silent("nope")
        dash.sio.emit("emit", ("/", None, "nope"), namespace="/dash")
        dash.sio.emit("_disconnect", ("/", False), namespace="/dash")
        existing.silent("nope", grace=0.5)
        assert existing.sio.connected
        assert seen == [{"token": "t"}]
        with pytest.raises(socketio.exceptions.ConnectionError):
            client(url, namespaces=("/dash",), auth={"token": "bad"})
    finally:
        admin.shutdown()


def test_dashboard_on_async_server():
    async def main():
        sio = rtio.AsyncServer()

        async def check(auth):
            await asyncio.sleep(0)
            return auth in ([LOGIN] if isinstance(auth, dict) else [])

        admin = sio.instrument(auth=check)
        port = await sio.start(port=0, host="127.0.0.1")
        url = f"http://127.0.0.1:{port}"
        queues = {}

        def q(name):
            return queues.setdefault(name, asyncio.Queue())

        existing = socketio.AsyncClient(reconnection=False)
        got_hello = asyncio.Queue()
        existing.on("hello", lambda *a: got_hello.put_nowait(a))
        dash = socketio.AsyncClient(reconnection=False)
        for name in ("config", "all_sockets", "server_stats", "socket_connected",
                     "socket_disconnected"):
            dash.on(name, (lambda n: lambda *a: q(n).put_nowait(a))(name), namespace="/admin")
        try:
            await existing.connect(url, wait_timeout=WAIT)
            bad = socketio.AsyncClient(reconnection=False)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await bad.connect(url, namespaces=["/admin"], auth={"username": "admin"},
                                  wait_timeout=WAIT)
            await dash.connect(url, namespaces=["/admin"], auth=LOGIN, wait_timeout=WAIT)
            (config,) = await asyncio.wait_for(q("config").get(), WAIT)
            assert config["supportedFeatures"] == FEATURES
            (all_sockets,) = await asyncio.wait_for(q("all_sockets").get(), WAIT)
            assert existing.get_sid("/") in {s["id"] for s in all_sockets}
            (stats,) = await asyncio.wait_for(q("server_stats").get(), 3)
            assert stats["clientsCount"] == 2

            other = socketio.AsyncClient(reconnection=False)
            await other.connect(url, wait_timeout=WAIT)
            other_sid = other.get_sid("/")
            while True:
                (info, _) = await asyncio.wait_for(q("socket_connected").get(), WAIT)
                if info["id"] == other_sid:
                    break

            await dash.emit("emit", ("/", existing.get_sid("/"), "hello", 42),
                            namespace="/admin")
            assert await asyncio.wait_for(got_hello.get(), WAIT) == (42,)

            await dash.emit("_disconnect", ("/", False, other_sid), namespace="/admin")
            while True:
                nsp, sid, _, _ = await asyncio.wait_for(q("socket_disconnected").get(), WAIT)
                if sid == other_sid:
                    break
            assert nsp == "/"
            deadline = time.monotonic() + WAIT
            while other.connected and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert not other.connected
            assert existing.connected
        finally:
            for c in (existing, dash):
                if c.connected:
                    await c.disconnect()
            await admin.shutdown()
            await sio.shutdown()

    asyncio.run(asyncio.wait_for(main(), 60))


def test_list_of_logins(serve, client):
    sio = rtio.Server()
    admin = sio.instrument(auth=[LOGIN, {"username": "ops", "password": "pw"}])
    url = serve(sio)
    try:
        dash = client(url, namespaces=("/admin",), auth={"username": "ops", "password": "pw"})
        (config,) = dash.expect("config", "/admin")
        assert "EMIT" in config["supportedFeatures"]
        with pytest.raises(socketio.exceptions.ConnectionError):
            client(url, namespaces=("/admin",), auth={"username": "ops", "password": "s3cret"})
    finally:
        admin.shutdown()
