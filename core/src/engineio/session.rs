//! One Engine.IO session: its bounded send queue, its transport state and its handshake data.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use super::packet::Frame;
use super::signal::Signal;

/// Why an Engine.IO session ended. The names are the ones Engine.IO and Socket.IO report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the transport or sent a close packet.
    TransportClose,
    /// The transport failed (e.g. a message over `max_payload`, a request overlap).
    TransportError,
    /// No pong arrived within the ping timeout.
    PingTimeout,
    /// The client sent bytes that are not a valid packet.
    ParseError,
    /// The server closed the session (e.g. a server-side disconnect).
    ForcedClose,
    /// The server is stopping.
    ServerShutdown,
    /// The client read too slowly and its send queue hit its bound.
    SendQueueFull,
}

impl CloseReason {
    /// The reason as Socket.IO spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
            CloseReason::SendQueueFull => "send queue full",
        }
    }
}

impl CloseReason {
    /// True when the server closed the session itself (a server-side disconnect, a stop):
    /// what it queued before closing (e.g. a disconnect packet) still goes out. Any other
    /// close drops the session at once, as engine.io does.
    pub fn is_server_initiated(self) -> bool {
        matches!(self, CloseReason::ForcedClose | CloseReason::ServerShutdown)
    }

    const ALL: [CloseReason; 7] = [
        CloseReason::TransportClose,
        CloseReason::TransportError,
        CloseReason::PingTimeout,
        CloseReason::ParseError,
        CloseReason::ForcedClose,
        CloseReason::ServerShutdown,
        CloseReason::SendQueueFull,
    ];

    /// A non-zero code, so 0 can mean "open" in an atomic.
    fn code(self) -> u8 {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8 + 1
    }

    fn from_code(code: u8) -> Option<CloseReason> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The transport a session currently sends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    WebSocket,
}

/// The Engine.IO protocol revision a session's client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Engine.IO v4 (socket.io-client 3 and later).
    V4,
    /// Engine.IO v3 (socket.io-client 2.x, `EIO=3`, accepted with `Config::allow_eio3`);
    /// `b64`: the client takes binary only as base64 text in polling payloads (`b64=1`).
    V3 { b64: bool },
}

/// What the client sent when it opened the session.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// The request headers of the opening request.
    pub headers: Headers,
    /// The raw query string of the opening request (without `?`).
    pub query: String,
    /// When the session opened, as milliseconds since the Unix epoch.
    pub issued_ms: u64,
    /// The connection came over TLS (`https` / `wss`): socket.io's `handshake.secure`.
    /// True when the host that handed the request over terminated TLS
    /// ([`crate::HttpRequest::secure`]).
    pub secure: bool,
}

/// Request headers as a session keeps them for its whole life: every name (lower case, as
/// HTTP/1 parsing gives them) and value in one buffer, in request order, repeated names
/// repeated. About a third of a `HeaderMap`'s memory, which is per idle connection.
#[derive(Clone, Default)]
pub struct Headers {
    bytes: Box<[u8]>,
    /// Per header: where its name ends and where its value ends in `bytes`.
    ends: Box<[(u32, u32)]>,
}

impl Headers {
    /// Number of header lines (a repeated name counts each time).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// `(name, value)` of each header line, in request order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        let mut start = 0usize;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let (name_end, value_end) = (name_end as usize, value_end as usize);
            // Names come from `HeaderName::as_str`, so they are ASCII.
            let name = std::str::from_utf8(&self.bytes[start..name_end]).unwrap_or("");
            let value = &self.bytes[name_end..value_end];
            start = value_end;
            (name, value)
        })
    }

    /// The value of the first header of this name (lower case).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Headers from `(name, value)` pairs, in order (names are lower-cased, as HTTP/1
    /// parsing gives them). For handshakes that did not come through this server, e.g. a
    /// socket another server of a cluster describes.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> Headers {
        let mut bytes = Vec::new();
        let mut ends = Vec::new();
        for (name, value) in pairs {
            bytes.extend(name.as_ref().bytes().map(|b| b.to_ascii_lowercase()));
            let name_end = bytes.len() as u32;
            bytes.extend_from_slice(value.as_ref());
            ends.push((name_end, bytes.len() as u32));
        }
        Headers {
            bytes: bytes.into(),
            ends: ends.into(),
        }
    }
}

