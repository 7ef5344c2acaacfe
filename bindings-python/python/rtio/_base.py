"""What ``rtio.Server`` and ``rtio.AsyncServer`` share: options, handler registration and
lookup (exactly python-socketio's rules), client bookkeeping, and emit routing."""

from __future__ import annotations

import atexit
import collections
import functools
import inspect
import logging
import os
import re
import threading
import time
import urllib.parse
import weakref
from dataclasses import dataclass, field
from typing import (Any, Callable, Deque, Dict, Iterable, Iterator, List, NoReturn, Optional,
                    Tuple, Union)

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

    __slots__ = ("native", "kept", "live", "extra")

    def __init__(self, native: "_native.Opening") -> None:
        self.native = native
        self.kept: Optional[_Environ] = None
        self.live: Optional["weakref.ReferenceType[_Environ]"] = None
        # Mounted in an app: what the app's server gave of the opening request (its WSGI
        # environ, the ASGI scope, aiohttp's request), as python-socketio's environ has it.
        self.extra: Optional[Dict[str, Any]] = None

    def environ(self) -> Dict[str, Any]:
        if self.kept is not None:
            return self.kept
        env = self.live() if self.live is not None else None
        if env is None:
            base = self.native.environ()
            if self.extra is not None:
                base.update(self.extra)
            env = _Environ(base)
            env._opening = self
            self.live = weakref.ref(env)
        return env


_UNSET: Any = object()

#: What a server's ``cors_allowed_origins`` becomes for the engine: the policy
#: (``"none"``: the server's own origin only, ``"any"``, ``"list"``, ``"host"``: a callable
#: decides), its origins, and whether other origins are refused (400).
_CorsPolicy = Tuple[str, List[str], bool]


def _cors_policy(value: Any) -> _CorsPolicy:
    """python-engineio's ``cors_allowed_origins``: ``None`` the same origin only, ``'*'``
    (or a list holding it) any, an origin or a list of them, a callable, or ``[]`` to turn
    CORS handling off (no headers, no origin check)."""
    if value is None:
        return "none", [], True
    if isinstance(value, str):
        return ("any", [], True) if value == "*" else ("list", [value], True)
    if callable(value):
        if inspect.iscoroutinefunction(value):
            raise TypeError("cors_allowed_origins: the origin check must be a plain function "
                            "(python-engineio calls it without awaiting)")
        return "host", [], True
    if isinstance(value, (list, tuple, set, frozenset)):
        origins = list(value)
        if not all(isinstance(o, str) for o in origins):
            raise TypeError("cors_allowed_origins: every origin must be a string, "
                            f"not {origins!r}")
        if not origins:
            return "none", [], False
        if "*" in origins:
            return "any", [], True
        return "list", origins, True
    raise TypeError("cors_allowed_origins must be None, '*', an origin, a list of origins, "
                    f"or a callable, not {type(value).__name__}")


@dataclass(frozen=True)
class SocketInfo:
    """rtio's own: a socket of the cluster, as :meth:`rtio.Server.fetch_sockets` reports it
    (socket.io's ``RemoteSocket`` data), whichever node it is connected to."""

    #: The socket id (usable as ``to=`` anywhere in the cluster).
    id: str
    #: Its namespace.
    namespace: str
    #: Its rooms, its own room (its id) first.
    rooms: List[str]
    #: What its node attached to it (socket.io's ``socket.data``; ``{}`` when nothing, as
    #: socket.io's default).
    data: Any
    #: Its connection's handshake, shaped like socket.io's: ``headers`` (lower-case names),
    #: ``address``, ``issued`` (ms since the epoch), ``query`` (a dict), ``auth``.
    handshake: Dict[str, Any] = field(hash=False)
    #: True when it is connected to this node.
    local: bool


def _socket_info(d: Dict[str, Any]) -> SocketInfo:
    query = dict(urllib.parse.parse_qsl(d["query"], keep_blank_values=True))
    return SocketInfo(
        id=d["id"], namespace=d["nsp"], rooms=list(d["rooms"]),
        data={} if d["data"] is None else d["data"],
        handshake={"headers": d["headers"], "address": d["address"], "issued": d["issued"],
                   "query": query, "auth": d["auth"]},
        local=d["local"])


def ack_value(args: List[Any]) -> Any:
    """An acknowledgement's arguments as python-socketio's ``call`` returns them: one value,
    a tuple for several, ``None`` for none."""
    return tuple(args) if len(args) > 1 else args[0] if len(args) == 1 else None


