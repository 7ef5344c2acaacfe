"""Namespaces `/custom`, `/admin` and unknown ones (shared/SCENARIOS.md),
with the official python-socketio client, under each transport setup."""

import pytest
import socketio

from conftest import WAIT, Peer


def refused(transport, url, namespaces, auth=None):
    """Connects a peer that must be refused; returns (exception, peer)."""
    peer = Peer("refused", transport)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError) as info:
            peer.connect(url, namespaces=namespaces, auth=auth)
    finally:
        peer.close()
    return info.value, peer


@pytest.mark.parametrize("auth", [None, {"user": "u1", "n": [1, 2]}],
                         ids=["no-auth", "auth"])
def test_custom_echoes_auth_and_nothing_else(make_peer, auth):
    c = make_peer("c", namespaces=["/custom"], auth=auth)
    assert c.sio.get_sid("/custom")
    assert c.expect1("auth", ns="/custom") == (auth or {})
    # nothing else (e.g. no `visits`); the exact check is in the next test,
    # which has `/` on the same connection for a barrier
    c.assert_silent("visits", ns="/custom")
    assert [e for e, _ in c.wire_events("/custom")] == ["auth"]
    assert c.wire_events("/") == []


def test_main_and_custom_on_one_connection(make_peer):
    """python-socketio multiplexes both namespaces on one Engine.IO
    connection, with the same auth sent in each CONNECT."""
    auth = {"who": "both"}
    p = make_peer("p", namespaces=["/", "/custom"], auth=auth)
    assert p.expect1("auth", ns="/custom") == auth
    sid_main, sid_custom = p.sio.get_sid("/"), p.sio.get_sid("/custom")
    assert sid_main and sid_custom and sid_main != sid_custom
    # `/` still works as usual next to it
    assert p.ack("whoami") == (sid_main,)
    p.emit("message", "x", b"y")
    assert p.expect("message-back") == ("x", b"y")
    p.assert_silent("message-back", ns="/custom")
    # after these round trips on the same connection, /custom has sent
    # nothing but its `auth`
    assert [e for e, _ in p.wire_events("/custom")] == ["auth"]


def test_admin_accepts_secret_token(make_peer):
    adm = make_peer("adm", namespaces=["/admin"], auth={"token": "secret"})
    sid = adm.sio.get_sid("/admin")
    assert sid
    assert adm.expect1("admin-hello", ns="/admin") == {"id": sid}
    assert adm.connect_errors.empty()


def test_admin_broadcast_main_reaches_main_namespace(make_peer):
    both = make_peer("both", namespaces=["/", "/admin"],
                     auth={"token": "secret"})
    assert both.expect1("admin-hello", ns="/admin") == {
        "id": both.sio.get_sid("/admin")}
    other = make_peer("other")
    data = {"news": "hello all", "bin": b"\x00\x01", "n": [1, None]}
    both.emit("broadcast-main", data, ns="/admin")
    assert other.expect("announcement") == (data,)
    assert both.expect("announcement") == (data,)  # every socket on `/`
    both.assert_silent("announcement", ns="/admin")
    other.assert_silent("announcement")  # exactly once


@pytest.mark.parametrize("auth", [None, {"token": "wrong"}, {"token": ""},
                                  {"tok": "secret"}],
                         ids=["no-auth", "wrong", "empty", "other-key"])
def test_admin_refuses_without_secret(transport, url, auth):
    exc, peer = refused(transport, url, ["/admin"], auth=auth)
    assert "/admin" in str(exc)
    ns, data = peer.connect_errors.get(timeout=WAIT)
    assert ns == "/admin"
    assert isinstance(data, dict) and data.get("message") == "unauthorized", data
    assert not peer.sio.connected


def test_admin_refusal_leaves_server_usable(make_peer, transport, url):
    refused(transport, url, ["/admin"], auth={"token": "nope"})
    adm = make_peer("adm", namespaces=["/admin"], auth={"token": "secret"})
    assert adm.expect1("admin-hello", ns="/admin") == {
        "id": adm.sio.get_sid("/admin")}


@pytest.mark.parametrize("namespace", ["/nope", "/admin/x", "/Custom"])
def test_unknown_namespace_is_refused(transport, url, namespace):
    exc, peer = refused(transport, url, [namespace])
    assert namespace in str(exc)
    ns, data = peer.connect_errors.get(timeout=WAIT)
    assert ns == namespace
    assert isinstance(data, dict) and data.get("message") == "Invalid namespace", data
