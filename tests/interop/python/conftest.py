"""Shared machinery of the python-socketio interop suite.

The suite drives the official PyPI ``python-socketio`` client against the
scenarios server of one host (contract: shared/SCENARIOS.md), started through
``tests/interop/scenarios-server $RTIO_HOST``.

Environment:
  RTIO_HOST           host to test: rust (default), c, python, node, socketio
  RTIO_SCENARIOS_CMD  optional command that replaces
                      ``tests/interop/scenarios-server $RTIO_HOST`` (debugging)
  RTIO_READY_TIMEOUT  seconds to wait for ``READY <port>`` (default 600: the
                      first start may compile)

Every wait is bounded: events are waited for on queues with timeouts, so a
missing or misbehaving server fails the test instead of hanging it.
"""

import collections
import os
import queue
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import engineio
import engineio.packet
import pytest
import socketio
import socketio.packet

ROOT = Path(__file__).resolve().parents[3]
LAUNCHER = ROOT / "tests" / "interop" / "scenarios-server"
HOST = os.environ.get("RTIO_HOST", "rust")
READY_TIMEOUT = float(os.environ.get("RTIO_READY_TIMEOUT", "600"))

# How long to wait for something the server should do promptly.
WAIT = 5.0
# After a barrier round trip, how long to keep watching for a packet that must
# not arrive (the sync client hands every Engine.IO message to its own thread,
# so a packet that arrived before the barrier's ack may still be in flight).
GRACE = 0.3
# pytest-timeout for each test (setup + call + teardown), unless marked.
TEST_TIMEOUT = 30

TRANSPORTS = ("websocket", "polling", "upgrade")


# --------------------------------------------------------------------------
# The scenarios server process
# --------------------------------------------------------------------------