def _rooms(value: Target) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class _RoomCallback:
    """An ``emit(..., callback=)`` to more than one local socket: the core's broadcast with
    acks, whose answers all come in one event."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[..., Any]) -> None:
        self.callback = callback


#: Seconds an ``emit(..., callback=)`` to a room of a cluster waits for the clients' acks
#: when ``ack_timeout`` is unset (across nodes the answers cannot wait without a bound).
CLUSTER_ACK_TIMEOUT = 60.0
#: Seconds a mounted app's handshake request is kept for its sockets' connect handlers.
_HOST_OPENING_S = 60.0


def _refuse(option: str, why: str) -> NoReturn:
    raise NotImplementedError(f"rtio: {option} is not supported: {why} (see docs/python.md)")


#: The characters of a cookie name (RFC 6265's token), as browsers and engine.io take them.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
#: A cookie path: no ``;`` and no control characters.
_COOKIE_PATH = re.compile(r"^[\x20-\x3a\x3c-\x7e]*$")
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None"}


def _compression(http_compression: Any, threshold: Any) -> Optional[int]:
    """python-engineio's ``http_compression`` (default on) and ``compression_threshold``
    (default 1024 bytes) as the core's threshold; ``None``: polling responses go as they are."""
    if http_compression is _UNSET:
        http_compression = True
    if threshold is _UNSET:
        threshold = 1024
    if not isinstance(http_compression, bool):
        raise TypeError("http_compression must be True or False")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError("compression_threshold must be a number of bytes (an int >= 0)")
    return threshold if http_compression else None


def _parser(serializer: Any) -> str:
    """python-socketio's ``serializer`` as the core's parser: ``'default'`` (JSON text,
    binary values as attachments) or ``'msgpack'`` (``socket.io-msgpack-parser``'s format).
    python-socketio's own packet classes for them (``socketio.packet.Packet``,
    ``socketio.msgpack_packet.MsgPackPacket``) are taken as their names; anything else
    (``'pickle'``, ``'cbor'``, another class) is refused."""
    if isinstance(serializer, type):
        known = {("socketio.packet", "Packet"): "default",
                 ("socketio.msgpack_packet", "MsgPackPacket"): "msgpack"}
        name = known.get((serializer.__module__, serializer.__qualname__))
        if name is not None:
            return name
    elif serializer in ("default", "msgpack"):
        return serializer
    _refuse(f"serializer={serializer!r}", "rtio encodes packets in its engine, with "
            "Socket.IO's default parser (serializer='default') or socket.io-msgpack-parser's "
            "(serializer='msgpack'); a custom Packet class or another format cannot run there")


def _websocket_compression(enabled: Any, threshold: Any) -> Optional[int]:
    """rtio's ``websocket_compression`` (default off, as socket.io's ``perMessageDeflate``)
    and ``websocket_compression_threshold`` (default 1024 bytes, socket.io's) as the core's
    permessage-deflate threshold; ``None``: off."""
    if not isinstance(enabled, bool):
        raise TypeError("websocket_compression must be True or False")
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
        raise ValueError("websocket_compression_threshold must be a number of bytes (an "
                         "int >= 0)")
    return threshold if enabled else None


def _recovery(value: Any) -> Optional[Tuple[int, bool]]:
    """``connection_state_recovery={'max_disconnection_duration': seconds,
    'skip_middlewares': True}`` (socket.io's ``connectionStateRecovery``) as the core's window
    in ms and middleware rule; ``None``: off."""
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise TypeError("connection_state_recovery must be a dict {max_disconnection_duration, "
                        "skip_middlewares}")
    unknown = set(value) - {"max_disconnection_duration", "skip_middlewares"}
    if unknown:
        raise TypeError(f"connection_state_recovery: unknown keys {sorted(unknown)!r}")
    seconds = value.get("max_disconnection_duration", 120)
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 2**31 / 1000:
        raise ValueError("connection_state_recovery['max_disconnection_duration'] must be a "
                         "positive number of seconds")
    return int(seconds * 1000), bool(value.get("skip_middlewares", True))


