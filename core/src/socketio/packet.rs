//! Socket.IO v5 packet codec: pure functions over text, no IO.
//!
//! Wire form: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]`, where binary
//! packets (types 5 and 6) are followed by `<attachments>` binary messages that replace the
//! `{"_placeholder":true,"num":N}` objects in the data.

use serde::de;
use serde_json::value::RawValue;

/// The Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    /// `0`: join a namespace (client) / joined (server).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: an acknowledgement.
    Ack = 3,
    /// `4`: a namespace refused the connection.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck = 6,
}

/// A decoded packet header; `data` borrows the JSON text from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The packet type.
    pub kind: PacketType,
    /// Binary attachments announced (binary types only).
    pub attachments: usize,
    /// The namespace (`/` when absent).
    pub nsp: &'a str,
    /// The ack id, when the sender expects or answers an acknowledgement.
    pub id: Option<u64>,
    /// The JSON data, unparsed, when present.
    pub data: Option<&'a str>,
    /// For events: the event name and the remaining arguments as a JSON array, split while
    /// the data was checked (so the JSON is parsed once).
    pub event: Option<(String, String)>,
}

/// Why a packet was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DecodeError {}

/// Event names Socket.IO reserves: neither a client nor a server may emit them.
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Decodes a packet header and checks the data is well-formed JSON of the right shape for
/// its type. `max_attachments` bounds what a binary packet may announce.
pub fn decode(text: &str, max_attachments: usize) -> Result<Packet<'_>, DecodeError> {
    let mut packet = parse_header(text, max_attachments)?;
    packet.event = check_payload(&packet)?;
    Ok(packet)
}

/// Splits a packet into its header fields and data without checking the data (the
/// server's own packets, already well-formed, need no check).
pub(crate) fn parse_header(text: &str, max_attachments: usize) -> Result<Packet<'_>, DecodeError> {
    let bytes = text.as_bytes();
    let kind = match bytes.first() {
        Some(b'0') => PacketType::Connect,
        Some(b'1') => PacketType::Disconnect,
        Some(b'2') => PacketType::Event,
        Some(b'3') => PacketType::Ack,
        Some(b'4') => PacketType::ConnectError,
        Some(b'5') => PacketType::BinaryEvent,
        Some(b'6') => PacketType::BinaryAck,
        _ => return Err(DecodeError("unknown packet type")),
    };
    let mut i = 1;
    let mut attachments = 0;
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i >= bytes.len() || bytes[i] != b'-' || i - start > 6 {
            return Err(DecodeError("illegal attachments"));
        }
        attachments = text[start..i].parse().unwrap_or(usize::MAX);
        if attachments > max_attachments {
            return Err(DecodeError("too many attachments"));
        }
        i += 1;
    }
    let mut nsp = "/";
    if bytes.get(i) == Some(&b'/') {
        let start = i;
        while i < bytes.len() && bytes[i] != b',' {
            i += 1;
        }
        nsp = &text[start..i];
        if i < bytes.len() {
            i += 1; // the comma
        }
    }
    let mut id = None;
    let start = i;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        i += 1;
    }
    if i > start {
        id = Some(
            text[start..i]
                .parse::<u64>()
                .map_err(|_| DecodeError("invalid ack id"))?,
        );
    }
    let data = if i < bytes.len() {
        Some(&text[i..])
    } else {
        None
    };
    Ok(Packet {
        kind,
        attachments,
        nsp,
        id,
        data,
        event: None,
    })
}

/// Deepest JSON nesting accepted: serde_json's own recursion limit, so every host can parse
/// what rtio lets through. (Its limit of 128 refuses the 128th level: 127 levels parse.)
pub const MAX_DEPTH: usize = 127;

