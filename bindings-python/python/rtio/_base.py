"""What ``rtio.Server`` and ``rtio.AsyncServer`` share: options, handler registration and
lookup (exactly python-socketio's rules), client bookkeeping, and emit routing."""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from . import _native
from . import exceptions

default_logger = logging.getLogger("rtio")

#: A handler (function, or coroutine function for ``AsyncServer``).
Handler = Callable[..., Any]
#: Where an emit goes: a socket id, a room, or several rooms.
Target = Union[str, Iterable[str], None]


class reason:  # noqa: N801 - python-socketio's name (``socketio.Server.reason``)
    """Why a client disconnected: the second argument of ``disconnect`` handlers."""

    #: The server disconnected the client (``disconnect(sid)``, or the server stopped).
    SERVER_DISCONNECT = "server disconnect"
    #: The client disconnected.
    CLIENT_DISCONNECT = "client disconnect"
    #: The client stopped answering pings.
    PING_TIMEOUT = "ping timeout"
    #: The connection was closed.
    TRANSPORT_CLOSE = "transport close"
    #: The connection failed.
    TRANSPORT_ERROR = "transport error"
    #: The client sent a malformed packet (rtio's own reason).
    PARSE_ERROR = "parse error"
    #: The client read too slowly and its send queue overflowed (rtio's own reason).
    SEND_QUEUE_FULL = "send queue full"


