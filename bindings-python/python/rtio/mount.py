"""rtio mounted in the app's own web server: python-socketio's ``WSGIApp`` /
``Middleware``, ``ASGIApp``, ``AsyncServer.attach(aiohttp_app)`` and ``handle_request``.

The app's server parses each request to the Socket.IO path and hands it over to the core
(``NativeServer.handle_request``); the core answers it as on its own listener (sessions,
request gate, CORS, limits) and the answer comes back as an ``HTTP_RESPONSE`` event that the
waiting request takes (a WSGI thread blocks, an ASGI / aiohttp request awaits; long-polls
wait for packets as always). A WebSocket handshake goes to the core with its TCP connection
where the server exposes the socket (gunicorn's sync/gthread workers, aiohttp without TLS):
from then on the core serves that connection off the host's threads. Under ASGI (and aiohttp
over TLS) the server frames the WebSocket and passes messages (the core's message-level
WebSocket, ``open_websocket``). Under other WSGI servers the WebSocket handshake is refused and clients
stay on long-polling.

Mounted, the core runs no listener of its own: every request and connection comes through
the app's server.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import mimetypes
import os
import signal
import socket
import threading
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Tuple, Union

# Headers a WSGI app may not set (PEP 3333) and that the host's server writes itself.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                         "te", "trailers", "transfer-encoding", "upgrade", "content-length"})

Headers = List[Tuple[str, str]]
Answer = Tuple[int, Headers, bytes]


def _prefix(socketio_path: str) -> str:
    """``'socket.io'`` -> ``'/socket.io'`` (the core's path option)."""
    path = socketio_path.strip("/")
    if not path:
        raise ValueError("socketio_path must not be empty")
    return "/" + path


def _on_path(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def remote_of(host: Any, port: Any) -> Optional[Tuple[str, int]]:
    """``(ip, port)`` for the core, or ``None`` when the server gave no IP address (a unix
    socket, a proxy that hides it)."""
    if not host:
        return None
    try:
        ip = str(ipaddress.ip_address(str(host).split("%")[0]))
        return ip, int(port or 0)
    except ValueError:
        return None


def environ_headers(environ: Dict[str, Any]) -> Headers:
    """The request's headers from a WSGI environ (``HTTP_X_Y`` -> ``x-y``)."""
    headers: Headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), str(value)))
    return headers


def _body_limit(server: Any) -> int:
    """How much of a request body to read: one byte past ``max_http_buffer_size``."""
    return int(server._options["max_payload"]) + 1


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _is_upgrade(headers: Iterable[Tuple[str, str]]) -> bool:
    return any(n.lower() == "upgrade" and v.strip().lower() == "websocket" for n, v in headers)


# ---------------------------------------------------------------- static files
def _static_match(static_files: Optional[Dict[str, Any]], path: str) -> Optional[Dict[str, str]]:
    """python-engineio's ``static_files`` rules: ``{'/': 'index.html'}`` (a file),
    ``{'/static': 'public'}`` (a directory), ``{'/x': {'filename': f, 'content_type': t}}``;
    a directory's ``/`` serves ``index.html``. The longest matching prefix wins."""
    if not static_files:
        return None
    for key in sorted(static_files, key=len, reverse=True):
        if path != key and not path.startswith(key.rstrip("/") + "/"):
            continue
        rule = static_files[key]
        if isinstance(rule, dict):
            filename = rule["filename"]
            ctype = rule.get("content_type")
        else:
            filename = os.fspath(rule)
            ctype = None
        rest = path[len(key.rstrip("/")):].lstrip("/")
        if os.path.isdir(filename):
            base = os.path.realpath(filename)
            filename = os.path.realpath(os.path.join(base, rest or "index.html"))
            if os.path.isdir(filename):
                filename = os.path.join(filename, "index.html")
            if not filename.startswith(base + os.sep):
                return None  # `..` out of the directory
        elif rest:
            continue
        if not os.path.isfile(filename):
            return None
        ctype = ctype or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return {"filename": filename, "content_type": ctype}
    return None


