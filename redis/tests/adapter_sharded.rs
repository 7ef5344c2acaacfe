//! The sharded Redis adapter (`createShardedAdapter`, Redis ≥ 7) between real rtio servers
//! and a real `redis-server`: cluster operations over two servers, room channels that
//! follow the rooms, and the captured messages of Node peers (`vectors-sharded.jsonl`)
//! both ways.

#![cfg(feature = "adapter")]

#[path = "support/redis_server.rs"]
mod redis_server;

mod common;

#[path = "support/cluster.rs"]
mod cluster;

use std::time::Duration;

use bytes::Bytes;
use rtio::adapter::Selector;
use rtio::{Event, Payload};
use rtio_redis::{RemoteSocket, ShardedKind, ShardedMessage, Value};

use cluster::{
    count, hex, next, quiet, replace, sharded_node, wait_count, wait_shardnumsub, Client, Spy, WAIT,
};
use redis_server::RedisServer;

fn vectors() -> Vec<common::Vector> {
    common::load("sharded")
}

#[test]
fn sharded_servers_share_broadcasts_rooms_and_requests() {
    let redis = RedisServer::start();
    let (one, two) = (sharded_node(&redis.url()), sharded_node(&redis.url()));
    let (io1, io2) = (one.io(), two.io());
    assert_eq!(count(&one), Ok(2));
    let c1 = Client::connect(&one, "");
    let c2 = Client::connect(&two, "{\"n\":2}");
    let c3 = Client::connect(&two, "");

    // a room's channel is subscribed while the room has members here
    io2.join(&c2.sid, "r").unwrap();
    wait_shardnumsub(redis.port, "socket.io#/#r#", 1);

    io1.broadcast("/").emit("all", &Payload::one(1)).unwrap();
    for c in [&c1, &c2, &c3] {
        c.expect(&["42[\"all\",1]"]);
    }
    io1.broadcast("/")
        .to("r")
        .emit("room", &Payload::one(2))
        .unwrap();
    c2.expect(&["42[\"room\",2]"]);
    io1.broadcast("/")
        .except("r")
        .emit("ex", &Payload::one(3))
        .unwrap();
    c1.expect(&["42[\"ex\",3]"]);
    c3.expect(&["42[\"ex\",3]"]);
    io2.broadcast("/")
        .skip(&*c3.sid)
        .emit("skip", &Payload::one(4))
        .unwrap();
    c2.expect(&["42[\"skip\",4]"]);
    c1.expect(&["42[\"skip\",4]"]);
    let bin = Payload::from_json(r#"[{"_placeholder":true,"num":0}]"#)
        .unwrap()
        .with_attachments(vec![Bytes::from_static(&[1, 2, 3])]);
    io2.broadcast("/").emit("bin", &bin).unwrap();
    for c in [&c1, &c2, &c3] {
        c.expect(&["451-[\"bin\",{\"_placeholder\":true,\"num\":0}]", "bAQID"]);
    }

    // socketsJoin from one: two's room channel follows
    io1.broadcast("/").to("r").sockets_join(["z"]).unwrap();
    wait_shardnumsub(redis.port, "socket.io#/#z#", 1);
    io1.broadcast("/")
        .to("z")
        .emit("z", &Payload::empty())
        .unwrap();
    c2.expect(&["42[\"z\"]"]);
    io1.close_room("/", "z").unwrap();
    wait_shardnumsub(redis.port, "socket.io#/#z#", 0);
    assert_eq!(io2.rooms(&c2.sid).unwrap(), [c2.sid.as_str(), "r"]);

    // fetchSockets
    let token = io1.broadcast("/").to("r").fetch_sockets().unwrap();
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
            assert_eq!((&*s.id, s.local, &*s.auth), (&*c2.sid, false, "{\"n\":2}"));
            assert_eq!(s.rooms, [c2.sid.as_str(), "r"]);
        }
        other => panic!("{other:?}"),
    }

    // serverSideEmit, with and without acks
    io1.server_side_emit("/", "hello", &Payload::one(1))
        .unwrap();
    assert!(
        matches!(next(&two), Event::ServerSideEmit { event, ack: None, .. } if event == "hello")
    );
    let token = io2
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let ack = match next(&one) {
        Event::ServerSideEmit { ack: Some(ack), .. } => ack,
        other => panic!("{other:?}"),
    };
    io1.server_side_ack(ack, &Payload::one("pong")).unwrap();
    match next(&two) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => assert_eq!((t, answers), (token, vec![Payload::one("pong")])),
        other => panic!("{other:?}"),
    }

    // a broadcast with acks over both servers
    let token = io1
        .broadcast("/")
        .to("r")
        .emit_with_ack("q", &Payload::empty(), WAIT)
        .unwrap();
    let p = c2.one();
    c2.post(&format!("43{}[\"yes\"]", &p[2..p.find('[').unwrap()]));
    match next(&one) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].payload.json(), "[\"yes\"]");
        }
        other => panic!("{other:?}"),
    }

    // disconnectSockets; the room goes with its last member, and its channel
    io1.broadcast("/")
        .to("r")
        .disconnect_sockets(false)
        .unwrap();
    c2.expect(&["41"]);
    assert!(matches!(next(&two), Event::Disconnect { sid, .. } if *sid == *c2.sid));
    wait_shardnumsub(redis.port, "socket.io#/#r#", 0);

    // a stopped server leaves the count
    two.stop();
    wait_count(&one, 1);
    let token = io1.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => assert_eq!((t, sockets.len()), (token, 1)),
        other => panic!("{other:?}"),
    }
    quiet(&one, Duration::from_millis(100));
}

