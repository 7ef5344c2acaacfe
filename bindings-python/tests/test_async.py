"""rtio.AsyncServer (asyncio API) against the official python-socketio AsyncClient."""

import asyncio
import collections
import logging

import pytest
import socketio

import rtio

from conftest import os_threads

WAIT = 5.0


class AClient:
    """An official python-socketio AsyncClient recording events per (namespace, event)."""

    def __init__(self):
        self.sio = socketio.AsyncClient(reconnection=False, handle_sigint=False)
        self.queues = collections.defaultdict(asyncio.Queue)
        self.disconnects = asyncio.Queue()

    async def connect(self, url, namespaces=("/",), auth=None, handlers=None):
        for ns in namespaces:
            self.sio.on("*", self._recorder(ns), namespace=ns)
            self.sio.on("disconnect", self._gone(ns), namespace=ns)
        for (event, ns), fn in (handlers or {}).items():
            self.sio.on(event, fn, namespace=ns)
        await self.sio.connect(url, namespaces=list(namespaces), auth=auth, wait_timeout=WAIT)
        return self

    def _recorder(self, ns):
        async def record(event, *args):
            await self.queues[(ns, event)].put(args)
        return record

    def _gone(self, ns):
        async def gone(reason=None):
            await self.disconnects.put((ns, reason))
        return gone

    async def expect(self, event, ns="/"):
        return await asyncio.wait_for(self.queues[(ns, event)].get(), WAIT)

    async def close(self):
        if self.sio.connected:
            await self.sio.disconnect()


def run(coro_fn, *servers):
    """Runs a test coroutine with the servers it starts shut down afterwards."""
    async def main():
        try:
            await asyncio.wait_for(coro_fn(), 30)
        finally:
            for s in servers:
                await s.shutdown()
    asyncio.run(main())


async def started(sio):
    port = await sio.start(port=0, host="127.0.0.1")
    return f"http://127.0.0.1:{port}"


def test_async_and_plain_handlers_acks_binary_and_connect_args():
    sio = rtio.AsyncServer()
    seen = []

    @sio.event
    async def connect(sid, environ, auth):
        seen.append((sid, environ["REMOTE_ADDR"], auth))

    @sio.event
    async def echo(sid, *args):
        await asyncio.sleep(0)
        return args

    @sio.on("plain")
    def plain(sid, x):
        return {"x": x, "bin": bytes([x])}

    async def test():
        url = await started(sio)
        c = await AClient().connect(url, auth={"k": "v"})
        try:
            assert seen == [(c.sio.get_sid("/"), "127.0.0.1", {"k": "v"})]
            assert await c.sio.call("echo", (1, b"\x00\x01", {"n": None}), timeout=WAIT) == \
                (1, b"\x00\x01", {"n": None})
            assert await c.sio.call("plain", 7, timeout=WAIT) == {"x": 7, "bin": b"\x07"}
        finally:
            await c.close()

    run(test, sio)


def test_rooms_sessions_and_broadcasts():
    sio = rtio.AsyncServer()

    @sio.event
    async def connect(sid, environ, auth):
        async with sio.session(sid) as session:
            session["name"] = auth["name"]
        await sio.enter_room(sid, "lobby")

    @sio.event
    async def say(sid, text):
        name = (await sio.get_session(sid))["name"]
        await sio.emit("said", f"{name}: {text}", room="lobby", skip_sid=sid)

    async def test():
        url = await started(sio)
        a = await AClient().connect(url, auth={"name": "ann"})
        b = await AClient().connect(url, auth={"name": "bob"})
        try:
            assert sio.rooms(a.sio.get_sid("/")) == [a.sio.get_sid("/"), "lobby"]
            await a.sio.emit("say", "hi")
            assert await b.expect("said") == ("ann: hi",)
            await sio.leave_room(b.sio.get_sid("/"), "lobby")
            await sio.close_room("lobby")
            assert sio.stats("/") == {"sockets": 2, "rooms": 0}
        finally:
            await a.close()
            await b.close()

    run(test, sio)


def test_call_with_ack_and_timeout_while_other_events_flow():
    sio = rtio.AsyncServer()
    results = asyncio.Queue

    @sio.event
    async def ask(sid, timeout):
        try:
            return {"ok": True, "value": await sio.call("question", "?", to=sid,
                                                        timeout=timeout)}
        except rtio.exceptions.TimeoutError:
            return {"ok": False}

    @sio.event
    async def ping(sid):
        return "pong"

    async def test():
        url = await started(sio)
        answer = asyncio.Event()

        async def question(q):
            await answer.wait()
            return "42"

        c = await AClient().connect(url, handlers={("question", "/"): question})
        try:
            pending = asyncio.ensure_future(c.sio.call("ask", 5, timeout=WAIT))
            # the handler waiting in call() blocks nothing
            assert await c.sio.call("ping", timeout=WAIT) == "pong"
            answer.set()
            assert await pending == {"ok": True, "value": "42"}
            answer.clear()
            assert await c.sio.call("ask", 0.2, timeout=WAIT) == {"ok": False}
            with pytest.raises(TimeoutError):
                await sio.call("x", to="nobody", timeout=1)
        finally:
            answer.set()
            await c.close()

    assert results is asyncio.Queue
    run(test, sio)