def _static_answer(static_files: Optional[Dict[str, Any]], path: str) -> Optional[Answer]:
    match = _static_match(static_files, path)
    if match is None:
        return None
    with open(match["filename"], "rb") as f:
        body = f.read()
    return 200, [("Content-Type", match["content_type"])], body


#: The client bundles socket.io serves beside ``socket.io.js``: the siblings of the
#: ``client_bundle=`` file in socket.io-client's ``dist/`` (as rtio's own listener does).
_BUNDLE_SIBLINGS = frozenset({
    "socket.io.min.js", "socket.io.esm.min.js", "socket.io.msgpack.min.js",
    "socket.io.js.map", "socket.io.min.js.map", "socket.io.esm.min.js.map",
    "socket.io.msgpack.min.js.map",
})


def _bundle_answer(server: Any, path: str, prefix: str) -> Optional[Answer]:
    """``<socketio_path>/socket.io.js`` when the server has rtio's ``client_bundle=``, and
    the other bundles socket.io serves (minified, ESM, msgpack for ``serializer='msgpack'``,
    their source maps) from the same directory, as rtio's own listener serves them."""
    bundle = server._options.get("client_bundle")
    if bundle is None or not path.startswith(prefix + "/"):
        return None
    name = path[len(prefix) + 1:]
    if name == "socket.io.js":
        file = bundle
    elif name in _BUNDLE_SIBLINGS:
        file = os.path.join(os.path.dirname(bundle), name)
    else:
        return None
    try:
        with open(file, "rb") as f:
            body = f.read()
    except OSError:
        return _NOT_FOUND
    kind = "application/json" if name.endswith(".map") \
        else "application/javascript; charset=utf-8"
    return 200, [("Content-Type", kind), ("Cache-Control", "public, max-age=0")], body


_NOT_FOUND: Answer = (404, [("Content-Type", "text/plain")], b"Not Found")
#: The answer while rtio is stopped (or stops while a long-poll waits): the client's
#: transport fails, which it takes for a disconnect.
STOPPED: Answer = (503, [("Content-Type", "text/plain")], b"Socket.IO server stopped")


# ---------------------------------------------------------------- WSGI
def _disarm(sock: socket.socket) -> None:
    """Points the server's socket object at a fresh unconnected socket, once rtio holds
    its own duplicate of the connection: whatever the server does with it afterwards
    (gunicorn shuts a closing connection down and drains it, RFC 9112 9.6) then cannot
    touch the connection rtio serves. dup2 swaps the descriptor atomically."""
    dummy = socket.socket(sock.family, socket.SOCK_STREAM)
    try:
        os.dup2(dummy.fileno(), sock.fileno())
    finally:
        dummy.close()


