//! The sharded adapter (`createShardedAdapter`, Redis ≥ 7.0 SPUBLISH/SSUBSCRIBE), built on
//! socket.io-adapter's `ClusterAdapter`: one `{uid, nsp, type, data}` message format for
//! everything, JSON unless a binary-bearing message really holds binary.
//!
//! Not wire-compatible with the classic format: every node of a cluster uses one variant.

use bytes::Bytes;

use crate::classic::count;
use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::json::{decode_json, BinMode, JsonWriter};
use crate::msgpack::{decode_msgpack, decode_msgpack_bytes, MsgpackWriter};
use crate::types::{
    opt_bool, opt_string, req_string, rooms, type_code, Obj, Opts, Packet, RemoteSocket,
};
use crate::value::Value;

/// How many channels a node subscribes per namespace (the adapter's `subscriptionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubscriptionMode {
    /// The main and the node's own channel only; suits dynamic namespaces.
    Static,
    /// Plus one channel per public room (not a socket id), the default.
    #[default]
    Dynamic,
    /// Plus one channel per room, socket-id rooms included.
    DynamicPrivate,
}

impl SubscriptionMode {
    /// Whether a node subscribes a room's channel when the room appears locally: every room
    /// in `DynamicPrivate`, rooms that are not a local socket's id in `Dynamic`
    /// (`shouldUseASeparateNamespace`, which knows the local sids).
    pub fn subscribes_room(self, room_is_local_socket_id: bool) -> bool {
        match self {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !room_is_local_socket_id,
            SubscriptionMode::DynamicPrivate => true,
        }
    }
}

/// `{prefix}#{nsp}#`: every node SSUBSCRIBEs it; `PUBSUB SHARDNUMSUB` of it is the server
/// count.
pub fn sharded_channel(prefix: &str, nsp: &str) -> String {
    format!("{prefix}#{nsp}#")
}

/// `{prefix}#{nsp}#{uid}#`: the node `uid`'s own channel, where responses to its requests
/// are published.
pub fn sharded_node_channel(prefix: &str, nsp: &str, uid: &str) -> String {
    format!("{prefix}#{nsp}#{uid}#")
}

/// `{prefix}#{nsp}#{room}#`: a room's channel in the dynamic modes.
pub fn sharded_room_channel(prefix: &str, nsp: &str, room: &str) -> String {
    format!("{prefix}#{nsp}#{room}#")
}

/// The publisher's guess that a room is a socket id (a string of 20 UTF-16 units): in
/// `Dynamic` mode such a room is not given its own channel, since no node subscribes one.
pub fn looks_like_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

/// socket.io-adapter's `MessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// 1 (heartbeat adapters only).
    InitialHeartbeat = 1,
    /// 2 (heartbeat adapters only).
    Heartbeat = 2,
    /// 3.
    Broadcast = 3,
    /// 4.
    SocketsJoin = 4,
    /// 5.
    SocketsLeave = 5,
    /// 6.
    DisconnectSockets = 6,
    /// 7.
    FetchSockets = 7,
    /// 8.
    FetchSocketsResponse = 8,
    /// 9.
    ServerSideEmit = 9,
    /// 10.
    ServerSideEmitResponse = 10,
    /// 11.
    BroadcastClientCount = 11,
    /// 12.
    BroadcastAck = 12,
    /// 13 (heartbeat adapters only).
    AdapterClose = 13,
}

impl MessageType {
    /// The type for a wire number.
    pub fn from_code(code: i64) -> Option<MessageType> {
        use MessageType::*;
        Some(match code {
            1 => InitialHeartbeat,
            2 => Heartbeat,
            3 => Broadcast,
            4 => SocketsJoin,
            5 => SocketsLeave,
            6 => DisconnectSockets,
            7 => FetchSockets,
            8 => FetchSocketsResponse,
            9 => ServerSideEmit,
            10 => ServerSideEmitResponse,
            11 => BroadcastClientCount,
            12 => BroadcastAck,
            13 => AdapterClose,
            _ => return None,
        })
    }

