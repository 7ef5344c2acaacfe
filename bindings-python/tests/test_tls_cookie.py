"""Issue 19's TLS and session cookie on the Python host.

- ``cookie=``: python-engineio's argument (a name, or a dict of attributes) becomes the core's
  session cookie, set on the polling handshake as python-engineio sets it (compared with
  python-engineio's own answer); bad values are refused at construction, clearly.
- ``ssl_certfile=`` / ``ssl_keyfile=`` (uvicorn's names) on ``start`` / ``run`` / ``serve``:
  rtio's own listener serves HTTPS and WSS with those PEM files (official python-socketio
  client over both transports, the handshake's ``wsgi.url_scheme`` ``https``);
  ``reload_tls()`` takes a renewed certificate for new connections.
"""

import asyncio
import json
import shutil
import ssl
import subprocess
import time

import aiohttp
import pytest
import requests
import socketio

import rtio
from conftest import WAIT, Client

SERVERS = [rtio.Server, rtio.AsyncServer]
HANDSHAKE = "/socket.io/?EIO=4&transport=polling"


# ------------------------------------------------------------------------------ cookie

@pytest.mark.parametrize("cookie,expected", [
    (None, None),
    ("sticky", {"name": "sticky", "path": "/", "http_only": False, "same_site": "Lax"}),
    ({"name": "lb"}, {"name": "lb", "path": None, "http_only": False, "same_site": None}),
    ({}, {"name": "io", "path": None, "http_only": False, "same_site": None}),
    ({"name": "io", "Path": "/app", "HttpOnly": True, "SameSite": "strict"},
     {"name": "io", "path": "/app", "http_only": True, "same_site": "Strict"}),
    ({"name": "x", "path": "/", "httponly": False, "samesite": "None"},
     {"name": "x", "path": "/", "http_only": False, "same_site": "None"}),
], ids=["none", "a name", "a dict, name only", "an empty dict", "capitalised attributes",
        "lower-case attributes"])
@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_cookie_maps_onto_the_core_cookie(cls, cookie, expected):
    assert cls(cookie=cookie)._options["cookie"] == expected


@pytest.mark.parametrize("cookie,error,match", [
    (42, TypeError, "cookie must be a name"),
    (["io"], TypeError, "cookie must be a name"),
    ("a b", ValueError, "not a valid cookie name"),
    ("", ValueError, "not a valid cookie name"),
    ({"name": "io=1"}, ValueError, "not a valid cookie name"),
    ({"name": 7}, ValueError, "not a valid cookie name"),
    ({"path": "/a;b"}, ValueError, "cookie path"),
    ({"path": True}, ValueError, "cookie path"),
    ({"samesite": "sometimes"}, ValueError, "'Strict', 'Lax' or 'None'"),
    ({"samesite": True}, ValueError, "'Strict', 'Lax' or 'None'"),
    ({"httponly": "yes"}, TypeError, "True or False"),
    ({"secure": True}, NotImplementedError, "'secure'"),
    ({"domain": "a.example"}, NotImplementedError, "'domain'"),
    ({"max-age": "60"}, NotImplementedError, "'max-age'"),
    ({"expires": lambda: "Thu, 01 Jan 2099 00:00:00 GMT"}, NotImplementedError, "callable"),
])
@pytest.mark.parametrize("cls", SERVERS, ids=["Server", "AsyncServer"])
def test_bad_cookies_are_refused_at_construction(cls, cookie, error, match):
    with pytest.raises(error, match=match):
        cls(cookie=cookie)


def parsed(set_cookie):
    """A Set-Cookie value as (name, value, {attribute (lower case): value}), sid hidden."""
    first, *attributes = [part.strip() for part in set_cookie.split(";")]
    name, _, _sid = first.partition("=")
    attrs = {}
    for a in attributes:
        key, _, value = a.partition("=")
        attrs[key.lower()] = value.lower() if key.lower() == "samesite" else value
    return name, attrs