def wsgi_handle(server: Any, environ: Dict[str, Any], start_response: Callable[..., Any],
                prefix: Optional[str] = None) -> List[bytes]:
    """``rtio.Server.handle_request(environ, start_response)``: one WSGI request to the
    Socket.IO path."""
    server._mount(prefix)
    native = server._native_or_raise()
    method = environ.get("REQUEST_METHOD", "GET")
    secure = environ.get("wsgi.url_scheme") == "https"
    query = environ.get("QUERY_STRING", "")
    url = (environ.get("PATH_INFO") or "/") + ("?" + query if query else "")
    headers = environ_headers(environ)
    remote = remote_of(environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT"))
    server._remember_opening(remote, query, environ)
    if method == "GET" and _is_upgrade(headers):
        sock = environ.get("gunicorn.socket")
        if sock is not None and not secure:
            native.adopt_websocket(sock.fileno(), method, url, headers, b"", remote)
            _disarm(sock)
            # gunicorn writes nothing when the app raises StopIteration (flask-sock's way
            # out too), and closes its socket.
            raise StopIteration()
        # No raw socket here: the core answers 400 and the client stays on long-polling.
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    # Past the limit one byte is enough for the core to answer 413 and end the session.
    length = min(length, _body_limit(server))
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    status, answer_headers, answer = server._http(method, url, headers, body, remote, secure)
    out = [(n, v) for n, v in answer_headers if n.lower() not in _HOP_BY_HOP]
    out.append(("Content-Length", str(len(answer))))
    start_response(_status_line(status), out)
    return [answer]


class WSGIApp:
    """python-socketio's WSGI app: requests to ``/<socketio_path>/`` go to rtio, requests
    matching ``static_files`` are served from disk, everything else goes to ``wsgi_app`` (a
    404 without one)::

        app = Flask(__name__)
        sio = rtio.Server()
        app.wsgi_app = rtio.WSGIApp(sio, app.wsgi_app)
        # gunicorn -k gthread --threads 100 -w 1 app:app

    Long-polling works under any WSGI server (a long-poll holds one of its threads while it
    waits, as with python-socketio's threading mode: give the server enough threads). The
    WebSocket transport needs the raw socket: under gunicorn's sync and gthread workers
    (``environ['gunicorn.socket']``, plain HTTP) rtio takes the connection over and serves
    it on its own runtime; under other servers the WebSocket handshake is answered 400 and
    clients keep long-polling. Run one worker process (``-w 1``), or sticky sessions, as
    python-socketio needs. rtio starts on the first request (in the worker process, after
    any fork); after :meth:`rtio.Server.shutdown` its path answers 503 until
    :meth:`rtio.Server.start`. Under gunicorn, :func:`gunicorn_post_worker_init` makes the
    worker's stop give every client its disconnect.
    """

    def __init__(self, socketio_app: Any, wsgi_app: Optional[Callable[..., Any]] = None,
                 static_files: Optional[Dict[str, Any]] = None,
                 socketio_path: str = "socket.io") -> None:
        self.engineio_app = socketio_app
        self.socketio_app = socketio_app
        self.wsgi_app = wsgi_app
        self.static_files = static_files or {}
        self.socketio_path = socketio_path.strip("/")
        self._prefix = _prefix(socketio_path)
        socketio_app._mount(self._prefix, start=False)

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO") or "/"
        bundle = _bundle_answer(self.socketio_app, path, self._prefix)
        if bundle is not None:
            status, headers, body = bundle
            start_response(_status_line(status),
                           headers + [("Content-Length", str(len(body)))])
            return [body]
        if _on_path(path, self._prefix):
            return wsgi_handle(self.socketio_app, environ, start_response, self._prefix)
        static = _static_answer(self.static_files, path)
        if static is None and self.wsgi_app is not None:
            return self.wsgi_app(environ, start_response)
        status, headers, body = static or _NOT_FOUND
        start_response(_status_line(status), headers + [("Content-Length", str(len(body)))])
        return [body]


def gunicorn_post_worker_init(worker: Any) -> None:
    """A gunicorn ``post_worker_init`` hook that stops rtio gracefully with the worker::

        # gunicorn.conf.py
        from rtio import gunicorn_post_worker_init as post_worker_init

    On its own, a stopping gunicorn worker (SIGTERM, or SIGINT / SIGQUIT) stops taking
    requests, waits up to ``graceful_timeout`` for those in flight — long-polls wait for
    packets, so they run out the clock — and ends: polling clients see a transport error
    instead of a disconnect. With this hook, the worker's stop signals first stop every
    :class:`rtio.Server` of the process (on a thread of its own; the signal handler
    returns at once): every client gets its disconnect, pending long-polls are answered,
    and a polling client's next request still reaches the stopping rtio through the
    worker, which keeps serving meanwhile (about a second at most). Then the worker ends
    as gunicorn's graceful stop does. Runs in the worker process; a second signal while
    rtio stops changes nothing.
    """
    from . import _base
    from .server import Server

    stopping = threading.Lock()

    def stop(_signum: int, _frame: Any) -> None:
        if not stopping.acquire(blocking=False):
            return

        def run() -> None:
            try:
                for server in list(_base._running):
                    if isinstance(server, Server):
                        server.shutdown()
            finally:
                worker.alive = False

        threading.Thread(target=run, name="rtio-gunicorn-stop", daemon=True).start()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, stop)


