//! Socket.IO v5 over Engine.IO: namespaces, sockets, rooms, acks, and the events sent to
//! the host.

mod legacy;
pub mod msgpack;
pub mod packet;
mod recovery;
mod wire;

pub(crate) use recovery::{new_offset, with_offset};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use smallvec::SmallVec;
use tokio::sync::oneshot;

use crate::adapter::{
    AckSink, Adapter, AdapterContext, Described, LocalAdapterFactory, LocalSockets, OutPacket,
    Reply, ReplyItem, ServerAck, Visit, Walk,
};
use crate::bell::EventBell;
use crate::by_id::{Keyed, Table};
use crate::config::Config;
use crate::engineio::packet::Frame;
use crate::engineio::{
    CloseReason, Engine, EngineHandler, Entry, Message, Protocol, Queued, RequestAnswer,
    RequestInfo, Session,
};
use crate::event::{AckError, DisconnectReason, Event};
use crate::payload::Payload;
use crate::timers::FixedDelay;
use packet::PacketType;
pub(crate) use wire::Wire;

/// A namespace and its adapter (who is where).
pub(crate) struct Namespace {
    pub(crate) name: Arc<str>,
    pub(crate) middleware: AtomicBool,
    /// Created by a client's request (dynamic namespaces), not by configuration.
    dynamic: bool,
    /// Rooms and cluster operations of this namespace; the only way to them.
    pub(crate) adapter: Arc<dyn Adapter>,
    /// Ack ids of the server's emits to this namespace's sockets. One counter per
    /// namespace (as socket.io), so a broadcast's one ack id is free on every target.
    next_ack: AtomicU64,
    /// Connection state recovery's store (`Config::recovery`).
    pub(crate) recovery: Option<recovery::Recovery>,
}

impl Namespace {
    /// A namespace with its adapter, made by the configured factory (not initialized yet).
    fn new(
        config: &Config,
        sio: &Weak<Sio>,
        rt: &tokio::runtime::Handle,
        name: &str,
        middleware: bool,
        dynamic: bool,
    ) -> Arc<Namespace> {
        let name: Arc<str> = name.into();
        let ctx = AdapterContext::new(name.clone(), sio.clone(), rt.clone());
        let adapter = match &config.adapter {
            Some(factory) => factory.create(ctx),
            None => crate::adapter::AdapterFactory::create(&LocalAdapterFactory, ctx),
        };
        Arc::new(Namespace {
            name,
            middleware: AtomicBool::new(middleware),
            dynamic,
            adapter,
            next_ack: AtomicU64::new(0),
            recovery: config
                .recovery
                .map(|r| recovery::Recovery::new(r.max_disconnection, r.skip_middlewares)),
        })
    }
}

/// A socket waiting for the host's decision (it exists, but the host has not seen it connect).
const PENDING: u8 = 0;
/// A socket the host saw connect.
const ACCEPTED: u8 = 1;
/// A socket that left (or was refused).
const GONE: u8 = 2;

impl Keyed for Socket {
    fn key(&self) -> &str {
        &self.id
    }
}

/// One socket: a client's membership of one namespace.
pub(crate) struct Socket {
    pub(crate) id: Arc<str>,
    pub(crate) ns: Arc<Namespace>,
    pub(crate) session: Arc<Session>,
    conn: Weak<Conn>,
    /// [`PENDING`], [`ACCEPTED`] or [`GONE`].
    state: AtomicU8,
    /// Frames sent while [`PENDING`]: they follow the CONNECT packet on accept, and are
    /// dropped on refusal.
    held: Mutex<Vec<Frame>>,
    /// Acks the server waits for from this socket, by ack id.
    acks: Mutex<Acks>,
    /// The auth object it joined with (JSON text), when not `{}`.
    auth: Option<Box<str>>,
    /// What the host attached to it (socket.io's `socket.data`, JSON text), told to the
    /// other servers of a cluster when they fetch it. Set by [`crate::Io::set_socket_data`].
    data: Mutex<Option<Box<str>>>,
    /// Its private id, with connection state recovery: what the client shows to take this
    /// socket back.
    pid: Option<Arc<str>>,
    /// It came back with connection state recovery (socket.io's `socket.recovered`).
    pub(crate) recovered: bool,
}

/// Who waits for an ack from a socket.
enum Awaited {
    /// The host, through [`Event::AckResponse`] with this token.
    Host(u64),
    /// A broadcast with acks (its reply, or a cluster adapter's forwarder).
    Broadcast(Arc<dyn AckSink>),
}

/// The acks a socket's emits wait for, by ack id; allocated with the first (most sockets
/// are never emitted to with an ack). Boxed: an empty `HashMap` is 48 bytes inline, the box 8.
#[derive(Default)]
#[allow(clippy::box_collection)]
struct Acks(Option<Box<HashMap<u64, Awaited>>>);

impl Acks {
    fn insert(&mut self, id: u64, awaited: Awaited) {
        self.0.get_or_insert_default().insert(id, awaited);
    }

    fn remove(&mut self, id: &u64) -> Option<Awaited> {
        self.0.as_mut()?.remove(id)
    }

    fn clear(&mut self) {
        self.0 = None;
    }

    /// Takes every ack still awaited, in no order.
    fn take_all(&mut self) -> impl Iterator<Item = (u64, Awaited)> {
        self.0.take().into_iter().flat_map(|acks| acks.into_iter())
    }
}

/// A binary packet waiting for its attachments.
struct Partial {
    text: String,
    expected: usize,
    attachments: Vec<Bytes>,
    bytes: usize,
}

/// The attachments of one packet may total at most this many times `max_payload`, so a
/// client announcing many large attachments costs a bounded amount of memory.
const MAX_ATTACHMENT_PAYLOADS: usize = 4;

/// Socket.IO state of one Engine.IO connection.
pub(crate) struct Conn {
    /// Accepted sockets, one per namespace.
    sockets: Mutex<ConnSockets>,
    /// Sockets waiting for the host's decision (not yet joined, as in Socket.IO: a second
    /// CONNECT to the same namespace meanwhile is a new request).
    pending: Mutex<SocketList>,
    /// Boxed: nearly every connection never sends a binary packet.
    partial: Mutex<Option<Box<Partial>>>,
}

