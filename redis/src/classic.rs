//! The classic adapter (`createAdapter` of `@socket.io/redis-adapter` 8.x) and
//! `@socket.io/redis-emitter` 5.x: PUBLISH/PSUBSCRIBE channels per namespace, broadcasts as
//! msgpack `[uid, packet, opts]`, requests and responses as JSON (msgpack for the
//! broadcast-with-ack request and its acks).

use bytes::Bytes;

use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::json::{decode_json, BinMode, JsonWriter};
use crate::msgpack::{decode_msgpack, decode_msgpack_bytes, MsgpackWriter};
use crate::types::{
    opt_bool, opt_string, req_string, rooms, type_code, Obj, Opts, Packet, RemoteSocket,
};
use crate::value::Value;

/// The channel a broadcast is published on: `{key}#{nsp}#`, or `{key}#{nsp}#{room}#` when it
/// targets exactly one room (whatever `except` holds), so that nodes without that room can
/// drop it before decoding.
pub fn broadcast_channel(key: &str, nsp: &str, room: Option<&str>) -> String {
    match room {
        Some(room) => format!("{key}#{nsp}#{room}#"),
        None => format!("{key}#{nsp}#"),
    }
}

/// The PSUBSCRIBE pattern that receives every broadcast of a namespace: the broadcast
/// channel's prefix with Redis glob characters escaped, then `*`. Without the escaping a
/// key or namespace holding `*?[]\` would match other namespaces' channels, or miss its own.
pub fn broadcast_pattern(key: &str, nsp: &str) -> String {
    let mut p = glob_escape(&broadcast_channel(key, nsp, None));
    p.push('*');
    p
}

/// Escapes Redis glob pattern characters (`*`, `?`, `[`, `]`, `\`) with a backslash.
pub fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `{key}-request#{nsp}#`: every node SUBSCRIBEs, and every subscriber counts in
/// `PUBSUB NUMSUB`, which is how many answers a requester waits for.
pub fn request_channel(key: &str, nsp: &str) -> String {
    format!("{key}-request#{nsp}#")
}

/// `{key}-response#{nsp}#`: where responses go by default (and always for server-side-emit
/// acks, even when the responder prefers specific channels).
pub fn response_channel(key: &str, nsp: &str) -> String {
    format!("{key}-response#{nsp}#")
}

/// `{key}-response#{nsp}#{uid}#`: the requester `uid`'s own response channel, used by
/// responders that set `publishOnSpecificResponseChannel`. Subscribe to it always.
pub fn specific_response_channel(key: &str, nsp: &str, uid: &str) -> String {
    format!("{key}-response#{nsp}#{uid}#")
}

/// What a received broadcast channel names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BroadcastTarget<'a> {
    /// The namespace channel (zero or several rooms: look at the decoded `opts.rooms`).
    Namespace,
    /// A one-room channel: a node with no local member of this room may drop the message
    /// without decoding it (Node does). For a numeric room Node compares the number too.
    Room(&'a str),
}

/// Reads a channel received through [`broadcast_pattern`]: `None` when it is not a
/// broadcast channel of this key and namespace (the pattern can match more than that).
pub fn parse_broadcast_channel<'a>(
    key: &str,
    nsp: &str,
    channel: &'a str,
) -> Option<BroadcastTarget<'a>> {
    let rest = channel
        .strip_prefix(key)?
        .strip_prefix('#')?
        .strip_prefix(nsp)?
        .strip_prefix('#')?;
    if rest.is_empty() {
        return Some(BroadcastTarget::Namespace);
    }
    match rest.strip_suffix('#')? {
        "" => Some(BroadcastTarget::Namespace),
        room => Some(BroadcastTarget::Room(room)),
    }
}

/// A broadcast: msgpack `[uid, packet, opts]` on a [`broadcast_channel`].
#[derive(Debug, Clone, PartialEq)]
pub struct ClassicBroadcast {
    /// The publishing adapter (6 characters for Node, `emitter` for the emitter); receivers
    /// drop their own. A `nil` uid decodes as `""`.
    pub uid: String,
    /// The event; its `nsp` is the namespace (`/` when a peer left it out).
    pub packet: Packet,
    /// Targets and flags.
    pub opts: Opts,
}

