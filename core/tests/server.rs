//! Integration tests of the Rust API over real sockets, with a minimal HTTP long-polling
//! client (the official clients are exercised by tests/interop).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rtio::{AckError, Config, DisconnectReason, Error, Event, Payload, Server};

#[path = "support/polling.rs"]
mod polling;
use polling::{http_bytes as http, next, start, WAIT};

/// A polling client: handshake, then POST/GET on the session.
struct Polling {
    addr: SocketAddr,
    sid: String,
}

impl Polling {
    fn open(addr: SocketAddr) -> Polling {
        let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"");
        assert_eq!(status, 200);
        let body = String::from_utf8(body).unwrap();
        assert!(body.starts_with("0{"), "{body}");
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        Polling {
            addr,
            sid: open["sid"].as_str().unwrap().to_string(),
        }
    }

    fn post(&self, packets: &str) -> u16 {
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid);
        http(self.addr, "POST", &path, packets.as_bytes()).0
    }

    fn get(&self) -> String {
        let path = format!("/socket.io/?EIO=4&transport=polling&sid={}", self.sid);
        let (status, body) = http(self.addr, "GET", &path, b"");
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }
}

#[test]
fn binds_port_zero_and_reports_port_in_use() {
    let a = start(Config::default());
    assert_ne!(a.local_addr().port(), 0);
    let taken = Config::default()
        .host("127.0.0.1")
        .port(a.local_addr().port());
    match Server::start(taken) {
        Err(Error::Bind(msg)) => assert!(msg.contains("in use"), "{msg}"),
        other => panic!(
            "expected a bind error, got {:?}",
            other.map(|s| s.local_addr())
        ),
    }
    assert!(matches!(
        Server::start(Config::default().host("not an address")),
        Err(Error::Bind(_))
    ));
}

#[test]
fn calls_after_stop_return_stopped() {
    let server = start(Config::default());
    let io = server.io();
    server.stop();
    server.stop();
    assert_eq!(io.emit("x", "e", &Payload::empty()), Err(Error::Stopped));
    assert_eq!(io.join("x", "r"), Err(Error::Stopped));
    assert_eq!(
        io.broadcast("/").emit("e", &Payload::empty()),
        Err(Error::Stopped)
    );
    assert_eq!(io.stats("/"), Err(Error::Stopped));
    assert!(matches!(server.events().recv(), Err(Error::Stopped)));
    assert!(std::net::TcpStream::connect(server.local_addr()).is_err());
}

