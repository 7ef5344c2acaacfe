"""The protocol options of issue 19 that python-socketio users set: ``serializer='msgpack'``
(socket.io-msgpack-parser's wire format), rtio's ``websocket_compression`` (WebSocket
permessage-deflate) and rtio's ``allow_eio3`` (Engine.IO v3 clients). Each maps onto the
core, is refused clearly when it cannot, and works with the official python-socketio client
(docs/python.md, "Options")."""

import asyncio
import base64
import json
import os
import shutil
import socket
import ssl

import pytest
import requests
import socketio
from socketio.msgpack_packet import MsgPackPacket
from socketio.packet import Packet

import rtio
from conftest import WAIT

SERVERS = [rtio.Server, rtio.AsyncServer]
ids = ["Server", "AsyncServer"]


# ------------------------------------------------------------------------------ mapping

@pytest.mark.parametrize("cls", SERVERS, ids=ids)
def test_serializer_maps_onto_the_cores_parser(cls):
    assert cls()._options["parser"] == "default"
    assert cls(serializer="default")._options["parser"] == "default"
    assert cls(serializer="msgpack")._options["parser"] == "msgpack"
    # python-socketio's own packet classes for the two formats are the same choices
    assert cls(serializer=Packet)._options["parser"] == "default"
    assert cls(serializer=MsgPackPacket)._options["parser"] == "msgpack"


class CustomPacket(Packet):
    pass


@pytest.mark.parametrize("cls", SERVERS, ids=ids)
@pytest.mark.parametrize("serializer", ["pickle", "cbor", "MSGPACK", CustomPacket, None],
                         ids=["pickle", "cbor", "MSGPACK", "a custom class", "None"])
def test_other_serializers_are_refused_naming_what_works(cls, serializer):
    with pytest.raises(NotImplementedError, match="serializer") as info:
        cls(serializer=serializer)
    message = str(info.value)
    assert "serializer='default'" in message and "serializer='msgpack'" in message
    assert "see docs/python.md" in message


@pytest.mark.parametrize("cls", SERVERS, ids=ids)
def test_websocket_compression_maps_onto_permessage_deflate(cls):
    assert cls()._options["per_message_deflate"] is None  # off, as socket.io
    assert cls(websocket_compression=True)._options["per_message_deflate"] == 1024
    assert cls(websocket_compression=True, websocket_compression_threshold=0) \
        ._options["per_message_deflate"] == 0
    assert cls(websocket_compression=False, websocket_compression_threshold=0) \
        ._options["per_message_deflate"] is None
    # independent of the polling responses' compression
    sio = cls(websocket_compression=True, http_compression=False)
    assert sio._options["per_message_deflate"] == 1024
    assert sio._options["http_compression"] is None


@pytest.mark.parametrize("bad,error,match", [
    ({"websocket_compression": "deflate"}, TypeError, "websocket_compression"),
    ({"websocket_compression": 1}, TypeError, "websocket_compression"),
    ({"websocket_compression": True, "websocket_compression_threshold": -1}, ValueError,
     "websocket_compression_threshold"),
    ({"websocket_compression": True, "websocket_compression_threshold": True}, ValueError,
     "websocket_compression_threshold"),
    ({"websocket_compression": True, "websocket_compression_threshold": 1.5}, ValueError,
     "websocket_compression_threshold"),
    ({"allow_eio3": "yes"}, TypeError, "allow_eio3"),
    ({"allow_eio3": 1}, TypeError, "allow_eio3"),
])
@pytest.mark.parametrize("cls", SERVERS, ids=ids)
def test_bad_values_are_clear_errors(cls, bad, error, match):
    with pytest.raises(error, match=match):
        cls(**bad)


@pytest.mark.parametrize("cls", SERVERS, ids=ids)
def test_allow_eio3_maps_onto_the_core(cls):
    assert cls()._options["allow_eio3"] is False  # off, as socket.io
    assert cls(allow_eio3=True)._options["allow_eio3"] is True


def test_asgi_refuses_websocket_compression_it_cannot_apply():
    # the ASGI server frames WebSocket: its own option decides, rtio's would be ignored
    with pytest.raises(ValueError, match="websocket_compression"):
        rtio.ASGIApp(rtio.AsyncServer(websocket_compression=True))
    rtio.ASGIApp(rtio.AsyncServer(serializer="msgpack", allow_eio3=True))


