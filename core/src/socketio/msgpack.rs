//! The msgpack parser, wire-compatible with `socket.io-msgpack-parser`: each Socket.IO
//! packet is one binary Engine.IO message holding the msgpack map
//! `{type, nsp, data, id?}`, binary values native inside `data` (no attachments).
//!
//! rtio keeps one internal form for every packet — the default parser's text with binary
//! values as `{"_placeholder":true,"num":N}` plus the attachments — so this module only
//! translates at the edge: [`decode`] turns a client's msgpack into that text (which the
//! default decoder then checks like any other packet), [`encode`] turns an encoded packet
//! into its msgpack message. Nothing above the codec knows which parser is in use.

use bytes::Bytes;
use rmp::Marker;
use serde_json::Value;

use super::packet::{self, DecodeError, PacketType, MAX_DEPTH};

/// Translates one msgpack message from a client into the default parser's packet text
/// (without the Engine.IO `4`) and the binary values it carried, in placeholder order.
/// Refuses what `socket.io-msgpack-parser` refuses: a type outside 0–4, a namespace that
/// is not a string, an ack id that is not a non-negative integer; the data's shape is
/// then checked by the default decoder.
pub fn decode(message: &[u8]) -> Result<(String, Vec<Bytes>), DecodeError> {
    let decoded = decode_with(message, false)?;
    if !decoded.1.is_empty() && !decoded.0.starts_with(['5', '6']) {
        // Binary in a CONNECT's auth: no attachments there, so it is read again with each
        // binary value as the JSON a Buffer becomes with the default parser.
        return decode_with(message, true);
    }
    Ok(decoded)
}

fn decode_with(message: &[u8], inline_binary: bool) -> Result<(String, Vec<Bytes>), DecodeError> {
    let mut reader = Reader {
        input: message,
        attachments: Vec::new(),
        inline_binary,
    };
    let fields = reader.map_len()?;
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    for _ in 0..fields {
        let key = reader.str()?;
        match key {
            "type" => kind = Some(reader.uint().ok_or(DecodeError("invalid packet type"))?),
            "nsp" => nsp = Some(reader.str().map_err(|_| DecodeError("invalid namespace"))?),
            "id" => id = reader.optional_uint()?,
            "data" => {
                let mut json = Vec::new();
                if reader.value(&mut json, 0)? {
                    data = Some(json);
                }
            }
            _ => {
                reader.value(&mut Vec::new(), 0)?;
            }
        }
    }
    if !reader.input.is_empty() {
        return Err(DecodeError("trailing bytes after the packet"));
    }
    let kind = match kind {
        Some(0) => PacketType::Connect,
        Some(1) => PacketType::Disconnect,
        Some(2) => PacketType::Event,
        Some(3) => PacketType::Ack,
        Some(4) => PacketType::ConnectError,
        _ => return Err(DecodeError("invalid packet type")),
    };
    let nsp = nsp.ok_or(DecodeError("invalid namespace"))?;
    if !nsp.starts_with('/') || nsp.contains(',') {
        return Err(DecodeError("invalid namespace"));
    }
    let attachments = reader.attachments;
    let binary = !attachments.is_empty();
    let kind = match (kind, binary) {
        (PacketType::Event, true) => PacketType::BinaryEvent,
        (PacketType::Ack, true) => PacketType::BinaryAck,
        (kind, _) => kind,
    };
    let mut text = String::with_capacity(nsp.len() + data.as_ref().map_or(0, Vec::len) + 16);
    text.push((b'0' + kind as u8) as char);
    if binary {
        text.push_str(&attachments.len().to_string());
        text.push('-');
    }
    if nsp != "/" {
        text.push_str(nsp);
        text.push(',');
    }
    if let Some(id) = id {
        text.push_str(&id.to_string());
    }
    if let Some(data) = data {
        // Built from str values and our own number and literal output: UTF-8.
        text.push_str(std::str::from_utf8(&data).map_err(|_| DecodeError("invalid data"))?);
    }
    Ok((text, attachments))
}

