"""Fixtures of rtio's Python API tests: servers on free ports, official python-socketio
clients that record what they receive, and bounded waits (no sleep-and-hope)."""

import collections
import os
import queue
import threading
import time

import pytest
import socketio

WAIT = 5.0


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.01)


def os_threads():
    """Threads of this process, Rust ones included."""
    return len(os.listdir("/proc/self/task"))


class Recorder:
    """Calls made to it from any thread, taken in order with a timeout."""

    def __init__(self):
        self.q = queue.Queue()

    def __call__(self, *args):
        self.q.put(args)

    def get(self, timeout=WAIT):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing recorded within {timeout} s") from None

    def empty_after(self, grace=0.3):
        try:
            got = self.q.get(timeout=grace)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected call: {got!r}")


class Client:
    """An official python-socketio client recording every event per (namespace, event)."""

    def __init__(self, url, namespaces=("/",), auth=None, transports=None, headers=None,
                 handlers=None, connect=True, **client_options):
        self.sio = socketio.Client(reconnection=False, handle_sigint=False, **client_options)
        self.queues = collections.defaultdict(queue.Queue)
        self._lock = threading.Lock()
        self.disconnects = queue.Queue()
        self.connect_errors = queue.Queue()
        for ns in namespaces:
            self._watch(ns)
        for (event, ns), fn in (handlers or {}).items():
            self.sio.on(event, fn, namespace=ns)
        if connect:
            self.sio.connect(url, namespaces=list(namespaces), auth=auth,
                             transports=transports, headers=headers or {}, wait_timeout=WAIT)

    def queue(self, ns, event):
        """The queue of one (namespace, event), made once. Handlers run on threads of their
        own, beside the test's thread: a bare defaultdict lookup may make two queues for one
        key at once, and what goes into the one replaced is lost."""
        with self._lock:
            return self.queues[(ns, event)]

    def _watch(self, ns):
        self.sio.on("*", lambda event, *args: self.queue(ns, event).put(args), namespace=ns)
        self.sio.on("disconnect", lambda reason=None: self.disconnects.put((ns, reason)),
                    namespace=ns)
        self.sio.on("connect_error", lambda data=None: self.connect_errors.put((ns, data)),
                    namespace=ns)

    def expect(self, event, ns="/", timeout=WAIT):
        try:
            return self.queue(ns, event).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no {event!r} on {ns} within {timeout} s") from None

    def silent(self, event, ns="/", grace=0.3):
        """No `event` arrives (after a round trip through the server when possible)."""
        try:
            got = self.queue(ns, event).get(timeout=grace)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected {event!r}: {got!r}")

    @property
    def sid(self):
        return self.sio.get_sid("/")

    def close(self):
        try:
            if self.sio.connected or self.sio.eio.state == "connected":
                self.sio.disconnect()
        except Exception:
            pass


@pytest.fixture
def serve():
    """serve(sio) starts a server on a free loopback port and returns its URL; every
    server is shut down at teardown."""
    started = []

    def start(sio):
        port = sio.start(port=0, host="127.0.0.1")
        started.append(sio)
        return f"http://127.0.0.1:{port}"

    yield start
    for sio in started:
        sio.shutdown()


@pytest.fixture
def client():
    """client(url, ...) connects an official python-socketio client (closed at teardown)."""
    made = []

    def make(url, **kwargs):
        c = Client(url, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()
