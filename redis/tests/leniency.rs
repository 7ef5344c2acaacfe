//! What other peers send: old and foreign emitters (PHP msgpack, msgpackr), legacy adapters,
//! numeric rooms, every msgpack family. Decoding must accept it all; wrong types must be
//! errors.

mod common;

use bytes::Bytes;
use rtio_redis::{
    encode_msgpack, ClassicBroadcast, ClassicRequest, ClassicRequestKind, ClassicResponse, Error,
    Flags, PacketType, ShardedKind, ShardedMessage, Value,
};

/// A deliberately wasteful msgpack writer, as some libraries are: 32-bit headers, 64-bit
/// integers, float32 where exact, str8 for short strings.
fn wide(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0xc0),
        Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Int(i) => {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
        Value::UInt(u) => {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
        Value::Float(f) if (*f as f32) as f64 == *f => {
            out.push(0xca);
            out.extend_from_slice(&(*f as f32).to_be_bytes());
        }
        Value::Float(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) if s.len() < 256 => {
            out.extend_from_slice(&[0xd9, s.len() as u8]);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Str(s) => {
            out.push(0xdb);
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            out.push(0xc6);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
        Value::Array(a) => {
            out.push(0xdd);
            out.extend_from_slice(&(a.len() as u32).to_be_bytes());
            a.iter().for_each(|v| wide(v, out));
        }
        Value::Map(m) => {
            out.push(0xdf);
            out.extend_from_slice(&(m.len() as u32).to_be_bytes());
            for (k, v) in m {
                wide(&Value::Str(k.clone()), out);
                wide(v, out);
            }
        }
    }
}

fn wide_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    wide(v, &mut out);
    out
}

fn s(x: &str) -> Value {
    Value::from(x)
}

fn arr(v: Vec<Value>) -> Value {
    Value::Array(v)
}

fn broadcast_value(packet: Value, opts: Value) -> Value {
    arr(vec![s("php"), packet, opts])
}

fn packet(entries: Vec<(&str, Value)>) -> Value {
    Value::map(entries)
}

#[test]
fn every_vector_decodes_from_wide_msgpack() {
    for v in common::load("classic")
        .iter()
        .chain(common::load("sharded").iter())
    {
        let w = wide_bytes(&v.decoded);
        if v.channel.starts_with("socket.io-request#") {
            assert_eq!(
                ClassicRequest::decode(&w).unwrap(),
                ClassicRequest::decode(&v.bytes).unwrap(),
                "{}",
                v.origin
            );
        } else if v.channel.starts_with("socket.io-response#") {
            assert_eq!(
                ClassicResponse::decode(&w).unwrap(),
                ClassicResponse::decode(&v.bytes).unwrap(),
                "{}",
                v.origin
            );
        } else if v.origin.contains("classic") {
            let b = ClassicBroadcast::decode(&w).unwrap();
            assert_eq!(
                b,
                ClassicBroadcast::decode(&v.bytes).unwrap(),
                "{}",
                v.origin
            );
            // And rtio writes it back in the smallest forms again.
            if b.uid != "emitter" {
                assert_eq!(b.encode(), v.bytes, "{}", v.origin);
            }
        } else {
            let m = ShardedMessage::decode(&w).unwrap();
            assert_eq!(m, ShardedMessage::decode(&v.bytes).unwrap(), "{}", v.origin);
            assert_eq!(m.encode(), v.bytes, "{}", v.origin);
        }
    }
}

#[test]
fn old_php_emitter_without_except_flags_and_nsp() {
    let v = broadcast_value(
        packet(vec![
            ("type", Value::Int(2)),
            ("data", arr(vec![s("ev"), Value::Int(1)])),
        ]),
        Value::map([("rooms", arr(vec![s("r1")]))]),
    );
    let b = ClassicBroadcast::decode(&encode_msgpack(&v)).unwrap();
    assert_eq!(b.uid, "php");
    assert_eq!(b.nsp(), "/");
    assert_eq!(b.packet.nsp.as_deref(), Some("/"));
    assert_eq!(b.opts.rooms, ["r1"]);
    assert!(b.opts.except.is_empty());
    assert_eq!(b.opts.flags, Flags::default());
    // With `broadcast: true` (pre-v3 emitters), `null` except and type 5.
    let v = broadcast_value(
        packet(vec![
            ("data", arr(vec![s("ev")])),
            ("type", Value::Int(5)),
            ("nsp", s("/chat")),
        ]),
        Value::map([
            ("flags", Value::map([("broadcast", Value::Bool(true))])),
            ("except", Value::Null),
            ("rooms", arr(vec![])),
        ]),
    );
    let b = ClassicBroadcast::decode(&encode_msgpack(&v)).unwrap();
    assert_eq!(b.packet.kind, PacketType::BinaryEvent);
    assert!(b.opts.flags.broadcast);
    assert_eq!(b.nsp(), "/chat");
    assert_eq!(b.channel("socket.io"), "socket.io#/chat#");
}

#[test]
fn numeric_rooms_become_decimal_strings() {
    let v = broadcast_value(
        packet(vec![
            ("type", Value::Int(2)),
            ("data", arr(vec![s("ev")])),
            ("nsp", s("/")),
        ]),
        Value::map([
            ("rooms", arr(vec![Value::Int(42)])),
            (
                "except",
                arr(vec![
                    Value::Int(-7),
                    Value::Float(1.5),
                    Value::UInt(u64::MAX),
                ]),
            ),
            ("flags", Value::map::<&str>([])),
        ]),
    );
    let b = ClassicBroadcast::decode(&encode_msgpack(&v)).unwrap();
    assert_eq!(b.opts.rooms, ["42"]);
    assert_eq!(b.opts.except, ["-7", "1.5", "18446744073709551615"]);
    assert_eq!(b.channel("socket.io"), "socket.io#/#42#");
    let r = ClassicRequest::decode(
        br#"{"uid":"x","type":2,"opts":{"rooms":[1],"except":[]},"rooms":[2.0,3]}"#,
    )
    .unwrap();
    assert!(
        matches!(r.kind, ClassicRequestKind::SocketsJoin { opts, rooms } if opts.rooms == ["1"] && rooms == ["2", "3"])
    );
}

#[test]
fn hand_written_msgpack_families() {
    // ["uid", map16{type: 2, data: ["ev", float32 0.5, str8 "x", bin16 [9]]}, {rooms: []}]
    let mut b = vec![0x93, 0xd9, 3];
    b.extend_from_slice(b"uid");
    b.extend_from_slice(&[0xde, 0, 2, 0xa4]);
    b.extend_from_slice(b"type");
    b.extend_from_slice(&[0xcc, 2, 0xa4]);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&[0xdc, 0, 4, 0xa2]);
    b.extend_from_slice(b"ev");
    b.extend_from_slice(&[0xca, 0x3f, 0, 0, 0]);
    b.extend_from_slice(&[0xd9, 1, b'x']);
    b.extend_from_slice(&[0xc5, 0, 1, 9]);
    b.extend_from_slice(&[0x81, 0xa5]);
    b.extend_from_slice(b"rooms");
    b.push(0x90);
    let m = ClassicBroadcast::decode(&b).unwrap();
    assert_eq!(m.uid, "uid");
    assert_eq!(
        m.packet.data,
        vec![
            s("ev"),
            Value::Float(0.5),
            s("x"),
            Value::Bin(Bytes::from_static(&[9]))
        ]
    );
    // Re-encoded the notepack way: float64, fixstr, bin8.
    let out = m.encode();
    assert!(out
        .windows(9)
        .any(|w| w == [0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0]));
    assert!(out.windows(3).any(|w| w == [0xc4, 1, 9]));
}

