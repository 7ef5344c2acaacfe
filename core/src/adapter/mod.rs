//! Who is where, and how a namespace reaches sockets on other servers: the adapter seam.
//!
//! Every namespace has one [`Adapter`], made by the [`AdapterFactory`] of
//! [`crate::Config::adapter`] (the [`LocalAdapterFactory`] when none is set). The Socket.IO
//! layer goes through it for everything that concerns more than one socket: rooms (join,
//! leave, the rooms of a socket), broadcasts with or without acks, `socketsJoin` /
//! `socketsLeave` / `disconnectSockets` by selector, `fetchSockets`, server-side emits and
//! the server count.
//!
//! - **One interface chosen at run time.** [`Adapter`] is object safe (`Arc<dyn Adapter>`):
//!   C, Python and Node hosts pick an adapter by configuration, and no type parameter reaches
//!   [`crate::Server`], [`crate::Io`] or [`crate::Event`].
//! - **The local part is shared.** Every adapter keeps a [`LocalAdapter`] (this server's room
//!   index, socket ids only) and answers from it for this server's sockets; a cluster adapter
//!   (Redis...) adds what it exchanges with other servers. The trait's provided methods are
//!   the single-server behaviour, so an adapter overrides only what it distributes.
//! - **Nothing waits on other servers.** Adapter methods are called on host threads and
//!   runtime threads and must return at once. An operation whose result needs other servers
//!   gets a [`Reply`]: the adapter feeds it as answers come in, and it completes once (every
//!   answer in, or its timeout) with one [`crate::Event`] carrying the token the `Io` call
//!   returned.
//! - **Encode once.** A broadcast is an [`OutPacket`]: the event, its payload and namespace,
//!   with this server's Engine.IO frames encoded on first use and shared by every local
//!   target; a cluster adapter encodes its own wire format from the same value.
//! - **No lock while sending.** Targets are snapshotted under the index's read lock, the
//!   lock is released, then frames are queued.

mod local;
mod reply;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

pub use local::LocalAdapter;
pub use reply::{AckAnswer, AckSink, ClusterError, Reply, ReplyItem, ServerAck};

use crate::engineio::packet::Frame;
use crate::engineio::Handshake;
use crate::payload::Payload;
use crate::socketio::packet::{self, PacketType};
use crate::socketio::{Sio, Wire};

/// A boxed future an adapter returns from [`Adapter::init`] and [`Adapter::close`]; it runs
/// on rtio's runtime.
pub type AdapterFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which sockets an operation reaches: socket.io's `to` / `in`, `except` and
/// `socket.broadcast`, plus its `local` flag.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selector<'a> {
    /// Rooms to reach (all sockets when empty). A socket id is the name of a room that
    /// holds that socket alone.
    pub to: &'a [String],
    /// Rooms (or socket ids) whose members are left out.
    pub except: &'a [String],
    /// One socket left out (the sender, for `socket.broadcast`).
    pub skip: Option<&'a str>,
    /// This server only: a cluster adapter does not forward the operation (socket.io's
    /// `local` flag).
    pub local: bool,
}

/// A Socket.IO packet for many sockets: what it is (kind, namespace, event, payload, ack
/// id), and this server's Engine.IO frames for it, encoded once, on first use, and shared by
/// every local target (a reference-count bump each).
///
/// A cluster adapter reads the parts to encode its own format (e.g. Redis' msgpack) from the
/// same value; borrowing them keeps a broadcast free of copies of its payload.
#[derive(Debug)]
pub struct OutPacket<'a> {
    kind: PacketType,
    nsp: &'a str,
    event: Option<&'a str>,
    payload: &'a Payload,
    ack: Option<u64>,
    /// socket.io's `volatile` flag: dropped for a socket whose transport cannot take it
    /// right now instead of being queued.
    volatile: bool,
    /// socket.io's `compress` flag: false keeps the message uncompressed.
    compress: bool,
    frames: OnceLock<Vec<Frame>>,
}

impl<'a> OutPacket<'a> {
    /// An event (`EVENT`, or `BINARY_EVENT` when the payload has attachments).
    pub fn event(nsp: &'a str, event: &'a str, payload: &'a Payload) -> OutPacket<'a> {
        OutPacket {
            kind: PacketType::Event,
            nsp,
            event: Some(event),
            payload,
            ack: None,
            volatile: false,
            compress: true,
            frames: OnceLock::new(),
        }
    }

    /// The same packet, volatile or not (see [`OutPacket::is_volatile`]).
    pub fn volatile(mut self, volatile: bool) -> OutPacket<'a> {
        self.volatile = volatile;
        self
    }

