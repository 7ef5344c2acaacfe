//! Golden vectors: messages captured on the wire between two Node socket.io 4.8.1 nodes with
//! @socket.io/redis-adapter 8.3.0 and @socket.io/redis-emitter 5.1.0 (shared/REDIS.md).
//! Every line must decode to its recorded form and to the expected typed message, and every
//! message rtio can originate must re-encode to the very same bytes.

mod common;

use bytes::Bytes;
use common::{load, Vector};
use rtio_redis::classic::{self, BroadcastTarget};
use rtio_redis::sharded::{self, SubscriptionMode};
use rtio_redis::{
    decode_json, decode_msgpack, to_socketio, ClassicBroadcast, ClassicRequest, ClassicRequestKind,
    ClassicResponse, MessageType, PacketType, ShardedKind, ShardedMessage, Value,
};

const KEY: &str = "socket.io";

/// The generic decoders give the recorded form, key order included, and the encoding is the
/// one the adapter's sniff (0x7b) would pick.
fn check_generic(v: &Vector) {
    let is_json = v.bytes.first() == Some(&b'{');
    assert_eq!(
        is_json,
        v.enc == "json",
        "{}: sniff disagrees with enc",
        v.origin
    );
    let value = if is_json {
        decode_json(&v.bytes)
    } else {
        decode_msgpack(&v.bytes)
    }
    .unwrap_or_else(|e| panic!("{}: {e}", v.origin));
    assert_eq!(value, v.decoded, "{}", v.origin);
    // Re-encoding the generic value gives the same bytes too (msgpack and JSON writers).
    let again = if is_json {
        rtio_redis::encode_json(&value).into_bytes()
    } else {
        rtio_redis::encode_msgpack(&value)
    };
    assert_eq!(again, v.bytes, "{}: generic re-encode", v.origin);
}

fn assert_bytes(origin: &str, got: &[u8], want: &[u8]) {
    if got != want {
        panic!(
            "{origin}: re-encoded bytes differ\n got: {}\nwant: {}",
            String::from_utf8_lossy(got),
            String::from_utf8_lossy(want)
        );
    }
}

#[test]
fn vectors_are_present() {
    let dir = common::vectors_dir();
    for name in ["classic", "sharded"] {
        let path = dir.join(format!("vectors-{name}.jsonl"));
        assert!(
            path.is_file(),
            "golden vectors missing: {} (shared/redis-vectors must sit beside the repository)",
            path.display()
        );
    }
}

#[test]
fn classic_vectors() {
    let vectors = load("classic");
    let (mut broadcasts, mut requests, mut responses, mut exact) = (0, 0, 0, 0);
    let mut request_kinds = Vec::new();
    let mut response_kinds = Vec::new();
    for v in &vectors {
        check_generic(v);
        let o = &v.origin;
        if v.channel.starts_with(&format!("{KEY}-request#")) {
            requests += 1;
            assert_eq!(v.channel, classic::request_channel(KEY, "/"), "{o}");
            let r = ClassicRequest::decode(&v.bytes).unwrap_or_else(|e| panic!("{o}: {e}"));
            assert_eq!(
                ClassicRequest::decode_bytes(&Bytes::from(v.bytes.clone())).unwrap(),
                r
            );
            request_kinds.push(r.kind.code());
            assert_eq!(
                Some(&Value::from(r.kind.code() as i64)),
                v.decoded.get("type"),
                "{o}"
            );
            assert_eq!(
                r.uid.as_deref(),
                v.decoded.get("uid").and_then(Value::as_str),
                "{o}"
            );
            assert_bytes(o, &r.encode(), &v.bytes);
            exact += 1;
        } else if v.channel.starts_with(&format!("{KEY}-response#")) {
            responses += 1;
            assert_eq!(v.channel, classic::response_channel(KEY, "/"), "{o}");
            let r = ClassicResponse::decode(&v.bytes).unwrap_or_else(|e| panic!("{o}: {e}"));
            assert_eq!(
                Some(&Value::from(r.request_id())),
                v.decoded.get("requestId"),
                "{o}"
            );
            response_kinds.push(match &r {
                ClassicResponse::FetchSockets { .. } => "fetch",
                ClassicResponse::ServerSideEmit { .. } => "sse",
                ClassicResponse::BroadcastClientCount { .. } => "count",
                ClassicResponse::BroadcastAck { .. } => "ack",
                other => panic!("{o}: unexpected {other:?}"),
            });
            assert_bytes(o, &r.encode(), &v.bytes);
            exact += 1;
        } else {
            broadcasts += 1;
            let b = ClassicBroadcast::decode(&v.bytes).unwrap_or_else(|e| panic!("{o}: {e}"));
            assert_eq!(
                ClassicBroadcast::decode_bytes(&Bytes::from(v.bytes.clone())).unwrap(),
                b
            );
            assert_eq!(
                Some(&Value::from(b.uid.as_str())),
                v.decoded.as_array().unwrap().first()
            );
            assert_eq!(b.packet.kind, PacketType::Event, "{o}");
            assert_eq!(b.channel(KEY), v.channel, "{o}: publish channel");
            let target = classic::parse_broadcast_channel(KEY, b.nsp(), &v.channel);
            match b.opts.rooms.as_slice() {
                [room] => assert_eq!(target, Some(BroadcastTarget::Room(room)), "{o}"),
                _ => assert_eq!(target, Some(BroadcastTarget::Namespace), "{o}"),
            }
            let encoded = b.encode();
            if b.uid == "emitter" {
                // The emitter writes opts as {rooms, flags, except}; rtio writes 8.3.0's
                // {rooms, except, flags}: same message, other bytes.
                assert_ne!(encoded, v.bytes, "{o}: emitter order expected");
                assert_eq!(ClassicBroadcast::decode(&encoded).unwrap(), b, "{o}");
            } else {
                assert_bytes(o, &encoded, &v.bytes);
                exact += 1;
            }
        }
    }
    request_kinds.sort();
    response_kinds.sort();
    assert_eq!(
        request_kinds,
        [2, 2, 4, 5, 6, 6, 6, 7],
        "request types seen"
    );
    assert_eq!(
        response_kinds,
        ["ack", "count", "fetch", "sse"],
        "response types seen"
    );
    assert_eq!((broadcasts, requests, responses), (13, 8, 4));
    assert_eq!(
        exact,
        vectors.len() - 3,
        "all but the emitter's 3 broadcasts re-encode exactly"
    );
}

