//! The public server: start it, receive events, act through the [`Io`] handle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::adapter::{AckAnswer, OutPacket, Selector, SocketInfo};
use crate::bell::EventBell;
use crate::config::Config;
use crate::engineio::{Engine, RequestAnswer};
use crate::event::Event;
use crate::payload::Payload;
use crate::runtime::RuntimeThread;
use crate::socketio::{Decision, Sio, Socket};
use crate::Error;

/// A running Socket.IO server. Dropping it stops the server.
///
/// ```no_run
/// let server = rtio::Server::start(rtio::Config::default().port(3000)).unwrap();
/// let io = server.io();
/// while let Ok(event) = server.events().recv() {
///     if let rtio::Event::Message { sid, event, payload, .. } = event {
///         io.emit(&sid, &event, &payload).ok(); // echo
///     }
/// }
/// ```
pub struct Server {
    io: Io,
    events: Events,
}

impl Server {
    /// Starts a server on its own runtime thread and returns once it is listening, or
    /// with the reason it could not (address in use, bad address...).
    pub fn start(config: Config) -> Result<Server, Error> {
        for ns in &config.namespaces {
            if !ns.name.starts_with('/') {
                return Err(Error::InvalidArgument(format!(
                    "namespace {:?} must start with '/'",
                    ns.name
                )));
            }
        }
        if !config.path.starts_with('/') {
            return Err(Error::InvalidArgument("path must start with '/'".into()));
        }
        let config = Arc::new(config);
        let (tx, rx) = flume::bounded(config.event_queue.max(1));
        let tail = EventTail::default();
        let bell = EventBell::new(config.on_event_ready.clone());
        let sio_config = config.clone();
        let sio_tail = tail.clone();
        let sio_bell = bell.clone();
        let (thread, engine) = RuntimeThread::start(config, move |rt| {
            Sio::new(sio_config, tx, sio_tail, sio_bell, rt)
        })?;
        let io = Io {
            inner: Arc::new(Inner {
                addr: thread.addr,
                bridges: Arc::default(),
                in_flight: Default::default(),
                engine,
                stopped: AtomicBool::new(false),
                ended: AtomicBool::new(false),
                tls: thread.tls.clone(),
                thread: Mutex::new(Some(thread)),
            }),
        };
        Ok(Server {
            io,
            events: Events { rx, tail, bell },
        })
    }

    /// The handle to act on the server; cheap to clone, usable from any thread.
    pub fn io(&self) -> Io {
        self.io.clone()
    }

    /// The event stream.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.io.local_addr()
    }

    /// Stops the server (see [`Io::stop`]).
    pub fn stop(&self) {
        self.io.stop();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.io.stop();
    }
}

/// The events of a server, in order per socket. Cheap to clone; each event goes to one
/// receiver. Receiving ends with [`Error::Stopped`] once the server stopped and every
/// queued event was taken.
#[derive(Clone)]
pub struct Events {
    rx: flume::Receiver<Event>,
    tail: EventTail,
    /// Rung when events were queued (once per batch): waiting receivers sleep on it.
    bell: Arc<EventBell>,
}

/// Events queued by `stop` that did not fit in the bounded queue; read after it.
pub(crate) type EventTail = Arc<Mutex<std::collections::VecDeque<Event>>>;

impl Events {
    /// After the queue is closed and empty: what `stop` left in the tail, then `Stopped`.
    fn after_close(&self) -> Result<Event, Error> {
        self.tail.lock().pop_front().ok_or(Error::Stopped)
    }

    /// Waits for the next event.
    pub fn recv(&self) -> Result<Event, Error> {
        loop {
            if let Some(e) = self.try_recv()? {
                return Ok(e);
            }
            self.bell.wait(None);
        }
    }

