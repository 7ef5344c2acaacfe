//! A JSON-like value that can also hold binary, the common ground of the three encodings
//! this crate meets: msgpack (notepack.io), JSON text, and Socket.IO's JSON-plus-attachments.

use bytes::Bytes;

/// 2^63 and 2^64, the bounds of the integer conversions (both exact in `f64`).
pub(crate) const TWO_63: f64 = 9_223_372_036_854_775_808.0;
pub(crate) const TWO_64: f64 = 18_446_744_073_709_551_616.0;

/// One value of a Redis adapter message: what a JavaScript peer would see after decoding.
///
/// Why not `serde_json::Value`: it cannot hold binary, which the msgpack format carries
/// inline, and (without the `preserve_order` feature, which would change the core crate's
/// maps too) it sorts object keys, while byte compatibility with Node needs the key order
/// of the original object.
///
/// Numbers keep the distinction msgpack makes (integer or float) so that they re-encode in
/// the same family, but compare as JavaScript numbers: `Int(1) == UInt(1) == Float(1.0)`.
/// Maps compare in order (two maps with the same entries in another order differ, since
/// they encode to different bytes). A map may hold the same key twice when a peer sent it
/// so; lookups then see the last one, as a JavaScript object would.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// `null` (also what `undefined` becomes, see the crate docs).
    #[default]
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64` (decoders always use this one when it fits).
    Int(i64),
    /// An integer above `i64::MAX`.
    UInt(u64),
    /// A number written as a float (msgpack float32/64, JSON with a fraction or exponent);
    /// encoders write integral floats as integers, as notepack and `JSON.stringify` do,
    /// since JavaScript does not tell them apart.
    Float(f64),
    /// A UTF-8 string.
    Str(String),
    /// Binary data (a Node `Buffer`, `ArrayBuffer` or typed array).
    Bin(Bytes),
    /// An array.
    Array(Vec<Value>),
    /// An object, entries in their original order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// The number as `f64`, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The number as `i64` if it is an integer (or an integral float) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::UInt(u) => i64::try_from(u).ok(),
            Value::Float(f) if f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f) => Some(f as i64),
            _ => None,
        }
    }

    /// The number as `u64` if it is a non-negative integer (or integral float) that fits.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::Int(i) => u64::try_from(i).ok(),
            Value::UInt(u) => Some(u),
            Value::Float(f) if f.fract() == 0.0 && (0.0..TWO_64).contains(&f) => Some(f as u64),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes, if this is binary.
    pub fn as_bin(&self) -> Option<&Bytes> {
        match self {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The entries, if this is a map.
    pub fn as_map(&self) -> Option<&[(String, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The value of `key` in a map (the last one if the key repeats, as in JavaScript).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether this is `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether binary appears anywhere inside: the sharded adapter picks msgpack over JSON
    /// on exactly this test (socket.io-adapter's `hasBinary`).
    pub fn has_binary(&self) -> bool {
        match self {
            Value::Bin(_) => true,
            Value::Array(a) => a.iter().any(Value::has_binary),
            Value::Map(m) => m.iter().any(|(_, v)| v.has_binary()),
            _ => false,
        }
    }

    /// A map from `(key, value)` pairs, in the given order.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (UInt(a), UInt(b)) => a == b,
            (Int(a), UInt(b)) | (UInt(b), Int(a)) => u64::try_from(*a) == Ok(*b),
            (Float(a), Float(b)) => a == b,
            // Exact for every integer: compare on the integer side.
            (Float(f), Int(i)) | (Int(i), Float(f)) => Float(*f).as_i64() == Some(*i),
            (Float(f), UInt(u)) | (UInt(u), Float(f)) => Float(*f).as_u64() == Some(*u),
            (Str(a), Str(b)) => a == b,
            (Bin(a), Bin(b)) => a == b,
            (Array(a), Array(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            _ => false,
        }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Value {
        Value::Int(i.into())
    }
}

impl From<u32> for Value {
    fn from(u: u32) -> Value {
        Value::Int(u.into())
    }
}

impl From<u64> for Value {
    fn from(u: u64) -> Value {
        match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::UInt(u),
        }
    }
}

impl From<usize> for Value {
    fn from(u: usize) -> Value {
        Value::from(u as u64)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Value {
        Value::Float(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<Bytes> for Value {
    fn from(b: Bytes) -> Value {
        Value::Bin(b)
    }
}

impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Value {
        o.map_or(Value::Null, Into::into)
    }
}

/// Conversion from `serde_json::Value`, for hosts that hold their data that way (object keys
/// come in `serde_json`'s order).
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    Value::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(m) => {
                Value::Map(m.into_iter().map(|(k, v)| (k, Value::from(v))).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_like_javascript() {
        assert_eq!(Value::Int(1), Value::UInt(1));
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::UInt(u64::MAX), Value::UInt(u64::MAX));
        assert_ne!(Value::Int(-1), Value::UInt(u64::MAX));
        assert_ne!(Value::Int(1), Value::Float(1.5));
        assert_ne!(Value::Int(i64::MAX), Value::Float(i64::MAX as f64));
        assert_ne!(Value::Int(1), Value::Str("1".into()));
    }

    #[test]
    fn lookups_see_the_last_duplicate() {
        let m = Value::map([("a", Value::Int(1)), ("a", Value::Int(2))]);
        assert_eq!(m.get("a"), Some(&Value::Int(2)));
        assert!(Value::Array(vec![Value::map([("b", Value::Bin(Bytes::new()))])]).has_binary());
        assert!(!Value::Array(vec![Value::Null]).has_binary());
    }
}
