"""The server side of the `@socket.io/admin-ui <https://admin.socket.io>`_ dashboard, as
python-socketio's ``sio.instrument(...)`` does it::

    sio = rtio.Server(cors_allowed_origins=['https://admin.socket.io'])
    sio.instrument(auth={'username': 'admin', 'password': 'secret'})

The dashboard joins the admin namespace (``/admin``), gets the configuration and every
socket of this server, the server's stats every ``server_stats_interval`` seconds, hears
sockets come and go (in ``'development'`` mode), and may emit, make sockets join or leave a
room and disconnect them (unless ``read_only``).
"""
from __future__ import annotations

import asyncio
import hashlib
import inspect
import os
import socket as _socket
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

from .exceptions import ConnectionRefusedError as _Refused

HOSTNAME = _socket.gethostname()
PID = os.getpid()

#: What the dashboard may do, unless read-only.
_COMMANDS = ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT"]

Auth = Any  # a dict, a list of dicts, a callable, or False


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class InstrumentedServer:
    """What :meth:`rtio.Server.instrument` returns: the admin namespace's handlers and the
    task sending ``server_stats``. :meth:`shutdown` stops that task."""

    def __init__(self, sio: Any, auth: Auth = None, mode: str = "development",
                 read_only: bool = False, server_id: Optional[str] = None,
                 namespace: str = "/admin", server_stats_interval: float = 2) -> None:
        if auth is None:
            raise ValueError("auth must be specified")
        self.sio = sio
        self.auth = auth
        self.admin_namespace = namespace
        self.read_only = read_only
        self.server_id = server_id or HOSTNAME
        self.mode = mode
        self.server_stats_interval = server_stats_interval
        self.start_time = time.time()
        #: per connected socket of this server: its namespace, connect time and the key
        #: naming its Engine.IO connection (the handshake request's address, port, query)
        self._sockets: Dict[str, Tuple[str, float, Tuple[Any, ...]]] = {}
        self._lock = threading.Lock()
        self._stats_task: Any = None
        self._stopping = False
        self._stop = threading.Event()  # wakes the (sync) stats thread at shutdown()
        self._instrument()

    # ------------------------------------------------------------------ setup
    def _instrument(self) -> None:
        sio = self.sio
        sio.on("connect", self._admin_connect_handler(), namespace=self.admin_namespace)
        if not self.read_only:
            sio.on("emit", self.admin_emit, namespace=self.admin_namespace)
            sio.on("join", self.admin_enter_room, namespace=self.admin_namespace)
            sio.on("leave", self.admin_leave_room, namespace=self.admin_namespace)
            sio.on("_disconnect", self.admin_disconnect, namespace=self.admin_namespace)
        # every socket's connect and disconnect, whatever the namespace (python-socketio
        # patches its client manager the same way)
        on_connect = sio._on_connect
        disconnected = sio._disconnected

        def _on_connect(sid: str, nsp: str, auth: Any, handshake: Any) -> None:
            on_connect(sid, nsp, auth, handshake)
            self._socket_connected(sid, nsp)

        def _disconnected(sid: str, nsp: str, why: str, *rest: Any, **kw: Any) -> None:
            self._socket_disconnected(sid, nsp, why)
            disconnected(sid, nsp, why, *rest, **kw)

        sio._on_connect = _on_connect
        sio._disconnected = _disconnected
        self._emit = sio._emit_now  # the admin namespace's own emits (never reported)
        if self.mode == "development":
            self._report_events()

    def _report_events(self) -> None:
        """``event_received`` and ``event_sent`` (python-socketio's ALL_EVENTS feature):
        each event a socket of another namespace receives, and each one emitted to it."""
        sio = self.sio
        admin = self.admin_namespace
        emit_now = sio._emit_now
        name = "_message" if sio.is_asyncio_based() else "_on_message"
        on_message = getattr(sio, name)

        def message(sid: str, nsp: str, event: str, args: list, ack: Any) -> Any:
            if nsp != admin:
                self._emit("event_received", (nsp, sid, [event, *args], _iso(time.time())),
                           None, None, None, admin)
            return on_message(sid, nsp, event, args, ack)

        def emitted(event: str, data: Any, to: Any, room: Any, skip_sid: Any,
                    namespace: Optional[str], *rest: Any) -> None:
            emit_now(event, data, to, room, skip_sid, namespace, *rest)
            nsp = namespace or "/"
            if nsp != admin:
                self._report_sent(event, data, to if to is not None else room, skip_sid, nsp)

        setattr(sio, name, message)
        sio._emit_now = emitted

    def _report_sent(self, event: str, data: Any, target: Any, skip_sid: Any,
                     nsp: str) -> None:
        native = self.sio._live()
        if native is None:
            return
        args = [event, *data] if isinstance(data, tuple) else [event] if data is None \
            else [event, data]
        skip = set([skip_sid] if isinstance(skip_sid, str) else skip_sid or ())
        if target is None:
            sids = native.sockets(nsp, None)
        else:
            sids = []
            for room in [target] if isinstance(target, str) else list(target):
                sids.extend(native.sockets(nsp, room))
        at = _iso(time.time())
        for sid in dict.fromkeys(sids):
            if sid not in skip:
                self._emit("event_sent", (nsp, sid, args, at), None, None, None,
                           self.admin_namespace)

    def _features(self) -> List[str]:
        features = [] if self.read_only else list(_COMMANDS)
        if self.mode == "development":
            features.append("ALL_EVENTS")
        return features

    def _authenticated(self, client_auth: Any) -> Any:
        """True / False, or an awaitable of it (an async callable of ``AsyncServer``)."""
        if not self.auth:
            return True
        if isinstance(self.auth, dict):
            return client_auth == self.auth
        if isinstance(self.auth, list):
            return client_auth in self.auth
        return self.auth(client_auth)

    def _admin_connect_handler(self) -> Callable[..., Any]:
        def connect(sid: str, environ: Dict[str, Any], client_auth: Any = None) -> None:
            if not self._authenticated(client_auth):
                raise _Refused("authentication failed")
            self._welcome(sid)

        return connect

    def _welcome(self, sid: str) -> None:
        """The dashboard's configuration and, in development mode, every socket (the engine
        holds them until the dashboard's connect is accepted)."""
        self._emit("config", {"supportedFeatures": self._features()}, sid, None, None,
                           self.admin_namespace)
        if self.mode == "development":
            self._emit("all_sockets", self.all_sockets(), sid, None, None,
                               self.admin_namespace)

    # ------------------------------------------------------------------ commands
    def admin_emit(self, _: str, namespace: str, room_filter: Optional[str], event: str,
                   *data: Any) -> None:
        """``emit``: ``event`` with ``data`` to the namespace, or to a room (or socket)."""
        # through the server's emit: reported as event_sent in development mode
        self.sio._emit_now(event, tuple(data), room_filter or None, None, None, namespace)

    def _targets(self, room_filter: Optional[str]) -> List[str]:
        return [room_filter] if room_filter else []

    def admin_enter_room(self, _: str, namespace: str, room: str,
                         room_filter: Optional[str] = None) -> None:
        """``join``: the sockets of the namespace (of a room, or one socket) join ``room``."""
        native = self.sio._live()
        if native is not None:
            native.sockets_join(namespace, self._targets(room_filter), [], [room])

    def admin_leave_room(self, _: str, namespace: str, room: str,
                         room_filter: Optional[str] = None) -> None:
        """``leave``: the sockets of the namespace (of a room, or one socket) leave ``room``."""
        native = self.sio._live()
        if native is not None:
            native.sockets_leave(namespace, self._targets(room_filter), [], [room])

    def admin_disconnect(self, _: str, namespace: str, close: Any = False,
                         room_filter: Optional[str] = None) -> None:
        """``_disconnect``: disconnects the sockets of the namespace (of a room, or one
        socket); ``close`` closes their whole connections."""
        native = self.sio._live()
        if native is not None:
            native.disconnect_sockets(namespace, self._targets(room_filter), [], bool(close))

    # ------------------------------------------------------------------ sockets
    def _client_key(self, sid: str) -> Tuple[Any, ...]:
        """What names the Engine.IO connection of a socket: its handshake request's address,
        port and query (the same for every namespace the connection joined)."""
        with self._lock:
            known = self._sockets.get(sid)
        if known is not None:
            return known[2]
        environ = self.sio.get_environ(sid) or {}
        return (environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"),
                environ.get("QUERY_STRING"))

    def _socket_connected(self, sid: str, nsp: str) -> None:
        key = self._client_key(sid)
        t = time.time()
        with self._lock:
            self._sockets[sid] = (nsp, t, key)
        self._start_stats()
        if self.mode == "development":
            self._emit("socket_connected", (self.serialize_socket(sid, nsp), _iso(t)),
                               None, None, None, self.admin_namespace)

    def _socket_disconnected(self, sid: str, nsp: str, why: str) -> None:
        with self._lock:
            known = self._sockets.pop(sid, None)
        if known is not None and self.mode == "development":
            self._emit("socket_disconnected", (nsp, sid, why, _iso(time.time())),
                               None, None, None, self.admin_namespace)

    def serialize_socket(self, sid: str, namespace: str) -> Dict[str, Any]:
        """A socket as the dashboard lists it."""
        environ = self.sio.get_environ(sid) or {}
        with self._lock:
            known = self._sockets.get(sid)
        t = known[1] if known is not None else 0.0
        key = known[2] if known is not None else self._client_key(sid)
        try:
            transport = self.sio.transport(sid)
        except Exception:
            transport = "polling"
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items()
                   if k.startswith("HTTP_")}
        query = {k: v[0] if len(v) == 1 else v for k, v in urllib.parse.parse_qs(
            environ.get("QUERY_STRING", "")).items()}
        address = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for") \
            or environ.get("REMOTE_ADDR", "")
        return {
            "id": sid,
            "clientId": hashlib.sha1(repr(key).encode()).hexdigest()[:12],
            "transport": transport,
            "nsp": namespace,
            "data": {},
            "handshake": {
                "address": address,
                "headers": headers,
                "query": query,
                "secure": environ.get("wsgi.url_scheme", "") == "https",
                "url": environ.get("PATH_INFO", ""),
                "issued": t * 1000,
                "time": _iso(t) if t else "",
                "xdomain": "HTTP_ORIGIN" in environ,
            },
            "rooms": self.sio.rooms(sid, namespace),
        }

    def all_sockets(self) -> List[Dict[str, Any]]:
        """Every socket connected to this server, of every namespace."""
        native = self.sio._live()
        if native is None:
            return []
        out = []
        for nsp in self._namespaces():
            for sid in native.sockets(nsp, None):
                out.append(self.serialize_socket(sid, nsp))
        return out

    def _namespaces(self) -> List[str]:
        with self._lock:
            live = {nsp for nsp, _, _ in self._sockets.values()}
        return sorted(set(self.sio.manager.get_namespaces()) | live)

    # ------------------------------------------------------------------ stats
    def server_stats(self) -> Dict[str, Any]:
        """What ``server_stats`` carries."""
        native = self.sio._live()
        namespaces = self._namespaces()
        clients: Dict[Tuple[Any, ...], str] = {}
        for nsp in namespaces if native is not None else []:
            for sid in native.sockets(nsp, None):
                clients.setdefault(self._client_key(sid), sid)
        polling = 0
        for sid in clients.values():
            try:
                polling += self.sio.transport(sid) == "polling"
            except Exception:
                pass
        return {
            "serverId": self.server_id,
            "hostname": HOSTNAME,
            "pid": PID,
            "uptime": time.time() - self.start_time,
            "clientsCount": len(clients),
            "pollingClientsCount": polling,
            "aggregatedEvents": [],
            "namespaces": [{"name": nsp, "socketsCount": self.sio.stats(nsp)["sockets"]}
                           for nsp in namespaces],
        }

    def _emit_stats(self) -> None:
        self._emit("server_stats", self.server_stats(), None, None, None,
                           self.admin_namespace)

    def _start_stats(self) -> None:
        if self._stats_task is None and not self._stopping:
            self._stats_task = self.sio.start_background_task(self._stats_loop)

    def _stats_loop(self) -> None:
        try:
            while not self._stopping and self.sio.running:
                self._emit_stats()
                self._stop.wait(self.server_stats_interval)
        finally:
            self._stats_task = None

    def shutdown(self) -> None:
        """Stops sending ``server_stats`` (python-socketio's ``InstrumentedServer.shutdown``)."""
        self._stopping = True
        self._stop.set()
        task = self._stats_task
        if task is not None and hasattr(task, "join"):
            task.join()


class AsyncInstrumentedServer(InstrumentedServer):
    """:meth:`rtio.AsyncServer.instrument`'s: ``auth`` may be a coroutine function; the
    stats are sent by an asyncio task."""

    def _admin_connect_handler(self) -> Callable[..., Any]:
        async def connect(sid: str, environ: Dict[str, Any], client_auth: Any = None) -> None:
            ok = self._authenticated(client_auth)
            if inspect.isawaitable(ok):
                ok = await ok
            if not ok:
                raise _Refused("authentication failed")
            self._welcome(sid)

        return connect

    async def _stats_loop(self) -> None:  # type: ignore[override]
        try:
            while not self._stopping and self.sio.running:
                self._emit_stats()
                await asyncio.sleep(self.server_stats_interval)
        finally:
            self._stats_task = None

    async def shutdown(self) -> None:  # type: ignore[override]
        """Stops sending ``server_stats``."""
        self._stopping = True
        task = self._stats_task
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass


def instrument(sio: Any, **options: Any) -> InstrumentedServer:
    """``sio.instrument(**options)``: the flavour of ``sio``."""
    cls = AsyncInstrumentedServer if sio.is_asyncio_based() else InstrumentedServer
    return cls(sio, **options)