    /// The wire number.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Types whose data may hold binary, and so are msgpack when it does (the sharded
    /// adapter's `mayContainBinary`).
    pub fn may_contain_binary(self) -> bool {
        matches!(
            self,
            MessageType::Broadcast
                | MessageType::BroadcastAck
                | MessageType::FetchSocketsResponse
                | MessageType::ServerSideEmit
                | MessageType::ServerSideEmitResponse
        )
    }

    /// Responses, published to the requester's [`sharded_node_channel`].
    pub fn is_response(self) -> bool {
        matches!(
            self,
            MessageType::FetchSocketsResponse
                | MessageType::ServerSideEmitResponse
                | MessageType::BroadcastClientCount
                | MessageType::BroadcastAck
        )
    }
}

/// One sharded message: `{type, data, uid, nsp}` (the order Node writes).
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedMessage {
    /// The sender (16 hex characters for Node); receivers drop their own. A missing uid
    /// decodes as `""`.
    pub uid: String,
    /// The namespace; a message without one is refused (socket.io-adapter 2.5.8 drops it).
    pub nsp: String,
    /// Type and data.
    pub kind: ShardedKind,
}

/// The type-specific part of a [`ShardedMessage`].
#[derive(Debug, Clone, PartialEq)]
pub enum ShardedKind {
    /// 1, no data.
    InitialHeartbeat,
    /// 2, no data.
    Heartbeat,
    /// 13, no data.
    AdapterClose,
    /// 3: `{packet, opts}`, or `{packet, requestId, opts}` with acks.
    Broadcast {
        /// The event (`nsp` normally absent: it is the message's).
        packet: Packet,
        /// Present for a broadcast with acks.
        request_id: Option<String>,
        /// Targets and flags.
        opts: Opts,
    },
    /// 4: `{opts, rooms}`.
    SocketsJoin {
        /// Which sockets.
        opts: Opts,
        /// Rooms to join.
        rooms: Vec<String>,
    },
    /// 5: `{opts, rooms}`.
    SocketsLeave {
        /// Which sockets.
        opts: Opts,
        /// Rooms to leave.
        rooms: Vec<String>,
    },
    /// 6: `{opts, close}`.
    DisconnectSockets {
        /// Which sockets.
        opts: Opts,
        /// Also close the connection.
        close: bool,
    },
    /// 7: `{opts, requestId}`.
    FetchSockets {
        /// Which sockets.
        opts: Opts,
        /// The request.
        request_id: String,
    },
    /// 8: `{requestId, sockets}`.
    FetchSocketsResponse {
        /// The request answered.
        request_id: String,
        /// The matching local sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// 9: `{packet}`, or `{requestId, packet}` with ack.
    ServerSideEmit {
        /// Present when an answer is expected.
        request_id: Option<String>,
        /// `[event, ...args]`.
        packet: Vec<Value>,
    },
    /// 10: `{requestId, packet}`.
    ServerSideEmitResponse {
        /// The request answered.
        request_id: String,
        /// The listener's first ack argument (absent when undefined).
        packet: Option<Value>,
    },
    /// 11: `{requestId, clientCount}`.
    BroadcastClientCount {
        /// The request answered.
        request_id: String,
        /// How many acks this node will send.
        client_count: u64,
    },
    /// 12: `{requestId, packet}`.
    BroadcastAck {
        /// The request answered.
        request_id: String,
        /// The client's first ack argument.
        packet: Option<Value>,
    },
}

impl ShardedKind {
    /// The message type.
    pub fn message_type(&self) -> MessageType {
        use ShardedKind as K;
        match self {
            K::InitialHeartbeat => MessageType::InitialHeartbeat,
            K::Heartbeat => MessageType::Heartbeat,
            K::AdapterClose => MessageType::AdapterClose,
            K::Broadcast { .. } => MessageType::Broadcast,
            K::SocketsJoin { .. } => MessageType::SocketsJoin,
            K::SocketsLeave { .. } => MessageType::SocketsLeave,
            K::DisconnectSockets { .. } => MessageType::DisconnectSockets,
            K::FetchSockets { .. } => MessageType::FetchSockets,
            K::FetchSocketsResponse { .. } => MessageType::FetchSocketsResponse,
            K::ServerSideEmit { .. } => MessageType::ServerSideEmit,
            K::ServerSideEmitResponse { .. } => MessageType::ServerSideEmitResponse,
            K::BroadcastClientCount { .. } => MessageType::BroadcastClientCount,
            K::BroadcastAck { .. } => MessageType::BroadcastAck,
        }
    }