#[test]
fn sharded_messages_are_node_s_both_ways() {
    let v = vectors();
    let line = |n: usize| &v[n - 1];
    let redis = RedisServer::start();
    let mut spy = Spy::new(&redis.url());
    spy.ssubscribe("socket.io#/#");
    spy.ssubscribe("socket.io#/#r1#");
    let one = sharded_node(&redis.url());
    let io = one.io();

    // what the adapter publishes: lines 1, 3, 4, 5, 10, 7 from `a0fa37e9af126190`
    io.broadcast("/").emit("visits", &Payload::one(1)).unwrap();
    let first = spy.recv();
    let uid = ShardedMessage::decode(&first.payload).unwrap().uid;
    assert_eq!(uid.len(), 16);
    let p = |json: &str| Payload::from_json(json).unwrap();
    let bin = p(r#"[{"_placeholder":true,"num":0}]"#)
        .with_attachments(vec![Bytes::from_static(&[1, 2, 3])]);
    io.broadcast("/").emit("ev", &bin).unwrap();
    io.broadcast("/").to("r1").emit("ev", &p("[1]")).unwrap();
    io.broadcast("/")
        .skip("md3PBL8VmZLNLI7mAAAA")
        .emit("broadcast", &p("[\"hi\"]"))
        .unwrap();
    io.broadcast("/").to("r1").sockets_join(["r2"]).unwrap();
    io.server_side_emit("/", "relay", &p(r#"[{"event":"ev","data":4}]"#))
        .unwrap();
    let mut published = vec![first];
    for _ in 0..5 {
        published.push(spy.recv());
    }
    let me = [("a0fa37e9af126190", uid.as_str())];
    for (got, n) in published.iter().zip([1, 3, 4, 5, 10, 7]) {
        let want = line(n);
        assert_eq!(
            got.channel_str(),
            Some(want.channel.as_str()),
            "{}",
            want.origin
        );
        assert_eq!(
            hex(&got.payload),
            hex(&replace(&want.bytes, &me)),
            "{}",
            want.origin
        );
    }

    // requests (lines 6, 8, 9), answered as a Node server would, on the requester's channel
    let own = format!("socket.io#/#{uid}#");
    let answer = |spy: &Spy, kind: ShardedKind| {
        let msg = ShardedMessage {
            uid: "c19bde69f49aeb2c".into(),
            nsp: "/".into(),
            kind,
        };
        spy.spublish(&own, msg.encode());
    };
    let request_id =
        |m: &rtio_redis::link::Incoming| match ShardedMessage::decode(&m.payload).unwrap().kind {
            ShardedKind::FetchSockets { request_id, .. } => request_id,
            ShardedKind::ServerSideEmit {
                request_id: Some(id),
                ..
            }
            | ShardedKind::Broadcast {
                request_id: Some(id),
                ..
            } => id,
            other => panic!("{other:?}"),
        };

    let token = io.fetch_sockets("/", &Selector::default()).unwrap();
    let request = spy.recv();
    let rid = request_id(&request);
    let map = [me[0], ("2b0e29050815fb43", rid.as_str())];
    assert_eq!(hex(&request.payload), hex(&replace(&line(6).bytes, &map)));
    answer(
        &spy,
        ShardedKind::FetchSocketsResponse {
            request_id: rid,
            sockets: vec![RemoteSocket {
                id: "nodeSocketAAAAAAAAAA".into(),
                handshake: Value::map([
                    ("address", Value::from("::ffff:10.0.0.2")),
                    ("url", Value::from("/socket.io/?EIO=4&transport=polling")),
                    ("issued", Value::from(1_795_455_812_431u64)),
                    ("auth", Value::map([("t", Value::from(1))])),
                ]),
                rooms: vec!["nodeSocketAAAAAAAAAA".into(), "r1".into()],
                data: Some(Value::map([("user", Value::from("bob"))])),
            }],
        },
    );
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
            assert_eq!(&*s.id, "nodeSocketAAAAAAAAAA");
            assert_eq!(s.data.as_deref(), Some("{\"user\":\"bob\"}"));
            assert_eq!(s.auth, "{\"t\":1}");
            assert_eq!(s.handshake.query, "EIO=4&transport=polling");
            assert_eq!(s.handshake.remote_addr.ip().to_string(), "::ffff:10.0.0.2");
        }
        other => panic!("{other:?}"),
    }

    let token = io
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let request = spy.recv();
    let rid = request_id(&request);
    let map = [me[0], ("7b150ad0cd8fe509", rid.as_str())];
    assert_eq!(hex(&request.payload), hex(&replace(&line(8).bytes, &map)));
    answer(
        &spy,
        ShardedKind::ServerSideEmitResponse {
            request_id: rid,
            packet: Some(Value::from(1)),
        },
    );
    match next(&one) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => assert_eq!((t, answers), (token, vec![Payload::one(1)])),
        other => panic!("{other:?}"),
    }

    let token = io
        .broadcast("/")
        .emit_with_ack("q", &Payload::one(5), Duration::from_millis(1000))
        .unwrap();
    let request = spy.recv();
    let rid = request_id(&request);
    let map = [me[0], ("77951b525e71c6ba", rid.as_str())];
    assert_eq!(hex(&request.payload), hex(&replace(&line(9).bytes, &map)));
    answer(
        &spy,
        ShardedKind::BroadcastClientCount {
            request_id: rid.clone(),
            client_count: 1,
        },
    );
    answer(
        &spy,
        ShardedKind::BroadcastAck {
            request_id: rid,
            packet: Some(Value::from("b")),
        },
    );
    match next(&one) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            assert_eq!(answers.len(), 1);
            assert_eq!(answers[0].payload.json(), "[\"b\"]");
        }
        other => panic!("{other:?}"),
    }

    // and the other way: a Node server's requests (lines 6, 8, 9) get rtio's answers on
    // its own channel
    spy.ssubscribe("socket.io#/#a0fa37e9af126190#");
    let c = Client::connect(&one, "");
    spy.spublish("socket.io#/#", line(6).bytes.clone());
    let to_node = |m: rtio_redis::link::Incoming| {
        assert_eq!(m.channel_str(), Some("socket.io#/#a0fa37e9af126190#"));
        let msg = ShardedMessage::decode(&m.payload).unwrap();
        assert_eq!((msg.uid.as_str(), msg.nsp.as_str()), (uid.as_str(), "/"));
        msg.kind
    };
    match to_node(spy.recv_on("socket.io#/#a0fa37e9af126190#")) {
        ShardedKind::FetchSocketsResponse {
            request_id,
            sockets,
        } => {
            assert_eq!(request_id, "2b0e29050815fb43");
            let ids: Vec<&str> = sockets.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids, [c.sid.as_str()]);
        }
        other => panic!("{other:?}"),
    }
    spy.spublish("socket.io#/#", line(8).bytes.clone());
    let ack = match next(&one) {
        Event::ServerSideEmit {
            event,
            ack: Some(ack),
            ..
        } if event == "ping" => ack,
        other => panic!("{other:?}"),
    };
    io.server_side_ack(ack, &Payload::one(1)).unwrap();
    let m = spy.recv_on("socket.io#/#a0fa37e9af126190#");
    assert_eq!(
        std::str::from_utf8(&m.payload).unwrap(),
        format!(
            r#"{{"type":10,"data":{{"requestId":"7b150ad0cd8fe509","packet":1}},"uid":"{uid}","nsp":"/"}}"#
        )
    );
    spy.spublish("socket.io#/#", line(9).bytes.clone());
    let packet = c.one();
    assert!(packet.ends_with("[\"q\",5]"), "{packet}");
    match to_node(spy.recv_on("socket.io#/#a0fa37e9af126190#")) {
        ShardedKind::BroadcastClientCount {
            request_id,
            client_count,
        } => assert_eq!((request_id.as_str(), client_count), ("77951b525e71c6ba", 1)),
        other => panic!("{other:?}"),
    }
    c.post(&format!(
        "43{}[\"b\"]",
        &packet[2..packet.find('[').unwrap()]
    ));
    match to_node(spy.recv_on("socket.io#/#a0fa37e9af126190#")) {
        ShardedKind::BroadcastAck { request_id, packet } => {
            assert_eq!(request_id, "77951b525e71c6ba");
            assert_eq!(packet, Some(Value::from("b")));
        }
        other => panic!("{other:?}"),
    }

    // garbage on the channels is dropped; the server goes on
    for g in [
        &b""[..],
        b"\xc1",
        b"{",
        b"{\"type\":3,\"nsp\":\"/\",\"data\":{}}",
        b"[1]",
    ] {
        spy.spublish("socket.io#/#", g.to_vec());
        spy.spublish(&own, g.to_vec());
    }
    let end = ShardedMessage {
        uid: "c19bde69f49aeb2c".into(),
        nsp: "/".into(),
        kind: ShardedKind::Broadcast {
            packet: rtio_redis::Packet {
                kind: rtio_redis::PacketType::Event,
                data: vec![Value::from("end")],
                nsp: None,
            },
            request_id: None,
            opts: rtio_redis::Opts::default(),
        },
    };
    spy.spublish("socket.io#/#", end.encode());
    c.expect(&["42[\"end\"]"]);
    quiet(&one, Duration::from_millis(100));
}
