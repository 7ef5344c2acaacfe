"""Type stubs of ``rtio._native``, rtio's native layer (internal: use ``rtio.Server`` /
``rtio.AsyncServer``)."""

from typing import Any, Callable, Dict, List, Optional, Tuple, TypedDict

__version__: str

#: Event kinds: the first item of each event tuple.
CONNECT_REQUEST: int
BROADCAST_ACK: int
FETCH_SOCKETS: int
SERVER_SIDE_EMIT: int
SERVER_SIDE_ACK: int
SERVER_COUNT: int
HTTP_RESPONSE: int
WS_ANSWER: int
WS_SEND: int
WS_CLOSE: int
CONNECT: int
MESSAGE: int
DISCONNECT: int
ACK: int
REQUEST: int
BROADCAST_ACK: int
FETCH_SOCKETS: int
SERVER_SIDE_EMIT: int
SERVER_SIDE_ACK: int
SERVER_COUNT: int
#: True once the core's connect requests carry the socket id (see docs/python.md).
CONNECT_REQUEST_HAS_SID: bool

class StoppedError(RuntimeError):
    """The server is stopped; the call did nothing."""

class RedisOptions(TypedDict):
    """The Redis adapter's (and emitter's) options, as ``rtio.RedisManager`` gives them."""

    url: str
    key: str  # the channels' prefix (the manager's ``channel``)
    sharded: bool
    requests_timeout_ms: int
    publish_on_specific_response_channel: bool
    subscription_mode: str  # "static", "dynamic" or "dynamic-private"

def check_redis(options: RedisOptions) -> None:
    """Raises ``ValueError`` for options the Redis client cannot take (connects to
    nothing)."""

class Options(TypedDict):
    host: str
    port: int
    path: str
    ping_interval_ms: int
    ping_timeout_ms: int
    connect_timeout_ms: int
    max_payload: int
    cors: str  # "none" (own origin only), "any", "list" (cors_origins), "host" (REQUEST events)
    cors_origins: List[str]
    cors_credentials: bool
    reject_other_origins: bool  # 400 "Not an accepted origin." for other origins
    websocket: bool
    polling: bool
    static_dir: Optional[str]
    client_bundle: Optional[str]
    worker_threads: int
    namespaces: List[Tuple[str, bool]]
    dynamic_namespaces: bool
    poll_mode: bool
    listen: bool  # False when mounted in the app's own server: no listener of rtio's own
    redis: Optional[RedisOptions]  # join a cluster through Redis
    cookie: Optional[CookieOptions]  # engine.io's session cookie on the polling handshake
    tls: Optional[Tuple[str, str]]  # (certificate chain, private key) PEM files: HTTPS/WSS
    allow_upgrades: bool  # offer polling clients the upgrade to WebSocket
    http_compression: Optional[int]  # gzip/deflate polling responses from this size; None: off
    recovery: Optional[Tuple[int, bool]]  # (window ms, skip middlewares); None: off
    parser: str  # "default" or "msgpack" (socket.io-msgpack-parser's format), else ValueError
    per_message_deflate: Optional[int]  # WebSocket permessage-deflate from this size; None: off
    allow_eio3: bool  # accept Engine.IO v3 clients (socket.io-client 2.x) too

class CookieOptions(TypedDict):
    name: str  # a cookie name (RFC 6265 token), else ValueError
    path: Optional[str]  # None: no Path attribute
    http_only: bool
    same_site: Optional[str]  # "Strict", "Lax" or "None"; None: no attribute