/// A connection's sockets: nearly always one (its namespace) or none, kept inline so that
/// an idle connection allocates nothing for them (a `Vec`'s first allocation holds four).
type SocketList = SmallVec<[Arc<Socket>; 1]>;

/// The accepted sockets of one connection, at most one per namespace, found by their
/// namespace's name. A list rather than a map: a connection has one or two (a `HashMap`'s
/// first table was ~200 bytes of every idle connection).
#[derive(Default)]
struct ConnSockets(SocketList);

impl ConnSockets {
    fn get(&self, nsp: &str) -> Option<&Arc<Socket>> {
        self.0.iter().find(|s| &*s.ns.name == nsp)
    }

    fn contains_key(&self, nsp: &str) -> bool {
        self.get(nsp).is_some()
    }

    /// Adds `socket`, in place of the socket of its namespace if there is one.
    fn insert(&mut self, socket: Arc<Socket>) {
        match self.0.iter_mut().find(|s| s.ns.name == socket.ns.name) {
            Some(slot) => *slot = socket,
            None => self.0.push(socket),
        }
    }

    /// Removes `socket` itself (not another socket of its namespace that replaced it).
    fn remove(&mut self, socket: &Arc<Socket>) {
        self.0.retain(|s| !Arc::ptr_eq(s, socket));
    }

    fn values(&self) -> impl Iterator<Item = &Arc<Socket>> {
        self.0.iter()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The host's answer to a connect request.
pub(crate) enum Decision {
    Accept,
    Reject {
        message: String,
        data: Option<String>,
    },
}

/// The Socket.IO layer: an [`EngineHandler`] holding every namespace and socket.
pub(crate) struct Sio {
    /// Itself, for tasks and adapters (which hold it weakly).
    me: Weak<Sio>,
    pub(crate) config: Arc<Config>,
    /// The parser and permessage-deflate settings every packet is framed with.
    pub(crate) wire: Wire,
    namespaces: RwLock<HashMap<String, Arc<Namespace>>>,
    /// Every socket of this server by id (ids are unique across namespaces): the one
    /// registry of sockets. Adapters keep ids only and reach sockets through it.
    pub(crate) sockets: RwLock<Table<Socket>>,
    /// Answers other servers wait for, to [`Event::ServerSideEmit`]s, by ack id.
    server_acks: Mutex<HashMap<u64, ServerAck>>,
    events: RwLock<Option<flume::Sender<Event>>>,
    /// Events that did not fit in the queue while stopping (see [`Sio::deliver_now`]).
    tail: crate::server::EventTail,
    /// Wakes the host when events were queued.
    bell: Arc<EventBell>,
    pub(crate) pending_connects: Mutex<HashMap<u64, oneshot::Sender<Decision>>>,
    /// Requests waiting for the host's answer to an [`Event::Request`].
    pub(crate) pending_requests: Mutex<HashMap<u64, oneshot::Sender<RequestAnswer>>>,
    next_id: AtomicU64,
    pub(crate) rt: tokio::runtime::Handle,
    pub(crate) engine: OnceLock<Weak<Engine<Arc<Sio>>>>,
    /// Connections due to have joined a namespace (the connect timeout).
    connect_deadlines: Arc<FixedDelay<(Weak<Conn>, Weak<Session>)>>,
}

/// Why one client's packet is refused: the connection is closed with this reason.
type Refusal = CloseReason;

/// The refusal of a namespace the server does not have.
const INVALID_NAMESPACE: &str = "Invalid namespace";

impl Sio {
    /// The Socket.IO layer, with the adapters of the configured namespaces (created, not
    /// initialized: see [`EngineHandler::ready`]).
    pub(crate) fn new(
        config: Arc<Config>,
        events: flume::Sender<Event>,
        tail: crate::server::EventTail,
        bell: Arc<EventBell>,
        rt: tokio::runtime::Handle,
    ) -> Arc<Sio> {
        Arc::new_cyclic(|me: &Weak<Sio>| {
            let namespaces = config
                .namespaces
                .iter()
                .map(|n| {
                    let ns = Namespace::new(&config, me, &rt, &n.name, n.middleware, false);
                    (n.name.clone(), ns)
                })
                .collect();
            Sio {
                me: me.clone(),
                connect_deadlines: FixedDelay::new(config.connect_timeout),
                wire: Wire::new(&config),
                config,
                namespaces: RwLock::new(namespaces),
                sockets: RwLock::new(Table::new()),
                server_acks: Mutex::new(HashMap::new()),
                events: RwLock::new(Some(events)),
                tail,
                bell,
                pending_connects: Mutex::new(HashMap::new()),
                pending_requests: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                rt,
                engine: OnceLock::new(),
            }
        })
    }

    /// The namespace of this name, if accepted.
    pub(crate) fn namespace_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.namespaces.read().keys().cloned().collect();
        names.sort();
        names
    }

    pub(crate) fn namespace(&self, name: &str) -> Option<Arc<Namespace>> {
        self.namespaces.read().get(name).cloned()
    }

    /// Accepts a namespace from now on, or changes whether it has middleware.
    pub(crate) fn add_namespace(&self, name: &str, middleware: bool) {
        let mut all = self.namespaces.write();
        match all.get(name) {
            Some(ns) => ns.middleware.store(middleware, Ordering::Release),
            None => {
                let ns = self.new_namespace(name, middleware, false);
                all.insert(name.to_string(), ns.clone());
                drop(all);
                self.init_adapter(&ns);
            }
        }
    }

    /// The namespace of this name, created (dynamic) when there is none yet.
    fn dynamic_namespace(&self, name: &str) -> Arc<Namespace> {
        let mut all = self.namespaces.write();
        if let Some(ns) = all.get(name) {
            return ns.clone();
        }
        // Created under the lock (the factory must not call back), so two clients asking
        // for the same new namespace at once make one adapter.
        let ns = self.new_namespace(name, true, true);
        all.insert(name.to_string(), ns.clone());
        drop(all);
        self.init_adapter(&ns);
        ns
    }

    fn new_namespace(&self, name: &str, middleware: bool, dynamic: bool) -> Arc<Namespace> {
        Namespace::new(&self.config, &self.me, &self.rt, name, middleware, dynamic)
    }

    /// Starts the adapter of a namespace created while running (its init is not awaited).
    fn init_adapter(&self, ns: &Namespace) {
        let init = ns.adapter.clone().init();
        let name = ns.name.clone();
        self.rt.spawn(async move {
            if let Err(e) = init.await {
                eprintln!("rtio: the adapter of namespace {name} failed to start: {e}");
            }
        });
    }

    /// Every namespace's adapter.
    fn adapters(&self) -> Vec<(Arc<str>, Arc<dyn Adapter>)> {
        let all = self.namespaces.read();
        all.values()
            .map(|ns| (ns.name.clone(), ns.adapter.clone()))
            .collect()
    }

    /// A pending cluster result whose event carries a fresh token; it times out after
    /// `timeout`.
    pub(crate) fn reply<T: ReplyItem>(&self, timeout: Duration) -> Reply<T> {
        let sio = self.me.clone();
        let reply = Reply::new(
            self.next_id(),
            Box::new(move |ev| {
                if let Some(sio) = sio.upgrade() {
                    sio.emit_events_detached(vec![ev]);
                }
            }),
        );
        reply.time_out_after(&self.rt, timeout);
        reply
    }

    /// Hands a server-side emit from another server to the host (see
    /// [`AdapterContext::server_side_emit`]).
    pub(crate) fn deliver_server_side_emit(
        &self,
        nsp: Arc<str>,
        event: String,
        payload: Payload,
        ack: Option<ServerAck>,
    ) {
        let Some(me) = self.me.upgrade() else { return };
        let ack = ack.map(|answer| {
            let id = self.next_id();
            self.server_acks.lock().insert(id, answer);
            let sio = self.me.clone();
            let wait = self.config.cluster_timeout;
            self.rt.spawn(async move {
                tokio::time::sleep(wait).await;
                if let Some(sio) = sio.upgrade() {
                    sio.server_acks.lock().remove(&id);
                }
            });
            id
        });
        me.emit_events_detached(vec![Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack,
        }]);
    }

