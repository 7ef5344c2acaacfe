"""rtio mounted in the app's own server (issue 17): a Flask app under gunicorn's gthread
workers (rtio.WSGIApp), a FastAPI app under uvicorn (rtio.ASGIApp), an aiohttp app
(sio.attach) — each on one port with the app's own route answering beside Socket.IO, the
official python-socketio client over websocket-only, polling-only and the upgrade, and the
environ reaching the connect handler as python-socketio gives it. The WebSocket is served
three ways: gunicorn's socket taken over by fd, aiohttp's too, uvicorn's framed by uvicorn
(the core's message-level WebSocket)."""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests
import socketio

from conftest import WAIT, wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(HERE, "mounted")
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def command(kind, port):
    if kind == "gunicorn":
        return [os.path.join(BIN, "gunicorn"), "-k", "gthread", "--threads", "32", "-w", "1",
                "-b", f"127.0.0.1:{port}", "--chdir", APPS, "flask_app:app"]
    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", "--app-dir", APPS, "--host", "127.0.0.1",
                "--port", str(port), "--lifespan", "on", "fastapi_app:app"]
    return [sys.executable, os.path.join(APPS, "aiohttp_app.py"), str(port)]


HELLO = {"gunicorn": "hello from flask", "uvicorn": "from fastapi",
         "aiohttp": "hello from aiohttp"}