/// The msgpack message of an encoded packet: `text` is what the default parser writes
/// (`4` + the Socket.IO packet), `attachments` the binary values its placeholders name.
pub fn encode(text: &str, attachments: &[Bytes]) -> Bytes {
    let body = text.strip_prefix('4').unwrap_or(text);
    // Our own output: it decodes (a failure would be a bug; the client then sees an
    // empty map and refuses it, rather than the server panicking).
    let Ok(p) = packet::parse_header(body, attachments.len()) else {
        return Bytes::from_static(&[0x80]);
    };
    let kind = match p.kind {
        PacketType::BinaryEvent => PacketType::Event,
        PacketType::BinaryAck => PacketType::Ack,
        kind => kind,
    };
    let data: Option<Value> = p.data.and_then(|d| serde_json::from_str(d).ok());
    let mut out = Vec::with_capacity(body.len() + 16);
    let fields = 2 + u32::from(data.is_some()) + u32::from(p.id.is_some());
    let _ = rmp::encode::write_map_len(&mut out, fields);
    let _ = rmp::encode::write_str(&mut out, "type");
    let _ = rmp::encode::write_uint(&mut out, kind as u64);
    let _ = rmp::encode::write_str(&mut out, "nsp");
    let _ = rmp::encode::write_str(&mut out, p.nsp);
    if let Some(data) = &data {
        let _ = rmp::encode::write_str(&mut out, "data");
        write_value(&mut out, data, attachments);
    }
    if let Some(id) = p.id {
        let _ = rmp::encode::write_str(&mut out, "id");
        let _ = rmp::encode::write_uint(&mut out, id);
    }
    out.into()
}

/// Writes a JSON value as msgpack, placeholders replaced by their attachment.
fn write_value(out: &mut Vec<u8>, value: &Value, attachments: &[Bytes]) {
    use rmp::encode::*;
    match value {
        Value::Null => {
            let _ = write_nil(out);
        }
        Value::Bool(b) => {
            let _ = write_bool(out, *b);
        }
        Value::Number(n) => {
            let _ = if let Some(u) = n.as_u64() {
                write_uint(out, u).map(|_| ())
            } else if let Some(i) = n.as_i64() {
                write_sint(out, i).map(|_| ())
            } else {
                write_f64(out, n.as_f64().unwrap_or(0.0))
            };
        }
        Value::String(s) => {
            let _ = write_str(out, s);
        }
        Value::Array(items) => {
            let _ = write_array_len(out, items.len() as u32);
            for item in items {
                write_value(out, item, attachments);
            }
        }
        Value::Object(map) => {
            if let Some(bytes) = placeholder(map).and_then(|n| attachments.get(n)) {
                let _ = write_bin(out, bytes);
                return;
            }
            let _ = write_map_len(out, map.len() as u32);
            for (key, item) in map {
                let _ = write_str(out, key);
                write_value(out, item, attachments);
            }
        }
    }
}

/// The attachment number of a `{"_placeholder":true,"num":N}` object.
fn placeholder(map: &serde_json::Map<String, Value>) -> Option<usize> {
    if map.len() != 2 || map.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    map.get("num")?.as_u64().map(|n| n as usize)
}

/// Reads msgpack from a byte slice. Lengths are never trusted for allocation: every
/// element costs at least one input byte, so a message bounded by `maxHttpBufferSize`
/// bounds the work.
struct Reader<'a> {
    input: &'a [u8],
    attachments: Vec<Bytes>,
    /// Binary values written into the JSON as `{"type":"Buffer","data":[...]}` (what a
    /// Buffer becomes in a packet without attachments) instead of as attachments.
    inline_binary: bool,
}

const TRUNCATED: DecodeError = DecodeError("truncated msgpack");