    /// Waits at most `timeout`; `Ok(None)` when it passed.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Event>, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.try_recv()? {
                return Ok(Some(e));
            }
            if !self.bell.wait(Some(deadline)) {
                return self.try_recv();
            }
        }
    }

    /// Takes an event if one is queued.
    pub fn try_recv(&self) -> Result<Option<Event>, Error> {
        match self.rx.try_recv() {
            Ok(e) => Ok(Some(e)),
            Err(flume::TryRecvError::Empty) => Ok(None),
            Err(flume::TryRecvError::Disconnected) => self.after_close().map(Some),
        }
    }

    /// Waits for the next event on the caller's async runtime.
    pub async fn recv_async(&self) -> Result<Event, Error> {
        match self.rx.recv_async().await {
            Ok(e) => Ok(e),
            Err(_) => self.after_close(),
        }
    }

    /// Number of events queued.
    pub fn len(&self) -> usize {
        self.rx.len() + self.tail.lock().len()
    }

    /// True when no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

struct Inner {
    addr: SocketAddr,
    /// The WebSockets whose framing the host does (`Io::open_websocket`).
    bridges: Arc<crate::intake::Bridges>,
    /// The requests a host handed over that wait for their answer, by token
    /// (`Io::handle_request`, `Io::cancel_request`).
    in_flight: parking_lot::Mutex<std::collections::HashMap<u64, tokio::task::AbortHandle>>,
    engine: Arc<Engine<Arc<Sio>>>,
    stopped: AtomicBool,
    /// Set once `stop` finished: the runtime is gone (see `Io::intake_engine`).
    ended: AtomicBool,
    thread: Mutex<Option<RuntimeThread>>,
    /// The listener's TLS settings (`Config::tls`), for `Io::reload_tls`.
    tls: Option<Arc<crate::tls::Tls>>,
}

/// Counts for a namespace, on this server (in a cluster each server counts its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Sockets connected to the namespace.
    pub sockets: usize,
    /// Rooms with members, not counting each socket's own room.
    pub rooms: usize,
}

/// The handle to a running server: emit, broadcast, rooms, acks, disconnects, stop.
///
/// Thread-safe and cheap to clone. No method blocks on IO: each queues its work and
/// returns. Every method returns [`Error::Stopped`] once the server stopped.
#[derive(Clone)]
pub struct Io {
    inner: Arc<Inner>,
}

impl Io {
    pub(crate) fn in_flight(
        &self,
    ) -> &parking_lot::Mutex<std::collections::HashMap<u64, tokio::task::AbortHandle>> {
        &self.inner.in_flight
    }

    pub(crate) fn bridges(&self) -> &Arc<crate::intake::Bridges> {
        &self.inner.bridges
    }

    /// The engine for requests a host hands over: still there while `stop` drains the
    /// sessions (a long-polling client of an embedded server collects its close packet
    /// through its host, as it would through rtio's own listener), gone once it ended.
    pub(crate) fn intake_engine(&self) -> Result<&Arc<Engine<Arc<Sio>>>, Error> {
        if self.inner.ended.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        Ok(&self.inner.engine)
    }

    pub(crate) fn sio(&self) -> Result<&Arc<Engine<Arc<Sio>>>, Error> {
        if self.inner.stopped.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        Ok(&self.inner.engine)
    }

