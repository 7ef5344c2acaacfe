"""cors_allowed_origins and cors_credentials as python-engineio applies them: which origins
may connect (on every request, WebSocket upgrades included) and which CORS headers they get.
Real python-socketio clients sending an Origin (polling-only and WebSocket-only), and raw
HTTP where the headers are the point."""

import socket

import pytest
import requests
import socketio

import rtio

from conftest import WAIT, Client

FOREIGN = "https://evil.example"
APP = "https://app.example"
TRANSPORTS = ["polling", "websocket"]


def server(**options):
    # A short ping interval: python-engineio's polling client may miss sending its close
    # packet when disconnect() races its write loop, and then waits for the next ping.
    return rtio.Server(ping_interval=1, **options)


def connect_from(url, origin, transport):
    """A python-socketio client whose every request carries `origin`. (websocket-client
    adds an Origin of its own to the upgrade unless told not to.)"""
    return Client(url, transports=[transport], headers={"Origin": origin},
                  websocket_extra_options={"suppress_origin": True})


def refused(url, origin, transport):
    with pytest.raises(socketio.exceptions.ConnectionError):
        c = connect_from(url, origin, transport)
        c.close()


def handshake(url, origin=None, method="GET", **headers):
    if origin is not None:
        headers["Origin"] = origin
    return requests.request(method, f"{url}/socket.io/?EIO=4&transport=polling",
                            headers=headers, timeout=WAIT)


