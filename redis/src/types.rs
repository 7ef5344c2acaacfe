//! The pieces both variants share: the broadcast packet, the broadcast options and their
//! flags, and a socket as `fetchSockets` reports it.

use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::json::js_number;
use crate::value::Value;

/// The Socket.IO packet type inside a broadcast.
///
/// Node publishes `EVENT` (2) even when the arguments hold binary: the packet is encoded for
/// Redis before socket.io-parser would turn it into `BINARY_EVENT`. Other emitters may send
/// 5, so a receiver accepts both and looks for binary itself (see
/// [`Value::has_binary`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// 2, what Node and rtio publish.
    Event,
    /// 5, accepted from other emitters.
    BinaryEvent,
}

impl PacketType {
    /// The number on the wire.
    pub fn code(self) -> u8 {
        match self {
            PacketType::Event => 2,
            PacketType::BinaryEvent => 5,
        }
    }
}

/// The event a broadcast delivers: `{type, data, nsp}` in the classic format, `{type, data}`
/// in the sharded one (whose namespace is at the top of the message).
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// EVENT or BINARY_EVENT.
    pub kind: PacketType,
    /// `[event, ...args]`, binary inline.
    pub data: Vec<Value>,
    /// The namespace: always present once a classic message is decoded (absent means `/`),
    /// normally absent in the sharded format. Written only when `Some`.
    pub nsp: Option<String>,
}

impl Packet {
    /// An EVENT packet for `nsp`, as rtio publishes in the classic format.
    pub fn event(data: Vec<Value>, nsp: impl Into<String>) -> Packet {
        Packet {
            kind: PacketType::Event,
            data,
            nsp: Some(nsp.into()),
        }
    }

    /// The namespace, `/` when absent (Node's rule for classic broadcasts).
    pub fn nsp(&self) -> &str {
        self.nsp.as_deref().unwrap_or("/")
    }

    pub(crate) fn decode(v: Value, field: &'static str) -> Result<Packet> {
        let mut o = Obj::new(v, field)?;
        let kind = match o.take("type") {
            None | Some(Value::Null) => return Err(Error::MissingField("packet.type")),
            Some(t) => match t.as_i64() {
                Some(2) => PacketType::Event,
                Some(5) => PacketType::BinaryEvent,
                _ => {
                    return Err(Error::WrongType {
                        field: "packet.type",
                        expected: "2 (EVENT) or 5 (BINARY_EVENT)",
                    })
                }
            },
        };
        let data = match o.take("data") {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => return Err(Error::MissingField("packet.data")),
            Some(_) => {
                return Err(Error::WrongType {
                    field: "packet.data",
                    expected: "an array",
                })
            }
        };
        let nsp = opt_string(o.take("nsp"), "packet.nsp")?;
        Ok(Packet { kind, data, nsp })
    }

    pub(crate) fn write(&self, s: &mut dyn Sink) {
        s.map(2 + usize::from(self.nsp.is_some()));
        s.key("type");
        s.uint(self.kind.code().into());
        s.key("data");
        s.values(&self.data);
        if let Some(nsp) = &self.nsp {
            s.key("nsp");
            s.str(nsp);
        }
        s.end_map();
    }
}

/// `BroadcastFlags` as they cross the cluster.
///
/// `local` broadcasts are never published, and `broadcast: true` only comes from old
/// emitters; both are decoded so that nothing a peer sends is silently lost, and flags
/// this codec does not know are kept in `other` and written back after the known ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Flags {
    /// Drop the packet for clients that cannot take it right now.
    pub volatile: bool,
    /// permessage-deflate wish; `None` when unset.
    pub compress: Option<bool>,
    /// Node's `local` flag (never published by Node itself).
    pub local: bool,
    /// The pre-v3 emitters' `broadcast: true`.
    pub broadcast: bool,
    /// The acknowledgement timeout in ms, set on broadcasts with acks.
    pub timeout: Option<u64>,
    /// Unknown flags, in their order.
    pub other: Vec<(String, Value)>,
}

