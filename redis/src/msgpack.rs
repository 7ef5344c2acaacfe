//! msgpack as notepack.io 3 writes it, read leniently as any msgpack writer may produce it.
//!
//! Decoding is a hand-written walk over a byte slice (using `rmp`'s marker table) rather
//! than a general msgpack deserializer, because the protocol needs notepack's own ext
//! meanings (dates, `undefined`, `ArrayBuffer`) and because hostile input must be refused
//! before anything large is allocated: every declared length is checked against the bytes
//! that are left, and nesting is capped at [`MAX_DEPTH`](crate::MAX_DEPTH).

use bytes::Bytes;
use rmp::Marker;

use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::json::js_number;
use crate::value::{Value, TWO_63, TWO_64};
use crate::MAX_DEPTH;

/// Decodes one msgpack value that must fill `input` exactly (notepack rejects trailing
/// bytes too).
pub fn decode_msgpack(input: &[u8]) -> Result<Value> {
    let mut r = Reader {
        buf: input,
        pos: 0,
        src: None,
    };
    r.finish()
}

/// Like [`decode_msgpack`], but binary values share `input`'s memory instead of being
/// copied: use it when the Redis client hands out `Bytes`.
pub fn decode_msgpack_bytes(input: &Bytes) -> Result<Value> {
    let mut r = Reader {
        buf: input,
        pos: 0,
        src: Some(input),
    };
    r.finish()
}

/// Encodes a value exactly as notepack.io 3 encodes the JavaScript value it stands for.
pub fn encode_msgpack(value: &Value) -> Vec<u8> {
    let mut w = MsgpackWriter::default();
    w.value(value);
    w.buf
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    src: Option<&'a Bytes>,
}

impl<'a> Reader<'a> {
    fn finish(&mut self) -> Result<Value> {
        let v = self.value(0)?;
        if self.pos != self.buf.len() {
            return Err(Error::TrailingBytes(self.buf.len() - self.pos));
        }
        Ok(v)
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn be<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u16(&mut self) -> Result<usize> {
        Ok(u16::from_be_bytes(self.be()?).into())
    }

    fn u32(&mut self) -> Result<usize> {
        let n = u32::from_be_bytes(self.be()?);
        usize::try_from(n).map_err(|_| Error::LengthTooLarge(n.into()))
    }

    /// A length that claims `len` items of at least `min_size` bytes each: refused unless
    /// the input still holds that many bytes, so no allocation exceeds the input's size.
    fn check_len(&self, len: usize, min_size: usize) -> Result<usize> {
        if len.saturating_mul(min_size) > self.remaining() {
            return Err(Error::LengthTooLarge(len as u64));
        }
        Ok(len)
    }

    fn bytes(&mut self, len: usize) -> Result<Bytes> {
        self.check_len(len, 1)?;
        let start = self.pos;
        let s = self.take(len)?;
        Ok(match self.src {
            Some(src) => src.slice(start..start + len),
            None => Bytes::copy_from_slice(s),
        })
    }

    fn str(&mut self, len: usize) -> Result<String> {
        self.check_len(len, 1)?;
        let s = self.take(len)?;
        // Node's notepack decodes with Buffer#toString, which replaces bad UTF-8.
        Ok(String::from_utf8_lossy(s).into_owned())
    }

    fn array(&mut self, len: usize, depth: usize) -> Result<Value> {
        let len = self.check_len(len, 1)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            out.push(self.value(depth + 1)?);
        }
        Ok(Value::Array(out))
    }