    fn socket(&self, sid: &str) -> Result<(Arc<Socket>, &Sio), Error> {
        let engine = self.sio()?;
        let sio = engine.handler();
        let s = sio
            .sockets
            .read()
            .get(sid)
            .cloned()
            .ok_or_else(|| Error::UnknownSocket(sid.to_string()))?;
        Ok((s, sio))
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Sends an event to one socket.
    pub fn emit(&self, sid: &str, event: &str, payload: &Payload) -> Result<(), Error> {
        let (socket, sio) = self.socket(sid)?;
        match &socket.ns.recovery {
            Some(recovery) => {
                // Kept for this socket if it comes back, its offset as its last argument.
                let offset = crate::socketio::new_offset();
                let payload = crate::socketio::with_offset(payload, &offset);
                let packet = OutPacket::event(&socket.ns.name, event, &payload);
                let frames = packet.frames(&sio.wire);
                recovery.keep(offset, frames, &[sid.to_string()], &[]);
                sio.send_to(&socket, frames);
            }
            None => {
                socket.emit(sio, event, payload);
            }
        }
        Ok(())
    }

    /// Sends an event to one socket and asks for an ack. The answer, or
    /// [`crate::AckError::Timeout`] after `timeout`, arrives as exactly one
    /// [`Event::AckResponse`] carrying the returned token. With `Duration::MAX` there is no
    /// deadline: the ack waits for the client's answer or the socket's end
    /// ([`crate::AckError::Disconnected`]), as python-socketio's callbacks do.
    pub fn emit_with_ack(
        &self,
        sid: &str,
        event: &str,
        payload: &Payload,
        timeout: Duration,
    ) -> Result<u64, Error> {
        let (socket, _) = self.socket(sid)?;
        let sio = self.inner.engine.handler();
        Ok(sio.emit_with_ack(&socket, event, payload, timeout))
    }

    /// Answers a client's message that asked for an ack (`ack` of [`Event::Message`]).
    pub fn ack(&self, sid: &str, ack_id: u64, payload: &Payload) -> Result<(), Error> {
        let (socket, sio) = self.socket(sid)?;
        socket.ack(sio, ack_id, payload);
        Ok(())
    }

    /// Starts a broadcast (or another operation on a selection of sockets) in a
    /// namespace; finish it with [`Broadcast::emit`] or another of its operations.
    pub fn broadcast(&self, nsp: &str) -> Broadcast<'_> {
        Broadcast {
            io: self,
            nsp: nsp.to_string(),
            to: Vec::new(),
            except: Vec::new(),
            skip: None,
            local: false,
            volatile: false,
            compress: true,
        }
    }

    /// Puts a socket in a room.
    pub fn join(&self, sid: &str, room: &str) -> Result<(), Error> {
        let (socket, _) = self.socket(sid)?;
        socket.ns.adapter.join(sid, room);
        Ok(())
    }

    /// Takes a socket out of a room.
    pub fn leave(&self, sid: &str, room: &str) -> Result<(), Error> {
        let (socket, _) = self.socket(sid)?;
        socket.ns.adapter.leave(sid, room);
        Ok(())
    }

    /// Attaches data to a socket (socket.io's `socket.data`), as JSON text; `None` clears
    /// it. The other servers of a cluster see it in their `fetch_sockets` answers (as
    /// [`crate::SocketInfo::data`], like this server's own). The core does not read it.
    /// [`Error::InvalidArgument`] when it is not JSON.
    pub fn set_socket_data(&self, sid: &str, data: Option<&str>) -> Result<(), Error> {
        if let Some(json) = data {
            serde_json::from_str::<&serde_json::value::RawValue>(json)
                .map_err(|e| Error::InvalidArgument(format!("socket data is not JSON ({e})")))?;
        }
        let (socket, _) = self.socket(sid)?;
        socket.set_data(data);
        Ok(())
    }

    /// Reads the TLS certificate and key files of [`crate::Config::tls`] again (after a
    /// renewal): new connections get the new certificate, open ones keep theirs. On an
    /// error (which names the file) the certificate in use stays.
    /// [`Error::InvalidArgument`] also when the server has no TLS.
    pub fn reload_tls(&self) -> Result<(), Error> {
        match &self.inner.tls {
            Some(tls) => tls.reload(),
            None => Err(Error::InvalidArgument("this server has no TLS".into())),
        }
    }

    /// Whether a socket came back with connection state recovery ([`crate::Config::recovery`];
    /// socket.io's `socket.recovered`), as its [`Event::Connect`] said.
    pub fn recovered(&self, sid: &str) -> Result<bool, Error> {
        let (socket, _) = self.socket(sid)?;
        Ok(socket.recovered)
    }

    /// The data attached to a socket with [`Io::set_socket_data`] (JSON text), if any.
    pub fn socket_data(&self, sid: &str) -> Result<Option<String>, Error> {
        let (socket, _) = self.socket(sid)?;
        Ok(socket.data())
    }