# ------------------------------------------------------------------------------ msgpack

def echo_server(**options):
    sio = rtio.Server(**options)
    seen = []

    @sio.event
    def connect(sid, environ, auth):
        sio.emit("auth", auth, to=sid)

    @sio.on("message")
    def message(sid, *args):
        seen.append(args)
        sio.emit("message-back", list(args), to=sid)

    @sio.on("message-with-ack")
    def message_with_ack(sid, *args):
        return args

    return sio, seen


ARGS = ("text", b"\x00\x01\x02\xff", {"nested": {"list": [1, -2, 2.5, None, True, "é"],
                                                 "big": 2 ** 40, "blob": b"in a dict"}})


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_python_socketio_msgpack_client(serve, client, transport):
    sio, seen = echo_server(serializer="msgpack")
    url = serve(sio)
    c = client(url, transports=[transport], auth={"token": "t", "n": [1, 2.5]},
               serializer="msgpack")
    assert c.expect("auth") == ({"token": "t", "n": [1, 2.5]},)
    c.sio.emit("message", ARGS)
    assert c.expect("message-back") == (list(ARGS),)
    # the handler got bytes where the client sent bytes, nested ones too
    assert seen == [ARGS]
    assert isinstance(seen[0][1], bytes)
    assert isinstance(seen[0][2]["nested"]["blob"], bytes)
    assert c.sio.call("message-with-ack", ["a", b"b"], timeout=WAIT) == ["a", b"b"]


def test_a_default_parser_client_cannot_talk_to_a_msgpack_server(serve):
    url = serve(echo_server(serializer="msgpack")[0])
    # the default parser's text CONNECT is no msgpack packet: the server closes
    ws = RawWebSocket(url, offer_deflate=False)
    try:
        ws.frame()  # the Engine.IO open packet
        ws.send_text("40")
        assert ws.frame_with_opcode()[0] == 0x8, "the connection stayed open"
    finally:
        ws.close()
    c = socketio.Client(reconnection=False, handle_sigint=False)
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            c.connect(url, transports=["websocket"], wait_timeout=1)
    finally:
        c.disconnect()


def test_async_server_with_the_async_msgpack_client():
    async def main():
        sio = rtio.AsyncServer(serializer="msgpack")

        @sio.on("message-with-ack")
        async def message_with_ack(sid, data):
            await sio.emit("pushed", {"bin": data}, to=sid)
            return data

        port = await sio.start(port=0, host="127.0.0.1")
        serving = asyncio.ensure_future(sio.serve())
        c = socketio.AsyncClient(reconnection=False, serializer="msgpack")
        pushed = asyncio.get_running_loop().create_future()
        c.on("pushed", lambda data: pushed.set_result(data))
        try:
            await c.connect(f"http://127.0.0.1:{port}", transports=["websocket"],
                            wait_timeout=WAIT)
            answer = await asyncio.wait_for(c.call("message-with-ack", b"\x01\x02"), WAIT)
            assert answer == b"\x01\x02"
            assert await asyncio.wait_for(pushed, WAIT) == {"bin": b"\x01\x02"}
        finally:
            await c.disconnect()
            await sio.shutdown()
            await asyncio.wait_for(serving, WAIT)

    asyncio.run(main())


# ------------------------------------------------------------------------------ deflate

class RawWebSocket:
    """A WebSocket client over a bare socket, to see what goes on the wire: the 101's
    headers (lowercase names) and each frame's RSV1 bit (set on a compressed message,
    RFC 7692 section 6)."""

    def __init__(self, url, offer_deflate):
        host, port = url.rsplit("/", 1)[-1].split(":")
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET /socket.io/?EIO=4&transport=websocket HTTP/1.1", f"Host: {host}:{port}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if offer_deflate:
            lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
        self.sock = socket.create_connection((host, int(port)), timeout=WAIT)
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status, *header_lines = head.decode().split("\r\n")
        assert " 101 " in status, status
        self.headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def _fill(self):
        chunk = self.sock.recv(65536)  # (the socket's timeout bounds the wait)
        assert chunk, "the server closed the connection"
        self.buf += chunk

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        """(compressed, payload) of the next frame, payload as it is on the wire."""
        return self.frame_with_opcode()[1:]

    def frame_with_opcode(self):
        """(opcode, compressed, payload) of the next frame."""
        b0, b1 = self._take(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(self._take(2), "big")
        elif length == 127:
            length = int.from_bytes(self._take(8), "big")
        return b0 & 0x0F, bool(b0 & 0x40), self._take(length)

    def send_text(self, text):
        data = text.encode()
        assert len(data) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes([0x81, 0x80 | len(data)]) + mask + masked)

    def close(self):
        self.sock.close()


