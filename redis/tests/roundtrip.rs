//! Every typed message rtio can send: encodes in the format and key order Node 8.3.0 uses
//! for it, and decodes back to itself.

use bytes::Bytes;
use rtio_redis::{
    ClassicBroadcast, ClassicRequest, ClassicRequestKind as K, ClassicResponse, Flags, Handshake,
    Opts, Packet, RemoteSocket, ShardedKind as S, ShardedMessage, Value,
};

fn opts() -> Opts {
    Opts {
        rooms: vec!["r1".into()],
        except: vec!["sid".into()],
        flags: Flags {
            volatile: true,
            compress: Some(true),
            timeout: Some(5000),
            ..Flags::default()
        },
    }
}

fn socket(data: Option<Value>) -> RemoteSocket {
    RemoteSocket {
        id: "ghN4Xd4b7Dx-HrfCAAAA".into(),
        handshake: Handshake {
            headers: vec![("host".into(), Value::from("127.0.0.1:3000"))],
            time: "Mon Nov 23 2026 17:43:32 GMT+0000 (Coordinated Universal Time)".into(),
            address: "127.0.0.1".into(),
            issued: 1795455812431,
            url: "/socket.io/?EIO=4&transport=websocket".into(),
            query: vec![("EIO".into(), Value::from("4"))],
            auth: Value::Map(vec![]),
            ..Handshake::default()
        }
        .into_value(),
        rooms: vec!["ghN4Xd4b7Dx-HrfCAAAA".into(), "r1".into()],
        data,
    }
}

fn bin() -> Value {
    Value::Bin(Bytes::from_static(&[0, 1, 255]))
}

