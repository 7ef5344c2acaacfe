//! Event arguments as they cross between rtio and a host: a JSON array plus binary
//! attachments referenced from the JSON by Socket.IO placeholders.

use bytes::Bytes;
use serde_json::Value;

/// The arguments of an event or an acknowledgement.
///
/// `json` is always a JSON array. Binary values stay out of the JSON: each one is an
/// attachment, and its place in the JSON holds `{"_placeholder":true,"num":N}` where `N` is
/// its index in [`Payload::attachments`] — exactly Socket.IO's own wire convention, so
/// payloads pass through rtio without being re-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    json: String,
    attachments: Vec<Bytes>,
}

/// A payload could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(pub String);

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PayloadError {}

impl Default for Payload {
    fn default() -> Self {
        Payload::empty()
    }
}

impl Payload {
    /// No arguments.
    pub fn empty() -> Payload {
        Payload {
            json: "[]".into(),
            attachments: Vec::new(),
        }
    }

    /// Arguments from JSON text, which must be an array. Checks the text is valid JSON.
    pub fn from_json(json: impl Into<String>) -> Result<Payload, PayloadError> {
        let json = json.into();
        check_array(&json)
            .map_err(|e| PayloadError(format!("arguments must be a JSON array: {e}")))?;
        Ok(Payload {
            json,
            attachments: Vec::new(),
        })
    }

    /// Arguments from JSON text the caller guarantees is a JSON array (e.g. the output of a
    /// JSON serializer), without checking it again. Invalid text here reaches the clients
    /// as is, so use [`Payload::from_json`] for anything not produced by a serializer.
    pub fn from_json_trusted(json: String) -> Payload {
        Payload {
            json,
            attachments: Vec::new(),
        }
    }

    /// Arguments from values.
    pub fn from_values(values: &[Value]) -> Payload {
        Payload {
            json: serde_json::to_string(values).unwrap_or_else(|_| "[]".into()),
            attachments: Vec::new(),
        }
    }

    /// One argument.
    pub fn one(value: impl Into<Value>) -> Payload {
        Payload::from_values(&[value.into()])
    }

    /// Adds binary attachments; the JSON must reference them with [`Payload::placeholder`].
    pub fn with_attachments(mut self, attachments: Vec<Bytes>) -> Payload {
        self.attachments = attachments;
        self
    }

    /// Builds a payload from parts already checked by the caller (JSON array text).
    pub(crate) fn from_parts_unchecked(json: String, attachments: Vec<Bytes>) -> Payload {
        Payload { json, attachments }
    }

    /// The placeholder object that stands for attachment `num` inside the JSON.
    pub fn placeholder(num: usize) -> Value {
        serde_json::json!({"_placeholder": true, "num": num})
    }

    /// The JSON array text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The binary attachments, in placeholder order.
    pub fn attachments(&self) -> &[Bytes] {
        &self.attachments
    }

    /// Splits into JSON text and attachments.
    pub fn into_parts(self) -> (String, Vec<Bytes>) {
        (self.json, self.attachments)
    }

    /// The arguments parsed as values (placeholders stay placeholders).
    pub fn values(&self) -> Vec<Value> {
        serde_json::from_str(&self.json).unwrap_or_default()
    }

    /// The first argument, or `Value::Null` when there is none (the others are skipped, not
    /// parsed into values).
    pub fn first(&self) -> Value {
        let mut de = serde_json::Deserializer::from_str(&self.json);
        serde::de::Deserializer::deserialize_seq(&mut de, FirstOf::<Value>::new())
            .ok()
            .flatten()
            .unwrap_or(Value::Null)
    }
}

/// Reads a JSON array, keeping its first element as a `T` and skipping the others without
/// building anything.
struct FirstOf<T>(std::marker::PhantomData<T>);

impl<T> FirstOf<T> {
    fn new() -> Self {
        FirstOf(std::marker::PhantomData)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::de::Visitor<'de> for FirstOf<T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Option<T>, A::Error> {
        let first = seq.next_element::<T>()?;
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(first)
    }
}

/// Checks that `json` is one JSON array, reading it without building anything.
fn check_array(json: &str) -> Result<(), serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde::de::Deserializer::deserialize_seq(&mut de, FirstOf::<serde::de::IgnoredAny>::new())?;
    de.end()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_checks() {
        assert!(Payload::from_json("{}").is_err());
        assert!(Payload::from_json("[1,").is_err());
        assert!(Payload::from_json("[1] [2]").is_err());
        assert!(Payload::from_json("[1, {\"a\": tru}]").is_err());
        assert!(Payload::from_json(" [ ] ").is_ok());
        let p = Payload::from_json("[1, \"a\"]").unwrap();
        assert_eq!(p.values(), vec![Value::from(1), Value::from("a")]);
        assert_eq!(Payload::one("x").json(), "[\"x\"]");
        assert_eq!(Payload::empty().first(), Value::Null);
        assert_eq!(p.first(), Value::from(1));
        let nested = Payload::from_json("[{\"a\":[1,2]}, [3, {\"b\":4}], \"c\"]").unwrap();
        assert_eq!(nested.first(), serde_json::json!({"a": [1, 2]}));
    }
}