/// Refuses JSON nested deeper than [`MAX_DEPTH`] (one pass, no allocation).
fn check_depth(json: &str) -> Result<(), DecodeError> {
    let bytes = json.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => i = closing_quote(bytes, i + 1),
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(DecodeError("JSON nested too deeply"));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Where the JSON string whose text starts at `i` ends: the index of its closing quote, or
/// the end of `bytes`.
fn closing_quote(bytes: &[u8], mut i: usize) -> usize {
    loop {
        i = skip_chunks_without(bytes, i, |b| b == b'"' || b == b'\\');
        match bytes.get(i) {
            None => return bytes.len(),
            Some(b'"') => return i,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
        }
    }
}

/// From `i`, skips 16 bytes at a time while none of them is `special`; returns where the
/// first 16 bytes holding one (or the last, shorter run) start. No branch per byte: the
/// compiler makes vector compares of it. Strings are most of what events carry, and every
/// string argument sent or received passes here (200 bytes: 33 ns, not 266 byte by byte).
fn skip_chunks_without(bytes: &[u8], mut i: usize, special: impl Fn(u8) -> bool) -> usize {
    while let Some(chunk) = bytes.get(i..i + 16) {
        if chunk.iter().fold(false, |hit, &b| hit | special(b)) {
            break;
        }
        i += 16;
    }
    i
}

/// Checks the data's shape for the packet type; returns the split of an event's data.
fn check_payload(p: &Packet<'_>) -> Result<Option<(String, String)>, DecodeError> {
    if let Some(d) = p.data {
        check_depth(d)?;
    }
    match p.kind {
        PacketType::Connect => match p.data {
            None => Ok(None),
            Some(d) if d.trim_start().starts_with('{') => {
                serde_json::from_str::<&RawValue>(d).map_err(|_| DecodeError("invalid JSON"))?;
                Ok(None)
            }
            Some(_) => Err(DecodeError("connect payload must be an object")),
        },
        PacketType::Disconnect => match p.data {
            None => Ok(None),
            Some(_) => Err(DecodeError("unexpected disconnect payload")),
        },
        PacketType::Event | PacketType::BinaryEvent => {
            let d = p.data.ok_or(DecodeError("missing event payload"))?;
            split_event(d).map(Some)
        }
        PacketType::Ack | PacketType::BinaryAck => {
            let d = p.data.ok_or(DecodeError("missing ack payload"))?;
            if p.id.is_none() {
                return Err(DecodeError("ack without id"));
            }
            serde_json::from_str::<Vec<&RawValue>>(d)
                .map_err(|_| DecodeError("ack payload must be an array"))?;
            Ok(None)
        }
        PacketType::ConnectError => Err(DecodeError("clients may not send connect errors")),
    }
}

/// Checks that every `{"_placeholder":true,"num":N}` in a binary packet's data points at
/// one of its `count` attachments, as Socket.IO does when it rebuilds the packet.
///
/// Checked while parsing, keeping no tree of values: a `serde_json::Value` took up to 100
/// bytes of heap per byte of data (a map for each `{"":0}`). Where an object has a key
/// twice, a placeholder under any of them counts (a parser keeps the last).
pub fn check_placeholders(data: &str, count: usize) -> Result<(), DecodeError> {
    if !data.trim_start().starts_with('[') {
        return Err(DecodeError("event payload must be an array"));
    }
    let mut de = serde_json::Deserializer::from_str(data);
    let walked = de::DeserializeSeed::deserialize(Walk(count), &mut de);
    match walked.and_then(|w| de.end().map(|()| w)) {
        Ok(w) if w.ok => Ok(()),
        Ok(_) => Err(DecodeError("illegal attachments")),
        Err(_) => Err(DecodeError("invalid JSON")),
    }
}

/// What [`check_placeholders`] needs to know of a JSON value.
struct Walked {
    /// Every placeholder in it points at an attachment.
    ok: bool,
    /// It is `true`.
    is_true: bool,
    /// It is a non-negative integer (as `Value::as_u64` sees it).
    num: Option<u64>,
}

const PLAIN: Walked = Walked {
    ok: true,
    is_true: false,
    num: None,
};

/// Walks one JSON value for [`check_placeholders`], with the count of attachments.
#[derive(Clone, Copy)]
struct Walk(usize);

impl<'de> de::DeserializeSeed<'de> for Walk {
    type Value = Walked;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Walked, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> de::Visitor<'de> for Walk {
    type Value = Walked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Walked, E> {
        Ok(Walked {
            is_true: b,
            ..PLAIN
        })
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Walked, E> {
        Ok(Walked {
            num: Some(n),
            ..PLAIN
        })
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Walked, E> {
        let num = u64::try_from(n).ok();
        Ok(Walked { num, ..PLAIN })
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Walked, E> {
        Ok(PLAIN)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Walked, E> {
        Ok(PLAIN)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Walked, E> {
        Ok(PLAIN)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<Walked, A::Error> {
        let mut ok = true;
        while let Some(item) = items.next_element_seed(self)? {
            ok &= item.ok;
        }
        Ok(Walked { ok, ..PLAIN })
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Walked, A::Error> {
        let (mut ok, mut placeholder, mut num) = (true, false, None);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            ok &= value.ok;
            match key.as_str() {
                "_placeholder" => placeholder = value.is_true,
                "num" => num = value.num,
                _ => {}
            }
        }
        if placeholder {
            // A placeholder: what else it holds is not looked at, as in Socket.IO.
            ok = num.is_some_and(|n| (n as usize) < self.0);
        }
        Ok(Walked { ok, ..PLAIN })
    }
}

/// Splits an event's data `["name", a, b]` into the name and the JSON array `[a,b]`, in one
/// pass that validates the arguments and writes their array (the name and that array are
/// the only allocations).
pub fn split_event(data: &str) -> Result<(String, String), DecodeError> {
    if !data.trim_start().starts_with('[') {
        return Err(DecodeError("event payload must be an array"));
    }
    let mut de = serde_json::Deserializer::from_str(data);
    let split = de::Deserializer::deserialize_seq(&mut de, EventSplit { len: data.len() })
        .and_then(|split| de.end().map(|()| split));
    let (name, args) = split.map_err(|e| match e.classify() {
        serde_json::error::Category::Data => DecodeError(if e.to_string().starts_with(NO_NAME) {
            NO_NAME
        } else {
            "event name must be a string"
        }),
        _ => DecodeError("event payload must be an array"),
    })?;
    let name = match name {
        EventName::Text(name) if RESERVED_EVENTS.contains(&&*name) => {
            return Err(DecodeError("reserved event name"))
        }
        EventName::Text(name) => name.into_owned(),
        EventName::Number(n) => n.to_string(),
    };
    Ok((name, args))
}

const NO_NAME: &str = "event without a name";

/// An event's first element: its name (socket.io also takes a number).
enum EventName<'a> {
    Text(std::borrow::Cow<'a, str>),
    Number(serde_json::Number),
}

impl<'de> de::Deserialize<'de> for EventName<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Name;
        impl<'de> de::Visitor<'de> for Name {
            type Value = EventName<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
                Ok(EventName::Text(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
                Ok(EventName::Text(std::borrow::Cow::Owned(s.to_owned())))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Self::Value, E> {
                Ok(EventName::Number(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Self::Value, E> {
                Ok(EventName::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                serde_json::Number::from_f64(n)
                    .map(EventName::Number)
                    .ok_or_else(|| E::custom("not a finite number"))
            }
        }
        d.deserialize_any(Name)
    }
}

/// Reads an event's array: the name, then each argument as raw JSON written into the
/// arguments' array (`len`: the data's length, more than the array needs).
struct EventSplit {
    len: usize,
}

impl<'de> de::Visitor<'de> for EventSplit {
    type Value = (EventName<'de>, String);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event array")
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let name = seq
            .next_element::<EventName<'de>>()?
            .ok_or_else(|| de::Error::custom(NO_NAME))?;
        let mut args = String::with_capacity(self.len);
        args.push('[');
        while let Some(arg) = seq.next_element::<&'de RawValue>()? {
            if args.len() > 1 {
                args.push(',');
            }
            args.push_str(arg.get());
        }
        args.push(']');
        Ok((name, args))
    }
}

/// Writes raw JSON values as one JSON array.
pub fn join_array(items: &[&RawValue]) -> String {
    let len: usize = items.iter().map(|v| v.get().len() + 1).sum();
    let mut out = String::with_capacity(len + 2);
    out.push('[');
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(v.get());
    }
    out.push(']');
    out
}

/// Writes the Engine.IO message text (`4` + Socket.IO packet) of an event or ack.
///
/// `args` is a JSON array; for an event its items follow the event name.
pub fn encode(
    kind: PacketType,
    nsp: &str,
    id: Option<u64>,
    event: Option<&str>,
    args: &str,
    attachments: usize,
) -> String {
    let binary = attachments > 0;
    let kind = match (kind, binary) {
        (PacketType::Event, true) => PacketType::BinaryEvent,
        (PacketType::Ack, true) => PacketType::BinaryAck,
        (k, _) => k,
    };
    // The exact length first: a frame's bytes are this string's buffer, and a `Bytes` made
    // from a buffer with spare capacity allocates a second block to share it.
    let escaped_name = event
        .filter(|name| needs_json_escaping(name.as_bytes()))
        .map(|name| serde_json::to_string(name).unwrap_or_else(|_| "\"\"".into()));
    let inner = event.map(|_| {
        let inner = args.trim();
        let inner = &inner[1..inner.len().saturating_sub(1).max(1)];
        if inner.trim().is_empty() {
            ""
        } else {
            inner
        }
    });
    let len =
        2 + if binary {
            digits(attachments as u64) + 1
        } else {
            0
        } + if nsp != "/" { nsp.len() + 1 } else { 0 }
            + id.map_or(0, digits)
            + match (event, inner) {
                (Some(name), Some(inner)) => {
                    let name_len = escaped_name.as_ref().map_or(name.len() + 2, String::len);
                    2 + name_len + if inner.is_empty() { 0 } else { inner.len() + 1 }
                }
                _ => args.len(),
            };
    let mut out = String::with_capacity(len);
    out.push('4');
    out.push((b'0' + kind as u8) as char);
    if binary {
        push_number(&mut out, attachments as u64);
        out.push('-');
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        push_number(&mut out, id);
    }
    match (event, inner) {
        (Some(name), Some(inner)) => {
            out.push('[');
            match &escaped_name {
                Some(escaped) => out.push_str(escaped),
                None => {
                    out.push('"');
                    out.push_str(name);
                    out.push('"');
                }
            }
            if !inner.is_empty() {
                out.push(',');
                out.push_str(inner);
            }
            out.push(']');
        }
        _ => out.push_str(args),
    }
    debug_assert_eq!(out.len(), len, "the encoded length was computed wrong");
    out
}

/// Number of decimal digits of `n`.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Writes the Engine.IO message text of a namespace-level packet (connect, connect error,
/// disconnect) with optional JSON data.
pub fn encode_control(kind: PacketType, nsp: &str, data: Option<&str>) -> String {
    let mut out = String::with_capacity(nsp.len() + data.map_or(0, str::len) + 4);
    out.push('4');
    out.push((b'0' + kind as u8) as char);
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(d) = data {
        out.push_str(d);
    }
    out
}

/// Appends `n` in decimal (no allocation, unlike `to_string`: this runs for every ack).
fn push_number(out: &mut String, n: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{n}");
}

/// True when text holds a byte JSON must escape inside a string (a control character, `"`
/// or `\\`); without one, the text between quotes is already its JSON string.
pub fn needs_json_escaping(text: &[u8]) -> bool {
    let escaped = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let from = skip_chunks_without(text, 0, escaped);
    text[from..].iter().any(|&b| escaped(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn nesting_depth_counts_brackets_outside_strings_only() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_depth(&nested(MAX_DEPTH)).is_ok());
        assert!(check_depth(&nested(MAX_DEPTH + 1)).is_err());
        // brackets, escaped quotes and backslashes inside strings of any length are text
        for pad in [0usize, 1, 14, 15, 16, 17, 40] {
            let filler = "x".repeat(pad);
            let text = format!("\"{filler}\\\"{}\\\\\"", "[".repeat(MAX_DEPTH + 5));
            assert!(check_depth(&format!("[{text},{text}]")).is_ok(), "{pad}");
            let deep = format!("[{text},{}]", nested(MAX_DEPTH));
            assert!(
                check_depth(&deep).is_err(),
                "{pad}: the brackets after the string count"
            );
        }
        // an unterminated string ends the text
        assert!(check_depth("[\"[[[").is_ok());
        assert!(check_depth("[\"abc\\").is_ok());
    }

    #[test]
    fn json_escaping_is_found_anywhere() {
        assert!(!needs_json_escaping(b""));
        for len in [1usize, 15, 16, 17, 31, 32, 200] {
            let plain = vec![b'a'; len];
            assert!(!needs_json_escaping(&plain), "{len}");
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
                    let mut text = plain.clone();
                    text[at] = special;
                    assert!(needs_json_escaping(&text), "{len} {at} {special}");
                }
            }
        }
        assert!(!needs_json_escaping("h\u{e9} \u{1f600} ~\x7f".as_bytes()));
    }

    use super::*;

    #[test]
    fn decodes_headers() {
        let p = decode("0", 10).unwrap();
        assert_eq!(
            (p.kind, p.nsp, p.id, p.data),
            (PacketType::Connect, "/", None, None)
        );
        let p = decode("0/admin,{\"token\":\"x\"}", 10).unwrap();
        assert_eq!(p.nsp, "/admin");
        assert_eq!(p.data, Some("{\"token\":\"x\"}"));
        let p = decode("2/chat,12[\"hi\",1]", 10).unwrap();
        assert_eq!(
            (p.kind, p.nsp, p.id),
            (PacketType::Event, "/chat", Some(12))
        );
        let p = decode("51-[\"m\",{\"_placeholder\":true,\"num\":0}]", 10).unwrap();
        assert_eq!((p.kind, p.attachments), (PacketType::BinaryEvent, 1));
        let p = decode("3/admin,7[true]", 10).unwrap();
        assert_eq!(
            (p.kind, p.id, p.data),
            (PacketType::Ack, Some(7), Some("[true]"))
        );
        let p = decode("1/admin,", 10).unwrap();
        assert_eq!((p.kind, p.nsp), (PacketType::Disconnect, "/admin"));
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "9",
            "2",
            "2{}",
            "2[]",
            "2[1",
            "2[\"connect\"]",
            "2[{}]",
            "0\"x\"",
            "1x",
            "5-[\"a\"]",
            "5x-[\"a\"]",
            "3[1]",
            "4{\"message\":\"x\"}",
            "599-[\"a\"]",
            "299999999999999999999999[\"a\"]",
        ] {
            assert!(decode(bad, 10).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn checks_placeholders() {
        let p = "[\"m\",{\"a\":[{\"_placeholder\":true,\"num\":1}]}]";
        assert!(check_placeholders(p, 2).is_ok());
        assert!(check_placeholders(p, 1).is_err());
        assert!(check_placeholders("[{\"_placeholder\":true,\"num\":-1}]", 1).is_err());
        assert!(check_placeholders("[{\"_placeholder\":true}]", 1).is_err());
    }

    #[test]
    fn splits_events() {
        assert_eq!(
            split_event("[\"a\", 1, {\"b\": [2]}]").unwrap(),
            ("a".to_string(), "[1,{\"b\": [2]}]".to_string())
        );
        assert_eq!(split_event("[\"a\"]").unwrap(), ("a".into(), "[]".into()));
        assert_eq!(split_event("[7]").unwrap(), ("7".into(), "[]".into()));
        assert_eq!(
            split_event("[1.5,2]").unwrap(),
            ("1.5".into(), "[2]".into())
        );
        assert_eq!(
            split_event(" [ \"a\\u0062\" , [ 1 ] , \"x\" ] ").unwrap(),
            ("ab".to_string(), "[[ 1 ],\"x\"]".to_string())
        );
        let refused = |data: &str| split_event(data).unwrap_err().0;
        assert_eq!(refused("[]"), "event without a name");
        assert_eq!(refused("[{}]"), "event name must be a string");
        assert_eq!(refused("[null, 1]"), "event name must be a string");
        assert_eq!(refused("[\"connect\"]"), "reserved event name");
        assert_eq!(refused("{}"), "event payload must be an array");
        assert_eq!(refused("[\"a\", 1"), "event payload must be an array");
        assert_eq!(refused("[\"a\"] x"), "event payload must be an array");
        assert_eq!(refused("[\"a\", tru]"), "event payload must be an array");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("[\"a\",{}{}]", "[".repeat(10_000), "]".repeat(10_000));
        assert!(decode(&format!("2{deep}"), 10).is_err());
        let ok = format!("[\"a\",{}{}]", "[".repeat(100), "]".repeat(100));
        assert!(decode(&format!("2{ok}"), 10).is_ok());
        assert!(decode("2[\"a\",\"[[[[\\\"[[[\"]", 10).is_ok());
    }

    #[test]
    fn encodes() {
        assert_eq!(
            encode(PacketType::Event, "/", None, Some("hi"), "[1,2]", 0),
            "42[\"hi\",1,2]"
        );
        assert_eq!(
            encode(PacketType::Event, "/a", Some(3), Some("hi"), "[]", 0),
            "42/a,3[\"hi\"]"
        );
        // names needing escapes go through serde_json; the others are copied as they are
        assert_eq!(
            encode(
                PacketType::Event,
                "/",
                Some(12345678901),
                Some("a\"b\\c\n☃"),
                "[]",
                0
            ),
            "4212345678901[\"a\\\"b\\\\c\\n☃\"]"
        );
        assert_eq!(
            encode(PacketType::Event, "/", None, Some("é ☃ 😀"), "[1]", 0),
            "42[\"é ☃ 😀\",1]"
        );
        assert_eq!(
            encode(
                PacketType::Ack,
                "/",
                Some(5),
                None,
                "[{\"_placeholder\":true,\"num\":0}]",
                1
            ),
            "461-5[{\"_placeholder\":true,\"num\":0}]"
        );
        assert_eq!(
            encode_control(PacketType::Connect, "/a", Some("{\"sid\":\"x\"}")),
            "40/a,{\"sid\":\"x\"}"
        );
        assert_eq!(encode_control(PacketType::Disconnect, "/", None), "41");
    }

    #[test]
    fn encoded_text_fills_its_buffer_exactly() {
        // A frame's `Bytes` takes the buffer as it is only when nothing of it is spare.
        for text in [
            encode(PacketType::Ack, "/", Some(0), None, "[1]", 0),
            encode(PacketType::Ack, "/chat", Some(10), None, "[{\"a\":2}]", 2),
            encode(
                PacketType::Event,
                "/x",
                Some(99),
                Some("a\"b"),
                " [ 1 , 2 ] ",
                0,
            ),
            encode(PacketType::Event, "/", None, Some("e"), "[ ]", 0),
            encode(PacketType::Event, "/", None, Some("ü"), "[true]", 1),
        ] {
            assert_eq!(text.len(), text.capacity(), "{text}");
        }
    }
}
