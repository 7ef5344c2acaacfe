//! Why a message could not be decoded.

use std::fmt;

/// A message from Redis (or a payload from the host) that this codec refuses.
///
/// Every decoder in this crate returns this instead of panicking, whatever the input: a
/// cluster node must survive garbage published by a buggy or hostile peer, and the caller
/// usually only logs the error and drops the message, as Node's adapter does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The input ended in the middle of a value.
    Truncated,
    /// A complete value was followed by more bytes (notepack rejects these too).
    TrailingBytes(usize),
    /// Arrays and maps nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH).
    TooDeep,
    /// A declared array, map, string or binary length is larger than what is left of the
    /// input, so it cannot be honest (checked before anything is allocated).
    LengthTooLarge(u64),
    /// A msgpack byte that no msgpack family uses (`0xc1`) or an ext type this codec cannot
    /// turn into a value.
    Invalid(String),
    /// The text is not JSON.
    Json(String),
    /// A field the protocol requires is absent.
    MissingField(&'static str),
    /// A field has a type the protocol does not allow there.
    WrongType {
        /// The field (or the position, e.g. `broadcast[2]`).
        field: &'static str,
        /// What the protocol allows.
        expected: &'static str,
    },
    /// A `type` number this codec does not know; Node's adapters ignore these, so callers
    /// usually should too.
    UnknownType(i64),
    /// A Socket.IO placeholder that points at no attachment.
    BadPlaceholder(String),
    /// The adapter's configuration is refused (e.g. a Redis URL that does not parse); not a
    /// decoding error, returned by `adapter::redis_adapter` only.
    Config(String),
    /// Redis refused a command or could not be reached (the emitter's calls only).
    Redis(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("input ends in the middle of a value"),
            Error::TrailingBytes(n) => write!(f, "{n} trailing bytes after the value"),
            Error::TooDeep => write!(f, "nesting deeper than {}", crate::MAX_DEPTH),
            Error::LengthTooLarge(n) => {
                write!(f, "declared length {n} exceeds the remaining input")
            }
            Error::Invalid(m) => write!(f, "invalid msgpack: {m}"),
            Error::Json(m) => write!(f, "invalid JSON: {m}"),
            Error::MissingField(name) => write!(f, "missing field `{name}`"),
            Error::WrongType { field, expected } => {
                write!(f, "field `{field}` must be {expected}")
            }
            Error::UnknownType(t) => write!(f, "unknown message type {t}"),
            Error::BadPlaceholder(m) => write!(f, "illegal attachments: {m}"),
            Error::Config(m) => write!(f, "invalid adapter configuration: {m}"),
            Error::Redis(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

/// The result type of this crate's decoders.
pub type Result<T> = std::result::Result<T, Error>;
