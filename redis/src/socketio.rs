//! Between the Redis form (binary inline) and Socket.IO's own form (JSON text with
//! `{"_placeholder":true,"num":N}` standing for attachment `N`), which is what rtio's core
//! `Payload` holds (`payload.json()` + `payload.attachments()`).

use bytes::Bytes;

use crate::encode::Sink;
use crate::error::{Error, Result};
use crate::json::{decode_json, BinMode, JsonWriter};
use crate::value::Value;

/// Reads Socket.IO JSON text and its attachments into one value with the binaries put back
/// in place, as socket.io-parser's `reconstructPacket` does: any object whose
/// `_placeholder` is `true` is replaced by attachment `num`, and a `num` that is not an
/// index of `attachments` is an error (socket.io-parser's "illegal attachments").
pub fn from_socketio(json: &str, attachments: &[Bytes]) -> Result<Value> {
    let mut value = decode_json(json.as_bytes())?;
    if !attachments.is_empty() || json.contains("_placeholder") {
        reconstruct(&mut value, attachments)?;
    }
    Ok(value)
}

/// Writes a value as Socket.IO JSON text plus attachments: each binary becomes a
/// placeholder numbered in order of appearance (depth first, arrays by index, objects in
/// key order, as socket.io-parser's `deconstructPacket`), so the result is exactly what a
/// Node server would put on the wire for the same value.
pub fn to_socketio(value: &Value) -> (String, Vec<Bytes>) {
    let mut w = JsonWriter::new(BinMode::Placeholder(Vec::new()));
    w.value(value);
    let attachments = match w.bin {
        BinMode::Placeholder(a) => a,
        BinMode::BufferJson => Vec::new(),
    };
    (w.out, attachments)
}

fn reconstruct(value: &mut Value, attachments: &[Bytes]) -> Result<()> {
    match value {
        Value::Array(a) => a.iter_mut().try_for_each(|v| reconstruct(v, attachments)),
        Value::Map(_) if value.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = value.get("num").cloned().unwrap_or_default();
            let bytes = num
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| attachments.get(n))
                .ok_or_else(|| {
                    Error::BadPlaceholder(format!(
                        "placeholder num {num:?} with {} attachments",
                        attachments.len()
                    ))
                })?;
            *value = Value::Bin(bytes.clone());
            Ok(())
        }
        Value::Map(m) => m
            .iter_mut()
            .try_for_each(|(_, v)| reconstruct(v, attachments)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_placeholders_in_order() {
        let a = Bytes::from_static(&[1, 2, 3]);
        let b = Bytes::from_static(&[4]);
        let v = Value::Array(vec![
            Value::from("ev"),
            Value::map([
                ("x", Value::Bin(a.clone())),
                (
                    "y",
                    Value::Array(vec![Value::Bin(b.clone()), Value::Float(0.5)]),
                ),
            ]),
        ]);
        let (json, att) = to_socketio(&v);
        assert_eq!(
            json,
            r#"["ev",{"x":{"_placeholder":true,"num":0},"y":[{"_placeholder":true,"num":1},0.5]}]"#
        );
        assert_eq!(att, vec![a, b]);
        assert_eq!(from_socketio(&json, &att).unwrap(), v);
    }

    #[test]
    fn bad_placeholders_are_refused() {
        let one = [Bytes::from_static(b"x")];
        assert!(from_socketio(r#"[{"_placeholder":true,"num":1}]"#, &one).is_err());
        assert!(from_socketio(r#"[{"_placeholder":true,"num":-1}]"#, &one).is_err());
        assert!(from_socketio(r#"[{"_placeholder":true,"num":"0"}]"#, &one).is_err());
        assert!(from_socketio(r#"[{"_placeholder":true}]"#, &one).is_err());
        // `_placeholder` other than `true` is ordinary data.
        let v = from_socketio(r#"[{"_placeholder":1,"num":0}]"#, &[]).unwrap();
        assert_eq!(v.as_array().unwrap()[0].get("num"), Some(&Value::Int(0)));
        assert!(from_socketio("[", &[]).is_err());
    }
}
