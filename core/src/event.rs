//! Events delivered to the host, and the reasons they carry.

use std::sync::Arc;

use crate::adapter::{AckAnswer, ClusterError, SocketInfo};
use crate::engineio::{CloseReason, Handshake, RequestInfo};
use crate::payload::Payload;

/// Why a socket left its namespace, named as Socket.IO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The client disconnected the socket (`socket.disconnect()` on the client).
    ClientNamespaceDisconnect,
    /// The server disconnected the socket ([`crate::Io::disconnect`]).
    ServerNamespaceDisconnect,
    /// The connection closed (the client went away or closed it).
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The client stopped answering pings.
    PingTimeout,
    /// The client sent a malformed packet.
    ParseError,
    /// The server closed the connection.
    ForcedClose,
    /// The server is stopping.
    ServerShuttingDown,
    /// The client read too slowly and its send queue reached its bound.
    SendQueueFull,
}

impl DisconnectReason {
    /// The reason as Socket.IO spells it (e.g. `"client namespace disconnect"`).
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::SendQueueFull => "send queue full",
        }
    }
}

impl From<CloseReason> for DisconnectReason {
    fn from(r: CloseReason) -> Self {
        match r {
            CloseReason::TransportClose => DisconnectReason::TransportClose,
            CloseReason::TransportError => DisconnectReason::TransportError,
            CloseReason::PingTimeout => DisconnectReason::PingTimeout,
            CloseReason::ParseError => DisconnectReason::ParseError,
            CloseReason::ForcedClose => DisconnectReason::ForcedClose,
            CloseReason::ServerShutdown => DisconnectReason::ServerShuttingDown,
            CloseReason::SendQueueFull => DisconnectReason::SendQueueFull,
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an acknowledgement the server asked for did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// The timeout passed first; a later ack from the client is ignored.
    Timeout,
    /// The socket disconnected before answering.
    Disconnected,
}

impl std::fmt::Display for AckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AckError::Timeout => "operation has timed out",
            AckError::Disconnected => "socket has been disconnected",
        })
    }
}

