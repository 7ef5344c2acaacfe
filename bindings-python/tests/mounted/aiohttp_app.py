"""An aiohttp app with rtio attached (sio.attach(app)), as a python-socketio app is written
with only the import changed; `python aiohttp_app.py PORT [CERTFILE KEYFILE]` (test_mount.py;
with a certificate over TLS, test_mount_tls.py)."""

import ssl
import sys

from aiohttp import web

import rtio as socketio

sio = socketio.AsyncServer(async_mode="aiohttp", max_http_buffer_size=20_000)
app = web.Application()
sio.attach(app)


async def hello(request):
    return web.Response(text="hello from aiohttp")

app.router.add_get("/hello", hello)


@sio.event
async def connect(sid, environ, auth):
    await sio.emit("welcome", {"x_test": environ.get("HTTP_X_TEST"),
                               "remote": environ.get("REMOTE_ADDR"),
                               "query": environ.get("QUERY_STRING"),
                               "auth": auth,
                               "scheme": environ.get("wsgi.url_scheme"),
                               # what python-socketio's environ has from the app's server
                               "host": environ["aiohttp.request"].path}, to=sid)


@sio.event
async def echo(sid, data):
    return data


@sio.event
async def disconnect(sid, reason):
    await sio.emit("left", {"sid": sid, "reason": reason})


@sio.event
async def shout(sid, data):
    await sio.emit("shouted", data)


if __name__ == "__main__":
    context = None
    if len(sys.argv) > 3:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), ssl_context=context,
                print=None)