impl From<&hyper::HeaderMap> for Headers {
    fn from(map: &hyper::HeaderMap) -> Headers {
        let size = map.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
        let mut bytes = Vec::with_capacity(size);
        let mut ends = Vec::with_capacity(map.len());
        for (name, value) in map {
            bytes.extend_from_slice(name.as_str().as_bytes());
            let name_end = bytes.len() as u32;
            bytes.extend_from_slice(value.as_bytes());
            ends.push((name_end, bytes.len() as u32));
        }
        Headers {
            bytes: bytes.into(),
            ends: ends.into(),
        }
    }
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

/// The bit of `Session::closed` that says queued frames are still delivered.
const FLUSH: u8 = 0x80;

struct SendQueue {
    frames: VecDeque<Frame>,
    bytes: usize,
}

/// Result of queueing frames on a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// The frames are queued.
    Ok,
    /// The session is closed; nothing was queued.
    Closed,
    /// The queue bound was hit: the session must be closed as a slow client.
    Overflow,
}

/// A live Engine.IO session.
pub struct Session {
    /// The session id (`sid` of the handshake).
    pub sid: Arc<str>,
    /// What the client sent when it opened the session.
    pub handshake: Arc<Handshake>,
    queue: Mutex<SendQueue>,
    max_frames: usize,
    max_bytes: usize,
    transport: AtomicU8,
    /// True from the moment a WebSocket claimed the upgrade until it failed (see
    /// [`Session::claim_upgrade`]).
    upgrade_claimed: AtomicBool,
    upgrading: AtomicBool,
    /// 0 while open, else the [`CloseReason::code`], with [`FLUSH`] when what is queued
    /// still goes out (checked on every send, lock-free).
    closed: AtomicU8,
    /// Wakes the long-polling GET waiting for frames.
    pub(crate) poll_wake: Notify,
    /// Wakes the WebSocket writer (its one waiter).
    pub(crate) ws_wake: Signal,
    /// True from a ping until its pong (see `Engine::heartbeats`).
    pub(crate) awaiting_pong: AtomicBool,
    /// True while a long-polling GET is waiting on this session.
    pub(crate) poll_active: AtomicBool,
    /// True while a long-polling POST is being processed.
    pub(crate) post_active: AtomicBool,
    /// Whether the handshake's origin was allowed cross-origin access (kept for the
    /// session's requests from the same origin, with [`crate::CorsOrigins::Host`]).
    pub(crate) cross_origin: bool,
    /// The protocol revision of the client.
    pub protocol: Protocol,
}

impl Session {
    pub(crate) fn new(
        sid: Arc<str>,
        handshake: Arc<Handshake>,
        protocol: Protocol,
        transport: Transport,
        max_frames: usize,
        max_bytes: usize,
        cross_origin: bool,
    ) -> Session {
        Session {
            sid,
            handshake,
            queue: Mutex::new(SendQueue {
                frames: VecDeque::new(),
                bytes: 0,
            }),
            max_frames,
            max_bytes,
            transport: AtomicU8::new(transport as u8),
            upgrade_claimed: AtomicBool::new(false),
            upgrading: AtomicBool::new(false),
            closed: AtomicU8::new(0),
            poll_wake: Notify::new(),
            ws_wake: Signal::new(),
            awaiting_pong: AtomicBool::new(false),
            poll_active: AtomicBool::new(false),
            post_active: AtomicBool::new(false),
            cross_origin,
            protocol,
        }
    }