def connect_answer(url, offer_deflate):
    """Opens an Engine.IO session over a raw WebSocket and joins ``/``: the 101's headers
    and the frame of the Socket.IO CONNECT answer."""
    ws = RawWebSocket(url, offer_deflate)
    try:
        ws.frame()  # the Engine.IO open packet
        ws.send_text("40")
        return ws.headers, ws.frame()
    finally:
        ws.close()


def test_websocket_compression_is_negotiated_and_used(serve):
    url = serve(rtio.Server(websocket_compression=True, websocket_compression_threshold=0))
    headers, (compressed, payload) = connect_answer(url, offer_deflate=True)
    assert headers.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    assert compressed, f"the CONNECT answer went uncompressed: {payload!r}"
    assert not payload.startswith(b"40{")
    # a client that does not offer it gets plain messages
    headers, (compressed, payload) = connect_answer(url, offer_deflate=False)
    assert "sec-websocket-extensions" not in headers
    assert not compressed and payload.startswith(b'40{"sid":')


def test_websocket_compression_threshold_keeps_small_messages_plain(serve):
    url = serve(rtio.Server(websocket_compression=True))  # 1024 bytes
    headers, (compressed, payload) = connect_answer(url, offer_deflate=True)
    assert headers.get("sec-websocket-extensions", "").startswith("permessage-deflate")
    assert not compressed and payload.startswith(b'40{"sid":')


def test_no_websocket_compression_by_default(serve):
    headers, (compressed, payload) = connect_answer(serve(rtio.Server()), offer_deflate=True)
    assert "sec-websocket-extensions" not in headers
    assert not compressed and payload.startswith(b'40{"sid":')


def test_python_socketio_client_works_with_websocket_compression_on(serve, client):
    # (websocket-client offers no permessage-deflate: the server sends it plain messages)
    sio, _ = echo_server(websocket_compression=True, websocket_compression_threshold=0)
    c = client(serve(sio), transports=["websocket"])
    c.sio.emit("message", "x" * 5000)
    assert c.expect("message-back") == (["x" * 5000],)


# ------------------------------------------------------------------------------ EIO3

def v3_post(url, packet):
    """One packet in Engine.IO v3's text payload framing (``<length>:<packet>``)."""
    res = requests.post(url, data=f"{len(packet)}:{packet}".encode(), timeout=WAIT)
    assert res.status_code == 200 and res.text == "ok", res.text


def test_allow_eio3_serves_engineio_v3_clients(serve):
    sio = rtio.Server(allow_eio3=True)
    connects = []

    @sio.event
    def connect(sid, environ, auth):
        connects.append(sid)

    @sio.on("echo")
    def echo(sid, data):
        return data

    @sio.on("binary")
    def binary(sid, data):
        return data, b"\x01\x02"

    url = serve(sio)
    base = f"{url}/socket.io/?EIO=3&transport=polling"
    res = requests.get(base, timeout=WAIT)
    assert res.status_code == 200
    length, _, packet = res.text.partition(":")  # v3: length-framed, no record separator
    assert packet.startswith("0{") and int(length) == len(packet)
    session = f"{base}&sid={json.loads(packet[1:])['sid']}"
    # Socket.IO protocol v4: the server connects the client to / on its own
    assert requests.get(session, timeout=WAIT).text == "2:40"
    assert len(connects) == 1
    v3_post(session, '421["echo","hi"]')
    assert requests.get(session, timeout=WAIT).text == '9:431["hi"]'
    # a binary ack in v3's binary payload form: the packet, then its attachment
    v3_post(session, '422["binary","x"]')
    body = requests.get(session, timeout=WAIT).content
    assert b'461-2["x",{"_placeholder":true,"num":0}]' in body  # BINARY_ACK, 1 attachment
    assert body.endswith(b"\x04\x01\x02"), body  # (binary message: type byte 4, the bytes)