def _cookie_options(cookie: Any) -> Optional[Dict[str, Any]]:
    """python-engineio's ``cookie`` argument as the core's session cookie (``None``: none).

    A string is the cookie's name, with python-engineio's attributes ``path=/`` and
    ``SameSite=Lax``. A dict has the name under ``"name"`` (default ``"io"``) and the
    attributes under their names, of any case: ``path`` (a string), ``httponly`` (a bool)
    and ``samesite`` (``"Strict"``, ``"Lax"`` or ``"None"``). Raises ``TypeError`` /
    ``ValueError`` on a bad value and ``NotImplementedError`` on an attribute rtio does not
    set (``secure``, ``domain``, ``max-age``, ``expires``, callables).
    """
    if cookie is None or cookie is False:
        return None
    if isinstance(cookie, str):
        cookie = {"name": cookie, "path": "/", "SameSite": "Lax"}
    if not isinstance(cookie, dict):
        raise TypeError(f"cookie must be a name (str) or a dict of attributes, not "
                        f"{type(cookie).__name__}")
    name = cookie.get("name", "io")
    if not isinstance(name, str) or not _COOKIE_NAME.match(name):
        raise ValueError(f"cookie name {name!r} is not a valid cookie name (letters, digits "
                         "and !#$%&'*+-.^_`|~ only)")
    out: Dict[str, Any] = {"name": name, "path": None, "http_only": False, "same_site": None}
    for key, value in cookie.items():
        attribute = str(key).lower()
        if attribute == "name":
            continue
        if callable(value):
            _refuse(f"a callable cookie attribute ({key!r})", "rtio writes the cookie in its "
                    "core, where Python is not called; give a fixed value")
        if attribute == "path":
            if not isinstance(value, str) or not _COOKIE_PATH.match(value):
                raise ValueError(f"cookie path {value!r} is not a valid path (a string "
                                 "without ';' or control characters)")
            out["path"] = value
        elif attribute == "httponly":
            if not isinstance(value, bool):
                raise TypeError(f"cookie attribute {key!r} must be True or False, not "
                                f"{value!r}")
            out["http_only"] = value
        elif attribute == "samesite":
            same_site = _SAME_SITE.get(value.lower()) if isinstance(value, str) else None
            if same_site is None:
                raise ValueError(f"cookie attribute {key!r} must be 'Strict', 'Lax' or "
                                 f"'None', not {value!r}")
            out["same_site"] = same_site
        else:
            _refuse(f"the cookie attribute {key!r}", "rtio's session cookie has the "
                    "attributes path, httponly and samesite; remove it")
    return out


def _tls_files(certfile: Any, keyfile: Any, mounted: bool) -> Optional[Tuple[str, str]]:
    """``ssl_certfile`` / ``ssl_keyfile`` (PEM files) as the core's TLS files, or ``None``."""
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        raise ValueError("ssl_certfile and ssl_keyfile go together (PEM files: the "
                         "certificate chain and its private key)")
    if mounted:
        raise ValueError("ssl_certfile/ssl_keyfile are for rtio's own listener; mounted in "
                         "an app's server, TLS is that server's (e.g. uvicorn --ssl-certfile)")
    return os.fspath(certfile), os.fspath(keyfile)


#: A file name, as ``open`` takes it.
StrPath = Union[str, "os.PathLike[str]"]

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


class _Lanes:
    """The order of handler runs per socket, as python-socketio keeps it.

    python-socketio runs a client's ``connect`` handler before it reads anything else from
    that client, and its ``disconnect`` handler after; with ``async_handlers=True`` each
    event's handler then starts as a task of its own (in arrival order, running alongside
    the others), with ``async_handlers=False`` the client's handlers run one at a time, in
    order. Clients never wait for each other.

    Here a *serial* job (connect, disconnect, and every job with ``async_handlers=False``)
    holds its socket's lane: the socket's later jobs wait in the lane until it ends, then
    start in order (free jobs at once, up to the next serial one). A socket has a lane only
    while a serial job of it runs or waits; other jobs start at once.
    ``launch(job, after)`` starts ``job`` on a thread or task and calls ``after`` (when not
    ``None``) once it ended, whatever happened.
    """

    def __init__(self, launch: Callable[[Callable[[], Any], Optional[Callable[[], None]]], None]) -> None:
        self._launch = launch
        self._lanes: Dict[str, Deque[Tuple[Callable[[], Any], bool]]] = {}
        self._held = 0  # jobs waiting in lanes
        self._lock = threading.Lock()

    def holding(self) -> bool:
        """True while jobs wait in lanes (they are launched later, from another job's end)."""
        return self._held > 0

    def run(self, sid: str, job: Callable[[], Any], serial: bool) -> None:
        # Lanes are made here only, and ``run`` is called from one thread (the dispatcher or
        # the event loop): a socket without a lane cannot get one meanwhile, so its free job
        # starts without the lock.
        if not serial and sid not in self._lanes:
            self._launch(job, None)
            return
        with self._lock:
            lane = self._lanes.get(sid)
            if lane is not None:
                lane.append((job, serial))
                self._held += 1
                return
            if serial:
                self._lanes[sid] = collections.deque()
                self._launch(job, functools.partial(self._next, sid))
            else:
                self._launch(job, None)

    def _next(self, sid: str) -> None:
        with self._lock:
            lane = self._lanes.get(sid)
            while lane:
                job, serial = lane.popleft()
                self._held -= 1
                if serial:
                    self._launch(job, functools.partial(self._next, sid))
                    return
                self._launch(job, None)
            self._lanes.pop(sid, None)

    def clear(self) -> None:
        with self._lock:
            self._lanes.clear()
            self._held = 0