    /// The transport frames currently go out on.
    pub fn transport(&self) -> Transport {
        if self.transport.load(Ordering::Acquire) == Transport::WebSocket as u8 {
            Transport::WebSocket
        } else {
            Transport::Polling
        }
    }

    pub(crate) fn set_transport(&self, t: Transport) {
        self.transport.store(t as u8, Ordering::Release);
        self.upgrading.store(false, Ordering::Release);
        self.poll_wake.notify_one();
        self.ws_wake.notify();
    }

    /// Claims the session's one upgrade for a WebSocket; false when another one already
    /// claimed it (it is upgrading, or did).
    pub(crate) fn claim_upgrade(&self) -> bool {
        !self.upgrade_claimed.swap(true, Ordering::AcqRel)
    }

    /// A claimed upgrade failed: a later WebSocket may try again (polling carries on).
    pub(crate) fn release_upgrade(&self) {
        self.upgrading.store(false, Ordering::Release);
        self.upgrade_claimed.store(false, Ordering::Release);
        self.poll_wake.notify_one();
    }

    pub(crate) fn upgrading(&self) -> bool {
        self.upgrading.load(Ordering::Acquire)
    }

    pub(crate) fn set_upgrading(&self) {
        self.upgrading.store(true, Ordering::Release);
        self.poll_wake.notify_one();
    }

    /// Why the session closed, or `None` while it is open.
    pub fn close_reason(&self) -> Option<CloseReason> {
        CloseReason::from_code(self.closed.load(Ordering::Acquire) & !FLUSH)
    }

    /// True once the session closed in a way that still delivers what was queued.
    pub(crate) fn flushes_on_close(&self) -> bool {
        self.closed.load(Ordering::Acquire) & FLUSH != 0
    }

