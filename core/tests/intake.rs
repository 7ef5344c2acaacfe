//! Requests and connections handed over by a host that owns the HTTP server
//! (`Io::handle_request`, `Io::adopt_websocket`): the test plays the host with a listener of
//! its own, and raw clients check what they get, exactly as on rtio's own listener.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};

use bytes::Bytes;
use rtio::{Config, Event, HttpRequest, HttpResponse, Io, Server, WsMessage};

#[path = "support/polling.rs"]
mod polling;
use polling::{next, start, WAIT};

fn request(method: &str, url: &str, body: &str) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        url: url.into(),
        headers: vec![("host".into(), "app.example".into())],
        body: Bytes::from(body.to_string()),
        remote_addr: "127.0.0.7:4000".parse().unwrap(),
        secure: false,
    }
}

/// Hands a request over and waits for its answer, taking the events that come meanwhile.
fn handle(server: &Server, req: HttpRequest, meanwhile: &mut Vec<Event>) -> HttpResponse {
    let token = server.io().handle_request(req).unwrap();
    loop {
        match next(server) {
            Event::HttpResponse { token: t, response } if t == token => return response,
            other => meanwhile.push(other),
        }
    }
}

#[test]
fn polling_requests_handed_over_are_answered_as_on_rtio_s_listener() {
    // embedded: no listener of rtio's own, every request comes from the host
    let server = start(Config::default().listen(false));
    assert_eq!(server.local_addr().port(), 0);
    let mut events = Vec::new();
    let open = handle(
        &server,
        request("GET", "/socket.io/?EIO=4&transport=polling", ""),
        &mut events,
    );
    assert_eq!(open.status, 200);
    let body = std::str::from_utf8(&open.body).unwrap();
    assert!(body.starts_with("0{\"sid\":"), "{body}");
    let eio: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    let path = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        eio["sid"].as_str().unwrap()
    );

    let posted = handle(&server, request("POST", &path, "40"), &mut events);
    assert_eq!((posted.status, &posted.body[..]), (200, &b"ok"[..]));
    let sid = match events.pop().unwrap_or_else(|| next(&server)) {
        Event::Connect { sid, handshake, .. } => {
            assert_eq!(handshake.remote_addr.to_string(), "127.0.0.7:4000");
            sid
        }
        other => panic!("{other:?}"),
    };
    let connected = handle(&server, request("GET", &path, ""), &mut events);
    assert_eq!(
        std::str::from_utf8(&connected.body).unwrap(),
        format!("40{{\"sid\":\"{sid}\"}}")
    );

    // a long-poll waits: its answer comes with the packet emitted after it was handed over
    let io: Io = server.io();
    let token = io.handle_request(request("GET", &path, "")).unwrap();
    io.emit(&sid, "hello", &rtio::Payload::one(1)).unwrap();
    match next(&server) {
        Event::HttpResponse { token: t, response } => {
            assert_eq!(t, token);
            assert_eq!(&response.body[..], b"42[\"hello\",1]");
        }
        other => panic!("{other:?}"),
    }

    // errors are the protocol's, and a WebSocket handshake is not taken here
    let unknown = handle(
        &server,
        request("GET", "/socket.io/?EIO=4&transport=polling&sid=nope", ""),
        &mut events,
    );
    assert_eq!(unknown.status, 400);
    assert_eq!(
        &unknown.body[..],
        br#"{"code":1,"message":"Session ID unknown"}"#
    );
    let mut upgrade = request("GET", "/socket.io/?EIO=4&transport=websocket", "");
    upgrade.headers.extend([
        ("connection".into(), "Upgrade".into()),
        ("upgrade".into(), "websocket".into()),
        ("sec-websocket-version".into(), "13".into()),
        (
            "sec-websocket-key".into(),
            "dGhlIHNhbXBsZSBub25jZQ==".into(),
        ),
    ]);
    assert_eq!(handle(&server, upgrade, &mut events).status, 400);
    assert_eq!(
        handle(&server, request("GET", "no url", ""), &mut events).status,
        400
    );
}

/// The host's side of a WebSocket handshake: accepts one connection, reads the request's
/// head (and whatever followed it) and hands both over.
fn host_adopts(io: &Io, listener: &TcpListener) {
    let (mut stream, remote) = listener.accept().unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the client left");
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = std::str::from_utf8(&got[..end]).unwrap();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap().split(' ');
    let (method, url) = (first.next().unwrap(), first.next().unwrap());
    let headers = lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let req = HttpRequest {
        method: method.into(),
        url: url.into(),
        headers,
        body: Bytes::new(),
        remote_addr: remote,
        secure: false,
    };
    io.adopt_websocket(stream, req, got[end..].to_vec())
        .unwrap();
}

