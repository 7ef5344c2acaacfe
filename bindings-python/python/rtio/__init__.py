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

rtio serves HTTP itself (WebSocket, long-polling, static files), or mounts in the app's
own server like python-socketio: ``rtio.WSGIApp`` / ``rtio.Middleware`` (Flask, Django,
gunicorn), ``rtio.ASGIApp`` (uvicorn, FastAPI, Starlette), ``AsyncServer.attach`` (aiohttp).
See docs/python.md for the differences from python-socketio.
"""

from __future__ import annotations

from . import exceptions
from ._base import SocketInfo, reason
from ._native import __version__
from .async_server import AsyncServer
from .managers import AsyncRedisManager, RedisManager
from .namespace import AsyncNamespace, Namespace
from .server import Server
from .mount import ASGIApp, Middleware, WSGIApp, gunicorn_post_worker_init

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
    "gunicorn_post_worker_init",
    "__version__",
]