impl ClassicBroadcast {
    /// Decodes a broadcast, accepting the emitter's key order, a missing `except`/`flags`,
    /// a missing `packet.nsp` (`/`), packet type 5 and numeric rooms.
    pub fn decode(input: &[u8]) -> Result<ClassicBroadcast> {
        Self::from_value(decode_msgpack(input)?)
    }

    /// Like [`ClassicBroadcast::decode`], with binary arguments sharing `input`'s memory.
    pub fn decode_bytes(input: &Bytes) -> Result<ClassicBroadcast> {
        Self::from_value(decode_msgpack_bytes(input)?)
    }

    fn from_value(v: Value) -> Result<ClassicBroadcast> {
        let wrong = Error::WrongType {
            field: "broadcast",
            expected: "an array [uid, packet, opts]",
        };
        let Value::Array(a) = v else {
            return Err(wrong);
        };
        if a.len() < 3 {
            return Err(wrong);
        }
        let mut it = a.into_iter();
        let uid = opt_string(it.next(), "broadcast uid")?.unwrap_or_default();
        let mut packet = Packet::decode(it.next().unwrap_or_default(), "broadcast packet")?;
        packet.nsp.get_or_insert_with(|| "/".to_owned());
        let opts = Opts::decode(it.next().unwrap_or_default())?;
        Ok(ClassicBroadcast { uid, packet, opts })
    }

    /// Encodes as adapter 8.3.0 does (opts keys `rooms, except, flags`).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = MsgpackWriter::default();
        w.array(3);
        w.str(&self.uid);
        self.packet.write(&mut w);
        self.opts.write(&mut w, true);
        w.end_array();
        w.buf
    }

    /// The namespace (`packet.nsp`, `/` when absent).
    pub fn nsp(&self) -> &str {
        self.packet.nsp()
    }

    /// The channel to publish on: the room channel when `opts.rooms` has exactly one room.
    pub fn channel(&self, key: &str) -> String {
        let room = match self.opts.rooms.as_slice() {
            [room] => Some(room.as_str()),
            _ => None,
        };
        broadcast_channel(key, self.nsp(), room)
    }
}

/// A request on the [`request_channel`]: `{uid, requestId, type, ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassicRequest {
    /// The requester's uid; absent from the emitter's join/leave/disconnect, `emitter` on
    /// its server-side emits, absent on 7.x's legacy requests.
    pub uid: Option<String>,
    /// Present when answers are expected.
    pub request_id: Option<String>,
    /// What is asked.
    pub kind: ClassicRequestKind,
}

/// `RequestType` 0–7 of `lib/index.ts`, with the legacy (≤ 7.x) forms of 2–4.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassicRequestKind {
    /// 0 SOCKETS (legacy, still answered): ids of the sockets in `rooms`.
    Sockets {
        /// Rooms to list (all sockets when empty).
        rooms: Vec<String>,
    },
    /// 1 ALL_ROOMS: every local room, socket-id rooms included.
    AllRooms,
    /// 2 REMOTE_JOIN (`socketsJoin`): the selected sockets join `rooms`; no answer.
    SocketsJoin {
        /// Which sockets.
        opts: Opts,
        /// Rooms to join.
        rooms: Vec<String>,
    },
    /// 3 REMOTE_LEAVE (`socketsLeave`); no answer.
    SocketsLeave {
        /// Which sockets.
        opts: Opts,
        /// Rooms to leave.
        rooms: Vec<String>,
    },
    /// 4 REMOTE_DISCONNECT (`disconnectSockets`); no answer.
    DisconnectSockets {
        /// Which sockets.
        opts: Opts,
        /// Also close the underlying connection.
        close: bool,
    },
    /// Legacy 2 (`remoteJoin(sid, room)`), answered with [`ClassicResponse::Ack`].
    LegacyJoin {
        /// The socket.
        sid: String,
        /// The room.
        room: String,
    },
    /// Legacy 3 (`remoteLeave(sid, room)`), answered with [`ClassicResponse::Ack`].
    LegacyLeave {
        /// The socket.
        sid: String,
        /// The room.
        room: String,
    },
    /// Legacy 4 (`remoteDisconnect(sid, close)`), answered with [`ClassicResponse::Ack`].
    LegacyDisconnect {
        /// The socket.
        sid: String,
        /// Also close the connection.
        close: bool,
    },
    /// 5 REMOTE_FETCH (`fetchSockets`), answered with [`ClassicResponse::FetchSockets`].
    FetchSockets {
        /// Which sockets.
        opts: Opts,
    },
    /// 6 SERVER_SIDE_EMIT: `[event, ...args]`; with a `request_id` every other node answers
    /// once with [`ClassicResponse::ServerSideEmit`].
    ServerSideEmit {
        /// `[event, ...args]`.
        data: Vec<Value>,
    },
    /// 7 BROADCAST (a broadcast with acks, msgpack): each node answers
    /// [`ClassicResponse::BroadcastClientCount`] once (even 0), then one
    /// [`ClassicResponse::BroadcastAck`] per client ack.
    Broadcast {
        /// The event.
        packet: Packet,
        /// Targets; `flags.timeout` is the ack timeout.
        opts: Opts,
    },
}