# Event tuples:
#   (CONNECT_REQUEST, request: int, nsp: str, auth: Any, opening: Opening, sid: str | None)
#   (CONNECT, sid: str, nsp: str, auth: Any, opening: Opening)
#   (MESSAGE, sid: str, nsp: str, event: str, args: list, ack: int | None)
#   (DISCONNECT, sid: str, nsp: str, reason: str, rooms: list[str])  (the rooms it left)
#   (ACK, token: int, sid: str, args: list | None)   # None: timed out, or the socket left
#   (REQUEST, request: int, pending: PendingRequest)  # answer with answer_request()
# Cluster results (exactly one per started operation, by its token; error: None when
# complete, else why not, with what came):
#   (BROADCAST_ACK, token: int, answers: list[tuple[str | None, list]], error: str | None)
#   (FETCH_SOCKETS, token: int, sockets: list[dict], error: str | None)
#       each dict: id, nsp, rooms, data (None: unset), local, auth, address, headers
#       (lower-case names), query (raw text), issued (ms)
#   (SERVER_SIDE_ACK, token: int, answers: list[list], error: str | None)
#   (SERVER_COUNT, token: int, count: int | None, error: str | None)
# The answer to a request handed over with handle_request (the host writes it):
#   (HTTP_RESPONSE, token: int, status: int, headers: list[tuple[str, str]], body: bytes)
# A WebSocket the host frames itself (open_websocket):
#   (WS_ANSWER, id: int, status: int, headers: list[tuple[str, str]], body: bytes)  101: accept
#   (WS_SEND, id: int, message: str | bytes)   send it to the client
#   (WS_CLOSE, id: int, code: int)             rtio ended it: close it with that close code
#                                              (1000 normal, 1009 too big, 1002 protocol...)
# Sent by other servers (answer with server_side_ack(ack, value) when ack is not None):
#   (SERVER_SIDE_EMIT, nsp: str, event: str, args: list, ack: int | None)
Event = Tuple[Any, ...]

class Opening:
    """The opening request of a client's connection (kept per socket by the Python side;
    immutable, shared with the core)."""

    def environ(self) -> Dict[str, Any]:
        """A new WSGI-like environ dict of that request (``REQUEST_METHOD``, ``PATH_INFO``,
        ``QUERY_STRING``, ``REMOTE_ADDR``, ``REMOTE_PORT``, ``HTTP_*`` headers...)."""
        ...

class PendingRequest:
    """An HTTP request the host is asked about (``cors="host"``): a handshake or a CORS
    preflight."""

    @property
    def origin(self) -> Optional[str]:
        """The ``Origin`` header."""
    @property
    def host(self) -> Optional[str]:
        """The ``Host`` header."""
    def environ(self) -> Dict[str, Any]:
        """A new WSGI-like environ dict of the request."""
        ...