impl Flags {
    fn decode(v: Option<Value>) -> Result<Flags> {
        let entries = match v {
            None | Some(Value::Null) => return Ok(Flags::default()),
            Some(Value::Map(m)) => m,
            Some(_) => {
                return Err(Error::WrongType {
                    field: "opts.flags",
                    expected: "an object",
                })
            }
        };
        let mut f = Flags::default();
        for (k, v) in entries {
            match k.as_str() {
                "volatile" => f.volatile = flag_bool(&v, "flags.volatile")?,
                "local" => f.local = flag_bool(&v, "flags.local")?,
                "broadcast" => f.broadcast = flag_bool(&v, "flags.broadcast")?,
                "compress" => {
                    f.compress = match v {
                        Value::Null => None,
                        v => Some(flag_bool(&v, "flags.compress")?),
                    }
                }
                "timeout" => {
                    f.timeout = match v {
                        Value::Null => None,
                        v => {
                            let ms = v.as_f64().ok_or(Error::WrongType {
                                field: "flags.timeout",
                                expected: "a number",
                            })?;
                            // setTimeout semantics: fractions dropped, negatives are 0.
                            Some(if ms > 0.0 { ms as u64 } else { 0 })
                        }
                    }
                }
                _ => {
                    f.other.retain(|(o, _)| *o != k);
                    f.other.push((k, v));
                }
            }
        }
        Ok(f)
    }

    fn write(&self, s: &mut dyn Sink) {
        let n = usize::from(self.volatile)
            + usize::from(self.compress.is_some())
            + usize::from(self.local)
            + usize::from(self.broadcast)
            + usize::from(self.timeout.is_some())
            + self.other.len();
        s.map(n);
        if self.volatile {
            s.key("volatile");
            s.bool(true);
        }
        if let Some(c) = self.compress {
            s.key("compress");
            s.bool(c);
        }
        if self.local {
            s.key("local");
            s.bool(true);
        }
        if self.broadcast {
            s.key("broadcast");
            s.bool(true);
        }
        if let Some(t) = self.timeout {
            s.key("timeout");
            s.uint(t);
        }
        for (k, v) in &self.other {
            s.key(k);
            s.value(v);
        }
        s.end_map();
    }
}

fn flag_bool(v: &Value, field: &'static str) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Null => Ok(false),
        _ => Err(Error::WrongType {
            field,
            expected: "a boolean",
        }),
    }
}

/// Which sockets an operation addresses: those in any of `rooms` (every socket of the
/// namespace when empty) minus those in any of `except` (socket ids or room names).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opts {
    /// Target rooms; numeric rooms from Node arrive as their decimal strings.
    pub rooms: Vec<String>,
    /// Excluded rooms or socket ids (missing on old emitters: empty).
    pub except: Vec<String>,
    /// Broadcast flags. Classic requests other than broadcasts carry none on the wire; the
    /// encoder writes them only where 8.3.0 does.
    pub flags: Flags,
}

impl Opts {
    /// Options for rooms with nothing excluded and no flags.
    pub fn to_rooms<S: Into<String>>(rooms: impl IntoIterator<Item = S>) -> Opts {
        Opts {
            rooms: rooms.into_iter().map(Into::into).collect(),
            ..Opts::default()
        }
    }

    pub(crate) fn decode(v: Value) -> Result<Opts> {
        let mut o = Obj::new(v, "opts")?;
        Ok(Opts {
            rooms: rooms(o.take("rooms"), "opts.rooms")?,
            except: rooms(o.take("except"), "opts.except")?,
            flags: Flags::decode(o.take("flags"))?,
        })
    }

    /// `{rooms, except, flags}` (8.3.0's broadcast order) or `{rooms, except}`.
    pub(crate) fn write(&self, s: &mut dyn Sink, with_flags: bool) {
        s.map(2 + usize::from(with_flags));
        s.key("rooms");
        s.strs(&self.rooms);
        s.key("except");
        s.strs(&self.except);
        if with_flags {
            s.key("flags");
            self.flags.write(s);
        }
        s.end_map();
    }
}

/// A socket as another node's `fetchSockets()` reports it (`RemoteSocket` in Node).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteSocket {
    /// The socket id.
    pub id: String,
    /// The handshake minus `sessionStore`; see [`Handshake`] to build one.
    pub handshake: Value,
    /// Every room the socket is in, its own id included.
    pub rooms: Vec<String>,
    /// `socket.data`; `None` when undefined (omitted on the wire).
    pub data: Option<Value>,
}

impl RemoteSocket {
    pub(crate) fn decode(v: Value) -> Result<RemoteSocket> {
        let mut o = Obj::new(v, "sockets[]")?;
        Ok(RemoteSocket {
            id: req_string(o.take("id"), "sockets[].id")?,
            handshake: o.take("handshake").unwrap_or_default(),
            rooms: rooms(o.take("rooms"), "sockets[].rooms")?,
            data: o.take("data"),
        })
    }