    fn map(&mut self, len: usize, depth: usize) -> Result<Value> {
        let len = self.check_len(len, 2)?;
        let mut out = Vec::with_capacity(len);
        for _ in 0..len {
            let key = map_key(self.value(depth + 1)?)?;
            let value = self.value(depth + 1)?;
            out.push((key, value));
        }
        Ok(Value::Map(out))
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep);
        }
        let byte = self.u8()?;
        Ok(match Marker::from_u8(byte) {
            Marker::FixPos(n) => Value::Int(n.into()),
            Marker::FixNeg(n) => Value::Int(n.into()),
            Marker::Null => Value::Null,
            Marker::True => Value::Bool(true),
            Marker::False => Value::Bool(false),
            Marker::U8 => Value::Int(self.u8()?.into()),
            Marker::U16 => Value::Int(u16::from_be_bytes(self.be()?).into()),
            Marker::U32 => Value::Int(u32::from_be_bytes(self.be()?).into()),
            Marker::U64 => Value::from(u64::from_be_bytes(self.be()?)),
            Marker::I8 => Value::Int(i8::from_be_bytes(self.be()?).into()),
            Marker::I16 => Value::Int(i16::from_be_bytes(self.be()?).into()),
            Marker::I32 => Value::Int(i32::from_be_bytes(self.be()?).into()),
            Marker::I64 => Value::Int(i64::from_be_bytes(self.be()?)),
            Marker::F32 => Value::Float(f32::from_be_bytes(self.be()?).into()),
            Marker::F64 => Value::Float(f64::from_be_bytes(self.be()?)),
            Marker::FixStr(n) => Value::Str(self.str(n.into())?),
            Marker::Str8 => {
                let n = self.u8()?.into();
                Value::Str(self.str(n)?)
            }
            Marker::Str16 => {
                let n = self.u16()?;
                Value::Str(self.str(n)?)
            }
            Marker::Str32 => {
                let n = self.u32()?;
                Value::Str(self.str(n)?)
            }
            Marker::Bin8 => {
                let n = self.u8()?.into();
                Value::Bin(self.bytes(n)?)
            }
            Marker::Bin16 => {
                let n = self.u16()?;
                Value::Bin(self.bytes(n)?)
            }
            Marker::Bin32 => {
                let n = self.u32()?;
                Value::Bin(self.bytes(n)?)
            }
            Marker::FixArray(n) => self.array(n.into(), depth)?,
            Marker::Array16 => {
                let n = self.u16()?;
                self.array(n, depth)?
            }
            Marker::Array32 => {
                let n = self.u32()?;
                self.array(n, depth)?
            }
            Marker::FixMap(n) => self.map(n.into(), depth)?,
            Marker::Map16 => {
                let n = self.u16()?;
                self.map(n, depth)?
            }
            Marker::Map32 => {
                let n = self.u32()?;
                self.map(n, depth)?
            }
            Marker::FixExt1 => self.ext(1, true)?,
            Marker::FixExt2 => self.ext(2, true)?,
            Marker::FixExt4 => self.ext(4, true)?,
            Marker::FixExt8 => self.ext(8, true)?,
            Marker::FixExt16 => self.ext(16, true)?,
            Marker::Ext8 => {
                let n = self.u8()?.into();
                self.ext(n, false)?
            }
            Marker::Ext16 => {
                let n = self.u16()?;
                self.ext(n, false)?
            }
            Marker::Ext32 => {
                let n = self.u32()?;
                self.ext(n, false)?
            }
            Marker::Reserved => return Err(Error::Invalid("reserved byte 0xc1".into())),
        })
    }

    /// notepack's ext meanings: -1 timestamp (Date), fixext1 0 `undefined`, fixext8 0 the
    /// pre-3.0 Date (int64 milliseconds), other ext 0 an `ArrayBuffer`, ext 1 a BigInt in
    /// decimal; anything else is `[type, bytes]` as notepack returns it.
    fn ext(&mut self, len: usize, fixed: bool) -> Result<Value> {
        let ty = self.u8()? as i8;
        self.check_len(len, 1)?;
        match (ty, fixed, len) {
            (-1, _, _) => {
                let data = self.take(len)?;
                timestamp(data).map(date_value)
            }
            (0, true, 1) => {
                self.take(1)?;
                Ok(Value::Null)
            }
            (0, true, 8) => {
                let ms = i64::from_be_bytes(self.be()?);
                Ok(date_value(ms.into()))
            }
            (0, _, _) => Ok(Value::Bin(self.bytes(len)?)),
            (1, false, _) => {
                let digits = self.str(len)?;
                bigint(&digits)
            }
            _ => Ok(Value::Array(vec![
                Value::Int(ty.into()),
                Value::Bin(self.bytes(len)?),
            ])),
        }
    }
}

/// A decoded map key as JavaScript would coerce it to a property name.
fn map_key(key: Value) -> Result<String> {
    Ok(match key {
        Value::Str(s) => s,
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => js_number(f),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        _ => {
            return Err(Error::WrongType {
                field: "map key",
                expected: "a string or a number",
            })
        }
    })
}

