//! Shared by the integration tests: the golden vectors captured from Node peers.

#![allow(dead_code)]

use std::path::PathBuf;

use bytes::Bytes;
use rtio_redis::{decode_json, Value};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One captured Redis message.
pub struct Vector {
    /// File and line, for failure messages.
    pub origin: String,
    pub channel: String,
    /// `json` or `msgpack`.
    pub enc: String,
    pub bytes: Vec<u8>,
    /// The decoded form, binaries as `{"$bin": hex}` turned back into `Value::Bin`.
    pub decoded: Value,
}

#[derive(Deserialize)]
struct Line<'a> {
    channel: String,
    enc: String,
    hex: String,
    #[serde(borrow)]
    decoded: &'a RawValue,
}

/// `../shared/redis-vectors` beside the repository (CI lays `shared/` there), or the folder
/// named by `RTIO_REDIS_VECTORS`.
pub fn vectors_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RTIO_REDIS_VECTORS") {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/redis-vectors")
}

/// Loads `vectors-{name}.jsonl`; panics (fails the test) when it is missing, so that a
/// missing `shared/` can never pass silently.
pub fn load(name: &str) -> Vec<Vector> {
    let path = vectors_dir().join(format!("vectors-{name}.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden vectors missing: cannot read {} ({e}). They live in shared/redis-vectors \
             beside the repository (or set RTIO_REDIS_VECTORS to their folder).",
            path.display()
        )
    });
    let vectors: Vec<Vector> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let origin = format!("vectors-{name}.jsonl:{}", i + 1);
            let line: Line = serde_json::from_str(l).unwrap_or_else(|e| panic!("{origin}: {e}"));
            let decoded = decode_json(line.decoded.get().as_bytes())
                .unwrap_or_else(|e| panic!("{origin}: decoded: {e}"));
            Vector {
                bytes: unhex(&line.hex),
                decoded: unbin(decoded),
                channel: line.channel,
                enc: line.enc,
                origin,
            }
        })
        .collect();
    assert!(!vectors.is_empty(), "{} holds no vector", path.display());
    vectors
}

pub fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `{"$bin": "0102"}` → `Value::Bin`.
fn unbin(v: Value) -> Value {
    match v {
        Value::Map(m) if m.len() == 1 && m[0].0 == "$bin" => match &m[0].1 {
            Value::Str(h) => Value::Bin(Bytes::from(unhex(h))),
            _ => Value::Map(m),
        },
        Value::Map(m) => Value::Map(m.into_iter().map(|(k, v)| (k, unbin(v))).collect()),
        Value::Array(a) => Value::Array(a.into_iter().map(unbin).collect()),
        v => v,
    }
}