class ScenariosServer:
    """One scenarios-server process, started with `--port 0` and some flags."""

    def __init__(self, *flags, ready_timeout=READY_TIMEOUT):
        self.flags = [str(f) for f in flags]
        self.ready_timeout = ready_timeout
        self.proc = None
        self.port = None
        self._logdir = tempfile.mkdtemp(prefix="rtio-py-interop-")
        self.log_path = Path(self._logdir) / "server.stderr.log"
        self._lines = queue.Queue()

    @property
    def command(self):
        override = os.environ.get("RTIO_SCENARIOS_CMD")
        prefix = shlex.split(override) if override else [str(LAUNCHER), HOST]
        return prefix + ["--port", "0"] + self.flags

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=self._log, start_new_session=True)
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        try:
            return self._wait_ready()
        except BaseException:
            # (pytest-timeout's exception too: the server must not outlive the test)
            self.stop()
            raise

    def _wait_ready(self):
        deadline = time.monotonic() + self.ready_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise RuntimeError(
                    f"no READY line within {self.ready_timeout:.0f} s from "
                    f"{self.command}\n{self.log_tail()}")
            try:
                line = self._lines.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=5)
                raise RuntimeError(
                    f"{self.command} exited with {code} before READY\n"
                    f"{self.log_tail()}")
            parts = line.split()
            if len(parts) == 2 and parts[0] == "READY" and parts[1].isdigit():
                self.port = int(parts[1])
                if self.port == 0:
                    raise RuntimeError("server announced port 0")
                return self
            self.stop()
            raise RuntimeError(
                f"first stdout line must be 'READY <port>', got {line!r}\n"
                f"{self.log_tail()}")

    def _pump_stdout(self):
        for raw in self.proc.stdout:
            self._lines.put(raw.decode("utf-8", "replace").strip())
        self._lines.put(None)

    def stdout_after_ready(self, timeout=WAIT):
        """stdout lines printed after READY, up to the end of the stream
        (call once the process has exited; the contract allows none)."""
        out = []
        while True:
            line = self._lines.get(timeout=timeout)
            if line is None:
                return out
            out.append(line)

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, n=4000):
        try:
            data = self.log_path.read_bytes()[-n:]
        except OSError:
            return "(no server log)"
        return "--- server stderr (tail) ---\n" + data.decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        """SIGTERM, then SIGKILL (to this server's own process group)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=timeout)
        try:
            self._log.close()
        except Exception:
            pass
        return self.proc.returncode


_main = {"server": None, "error": None}


# Flags of the shared server. A short ping interval bounds how long
# python-engineio's client can take to disconnect over polling: when its
# write loop sees the state change before sending the CLOSE packet, its
# pending long-poll GET only returns with the server's next PING (so up to a
# whole ping interval, 25 s by default). It also runs heartbeats through every
# test. (The defaults themselves are checked on a server of their own.)
MAIN_FLAGS = ("--ping-interval", "1000", "--ping-timeout", "10000")


def _start_main_server():
    if _main["server"] is None and _main["error"] is None:
        try:
            _main["server"] = ScenariosServer(*MAIN_FLAGS).start()
        except Exception as exc:  # reported by every test that needs it
            _main["error"] = exc
    if _main["error"] is not None:
        raise _main["error"]
    return _main["server"]


SERVER_FIXTURES = {"server", "server_factory", "url"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))


def pytest_collection_finish(session):
    # Start (and, for the Rust host, build) the shared server before any test
    # runs, so that a first build of several minutes does not count against
    # the first test's timeout.
    if any(SERVER_FIXTURES & set(getattr(i, "fixturenames", ()))
           for i in session.items):
        try:
            _start_main_server()
        except Exception:
            pass  # raised again by the `server` fixture of each test


def pytest_sessionfinish(session, exitstatus):
    # also when no test asked for the `server` fixture
    if _main["server"] is not None:
        _main["server"].stop()


def pytest_report_header(config):
    cmd = os.environ.get("RTIO_SCENARIOS_CMD")
    return f"rtio interop: RTIO_HOST={HOST}" + (f" (command: {cmd})" if cmd else "")


@pytest.fixture(scope="session")
def server():
    """The shared scenarios server (MAIN_FLAGS) of this session, stopped at
    its end. (Started already when collection finished, see above.)"""
    srv = _start_main_server()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def url(server):
    return server.url


@pytest.fixture
def server_factory():
    """Starts private servers (own flags, or counts that must not be
    disturbed by other tests); all are stopped at teardown. Unless given a
    ping interval (or defaults=True), they get the shared server's flags."""
    _start_main_server()  # builds once, so private starts are quick
    started = []

    def start(*flags, defaults=False):
        if not defaults and "--ping-interval" not in flags:
            flags = MAIN_FLAGS + flags
        s = ScenariosServer(*flags, ready_timeout=120).start()
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


# --------------------------------------------------------------------------
# Clients
# --------------------------------------------------------------------------

def _binary_header(data):
    """True for the text of a BINARY_EVENT or BINARY_ACK packet (`5…` or `6…`)."""
    return isinstance(data, str) and data[:1] in ("5", "6")


def _attachment_count(header):
    """The number of attachments a binary packet's header announces (`51-[…]`)."""
    return int(header[1:header.index("-")])