def test_emit_callback_may_be_a_coroutine():
    sio = rtio.AsyncServer()

    async def test():
        url = await started(sio)
        c = await AClient().connect(url, handlers={("hi", "/"): lambda x: x + 1})
        got = asyncio.get_running_loop().create_future()

        async def callback(value):
            got.set_result(value)

        try:
            await sio.emit("hi", 1, to=c.sio.get_sid("/"), callback=callback)
            assert await asyncio.wait_for(got, WAIT) == 2
        finally:
            await c.close()

    run(test, sio)


def test_handler_exception_is_logged_and_serving_goes_on(caplog):
    sio = rtio.AsyncServer()

    @sio.event
    async def boom(sid):
        raise KeyError("kaboom")

    @sio.event
    def boom_sync(sid):
        raise KeyError("kaboom-sync")

    sio.on("ok", lambda sid: "fine")

    async def test():
        url = await started(sio)
        c = await AClient().connect(url)
        try:
            with caplog.at_level(logging.ERROR, logger="rtio"):
                await c.sio.emit("boom")
                await c.sio.emit("boom_sync")
                assert await c.sio.call("ok", timeout=WAIT) == "fine"
                for _ in range(100):
                    if "kaboom-sync" in caplog.text and "kaboom'" in caplog.text:
                        break
                    await asyncio.sleep(0.01)
        finally:
            await c.close()

    run(test, sio)
    errors = [r for r in caplog.records if r.exc_info and r.exc_info[0] is KeyError]
    assert len(errors) == 2


def test_async_namespace_and_disconnect_reasons():
    sio = rtio.AsyncServer()
    gone = []

    class Chat(rtio.AsyncNamespace):
        async def on_connect(self, sid, environ):
            await self.emit("welcome", sid, to=sid)

        def on_sync(self, sid):
            return "sync ok"

        async def on_kick(self, sid):
            await self.disconnect(sid)

        async def on_disconnect(self, sid, reason):
            gone.append(reason)

    sio.register_namespace(Chat("/chat"))

    async def test():
        url = await started(sio)
        c = await AClient().connect(url, namespaces=["/chat"])
        try:
            sid = c.sio.get_sid("/chat")
            assert await c.expect("welcome", ns="/chat") == (sid,)
            assert await c.sio.call("sync", namespace="/chat", timeout=WAIT) == "sync ok"
            await c.sio.emit("kick", namespace="/chat")
            assert await asyncio.wait_for(c.disconnects.get(), WAIT) == \
                ("/chat", "server disconnect")
            for _ in range(200):
                if gone:
                    break
                await asyncio.sleep(0.01)
            assert gone == [rtio.reason.SERVER_DISCONNECT]
        finally:
            await c.close()

    run(test, sio)


def test_serial_handlers_run_in_order():
    sio = rtio.AsyncServer(async_handlers=False)
    order = []

    @sio.event
    async def step(sid, n):
        await asyncio.sleep(0.01 * (5 - n))  # later steps are quicker
        order.append(n)

    @sio.event
    async def done(sid):
        return list(order)

    async def test():
        url = await started(sio)
        c = await AClient().connect(url)
        try:
            for n in range(5):
                await c.sio.emit("step", n)
            assert await c.sio.call("done", timeout=WAIT) == [0, 1, 2, 3, 4]
        finally:
            await c.close()

    run(test, sio)


def test_serve_until_shutdown_or_cancel_many_times_without_leaks():
    sio = rtio.AsyncServer(worker_threads=2)
    seen = []
    gone = []

    @sio.event
    async def disconnect(sid, reason):
        gone.append((sid, reason))

    @sio.event
    async def stop(sid):
        seen.append(sid)
        await sio.shutdown()

    async def main():
        # shutdown() from a handler ends serve()
        serving = asyncio.ensure_future(sio.serve(port=0, host="127.0.0.1"))
        while sio.bound_port is None or not sio.running:
            await asyncio.sleep(0.01)
        c = await AClient().connect(f"http://127.0.0.1:{sio.bound_port}")
        await c.sio.emit("stop")
        await asyncio.wait_for(serving, WAIT)
        assert await asyncio.wait_for(c.disconnects.get(), WAIT) == ("/", "server disconnect")
        assert not sio.running and len(seen) == 1
        # the disconnect handler ran exactly once, before serve() returned
        assert gone == [(seen[0], rtio.reason.SERVER_DISCONNECT)]
        await c.close()
        before = os_threads()
        # cancelling serve() (what Ctrl-C does under asyncio.run) stops it cleanly
        for _ in range(5):
            serving = asyncio.ensure_future(sio.serve(port=0, host="127.0.0.1"))
            while not sio.running:
                await asyncio.sleep(0.01)
            assert os_threads() > before
            serving.cancel()
            with pytest.raises(asyncio.CancelledError):
                await serving
            assert not sio.running
            assert os_threads() == before

    asyncio.run(asyncio.wait_for(main(), 60))


def test_bursts_from_many_clients_are_all_delivered():
    """Every event reaches its handler however the wake-ups of the loop interleave with
    the engine queueing events (a lost wake-up would stall and time out here)."""
    sio = rtio.AsyncServer()

    @sio.event
    async def msg(sid, i):
        return i

    async def test():
        url = await started(sio)
        clients = [await AClient().connect(url) for _ in range(3)]
        try:
            for rnd in range(30):
                for c in clients:
                    for i in range(20):
                        await c.sio.emit("msg", i)
                calls = [c.sio.call("msg", rnd, timeout=WAIT) for c in clients]
                assert await asyncio.gather(*calls) == [rnd] * 3
        finally:
            for c in clients:
                await c.close()

    run(test, sio)