#[test]
fn unknown_ids_are_errors() {
    let server = start(Config::default());
    let io = server.io();
    assert!(matches!(
        io.emit("nope", "e", &Payload::empty()),
        Err(Error::UnknownSocket(_))
    ));
    assert!(matches!(io.stats("/nope"), Err(Error::UnknownNamespace(_))));
    assert_eq!(io.accept(42), Err(Error::UnknownRequest(42)));
    assert!(matches!(
        io.reject(1, "m", Some("{bad")),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn polling_round_trip_with_acks_and_rooms() {
    let server = start(Config::default());
    let io = server.io();
    let c = Polling::open(server.local_addr());
    assert_eq!(c.post("40{\"token\":1}"), 200);
    let sid = match next(&server) {
        Event::Connect { sid, nsp, auth, .. } => {
            assert_eq!(&*nsp, "/");
            assert_eq!(auth, "{\"token\":1}");
            sid
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(c.get(), format!("40{{\"sid\":\"{sid}\"}}"));

    assert_eq!(c.post("421[\"hello\",{\"a\":[1,2]},\"x\"]"), 200);
    match next(&server) {
        Event::Message {
            event,
            payload,
            ack,
            ..
        } => {
            assert_eq!(event, "hello");
            assert_eq!(payload.json(), "[{\"a\":[1,2]},\"x\"]");
            assert_eq!(ack, Some(1));
            io.ack(&sid, 1, &payload).unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.get(), "431[{\"a\":[1,2]},\"x\"]");

    io.join(&sid, "room").unwrap();
    assert_eq!(
        io.rooms(&sid).unwrap(),
        vec![sid.to_string(), "room".to_string()]
    );
    assert_eq!(io.stats("/").unwrap().rooms, 1);
    let sent = io
        .broadcast("/")
        .to("room")
        .emit("news", &Payload::one(1))
        .unwrap();
    assert_eq!(sent, 1);
    let skipped = io
        .broadcast("/")
        .to("room")
        .skip(&*sid)
        .emit("news", &Payload::one(2))
        .unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(c.get(), "42[\"news\",1]");

    // Binary attachments travel as base64 over polling.
    let bin = Payload::from_json("[{\"_placeholder\":true,\"num\":0}]")
        .unwrap()
        .with_attachments(vec![vec![1u8, 2, 3].into()]);
    io.emit(&sid, "bin", &bin).unwrap();
    assert_eq!(
        c.get(),
        "451-[\"bin\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID"
    );

    let token = io
        .emit_with_ack(&sid, "q", &Payload::empty(), Duration::from_millis(100))
        .unwrap();
    assert_eq!(c.get(), "420[\"q\"]");
    match next(&server) {
        Event::AckResponse {
            token: t, result, ..
        } => {
            assert_eq!(t, token);
            assert_eq!(result, Err(AckError::Timeout));
        }
        other => panic!("{other:?}"),
    }
    // A late ack is ignored: no second answer.
    assert_eq!(c.post("430[\"late\"]"), 200);
    assert!(server
        .events()
        .recv_timeout(Duration::from_millis(300))
        .unwrap()
        .is_none());

    assert_eq!(c.post("41"), 200);
    match next(&server) {
        Event::Disconnect { reason, .. } => {
            assert_eq!(reason, DisconnectReason::ClientNamespaceDisconnect)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(io.stats("/").unwrap().sockets, 0);
}

#[test]
fn middleware_accepts_and_rejects() {
    let server = start(Config::default().namespace("/admin", true));
    let io = server.io();
    let c = Polling::open(server.local_addr());
    assert_eq!(c.post("40/admin,{\"token\":\"no\"}"), 200);
    match next(&server) {
        Event::ConnectRequest { request, nsp, .. } => {
            assert_eq!(&*nsp, "/admin");
            io.reject(request, "unauthorized", Some("{\"why\":1}"))
                .unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.get(),
        "44/admin,{\"message\":\"unauthorized\",\"data\":{\"why\":1}}"
    );
    assert_eq!(c.post("40/admin,"), 200);
    match next(&server) {
        Event::ConnectRequest { request, sid, .. } => {
            // Emitted while pending: delivered right after the CONNECT packet.
            io.emit(&sid, "welcome", &Payload::empty()).unwrap();
            io.accept(request).unwrap()
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&server), Event::Connect { .. }));
    let got = c.get();
    assert!(got.starts_with("40/admin,{\"sid\":"), "{got}");
    assert!(got.ends_with("\x1e42/admin,[\"welcome\"]"), "{got}");
    assert_eq!(c.post("40/nowhere,"), 200);
    assert_eq!(c.get(), "44/nowhere,{\"message\":\"Invalid namespace\"}");
}

#[test]
fn malformed_packet_closes_only_that_connection() {
    let server = start(Config::default());
    let good = Polling::open(server.local_addr());
    let bad = Polling::open(server.local_addr());
    good.post("40");
    bad.post("40");
    assert!(matches!(next(&server), Event::Connect { .. }));
    assert!(matches!(next(&server), Event::Connect { .. }));
    good.get();
    bad.get();
    bad.post("42[\"unterminated\"");
    match next(&server) {
        Event::Disconnect { reason, .. } => assert_eq!(reason, DisconnectReason::ParseError),
        other => panic!("{other:?}"),
    }
    assert!(bad.get().ends_with('1'));
    good.post("42[\"still\"]");
    assert!(matches!(next(&server), Event::Message { .. }));
}

#[test]
fn stop_disconnects_clients() {
    let server = start(Config::default());
    let c = Polling::open(server.local_addr());
    c.post("40");
    assert!(matches!(next(&server), Event::Connect { .. }));
    c.get();
    let io = server.io();
    let t = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        io.stop();
        started.elapsed()
    });
    // The pending GET sees the disconnect packet and the close packet.
    let body = c.get();
    assert!(body.contains("41"), "{body}");
    assert!(t.join().unwrap() < Duration::from_secs(2));
}

#[test]
fn slow_host_applies_backpressure_without_losing_order() {
    let server = start(Config {
        event_queue: 2,
        ..Config::default()
    });
    let c = Polling::open(server.local_addr());
    c.post("40");
    let packets: Vec<String> = (0..50).map(|i| format!("42[\"n\",{i}]")).collect();
    let body = packets.join("\x1e");
    let poster = std::thread::spawn(move || c.post(&body));
    assert!(matches!(next(&server), Event::Connect { .. }));
    for i in 0..50 {
        match next(&server) {
            Event::Message { payload, .. } => assert_eq!(payload.json(), format!("[{i}]")),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(poster.join().unwrap(), 200);
}

#[test]
fn namespaces_can_be_added_while_running() {
    let server = start(Config::default());
    let io = server.io();
    let c = Polling::open(server.local_addr());
    c.post("40/late,");
    assert_eq!(c.get(), "44/late,{\"message\":\"Invalid namespace\"}");
    assert!(matches!(
        io.add_namespace("late", false),
        Err(Error::InvalidArgument(_))
    ));
    io.add_namespace("/late", false).unwrap();
    c.post("40/late,");
    match next(&server) {
        Event::Connect { nsp, .. } => assert_eq!(&*nsp, "/late"),
        other => panic!("{other:?}"),
    }
    assert!(c.get().starts_with("40/late,{\"sid\":"));
    assert_eq!(io.stats("/late").unwrap().sockets, 1);
}

#[test]
fn slow_client_is_disconnected_when_its_queue_is_full() {
    let server = start(Config {
        send_queue_frames: 8,
        ..Config::default()
    });
    let io = server.io();
    let slow = Polling::open(server.local_addr());
    let fast = Polling::open(server.local_addr());
    slow.post("40");
    fast.post("40");
    let Event::Connect { sid: slow_sid, .. } = next(&server) else {
        panic!("connect expected")
    };
    assert!(matches!(next(&server), Event::Connect { .. }));
    fast.get();
    // The slow client never reads: its queue fills and it is dropped, with a reason.
    for i in 0..20 {
        let _ = io.emit(&slow_sid, "flood", &Payload::one(i));
    }
    match next(&server) {
        Event::Disconnect { sid, reason, .. } => {
            assert_eq!(sid, slow_sid);
            assert_eq!(reason, DisconnectReason::SendQueueFull);
        }
        other => panic!("{other:?}"),
    }
    // Everyone else is unaffected.
    fast.post("42[\"still here\"]");
    assert!(matches!(next(&server), Event::Message { .. }));
}

#[test]
fn polling_responses_carry_at_most_16_packets() {
    let server = start(Config::default());
    let io = server.io();
    let c = Polling::open(server.local_addr());
    c.post("40");
    let Event::Connect { sid, .. } = next(&server) else {
        panic!("connect expected")
    };
    c.get();
    for i in 0..20 {
        io.emit(&sid, "n", &Payload::one(i)).unwrap();
    }
    let first = c.get();
    assert_eq!(first.split('\x1e').count(), 16);
    assert!(first.starts_with("42[\"n\",0]"));
    assert_eq!(
        c.get(),
        (16..20)
            .map(|i| format!("42[\"n\",{i}]"))
            .collect::<Vec<_>>()
            .join("\x1e")
    );
}

#[test]
fn pending_acks_are_answered_when_the_socket_leaves() {
    let server = start(Config::default());
    let io = server.io();
    let c = Polling::open(server.local_addr());
    c.post("40");
    let Event::Connect { sid, .. } = next(&server) else {
        panic!("connect expected")
    };
    let token = io
        .emit_with_ack(&sid, "q", &Payload::empty(), Duration::from_secs(3600))
        .unwrap();
    c.post("41");
    assert!(matches!(next(&server), Event::Disconnect { .. }));
    match next(&server) {
        Event::AckResponse {
            token: t, result, ..
        } => {
            assert_eq!(t, token);
            assert_eq!(result, Err(AckError::Disconnected));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stop_reports_server_shutting_down() {
    let server = start(Config::default());
    let c = Polling::open(server.local_addr());
    c.post("40");
    assert!(matches!(next(&server), Event::Connect { .. }));
    server.stop();
    match next(&server) {
        Event::Disconnect { reason, .. } => {
            assert_eq!(reason, DisconnectReason::ServerShuttingDown)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dynamic_namespaces_ask_the_host() {
    let server = start(Config {
        dynamic_namespaces: true,
        ..Config::default()
    });
    let io = server.io();
    let c = Polling::open(server.local_addr());
    c.post("40/room-42,");
    match next(&server) {
        Event::ConnectRequest { request, nsp, .. } => {
            assert_eq!(&*nsp, "/room-42");
            // The socket exists (pending) while the host decides.
            assert_eq!(io.stats("/room-42").unwrap().sockets, 1);
            io.accept(request).unwrap();
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(next(&server), Event::Connect { .. }));
    assert!(c.get().starts_with("40/room-42,{\"sid\":"));
    assert_eq!(io.stats("/room-42").unwrap().sockets, 1);
    c.post("40/nope,");
    match next(&server) {
        Event::ConnectRequest { request, sid, .. } => {
            io.emit(&sid, "early", &Payload::empty()).unwrap();
            io.reject(request, "no such room", None).unwrap()
        }
        other => panic!("{other:?}"),
    }
    // What was emitted to the pending socket is dropped with it.
    assert_eq!(c.get(), "44/nope,{\"message\":\"no such room\"}");
    assert!(matches!(io.stats("/nope"), Err(Error::UnknownNamespace(_))));
}

/// A bare WebSocket client: enough framing to send masked frames and read the server's.
struct RawWs(TcpStream);

impl RawWs {
    fn open(addr: SocketAddr) -> RawWs {
        let mut s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).unwrap();
        s.write_all(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n\
              Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).expect("101 response");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
        RawWs(s)
    }

    /// Sends one masked frame with `opcode`.
    fn send(&mut self, opcode: u8, payload: &[u8]) {
        assert!(payload.len() < 126);
        let mask = [1u8, 2, 3, 4];
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.0.write_all(&frame).unwrap();
    }

    /// Reads one frame: (opcode, payload).
    fn recv(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        self.0.read_exact(&mut head).expect("a frame");
        let len = match head[1] & 0x7f {
            126 => {
                let mut n = [0u8; 2];
                self.0.read_exact(&mut n).unwrap();
                u16::from_be_bytes(n) as usize
            }
            127 => {
                let mut n = [0u8; 8];
                self.0.read_exact(&mut n).unwrap();
                u64::from_be_bytes(n) as usize
            }
            n => n as usize,
        };
        let mut payload = vec![0u8; len];
        self.0.read_exact(&mut payload).unwrap();
        (head[0] & 0x0f, payload)
    }

    fn recv_text(&mut self) -> String {
        let (opcode, payload) = self.recv();
        assert_eq!(opcode, 1, "a text frame");
        String::from_utf8(payload).unwrap()
    }
}

#[test]
fn websocket_frames_sent_together_arrive_whole_and_pings_get_pongs() {
    let server = start(Config::default());
    let io = server.io();
    let mut ws = RawWs::open(server.local_addr());
    assert!(ws.recv_text().starts_with("0{"));
    ws.send(1, b"40");
    let sid = match next(&server) {
        Event::Connect { sid, .. } => sid,
        other => panic!("{other:?}"),
    };
    assert_eq!(ws.recv_text(), format!("40{{\"sid\":\"{sid}\"}}"));

    // Queued faster than one write each: the writer sends them as one batch.
    let big = "x".repeat(70_000);
    for i in 0..50 {
        io.emit(&sid, "n", &Payload::one(i)).unwrap();
    }
    io.emit(&sid, "big", &Payload::one(&*big)).unwrap();
    io.emit(&sid, "n", &Payload::one(50)).unwrap();
    for i in 0..50 {
        assert_eq!(ws.recv_text(), format!("42[\"n\",{i}]"));
    }
    assert_eq!(ws.recv_text(), format!("42[\"big\",\"{big}\"]"));
    assert_eq!(ws.recv_text(), "42[\"n\",50]");

    // A WebSocket ping (not Engine.IO's) is answered at once, not held back by batching.
    ws.send(9, b"are you there");
    assert_eq!(ws.recv(), (10, b"are you there".to_vec()));
}

#[test]
fn websocket_protocol_violations_close_only_that_connection_with_their_code() {
    let server = start(Config::default());
    let mut bad = RawWs::open(server.local_addr());
    let mut good = RawWs::open(server.local_addr());
    assert!(bad.recv_text().starts_with("0{"));
    assert!(good.recv_text().starts_with("0{"));

    // A client frame must be masked (RFC 6455 §5.1): close 1002, then the connection ends.
    bad.0.write_all(&[0x81, 2, b'4', b'0']).unwrap();
    let (opcode, payload) = bad.recv();
    assert_eq!(opcode, 8, "a close frame");
    assert_eq!(payload[..2], 1002u16.to_be_bytes());
    assert_eq!(&payload[2..], b"unmasked client frame");
    assert_eq!(
        bad.0.read(&mut [0u8; 16]).unwrap(),
        0,
        "then the end of the stream"
    );

    // The other client is served as before; its close frame is answered with its code.
    good.send(1, b"40");
    assert!(matches!(next(&server), Event::Connect { .. }));
    assert!(good.recv_text().starts_with("40{\"sid\":"));
    good.send(8, &1000u16.to_be_bytes());
    assert_eq!(good.recv(), (8, 1000u16.to_be_bytes().to_vec()));
    assert!(matches!(next(&server), Event::Disconnect { .. }));
}

#[test]
fn a_long_poll_whose_connection_closes_ends_its_session_as_engine_io() {
    // engine.io: "poll connection closed prematurely" → the session closes, "transport error"
    let server = start(Config::default());
    let client = polling::Client::connect(&server, "");
    let mut poll = TcpStream::connect(client.addr).unwrap();
    write!(poll, "GET {} HTTP/1.1\r\nHost: x\r\n\r\n", client.path()).unwrap();
    std::thread::sleep(Duration::from_millis(100)); // (so that the GET waits in the server)
    drop(poll);
    match next(&server) {
        Event::Disconnect { sid, reason, .. } => {
            assert_eq!(&*sid, client.sid.as_str());
            assert_eq!(reason, DisconnectReason::TransportError);
        }
        other => panic!("{other:?}"),
    }
}

/// A host's routes: `/api/echo` answers with what it was given; everything else is rtio's.
struct Echo;

impl rtio::Routes for Echo {
    fn handle(&self, request: rtio::HttpRequest) -> rtio::RouteFuture {
        Box::pin(async move {
            if !request.url.starts_with("/api/echo") {
                return None;
            }
            Some(rtio::HttpResponse {
                status: 201,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: bytes::Bytes::from(format!(
                    "{} {} {}",
                    request.method,
                    request.url,
                    String::from_utf8_lossy(&request.body)
                )),
            })
        })
    }
}

#[test]
fn a_rust_host_s_routes_answer_beside_socket_io_on_one_port() {
    let server = start(
        Config::default()
            .max_payload(1000)
            .routes(std::sync::Arc::new(Echo)),
    );
    let addr = server.local_addr();
    let (status, body) = http(addr, "POST", "/api/echo?a=1", b"hello");
    assert_eq!(status, 201);
    assert_eq!(String::from_utf8_lossy(&body), "POST /api/echo?a=1 hello");
    // a body over max_payload is refused before the host sees it
    let (status, _) = http(addr, "POST", "/api/echo", &[b'x'; 2000]);
    assert_eq!(status, 413);
    // not the host's: rtio's own answer
    assert_eq!(http(addr, "GET", "/elsewhere", b"").0, 404);
    // the Engine.IO endpoint is never the host's
    let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"");
    assert_eq!(status, 200);
    assert!(body.starts_with(b"0{\"sid\":"));
}

#[test]
fn without_allow_upgrades_polling_clients_are_not_offered_websocket() {
    let server = start(Config {
        allow_upgrades: false,
        ..Config::default()
    });
    let addr = server.local_addr();
    let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"");
    assert_eq!(status, 200);
    let open: serde_json::Value = serde_json::from_slice(&body[1..]).unwrap();
    assert_eq!(open["upgrades"], serde_json::json!([]));
    // one that tries anyway is refused; a fresh WebSocket is still fine
    let sid = open["sid"].as_str().unwrap();
    let mut ws = TcpStream::connect(addr).unwrap();
    write!(
        ws,
        "GET /socket.io/?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    ws.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 400");
    let mut fresh = TcpStream::connect(addr).unwrap();
    write!(
        fresh,
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    fresh.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
}

#[test]
fn volatile_emits_reach_only_sockets_whose_transport_can_take_them_now() {
    let server = start(Config::default());
    let client = polling::Client::connect(&server, "");
    let io = server.io();
    // no GET waiting: dropped, never queued
    let reached = io
        .broadcast("/")
        .volatile()
        .emit("v", &Payload::one(1))
        .unwrap();
    assert_eq!(reached, 0);
    io.emit(&client.sid, "n", &Payload::one(2)).unwrap();
    client.expect(&["42[\"n\",2]"]);
    // a GET waiting: delivered (retried until the GET is in the server)
    let poll = std::thread::spawn({
        let client = polling::Client {
            addr: client.addr,
            eio: client.eio.clone(),
            sid: client.sid.clone(),
        };
        move || client.get()
    });
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let reached = io
            .broadcast("/")
            .to(client.sid.clone())
            .volatile()
            .emit("v", &Payload::one(3))
            .unwrap();
        if reached == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the GET never waited");
        std::thread::yield_now();
    }
    assert_eq!(poll.join().unwrap(), "42[\"v\",3]");
}