fn bigint(digits: &str) -> Result<Value> {
    if let Ok(i) = digits.parse::<i64>() {
        Ok(Value::Int(i))
    } else if let Ok(u) = digits.parse::<u64>() {
        Ok(Value::UInt(u))
    } else {
        Err(Error::Invalid(format!("BigInt ext holds {digits:?}")))
    }
}

/// Milliseconds since the epoch of a msgpack timestamp (32, 64 or 96 bit), truncated toward
/// zero as JavaScript's `new Date(s * 1e3 + ns / 1e6)` does.
fn timestamp(data: &[u8]) -> Result<i128> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Ok(match data.len() {
        4 => i128::from(be32(data)) * 1000,
        8 => {
            let hi = be32(&data[..4]);
            let lo = be32(&data[4..]);
            let ns = i128::from(hi >> 2);
            let s = (i128::from(hi & 3) << 32) | i128::from(lo);
            (s * 1_000_000_000 + ns) / 1_000_000
        }
        12 => {
            let ns = i128::from(be32(&data[..4]));
            let mut s = [0u8; 8];
            s.copy_from_slice(&data[4..]);
            let s = i128::from(i64::from_be_bytes(s));
            (s * 1_000_000_000 + ns) / 1_000_000
        }
        n => return Err(Error::Invalid(format!("timestamp ext of {n} bytes"))),
    })
}

/// A Date as `JSON.stringify` gives it: its ISO string, or `null` when invalid.
fn date_value(ms: i128) -> Value {
    match iso_date(ms) {
        Some(s) => Value::Str(s),
        None => Value::Null,
    }
}

