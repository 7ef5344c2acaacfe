"""Where and in which order handlers run, as python-socketio runs them: a blocking handler
holds up no other client; a client's connect handler runs before its other handlers and its
disconnect handler after them; with async_handlers=False a client's handlers run one at a
time, in order. And an emit callback is kept until the client answers or leaves."""

import asyncio
import gc
import threading
import time
import weakref

import pytest

import rtio

from conftest import WAIT, Client, Recorder, wait_until

# ---------------------------------------------------------------- Server: the handler pool


@pytest.mark.parametrize("async_handlers", [True, False])
def test_a_blocking_handler_holds_up_no_other_client(serve, client, async_handlers):
    sio = rtio.Server(async_handlers=async_handlers)
    release = threading.Event()
    blocked = threading.Event()

    @sio.event
    def slow(sid):
        blocked.set()
        release.wait(WAIT)  # a database call, time.sleep...
        return "slow done"

    sio.on("ping", lambda sid: "pong")
    url = serve(sio)
    a, b = client(url), client(url)
    got = Recorder()
    try:
        a.sio.emit("slow", callback=got)
        assert blocked.wait(WAIT)
        started = time.monotonic()
        assert b.sio.call("ping", timeout=WAIT) == "pong"  # b is served meanwhile
        assert time.monotonic() - started < 1
        if async_handlers:
            # python-socketio starts each event's handler as a task of its own: a's next
            # event runs beside its blocked one
            assert a.sio.call("ping", timeout=WAIT) == "pong"
        else:
            # one at a time per client: a's next event waits for its blocked one
            later = Recorder()
            a.sio.emit("ping", callback=later)
            later.empty_after(0.3)
        release.set()
        assert got.get() == ("slow done",)
        if not async_handlers:
            assert later.get() == ("pong",)
    finally:
        release.set()


def test_handlers_run_on_a_bounded_pool(serve, client):
    sio = rtio.Server(handler_threads=2)
    lock = threading.Lock()
    running = [0]
    most = [0]

    @sio.event
    def work(sid, n):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return n

    url = serve(sio)
    c = client(url)
    got = Recorder()
    for i in range(5):
        c.sio.emit("work", i, callback=got)
    assert sorted(got.get()[0] for _ in range(5)) == [0, 1, 2, 3, 4]
    assert most[0] == 2


def test_quick_handlers_do_not_wake_a_thread_each(serve, client):
    # Handlers that do not wait are taken one after another by the threads awake (a thread
    # per job would only take turns at the GIL); more threads come only for handlers that
    # wait (the tests above)
    sio = rtio.Server(handler_threads=32)
    threads = set()

    @sio.event
    def quick(sid, n):
        threads.add(threading.get_ident())
        return n

    c = client(serve(sio))
    got = Recorder()
    for i in range(500):
        c.sio.emit("quick", i, callback=got)
    assert sorted(got.get()[0] for _ in range(500)) == list(range(500))
    assert len(threads) <= 8, f"{len(threads)} handler threads for 500 quick events"


def test_events_held_behind_connect_do_not_wait_for_each_other(serve, client):
    # The client emits while its connect handler still runs: its events wait for it, then
    # start together; one that blocks must not hold up the next (another thread takes it)
    sio = rtio.Server(always_connect=True)
    release = threading.Event()

    @sio.event
    def connect(sid, environ):
        time.sleep(0.3)

    @sio.event
    def block(sid):
        release.wait(WAIT)
        return "unblocked"

    sio.on("ping", lambda sid: "pong")
    c = client(serve(sio))
    blocked, pinged = Recorder(), Recorder()
    try:
        c.sio.emit("block", callback=blocked)
        c.sio.emit("ping", callback=pinged)
        assert pinged.get() == ("pong",)
        blocked.empty_after(0.1)
    finally:
        release.set()
    assert blocked.get() == ("unblocked",)


def test_without_async_handlers_a_clients_events_run_in_order(serve, client):
    sio = rtio.Server(async_handlers=False)
    seen = []

    @sio.event
    def n(sid, i):
        time.sleep(0.01 if i % 2 else 0)  # a slower handler does not let the next overtake
        seen.append(i)
        sio.emit("back", i, to=sid)

    c = client(serve(sio))
    for i in range(20):
        c.sio.emit("n", i)
    assert [c.expect("back")[0] for _ in range(20)] == list(range(20))
    assert seen == list(range(20))


@pytest.mark.parametrize("async_handlers", [True, False])
def test_connect_runs_before_and_disconnect_after_the_clients_other_handlers(
        serve, client, async_handlers):
    # always_connect=True: the client is in before its connect handler ran, and may emit
    # at once; its events wait for the connect handler, as python-socketio's do
    sio = rtio.Server(always_connect=True, async_handlers=async_handlers)
    log = []

    @sio.event
    def connect(sid, environ, auth):
        time.sleep(0.3)
        sio.save_session(sid, {"user": auth["user"]})
        log.append("connect")

    @sio.event
    def hello(sid):
        log.append("hello")
        return sio.get_session(sid)["user"]

    @sio.event
    def disconnect(sid, reason):
        log.append("disconnect")

    c = client(serve(sio), auth={"user": "ann"})
    got = Recorder()
    c.sio.emit("hello", callback=got)
    assert got.get() == ("ann",)
    c.close()
    wait_until(lambda: "disconnect" in log, "the disconnect handler")
    assert log == ["connect", "hello", "disconnect"]


