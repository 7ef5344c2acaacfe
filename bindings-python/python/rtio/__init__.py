"""rtio: python-socketio's server API, served by rtio's Rust Socket.IO engine.

Moving an app is an import change (``import rtio as socketio``)::

    import rtio

    sio = rtio.Server(cors_allowed_origins='*')

    @sio.event
    def connect(sid, environ, auth):
        print('connected', sid)

    @sio.on('chat')
    def chat(sid, data):
        sio.emit('chat', data, skip_sid=sid)

    sio.run(port=3000)

rtio serves HTTP itself (WebSocket, long-polling, static files): there is no WSGI/ASGI
app to mount. See docs/python.md for the differences from python-socketio.
"""

from __future__ import annotations

from typing import Any, NoReturn

from . import exceptions
from ._base import SocketInfo, reason
from ._native import __version__
from .async_server import AsyncServer
from .managers import AsyncRedisManager, RedisManager
from .namespace import AsyncNamespace, Namespace
from .server import Server

__all__ = [
    "Server",
    "AsyncServer",
    "Namespace",
    "AsyncNamespace",
    "RedisManager",
    "AsyncRedisManager",
    "SocketInfo",
    "exceptions",
    "reason",
    "WSGIApp",
    "ASGIApp",
    "Middleware",
    "__version__",
]


def _not_mountable(name: str) -> NoReturn:
    raise NotImplementedError(
        f"rtio.{name}: rtio serves HTTP itself on its own port instead of mounting in a "
        "WSGI/ASGI app. Use sio.run(port=...) / sio.start() (or await sio.serve(...)), "
        "static_files= for your pages, and cors_allowed_origins= when the pages come from "
        "another server (see docs/python.md)")


class WSGIApp:
    """Not available: rtio serves HTTP itself (raises ``NotImplementedError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _not_mountable("WSGIApp")


class ASGIApp:
    """Not available: rtio serves HTTP itself (raises ``NotImplementedError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _not_mountable("ASGIApp")


class Middleware(WSGIApp):
    """Not available: rtio serves HTTP itself (raises ``NotImplementedError``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _not_mountable("Middleware")