impl ClassicRequestKind {
    /// The `type` number on the wire.
    pub fn code(&self) -> u8 {
        match self {
            ClassicRequestKind::Sockets { .. } => 0,
            ClassicRequestKind::AllRooms => 1,
            ClassicRequestKind::SocketsJoin { .. } | ClassicRequestKind::LegacyJoin { .. } => 2,
            ClassicRequestKind::SocketsLeave { .. } | ClassicRequestKind::LegacyLeave { .. } => 3,
            ClassicRequestKind::DisconnectSockets { .. }
            | ClassicRequestKind::LegacyDisconnect { .. } => 4,
            ClassicRequestKind::FetchSockets { .. } => 5,
            ClassicRequestKind::ServerSideEmit { .. } => 6,
            ClassicRequestKind::Broadcast { .. } => 7,
        }
    }
}

/// JSON when the message starts with `{` (0x7b), msgpack otherwise: the adapter's sniff.
fn decode_sniffed(input: &[u8]) -> Result<Value> {
    if input.first() == Some(&b'{') {
        decode_json(input)
    } else {
        decode_msgpack(input)
    }
}

fn decode_sniffed_bytes(input: &Bytes) -> Result<Value> {
    if input.first() == Some(&b'{') {
        decode_json(input)
    } else {
        decode_msgpack_bytes(input)
    }
}

impl ClassicRequest {
    /// Decodes a request in either encoding, with or without `uid`, in the current or the
    /// legacy form. An unknown `type` gives [`Error::UnknownType`] (Node ignores those).
    pub fn decode(input: &[u8]) -> Result<ClassicRequest> {
        Self::from_value(decode_sniffed(input)?)
    }

    /// Like [`ClassicRequest::decode`], with binary sharing `input`'s memory.
    pub fn decode_bytes(input: &Bytes) -> Result<ClassicRequest> {
        Self::from_value(decode_sniffed_bytes(input)?)
    }

    fn from_value(v: Value) -> Result<ClassicRequest> {
        let mut o = Obj::new(v, "request")?;
        let uid = opt_string(o.take("uid"), "uid")?;
        let request_id = opt_string(o.take("requestId"), "requestId")?;
        let code = type_code(o.take("type"))?.ok_or(Error::MissingField("type"))?;
        let opts = |o: &mut Obj| match o.take("opts") {
            None | Some(Value::Null) => Ok(None),
            Some(v) => Opts::decode(v).map(Some),
        };
        let kind = match code {
            0 => ClassicRequestKind::Sockets {
                rooms: rooms(o.take("rooms"), "rooms")?,
            },
            1 => ClassicRequestKind::AllRooms,
            2 | 3 => match opts(&mut o)? {
                Some(opts) => {
                    let rooms = rooms(o.take("rooms"), "rooms")?;
                    if code == 2 {
                        ClassicRequestKind::SocketsJoin { opts, rooms }
                    } else {
                        ClassicRequestKind::SocketsLeave { opts, rooms }
                    }
                }
                None => {
                    let sid = req_string(o.take("sid"), "sid")?;
                    let room = req_string(o.take("room"), "room")?;
                    if code == 2 {
                        ClassicRequestKind::LegacyJoin { sid, room }
                    } else {
                        ClassicRequestKind::LegacyLeave { sid, room }
                    }
                }
            },
            4 => match opts(&mut o)? {
                Some(opts) => ClassicRequestKind::DisconnectSockets {
                    opts,
                    close: opt_bool(o.take("close"), "close")?,
                },
                None => ClassicRequestKind::LegacyDisconnect {
                    sid: req_string(o.take("sid"), "sid")?,
                    close: opt_bool(o.take("close"), "close")?,
                },
            },
            5 => ClassicRequestKind::FetchSockets {
                opts: opts(&mut o)?.ok_or(Error::MissingField("opts"))?,
            },
            6 => ClassicRequestKind::ServerSideEmit {
                data: match o.take("data") {
                    Some(Value::Array(a)) => a,
                    None | Some(Value::Null) => return Err(Error::MissingField("data")),
                    Some(_) => {
                        return Err(Error::WrongType {
                            field: "data",
                            expected: "an array [event, ...args]",
                        })
                    }
                },
            },
            7 => ClassicRequestKind::Broadcast {
                packet: match o.take("packet") {
                    None | Some(Value::Null) => return Err(Error::MissingField("packet")),
                    Some(p) => Packet::decode(p, "packet")?,
                },
                opts: opts(&mut o)?.ok_or(Error::MissingField("opts"))?,
            },
            other => return Err(Error::UnknownType(other)),
        };
        Ok(ClassicRequest {
            uid,
            request_id,
            kind,
        })
    }