class Middleware(WSGIApp):
    """python-socketio's ``Middleware``: :class:`WSGIApp` with the wrapped app first."""

    def __init__(self, socketio_app: Any, wsgi_app: Optional[Callable[..., Any]] = None,
                 socketio_path: str = "socket.io") -> None:
        super().__init__(socketio_app, wsgi_app, socketio_path=socketio_path)


# ---------------------------------------------------------------- ASGI
async def _asgi_body(receive: Callable[[], Awaitable[Dict[str, Any]]],
                     limit: Optional[int] = None) -> Optional[bytes]:
    """The request body (at most ``limit`` bytes of it), or ``None`` when the client went
    away."""
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body") or (limit is not None and size >= limit):
            return b"".join(chunks)[:limit]


async def _asgi_send(send: Callable[[Dict[str, Any]], Awaitable[None]], answer: Answer) -> None:
    status, headers, body = answer
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers
           if n.lower() not in _HOP_BY_HOP]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def asgi_handle(server: Any, scope: Dict[str, Any], receive: Any, send: Any,
                      prefix: Optional[str] = None) -> None:
    """``await rtio.AsyncServer.handle_request(scope, receive, send)``: one ASGI request
    (or WebSocket) to the Socket.IO path."""
    await server._mount_async(prefix)
    server._remember_opening(*_remote_and_query(scope), {
        "asgi.scope": scope, "asgi.receive": receive, "asgi.send": send})
    if scope["type"] == "websocket":
        await _asgi_websocket(server, scope, receive, send)
        return
    url, headers, remote = _scope_request(scope)
    body = await _asgi_body(receive, _body_limit(server))
    if body is None:
        return
    answer = await server._http(scope.get("method", "GET"), url, headers, body, remote,
                                asgi_secure(scope))
    await _asgi_send(send, answer)


def asgi_secure(scope: Dict[str, Any]) -> bool:
    """The ASGI server received the request over TLS (``https`` / ``wss``)."""
    return scope.get("scheme") in ("https", "wss")


def _remote_and_query(scope: Dict[str, Any]) -> Tuple[Optional[Tuple[str, int]], str]:
    client = scope.get("client")
    remote = remote_of(client[0], client[1]) if client else None
    return remote, scope.get("query_string", b"").decode("latin-1")


def _scope_request(scope: Dict[str, Any]) -> Tuple[str, Headers, Optional[Tuple[str, int]]]:
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
    query = scope.get("query_string", b"").decode("latin-1")
    url = path + ("?" + query if query else "")
    headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in scope.get("headers", [])]
    client = scope.get("client")
    remote = remote_of(client[0], client[1]) if client else None
    return url, headers, remote


async def _asgi_refuse(scope: Dict[str, Any], send: Any, status: int, headers: Headers,
                       body: bytes) -> None:
    """Refuses a WebSocket handshake with an HTTP answer (rtio's 400 with its JSON body, as
    on its own listener) where the ASGI server can send one, else closes it (1008)."""
    if "websocket.http.response" not in (scope.get("extensions") or {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.http.response.start", "status": status,
                "headers": [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers
                            if n.lower() not in _HOP_BY_HOP]})
    await send({"type": "websocket.http.response.body", "body": body})


