"""Client managers: ``rtio.RedisManager`` and ``rtio.AsyncRedisManager``, python-socketio's
names and arguments for running several servers as one Socket.IO cluster through Redis.

The wire format is Socket.IO's own, the one Node's ``@socket.io/redis-adapter`` 8.x and
``@socket.io/redis-emitter`` speak (msgpack on ``<channel>#<namespace>#...`` channels), not
python-socketio's pickled messages: an rtio node joins clusters of Node socket.io servers
and of other rtio nodes (any host), and takes pushes from Socket.IO's emitters, but it does
not talk to python-socketio servers using python-socketio's own ``RedisManager``. That is
also why the default ``channel`` is ``'socket.io'`` (the adapter's default key), not
python-socketio's ``'socketio'``.

Two uses, as in python-socketio:

- given to a server, ``rtio.Server(client_manager=rtio.RedisManager(url))`` (or
  ``rtio.AsyncServer(client_manager=rtio.AsyncRedisManager(url))``): the server's emits,
  room changes and disconnects reach the sockets of every node; the manager is then
  ``sio.manager``;
- alone, with ``write_only=True``, in a process that serves no clients (a script, a
  Celery worker): its ``emit``, ``enter_room``, ``leave_room``, ``close_room`` and
  ``disconnect`` publish to the cluster (like ``@socket.io/redis-emitter``).
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _native
from ._base import Manager, Target

__all__ = ["RedisManager", "AsyncRedisManager"]

_SUBSCRIPTION_MODES = ("static", "dynamic", "dynamic-private")


def _rooms(value: Target) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class _RedisManagerBase(Manager):
    """What :class:`RedisManager` and :class:`AsyncRedisManager` share."""

    name = "redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socket.io",
        write_only: bool = False,
        logger: Optional[logging.Logger] = None,
        redis_options: Optional[Dict[str, Any]] = None,
        *,
        sharded: bool = False,
        requests_timeout: float = 5.0,
        publish_on_specific_response_channel: bool = False,
        subscription_mode: str = "dynamic",
    ) -> None:
        if redis_options:
            raise NotImplementedError(
                "rtio: redis_options is not supported: rtio's Redis client is native "
                "(redis-rs), not redis-py; put the password, user and database in the URL "
                "(redis://user:password@host:6379/0) and leave redis_options unset "
                "(see docs/python.md)")
        if not isinstance(url, str) or not url:
            raise TypeError("url must be a redis:// URL")
        if not isinstance(channel, str) or not channel:
            raise ValueError("channel must be a non-empty string (the channels' prefix)")
        if subscription_mode not in _SUBSCRIPTION_MODES:
            raise ValueError(f"subscription_mode must be one of {_SUBSCRIPTION_MODES}, "
                             f"not {subscription_mode!r}")
        try:
            timeout_ms = int(round(float(requests_timeout) * 1000))
        except (TypeError, ValueError):
            raise TypeError("requests_timeout must be a number of seconds") from None
        if timeout_ms <= 0:
            raise ValueError("requests_timeout must be positive")
        self.url = url
        #: The channels' prefix (Socket.IO's ``key``; python-socketio's ``channel``).
        self.channel = channel
        self.write_only = bool(write_only)
        self.logger = logger or logging.getLogger("rtio")
        self.sharded = bool(sharded)
        self.requests_timeout = timeout_ms / 1000
        self.publish_on_specific_response_channel = bool(publish_on_specific_response_channel)
        self.subscription_mode = subscription_mode
        self.server: Any = None
        self._server: Any = None
        self._emitter: Any = None
        # A URL the native client cannot take is refused now, not when a server starts.
        _native.check_redis(self._native_options())

    def _native_options(self) -> Dict[str, Any]:
        return {
            "url": self.url,
            "key": self.channel,
            "sharded": self.sharded,
            "requests_timeout_ms": int(round(self.requests_timeout * 1000)),
            "publish_on_specific_response_channel": self.publish_on_specific_response_channel,
            "subscription_mode": self.subscription_mode,
        }

    # ---------------------------------------------------------------- python-socketio API
    def set_server(self, server: Any) -> None:
        """Called by the server that takes this manager (``client_manager=``)."""
        if self.write_only:
            raise ValueError("a write_only manager serves no clients: give the server a "
                             "manager without write_only=True")
        if self.server is not None and self.server is not server:
            raise ValueError("this manager already belongs to another server")
        self.server = server
        self._server = server

    def initialize(self) -> None:
        """python-socketio's hook; nothing to do (the Redis link starts with the server)."""

    def get_participants(self, namespace: str, room: Optional[str]
                         ) -> Iterator[Tuple[str, None]]:
        """``(sid, None)`` for each socket of **this node** in ``room`` (as python-socketio,
        whose managers list local participants only; :meth:`rtio.Server.fetch_sockets`
        lists every node's)."""
        self._bound()
        return super().get_participants(namespace, room)

    def get_namespaces(self) -> List[str]:
        """The namespaces this node serves."""
        self._bound()
        return super().get_namespaces()

    def get_rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms of a socket of this node, its own room first."""
        self._bound()
        return super().get_rooms(sid, namespace)

    def is_connected(self, sid: str, namespace: Optional[str] = None) -> bool:
        """True when ``sid`` is connected to this node on ``namespace``."""
        self._bound()
        return super().is_connected(sid, namespace)

    # python-socketio's bookkeeping hooks, which its server calls on its manager: rtio's
    # engine keeps sockets, rooms and acks itself, so an app has no use for them here.
    def _internal(self, name: str) -> NotImplementedError:
        return NotImplementedError(
            f"rtio: manager.{name}() is not supported: rtio's engine keeps the sockets, "
            "their Engine.IO sessions and acks itself (python-socketio's server calls this "
            "hook, apps do not); use the server's methods (see docs/python.md)")

    def connect(self, eio_sid: Any, namespace: str) -> Any:
        """Not supported (raises ``NotImplementedError``): the engine connects sockets."""
        raise self._internal("connect")

    def sid_from_eio_sid(self, eio_sid: Any, namespace: str) -> Any:
        """Not supported (raises ``NotImplementedError``): rtio does not expose Engine.IO
        session ids."""
        raise self._internal("sid_from_eio_sid")

    def eio_sid_from_sid(self, sid: str, namespace: str) -> Any:
        """Not supported (raises ``NotImplementedError``)."""
        raise self._internal("eio_sid_from_sid")

    def can_disconnect(self, sid: str, namespace: str) -> Any:
        """Not supported (raises ``NotImplementedError``); see :meth:`is_connected`."""
        raise self._internal("can_disconnect")

    def pre_disconnect(self, sid: str, namespace: str) -> Any:
        """Not supported (raises ``NotImplementedError``)."""
        raise self._internal("pre_disconnect")

    def trigger_callback(self, sid: str, id: int, data: Any) -> Any:  # noqa: A002
        """Not supported (raises ``NotImplementedError``): acks reach callbacks through
        the engine."""
        raise self._internal("trigger_callback")

    def _bound(self) -> None:
        if self.server is None:
            raise RuntimeError("this manager is not a server's client_manager")

    def _emitter_or_raise(self) -> Any:
        if not self.write_only:  # pragma: no cover - the public methods check first
            raise RuntimeError("only a write_only manager publishes by itself")
        if self._emitter is None:
            self._emitter = _native.RedisEmitter(self._native_options())
        return self._emitter

    def _publish(self, op: str, *args: Any) -> None:
        getattr(self._emitter_or_raise(), op)(*args)

    def _write_only_emit(self, event: str, data: Any, namespace: Optional[str], to: Target,
                         room: Target, skip_sid: Target, callback: Any) -> None:
        if callback is not None:
            raise NotImplementedError(
                "rtio: callbacks need a server to receive the acknowledgements; a "
                "write_only manager cannot take them")
        target = to if to is not None else room
        self._publish("emit", namespace or "/", _rooms(target), _rooms(skip_sid), event, data)


class RedisManager(_RedisManagerBase):
    """python-socketio's ``socketio.RedisManager``, speaking Socket.IO's Redis adapter
    protocol (see the module's documentation: it joins Node socket.io clusters, not
    python-socketio's pickle-based ones).

    ``url``: ``redis://[user[:password]@]host[:port][/db]``. ``channel``: the channels'
    prefix, Socket.IO's ``key`` (default ``'socket.io'``, which Node's adapter and emitter
    use). ``write_only=True``: a manager used alone to push into the cluster (no server).
    ``logger``: where the manager's own messages go. ``redis_options`` is not supported
    (put credentials in the URL).

    rtio's own, keyword-only: ``sharded=True`` speaks ``createShardedAdapter``'s format
    (Redis 7 sharded Pub/Sub; every node must agree); ``requests_timeout`` (seconds,
    default 5) bounds how long a request to the other nodes (``fetch_sockets``,
    ``server_side_call``, ``server_count``) waits; ``publish_on_specific_response_channel``
    and ``subscription_mode`` (``'static'``, ``'dynamic'``, ``'dynamic-private'``) are the
    adapter's options of the same names.

    Redis down when the server starts is not an error: the server serves its own clients,
    logs the failure on standard error and keeps reconnecting.

    Threads: a bound manager's methods may be called from any thread, like the server's.
    """

    def emit(self, event: str, data: Any = None, namespace: Optional[str] = None,
             room: Target = None, skip_sid: Target = None, callback: Any = None,
             to: Target = None, **kwargs: Any) -> None:
        """Emits to the sockets of every node (``to``/``room``: a sid, a room or a list;
        ``skip_sid``: sids or rooms left out). Bound to a server: ``sio.emit``."""
        if self.write_only:
            self._write_only_emit(event, data, namespace, to, room, skip_sid, callback)
            return
        self._bound()
        self.server.emit(event, data, to=to, room=room, skip_sid=skip_sid,
                         namespace=namespace, callback=callback)

    def enter_room(self, sid: str, namespace: Optional[str], room: str,
                   eio_sid: Any = None) -> None:
        """Puts a socket (of any node) in a room."""
        if self.write_only:
            self._publish("sockets_join", namespace or "/", [sid], [], [room])
            return
        self._bound()
        self.server.enter_room(sid, room, namespace=namespace)

    def leave_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """Takes a socket (of any node) out of a room."""
        if self.write_only:
            self._publish("sockets_leave", namespace or "/", [sid], [], [room])
            return
        self._bound()
        self.server.leave_room(sid, room, namespace=namespace)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """Takes every socket of every node out of a room."""
        if self.write_only:
            self._publish("sockets_leave", namespace or "/", [room], [], [room])
            return
        self._bound()
        self.server.close_room(room, namespace=namespace)

    def disconnect(self, sid: str, namespace: Optional[str] = None, **kwargs: Any) -> None:
        """Disconnects a socket of any node (its client sees a server disconnect)."""
        if self.write_only:
            self._publish("disconnect_sockets", namespace or "/", [sid], [], False)
            return
        self._bound()
        self.server.disconnect(sid, namespace=namespace)

    def server_side_emit(self, event: str, data: Any = None,
                         namespace: Optional[str] = None) -> None:
        """rtio's own (socket.io's ``serverSideEmit``): sends an event to the servers of
        the cluster, whose ``on_server_side`` handlers get it."""
        if self.write_only:
            self._publish("server_side_emit", namespace or "/", event, data)
            return
        self._bound()
        self.server.server_side_emit(event, data, namespace=namespace)


class AsyncRedisManager(_RedisManagerBase):
    """python-socketio's ``socketio.AsyncRedisManager``: :class:`RedisManager` for
    :class:`rtio.AsyncServer`, with coroutine methods. A write_only manager publishes on a
    worker thread, so the event loop never waits for Redis."""

    async def _run(self, op: str, *args: Any) -> None:
        import asyncio

        emitter = self._emitter_or_raise()
        await asyncio.get_running_loop().run_in_executor(None, lambda: getattr(emitter, op)(*args))

    async def emit(self, event: str, data: Any = None, namespace: Optional[str] = None,
                   room: Target = None, skip_sid: Target = None, callback: Any = None,
                   to: Target = None, **kwargs: Any) -> None:
        """See :meth:`RedisManager.emit`."""
        if self.write_only:
            if callback is not None:
                self._write_only_emit(event, data, namespace, to, room, skip_sid, callback)
            target = to if to is not None else room
            await self._run("emit", namespace or "/", _rooms(target), _rooms(skip_sid),
                            event, data)
            return
        self._bound()
        await self.server.emit(event, data, to=to, room=room, skip_sid=skip_sid,
                               namespace=namespace, callback=callback)

    async def enter_room(self, sid: str, namespace: Optional[str], room: str,
                         eio_sid: Any = None) -> None:
        """See :meth:`RedisManager.enter_room`."""
        if self.write_only:
            await self._run("sockets_join", namespace or "/", [sid], [], [room])
            return
        self._bound()
        await self.server.enter_room(sid, room, namespace=namespace)

    async def leave_room(self, sid: str, namespace: Optional[str], room: str) -> None:
        """See :meth:`RedisManager.leave_room`."""
        if self.write_only:
            await self._run("sockets_leave", namespace or "/", [sid], [], [room])
            return
        self._bound()
        await self.server.leave_room(sid, room, namespace=namespace)

    async def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """See :meth:`RedisManager.close_room`."""
        if self.write_only:
            await self._run("sockets_leave", namespace or "/", [room], [], [room])
            return
        self._bound()
        await self.server.close_room(room, namespace=namespace)

    async def disconnect(self, sid: str, namespace: Optional[str] = None,
                         **kwargs: Any) -> None:
        """See :meth:`RedisManager.disconnect`."""
        if self.write_only:
            await self._run("disconnect_sockets", namespace or "/", [sid], [], False)
            return
        self._bound()
        await self.server.disconnect(sid, namespace=namespace)

    async def server_side_emit(self, event: str, data: Any = None,
                               namespace: Optional[str] = None) -> None:
        """See :meth:`RedisManager.server_side_emit`."""
        if self.write_only:
            await self._run("server_side_emit", namespace or "/", event, data)
            return
        self._bound()
        await self.server.server_side_emit(event, data, namespace=namespace)


AnyRedisManager = Union[RedisManager, AsyncRedisManager]
