"""An aiohttp app serving TLS itself (``web.run_app(app, ssl_context=...)``) with rtio
attached: aiohttp frames the WebSocket (rtio cannot take an encrypted connection over) and
the core exchanges its messages; the handshake is ``secure`` (``wss``, ``https``) and an
over-the-limit message closes with the core's 1009. A self-signed certificate from the
openssl command."""

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import time

import aiohttp
import pytest
import requests
import socketio

from conftest import WAIT
from test_mount import APPS, free_port

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None,
                                reason="the openssl command makes the test certificate")


@pytest.fixture(scope="module")
def tls_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen([sys.executable, os.path.join(APPS, "aiohttp_app.py"), str(port),
                             cert, key], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    url = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"the app exited: {proc.stdout.read()}")
        try:
            if requests.get(url + "/hello", timeout=1, verify=False).status_code == 200:
                break
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the app did not answer: {proc.stdout.read()}")
        time.sleep(0.05)
    yield url
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    assert "Traceback" not in out, out


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], None],
                         ids=["websocket", "polling", "upgrade"])
def test_official_client_over_tls(tls_app, transports):
    # python-socketio's asyncio client: its threaded one reads and writes one TLS connection
    # from two threads at once, which OpenSSL does not allow (under load it loses the
    # connection: the server sees the client close it mid-exchange).
    async def exchange():
        unchecked = ssl.create_default_context()
        unchecked.check_hostname, unchecked.verify_mode = False, ssl.CERT_NONE
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=unchecked),
                                         trust_env=False) as http:
            client = socketio.AsyncSimpleClient(http_session=http, ssl_verify=False)
            await client.connect(tls_app, transports=transports, wait_timeout=WAIT)
            try:
                event, data = await client.receive(timeout=WAIT)
                assert event == "welcome"
                assert data["scheme"] == "https"  # secure reached the handshake
                big = {"n": [1, 2], "b": "x" * 3000}
                assert await client.call("echo", big, timeout=WAIT) == big
                if transports is None:
                    deadline = time.monotonic() + WAIT
                    while client.client.transport() != "websocket" and \
                            time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                assert client.client.transport() == \
                    (transports[0] if transports else "websocket")
                assert await client.call("echo", 5, timeout=WAIT) == 5
            finally:
                await client.disconnect()

    asyncio.run(exchange())


def test_a_wss_message_over_the_limit_closes_with_1009(tls_app):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    async def run():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(
                    tls_app.replace("https", "wss") + "/socket.io/?EIO=4&transport=websocket",
                    ssl=context, max_msg_size=0) as ws:
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