def engineio_set_cookie(cookie):
    """What python-engineio itself answers a polling handshake with (its WSGI app, called
    directly): the Set-Cookie value, or None."""
    sio = socketio.Server(cookie=cookie)
    got = {}

    def start_response(status, headers):
        got["status"] = status
        got["headers"] = headers

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/socket.io/",
               "QUERY_STRING": "EIO=4&transport=polling", "wsgi.url_scheme": "http",
               "HTTP_HOST": "127.0.0.1", "wsgi.input": None}
    socketio.WSGIApp(sio)(environ, start_response)
    assert got["status"].startswith("200"), got
    values = [v for k, v in got["headers"] if k.lower() == "set-cookie"]
    return values[0] if values else None


@pytest.mark.parametrize("cookie", [
    "sticky",
    {"name": "lb"},
    {"name": "io", "path": "/", "httponly": True, "samesite": "Lax"},
    {"name": "app", "Path": "/app", "SameSite": "Strict"},
], ids=["a name", "a dict, name only", "engine.io's attributes", "capitalised attributes"])
def test_the_handshake_sets_the_cookie_python_engineio_sets(serve, cookie):
    expected = engineio_set_cookie(cookie)
    assert expected is not None
    url = serve(rtio.Server(cookie=cookie))
    res = requests.get(url + HANDSHAKE, timeout=WAIT)
    assert res.status_code == 200
    sid = json.loads(res.text[1:])["sid"]
    got = res.headers["set-cookie"]
    assert got.split(";")[0] == f"{parsed(expected)[0]}={sid}"
    assert parsed(got) == parsed(expected)
    # the requests of the session that follow set nothing more
    post = requests.post(f"{url}{HANDSHAKE}&sid={sid}", data="40", timeout=WAIT)
    assert post.status_code == 200 and "set-cookie" not in post.headers


def test_no_cookie_by_default(serve):
    res = requests.get(serve(rtio.Server()) + HANDSHAKE, timeout=WAIT)
    assert res.status_code == 200 and "set-cookie" not in res.headers


# ------------------------------------------------------------------------------ TLS

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None,
                                   reason="the openssl command makes the test certificate")


def make_certificate(cert, key, cn="127.0.0.1"):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)


@pytest.fixture
def certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_certificate(cert, key)
    return cert, key


def served_certificate(port):
    """The PEM certificate the server presents to a new connection."""
    return ssl.get_server_certificate(("127.0.0.1", port))


def same_certificate(pem_a, pem_b):
    return ssl.PEM_cert_to_DER_cert(pem_a) == ssl.PEM_cert_to_DER_cert(pem_b)


def secure_server(scheme):
    sio = rtio.Server(async_handlers=False)

    @sio.event
    def connect(sid, environ, auth):
        scheme.append(environ["wsgi.url_scheme"])

    @sio.event
    def echo(sid, data):
        return data

    return sio


@needs_openssl
@pytest.mark.parametrize("transports", [["polling"], ["websocket"], ["polling", "websocket"]],
                         ids=["polling", "websocket", "upgrade"])
def test_the_official_client_over_https_and_wss(certificate, transports):
    cert, key = certificate
    scheme = []
    sio = secure_server(scheme)
    port = sio.start(port=0, host="127.0.0.1", ssl_certfile=cert, ssl_keyfile=key)

    # python-socketio's asyncio client: its threaded one reads and writes one TLS connection
    # from two threads at once, which OpenSSL does not allow (under load it loses the
    # connection: the server sees the client close it mid-exchange).
    async def exchange():
        trusted = ssl.create_default_context(cafile=str(cert))  # checked, not unchecked
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted),
                                         trust_env=False) as http:
            c = socketio.AsyncClient(reconnection=False, http_session=http, ssl_verify=True)
            await c.connect(f"https://127.0.0.1:{port}", transports=transports,
                            wait_timeout=WAIT)
            try:
                if "websocket" in transports:
                    deadline = time.monotonic() + WAIT
                    while c.transport() != "websocket" and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    assert c.transport() == "websocket"
                assert await c.call("echo", {"over": "tls"}, timeout=WAIT) == {"over": "tls"}
                assert scheme == ["https"]
            finally:
                await c.disconnect()

    try:
        asyncio.run(exchange())
        # plain HTTP on the TLS port gets no Engine.IO answer
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{port}{HANDSHAKE}", timeout=WAIT)
    finally:
        sio.shutdown()


