"""rtio mounted in the app's own server (issue 17): a Flask app under gunicorn's gthread
workers (rtio.WSGIApp), a FastAPI app under uvicorn (rtio.ASGIApp), an aiohttp app
(sio.attach) — each on one port with the app's own route answering beside Socket.IO, the
official python-socketio client over websocket-only, polling-only and the upgrade, and the
environ reaching the connect handler as python-socketio gives it."""

import os
import socket
import subprocess
import sys
import time

import pytest
import requests
import socketio

from conftest import WAIT

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


# which transport a client that may upgrade ends on: the WebSocket where the server gives
# rtio the socket (gunicorn, aiohttp); polling under ASGI until the core's message-level
# WebSocket lands
UPGRADED = {"gunicorn": "websocket", "uvicorn": "polling", "aiohttp": "websocket"}


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], None],
                         ids=["websocket", "polling", "upgrade"])
def test_official_client_on_the_apps_port(app_server, transports):
    kind, url = app_server
    if kind == "uvicorn" and transports == ["websocket"]:
        client = socketio.Client(reconnection=False, handle_sigint=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(url, transports=["websocket"], wait_timeout=WAIT)
        return
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
        assert client.call("echo", {"n": [1, 2, 3], "b": "x" * 3000}, timeout=WAIT) == \
            {"n": [1, 2, 3], "b": "x" * 3000}
        client.emit("shout", "hey")
        assert client.receive(timeout=WAIT) == ["shouted", "hey"]
        if transports is None:
            deadline = time.monotonic() + WAIT
            while client.client.transport() != UPGRADED[kind] and time.monotonic() < deadline:
                time.sleep(0.02)
        want = transports[0] if transports else UPGRADED[kind]
        assert client.client.transport() == want
        # still answers after the upgrade (or the refused one)
        assert client.call("echo", 5, timeout=WAIT) == 5
    finally:
        client.disconnect()