    /// socket.io-adapter's `hasBinary(message.data)`, for the types where it matters.
    fn has_binary(&self) -> bool {
        use ShardedKind as K;
        let opt = |v: &Option<Value>| v.as_ref().is_some_and(Value::has_binary);
        match self {
            K::Broadcast { packet, opts, .. } => {
                packet.data.iter().any(Value::has_binary)
                    || opts.flags.other.iter().any(|(_, v)| v.has_binary())
            }
            K::ServerSideEmit { packet, .. } => packet.iter().any(Value::has_binary),
            K::ServerSideEmitResponse { packet, .. } | K::BroadcastAck { packet, .. } => {
                opt(packet)
            }
            K::FetchSocketsResponse { sockets, .. } => sockets
                .iter()
                .any(|s| s.handshake.has_binary() || opt(&s.data)),
            _ => false,
        }
    }
}

impl ShardedMessage {
    /// Decodes a message in either encoding (JSON when it starts with `{`). An unknown
    /// `type` gives [`Error::UnknownType`] (Node ignores those).
    pub fn decode(input: &[u8]) -> Result<ShardedMessage> {
        let v = if input.first() == Some(&b'{') {
            decode_json(input)?
        } else {
            decode_msgpack(input)?
        };
        Self::from_value(v)
    }

    /// Like [`ShardedMessage::decode`], with binary sharing `input`'s memory.
    pub fn decode_bytes(input: &Bytes) -> Result<ShardedMessage> {
        let v = if input.first() == Some(&b'{') {
            decode_json(input)?
        } else {
            decode_msgpack_bytes(input)?
        };
        Self::from_value(v)
    }

    fn from_value(v: Value) -> Result<ShardedMessage> {
        use ShardedKind as K;
        let mut o = Obj::new(v, "message")?;
        let code = type_code(o.take("type"))?.ok_or(Error::MissingField("type"))?;
        let ty = MessageType::from_code(code).ok_or(Error::UnknownType(code))?;
        let uid = opt_string(o.take("uid"), "uid")?.unwrap_or_default();
        let nsp = req_string(o.take("nsp"), "nsp")?;
        let mut d = match ty {
            MessageType::InitialHeartbeat | MessageType::Heartbeat | MessageType::AdapterClose => {
                Obj::new(Value::Map(Vec::new()), "data")?
            }
            _ => match o.take("data") {
                None | Some(Value::Null) => return Err(Error::MissingField("data")),
                Some(d) => Obj::new(d, "data")?,
            },
        };
        let opts = |d: &mut Obj| match d.take("opts") {
            None | Some(Value::Null) => Err(Error::MissingField("data.opts")),
            Some(v) => Opts::decode(v),
        };
        let request_id = |d: &mut Obj| req_string(d.take("requestId"), "data.requestId");
        let kind = match ty {
            MessageType::InitialHeartbeat => K::InitialHeartbeat,
            MessageType::Heartbeat => K::Heartbeat,
            MessageType::AdapterClose => K::AdapterClose,
            MessageType::Broadcast => K::Broadcast {
                packet: match d.take("packet") {
                    None | Some(Value::Null) => return Err(Error::MissingField("data.packet")),
                    Some(p) => Packet::decode(p, "data.packet")?,
                },
                request_id: opt_string(d.take("requestId"), "data.requestId")?,
                opts: opts(&mut d)?,
            },
            MessageType::SocketsJoin => K::SocketsJoin {
                opts: opts(&mut d)?,
                rooms: rooms(d.take("rooms"), "data.rooms")?,
            },
            MessageType::SocketsLeave => K::SocketsLeave {
                opts: opts(&mut d)?,
                rooms: rooms(d.take("rooms"), "data.rooms")?,
            },
            MessageType::DisconnectSockets => K::DisconnectSockets {
                opts: opts(&mut d)?,
                close: opt_bool(d.take("close"), "data.close")?,
            },
            MessageType::FetchSockets => K::FetchSockets {
                opts: opts(&mut d)?,
                request_id: request_id(&mut d)?,
            },
            MessageType::FetchSocketsResponse => K::FetchSocketsResponse {
                request_id: request_id(&mut d)?,
                sockets: RemoteSocket::decode_list(d.take("sockets"), "data.sockets")?,
            },
            MessageType::ServerSideEmit => K::ServerSideEmit {
                request_id: opt_string(d.take("requestId"), "data.requestId")?,
                packet: match d.take("packet") {
                    Some(Value::Array(a)) => a,
                    None | Some(Value::Null) => return Err(Error::MissingField("data.packet")),
                    Some(_) => {
                        return Err(Error::WrongType {
                            field: "data.packet",
                            expected: "an array [event, ...args]",
                        })
                    }
                },
            },
            MessageType::ServerSideEmitResponse => K::ServerSideEmitResponse {
                request_id: request_id(&mut d)?,
                packet: d.take("packet"),
            },
            MessageType::BroadcastClientCount => K::BroadcastClientCount {
                request_id: request_id(&mut d)?,
                client_count: count(d.take("clientCount"))?,
            },
            MessageType::BroadcastAck => K::BroadcastAck {
                request_id: request_id(&mut d)?,
                packet: d.take("packet"),
            },
        };
        Ok(ShardedMessage { uid, nsp, kind })
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        self.kind.message_type()
    }

