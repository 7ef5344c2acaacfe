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