    /// Gives the host's answer to a server-side emit back to its adapter; false when it
    /// was answered already or waited too long.
    pub(crate) fn server_side_ack(&self, id: u64, payload: Payload) -> bool {
        let answer = self.server_acks.lock().remove(&id);
        match answer {
            Some(answer) => {
                answer(payload);
                true
            }
            None => false,
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn engine(&self) -> Option<Arc<Engine<Arc<Sio>>>> {
        self.engine.get().and_then(Weak::upgrade)
    }

    /// Queues an event for the host, waiting while the queue is full (backpressure).
    pub(crate) async fn emit_event(&self, ev: Event) {
        let tx = self.events.read().clone();
        if let Some(tx) = tx {
            if tx.send_async(ev).await.is_ok() {
                // Once the runtime ran what is ready: the host wakes once for all of it.
                self.bell.ring_soon();
            }
        }
    }

    /// Queues events without waiting (for `stop`, on a host thread): what does not fit in
    /// the queue goes to the overflow tail that receivers read after the queue, so nothing
    /// is lost and no host thread ever waits on its own queue.
    pub(crate) fn deliver_now(&self, events: Vec<Event>) {
        let tx = self.events.read().clone();
        let Some(tx) = tx else { return };
        let mut tail = self.tail.lock();
        for ev in events {
            if !tail.is_empty() {
                tail.push_back(ev);
                continue;
            }
            match tx.try_send(ev) {
                Ok(()) => {}
                Err(flume::TrySendError::Full(ev)) | Err(flume::TrySendError::Disconnected(ev)) => {
                    tail.push_back(ev)
                }
            }
        }
        drop(tail);
        self.bell.ring_now();
    }

    /// Disconnects every socket because the server stops; the host gets every
    /// `Disconnect` (reason `server shutting down`).
    pub(crate) fn disconnect_all_for_stop(&self) {
        let sockets: Vec<_> = self.sockets.read().values().cloned().collect();
        let events = sockets
            .iter()
            .flat_map(|s| self.leave(s, DisconnectReason::ServerShuttingDown))
            .collect();
        self.deliver_now(events);
    }

    /// Ends the event stream once the server stopped: receivers get the queued events,
    /// then [`crate::Error::Stopped`].
    pub(crate) fn close_events(&self) {
        self.events.write().take();
        // Receivers waiting on the bell see the end of the stream.
        self.bell.ring_now();
    }

    /// Sends frames to one socket: held while the host has not accepted it yet.
    pub(crate) fn send_to(&self, socket: &Socket, frames: &[Frame]) -> bool {
        if let Some(mut held) = Self::holding(socket) {
            held.extend(frames.iter().cloned());
            return true;
        }
        self.send(&socket.session, frames)
    }

    /// The frames held for a socket that waits for the host's answer to its connect (they
    /// go out once it is accepted), or `None` when it does not wait.
    fn holding(socket: &Socket) -> Option<parking_lot::MutexGuard<'_, Vec<Frame>>> {
        if socket.state.load(Ordering::Acquire) != PENDING {
            return None;
        }
        let held = socket.held.lock();
        (socket.state.load(Ordering::Acquire) == PENDING).then_some(held)
    }

    /// Sends one packet to one socket. Without attachments (most packets) its one frame goes
    /// out without the `Vec` that [`Sio::frames`] builds: this runs for every emit and ack.
    pub(crate) fn send_packet(
        &self,
        socket: &Socket,
        kind: PacketType,
        id: Option<u64>,
        event: Option<&str>,
        payload: &Payload,
    ) -> bool {
        if !payload.attachments().is_empty() {
            let frames = self.frames(kind, &socket.ns.name, id, event, payload);
            return self.send_to(socket, &frames);
        }
        let text = packet::encode(kind, &socket.ns.name, id, event, payload.json(), 0);
        let frame = self.wire.frame(text, true);
        if let Some(mut held) = Self::holding(socket) {
            held.push(frame);
            return true;
        }
        let queued = socket.session.send_one(frame);
        self.queued(&socket.session, queued)
    }

    /// Queues frames on a socket's connection, closing it when its queue is full.
    pub(crate) fn send(&self, session: &Arc<Session>, frames: &[Frame]) -> bool {
        self.queued(session, session.send(frames))
    }

    /// Whether frames were queued on `session`; closes it when its queue was full.
    fn queued(&self, session: &Arc<Session>, queued: Queued) -> bool {
        match queued {
            Queued::Ok => true,
            Queued::Closed => false,
            Queued::Overflow => {
                self.close_session(session, CloseReason::SendQueueFull);
                false
            }
        }
    }

    /// Closes a session by the engine's rule for `reason` (see `Engine::close`).
    pub(crate) fn close_session(&self, session: &Session, reason: CloseReason) {
        self.with_entry(session, |engine, entry| engine.close(entry, reason));
    }

    /// Ends a connection that broke the Socket.IO protocol: like socket.io's
    /// `conn.close()`, what was queued still goes out, then the close.
    fn refuse_connection(&self, session: &Session, reason: CloseReason) {
        self.with_entry(session, |engine, entry| engine.close_flushed(entry, reason));
    }

    /// Runs `f` with the engine and the session's entry, while both exist.
    fn with_entry(
        &self,
        session: &Session,
        f: impl FnOnce(&Arc<Engine<Arc<Sio>>>, &Arc<Entry<Arc<Conn>>>),
    ) {
        if let Some(engine) = self.engine() {
            if let Some(entry) = engine.get(&session.sid) {
                f(&engine, &entry);
            }
        }
    }

    /// Frames of an event or ack (with the default parser: the text packet, then each
    /// attachment).
    pub(crate) fn frames(
        &self,
        kind: PacketType,
        nsp: &str,
        id: Option<u64>,
        event: Option<&str>,
        payload: &Payload,
    ) -> Vec<Frame> {
        let atts = payload.attachments();
        let text = packet::encode(kind, nsp, id, event, payload.json(), atts.len());
        self.wire.frames(text, atts, true)
    }

    /// The sockets of these ids that this server has (a socket that left meanwhile is
    /// skipped), taken under one read lock.
    fn resolve(&self, ids: &[Arc<str>]) -> Vec<Arc<Socket>> {
        let all = self.sockets.read();
        ids.iter().filter_map(|id| all.get(id).cloned()).collect()
    }

    /// The sockets a selection gives, looked up as the adapter walks it (under the
    /// registry's read lock, then the adapter's); both are released on return.
    fn resolve_walk(&self, walk: Walk<'_>) -> Vec<Arc<Socket>> {
        struct Lookup<'a> {
            all: &'a Table<Socket>,
            found: Vec<Arc<Socket>>,
        }
        impl Visit for Lookup<'_> {
            fn reserve(&mut self, n: usize) {
                self.found.reserve(n);
            }
            fn visit(&mut self, id: &Arc<str>) {
                if let Some(s) = self.all.get(id) {
                    self.found.push(s.clone());
                }
            }
        }
        let all = self.sockets.read();
        let mut lookup = Lookup {
            all: &all,
            found: Vec::new(),
        };
        walk(&mut lookup);
        lookup.found
    }

    /// Asks a client for an ack; the answer (or the timeout) reaches the host as
    /// [`Event::AckResponse`] with the returned token.
    pub(crate) fn emit_with_ack(
        self: &Arc<Self>,
        socket: &Arc<Socket>,
        event: &str,
        payload: &Payload,
        timeout: Duration,
    ) -> u64 {
        let token = self.next_id();
        let id = socket.ns.next_ack.fetch_add(1, Ordering::Relaxed);
        socket.acks.lock().insert(id, Awaited::Host(token));
        self.send_packet(socket, PacketType::Event, Some(id), Some(event), payload);
        if timeout == Duration::MAX {
            // No deadline: the ack is answered by the client, or as `Disconnected` when
            // the socket leaves; no timer keeps anything alive meanwhile.
            return token;
        }
        let sio = self.clone();
        // Weak: a pending timer does not keep a disconnected socket alive.
        let socket = Arc::downgrade(socket);
        self.rt.spawn(async move {
            tokio::time::sleep(timeout).await;
            let Some(socket) = socket.upgrade() else {
                return;
            };
            let pending = socket.acks.lock().remove(&id);
            if pending.is_some() {
                sio.emit_event(Event::AckResponse {
                    token,
                    sid: socket.id.clone(),
                    result: Err(AckError::Timeout),
                })
                .await;
            }
        });
        token
    }

    /// Removes a socket from its namespace (once). Returns the events to deliver: the
    /// disconnect, then one `AckError::Disconnected` answer per ack still awaited; nothing
    /// when the socket was already gone.
    pub(crate) fn detach(&self, socket: &Arc<Socket>, reason: DisconnectReason) -> Vec<Event> {
        let was = socket.state.swap(GONE, Ordering::AcqRel);
        if was == GONE {
            return Vec::new();
        }
        // The rooms it leaves, for the host (socket.io shows them in `disconnecting`); a
        // socket the host never saw connect has none to tell.
        let rooms = match was {
            ACCEPTED => socket.ns.adapter.rooms_of(&socket.id).unwrap_or_default(),
            _ => Vec::new(),
        };
        if let (Some(recovery), Some(pid)) = (&socket.ns.recovery, &socket.pid) {
            recovery.departed(pid);
        }
        if let (Some(recovery), Some(pid), ACCEPTED) = (&socket.ns.recovery, &socket.pid, was) {
            // (the reasons socket.io recovers from: the client did not mean to leave)
            if matches!(
                reason,
                DisconnectReason::TransportClose
                    | DisconnectReason::TransportError
                    | DisconnectReason::PingTimeout
                    | DisconnectReason::ForcedClose
                    | DisconnectReason::ServerShuttingDown
            ) {
                let data = socket.data();
                recovery.left(socket.id.clone(), pid.clone(), rooms.clone(), data);
            }
        }
        socket.ns.adapter.remove_socket(&socket.id);
        self.sockets.write().remove(&socket.id);
        if let Some(conn) = socket.conn.upgrade() {
            conn.sockets.lock().remove(socket);
            conn.pending.lock().retain(|s| !Arc::ptr_eq(s, socket));
        }
        if was == ACCEPTED && self.config.cleanup_empty_child_namespaces {
            self.remove_if_empty(&socket.ns);
        }
        if was == PENDING {
            // The host never saw this socket connect: nothing to tell it.
            socket.acks.lock().clear();
            socket.held.lock().clear();
            return Vec::new();
        }
        let mut events = vec![Event::Disconnect {
            sid: socket.id.clone(),
            nsp: socket.ns.name.clone(),
            reason,
            rooms,
        }];
        // The host hears of its own acks; a broadcast's wait for its timeout (socket.io).
        let mut pending: Vec<u64> = socket
            .acks
            .lock()
            .take_all()
            .filter_map(|(_, awaited)| match awaited {
                Awaited::Host(token) => Some(token),
                Awaited::Broadcast(_) => None,
            })
            .collect();
        pending.sort_unstable();
        events.extend(pending.into_iter().map(|token| Event::AckResponse {
            token,
            sid: socket.id.clone(),
            result: Err(AckError::Disconnected),
        }));
        events
    }

    /// Queues events from a thread that must not wait, in order.
    fn emit_events_detached(self: &Arc<Self>, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        let sio = self.clone();
        self.rt.spawn(async move {
            for ev in events {
                sio.emit_event(ev).await;
            }
        });
    }

    /// Server-side disconnect: sends the DISCONNECT packet, and closes the whole connection
    /// when `close` is set. `reason` is what the host is told.
    pub(crate) fn disconnect(
        self: &Arc<Self>,
        socket: &Arc<Socket>,
        close: bool,
        reason: DisconnectReason,
    ) {
        if close {
            let siblings: Vec<_> = socket
                .conn
                .upgrade()
                .map(|c| c.sockets.lock().values().cloned().collect())
                .unwrap_or_default();
            for s in siblings {
                self.disconnect(&s, false, reason);
            }
            self.disconnect(socket, false, reason);
            self.close_session(&socket.session, CloseReason::ForcedClose);
            return;
        }
        let events = self.leave(socket, reason);
        self.emit_events_detached(events);
    }

    /// Server-side leave of one socket: detaches it and, when the client knew it, sends the
    /// DISCONNECT packet. Returns the events for the host.
    fn leave(&self, socket: &Arc<Socket>, reason: DisconnectReason) -> Vec<Event> {
        let events = self.detach(socket, reason);
        if !events.is_empty() {
            let text = packet::encode_control(PacketType::Disconnect, &socket.ns.name, None);
            self.send(&socket.session, &[self.wire.frame(text, true)]);
        }
        events
    }

    fn refuse_connect(&self, session: &Arc<Session>, nsp: &str, message: &str, data: Option<&str>) {
        if session.protocol != Protocol::V4 && message != INVALID_NAMESPACE {
            // Socket.IO v4 protocol (socket.io-client 2.x): the error is the refusal's data,
            // or its message, as socket.io sends it to such clients.
            let body = legacy::connect_error(message, data);
            let text = packet::encode_control(PacketType::ConnectError, nsp, Some(&body));
            self.send(session, &[self.wire.frame(text, true)]);
            return;
        }
        let mut body = format!(
            "{{\"message\":{}",
            serde_json::to_string(message).unwrap_or_else(|_| "\"\"".into())
        );
        if let Some(d) = data {
            body.push_str(",\"data\":");
            body.push_str(d);
        }
        body.push('}');
        let text = packet::encode_control(PacketType::ConnectError, nsp, Some(&body));
        self.send(session, &[self.wire.frame(text, true)]);
    }

    async fn on_connect(
        self: &Arc<Self>,
        session: &Arc<Session>,
        conn: &Arc<Conn>,
        nsp: &str,
        auth: Option<&str>,
    ) -> Result<(), Refusal> {
        if conn.sockets.lock().contains_key(nsp) {
            return Err(CloseReason::ParseError);
        }
        if conn.sockets.lock().len() + conn.pending.lock().len()
            >= self.config.max_namespaces_per_connection
        {
            return Err(CloseReason::ParseError);
        }
        let ns = match self.namespace(nsp) {
            Some(ns) => ns,
            None if self.config.dynamic_namespaces => self.dynamic_namespace(nsp),
            None => {
                self.refuse_connect(session, nsp, INVALID_NAMESPACE, None);
                return Ok(());
            }
        };
        let auth = auth.unwrap_or("{}").to_string();
        let ids = ns.recovery.as_ref().and_then(|_| recovery_ids(&auth));
        let back = match (&ns.recovery, ids) {
            (Some(r), Some((pid, offset))) => {
                self.end_stale(r, &pid).await;
                r.take_back(&pid, &offset)
            }
            _ => None,
        };
        // The socket exists (id, rooms, emits) while the host decides, as in Socket.IO's
        // middlewares and python-socketio's connect handler; it is announced on accept.
        let socket = self.create_socket(session, conn, &ns, &auth, back.as_ref().map(|b| &b.0));
        if session.is_closed() {
            // Closed while we were here: its close handler may not have seen this socket.
            self.detach(&socket, DisconnectReason::TransportClose);
            return Ok(());
        }
        let skip_middleware =
            back.is_some() && ns.recovery.as_ref().is_some_and(|r| r.skip_middlewares);
        let missed = match back {
            Some((left, missed)) => {
                for room in &left.rooms {
                    ns.adapter.join(&socket.id, room);
                }
                socket.set_data(left.data.as_deref());
                Some(missed)
            }
            None => None,
        };
        if ns.middleware.load(Ordering::Acquire) && !skip_middleware {
            // The host decides while this connection's other packets keep flowing, as
            // Socket.IO runs middlewares asynchronously.
            let sio = self.clone();
            self.rt.spawn(async move {
                match sio.ask_host(&socket, &auth).await {
                    Ok(()) => sio.confirm(&socket, auth, missed).await,
                    Err((message, data)) => {
                        sio.discard(&socket);
                        let session = &socket.session;
                        sio.refuse_connect(session, &socket.ns.name, &message, data.as_deref());
                    }
                }
            });
            return Ok(());
        }
        self.confirm(&socket, auth, missed).await;
        Ok(())
    }

    /// Asks the host whether a client may join a middleware namespace; the refusal's
    /// message and data when not (or when the host does not answer in time).
    async fn ask_host(
        &self,
        socket: &Arc<Socket>,
        auth: &str,
    ) -> Result<(), (String, Option<String>)> {
        let request = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.pending_connects.lock().insert(request, tx);
        self.emit_event(Event::ConnectRequest {
            request,
            sid: socket.id.clone(),
            nsp: socket.ns.name.clone(),
            auth: auth.to_string(),
            handshake: socket.session.handshake.clone(),
        })
        .await;
        let decision = tokio::time::timeout(self.config.connect_timeout, rx).await;
        self.pending_connects.lock().remove(&request);
        match decision {
            Ok(Ok(Decision::Accept)) => Ok(()),
            Ok(Ok(Decision::Reject { message, data })) => Err((message, data)),
            _ => Err(("connection request timed out".to_string(), None)),
        }
    }

    /// A client that shows the private id of a socket still connected here came back
    /// before its old connection's close reached the server (the client only reconnects
    /// after it saw that connection end): that connection is ended now, as its close would
    /// have, so the socket is kept for recovery and taken back in order.
    async fn end_stale(&self, recovery: &recovery::Recovery, pid: &str) {
        let Some(sid) = recovery.live_socket(pid) else {
            return;
        };
        let Some(old) = self.sockets.read().get(&sid).cloned() else {
            return;
        };
        for ev in self.detach(&old, DisconnectReason::TransportClose) {
            self.emit_event(ev).await;
        }
        self.close_session(&old.session, CloseReason::TransportClose);
    }

    /// Creates and registers a socket that is not announced yet.
    /// `back`: the socket it takes back (connection state recovery): its id and private id.
    fn create_socket(
        &self,
        session: &Arc<Session>,
        conn: &Arc<Conn>,
        ns: &Arc<Namespace>,
        auth: &str,
        back: Option<&recovery::Left>,
    ) -> Arc<Socket> {
        let v3 = session.protocol != Protocol::V4;
        let pid = ns.recovery.as_ref().filter(|_| !v3).map(|_| match back {
            Some(b) => b.pid.clone(),
            None => recovery::new_offset(),
        });
        let id = match back {
            Some(b) => b.sid.clone(),
            None if v3 => legacy::socket_id(&ns.name, &session.sid),
            None => crate::engineio::random_id(),
        };
        let socket = Arc::new(Socket {
            id,
            pid,
            recovered: back.is_some(),
            ns: ns.clone(),
            session: session.clone(),
            conn: Arc::downgrade(conn),
            state: AtomicU8::new(PENDING),
            held: Mutex::new(Vec::new()),
            acks: Mutex::new(Acks::default()),
            auth: (auth != "{}").then(|| auth.into()),
            data: Mutex::new(None),
        });
        if let (Some(r), Some(pid)) = (&ns.recovery, &socket.pid) {
            r.arrived(pid.clone(), socket.id.clone());
        }
        conn.pending.lock().push(socket.clone());
        self.sockets.write().insert(socket.clone());
        ns.adapter.add_socket(&socket.id);
        socket
    }

    /// Announces an accepted socket: CONNECT to the client (then, for a recovered socket,
    /// the events it `missed`), [`Event::Connect`] to the host.
    async fn confirm(&self, socket: &Arc<Socket>, auth: String, missed: Option<Vec<Frame>>) {
        let recovered = missed.is_some();
        {
            // Under the hold lock, so a concurrent send lands either in `held` (flushed
            // here, after CONNECT) or directly after it.
            let Some(conn) = socket.conn.upgrade() else {
                return;
            };
            if conn.sockets.lock().contains_key(&socket.ns.name) {
                // Another request for this namespace was accepted first.
                self.discard(socket);
                let nsp = &socket.ns.name;
                self.refuse_connect(&socket.session, nsp, "already connected", None);
                return;
            }
            let mut held = socket.held.lock();
            if socket
                .state
                .compare_exchange(PENDING, ACCEPTED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return; // the connection closed meanwhile
            }
            conn.pending.lock().retain(|s| !Arc::ptr_eq(s, socket));
            conn.sockets.lock().insert(socket.clone());
            let body = match &socket.pid {
                _ if socket.session.protocol != Protocol::V4 => None,
                Some(pid) => Some(format!("{{\"sid\":\"{}\",\"pid\":\"{pid}\"}}", socket.id)),
                None => Some(format!("{{\"sid\":\"{}\"}}", socket.id)),
            };
            let nsp = &socket.ns.name;
            let text = packet::encode_control(PacketType::Connect, nsp, body.as_deref());
            let mut frames = vec![self.wire.frame(text, true)];
            frames.extend(missed.unwrap_or_default());
            frames.append(&mut held);
            self.send(&socket.session, &frames);
        }
        self.emit_event(Event::Connect {
            sid: socket.id.clone(),
            nsp: socket.ns.name.clone(),
            auth,
            handshake: socket.session.handshake.clone(),
            recovered,
        })
        .await;
    }

    /// Forgets a refused socket (the host never saw it connect, so no disconnect either),
    /// and a dynamic namespace that no one joined.
    fn discard(&self, socket: &Arc<Socket>) {
        self.detach(socket, DisconnectReason::ServerNamespaceDisconnect);
        self.remove_if_empty(&socket.ns);
    }

    /// Removes a dynamic namespace that has no socket on this server.
    fn remove_if_empty(&self, ns: &Arc<Namespace>) {
        let empty = || ns.adapter.local().socket_count() == 0;
        if ns.dynamic && empty() {
            let mut all = self.namespaces.write();
            if all.get(&*ns.name).is_some_and(|n| Arc::ptr_eq(n, ns)) && empty() {
                all.remove(&*ns.name);
                drop(all);
                // Gone: no call reaches its adapter any more.
                self.rt.spawn(ns.adapter.clone().close());
            }
        }
    }

    async fn on_packet(
        self: &Arc<Self>,
        session: &Arc<Session>,
        conn: &Arc<Conn>,
        p: packet::Packet<'_>,
        attachments: Vec<Bytes>,
    ) -> Result<(), Refusal> {
        if p.attachments > 0 {
            packet::check_placeholders(p.data.unwrap_or("[]"), attachments.len())
                .map_err(|_| CloseReason::ParseError)?;
        }
        if p.kind == PacketType::Connect {
            if session.protocol != Protocol::V4 {
                // Socket.IO v4 protocol: the namespace carries the client's query, which
                // socket.io makes its auth.
                let (nsp, query) = p.nsp.split_once('?').unwrap_or((p.nsp, ""));
                let auth = legacy::query_object(query);
                return self.on_connect(session, conn, nsp, Some(&auth)).await;
            }
            return self.on_connect(session, conn, p.nsp, p.data).await;
        }
        let socket = conn
            .sockets
            .lock()
            .get(p.nsp)
            .cloned()
            .ok_or(CloseReason::ParseError)?;
        match p.kind {
            PacketType::Disconnect => {
                for ev in self.detach(&socket, DisconnectReason::ClientNamespaceDisconnect) {
                    self.emit_event(ev).await;
                }
            }
            PacketType::Event | PacketType::BinaryEvent => {
                let (event, args) = p.event.ok_or(CloseReason::ParseError)?;
                self.emit_event(Event::Message {
                    sid: socket.id.clone(),
                    nsp: socket.ns.name.clone(),
                    event,
                    payload: Payload::from_parts_unchecked(args, attachments),
                    ack: p.id,
                })
                .await;
            }
            PacketType::Ack | PacketType::BinaryAck => {
                let id = p.id.unwrap_or_default();
                let awaited = socket.acks.lock().remove(&id);
                let payload = || {
                    Payload::from_parts_unchecked(p.data.unwrap_or("[]").to_string(), attachments)
                };
                match awaited {
                    Some(Awaited::Host(token)) => {
                        self.emit_event(Event::AckResponse {
                            token,
                            sid: socket.id.clone(),
                            result: Ok(payload()),
                        })
                        .await;
                    }
                    Some(Awaited::Broadcast(sink)) => sink.answer(&socket.id, payload()),
                    None => {}
                }
            }
            PacketType::Connect | PacketType::ConnectError => return Err(CloseReason::ParseError),
        }
        Ok(())
    }

    async fn on_message_inner(
        self: &Arc<Self>,
        session: &Arc<Session>,
        conn: &Arc<Conn>,
        message: Message,
    ) -> Result<(), Refusal> {
        match message {
            Message::Text(_) if self.wire.binary_packets() => Err(CloseReason::ParseError),
            Message::Text(bytes) => {
                if conn.partial.lock().is_some() {
                    return Err(CloseReason::ParseError);
                }
                let text = std::str::from_utf8(&bytes).map_err(|_| CloseReason::ParseError)?;
                let header = packet::decode(text, self.config.max_attachments)
                    .map_err(|_| CloseReason::ParseError)?;
                if header.attachments > 0 {
                    *conn.partial.lock() = Some(Box::new(Partial {
                        text: text.to_string(),
                        expected: header.attachments,
                        attachments: Vec::with_capacity(header.attachments),
                        bytes: 0,
                    }));
                    return Ok(());
                }
                self.on_packet(session, conn, header, Vec::new()).await
            }
            Message::Binary(bytes) if self.wire.binary_packets() => {
                let (text, attachments) =
                    msgpack::decode(&bytes).map_err(|_| CloseReason::ParseError)?;
                let header = packet::decode(&text, self.config.max_attachments)
                    .map_err(|_| CloseReason::ParseError)?;
                self.on_packet(session, conn, header, attachments).await
            }
            Message::Binary(bytes) => {
                let complete = {
                    let mut partial = conn.partial.lock();
                    let p = partial.as_mut().ok_or(CloseReason::ParseError)?;
                    p.bytes += bytes.len();
                    if p.bytes
                        > self
                            .config
                            .max_payload
                            .saturating_mul(MAX_ATTACHMENT_PAYLOADS)
                    {
                        return Err(CloseReason::TransportError);
                    }
                    p.attachments.push(bytes);
                    if p.attachments.len() == p.expected {
                        partial.take()
                    } else {
                        None
                    }
                };
                match complete {
                    Some(p) => {
                        let header = packet::decode(&p.text, self.config.max_attachments)
                            .map_err(|_| CloseReason::ParseError)?;
                        self.on_packet(session, conn, header, p.attachments).await
                    }
                    None => Ok(()),
                }
            }
        }
    }
}