@pytest.fixture(scope="module", params=["gunicorn", "uvicorn", "aiohttp"])
def app_server(request):
    kind = request.param
    port = free_port()
    proc = subprocess.Popen(command(kind, port), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{kind} exited: {proc.stdout.read()}")
        try:
            if requests.get(url + "/hello", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{kind} did not answer: {proc.stdout.read()}")
        time.sleep(0.05)
    yield kind, url
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert "Traceback" not in out, out


def test_the_apps_own_route_answers_beside_socketio(app_server):
    kind, url = app_server
    r = requests.get(url + "/hello", timeout=WAIT)
    assert r.status_code == 200 and HELLO[kind] in r.text
    if kind == "uvicorn":
        assert r.json()["started"] == [True]  # ASGIApp's on_startup ran at the lifespan
    missing = requests.get(url + "/nothing-here", timeout=WAIT)
    assert missing.status_code == 404
    # the Engine.IO handshake answers on the app's port
    hs = requests.get(url + "/socket.io/?EIO=4&transport=polling", timeout=WAIT)
    assert hs.status_code == 200 and hs.text.startswith('0{"sid":'), hs.text




@pytest.mark.parametrize("transports", [["websocket"], ["polling"], None],
                         ids=["websocket", "polling", "upgrade"])
def test_official_client_on_the_apps_port(app_server, transports):
    kind, url = app_server
    client = socketio.SimpleClient()
    client.connect(url, transports=transports, headers={"X-Test": "mounted"},
                   auth={"token": 7}, wait_timeout=WAIT)
    try:
        event, data = client.receive(timeout=WAIT)
        assert event == "welcome"
        assert data["x_test"] == "mounted"
        assert data["remote"] == "127.0.0.1"
        assert "EIO=4" in data["query"]
        assert data["auth"] == {"token": 7}
        if kind == "gunicorn":  # the WSGI environ of the handshake request itself
            assert data["host"].startswith("gunicorn/"), data
        else:  # environ['asgi.scope'] / environ['aiohttp.request']
            assert data["host"] == "/socket.io/", data
        assert client.call("echo", {"n": [1, 2, 3], "b": "x" * 3000}, timeout=WAIT) == \
            {"n": [1, 2, 3], "b": "x" * 3000}
        client.emit("shout", "hey")
        assert client.receive(timeout=WAIT) == ["shouted", "hey"]
        if transports is None:
            deadline = time.monotonic() + WAIT
            while client.client.transport() != "websocket" and time.monotonic() < deadline:
                time.sleep(0.02)
        want = transports[0] if transports else "websocket"
        assert client.client.transport() == want
        # still answers after the upgrade
        assert client.call("echo", 5, timeout=WAIT) == 5
    finally:
        client.disconnect()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
def test_a_client_leaving_reaches_the_disconnect_handler(app_server, transport):
    _, url = app_server
    stay = socketio.SimpleClient()
    stay.connect(url, transports=["websocket"], wait_timeout=WAIT)
    leave = socketio.SimpleClient()
    leave.connect(url, transports=[transport], wait_timeout=WAIT)
    try:
        assert stay.receive(timeout=WAIT)[0] == "welcome"
        assert leave.receive(timeout=WAIT)[0] == "welcome"
        gone = leave.sid
        leave.disconnect()
        event, data = stay.receive(timeout=WAIT)
        assert event == "left"
        assert data["sid"] == gone
        # python-socketio's client sends its DISCONNECT and closes at once: which the
        # server sees first is a race, on rtio's own listener too
        # (its pending long-poll aborted first: "transport error", as in engine.io)
        assert data["reason"] in ("client disconnect", "transport close", "transport error")
    finally:
        stay.disconnect()


def _wsgi_get(app, path, query):
    """One GET through a WSGI app called in-process: (status, body)."""
    import io

    got = {}

    def start_response(status, headers):
        got["status"] = status

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "wsgi.input": io.BytesIO(),
               "wsgi.url_scheme": "http", "SERVER_NAME": "test", "SERVER_PORT": "80"}
    body = b"".join(app(environ, start_response))
    return got["status"], body


def test_a_stopped_mounted_server_answers_503_and_stays_stopped():
    # The first request starts rtio; one after shutdown() must not start a new rtio behind
    # the old one's back (a polling client would then get "Session ID unknown" from it
    # while the old one drains): 503 until start() is called again.
    import rtio

    sio = rtio.Server()
    app = rtio.WSGIApp(sio)
    status, body = _wsgi_get(app, "/socket.io/", "EIO=4&transport=polling")
    assert status.startswith("200") and body.startswith(b'0{"sid":'), body
    assert sio.running
    sio.shutdown()
    status, body = _wsgi_get(app, "/socket.io/", "EIO=4&transport=polling")
    assert status.startswith("503"), (status, body)
    assert not sio.running
    sio.start()
    try:
        status, body = _wsgi_get(app, "/socket.io/", "EIO=4&transport=polling")
        assert status.startswith("200") and body.startswith(b'0{"sid":'), body
    finally:
        sio.shutdown()


def test_a_polling_client_collects_its_disconnect_through_the_app_while_rtio_stops():
    # Between two long-polls when rtio stops: its next GET goes through the app to the
    # stopping rtio and brings the DISCONNECT packet (what comes after depends on how soon
    # the drain ends: the close packet, or 503 once rtio stopped).
    import rtio

    sio = rtio.Server()
    app = rtio.WSGIApp(sio)
    status, body = _wsgi_get(app, "/socket.io/", "EIO=4&transport=polling")
    sid = body[body.index(b'"sid":"') + 7:].split(b'"')[0].decode()
    import io

    def post(data):
        environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/socket.io/",
                   "QUERY_STRING": f"EIO=4&transport=polling&sid={sid}",
                   "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000",
                   "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "text/plain",
                   "wsgi.input": io.BytesIO(data), "wsgi.url_scheme": "http"}
        return b"".join(app(environ, lambda status, headers: None))

    assert post(b"40") == b"ok"
    poll = f"EIO=4&transport=polling&sid={sid}"
    status, body = _wsgi_get(app, "/socket.io/", poll)
    assert body.startswith(b"40{"), body
    stopper = threading.Thread(target=sio.shutdown)
    stopper.start()
    try:
        wait_until(lambda: not sio.running, "rtio to start stopping")
        status, body = _wsgi_get(app, "/socket.io/", poll)
        assert (status[:3], body) == ("200", b"41"), (status, body)
    finally:
        stopper.join(timeout=WAIT)
    assert not stopper.is_alive()


def test_a_websocket_message_over_the_limit_closes_with_1009(app_server):
    # max_http_buffer_size (20 000 in the apps): over it rtio closes the WebSocket with 1009
    # (message too big), as on its own listener — under uvicorn through the ASGI close
    # message, under gunicorn and aiohttp on the connection rtio took over.
    import asyncio

    import aiohttp

    _, url = app_server

    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url + "/socket.io/?EIO=4&transport=websocket",
                                          max_msg_size=0) as ws:
                opened = await ws.receive(timeout=WAIT)
                assert opened.type == aiohttp.WSMsgType.TEXT and opened.data.startswith("0{")
                await ws.send_str("40")
                joined = await ws.receive(timeout=WAIT)
                assert joined.data.startswith("40{"), joined.data
                await ws.send_str('42["echo","' + "x" * 20_100 + '"]')
                while True:
                    msg = await ws.receive(timeout=WAIT)
                    if msg.type == aiohttp.WSMsgType.CLOSE:
                        return msg.data  # the code of the server's close frame
                    assert msg.type != aiohttp.WSMsgType.CLOSED, "closed without a close frame"
                    assert msg.type == aiohttp.WSMsgType.TEXT, msg  # (the welcome event)

    assert asyncio.run(run()) == 1009