class Peer:
    """A python-socketio Client that records everything it receives.

    Every event on every namespace it connects to is put on a queue keyed by
    (namespace, event); `expect` takes from it with a timeout.
    """

    def __init__(self, name, mode):
        self.name = name
        self.mode = mode
        self.sio = socketio.Client(reconnection=False, request_timeout=10, logger=bool(os.environ.get('RTIO_CLIENT_LOG')), engineio_logger=bool(os.environ.get('RTIO_CLIENT_LOG')),
                                   handle_sigint=False)
        self._queues = collections.defaultdict(queue.Queue)
        self._lock = threading.Lock()
        self.disconnects = queue.Queue()      # (namespace, reason)
        self.connect_errors = queue.Queue()   # (namespace, data)
        self.initial_transport = None
        # Note which transport the Engine.IO connection was opened with.
        eio_connect = self.sio._handle_eio_connect

        def on_eio_connect():
            self.initial_transport = self.sio.eio.transport()
            return eio_connect()

        self.sio.eio.on("connect", on_eio_connect)
        # Record the Engine.IO messages in the order they came off the wire:
        # the sync client then hands each to a thread of its own, so the
        # order in which handlers run is not the order the server sent.
        self.wire = []
        self.pings = 0
        receive = self.sio.eio._receive_packet
        # A binary packet is its header and then its attachments, each an Engine.IO
        # message of its own. python-socketio's sync client hands every message to a new
        # thread and reassembles in whichever order those threads run, so on a loaded
        # machine an attachment can be decoded before its header and the client fails
        # ("invalid literal for int()"): a race of the client, not of the server. The
        # messages of one binary packet are therefore collected here, in wire order, and
        # handed on together, as the client's own reassembly would.
        binary = []  # [header, attachment...] of the binary packet being received

        def on_packet(pkt):
            if pkt.packet_type == engineio.packet.MESSAGE:
                self.wire.append(pkt.data)
                if binary or _binary_header(pkt.data):
                    binary.append(pkt.data)
                    if len(binary) == 1 + _attachment_count(binary[0]):
                        group = list(binary)
                        binary.clear()
                        self.sio.start_background_task(self._handle_binary, group)
                    return None
            elif pkt.packet_type == engineio.packet.PING:
                self.pings += 1
            return receive(pkt)

        self.sio.eio._receive_packet = on_packet

    def _handle_binary(self, group):
        """Handles one binary packet (header and attachments) as python-socketio does."""
        pkt = self.sio.packet_class(encoded_packet=group[0])
        for attachment in group[1:]:
            pkt.add_attachment(attachment)
        if pkt.packet_type == socketio.packet.BINARY_EVENT:
            self.sio._handle_event(pkt.namespace, pkt.id, pkt.data)
        else:
            self.sio._handle_ack(pkt.namespace, pkt.id, pkt.data)

    # -- handlers ----------------------------------------------------------
    def _queue(self, ns, event):
        """The queue of one (namespace, event), made once. Handlers run on threads of their
        own, beside the test's thread: a bare defaultdict lookup may make two queues for one
        key at once, and what goes into the one replaced is lost."""
        with self._lock:
            return self._queues[(ns, event)]

    def _watch(self, ns):
        def any_event(event, *args):
            self._queue(ns, event).put(args)

        def disconnect(reason=None):
            self.disconnects.put((ns, reason))

        def connect_error(data=None):
            self.connect_errors.put((ns, data))

        self.sio.on("*", any_event, namespace=ns)
        self.sio.on("disconnect", disconnect, namespace=ns)
        self.sio.on("connect_error", connect_error, namespace=ns)

    def on(self, event, handler, ns="/"):
        """A specific handler (its return value is the ack, if one is asked)."""
        self.sio.on(event, handler, namespace=ns)

    # -- connecting --------------------------------------------------------
    def connect(self, url, namespaces=("/",), auth=None):
        namespaces = list(namespaces)
        for ns in namespaces:
            self._watch(ns)
        transports = {"websocket": ["websocket"], "polling": ["polling"],
                      "upgrade": None}[self.mode]
        self.sio.connect(url, auth=auth, transports=transports,
                         namespaces=namespaces, wait_timeout=WAIT)
        return self

    def check_transport(self):
        """The transport is the one this peer's mode asks for."""
        if self.mode == "websocket":
            assert self.initial_transport == "websocket"
            assert self.sio.transport() == "websocket"
        elif self.mode == "polling":
            assert self.initial_transport == "polling"
            assert self.sio.transport() == "polling"
        else:
            assert self.initial_transport == "polling", \
                "upgrade mode must open the connection with polling"
            wait_until(lambda: self.sio.transport() == "websocket",
                       f"{self.name}: upgrade to websocket")

    # -- receiving ---------------------------------------------------------
    def expect(self, event, ns="/", timeout=WAIT):
        """The arguments (a tuple) of the next `event` received on `ns`."""
        try:
            return self._queue(ns, event).get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"{self.name} ({self.mode}): no {event!r} on {ns} within "
                f"{timeout} s; received meanwhile: {self.pending()}") from None

    def expect1(self, event, ns="/", timeout=WAIT):
        """The single argument of the next `event` received on `ns`."""
        args = self.expect(event, ns, timeout)
        assert len(args) == 1, f"{event!r} carried {len(args)} arguments: {args!r}"
        return args[0]

    def pending(self):
        with self._lock:
            queues = list(self._queues.items())
        return {f"{ns}:{ev}": list(q.queue) for (ns, ev), q in queues if q.qsize()}

    def wire_events(self, ns="/"):
        """(event name, first argument or None) of every EVENT and
        BINARY_EVENT received on `ns`, in wire order (binary attachments are
        left as placeholders)."""
        out = []
        for data in list(self.wire):
            if not isinstance(data, str):
                continue  # a binary attachment
            pkt = socketio.packet.Packet(encoded_packet=data)
            if pkt.packet_type not in (socketio.packet.EVENT,
                                       socketio.packet.BINARY_EVENT):
                continue
            if (pkt.namespace or "/") != ns:
                continue
            out.append((pkt.data[0], pkt.data[1] if len(pkt.data) > 1 else None))
        return out

    def barrier(self):
        """A `whoami` round trip: whatever the server sent to this socket
        before answering it has arrived once this returns."""
        assert self.sio.call("whoami", timeout=WAIT) == self.sio.get_sid("/")

    def assert_silent(self, event, ns="/"):
        """No `event` on `ns` arrived (checked after a barrier)."""
        if ns == "/":
            self.barrier()
        try:
            got = self._queue(ns, event).get(timeout=GRACE)
        except queue.Empty:
            return
        raise AssertionError(f"{self.name} ({self.mode}): unexpected {event!r} "
                             f"on {ns}: {got!r}")

    # -- sending -----------------------------------------------------------
    def ack(self, event, *args, ns="/", timeout=WAIT):
        """Emit `event` with `args`, asking for an ack; the ack's arguments."""
        got = queue.Queue()
        self.sio.emit(event, tuple(args), namespace=ns,
                      callback=lambda *a: got.put(a))
        try:
            return got.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name} ({self.mode}): no ack for "
                                 f"{event!r} within {timeout} s") from None

    def emit(self, event, *args, ns="/"):
        self.sio.emit(event, tuple(args), namespace=ns)

    def disconnect(self):
        """Disconnects the client once it has sent (and had answered) what it queued.

        python-engineio's polling writer looks at the connection state only between two
        POSTs: a disconnect() while a POST is in flight (the CONNECT just sent, a PONG) ends
        the writer without sending DISCONNECT and CLOSE, and the server only learns of it at
        the ping timeout. The client's send queue counts a packet done once its POST is
        answered."""
        q = self.sio.eio.queue
        with q.all_tasks_done:
            if not q.all_tasks_done.wait_for(lambda: q.unfinished_tasks == 0, timeout=WAIT):
                raise AssertionError(f"{self.name} ({self.mode}): packets still unsent "
                                     f"after {WAIT} s")
        self.sio.disconnect()

    def close(self):
        try:
            if self.sio.connected or self.sio.eio.state == "connected":
                self.sio.disconnect()
        except Exception:
            pass


def wait_until(predicate, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.01)


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    """websocket-only, polling-only, or polling then upgrade (the default)."""
    return request.param


@pytest.fixture
def make_peer(transport, url):
    """Connects peers with the test's transport; all are closed at teardown.

    make_peer(name, namespaces=("/",), auth=None, url=None, expect_auth=True)
    With expect_auth (and "/" among the namespaces), the `auth` event of "/"
    is taken off the queue and checked against what was sent.
    """
    peers = []

    def make(name="peer", namespaces=("/",), auth=None, server_url=None,
             mode=None, expect_auth=True):
        peer = Peer(name, mode or transport)
        peers.append(peer)
        peer.connect(server_url or url, namespaces=namespaces, auth=auth)
        peer.check_transport()
        if expect_auth and "/" in namespaces:
            assert peer.expect1("auth") == (auth if auth is not None else {})
        return peer

    yield make
    for p in peers:
        p.close()