    /// Encodes as 8.3.0 (or, for the legacy forms, 7.x) does: keys `uid, requestId, type`
    /// then the body; JSON except BROADCAST (msgpack).
    pub fn encode(&self) -> Vec<u8> {
        if let ClassicRequestKind::Broadcast { .. } = self.kind {
            let mut w = MsgpackWriter::default();
            self.write(&mut w);
            w.buf
        } else {
            let mut w = JsonWriter::new(BinMode::BufferJson);
            self.write(&mut w);
            w.out.into_bytes()
        }
    }

    fn write(&self, s: &mut dyn Sink) {
        use ClassicRequestKind as K;
        let body = match &self.kind {
            K::AllRooms => 0,
            K::Sockets { .. } | K::FetchSockets { .. } | K::ServerSideEmit { .. } => 1,
            _ => 2,
        };
        s.map(usize::from(self.uid.is_some()) + usize::from(self.request_id.is_some()) + 1 + body);
        if let Some(uid) = &self.uid {
            s.key("uid");
            s.str(uid);
        }
        if let Some(id) = &self.request_id {
            s.key("requestId");
            s.str(id);
        }
        s.key("type");
        s.uint(self.kind.code().into());
        match &self.kind {
            K::Sockets { rooms } => {
                s.key("rooms");
                s.strs(rooms);
            }
            K::AllRooms => {}
            K::SocketsJoin { opts, rooms } | K::SocketsLeave { opts, rooms } => {
                s.key("opts");
                opts.write(s, false);
                s.key("rooms");
                s.strs(rooms);
            }
            K::DisconnectSockets { opts, close } => {
                s.key("opts");
                opts.write(s, false);
                s.key("close");
                s.bool(*close);
            }
            K::LegacyJoin { sid, room } | K::LegacyLeave { sid, room } => {
                s.key("sid");
                s.str(sid);
                s.key("room");
                s.str(room);
            }
            K::LegacyDisconnect { sid, close } => {
                s.key("sid");
                s.str(sid);
                s.key("close");
                s.bool(*close);
            }
            K::FetchSockets { opts } => {
                s.key("opts");
                opts.write(s, false);
            }
            K::ServerSideEmit { data } => {
                s.key("data");
                s.values(data);
            }
            K::Broadcast { packet, opts } => {
                s.key("packet");
                packet.write(s);
                s.key("opts");
                opts.write(s, true);
            }
        }
        s.end_map();
    }
}

