"""``rtio.AsyncServer``: python-socketio's ``socketio.AsyncServer`` API on rtio's engine."""

from __future__ import annotations

import asyncio
import functools
import inspect
import signal
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Tuple, Union

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
WS_ANSWER = _native.WS_ANSWER
WS_SEND = _native.WS_SEND
WS_CLOSE = _native.WS_CLOSE

_BATCH = 256
#: Seconds ``shutdown()`` waits for running handlers to end.
_SHUTDOWN_WAIT_S = 10.0


class AsyncServer(BaseServer):
    """A Socket.IO server with python-socketio's ``socketio.AsyncServer`` API, served by
    rtio, for asyncio applications.

    Events reach the event loop that called :meth:`serve` / :meth:`start` through a wake-up
    file descriptor (no extra Python thread); handlers may be ``async def`` or plain
    functions. As in python-socketio, a client's ``connect`` handler runs before its other
    handlers and its ``disconnect`` handler after them; with ``async_handlers=True`` (the
    default) each event runs as its own task, started in arrival order; with
    ``async_handlers=False`` a client's handlers run one after another (other clients'
    meanwhile). ``emit``, ``call``, ``enter_room``... are coroutines, as in
    python-socketio. Options: see :class:`rtio.Server` (``async_mode`` may only be left
    unset: rtio serves HTTP itself, on the running event loop; ``handler_threads`` does not
    apply).

    Example::

        sio = rtio.AsyncServer(cors_allowed_origins='*')

        @sio.event
        async def chat(sid, data):
            await sio.emit('chat', data, skip_sid=sid)

        asyncio.run(sio.serve(port=3000))
    """

    _asyncio = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._done: Optional[asyncio.Future] = None
        self._tasks: Set[asyncio.Task] = set()
        # Host-framed WebSockets (ASGI): id -> what rtio has for it (answer, messages, end).
        self._websockets: Dict[int, "asyncio.Queue[Tuple[Any, ...]]"] = {}

    def _check_async_mode(self, async_mode: Optional[str]) -> None:
        # 'aiohttp' (attach) and 'asgi' (rtio.ASGIApp) mount rtio in the app's server;
        # unset: rtio serves HTTP itself. Both work either way: the mode only names it.
        if async_mode not in (None, "aiohttp", "asgi"):
            raise NotImplementedError(
                f"rtio: async_mode={async_mode!r} is not supported: rtio.AsyncServer serves "
                "HTTP itself, or mounts in an aiohttp app (async_mode='aiohttp', attach) or "
                "an ASGI server (async_mode='asgi', rtio.ASGIApp) (see docs/python.md)")
        self.async_mode = async_mode or "asgi"

    # ---------------------------------------------------------------- serving
    async def start(self, port: Optional[int] = None, host: Optional[str] = None, *,
                    ssl_certfile: Optional[StrPath] = None,
                    ssl_keyfile: Optional[StrPath] = None) -> int:
        """Starts serving on the running event loop and returns the bound port (``port=0``
        picks a free one). Raises ``OSError`` when the address cannot be bound.

        ``ssl_certfile`` and ``ssl_keyfile`` (uvicorn's names; PEM files: the certificate
        chain, leaf first, and its private key) serve HTTPS and WSS only;
        :meth:`reload_tls` reads them again. ``ValueError`` names a file that cannot be used.
        """
        loop = asyncio.get_running_loop()
        bound = self._start_native(host, port, poll_mode=True,
                                   ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        native = self._native_or_raise()
        self._loop = loop
        self._done = loop.create_future()
        loop.add_reader(native.wake_fd(), self._on_readable, native)
        return bound

    async def serve(self, port: Optional[int] = None, host: Optional[str] = None, *,
                    ssl_certfile: Optional[StrPath] = None,
                    ssl_keyfile: Optional[StrPath] = None) -> None:
        """Serves until :meth:`shutdown`, SIGTERM, or cancellation (Ctrl-C under
        ``asyncio.run``), then stops cleanly. Starts the server unless :meth:`start`
        already did (``ssl_certfile`` / ``ssl_keyfile`` as there)::

            asyncio.run(sio.serve(port=3000))
        """
        if not self.running:
            await self.start(port=port, host=host, ssl_certfile=ssl_certfile,
                             ssl_keyfile=ssl_keyfile)
        loop = asyncio.get_running_loop()
        sigterm = False
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            try:
                loop.add_signal_handler(signal.SIGTERM, self._request_shutdown)
                sigterm = True
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass
        try:
            await self.wait()
        finally:
            if sigterm:
                loop.remove_signal_handler(signal.SIGTERM)
            await self.shutdown()

    def run(self, port: Optional[int] = None, host: Optional[str] = None, *,
            ssl_certfile: Optional[StrPath] = None,
            ssl_keyfile: Optional[StrPath] = None) -> None:
        """``asyncio.run(self.serve(port, host, ...))``, returning cleanly on Ctrl-C."""
        try:
            asyncio.run(self.serve(port=port, host=host, ssl_certfile=ssl_certfile,
                                   ssl_keyfile=ssl_keyfile))
        except KeyboardInterrupt:
            pass

    async def wait(self) -> None:
        """Waits until the server stopped."""
        if self._done is not None:
            await asyncio.shield(self._done)

    def _request_shutdown(self) -> None:
        if self._loop is not None:
            self._loop.create_task(self.shutdown())

    async def shutdown(self) -> None:
        """Stops the server: every client gets a disconnect and the ``disconnect`` handlers
        run. Safe to call more than once; the server may be started again afterwards."""
        native = self._native
        if native is None:
            return
        if self._mounted:
            # Mounted in an app: the core's stop waits for the clients to get their
            # disconnect, which goes through requests this loop answers (long-polls,
            # host-framed WebSockets): the loop keeps running meanwhile.
            await asyncio.get_running_loop().run_in_executor(None, self._stop_native)
        else:
            self._stop_native()
        # The last events (the disconnects) are still queued: deliver them now.
        self._on_readable(native)
        self._disconnect_remaining()
        self._fail_futures()
        # Handlers end (a lane's next job starts as a new task when one ends).
        current = asyncio.current_task()
        deadline = time.monotonic() + _SHUTDOWN_WAIT_S
        while True:
            pending = [t for t in self._tasks if not t.done() and t is not current]
            left = deadline - time.monotonic()
            if not pending or left <= 0:
                break
            await asyncio.wait(pending, timeout=left)
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _fail_futures(self) -> None:
        pending = list(self._acks.values())
        self._acks.clear()
        for entry in pending:
            if isinstance(entry, asyncio.Future) and not entry.done():
                entry.set_exception(exceptions.StoppedError("the server stopped"))

    # ---------------------------------------------------------------- mounted in an app
    def attach(self, app: Any, socketio_path: str = "socket.io") -> None:
        """Mounts rtio in an aiohttp ``web.Application`` (python-socketio's
        ``attach`` with ``async_mode='aiohttp'``): the Socket.IO path's routes are added to
        ``app``; rtio starts with the app and stops at its shutdown. WebSocket connections
        over plain HTTP are taken over by rtio's runtime; over aiohttp's TLS aiohttp frames
        them and rtio's core exchanges their messages (as under ASGI); long-polling
        requests are answered through aiohttp."""
        mount.aiohttp_attach(self, app, socketio_path)

    async def handle_request(self, *args: Any) -> Any:
        """Answers one request to the Socket.IO path, as python-socketio's: ``await
        sio.handle_request(request)`` (aiohttp; returns the response) or ``await
        sio.handle_request(scope, receive, send)`` (ASGI). Starts rtio on the first
        call."""
        if len(args) == 1:
            return await mount.aiohttp_handle(self, args[0])
        if len(args) == 3:
            return await mount.asgi_handle(self, *args)
        raise TypeError("handle_request(request) (aiohttp) or handle_request(scope, receive, "
                        "send) (ASGI)")

    def _mount(self, prefix: Optional[str] = None, start: bool = False) -> None:
        self._mount_path(prefix)

    async def _mount_async(self, prefix: Optional[str] = None, restart: bool = False) -> None:
        """Starts rtio for a mounting app: on its first request, or (``restart``) at the
        app's startup (ASGI lifespan, aiohttp's on_startup) after a shutdown too."""
        self._mount_path(prefix)
        # A request starts rtio only the first time: one that comes while shutdown() drains
        # must reach the stopping server (its client collects its disconnect there), and one
        # after it gets 503 until the app starts again or start() is called.
        if self._native is None or (restart and not self.running):
            # (host and port unused: mounted, rtio runs no listener of its own)
            await self.start(port=0, host="127.0.0.1")

    def _open_websocket(self, native: "_native.NativeServer", url: str,
                        headers: List[Tuple[str, str]], remote: Optional[Tuple[str, int]],
                        secure: bool = False
                        ) -> Tuple[int, "asyncio.Queue[Tuple[Any, ...]]"]:
        # Filed before the loop runs again, so no event for it can come first.
        ws_id = native.open_websocket("GET", url, headers, remote, secure)
        inbox: "asyncio.Queue[Tuple[Any, ...]]" = asyncio.Queue()
        self._websockets[ws_id] = inbox
        return ws_id, inbox

    def _close_websocket(self, native: "_native.NativeServer", ws_id: int) -> None:
        if self._websockets.pop(ws_id, None) is not None and not native.is_stopped():
            try:
                native.websocket_close(ws_id)
            except exceptions.StoppedError:
                pass

    async def _http(self, method: str, url: str, headers: List[Tuple[str, str]], body: bytes,
                    remote: Optional[Tuple[str, int]], secure: bool = False
                    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        """Hands a request to the core and awaits its answer (``secure``: the app's server
        received it over TLS)."""
        fut = asyncio.get_running_loop().create_future()
        if not self._hand_over(method, url, headers, body, remote, secure, fut):
            return mount.STOPPED
        try:
            status, answer_headers, answer = await fut
        except exceptions.StoppedError:  # rtio is stopped, or stopped meanwhile
            return mount.STOPPED
        return status, answer_headers, answer

    # ---------------------------------------------------------------- emitting
    async def emit(self, event: str, data: Any = None, to: Target = None, room: Target = None,
                   skip_sid: Target = None, namespace: Optional[str] = None,
                   callback: Optional[Callable[..., Any]] = None,
                   ignore_queue: bool = False) -> None:
        """Emits an event (see :meth:`rtio.Server.emit`, ``ignore_queue`` included).
        ``callback`` may be a coroutine function; it is kept until the client answers or
        leaves (or ``ack_timeout``)."""
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        if callback is None:
            self._emit_now(event, data, to, room, skip_sid, namespace, ignore_queue)
            return
        self._emit_with_callback(event, data, to, room, skip_sid, namespace, callback,
                                 ignore_queue)

    async def send(self, data: Any, to: Target = None, room: Target = None,
                   skip_sid: Target = None, namespace: Optional[str] = None,
                   callback: Optional[Callable[..., Any]] = None,
                   ignore_queue: bool = False) -> None:
        """Emits a ``'message'`` event."""
        await self.emit("message", data, to=to, room=room, skip_sid=skip_sid,
                        namespace=namespace, callback=callback, ignore_queue=ignore_queue)

    async def call(self, event: str, data: Any = None, to: Optional[str] = None,
                   sid: Optional[str] = None, namespace: Optional[str] = None,
                   timeout: float = 60, ignore_queue: bool = False) -> Any:
        """Emits an event to one client and awaits its acknowledgement (a tuple for several
        values, ``None`` for none). Raises :class:`rtio.exceptions.TimeoutError` after
        ``timeout`` seconds or when the client is not connected (or leaves)."""
        target = to or sid
        if target is None:
            raise ValueError("Cannot use call() to broadcast.")
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        if self.clustered and target not in self._sid_nsp:
            # A socket of another node (or none): the core's broadcast with acks to its id.
            answers = await self._wait(lambda n: n.broadcast_with_ack(
                namespace or "/", event, data, [target], [], timeout))
            if answers is None or not answers[0]:
                raise exceptions.TimeoutError()
            return ack_value(answers[0][0][1])
        fut = asyncio.get_running_loop().create_future()
        if not self._register_ack(target, event, data, timeout, fut):
            raise exceptions.TimeoutError(f"client {target} is not connected")
        args = await fut
        if args is None:
            raise exceptions.TimeoutError()
        return tuple(args) if len(args) > 1 else args[0] if len(args) == 1 else None

    # ---------------------------------------------------------------- rooms, clients
    async def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Puts a client in a room (with a ``client_manager``: a client of any node)."""
        self._socket_op(sid, namespace, lambda n: n.join_room(sid, room),
                        lambda n, nsp: n.sockets_join(nsp, [sid], [], [room]))

    async def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """Takes a client out of a room (with a ``client_manager``: a client of any
        node)."""
        self._socket_op(sid, namespace, lambda n: n.leave_room(sid, room),
                        lambda n, nsp: n.sockets_leave(nsp, [sid], [], [room]))

    async def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every client of the namespace out of a room (on every node)."""
        self._room_op("close_room", namespace or "/", room)

    async def disconnect(self, sid: str, namespace: Optional[str] = None,
                         ignore_queue: bool = False, close_connection: bool = False) -> None:
        """Disconnects a client (see :meth:`rtio.Server.disconnect`; with a
        ``client_manager``, a client of any node)."""
        self._socket_op(sid, namespace, lambda n: n.disconnect(sid, close_connection),
                        lambda n, nsp: n.disconnect_sockets(nsp, [sid], [], close_connection))

    # ---------------------------------------------------------------- cluster (rtio's own)
    async def _wait(self, start: Callable[["_native.NativeServer"], Optional[int]]) -> Any:
        """Starts a cluster operation and awaits its result event: ``(result, error)``, or
        ``None`` when the namespace is not served. (The core completes every operation, by
        its deadline at the latest.)"""
        fut = asyncio.get_running_loop().create_future()
        if not self._start(start, fut):
            return None
        return await fut

    async def fetch_sockets(self, room: Target = None, namespace: Optional[str] = None,
                            skip_sid: Target = None, local: bool = False) -> List[SocketInfo]:
        """See :meth:`rtio.Server.fetch_sockets`."""
        got = await self._wait(lambda n: n.fetch_sockets(namespace or "/", _rooms(room),
                                                         _rooms(skip_sid), local))
        if got is None:
            return []
        sockets = [_socket_info(d) for d in got[0]]
        return self._cluster_result(sockets, got[1], "fetch_sockets")

    async def sockets_join(self, rooms: Union[str, List[str]], to: Target = None,
                           skip_sid: Target = None, namespace: Optional[str] = None) -> None:
        """See :meth:`rtio.Server.sockets_join`."""
        self._room_op("sockets_join", namespace or "/", _rooms(to), _rooms(skip_sid),
                      _rooms(rooms))

    async def sockets_leave(self, rooms: Union[str, List[str]], to: Target = None,
                            skip_sid: Target = None, namespace: Optional[str] = None) -> None:
        """See :meth:`rtio.Server.sockets_leave`."""
        self._room_op("sockets_leave", namespace or "/", _rooms(to), _rooms(skip_sid),
                      _rooms(rooms))

    async def disconnect_sockets(self, to: Target = None, skip_sid: Target = None,
                                 namespace: Optional[str] = None,
                                 close_connection: bool = False) -> None:
        """See :meth:`rtio.Server.disconnect_sockets`."""
        self._room_op("disconnect_sockets", namespace or "/", _rooms(to), _rooms(skip_sid),
                      bool(close_connection))

    async def emit_with_ack(self, event: str, data: Any = None, to: Target = None,
                            room: Target = None, skip_sid: Target = None,
                            namespace: Optional[str] = None, timeout: float = 5) -> List[Any]:
        """See :meth:`rtio.Server.emit_with_ack`."""
        if event in self.reserved_events:
            raise ValueError(f"{event!r} is a reserved event name")
        target = to if to is not None else room
        got = await self._wait(lambda n: n.broadcast_with_ack(
            namespace or "/", event, data, _rooms(target), _rooms(skip_sid), timeout))
        if got is None:
            return []
        answers = [ack_value(args) for _, args in got[0]]
        return self._cluster_result(answers, got[1], "emit_with_ack")

    async def server_side_emit(self, event: str, data: Any = None,
                               namespace: Optional[str] = None) -> None:
        """See :meth:`rtio.Server.server_side_emit`."""
        self._room_op("server_side_emit", namespace or "/", event, data)

    async def server_side_call(self, event: str, data: Any = None,
                               namespace: Optional[str] = None,
                               timeout: Optional[float] = None) -> List[Any]:
        """See :meth:`rtio.Server.server_side_call`."""
        if timeout is None:
            timeout = self._redis["requests_timeout_ms"] / 1000 if self._redis else 5.0
        got = await self._wait(lambda n: n.server_side_emit(namespace or "/", event, data,
                                                            timeout))
        if got is None:
            return []
        return self._cluster_result([ack_value(a) for a in got[0]], got[1],
                                    "server_side_call")

    async def server_count(self, namespace: Optional[str] = None) -> int:
        """See :meth:`rtio.Server.server_count`."""
        got = await self._wait(lambda n: n.server_count(namespace or "/"))
        if got is None:
            raise exceptions.BadNamespaceError(f"namespace {namespace!r} is not served")
        return self._cluster_result(got[0], got[1], "server_count")

    # ---------------------------------------------------------------- sessions
    async def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """The user session dict of a client (kept until its ``disconnect`` handler ran).
        Raises ``KeyError`` for a client that is not connected."""
        if sid not in self._openings:
            raise KeyError("Session not found")
        return self._sessions.setdefault(sid, {})

    async def save_session(self, sid: str, session: Dict[str, Any],
                           namespace: Optional[str] = None) -> None:
        """Replaces the user session dict of a client."""
        if sid not in self._openings:
            raise KeyError("Session not found")
        self._sessions[sid] = session

    def session(self, sid: str, namespace: Optional[str] = None) -> "_AsyncSessionContext":
        """The user session as an async context manager that saves it on exit::

            async with sio.session(sid) as session:
                session['username'] = name
        """
        return _AsyncSessionContext(self, sid, namespace)

    # ---------------------------------------------------------------- tasks
    def start_background_task(self, target: Callable[..., Awaitable[Any]], *args: Any,
                              **kwargs: Any) -> "asyncio.Task[Any]":
        """Runs the coroutine ``target(*args, **kwargs)`` as a task; returns it."""
        return self._spawn(target(*args, **kwargs))

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``."""
        await asyncio.sleep(seconds)

    def _spawn(self, coro: Awaitable[Any]) -> "asyncio.Task[Any]":
        return self._keep(asyncio.ensure_future(coro))

    def _keep(self, task: "asyncio.Task[Any]") -> "asyncio.Task[Any]":
        """Holds the task until it ends: the loop keeps only weak references to tasks."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---------------------------------------------------------------- dispatch
    def _on_readable(self, native: "_native.NativeServer") -> None:
        """The wake-up fd is readable: take the queued events (on the loop's thread)."""
        while True:
            batch = native.poll(_BATCH)
            if batch is None:  # stopped, and everything was delivered
                try:
                    assert self._loop is not None
                    self._loop.remove_reader(native.wake_fd())
                except Exception:  # pragma: no cover - loop already closed
                    pass
                return
            # Messages, the bulk of the events, are dispatched here rather than in _handle.
            # Every handler runs as a task: tasks start in the order created, so a client's
            # handlers start in arrival order (and what they send before their first real
            # wait goes out in that order). _Lanes keeps connect first and disconnect last.
            run_in_lane, message = self._lanes.run, self._message
            serial = not self.async_handlers
            for ev in batch:
                if ev[0] == MESSAGE:
                    run_in_lane(ev[1], functools.partial(message, *ev[1:]), serial)
                else:
                    self._handle(ev)
            if len(batch) < _BATCH:
                return

    def _launch(self, job: Callable[[], Any], after: Optional[Callable[[], None]]) -> None:
        # On the loop's thread; jobs are coroutine functions (no ensure_future() checks).
        self._tasks.add(asyncio.get_running_loop().create_task(self._run_job(job, after),
                                                               name="rtio-handler"))

    async def _run_job(self, job: Callable[[], Any], after: Optional[Callable[[], None]]) -> None:
        try:
            await job()
        finally:
            # The task leaves _tasks here rather than from a done callback: one callback
            # less through the loop per job. (A task cancelled before it started stays;
            # only the loop's teardown cancels these.)
            self._tasks.discard(asyncio.current_task())
            if after is not None:
                after()

    def _handle(self, ev: tuple) -> None:
        """One event other than a message (those are dispatched by ``_on_readable``)."""
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
            native = self._native
            if native is not None:
                self._answer_request(native, *ev[1:])
        elif kind == SERVER_SIDE_EMIT:
            self._on_server_side(*ev[1:])
        elif kind == HTTP_RESPONSE:
            entry = self._take_ack(ev[1])
            if isinstance(entry, asyncio.Future) and not entry.done():
                entry.set_result(ev[2:])
        elif kind in (WS_ANSWER, WS_SEND, WS_CLOSE):
            inbox = self._websockets.get(ev[1])
            if inbox is not None:
                if kind == WS_ANSWER:
                    inbox.put_nowait(("answer", *ev[2:]))
                elif kind == WS_SEND:
                    inbox.put_nowait(("send", ev[2]))
                else:
                    self._websockets.pop(ev[1], None)
                    inbox.put_nowait(("close", ev[2]))
        elif kind in (BROADCAST_ACK, FETCH_SOCKETS, SERVER_SIDE_ACK, SERVER_COUNT):
            self._on_cluster_result(*ev[1:])

    def _on_cluster_result(self, token: int, result: Any, error: Optional[str]) -> None:
        entry = self._take_ack(token)
        if isinstance(entry, asyncio.Future):
            if not entry.done():
                entry.set_result((result, error))
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

        async def run() -> None:
            try:
                ret = handler(*args)
                if inspect.isawaitable(ret):
                    ret = await ret
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

    async def _message(self, sid: str, nsp: str, event: str, args: list,
                       ack: Optional[int]) -> None:
        try:
            ret = self._call_event_handler(sid, nsp, event, args)
            if inspect.isawaitable(ret):
                ret = await ret
        except asyncio.CancelledError:
            return
        except Exception:
            self._log_handler_error(repr(event), nsp, sid)
            return
        self._send_ack(sid, ack, ret)

    def _send_ack(self, sid: str, ack: Optional[int], value: Any) -> None:
        if ack is None or value is self.not_handled:
            return
        native = self._native
        if native is not None:
            try:
                native.ack(sid, ack, value)
            except Exception:
                if not native.is_stopped():  # after a stop, acks have nowhere to go
                    self._log_handler_error("an acknowledgement", self._sid_nsp.get(sid, "?"),
                                            sid)

    async def _connect_handler(self, sid: str, nsp: str, auth: Any,
                               environ: Dict[str, Any]) -> Optional[Tuple[str, Any]]:
        try:
            ret = self._call_handler("connect", nsp, (sid, environ, auth or None), optional_last=True)
            if inspect.isawaitable(ret):
                ret = await ret
        except Exception as exc:
            if is_refusal(exc):
                return self._refusal(exc)
            self._log_handler_error("'connect'", nsp, sid)
            return self._refusal(None)
        return self._refusal(None) if ret is False else None

    def _on_connect_request(self, request: int, nsp: str, auth: Any,
                            handshake: "_native.Opening", sid: Optional[str]) -> None:
        native = self._native_or_raise()
        if sid is None:  # the core cannot tell the sid yet; nothing runs before accepting
            native.accept(request)
            return
        # The engine holds the socket while it waits for the answer: emits and room
        # changes made by the handler apply to it, and reach the client once accepted.
        opening = self._connected(sid, nsp, handshake)

        async def decide() -> None:
            refusal = await self._connect_handler(sid, nsp, auth, opening.environ())
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

        async def connect() -> None:
            refusal = await self._connect_handler(sid, nsp, auth, opening.environ())
            if refusal is not None:
                # Accepted already: refuse as python-socketio's always_connect=True does.
                self.logger.info("rtio: connect handler refused %s on %s: %s",
                                 sid, nsp, refusal[0])
                self._refused.add(sid)
                native = self._native
                if native is not None and not native.is_stopped():
                    native.disconnect(sid, False)

        self._lanes.run(sid, connect, True)

    async def _run_disconnect(self, sid: str, nsp: str, why: str) -> None:
        try:
            ret = self._call_handler("disconnect", nsp, (sid, why), optional_last=True)
            if inspect.isawaitable(ret):
                await ret
        except Exception:
            self._log_handler_error("'disconnect'", nsp, sid)
        finally:
            self._forget(sid)

    def _on_ack(self, token: int, sid: str, args: Optional[list]) -> None:
        entry = self._take_ack(token)
        if entry is None:
            return
        if isinstance(entry, asyncio.Future):
            if not entry.done():
                entry.set_result(args)
            return
        if args is None:  # a callback never hears of timeouts (as python-socketio)
            return
        self._lanes.run(sid, functools.partial(self._run_callback, entry, sid, args),
                        not self.async_handlers)

    async def _run_callback(self, callback: Callable[..., Any], sid: str, args: list) -> None:
        try:
            ret = callback(*args)
            if inspect.isawaitable(ret):
                await ret
        except Exception:
            self._log_handler_error("an ack callback", self._sid_nsp.get(sid, "?"), sid)


class _AsyncSessionContext:
    def __init__(self, server: AsyncServer, sid: str, namespace: Optional[str]) -> None:
        self.server = server
        self.sid = sid
        self.namespace = namespace
        self.session: Optional[Dict[str, Any]] = None

    async def __aenter__(self) -> Dict[str, Any]:
        self.session = await self.server.get_session(self.sid, namespace=self.namespace)
        return self.session

    async def __aexit__(self, *args: Any) -> None:
        assert self.session is not None
        await self.server.save_session(self.sid, self.session, namespace=self.namespace)