def test_disconnect_handler_runs_once_and_session_is_gone_after_it(serve, client):
    sio = rtio.Server()
    gone = Recorder()
    sio.on("disconnect", lambda sid, reason: gone(sid, sio.get_session(sid).get("k")))
    sio.on("connect", lambda sid, environ: sio.save_session(sid, {"k": "v"}))
    url = serve(sio)
    c = client(url)
    sid = c.sid
    c.close()
    assert gone.get() == (sid, "v")  # the session is there for the disconnect handler
    gone.empty_after(0.2)
    with pytest.raises(KeyError):
        sio.get_session(sid)


def test_shutdown_waits_for_running_handlers_and_ends_the_threads(client):
    sio = rtio.Server()
    finished = []

    @sio.event
    def slow(sid):
        time.sleep(0.3)
        finished.append("slow")

    port = sio.start(port=0, host="127.0.0.1")
    c = client(f"http://127.0.0.1:{port}")
    c.sio.emit("slow")
    wait_until(lambda: any(t.name == "rtio-handler" for t in threading.enumerate()),
               "a handler thread")
    sio.shutdown()
    assert finished == ["slow"]
    assert not any(t.name == "rtio-handler" for t in threading.enumerate())


# ---------------------------------------------------------------- emit callbacks


def test_emit_callback_waits_as_long_as_the_client_takes(serve, client):
    # With ack_timeout (rtio's option) a callback is given up after that long...
    bounded = rtio.Server(ack_timeout=0.3)
    slow = {("q", "/"): lambda: time.sleep(0.8) or "late"}
    c = client(serve(bounded), handlers=slow)
    dropped = Recorder()
    bounded.emit("q", to=c.sid, callback=dropped)
    dropped.empty_after(1.2)
    assert bounded._acks == {}
    # ...by default, as python-socketio, it is kept until the client answers
    sio = rtio.Server()
    c = client(serve(sio), handlers=slow)
    got = Recorder()
    sio.emit("q", to=c.sid, callback=got)
    assert got.get() == ("late",)
    assert sio._acks == {}


def test_emit_callback_is_released_when_the_client_leaves(serve, client):
    sio = rtio.Server()
    answer = threading.Event()
    c = client(serve(sio), handlers={("q", "/"): lambda: answer.wait(WAIT) and "late"})
    called = Recorder()

    class Callback:
        def __call__(self, *args):
            called(*args)

    cb = Callback()
    ref = weakref.ref(cb)
    sio.emit("q", to=c.sid, callback=cb)
    del cb
    assert len(sio._acks) == 1
    sio.disconnect(c.sid)  # the client leaves before answering
    wait_until(lambda: not sio._acks, "the callback to be released")
    answer.set()
    gc.collect()
    assert ref() is None
    called.empty_after(0.3)


# ---------------------------------------------------------------- AsyncServer


def run_async_server(sio, body):
    """Runs `body(url)` (a coroutine function) against `sio` started on a fresh loop."""

    async def main():
        port = await sio.start(port=0, host="127.0.0.1")
        try:
            await body(f"http://127.0.0.1:{port}")
        finally:
            await sio.shutdown()

    asyncio.run(main())


async def in_thread(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


@pytest.mark.parametrize("async_handlers", [True, False])
def test_async_a_waiting_handler_holds_up_no_other_client(async_handlers):
    sio = rtio.AsyncServer(async_handlers=async_handlers, ping_interval=1)
    release = asyncio.Event()

    @sio.event
    async def slow(sid):
        await release.wait()
        return "slow done"

    @sio.event
    async def ping(sid):
        return "pong"

    async def body(url):
        a = await in_thread(Client, url)
        b = await in_thread(Client, url)
        try:
            got = Recorder()
            a.sio.emit("slow", callback=got)
            await asyncio.sleep(0.1)
            assert await in_thread(lambda: b.sio.call("ping", timeout=WAIT)) == "pong"
            later = Recorder()
            a.sio.emit("ping", callback=later)
            if async_handlers:
                assert await in_thread(later.get) == ("pong",)
            else:
                assert await in_thread(later.empty_after, 0.3)
            release.set()
            assert await in_thread(got.get) == ("slow done",)
            if not async_handlers:
                assert await in_thread(later.get) == ("pong",)
        finally:
            release.set()
            await in_thread(a.close)
            await in_thread(b.close)

    run_async_server(sio, body)


def test_async_emit_callback_kept_until_answer_and_released_on_leave():
    sio = rtio.AsyncServer(ping_interval=1)

    async def body(url):
        answer = threading.Event()
        c = await in_thread(lambda: Client(url, handlers={
            ("q", "/"): lambda: answer.wait(WAIT) and "late",
            ("r", "/"): lambda: time.sleep(0.5) or "slow"}))
        try:
            got = Recorder()
            await sio.emit("r", to=c.sid, callback=got)
            assert await in_thread(got.get) == ("slow",)
            called = Recorder()
            await sio.emit("q", to=c.sid, callback=called)
            assert len(sio._acks) == 1
            await sio.disconnect(c.sid)
            deadline = time.monotonic() + WAIT
            while sio._acks and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert sio._acks == {}
            answer.set()
            assert await in_thread(called.empty_after, 0.3)
        finally:
            answer.set()
            await in_thread(c.close)

    run_async_server(sio, body)
