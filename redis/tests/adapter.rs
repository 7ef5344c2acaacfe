//! The Redis adapter between real rtio servers and a real `redis-server` (each test starts
//! its own on a free loopback port and kills it by PID): long-polling clients on two
//! servers, every cluster operation across them, Node's captured messages (golden vectors)
//! both ways, emitters, hostile messages, Redis absent at start and restarted, a server
//! that never answers.
//!
//! A "spy" (a `RedisLink` of the test's own) watches the channels and plays a Node peer or
//! an emitter. Every wait is on an event, a packet or a message, with a deadline.

#![cfg(feature = "adapter")]

#[path = "support/redis_server.rs"]
mod redis_server;

mod common;

#[path = "support/cluster.rs"]
mod cluster;

use std::time::{Duration, Instant};

use bytes::Bytes;
use rtio::adapter::Selector;
use rtio::{ClusterError, Event, Payload};
use rtio_redis::{
    encode_msgpack, ClassicBroadcast, ClassicRequest, ClassicRequestKind, ClassicResponse, Value,
};

use cluster::{count, hex, next, node, quiet, replace, wait_count, Client, Spy, Vectors, WAIT};
use redis_server::{free_port, RedisServer};

// ---------------------------------------------------------------------------------------

#[test]
fn broadcasts_reach_the_sockets_of_every_server() {
    let redis = RedisServer::start();
    let (one, two) = (node(&redis.url()), node(&redis.url()));
    let (io1, io2) = (one.io(), two.io());
    let c1 = Client::connect(&one, "");
    let c2 = Client::connect(&two, "");
    let c3 = Client::connect(&two, "");
    io2.join(&c2.sid, "r").unwrap();

    io1.broadcast("/").emit("all", &Payload::one(1)).unwrap();
    for c in [&c1, &c2, &c3] {
        c.expect(&["42[\"all\",1]"]);
    }
    // a room with no member on the sending server
    let here = io1
        .broadcast("/")
        .to("r")
        .emit("room", &Payload::one(2))
        .unwrap();
    assert_eq!(here, 0);
    c2.expect(&["42[\"room\",2]"]);
    // everyone but a room's members
    io1.broadcast("/")
        .except("r")
        .emit("ex", &Payload::one(3))
        .unwrap();
    c1.expect(&["42[\"ex\",3]"]);
    c3.expect(&["42[\"ex\",3]"]);
    // socket.broadcast: everyone but the sender, on every server
    io2.broadcast("/")
        .skip(&*c3.sid)
        .emit("skip", &Payload::one(4))
        .unwrap();
    c2.expect(&["42[\"skip\",4]"]);
    c1.expect(&["42[\"skip\",4]"]);
    // local: this server only
    io1.broadcast("/")
        .local()
        .emit("local", &Payload::one(5))
        .unwrap();
    c1.expect(&["42[\"local\",5]"]);
    // binary arguments arrive as attachments
    let bin = Payload::from_json(r#"["x",{"_placeholder":true,"num":0}]"#)
        .unwrap()
        .with_attachments(vec![Bytes::from_static(&[1, 2, 3])]);
    io2.broadcast("/").emit("bin", &bin).unwrap();
    for c in [&c1, &c2, &c3] {
        c.expect(&[
            "451-[\"bin\",\"x\",{\"_placeholder\":true,\"num\":0}]",
            "bAQID",
        ]);
    }
    // nothing else reached anyone
    io1.broadcast("/").emit("end", &Payload::empty()).unwrap();
    for c in [&c1, &c2, &c3] {
        c.expect(&["42[\"end\"]"]);
    }
}

#[test]
fn cluster_operations_cross_servers() {
    let redis = RedisServer::start();
    let (one, two) = (node(&redis.url()), node(&redis.url()));
    let (io1, io2) = (one.io(), two.io());
    assert_eq!(count(&one), Ok(2));
    let c1 = Client::connect(&one, "{\"user\":\"ann\"}");
    let c2 = Client::connect(&two, "");
    io2.join(&c2.sid, "r").unwrap();

    // fetch_sockets: every server's sockets, remote ones described by their server
    let token = io1.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let [a, b] = &sockets[..] else {
                panic!("{sockets:?}")
            };
            let (mine, theirs) = if a.local { (a, b) } else { (b, a) };
            assert_eq!((&*mine.id, &*theirs.id), (&*c1.sid, &*c2.sid));
            assert_eq!(mine.auth, "{\"user\":\"ann\"}");
            assert!(!theirs.local);
            assert_eq!(theirs.rooms, [c2.sid.as_str(), "r"]);
            assert_eq!(theirs.auth, "{}");
            assert_eq!(theirs.data.as_deref(), Some("{}"));
            assert!(theirs.handshake.query.contains("q=1"), "{theirs:?}");
            assert_eq!(theirs.handshake.headers.get("host"), Some(&b"x"[..]));
            assert!(theirs.handshake.remote_addr.ip().is_loopback());
            assert!(theirs.handshake.issued_ms > 0);
        }
        other => panic!("{other:?}"),
    }
    let token = io1.broadcast("/").to("r").fetch_sockets().unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let ids: Vec<&str> = sockets.iter().map(|s| &*s.id).collect();
            assert_eq!(ids, [c2.sid.as_str()]);
        }
        other => panic!("{other:?}"),
    }

    // socketsJoin / socketsLeave: the next broadcast (after them on the same connection)
    // sees the change
    io1.broadcast("/").to("r").sockets_join(["z"]).unwrap();
    io1.broadcast("/")
        .to("z")
        .emit("z1", &Payload::empty())
        .unwrap();
    c2.expect(&["42[\"z1\"]"]);
    assert_eq!(io2.rooms(&c2.sid).unwrap(), [c2.sid.as_str(), "r", "z"]);
    io1.close_room("/", "z").unwrap();
    io1.broadcast("/")
        .to("z")
        .emit("z2", &Payload::empty())
        .unwrap();
    io1.broadcast("/").emit("mark", &Payload::empty()).unwrap();
    c2.expect(&["42[\"mark\"]"]);
    c1.expect(&["42[\"mark\"]"]);
    assert_eq!(io2.rooms(&c2.sid).unwrap(), [c2.sid.as_str(), "r"]);

    // serverSideEmit reaches the other hosts, not this one
    io1.server_side_emit("/", "hello", &Payload::one("all"))
        .unwrap();
    match next(&two) {
        Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack: None,
        } => assert_eq!(
            (&*nsp, &*event, payload.json()),
            ("/", "hello", "[\"all\"]")
        ),
        other => panic!("{other:?}"),
    }
    quiet(&one, Duration::from_millis(100));
    // ... and with acks, one answer per other server
    let token = io1
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let ack = match next(&two) {
        Event::ServerSideEmit { ack: Some(ack), .. } => ack,
        other => panic!("{other:?}"),
    };
    io2.server_side_ack(ack, &Payload::one("pong")).unwrap();
    match next(&one) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            assert_eq!(answers, [Payload::one("pong")]);
        }
        other => panic!("{other:?}"),
    }

    // a broadcast with acks gathers the clients of both servers
    let token = io1
        .broadcast("/")
        .emit_with_ack("q", &Payload::one(5), WAIT)
        .unwrap();
    let p1 = c1.one();
    let p2 = c2.one();
    let ack_id = |p: &str| p[2..p.find('[').unwrap()].to_string();
    assert!(
        p1.ends_with("[\"q\",5]") && p2.ends_with("[\"q\",5]"),
        "{p1} {p2}"
    );
    c2.post(&format!("43{}[\"b\",2]", ack_id(&p2)));
    c1.post(&format!("43{}[\"a\"]", ack_id(&p1)));
    match next(&one) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            let mut got: Vec<(Option<String>, String)> = answers
                .iter()
                .map(|a| {
                    (
                        a.sid.as_deref().map(str::to_string),
                        a.payload.json().into(),
                    )
                })
                .collect();
            got.sort();
            // another server relays the first argument only, without the socket id
            assert_eq!(
                got,
                [
                    (None, "[\"b\"]".to_string()),
                    (Some(c1.sid.clone()), "[\"a\"]".to_string())
                ]
            );
        }
        other => panic!("{other:?}"),
    }

    // disconnectSockets on the other server
    io1.broadcast("/")
        .to(&*c2.sid)
        .disconnect_sockets(false)
        .unwrap();
    c2.expect(&["41"]);
    assert!(matches!(next(&two), Event::Disconnect { sid, .. } if *sid == *c2.sid));

    // a stopped server leaves the count, and requests no longer wait for it
    two.stop();
    assert_eq!(count(&one), Ok(1));
    let started = Instant::now();
    let token = io1.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => assert_eq!((t, sockets.len()), (token, 1)),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn requests_end_at_the_timeout_when_a_server_does_not_answer() {
    let redis = RedisServer::start();
    let (one, two) = (node(&redis.url()), node(&redis.url()));
    let (io1, io2) = (one.io(), two.io());
    let _c1 = Client::connect(&one, "");
    let _c2 = Client::connect(&two, "");
    // a third "server" that hears requests and never answers
    let mute = Spy::new(&redis.url());
    mute.subscribe("socket.io-request#/#");
    assert_eq!(count(&one), Ok(3));

    let started = Instant::now();
    let token = io1.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: Some(ClusterError::Timeout),
        } => assert_eq!((t, sockets.len()), (token, 2), "both real servers answered"),
        other => panic!("{other:?}"),
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(550) && waited < Duration::from_secs(2),
        "requests_timeout is 600 ms, waited {waited:?}"
    );

    let token = io1
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let ack = match next(&two) {
        Event::ServerSideEmit { ack: Some(ack), .. } => ack,
        other => panic!("{other:?}"),
    };
    io2.server_side_ack(ack, &Payload::one(1)).unwrap();
    match next(&one) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: Some(ClusterError::Timeout),
        } => assert_eq!((t, answers), (token, vec![Payload::one(1)])),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn what_the_adapter_publishes_is_what_node_publishes() {
    let v = Vectors::load();
    let redis = RedisServer::start();
    let mut spy = Spy::new(&redis.url());
    spy.psubscribe("socket.io#/#*");
    spy.subscribe("socket.io-request#/#");
    let one = node(&redis.url());
    let io = one.io();

    // broadcasts: lines 2-8, from `HGB7w0`
    let sid = "Jyxm3uhJZDDT0_wrAAAA";
    io.broadcast("/").emit("visits", &Payload::one(1)).unwrap();
    let first = spy.recv();
    let uid = ClassicBroadcast::decode(&first.payload).unwrap().uid;
    assert_eq!(uid.len(), 6);
    let mut published = vec![first];
    let p = |json: &str| Payload::from_json(json).unwrap();
    io.broadcast("/")
        .emit("ev", &p(r#"[{"x":1.5,"s":"é","n":null}]"#))
        .unwrap();
    let bin = p(r#"[{"_placeholder":true,"num":0}]"#)
        .with_attachments(vec![Bytes::from_static(&[1, 2, 3])]);
    io.broadcast("/").emit("ev", &bin).unwrap();
    io.broadcast("/").to("r1").emit("ev", &p("[1]")).unwrap();
    io.broadcast("/")
        .skip(sid)
        .emit("broadcast", &p("[\"hi\"]"))
        .unwrap();
    io.broadcast("/")
        .to("r1")
        .skip(sid)
        .emit("ev", &p("[2]"))
        .unwrap();
    io.broadcast("/")
        .except("r1")
        .emit("ev", &p("[3]"))
        .unwrap();
    // socketsJoin (line 11) and serverSideEmit (line 12)
    io.broadcast("/").to("r1").sockets_join(["r2"]).unwrap();
    io.server_side_emit("/", "relay", &p(r#"[{"event":"ev","data":4}]"#))
        .unwrap();
    for _ in 0..8 {
        published.push(spy.recv());
    }
    for (got, line) in published.iter().zip([2, 3, 4, 5, 6, 7, 8, 11, 12]) {
        let want = v.line(line);
        assert_eq!(
            got.channel_str(),
            Some(want.channel.as_str()),
            "{}",
            want.origin
        );
        assert_eq!(
            hex(&got.payload),
            hex(&replace(&want.bytes, &[("HGB7w0", &uid)])),
            "{}",
            want.origin
        );
    }

    // fetchSockets (line 9), answered by a "Node server" with its captured answer (line 10)
    let token = io.fetch_sockets("/", &Selector::default()).unwrap();
    let request = spy.recv_on("socket.io-request#/#");
    let rid = ClassicRequest::decode(&request.payload)
        .unwrap()
        .request_id
        .unwrap();
    let map = [("HGB7w0", uid.as_str()), ("GC56R2", rid.as_str())];
    assert_eq!(hex(&request.payload), hex(&replace(&v.line(9).bytes, &map)));
    spy.publish("socket.io-response#/#", replace(&v.line(10).bytes, &map));
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let [s] = &sockets[..] else {
                panic!("{sockets:?}")
            };
            assert_eq!(&*s.id, "ghN4Xd4b7Dx-HrfCAAAA");
            assert!(!s.local);
            assert_eq!(s.rooms, ["ghN4Xd4b7Dx-HrfCAAAA"]);
            assert_eq!(s.data.as_deref(), Some("{}"));
            assert_eq!(s.auth, "{}");
            assert_eq!(s.handshake.query, "EIO=4&transport=websocket");
            assert_eq!(s.handshake.issued_ms, 1_795_455_812_431);
            assert_eq!(s.handshake.remote_addr.ip().to_string(), "127.0.0.1");
            assert_eq!(
                s.handshake.headers.get("host"),
                Some(&b"127.0.0.1:35185"[..])
            );
        }
        other => panic!("{other:?}"),
    }

    // serverSideEmit with an ack (line 13), answered as Node does (line 14)
    let token = io
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let request = spy.recv_on("socket.io-request#/#");
    let rid = ClassicRequest::decode(&request.payload)
        .unwrap()
        .request_id
        .unwrap();
    let map = [("HGB7w0", uid.as_str()), ("5wm9Xo", rid.as_str())];
    assert_eq!(
        hex(&request.payload),
        hex(&replace(&v.line(13).bytes, &map))
    );
    spy.publish("socket.io-response#/#", replace(&v.line(14).bytes, &map));
    match next(&one) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => assert_eq!((t, answers), (token, vec![Payload::one(1)])),
        other => panic!("{other:?}"),
    }

    // a broadcast with acks (line 15), answered as Node does (lines 16-17)
    let token = io
        .broadcast("/")
        .emit_with_ack("q", &Payload::one(5), Duration::from_millis(1000))
        .unwrap();
    let request = spy.recv_on("socket.io-request#/#");
    let rid = ClassicRequest::decode(&request.payload)
        .unwrap()
        .request_id
        .unwrap();
    let map = [("HGB7w0", uid.as_str()), ("_pQ18S", rid.as_str())];
    assert_eq!(
        hex(&request.payload),
        hex(&replace(&v.line(15).bytes, &map))
    );
    spy.publish("socket.io-response#/#", replace(&v.line(16).bytes, &map));
    spy.publish("socket.io-response#/#", replace(&v.line(17).bytes, &map));
    match next(&one) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            let [a] = &answers[..] else {
                panic!("{answers:?}")
            };
            assert_eq!((a.sid.as_ref(), a.payload.json()), (None, "[\"b-answer\"]"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_adapter_answers_node_requests_as_node_does() {
    let v = Vectors::load();
    let redis = RedisServer::start();
    let mut spy = Spy::new(&redis.url());
    spy.subscribe("socket.io-response#/#");
    let one = node(&redis.url());
    let io = one.io();
    let c = Client::connect(&one, "{\"token\":1}");
    io.join(&c.sid, "r1").unwrap();

    // fetchSockets from a Node server (line 9)
    spy.publish("socket.io-request#/#", v.line(9).bytes.clone());
    let answer = spy.recv();
    match ClassicResponse::decode(&answer.payload).unwrap() {
        ClassicResponse::FetchSockets {
            request_id,
            sockets,
        } => {
            assert_eq!(request_id, "GC56R2");
            let [s] = &sockets[..] else {
                panic!("{sockets:?}")
            };
            assert_eq!(s.id, c.sid);
            assert_eq!(s.rooms, [c.sid.as_str(), "r1"]);
            assert_eq!(s.data, Some(Value::Map(vec![])));
            let keys: Vec<&str> = s
                .handshake
                .as_map()
                .unwrap()
                .iter()
                .map(|(k, _)| k.as_str())
                .collect();
            assert_eq!(
                keys,
                [
                    "headers", "time", "address", "xdomain", "secure", "issued", "url", "query",
                    "auth"
                ]
            );
            let hs = &s.handshake;
            assert_eq!(
                hs.get("auth"),
                Some(&Value::map([("token", Value::from(1))]))
            );
            assert_eq!(hs.get("address"), Some(&Value::from("127.0.0.1")));
            assert_eq!(
                hs.get("url"),
                Some(&Value::from("/socket.io/?EIO=4&transport=polling&q=1"))
            );
            assert_eq!(hs.get("query").unwrap().get("q"), Some(&Value::from("1")));
            assert_eq!(
                hs.get("headers").unwrap().get("host"),
                Some(&Value::from("x"))
            );
            assert!(hs
                .get("time")
                .unwrap()
                .as_str()
                .unwrap()
                .ends_with("(Coordinated Universal Time)"));
        }
        other => panic!("{other:?}"),
    }

    // serverSideEmit with an ack from a Node server (line 13): the host answers 1, the bytes
    // are Node's (line 14)
    spy.publish("socket.io-request#/#", v.line(13).bytes.clone());
    let ack = match next(&one) {
        Event::ServerSideEmit {
            event,
            ack: Some(ack),
            ..
        } if event == "ping" => ack,
        other => panic!("{other:?}"),
    };
    io.server_side_ack(ack, &Payload::one(1)).unwrap();
    assert_eq!(hex(&spy.recv().payload), hex(&v.line(14).bytes));

    // a broadcast with acks from a Node server (line 15): the count, then the client's ack,
    // byte for byte as Node's (lines 16-17)
    spy.publish("socket.io-request#/#", v.line(15).bytes.clone());
    let packet = c.one();
    assert!(packet.ends_with("[\"q\",5]"), "{packet}");
    assert_eq!(hex(&spy.recv().payload), hex(&v.line(16).bytes));
    let id = &packet[2..packet.find('[').unwrap()];
    c.post(&format!("43{id}[\"b-answer\",\"dropped\"]"));
    assert_eq!(hex(&spy.recv().payload), hex(&v.line(17).bytes));

    // every other request type gets its answer too (so Node peers never wait on rtio)
    let ask = |json: &str| spy.publish("socket.io-request#/#", json.to_string());
    ask(r#"{"uid":"HGB7w0","requestId":"s0","type":0,"rooms":["r1"]}"#);
    ask(r#"{"uid":"HGB7w0","requestId":"s1","type":1}"#);
    let sid = &c.sid;
    ask(&format!(
        r#"{{"uid":"HGB7w0","requestId":"s2","type":2,"sid":"{sid}","room":"legacy"}}"#
    ));
    ask(&format!(
        r#"{{"uid":"HGB7w0","requestId":"s3","type":3,"sid":"{sid}","room":"legacy"}}"#
    ));
    // a broadcast with acks that reaches no one: CLIENT_COUNT 0 all the same
    let none = ClassicRequest {
        uid: Some("HGB7w0".into()),
        request_id: Some("s7".into()),
        kind: ClassicRequestKind::Broadcast {
            packet: rtio_redis::Packet::event(vec![Value::from("q")], "/"),
            opts: rtio_redis::Opts::to_rooms(["nobody"]),
        },
    };
    spy.publish("socket.io-request#/#", none.encode());
    ask(&format!(
        r#"{{"uid":"HGB7w0","requestId":"s4","type":4,"sid":"{sid}","close":false}}"#
    ));
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(String::from_utf8(spy.recv().payload.to_vec()).unwrap());
    }
    assert_eq!(
        answers,
        [
            format!(r#"{{"requestId":"s0","sockets":["{sid}"]}}"#),
            format!(r#"{{"requestId":"s1","rooms":["r1","{sid}"]}}"#),
            r#"{"requestId":"s2"}"#.to_string(),
            r#"{"requestId":"s3"}"#.to_string(),
            r#"{"type":8,"requestId":"s7","clientCount":0}"#.to_string(),
            r#"{"requestId":"s4"}"#.to_string(),
        ]
    );
    c.expect(&["41"]);
}

#[test]
fn emitters_reach_rtio_and_hostile_messages_are_dropped() {
    let v = Vectors::load();
    let redis = RedisServer::start();
    let spy = Spy::new(&redis.url());
    let (one, two) = (node(&redis.url()), node(&redis.url()));
    let io2 = two.io();
    let c1 = Client::connect(&one, "");
    let c2 = Client::connect(&two, "");
    io2.join(&c2.sid, "r1").unwrap();

    // garbage on every channel first
    let deep: Vec<u8> = std::iter::repeat_n(0x91u8, 10_000).chain([0xc0]).collect();
    let huge = vec![0x93, 0xa1, b'u', 0xdf, 0xff, 0xff, 0xff, 0xff];
    let nested_json = format!("{}{}", "{\"a\":[".repeat(300), "]}".repeat(300));
    let garbage: Vec<Vec<u8>> = vec![
        vec![],
        vec![0xc1],
        vec![0x93],
        b"{".to_vec(),
        b"null".to_vec(),
        deep,
        huge,
        nested_json.into_bytes(),
        // a broadcast whose event name is not a string, or with no event at all
        encode_msgpack(&Value::Array(vec![
            Value::from("x"),
            Value::map([
                ("type", Value::from(2)),
                ("data", Value::Array(vec![Value::from(1)])),
            ]),
            Value::map([("rooms", Value::Array(vec![]))]),
        ])),
        encode_msgpack(&Value::Array(vec![
            Value::from("x"),
            Value::map([("type", Value::from(2)), ("data", Value::Array(vec![]))]),
            Value::map([("rooms", Value::Array(vec![]))]),
        ])),
        br#"{"type":5}"#.to_vec(),
        br#"{"type":99,"requestId":"x"}"#.to_vec(),
        br#"{"type":6,"data":[1,2]}"#.to_vec(),
        br#"{"type":7,"requestId":"x","packet":{"type":2,"data":[]},"opts":{}}"#.to_vec(),
        br#"{"type":2,"opts":{"rooms":{"a":1}},"rooms":[]}"#.to_vec(),
        br#"{"requestId":5,"sockets":"no"}"#.to_vec(),
        br#"{"type":8,"requestId":"x","clientCount":-1}"#.to_vec(),
    ];
    for channel in [
        "socket.io#/#",
        "socket.io#/#r1#",
        "socket.io-request#/#",
        "socket.io-response#/#",
    ] {
        for g in &garbage {
            spy.publish(channel, g.clone());
        }
    }

    // then what @socket.io/redis-emitter 5.1 sends (lines 18-23)
    for line in [18, 19, 20, 21] {
        spy.publish(&v.line(line).channel, v.line(line).bytes.clone());
    }
    // a PHP-style emitter: older key order, no `except`, no `flags`
    let php = encode_msgpack(&Value::Array(vec![
        Value::from("emitter"),
        Value::map([
            ("type", Value::from(2)),
            (
                "data",
                Value::Array(vec![Value::from("php"), Value::from(1)]),
            ),
            ("nsp", Value::from("/")),
        ]),
        Value::map([("rooms", Value::Array(vec![Value::from("r3")]))]),
    ]));
    spy.publish("socket.io#/#r3#", php);
    for line in [22, 23] {
        spy.publish(&v.line(line).channel, v.line(line).bytes.clone());
    }

    c1.expect(&["42[\"ev\",\"from-emitter\"]"]);
    // to r1 except r2, then socketsJoin r1 → r3 (line 21), the PHP emitter's r3, then
    // disconnectSockets of r3 with close (line 23)
    assert_eq!(
        c2.until("41"),
        [
            "42[\"ev\",\"from-emitter\"]",
            "42[\"ev\",6]",
            "42[\"php\",1]",
            "41"
        ]
    );
    for server in [&one, &two] {
        match next(server) {
            Event::ServerSideEmit {
                event,
                payload,
                ack: None,
                ..
            } => assert_eq!(
                (&*event, payload.json()),
                ("relay", r#"[{"event":"ev","data":8}]"#)
            ),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(next(&two), Event::Disconnect { sid, .. } if *sid == *c2.sid));
    // the servers are alive and nothing else happened
    one.io()
        .broadcast("/")
        .emit("end", &Payload::empty())
        .unwrap();
    c1.expect(&["42[\"end\"]"]);
    quiet(&one, Duration::from_millis(100));
    quiet(&two, Duration::from_millis(100));
}

#[test]
fn redis_absent_at_start_then_restarted() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    // no Redis: the server starts all the same and serves its clients
    let started = Instant::now();
    let one = node(&url);
    assert!(started.elapsed() < Duration::from_secs(3));
    let io1 = one.io();
    let c1 = Client::connect(&one, "");
    io1.broadcast("/").emit("alone", &Payload::empty()).unwrap();
    c1.expect(&["42[\"alone\"]"]);
    assert!(matches!(count(&one), Err(ClusterError::Adapter(_))));

    // Redis comes: the cluster forms
    let mut redis = RedisServer::start_on(port);
    let two = node(&url);
    let io2 = two.io();
    wait_count(&one, 2);
    let c2 = Client::connect(&two, "");
    io1.broadcast("/")
        .emit("together", &Payload::empty())
        .unwrap();
    c1.expect(&["42[\"together\"]"]);
    c2.expect(&["42[\"together\"]"]);

    // Redis restarts: local delivery never stops, the cluster comes back
    redis.kill();
    io1.broadcast("/")
        .emit("during", &Payload::empty())
        .unwrap();
    c1.expect(&["42[\"during\"]"]);
    drop(redis);
    let _redis = RedisServer::start_on(port);
    wait_count(&one, 2);
    wait_count(&two, 2);
    io2.broadcast("/").emit("after", &Payload::empty()).unwrap();
    c1.expect(&["42[\"after\"]"]);
    // "during" was queued while Redis was down: sent on reconnect, it reaches two's
    // client if two's subscriber was back by then
    let got = c2.until("42[\"after\"]");
    assert!(
        got == ["42[\"after\"]"] || got == ["42[\"during\"]", "42[\"after\"]"],
        "{got:?}"
    );
}

#[test]
fn responses_on_the_requester_s_own_channel_both_ways() {
    let v = Vectors::load();
    let redis = RedisServer::start();
    let mut spy = Spy::new(&redis.url());
    spy.subscribe("socket.io-response#/#HGB7w0#");
    spy.subscribe("socket.io-request#/#");
    let mut o = cluster::options(&redis.url());
    o.publish_on_specific_response_channel = true;
    let one = cluster::node_with(o);
    let c = Client::connect(&one, "");

    // a Node server's fetchSockets is answered on its own channel
    spy.publish("socket.io-request#/#", v.line(9).bytes.clone());
    let answer = spy.recv_on("socket.io-response#/#HGB7w0#");
    match ClassicResponse::decode(&answer.payload).unwrap() {
        ClassicResponse::FetchSockets {
            request_id,
            sockets,
        } => {
            assert_eq!(request_id, "GC56R2");
            assert_eq!(sockets[0].id, c.sid);
        }
        other => panic!("{other:?}"),
    }

    // an answer on rtio's own channel is read too
    let token = one.io().fetch_sockets("/", &Selector::default()).unwrap();
    let request = spy.recv_on("socket.io-request#/#");
    let request = ClassicRequest::decode(&request.payload).unwrap();
    let (uid, rid) = (request.uid.unwrap(), request.request_id.unwrap());
    let response = ClassicResponse::FetchSockets {
        request_id: rid,
        sockets: vec![],
    };
    spy.publish(&format!("socket.io-response#/#{uid}#"), response.encode());
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => assert_eq!((t, sockets.len()), (token, 1)),
        other => panic!("{other:?}"),
    }
}