def websocket_upgrade(url, origin):
    """A raw WebSocket handshake with this Origin: (status line, body or first bytes)."""
    host, port = url.rsplit("/", 1)[-1].split(":")
    with socket.create_connection((host, int(port)), timeout=WAIT) as s:
        s.sendall((
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: {origin}\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        if status.split()[1] == "400":  # the body follows (content-length)
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            while len(body) < length:
                body += s.recv(4096)
        return status, body


def assert_not_accepted(r):
    assert r.status_code == 400
    assert r.text == '"Not an accepted origin."'


# ---------------------------------------------------------------- the default: same origin


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_default_refuses_a_foreign_origin(serve, transport):
    url = serve(server())
    refused(url, FOREIGN, transport)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_default_accepts_the_servers_own_origin_and_clients_without_one(serve, client,
                                                                        transport):
    url = serve(server())
    own = connect_from(url, url, transport)  # url is http://127.0.0.1:port, as Host says
    assert own.sio.connected
    own.close()
    plain = client(url, transports=[transport])  # no Origin at all (not a browser)
    assert plain.sio.connected


def test_default_refusal_on_every_request_raw(serve):
    url = serve(server())
    assert_not_accepted(handshake(url, FOREIGN))
    assert_not_accepted(handshake(url, FOREIGN, method="OPTIONS",
                                  **{"Access-Control-Request-Method": "POST"}))
    status, body = websocket_upgrade(url, FOREIGN)
    assert status.startswith("HTTP/1.1 400") and body == b'"Not an accepted origin."'
    # a session opened without an Origin is not reachable from a foreign one either
    sid = handshake(url).text
    sid = sid[sid.index('"sid":"') + 7:].split('"')[0]
    r = requests.get(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}",
                     headers={"Origin": FOREIGN}, timeout=WAIT)
    assert_not_accepted(r)


# ---------------------------------------------------------------- listed origins


@pytest.mark.parametrize("allowed", [APP, [APP, "https://other.example"]],
                         ids=["a string", "a list"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_listed_origins_connect_others_are_refused(serve, transport, allowed):
    url = serve(server(cors_allowed_origins=allowed))
    c = connect_from(url, APP, transport)
    assert c.sio.connected
    c.close()
    refused(url, FOREIGN, transport)


def test_listed_origin_gets_cors_headers_with_credentials(serve):
    url = serve(server(cors_allowed_origins=[APP]))
    r = handshake(url, APP)
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert r.headers["Access-Control-Allow-Credentials"] == "true"  # python-engineio's default
    pre = handshake(url, APP, method="OPTIONS", **{"Access-Control-Request-Method": "POST"})
    assert pre.status_code < 300 and pre.headers["Access-Control-Allow-Origin"] == APP
    assert_not_accepted(handshake(url, FOREIGN))
    status, _ = websocket_upgrade(url, APP)
    assert status.startswith("HTTP/1.1 101")
    status, body = websocket_upgrade(url, FOREIGN)
    assert status.startswith("HTTP/1.1 400") and body == b'"Not an accepted origin."'


def test_cors_credentials_false_sends_no_credentials_header(serve):
    url = serve(server(cors_allowed_origins=[APP], cors_credentials=False))
    r = handshake(url, APP)
    assert r.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in r.headers


# ---------------------------------------------------------------- any origin


@pytest.mark.parametrize("allowed", ["*", ["*"], [APP, "*"]])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_star_accepts_any_origin(serve, transport, allowed):
    url = serve(server(cors_allowed_origins=allowed))
    c = connect_from(url, FOREIGN, transport)
    assert c.sio.connected
    c.close()
    r = handshake(url, FOREIGN)
    assert r.headers["Access-Control-Allow-Origin"] == FOREIGN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


# ---------------------------------------------------------------- CORS handling off


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_empty_list_turns_cors_handling_off(serve, transport):
    url = serve(server(cors_allowed_origins=[]))
    c = connect_from(url, FOREIGN, transport)  # no origin check...
    assert c.sio.connected
    c.close()
    r = handshake(url, FOREIGN)  # ...and no CORS headers
    assert r.status_code == 200
    assert "Access-Control-Allow-Origin" not in r.headers
    assert "Access-Control-Allow-Credentials" not in r.headers


# ---------------------------------------------------------------- a callable


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_callable_with_origin_and_environ_decides(serve, transport):
    asked = []

    def allowed(origin, environ):
        asked.append((origin, environ.get("HTTP_ORIGIN"), environ["REQUEST_METHOD"],
                      environ["QUERY_STRING"]))
        return origin.endswith(".app.example")

    url = serve(server(cors_allowed_origins=allowed))
    good = "https://eu.app.example"
    c = connect_from(url, good, transport)
    assert c.sio.connected
    c.close()
    assert asked[0][:3] == (good, good, "GET")
    assert f"transport={transport}" in asked[0][3]
    refused(url, FOREIGN, transport)
    assert asked[-1][0] == FOREIGN


def test_callable_with_origin_only_and_headers(serve):
    url = serve(server(cors_allowed_origins=lambda origin: origin == APP,
                            cors_credentials=False))
    r = handshake(url, APP)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == APP
    assert "Access-Control-Allow-Credentials" not in r.headers
    sid = r.text[r.text.index('"sid":"') + 7:].split('"')[0]
    # the session's later requests: from its origin fine, from another refused
    poll = f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}"
    r = requests.post(poll, data="40", headers={"Origin": APP}, timeout=WAIT)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == APP
    assert_not_accepted(requests.get(poll, headers={"Origin": FOREIGN}, timeout=WAIT))
    assert_not_accepted(handshake(url, FOREIGN))
    status, body = websocket_upgrade(url, FOREIGN)
    assert status.startswith("HTTP/1.1 400") and body == b'"Not an accepted origin."'
    status, _ = websocket_upgrade(url, APP)
    assert status.startswith("HTTP/1.1 101")


def test_callable_refusing_the_servers_own_origin_is_obeyed(serve):
    url = serve(server(cors_allowed_origins=lambda origin: False))
    r = handshake(url, url)
    assert r.status_code == 400
    assert handshake(url).status_code == 200  # no Origin: nothing to check


def test_callable_that_raises_refuses_and_is_logged(serve, caplog):
    def broken(origin):
        raise RuntimeError("lookup failed")

    url = serve(server(cors_allowed_origins=broken))
    assert_not_accepted(handshake(url, APP))
    assert "lookup failed" in caplog.text


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_async_server_callable(transport):
    import asyncio
    import threading

    sio = rtio.AsyncServer(cors_allowed_origins=lambda origin: origin == APP, ping_interval=1)
    ready = threading.Event()
    box = {}

    async def main():
        box["port"] = await sio.start(port=0, host="127.0.0.1")
        box["loop"] = asyncio.get_running_loop()
        ready.set()
        await sio.wait()

    t = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    t.start()
    assert ready.wait(WAIT)
    url = f"http://127.0.0.1:{box['port']}"
    try:
        c = connect_from(url, APP, transport)
        assert c.sio.connected
        c.close()
        refused(url, FOREIGN, transport)
    finally:
        asyncio.run_coroutine_threadsafe(sio.shutdown(), box["loop"]).result(WAIT)
        t.join(WAIT)


def test_bad_cors_values_are_refused():
    with pytest.raises(TypeError, match="cors_allowed_origins"):
        rtio.Server(cors_allowed_origins=42)
    with pytest.raises(TypeError, match="cors_allowed_origins"):
        rtio.Server(cors_allowed_origins=[APP, 3])

    async def check(origin):
        return True

    with pytest.raises(TypeError, match="cors_allowed_origins"):
        rtio.Server(cors_allowed_origins=check)