#[test]
fn dates_and_undefined_in_arguments() {
    // data: ["ev", legacy date (fixext8 type 0), timestamp32, undefined (fixext1 0), ArrayBuffer ext]
    let mut b = vec![0x93, 0xa1, b'u', 0x82, 0xa4];
    b.extend_from_slice(b"type");
    b.push(2);
    b.extend_from_slice(&[0xa4]);
    b.extend_from_slice(b"data");
    b.extend_from_slice(&[0x95, 0xa2]);
    b.extend_from_slice(b"ev");
    b.extend_from_slice(&[0xd7, 0x00]);
    b.extend_from_slice(&1_795_455_812_431i64.to_be_bytes());
    b.extend_from_slice(&[0xd6, 0xff]);
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&[0xd4, 0x00, 0x00]);
    b.extend_from_slice(&[0xc7, 2, 0x00, 7, 8]);
    b.extend_from_slice(&[0x80]);
    let m = ClassicBroadcast::decode(&b).unwrap();
    assert_eq!(
        m.packet.data,
        vec![
            s("ev"),
            s("2026-11-23T17:43:32.431Z"),
            s("1970-01-01T00:00:00.000Z"),
            Value::Null,
            Value::Bin(Bytes::from_static(&[7, 8])),
        ]
    );
}