async def _asgi_websocket(server: Any, scope: Dict[str, Any], receive: Any, send: Any) -> None:
    """A WebSocket the ASGI server frames: rtio answers the handshake and exchanges
    messages through the core's message-level WebSocket (``open_websocket``)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    url, headers, remote = _scope_request(scope)
    native = server._native_or_raise()
    # The handshake an ASGI server passes on has no Upgrade headers of its own in every
    # server (and rtio checks them): give the core the handshake as the client sent it.
    names = {n.lower() for n, _ in headers}
    if "upgrade" not in names:
        headers.append(("upgrade", "websocket"))
    if "connection" not in names:
        headers.append(("connection", "Upgrade"))
    # (a client's Sec-WebSocket-Key and -Version the server passed on are checked by the
    # core, which fills them in when the server kept them to itself)
    ws_id, inbox = server._open_websocket(native, url, headers, remote, asgi_secure(scope))
    try:
        answer = await inbox.get()
        if answer[0] != "answer" or answer[1] != 101:
            if answer[0] == "answer":
                _, status, refusal_headers, body = answer
                await _asgi_refuse(scope, send, status, refusal_headers, body)
            else:
                await send({"type": "websocket.close", "code": 1008})
            return
        await send({"type": "websocket.accept"})

        async def to_client() -> None:
            try:
                while True:
                    item = await inbox.get()
                    if item[0] == "send":
                        data = item[1]
                        if isinstance(data, str):
                            await send({"type": "websocket.send", "text": data})
                        else:
                            await send({"type": "websocket.send", "bytes": bytes(data)})
                    elif item[0] == "close":
                        # rtio's close code: 1009 for a message over max_http_buffer_size,
                        # 1002 for a protocol error... as on its own listener
                        await send({"type": "websocket.close", "code": item[1]})
                        return
            except (OSError, RuntimeError):
                # The client went meanwhile (uvicorn: ClientDisconnected, an OSError; others
                # refuse a send after the close with RuntimeError): the reader sees it too.
                return

        writer = asyncio.ensure_future(to_client())
        try:
            while not writer.done():
                received = asyncio.ensure_future(receive())
                await asyncio.wait({received, writer}, return_when=asyncio.FIRST_COMPLETED)
                if not received.done():
                    received.cancel()
                    break
                message = received.result()
                if message["type"] == "websocket.receive":
                    text = message.get("text")
                    data: Union[str, bytes] = text if text is not None \
                        else message.get("bytes") or b""
                    native.websocket_receive(ws_id, data)
                elif message["type"] == "websocket.disconnect":
                    break
        finally:
            if not writer.done():
                writer.cancel()
    finally:
        server._close_websocket(native, ws_id)


class ASGIApp:
    """python-socketio's ASGI app, for uvicorn / hypercorn, FastAPI, Starlette, Django::

        sio = rtio.AsyncServer(async_mode='asgi')
        app = rtio.ASGIApp(sio, fastapi_app)
        # uvicorn app:app

    Requests to ``/<socketio_path>/`` go to rtio, ``static_files`` are served from disk,
    everything else (and the lifespan events) goes to ``other_asgi_app``. rtio starts at the
    lifespan startup (or the first request) on the server's event loop and stops at the
    lifespan shutdown; ``on_startup`` / ``on_shutdown`` (sync or async callables) run then.
    After a shutdown the Socket.IO path answers 503 until the next lifespan startup.
    WebSockets are framed by the ASGI server and their messages exchanged with rtio's core
    (the Engine.IO and Socket.IO work stays in the core): their permessage-deflate is the
    ASGI server's setting, and a server made with ``websocket_compression=True`` is refused
    here (``ValueError``).
    """

    def __init__(self, socketio_server: Any, other_asgi_app: Any = None,
                 static_files: Optional[Dict[str, Any]] = None,
                 socketio_path: str = "socket.io",
                 on_startup: Optional[Callable[[], Any]] = None,
                 on_shutdown: Optional[Callable[[], Any]] = None) -> None:
        self.engineio_server = socketio_server
        self.other_asgi_app = other_asgi_app
        self.static_files = static_files or {}
        self.engineio_path = socketio_path.strip("/")
        self.on_startup = on_startup
        self.on_shutdown = on_shutdown
        if socketio_server._options.get("per_message_deflate") is not None:
            raise ValueError("websocket_compression is for rtio's own listener and the "
                             "connections it takes over (gunicorn, aiohttp); under ASGI the "
                             "server frames WebSocket and its own setting decides (uvicorn: "
                             "--ws-per-message-deflate). Leave websocket_compression unset")
        self._prefix = _prefix(socketio_path)
        socketio_server._mount(self._prefix, start=False)

    async def __call__(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        path = scope.get("path", "/")
        bundle = _bundle_answer(self.engineio_server, path, self._prefix) \
            if kind == "http" else None
        if bundle is not None:
            await _asgi_body(receive)
            await _asgi_send(send, bundle)
            return
        if kind in ("http", "websocket") and _on_path(path, self._prefix):
            await asgi_handle(self.engineio_server, scope, receive, send, self._prefix)
            return
        static = _static_answer(self.static_files, path) if kind == "http" else None
        if static is not None:
            await _asgi_body(receive)
            await _asgi_send(send, static)
        elif self.other_asgi_app is not None:
            await self.other_asgi_app(scope, receive, send)
        elif kind == "http":
            await _asgi_body(receive)
            await _asgi_send(send, _NOT_FOUND)
        elif kind == "websocket":
            await receive()
            await send({"type": "websocket.close", "code": 1000})

    async def _startup(self) -> None:
        await self.engineio_server._mount_async(self._prefix, restart=True)
        await _call(self.on_startup)

    async def _shutdown(self) -> None:
        try:
            await _call(self.on_shutdown)
        finally:
            await self.engineio_server.shutdown()

    async def _lifespan(self, scope: Dict[str, Any], receive: Any, send: Any) -> None:
        if self.other_asgi_app is not None:
            async def receive_and_act() -> Dict[str, Any]:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await self._startup()
                elif message["type"] == "lifespan.shutdown":
                    await self._shutdown()
                return message
            await self.other_asgi_app(scope, receive_and_act, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._startup()
                except Exception as exc:  # noqa: BLE001 - reported to the ASGI server
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self._shutdown()
                except Exception as exc:  # noqa: BLE001
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _call(hook: Optional[Callable[[], Any]]) -> None:
    if hook is None:
        return
    result = hook()
    if asyncio.iscoroutine(result):
        await result


# ---------------------------------------------------------------- aiohttp
async def aiohttp_handle(server: Any, request: Any, prefix: Optional[str] = None) -> Any:
    """``await rtio.AsyncServer.handle_request(request)`` for aiohttp: the response."""
    from aiohttp import web

    await server._mount_async(prefix)
    native = server._native_or_raise()
    url = request.raw_path
    headers = list(request.headers.items())
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    remote = remote_of(peer[0], peer[1]) if isinstance(peer, tuple) and len(peer) >= 2 \
        else None
    server._remember_opening(remote, url.partition("?")[2], {"aiohttp.request": request})
    if request.method == "GET" and _is_upgrade(headers) and transport is not None \
            and transport.get_extra_info("sslcontext") is not None:
        # aiohttp terminates TLS: it frames the WebSocket, rtio gets its messages
        return await _aiohttp_websocket(server, request, native, url, headers, remote)
    if request.method == "GET" and _is_upgrade(headers) and transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            native.adopt_websocket(sock.fileno(), request.method, url, headers, b"", remote)
            # rtio owns a duplicate of the connection now: drop aiohttp's copy. asyncio's
            # abort() stops reading and closes the fd without shutdown(), which leaves the
            # connection open for rtio; aiohttp then writes nothing (see _Adopted).
            transport.abort()
            return _Adopted()
    # Read past aiohttp's client_max_size: the core's max_http_buffer_size decides (413).
    limit = _body_limit(server)
    chunks = []
    size = 0
    while size < limit:
        chunk = await request.content.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    status, answer_headers, answer = await server._http(
        request.method, url, headers, body, remote, request.secure)
    response = web.Response(status=status, body=answer)
    for name, value in answer_headers:
        if name.lower() not in _HOP_BY_HOP:
            response.headers.add(name, value)
    return response


async def _aiohttp_websocket(server: Any, request: Any, native: Any, url: str,
                             headers: Headers, remote: Optional[Tuple[str, int]]) -> Any:
    """A WebSocket aiohttp frames (over its TLS): the core answers the handshake and
    exchanges messages through its message-level WebSocket, as under ASGI; aiohttp closes
    it with the core's close code."""
    from aiohttp import WSMsgType, web

    def refusal(status: int, answer_headers: Headers, body: bytes) -> Any:
        response = web.Response(status=status, body=body)
        for name, value in answer_headers:
            if name.lower() not in _HOP_BY_HOP:
                response.headers.add(name, value)
        return response

    ws_id, inbox = server._open_websocket(native, url, headers, remote, True)
    try:
        answer = await inbox.get()
        if answer[0] != "answer":
            return refusal(502, [], b"")
        if answer[1] != 101:
            return refusal(*answer[1:])
        # One byte past the limit reaches the core, which closes with 1009 as on its own
        # listener; aiohttp's own limit (1009 too) stops anything larger before it buffers.
        # permessage-deflate as websocket_compression says (aiohttp compresses every
        # message: the threshold is not aiohttp's).
        ws = web.WebSocketResponse(
            max_msg_size=_body_limit(server),
            compress=server._options.get("per_message_deflate") is not None)
        await ws.prepare(request)

        async def to_client() -> None:
            try:
                while True:
                    item = await inbox.get()
                    if item[0] == "send":
                        data = item[1]
                        if isinstance(data, str):
                            await ws.send_str(data)
                        else:
                            await ws.send_bytes(bytes(data))
                    elif item[0] == "close":
                        await ws.close(code=item[1])
                        return
            except (OSError, RuntimeError):
                # the client went meanwhile (aiohttp refuses a send after the close)
                return

        writer = asyncio.ensure_future(to_client())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    native.websocket_receive(ws_id, message.data)
                elif message.type == WSMsgType.BINARY:
                    native.websocket_receive(ws_id, bytes(message.data))
                else:
                    break
        finally:
            if not writer.done():
                writer.cancel()
        return ws
    finally:
        server._close_websocket(native, ws_id)