#[test]
fn classic_requests() {
    let req = |uid: Option<&str>, rid: Option<&str>, kind| ClassicRequest {
        uid: uid.map(Into::into),
        request_id: rid.map(Into::into),
        kind,
    };
    let plain = Opts::to_rooms(["r"]);
    let cases: Vec<(ClassicRequest, Option<&str>)> = vec![
        (
            req(
                Some("u"),
                Some("i"),
                K::Sockets {
                    rooms: vec!["r".into()],
                },
            ),
            Some(r#"{"uid":"u","requestId":"i","type":0,"rooms":["r"]}"#),
        ),
        (
            req(Some("u"), Some("i"), K::AllRooms),
            Some(r#"{"uid":"u","requestId":"i","type":1}"#),
        ),
        (
            req(
                Some("u"),
                None,
                K::SocketsJoin {
                    opts: plain.clone(),
                    rooms: vec!["a".into()],
                },
            ),
            Some(r#"{"uid":"u","type":2,"opts":{"rooms":["r"],"except":[]},"rooms":["a"]}"#),
        ),
        (
            req(
                Some("u"),
                None,
                K::SocketsLeave {
                    opts: plain.clone(),
                    rooms: vec!["a".into()],
                },
            ),
            Some(r#"{"uid":"u","type":3,"opts":{"rooms":["r"],"except":[]},"rooms":["a"]}"#),
        ),
        (
            req(
                Some("u"),
                None,
                K::DisconnectSockets {
                    opts: plain.clone(),
                    close: false,
                },
            ),
            Some(r#"{"uid":"u","type":4,"opts":{"rooms":["r"],"except":[]},"close":false}"#),
        ),
        (
            req(
                Some("u"),
                Some("i"),
                K::LegacyJoin {
                    sid: "s".into(),
                    room: "a".into(),
                },
            ),
            None,
        ),
        (
            req(
                None,
                Some("i"),
                K::LegacyLeave {
                    sid: "s".into(),
                    room: "a".into(),
                },
            ),
            None,
        ),
        (
            req(
                None,
                Some("i"),
                K::LegacyDisconnect {
                    sid: "s".into(),
                    close: true,
                },
            ),
            None,
        ),
        (
            req(
                Some("u"),
                Some("i"),
                K::FetchSockets {
                    opts: plain.clone(),
                },
            ),
            Some(r#"{"uid":"u","requestId":"i","type":5,"opts":{"rooms":["r"],"except":[]}}"#),
        ),
        (
            req(
                Some("u"),
                Some("i"),
                K::ServerSideEmit {
                    data: vec![Value::from("ping"), Value::Float(0.5)],
                },
            ),
            Some(r#"{"uid":"u","requestId":"i","type":6,"data":["ping",0.5]}"#),
        ),
        (
            req(
                Some("u"),
                Some("i"),
                K::Broadcast {
                    packet: Packet::event(vec![Value::from("q"), bin()], "/"),
                    opts: opts(),
                },
            ),
            None,
        ),
    ];
    for (r, json) in cases {
        let bytes = r.encode();
        if let Some(json) = json {
            assert_eq!(String::from_utf8(bytes.clone()).unwrap(), json);
        }
        let is_broadcast = matches!(r.kind, K::Broadcast { .. });
        assert_eq!(
            bytes[0] != b'{',
            is_broadcast,
            "{r:?}: msgpack only for BROADCAST"
        );
        assert_eq!(ClassicRequest::decode(&bytes).unwrap(), r);
    }
    // The opts of non-broadcast requests carry no flags: they would not round-trip.
    let r = req(
        Some("u"),
        None,
        K::SocketsJoin {
            opts: opts(),
            rooms: vec![],
        },
    );
    let K::SocketsJoin { opts: o, .. } = ClassicRequest::decode(&r.encode()).unwrap().kind else {
        panic!()
    };
    assert_eq!(o.flags, Flags::default());
    // Binary in a JSON request arrives as Node's Buffer#toJSON, as from a Node peer.
    let r = req(
        Some("u"),
        None,
        K::ServerSideEmit {
            data: vec![Value::from("e"), bin()],
        },
    );
    assert_eq!(
        r.encode(),
        br#"{"uid":"u","type":6,"data":["e",{"type":"Buffer","data":[0,1,255]}]}"#
    );
}

#[test]
fn classic_responses() {
    let cases: Vec<(ClassicResponse, Option<&str>)> = vec![
        (
            ClassicResponse::Sockets {
                request_id: "i".into(),
                sockets: vec!["a".into()],
            },
            Some(r#"{"requestId":"i","sockets":["a"]}"#),
        ),
        (
            ClassicResponse::AllRooms {
                request_id: "i".into(),
                rooms: vec!["a".into(), "b".into()],
            },
            Some(r#"{"requestId":"i","rooms":["a","b"]}"#),
        ),
        (
            ClassicResponse::FetchSockets {
                request_id: "i".into(),
                sockets: vec![
                    socket(Some(Value::map([("n", Value::Int(1))]))),
                    socket(None),
                ],
            },
            None,
        ),
        (
            ClassicResponse::Ack {
                request_id: "i".into(),
            },
            Some(r#"{"requestId":"i"}"#),
        ),
        (
            ClassicResponse::ServerSideEmit {
                request_id: "i".into(),
                data: Some(Value::from("pong")),
            },
            Some(r#"{"type":6,"requestId":"i","data":"pong"}"#),
        ),
        (
            ClassicResponse::ServerSideEmit {
                request_id: "i".into(),
                data: None,
            },
            Some(r#"{"type":6,"requestId":"i"}"#),
        ),
        (
            ClassicResponse::BroadcastClientCount {
                request_id: "i".into(),
                client_count: 0,
            },
            Some(r#"{"type":8,"requestId":"i","clientCount":0}"#),
        ),
        (
            ClassicResponse::BroadcastAck {
                request_id: "i".into(),
                packet: Some(bin()),
            },
            None,
        ),
        (
            ClassicResponse::BroadcastAck {
                request_id: "i".into(),
                packet: None,
            },
            None,
        ),
    ];
    for (r, json) in cases {
        let bytes = r.encode();
        if let Some(json) = json {
            assert_eq!(String::from_utf8(bytes.clone()).unwrap(), json);
        }
        assert_eq!(
            bytes[0] != b'{',
            matches!(r, ClassicResponse::BroadcastAck { .. })
        );
        assert_eq!(ClassicResponse::decode(&bytes).unwrap(), r);
    }
    let fetched = ClassicResponse::FetchSockets {
        request_id: "i".into(),
        sockets: vec![socket(None)],
    };
    let text = String::from_utf8(fetched.encode()).unwrap();
    assert!(text.contains(r#""handshake":{"headers":{"host":"127.0.0.1:3000"},"time":"Mon Nov 23 2026 17:43:32 GMT+0000 (Coordinated Universal Time)","address":"127.0.0.1","xdomain":false,"secure":false,"issued":1795455812431,"url":"/socket.io/?EIO=4&transport=websocket","query":{"EIO":"4"},"auth":{}}"#), "{text}");
    assert!(
        !text.contains("\"data\""),
        "undefined socket.data is omitted"
    );
}

#[test]
fn classic_broadcast() {
    let b = ClassicBroadcast {
        uid: "abcdef".into(),
        packet: Packet::event(
            vec![Value::from("ev"), bin(), Value::Float(-2.5)],
            "/custom",
        ),
        opts: opts(),
    };
    let bytes = b.encode();
    assert_eq!(ClassicBroadcast::decode(&bytes).unwrap(), b);
    assert_eq!(b.channel("k"), "k#/custom#r1#");
}

#[test]
fn sharded_messages() {
    let m = |kind| ShardedMessage {
        uid: "a0fa37e9af126190".into(),
        nsp: "/".into(),
        kind,
    };
    let packet = |data| Packet {
        kind: rtio_redis::PacketType::Event,
        data,
        nsp: None,
    };
    let cases: Vec<(ShardedMessage, bool, Option<&str>)> = vec![
        (
            m(S::InitialHeartbeat),
            false,
            Some(r#"{"type":1,"uid":"a0fa37e9af126190","nsp":"/"}"#),
        ),
        (m(S::Heartbeat), false, None),
        (m(S::AdapterClose), false, None),
        (
            m(S::Broadcast {
                packet: packet(vec![Value::from("e")]),
                request_id: None,
                opts: opts(),
            }),
            false,
            None,
        ),
        (
            m(S::Broadcast {
                packet: packet(vec![Value::from("e"), bin()]),
                request_id: Some("x".into()),
                opts: opts(),
            }),
            true,
            None,
        ),
        (
            m(S::SocketsJoin {
                opts: opts(),
                rooms: vec!["a".into()],
            }),
            false,
            None,
        ),
        (
            m(S::SocketsLeave {
                opts: opts(),
                rooms: vec!["a".into()],
            }),
            false,
            None,
        ),
        (
            m(S::DisconnectSockets {
                opts: Opts::default(),
                close: true,
            }),
            false,
            Some(
                r#"{"type":6,"data":{"opts":{"rooms":[],"except":[],"flags":{}},"close":true},"uid":"a0fa37e9af126190","nsp":"/"}"#,
            ),
        ),
        (
            m(S::FetchSockets {
                opts: opts(),
                request_id: "x".into(),
            }),
            false,
            None,
        ),
        (
            m(S::FetchSocketsResponse {
                request_id: "x".into(),
                sockets: vec![socket(None)],
            }),
            false,
            None,
        ),
        (
            m(S::FetchSocketsResponse {
                request_id: "x".into(),
                sockets: vec![socket(Some(bin()))],
            }),
            true,
            None,
        ),
        (
            m(S::ServerSideEmit {
                request_id: None,
                packet: vec![Value::from("e"), bin()],
            }),
            true,
            None,
        ),
        (
            m(S::ServerSideEmit {
                request_id: Some("x".into()),
                packet: vec![Value::from("e")],
            }),
            false,
            Some(
                r#"{"type":9,"data":{"requestId":"x","packet":["e"]},"uid":"a0fa37e9af126190","nsp":"/"}"#,
            ),
        ),
        (
            m(S::ServerSideEmitResponse {
                request_id: "x".into(),
                packet: Some(Value::Int(1)),
            }),
            false,
            Some(
                r#"{"type":10,"data":{"requestId":"x","packet":1},"uid":"a0fa37e9af126190","nsp":"/"}"#,
            ),
        ),
        (
            m(S::ServerSideEmitResponse {
                request_id: "x".into(),
                packet: None,
            }),
            false,
            None,
        ),
        (
            m(S::BroadcastClientCount {
                request_id: "x".into(),
                client_count: 3,
            }),
            false,
            Some(
                r#"{"type":11,"data":{"requestId":"x","clientCount":3},"uid":"a0fa37e9af126190","nsp":"/"}"#,
            ),
        ),
        (
            m(S::BroadcastAck {
                request_id: "x".into(),
                packet: Some(bin()),
            }),
            true,
            None,
        ),
        (
            m(S::BroadcastAck {
                request_id: "x".into(),
                packet: Some(Value::from("ok")),
            }),
            false,
            None,
        ),
    ];
    for (msg, msgpack, json) in cases {
        let bytes = msg.encode();
        assert_eq!(msg.is_msgpack(), msgpack, "{msg:?}");
        assert_eq!(bytes[0] != b'{', msgpack, "{msg:?}");
        if let Some(json) = json {
            assert_eq!(String::from_utf8(bytes.clone()).unwrap(), json);
        }
        assert_eq!(ShardedMessage::decode(&bytes).unwrap(), msg);
    }
}
