//! JSON text as Node's `JSON.parse` reads it and `JSON.stringify` writes it.
//!
//! Written here rather than taken from `serde_json`'s serializer because byte compatibility
//! needs JavaScript's number format (`1e+21`, `1.5`, never `1.0`) and the objects' own key
//! order; parsing still goes through `serde_json`'s parser (with its nesting limit of 128).

use std::fmt;

use bytes::Bytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::value::Value;

/// Parses JSON text into a [`Value`], keeping object key order and the integer/float
/// distinction. Invalid UTF-8 is replaced as Node's `Buffer#toString` would.
pub fn decode_json(input: &[u8]) -> Result<Value> {
    let text = String::from_utf8_lossy(input);
    serde_json::from_str(&text).map_err(|e| Error::Json(e.to_string()))
}

/// Writes a value as `JSON.stringify` would: binary as Node's `Buffer#toJSON`
/// (`{"type":"Buffer","data":[…]}`), which is what a Node peer gets when it JSON-encodes a
/// message that holds a `Buffer`; non-finite floats as `null`.
pub fn encode_json(value: &Value) -> String {
    let mut w = JsonWriter::new(BinMode::BufferJson);
    w.value(value);
    w.out
}

/// JavaScript's `Number.prototype.toString()` for a finite number (also what
/// `JSON.stringify` writes, and what `String(room)` gives for a numeric room).
pub fn js_number(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, like ECMAScript's
    // Number::toString; only the layout differs.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

/// What binary becomes in JSON text.
pub(crate) enum BinMode {
    /// Node's `Buffer#toJSON` form.
    BufferJson,
    /// A Socket.IO placeholder; the bytes go to the attachment list.
    Placeholder(Vec<Bytes>),
}

/// A JSON text writer with `JSON.stringify`'s layout (no whitespace).
pub(crate) struct JsonWriter {
    pub(crate) out: String,
    /// One entry per open container: (is an array, no element written yet).
    stack: Vec<(bool, bool)>,
    pub(crate) bin: BinMode,
}

impl JsonWriter {
    pub(crate) fn new(bin: BinMode) -> JsonWriter {
        JsonWriter {
            out: String::new(),
            stack: Vec::new(),
            bin,
        }
    }

    /// The separator before an array element (map values follow their key directly).
    fn element(&mut self) {
        if let Some((true, first)) = self.stack.last_mut() {
            if !*first {
                self.out.push(',');
            }
            *first = false;
        }
    }

    fn push_str(&mut self, s: &str) {
        self.out.push('"');
        for c in s.chars() {
            match c {
                '"' => self.out.push_str("\\\""),
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                '\r' => self.out.push_str("\\r"),
                '\t' => self.out.push_str("\\t"),
                '\u{8}' => self.out.push_str("\\b"),
                '\u{c}' => self.out.push_str("\\f"),
                c if (c as u32) < 0x20 => {
                    self.out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c => self.out.push(c),
            }
        }
        self.out.push('"');
    }
}

impl Sink for JsonWriter {
    fn map(&mut self, _len: usize) {
        self.element();
        self.out.push('{');
        self.stack.push((false, true));
    }

    fn end_map(&mut self) {
        self.stack.pop();
        self.out.push('}');
    }

    fn array(&mut self, _len: usize) {
        self.element();
        self.out.push('[');
        self.stack.push((true, true));
    }

    fn end_array(&mut self) {
        self.stack.pop();
        self.out.push(']');
    }

    fn key(&mut self, key: &str) {
        if let Some((false, first)) = self.stack.last_mut() {
            if !*first {
                self.out.push(',');
            }
            *first = false;
        }
        self.push_str(key);
        self.out.push(':');
    }

    fn str(&mut self, s: &str) {
        self.element();
        self.push_str(s);
    }

    fn int(&mut self, i: i64) {
        self.element();
        self.out.push_str(&i.to_string());
    }

    fn uint(&mut self, u: u64) {
        self.element();
        self.out.push_str(&u.to_string());
    }

    fn bool(&mut self, b: bool) {
        self.element();
        self.out.push_str(if b { "true" } else { "false" });
    }

    fn null(&mut self) {
        self.element();
        self.out.push_str("null");
    }

    fn float(&mut self, f: f64) {
        self.element();
        if f.is_finite() {
            self.out.push_str(&js_number(f));
        } else {
            self.out.push_str("null");
        }
    }

    fn bin(&mut self, b: &Bytes) {
        match &mut self.bin {
            BinMode::Placeholder(attachments) => {
                let num = attachments.len();
                attachments.push(b.clone());
                self.map(2);
                self.key("_placeholder");
                self.bool(true);
                self.key("num");
                self.uint(num as u64);
                self.end_map();
            }
            BinMode::BufferJson => {
                self.map(2);
                self.key("type");
                self.str("Buffer");
                self.key("data");
                self.array(b.len());
                for byte in b.iter() {
                    self.uint((*byte).into());
                }
                self.end_array();
                self.end_map();
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> std::result::Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E>(self, u: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(u))
    }

    fn visit_f64<E>(self, f: f64) -> std::result::Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E>(self, s: &str) -> std::result::Result<Value, E> {
        Ok(Value::Str(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> std::result::Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_bytes<E>(self, b: &[u8]) -> std::result::Result<Value, E> {
        Ok(Value::Bin(Bytes::copy_from_slice(b)))
    }

    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0).min(4096));
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            out.push((k, v));
        }
        Ok(Value::Map(out))
    }
}

/// A lossy view for hosts that want `serde_json::Value`: binary becomes its `Buffer#toJSON`
/// form, as in [`encode_json`].
pub fn to_serde_json(value: Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => b.into(),
        Value::Int(i) => i.into(),
        Value::UInt(u) => u.into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Str(s) => s.into(),
        Value::Bin(b) => serde_json::json!({"type": "Buffer", "data": b.to_vec()}),
        Value::Array(a) => a.into_iter().map(to_serde_json).collect(),
        Value::Map(m) => m.into_iter().map(|(k, v)| (k, to_serde_json(v))).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (-1.5, "-1.5"),
            (2.0, "2"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (-0.0, "0"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.000123, "0.000123"),
            (123.456, "123.456"),
            (f32::from_bits(0x3dcccccd) as f64, "0.10000000149011612"),
        ];
        for (f, s) in cases {
            assert_eq!(js_number(*f), *s, "{f:e}");
        }
    }

    #[test]
    fn text_round_trips_in_order() {
        let text = r#"{"b":1,"a":[true,null,1.5,"x\"\\\n\u0001é"],"c":{}}"#;
        let v = decode_json(text.as_bytes()).unwrap();
        assert_eq!(encode_json(&v), text);
        let keys: Vec<&str> = v
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(encode_json(&Value::Float(f64::NAN)), "null");
        assert_eq!(
            encode_json(&Value::Bin(Bytes::from_static(&[1, 255]))),
            r#"{"type":"Buffer","data":[1,255]}"#
        );
        assert_eq!(decode_json(b"1.0").unwrap(), Value::Float(1.0));
        // Correctly rounded like JSON.parse (found by the fuzz loop: the best-effort parser
        // was one ulp off here, so relayed numbers changed).
        let text = "6.9183097951673436e+252";
        assert_eq!(
            decode_json(text.as_bytes()).unwrap(),
            Value::Float(text.parse().unwrap())
        );
        assert_eq!(encode_json(&Value::Float(1.0)), "1");
    }

    #[test]
    fn hostile_json_is_refused() {
        let deep = "[".repeat(10_000);
        assert!(matches!(decode_json(deep.as_bytes()), Err(Error::Json(_))));
        assert!(decode_json(b"{\"a\":1,}").is_err());
        assert!(decode_json(b"{} x").is_err());
        assert_eq!(decode_json(b"\"\xff\"").unwrap(), Value::from("\u{fffd}"));
    }
}