/// `Date.prototype.toISOString` for `ms` since the epoch; `None` outside JavaScript's date
/// range (±8.64e15 ms), where `toJSON` gives `null`.
pub(crate) fn iso_date(ms: i128) -> Option<String> {
    const MAX: i128 = 8_640_000_000_000_000;
    if !(-MAX..=MAX).contains(&ms) {
        return None;
    }
    let ms = ms as i64;
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

/// Writes msgpack the way notepack.io 3 does: smallest integer form, every other number as
/// float64, smallest str/bin/array/map header.
#[derive(Default)]
pub(crate) struct MsgpackWriter {
    pub(crate) buf: Vec<u8>,
}

/// Header lengths beyond `u32` cannot be expressed in msgpack at all (notepack throws);
/// Redis refuses values of 512 MiB and more anyway, so this is a programming error.
fn len32(n: usize) -> u32 {
    u32::try_from(n).expect("msgpack cannot encode a length of 4 GiB or more")
}

impl Sink for MsgpackWriter {
    fn map(&mut self, len: usize) {
        let _ = rmp::encode::write_map_len(&mut self.buf, len32(len));
    }

    fn end_map(&mut self) {}

    fn array(&mut self, len: usize) {
        let _ = rmp::encode::write_array_len(&mut self.buf, len32(len));
    }

    fn end_array(&mut self) {}

    fn key(&mut self, key: &str) {
        self.str(key);
    }

    fn str(&mut self, s: &str) {
        len32(s.len());
        let _ = rmp::encode::write_str(&mut self.buf, s);
    }

    fn int(&mut self, i: i64) {
        match u64::try_from(i) {
            Ok(u) => self.uint(u),
            Err(_) => {
                let _ = rmp::encode::write_sint(&mut self.buf, i);
            }
        }
    }

    fn uint(&mut self, u: u64) {
        let _ = rmp::encode::write_uint(&mut self.buf, u);
    }

    fn bool(&mut self, b: bool) {
        let _ = rmp::encode::write_bool(&mut self.buf, b);
    }

    fn null(&mut self) {
        let _ = rmp::encode::write_nil(&mut self.buf);
    }

    fn float(&mut self, f: f64) {
        // notepack: `Math.floor(v) !== v || !isFinite(v)` → float64, else the integer path.
        if f.is_finite() && f.fract() == 0.0 {
            if (0.0..TWO_64).contains(&f) {
                return self.uint(f as u64);
            }
            if (-TWO_63..0.0).contains(&f) {
                return self.int(f as i64);
            }
        }
        let _ = rmp::encode::write_f64(&mut self.buf, f);
    }

    fn bin(&mut self, b: &Bytes) {
        len32(b.len());
        let _ = rmp::encode::write_bin(&mut self.buf, b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn integers_take_notepack_forms() {
        let cases: &[(Value, &str)] = &[
            (Value::Int(0), "00"),
            (Value::Int(127), "7f"),
            (Value::Int(128), "cc80"),
            (Value::Int(256), "cd0100"),
            (Value::Int(65536), "ce00010000"),
            (Value::Int(1 << 32), "cf0000000100000000"),
            (Value::Int(-1), "ff"),
            (Value::Int(-32), "e0"),
            (Value::Int(-33), "d0df"),
            (Value::Int(-129), "d1ff7f"),
            (Value::Int(-32769), "d2ffff7fff"),
            (Value::Int(i64::MIN), "d38000000000000000"),
            (Value::UInt(u64::MAX), "cfffffffffffffffff"),
            (Value::Float(1.5), "cb3ff8000000000000"),
            (Value::Float(2.0), "02"),
            (Value::Float(-0.0), "00"),
            (Value::Float(-300.0), "d1fed4"),
            (Value::Float(f64::INFINITY), "cb7ff0000000000000"),
        ];
        for (v, h) in cases {
            assert_eq!(encode_msgpack(v), hex(h), "{v:?}");
        }
    }

    #[test]
    fn headers_take_smallest_forms() {
        assert_eq!(encode_msgpack(&Value::from("a".repeat(31)))[0], 0xbf);
        assert_eq!(
            &encode_msgpack(&Value::from("a".repeat(32)))[..2],
            &[0xd9, 32]
        );
        assert_eq!(
            &encode_msgpack(&Value::from("a".repeat(256)))[..3],
            &[0xda, 1, 0]
        );
        let big = Value::from("a".repeat(65536));
        assert_eq!(&encode_msgpack(&big)[..5], &[0xdb, 0, 1, 0, 0]);
        let arr = Value::Array(vec![Value::Null; 16]);
        assert_eq!(&encode_msgpack(&arr)[..3], &[0xdc, 0, 16]);
        let map = Value::Map((0..16).map(|i| (i.to_string(), Value::Null)).collect());
        assert_eq!(&encode_msgpack(&map)[..3], &[0xde, 0, 16]);
        let bin = Value::Bin(Bytes::from(vec![0u8; 256]));
        assert_eq!(&encode_msgpack(&bin)[..3], &[0xc5, 1, 0]);
    }

    #[test]
    fn every_family_decodes() {
        let cases: &[(&str, Value)] = &[
            ("ca3fc00000", Value::Float(1.5)),
            ("cd0100", Value::Int(256)),
            ("d0df", Value::Int(-33)),
            ("d1ff7f", Value::Int(-129)),
            ("d2ffff7fff", Value::Int(-32769)),
            ("d3ffffffffffffffff", Value::Int(-1)),
            ("cfffffffffffffffff", Value::UInt(u64::MAX)),
            ("d90161", Value::from("a")),
            ("da000161", Value::from("a")),
            ("db0000000161", Value::from("a")),
            ("c40101", Value::Bin(Bytes::from_static(&[1]))),
            ("c5000101", Value::Bin(Bytes::from_static(&[1]))),
            ("c60000000101", Value::Bin(Bytes::from_static(&[1]))),
            ("dc000101", Value::Array(vec![Value::Int(1)])),
            ("dd0000000101", Value::Array(vec![Value::Int(1)])),
            ("de0001a16101", Value::map([("a", Value::Int(1))])),
            ("df00000001a16101", Value::map([("a", Value::Int(1))])),
            ("81 01 02", Value::map([("1", Value::Int(2))])),
            ("d40000", Value::Null),
            ("c70300010203", Value::Bin(Bytes::from_static(&[1, 2, 3]))),
            (
                "c702313233",
                Value::Array(vec![Value::Int(49), Value::Bin(Bytes::from_static(b"23"))]),
            ),
            ("c7020131 32", Value::Int(12)),
            (
                "d5050102",
                Value::Array(vec![Value::Int(5), Value::Bin(Bytes::from_static(&[1, 2]))]),
            ),
        ];
        for (h, v) in cases {
            let h: String = h.split_whitespace().collect();
            let got = decode_msgpack(&hex(&h));
            assert_eq!(got.as_ref(), Ok(v), "{h}");
        }
    }

    #[test]
    fn dates_become_iso_strings() {
        // timestamp 32: 2026-11-23T17:43:32Z = 1795455812
        let v = decode_msgpack(&hex("d6ff6b047b44")).unwrap();
        assert_eq!(v, Value::from("2026-11-23T17:43:32.000Z"));
        // timestamp 64 with 431 ms
        let ns: u64 = 431_000_000;
        let data = (ns << 34) | 1_795_455_812;
        let mut b = vec![0xd7, 0xff];
        b.extend_from_slice(&data.to_be_bytes());
        assert_eq!(
            decode_msgpack(&b).unwrap(),
            Value::from("2026-11-23T17:43:32.431Z")
        );
        // timestamp 96, before the epoch
        let mut b = vec![0xc7, 12, 0xff];
        b.extend_from_slice(&500_000_000u32.to_be_bytes());
        b.extend_from_slice(&(-1i64).to_be_bytes());
        assert_eq!(
            decode_msgpack(&b).unwrap(),
            Value::from("1969-12-31T23:59:59.500Z")
        );
        // legacy notepack 2 date: fixext8 type 0, int64 ms
        let mut b = vec![0xd7, 0x00];
        b.extend_from_slice(&1_795_455_812_431i64.to_be_bytes());
        assert_eq!(
            decode_msgpack(&b).unwrap(),
            Value::from("2026-11-23T17:43:32.431Z")
        );
        // out of JavaScript's range: Invalid Date → null
        let mut b = vec![0xc7, 12, 0xff, 0, 0, 0, 0];
        b.extend_from_slice(&i64::MAX.to_be_bytes());
        assert_eq!(decode_msgpack(&b).unwrap(), Value::Null);
        assert_eq!(
            iso_date(-62_198_755_200_000).unwrap(),
            "-000001-01-01T00:00:00.000Z"
        );
        assert_eq!(
            iso_date(253_402_300_800_000).unwrap(),
            "+010000-01-01T00:00:00.000Z"
        );
        assert_eq!(iso_date(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert!(decode_msgpack(&hex("d5ff0000")).is_err());
    }

    #[test]
    fn hostile_input_is_refused() {
        assert_eq!(
            decode_msgpack(&hex("dd7fffffff")),
            Err(Error::LengthTooLarge(0x7fff_ffff))
        );
        assert_eq!(
            decode_msgpack(&hex("dfffffffff")),
            Err(Error::LengthTooLarge(0xffff_ffff))
        );
        assert_eq!(
            decode_msgpack(&hex("dbffffffff")),
            Err(Error::LengthTooLarge(0xffff_ffff))
        );
        assert_eq!(
            decode_msgpack(&hex("c9ffffffff00")),
            Err(Error::LengthTooLarge(0xffff_ffff))
        );
        assert_eq!(
            decode_msgpack(&hex("c1")),
            Err(Error::Invalid("reserved byte 0xc1".into()))
        );
        assert_eq!(decode_msgpack(&hex("9200")), Err(Error::LengthTooLarge(2)));
        assert_eq!(decode_msgpack(&hex("cd01")), Err(Error::Truncated));
        assert_eq!(decode_msgpack(&hex("0000")), Err(Error::TrailingBytes(1)));
        assert_eq!(decode_msgpack(&[]), Err(Error::Truncated));
        let deep = vec![0x91u8; MAX_DEPTH + 2];
        assert_eq!(decode_msgpack(&deep), Err(Error::TooDeep));
        let mut ok = vec![0x91u8; MAX_DEPTH];
        ok.push(0xc0);
        assert!(decode_msgpack(&ok).is_ok());
        assert!(decode_msgpack(&hex("8191c0c0")).is_err());
    }

    #[test]
    fn shared_bytes_are_sliced() {
        let input = Bytes::from(hex("92c403010203a0"));
        let v = decode_msgpack_bytes(&input).unwrap();
        let b = v.as_array().unwrap()[0].as_bin().unwrap().clone();
        assert_eq!(&b[..], &[1, 2, 3]);
        assert_eq!(b.as_ptr(), input[3..].as_ptr());
    }
}