class _Environ(dict):
    """The environ dict of one connection: a plain dict, which its connection keeps alive
    only once it was changed (see :class:`_Opening`)."""

    __slots__ = ("__weakref__", "_opening")

    def _changed(self) -> None:
        opening = self._opening
        if opening is not None:
            opening.kept = self
            self._opening = None

    def __setitem__(self, key: Any, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._changed()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> "_Environ":
        self._changed()
        return super().__ior__(other)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._changed()
        return super().setdefault(key, default)

    def pop(self, *args: Any) -> Any:
        self._changed()
        return super().pop(*args)

    def popitem(self) -> Any:
        self._changed()
        return super().popitem()

    def clear(self) -> None:
        self._changed()
        super().clear()


class _Opening:
    """What a connected socket keeps of its opening request: the engine's small handshake
    object, not an environ dict of strings per idle client (the largest part of a client's
    memory on the Python side). ``environ()`` is the one dict python-socketio would keep:
    the same object for as long as anyone holds it or once it was changed, otherwise a new,
    equal one built from the handshake."""

    __slots__ = ("native", "kept", "live")

    def __init__(self, native: "_native.Opening") -> None:
        self.native = native
        self.kept: Optional[_Environ] = None
        self.live: Optional["weakref.ReferenceType[_Environ]"] = None

    def environ(self) -> Dict[str, Any]:
        if self.kept is not None:
            return self.kept
        env = self.live() if self.live is not None else None
        if env is None:
            env = _Environ(self.native.environ())
            env._opening = self
            self.live = weakref.ref(env)
        return env


# Options python-socketio / python-engineio take that change nothing with rtio (the engine
# always does what they select, or they concern python-engineio's own machinery).
_HARMLESS_OPTIONS = {
    "async_mode",
    "engineio_logger",
    "http_compression",
    "compression_threshold",
    "monitor_clients",
    "cors_credentials",
    "allow_upgrades",
    "cookie",
}

_running: "weakref.WeakSet[BaseServer]" = weakref.WeakSet()


@atexit.register
def _stop_running_servers() -> None:
    # Stop before the interpreter finalizes, so no rtio thread waits for the GIL then.
    for server in list(_running):
        try:
            server._stop_native()
        except Exception:  # pragma: no cover - best effort at exit
            pass


def _seconds_ms(value: Any, name: str) -> int:
    if isinstance(value, (tuple, list)):  # python-engineio's (interval, grace) form
        value = value[0]
    try:
        ms = int(round(float(value) * 1000))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number of seconds") from None
    if ms < 0:
        raise ValueError(f"{name} must not be negative")
    return ms


def fit_args(handler: Handler, args: Tuple[Any, ...], optional_last: bool) -> Tuple[Any, ...]:
    """The arguments a handler accepts: with ``optional_last`` (``connect``'s ``auth``,
    ``disconnect``'s ``reason``) the last one is dropped when the handler does not take it,
    as python-socketio does for older handlers."""
    if not optional_last:
        return args
    try:
        inspect.signature(handler).bind(*args)
    except TypeError:
        return args[:-1]
    except ValueError:  # no signature (some builtins): pass everything
        pass
    return args


class Manager:
    """The part of python-socketio's client manager (``sio.manager``) that apps use to
    look at who is connected. rtio keeps this state in its engine."""

    def __init__(self, server: "BaseServer") -> None:
        self._server = server

    def get_namespaces(self) -> List[str]:
        """The namespaces served."""
        return list(self._server._accepted_namespaces())

    def get_participants(self, namespace: str, room: Optional[str]) -> Iterator[Tuple[str, None]]:
        """``(sid, None)`` for each socket in ``room`` of ``namespace`` (every socket of the
        namespace when ``room`` is ``None``). python-socketio gives the Engine.IO session id
        second; rtio does not expose it."""
        native = self._server._live()
        for sid in native.sockets(namespace or "/", room) if native is not None else []:
            yield sid, None

    def get_rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms of a socket, its own room first."""
        return self._server.rooms(sid, namespace)

    def is_connected(self, sid: str, namespace: Optional[str] = None) -> bool:
        """True when ``sid`` is connected to ``namespace``."""
        return self._server._sid_nsp.get(sid) == (namespace or "/")


class BaseServer:
    """State and rules shared by :class:`rtio.Server` and :class:`rtio.AsyncServer`."""

    reserved_events = ["connect", "disconnect"]
    reason = reason

    _asyncio = False

    def __init__(
        self,
        client_manager: Any = None,
        logger: Union[bool, logging.Logger] = False,
        serializer: Any = "default",
        json: Any = None,
        async_handlers: Optional[bool] = None,
        always_connect: bool = False,
        namespaces: Union[List[str], str, None] = None,
        *,
        host: str = "0.0.0.0",
        port: int = 3000,
        path: str = "/socket.io/",
        static_files: Union[str, "os.PathLike[str]", Dict[str, str], None] = None,
        client_bundle: Union[str, "os.PathLike[str]", None] = None,
        ping_interval: Union[float, Tuple[float, float]] = 25,
        ping_timeout: float = 20,
        max_http_buffer_size: int = 1_000_000,
        connect_timeout: float = 45,
        cors_allowed_origins: Union[str, List[str], None] = None,
        transports: Optional[List[str]] = None,
        worker_threads: int = 0,
        ack_timeout: float = 60,
        **kwargs: Any,
    ) -> None:
        if client_manager is not None:
            raise NotImplementedError(
                "rtio keeps clients and rooms in its engine: client_manager (Redis, Kafka...) "
                "is not supported (see docs/python.md)")
        if serializer != "default":
            raise NotImplementedError("rtio speaks Socket.IO's default JSON serializer only")
        if json is not None:
            warnings.warn("rtio encodes JSON natively: the json= module is ignored", stacklevel=3)
        for key in kwargs:
            if key not in _HARMLESS_OPTIONS:
                raise TypeError(f"unexpected option {key!r}")
        if kwargs.get("cookie"):
            warnings.warn("rtio sends no session cookie: cookie= is ignored", stacklevel=3)

        if not isinstance(logger, bool):
            self.logger = logger
        else:
            self.logger = default_logger
            if logger and self.logger.level == logging.NOTSET:
                self.logger.setLevel(logging.INFO)
                if not self.logger.handlers:
                    self.logger.addHandler(logging.StreamHandler())

        self.handlers: Dict[str, Dict[str, Handler]] = {}
        self.namespace_handlers: Dict[str, Any] = {}
        self.not_handled = object()
        self.async_handlers = (self._default_async_handlers if async_handlers is None
                               else bool(async_handlers))
        self.always_connect = always_connect
        self.namespaces: Union[List[str], str] = namespaces or ["/"]
        self.manager = Manager(self)

        if transports is None:
            transports = ["polling", "websocket"]
        unknown = set(transports) - {"polling", "websocket"}
        if unknown or not transports:
            raise ValueError(f"transports must be 'polling' and/or 'websocket', not {transports!r}")
        if isinstance(static_files, dict):
            if set(static_files) != {"/"}:
                raise NotImplementedError(
                    "rtio serves one directory of static files at '/': "
                    "pass static_files='dir' or {'/': 'dir'}")
            static_files = static_files["/"]
        if cors_allowed_origins == []:
            cors_allowed_origins = None
        self.host = host
        self.port = port
        self._options: Dict[str, Any] = {
            "path": path if path.startswith("/") else "/" + path,
            "ping_interval_ms": _seconds_ms(ping_interval, "ping_interval"),
            "ping_timeout_ms": _seconds_ms(ping_timeout, "ping_timeout"),
            "connect_timeout_ms": _seconds_ms(connect_timeout, "connect_timeout"),
            "max_payload": int(max_http_buffer_size),
            "cors": cors_allowed_origins,
            "websocket": "websocket" in transports,
            "polling": "polling" in transports,
            "static_dir": os.fspath(static_files) if static_files is not None else None,
            "client_bundle": os.fspath(client_bundle) if client_bundle is not None else None,
            "worker_threads": int(worker_threads),
        }
        self.ack_timeout = float(ack_timeout)

        self._native: Optional[_native.NativeServer] = None
        # Per connected socket: its namespace, opening request (its environ is built from it
        # when asked for: a dict per idle client would cost more than the rest) and session.
        self._sid_nsp: Dict[str, str] = {}
        self._openings: Dict[str, _Opening] = {}
        self._sessions: Dict[str, Dict[str, Any]] = {}
        # Sockets whose connect handler refused them after the fact (see _refuse_connected).
        self._refused: set = set()
        # Ack token -> callback or waiter.
        self._acks: Dict[int, Any] = {}
        self._ack_lock = threading.Lock()

    _default_async_handlers = False

    # ---------------------------------------------------------------- registration
    def is_asyncio_based(self) -> bool:
        """True for :class:`rtio.AsyncServer`."""
        return self._asyncio

    def on(self, event: str, handler: Optional[Handler] = None,
           namespace: Optional[str] = None) -> Any:
        """Register an event handler, as a decorator or directly.

        ``connect(sid, environ, auth)`` may refuse the client (return ``False`` or raise
        :class:`rtio.exceptions.ConnectionRefusedError`); ``disconnect(sid, reason)``;
        any other event ``handler(sid, *args)``, whose return value is the acknowledgement
        when the client asked for one (a tuple sends several values). ``'*'`` as the event
        catches every event without a handler (``handler(event, sid, *args)``); ``'*'`` as
        the namespace catches every namespace (``handler(namespace, sid, ...)``)::

            @sio.on('chat', namespace='/room')
            def chat(sid, data):
                return 'received'
        """
        namespace = namespace or "/"

        def set_handler(handler: Handler) -> Handler:
            self.handlers.setdefault(namespace, {})[event] = handler
            self._namespace_changed(namespace)
            return handler

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

    def event(self, *args: Any, **kwargs: Any) -> Any:
        """Register an event handler named after the function::

            @sio.event
            def my_event(sid, data): ...

            @sio.event(namespace='/chat')
            def connect(sid, environ, auth): ...
        """
        if len(args) == 1 and not kwargs and callable(args[0]):
            return self.on(args[0].__name__)(args[0])

        def set_handler(handler: Handler) -> Handler:
            return self.on(handler.__name__, *args, **kwargs)(handler)

        return set_handler

    def register_namespace(self, namespace_handler: Any) -> None:
        """Register a class-based namespace (:class:`rtio.Namespace` for ``Server``,
        :class:`rtio.AsyncNamespace` for ``AsyncServer``)."""
        from .namespace import BaseServerNamespace

        if not isinstance(namespace_handler, BaseServerNamespace):
            raise ValueError("Not a namespace instance")
        if self.is_asyncio_based() != namespace_handler.is_asyncio_based():
            raise ValueError("Not a valid namespace class for this server")
        namespace_handler._set_server(self)
        self.namespace_handlers[namespace_handler.namespace] = namespace_handler
        self._namespace_changed(namespace_handler.namespace)

    def _accepted_namespaces(self) -> List[str]:
        # With namespaces='*', other namespaces reach the server as connect requests
        # (the engine's dynamic namespaces): the ones listed here are just known up front.
        listed = [] if self.namespaces == "*" else list(self.namespaces)
        names = set(self.handlers) | set(self.namespace_handlers) | set(listed)
        names.discard("*")
        return sorted(names)

    def _has_connect_handler(self, namespace: str) -> bool:
        for ns in (namespace, "*"):
            if "connect" in self.handlers.get(ns, {}):
                return True
            if hasattr(self.namespace_handlers.get(ns), "on_connect"):
                return True
        return False

    def _middleware(self, namespace: str) -> bool:
        # A connect handler that may refuse runs before the client is accepted. This needs
        # the core to tell the socket id with the connect request; until it does, rtio runs
        # connect handlers right after accepting (python-socketio's always_connect=True).
        return (_native.CONNECT_REQUEST_HAS_SID and not self.always_connect
                and self._has_connect_handler(namespace))

    def _namespace_changed(self, namespace: str) -> None:
        native = self._native
        if native is not None and namespace != "*" and not native.is_stopped():
            native.add_namespace(namespace, self._middleware(namespace))

    # ---------------------------------------------------------------- handler lookup
    def _get_event_handler(self, event: str, namespace: str,
                           args: Tuple[Any, ...]) -> Tuple[Optional[Handler], Tuple[Any, ...]]:
        # python-socketio's resolution order:
        # handlers[ns][event], handlers[ns]['*'], handlers['*'][event], handlers['*']['*']
        handler = None
        ns_handlers = self.handlers.get(namespace)
        if ns_handlers is not None:
            if event in ns_handlers:
                handler = ns_handlers[event]
            elif event not in self.reserved_events and "*" in ns_handlers:
                handler = ns_handlers["*"]
                args = (event, *args)
        if handler is None and "*" in self.handlers:
            star = self.handlers["*"]
            if event in star:
                handler = star[event]
                args = (namespace, *args)
            elif event not in self.reserved_events and "*" in star:
                handler = star["*"]
                args = (event, namespace, *args)
        return handler, args

    def _get_namespace_handler(self, namespace: str,
                               args: Tuple[Any, ...]) -> Tuple[Any, Tuple[Any, ...]]:
        handler = self.namespace_handlers.get(namespace)
        if handler is None and "*" in self.namespace_handlers:
            handler = self.namespace_handlers["*"]
            args = (namespace, *args)
        return handler, args

    # ---------------------------------------------------------------- lifecycle helpers
    def _start_native(self, host: Optional[str], port: Optional[int], poll_mode: bool) -> int:
        if self._native is not None and not self._native.is_stopped():
            raise RuntimeError("the server is already running")
        options = dict(self._options)
        options["host"] = self.host if host is None else host
        options["port"] = int(self.port if port is None else port)
        options["namespaces"] = [(ns, self._middleware(ns)) for ns in self._accepted_namespaces()]
        options["dynamic_namespaces"] = self.namespaces == "*"
        options["poll_mode"] = poll_mode
        self._sid_nsp.clear()
        self._openings.clear()
        self._sessions.clear()
        self._refused.clear()
        self._acks.clear()
        self._native = _native.NativeServer.start(options)
        _running.add(self)
        self.logger.info("rtio listening on %s:%s", self._native.host, self._native.port)
        return self._native.port

    def _stop_native(self) -> None:
        native = self._native
        if native is not None:
            native.stop()
        _running.discard(self)

    def _native_or_raise(self) -> "_native.NativeServer":
        native = self._native
        if native is None:
            raise exceptions.StoppedError("the server is not running")
        return native

    def _live(self) -> Optional["_native.NativeServer"]:
        """The running server, or ``None`` once it stopped: then there is no client to
        reach, so emits and room changes do nothing (as python-socketio does for clients
        that are gone) — handlers that run during shutdown need not care. Raises
        :class:`rtio.exceptions.StoppedError` when the server was never started."""
        native = self._native_or_raise()
        return None if native.is_stopped() else native

    @property
    def running(self) -> bool:
        """True while the server accepts clients."""
        return self._native is not None and not self._native.is_stopped()

    @property
    def bound_port(self) -> Optional[int]:
        """The port the server listens on (useful after ``start(port=0)``), or ``None``."""
        return self._native.port if self._native is not None else None

    # ---------------------------------------------------------------- sync helpers
    def _emit_now(self, event: str, data: Any, to: Target, room: Target, skip_sid: Target,
                  namespace: Optional[str]) -> None:
        native = self._live()
        if native is None:
            return
        namespace = namespace or "/"
        target = to if to is not None else room
        try:
            if isinstance(target, str) and skip_sid is None \
                    and self._sid_nsp.get(target) == namespace:
                native.emit(target, event, data)
                return
            rooms = None if target is None else \
                [target] if isinstance(target, str) else list(target)
            if rooms == []:
                return
            exclude = None if skip_sid is None else \
                [skip_sid] if isinstance(skip_sid, str) else list(skip_sid)
            native.broadcast(namespace, event, data, rooms, exclude)
        except exceptions.StoppedError:
            pass  # stopped meanwhile

    def _ack_targets(self, to: Target, room: Target, namespace: Optional[str]) -> List[str]:
        target = to if to is not None else room
        namespace = namespace or "/"
        if target is None:
            raise ValueError("callbacks and call() need a recipient (to=sid)")
        if isinstance(target, str) and self._sid_nsp.get(target) == namespace:
            return [target]
        rooms = [target] if isinstance(target, str) else list(target)
        native = self._live()
        if native is None:
            return []
        sids: List[str] = []
        for r in rooms:
            for sid in native.sockets(namespace, r):
                if sid not in sids:
                    sids.append(sid)
        return sids

    def _register_ack(self, sid: str, event: str, data: Any, timeout: float,
                      entry: Any) -> bool:
        """Emits asking for an ack and files ``entry`` under its token; False when the
        socket is not connected."""
        native = self._live()
        if native is None:
            raise exceptions.StoppedError("the server is stopped")
        with self._ack_lock:
            token = native.emit_with_ack(sid, event, data, timeout)
            if token is None:
                return False
            self._acks[token] = entry
        return True

    def _take_ack(self, token: int) -> Any:
        with self._ack_lock:
            return self._acks.pop(token, None)

    def _room_op(self, op: str, *args: str) -> None:
        native = self._live()
        if native is not None:
            try:
                getattr(native, op)(*args)
            except exceptions.StoppedError:
                pass  # stopped meanwhile

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms a client is in, its own room (its sid) first (empty when it is not
        connected)."""
        native = self._live()
        return native.rooms(sid) if native is not None else []

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The WSGI-like environ of a client's connection (``REMOTE_ADDR``,
        ``QUERY_STRING``, ``HTTP_*`` headers...): the dict the ``connect`` handler got,
        ``None`` once the client left."""
        opening = self._openings.get(sid)
        return opening.environ() if opening is not None else None

    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Not available: rtio serves HTTP itself instead of attaching to a web framework's
        app (raises ``NotImplementedError``; see docs/python.md)."""
        raise NotImplementedError(
            "rtio serves HTTP itself: use run()/start()/serve() instead of attaching to an "
            "app (see docs/python.md)")

    def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        """Not available: rtio serves HTTP itself (raises ``NotImplementedError``)."""
        self.attach(None)

    def transport(self, sid: str, namespace: Optional[str] = None) -> str:
        """The transport the client's connection uses now: ``'polling'`` (until an upgrade
        completes) or ``'websocket'``."""
        return self._native_or_raise().transport(sid)

    def stats(self, namespace: str = "/") -> Dict[str, int]:
        """rtio's own: ``{'sockets': n, 'rooms': m}`` for a namespace — connected sockets,
        and rooms with members not counting each socket's own room."""
        native = self._live()
        sockets, rooms = native.stats(namespace) if native is not None else (0, 0)
        return {"sockets": sockets, "rooms": rooms}

    # ---------------------------------------------------------------- event bookkeeping
    def _refusal(self, exc: Optional[BaseException]) -> Tuple[str, Any]:
        """(message, data) of a connect refusal."""
        if exc is None:
            return "Connection rejected by server", None
        args = getattr(exc, "error_args", None)
        if isinstance(args, dict):
            return str(args.get("message", "Connection rejected by server")), args.get("data")
        return "Connection refused by server", None

    def _connected(self, sid: str, nsp: str, native: "_native.Opening") -> _Opening:
        """Registers a socket; returns what it keeps of its opening request."""
        self._sid_nsp[sid] = nsp
        opening = self._openings[sid] = _Opening(native)
        return opening

    def _forget(self, sid: str) -> None:
        self._sid_nsp.pop(sid, None)
        self._openings.pop(sid, None)
        self._sessions.pop(sid, None)

    def _disconnect_remaining(self) -> None:
        """After the event stream ended: run the ``disconnect`` handler of every client that
        did not get one (the engine does not promise a disconnect event per socket when it
        stops)."""
        for sid, nsp in list(self._sid_nsp.items()):
            self._on_disconnect(sid, nsp, reason.SERVER_DISCONNECT)

    def _on_disconnect(self, sid: str, nsp: str, why: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def _log_handler_error(self, what: str, namespace: str, sid: Any) -> None:
        self.logger.exception("rtio: handler for %s on %s (sid %s) raised", what, namespace, sid)


def is_refusal(exc: BaseException) -> bool:
    """Exceptions that refuse a connection: rtio's, python-socketio's (by shape) and the
    built-in ``ConnectionRefusedError``."""
    return isinstance(exc, (exceptions.ConnectionRefusedError, ConnectionRefusedError)) or (
        type(exc).__name__ == "ConnectionRefusedError" and hasattr(exc, "error_args"))
