"""Namespace `/` of the scenarios server (shared/SCENARIOS.md), row by row,
with the official python-socketio client, under each transport setup
(websocket only, polling only, polling then upgrade)."""

import threading
import time
import uuid

import pytest

from conftest import WAIT

# Arguments of many kinds, binary ones among them and nested in JSON, in an
# order the server must keep.
MIXED = (
    1,
    "two",
    {"three": [3, 3.5, True, False, None], "nested": {"bin": b"\x00\x01\x02"}},
    b"\x00\xffbinary\x80",
    None,
    ["list", b"in a list", {"deep": [b"\x10", 7]}],
    "h\u00e9llo \u2713 \U0001F680 \"quoted\" \\ \n newline",
    -42,
    b"",
    [],
    {},
)

ARGUMENT_CASES = {
    "none": (),
    "one-string": ("hello",),
    "one-binary": (b"\x01\x02\x03",),
    "mixed": MIXED,
    "large-binary": (bytes(range(256)) * 800, "after"),  # 200 KiB
}


def room():
    return "room-" + uuid.uuid4().hex[:12]


def test_connect_emits_auth_then_visits(make_peer):
    a = make_peer("a")
    # shared server: other tests' sockets may still be counted, so only the
    # presence and type of the count are checked here (exact counts: below)
    (n,) = a.expect("visits")
    assert isinstance(n, int) and n >= 1
    names = [e for e, _ in a.wire_events()]
    assert names[:2] == ["auth", "visits"], f"wire order: {names}"


@pytest.mark.parametrize("auth", [
    {"token": "abc", "n": 1, "nested": {"list": [1, "x", None, True]}},
    {"unicode": "\u00e7\u00e3\u00f5 \u2603"},
    {},
], ids=["nested", "unicode", "empty"])
def test_auth_is_echoed(make_peer, auth):
    make_peer("a", auth=auth)  # make_peer checks the `auth` event


def test_auth_defaults_to_empty_object(make_peer):
    make_peer("a", auth=None)  # `auth` must be {}


def test_visits_count_up_and_down(make_peer, server_factory):
    srv = server_factory()
    a = make_peer("a", server_url=srv.url)
    assert a.expect("visits") == (1,)
    b = make_peer("b", server_url=srv.url)
    assert b.expect("visits") == (2,)
    assert a.expect("visits") == (2,)
    c = make_peer("c", server_url=srv.url)
    assert c.expect("visits") == (3,)
    assert a.expect("visits") == (3,)
    assert b.expect("visits") == (3,)
    # client-side disconnect: every remaining socket hears the new count
    c.disconnect()
    assert a.expect("visits") == (2,)
    assert b.expect("visits") == (2,)
    # server-side disconnect (kick-me) counts too
    b.emit("kick-me")
    assert b.disconnects.get(timeout=WAIT)[0] == "/"
    assert a.expect("visits") == (1,)
    a.assert_silent("visits")


# (a polling client cannot drop its connection: the server would only notice
# after the ping timeout)
@pytest.mark.parametrize("transport", ["websocket", "upgrade"])
def test_visits_decrement_when_transport_drops(make_peer, server_factory):
    """The connection of a peer vanishes without a Socket.IO DISCONNECT."""
    srv = server_factory()
    a = make_peer("a", server_url=srv.url)
    assert a.expect("visits") == (1,)
    b = make_peer("b", server_url=srv.url)
    assert a.expect("visits") == (2,)
    # close b's WebSocket under the client's feet (no DISCONNECT, no CLOSE)
    b.sio.eio.ws.sock.shutdown(2)
    assert a.expect("visits") == (1,)


@pytest.mark.parametrize("case", list(ARGUMENT_CASES), ids=list(ARGUMENT_CASES))
def test_message_echoes_arguments_in_order(make_peer, case):
    args = ARGUMENT_CASES[case]
    a = make_peer("a")
    b = make_peer("b")
    a.emit("message", *args)
    assert a.expect("message-back") == args
    b.assert_silent("message-back")  # to that socket only


@pytest.mark.parametrize("case", list(ARGUMENT_CASES), ids=list(ARGUMENT_CASES))
def test_message_with_ack_returns_arguments(make_peer, case):
    args = ARGUMENT_CASES[case]
    a = make_peer("a")
    assert a.ack("message-with-ack", *args) == args


def test_message_order_is_kept(make_peer):
    a = make_peer("a")
    n = 60

    def args(i):
        return (i, bytes([i]) * (i + 1)) if i % 3 == 0 else (i,)

    # python-engineio's client refuses a polling response of more than 16
    # packets (engineio.payload.Payload.max_decode_packets) and drops the
    # connection, so over polling the burst is sent a few at a time.
    window = 4 if a.sio.transport() == "polling" else n
    got = []
    for start in range(0, n, window):
        batch = range(start, min(n, start + window))
        for i in batch:
            a.emit("message", *args(i))
        got += [a.expect("message-back") for _ in batch]
    # the sync client runs each packet's handler on a thread of its own, so
    # the replies are compared as a set, and their order checked on the wire
    assert sorted(got) == [args(i) for i in range(n)]
    backs = [arg for e, arg in a.wire_events() if e == "message-back"]
    assert backs == list(range(n))
    # and the acks of calls in a row carry the right values
    for i in range(10):
        assert a.ack("message-with-ack", i, {"i": i}) == (i, {"i": i})


