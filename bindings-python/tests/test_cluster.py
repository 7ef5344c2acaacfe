"""rtio servers in one Socket.IO cluster through Redis (client_manager=rtio.RedisManager):
two servers of this process on a redis-server started here on a free loopback port, with
official python-socketio clients on each. The wire format is Socket.IO's Redis adapter's
(the cluster suite, tests/interop/cluster, checks it against Node socket.io nodes)."""

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest
import socketio

import rtio
from rtio.exceptions import ClusterError

from conftest import WAIT, Client, Recorder, wait_until


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_url():
    """A redis-server of its own on a free loopback port (no persistence), for this module."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server); "
                    "the cluster tests need it", pytrace=False)
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="rtio-redis-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not _redis_answers(port):
            if proc.poll() is not None:
                pytest.fail(f"redis-server exited with {proc.returncode}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail("redis-server did not answer PING within 10 s", pytrace=False)
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


_channel = iter(range(1_000_000))


@pytest.fixture
def channel():
    """A channel prefix of each test's own: servers of earlier tests still shutting down
    are not in its cluster."""
    return f"test{os.getpid()}-{next(_channel)}"


def _server(url, channel, **kwargs):
    manager = rtio.RedisManager(url, channel=channel, requests_timeout=2)
    return rtio.Server(client_manager=manager, **kwargs)


@pytest.fixture
def pair(redis_url, channel, serve):
    """Two rtio.Servers of one cluster: [(sio, url), (sio, url)], each counting 2 servers."""
    a, b = _server(redis_url, channel), _server(redis_url, channel)
    for sio in (a, b):
        @sio.on("whoami")
        def whoami(sid):
            return sid
    urls = serve(a), serve(b)
    for sio in (a, b):
        wait_until(lambda: _count(sio) == 2, "both servers in the cluster", timeout=15)
    return (a, urls[0]), (b, urls[1])


def _count(sio):
    """The server count, or None while Redis cannot tell yet (the link still connecting)."""
    try:
        return sio.server_count()
    except ClusterError:
        return None


# ---------------------------------------------------------------- configuration


def test_manager_options_are_checked(redis_url):
    with pytest.raises(NotImplementedError, match="redis_options"):
        rtio.RedisManager(redis_url, redis_options={"socket_timeout": 1})
    with pytest.raises(ValueError, match="RedisManager"):
        rtio.RedisManager("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="subscription_mode"):
        rtio.RedisManager(redis_url, subscription_mode="sometimes")
    with pytest.raises(ValueError, match="requests_timeout"):
        rtio.RedisManager(redis_url, requests_timeout=0)
    with pytest.raises(ValueError, match="write_only"):
        rtio.Server(client_manager=rtio.RedisManager(redis_url, write_only=True))
    with pytest.raises(TypeError, match="AsyncRedisManager"):
        rtio.AsyncServer(client_manager=rtio.RedisManager(redis_url))
    with pytest.raises(TypeError, match="RedisManager"):
        rtio.Server(client_manager=rtio.AsyncRedisManager(redis_url))
    with pytest.raises(NotImplementedError, match="pickle"):
        rtio.Server(client_manager=socketio.RedisManager(redis_url, write_only=True))
    mgr = rtio.RedisManager(redis_url)
    sio = rtio.Server(client_manager=mgr)
    assert sio.manager is mgr and mgr.server is sio and sio.clustered
    with pytest.raises(ValueError, match="another server"):
        rtio.Server(client_manager=mgr)
    with pytest.raises(NotImplementedError, match="Engine.IO"):
        mgr.sid_from_eio_sid("x", "/")


def test_redis_down_at_start_serves_locally(serve, client):
    # Nothing listens on that port: the server starts anyway and serves its own clients.
    sio = rtio.Server(client_manager=rtio.RedisManager(f"redis://127.0.0.1:{_free_port()}",
                                                       requests_timeout=1))
    url = serve(sio)
    c = client(url)
    sio.emit("hello", 1)
    assert c.expect("hello") == (1,)
    with pytest.raises(ClusterError):
        sio.server_count()


# ---------------------------------------------------------------- emits across nodes


def test_emit_reaches_every_node_and_skip_sid_anywhere(pair, client):
    (a, url_a), (b, url_b) = pair
    ca, cb = client(url_a), client(url_b)
    a.emit("news", {"n": 1})
    assert ca.expect("news") == ({"n": 1},)
    assert cb.expect("news") == ({"n": 1},)
    # skip_sid names a socket of the other node
    b.emit("news", 2, skip_sid=ca.sid)
    assert cb.expect("news") == (2,)
    ca.silent("news")
    # to= a socket of the other node, with binary data
    a.emit("direct", b"\x00\x01", to=cb.sid)
    assert cb.expect("direct") == (b"\x00\x01",)
    ca.silent("direct")
    # ignore_queue=True (python-socketio's name): this node's clients only
    a.emit("mine", 3, ignore_queue=True)
    assert ca.expect("mine") == (3,)
    cb.silent("mine")
    # the bound manager's python-socketio methods go through the server
    b.manager.emit("via-manager", 4, room=ca.sid)
    assert ca.expect("via-manager") == (4,)
    cb.silent("via-manager")
    assert b.manager.is_connected(cb.sid) and not b.manager.is_connected(ca.sid)


def test_rooms_of_remote_sockets(pair, client):
    (a, url_a), (b, url_b) = pair
    ca, cb = client(url_a), client(url_b)
    a.enter_room(cb.sid, "red")  # cb is on b
    wait_until(lambda: "red" in b.rooms(cb.sid), "b's socket in room red")
    a.emit("in-red", 1, room="red")
    assert cb.expect("in-red") == (1,)
    ca.silent("in-red")
    a.leave_room(cb.sid, "red")
    wait_until(lambda: "red" not in b.rooms(cb.sid), "b's socket out of room red")
    b.enter_room(cb.sid, "blue")
    a.close_room("blue")  # closes it on every node
    wait_until(lambda: "blue" not in b.rooms(cb.sid), "room blue closed on b")
    # python-socketio's manager lists this node's participants only
    assert [sid for sid, _ in a.manager.get_participants("/", None)] == [ca.sid]


def test_disconnect_a_remote_socket(pair, client):
    (a, url_a), (b, url_b) = pair
    gone = Recorder()
    b.on("disconnect", lambda sid, reason: gone(sid, reason))
    ca, cb = client(url_a), client(url_b)
    sid = cb.sid
    a.disconnect(sid)
    assert cb.disconnects.get(timeout=WAIT)[0] == "/"
    assert gone.get() == (sid, rtio.reason.SERVER_DISCONNECT)
    assert ca.sio.connected


# ---------------------------------------------------------------- rtio's cluster extras


def test_fetch_sockets_and_server_count(pair, client):
    (a, url_a), (b, url_b) = pair
    ca = client(url_a, headers={"X-Who": "ca"})
    cb = client(url_b, auth={"token": "t"})
    b.enter_room(cb.sid, "green")
    sockets = {s.id: s for s in a.fetch_sockets()}
    assert set(sockets) == {ca.sid, cb.sid}
    assert sockets[ca.sid].local and not sockets[cb.sid].local
    assert sockets[cb.sid].rooms == [cb.sid, "green"]
    assert sockets[cb.sid].handshake["auth"] == {"token": "t"}
    assert sockets[ca.sid].handshake["headers"]["x-who"] == "ca"
    assert [s.id for s in a.fetch_sockets("green")] == [cb.sid]
    assert [s.id for s in a.fetch_sockets(local=True)] == [ca.sid]
    assert [s.id for s in b.fetch_sockets(skip_sid="green")] == [ca.sid]
    assert a.server_count() == b.server_count() == 2


def test_sockets_join_leave_and_disconnect_sockets(pair, client):
    (a, url_a), (b, url_b) = pair
    ca, cb = client(url_a), client(url_b)
    a.sockets_join("all")
    wait_until(lambda: "all" in b.rooms(cb.sid), "b's socket joined")
    assert "all" in a.rooms(ca.sid)
    b.sockets_leave("all", to=ca.sid)
    wait_until(lambda: "all" not in a.rooms(ca.sid), "a's socket left")
    a.disconnect_sockets(to="all")
    assert cb.disconnects.get(timeout=WAIT)[0] == "/"
    assert ca.sio.connected


def test_server_side_emit_and_call(pair, client):
    (a, url_a), (b, url_b) = pair
    heard = Recorder()
    b.on_server_side("relay", lambda *args: heard(*args))
    a.on_server_side("relay", lambda *args: heard("a heard its own", *args))

    @b.on_server_side("count")
    def count(x):
        return {"n": x + 1, "from": "b"}

    a.server_side_emit("relay", {"event": "e", "data": [1, "two"]})
    assert heard.get() == ({"event": "e", "data": [1, "two"]},)
    # socket.io's adapter sends server-side events as JSON: bytes arrive as Node's
    # Buffer#toJSON form, as they do on a Node node
    a.server_side_emit("relay", b"\x02")
    assert heard.get() == ({"type": "Buffer", "data": [2]},)
    heard.empty_after()
    assert a.server_side_call("count", 41) == [{"n": 42, "from": "b"}]
    # no handler on the other node: no answer, as in socket.io
    with pytest.raises(ClusterError) as err:
        b.server_side_call("count", 1, timeout=0.5)
    assert err.value.result == []


def test_acks_across_nodes(pair, client):
    (a, url_a), (b, url_b) = pair
    answer = {("question", "/"): lambda n: n * 2, ("slow", "/"): lambda n: n}
    ca = client(url_a, handlers=answer)
    cb = client(url_b, handlers={**answer, ("slow", "/"): lambda n: time.sleep(1) or n})
    assert sorted(a.emit_with_ack("question", 21)) == [42, 42]
    # call() a socket of the other node
    assert a.call("question", 5, to=cb.sid, timeout=5) == 10
    assert b.call("question", 6, to=ca.sid, timeout=5) == 12
    # a callback for a room: once per answer, from every node
    got = Recorder()
    with pytest.raises(ValueError):  # as python-socketio: not without a recipient
        a.emit("question", 1, callback=got)
    a.sockets_join("q")
    wait_until(lambda: "q" in b.rooms(cb.sid), "b's socket in room q")
    a.emit("question", 1, room="q", callback=got)
    assert sorted([got.get(), got.get()]) == [(2,), (2,)]
    # a client that answers too late: the ack wait ends at its timeout with what came
    with pytest.raises(ClusterError) as err:
        a.emit_with_ack("slow", 7, timeout=0.5)
    assert err.value.result == [7]
    with pytest.raises(rtio.exceptions.TimeoutError):
        a.call("slow", 1, to=cb.sid, timeout=0.3)


def test_async_servers_in_one_cluster(redis_url, channel):
    async def main():
        servers = []
        for _ in range(2):
            sio = rtio.AsyncServer(client_manager=rtio.AsyncRedisManager(
                redis_url, channel=channel, requests_timeout=2))

            @sio.on_server_side("ping")
            async def ping(*args, sio=sio):
                await asyncio.sleep(0)
                return len(list(sio.manager.get_participants("/", None)))

            servers.append(sio)
        a, b = servers
        ports = [await s.start(port=0, host="127.0.0.1") for s in servers]
        clients = []
        try:
            async def count(sio):
                try:
                    return await sio.server_count()
                except ClusterError:  # the link still connecting
                    return None

            deadline = time.monotonic() + 15
            while await count(a) != 2 or await count(b) != 2:
                assert time.monotonic() < deadline, "both servers in the cluster"
                await asyncio.sleep(0.02)
            got = asyncio.Queue()
            for port in ports:
                c = socketio.AsyncClient(reconnection=False, handle_sigint=False)
                c.on("news", got.put_nowait)
                await c.connect(f"http://127.0.0.1:{port}", wait_timeout=WAIT)
                clients.append(c)
            await a.emit("news", "both")
            assert [await asyncio.wait_for(got.get(), WAIT) for _ in clients] == ["both"] * 2
            sids = {s.id: s.local for s in await b.fetch_sockets()}
            assert sids == {clients[0].get_sid("/"): False, clients[1].get_sid("/"): True}
            assert await a.server_side_call("ping") == [1]
            await a.enter_room(clients[1].get_sid("/"), "r")
            deadline = time.monotonic() + WAIT
            while "r" not in b.rooms(clients[1].get_sid("/")):
                assert time.monotonic() < deadline, "b's socket in room r"
                await asyncio.sleep(0.02)
            await a.emit("news", "r only", room="r")
            assert await asyncio.wait_for(got.get(), WAIT) == "r only"
        finally:
            for c in clients:
                await c.disconnect()
            for s in servers:
                await s.shutdown()

    asyncio.run(main())


def test_socket_data_travels_in_fetch_sockets(pair, client):
    (a, url_a), (b, url_b) = pair
    ca, cb = client(url_a), client(url_b)
    assert b.set_socket_data(cb.sid, {"user": "bob", "n": [1, 2]})
    assert a.set_socket_data(ca.sid, "alice")
    seen = {s.id: s.data for s in a.fetch_sockets()}
    assert seen == {ca.sid: "alice", cb.sid: {"user": "bob", "n": [1, 2]}}
    assert b.set_socket_data(cb.sid, None)
    # socket.io's default
    assert {s.id: s.data for s in a.fetch_sockets()} == {ca.sid: "alice", cb.sid: {}}
    assert {s.id: s.data for s in b.fetch_sockets()} == {ca.sid: "alice", cb.sid: {}}
    with pytest.raises((TypeError, ValueError)):
        a.set_socket_data(ca.sid, b"bytes are not JSON")
    assert not a.set_socket_data("no-such-sid", 1)


# ---------------------------------------------------------------- write_only managers


def test_write_only_manager_pushes_into_the_cluster(redis_url, channel, serve, client):
    sio = _server(redis_url, channel)
    heard = Recorder()
    sio.on_server_side("relay", lambda *args: heard(*args))
    gone = Recorder()
    sio.on("disconnect", lambda sid, reason: gone(sid, reason))
    url = serve(sio)
    c1, c2 = client(url), client(url)
    # what a script or a Celery worker does, with no server of its own
    mgr = rtio.RedisManager(redis_url, channel=channel, write_only=True)
    wait_until(lambda: _count(sio) == 1, "the server subscribed", timeout=15)
    mgr.emit("job", {"id": 1, "blob": b"\x00\xff"})
    assert c1.expect("job") == ({"id": 1, "blob": b"\x00\xff"},)
    assert c2.expect("job") == ({"id": 1, "blob": b"\x00\xff"},)
    mgr.emit("only", (1, 2), to=c1.sid)  # a tuple: several arguments
    assert c1.expect("only") == (1, 2)
    mgr.emit("but", "x", skip_sid=c1.sid)
    assert c2.expect("but") == ("x",)
    c1.silent("but")
    mgr.enter_room(c2.sid, "/", "vip")
    wait_until(lambda: "vip" in sio.rooms(c2.sid), "joined through the emitter")
    mgr.emit("vip-news", 1, room="vip")
    assert c2.expect("vip-news") == (1,)
    mgr.leave_room(c2.sid, "/", "vip")
    wait_until(lambda: "vip" not in sio.rooms(c2.sid), "left through the emitter")
    mgr.enter_room(c1.sid, "/", "tmp")
    wait_until(lambda: "tmp" in sio.rooms(c1.sid), "joined tmp")
    mgr.close_room("tmp")
    wait_until(lambda: "tmp" not in sio.rooms(c1.sid), "tmp closed")
    mgr.server_side_emit("relay", {"event": "e"})
    assert heard.get() == ({"event": "e"},)
    sid = c1.sid
    mgr.disconnect(sid)
    assert gone.get() == (sid, rtio.reason.SERVER_DISCONNECT)
    with pytest.raises(NotImplementedError, match="callback"):
        mgr.emit("x", callback=print, to=c2.sid)
    with pytest.raises(RuntimeError, match="client_manager"):
        mgr.get_rooms(c2.sid)


def test_async_write_only_manager(redis_url, channel, serve, client):
    sio = _server(redis_url, channel)
    url = serve(sio)
    c = client(url)
    wait_until(lambda: _count(sio) == 1, "the server subscribed", timeout=15)

    async def push():
        mgr = rtio.AsyncRedisManager(redis_url, channel=channel, write_only=True)
        await mgr.emit("from-async", [1, "a"], to=c.sid)
        await mgr.enter_room(c.sid, "/", "r")

    asyncio.run(push())
    assert c.expect("from-async") == ([1, "a"],)
    wait_until(lambda: "r" in sio.rooms(c.sid), "joined r")


def test_write_only_manager_without_redis_raises():
    mgr = rtio.RedisManager(f"redis://127.0.0.1:{_free_port()}", write_only=True)
    with pytest.raises(ConnectionError, match="Redis"):
        mgr.emit("x", 1)
