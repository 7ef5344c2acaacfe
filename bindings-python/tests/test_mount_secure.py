"""``secure`` (the app's server terminated TLS) from each mount reaches the core's handshake:
the connect handler's ``environ['wsgi.url_scheme']`` is ``'https'``, as python-socketio's
WSGI environ has it. The apps are called in-process with what each server would pass
(WSGI environ, ASGI scope, aiohttp request); no TLS server is needed. Also: the ASGI
lifespan starts rtio again after a shutdown."""

import asyncio
import io

import pytest

import rtio

from conftest import WAIT

HANDSHAKE = "EIO=4&transport=polling"


def sid_of(body):
    text = body.decode() if isinstance(body, bytes) else body
    assert text.startswith('0{"sid":"'), text
    return text[len('0{"sid":"'):].split('"')[0]


# ------------------------------------------------------------------ WSGI
def wsgi_call(app, method, query, scheme, body=b""):
    got = {}
    environ = {"REQUEST_METHOD": method, "PATH_INFO": "/socket.io/", "QUERY_STRING": query,
               "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50000", "wsgi.url_scheme": scheme,
               "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
               "CONTENT_TYPE": "text/plain", "SERVER_NAME": "test", "SERVER_PORT": "443"}
    out = b"".join(app(environ, lambda status, headers: got.setdefault("status", status)))
    return got["status"], out


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_wsgi_url_scheme_https_is_secure(scheme):
    sio = rtio.Server()
    seen = []

    @sio.event
    def connect(sid, environ, auth):
        seen.append((environ["wsgi.url_scheme"],
                     sio._openings[sid].native.environ()["wsgi.url_scheme"]))

    app = rtio.WSGIApp(sio)
    try:
        status, body = wsgi_call(app, "GET", HANDSHAKE, scheme)
        sid = sid_of(body)
        assert wsgi_call(app, "POST", f"{HANDSHAKE}&sid={sid}", scheme, b"40")[1] == b"ok"
        status, body = wsgi_call(app, "GET", f"{HANDSHAKE}&sid={sid}", scheme)
        assert body.startswith(b"40{"), body
        # the WSGI environ itself, and what the core's handshake says (secure)
        assert seen == [(scheme, scheme)]
    finally:
        sio.shutdown()


# ------------------------------------------------------------------ ASGI
async def asgi_call(app, method, query, scheme, body=b""):
    sent = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        if messages:
            return messages.pop()
        await asyncio.sleep(3600)  # (the client stays)

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/socket.io/", "raw_path": b"/socket.io/",
             "query_string": query.encode(), "headers": [(b"host", b"example.com")],
             "client": ("127.0.0.1", 50000), "scheme": scheme, "asgi": {"version": "3.0"}}
    await asyncio.wait_for(app(scope, receive, send), WAIT)
    return sent[0]["status"], sent[1]["body"]


@pytest.mark.parametrize("scheme,want", [("https", "https"), ("http", "http")])
def test_asgi_scheme_https_is_secure(scheme, want):
    sio = rtio.AsyncServer(async_mode="asgi")
    seen = []

    @sio.event
    async def connect(sid, environ, auth):
        seen.append((environ["wsgi.url_scheme"], environ["asgi.scope"]["scheme"]))

    app = rtio.ASGIApp(sio)

    async def run():
        try:
            status, body = await asgi_call(app, "GET", HANDSHAKE, scheme)
            sid = sid_of(body)
            assert (await asgi_call(app, "POST", f"{HANDSHAKE}&sid={sid}", scheme,
                                    b"40"))[1] == b"ok"
            status, body = await asgi_call(app, "GET", f"{HANDSHAKE}&sid={sid}", scheme)
            assert body.startswith(b"40{"), body
        finally:
            await sio.shutdown()

    asyncio.run(run())
    assert seen == [(want, scheme)]


def test_asgi_wss_scheme_is_secure():
    from rtio.mount import asgi_secure

    assert asgi_secure({"scheme": "wss"}) and asgi_secure({"scheme": "https"})
    assert not asgi_secure({"scheme": "ws"}) and not asgi_secure({"scheme": "http"})
    assert not asgi_secure({})


# ------------------------------------------------------------------ aiohttp
class _Body:
    def __init__(self, data):
        self.data = data

    async def read(self, n=-1):
        data, self.data = self.data, b""
        return data


@pytest.mark.parametrize("tls", [True, False], ids=["https", "http"])
def test_aiohttp_request_secure_is_secure(tls):
    import ssl

    from aiohttp import web
    from aiohttp.test_utils import make_mocked_request

    sio = rtio.AsyncServer(async_mode="aiohttp")
    seen = []

    @sio.event
    async def connect(sid, environ, auth):
        seen.append((environ["wsgi.url_scheme"], environ["aiohttp.request"].secure))

    app = web.Application()
    sio.attach(app)
    context = ssl.create_default_context() if tls else None

    async def call(method, query, body=b""):
        request = make_mocked_request(method, f"/socket.io/?{query}", app=app,
                                      sslcontext=context, payload=_Body(body))
        response = await asyncio.wait_for(sio.handle_request(request), WAIT)
        return response.status, response.body

    async def run():
        try:
            status, body = await call("GET", HANDSHAKE)
            sid = sid_of(body)
            assert (await call("POST", f"{HANDSHAKE}&sid={sid}", b"40"))[1] == b"ok"
            status, body = await call("GET", f"{HANDSHAKE}&sid={sid}")
            assert body.startswith(b"40{"), body
        finally:
            await sio.shutdown()

    asyncio.run(run())
    assert seen == [("https" if tls else "http", tls)]


def test_asgi_lifespan_starts_rtio_again_after_a_shutdown():
    # (a test client used twice on one app: each lifespan startup serves again, while a
    # request after the shutdown, without a new startup, gets 503)
    sio = rtio.AsyncServer(async_mode="asgi")
    app = rtio.ASGIApp(sio)

    async def lifespan_cycle():
        inbox = asyncio.Queue()
        sent = []

        async def send(message):
            sent.append(message["type"])

        task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                         inbox.get, send))
        await inbox.put({"type": "lifespan.startup"})
        while "lifespan.startup.complete" not in sent:
            assert not task.done(), sent
            await asyncio.sleep(0.01)
        status, body = await asgi_call(app, "GET", HANDSHAKE, "http")
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, WAIT)
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        return status, body

    async def run():
        for _ in range(2):
            status, body = await lifespan_cycle()
            assert status == 200 and body.startswith(b'0{"sid":'), body
            assert not sio.running
            assert (await asgi_call(app, "GET", HANDSHAKE, "http"))[0] == 503

    asyncio.run(run())
