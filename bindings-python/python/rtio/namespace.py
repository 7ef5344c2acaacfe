"""Class-based namespaces: ``rtio.Namespace`` and ``rtio.AsyncNamespace``, as
python-socketio's ``socketio.Namespace`` and ``socketio.AsyncNamespace``."""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, List, Optional

from ._base import Target, fit_args


class BaseServerNamespace:
    """What both namespace classes share."""

    def __init__(self, namespace: Optional[str] = None) -> None:
        self.namespace = namespace or "/"
        self.server: Any = None

    def is_asyncio_based(self) -> bool:
        """True for :class:`AsyncNamespace`."""
        return False

    def _set_server(self, server: Any) -> None:
        self.server = server

    def rooms(self, sid: str, namespace: Optional[str] = None) -> List[str]:
        """The rooms of a client (see ``Server.rooms``)."""
        return self.server.rooms(sid, namespace=namespace or self.namespace)

    def _handler(self, event: str, args: tuple) -> tuple:
        handler = getattr(self, "on_" + (event or ""), None)
        if handler is None:
            return None, args
        optional_last = event in ("connect", "disconnect")
        return handler, fit_args(handler, args, optional_last)


class Namespace(BaseServerNamespace):
    """A class whose ``on_<event>`` methods handle the events of one namespace of a
    :class:`rtio.Server`::

        class Chat(rtio.Namespace):
            def on_connect(self, sid, environ, auth): ...
            def on_message(self, sid, data):
                self.emit('message', data, skip_sid=sid)

        sio.register_namespace(Chat('/chat'))

    Its ``emit``, ``send``, ``call``... default to its own namespace.
    """

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Calls ``on_<event>(*args)`` if the class has it (override for other routing)."""
        handler, args = self._handler(event, args)
        if handler is not None:
            return handler(*args)
        return None

    def emit(self, event: str, data: Any = None, to: Target = None, room: Target = None,
             skip_sid: Target = None, namespace: Optional[str] = None,
             callback: Optional[Callable[..., Any]] = None, ignore_queue: bool = False) -> None:
        """``Server.emit`` in this namespace."""
        return self.server.emit(event, data=data, to=to, room=room, skip_sid=skip_sid,
                                namespace=namespace or self.namespace, callback=callback,
                                ignore_queue=ignore_queue)

    def send(self, data: Any, to: Target = None, room: Target = None, skip_sid: Target = None,
             namespace: Optional[str] = None, callback: Optional[Callable[..., Any]] = None,
             ignore_queue: bool = False) -> None:
        """``Server.send`` in this namespace."""
        return self.server.send(data, to=to, room=room, skip_sid=skip_sid,
                                namespace=namespace or self.namespace, callback=callback,
                                ignore_queue=ignore_queue)

    def call(self, event: str, data: Any = None, to: Optional[str] = None,
             sid: Optional[str] = None, namespace: Optional[str] = None, timeout: float = 60,
             ignore_queue: bool = False) -> Any:
        """``Server.call`` in this namespace."""
        return self.server.call(event, data=data, to=to, sid=sid,
                                namespace=namespace or self.namespace, timeout=timeout)

    def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """``Server.enter_room`` in this namespace."""
        return self.server.enter_room(sid, room, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """``Server.leave_room`` in this namespace."""
        return self.server.leave_room(sid, room, namespace=namespace or self.namespace)

    def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """``Server.close_room`` in this namespace."""
        return self.server.close_room(room, namespace=namespace or self.namespace)

    def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """``Server.get_session`` in this namespace."""
        return self.server.get_session(sid, namespace=namespace or self.namespace)

    def save_session(self, sid: str, session: Dict[str, Any],
                     namespace: Optional[str] = None) -> None:
        """``Server.save_session`` in this namespace."""
        return self.server.save_session(sid, session, namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: Optional[str] = None) -> Any:
        """``Server.session`` in this namespace."""
        return self.server.session(sid, namespace=namespace or self.namespace)

    def disconnect(self, sid: str, namespace: Optional[str] = None,
                   ignore_queue: bool = False) -> None:
        """``Server.disconnect`` in this namespace."""
        return self.server.disconnect(sid, namespace=namespace or self.namespace)


class AsyncNamespace(BaseServerNamespace):
    """A class whose ``on_<event>`` methods (plain or ``async def``) handle the events of
    one namespace of a :class:`rtio.AsyncServer`. Its ``emit``, ``call``... are coroutines
    that default to its own namespace."""

    def is_asyncio_based(self) -> bool:
        return True

    async def trigger_event(self, event: str, *args: Any) -> Any:
        """Calls (and awaits) ``on_<event>(*args)`` if the class has it."""
        handler, args = self._handler(event, args)
        if handler is None:
            return None
        ret = handler(*args)
        if inspect.isawaitable(ret):
            ret = await ret
        return ret

    async def emit(self, event: str, data: Any = None, to: Target = None, room: Target = None,
                   skip_sid: Target = None, namespace: Optional[str] = None,
                   callback: Optional[Callable[..., Any]] = None,
                   ignore_queue: bool = False) -> None:
        """``AsyncServer.emit`` in this namespace."""
        return await self.server.emit(event, data=data, to=to, room=room, skip_sid=skip_sid,
                                      namespace=namespace or self.namespace, callback=callback,
                                ignore_queue=ignore_queue)

    async def send(self, data: Any, to: Target = None, room: Target = None,
                   skip_sid: Target = None, namespace: Optional[str] = None,
                   callback: Optional[Callable[..., Any]] = None,
                   ignore_queue: bool = False) -> None:
        """``AsyncServer.send`` in this namespace."""
        return await self.server.send(data, to=to, room=room, skip_sid=skip_sid,
                                      namespace=namespace or self.namespace, callback=callback,
                                ignore_queue=ignore_queue)

    async def call(self, event: str, data: Any = None, to: Optional[str] = None,
                   sid: Optional[str] = None, namespace: Optional[str] = None,
                   timeout: float = 60, ignore_queue: bool = False) -> Any:
        """``AsyncServer.call`` in this namespace."""
        return await self.server.call(event, data=data, to=to, sid=sid,
                                      namespace=namespace or self.namespace, timeout=timeout)

    async def enter_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """``AsyncServer.enter_room`` in this namespace."""
        return await self.server.enter_room(sid, room, namespace=namespace or self.namespace)

    async def leave_room(self, sid: str, room: str, namespace: Optional[str] = None) -> None:
        """``AsyncServer.leave_room`` in this namespace."""
        return await self.server.leave_room(sid, room, namespace=namespace or self.namespace)

    async def close_room(self, room: str, namespace: Optional[str] = None) -> None:
        """``AsyncServer.close_room`` in this namespace."""
        return await self.server.close_room(room, namespace=namespace or self.namespace)

    async def get_session(self, sid: str, namespace: Optional[str] = None) -> Dict[str, Any]:
        """``AsyncServer.get_session`` in this namespace."""
        return await self.server.get_session(sid, namespace=namespace or self.namespace)

    async def save_session(self, sid: str, session: Dict[str, Any],
                           namespace: Optional[str] = None) -> None:
        """``AsyncServer.save_session`` in this namespace."""
        return await self.server.save_session(sid, session,
                                              namespace=namespace or self.namespace)

    def session(self, sid: str, namespace: Optional[str] = None) -> Any:
        """``AsyncServer.session`` in this namespace (``async with``)."""
        return self.server.session(sid, namespace=namespace or self.namespace)

    async def disconnect(self, sid: str, namespace: Optional[str] = None,
                         ignore_queue: bool = False) -> None:
        """``AsyncServer.disconnect`` in this namespace."""
        return await self.server.disconnect(sid, namespace=namespace or self.namespace)
