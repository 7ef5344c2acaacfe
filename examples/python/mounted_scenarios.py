"""The Python scenarios server mounted in an app's own web server (issue 17): the same
scenarios as scenarios_server.py, with rtio mounted the way a python-socketio app mounts
it, so that the interop suites run against each setup:

- ``--mount gunicorn``: ``rtio.WSGIApp`` under gunicorn's gthread worker (rtio.Server);
- ``--mount uvicorn``: ``rtio.ASGIApp`` under uvicorn (rtio.AsyncServer);
- ``--mount aiohttp``: ``sio.attach(app)`` on an aiohttp app (rtio.AsyncServer).

Each app also answers ``GET /app`` itself (its own route beside Socket.IO). Prints
``READY <port>`` once listening; stops on SIGTERM. With ``--tls-cert``/``--tls-key``, uvicorn
and aiohttp serve HTTPS and WSS themselves (the app's server does TLS, as in any app).
"""

import asyncio
import os
import signal
import socket
import sys

from scenarios_server import WEB

APP_TEXT = "the app's own route"


def listen(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    return sock


def ready(port):
    print(f"READY {port}", flush=True)


def ssl_context(args):
    """The server-side TLS context of --tls-cert/--tls-key, or None."""
    if args.tls_cert is None:
        return None
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return ctx


def run_gunicorn(args, sock):
    from gunicorn.app.base import BaseApplication

    import rtio
    from scenarios_server import build

    sio = build(args)

    def app_route(environ, start_response):
        if environ.get("PATH_INFO") == "/app":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [APP_TEXT.encode()]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"Not Found"]

    wsgi = rtio.WSGIApp(sio, app_route, static_files={"/": str(WEB)})
    port = sock.getsockname()[1]  # (gunicorn owns the socket once it runs)

    def when_ready(_arbiter):
        ready(port)

    os.set_inheritable(sock.fileno(), True)

    class App(BaseApplication):
        def load_config(self):
            for key, value in {
                "bind": [f"fd://{sock.fileno()}"], "worker_class": "gthread",
                "workers": 1, "threads": 256, "graceful_timeout": 2, "timeout": 0,
                "loglevel": "warning", "keepalive": 5,
                "when_ready": when_ready,
                # rtio stops first on the worker's stop signals (clients get their
                # disconnect), then the worker ends
                "post_worker_init": rtio.gunicorn_post_worker_init,
            }.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    App().run()


def run_uvicorn(args, sock):
    import uvicorn

    import async_scenarios
    import rtio

    sio = async_scenarios.build(args)

    async def app_route(scope, receive, send):
        if scope["type"] != "http":
            return
        ok = scope["path"] == "/app"
        await send({"type": "http.response.start", "status": 200 if ok else 404,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body",
                    "body": APP_TEXT.encode() if ok else b"Not Found"})

    app = rtio.ASGIApp(sio, app_route, static_files={"/": str(WEB)})

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # uvicorn stops listening, then waits for the requests in flight (long-polls)
            # before the lifespan shutdown: stop rtio first, while uvicorn still serves
            # the requests that carry the clients' disconnect, then let uvicorn end.
            loop = asyncio.get_event_loop()

            async def stop():
                await sio.shutdown()
                # (not uvicorn's handle_exit: it would re-raise the signal at the end, and
                # the process would end by it instead of exiting 0)
                self.should_exit = True
            loop.call_soon_threadsafe(lambda: loop.create_task(stop()))

    server = Server(uvicorn.Config(app, lifespan="on", log_level="warning",
                                   timeout_graceful_shutdown=2,
                                   # uvicorn frames the WebSockets: permessage-deflate is
                                   # its option (on by default in uvicorn, off in socket.io)
                                   ws_per_message_deflate=args.per_message_deflate,
                                   # --tls-cert/--tls-key: uvicorn serves HTTPS and WSS
                                   ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key))
    ready(sock.getsockname()[1])
    server.run(sockets=[sock])


def run_aiohttp(args, sock):
    from aiohttp import web

    import async_scenarios

    sio = async_scenarios.build(args)
    app = web.Application()
    sio.attach(app)

    async def app_route(request):
        return web.Response(text=APP_TEXT)

    async def index(request):
        return web.FileResponse(WEB / "index.html")

    app.router.add_get("/app", app_route)
    app.router.add_get("/", index)
    app.router.add_static("/", str(WEB))
    async def serve():
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2)
        await runner.setup()
        await web.SockSite(runner, sock, ssl_context=ssl_context(args)).start()
        ready(sock.getsockname()[1])
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stopping.set)
        await stopping.wait()
        # rtio first, while aiohttp still serves the requests that carry the clients'
        # disconnect (aiohttp stops listening before its app's shutdown)
        await sio.shutdown()
        await runner.cleanup()

    asyncio.run(serve())


def main(args):
    sock = listen(args.port)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    {"gunicorn": run_gunicorn, "uvicorn": run_uvicorn, "aiohttp": run_aiohttp}[args.mount](
        args, sock)
    return 0


if __name__ == "__main__":
    sys.exit("run it as scenarios_server.py --mount gunicorn|uvicorn|aiohttp")