def origin_allowed(allowed: Callable[..., Any], origin: str,
                   environ: Callable[[], Dict[str, Any]]) -> bool:
    """Calls a ``cors_allowed_origins`` callable as python-engineio does: with
    ``(origin, environ)``, or ``(origin)`` when it takes one argument."""
    try:
        inspect.signature(allowed).bind(origin, None)
        two = True
    except TypeError:
        two = False
    except ValueError:  # no signature: try both, as python-engineio does
        try:
            return bool(allowed(origin, environ()))
        except TypeError:
            return bool(allowed(origin))
    result = allowed(origin, environ()) if two else allowed(origin)
    if inspect.isawaitable(result):
        getattr(result, "close", lambda: None)()
        raise TypeError("cors_allowed_origins returned an awaitable; it must return a bool")
    return bool(result)


def same_origin(origin: str, host: Optional[str]) -> bool:
    """True when ``origin`` is the server's own (``http(s)://`` + the ``Host`` header)."""
    return host is not None and origin in (f"http://{host}", f"https://{host}")


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
        async_handlers: bool = True,
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
        cors_allowed_origins: Union[str, List[str], Callable[..., Any], None] = None,
        cors_credentials: bool = True,
        transports: Union[str, List[str], None] = None,
        worker_threads: int = 0,
        ack_timeout: Optional[float] = None,
        async_mode: Optional[str] = None,
        engineio_logger: Any = None,
        allow_upgrades: bool = True,
        http_compression: Any = _UNSET,
        compression_threshold: Any = _UNSET,
        cookie: Any = None,
        monitor_clients: Optional[bool] = None,
        connection_state_recovery: Optional[Dict[str, Any]] = None,
        websocket_compression: bool = False,
        websocket_compression_threshold: int = 1024,
        allow_eio3: bool = False,
        **kwargs: Any,
    ) -> None:
        # Every option either works or is refused here, naming what to do instead: nothing
        # is accepted and ignored (docs/python.md, "Options").
        for key in kwargs:
            raise TypeError(f"{type(self).__name__}() got an unexpected option {key!r}")
        self._check_manager(client_manager)
        parser = _parser(serializer)
        if json is not None:
            _refuse("json", "rtio encodes and decodes JSON natively; convert values "
                    "json.dumps cannot take (dates...) before emitting, and leave json unset")
        self._check_async_mode(async_mode)
        if engineio_logger not in (None, False):
            _refuse("engineio_logger", "rtio's engine does not log through Python; "
                    "logger= logs rtio's own messages")
        compression = _compression(http_compression, compression_threshold)
        recovery = _recovery(connection_state_recovery)
        per_message_deflate = _websocket_compression(websocket_compression,
                                                     websocket_compression_threshold)
        if not isinstance(allow_eio3, bool):
            raise TypeError("allow_eio3 must be True or False")
        cookie_options = _cookie_options(cookie)
        if monitor_clients not in (None, True):
            _refuse("monitor_clients=False", "rtio always closes clients that stop "
                    "answering pings; leave monitor_clients unset")
        if ack_timeout is not None and ack_timeout <= 0:
            raise ValueError("ack_timeout must be a positive number of seconds, or None")

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
        self.async_handlers = bool(async_handlers)
        self.always_connect = always_connect
        self.namespaces: Union[List[str], str] = namespaces or ["/"]
        #: Handlers of the events other nodes send (:meth:`on_server_side`), by namespace.
        self.server_side_handlers: Dict[str, Dict[str, Handler]] = {}
        self.manager: Manager
        if client_manager is None:
            self.manager = Manager(self)
            self._redis: Optional[Dict[str, Any]] = None
        else:
            client_manager.set_server(self)
            self.manager = client_manager
            self._redis = client_manager._native_options()

        if transports is None:
            transports = ["polling", "websocket"]
        elif isinstance(transports, str):
            transports = [transports]
        unknown = set(transports) - {"polling", "websocket"}
        if unknown or not transports:
            raise ValueError(f"transports must be 'polling' and/or 'websocket', not {transports!r}")
        if isinstance(ping_interval, (tuple, list)):
            if len(ping_interval) != 2:
                raise ValueError("ping_interval must be seconds or (seconds, grace period)")
            if ping_interval[1]:
                _refuse("a ping_interval grace period", "rtio waits ping_timeout for each "
                        "pong; pass ping_timeout=timeout+grace instead")
            ping_interval = ping_interval[0]
        if isinstance(static_files, dict):
            if set(static_files) != {"/"}:
                _refuse("static_files with several paths", "rtio serves one directory of "
                        "static files at '/': pass static_files='dir' or {'/': 'dir'}")
            static_files = static_files["/"]
        cors, origins, reject = _cors_policy(cors_allowed_origins)
        #: The callable of ``cors_allowed_origins``, asked about each handshake's origin.
        self.cors_allowed_origins = cors_allowed_origins
        self.cors_credentials = bool(cors_credentials)
        self.host = host
        self.port = port
        self._options: Dict[str, Any] = {
            "path": path if path.startswith("/") else "/" + path,
            "ping_interval_ms": _seconds_ms(ping_interval, "ping_interval"),
            "ping_timeout_ms": _seconds_ms(ping_timeout, "ping_timeout"),
            "connect_timeout_ms": _seconds_ms(connect_timeout, "connect_timeout"),
            "max_payload": int(max_http_buffer_size),
            "cors": cors,
            "cors_origins": origins,
            "cors_credentials": self.cors_credentials,
            "reject_other_origins": reject,
            "websocket": "websocket" in transports,
            "polling": "polling" in transports,
            "static_dir": os.fspath(static_files) if static_files is not None else None,
            "client_bundle": os.fspath(client_bundle) if client_bundle is not None else None,
            "worker_threads": int(worker_threads),
            "cookie": cookie_options,
            "allow_upgrades": bool(allow_upgrades),
            "http_compression": compression,
            "recovery": recovery,
            "parser": parser,
            "per_message_deflate": per_message_deflate,
            "allow_eio3": allow_eio3,
        }
        #: Seconds an ``emit(..., callback=)`` waits for its ack; ``None``: for as long as
        #: the client stays connected (python-socketio's behaviour).
        self.ack_timeout = None if ack_timeout is None else float(ack_timeout)

        self._native: Optional[_native.NativeServer] = None
        # Mounted in an app's server (WSGIApp, ASGIApp, attach, handle_request).
        self._mounted = False
        # Per connected socket: its namespace, opening request (its environ is built from it
        # when asked for: a dict per idle client would cost more than the rest) and session.
        self._sid_nsp: Dict[str, str] = {}
        self._openings: Dict[str, _Opening] = {}
        self._sessions: Dict[str, Dict[str, Any]] = {}
        # The rooms of the clients whose ``disconnect`` handler is due: ``rooms(sid)`` answers
        # from here while it runs, as python-socketio does (the core has let them go).
        self._left_rooms: Dict[str, List[str]] = {}
        # Sockets whose connect handler refused them after the fact (see _refuse_connected).
        self._refused: set = set()
        # Ack token -> callback or waiter.
        self._acks: Dict[int, Any] = {}
        self._ack_lock = threading.Lock()
        # Mounted in an app: handshakes' host requests, see _remember_opening.
        self._host_openings: Dict[Tuple[Any, ...], Tuple[float, Dict[str, Any]]] = {}
        self._lanes = _Lanes(self._launch)

    def _check_manager(self, manager: Any) -> None:
        if manager is None:
            return
        from .managers import AsyncRedisManager, RedisManager, _RedisManagerBase

        if not isinstance(manager, _RedisManagerBase):
            _refuse(f"client_manager={type(manager).__name__}", "rtio's cluster speaks "
                    "Socket.IO's Redis adapter protocol: pass rtio.RedisManager(url) "
                    "(rtio.AsyncRedisManager for AsyncServer); python-socketio's pickle-based "
                    "managers (Redis, Kafka, Kombu, ZeroMQ) are not supported")
        wanted = AsyncRedisManager if self._asyncio else RedisManager
        if not isinstance(manager, wanted):
            raise TypeError(f"{type(self).__name__} needs an rtio.{wanted.__name__}, not "
                            f"{type(manager).__name__}")
        if manager.write_only:
            raise ValueError("a write_only manager serves no clients: give the server a "
                             "manager without write_only=True")

    @property
    def clustered(self) -> bool:
        """rtio's own: True when the server was given a Redis ``client_manager``."""
        return self._redis is not None

    def _check_async_mode(self, async_mode: Optional[str]) -> None:
        if async_mode not in (None, "threading"):
            _refuse(f"async_mode={async_mode!r}", "rtio.Server runs handlers on threads of "
                    "its own (async_mode='threading'); use rtio.AsyncServer for asyncio")

    def _launch(self, job: Callable[[], Any], after: Optional[Callable[[], None]]) -> None:
        """Runs ``job`` (a handler run), then ``after`` (see :class:`_Lanes`)."""
        raise NotImplementedError  # pragma: no cover


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

    def on_server_side(self, event: str, handler: Optional[Handler] = None,
                       namespace: Optional[str] = None) -> Any:
        """rtio's own: registers a handler of an event the *other* servers of the cluster
        send (socket.io's ``io.on(event)`` for ``serverSideEmit``; sent by
        :meth:`server_side_emit` / :meth:`server_side_call` on another rtio node, by Node's
        ``io.serverSideEmit`` or by an emitter's). Called as ``handler(*args)``; when the
        sender asked for answers, its return value is this server's (one value: socket.io's
        adapter carries one per server). As a decorator or directly::

            @sio.on_server_side('ping')
            def ping(*args):
                return len(sio.manager.get_participants('/', None))
        """
        namespace = namespace or "/"

        def set_handler(handler: Handler) -> Handler:
            self.server_side_handlers.setdefault(namespace, {})[event] = handler
            return handler

        if handler is None:
            return set_handler
        set_handler(handler)
        return None

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

    def instrument(self, auth: Any = None, mode: str = "development", read_only: bool = False,
                   server_id: Optional[str] = None, namespace: str = "/admin",
                   server_stats_interval: float = 2) -> Any:
        """Serves the Socket.IO Admin UI dashboard (https://admin.socket.io), as
        python-socketio's ``instrument``: ``auth`` (required) is a dict the dashboard's
        login must equal (``{'username': ..., 'password': ...}``), a list of such dicts, a
        callable deciding from that dict (a coroutine function for ``AsyncServer``), or
        ``False`` (no authentication: never in production); ``mode='production'`` sends the
        stats only (no socket list, no connect/disconnect reports); ``read_only`` refuses
        the dashboard's commands (emit, join, leave, disconnect); ``server_id`` (default:
        the host name); ``namespace`` the admin namespace; ``server_stats_interval`` in
        seconds. Returns the :class:`rtio.admin.InstrumentedServer` (``shutdown()`` stops
        its stats task)."""
        from .admin import instrument
        return instrument(self, auth=auth, mode=mode, read_only=read_only, server_id=server_id,
                          namespace=namespace, server_stats_interval=server_stats_interval)

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
    def _call_handler(self, event: str, namespace: str, args: Tuple[Any, ...],
                      optional_last: bool = False) -> Any:
        """Calls the handler of ``event``; returns its result (an awaitable from a coroutine
        handler) or ``not_handled``."""
        handler, hargs = self._get_event_handler(event, namespace, args)
        if handler is not None:
            if optional_last:
                hargs = fit_args(handler, hargs, True)
            return handler(*hargs)
        ns_handler, hargs = self._get_namespace_handler(namespace, args)
        if ns_handler is not None:
            return ns_handler.trigger_event(event, *hargs)
        return self.not_handled

    def _call_event_handler(self, sid: str, namespace: str, event: str, args: list) -> Any:
        """:meth:`_call_handler` for a client's event, ``handlers[namespace][event]`` (the
        usual case, first in the resolution order) looked up first."""
        ns_handlers = self.handlers.get(namespace)
        handler = ns_handlers.get(event) if ns_handlers is not None else None
        if handler is not None:
            return handler(sid, *args)
        return self._call_handler(event, namespace, (sid, *args))

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
    def _start_native(self, host: Optional[str], port: Optional[int], poll_mode: bool,
                      ssl_certfile: Any = None, ssl_keyfile: Any = None) -> int:
        if self._native is not None and not self._native.is_stopped():
            raise RuntimeError("the server is already running")
        options = dict(self._options)
        options["tls"] = _tls_files(ssl_certfile, ssl_keyfile, self._mounted)
        options["host"] = self.host if host is None else host
        options["listen"] = not self._mounted
        options["port"] = int(self.port if port is None else port)
        options["namespaces"] = [(ns, self._middleware(ns)) for ns in self._accepted_namespaces()]
        options["dynamic_namespaces"] = self.namespaces == "*"
        options["poll_mode"] = poll_mode
        options["redis"] = self._redis
        self._sid_nsp.clear()
        self._openings.clear()
        self._sessions.clear()
        self._refused.clear()
        self._acks.clear()
        self._lanes.clear()
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

    def reload_tls(self) -> None:
        """rtio's own: reads the ``ssl_certfile`` and ``ssl_keyfile`` given to ``start`` again
        (after a certificate renewal). New connections get the new certificate, open ones
        keep theirs. Raises ``ValueError`` (naming the file) when they cannot be used — the
        certificate in use then stays — or when the server has no TLS."""
        self._native_or_raise().reload_tls()

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
                  namespace: Optional[str], local: bool = False) -> None:
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
            native.broadcast(namespace, event, data, rooms, exclude, local)
        except exceptions.StoppedError:
            pass  # stopped meanwhile

    def _local_sid(self, target: Target, namespace: Optional[str]) -> Optional[str]:
        """``target`` when it is one socket of this server on ``namespace``."""
        if isinstance(target, str) and self._sid_nsp.get(target) == (namespace or "/"):
            return target
        return None

    def _ack_timeout_for_many(self) -> Optional[float]:
        if self.ack_timeout is not None:
            return self.ack_timeout
        return CLUSTER_ACK_TIMEOUT if self.clustered else None

    def _emit_with_callback(self, event: str, data: Any, to: Target, room: Target,
                            skip_sid: Target, namespace: Optional[str],
                            callback: Callable[..., Any], local: bool = False) -> None:
        """One local socket: a per-socket ack (the callback runs when it answers). Anything
        else (a room, a socket of another node): the core's broadcast with acks, whose
        answers come together; the callback then runs once per answer."""
        target = to if to is not None else room
        if target is None:
            raise ValueError("callbacks need a recipient (to=sid or room)")
        sid = self._local_sid(target, namespace)
        if sid is not None and skip_sid is None:
            self._register_ack(sid, event, data, self.ack_timeout, callback)
            return
        self._start(lambda n: n.broadcast_with_ack(
            namespace or "/", event, data, _rooms(target), _rooms(skip_sid),
            self._ack_timeout_for_many(), local), _RoomCallback(callback))

    def _hand_over(self, method: str, url: str, headers: List[Tuple[str, str]], body: bytes,
                   remote: Optional[Tuple[str, int]], secure: bool, entry: Any) -> bool:
        """Hands a request of the app's server to the core, filing ``entry`` under its
        token; False when rtio is not running. A stopping rtio still takes requests: while
        it drains, a polling client collects its disconnect and close packets with its next
        request, as on rtio's own listener."""
        native = self._native
        if native is None:
            return False
        with self._ack_lock:
            try:
                token = native.handle_request(method, url, headers, body, remote, secure)
            except exceptions.StoppedError:
                return False
            self._acks[token] = entry
        return True

    def _start(self, start: Callable[["_native.NativeServer"], Optional[int]],
               entry: Any) -> bool:
        """Starts an operation whose result comes as an event carrying its token, and files
        ``entry`` under that token (under the lock the result's delivery takes, so it cannot
        come first). False when the namespace is not served (no result will come)."""
        native = self._live()
        if native is None:
            raise exceptions.StoppedError("the server is stopped")
        with self._ack_lock:
            token = start(native)
            if token is None:
                return False
            self._acks[token] = entry
        return True

    def _cluster_result(self, result: Any, error: Optional[str], what: str) -> Any:
        if error is not None:
            raise exceptions.ClusterError(f"{what}: {error}", result)
        return result

    def _register_ack(self, sid: str, event: str, data: Any, timeout: Optional[float],
                      entry: Any) -> bool:
        """Emits asking for an ack and files ``entry`` under its token; False when the
        socket is not connected. ``timeout=None``: the ack is awaited while the socket is
        connected (the engine answers ``None`` when it leaves)."""
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

    def _socket_op(self, sid: str, namespace: Optional[str], local: Callable[[Any], bool],
                   cluster: Callable[[Any, str], None]) -> None:
        """A room change or disconnect of one socket: directly when it is this server's,
        else through the cluster (the other nodes apply it to the socket with that id; on a
        single server nothing has that id and nothing happens, as in python-socketio)."""
        native = self._live()
        if native is None:
            return
        try:
            if local(native):
                return
            if self.clustered:
                cluster(native, namespace or "/")
        except exceptions.StoppedError:
            pass  # stopped meanwhile

    def _server_side_handler(self, nsp: str, event: str) -> Optional[Handler]:
        return self.server_side_handlers.get(nsp, {}).get(event)

    def recovered(self, sid: str) -> bool:
        """rtio's own (socket.io's ``socket.recovered``): True when client ``sid`` came back
        with connection state recovery (``connection_state_recovery=``): same sid, rooms and
        data as before its connection broke, the events emitted to it meanwhile already sent.
        Not a coroutine, in ``AsyncServer`` too."""
        native = self._live()
        return bool(native is not None and native.recovered(sid))

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms a client is in, its own room (its sid) first (empty when it is not
        connected)."""
        native = self._live()
        rooms = native.rooms(sid) if native is not None else []
        return rooms or list(self._left_rooms.get(sid, ()))

    def set_socket_data(self, sid: str, data: Any) -> bool:
        """rtio's own (socket.io's ``socket.data``): attaches JSON-able ``data`` to a client
        of this server (``None`` clears it), which :meth:`fetch_sockets` then reports as its
        ``data`` on every node. Not a coroutine, in ``AsyncServer`` too. False when the
        client is not connected; ``TypeError`` / ``ValueError`` for data JSON cannot hold
        (``bytes`` included)."""
        native = self._live()
        return native.set_socket_data(sid, data) if native is not None else False

    def get_environ(self, sid: str, namespace: Optional[str] = None) -> Optional[Dict[str, Any]]:
        """The WSGI-like environ of a client's connection (``REMOTE_ADDR``,
        ``QUERY_STRING``, ``HTTP_*`` headers...): the dict the ``connect`` handler got,
        ``None`` once the client left."""
        opening = self._openings.get(sid)
        return opening.environ() if opening is not None else None

    def _mount_path(self, prefix: Optional[str]) -> None:
        """Serves the Socket.IO path ``prefix`` (``'/socket.io'``) of a mounting app."""
        if not self.running:
            # the app's server hands every request over: no listener of rtio's own
            self._mounted = True
        if prefix is None or self._options["path"] == prefix:
            return
        if self.running:
            raise ValueError(f"rtio serves {self._options['path']!r} already; cannot mount "
                             f"it on {prefix!r} too")
        self._options["path"] = prefix

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
        if self._host_openings:
            env = native.environ()
            key = (env.get("REMOTE_ADDR"), env.get("REMOTE_PORT"), env.get("QUERY_STRING"))
            with self._ack_lock:
                found = self._host_openings.get(key)
            if found is not None:
                opening.extra = found[1]
        return opening

    def _remember_opening(self, remote: Optional[Tuple[str, int]], query: str,
                          extra: Dict[str, Any]) -> None:
        """Keeps what the app's server gave of an Engine.IO handshake (no ``sid`` in its
        query) for the connect handlers of its sockets: they find it by the client's
        address and the query, which the core's handshake carries too. Kept for
        ``_HOST_OPENING_S``: a client connects its namespaces right after the handshake."""
        if "sid=" in query:
            return
        ip, port = remote if remote is not None else ("0.0.0.0", 0)
        now = time.monotonic()
        with self._ack_lock:
            if len(self._host_openings) >= 64:
                for key, (at, _) in list(self._host_openings.items()):
                    if now - at > _HOST_OPENING_S:
                        del self._host_openings[key]
            self._host_openings[(ip, str(port), query)] = (now, extra)

    def _answer_request(self, native: "_native.NativeServer", request: int,
                        pending: "_native.PendingRequest") -> None:
        """Answers the engine's question about a request's origin (a callable
        ``cors_allowed_origins``): allowed origins get CORS headers; other ones get python-
        engineio's 400 "Not an accepted origin." (by the engine, or here for the server's
        own origin, which the engine would otherwise let through)."""
        origin = pending.origin
        if origin is None:  # not a browser: nothing to decide
            native.answer_request(request, False)
            return
        try:
            allowed = origin_allowed(self.cors_allowed_origins, origin, pending.environ)
        except Exception:
            self.logger.exception("rtio: cors_allowed_origins(%r) raised; refused", origin)
            allowed = False
        if allowed:
            native.answer_request(request, True)
        elif same_origin(origin, pending.host):
            native.answer_request(request, False, (400, "Not an accepted origin."))
        else:
            if self.logger.isEnabledFor(logging.INFO):
                self.logger.info("rtio: %s is not an accepted origin", origin)
            native.answer_request(request, False)

    def _forget(self, sid: str) -> None:
        self._sid_nsp.pop(sid, None)
        self._openings.pop(sid, None)
        self._sessions.pop(sid, None)
        self._left_rooms.pop(sid, None)

    def _disconnect_remaining(self) -> None:
        """After the event stream ended: run the ``disconnect`` handler of every client that
        did not get one (the engine does not promise a disconnect event per socket when it
        stops)."""
        for sid, nsp in list(self._sid_nsp.items()):
            self._disconnected(sid, nsp, reason.SERVER_DISCONNECT)

    def _disconnected(self, sid: str, nsp: str, why: str,
                      rooms: Optional[List[str]] = None) -> None:
        """A socket left (``rooms``: those it was in, as the core reported them): its
        ``disconnect`` handler runs after the socket's earlier serial jobs (its connect
        handler...), once."""
        if self._sid_nsp.pop(sid, None) is None:
            return  # already on its way (or never known)
        if rooms:
            self._left_rooms[sid] = rooms
        if sid in self._refused:
            self._refused.discard(sid)
            self._forget(sid)
            return
        self._lanes.run(sid, functools.partial(self._run_disconnect, sid, nsp, why), True)

    def _run_disconnect(self, sid: str, nsp: str, why: str) -> Any:  # pragma: no cover
        raise NotImplementedError

    def _log_handler_error(self, what: str, namespace: str, sid: Any) -> None:
        self.logger.exception("rtio: handler for %s on %s (sid %s) raised", what, namespace, sid)


def is_refusal(exc: BaseException) -> bool:
    """Exceptions that refuse a connection: rtio's, python-socketio's (by shape) and the
    built-in ``ConnectionRefusedError``."""
    return isinstance(exc, (exceptions.ConnectionRefusedError, ConnectionRefusedError)) or (
        type(exc).__name__ == "ConnectionRefusedError" and hasattr(exc, "error_args"))