    /// The rooms a socket is in, its own room (its id) first.
    pub fn rooms(&self, sid: &str) -> Result<Vec<String>, Error> {
        let (socket, _) = self.socket(sid)?;
        let rooms = socket.ns.adapter.rooms_of(sid);
        rooms.ok_or_else(|| Error::UnknownSocket(sid.to_string()))
    }

    /// Removes every socket of a namespace from a room, on every server of a cluster
    /// (socket.io's `io.in(room).socketsLeave(room)`).
    pub fn close_room(&self, nsp: &str, room: &str) -> Result<(), Error> {
        let room = [room.to_string()];
        let sel = Selector {
            to: &room,
            ..Default::default()
        };
        self.sockets_leave(nsp, &sel, room.iter().cloned())
    }

    /// The ids of this server's sockets in a namespace, or in one of its rooms (for the
    /// sockets of every server, see [`Io::fetch_sockets`]).
    pub fn sockets(&self, nsp: &str, room: Option<&str>) -> Result<Vec<String>, Error> {
        let ns = self.namespace(nsp)?;
        let to: Vec<String> = room.map(|r| vec![r.to_string()]).unwrap_or_default();
        let sel = Selector {
            to: &to,
            ..Default::default()
        };
        let ids = ns.adapter.local().select(&sel);
        Ok(ids.into_iter().map(|id| id.to_string()).collect())
    }

    /// Lists the sockets `sel` selects in a namespace, on every server of a cluster
    /// (socket.io's `fetchSockets`): returns a token at once; the list arrives as one
    /// [`Event::FetchSocketsResponse`] carrying it, after every server answered or
    /// [`crate::Config::cluster_timeout`].
    pub fn fetch_sockets(&self, nsp: &str, sel: &Selector<'_>) -> Result<u64, Error> {
        let ns = self.namespace(nsp)?;
        let sio = self.inner.engine.handler();
        let reply = sio.reply::<SocketInfo>(sio.config.cluster_timeout);
        let token = reply.token();
        ns.adapter.fetch_sockets(sel, reply);
        Ok(token)
    }

    /// Puts the sockets `sel` selects in these rooms, on every server of a cluster
    /// (socket.io's `socketsJoin`). Applied here before it returns; other servers apply it
    /// when their adapter hears of it.
    pub fn sockets_join<R: Into<String>>(
        &self,
        nsp: &str,
        sel: &Selector<'_>,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        ns.adapter.add_sockets(sel, &rooms);
        Ok(())
    }

    /// Takes the sockets `sel` selects out of these rooms, on every server of a cluster
    /// (socket.io's `socketsLeave`).
    pub fn sockets_leave<R: Into<String>>(
        &self,
        nsp: &str,
        sel: &Selector<'_>,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        let rooms: Vec<String> = rooms.into_iter().map(Into::into).collect();
        ns.adapter.del_sockets(sel, &rooms);
        Ok(())
    }

