//! The wire codec of the Socket.IO Redis adapter protocol, so that an rtio node can sit in
//! one Redis-backed cluster with Node `socket.io` nodes running `@socket.io/redis-adapter`
//! 8.x and take pushes from `@socket.io/redis-emitter` 5.x (and the PHP and other emitters
//! that copy it).
//!
//! The codec does no IO: it turns bytes published on a channel into typed messages and
//! back, and names the channels. The IO half, [`link`] (feature `link`, on by default), is
//! separate: a [`link::RedisLink`] keeps the publisher and subscriber connections on the
//! caller's tokio runtime and moves bytes, reconnecting and resubscribing on its own. The
//! adapter itself, [`adapter`] (feature `adapter`, on by default), plugs both into the `rtio`
//! core as an `AdapterFactory`. `default-features = false` leaves the codec alone, without a
//! Redis client, tokio or the core; [`from_socketio`] / [`to_socketio`] meet the core's
//! `Payload` (JSON text with `{"_placeholder":true,"num":N}` plus attachments) halfway.
//!
//! - [`classic`]: the default adapter and the emitter: broadcasts ([`ClassicBroadcast`]),
//!   requests ([`ClassicRequest`]) and responses ([`ClassicResponse`]).
//! - [`sharded`]: `createShardedAdapter` (Redis 7 sharded Pub/Sub): [`ShardedMessage`].
//! - [`emitter`] (feature `adapter`): pushes into a cluster from a process without a server,
//!   like `@socket.io/redis-emitter`.
//!
//! Decoding is lenient in what Node itself accepts or other emitters send (any key order,
//! missing `except`/`flags`/`uid`/`packet.nsp`, packet type 5, numeric rooms, every msgpack
//! family, notepack's ext types, JSON where msgpack is usual) and strict about everything
//! else: hostile input gives an [`Error`], never a panic, and never an allocation larger
//! than a small multiple of the input. Encoding is byte-for-byte what adapter 8.3.0 with
//! notepack.io 3 writes, checked against messages captured from real Node peers
//! (`shared/redis-vectors`).
//!
//! ```
//! use rtio_redis::{classic, to_socketio, ClassicBroadcast, Packet, Opts, Value};
//!
//! // What a Node node publishes for `io.to("r1").emit("ev", Buffer.from([1, 2, 3]))`.
//! let msg = ClassicBroadcast {
//!     uid: "HGB7w0".into(),
//!     packet: Packet::event(vec![Value::from("ev"), Value::Bin(vec![1u8, 2, 3].into())], "/"),
//!     opts: Opts::to_rooms(["r1"]),
//! };
//! assert_eq!(msg.channel("socket.io"), classic::broadcast_channel("socket.io", "/", Some("r1")));
//! let bytes = msg.encode();
//!
//! // On the receiving node: decode, then hand the arguments to local sockets in the core's
//! // form (JSON text with placeholders + attachments).
//! let got = ClassicBroadcast::decode(&bytes)?;
//! let (json, attachments) = to_socketio(&Value::Array(got.packet.data));
//! assert_eq!(json, r#"["ev",{"_placeholder":true,"num":0}]"#);
//! assert_eq!(&attachments[0][..], &[1, 2, 3]);
//! # Ok::<(), rtio_redis::Error>(())
//! ```
//!
//! JavaScript's `undefined` has no place in [`Value`]: notepack writes it as `nil` (or
//! omits it as a map value), so it decodes as [`Value::Null`]; typed fields that a peer may
//! leave undefined are `Option`s and are omitted when `None`, as Node omits them.

#![warn(missing_docs)]

#[cfg(feature = "adapter")]
pub mod adapter;
pub mod classic;
#[cfg(feature = "adapter")]
pub mod emitter;
mod encode;
mod error;
mod json;
#[cfg(feature = "link")]
pub mod link;
mod msgpack;
pub mod sharded;
mod socketio;
mod types;
mod value;

pub use classic::{ClassicBroadcast, ClassicRequest, ClassicRequestKind, ClassicResponse};
pub use error::{Error, Result};
pub use json::{decode_json, encode_json, js_number, to_serde_json};
pub use msgpack::{decode_msgpack, decode_msgpack_bytes, encode_msgpack};
pub use sharded::{MessageType, ShardedKind, ShardedMessage, SubscriptionMode};
pub use socketio::{from_socketio, to_socketio};
pub use types::{Flags, Handshake, Opts, Packet, PacketType, RemoteSocket};
pub use value::Value;

/// How deeply arrays and maps may nest in a decoded message (the same limit as
/// `serde_json`'s, which the JSON side uses): deep enough for any real payload, shallow
/// enough that recursive decoding, dropping and re-encoding cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;
