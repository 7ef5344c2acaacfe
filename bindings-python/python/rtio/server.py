"""``rtio.Server``: python-socketio's ``socketio.Server`` API on rtio's engine."""

from __future__ import annotations

import collections
import functools
import signal
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Set, Tuple

from . import _native
from . import exceptions
from ._base import BaseServer, Target, fit_args, is_refusal

CONNECT_REQUEST = _native.CONNECT_REQUEST
CONNECT = _native.CONNECT
MESSAGE = _native.MESSAGE
DISCONNECT = _native.DISCONNECT
ACK = _native.ACK
REQUEST = _native.REQUEST

_BATCH = 256
#: Seconds an idle handler thread waits for work before it ends.
_IDLE_THREAD_S = 30.0
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
    """The threads handlers run on: at most ``size``, made when work waits and no thread
    is free, ended after ``_IDLE_THREAD_S`` without work. Jobs start in submission order."""

    def __init__(self, size: int, log: Callable[[], None]) -> None:
        self._size = max(1, size)
        self._log = log  # logs the exception being handled
        self._jobs: Deque[Tuple[Callable[[], Any], Optional[Callable[[], None]]]] = \
            collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._threads: Set[threading.Thread] = set()
        self._idle = 0
        self._closed = False

    def submit(self, job: Callable[[], Any], after: Optional[Callable[[], None]] = None) -> None:
        with self._cond:
            self._jobs.append((job, after))
            if len(self._jobs) > self._idle and (len(self._threads) < self._size
                                                 or self._closed):
                self._spawn()
            self._cond.notify()

    def _spawn(self) -> None:
        t = threading.Thread(target=self._work, name="rtio-handler", daemon=True)
        self._threads.add(t)
        t.start()

    def _work(self) -> None:
        me = threading.current_thread()
        cond = self._cond
        while True:
            with cond:
                while not self._jobs:
                    if self._closed:
                        self._threads.discard(me)
                        cond.notify_all()
                        return
                    self._idle += 1
                    woken = cond.wait(_IDLE_THREAD_S)
                    self._idle -= 1
                    if not woken and not self._jobs:
                        self._threads.discard(me)
                        return
                job, after = self._jobs.popleft()
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
        with self._cond:
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
    holds up no other client. A client's ``connect`` handler runs before its other
    handlers and its ``disconnect`` handler after them; with ``async_handlers=True`` (the
    default) its event handlers start in arrival order and run side by side, with
    ``async_handlers=False`` they run one at a time, in order (other clients still run
    meanwhile). ``emit`` & co. work from any thread. A handler that raises is logged with
    its traceback and the server keeps serving.

    Options as python-socketio names them: ``cors_allowed_origins`` (``None``: the
    server's own origin only; ``'*'``: any; an origin or a list of them; a callable
    ``f(origin[, environ]) -> bool``; ``[]``: no CORS handling), ``cors_credentials``,
    ``ping_interval`` and ``ping_timeout`` (seconds), ``max_http_buffer_size`` (bytes),
    ``transports``, ``always_connect``, ``namespaces``, ``logger``, ``async_handlers``.
    Options rtio cannot honour (``client_manager``, ``json``, ``cookie``,
    ``http_compression``...) raise at construction, saying what to do instead.
    rtio's own: ``host`` and ``port`` (defaults for :meth:`run` / :meth:`start`), ``path``
    (default ``'/socket.io/'``), ``static_files`` (a directory served at ``/``),
    ``client_bundle`` (a ``socket.io.js`` file served at ``<path>socket.io.js``),
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

    # ---------------------------------------------------------------- serving
    def start(self, port: Optional[int] = None, host: Optional[str] = None) -> int:
        """Starts serving and returns the bound port (``port=0`` picks a free one).

        The server runs on its own threads until :meth:`shutdown`; this call returns as soon
        as it is listening. Raises ``OSError`` when the address cannot be bound.
        """
        with self._lifecycle:
            self._pool = _HandlerPool(
                self.handler_threads,
                lambda: self.logger.exception("rtio: a handler job failed"))
            bound = self._start_native(host, port, poll_mode=False)
            self._stopped.clear()
            native = self._native_or_raise()
            native.start_dispatcher(functools.partial(self._on_batch, native=native), _BATCH)
            return bound

    def run(self, port: Optional[int] = None, host: Optional[str] = None) -> None:
        """Serves until Ctrl-C (SIGINT), SIGTERM or :meth:`shutdown`, then returns after a
        clean stop (clients get a disconnect, handlers end, threads are joined). Starts the
        server unless :meth:`start` already did (so ``port = sio.start(port=0)``, then
        ``sio.run()``)."""
        if not self.running:
            self.start(port=port, host=host)
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

    # ---------------------------------------------------------------- emitting
    def emit(self, event: str, data: Any = None, to: Target = None, room: Target = None,
             skip_sid: Target = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, ignore_queue: bool = False) -> None:
        """Emits an event to one client (``to=sid``), a room, several rooms (a list), or
        every client of the namespace (no ``to``), minus ``skip_sid`` (a sid or a list).

        ``data``: a tuple sends several arguments, ``None`` none; ``bytes`` anywhere inside
        travel as binary attachments. ``callback(*args)`` is called (on a handler thread)
        with the client's acknowledgement; it is kept until the client answers or leaves
        (or ``ack_timeout`` seconds, when set).
        """
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        if callback is None:
            self._emit_now(event, data, to, room, skip_sid, namespace)
            return
        skip = {skip_sid} if isinstance(skip_sid, str) else set(skip_sid or ())
        for sid in self._ack_targets(to, room, namespace):
            if sid not in skip:
                self._register_ack(sid, event, data, self.ack_timeout, callback)

    def send(self, data: Any, to: Target = None, room: Target = None, skip_sid: Target = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False) -> None:
        """Emits a ``'message'`` event (see :meth:`emit`)."""
        self.emit("message", data, to=to, room=room, skip_sid=skip_sid, namespace=namespace,
                  callback=callback)

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
        """Puts a client in a room."""
        self._room_op("join_room", sid, room)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Takes a client out of a room."""
        self._room_op("leave_room", sid, room)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client of the namespace out of a room."""
        self._room_op("close_room", namespace or "/", room)

    def disconnect(self, sid: str, namespace: Optional[str] = None, ignore_queue: bool = False,
                   close_connection: bool = False) -> None:
        """Disconnects a client from its namespace (it sees a server disconnect, and the
        ``disconnect`` handler runs with ``reason.SERVER_DISCONNECT``). rtio's own
        ``close_connection=True`` closes the client's whole connection too."""
        native = self._native
        if native is not None and not native.is_stopped():
            native.disconnect(sid, close_connection)

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

    def _on_batch(self, batch: Optional[list], native: "_native.NativeServer") -> None:
        """Called by the dispatcher thread with each batch of events; ``None`` at the end."""
        if batch is None:
            if native is not self._native:  # a previous run's dispatcher ending late
                return
            self._disconnect_remaining()
            self._fail_waiters()
            self._stopped.set()
            return
        for ev in batch:
            self._handle(ev, native)

    def _handle(self, ev: tuple, native: "_native.NativeServer") -> None:
        kind = ev[0]
        if kind == MESSAGE:
            self._lanes.run(ev[1], functools.partial(self._on_message, *ev[1:]),
                            not self.async_handlers)
        elif kind == ACK:
            self._on_ack(*ev[1:])
        elif kind == CONNECT:
            self._on_connect(*ev[1:])
        elif kind == DISCONNECT:
            self._disconnected(*ev[1:])
        elif kind == CONNECT_REQUEST:
            self._on_connect_request(*ev[1:])
        elif kind == REQUEST:
            self._launch(functools.partial(self._answer_request, native, *ev[1:]), None)

    def _trigger(self, event: str, namespace: str, args: Tuple[Any, ...],
                 optional_last: bool = False) -> Any:
        handler, hargs = self._get_event_handler(event, namespace, args)
        if handler is not None:
            return handler(*fit_args(handler, hargs, optional_last))
        ns_handler, hargs = self._get_namespace_handler(namespace, args)
        if ns_handler is not None:
            return ns_handler.trigger_event(event, *hargs)
        return self.not_handled

    def _on_message(self, sid: str, nsp: str, event: str, args: list,
                    ack: Optional[int]) -> None:
        try:
            ret = self._trigger(event, nsp, (sid, *args))
        except Exception:
            self._log_handler_error(repr(event), nsp, sid)
            return
        if ack is not None and ret is not self.not_handled:
            native = self._native
            if native is not None and not native.is_stopped():
                try:
                    native.ack(sid, ack, ret)
                except Exception:
                    self._log_handler_error(f"the acknowledgement of {event!r}", nsp, sid)

    def _run_connect_handler(self, sid: str, nsp: str, auth: Any,
                             environ: Dict[str, Any]) -> Optional[Tuple[str, Any]]:
        """Runs ``connect``; returns ``None`` to accept, or ``(message, data)`` to refuse."""
        try:
            ret = self._trigger("connect", nsp, (sid, environ, auth or None), optional_last=True)
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
            self._trigger("disconnect", nsp, (sid, why), optional_last=True)
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
