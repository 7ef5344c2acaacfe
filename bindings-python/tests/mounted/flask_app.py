"""A Flask app with rtio mounted (rtio.WSGIApp), as a python-socketio app is written with
only the import changed; served by gunicorn's gthread workers in test_mount.py."""

from flask import Flask

import rtio as socketio

sio = socketio.Server(max_http_buffer_size=20_000)
flask_app = Flask(__name__)


@flask_app.route("/hello")
def hello():
    return "hello from flask"


@sio.event
def connect(sid, environ, auth):
    sio.emit("welcome", {"x_test": environ.get("HTTP_X_TEST"),
                         "remote": environ.get("REMOTE_ADDR"),
                         "query": environ.get("QUERY_STRING"),
                         "auth": auth,
                         # what python-socketio's environ has from the app's server
                         "host": environ.get("SERVER_SOFTWARE")}, to=sid)


@sio.event
def echo(sid, data):
    return data


@sio.event
def disconnect(sid, reason):
    sio.emit("left", {"sid": sid, "reason": reason})


@sio.event
def shout(sid, data):
    sio.emit("shouted", data)


app = socketio.WSGIApp(sio, flask_app)