/// A raw WebSocket client: sends the handshake (and optionally a first frame in the same
/// write), returns the connection and the answer's head.
fn ws_client(addr: SocketAddr, url: &str, first: Option<&str>) -> (TcpStream, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut out = format!(
        "GET {url} HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    )
    .into_bytes();
    if let Some(text) = first {
        out.extend(frame(text));
    }
    s.write_all(&out).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "closed before an answer: {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(got[..i + 4].to_vec()).unwrap();
            return (s, head, got[i + 4..].to_vec());
        }
    }
}

/// A masked text frame (mask 0: the bytes stay readable).
fn frame(text: &str) -> Vec<u8> {
    assert!(text.len() < 126);
    let mut f = vec![0x81, 0x80 | text.len() as u8, 0, 0, 0, 0];
    f.extend_from_slice(text.as_bytes());
    f
}

/// The next text frame's payload (`buffered`: bytes read already).
fn read_text(s: &mut TcpStream, buffered: &mut Vec<u8>) -> String {
    let mut buf = [0u8; 4096];
    loop {
        if buffered.len() >= 2 {
            let len = (buffered[1] & 0x7f) as usize;
            assert!(len < 126, "short frames only");
            if buffered.len() >= 2 + len {
                assert_eq!(buffered[0], 0x81, "a text frame");
                let text = String::from_utf8(buffered[2..2 + len].to_vec()).unwrap();
                buffered.drain(..2 + len);
                return text;
            }
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        buffered.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn adopted_websockets_are_served_by_rtio() {
    let server = start(Config::default().listen(false));
    let io = server.io();
    let host = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = host.local_addr().unwrap();

    // a fresh WebSocket whose first packet came in the same write as the handshake
    let client = std::thread::spawn(move || {
        ws_client(addr, "/socket.io/?EIO=4&transport=websocket", Some("40"))
    });
    host_adopts(&io, &host);
    let (mut ws, head, mut buffered) = client.join().unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(
        head.to_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    let open = read_text(&mut ws, &mut buffered);
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    let sid = match next(&server) {
        Event::Connect { sid, handshake, .. } => {
            assert_eq!(handshake.remote_addr, ws.local_addr().unwrap());
            sid
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        read_text(&mut ws, &mut buffered),
        format!("40{{\"sid\":\"{sid}\"}}")
    );
    ws.write_all(&frame("42[\"hi\",2]")).unwrap();
    match next(&server) {
        Event::Message { event, payload, .. } => {
            assert_eq!((event.as_str(), payload.json()), ("hi", "[2]"))
        }
        other => panic!("{other:?}"),
    }
    io.emit(&sid, "back", &rtio::Payload::one(3)).unwrap();
    assert_eq!(read_text(&mut ws, &mut buffered), "42[\"back\",3]");

    // a refused handshake: the answer, then the connection closes
    let client = std::thread::spawn(move || {
        ws_client(addr, "/socket.io/?EIO=4&transport=websocket&sid=nope", None)
    });
    host_adopts(&io, &host);
    let (mut refused, head, rest) = client.join().unwrap();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
    let mut body = rest;
    refused.read_to_end(&mut body).unwrap();
    assert_eq!(body, br#"{"code":1,"message":"Session ID unknown"}"#);
}

/// The next event of bridged WebSocket `id` (skipping the others, which `skipped` keeps).
fn ws_event(server: &Server, id: u64, skipped: &mut Vec<Event>) -> Event {
    loop {
        match next(server) {
            Event::WebSocketAnswer { id: i, .. }
            | Event::WebSocketSend { id: i, .. }
            | Event::WebSocketClose { id: i, .. }
                if i != id =>
            {
                panic!("an event of another WebSocket ({i})")
            }
            ev @ (Event::WebSocketAnswer { .. }
            | Event::WebSocketSend { .. }
            | Event::WebSocketClose { .. }) => return ev,
            other => skipped.push(other),
        }
    }
}

/// A WebSocket handshake to the Engine.IO path, for a host-framed WebSocket.
fn ws_request() -> HttpRequest {
    request("GET", "/socket.io/?EIO=4&transport=websocket", "")
}

/// Opens a host-framed WebSocket with `handshake` and joins `/` over it, taking rtio's
/// answer, the open packet and the CONNECT: the WebSocket's id, the socket's id and its
/// handshake.
fn bridged_socket(
    server: &Server,
    handshake: HttpRequest,
    skipped: &mut Vec<Event>,
) -> (
    u64,
    std::sync::Arc<str>,
    std::sync::Arc<rtio::engineio::Handshake>,
) {
    let io = server.io();
    let id = io.open_websocket(handshake).unwrap();
    io.websocket_receive(id, WsMessage::Text("40".into()))
        .unwrap();
    assert!(matches!(
        ws_event(server, id, skipped),
        Event::WebSocketAnswer { .. }
    ));
    sent_text(ws_event(server, id, skipped));
    sent_text(ws_event(server, id, skipped));
    match skipped.pop().unwrap_or_else(|| next(server)) {
        Event::Connect { sid, handshake, .. } => (id, sid, handshake),
        other => panic!("{other:?}"),
    }
}

fn sent_text(ev: Event) -> String {
    match ev {
        Event::WebSocketSend {
            message: WsMessage::Text(t),
            ..
        } => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn websockets_framed_by_the_host_are_served_message_by_message() {
    let server = start(Config::default().listen(false));
    let io = server.io();
    let mut skipped = Vec::new();

    let id = io
        .open_websocket(request("GET", "/socket.io/?EIO=4&transport=websocket", ""))
        .unwrap();
    // the client's first message may come before rtio answered: it waits
    io.websocket_receive(id, WsMessage::Text("40".into()))
        .unwrap();
    match ws_event(&server, id, &mut skipped) {
        Event::WebSocketAnswer { response, .. } => assert_eq!(response.status, 101),
        other => panic!("{other:?}"),
    }
    let open = sent_text(ws_event(&server, id, &mut skipped));
    assert!(open.starts_with("0{\"sid\":"), "{open}");
    let connected = sent_text(ws_event(&server, id, &mut skipped));
    let sid = match skipped.pop().unwrap_or_else(|| next(&server)) {
        Event::Connect { sid, handshake, .. } => {
            assert_eq!(handshake.remote_addr.to_string(), "127.0.0.7:4000");
            assert_eq!(handshake.headers.get("host"), Some(&b"app.example"[..]));
            sid
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(connected, format!("40{{\"sid\":\"{sid}\"}}"));

    // both ways, binary included
    io.websocket_receive(
        id,
        WsMessage::Text("451-[\"bin\",{\"_placeholder\":true,\"num\":0}]".into()),
    )
    .unwrap();
    io.websocket_receive(id, WsMessage::Binary(Bytes::from_static(&[1, 2, 3])))
        .unwrap();
    match next(&server) {
        Event::Message { event, payload, .. } => {
            assert_eq!(event, "bin");
            assert_eq!(&payload.attachments()[0][..], &[1, 2, 3]);
        }
        other => panic!("{other:?}"),
    }
    io.emit(&sid, "back", &rtio::Payload::one(4)).unwrap();
    assert_eq!(
        sent_text(ws_event(&server, id, &mut skipped)),
        "42[\"back\",4]"
    );

    // the host's client goes: the socket leaves
    io.websocket_close(id).unwrap();
    match next(&server) {
        Event::Disconnect { sid: s, .. } => assert_eq!(s, sid),
        other => panic!("{other:?}"),
    }
    assert!(io
        .websocket_receive(id, WsMessage::Text("3".into()))
        .is_err());

    // rtio ends one: the host hears of it
    let (id, sid, _) = bridged_socket(&server, ws_request(), &mut skipped);
    io.disconnect(&sid, true).unwrap();
    assert_eq!(sent_text(ws_event(&server, id, &mut skipped)), "41");
    assert!(matches!(
        ws_event(&server, id, &mut skipped),
        Event::WebSocketClose { code: 1000, .. }
    ));

    // a refused handshake: the refusal rtio's listener would send
    let id = io
        .open_websocket(request(
            "GET",
            "/socket.io/?EIO=4&transport=websocket&sid=nope",
            "",
        ))
        .unwrap();
    match ws_event(&server, id, &mut skipped) {
        Event::WebSocketAnswer { response, .. } => {
            assert_eq!(response.status, 400);
            assert_eq!(
                &response.body[..],
                br#"{"code":1,"message":"Session ID unknown"}"#
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(io
        .websocket_receive(id, WsMessage::Text("40".into()))
        .is_err());
}

/// A long-polling session handed over by a host, joined to `/` (its CONNECT answer taken):
/// its path for later requests, and the socket's id.
fn connected_session(server: &Server, events: &mut Vec<Event>) -> (String, std::sync::Arc<str>) {
    let open = handle(
        server,
        request("GET", "/socket.io/?EIO=4&transport=polling", ""),
        events,
    );
    let eio: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&open.body[1..]).unwrap()).unwrap();
    let path = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        eio["sid"].as_str().unwrap()
    );
    handle(server, request("POST", &path, "40"), events);
    handle(server, request("GET", &path, ""), events);
    let sid = match events.pop().unwrap_or_else(|| next(server)) {
        Event::Connect { sid, .. } => sid,
        other => panic!("{other:?}"),
    };
    (path, sid)
}

#[test]
fn a_host_s_polling_client_collects_its_close_packet_while_the_server_stops() {
    let server = start(Config::default().listen(false));
    let mut events = Vec::new();
    let (path, _) = connected_session(&server, &mut events);

    let io = server.io();
    let stopping = std::thread::spawn(move || io.stop());
    // the stop waits for this session to drain: its GET, handed over, gets the close
    let closed = handle(&server, request("GET", &path, ""), &mut events);
    let packets = std::str::from_utf8(&closed.body).unwrap();
    assert!(
        packets.ends_with('1'),
        "the close packet comes last: {packets:?}"
    );
    stopping.join().unwrap();
    assert!(matches!(
        server.io().handle_request(request("GET", &path, "")),
        Err(rtio::Error::Stopped)
    ));
}

#[test]
fn a_long_poll_whose_client_goes_away_closes_its_session() {
    // handed over by a host, which cancels it when its client's connection closes
    let server = start(Config::default().listen(false));
    let mut events = Vec::new();
    let (path, sid) = connected_session(&server, &mut events);
    let io = server.io();
    let token = io.handle_request(request("GET", &path, "")).unwrap();
    io.cancel_request(token).unwrap();
    match next(&server) {
        Event::Disconnect { sid: s, reason, .. } => {
            assert_eq!(s, sid);
            assert_eq!(reason, rtio::DisconnectReason::TransportError);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        io.cancel_request(token).is_err(),
        "answered or cancelled: gone"
    );
}

#[test]
fn a_bridged_websocket_over_tls_is_secure_and_closes_with_the_protocol_s_code() {
    let server = start(Config::default().listen(false).max_payload(1000));
    let io = server.io();
    let mut skipped = Vec::new();
    let tls = HttpRequest {
        secure: true,
        ..ws_request()
    };
    let (id, _, handshake) = bridged_socket(&server, tls, &mut skipped);
    assert!(handshake.secure);

    // over max_payload: engine.io's WebSocket closes with 1009, and so must the host's
    let big = format!("42[\"x\",\"{}\"]", "a".repeat(2000));
    io.websocket_receive(id, WsMessage::Text(big)).unwrap();
    assert!(matches!(
        ws_event(&server, id, &mut skipped),
        Event::WebSocketClose { code: 1009, .. }
    ));
}

#[test]
fn a_bridged_websocket_keeps_the_client_s_key_and_version_and_refuses_bad_ones() {
    let server = start(Config::default().listen(false));
    let io = server.io();
    let mut skipped = Vec::new();
    for (name, value) in [
        ("Sec-WebSocket-Key", "short"),
        ("Sec-WebSocket-Version", "8"),
    ] {
        let mut req = request("GET", "/socket.io/?EIO=4&transport=websocket", "");
        req.headers.push((name.into(), value.into()));
        let id = io.open_websocket(req).unwrap();
        match ws_event(&server, id, &mut skipped) {
            Event::WebSocketAnswer { response, .. } => {
                assert_eq!(response.status, 400, "{name}: {value}")
            }
            other => panic!("{other:?}"),
        }
    }
    // a good key passes
    let mut req = request("GET", "/socket.io/?EIO=4&transport=websocket", "");
    req.headers.push((
        "sec-websocket-key".into(),
        "x3JJHMbDL1EzLkh9GBhXDw==".into(),
    ));
    let id = io.open_websocket(req).unwrap();
    match ws_event(&server, id, &mut skipped) {
        Event::WebSocketAnswer { response, .. } => assert_eq!(response.status, 101),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bridged_websocket_carries_many_messages_both_ways() {
    let server = start(Config::default().listen(false));
    let io = server.io();
    let mut skipped = Vec::new();
    let (id, sid, _) = bridged_socket(&server, ws_request(), &mut skipped);
    // far more than one read buffer's worth each way (4 KiB)
    let data = "y".repeat(200);
    for n in 1..=100u64 {
        io.websocket_receive(
            id,
            WsMessage::Text(format!("42{n}[\"message-with-ack\",\"{data}\"]")),
        )
        .unwrap();
        let ack = loop {
            match next(&server) {
                Event::Message { ack: Some(ack), .. } => break ack,
                Event::Message { .. } => continue,
                other => panic!("message {n}: {other:?}"),
            }
        };
        io.ack(&sid, ack, &rtio::Payload::one(data.clone()))
            .unwrap();
        assert_eq!(
            sent_text(ws_event(&server, id, &mut skipped)),
            format!("43{n}[\"{data}\"]"),
            "ack {n}"
        );
    }
}