#[test]
fn legacy_requests_and_responses() {
    let r =
        ClassicRequest::decode(br#"{"requestId":"abc","type":2,"sid":"s1","room":"r"}"#).unwrap();
    assert_eq!(r.uid, None);
    assert_eq!(
        r.kind,
        ClassicRequestKind::LegacyJoin {
            sid: "s1".into(),
            room: "r".into()
        }
    );
    assert_eq!(
        r.encode(),
        br#"{"requestId":"abc","type":2,"sid":"s1","room":"r"}"#
    );
    let r = ClassicRequest::decode(br#"{"requestId":"abc","type":3,"sid":"s1","room":5}"#).unwrap();
    assert_eq!(
        r.kind,
        ClassicRequestKind::LegacyLeave {
            sid: "s1".into(),
            room: "5".into()
        }
    );
    let r =
        ClassicRequest::decode(br#"{"type":4,"sid":"s1","close":true,"requestId":"q"}"#).unwrap();
    assert_eq!(
        r.kind,
        ClassicRequestKind::LegacyDisconnect {
            sid: "s1".into(),
            close: true
        }
    );
    let r = ClassicRequest::decode(br#"{"requestId":"q","type":0,"rooms":["a"]}"#).unwrap();
    assert_eq!(
        r.kind,
        ClassicRequestKind::Sockets {
            rooms: vec!["a".into()]
        }
    );
    let r = ClassicRequest::decode(br#"{"uid":"u","requestId":7,"type":1,"extra":{}}"#).unwrap();
    assert_eq!(r.request_id.as_deref(), Some("7"));
    assert_eq!(r.kind, ClassicRequestKind::AllRooms);
    // A request in msgpack though JSON is usual.
    let r2 = ClassicRequest::decode(&encode_msgpack(&Value::map([
        ("type", Value::Int(1)),
        ("uid", s("u")),
        ("requestId", s("7")),
    ])))
    .unwrap();
    assert_eq!(r2, r);

    assert_eq!(
        ClassicResponse::decode(br#"{"requestId":"q"}"#).unwrap(),
        ClassicResponse::Ack {
            request_id: "q".into()
        }
    );
    assert_eq!(
        ClassicResponse::decode(br#"{"requestId":"q","sockets":["a","b"]}"#).unwrap(),
        ClassicResponse::Sockets {
            request_id: "q".into(),
            sockets: vec!["a".into(), "b".into()]
        }
    );
    assert_eq!(
        ClassicResponse::decode(br#"{"requestId":"q","rooms":["a",1]}"#).unwrap(),
        ClassicResponse::AllRooms {
            request_id: "q".into(),
            rooms: vec!["a".into(), "1".into()]
        }
    );
    let empty = ClassicResponse::decode(br#"{"requestId":"q","sockets":[]}"#).unwrap();
    assert_eq!(empty.clone().into_fetched(), Some(vec![]));
    assert_eq!(
        ClassicResponse::decode(br#"{"type":6,"requestId":"q"}"#).unwrap(),
        ClassicResponse::ServerSideEmit {
            request_id: "q".into(),
            data: None
        }
    );
}

#[test]
fn flags_round_trip() {
    let v = broadcast_value(
        packet(vec![
            ("type", Value::Int(2)),
            ("data", arr(vec![s("ev")])),
            ("nsp", s("/")),
        ]),
        Value::map([
            ("rooms", arr(vec![])),
            ("except", arr(vec![])),
            (
                "flags",
                Value::map([
                    ("timeout", Value::Float(250.9)),
                    ("expectSingleResponse", Value::Bool(true)),
                    ("compress", Value::Bool(false)),
                    ("volatile", Value::Bool(true)),
                ]),
            ),
        ]),
    );
    let b = ClassicBroadcast::decode(&encode_msgpack(&v)).unwrap();
    let f = &b.opts.flags;
    assert!(f.volatile);
    assert_eq!(f.compress, Some(false));
    assert_eq!(f.timeout, Some(250));
    assert_eq!(
        f.other,
        vec![("expectSingleResponse".to_string(), Value::Bool(true))]
    );
    let again = ClassicBroadcast::decode(&b.encode()).unwrap();
    assert_eq!(again, b);
    let flags = rtio_redis::decode_msgpack(&b.encode())
        .unwrap()
        .as_array()
        .unwrap()[2]
        .get("flags")
        .cloned()
        .unwrap();
    let keys: Vec<&str> = flags
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["volatile", "compress", "timeout", "expectSingleResponse"]
    );
}

#[test]
fn sharded_leniency() {
    // msgpack although nothing binary, numeric rooms, packet with nsp, extra keys, any order.
    let v = Value::map([
        ("nsp", s("/")),
        ("uid", s("emitter")),
        (
            "data",
            Value::map([
                ("opts", Value::map([("rooms", arr(vec![Value::Int(42)]))])),
                (
                    "packet",
                    packet(vec![
                        ("type", Value::Int(2)),
                        ("data", arr(vec![s("e")])),
                        ("nsp", s("/")),
                    ]),
                ),
            ]),
        ),
        ("type", Value::Int(3)),
        ("offset", s("1-0")),
    ]);
    let m = ShardedMessage::decode(&encode_msgpack(&v)).unwrap();
    assert_eq!(m.uid, "emitter");
    let ShardedKind::Broadcast {
        packet,
        opts,
        request_id: None,
    } = &m.kind
    else {
        panic!("{m:?}")
    };
    assert_eq!(packet.nsp.as_deref(), Some("/"));
    assert_eq!(opts.rooms, ["42"]);
    assert!(!m.is_msgpack());
    // The unreleased sharded emitter leaves out `nsp`, which Node drops: so do we.
    assert_eq!(
        ShardedMessage::decode(br#"{"type":3,"uid":"emitter","data":{"packet":{"type":2,"data":["e"]},"opts":{"rooms":[],"except":[]}}}"#),
        Err(Error::MissingField("nsp"))
    );
    assert_eq!(
        ShardedMessage::decode(br#"{"type":1,"uid":"a","nsp":"/"}"#)
            .unwrap()
            .kind,
        ShardedKind::InitialHeartbeat
    );
    assert_eq!(
        ShardedMessage::decode(br#"{"type":14,"uid":"a","nsp":"/"}"#),
        Err(Error::UnknownType(14))
    );
}

#[test]
fn wrong_types_are_errors() {
    let bad: &[(&[u8], &str)] = &[
        (
            br#"{"type":2,"opts":{"rooms":"r1"},"rooms":[]}"#,
            "rooms string",
        ),
        (br#"{"type":6,"data":{"a":1}}"#, "data object"),
        (br#"{"type":6}"#, "data missing"),
        (br#"{"type":"6","data":[]}"#, "type string"),
        (br#"{"type":5,"requestId":"x"}"#, "fetch without opts"),
        (
            br#"{"type":8,"requestId":"x","clientCount":1}"#,
            "response type on request channel",
        ),
        (br#"{"type":2,"sid":"s"}"#, "legacy join without room"),
        (
            br#"{"type":4,"opts":{"rooms":[],"flags":[]},"close":true}"#,
            "flags array",
        ),
        (
            br#"{"type":4,"opts":{"rooms":[]},"close":"yes"}"#,
            "close string",
        ),
        (br#"[1,2,3]"#, "not an object"),
        (
            br#"{"type":2,"opts":{"rooms":[[1]]},"rooms":[]}"#,
            "nested room",
        ),
    ];
    for (input, why) in bad {
        assert!(ClassicRequest::decode(input).is_err(), "{why}");
    }
    let bad_responses: &[&[u8]] = &[
        br#"{"sockets":[]}"#,
        br#"{"requestId":"x","type":8}"#,
        br#"{"requestId":"x","type":8,"clientCount":-1}"#,
        br#"{"requestId":"x","sockets":[{"rooms":[]}]}"#,
        br#"{"requestId":"x","sockets":{}}"#,
        br#"{"requestId":"x","type":3}"#,
    ];
    for input in bad_responses {
        assert!(
            ClassicResponse::decode(input).is_err(),
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    let p = |data: Value, ty: Value| {
        broadcast_value(
            packet(vec![("type", ty), ("data", data)]),
            Value::map([("rooms", arr(vec![]))]),
        )
    };
    assert!(ClassicBroadcast::decode(&encode_msgpack(&p(s("ev"), Value::Int(2)))).is_err());
    assert!(ClassicBroadcast::decode(&encode_msgpack(&p(arr(vec![]), Value::Int(3)))).is_err());
    assert!(ClassicBroadcast::decode(&encode_msgpack(&p(arr(vec![]), s("2")))).is_err());
    assert!(ClassicBroadcast::decode(&encode_msgpack(&arr(vec![s("u"), Value::Null]))).is_err());
    assert!(ClassicBroadcast::decode(&encode_msgpack(&arr(vec![
        s("u"),
        Value::Null,
        Value::Null
    ])))
    .is_err());
    assert!(ClassicBroadcast::decode(b"{\"a\":1}").is_err());
}