    /// The same packet, compressible or not (socket.io's `compress` flag; default true):
    /// false keeps it out of permessage-deflate.
    pub fn compress(mut self, compress: bool) -> OutPacket<'a> {
        self.compress = compress;
        self
    }

    /// False after `compress(false)`.
    pub fn compresses(&self) -> bool {
        self.compress
    }

    /// True for a volatile packet: a socket whose transport is busy (a WebSocket still
    /// writing, a polling client with no GET waiting) does not get it, as socket.io's
    /// `volatile.emit`.
    pub fn is_volatile(&self) -> bool {
        self.volatile
    }

    /// The same event asking for an ack with this id (ids of broadcasts come from the
    /// namespace's counter, so one id is valid for every target).
    pub fn with_ack(&self, id: u64) -> OutPacket<'a> {
        OutPacket {
            ack: Some(id),
            frames: OnceLock::new(),
            ..*self
        }
    }

    /// `Event` (binary or not is decided by the payload).
    pub fn kind(&self) -> PacketType {
        self.kind
    }

    /// The namespace.
    pub fn nsp(&self) -> &'a str {
        self.nsp
    }

    /// The event name.
    pub fn event_name(&self) -> Option<&'a str> {
        self.event
    }

    /// The arguments (JSON array text and binary attachments).
    pub fn payload(&self) -> &'a Payload {
        self.payload
    }

    /// The ack id, when the packet asks for an ack.
    pub fn ack_id(&self) -> Option<u64> {
        self.ack
    }

    /// The Engine.IO frames for this server's clients (with the default parser: the text
    /// packet, then each binary attachment). Encoded on the first call; later calls (and
    /// every target) share them. `wire` is the server's, the same on every call.
    pub(crate) fn frames(&self, wire: &Wire) -> &[Frame] {
        self.frames.get_or_init(|| {
            let atts = self.payload.attachments();
            let text = packet::encode(
                self.kind,
                self.nsp,
                self.ack,
                self.event,
                self.payload.json(),
                atts.len(),
            );
            wire.frames(text, atts, self.compress)
        })
    }
}

/// A socket as `fetch_sockets` reports it, whichever server it is connected to.
#[derive(Debug, Clone)]
pub struct SocketInfo {
    /// The socket id.
    pub id: Arc<str>,
    /// Its namespace.
    pub nsp: Arc<str>,
    /// The rooms it is in, its own room (its id) first.
    pub rooms: Vec<String>,
    /// The handshake of its connection (for a socket on another server: as that server
    /// reported it).
    pub handshake: Arc<Handshake>,
    /// The auth object it sent to join the namespace, as JSON text (`{}` when none).
    pub auth: String,
    /// Data the application attached to it (socket.io's `socket.data`), as JSON text:
    /// on this server what the host set with [`crate::Io::set_socket_data`], on another
    /// what that server reported; `None` when nothing was attached.
    pub data: Option<String>,
    /// True when the socket is connected to this server (so [`crate::Io::emit`] and the
    /// other per-socket calls reach it directly).
    pub local: bool,
}

/// The ids a selection gives, one [`Visit::visit`] each (after a [`Visit::reserve`] with
/// at most how many will come).
pub(crate) trait Visit {
    /// At most `n` ids will follow.
    fn reserve(&mut self, n: usize);
    /// One selected id.
    fn visit(&mut self, id: &Arc<str>);
}

/// A selection being walked: calls its argument's `visit` for each selected id, while the
/// adapter holds its index's read lock.
pub(crate) type Walk<'a> = &'a dyn Fn(&mut dyn Visit);