def test_chat_to_sender_and_others(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    c = make_peer("c")
    a.emit("toServer", {"nome": "ana", "msg": "ol\u00e1, mundo"})
    assert a.expect("toClient") == ("ana:ol\u00e1, mundo",)
    assert b.expect("toClient") == ("ana:ol\u00e1, mundo",)
    assert c.expect("toClient") == ("ana:ol\u00e1, mundo",)
    a.assert_silent("toClient")  # exactly once to the sender


def test_job_board_reaches_everyone(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    job = {"title": "fix the roof", "budget": 120.5, "tags": ["a", "b"]}
    a.emit("client:created:job", job)
    assert a.expect("server:created:job") == (job,)
    assert b.expect("server:created:job") == (job,)
    a.assert_silent("server:created:job")


def test_whoami_is_socket_id(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    (sid_a,) = a.ack("whoami")
    (sid_b,) = b.ack("whoami")
    assert sid_a == a.sio.get_sid("/") and isinstance(sid_a, str) and sid_a
    assert sid_b == b.sio.get_sid("/")
    assert sid_a != sid_b


def test_rooms_join_to_room_leave(make_peer):
    r = room()
    a = make_peer("a")
    b = make_peer("b")
    c = make_peer("c")
    assert a.ack("join", r) == (True,)
    assert b.ack("join", r) == (True,)
    payload = {"x": 1, "bin": b"\x00\x01"}
    a.emit("to-room", {"room": r, "event": "in-room", "data": payload})
    assert a.expect("in-room") == (payload,)  # the sender is in the room
    assert b.expect("in-room") == (payload,)
    c.assert_silent("in-room")
    # a socket outside the room may send to it too
    c.emit("to-room", {"room": r, "event": "from-outside", "data": "hi"})
    assert a.expect("from-outside") == ("hi",)
    assert b.expect("from-outside") == ("hi",)
    c.assert_silent("from-outside")
    # after leaving, b is no longer reached
    assert b.ack("leave", r) == (True,)
    a.emit("to-room", {"room": r, "event": "after-leave", "data": [1, 2]})
    assert a.expect("after-leave") == ([1, 2],)
    b.assert_silent("after-leave")
    c.assert_silent("after-leave")


def test_to_room_except_me(make_peer):
    r = room()
    a = make_peer("a")
    b = make_peer("b")
    c = make_peer("c")
    d = make_peer("d")
    for p in (a, b, c):
        assert p.ack("join", r) == (True,)
    a.emit("to-room-except-me", {"room": r, "event": "xm", "data": {"k": "v"}})
    assert b.expect("xm") == ({"k": "v"},)
    assert c.expect("xm") == ({"k": "v"},)
    a.assert_silent("xm")
    d.assert_silent("xm")


def test_to_empty_room_reaches_nobody(make_peer):
    a = make_peer("a")
    a.emit("to-room", {"room": room(), "event": "nobody", "data": 1})
    a.assert_silent("nobody")


def test_broadcast_to_all_but_sender(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    c = make_peer("c")
    data = {"bc": [1, "two", b"\x03"]}
    a.emit("broadcast", data)
    assert b.expect("broadcast") == (data,)
    assert c.expect("broadcast") == (data,)
    a.assert_silent("broadcast")


def test_fanout_to_all_including_sender(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    a.emit("fanout", {"event": "fan", "data": {"n": 7, "b": b"\x07"}})
    for p in (a, b):
        assert p.expect("fan") == ({"n": 7, "b": b"\x07"},)
    a.assert_silent("fan")  # exactly once


def test_ask_acked(make_peer):
    a = make_peer("a")
    questions = []

    def on_question(q):
        questions.append(q)
        return {"reply": q["text"].upper(), "bin": b"\x01"}

    a.on("question", on_question)
    a.emit("ask", {"question": {"text": "why?"}, "timeout_ms": 3000})
    assert a.expect1("answer") == {
        "ok": True, "value": {"reply": "WHY?", "bin": b"\x01"}}
    assert questions == [{"text": "why?"}]
    a.assert_silent("answer")  # exactly one answer


def test_ask_timed_out_then_late_ack_is_ignored(make_peer):
    a = make_peer("a")
    release = threading.Event()
    returned = threading.Event()

    def on_question(q):
        # hold the ack back until the server has given up waiting
        release.wait(WAIT * 2)
        returned.set()
        return "too late"

    a.on("question", on_question)
    started = time.monotonic()
    a.emit("ask", {"question": "anyone?", "timeout_ms": 300})
    assert a.expect1("answer") == {"ok": False, "error": "timeout"}
    assert time.monotonic() - started >= 0.3 - 0.02
    release.set()
    assert returned.wait(WAIT)
    # the late ack reaches the server before this barrier's event does
    a.assert_silent("answer")
    # the socket is still fine, and a new ask works
    a.on("question", lambda q: q * 2)
    a.emit("ask", {"question": 21, "timeout_ms": 3000})
    assert a.expect1("answer") == {"ok": True, "value": 42}


def test_asks_in_flight_do_not_mix_up(make_peer):
    """A slow ask times out while a quick one is answered: one answer each."""
    a = make_peer("a")
    release = threading.Event()
    returned = threading.Event()

    def on_question(q):
        if q == "slow":
            release.wait(WAIT * 2)
            returned.set()
        return "re:" + q

    a.on("question", on_question)
    a.emit("ask", {"question": "slow", "timeout_ms": 400})
    a.emit("ask", {"question": "quick", "timeout_ms": 5000})
    first = a.expect1("answer")
    second = a.expect1("answer")
    assert first == {"ok": True, "value": "re:quick"}
    assert second == {"ok": False, "error": "timeout"}
    release.set()
    assert returned.wait(WAIT)
    a.assert_silent("answer")


def test_later_from_outside_a_handler(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    started = time.monotonic()
    a.emit("later", {"ms": 250, "event": "ding", "data": {"at": 250, "b": b"\x02"}})
    assert a.expect("ding") == ({"at": 250, "b": b"\x02"},)
    assert time.monotonic() - started >= 0.25 - 0.02
    b.assert_silent("ding")  # to that socket only
    # several timers at once, fired in their own time
    a.emit("later", {"ms": 400, "event": "slow", "data": "s"})
    a.emit("later", {"ms": 50, "event": "fast", "data": "f"})
    assert a.expect("fast") == ("f",)
    assert a.expect("slow") == ("s",)


def test_kick_me_disconnects_from_server_side(make_peer):
    a = make_peer("a")
    b = make_peer("b")
    a.emit("kick-me")
    ns, reason = a.disconnects.get(timeout=WAIT)
    assert (ns, reason) == ("/", "server disconnect")
    # a Socket.IO DISCONNECT packet, not just a closed Engine.IO connection
    # (which the JS client would report as "transport close")
    assert "1" in a.wire, f"no DISCONNECT packet; wire: {a.wire[-5:]}"
    assert not a.sio.connected
    wait_until_disconnected(a)
    # the others are unaffected
    b.barrier()


def wait_until_disconnected(peer, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while peer.sio.eio.state == "connected":
        assert time.monotonic() < deadline, "Engine.IO connection still open"
        time.sleep(0.01)


def test_throw_keeps_serving(make_peer, server):
    a = make_peer("a")
    before = server.log_size()
    a.emit("throw")
    a.barrier()  # the same socket's next whoami is still answered
    assert a.sio.connected
    deadline = time.monotonic() + WAIT
    while server.log_size() == before:  # "reports it on stderr"
        assert time.monotonic() < deadline, "nothing reported on stderr"
        time.sleep(0.01)
    a.emit("throw")
    a.emit("throw")
    a.barrier()
    a.emit("message", "still", b"here")
    assert a.expect("message-back") == ("still", b"here")


def test_stats_counts_sockets_and_rooms(make_peer, server_factory):
    srv = server_factory()
    a = make_peer("a", server_url=srv.url)
    assert a.ack("stats") == ({"sockets": 1, "rooms": 0},)
    b = make_peer("b", server_url=srv.url)
    assert a.ack("stats") == ({"sockets": 2, "rooms": 0},)
    assert a.ack("join", "r1") == (True,)
    assert b.ack("join", "r1") == (True,)
    assert b.ack("join", "r2") == (True,)
    assert a.ack("stats") == ({"sockets": 2, "rooms": 2},)
    assert b.ack("leave", "r2") == (True,)
    assert b.ack("stats") == ({"sockets": 2, "rooms": 1},)
    # joining twice, or leaving a room one is not in, changes nothing
    assert a.ack("join", "r1") == (True,)
    assert a.ack("leave", "never-joined") == (True,)
    assert a.ack("stats") == ({"sockets": 2, "rooms": 1},)
    # a socket's rooms go away with it
    assert a.ack("join", "only-b") == (True,) and a.ack("leave", "only-b") == (True,)
    assert b.ack("join", "only-b") == (True,)
    assert a.ack("stats") == ({"sockets": 2, "rooms": 2},)
    b.disconnect()
    # wait until the server has processed it (visits: 2 on b's arrival, then 1)
    assert a.expect("visits") == (1,)
    assert a.expect("visits") == (2,)
    assert a.expect("visits") == (1,)
    assert a.ack("stats") == ({"sockets": 1, "rooms": 1},)
    assert a.ack("leave", "r1") == (True,)
    assert a.ack("stats") == ({"sockets": 1, "rooms": 0},)