    pub(crate) fn write(&self, s: &mut dyn Sink) {
        s.map(3 + usize::from(self.data.is_some()));
        s.key("id");
        s.str(&self.id);
        s.key("handshake");
        s.value(&self.handshake);
        s.key("rooms");
        s.strs(&self.rooms);
        if let Some(d) = &self.data {
            s.key("data");
            s.value(d);
        }
        s.end_map();
    }

    pub(crate) fn decode_list(v: Option<Value>, field: &'static str) -> Result<Vec<RemoteSocket>> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a.into_iter().map(RemoteSocket::decode).collect(),
            Some(_) => Err(Error::WrongType {
                field,
                expected: "an array of sockets",
            }),
        }
    }
}

/// Node's `socket.handshake`, to build [`RemoteSocket::handshake`] in the field order Node
/// writes (a Node peer reads it by name, the order only matters for byte-exact tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Handshake {
    /// Request headers, lower-case names.
    pub headers: Vec<(String, Value)>,
    /// `new Date().toString()` at connection, e.g.
    /// `Mon Nov 23 2026 17:43:32 GMT+0000 (Coordinated Universal Time)`.
    pub time: String,
    /// The client's address.
    pub address: String,
    /// Whether the Origin differs from the Host.
    pub xdomain: bool,
    /// Whether the connection is TLS.
    pub secure: bool,
    /// Connection time in ms since the epoch.
    pub issued: u64,
    /// The request URL (path and query).
    pub url: String,
    /// The parsed query.
    pub query: Vec<(String, Value)>,
    /// The client's `auth` payload.
    pub auth: Value,
}

impl Handshake {
    /// The handshake as Node serializes it:
    /// `{headers, time, address, xdomain, secure, issued, url, query, auth}`.
    pub fn into_value(self) -> Value {
        Value::map([
            ("headers", Value::Map(self.headers)),
            ("time", Value::Str(self.time)),
            ("address", Value::Str(self.address)),
            ("xdomain", Value::Bool(self.xdomain)),
            ("secure", Value::Bool(self.secure)),
            ("issued", Value::from(self.issued)),
            ("url", Value::Str(self.url)),
            ("query", Value::Map(self.query)),
            ("auth", self.auth),
        ])
    }
}

/// A decoded object being taken apart field by field.
pub(crate) struct Obj(Vec<(String, Value)>);

impl Obj {
    pub(crate) fn new(v: Value, field: &'static str) -> Result<Obj> {
        match v {
            Value::Map(m) => Ok(Obj(m)),
            _ => Err(Error::WrongType {
                field,
                expected: "an object",
            }),
        }
    }

    /// Takes the value of `key` (the last one, as JavaScript keeps).
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.0.iter().rposition(|(k, _)| k == key)?;
        Some(std::mem::take(&mut self.0[i].1))
    }
}

/// A string field, numbers accepted as their decimal form; absent or `null` is `None`.
pub(crate) fn opt_string(v: Option<Value>, field: &'static str) -> Result<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s)),
        Some(n @ (Value::Int(_) | Value::UInt(_) | Value::Float(_))) => Ok(Some(number_string(&n))),
        Some(_) => Err(Error::WrongType {
            field,
            expected: "a string",
        }),
    }
}

pub(crate) fn req_string(v: Option<Value>, field: &'static str) -> Result<String> {
    opt_string(v, field)?.ok_or(Error::MissingField(field))
}

fn number_string(n: &Value) -> String {
    match *n {
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => js_number(f),
        _ => String::new(),
    }
}

/// A list of rooms; absent or `null` is empty, numeric rooms become decimal strings (Node
/// allows `socket.join(42)`; rtio's rooms are strings).
pub(crate) fn rooms(v: Option<Value>, field: &'static str) -> Result<Vec<String>> {
    let wrong = Error::WrongType {
        field,
        expected: "an array of strings or numbers",
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .into_iter()
            .map(|r| match r {
                Value::Str(s) => Ok(s),
                n @ (Value::Int(_) | Value::UInt(_) | Value::Float(_)) => Ok(number_string(&n)),
                _ => Err(wrong.clone()),
            })
            .collect(),
        Some(_) => Err(wrong),
    }
}

/// A boolean field; absent or `null` is false.
pub(crate) fn opt_bool(v: Option<Value>, field: &'static str) -> Result<bool> {
    flag_bool(&v.unwrap_or_default(), field)
}

/// The `type` field as an integer.
pub(crate) fn type_code(v: Option<Value>) -> Result<Option<i64>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(t) => t.as_i64().map(Some).ok_or(Error::WrongType {
            field: "type",
            expected: "an integer",
        }),
    }
}
