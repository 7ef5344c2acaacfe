"""python-socketio's documented server code, with only the import changed, served by rtio
and driven by the official python-socketio client."""

import importlib

import pytest
import socketio

from conftest import WAIT, Client, wait_until


@pytest.fixture
def app(serve):
    docs_app = importlib.import_module("docs_app")
    url = serve(docs_app.sio)
    return docs_app, url


def test_docs_app(app, client):
    docs_app, url = app
    auth = {"token": "letmein", "username": "ann"}
    a = client(url, namespaces=["/", "/test"], auth=auth,
               handlers={("question", "/"): lambda q: f"answer to {q}"})
    b = client(url, auth={"token": "letmein", "username": "bob"})

    # emit to a room, skipping the sender, with the session's user name
    a.sio.emit("my_message", "hello")
    assert b.expect("my reply") == ({"from": "ann", "data": "hello"},)
    a.silent("my reply")

    # a tuple return value is a multi-argument ack
    assert a.sio.call("my custom event", {}, timeout=WAIT) == ("OK", 123)
    # the catch-all handler
    assert a.sio.call("nobody handles this", 1, timeout=WAIT) == "unhandled nobody handles this"

    # leaving and re-entering the room
    b.sio.emit("exit_chat")
    assert b.sio.call("my custom event", {}, timeout=WAIT) == ("OK", 123)
    a.sio.emit("my_message", "gone?")
    b.silent("my reply")
    b.sio.emit("begin_chat")
    assert b.sio.call("my custom event", {}, timeout=WAIT) == ("OK", 123)
    a.sio.emit("my_message", "back")
    assert b.expect("my reply") == ({"from": "ann", "data": "back"},)

    # acks from the client: emit(callback=) and call()
    assert a.sio.call("ask_client", timeout=WAIT) == "answer to second?"
    assert a.expect("callback got") == ("answer to first?",)

    # the class-based namespace
    a.sio.emit("my_event", {"x": 1}, namespace="/test")
    assert a.expect("my_response", ns="/test") == ({"x": 1},)


def test_docs_app_refuses_bad_credentials(app):
    docs_app, url = app
    c = Client(url, connect=False)
    try:
        try:
            c.sio.connect(url, auth={"token": "wrong"}, wait_timeout=WAIT)
        except socketio.exceptions.ConnectionError:
            # refused before connecting (once the core tells connect requests' sids)
            assert c.connect_errors.get(timeout=WAIT)[1]["message"] == "authentication failed"
        # with the current core the connect handler runs right after accepting, so the
        # refusal is a server disconnect (docs/python.md, "Connection refusal")
        wait_until(lambda: docs_app.sio.stats("/")["sockets"] == 0, "the refused socket gone")
    finally:
        c.close()