def test_engineio_v3_clients_are_refused_by_default(serve):
    url = serve(rtio.Server())
    res = requests.get(f"{url}/socket.io/?EIO=3&transport=polling", timeout=WAIT)
    assert res.status_code == 400
    # v4 is served
    assert requests.get(f"{url}/socket.io/?EIO=4&transport=polling",
                        timeout=WAIT).status_code == 200


# ------------------------------------------------------------------------------ bundles

BUNDLES = ["socket.io.js", "socket.io.min.js", "socket.io.esm.min.js",
           "socket.io.msgpack.min.js", "socket.io.msgpack.min.js.map"]


@pytest.fixture
def client_dist(tmp_path):
    """A stand-in for socket.io-client's dist/: each bundle's text is its name."""
    for name in BUNDLES:
        (tmp_path / name).write_text(f"/* {name} */")
    return tmp_path


def test_the_client_bundles_are_served_beside_socket_io_js(serve, client_dist):
    # (socket.io serves socket.io.msgpack.min.js for pages of a msgpack server)
    url = serve(rtio.Server(client_bundle=client_dist / "socket.io.js"))
    for name in BUNDLES:
        res = requests.get(f"{url}/socket.io/{name}", timeout=WAIT)
        assert res.status_code == 200 and res.text == f"/* {name} */", name
    assert requests.get(f"{url}/socket.io/socket.io.other.js", timeout=WAIT).status_code != 200


def test_a_mounted_server_serves_the_same_bundles(client_dist):
    import io

    sio = rtio.Server(client_bundle=client_dist / "socket.io.js")
    app = rtio.WSGIApp(sio, lambda environ, start_response: (
        start_response("418 I'm a teapot", []), [b"the app"])[1])

    def get(path):
        got = {}

        def start_response(status, headers):
            got["status"], got["headers"] = status, dict(headers)

        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "",
                   "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1",
                   "wsgi.input": io.BytesIO()}
        body = b"".join(app(environ, start_response))
        return got["status"], got["headers"], body

    try:
        for name in BUNDLES:
            status, headers, body = get(f"/socket.io/{name}")
            assert status.startswith("200") and body == f"/* {name} */".encode(), name
            kind = "application/json" if name.endswith(".map") else "application/javascript"
            assert headers["Content-Type"].startswith(kind)
        (client_dist / "socket.io.min.js").unlink()
        assert get("/socket.io/socket.io.min.js")[0].startswith("404")
        assert get("/other.js")[2] == b"the app"
    finally:
        sio.shutdown()


# ------------------------------------------------------------------------------ aiohttp

@pytest.mark.parametrize("on", [True, False], ids=["compression on", "compression off"])
@pytest.mark.skipif(shutil.which("openssl") is None,
                    reason="the openssl command makes the test certificate")
def test_aiohttp_over_its_own_tls_follows_websocket_compression(tmp_path, on):
    # Over aiohttp's TLS, aiohttp frames the WebSocket (rtio cannot take the connection
    # over): its permessage-deflate is switched as websocket_compression says.
    from aiohttp import ClientSession, WSMsgType, web

    from test_tls_cookie import make_certificate

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make_certificate(cert, key)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))

    async def main():
        sio = rtio.AsyncServer(async_mode="aiohttp", websocket_compression=on,
                               serializer="msgpack")
        app = web.Application()
        sio.attach(app)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with ClientSession() as http:
                url = f"wss://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
                ws = await asyncio.wait_for(
                    http.ws_connect(url, ssl=client_ctx, compress=15), WAIT)
                async with ws:
                    assert bool(ws.compress) is on  # what the 101 agreed on
                    opening = await asyncio.wait_for(ws.receive(), WAIT)
                    assert opening.type == WSMsgType.TEXT and opening.data.startswith("0{")
        finally:
            await sio.shutdown()
            await runner.cleanup()

    asyncio.run(main())