/// A response on a [`response_channel`] (or a [`specific_response_channel`]).
///
/// Responses to types 0, 1, 5 and the legacy 2–4 carry no `type`: the requester knows what
/// it asked by `requestId`. This decoder tells them apart by their fields; an empty
/// `sockets` list cannot be told apart and decodes as [`ClassicResponse::Sockets`], which
/// [`ClassicResponse::into_fetched`] accepts as an empty fetch answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassicResponse {
    /// To SOCKETS: `{requestId, sockets:[sid…]}`.
    Sockets {
        /// The request answered.
        request_id: String,
        /// Socket ids.
        sockets: Vec<String>,
    },
    /// To ALL_ROOMS: `{requestId, rooms}`.
    AllRooms {
        /// The request answered.
        request_id: String,
        /// Every local room.
        rooms: Vec<String>,
    },
    /// To REMOTE_FETCH: `{requestId, sockets:[{id, handshake, rooms, data}]}`.
    FetchSockets {
        /// The request answered.
        request_id: String,
        /// The matching local sockets.
        sockets: Vec<RemoteSocket>,
    },
    /// To a legacy join/leave/disconnect: `{requestId}`.
    Ack {
        /// The request answered.
        request_id: String,
    },
    /// To SERVER_SIDE_EMIT with ack: `{type:6, requestId, data}` (JSON; `data` is the first
    /// argument the listener acked with, absent when undefined).
    ServerSideEmit {
        /// The request answered.
        request_id: String,
        /// The ack's first argument.
        data: Option<Value>,
    },
    /// To BROADCAST: `{type:8, requestId, clientCount}` (JSON), once per node.
    BroadcastClientCount {
        /// The request answered.
        request_id: String,
        /// How many acks this node will send.
        client_count: u64,
    },
    /// To BROADCAST: `{type:9, requestId, packet}` (msgpack), once per client ack.
    BroadcastAck {
        /// The request answered.
        request_id: String,
        /// The client's first ack argument.
        packet: Option<Value>,
    },
}

impl ClassicResponse {
    /// Decodes a response in either encoding.
    pub fn decode(input: &[u8]) -> Result<ClassicResponse> {
        Self::from_value(decode_sniffed(input)?)
    }

    /// Like [`ClassicResponse::decode`], with binary sharing `input`'s memory.
    pub fn decode_bytes(input: &Bytes) -> Result<ClassicResponse> {
        Self::from_value(decode_sniffed_bytes(input)?)
    }

    fn from_value(v: Value) -> Result<ClassicResponse> {
        let mut o = Obj::new(v, "response")?;
        let request_id = req_string(o.take("requestId"), "requestId")?;
        Ok(match type_code(o.take("type"))? {
            Some(6) => ClassicResponse::ServerSideEmit {
                request_id,
                data: o.take("data"),
            },
            Some(8) => ClassicResponse::BroadcastClientCount {
                request_id,
                client_count: count(o.take("clientCount"))?,
            },
            Some(9) => ClassicResponse::BroadcastAck {
                request_id,
                packet: o.take("packet"),
            },
            Some(other) => return Err(Error::UnknownType(other)),
            None => match (o.take("sockets"), o.take("rooms")) {
                (Some(Value::Array(s)), _) if s.iter().all(|s| matches!(s, Value::Str(_))) => {
                    ClassicResponse::Sockets {
                        request_id,
                        sockets: rooms(Some(Value::Array(s)), "sockets")?,
                    }
                }
                (Some(s @ Value::Array(_)), _) => ClassicResponse::FetchSockets {
                    request_id,
                    sockets: RemoteSocket::decode_list(Some(s), "sockets")?,
                },
                (Some(_), _) => {
                    return Err(Error::WrongType {
                        field: "sockets",
                        expected: "an array",
                    })
                }
                (None, Some(r)) => ClassicResponse::AllRooms {
                    request_id,
                    rooms: rooms(Some(r), "rooms")?,
                },
                (None, None) => ClassicResponse::Ack { request_id },
            },
        })
    }

    /// The request this answers.
    pub fn request_id(&self) -> &str {
        match self {
            ClassicResponse::Sockets { request_id, .. }
            | ClassicResponse::AllRooms { request_id, .. }
            | ClassicResponse::FetchSockets { request_id, .. }
            | ClassicResponse::Ack { request_id }
            | ClassicResponse::ServerSideEmit { request_id, .. }
            | ClassicResponse::BroadcastClientCount { request_id, .. }
            | ClassicResponse::BroadcastAck { request_id, .. } => request_id,
        }
    }

    /// The sockets of an answer to REMOTE_FETCH, also accepting the empty `Sockets` form
    /// that an empty fetch answer decodes to; `None` for any other response.
    pub fn into_fetched(self) -> Option<Vec<RemoteSocket>> {
        match self {
            ClassicResponse::FetchSockets { sockets, .. } => Some(sockets),
            ClassicResponse::Sockets { sockets, .. } if sockets.is_empty() => Some(Vec::new()),
            _ => None,
        }
    }

