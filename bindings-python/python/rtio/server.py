"""``rtio.Server``: python-socketio's ``socketio.Server`` API on rtio's engine."""

from __future__ import annotations

import collections
import signal
import threading
import time
from typing import Any, Callable, Deque, Dict, Optional, Tuple

from . import _native
from . import exceptions
from ._base import BaseServer, Target, fit_args, is_refusal

CONNECT_REQUEST = _native.CONNECT_REQUEST
CONNECT = _native.CONNECT
MESSAGE = _native.MESSAGE
DISCONNECT = _native.DISCONNECT
ACK = _native.ACK

_BATCH = 256


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


class Server(BaseServer):
    """A Socket.IO server with python-socketio's ``socketio.Server`` API, served by rtio.

    Handlers run one at a time on rtio's dispatcher thread, which holds the GIL only
    while they run; other Python threads (and ``start_background_task`` tasks) may emit at
    any time. A handler that raises is logged with its traceback and the server keeps
    serving.

    Options as python-socketio names them: ``cors_allowed_origins`` (``'*'``, a list of
    origins, or ``None`` for same-origin only), ``ping_interval`` and ``ping_timeout``
    (seconds), ``max_http_buffer_size`` (bytes), ``transports``, ``always_connect``,
    ``namespaces``, ``logger``, ``async_handlers`` (``True`` runs each event's handler on
    its own thread, as python-socketio does; rtio's default, ``False``, runs them in order
    on the dispatcher thread). rtio's own: ``host`` and ``port`` (defaults for
    :meth:`run` / :meth:`start`), ``path`` (default ``'/socket.io/'``), ``static_files``
    (a directory served at ``/``), ``client_bundle`` (a ``socket.io.js`` file served at
    ``<path>socket.io.js``), ``connect_timeout`` (seconds a connection has to join a
    namespace), ``worker_threads`` (0: one per core) and ``ack_timeout`` (seconds an
    ``emit(..., callback=)`` waits for its ack; later acks are ignored).

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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._backlog: Deque[tuple] = collections.deque()
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
            self._backlog.clear()
            bound = self._start_native(host, port, poll_mode=False)
            self._stopped.clear()
            native = self._native_or_raise()
            native.start_dispatcher(lambda batch: self._on_batch(batch, native), _BATCH)
            return bound

    def run(self, port: Optional[int] = None, host: Optional[str] = None) -> None:
        """Serves until Ctrl-C (SIGINT), SIGTERM or :meth:`shutdown`, then returns after a
        clean stop (clients get a disconnect, threads are joined). Starts the server unless
        :meth:`start` already did (so ``port = sio.start(port=0)``, then ``sio.run()``)."""
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
        the threads are joined. Safe from any thread, a handler or a signal handler; more
        than once too. The server may be started again afterwards."""
        self._stop_native()
        self._fail_waiters()
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
        travel as binary attachments. ``callback(*args)`` is called with the client's
        acknowledgement (on the dispatcher thread); an ack that does not come within
        ``ack_timeout`` seconds is dropped.
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
        comes within ``timeout`` seconds or the client is not connected. Works from any
        thread, handlers included: while a handler waits, the dispatcher keeps delivering
        other events (to other handlers) in order.
        """
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        waiter = _Waiter()
        native = self._native_or_raise()
        if not self._register_ack(target, event, data, timeout, waiter):
            raise exceptions.TimeoutError(f"client {target} is not connected")
        deadline = time.monotonic() + timeout + 5.0  # the engine answers at `timeout`
        if native.on_dispatcher():
            self._pump_until(waiter, deadline)
        else:
            waiter.event.wait(max(0.0, deadline - time.monotonic()))
        args = waiter.args
        if isinstance(args, BaseException):
            raise args
        if args is None:
            raise exceptions.TimeoutError()
        return tuple(args) if len(args) > 1 else args[0] if len(args) == 1 else None

    def _pump_until(self, waiter: _Waiter, deadline: float) -> None:
        """On the dispatcher thread: deliver events (in order) until `waiter` is done."""
        native = self._native_or_raise()
        while not waiter.event.is_set():
            if self._backlog:
                self._handle(self._backlog.popleft())
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                return
            batch = native.recv(min(left, 1.0), _BATCH)
            if batch is None:
                waiter.set(exceptions.StoppedError("the server stopped"))
                return
            self._backlog.extend(batch)

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
        """The user session dict of a client (kept until it disconnects)."""
        return self._sessions.setdefault(sid, {})

    def save_session(self, sid: str, session: Dict[str, Any],
                     namespace: Optional[str] = None) -> None:
        """Replaces the user session dict of a client."""
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
    def _on_batch(self, batch: Optional[list], native: "_native.NativeServer") -> None:
        """Called by the dispatcher thread with each batch of events; ``None`` at the end."""
        if batch is None:
            if native is not self._native:  # a previous run's dispatcher ending late
                return
            while self._backlog:
                self._handle(self._backlog.popleft())
            self._disconnect_remaining()
            self._backlog.clear()
            self._fail_waiters()
            self._stopped.set()
            return
        backlog = self._backlog
        backlog.extend(batch)
        while backlog:
            self._handle(backlog.popleft())

    def _handle(self, ev: tuple) -> None:
        kind = ev[0]
        if kind == MESSAGE:
            if self.async_handlers:
                self.start_background_task(self._on_message, *ev[1:])
            else:
                self._on_message(*ev[1:])
        elif kind == ACK:
            self._on_ack(*ev[1:])
        elif kind == CONNECT:
            self._on_connect(*ev[1:])
        elif kind == DISCONNECT:
            self._on_disconnect(*ev[1:])
        elif kind == CONNECT_REQUEST:
            self._on_connect_request(*ev[1:])

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
                native.ack(sid, ack, ret)

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
        refusal = self._run_connect_handler(sid, nsp, auth, opening.environ())
        if refusal is None:
            native.accept(request)
        else:
            self._forget(sid)
            native.reject(request, refusal[0], refusal[1])

    def _on_connect(self, sid: str, nsp: str, auth: Any, handshake: "_native.Opening") -> None:
        if sid in self._openings:
            return  # registered and handled at its connect request
        opening = self._connected(sid, nsp, handshake)
        if self._middleware(nsp):
            return  # its handler ran at the request
        refusal = self._run_connect_handler(sid, nsp, auth, opening.environ())
        if refusal is not None:
            # Accepted already (see _middleware): refuse the way python-socketio does with
            # always_connect=True, by disconnecting.
            self.logger.info("rtio: connect handler refused %s on %s: %s", sid, nsp, refusal[0])
            self._refused.add(sid)
            self._native_or_raise().disconnect(sid, False)

    def _on_disconnect(self, sid: str, nsp: str, why: str) -> None:
        if sid in self._refused:
            self._refused.discard(sid)
            self._forget(sid)
            return
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
            try:
                entry(*args)
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