/// How adapters reach this server's sockets.
impl LocalSockets for Sio {
    fn send(&self, walk: Walk<'_>, packet: &OutPacket<'_>) -> usize {
        let targets = self.resolve_walk(walk);
        if targets.is_empty() {
            return 0;
        }
        let frames = packet.frames(&self.wire);
        let volatile = packet.is_volatile();
        targets
            .iter()
            .filter(|s| !volatile || s.session.writable())
            .filter(|s| self.send_to(s, frames))
            .count()
    }

    fn send_with_ack(
        &self,
        walk: Walk<'_>,
        packet: &OutPacket<'_>,
        timeout: Duration,
        sink: Arc<dyn AckSink>,
    ) -> usize {
        let targets = self.resolve_walk(walk);
        let Some(first) = targets.first() else {
            return 0;
        };
        let id = first.ns.next_ack.fetch_add(1, Ordering::Relaxed);
        let packet = packet.with_ack(id);
        let frames = packet.frames(&self.wire);
        let mut reached = 0;
        for s in &targets {
            // Before the frames go: the answer may come back before `send_to` returns.
            s.acks.lock().insert(id, Awaited::Broadcast(sink.clone()));
            if self.send_to(s, frames) {
                reached += 1;
            } else {
                s.acks.lock().remove(&id);
            }
        }
        if timeout == Duration::MAX {
            // No deadline: each entry goes with its answer or its socket.
            return reached;
        }
        // A socket that never answers does not keep the entry past the timeout.
        let targets: Vec<Weak<Socket>> = targets.iter().map(Arc::downgrade).collect();
        self.rt.spawn(async move {
            tokio::time::sleep(timeout).await;
            for s in targets.iter().filter_map(Weak::upgrade) {
                s.acks.lock().remove(&id);
            }
        });
        reached
    }

