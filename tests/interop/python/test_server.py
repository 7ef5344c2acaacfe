"""The scenarios server as a process and HTTP server (shared/SCENARIOS.md,
"How it is started" and "Limits"), seen from python-socketio, python-engineio
and plain HTTP requests."""

import json
import signal
import subprocess
import threading
import time

import engineio
import pytest
import requests

from conftest import HOST, WAIT, wait_until


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

def test_root_page(url):
    r = requests.get(url + "/", timeout=WAIT)
    assert r.status_code == 200
    assert "text/html" in r.headers.get("content-type", "")
    assert "<" in r.text


def test_client_bundle_is_served(url):
    r = requests.get(url + "/socket.io/socket.io.js", timeout=WAIT)
    assert r.status_code == 200
    assert "javascript" in r.headers.get("content-type", "")
    assert "Socket.IO v4.8." in r.text[:300]


def handshake(url, **headers):
    return requests.get(url + "/socket.io/?EIO=4&transport=polling",
                        headers=headers, timeout=WAIT)


def test_polling_handshake_has_default_settings(server_factory):
    srv = server_factory(defaults=True)
    r = handshake(srv.url)
    assert r.status_code == 200
    assert r.text.startswith("0")
    hs = json.loads(r.text[1:])
    assert isinstance(hs["sid"], str) and hs["sid"]
    assert hs["upgrades"] == ["websocket"]
    assert hs["pingInterval"] == 25000
    assert hs["pingTimeout"] == 20000
    assert hs["maxPayload"] == 1000000


