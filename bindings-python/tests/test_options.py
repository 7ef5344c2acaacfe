"""Every constructor option works or is refused at construction, naming the option and what
to do instead: nothing is accepted and ignored (docs/python.md, "Options")."""

import json as stdlib_json
import logging

import pytest

import rtio

SERVERS = [rtio.Server, rtio.AsyncServer]


@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
@pytest.mark.parametrize("options,named", [
    ({"client_manager": object()}, "client_manager"),
    ({"serializer": "cbor"}, "serializer"),
    ({"serializer": "pickle"}, "serializer"),
    ({"json": stdlib_json}, "json"),
    ({"engineio_logger": True}, "engineio_logger"),
    ({"engineio_logger": logging.getLogger("x")}, "engineio_logger"),
    ({"cookie": {"name": "io", "secure": True}}, "cookie attribute 'secure'"),
    ({"monitor_clients": False}, "monitor_clients"),
    ({"ping_interval": (25, 5)}, "grace period"),
    ({"static_files": {"/": "a", "/b": "b"}}, "static_files"),
    ({"async_mode": "eventlet"}, "async_mode"),
    ({"async_mode": "gevent"}, "async_mode"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_options_rtio_cannot_honour_are_refused(cls, options, named):
    with pytest.raises(NotImplementedError, match=named) as info:
        cls(**options)
    assert "see docs/python.md" in str(info.value)


@pytest.mark.parametrize("async_mode", ["sanic", "tornado", "threading"])
def test_async_server_serves_itself(async_mode):
    with pytest.raises(NotImplementedError, match="async_mode"):
        rtio.AsyncServer(async_mode=async_mode)


@pytest.mark.parametrize("async_mode", ["aiohttp", "asgi"])
def test_async_server_mounts_in_aiohttp_and_asgi(async_mode):
    assert rtio.AsyncServer(async_mode=async_mode).async_mode == async_mode


@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_options_set_to_what_rtio_does_are_accepted(cls):
    sio = cls(
        client_manager=None, serializer="default", json=None, engineio_logger=False,
        allow_upgrades=True, http_compression=False, compression_threshold=1024,
        cookie=None, monitor_clients=True, ping_interval=(25, 0), transports="websocket",
        cors_allowed_origins="*", cors_credentials=False, async_handlers=False,
        always_connect=True, namespaces="*", logger=False,
    )
    assert sio.async_handlers is False and sio.always_connect is True
    assert sio._options["websocket"] and not sio._options["polling"]
    assert sio._options["cors"] == "any" and sio._options["cors_credentials"] is False
    cls(monitor_clients=None, engineio_logger=None)


def test_threading_is_the_sync_servers_async_mode():
    rtio.Server(async_mode="threading")


@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_unknown_and_bad_values_raise(cls):
    with pytest.raises(TypeError, match="no_such_option"):
        cls(no_such_option=1)
    with pytest.raises(ValueError, match="transports"):
        cls(transports=["polling", "flash"])
    with pytest.raises(ValueError, match="transports"):
        cls(transports=[])
    with pytest.raises(ValueError, match="ack_timeout"):
        cls(ack_timeout=0)
    with pytest.raises(TypeError, match="ping_interval"):
        cls(ping_interval="soon")


def test_handler_threads_is_the_sync_servers_own():
    assert rtio.Server(handler_threads=4).handler_threads == 4
    with pytest.raises(ValueError, match="handler_threads"):
        rtio.Server(handler_threads=0)
    with pytest.raises(TypeError, match="handler_threads"):
        rtio.AsyncServer(handler_threads=4)


@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_defaults_are_python_socketios(cls):
    sio = cls()
    assert sio.async_handlers is True
    assert sio.always_connect is False
    assert sio.cors_credentials is True
    assert sio.ack_timeout is None
    assert sio._options["cors"] == "none" and sio._options["reject_other_origins"]


@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_engineio_options_map_to_the_core(cls):
    sio = cls(allow_upgrades=False, http_compression=True, compression_threshold=2048,
              connection_state_recovery={"max_disconnection_duration": 30})
    assert sio._options["allow_upgrades"] is False
    assert sio._options["http_compression"] == 2048
    assert sio._options["recovery"] == (30_000, True)
    default = cls()
    assert default._options["http_compression"] == 1024
    assert default._options["allow_upgrades"] is True and default._options["recovery"] is None
    assert cls(http_compression=False)._options["http_compression"] is None


@pytest.mark.parametrize("bad,error", [
    ({"connection_state_recovery": {"max_disconnection_duration": -1}}, ValueError),
    ({"connection_state_recovery": {"max_disconection_duration": 5}}, TypeError),
    ({"connection_state_recovery": "yes"}, TypeError),
    ({"compression_threshold": -1}, ValueError),
    ({"http_compression": "gzip"}, TypeError),
])
def test_bad_engineio_options_are_clear_errors(bad, error):
    with pytest.raises(error):
        rtio.Server(**bad)
