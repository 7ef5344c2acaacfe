"""rtio.Server (sync API) against the official python-socketio client."""

import gc
import logging
import threading

import pytest
import socketio

import rtio
from rtio import _native

from conftest import WAIT, Client, Recorder, wait_until  # noqa: F401


def test_connect_gets_sid_environ_and_auth(serve, client):
    sio = rtio.Server()
    seen = Recorder()

    @sio.event
    def connect(sid, environ, auth):
        seen(sid, environ, auth)

    url = serve(sio)
    c = client(url, auth={"token": "t", "n": [1, 2]}, headers={"X-Custom": "yes"})
    sid, environ, auth = seen.get()
    assert sid == c.sid
    assert auth == {"token": "t", "n": [1, 2]}
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["REQUEST_METHOD"] == "GET"
    assert environ["PATH_INFO"] == "/socket.io/"
    assert "EIO=4" in environ["QUERY_STRING"]
    assert environ["HTTP_X_CUSTOM"] == "yes"
    assert sio.get_environ(sid) is environ


def test_environ_is_one_dict_whose_changes_are_kept(serve, client):
    # The server keeps the handshake, not the dict: the dict must still behave as the one
    # python-socketio keeps (changes made in the connect handler survive it).
    sio = rtio.Server()
    seen = Recorder()

    @sio.event
    def connect(sid, environ, auth):
        environ["app.user"] = "ada"
        seen(sid)

    @sio.on("connect", namespace="/plain")
    def plain_connect(sid, environ, auth):
        seen(sid, environ["REMOTE_ADDR"])

    url = serve(sio)
    client(url)
    (sid,) = seen.get()
    gc.collect()
    assert sio.get_environ(sid)["app.user"] == "ada"
    assert sio.get_environ(sid) is sio.get_environ(sid)

    client(url, namespaces=["/plain"])
    plain_sid, addr = seen.get()
    gc.collect()
    environ = sio.get_environ(plain_sid)
    assert environ["REMOTE_ADDR"] == addr == "127.0.0.1"
    assert "app.user" not in environ
    assert sio.get_environ(plain_sid) is environ  # the same while someone holds it
    environ.setdefault("later", 1)
    del environ
    gc.collect()
    assert sio.get_environ(plain_sid)["later"] == 1


def test_connect_handler_without_auth_argument(serve, client):
    sio = rtio.Server()
    seen = Recorder()

    @sio.event
    def connect(sid, environ):  # the older python-socketio signature
        seen(sid)

    c = client(serve(sio))
    assert seen.get() == (c.sid,)


def test_no_auth_is_none(serve, client):
    sio = rtio.Server()
    seen = Recorder()
    sio.on("connect", lambda sid, environ, auth: seen(auth))
    client(serve(sio))
    assert seen.get() == (None,)