    /// True once the session is closed.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) != 0
    }

    /// Marks the session closed; returns false when it already was. With `flush`, queued
    /// frames are still delivered (except after an overflow), then the transport closes.
    pub(crate) fn mark_closed(&self, reason: CloseReason, flush: bool) -> bool {
        let code = reason.code() | if flush { FLUSH } else { 0 };
        if self
            .closed
            .compare_exchange(0, code, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        if reason == CloseReason::SendQueueFull {
            let mut q = self.queue.lock();
            q.frames.clear();
            q.bytes = 0;
        }
        self.wake();
        true
    }

    fn wake(&self) {
        match self.transport() {
            Transport::Polling => self.poll_wake.notify_one(),
            Transport::WebSocket => self.ws_wake.notify(),
        }
    }

    /// Whether the transport can take a packet right now without queueing it behind
    /// others (engine.io's `transport.writable`): a long-poll GET waits for one, or the
    /// WebSocket has nothing left to write. Volatile packets go only where it is true.
    pub fn writable(&self) -> bool {
        if self.is_closed() || !self.queue.lock().frames.is_empty() {
            return false;
        }
        match self.transport() {
            Transport::WebSocket => true,
            Transport::Polling => self.poll_active.load(Ordering::Acquire) && !self.upgrading(),
        }
    }

    /// Queues frames for the client, all or none, and wakes the writer.
    pub fn send(&self, frames: &[Frame]) -> Queued {
        let bytes = frames.iter().map(Frame::len).sum();
        self.enqueue(frames.len(), bytes, |q| q.extend(frames.iter().cloned()))
    }

    /// Queues one frame, moved in: [`Session::send`] clones, and cloning a frame's bytes
    /// made from a `Vec` allocates the block that shares them (once per emit or ack).
    pub fn send_one(&self, frame: Frame) -> Queued {
        self.enqueue(1, frame.len(), |q| q.push_back(frame))
    }

    /// Queues `count` frames of `bytes` in all with `push`, within the queue's bounds.
    fn enqueue(
        &self,
        count: usize,
        bytes: usize,
        push: impl FnOnce(&mut VecDeque<Frame>),
    ) -> Queued {
        {
            let mut q = self.queue.lock();
            if self.is_closed() {
                return Queued::Closed;
            }
            if q.frames.len() + count > self.max_frames || q.bytes + bytes > self.max_bytes {
                return Queued::Overflow;
            }
            push(&mut q.frames);
            q.bytes += bytes;
        }
        self.wake();
        Queued::Ok
    }

    /// Takes everything queued, in order.
    pub(crate) fn drain(&self) -> Vec<Frame> {
        self.drain_at_most(usize::MAX)
    }

    /// Takes up to `max` queued frames, in order; the rest stay queued.
    pub(crate) fn drain_at_most(&self, max: usize) -> Vec<Frame> {
        let mut q = self.queue.lock();
        if q.frames.len() <= max {
            // Everything: the queue's own buffer is handed over, so that an idle session
            // holds no buffer (its capacity would otherwise stay at its busiest).
            q.bytes = 0;
            return Vec::from(std::mem::take(&mut q.frames));
        }
        let frames: Vec<Frame> = q.frames.drain(..max).collect();
        q.bytes -= frames.iter().map(Frame::len).sum::<usize>();
        frames
    }

    /// True when frames wait to be written.
    pub(crate) fn has_pending(&self) -> bool {
        !self.queue.lock().frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::{Frame, Handshake, Headers, Protocol, Session, Transport};
    use std::sync::Arc;

    fn session() -> Session {
        let handshake = Handshake {
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            headers: Headers::default(),
            query: String::new(),
            issued_ms: 0,
            secure: false,
        };
        Session::new(
            "sid".into(),
            Arc::new(handshake),
            Protocol::V4,
            Transport::WebSocket,
            100,
            1 << 20,
            false,
        )
    }

    #[test]
    fn a_drained_queue_keeps_no_buffer_and_order_is_kept() {
        let s = session();
        let frames: Vec<Frame> = (0..10).map(|i| Frame::message(&i.to_string())).collect();
        s.send(&frames[..4]);
        assert_eq!(s.drain_at_most(3).len(), 3);
        s.send(&frames[4..]);
        let rest: Vec<String> = s
            .drain()
            .iter()
            .map(|f| String::from_utf8(f.contents().1.to_vec()).unwrap())
            .collect();
        assert_eq!(rest, ["43", "44", "45", "46", "47", "48", "49"]);
        let q = s.queue.lock();
        assert_eq!((q.frames.capacity(), q.bytes), (0, 0));
    }

    #[test]
    fn headers_keep_every_line_in_order() {
        let mut map = hyper::HeaderMap::new();
        map.append("host", "example.org".parse().unwrap());
        map.append("cookie", "a=1".parse().unwrap());
        map.append("cookie", "b=2".parse().unwrap());
        map.append("x-empty", "".parse().unwrap());
        let h = Headers::from(&map);
        assert_eq!(h.len(), 4);
        let lines: Vec<(&str, &[u8])> = h.iter().collect();
        assert_eq!(
            lines,
            [
                ("host", &b"example.org"[..]),
                ("cookie", b"a=1"),
                ("cookie", b"b=2"),
                ("x-empty", b""),
            ]
        );
        assert_eq!(h.get("cookie"), Some(&b"a=1"[..]));
        assert_eq!(h.get("missing"), None);
        assert!(Headers::default().is_empty());
        let h = Headers::from_pairs([("Host", "a:1"), ("x-é", "v"), ("host", "b")]);
        assert_eq!(h.len(), 3);
        assert_eq!(h.get("host"), Some(&b"a:1"[..]));
        assert_eq!(h.get("x-é"), Some(&b"v"[..]));
        let all: Vec<_> = h.iter().map(|(n, v)| (n.to_string(), v.to_vec())).collect();
        assert_eq!(all[2], ("host".to_string(), b"b".to_vec()));
    }
}
