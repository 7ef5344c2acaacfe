"""CPU per client event spent in the Python hosts' own Python code, without sockets.

Feeds ``rtio.Server`` (its dispatcher callback, the handler pool, the handler and the ack)
and ``rtio.AsyncServer`` (its reader callback, the handler's task, the ack) message events
with an ack id, as the core delivers them, against a stand-in for the native server whose
``ack`` only counts. What it reports is the interpreter's share of an echo, which
``make bench`` cannot separate from the core's and the kernel's:

    .venv/bin/python bench/python_layer.py [--events N] [--batch B] [--runs R]

Run it pinned to one core (``taskset -c 0``) and compare versions by alternating them.
It drives private methods of the package, so it follows their changes.
"""

import argparse
import asyncio
import threading
import time

import rtio
from rtio import server as threaded
from rtio._native import MESSAGE

_ARGS = [{"echo": "x" * 200}]  # the echo scenario's argument
_WAIT_S = 30.0  # for the last acks, at most


class _Native:
    """The native server's calls the message path makes."""

    def __init__(self, expected: int) -> None:
        self.acks = 0
        self.expected = expected
        self.done = threading.Event()
        self.batch: list = []

    def ack(self, sid, ack, value):
        self.acks += 1
        if self.acks == self.expected:
            self.done.set()

    def is_stopped(self):
        return False

    def poll(self, _most):
        return self.batch


def _batch(size: int) -> list:
    return [(MESSAGE, "sid%03d" % (i % 100), "/", "message-with-ack", _ARGS, i)
            for i in range(size)]


def threaded_server(events: int, size: int) -> float:
    """CPU µs per event through ``rtio.Server``."""
    sio = rtio.Server()
    sio.on("message-with-ack", lambda sid, *data: data)
    rounds = events // size
    native = _Native(rounds * size)
    sio._native = native
    sio._pool = threaded._HandlerPool(sio.handler_threads, lambda: None)
    batch = _batch(size)
    start = time.process_time()
    for _ in range(rounds):
        sio._on_batch(batch, native)
    if not native.done.wait(_WAIT_S):
        raise SystemExit("rtio.Server: acks missing")
    return (time.process_time() - start) / (rounds * size) * 1e6


def async_server(events: int, size: int) -> float:
    """CPU µs per event through ``rtio.AsyncServer`` (a coroutine handler)."""
    sio = rtio.AsyncServer()

    async def echo(sid, *data):
        return data

    sio.on("message-with-ack", echo)
    rounds = events // size

    async def run() -> float:
        native = _Native(rounds * size)
        native.batch = _batch(size)
        sio._native = native
        sio._loop = asyncio.get_running_loop()
        start = time.process_time()
        for _ in range(rounds):
            sio._on_readable(native)
            await asyncio.sleep(0)  # the tasks' first steps
            await asyncio.sleep(0)
        deadline = time.monotonic() + _WAIT_S
        while native.acks < native.expected:
            if time.monotonic() > deadline:
                raise SystemExit("rtio.AsyncServer: acks missing")
            await asyncio.sleep(0)
        return (time.process_time() - start) / (rounds * size) * 1e6

    return asyncio.run(run())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=8, help="events per batch from the core")
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    for name, measure in (("Server", threaded_server), ("AsyncServer", async_server)):
        figures = [measure(a.events, a.batch) for _ in range(a.runs)]
        shown = " / ".join(f"{f:.2f}" for f in figures)
        print(f"rtio.{name}: {shown} µs of CPU per event (batches of {a.batch})")


if __name__ == "__main__":
    main()
