"""The scenarios server seen from python-socketio's asyncio client
(socketio.AsyncClient, over aiohttp), under each transport setup.

A second client implementation with its own HTTP and WebSocket stack
(aiohttp instead of requests + websocket-client). Unlike the sync client it
runs handlers in the order the packets arrived, so orders are checked on the
handlers directly. Each test runs its own event loop (asyncio.run)."""

import asyncio
import collections
import time

import pytest
import socketio

from conftest import WAIT

MODES = {"websocket": ["websocket"], "polling": ["polling"], "upgrade": None}


class AsyncPeer:
    def __init__(self, name, mode):
        self.name = name
        self.mode = mode
        self.sio = socketio.AsyncClient(reconnection=False, request_timeout=10,
                                        handle_sigint=False)
        self.log = []  # (namespace, event, args) in handler order
        self._queues = collections.defaultdict(asyncio.Queue)
        self.disconnects = asyncio.Queue()
        self.connect_errors = asyncio.Queue()
        self.initial_transport = None
        eio_connect = self.sio._handle_eio_connect

        async def on_eio_connect():
            self.initial_transport = self.sio.eio.transport()
            await eio_connect()

        self.sio.eio.on("connect", on_eio_connect)

    def _watch(self, ns):
        def any_event(event, *args):
            self.log.append((ns, event, args))
            self._queues[(ns, event)].put_nowait(args)

        self.sio.on("*", any_event, namespace=ns)
        self.sio.on("disconnect",
                    lambda reason=None: self.disconnects.put_nowait((ns, reason)),
                    namespace=ns)
        self.sio.on("connect_error",
                    lambda data=None: self.connect_errors.put_nowait((ns, data)),
                    namespace=ns)

    async def connect(self, url, namespaces=("/",), auth=None):
        for ns in namespaces:
            self._watch(ns)
        await self.sio.connect(url, auth=auth, transports=MODES[self.mode],
                               namespaces=list(namespaces), wait_timeout=WAIT)
        if self.mode == "upgrade":
            assert self.initial_transport == "polling"
            deadline = time.monotonic() + WAIT
            while self.sio.transport() != "websocket":
                assert time.monotonic() < deadline, "no upgrade to websocket"
                await asyncio.sleep(0.01)
        else:
            assert self.initial_transport == self.mode
            assert self.sio.transport() == self.mode
        return self

    async def expect(self, event, ns="/", timeout=WAIT):
        try:
            return await asyncio.wait_for(self._queues[(ns, event)].get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"{self.name} ({self.mode}): no {event!r} on "
                                 f"{ns} within {timeout} s; log: {self.log}") from None

    async def ack(self, event, *args, ns="/", timeout=WAIT):
        got = asyncio.get_running_loop().create_future()
        await self.sio.emit(event, tuple(args), namespace=ns,
                            callback=lambda *a: got.set_result(a))
        try:
            return await asyncio.wait_for(got, timeout)
        except asyncio.TimeoutError:
            raise AssertionError(f"no ack for {event!r}") from None

    async def silent(self, event, ns="/"):
        """No `event` arrived before a whoami round trip came back."""
        assert await self.ack("whoami") == (self.sio.get_sid("/"),)
        assert self._queues[(ns, event)].empty(), \
            f"unexpected {event!r}: {self._queues[(ns, event)].get_nowait()!r}"

    async def close(self):
        if self.sio.connected:
            await self.sio.disconnect()
        http = self.sio.eio.http  # aiohttp session (left open on refusal)
        if http is not None and not http.closed:
            await http.close()


def run(coro, timeout=25):
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())


@pytest.fixture
def arun(transport, url):
    """arun(scenario): runs `scenario(connect)` on a fresh event loop, where
    `await connect(name, ...)` gives a connected AsyncPeer (closed after)."""
    def runner(scenario):
        async def main():
            peers = []

            async def connect(name="peer", namespaces=("/",), auth=None,
                              server_url=None):
                p = AsyncPeer(name, transport)
                peers.append(p)
                return await p.connect(server_url or url, namespaces, auth)

            try:
                await scenario(connect)
            finally:
                for p in peers:
                    try:
                        await asyncio.wait_for(p.close(), WAIT)
                    except Exception:
                        pass
        run(main())
    return runner


MIXED = (1, "two", {"three": [3.5, None, True], "bin": b"\x00\x01"},
         b"\xff\x00raw", None, ["x", b"y"], "\u2713 \U0001F680")


def test_connect_auth_then_visits(arun):
    async def scenario(connect):
        a = await connect("a", auth={"token": "t", "n": [1, 2]})
        assert await a.expect("auth") == ({"token": "t", "n": [1, 2]},)
        (n,) = await a.expect("visits")
        assert isinstance(n, int) and n >= 1
        # (no order between them: the asyncio client runs each message as a task of its own)
        b = await connect("b")
        assert await b.expect("auth") == ({},)
    arun(scenario)