#[test]
fn classic_vectors_typed_content() {
    let vectors = load("classic");
    let find =
        |pred: &dyn Fn(&Vector) -> bool| vectors.iter().filter(|v| pred(v)).collect::<Vec<_>>();

    // socket.broadcast.emit: except = the sender's sid, no room.
    let v = find(&|v| {
        v.decoded.as_array().is_some_and(|a| {
            a[1].get("data")
                .and_then(|d| d.as_array())
                .is_some_and(|d| d[0] == Value::from("broadcast"))
        })
    });
    let b = ClassicBroadcast::decode(&v[0].bytes).unwrap();
    assert_eq!(b.uid, "HGB7w0");
    assert!(b.opts.rooms.is_empty());
    assert_eq!(b.opts.except, ["Jyxm3uhJZDDT0_wrAAAA"]);
    assert_eq!(
        b.packet.data,
        vec![Value::from("broadcast"), Value::from("hi")]
    );

    // Binary argument: inline bin, packet type still 2; to the core's payload form.
    let v = find(&|v| {
        v.decoded
            .as_array()
            .is_some_and(|a| a[1].get("data").is_some_and(Value::has_binary))
    });
    let b = ClassicBroadcast::decode(&v[0].bytes).unwrap();
    let (json, attachments) = to_socketio(&Value::Array(b.packet.data.clone()));
    assert_eq!(json, r#"["ev",{"_placeholder":true,"num":0}]"#);
    assert_eq!(attachments, vec![Bytes::from_static(&[1, 2, 3])]);

    // Emitter broadcast to r1 except r2 on a one-room channel; /custom namespace.
    let b: Vec<ClassicBroadcast> =
        find(&|v| v.bytes.windows(7).any(|w| w == b"emitter") && v.enc == "msgpack")
            .iter()
            .map(|v| ClassicBroadcast::decode(&v.bytes).unwrap())
            .collect();
    assert_eq!(b.len(), 3);
    assert!(b.iter().all(|b| b.uid == "emitter"));
    assert_eq!(b[1].opts.rooms, ["r1"]);
    assert_eq!(b[1].opts.except, ["r2"]);
    assert_eq!(b[2].nsp(), "/custom");
    assert_eq!(b[2].channel(KEY), "socket.io#/custom#");

    // Requests: the emitter's uid-less join and disconnect, its "emitter" server-side emit,
    // the adapter's fetch, join, emits with and without ack and broadcast with ack.
    let reqs: Vec<ClassicRequest> = find(&|v| v.channel == "socket.io-request#/#")
        .iter()
        .map(|v| ClassicRequest::decode(&v.bytes).unwrap())
        .collect();
    let fetch = &reqs[0];
    assert_eq!(fetch.uid.as_deref(), Some("HGB7w0"));
    assert_eq!(fetch.request_id.as_deref(), Some("GC56R2"));
    assert!(
        matches!(&fetch.kind, ClassicRequestKind::FetchSockets { opts } if opts.rooms.is_empty())
    );
    assert!(
        matches!(&reqs[1].kind, ClassicRequestKind::SocketsJoin { opts, rooms } if opts.rooms == ["r1"] && rooms == &["r2"])
    );
    assert!(
        matches!(&reqs[2].kind, ClassicRequestKind::ServerSideEmit { data } if data[0] == Value::from("relay"))
    );
    assert_eq!(reqs[2].request_id, None);
    assert_eq!(reqs[3].request_id.as_deref(), Some("5wm9Xo"));
    match &reqs[4].kind {
        ClassicRequestKind::Broadcast { packet, opts } => {
            assert_eq!(packet.nsp.as_deref(), Some("/"));
            assert_eq!(packet.data, vec![Value::from("q"), Value::Int(5)]);
            assert_eq!(opts.flags.timeout, Some(1000));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(reqs[5].uid, None, "emitter join has no uid");
    assert!(
        matches!(&reqs[5].kind, ClassicRequestKind::SocketsJoin { rooms, .. } if rooms == &["r3"])
    );
    assert_eq!(reqs[6].uid.as_deref(), Some("emitter"));
    assert!(
        matches!(&reqs[7].kind, ClassicRequestKind::DisconnectSockets { opts, close: true } if opts.rooms == ["r3"])
    );

    // Responses.
    let resps: Vec<ClassicResponse> = find(&|v| v.channel == "socket.io-response#/#")
        .iter()
        .map(|v| ClassicResponse::decode(&v.bytes).unwrap())
        .collect();
    let ClassicResponse::FetchSockets { sockets, .. } = &resps[0] else {
        panic!("{:?}", resps[0])
    };
    assert_eq!(sockets[0].id, "ghN4Xd4b7Dx-HrfCAAAA");
    assert_eq!(sockets[0].rooms, ["ghN4Xd4b7Dx-HrfCAAAA"]);
    assert_eq!(sockets[0].data, Some(Value::Map(vec![])));
    assert_eq!(
        sockets[0].handshake.get("issued"),
        Some(&Value::Int(1795455812431))
    );
    assert_eq!(
        resps[1],
        ClassicResponse::ServerSideEmit {
            request_id: "5wm9Xo".into(),
            data: Some(Value::Int(1))
        }
    );
    assert_eq!(
        resps[2],
        ClassicResponse::BroadcastClientCount {
            request_id: "_pQ18S".into(),
            client_count: 1
        }
    );
    assert_eq!(
        resps[3],
        ClassicResponse::BroadcastAck {
            request_id: "_pQ18S".into(),
            packet: Some(Value::from("b-answer"))
        }
    );
}

#[test]
fn sharded_vectors() {
    let vectors = load("sharded");
    let mut types = Vec::new();
    for v in &vectors {
        check_generic(v);
        let o = &v.origin;
        let m = ShardedMessage::decode(&v.bytes).unwrap_or_else(|e| panic!("{o}: {e}"));
        assert_eq!(
            ShardedMessage::decode_bytes(&Bytes::from(v.bytes.clone())).unwrap(),
            m
        );
        types.push(m.message_type().code());
        assert_eq!(m.nsp, "/");
        assert_eq!(
            Some(&Value::from(m.uid.as_str())),
            v.decoded.get("uid"),
            "{o}"
        );
        assert_eq!(m.is_msgpack(), v.enc == "msgpack", "{o}");
        assert_eq!(
            m.channel(KEY, SubscriptionMode::Dynamic).as_deref(),
            Some(v.channel.as_str()),
            "{o}: publish channel"
        );
        assert_bytes(o, &m.encode(), &v.bytes);
    }
    types.sort();
    assert_eq!(types, [3, 3, 3, 3, 3, 3, 3, 3, 4, 7, 9, 9]);

    let ms: Vec<ShardedMessage> = vectors
        .iter()
        .map(|v| ShardedMessage::decode(&v.bytes).unwrap())
        .collect();
    match &ms[2].kind {
        ShardedKind::Broadcast {
            packet,
            request_id: None,
            opts,
        } => {
            assert_eq!(packet.nsp, None, "the sharded packet has no nsp");
            assert_eq!(packet.data[1], Value::Bin(Bytes::from_static(&[1, 2, 3])));
            assert!(opts.rooms.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&ms[4].kind, ShardedKind::Broadcast { opts, .. } if opts.except == ["md3PBL8VmZLNLI7mAAAA"])
    );
    assert!(
        matches!(&ms[5].kind, ShardedKind::FetchSockets { request_id, .. } if request_id == "2b0e29050815fb43")
    );
    assert!(
        matches!(&ms[6].kind, ShardedKind::ServerSideEmit { request_id: None, packet } if packet.len() == 2)
    );
    assert!(matches!(
        &ms[7].kind,
        ShardedKind::ServerSideEmit {
            request_id: Some(_),
            ..
        }
    ));
    assert!(
        matches!(&ms[8].kind, ShardedKind::Broadcast { request_id: Some(id), opts, .. } if id == "77951b525e71c6ba" && opts.flags.timeout == Some(1000))
    );
    assert!(
        matches!(&ms[9].kind, ShardedKind::SocketsJoin { opts, rooms } if opts.rooms == ["r1"] && rooms == &["r2"])
    );
    assert_eq!(ms[9].message_type(), MessageType::SocketsJoin);
    assert_eq!(sharded::sharded_channel(KEY, "/"), "socket.io#/#");
}