    fn disconnect(&self, ids: &[Arc<str>], close: bool) {
        let Some(me) = self.me.upgrade() else { return };
        for s in self.resolve(ids) {
            me.disconnect(&s, close, DisconnectReason::ServerNamespaceDisconnect);
        }
    }

    fn describe(&self, id: &str) -> Option<Described> {
        let socket = self.sockets.read().get(id).cloned()?;
        let auth = socket.auth.as_deref().unwrap_or("{}").to_string();
        let data = socket.data.lock().as_deref().map(str::to_string);
        Some(Described {
            handshake: socket.session.handshake.clone(),
            auth,
            data,
        })
    }
}

/// How long stopping waits for the adapters to close.
const ADAPTER_CLOSE: Duration = Duration::from_secs(1);

impl EngineHandler for Arc<Sio> {
    type Conn = Arc<Conn>;

    /// Initializes the adapters of the configured namespaces, together.
    fn ready(&self) -> impl std::future::Future<Output = Result<(), String>> + Send {
        let inits: Vec<_> = self
            .adapters()
            .into_iter()
            .map(|(name, adapter)| async move {
                adapter
                    .init()
                    .await
                    .map_err(|e| format!("the adapter of namespace {name}: {e}"))
            })
            .collect();
        async move {
            futures_util::future::try_join_all(inits).await?;
            Ok(())
        }
    }