@pytest.mark.parametrize("how", ["return-false", "raise", "raise-with-data"])
def test_connect_refusal(serve, how):
    sio = rtio.Server()
    disconnects = Recorder()

    @sio.event
    def connect(sid, environ, auth):
        if how == "return-false":
            return False
        if how == "raise":
            raise rtio.exceptions.ConnectionRefusedError("unauthorized")
        raise rtio.exceptions.ConnectionRefusedError("unauthorized", {"retry": False})

    sio.on("disconnect", lambda sid, reason: disconnects(sid, reason))
    url = serve(sio)
    if _native.CONNECT_REQUEST_HAS_SID:
        c = Client(url, connect=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            c.sio.connect(url, wait_timeout=WAIT)
        ns, data = c.connect_errors.get(timeout=WAIT)
        expected = "Connection rejected by server" if how == "return-false" else "unauthorized"
        assert data["message"] == expected
    else:
        # Until the core tells the socket id with connect requests, the handler runs right
        # after accepting, and a refusal disconnects (python-socketio's always_connect=True).
        # (The sync client may see the DISCONNECT before its own CONNECT: check the server.)
        c = Client(url)
        wait_until(lambda: sio.stats("/")["sockets"] == 0, "the refused socket is gone")
        c.close()
    # a refused client never reaches the disconnect handler
    disconnects.empty_after()


def test_handler_return_value_is_the_ack(serve, client):
    sio = rtio.Server()
    sio.on("one", lambda sid, x: x * 2)
    sio.on("many", lambda sid, *args: tuple(reversed(args)))
    sio.on("none", lambda sid: None)
    c = client(serve(sio))
    assert c.sio.call("one", 21, timeout=WAIT) == 42
    assert c.sio.call("many", (1, "b", None), timeout=WAIT) == (None, "b", 1)
    assert c.sio.call("none", timeout=WAIT) is None


def test_binary_both_ways_nested_anywhere(serve, client):
    sio = rtio.Server()

    @sio.event
    def blob(sid, data):
        assert isinstance(data["raw"], bytes)
        sio.emit("blob-back", {"list": [bytearray(b"\x01\x02"), memoryview(b"mv")],
                               "raw": data["raw"], "n": 1}, to=sid)
        return data["raw"][::-1], [b"", {"deep": b"\xff"}]

    c = client(serve(sio))
    ack = c.sio.call("blob", {"raw": b"\x00abc\xff", "x": [1.5, True]}, timeout=WAIT)
    assert ack == (b"\xffcba\x00", [b"", {"deep": b"\xff"}])
    assert c.expect("blob-back") == ({"list": [b"\x01\x02", b"mv"], "raw": b"\x00abc\xff",
                                      "n": 1},)


def test_unsupported_value_raises_type_error(serve, client):
    sio = rtio.Server()
    c = client(serve(sio))
    with pytest.raises(TypeError):
        sio.emit("x", {"when": object()}, to=c.sid)


def test_server_call_waits_for_the_client_ack(serve, client):
    sio = rtio.Server()
    url = serve(sio)
    c = client(url, handlers={("add", "/"): lambda a, b: a + b})
    assert sio.call("add", (2, 3), to=c.sid, timeout=WAIT) == 5


def test_server_call_times_out_and_late_ack_is_ignored(serve, client):
    sio = rtio.Server()
    release = threading.Event()

    def slow(data):
        release.wait(WAIT)
        return "late"

    c = client(serve(sio), handlers={("slow", "/"): slow})
    with pytest.raises(TimeoutError) as info:
        sio.call("slow", 1, to=c.sid, timeout=0.3)
    assert isinstance(info.value, rtio.exceptions.TimeoutError)
    release.set()
    # the late ack changes nothing: the next call still works
    c.sio.on("fast", lambda: "now")
    assert sio.call("fast", to=c.sid, timeout=WAIT) == "now"


def test_call_to_unknown_client_raises_timeout(serve):
    sio = rtio.Server()
    serve(sio)
    with pytest.raises(TimeoutError):
        sio.call("x", to="nobody", timeout=WAIT)


def test_call_inside_a_handler_keeps_other_events_flowing(serve, client):
    """A handler waiting in call() does not block the dispatcher: another client's event
    is handled meanwhile, and the waiting handler gets its answer."""
    sio = rtio.Server()
    other_served = threading.Event()

    @sio.event
    def ask(sid):
        return sio.call("question", to=sid, timeout=WAIT)

    @sio.event
    def ping(sid):
        other_served.set()
        return "pong"

    url = serve(sio)

    def question():
        # answer only once the other client's ping went through the server
        assert other_served.wait(WAIT)
        return "answer"

    a = client(url, handlers={("question", "/"): question})
    b = client(url)
    got = Recorder()
    a.sio.emit("ask", callback=got)
    assert b.sio.call("ping", timeout=WAIT) == "pong"
    assert got.get() == ("answer",)


def test_emit_callback_gets_the_ack(serve, client):
    sio = rtio.Server()
    c = client(serve(sio), handlers={("hi", "/"): lambda who: f"hello {who}"})
    got = Recorder()
    sio.emit("hi", "rtio", to=c.sid, callback=got)
    assert got.get() == ("hello rtio",)


def test_rooms_emit_skip_leave_close(serve, client):
    sio = rtio.Server()
    sio.on("join", lambda sid, room: sio.enter_room(sid, room) or True)
    url = serve(sio)
    a, b, c = client(url), client(url), client(url)
    for p in (a, b):
        assert p.sio.call("join", "red", timeout=WAIT) is True
    assert c.sio.call("join", "blue", timeout=WAIT) is True
    assert sio.rooms(a.sid) == [a.sid, "red"]
    sio.emit("to-red", 1, room="red")
    assert a.expect("to-red") == (1,) and b.expect("to-red") == (1,)
    sio.emit("to-red-not-a", 2, to="red", skip_sid=a.sid)
    assert b.expect("to-red-not-a") == (2,)
    sio.emit("to-both", 3, to=["red", "blue"], skip_sid=[a.sid, b.sid])
    assert c.expect("to-both") == (3,)
    sio.emit("all", 4)
    for p in (a, b, c):
        assert p.expect("all") == (4,)
    assert sio.stats("/") == {"sockets": 3, "rooms": 2}
    sio.leave_room(b.sid, "red")
    sio.close_room("blue")
    assert sio.rooms(b.sid) == [b.sid] and sio.rooms(c.sid) == [c.sid]
    sio.emit("after", 5, room="red")
    sio.emit("after", 5, room="blue")
    assert a.expect("after") == (5,)
    # b left red and blue was closed: neither gets anything (checked after a's delivery
    # and one more round trip of their own)
    for p in (b, c):
        assert p.sio.call("join", "green", timeout=WAIT) is True
        p.silent("after")
    assert sorted(s for s, _ in sio.manager.get_participants("/", "green")) == \
        sorted([b.sid, c.sid])
    a.silent("to-red-not-a")
    a.silent("to-both")
    b.silent("to-both")


def test_handler_exception_is_logged_and_server_keeps_serving(serve, client, caplog):
    sio = rtio.Server()

    @sio.event
    def boom(sid):
        raise ValueError("kaboom")

    sio.on("ok", lambda sid: "fine")
    c = client(serve(sio))
    with caplog.at_level(logging.ERROR, logger="rtio"):
        c.sio.emit("boom")
        assert c.sio.call("ok", timeout=WAIT) == "fine"
        wait_until(lambda: any("boom" in r.getMessage() for r in caplog.records), "log")
    record = next(r for r in caplog.records if "boom" in r.getMessage())
    assert record.exc_info and record.exc_info[0] is ValueError  # with its traceback
    assert "kaboom" in caplog.text


def test_sessions(serve, client):
    sio = rtio.Server()

    @sio.event
    def connect(sid, environ, auth):
        sio.save_session(sid, {"user": auth["user"]})

    @sio.event
    def rename(sid, name):
        with sio.session(sid) as session:
            session["user"] = name

    sio.on("whoami", lambda sid: sio.get_session(sid)["user"])
    url = serve(sio)
    a = client(url, auth={"user": "ann"})
    b = client(url, auth={"user": "bob"})
    assert a.sio.call("whoami", timeout=WAIT) == "ann"
    a.sio.emit("rename", "anna")
    assert a.sio.call("whoami", timeout=WAIT) == "anna"
    assert b.sio.call("whoami", timeout=WAIT) == "bob"


def test_server_disconnect_and_disconnect_handler_reasons(serve, client):
    sio = rtio.Server()
    reasons = Recorder()
    sio.on("disconnect", lambda sid, reason: reasons(sid, reason))
    url = serve(sio)
    a = client(url)
    sid = a.sid
    sio.disconnect(sid)
    assert a.disconnects.get(timeout=WAIT) == ("/", "server disconnect")
    assert reasons.get() == (sid, rtio.reason.SERVER_DISCONNECT)
    b = client(url)
    sid = b.sid
    b.sio.disconnect()
    assert reasons.get()[0] == sid


def test_disconnect_handler_without_reason(serve, client):
    sio = rtio.Server()
    gone = Recorder()

    @sio.event
    def disconnect(sid):  # the older signature
        gone(sid)

    a = client(serve(sio))
    sid = a.sid
    a.sio.disconnect()
    assert gone.get() == (sid,)


def test_namespaces_with_handlers_are_served_others_refused(serve, client):
    sio = rtio.Server()
    sio.on("where", lambda sid: "chat", namespace="/chat")
    url = serve(sio)
    c = client(url, namespaces=["/", "/chat"])
    assert c.sio.call("where", namespace="/chat", timeout=WAIT) == "chat"
    bad = Client(url, namespaces=["/nope"], connect=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        bad.sio.connect(url, namespaces=["/nope"], wait_timeout=WAIT)
    assert bad.connect_errors.get(timeout=WAIT)[1]["message"] == "Invalid namespace"
    # a namespace registered while running is served from then on
    sio.on("where", lambda sid: "late", namespace="/late")
    late = client(url, namespaces=["/late"])
    assert late.sio.call("where", namespace="/late", timeout=WAIT) == "late"


def test_catch_all_handlers(serve, client):
    sio = rtio.Server()
    sio.on("*", lambda event, sid, *args: ("any", event, *args))
    sio.on("*", lambda event, ns, sid, *args: ("every-ns", event, ns), namespace="*")
    sio.on("connect", lambda sid, environ, auth: None, namespace="/other")
    url = serve(sio)
    c = client(url, namespaces=["/", "/other"])
    assert c.sio.call("whatever", 1, timeout=WAIT) == ("any", "whatever", 1)
    assert c.sio.call("x", namespace="/other", timeout=WAIT) == ("every-ns", "x", "/other")


def test_class_based_namespace(serve, client):
    sio = rtio.Server()
    events = Recorder()

    class Chat(rtio.Namespace):
        def on_connect(self, sid, environ, auth):
            events("connect", sid)
            self.enter_room(sid, "lobby")

        def on_say(self, sid, text):
            self.emit("said", text, room="lobby", skip_sid=sid)
            return "ok"

        def on_disconnect(self, sid, reason):
            events("disconnect", sid)

    sio.register_namespace(Chat("/chat"))
    url = serve(sio)
    a = client(url, namespaces=["/chat"])
    b = client(url, namespaces=["/chat"])
    assert events.get()[0] == "connect" and events.get()[0] == "connect"
    assert a.sio.call("say", "hi", namespace="/chat", timeout=WAIT) == "ok"
    assert b.expect("said", ns="/chat") == ("hi",)
    sid = b.sio.get_sid("/chat")
    b.sio.disconnect()
    assert events.get() == ("disconnect", sid)
    with pytest.raises(ValueError):
        sio.register_namespace(rtio.AsyncNamespace("/x"))


def test_emit_from_other_threads_and_background_tasks(serve, client):
    sio = rtio.Server()
    c = client(serve(sio))
    sid = c.sid

    def task(n):
        for i in range(n):
            sio.emit("tick", i, to=sid)

    threads = [sio.start_background_task(task, 50) for _ in range(4)]
    for t in threads:
        t.join(WAIT)
    got = sorted(c.expect("tick")[0] for _ in range(200))
    assert got == sorted(list(range(50)) * 4)


def test_reserved_and_invalid_usage(serve):
    sio = rtio.Server()
    with pytest.raises(rtio.exceptions.StoppedError):
        sio.emit("x", 1)
    serve(sio)
    with pytest.raises(ValueError):
        sio.emit("connect", 1)
    with pytest.raises(ValueError):
        sio.call("x")
    with pytest.raises(RuntimeError):
        sio.start(port=0)
    with pytest.raises(ValueError, match="mount"):
        rtio.WSGIApp(sio, socketio_path="elsewhere")  # running on /socket.io already
    with pytest.raises(TypeError):
        rtio.Server(no_such_option=1)


def test_any_namespace_with_star(serve, client):
    sio = rtio.Server(namespaces="*")
    connects = Recorder()

    @sio.on("connect", namespace="*")
    def connect(namespace, sid, environ):
        connects(namespace, sid)

    @sio.on("hello", namespace="*")
    def hello(namespace, sid, data):
        return f"{namespace}:{data}"

    c = client(serve(sio), namespaces=("/room-7",))
    namespace, sid = connects.get()
    assert namespace == "/room-7"
    assert sid == c.sio.get_sid("/room-7")
    assert c.sio.call("hello", "hi", namespace="/room-7", timeout=WAIT) == "/room-7:hi"


@pytest.mark.parametrize("transports,expected", [(["websocket"], "websocket"), (["polling"], "polling")])
def test_transport_of_a_client(serve, client, transports, expected):
    sio = rtio.Server()
    c = client(serve(sio), transports=transports)
    assert sio.transport(c.sid) == expected


def test_rooms_of_a_client_in_its_disconnect_handler(serve, client):
    # python-socketio lets the disconnect handler see the rooms the client was in
    sio = rtio.Server()
    seen = Recorder()
    sio.on("connect", lambda sid, environ: sio.enter_room(sid, "lobby"))
    sio.on("disconnect", lambda sid, reason: seen(sorted(sio.rooms(sid))))
    a = client(serve(sio))
    sid = a.sid
    a.sio.disconnect()
    assert seen.get() == (sorted([sid, "lobby"]),)