def _adopted_class() -> Any:
    from aiohttp import web

    class Adopted(web.StreamResponse):
        """The answer to a WebSocket handshake rtio took over: aiohttp must not write."""

        async def prepare(self, request: Any) -> Any:
            return None

        async def write_eof(self, data: bytes = b"") -> None:
            return None

    return Adopted


_adopted: Any = None


def _Adopted() -> Any:  # noqa: N802 - reads as the class it makes
    global _adopted
    if _adopted is None:
        _adopted = _adopted_class()
    return _adopted()


def aiohttp_attach(server: Any, app: Any, socketio_path: str = "socket.io") -> None:
    """``AsyncServer.attach(aiohttp_app)``: the Socket.IO path's routes on the app, rtio
    started with the app and stopped at its cleanup."""
    prefix = _prefix(socketio_path)
    server._mount(prefix, start=False)

    async def handler(request: Any) -> Any:
        bundle = _bundle_answer(server, request.path, prefix)
        if bundle is not None:
            from aiohttp import web
            status, headers, body = bundle
            return web.Response(status=status, body=body, headers=dict(headers))
        return await aiohttp_handle(server, request, prefix)

    app.router.add_route("*", prefix + "/", handler)
    app.router.add_route("GET", prefix + "/socket.io.js", handler)

    async def on_startup(_app: Any) -> None:
        await server._mount_async(prefix, restart=True)

    async def on_shutdown(_app: Any) -> None:
        # At the app's shutdown, before aiohttp waits for the requests in flight: rtio's
        # end answers the long-polls and closes the WebSockets (clients see a disconnect).
        await server.shutdown()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)


Mountable = Union[WSGIApp, ASGIApp]