    /// Closes every adapter (at most one second).
    fn on_stop(&self) -> impl std::future::Future<Output = ()> + Send {
        let closes: Vec<_> = self
            .adapters()
            .into_iter()
            .map(|(_, adapter)| adapter.close())
            .collect();
        async move {
            let all = futures_util::future::join_all(closes);
            let _ = tokio::time::timeout(ADAPTER_CLOSE, all).await;
        }
    }

    fn on_start(&self, engine: &Arc<Engine<Arc<Sio>>>) {
        let _ = self.engine.set(Arc::downgrade(engine));
        self.rt.spawn(self.bell.clone().run_ringer());
        // A connection that joins no namespace in time is closed, as Socket.IO does.
        let engine = Arc::downgrade(engine);
        self.rt
            .spawn(self.connect_deadlines.clone().run(move |(conn, session)| {
                let (Some(conn), Some(session), Some(engine)) =
                    (conn.upgrade(), session.upgrade(), engine.upgrade())
                else {
                    return;
                };
                let idle = conn.sockets.lock().is_empty() && conn.pending.lock().is_empty();
                if idle && !session.is_closed() {
                    if let Some(entry) = engine.get(&session.sid) {
                        engine.close(&entry, CloseReason::ForcedClose);
                    }
                }
            }));
    }