@needs_openssl
def test_reload_tls_takes_a_renewed_certificate_for_new_connections(certificate, tmp_path):
    cert, key = certificate
    sio = rtio.Server()
    port = sio.start(port=0, host="127.0.0.1", ssl_certfile=str(cert), ssl_keyfile=str(key))
    try:
        first = cert.read_text()
        assert same_certificate(served_certificate(port), first)
        make_certificate(cert, key, cn="renewed")
        assert same_certificate(served_certificate(port), first)  # not re-read by itself
        sio.reload_tls()
        assert same_certificate(served_certificate(port), cert.read_text())
        assert not same_certificate(cert.read_text(), first)
        # unusable files: a ValueError naming the file, and the certificate in use stays
        renewed = cert.read_text()
        cert.write_text("not a certificate")
        with pytest.raises(ValueError, match="cert.pem"):
            sio.reload_tls()
        assert same_certificate(served_certificate(port), renewed)
    finally:
        sio.shutdown()


def test_reload_tls_without_tls_is_an_error(serve):
    sio = rtio.Server()
    serve(sio)
    with pytest.raises(ValueError, match="no TLS"):
        sio.reload_tls()


@needs_openssl
def test_bad_tls_arguments_are_clear_errors(certificate, tmp_path):
    cert, key = certificate
    sio = rtio.Server()
    with pytest.raises(ValueError, match="go together"):
        sio.start(port=0, host="127.0.0.1", ssl_certfile=cert)
    with pytest.raises(ValueError, match="go together"):
        sio.start(port=0, host="127.0.0.1", ssl_keyfile=key)
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError, match="missing.pem"):
        sio.start(port=0, host="127.0.0.1", ssl_certfile=missing, ssl_keyfile=key)
    (tmp_path / "empty.pem").write_text("")
    with pytest.raises(ValueError, match="empty.pem"):
        sio.start(port=0, host="127.0.0.1", ssl_certfile=tmp_path / "empty.pem",
                  ssl_keyfile=key)
    with pytest.raises(ValueError, match="cert.pem"):  # a certificate is no key
        sio.start(port=0, host="127.0.0.1", ssl_certfile=cert, ssl_keyfile=cert)
    assert not sio.running
    # after those, the same server starts with good files
    port = sio.start(port=0, host="127.0.0.1", ssl_certfile=cert, ssl_keyfile=key)
    try:
        assert same_certificate(served_certificate(port), cert.read_text())
    finally:
        sio.shutdown()


def test_tls_files_are_for_rtios_own_listener_not_a_mounted_server(certificate):
    cert, key = certificate
    sio = rtio.Server()
    rtio.WSGIApp(sio)  # mounted: the app's server listens
    with pytest.raises(ValueError, match="mounted"):
        sio.start(port=0, host="127.0.0.1", ssl_certfile=cert, ssl_keyfile=key)


@needs_openssl
def test_async_server_serves_tls_with_cookie(certificate):
    cert, key = certificate

    async def main():
        sio = rtio.AsyncServer(cookie="sticky")
        schemes = []

        @sio.event
        async def connect(sid, environ, auth):
            schemes.append(environ["wsgi.url_scheme"])

        @sio.event
        async def echo(sid, data):
            return data

        port = await sio.start(port=0, host="127.0.0.1", ssl_certfile=cert, ssl_keyfile=key)
        serving = asyncio.ensure_future(sio.serve())
        try:
            ctx = ssl.create_default_context(cafile=str(cert))
            import aiohttp

            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx)) as http:
                async with http.get(f"https://127.0.0.1:{port}{HANDSHAKE}") as res:
                    assert res.status == 200
                    assert res.headers["set-cookie"].startswith("sticky=")
                    assert "SameSite=Lax" in res.headers["set-cookie"]
                client = socketio.AsyncClient(reconnection=False, http_session=http)
                await client.connect(f"https://127.0.0.1:{port}", transports=["polling"],
                                     wait_timeout=WAIT)
                try:
                    answer = await asyncio.wait_for(client.call("echo", [1, "x"]), WAIT)
                    assert answer == [1, "x"]
                finally:
                    await client.disconnect()
            assert schemes == ["https"]
        finally:
            await sio.shutdown()
            await asyncio.wait_for(serving, WAIT)

    asyncio.run(main())