def test_message_and_ack_with_mixed_arguments(arun):
    async def scenario(connect):
        a = await connect("a")
        b = await connect("b")
        await a.sio.emit("message", MIXED)
        assert await a.expect("message-back") == MIXED
        assert await a.ack("message-with-ack", *MIXED) == MIXED
        assert await a.ack("message-with-ack") == ()
        await b.silent("message-back")
    arun(scenario)


def test_message_order(arun):
    async def scenario(connect):
        a = await connect("a")
        n = 40
        # python-engineio's client drops a polling response of > 16 packets
        window = 4 if a.sio.transport() == "polling" else n
        for start in range(0, n, window):
            batch = range(start, min(n, start + window))
            for i in batch:
                await a.sio.emit("message", (i, bytes([i])) if i % 2 else i)
            for i in batch:
                assert await a.expect("message-back") == \
                    ((i, bytes([i])) if i % 2 else (i,))
    arun(scenario)


def test_broadcasts_between_clients(arun):
    async def scenario(connect):
        a = await connect("a")
        b = await connect("b")
        await a.sio.emit("broadcast", {"d": b"\x01"})
        assert await b.expect("broadcast") == ({"d": b"\x01"},)
        await a.sio.emit("fanout", {"event": "fan", "data": [1, b"\x02"]})
        assert await a.expect("fan") == ([1, b"\x02"],)
        assert await b.expect("fan") == ([1, b"\x02"],)
        await a.sio.emit("toServer", {"nome": "n", "msg": "m"})
        assert await a.expect("toClient") == ("n:m",)
        assert await b.expect("toClient") == ("n:m",)
        await a.silent("broadcast")
        await a.silent("toClient")
    arun(scenario)


def test_ask_acked_and_timed_out(arun):
    async def scenario(connect):
        a = await connect("a")
        release = asyncio.Event()

        async def on_question(q):
            if q == "slow":
                await release.wait()
                return "late"
            return {"echo": q}

        a.sio.on("question", on_question)
        await a.sio.emit("ask", {"question": "quick", "timeout_ms": 5000})
        assert await a.expect("answer") == ({"ok": True, "value": {"echo": "quick"}},)
        started = time.monotonic()
        await a.sio.emit("ask", {"question": "slow", "timeout_ms": 300})
        assert await a.expect("answer") == ({"ok": False, "error": "timeout"},)
        assert time.monotonic() - started >= 0.28
        release.set()
        # let the handler return and its (late) ack go out before the barrier
        await asyncio.sleep(0.05)
        await a.silent("answer")
        await asyncio.sleep(0.2)
        assert a._queues[("/", "answer")].empty(), "a second answer"
    arun(scenario)


def test_later_and_rooms(arun):
    async def scenario(connect):
        a = await connect("a")
        b = await connect("b")
        assert await a.ack("join", "async-room") == (True,)
        assert await b.ack("join", "async-room") == (True,)
        await a.sio.emit("to-room-except-me",
                         {"room": "async-room", "event": "r", "data": 1})
        assert await b.expect("r") == (1,)
        await a.silent("r")
        assert await b.ack("leave", "async-room") == (True,)
        await a.sio.emit("to-room", {"room": "async-room", "event": "r2", "data": 2})
        assert await a.expect("r2") == (2,)
        await b.silent("r2")
        await a.sio.emit("later", {"ms": 200, "event": "tick", "data": b"\x09"})
        assert await a.expect("tick") == (b"\x09",)
    arun(scenario)


def test_kick_me_and_throw(arun):
    async def scenario(connect):
        a = await connect("a")
        await a.sio.emit("throw")
        assert await a.ack("whoami") == (a.sio.get_sid("/"),)
        await a.sio.emit("kick-me")
        ns, reason = await asyncio.wait_for(a.disconnects.get(), WAIT)
        assert (ns, reason) == ("/", "server disconnect")
        assert not a.sio.connected
    arun(scenario)


def test_namespaces(arun, transport, url):
    async def scenario(connect):
        c = await connect("c", namespaces=["/", "/custom", "/admin"],
                          auth={"token": "secret"})
        assert await c.expect("auth", ns="/custom") == ({"token": "secret"},)
        assert await c.expect("admin-hello", ns="/admin") == (
            {"id": c.sio.get_sid("/admin")},)
        await c.sio.emit("broadcast-main", "news", namespace="/admin")
        assert await c.expect("announcement") == ("news",)
        for namespaces, auth, message in (
                (["/admin"], {"token": "guess"}, "unauthorized"),
                (["/admin"], None, "unauthorized"),
                (["/missing"], None, "Invalid namespace")):
            p = AsyncPeer("refused", transport)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await p.connect(url, namespaces, auth)
            ns, data = await asyncio.wait_for(p.connect_errors.get(), WAIT)
            assert ns == namespaces[0]
            assert isinstance(data, dict) and data.get("message") == message, data
            await p.close()
    arun(scenario)
