"""Exceptions, named and shaped as python-socketio's (``socketio.exceptions``)."""

from __future__ import annotations

import builtins
from typing import Any

from ._native import StoppedError

__all__ = [
    "SocketIOError",
    "ConnectionError",
    "ConnectionRefusedError",
    "TimeoutError",
    "BadNamespaceError",
    "DisconnectedError",
    "StoppedError",
    "ClusterError",
]


class SocketIOError(Exception):
    """Base class of rtio's Socket.IO errors."""


class ConnectionError(SocketIOError):  # noqa: A001 - the name python-socketio uses
    """A connection could not be made or was lost."""


class ConnectionRefusedError(ConnectionError):  # noqa: A001
    """Raise it from a ``connect`` handler to refuse the connection.

    The client gets a ``connect_error`` whose ``message`` is the first argument; a second
    argument becomes its ``data`` (several more: a list of them)::

        raise ConnectionRefusedError("unauthorized")
    """

    error_args: dict[str, Any]

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        if len(args) == 0:
            self.error_args = {"message": "Connection rejected by server"}
        else:
            self.error_args = {"message": str(args[0])}
            if len(args) == 2:
                self.error_args["data"] = args[1]
            elif len(args) > 2:
                self.error_args["data"] = list(args[1:])


class TimeoutError(SocketIOError, builtins.TimeoutError):  # noqa: A001
    """``call()`` got no acknowledgement in time.

    It is also a built-in :class:`TimeoutError`, so ``except TimeoutError`` catches it.
    """


class BadNamespaceError(SocketIOError):
    """The namespace is not served."""


class DisconnectedError(SocketIOError):
    """The client is not connected."""


class ClusterError(SocketIOError):
    """rtio's own: a cluster operation (``fetch_sockets``, ``emit_with_ack``,
    ``server_side_call``, ``server_count``) did not complete: a node (or a client) did not
    answer in time, or Redis is unreachable. ``result`` holds what came (a list for the
    list-returning operations, else ``None``)."""

    def __init__(self, message: str, result: Any = None) -> None:
        super().__init__(message)
        self.result = result