    /// Disconnects the sockets `sel` selects, on every server of a cluster (socket.io's
    /// `disconnectSockets`): each client sees `io server disconnect`, the host of each
    /// socket gets its [`Event::Disconnect`]. With `close_connection`, their whole
    /// connections are closed too.
    pub fn disconnect_sockets(
        &self,
        nsp: &str,
        sel: &Selector<'_>,
        close_connection: bool,
    ) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        ns.adapter.disconnect_sockets(sel, close_connection);
        Ok(())
    }

    /// Sends an event to the hosts of the other servers of a cluster (socket.io's
    /// `serverSideEmit`); they get it as [`Event::ServerSideEmit`]. This server's host does
    /// not. With the default local adapter it reaches no one.
    pub fn server_side_emit(&self, nsp: &str, event: &str, payload: &Payload) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        ns.adapter.server_side_emit(event, payload, None);
        Ok(())
    }

    /// Like [`Io::server_side_emit`], and asks each other server's host for an answer:
    /// returns a token at once; the answers arrive as one [`Event::ServerSideAckResponse`]
    /// carrying it, when every other server answered (at once when there is none) or at
    /// `timeout` with the answers that came.
    pub fn server_side_emit_with_ack(
        &self,
        nsp: &str,
        event: &str,
        payload: &Payload,
        timeout: Duration,
    ) -> Result<u64, Error> {
        let ns = self.namespace(nsp)?;
        let reply = self.inner.engine.handler().reply::<Payload>(timeout);
        let token = reply.token();
        ns.adapter.server_side_emit(event, payload, Some(reply));
        Ok(token)
    }

    /// Answers an [`Event::ServerSideEmit`] that asked for one (its `ack`).
    /// [`Error::UnknownRequest`] when it was answered already or waited longer than
    /// [`crate::Config::cluster_timeout`].
    pub fn server_side_ack(&self, ack: u64, payload: &Payload) -> Result<(), Error> {
        let sio = self.sio()?.handler();
        if sio.server_side_ack(ack, payload.clone()) {
            Ok(())
        } else {
            Err(Error::UnknownRequest(ack))
        }
    }

    /// Counts the servers of a namespace's cluster, this one included (socket.io's
    /// `serverCount`): returns a token at once; the count arrives as one
    /// [`Event::ServerCountResponse`] carrying it (1 with the default local adapter).
    pub fn server_count(&self, nsp: &str) -> Result<u64, Error> {
        let ns = self.namespace(nsp)?;
        let sio = self.inner.engine.handler();
        let reply = sio.reply::<usize>(sio.config.cluster_timeout);
        let token = reply.token();
        ns.adapter.server_count(reply);
        Ok(token)
    }

    /// The namespace a socket belongs to.
    pub fn namespace_of(&self, sid: &str) -> Result<String, Error> {
        let (socket, _) = self.socket(sid)?;
        Ok(socket.ns.name.to_string())
    }

    /// Disconnects a socket from its namespace (the client sees `io server disconnect`).
    /// With `close_connection`, the client's whole connection is closed too.
    pub fn disconnect(&self, sid: &str, close_connection: bool) -> Result<(), Error> {
        let (socket, _) = self.socket(sid)?;
        self.inner.engine.handler().disconnect(
            &socket,
            close_connection,
            crate::DisconnectReason::ServerNamespaceDisconnect,
        );
        Ok(())
    }

    /// Accepts a pending [`Event::ConnectRequest`].
    pub fn accept(&self, request: u64) -> Result<(), Error> {
        self.decide(request, Decision::Accept)
    }

    /// Refuses a pending [`Event::ConnectRequest`]: the client gets `connect_error` with
    /// this message and, when given, `data` (JSON text).
    pub fn reject(&self, request: u64, message: &str, data: Option<&str>) -> Result<(), Error> {
        if let Some(d) = data {
            serde_json::from_str::<&serde_json::value::RawValue>(d)
                .map_err(|e| Error::InvalidArgument(format!("data is not JSON: {e}")))?;
        }
        self.decide(
            request,
            Decision::Reject {
                message: message.to_string(),
                data: data.map(str::to_string),
            },
        )
    }

    /// Answers a pending [`Event::Request`] (the request gate): let it through or refuse
    /// it, and, with [`crate::CorsOrigins::Host`], whether its origin has cross-origin
    /// access. [`Error::UnknownRequest`] when it was answered already or timed out.
    pub fn answer_request(&self, request: u64, answer: RequestAnswer) -> Result<(), Error> {
        let tx = self
            .sio()?
            .handler()
            .pending_requests
            .lock()
            .remove(&request)
            .ok_or(Error::UnknownRequest(request))?;
        let _ = tx.send(answer);
        Ok(())
    }

    fn decide(&self, request: u64, decision: Decision) -> Result<(), Error> {
        let engine = self.sio()?;
        let tx = engine
            .handler()
            .pending_connects
            .lock()
            .remove(&request)
            .ok_or(Error::UnknownRequest(request))?;
        let _ = tx.send(decision);
        Ok(())
    }

    /// Number of Engine.IO connections open now, whether or not they joined a namespace
    /// (socket.io's `io.engine.clientsCount`).
    pub fn client_count(&self) -> Result<usize, Error> {
        Ok(self.sio()?.session_count())
    }

    /// Socket and room counts of a namespace, as they are now: a socket counts from the
    /// moment it joins until it leaves, which is ahead of the [`Event::Connect`] and
    /// [`Event::Disconnect`] events still queued for the host. A host that reports counts
    /// in step with the events it handles (a visitor counter) keeps its own count from
    /// those events.
    pub fn stats(&self, nsp: &str) -> Result<Stats, Error> {
        let ns = self.namespace(nsp)?;
        let local = ns.adapter.local();
        Ok(Stats {
            sockets: local.socket_count(),
            rooms: local.room_count(),
        })
    }

    fn namespace(&self, nsp: &str) -> Result<Arc<crate::socketio::Namespace>, Error> {
        self.sio()?
            .handler()
            .namespace(nsp)
            .ok_or_else(|| Error::UnknownNamespace(nsp.to_string()))
    }

    /// The namespaces this server has now (configured, added, or made by accepting a
    /// dynamic namespace's first client), sorted.
    pub fn namespaces(&self) -> Result<Vec<String>, Error> {
        Ok(self.sio()?.handler().namespace_names())
    }

    /// Accepts clients on one more namespace from now on (or changes whether an accepted
    /// namespace asks the host first with [`Event::ConnectRequest`]).
    pub fn add_namespace(&self, nsp: &str, middleware: bool) -> Result<(), Error> {
        if !nsp.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "namespace {nsp:?} must start with '/'"
            )));
        }
        self.sio()?.handler().add_namespace(nsp, middleware);
        Ok(())
    }

    /// The transport a socket's connection uses now (`Polling` until an upgrade completes).
    pub fn transport(&self, sid: &str) -> Result<crate::engineio::Transport, Error> {
        let (socket, _) = self.socket(sid)?;
        Ok(socket.session.transport())
    }

    /// True once the server was stopped.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// Stops the server: every client gets a disconnect packet and a proper close, the
    /// runtime thread is joined (within about a second), and the event stream ends.
    /// Safe to call from any host thread, more than once.
    pub fn stop(&self) {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        let sio = self.inner.engine.handler();
        sio.disconnect_all_for_stop();
        let thread = self.inner.thread.lock().take();
        if let Some(mut t) = thread {
            t.stop();
        }
        self.inner.ended.store(true, Ordering::Release);
        sio.close_events();
    }
}

