"""A FastAPI app with rtio mounted (rtio.ASGIApp), as a python-socketio app is written
with only the import changed; served by uvicorn in test_mount.py."""

from fastapi import FastAPI

import rtio as socketio

sio = socketio.AsyncServer(async_mode="asgi", max_http_buffer_size=20_000)
fastapi_app = FastAPI()
started = []


@fastapi_app.get("/hello")
async def hello():
    return {"hello": "from fastapi", "started": started}


@sio.event
async def connect(sid, environ, auth):
    await sio.emit("welcome", {"x_test": environ.get("HTTP_X_TEST"),
                               "remote": environ.get("REMOTE_ADDR"),
                               "query": environ.get("QUERY_STRING"),
                               "auth": auth,
                               # what python-socketio's environ has from the app's server
                               "host": environ["asgi.scope"]["path"]}, to=sid)


@sio.event
async def echo(sid, data):
    return data


@sio.event
async def disconnect(sid, reason):
    await sio.emit("left", {"sid": sid, "reason": reason})


@sio.event
async def shout(sid, data):
    await sio.emit("shouted", data)


app = socketio.ASGIApp(sio, fastapi_app, on_startup=lambda: started.append(True))