class NativeServer:
    """A running rtio server."""

    @staticmethod
    def start(options: Options) -> NativeServer: ...
    @property
    def port(self) -> int: ...
    @property
    def host(self) -> str: ...
    def is_stopped(self) -> bool: ...
    def reload_tls(self) -> None: ...  # ValueError: unreadable files, or no TLS
    def start_dispatcher(self, callback: Callable[[Optional[List[Event]]], Optional[float]],
                         batch_max: int) -> None:
        """Starts the dispatcher thread: ``callback(events)`` with each batch of at most
        ``batch_max`` events, ``callback([])`` when the seconds it returned last passed
        without events, ``callback(None)`` once when the event stream ended."""
    def wake_fd(self) -> int: ...
    def poll(self, max: int) -> Optional[List[Event]]: ...
    def on_dispatcher(self) -> bool: ...
    def emit(self, sid: str, event: str, data: Any) -> bool: ...
    def broadcast(self, nsp: str, event: str, data: Any, to: Optional[List[str]] = None,
                  exclude: Optional[List[str]] = None, local: bool = False) -> int:
        """Every server's sockets in a cluster unless ``local``; returns this server's
        count."""
    # Cluster operations: `to` rooms or sids (all when empty) minus `exclude`; `local`: this
    # server only. Those returning a token are answered by one result event; `None`: the
    # namespace is not served (no event follows).
    def broadcast_with_ack(self, nsp: str, event: str, data: Any, to: List[str],
                           exclude: List[str], timeout: Optional[float] = None,
                           local: bool = False) -> Optional[int]: ...
    def fetch_sockets(self, nsp: str, to: List[str], exclude: List[str],
                      local: bool = False) -> Optional[int]: ...
    def sockets_join(self, nsp: str, to: List[str], exclude: List[str], rooms: List[str],
                     local: bool = False) -> None: ...
    def sockets_leave(self, nsp: str, to: List[str], exclude: List[str], rooms: List[str],
                      local: bool = False) -> None: ...
    def disconnect_sockets(self, nsp: str, to: List[str], exclude: List[str],
                           close_connection: bool, local: bool = False) -> None: ...
    def server_side_emit(self, nsp: str, event: str, data: Any,
                         timeout: Optional[float] = None) -> Optional[int]:
        """With ``timeout`` the other servers' answers are asked for (a token)."""
    def server_side_ack(self, ack: int, data: Any) -> bool: ...
    def server_count(self, nsp: str) -> Optional[int]: ...
    def set_socket_data(self, sid: str, data: Any) -> bool:
        """JSON-able data (``None`` clears it); False when the socket is not connected."""
    def emit_with_ack(self, sid: str, event: str, data: Any,
                      timeout: Optional[float] = None) -> Optional[int]:
        """``timeout=None``: awaited while the socket is connected."""
    def ack(self, sid: str, ack_id: int, data: Any) -> bool: ...
    def join_room(self, sid: str, room: str) -> bool: ...
    def leave_room(self, sid: str, room: str) -> bool: ...
    def recovered(self, sid: str) -> bool: ...
    def rooms(self, sid: str) -> List[str]: ...
    def close_room(self, nsp: str, room: str) -> None: ...
    def sockets(self, nsp: str, room: Optional[str] = None) -> List[str]: ...
    def stats(self, nsp: str) -> Tuple[int, int]: ...
    def disconnect(self, sid: str, close_connection: bool) -> bool: ...
    def accept(self, request: int) -> bool: ...
    def reject(self, request: int, message: str, data: Any) -> bool: ...
    def answer_request(self, request: int, cross_origin: bool,
                       refusal: Optional[Tuple[int, str]] = None) -> bool: ...
    def add_namespace(self, nsp: str, middleware: bool) -> None: ...
    def handle_request(self, method: str, url: str, headers: List[Tuple[str, str]],
                       body: bytes, remote_addr: Optional[Tuple[str, int]] = None,
                       secure: bool = False) -> int:
        """Hands over one request to the Engine.IO path that the host's own HTTP server
        received; returns at once with the token of the HTTP_RESPONSE event carrying the
        answer (a long-poll's comes when packets are queued). A WebSocket handshake is
        answered 400 (see adopt_websocket). ``secure``: the host's server received it over
        TLS (the session's environ then has ``wsgi.url_scheme`` ``'https'``). ValueError:
        remote_addr's host is not an IP."""
    def adopt_websocket(self, fd: int, method: str, url: str, headers: List[Tuple[str, str]],
                        early: bytes, remote_addr: Optional[Tuple[str, int]] = None,
                        secure: bool = False) -> None:
        """Takes over the connection ``fd`` whose WebSocket handshake the host's server
        read (``early``: bytes read past its head). rtio works on a duplicate of ``fd``
        (close-on-exec) and writes the answer and the WebSocket from its runtime; the
        caller keeps ``fd``, closes it without shutdown() and never reads or writes it
        again. ValueError: ``fd`` is not a connected socket."""
    def open_websocket(self, method: str, url: str, headers: List[Tuple[str, str]],
                       remote_addr: Optional[Tuple[str, int]] = None,
                       secure: bool = False) -> int:
        """Hands over a WebSocket handshake the host's server frames itself (ASGI): its
        id; WS_ANSWER, WS_SEND and WS_CLOSE events follow. ``secure``: as handle_request
        (``wss``)."""
    def websocket_receive(self, id: int, message: Any) -> bool:
        """A message (str: text, bytes: binary) the client sent; False once closed."""
    def websocket_close(self, id: int) -> bool:
        """The client went: rtio ends the session; False once closed."""
    def transport(self, sid: str) -> str: ...
    def stop(self) -> None: ...
    def join_dispatcher(self) -> None: ...

class RedisEmitter:
    """Publishes into a Socket.IO cluster without a server (``RedisManager(write_only=True)``).
    Each call blocks the calling thread (the GIL released) until Redis took the message;
    ``ConnectionError`` when Redis cannot be reached. Thread-safe."""

    def __init__(self, options: RedisOptions) -> None: ...
    def emit(self, nsp: str, to: List[str], exclude: List[str], event: str,
             data: Any) -> None: ...
    def sockets_join(self, nsp: str, to: List[str], exclude: List[str],
                     rooms: List[str]) -> None: ...
    def sockets_leave(self, nsp: str, to: List[str], exclude: List[str],
                      rooms: List[str]) -> None: ...
    def disconnect_sockets(self, nsp: str, to: List[str], exclude: List[str],
                           close_connection: bool) -> None: ...
    def server_side_emit(self, nsp: str, event: str, data: Any) -> None: ...

def encode_payload(data: Any) -> Tuple[str, List[bytes]]:
    """``data`` (python-socketio convention) as ``(json_text, attachments)``."""

def decode_payload(json: str, attachments: List[bytes]) -> List[Any]:
    """``(json_text, attachments)`` back to the list of arguments."""
