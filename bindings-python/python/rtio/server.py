"""``rtio.Server``: python-socketio's ``socketio.Server`` API on rtio's engine."""

from __future__ import annotations

import collections
import functools
import signal
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Set, Tuple, Union

from . import _native
from . import exceptions
from . import mount
from ._base import (BaseServer, SocketInfo, StrPath, Target, _RoomCallback, _rooms, _socket_info,
                    ack_value, is_refusal)

CONNECT_REQUEST = _native.CONNECT_REQUEST
CONNECT = _native.CONNECT
MESSAGE = _native.MESSAGE
DISCONNECT = _native.DISCONNECT
ACK = _native.ACK
REQUEST = _native.REQUEST
BROADCAST_ACK = _native.BROADCAST_ACK
FETCH_SOCKETS = _native.FETCH_SOCKETS
SERVER_SIDE_EMIT = _native.SERVER_SIDE_EMIT
SERVER_SIDE_ACK = _native.SERVER_SIDE_ACK
SERVER_COUNT = _native.SERVER_COUNT
HTTP_RESPONSE = _native.HTTP_RESPONSE
#: What a blocking wait for a cluster result adds to the core's own deadline, which always
#: answers first (the core completes every operation, by its timeout at the latest).
_GRACE_S = 5.0

_BATCH = 256
#: Seconds an idle handler thread waits for work before it ends.
_IDLE_THREAD_S = 30.0
#: Seconds queued handler jobs wait, when none starts meanwhile, before one more thread
#: takes them (the threads awake all run handlers that wait).
_STALL_S = 0.002
#: Seconds ``shutdown()`` waits for running handlers to end.
_SHUTDOWN_WAIT_S = 10.0


class _Waiter:
    """The ack a ``call()`` waits for."""

    __slots__ = ("event", "args")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.args: Any = None

    def set(self, args: Any) -> None:
        self.args = args
        self.event.set()


class _Task(threading.Thread):
    """A background task (``start_background_task``): a daemon thread with ``join()``."""


class _HandlerPool:
    """The threads handlers run on: at most ``size``, ended after ``_IDLE_THREAD_S`` without
    work. Jobs start in submission order.

    A handler holds the GIL while it computes, so a second thread only helps while the
    first waits (I/O, ``time.sleep``, ``call()``...): threads woken for every job would only
    take turns at the GIL, a context switch each. So a job wakes a thread only when no thread
    is awake to take it, and an awake thread takes the queued jobs one after another. When
    jobs wait and none has started for ``_STALL_S`` (every awake thread is in a handler that
    waits), :meth:`check` brings one more thread, up to ``size``: the dispatcher calls it
    after each batch and, while jobs wait, at least every ``_STALL_S``."""

    def __init__(self, size: int, log: Callable[[], None]) -> None:
        self._size = max(1, size)
        self._log = log  # logs the exception being handled
        # (job, after): ``after`` runs once the job ended, whatever happened
        self._jobs: Deque[Tuple[Callable[[], Any], Optional[Callable[[], None]]]] = \
            collections.deque()
        # Taken with ``with self._lock``: ``Condition.__enter__`` is a Python-level call.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._threads: Set[threading.Thread] = set()
        self._idle = 0  # threads waiting on the condition
        self._awake = 0  # threads running a job or looking for the next one
        self._wakes = 0  # threads notified that have not woken up yet
        self._started = 0  # jobs started so far
        # (jobs started, monotonic time) when check() last saw a job start or the queue fill
        self._seen: Tuple[int, float] = (0, 0.0)
        self._closed = False

    def submit(self, job: Callable[[], Any], after: Optional[Callable[[], None]] = None) -> None:
        with self._lock:
            if not self._jobs:
                self._started += 1  # a queue that fills counts as progress
            self._jobs.append((job, after))
            if self._awake + self._wakes == 0:
                self._add_thread()

    def check(self) -> Optional[float]:
        """Brings one more thread when jobs wait and none started for ``_STALL_S``. Returns
        the seconds until it should be called again (``None``: no job waits)."""
        with self._lock:
            if not self._jobs:
                return None
            now = time.monotonic()
            started, since = self._seen
            if started != self._started:
                self._seen = (self._started, now)
            elif now - since >= _STALL_S:
                self._add_thread()
                self._seen = (started, now)
            return _STALL_S

    def _add_thread(self) -> None:
        """One more thread takes jobs: an idle one, else a new one if the pool may grow.
        (Lock held.)"""
        if self._idle > self._wakes:
            self._wakes += 1
            self._cond.notify()
        elif len(self._threads) < self._size or self._closed:
            self._spawn()

    def _spawn(self) -> None:
        t = threading.Thread(target=self._work, name="rtio-handler", daemon=True)
        self._threads.add(t)
        self._awake += 1
        t.start()

    def _work(self) -> None:
        me = threading.current_thread()
        lock, cond, jobs = self._lock, self._cond, self._jobs
        while True:
            with lock:
                while not jobs:
                    self._awake -= 1
                    if self._closed:
                        self._threads.discard(me)
                        cond.notify_all()
                        return
                    self._idle += 1
                    woken = cond.wait(_IDLE_THREAD_S)
                    self._idle -= 1
                    if self._wakes:
                        self._wakes -= 1
                    if not woken and not jobs and not self._closed:
                        self._threads.discard(me)
                        return
                    self._awake += 1
                job, after = jobs.popleft()
                self._started += 1
            try:
                job()
            except BaseException:  # jobs catch their handlers' errors; this is a last resort
                self._log()
            finally:
                if after is not None:
                    try:
                        after()
                    except BaseException:  # pragma: no cover
                        self._log()
            del job, after

    def close(self, timeout: float) -> bool:
        """Runs the jobs still queued, then ends the threads; waits up to ``timeout`` s for
        them (not for the calling thread when it is one of them). True when all ended."""
        me = threading.current_thread()
        deadline = time.monotonic() + timeout
        with self._lock:
            self._closed = True
            if self._jobs and not (self._threads - {me}):
                self._spawn()
            self._cond.notify_all()
            while self._threads - {me}:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True