    async fn gate(&self, info: RequestInfo) -> RequestAnswer {
        let request = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.pending_requests.lock().insert(request, tx);
        // The engine bounds the whole wait with the gate's timeout; this guard forgets
        // the request however the wait ends.
        struct Forget<'a>(&'a Sio, u64);
        impl Drop for Forget<'_> {
            fn drop(&mut self) {
                self.0.pending_requests.lock().remove(&self.1);
            }
        }
        let _forget = Forget(self, request);
        self.emit_event(Event::Request {
            request,
            info: Arc::new(info),
        })
        .await;
        rx.await
            .unwrap_or_else(|_| RequestAnswer::deny(403, "Forbidden"))
    }

    fn on_open(&self, session: &Arc<Session>) -> Arc<Conn> {
        let conn = Arc::new(Conn {
            sockets: Mutex::new(ConnSockets::default()),
            pending: Mutex::new(SocketList::new()),
            partial: Mutex::new(None),
        });
        self.connect_deadlines
            .schedule((Arc::downgrade(&conn), Arc::downgrade(session)));
        if session.protocol != Protocol::V4 {
            // socket.io-client 2.x is in the main namespace from the start, as socket.io
            // connects it there on its own.
            if let Some(sio) = self.me.upgrade() {
                let (session, conn) = (session.clone(), conn.clone());
                self.rt.spawn(async move {
                    if let Err(reason) = sio.on_connect(&session, &conn, "/", None).await {
                        sio.refuse_connection(&session, reason);
                    }
                });
            }
        }
        conn
    }

    async fn on_message(&self, session: &Arc<Session>, conn: &Arc<Conn>, message: Message) {
        if let Err(reason) = self.on_message_inner(session, conn, message).await {
            self.refuse_connection(session, reason);
        }
    }

    async fn on_close(&self, _session: &Arc<Session>, conn: &Arc<Conn>, reason: CloseReason) {
        conn.partial.lock().take();
        let mut sockets: Vec<_> = conn.sockets.lock().values().cloned().collect();
        sockets.extend(conn.pending.lock().iter().cloned());
        for s in sockets {
            for ev in self.detach(&s, reason.into()) {
                self.emit_event(ev).await;
            }
        }
    }
}

impl Socket {
    /// Replaces what the host attached to this socket (JSON text; `None` clears it).
    pub(crate) fn set_data(&self, data: Option<&str>) {
        *self.data.lock() = data.map(Into::into);
    }

    pub(crate) fn data(&self) -> Option<String> {
        self.data.lock().as_deref().map(str::to_string)
    }

    /// Sends one event to this socket.
    pub(crate) fn emit(&self, sio: &Sio, event: &str, payload: &Payload) -> bool {
        sio.send_packet(self, PacketType::Event, None, Some(event), payload)
    }

    /// Answers a client's ack request.
    pub(crate) fn ack(&self, sio: &Sio, id: u64, payload: &Payload) -> bool {
        sio.send_packet(self, PacketType::Ack, Some(id), None, payload)
    }
}

/// The `pid` and `offset` a client sends in its CONNECT's auth to take its socket back.
fn recovery_ids(auth: &str) -> Option<(String, String)> {
    #[derive(serde::Deserialize)]
    struct Ids {
        pid: String,
        offset: String,
    }
    let ids: Ids = serde_json::from_str(auth).ok()?;
    Some((ids.pid, ids.offset))
}
