//! The public server: start it, receive events, act through the [`Io`] handle.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::adapter::Selector;
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
            Arc::new(Sio::new(sio_config, tx, sio_tail, sio_bell, rt))
        })?;
        let io = Io {
            inner: Arc::new(Inner {
                addr: thread.addr,
                engine,
                stopped: AtomicBool::new(false),
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
    engine: Arc<Engine<Arc<Sio>>>,
    stopped: AtomicBool,
    thread: Mutex<Option<RuntimeThread>>,
}

/// Counts for a namespace.
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
    fn sio(&self) -> Result<&Arc<Engine<Arc<Sio>>>, Error> {
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
        socket.emit(sio, event, payload);
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

    /// Starts a broadcast in a namespace; finish it with [`Broadcast::emit`].
    pub fn broadcast(&self, nsp: &str) -> Broadcast<'_> {
        Broadcast {
            io: self,
            nsp: nsp.to_string(),
            to: Vec::new(),
            except: Vec::new(),
            skip: None,
        }
    }

    /// Puts a socket in a room.
    pub fn join(&self, sid: &str, room: &str) -> Result<(), Error> {
        let (socket, _) = self.socket(sid)?;
        socket.ns.index.write().join(sid, room);
        Ok(())
    }

    /// Takes a socket out of a room.
    pub fn leave(&self, sid: &str, room: &str) -> Result<(), Error> {
        let (socket, _) = self.socket(sid)?;
        socket.ns.index.write().leave(sid, room);
        Ok(())
    }

    /// The rooms a socket is in, its own room (its id) first.
    pub fn rooms(&self, sid: &str) -> Result<Vec<String>, Error> {
        let (socket, _) = self.socket(sid)?;
        let rooms = socket.ns.index.read().rooms_of(sid);
        rooms.ok_or_else(|| Error::UnknownSocket(sid.to_string()))
    }

    /// Removes every socket of a namespace from a room.
    pub fn close_room(&self, nsp: &str, room: &str) -> Result<(), Error> {
        let ns = self.namespace(nsp)?;
        ns.index.write().clear_room(room);
        Ok(())
    }

    /// The ids of the sockets in a namespace, or in one of its rooms.
    pub fn sockets(&self, nsp: &str, room: Option<&str>) -> Result<Vec<String>, Error> {
        let ns = self.namespace(nsp)?;
        let to: Vec<String> = room.map(|r| vec![r.to_string()]).unwrap_or_default();
        let sel = Selector {
            to: &to,
            ..Default::default()
        };
        let ids = ns.index.read().select(&sel);
        Ok(ids.into_iter().map(|(id, _)| id.to_string()).collect())
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
        let index = ns.index.read();
        Ok(Stats {
            sockets: index.socket_count(),
            rooms: index.room_count(),
        })
    }

    fn namespace(&self, nsp: &str) -> Result<Arc<crate::socketio::Namespace>, Error> {
        self.sio()?
            .handler()
            .namespace(nsp)
            .ok_or_else(|| Error::UnknownNamespace(nsp.to_string()))
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
        sio.close_events();
    }
}

/// A broadcast being built: which rooms, which exceptions. See [`Io::broadcast`].
pub struct Broadcast<'a> {
    io: &'a Io,
    nsp: String,
    to: Vec<String>,
    except: Vec<String>,
    skip: Option<String>,
}

impl Broadcast<'_> {
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

    /// Sends the event, encoded once, to every selected socket. Returns how many sockets
    /// it was queued for.
    pub fn emit(self, event: &str, payload: &Payload) -> Result<usize, Error> {
        let ns = self.io.namespace(&self.nsp)?;
        let sel = Selector {
            to: &self.to,
            except: &self.except,
            skip: self.skip.as_deref(),
        };
        Ok(self
            .io
            .inner
            .engine
            .handler()
            .broadcast(&ns, &sel, event, payload))
    }
}