impl<'a> Reader<'a> {
    fn marker(&mut self) -> Result<Marker, DecodeError> {
        let (&first, rest) = self.input.split_first().ok_or(TRUNCATED)?;
        self.input = rest;
        Ok(Marker::from_u8(first))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.input.len() < n {
            return Err(TRUNCATED);
        }
        let (taken, rest) = self.input.split_at(n);
        self.input = rest;
        Ok(taken)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn map_len(&mut self) -> Result<usize, DecodeError> {
        let marker = self.marker()?;
        match (marker, self.len_of(marker)?) {
            (Marker::FixMap(_) | Marker::Map16 | Marker::Map32, Some(len)) => Ok(len),
            _ => Err(DecodeError("packet is not a msgpack map")),
        }
    }

    /// The element (or byte) count of an array, map or binary marker; `None` for others.
    fn len_of(&mut self, marker: Marker) -> Result<Option<usize>, DecodeError> {
        Ok(Some(match marker {
            Marker::FixArray(n) | Marker::FixMap(n) => n as usize,
            Marker::Bin8 => self.be(1)? as usize,
            Marker::Array16 | Marker::Map16 | Marker::Bin16 => self.be(2)? as usize,
            Marker::Array32 | Marker::Map32 | Marker::Bin32 => self.be(4)? as usize,
            _ => return Ok(None),
        }))
    }

    fn str_len(&mut self, marker: Marker) -> Result<Option<usize>, DecodeError> {
        Ok(Some(match marker {
            Marker::FixStr(n) => n as usize,
            Marker::Str8 => self.be(1)? as usize,
            Marker::Str16 => self.be(2)? as usize,
            Marker::Str32 => self.be(4)? as usize,
            _ => return Ok(None),
        }))
    }

    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let marker = self.marker()?;
        let len = self
            .str_len(marker)?
            .ok_or(DecodeError("expected a msgpack string"))?;
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError("string is not UTF-8"))
    }

    /// A non-negative integer, `None` for any other value (consumed).
    fn uint(&mut self) -> Option<u64> {
        let marker = self.marker().ok()?;
        self.int_of(marker)
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
    }

    /// The ack id: nil means none; otherwise a non-negative integer.
    fn optional_uint(&mut self) -> Result<Option<u64>, DecodeError> {
        match self.marker()? {
            Marker::Null => Ok(None),
            marker => match self.int_of(marker)? {
                Some(n) if n >= 0 => Ok(Some(n as u64)),
                _ => Err(DecodeError("invalid ack id")),
            },
        }
    }

    fn int_of(&mut self, marker: Marker) -> Result<Option<i128>, DecodeError> {
        Ok(Some(match marker {
            Marker::FixPos(n) => i128::from(n),
            Marker::FixNeg(n) => i128::from(n),
            Marker::U8 => i128::from(self.be(1)?),
            Marker::U16 => i128::from(self.be(2)?),
            Marker::U32 => i128::from(self.be(4)?),
            Marker::U64 => i128::from(self.be(8)?),
            Marker::I8 => i128::from(self.be(1)? as u8 as i8),
            Marker::I16 => i128::from(self.be(2)? as u16 as i16),
            Marker::I32 => i128::from(self.be(4)? as u32 as i32),
            Marker::I64 => i128::from(self.be(8)? as i64),
            _ => return Ok(None),
        }))
    }

    /// Reads one value and writes it as JSON into `out` (binary values become
    /// placeholders); returns false for notepack's `undefined` (a key JSON would omit).
    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Result<bool, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError("data nested too deeply"));
        }
        let marker = self.marker()?;
        if let Some(n) = self.int_of(marker)? {
            out.extend_from_slice(n.to_string().as_bytes());
            return Ok(true);
        }
        if let Some(len) = self.str_len(marker)? {
            let s = std::str::from_utf8(self.take(len)?)
                .map_err(|_| DecodeError("string is not UTF-8"))?;
            let _ = serde_json::to_writer(&mut *out, s);
            return Ok(true);
        }
        match marker {
            Marker::Null => out.extend_from_slice(b"null"),
            Marker::True => out.extend_from_slice(b"true"),
            Marker::False => out.extend_from_slice(b"false"),
            Marker::F32 => push_float(out, f64::from(f32::from_bits(self.be(4)? as u32))),
            Marker::F64 => push_float(out, f64::from_bits(self.be(8)?)),
            Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
                let len = self.len_of(marker)?.unwrap_or(0);
                if self.inline_binary {
                    out.extend_from_slice(b"{\"type\":\"Buffer\",\"data\":[");
                    for (i, b) in self.take(len)?.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(b.to_string().as_bytes());
                    }
                    out.extend_from_slice(b"]}");
                    return Ok(true);
                }
                let bytes = Bytes::copy_from_slice(self.take(len)?);
                let num = self.attachments.len();
                self.attachments.push(bytes);
                out.extend_from_slice(
                    format!("{{\"_placeholder\":true,\"num\":{num}}}").as_bytes(),
                );
            }
            Marker::FixArray(_) | Marker::Array16 | Marker::Array32 => {
                let len = self.len_of(marker)?.unwrap_or(0);
                out.push(b'[');
                for i in 0..len {
                    if i > 0 {
                        out.push(b',');
                    }
                    if !self.value(out, depth + 1)? {
                        // JSON.stringify writes undefined in an array as null.
                        out.extend_from_slice(b"null");
                    }
                }
                out.push(b']');
            }
            Marker::FixMap(_) | Marker::Map16 | Marker::Map32 => {
                let len = self.len_of(marker)?.unwrap_or(0);
                out.push(b'{');
                let mut first = true;
                for _ in 0..len {
                    let key_marker = self.marker()?;
                    let key = match (self.str_len(key_marker)?, self.int_of(key_marker)?) {
                        (Some(len), _) => std::str::from_utf8(self.take(len)?)
                            .map_err(|_| DecodeError("string is not UTF-8"))?
                            .to_string(),
                        // A JavaScript object's keys are strings.
                        (None, Some(n)) => n.to_string(),
                        _ => return Err(DecodeError("map key is not a string")),
                    };
                    let mark = out.len();
                    if !first {
                        out.push(b',');
                    }
                    let _ = serde_json::to_writer(&mut *out, &key);
                    out.push(b':');
                    if self.value(out, depth + 1)? {
                        first = false;
                    } else {
                        out.truncate(mark);
                    }
                }
                out.push(b'}');
            }
            // notepack.io writes `undefined` as fixext 1 of type 0.
            Marker::FixExt1 => {
                let ext = self.take(2)?;
                if ext != [0, 0] {
                    return Err(DecodeError("unsupported msgpack extension"));
                }
                return Ok(false);
            }
            _ => return Err(DecodeError("unsupported msgpack value")),
        }
        Ok(true)
    }
}