    /// Whether [`ShardedMessage::encode`] writes msgpack: a binary-bearing type whose data
    /// holds binary.
    pub fn is_msgpack(&self) -> bool {
        self.message_type().may_contain_binary() && self.kind.has_binary()
    }

    /// Encodes as socket.io-adapter 2.5.8 / redis-adapter 8.3.0 do: `{type, data, uid, nsp}`,
    /// msgpack or JSON per [`ShardedMessage::is_msgpack`].
    pub fn encode(&self) -> Vec<u8> {
        if self.is_msgpack() {
            let mut w = MsgpackWriter::default();
            self.write(&mut w);
            w.buf
        } else {
            let mut w = JsonWriter::new(BinMode::BufferJson);
            self.write(&mut w);
            w.out.into_bytes()
        }
    }

    /// The channel to SPUBLISH a request or broadcast on (`computeChannel`): a room's
    /// channel for a broadcast without acks to exactly one room (in `Dynamic` mode only
    /// when the room does not look like a socket id), else the main channel. `None` for
    /// responses, which go to the requester's [`sharded_node_channel`].
    pub fn channel(&self, prefix: &str, mode: SubscriptionMode) -> Option<String> {
        if self.message_type().is_response() {
            return None;
        }
        if let ShardedKind::Broadcast {
            request_id: None,
            opts,
            ..
        } = &self.kind
        {
            if let [room] = opts.rooms.as_slice() {
                let own = match mode {
                    SubscriptionMode::Static => false,
                    SubscriptionMode::Dynamic => !looks_like_socket_id(room),
                    SubscriptionMode::DynamicPrivate => true,
                };
                if own {
                    return Some(sharded_room_channel(prefix, &self.nsp, room));
                }
            }
        }
        Some(sharded_channel(prefix, &self.nsp))
    }

    fn write(&self, s: &mut dyn Sink) {
        use ShardedKind as K;
        let has_data = !matches!(
            self.kind,
            K::InitialHeartbeat | K::Heartbeat | K::AdapterClose
        );
        s.map(3 + usize::from(has_data));
        s.key("type");
        s.uint(self.message_type().code().into());
        if has_data {
            s.key("data");
            self.write_data(s);
        }
        s.key("uid");
        s.str(&self.uid);
        s.key("nsp");
        s.str(&self.nsp);
        s.end_map();
    }