class Server(BaseServer):
    """A Socket.IO server with python-socketio's ``socketio.Server`` API, served by rtio.

    Handlers run on a pool of up to ``handler_threads`` threads, as python-socketio runs
    them on threads of their own: a handler that blocks (a database call, ``time.sleep``)
    holds up no other client for more than about 2 ms (quick handlers run one after
    another on the threads awake; another thread joins when none started for that long).
    A client's ``connect`` handler runs before its other handlers and its ``disconnect``
    handler after them; with ``async_handlers=True`` (the default) its event handlers start
    in arrival order and run side by side, with ``async_handlers=False`` they run one at a
    time, in order (other clients still run meanwhile). ``emit`` & co. work from any
    thread. A handler that raises is logged with its traceback and the server keeps
    serving.

    Options as python-socketio names them: ``cors_allowed_origins`` (``None``: the
    server's own origin only; ``'*'``: any; an origin or a list of them; a callable
    ``f(origin[, environ]) -> bool``; ``[]``: no CORS handling), ``cors_credentials``,
    ``ping_interval`` and ``ping_timeout`` (seconds), ``max_http_buffer_size`` (bytes),
    ``transports``, ``always_connect``, ``namespaces``, ``logger``, ``async_handlers``,
    ``serializer`` (``'default'`` or ``'msgpack'``: socket.io-msgpack-parser's format; handlers
    get the same Python values either way), ``http_compression``, ``cookie``...
    Values rtio cannot honour (``serializer='pickle'``, a ``json`` module, python-socketio's
    own client managers...) raise at construction, saying what to do instead.
    rtio's own: ``websocket_compression`` (WebSocket permessage-deflate, socket.io's
    ``perMessageDeflate``; default off) with ``websocket_compression_threshold`` (bytes,
    default 1024), ``allow_eio3`` (serve Engine.IO v3 clients, socket.io-client 2.x, too;
    default off), ``host`` and ``port`` (defaults for :meth:`run` / :meth:`start`), ``path``
    (default ``'/socket.io/'``), ``static_files`` (a directory served at ``/``),
    ``client_bundle`` (a ``socket.io.js`` file served at ``<path>socket.io.js``; the other
    bundles of its directory, ``socket.io.msgpack.min.js``..., beside it),
    ``connect_timeout`` (seconds a connection has to join a namespace), ``worker_threads``
    (rtio's engine threads, 0: one per core), ``handler_threads`` (at most this many
    handlers run at once; default 32) and ``ack_timeout`` (seconds an
    ``emit(..., callback=)`` waits for its ack; default ``None``: while the client is
    connected, as python-socketio).

    Example::

        sio = rtio.Server(cors_allowed_origins='*')

        @sio.event
        def connect(sid, environ, auth):
            if not auth or auth.get('token') != 'secret':
                raise rtio.exceptions.ConnectionRefusedError('unauthorized')

        @sio.on('echo')
        def echo(sid, data):
            return data  # the acknowledgement

        sio.run(port=3000)
    """

    def __init__(self, *args: Any, handler_threads: int = 32, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if int(handler_threads) < 1:
            raise ValueError("handler_threads must be at least 1")
        self.handler_threads = int(handler_threads)
        self._pool: Optional[_HandlerPool] = None
        self._stopped = threading.Event()
        self._stopped.set()
        self._lifecycle = threading.Lock()
        self._mounting = threading.Lock()

    # ---------------------------------------------------------------- serving
    def start(self, port: Optional[int] = None, host: Optional[str] = None, *,
              ssl_certfile: Optional[StrPath] = None,
              ssl_keyfile: Optional[StrPath] = None) -> int:
        """Starts serving and returns the bound port (``port=0`` picks a free one).

        The server runs on its own threads until :meth:`shutdown`; this call returns as soon
        as it is listening. Raises ``OSError`` when the address cannot be bound.

        ``ssl_certfile`` and ``ssl_keyfile`` (uvicorn's names; PEM files: the certificate
        chain, leaf first, and its private key) serve HTTPS and WSS only;
        :meth:`reload_tls` reads them again. ``ValueError`` names a file that cannot be used.
        """
        with self._lifecycle:
            self._pool = _HandlerPool(
                self.handler_threads,
                lambda: self.logger.exception("rtio: a handler job failed"))
            bound = self._start_native(host, port, poll_mode=False,
                                       ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
            self._stopped.clear()
            native = self._native_or_raise()
            native.start_dispatcher(functools.partial(self._on_batch, native=native), _BATCH)
            return bound

    def run(self, port: Optional[int] = None, host: Optional[str] = None, *,
            ssl_certfile: Optional[StrPath] = None,
            ssl_keyfile: Optional[StrPath] = None) -> None:
        """Serves until Ctrl-C (SIGINT), SIGTERM or :meth:`shutdown`, then returns after a
        clean stop (clients get a disconnect, handlers end, threads are joined). Starts the
        server unless :meth:`start` already did (so ``port = sio.start(port=0)``, then
        ``sio.run()``); ``ssl_certfile`` / ``ssl_keyfile`` as in :meth:`start`."""
        if not self.running:
            self.start(port=port, host=host, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        restore = None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            restore = signal.signal(signal.SIGTERM, lambda *_: self.shutdown())
        try:
            self.wait()
        except KeyboardInterrupt:
            self.logger.info("rtio: interrupted, stopping")
        finally:
            self.shutdown()
            if restore is not None:
                signal.signal(signal.SIGTERM, restore)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the server stopped (True) or ``timeout`` seconds passed (False)."""
        if not self._stopped.wait(timeout):
            return False
        native = self._native
        if native is not None:
            native.join_dispatcher()
        return True

    def shutdown(self) -> None:
        """Stops the server: every client gets a disconnect, ``disconnect`` handlers run,
        running handlers end (up to 10 s), the threads are joined. Safe from any thread, a
        handler or a signal handler; more than once too. The server may be started again
        afterwards."""
        self._stop_native()
        self._fail_waiters()
        pool = self._pool
        if pool is not None and not pool.close(_SHUTDOWN_WAIT_S):
            self.logger.warning("rtio: handlers still running %.0f s after shutdown",
                                _SHUTDOWN_WAIT_S)
        self._stopped.set()

    def _fail_waiters(self) -> None:
        with self._ack_lock:
            pending = list(self._acks.values())
            self._acks.clear()
        for entry in pending:
            if isinstance(entry, _Waiter):
                entry.set(exceptions.StoppedError("the server stopped"))

    # ---------------------------------------------------------------- mounted in an app
    def handle_request(self, environ: Dict[str, Any],
                       start_response: Callable[..., Any]) -> Any:
        """Answers one WSGI request to the Socket.IO path (python-socketio's
        ``Server.handle_request``): what :class:`rtio.WSGIApp` calls. Blocks the calling
        thread until rtio's answer (a long-poll: until packets are queued). Starts rtio on
        the first call."""
        return mount.wsgi_handle(self, environ, start_response)

    def _mount(self, prefix: Optional[str] = None, start: bool = True) -> None:
        self._mount_path(prefix)
        # Only the first request starts rtio: one that comes while shutdown() drains must
        # reach the stopping server (its client collects its disconnect there), and one
        # after it gets 503 until start() is called again.
        if start and self._native is None:
            with self._mounting:
                if self._native is None:
                    # (host and port unused: mounted, rtio runs no listener of its own)
                    self.start(port=0, host="127.0.0.1")

    def _http(self, method: str, url: str, headers: List[Tuple[str, str]], body: bytes,
              remote: Optional[Tuple[str, int]], secure: bool = False
              ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """Hands a request to the core and waits for its answer (``secure``: the app's
        server received it over TLS)."""
        native = self._native
        if native is not None and native.on_dispatcher():
            raise RuntimeError("rtio: cannot wait for an HTTP answer on the dispatcher thread")
        waiter = _Waiter()
        if not self._hand_over(method, url, headers, body, remote, secure, waiter):
            return mount.STOPPED
        waiter.event.wait()
        if isinstance(waiter.args, BaseException):
            return mount.STOPPED  # rtio stopped meanwhile
        status, answer_headers, answer = waiter.args
        return status, answer_headers, answer

    # ---------------------------------------------------------------- emitting
    def emit(self, event: str, data: Any = None, to: Target = None, room: Target = None,
             skip_sid: Target = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, ignore_queue: bool = False) -> None:
        """Emits an event to one client (``to=sid``), a room, several rooms (a list), or
        every client of the namespace (no ``to``), minus ``skip_sid`` (a sid or a list).

        ``data``: a tuple sends several arguments, ``None`` none; ``bytes`` anywhere inside
        travel as binary attachments. ``callback(*args)`` is called (on a handler thread)
        with the client's acknowledgement; it is kept until the client answers or leaves
        (or ``ack_timeout`` seconds, when set). To a room or a client of another node
        (with a ``client_manager``) the answers come together, once all came or after
        ``ack_timeout`` (default 60 s in a cluster), and the callback runs once per answer.

        With a ``client_manager`` the event reaches the clients of every node;
        ``ignore_queue=True`` (python-socketio's name) reaches this node's only.
        """
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        if callback is None:
            self._emit_now(event, data, to, room, skip_sid, namespace, ignore_queue)
            return
        self._emit_with_callback(event, data, to, room, skip_sid, namespace, callback,
                                 ignore_queue)

    def send(self, data: Any, to: Target = None, room: Target = None, skip_sid: Target = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False) -> None:
        """Emits a ``'message'`` event (see :meth:`emit`)."""
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                  callback=callback, ignore_queue=ignore_queue)

    def call(self, event: str, data: Any = None, to: Optional[str] = None,
             sid: Optional[str] = None, namespace: Optional[str] = None, timeout: float = 60,
             ignore_queue: bool = False) -> Any:
        """Emits an event to one client and waits for its acknowledgement.

        Returns the ack's value (several values: a tuple; none: ``None``). Raises
        :class:`rtio.exceptions.TimeoutError` (also a built-in ``TimeoutError``) when none
        comes within ``timeout`` seconds or the client is not connected (or leaves). Works
        from any thread, handlers included (with ``async_handlers=False`` too: the ack does
        not wait behind the client's handlers).
        """
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        if self.clustered and target not in self._sid_nsp:
            # A socket of another node (or none): the core's broadcast with acks to its id.
            answers = self._wait(lambda n: n.broadcast_with_ack(
                namespace or "/", event, data, [target], [], timeout), timeout)
            if answers is None or not answers[0]:
                raise exceptions.TimeoutError()
            return ack_value(answers[0][0][1])
        waiter = _Waiter()
        if not self._register_ack(target, event, data, timeout, waiter):
            raise exceptions.TimeoutError(f"client {target} is not connected")
        # The engine answers at `timeout` (or when the client leaves, or at shutdown).
        waiter.event.wait(timeout + 5.0)
        args = waiter.args
        if isinstance(args, BaseException):
            raise args
        if args is None:
            raise exceptions.TimeoutError()
        return tuple(args) if len(args) > 1 else args[0] if len(args) == 1 else None

    # ---------------------------------------------------------------- rooms, clients
    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Puts a client in a room (with a ``client_manager``: a client of any node)."""
        self._socket_op(sid, namespace, lambda n: n.join_room(sid, room),
                        lambda n, nsp: n.sockets_join(nsp, [sid], [], [room]))

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Takes a client out of a room (with a ``client_manager``: a client of any
        node)."""
        self._socket_op(sid, namespace, lambda n: n.leave_room(sid, room),
                        lambda n, nsp: n.sockets_leave(nsp, [sid], [], [room]))

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client of the namespace out of a room (on every node)."""
        self._room_op("close_room", namespace or "/", room)

    def disconnect(self, sid: str, namespace: Optional[str] = None, ignore_queue: bool = False,
                   close_connection: bool = False) -> None:
        """Disconnects a client from its namespace (it sees a server disconnect, and the
        ``disconnect`` handler of its server runs with ``reason.SERVER_DISCONNECT``); with a
        ``client_manager``, a client of any node. rtio's own ``close_connection=True``
        closes the client's whole connection too."""
        self._socket_op(sid, namespace, lambda n: n.disconnect(sid, close_connection),
                        lambda n, nsp: n.disconnect_sockets(nsp, [sid], [], close_connection))

    # ---------------------------------------------------------------- cluster (rtio's own)
    def _wait(self, start: Callable[["_native.NativeServer"], Optional[int]],
              timeout: Optional[float]) -> Any:
        """Starts a cluster operation and blocks until its result event: ``(result,
        error)``, or ``None`` when the namespace is not served."""
        native = self._live()
        if native is not None and native.on_dispatcher():
            raise RuntimeError("rtio: cannot wait for a cluster result on the dispatcher "
                               "thread")
        waiter = _Waiter()
        if not self._start(start, waiter):
            return None
        limit = None if timeout is None else timeout + _GRACE_S
        if not waiter.event.wait(limit):
            self._take_ack_entry(waiter)
            raise exceptions.TimeoutError()
        if isinstance(waiter.args, BaseException):
            raise waiter.args
        return waiter.args

    def _take_ack_entry(self, entry: Any) -> None:
        with self._ack_lock:
            for token, e in list(self._acks.items()):
                if e is entry:
                    del self._acks[token]

    def fetch_sockets(self, room: Target = None, namespace: Optional[str] = None,
                      skip_sid: Target = None, local: bool = False) -> List[SocketInfo]:
        """rtio's own (socket.io's ``fetchSockets``): the sockets of every node of the
        cluster in ``room`` (a room, a sid, or a list; every socket of the namespace when
        ``None``), minus those in ``skip_sid``; ``local=True``: this node's only. Blocks
        until every node answered (at most the manager's ``requests_timeout``); raises
        :class:`rtio.exceptions.ClusterError` (``result``: the sockets that came) when one
        did not. Not from a handler of an ``rtio.Server`` started without threads to spare:
        it waits on the calling thread."""
        got = self._wait(lambda n: n.fetch_sockets(namespace or "/", _rooms(room),
                                                   _rooms(skip_sid), local), None)
        if got is None:
            return []
        sockets = [_socket_info(d) for d in got[0]]
        return self._cluster_result(sockets, got[1], "fetch_sockets")

    def sockets_join(self, rooms: Union[str, List[str]], to: Target = None,
                     skip_sid: Target = None, namespace: Optional[str] = None) -> None:
        """rtio's own (socket.io's ``socketsJoin``): puts the sockets of every node in
        ``to`` (rooms or sids; all when ``None``), minus ``skip_sid``, in ``rooms``."""
        self._room_op("sockets_join", namespace or "/", _rooms(to), _rooms(skip_sid),
                      _rooms(rooms))

    def sockets_leave(self, rooms: Union[str, List[str]], to: Target = None,
                      skip_sid: Target = None, namespace: Optional[str] = None) -> None:
        """rtio's own (socket.io's ``socketsLeave``): the opposite of :meth:`sockets_join`."""
        self._room_op("sockets_leave", namespace or "/", _rooms(to), _rooms(skip_sid),
                      _rooms(rooms))

    def disconnect_sockets(self, to: Target = None, skip_sid: Target = None,
                           namespace: Optional[str] = None,
                           close_connection: bool = False) -> None:
        """rtio's own (socket.io's ``disconnectSockets``): disconnects the sockets of every
        node in ``to`` (rooms or sids; all when ``None``), minus ``skip_sid``."""
        self._room_op("disconnect_sockets", namespace or "/", _rooms(to), _rooms(skip_sid),
                      bool(close_connection))

    def emit_with_ack(self, event: str, data: Any = None, to: Target = None,
                      room: Target = None, skip_sid: Target = None,
                      namespace: Optional[str] = None, timeout: float = 5) -> List[Any]:
        """rtio's own (socket.io's ``io.timeout(ms).emitWithAck``): emits to the sockets of
        every node (as :meth:`emit`) and blocks until each answered; returns their answers
        (each as :meth:`call` returns one; a client of a Node node gives its first value
        only). Raises :class:`rtio.exceptions.ClusterError` after ``timeout`` seconds when
        some did not answer (``result``: the answers that came)."""
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        target = to if to is not None else room
        got = self._wait(lambda n: n.broadcast_with_ack(
            namespace or "/", event, data, _rooms(target), _rooms(skip_sid), timeout), timeout)
        if got is None:
            return []
        answers = [ack_value(args) for _, args in got[0]]
        return self._cluster_result(answers, got[1], "emit_with_ack")

    def server_side_emit(self, event: str, data: Any = None,
                         namespace: Optional[str] = None) -> None:
        """rtio's own (socket.io's ``serverSideEmit``): sends an event to the other servers
        of the cluster (not this one), to their :meth:`on_server_side` handlers. ``data``
        as in :meth:`emit`."""
        self._room_op("server_side_emit", namespace or "/", event, data)

    def server_side_call(self, event: str, data: Any = None, namespace: Optional[str] = None,
                         timeout: Optional[float] = None) -> List[Any]:
        """rtio's own (socket.io's ``serverSideEmitWithAck``): :meth:`server_side_emit`,
        then blocks until each other server answered (its handler's return value: one
        value per server, as socket.io's adapter carries it); ``[]`` at once without other servers. Raises
        :class:`rtio.exceptions.ClusterError` after ``timeout`` seconds (default: the
        manager's ``requests_timeout``) when some did not (``result``: what came)."""
        if timeout is None:
            timeout = self._redis["requests_timeout_ms"] / 1000 if self._redis else 5.0
        got = self._wait(lambda n: n.server_side_emit(namespace or "/", event, data,
                                                      timeout), timeout)
        if got is None:
            return []
        return self._cluster_result([ack_value(a) for a in got[0]], got[1],
                                    "server_side_call")

    def server_count(self, namespace: Optional[str] = None) -> int:
        """rtio's own (socket.io's ``serverCount``): how many servers serve the cluster,
        this one included (1 without a ``client_manager``). Raises
        :class:`rtio.exceptions.ClusterError` when Redis cannot tell."""
        got = self._wait(lambda n: n.server_count(namespace or "/"), None)
        if got is None:
            raise exceptions.BadNamespaceError(f"namespace {namespace!r} is not served")
        return self._cluster_result(got[0], got[1], "server_count")

    # ---------------------------------------------------------------- sessions
    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The user session dict of a client (kept until its ``disconnect`` handler ran).
        Raises ``KeyError`` for a client that is not connected."""
        if sid not in self._openings:
            raise KeyError("Session not found")
        return self._sessions.setdefault(sid, {})

    def save_session(self, sid: str, session: Dict[str, Any],
                     namespace: Optional[str] = None) -> None:
        """Replaces the user session dict of a client."""
        if sid not in self._openings:
            raise KeyError("Session not found")
        self._sessions[sid] = session

    def session(self, sid: str, namespace: Optional[str] = None) -> "_SessionContext":
        """The user session as a context manager that saves it on exit::

            with sio.session(sid) as session:
                session['username'] = name
        """
        return _SessionContext(self, sid, namespace)

    # ---------------------------------------------------------------- tasks
    def start_background_task(self, target: Callable[..., Any], *args: Any,
                              **kwargs: Any) -> threading.Thread:
        """Runs ``target(*args, **kwargs)`` on a new daemon thread; returns it (``join()``)."""
        t = _Task(target=target, args=args, kwargs=kwargs, daemon=True)
        t.start()
        return t

    def sleep(self, seconds: float = 0) -> None:
        """``time.sleep`` (python-socketio's portable sleep)."""
        time.sleep(seconds)

    # ---------------------------------------------------------------- dispatch
    # The dispatcher thread takes the engine's events in order and only files them: every
    # handler runs on the pool (see _Lanes for the order kept per client).
    def _launch(self, job: Callable[[], Any], after: Optional[Callable[[], None]]) -> None:
        pool = self._pool
        assert pool is not None
        pool.submit(job, after)

    def _on_batch(self, batch: Optional[list], native: "_native.NativeServer") -> Optional[float]:
        """Called by the dispatcher thread with each batch of events (empty when it calls
        back as asked), ``None`` at the end. Returns the seconds after which it is to call
        back even without events (the pool's check), ``None`` for no such need."""
        if batch is None:
            if native is not self._native:  # a previous run's dispatcher ending late
                return None
            self._disconnect_remaining()
            self._fail_waiters()
            self._stopped.set()
            return None
        # Messages, the bulk of the events, are dispatched here rather than in _handle.
        run_in_lane, on_message = self._lanes.run, self._on_message
        serial = not self.async_handlers
        for ev in batch:
            if ev[0] == MESSAGE:
                run_in_lane(ev[1], functools.partial(on_message, *ev[1:]), serial)
            else:
                self._handle(ev, native)
        pool = self._pool
        if pool is None:
            return None
        after = pool.check()
        if after is None and self._lanes.holding():
            # jobs held in lanes reach the pool from another job's end, not from here:
            # the pool is to be checked after they did
            return _STALL_S
        return after

    def _handle(self, ev: tuple, native: "_native.NativeServer") -> None:
        """One event other than a message (those are dispatched by ``_on_batch``)."""
        kind = ev[0]
        if kind == ACK:
            self._on_ack(*ev[1:])
        elif kind == CONNECT:
            self._on_connect(*ev[1:])
        elif kind == DISCONNECT:
            self._disconnected(*ev[1:])
        elif kind == CONNECT_REQUEST:
            self._on_connect_request(*ev[1:])
        elif kind == REQUEST:
            self._launch(functools.partial(self._answer_request, native, *ev[1:]), None)
        elif kind == SERVER_SIDE_EMIT:
            self._on_server_side(*ev[1:])
        elif kind == HTTP_RESPONSE:
            entry = self._take_ack(ev[1])
            if isinstance(entry, _Waiter):
                entry.set(ev[2:])
        elif kind in (BROADCAST_ACK, FETCH_SOCKETS, SERVER_SIDE_ACK, SERVER_COUNT):
            self._on_cluster_result(kind, *ev[1:])

    def _on_cluster_result(self, kind: int, token: int, result: Any,
                           error: Optional[str]) -> None:
        entry = self._take_ack(token)
        if isinstance(entry, _Waiter):
            entry.set((result, error))
        elif isinstance(entry, _RoomCallback):
            # like python-socketio, a callback hears of answers only, never of timeouts
            for sid, args in result:
                job = functools.partial(self._run_callback, entry.callback, sid or "?", args)
                if sid is not None and sid in self._sid_nsp:
                    self._lanes.run(sid, job, not self.async_handlers)
                else:
                    self._launch(job, None)

    def _on_server_side(self, nsp: str, event: str, args: list, ack: Optional[int]) -> None:
        handler = self._server_side_handler(nsp, event)
        if handler is None:
            return  # as socket.io: no listener, no answer (the sender's wait times out)

        def run() -> None:
            try:
                ret = handler(*args)
            except Exception:
                self._log_handler_error(f"server-side {event!r}", nsp, None)
                return
            native = self._native
            if ack is not None and native is not None and not native.is_stopped():
                try:
                    native.server_side_ack(ack, ret)
                except Exception:
                    self._log_handler_error(f"the answer to server-side {event!r}", nsp, None)

        self._launch(run, None)

    def _on_message(self, sid: str, nsp: str, event: str, args: list,
                    ack: Optional[int]) -> None:
        try:
            ret = self._call_event_handler(sid, nsp, event, args)
        except Exception:
            self._log_handler_error(repr(event), nsp, sid)
            return
        if ack is not None and ret is not self.not_handled:
            native = self._native
            if native is not None:
                try:
                    native.ack(sid, ack, ret)
                except Exception:
                    if not native.is_stopped():  # after a stop, acks have nowhere to go
                        self._log_handler_error(f"the acknowledgement of {event!r}", nsp, sid)

    def _run_connect_handler(self, sid: str, nsp: str, auth: Any,
                             environ: Dict[str, Any]) -> Optional[Tuple[str, Any]]:
        """Runs ``connect``; returns ``None`` to accept, or ``(message, data)`` to refuse."""
        try:
            ret = self._call_handler("connect", nsp, (sid, environ, auth or None), optional_last=True)
        except Exception as exc:
            if is_refusal(exc):
                return self._refusal(exc)
            self._log_handler_error("'connect'", nsp, sid)
            return self._refusal(None)
        if ret is False:
            return self._refusal(None)
        return None

    def _on_connect_request(self, request: int, nsp: str, auth: Any,
                            handshake: "_native.Opening", sid: Optional[str]) -> None:
        native = self._native_or_raise()
        if sid is None:  # the core cannot tell the sid yet; nothing runs before accepting
            native.accept(request)
            return
        # The engine holds the socket while it waits for the answer: emits and room
        # changes made by the handler apply to it, and reach the client once accepted.
        opening = self._connected(sid, nsp, handshake)

        def decide() -> None:
            refusal = self._run_connect_handler(sid, nsp, auth, opening.environ())
            if refusal is None:
                native.accept(request)
            else:
                self._forget(sid)
                native.reject(request, refusal[0], refusal[1])

        self._lanes.run(sid, decide, True)

    def _on_connect(self, sid: str, nsp: str, auth: Any, handshake: "_native.Opening") -> None:
        if sid in self._openings:
            return  # registered and handled at its connect request
        opening = self._connected(sid, nsp, handshake)
        if self._middleware(nsp) or not self._has_connect_handler(nsp):
            return

        def connect() -> None:
            refusal = self._run_connect_handler(sid, nsp, auth, opening.environ())
            if refusal is not None:
                # Accepted already (always_connect=True): refuse the way python-socketio
                # does then, by disconnecting.
                self.logger.info("rtio: connect handler refused %s on %s: %s",
                                 sid, nsp, refusal[0])
                self._refused.add(sid)
                native = self._native
                if native is not None and not native.is_stopped():
                    native.disconnect(sid, False)

        self._lanes.run(sid, connect, True)

    def _run_disconnect(self, sid: str, nsp: str, why: str) -> None:
        try:
            self._call_handler("disconnect", nsp, (sid, why), optional_last=True)
        except Exception:
            self._log_handler_error("'disconnect'", nsp, sid)
        finally:
            self._forget(sid)

    def _on_ack(self, token: int, sid: str, args: Optional[list]) -> None:
        entry = self._take_ack(token)
        if entry is None:
            return
        if isinstance(entry, _Waiter):
            entry.set(args)
        elif args is not None:  # like python-socketio, a callback never hears of timeouts
            self._lanes.run(sid, functools.partial(self._run_callback, entry, sid, args),
                            not self.async_handlers)

    def _run_callback(self, callback: Callable[..., Any], sid: str, args: list) -> None:
        try:
            callback(*args)
        except Exception:
            self._log_handler_error("an ack callback", self._sid_nsp.get(sid, "?"), sid)


class _SessionContext:
    def __init__(self, server: Server, sid: str, namespace: Optional[str]) -> None:
        self.server = server
        self.sid = sid
        self.namespace = namespace
        self.session: Optional[Dict[str, Any]] = None

    def __enter__(self) -> Dict[str, Any]:
        self.session = self.server.get_session(self.sid, namespace=self.namespace)
        return self.session

    def __exit__(self, *args: Any) -> None:
        assert self.session is not None
        self.server.save_session(self.sid, self.session, namespace=self.namespace)