def test_cors_echoes_origin_with_credentials(url):
    origin = "http://app.example.test:8080"
    r = handshake(url, Origin=origin)
    assert r.status_code == 200
    assert r.headers.get("access-control-allow-origin") == origin
    assert r.headers.get("access-control-allow-credentials") == "true"
    pre = requests.options(
        url + "/socket.io/?EIO=4&transport=polling", timeout=WAIT,
        headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code in (200, 204)
    assert pre.headers.get("access-control-allow-origin") == origin
    assert pre.headers.get("access-control-allow-credentials") == "true"


# --------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------

def test_flags_reach_the_handshake(server_factory):
    srv = server_factory("--ping-interval", "1234", "--ping-timeout", "567",
                         "--max-payload", "4321")
    hs = json.loads(handshake(srv.url).text[1:])
    assert (hs["pingInterval"], hs["pingTimeout"], hs["maxPayload"]) == \
        (1234, 567, 4321)


def test_heartbeat_keeps_client_connected(make_peer, server_factory):
    srv = server_factory("--ping-interval", "300", "--ping-timeout", "200")
    a = make_peer("a", server_url=srv.url)
    assert (a.sio.eio.ping_interval, a.sio.eio.ping_timeout) == (0.3, 0.2)
    wait_until(lambda: a.pings >= 4, "four pings from the server")
    assert a.sio.connected and a.disconnects.empty()
    a.barrier()
    a.check_transport()


def test_silent_client_is_dropped_after_ping_timeout(make_peer, server_factory):
    srv = server_factory("--ping-interval", "300", "--ping-timeout", "200")
    a = make_peer("a", server_url=srv.url)
    assert a.expect("visits") == (1,)
    mute = make_peer("mute", server_url=srv.url)
    assert a.expect("visits") == (2,)
    # the mute client stops answering pings (and sending anything at all)
    send = mute.sio.eio._send_packet
    mute.sio.eio._send_packet = lambda pkt: (
        None if pkt.packet_type == engineio.packet.PONG else send(pkt))
    started = time.monotonic()
    assert a.expect("visits", timeout=WAIT) == (1,)
    assert time.monotonic() - started >= 0.2
    a.barrier()
    assert a.sio.connected


def test_no_visits_flag(make_peer, server_factory):
    srv = server_factory("--no-visits")
    a = make_peer("a", server_url=srv.url)
    b = make_peer("b", server_url=srv.url)
    b.disconnect()
    a.emit("message", 1)
    assert a.expect("message-back") == (1,)
    a.assert_silent("visits")
    assert [e for e, _ in a.wire_events()] == ["auth", "message-back"]


def test_connect_timeout_closes_engineio_only_client(transport, server_factory):
    """An Engine.IO connection that never sends a Socket.IO CONNECT is
    closed after --connect-timeout (python-engineio as the client)."""
    srv = server_factory("--connect-timeout", "300")
    eio = engineio.Client(request_timeout=10, handle_sigint=False)
    closed = threading.Event()
    eio.on("disconnect", lambda reason=None: closed.set())
    transports = {"websocket": ["websocket"], "polling": ["polling"],
                  "upgrade": None}[transport]
    started = time.monotonic()
    try:
        eio.connect(srv.url, transports=transports, engineio_path="socket.io")
        assert closed.wait(WAIT), "not closed after the connect timeout"
        assert time.monotonic() - started >= 0.25
    finally:
        eio.disconnect()


# --------------------------------------------------------------------------
# Limits
# --------------------------------------------------------------------------

def test_oversized_message_closes_only_its_sender(make_peer, server_factory,
                                                  transport):
    srv = server_factory("--max-payload", "10000",
                         "--ping-interval", "300", "--ping-timeout", "200")
    a = make_peer("a", server_url=srv.url)
    assert a.expect("visits") == (1,)
    big = make_peer("big", server_url=srv.url)
    assert a.expect("visits") == (2,)
    # under the limit: fine
    big.emit("message", b"x" * 3000)
    assert big.expect("message-back") == (b"x" * 3000,)
    # over it (WebSocket: close 1009; polling: HTTP 413, which closes the
    # session): that client is gone. Over polling python-engineio reports
    # whichever of its loops notices first: the write loop's 413 ("transport
    # error") or the read loop's 400 for the closed session ("server
    # disconnect").
    big.emit("message", b"y" * 20000)
    ns, reason = big.disconnects.get(timeout=WAIT)
    expected = {"transport error"}
    if transport == "polling":
        expected.add("server disconnect")
    assert ns == "/" and reason in expected, reason
    assert a.expect("visits") == (1,)
    # every other client keeps working
    a.emit("message", "still", b"here")
    assert a.expect("message-back") == ("still", b"here")
    assert a.sio.connected and a.disconnects.empty()


@pytest.mark.parametrize("transport", ["polling"])
def test_oversized_polling_post_gets_413(make_peer, server_factory):
    srv = server_factory("--max-payload", "10000")
    a = make_peer("a", server_url=srv.url)
    sid = json.loads(handshake(srv.url).text[1:])["sid"]
    post = srv.url + f"/socket.io/?EIO=4&transport=polling&sid={sid}"
    r = requests.post(post, data="4" + "z" * 20000, timeout=WAIT,
                      headers={"Content-Type": "text/plain;charset=UTF-8"})
    assert r.status_code == 413
    # the others keep working
    a.emit("message", 1, b"\x01")
    assert a.expect("message-back") == (1, b"\x01")


# --------------------------------------------------------------------------
# Shutdown
# --------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_signal_disconnects_clients_and_exits_0(make_peer, server_factory, sig):
    srv = server_factory()
    a = make_peer("a", server_url=srv.url)
    b = make_peer("b", server_url=srv.url)
    c = make_peer("c", namespaces=["/custom"], server_url=srv.url)
    started = time.monotonic()
    srv.signal(sig)
    for p, ns in ((a, "/"), (b, "/"), (c, "/custom")):
        got_ns, reason = p.disconnects.get(timeout=2.5)
        assert got_ns == ns
        # a DISCONNECT packet or an Engine.IO CLOSE gives "server disconnect";
        # a closed transport gives "transport error"
        assert reason in ("server disconnect", "transport error"), reason
    try:
        code = srv.proc.wait(timeout=max(0.1, 2.5 - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        pytest.fail("server still running 2 s after the signal")
    assert code == 0
    assert srv.stdout_after_ready() == []  # READY was the only stdout line


# --------------------------------------------------------------------------
# Engine.IO echo (Rust host only)
# --------------------------------------------------------------------------

@pytest.mark.skipif(HOST != "rust", reason="--engineio-echo is a Rust-host flag")
def test_engineio_echo(transport, server_factory):
    srv = server_factory("--engineio-echo")
    eio = engineio.Client(request_timeout=10, handle_sigint=False)
    got = []
    arrived = threading.Event()

    def on_message(data):
        got.append(data)
        if len(got) == 4:
            arrived.set()

    eio.on("message", on_message)
    transports = {"websocket": ["websocket"], "polling": ["polling"],
                  "upgrade": None}[transport]
    try:
        eio.connect(srv.url, transports=transports, engineio_path="engine.io")
        if transport == "upgrade":
            wait_until(lambda: eio.transport() == "websocket", "upgrade")
        sent = ["text \u2713", b"\x00\x01binary\xff", "", b"\x02" * 50000]
        for m in sent:
            eio.send(m)
        assert arrived.wait(WAIT), f"echoes: {got!r}"
        # python-engineio hands each message to its own thread: compare as
        # multisets
        assert sorted(map(repr, got)) == sorted(map(repr, sent))
    finally:
        eio.disconnect()