/// A broadcast being built: which rooms, which exceptions; see [`Io::broadcast`]. Its
/// selection also serves the other operations on many sockets: acks, `fetch_sockets`,
/// `sockets_join` / `sockets_leave`, `disconnect_sockets`.
pub struct Broadcast<'a> {
    io: &'a Io,
    nsp: String,
    to: Vec<String>,
    except: Vec<String>,
    skip: Option<String>,
    local: bool,
    volatile: bool,
    compress: bool,
}

impl Broadcast<'_> {
    /// socket.io's `compress(false)`: the event never goes permessage-deflate-compressed
    /// (see [`Config::per_message_deflate`]).
    pub fn compress(mut self, compress: bool) -> Self {
        self.compress = compress;
        self
    }

    /// socket.io's `volatile`: a socket whose transport cannot take the event right now
    /// (a WebSocket still writing, a polling client with no GET waiting) does not get it;
    /// it is never queued. For one socket: `io.broadcast(nsp).to(sid).volatile()`.
    pub fn volatile(mut self) -> Self {
        self.volatile = true;
        self
    }

    /// Reaches the members of this room (several calls: the union).
    pub fn to(mut self, room: impl Into<String>) -> Self {
        self.to.push(room.into());
        self
    }

    /// Leaves out the members of this room.
    pub fn except(mut self, room: impl Into<String>) -> Self {
        self.except.push(room.into());
        self
    }

    /// Leaves out one socket (the sender, for `socket.broadcast.emit`).
    pub fn skip(mut self, sid: impl Into<String>) -> Self {
        self.skip = Some(sid.into());
        self
    }

    /// This server's sockets only: a cluster adapter does not forward the operation
    /// (socket.io's `local` flag).
    pub fn local(mut self) -> Self {
        self.local = true;
        self
    }

    /// The selection, as adapters take it.
    pub fn selector(&self) -> Selector<'_> {
        Selector {
            to: &self.to,
            except: &self.except,
            skip: self.skip.as_deref(),
            local: self.local,
        }
    }

    /// Sends the event, encoded once, to every selected socket (on every server of a
    /// cluster). Returns how many sockets of this server it was queued for.
    pub fn emit(self, event: &str, payload: &Payload) -> Result<usize, Error> {
        let ns = self.io.namespace(&self.nsp)?;
        let Some(recovery) = ns.recovery.as_ref().filter(|_| !self.volatile) else {
            let packet = OutPacket::event(&ns.name, event, payload)
                .volatile(self.volatile)
                .compress(self.compress);
            return Ok(ns.adapter.broadcast(&packet, &self.selector()));
        };
        // Kept for the sockets that come back, its offset as its last argument.
        let offset = crate::socketio::new_offset();
        let payload = crate::socketio::with_offset(payload, &offset);
        let packet = OutPacket::event(&ns.name, event, &payload).compress(self.compress);
        let mut except = self.except.clone();
        except.extend(self.skip.iter().cloned());
        let wire = &self.io.sio()?.handler().wire;
        recovery.keep(offset, packet.frames(wire), &self.to, &except);
        Ok(ns.adapter.broadcast(&packet, &self.selector()))
    }

    /// Sends the event, encoded once, to every selected socket asking each for an ack
    /// (socket.io's `io.timeout(ms).emit(..., callback)`): returns a token at once; the
    /// answers arrive as one [`Event::BroadcastAckResponse`] carrying it, once every socket
    /// reached answered (at once when none was reached), or at `timeout` with those that
    /// came. With `Duration::MAX` there is no deadline: a socket that leaves without
    /// answering then ends the wait once no other answer can come
    /// ([`crate::ClusterError::Abandoned`], with the answers that came).
    pub fn emit_with_ack(
        self,
        event: &str,
        payload: &Payload,
        timeout: Duration,
    ) -> Result<u64, Error> {
        let ns = self.io.namespace(&self.nsp)?;
        let sio = self.io.inner.engine.handler();
        let acks = sio.reply::<AckAnswer>(timeout);
        let token = acks.token();
        let packet = OutPacket::event(&ns.name, event, payload).compress(self.compress);
        ns.adapter
            .broadcast_with_ack(&packet, &self.selector(), timeout, acks);
        Ok(token)
    }

    /// Lists the selected sockets of every server: see [`Io::fetch_sockets`].
    pub fn fetch_sockets(self) -> Result<u64, Error> {
        self.io.fetch_sockets(&self.nsp, &self.selector())
    }

    /// Puts the selected sockets in these rooms: see [`Io::sockets_join`].
    pub fn sockets_join<R: Into<String>>(
        self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.io.sockets_join(&self.nsp, &self.selector(), rooms)
    }

    /// Takes the selected sockets out of these rooms: see [`Io::sockets_leave`].
    pub fn sockets_leave<R: Into<String>>(
        self,
        rooms: impl IntoIterator<Item = R>,
    ) -> Result<(), Error> {
        self.io.sockets_leave(&self.nsp, &self.selector(), rooms)
    }

    /// Disconnects the selected sockets: see [`Io::disconnect_sockets`].
    pub fn disconnect_sockets(self, close_connection: bool) -> Result<(), Error> {
        self.io
            .disconnect_sockets(&self.nsp, &self.selector(), close_connection)
    }
}