    /// Encodes as 8.3.0 does: JSON, except BROADCAST_ACK (msgpack).
    pub fn encode(&self) -> Vec<u8> {
        if let ClassicResponse::BroadcastAck { .. } = self {
            let mut w = MsgpackWriter::default();
            self.write(&mut w);
            w.buf
        } else {
            let mut w = JsonWriter::new(BinMode::BufferJson);
            self.write(&mut w);
            w.out.into_bytes()
        }
    }

    fn write(&self, s: &mut dyn Sink) {
        let typed = |s: &mut dyn Sink, n: usize, code: u64, request_id: &str| {
            s.map(n);
            s.key("type");
            s.uint(code);
            s.key("requestId");
            s.str(request_id);
        };
        match self {
            ClassicResponse::Sockets {
                request_id,
                sockets: list,
            }
            | ClassicResponse::AllRooms {
                request_id,
                rooms: list,
            } => {
                s.map(2);
                s.key("requestId");
                s.str(request_id);
                s.key(if matches!(self, ClassicResponse::Sockets { .. }) {
                    "sockets"
                } else {
                    "rooms"
                });
                s.strs(list);
            }
            ClassicResponse::FetchSockets {
                request_id,
                sockets,
            } => {
                s.map(2);
                s.key("requestId");
                s.str(request_id);
                s.key("sockets");
                s.array(sockets.len());
                for socket in sockets {
                    socket.write(s);
                }
                s.end_array();
            }
            ClassicResponse::Ack { request_id } => {
                s.map(1);
                s.key("requestId");
                s.str(request_id);
            }
            ClassicResponse::ServerSideEmit { request_id, data } => {
                typed(s, 2 + usize::from(data.is_some()), 6, request_id);
                if let Some(d) = data {
                    s.key("data");
                    s.value(d);
                }
            }
            ClassicResponse::BroadcastClientCount {
                request_id,
                client_count,
            } => {
                typed(s, 3, 8, request_id);
                s.key("clientCount");
                s.uint(*client_count);
            }
            ClassicResponse::BroadcastAck { request_id, packet } => {
                typed(s, 2 + usize::from(packet.is_some()), 9, request_id);
                if let Some(p) = packet {
                    s.key("packet");
                    s.value(p);
                }
            }
        }
        s.end_map();
    }
}

/// A non-negative count (`clientCount`).
pub(crate) fn count(v: Option<Value>) -> Result<u64> {
    match v {
        None | Some(Value::Null) => Err(Error::MissingField("clientCount")),
        Some(v) => v.as_u64().ok_or(Error::WrongType {
            field: "clientCount",
            expected: "a non-negative integer",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert_eq!(broadcast_channel("socket.io", "/", None), "socket.io#/#");
        assert_eq!(
            broadcast_channel("socket.io", "/", Some("r1")),
            "socket.io#/#r1#"
        );
        assert_eq!(
            request_channel("socket.io", "/custom"),
            "socket.io-request#/custom#"
        );
        assert_eq!(response_channel("socket.io", "/"), "socket.io-response#/#");
        assert_eq!(
            specific_response_channel("socket.io", "/", "HGB7w0"),
            "socket.io-response#/#HGB7w0#"
        );
        assert_eq!(broadcast_pattern("socket.io", "/"), "socket.io#/#*");
        assert_eq!(
            broadcast_pattern("a*b?[c]\\", "/x"),
            "a\\*b\\?\\[c\\]\\\\#/x#*"
        );
    }

    #[test]
    fn parses_broadcast_channels() {
        use BroadcastTarget::*;
        let p = |c| parse_broadcast_channel("socket.io", "/", c);
        assert_eq!(p("socket.io#/#"), Some(Namespace));
        assert_eq!(p("socket.io#/#r1#"), Some(Room("r1")));
        assert_eq!(p("socket.io#/#a#b#"), Some(Room("a#b")));
        assert_eq!(p("socket.io#/#42#"), Some(Room("42")));
        assert_eq!(p("socket.io#/#r1"), None);
        assert_eq!(p("socket.io#/custom#"), None);
        assert_eq!(p("other#/#"), None);
        assert_eq!(p("socket.io#/##"), Some(Namespace));
    }
}