    fn write_data(&self, s: &mut dyn Sink) {
        use ShardedKind as K;
        let rid = |s: &mut dyn Sink, id: &str| {
            s.key("requestId");
            s.str(id);
        };
        let opt_packet = |s: &mut dyn Sink, p: &Option<Value>| {
            if let Some(p) = p {
                s.key("packet");
                s.value(p);
            }
        };
        match &self.kind {
            K::InitialHeartbeat | K::Heartbeat | K::AdapterClose => {}
            K::Broadcast {
                packet,
                request_id,
                opts,
            } => {
                s.map(2 + usize::from(request_id.is_some()));
                s.key("packet");
                packet.write(s);
                if let Some(id) = request_id {
                    rid(s, id);
                }
                s.key("opts");
                opts.write(s, true);
                s.end_map();
            }
            K::SocketsJoin { opts, rooms } | K::SocketsLeave { opts, rooms } => {
                s.map(2);
                s.key("opts");
                opts.write(s, true);
                s.key("rooms");
                s.strs(rooms);
                s.end_map();
            }
            K::DisconnectSockets { opts, close } => {
                s.map(2);
                s.key("opts");
                opts.write(s, true);
                s.key("close");
                s.bool(*close);
                s.end_map();
            }
            K::FetchSockets { opts, request_id } => {
                s.map(2);
                s.key("opts");
                opts.write(s, true);
                rid(s, request_id);
                s.end_map();
            }
            K::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                s.map(2);
                rid(s, request_id);
                s.key("sockets");
                s.array(sockets.len());
                for socket in sockets {
                    socket.write(s);
                }
                s.end_array();
                s.end_map();
            }
            K::ServerSideEmit { request_id, packet } => {
                s.map(1 + usize::from(request_id.is_some()));
                if let Some(id) = request_id {
                    rid(s, id);
                }
                s.key("packet");
                s.values(packet);
                s.end_map();
            }
            K::ServerSideEmitResponse { request_id, packet }
            | K::BroadcastAck { request_id, packet } => {
                s.map(1 + usize::from(packet.is_some()));
                rid(s, request_id);
                opt_packet(s, packet);
                s.end_map();
            }
            K::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                s.map(2);
                rid(s, request_id);
                s.key("clientCount");
                s.uint(*client_count);
                s.end_map();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_socket_ids() {
        assert_eq!(sharded_channel("socket.io", "/"), "socket.io#/#");
        assert_eq!(
            sharded_node_channel("socket.io", "/", "a0fa37e9af126190"),
            "socket.io#/#a0fa37e9af126190#"
        );
        assert!(looks_like_socket_id("Jyxm3uhJZDDT0_wrAAAA"));
        assert!(!looks_like_socket_id("r1"));
        // 20 UTF-16 units, more UTF-8 bytes.
        assert!(looks_like_socket_id(&"é".repeat(20)));
        assert!(looks_like_socket_id(&"😀".repeat(10)));
        assert!(SubscriptionMode::Dynamic.subscribes_room(false));
        assert!(!SubscriptionMode::Dynamic.subscribes_room(true));
        assert!(SubscriptionMode::DynamicPrivate.subscribes_room(true));
        assert!(!SubscriptionMode::Static.subscribes_room(false));
    }

    #[test]
    fn publish_channel_follows_compute_channel() {
        let msg = |rooms: &[&str], request_id: Option<&str>| ShardedMessage {
            uid: "u".into(),
            nsp: "/".into(),
            kind: ShardedKind::Broadcast {
                packet: Packet {
                    kind: crate::PacketType::Event,
                    data: vec![Value::from("ev")],
                    nsp: None,
                },
                request_id: request_id.map(Into::into),
                opts: Opts::to_rooms(rooms.iter().copied()),
            },
        };
        let ch = |m: &ShardedMessage, mode| m.channel("p", mode).unwrap();
        use SubscriptionMode::*;
        assert_eq!(ch(&msg(&["r1"], None), Dynamic), "p#/#r1#");
        assert_eq!(ch(&msg(&["r1"], None), Static), "p#/#");
        assert_eq!(ch(&msg(&["r1"], Some("x")), Dynamic), "p#/#");
        assert_eq!(ch(&msg(&["r1", "r2"], None), Dynamic), "p#/#");
        assert_eq!(ch(&msg(&["Jyxm3uhJZDDT0_wrAAAA"], None), Dynamic), "p#/#");
        assert_eq!(
            ch(&msg(&["Jyxm3uhJZDDT0_wrAAAA"], None), DynamicPrivate),
            "p#/#Jyxm3uhJZDDT0_wrAAAA#"
        );
        let resp = ShardedMessage {
            uid: "u".into(),
            nsp: "/".into(),
            kind: ShardedKind::BroadcastClientCount {
                request_id: "x".into(),
                client_count: 0,
            },
        };
        assert_eq!(resp.channel("p", Dynamic), None);
    }
}