/// A float as JSON writes it; NaN and infinities become `null`, as in `JSON.stringify`.
fn push_float(out: &mut Vec<u8>, f: f64) {
    match serde_json::Number::from_f64(f) {
        Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What notepack.io (socket.io-msgpack-parser's encoder) writes for
    /// `{type: 2, data: ["hello", Buffer.from([1, 2]), {a: 1.5}], nsp: "/chat", id: 7}`.
    fn notepack_event() -> Vec<u8> {
        let mut v = vec![0x84];
        v.extend([0xa4, b't', b'y', b'p', b'e', 0x02]);
        v.extend([0xa4, b'd', b'a', b't', b'a', 0x93]);
        v.extend([0xa5, b'h', b'e', b'l', b'l', b'o']);
        v.extend([0xc4, 0x02, 0x01, 0x02]);
        v.extend([0x81, 0xa1, b'a', 0xcb]);
        v.extend(1.5f64.to_be_bytes());
        v.extend([0xa3, b'n', b's', b'p', 0xa5, b'/', b'c', b'h', b'a', b't']);
        v.extend([0xa2, b'i', b'd', 0x07]);
        v
    }

    #[test]
    fn a_client_packet_becomes_the_default_parsers_text() {
        let (text, atts) = decode(&notepack_event()).unwrap();
        assert_eq!(
            text,
            r#"51-/chat,7["hello",{"_placeholder":true,"num":0},{"a":1.5}]"#
        );
        assert_eq!(atts, vec![Bytes::from_static(&[1, 2])]);
        let p = packet::decode(&text, 10).unwrap();
        assert_eq!(p.kind, PacketType::BinaryEvent);
    }

    #[test]
    fn encoding_round_trips_through_decoding() {
        let (text, atts) = decode(&notepack_event()).unwrap();
        let encoded = encode(&format!("4{text}"), &atts);
        // Same fields, binary native, type back to EVENT: decoding it again gives the same.
        assert_eq!(decode(&encoded).unwrap(), (text, atts));
        assert_eq!(encoded[..6], [0x84, 0xa4, b't', b'y', b'p', b'e']);
        assert_eq!(encoded[6], 0x02, "EVENT, not BINARY_EVENT");
    }

    #[test]
    fn control_packets_encode_their_data_as_a_map() {
        let encoded = encode(r#"40{"sid":"abc"}"#, &[]);
        let (text, atts) = decode(&encoded).unwrap();
        assert_eq!(text, r#"0{"sid":"abc"}"#);
        assert!(atts.is_empty());
    }

    #[test]
    fn undefined_is_omitted_from_maps_and_null_in_arrays() {
        // {type: 2, nsp: "/", data: ["e", undefined, {k: undefined}]}
        let bytes = [
            0x83, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4,
            b'd', b'a', b't', b'a', 0x93, 0xa1, b'e', 0xd4, 0, 0, 0x81, 0xa1, b'k', 0xd4, 0, 0,
        ];
        assert_eq!(decode(&bytes).unwrap().0, r#"2["e",null,{}]"#);
    }

    #[test]
    fn binary_in_a_connects_auth_becomes_buffer_json() {
        // {type: 0, nsp: "/", data: {raw: Buffer.from([7, 8])}}
        let bytes = [
            0x83, 0xa4, b't', b'y', b'p', b'e', 0x00, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4,
            b'd', b'a', b't', b'a', 0x81, 0xa3, b'r', b'a', b'w', 0xc4, 0x02, 7, 8,
        ];
        let (text, atts) = decode(&bytes).unwrap();
        assert_eq!(text, r#"0{"raw":{"type":"Buffer","data":[7,8]}}"#);
        assert!(atts.is_empty());
        assert!(packet::decode(&text, 0).is_ok());
    }

    #[test]
    fn bad_packets_are_refused() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x90],                                  // not a map
            vec![0x81, 0xa4, b't', b'y', b'p', b'e', 9], // type 9
            vec![0x81, 0xa4, b't', b'y', b'p', b'e', 2], // no nsp
            vec![
                0x82, 0xa4, b't', b'y', b'p', b'e', 2, 0xa3, b'n', b's', b'p', 0xa1, b'x',
            ],
            vec![0xdf, 0xff, 0xff, 0xff, 0xff], // a huge map, no bytes
            vec![
                0x81, 0xa4, b'd', b'a', b't', b'a', 0xdd, 0xff, 0xff, 0xff, 0xff,
            ],
        ];
        for bytes in cases {
            assert!(decode(&bytes).is_err(), "{bytes:02x?}");
        }
        // Nesting past the limit.
        let mut deep = vec![0x81, 0xa4, b'd', b'a', b't', b'a'];
        deep.extend(std::iter::repeat_n(0x91, 200));
        deep.push(0xc0);
        assert!(decode(&deep).is_err());
        // Trailing bytes.
        let mut trailing = notepack_event();
        trailing.push(0xc0);
        assert!(decode(&trailing).is_err());
    }
}