/// This server's sockets, as an adapter reaches them: implemented by the Socket.IO layer
/// (which owns the one id → socket map), faked in tests. Ids it does not know (a socket
/// that left meanwhile) are skipped.
///
/// The broadcast path takes a [`Walk`] rather than a list of ids: the sockets are looked
/// up as the adapter selects them (the registry's read lock, then the index's, so one id
/// lookup per target and no list of ids in between), then both locks are released before
/// the first frame is queued.
pub(crate) trait LocalSockets: Send + Sync {
    /// Queues the packet's frames on each selected socket; returns how many took them.
    fn send(&self, walk: Walk<'_>, packet: &OutPacket<'_>) -> usize;
    /// Sends the packet with one ack id (from the namespace's counter) to each selected
    /// socket and routes their acks to `sink` until `timeout`. Returns how many it was sent
    /// to: as many answers may come.
    fn send_with_ack(
        &self,
        walk: Walk<'_>,
        packet: &OutPacket<'_>,
        timeout: Duration,
        sink: Arc<dyn AckSink>,
    ) -> usize;
    /// Disconnects each socket (server side), closing its whole connection when `close`.
    fn disconnect(&self, ids: &[Arc<str>], close: bool);
    /// The handshake, auth and data of a socket, for `fetch_sockets`.
    fn describe(&self, id: &str) -> Option<Described>;
}

/// What [`LocalSockets::describe`] tells of one socket.
pub(crate) struct Described {
    pub(crate) handshake: Arc<Handshake>,
    /// The auth object it joined with, as JSON text (`{}` when none).
    pub(crate) auth: String,
    /// What the host attached with [`crate::Io::set_socket_data`], as JSON text.
    pub(crate) data: Option<String>,
}

/// What an adapter is given when its namespace is created: the namespace, rtio's runtime,
/// and the way to this server's sockets and host. Cheap to clone; an adapter keeps it.
///
/// The context holds the server weakly: it does not keep a stopped server alive, and its
/// calls do nothing once the server is gone.
#[derive(Clone)]
pub struct AdapterContext {
    nsp: Arc<str>,
    sio: Weak<Sio>,
    rt: tokio::runtime::Handle,
}

impl AdapterContext {
    pub(crate) fn new(nsp: Arc<str>, sio: Weak<Sio>, rt: tokio::runtime::Handle) -> Self {
        AdapterContext { nsp, sio, rt }
    }

    /// The namespace this adapter serves.
    pub fn nsp(&self) -> &Arc<str> {
        &self.nsp
    }

    /// rtio's runtime, for the adapter's own tasks (e.g. reading a Redis subscription).
    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.rt
    }

    /// Hands an event another server sent with `serverSideEmit` to the host, as
    /// [`crate::Event::ServerSideEmit`]. When the sender waits for an answer, `ack` is
    /// called (at most once, on the thread of the host's [`crate::Io::server_side_ack`])
    /// with the host's answer; it is dropped unanswered after
    /// [`crate::Config::cluster_timeout`].
    pub fn server_side_emit(&self, event: String, payload: Payload, ack: Option<ServerAck>) {
        if let Some(sio) = self.sio.upgrade() {
            sio.deliver_server_side_emit(self.nsp.clone(), event, payload, ack);
        }
    }

    pub(crate) fn sockets(&self) -> Weak<dyn LocalSockets> {
        self.sio.clone()
    }
}

impl std::fmt::Debug for AdapterContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterContext")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

/// Makes the adapter of each namespace: configured ones when the server starts, dynamic
/// and added ones when they appear. Set it in [`crate::Config::adapter`].
pub trait AdapterFactory: Send + Sync + 'static {
    /// Creates the adapter of the namespace `ctx.nsp()`. Called on the thread that creates
    /// the namespace (the runtime's, or the host's for [`crate::Io::add_namespace`]); must
    /// not block and must not call back into the server: [`Adapter::init`] comes next.
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter>;
}

/// The default factory: a [`LocalAdapter`] per namespace (a single server).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalAdapterFactory;

impl AdapterFactory for LocalAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        Arc::new(LocalAdapter::new(&ctx))
    }
}