/// Something the host should react to. Events of one socket arrive in order.
#[derive(Debug, Clone)]
pub enum Event {
    /// An HTTP request asks to open an Engine.IO session (or, with
    /// [`crate::CorsOrigins::Host`], any request without a session id, CORS preflights
    /// included): socket.io's `allowRequest`. Sent only when [`crate::Config::request_gate`]
    /// is on or the CORS policy is [`crate::CorsOrigins::Host`]. Answer with
    /// [`crate::Io::answer_request`] within [`crate::Config::request_gate_timeout`], after
    /// which the request is refused with 403.
    Request {
        /// Pass this to `answer_request`.
        request: u64,
        /// The request: method, URL, headers, address, transport.
        info: Arc<RequestInfo>,
    },
    /// A client asks to join a namespace configured with middleware. Answer with
    /// [`crate::Io::accept`] or [`crate::Io::reject`]; until then the client waits (up to
    /// the connect timeout, after which it is refused).
    ConnectRequest {
        /// Pass this to `accept` / `reject`.
        request: u64,
        /// The id the socket has (and keeps if accepted). While the request is pending the
        /// socket already exists: emits, rooms and acks work on it, and what is sent to it
        /// follows the connect packet on accept. If refused, it vanishes (with what was sent
        /// to it) without an [`Event::Disconnect`].
        sid: Arc<str>,
        /// The namespace asked for.
        nsp: Arc<str>,
        /// The handshake auth object as JSON text (`{}` when none was sent).
        auth: String,
        /// The connection's handshake.
        handshake: Arc<Handshake>,
    },
    /// A socket joined a namespace.
    Connect {
        /// The new socket's id (unique across namespaces).
        sid: Arc<str>,
        /// Its namespace.
        nsp: Arc<str>,
        /// The handshake auth object as JSON text (`{}` when none was sent).
        auth: String,
        /// The connection's handshake.
        handshake: Arc<Handshake>,
        /// The socket came back with connection state recovery ([`crate::Config::recovery`]):
        /// same id, rooms and data as before its connection broke, and the events emitted to
        /// it meanwhile already sent (socket.io's `socket.recovered`).
        recovered: bool,
    },
    /// A client emitted an event.
    Message {
        /// The sending socket.
        sid: Arc<str>,
        /// Its namespace.
        nsp: Arc<str>,
        /// The event name.
        event: String,
        /// The arguments.
        payload: Payload,
        /// When set, the client waits for an ack: answer with [`crate::Io::ack`].
        ack: Option<u64>,
    },
    /// A socket left its namespace.
    Disconnect {
        /// The socket.
        sid: Arc<str>,
        /// Its namespace.
        nsp: Arc<str>,
        /// Why.
        reason: DisconnectReason,
        /// The rooms it was in when it left, its own room (its id) first: what socket.io's
        /// `disconnecting` handlers see in `socket.rooms`. It is in none of them any more.
        rooms: Vec<String>,
    },
    /// The answer to [`crate::Io::emit_with_ack`]: exactly one per call (the client's ack,
    /// or [`AckError::Timeout`], or [`AckError::Disconnected`] right after the socket's
    /// [`Event::Disconnect`]).
    AckResponse {
        /// The token `emit_with_ack` returned.
        token: u64,
        /// The socket asked.
        sid: Arc<str>,
        /// The client's ack arguments, or why none came.
        result: Result<Payload, AckError>,
    },
    /// The answer to [`crate::Broadcast::emit_with_ack`]: exactly one per call, once every
    /// socket reached (on every server) answered, or at the timeout with the answers that
    /// came. A socket that disconnects before answering leaves the broadcast to its timeout,
    /// as in socket.io.
    BroadcastAckResponse {
        /// The token `emit_with_ack` returned.
        token: u64,
        /// The answers, in the order they came.
        answers: Vec<AckAnswer>,
        /// `None` when every answer came; else why not ([`ClusterError::Timeout`]...).
        error: Option<ClusterError>,
    },
    /// The answer to [`crate::Io::fetch_sockets`]: exactly one per call, with the sockets
    /// of every server that answered (this server's are always in), and the error when a
    /// server did not answer in [`crate::Config::cluster_timeout`].
    FetchSocketsResponse {
        /// The token `fetch_sockets` returned.
        token: u64,
        /// The selected sockets.
        sockets: Vec<SocketInfo>,
        /// `None` when every server answered.
        error: Option<ClusterError>,
    },
    /// An event another server of the cluster sent with [`crate::Io::server_side_emit`]
    /// (or socket.io's `serverSideEmit`). Never sent with the default local adapter.
    ServerSideEmit {
        /// The namespace it was sent on.
        nsp: Arc<str>,
        /// The event name.
        event: String,
        /// The arguments.
        payload: Payload,
        /// When set, the sender waits for an answer: give it with
        /// [`crate::Io::server_side_ack`] (within [`crate::Config::cluster_timeout`]).
        ack: Option<u64>,
    },
    /// The answer to [`crate::Io::server_side_emit_with_ack`]: exactly one per call, with
    /// one answer per other server (none on a single server, at once).
    ServerSideAckResponse {
        /// The token `server_side_emit_with_ack` returned.
        token: u64,
        /// The other servers' answers, in the order they came.
        answers: Vec<Payload>,
        /// `None` when every other server answered.
        error: Option<ClusterError>,
    },
    /// The answer to [`crate::Io::handle_request`]: exactly one per call, for the host to
    /// write to the client that sent the request.
    HttpResponse {
        /// The token `handle_request` returned.
        token: u64,
        /// Status, headers and body.
        response: crate::HttpResponse,
    },
    /// rtio's answer to the handshake of [`crate::Io::open_websocket`]: exactly one per
    /// call. Status 101: the host accepts the WebSocket; any other: it refuses it (that
    /// status, headers and body are the refusal rtio's own listener would send).
    WebSocketAnswer {
        /// The id `open_websocket` returned.
        id: u64,
        /// The answer.
        response: crate::HttpResponse,
    },
    /// A message for the client of WebSocket `id` ([`crate::Io::open_websocket`]), in order.
    WebSocketSend {
        /// The WebSocket.
        id: u64,
        /// What to send.
        message: crate::WsMessage,
    },
    /// rtio ended WebSocket `id`: the host closes it with `code` (nothing more comes for it).
    WebSocketClose {
        /// The WebSocket.
        id: u64,
        /// The close code to send the client (RFC 6455 §7.4): 1000 for a normal end,
        /// 1009 for a message over `max_payload`, 1002 / 1007 for a protocol violation,
        /// 1011 when rtio's end broke off without one.
        code: u16,
    },
    /// The answer to [`crate::Io::server_count`]: exactly one per call.
    ServerCountResponse {
        /// The token `server_count` returned.
        token: u64,
        /// How many servers serve the namespace, this one included (1 with the default
        /// local adapter).
        result: Result<usize, ClusterError>,
    },
}
