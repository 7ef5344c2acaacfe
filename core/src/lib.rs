//! # rtio
//!
//! An embeddable Socket.IO server: Engine.IO v4 and Socket.IO v5 over WebSocket and HTTP
//! long-polling (with upgrade), running on its own runtime thread, so any host program —
//! Rust, C, Python, Node — serves the official Socket.IO clients.
//!
//! Start a [`Server`] with a [`Config`]; read [`Event`]s from [`Server::events`] on your own
//! thread (or `recv_async` on your own runtime); act with the [`Io`] handle from any thread.
//! Host code never runs on rtio's IO threads, and no `Io` method blocks on IO.
//!
//! ```no_run
//! use rtio::{Config, Event, Payload, Server};
//!
//! let server = Server::start(Config::default().port(3000)).expect("listening");
//! let io = server.io();
//! while let Ok(event) = server.events().recv() {
//!     match event {
//!         Event::Connect { sid, .. } => { io.emit(&sid, "hello", &Payload::one("world")).ok(); }
//!         Event::Message { sid, event, payload, ack: Some(id), .. } if event == "echo" => {
//!             io.ack(&sid, id, &payload).ok();
//!         }
//!         _ => {}
//!     }
//! }
//! ```

pub mod adapter;
mod bell;
mod by_id;
mod config;
pub mod engineio;
mod event;
mod http;
mod intake;
mod payload;
mod runtime;
mod server;
pub mod socketio;
mod timers;
mod tls;

pub use adapter::{AckAnswer, ClusterError, Selector, SocketInfo};
pub use config::{
    Config, Cookie, CorsOrigins, EventReadyHook, NamespaceConfig, Parser, Recovery, RouteFuture,
    Routes,
};
pub use engineio::{Refusal, RequestAnswer, RequestInfo};
pub use event::{AckError, DisconnectReason, Event};
pub use intake::{HttpRequest, HttpResponse, WsMessage};
pub use payload::{Payload, PayloadError};
pub use server::{Broadcast, Events, Io, Server, Stats};
pub use tls::TlsFiles;

/// The WebSocket frame reader and the Engine.IO v3 payload codec, for rtio's own fuzz tests (`core/tests/fuzz_decoders.rs`):
/// not a stable API. (The Engine.IO and Socket.IO decoders are public already, in
/// [`engineio::packet`] and [`socketio::packet`].)
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::engineio::v3::{
        decode_payload as decode_v3_payload, encode_payload as encode_v3_payload,
    };
    pub use crate::engineio::ws_conn::{Message as WsMessage, ReadEnd, WsConn};
}

/// What went wrong. Every fallible call of rtio returns one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The server was stopped; the call did nothing.
    Stopped,
    /// The address could not be bound (in use, not an address of this host...).
    Bind(String),
    /// An I/O error: the operating system's, or an adapter's that could not get ready
    /// (e.g. its message broker is unreachable).
    Io(String),
    /// A bad argument (the message says which).
    InvalidArgument(String),
    /// No connected socket has this id.
    UnknownSocket(String),
    /// No namespace of this name is configured.
    UnknownNamespace(String),
    /// No connect request or gated request with this id is pending (already answered or
    /// timed out).
    UnknownRequest(u64),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Stopped => f.write_str("the server is stopped"),
            Error::Bind(m) => write!(f, "cannot listen on {m}"),
            Error::Io(m) => write!(f, "I/O error: {m}"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            Error::UnknownSocket(s) => write!(f, "no connected socket with id {s:?}"),
            Error::UnknownNamespace(n) => write!(f, "no namespace {n:?}"),
            Error::UnknownRequest(r) => write!(f, "no pending request {r}"),
        }
    }
}

impl std::error::Error for Error {}