/// The adapter of one namespace: where its sockets are (this server's, through
/// [`Adapter::local`]) and how an operation reaches the sockets of every server.
///
/// Object safe, and non-blocking: every method is called on a host thread or a runtime
/// thread, must return at once and must not hold a lock while sending. Operations that
/// need answers from other servers take a [`Reply`] and complete it later.
///
/// The provided methods are the single-server behaviour (this server's sockets only);
/// the [`LocalAdapter`] is exactly that. A cluster adapter keeps a `LocalAdapter`, returns
/// it from `local`, and overrides the operations it distributes; for those it also applies
/// the operation locally (through `local()`), as socket.io's adapters do.
pub trait Adapter: Send + Sync + 'static {
    /// This server's room index (every adapter keeps one).
    fn local(&self) -> &LocalAdapter;

    /// Gets ready (e.g. connects and subscribes). Awaited on the runtime before
    /// [`crate::Server::start`] returns for the configured namespaces (an error fails the
    /// start, as [`crate::Error::Io`]); spawned for namespaces created later. An adapter
    /// that prefers to start anyway and retry resolves `Ok` at once.
    fn init(self: Arc<Self>) -> AdapterFuture<Result<(), String>> {
        Box::pin(async { Ok(()) })
    }

    /// Lets go of shared resources (unsubscribes). Awaited (at most one second) when the
    /// server stops, after clients were disconnected and before the runtime stops; spawned
    /// when a dynamic namespace is dropped. No call is made after it, except one that
    /// raced with it (an `Io` call that found the namespace just before), which should
    /// then do nothing beyond this server.
    fn close(self: Arc<Self>) -> AdapterFuture<()> {
        Box::pin(async {})
    }

    /// A socket of this server joined the namespace (also while the host decides on its
    /// connect request).
    fn add_socket(&self, sid: &Arc<str>) {
        self.local().add_socket(sid);
    }

    /// A socket of this server left the namespace: it leaves all its rooms.
    fn remove_socket(&self, sid: &str) {
        self.local().remove_socket(sid);
    }

    /// Puts a socket of this server in a room; false when the socket is unknown.
    fn join(&self, sid: &str, room: &str) -> bool {
        self.local().join(sid, room)
    }

    /// Takes a socket of this server out of a room; false when the socket is unknown.
    fn leave(&self, sid: &str, room: &str) -> bool {
        self.local().leave(sid, room)
    }

    /// The rooms of a socket of this server, its own room first; `None` when unknown.
    fn rooms_of(&self, sid: &str) -> Option<Vec<String>> {
        self.local().rooms_of(sid)
    }

    /// Sends an event to the selected sockets of every server. Returns how many sockets
    /// of this server it was queued for.
    fn broadcast(&self, packet: &OutPacket<'_>, sel: &Selector<'_>) -> usize {
        self.local().broadcast(packet, sel)
    }

    /// Sends an event asking each selected socket of every server for an ack. `acks`
    /// completes when every server reported how many sockets it reached
    /// ([`Reply::expect_nodes`], [`Reply::node_reply`]) and that many answers came, or at
    /// `timeout` with the answers so far.
    fn broadcast_with_ack(
        &self,
        packet: &OutPacket<'_>,
        sel: &Selector<'_>,
        timeout: Duration,
        acks: Reply<AckAnswer>,
    ) {
        acks.expect_nodes(1);
        let reached = self
            .local()
            .broadcast_with_ack(packet, sel, timeout, acks.sink());
        acks.node_reply(Vec::new(), reached);
    }

    /// Puts the selected sockets of every server in these rooms (socket.io's `socketsJoin`).
    fn add_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local().add_sockets(sel, rooms);
    }

    /// Takes the selected sockets of every server out of these rooms (`socketsLeave`).
    fn del_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local().del_sockets(sel, rooms);
    }

    /// Disconnects the selected sockets of every server (`disconnectSockets`), closing
    /// their whole connections when `close`.
    fn disconnect_sockets(&self, sel: &Selector<'_>, close: bool) {
        self.local().disconnect_sockets(sel, close);
    }

    /// Lists the selected sockets of every server (`fetchSockets`): one
    /// [`Reply::node_reply`] per server.
    fn fetch_sockets(&self, sel: &Selector<'_>, reply: Reply<SocketInfo>) {
        reply.expect_nodes(1);
        reply.node_reply(self.local().fetch_sockets(sel), 0);
    }

    /// Sends an event to the other servers' hosts (`serverSideEmit`); this server's host
    /// does not get it. With `acks`, each other server answers once; with no other server
    /// it completes at once with no answer.
    fn server_side_emit(&self, event: &str, payload: &Payload, acks: Option<Reply<Payload>>) {
        let _ = (event, payload);
        if let Some(acks) = acks {
            acks.expect_nodes(0);
        }
    }

    /// How many servers serve this namespace, this one included (`serverCount`): one
    /// [`Reply::node_reply`] with the count.
    fn server_count(&self, reply: Reply<usize>) {
        reply.expect_nodes(1);
        reply.node_reply(vec![1], 0);
    }
}

impl Adapter for LocalAdapter {
    fn local(&self) -> &LocalAdapter {
        self
    }
}
