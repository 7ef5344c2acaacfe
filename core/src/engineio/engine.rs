//! The Engine.IO server: request routing, error answers, the session table and heartbeats.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use parking_lot::RwLock;
use rand::RngCore;

use super::gate::{RequestAnswer, RequestInfo};
use super::packet::{Frame, Packet};
use super::session::{CloseReason, Handshake, Headers, Protocol, Queued, Session, Transport};
use super::{polling, v3, websocket};
use crate::by_id::{Keyed, Table};
use crate::config::{Config, CorsOrigins};
use crate::http::{self, Body, RequestBody};
use crate::timers::FixedDelay;

/// Marks a request that came over TLS (the host terminated it): its session's handshake
/// is `secure`.
#[derive(Clone, Copy)]
pub(crate) struct OverTls;

/// A message received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (UTF-8).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
}

/// What a layer on top of Engine.IO (Socket.IO, or your own) does with sessions.
///
/// Methods run on rtio's runtime threads: they must not block. `on_message` may await
/// (that is how a slow consumer applies backpressure: the transport stops reading).
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state kept beside the session.
    type Conn: Send + Sync + 'static;
    /// A session opened.
    fn on_open(&self, session: &Arc<Session>) -> Self::Conn;
    /// A message arrived, in order per session.
    fn on_message(
        &self,
        session: &Arc<Session>,
        conn: &Self::Conn,
        message: Message,
    ) -> impl Future<Output = ()> + Send;
    /// Called once when the engine is created, before any connection is accepted, so a
    /// handler can keep a (weak) reference to its engine.
    fn on_start(&self, engine: &Arc<Engine<Self>>)
    where
        Self: Sized,
    {
        let _ = engine;
    }
    /// Gets ready once the runtime runs and before the server reports it listens (e.g.
    /// connects to a message broker); an error fails the start with that message.
    fn ready(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
    /// Called once when the server stops, after every session was closed and before the
    /// runtime stops.
    fn on_stop(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
    /// Decides whether a request may go on: a handshake when [`Config::request_gate`] is
    /// on, every request without a session id with [`CorsOrigins::Host`]. The engine
    /// refuses the request when no answer comes within [`Config::request_gate_timeout`].
    /// The default lets everything through.
    fn gate(&self, request: RequestInfo) -> impl Future<Output = RequestAnswer> + Send {
        let _ = request;
        async { RequestAnswer::allow() }
    }
    /// The session closed (called once).
    fn on_close(
        &self,
        session: &Arc<Session>,
        conn: &Self::Conn,
        reason: CloseReason,
    ) -> impl Future<Output = ()> + Send;
}

/// A session and the handler's state for it.
pub struct Entry<C> {
    /// The session.
    pub session: Arc<Session>,
    /// The handler's per-session state.
    pub conn: C,
}

/// The Engine.IO error answers, as the reference server sends them.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EioError {
    TransportUnknown = 0,
    UnknownSid = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    UnsupportedProtocolVersion = 5,
}

impl EioError {
    fn message(self) -> &'static str {
        match self {
            EioError::TransportUnknown => "Transport unknown",
            EioError::UnknownSid => "Session ID unknown",
            EioError::BadHandshakeMethod => "Bad handshake method",
            EioError::BadRequest => "Bad request",
            EioError::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    pub(crate) fn response(self) -> Response<Body> {
        let body = format!(
            "{{\"code\":{},\"message\":\"{}\"}}",
            self as u8,
            self.message()
        );
        Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("static response")
    }
}

/// True when a request's `Origin` is the one the session's handshake came from.
fn same_origin_as(session: &Session, origin: &Option<hyper::header::HeaderValue>) -> bool {
    session.handshake.headers.get("origin") == origin.as_ref().map(|o| o.as_bytes())
}

/// Open sessions by id.
type SessionTable<C> = Table<Entry<C>>;

impl<C> Keyed for Entry<C> {
    fn key(&self) -> &str {
        &self.session.sid
    }
}

/// An Engine.IO server over a handler `H`.
pub struct Engine<H: EngineHandler> {
    pub(crate) config: Arc<Config>,
    pub(crate) handler: H,
    sessions: RwLock<SessionTable<H::Conn>>,
    pub(crate) rt: tokio::runtime::Handle,
    /// WebSocket tasks still running (they may be flushing their last frames and close).
    pub(crate) websockets: std::sync::atomic::AtomicUsize,
    /// Sessions due for a ping: one ping interval after they opened or their last pong.
    pings: Arc<FixedDelay<Weak<Entry<H::Conn>>>>,
    /// Sessions pinged, due to have answered one ping timeout later.
    pongs: Arc<FixedDelay<Weak<Entry<H::Conn>>>>,
    /// Engine.IO v3 sessions, whose clients ping: due to have pinged within one ping
    /// interval plus the ping timeout.
    client_pings: Arc<FixedDelay<Weak<Entry<H::Conn>>>>,
}

struct Query<'a> {
    eio: Option<&'a str>,
    transport: Option<&'a str>,
    sid: Option<&'a str>,
    b64: Option<&'a str>,
    /// JSONP polling (Engine.IO v3 only), which rtio does not serve.
    jsonp: bool,
}

fn parse_query(q: &str) -> Query<'_> {
    let mut out = Query {
        eio: None,
        transport: None,
        sid: None,
        b64: None,
        jsonp: false,
    };
    for pair in q.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "EIO" => out.eio = Some(v),
            "transport" => out.transport = Some(v),
            "sid" => out.sid = Some(v),
            "b64" => out.b64 = Some(v),
            "j" => out.jsonp = true,
            _ => {}
        }
    }
    out
}

/// A new random id: 15 random bytes as 20 URL-safe base64 characters, like Socket.IO's.
pub(crate) fn random_id() -> Arc<str> {
    let mut raw = [0u8; 15];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(raw)
        .into()
}

impl<H: EngineHandler> Engine<H> {
    /// Creates an engine; `rt` is the runtime its tasks run on.
    pub fn new(config: Arc<Config>, handler: H, rt: tokio::runtime::Handle) -> Arc<Self> {
        let engine = Arc::new(Engine {
            pings: FixedDelay::new(config.ping_interval),
            pongs: FixedDelay::new(config.ping_timeout),
            client_pings: FixedDelay::new(config.ping_interval + config.ping_timeout),
            config,
            handler,
            sessions: RwLock::new(Table::new()),
            rt,
            websockets: std::sync::atomic::AtomicUsize::new(0),
        });
        engine.heartbeats();
        engine.handler.on_start(&engine);
        engine
    }

    /// Starts the tasks that keep every session's heartbeat, as Engine.IO does: a ping one
    /// interval after the session opened or answered the last one, a close with
    /// `PingTimeout` when no pong came within the timeout. v3 clients ping instead:
    /// `awaiting_pong` then means "no ping since the last check", and a client that stops
    /// pinging is closed within one to two interval-plus-timeouts.
    fn heartbeats(self: &Arc<Self>) {
        self.on_due(&self.pings, |engine, entry| {
            let s = &entry.session;
            // Before the ping goes: its pong may come back before `send` returns.
            s.awaiting_pong.store(true, Ordering::Release);
            match s.send(&[Frame::raw_text("2".into())]) {
                Queued::Ok => engine.pongs.schedule(Arc::downgrade(entry)),
                Queued::Closed => {}
                Queued::Overflow => engine.close(entry, CloseReason::SendQueueFull),
            }
        });
        self.on_due(&self.pongs, |engine, entry| {
            if entry.session.awaiting_pong.load(Ordering::Acquire) {
                engine.close(entry, CloseReason::PingTimeout);
            }
        });
        self.on_due(&self.client_pings, |engine, entry| {
            if entry.session.awaiting_pong.swap(true, Ordering::AcqRel) {
                engine.close(entry, CloseReason::PingTimeout);
            } else {
                engine.client_pings.schedule(Arc::downgrade(entry));
            }
        });
    }

    /// Runs `f` for each session of `queue` as it comes due, while the engine and the
    /// session are alive and the session is open.
    fn on_due(
        self: &Arc<Self>,
        queue: &Arc<FixedDelay<Weak<Entry<H::Conn>>>>,
        f: impl Fn(&Arc<Self>, &Arc<Entry<H::Conn>>) + Send + 'static,
    ) {
        let engine = Arc::downgrade(self);
        self.rt.spawn(queue.clone().run(move |entry| {
            let (Some(engine), Some(entry)) = (engine.upgrade(), entry.upgrade()) else {
                return;
            };
            if !entry.session.is_closed() {
                f(&engine, &entry);
            }
        }));
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Number of open sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.read().len()
    }

    /// Sessions still delivering their last frames after a close: WebSockets until their
    /// writer ends, polling sessions while a GET is pending or frames wait for the next GET.
    pub(crate) fn draining_count(&self) -> usize {
        let polling = self
            .sessions
            .read()
            .values()
            .filter(|e| {
                let s = &e.session;
                s.transport() == Transport::Polling
                    && (s.poll_active.load(std::sync::atomic::Ordering::Acquire) || s.has_pending())
            })
            .count();
        polling + self.websockets.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn get(&self, sid: &str) -> Option<Arc<Entry<H::Conn>>> {
        self.sessions.read().get(sid).cloned()
    }

    pub(crate) fn remove(&self, entry: &Arc<Entry<H::Conn>>) {
        self.sessions.write().remove_same(entry);
    }

    /// Answers one request to the Engine.IO path: the origin policy and the request gate,
    /// then the request itself, with CORS headers when its origin is allowed.
    pub(crate) async fn handle<B: RequestBody>(
        self: &Arc<Self>,
        req: Request<B>,
        remote: SocketAddr,
    ) -> Response<Body> {
        let origin = req.headers().get(hyper::header::ORIGIN).cloned();
        let sid = parse_query(req.uri().query().unwrap_or("")).sid;
        let mut answer = None;
        let cross_origin = match (&self.config.cors, sid) {
            (CorsOrigins::Host, Some(sid)) => self
                .get(sid)
                .is_some_and(|e| e.session.cross_origin && same_origin_as(&e.session, &origin)),
            (CorsOrigins::Host, None) => {
                let asked = self.ask_gate(&req, remote).await;
                let allowed = asked.cross_origin;
                answer = Some(asked);
                allowed
            }
            (policy, _) => http::cross_origin_allowed(policy, origin.as_ref()),
        };
        if self.config.reject_other_origins
            && origin.is_some()
            && !cross_origin
            && !http::same_origin(&req, origin.as_ref())
        {
            return http::not_an_accepted_origin();
        }
        let mut resp = match answer.as_ref().and_then(|a| a.refusal.as_ref()) {
            Some(refusal) => refusal.response(),
            None if req.method() == Method::OPTIONS => http::preflight(&req),
            None => {
                self.handle_engineio(req, remote, answer.is_some(), cross_origin)
                    .await
            }
        };
        if cross_origin {
            http::apply_cors(&self.config, origin.as_ref(), &mut resp);
        }
        resp
    }

    /// Asks the handler's gate about a request, refusing it when no answer comes in time.
    async fn ask_gate<B>(&self, req: &Request<B>, remote: SocketAddr) -> RequestAnswer {
        let query = parse_query(req.uri().query().unwrap_or(""));
        let info = RequestInfo {
            method: req.method().as_str().to_string(),
            url: req
                .uri()
                .path_and_query()
                .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string()),
            headers: Headers::from(req.headers()),
            remote_addr: remote,
            transport: if query.transport == Some("websocket") {
                Transport::WebSocket
            } else {
                Transport::Polling
            },
        };
        let timeout = self.config.request_gate_timeout;
        tokio::time::timeout(timeout, self.handler.gate(info))
            .await
            .unwrap_or_else(|_| RequestAnswer::timed_out())
    }

    /// Answers one Engine.IO request. `gated`: the request gate already let it through;
    /// `cross_origin`: its origin may read the response (kept by a session it opens).
    async fn handle_engineio<B: RequestBody>(
        self: &Arc<Self>,
        req: Request<B>,
        remote: SocketAddr,
        gated: bool,
        cross_origin: bool,
    ) -> Response<Body> {
        let query = req.uri().query().unwrap_or("").to_owned();
        let q = parse_query(&query);
        let is_upgrade = websocket::is_upgrade_request(&req);
        let transport = match q.transport {
            Some("polling") if self.config.polling => Transport::Polling,
            Some("websocket") if self.config.websocket => Transport::WebSocket,
            _ => return EioError::TransportUnknown.response(),
        };
        if let Some(sid) = q.sid {
            let Some(entry) = self.get(sid) else {
                return EioError::UnknownSid.response();
            };
            if is_upgrade && transport == Transport::WebSocket {
                if !self.config.allow_upgrades {
                    // (not offered in the open packet: a client that tries anyway is refused)
                    return EioError::BadRequest.response();
                }
                if entry.session.is_closed() {
                    return EioError::UnknownSid.response();
                }
                // Like engine.io: a second WebSocket for a session that already upgrades
                // (or did) is opened and closed at once; the session carries on.
                if entry.session.transport() != Transport::Polling || !entry.session.claim_upgrade()
                {
                    return websocket::refuse_duplicate(self, req);
                }
                return websocket::accept(self, req, entry);
            }
            if entry.session.transport() != transport || is_upgrade {
                return EioError::BadRequest.response();
            }
            return match *req.method() {
                Method::GET => {
                    let encoding = http::accepted_encoding(&req);
                    let resp = polling::get(self, &entry).await;
                    match (self.config.http_compression, encoding) {
                        (Some(threshold), Some(encoding)) => {
                            http::compress(resp, encoding, threshold).await
                        }
                        _ => resp,
                    }
                }
                Method::POST if entry.session.is_closed() => EioError::UnknownSid.response(),
                Method::POST => polling::post(self, &entry, req).await,
                _ => EioError::BadRequest.response(),
            };
        }
        if req.method() != Method::GET {
            return EioError::BadHandshakeMethod.response();
        }
        if transport == Transport::WebSocket && !is_upgrade {
            return EioError::BadRequest.response();
        }
        if self.config.request_gate && !gated {
            if let Some(refusal) = self.ask_gate(&req, remote).await.refusal {
                return refusal.response();
            }
        }
        let protocol = match q.eio {
            Some("4") => Protocol::V4,
            Some("3") if self.config.allow_eio3 && q.jsonp => {
                return EioError::BadRequest.response();
            }
            Some("3") if self.config.allow_eio3 => Protocol::V3 {
                b64: q.b64.is_some_and(|v| !v.is_empty() && v != "0"),
            },
            _ => return EioError::UnsupportedProtocolVersion.response(),
        };
        let handshake = Handshake {
            remote_addr: remote,
            headers: Headers::from(req.headers()),
            secure: req.extensions().get::<OverTls>().is_some(),
            query: query.clone(),
            issued_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        match transport {
            Transport::WebSocket => {
                websocket::accept_fresh(self, req, handshake, protocol, cross_origin)
            }
            Transport::Polling => {
                let entry = self.open(
                    random_id(),
                    handshake,
                    protocol,
                    Transport::Polling,
                    cross_origin,
                );
                let open = self.open_packet(&entry.session);
                let mut resp = match protocol {
                    Protocol::V4 => http::text_response(Bytes::from(open)),
                    Protocol::V3 { .. } => {
                        let frame = [Frame::raw_text(open)];
                        http::text_response(Bytes::from(v3::encode_payload(&frame, true).0))
                    }
                };
                self.set_cookie(&mut resp, &entry.session.sid);
                resp
            }
        }
    }

    /// Opens a session: registers it, tells the handler and starts its heartbeat.
    pub(crate) fn open(
        self: &Arc<Self>,
        sid: Arc<str>,
        handshake: Handshake,
        protocol: Protocol,
        transport: Transport,
        cross_origin: bool,
    ) -> Arc<Entry<H::Conn>> {
        let session = Arc::new(Session::new(
            sid,
            Arc::new(handshake),
            protocol,
            transport,
            self.config.send_queue_frames,
            self.config.send_queue_bytes,
            cross_origin,
        ));
        let conn = self.handler.on_open(&session);
        let entry = Arc::new(Entry { session, conn });
        self.sessions.write().insert(entry.clone());
        match protocol {
            Protocol::V4 => self.pings.schedule(Arc::downgrade(&entry)),
            Protocol::V3 { .. } => {
                // Its first ping is due one interval after the open.
                entry.session.awaiting_pong.store(true, Ordering::Release);
                self.client_pings.schedule(Arc::downgrade(&entry));
            }
        }
        entry
    }

    /// Sets the session cookie (`Config::cookie`) on a handshake's answer.
    pub(crate) fn set_cookie<B>(&self, resp: &mut Response<B>, sid: &str) {
        let value = self.config.cookie.as_ref().map(|c| c.header(sid));
        if let Some(value) = value.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
            resp.headers_mut().append(hyper::header::SET_COOKIE, value);
        }
    }

    /// The open packet (`0{...}`) of a session.
    pub(crate) fn open_packet(&self, session: &Session) -> String {
        let upgrades = if session.transport() == Transport::Polling
            && self.config.websocket
            && self.config.allow_upgrades
        {
            "[\"websocket\"]"
        } else {
            "[]"
        };
        format!(
            "0{{\"sid\":\"{}\",\"upgrades\":{},\"pingInterval\":{},\"pingTimeout\":{},\"maxPayload\":{}}}",
            session.sid,
            upgrades,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload
        )
    }

    /// Queues frames on a session, closing it as a slow client when its queue is full.
    /// Returns false when nothing was queued.
    pub fn send(self: &Arc<Self>, entry: &Arc<Entry<H::Conn>>, frames: &[Frame]) -> bool {
        match entry.session.send(frames) {
            Queued::Ok => true,
            Queued::Closed => false,
            Queued::Overflow => {
                self.close(entry, CloseReason::SendQueueFull);
                false
            }
        }
    }

    /// Closes a session (once) and the handler's `on_close` runs. A session the server
    /// closed ([`CloseReason::is_server_initiated`]) still delivers what is queued, then
    /// the close; any other (the client closed or abandoned it, or broke the Engine.IO
    /// protocol) is gone at once, as in engine.io: a polling client's next request gets
    /// "Session ID unknown".
    pub fn close(self: &Arc<Self>, entry: &Arc<Entry<H::Conn>>, reason: CloseReason) {
        self.close_as(entry, reason, reason.is_server_initiated());
    }

    /// Closes a session (once) after delivering what is queued, whatever the reason: what
    /// a layer on top does when it ends a connection itself (socket.io's `conn.close()`,
    /// e.g. for a malformed Socket.IO packet).
    pub fn close_flushed(self: &Arc<Self>, entry: &Arc<Entry<H::Conn>>, reason: CloseReason) {
        self.close_as(entry, reason, true);
    }

    fn close_as(self: &Arc<Self>, entry: &Arc<Entry<H::Conn>>, reason: CloseReason, flush: bool) {
        if !entry.session.mark_closed(reason, flush) {
            return;
        }
        match entry.session.transport() {
            Transport::WebSocket => self.remove(entry),
            Transport::Polling if !flush => self.remove(entry),
            Transport::Polling => {
                // Keep it reachable a little longer, so the client's next GET receives
                // what was queued and the close packet instead of "unknown sid".
                let engine = self.clone();
                let e = entry.clone();
                self.rt.spawn(async move {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    engine.remove(&e);
                });
            }
        }
        let engine = self.clone();
        let e = entry.clone();
        self.rt.spawn(async move {
            engine.handler.on_close(&e.session, &e.conn, reason).await;
        });
    }

    /// Closes every session; used when the server stops.
    pub fn close_all(self: &Arc<Self>, reason: CloseReason) {
        let all: Vec<_> = self.sessions.read().values().cloned().collect();
        for e in all {
            self.close(&e, reason);
        }
    }

    /// Handles one packet from a client; an error closes the session with that reason.
    pub(crate) async fn on_packet(
        self: &Arc<Self>,
        entry: &Arc<Entry<H::Conn>>,
        packet: Packet,
    ) -> Result<(), CloseReason> {
        match packet {
            Packet::Close => Err(CloseReason::TransportClose),
            Packet::Pong(_) if entry.session.protocol != Protocol::V4 => Ok(()),
            Packet::Pong(_) => {
                // The next ping is due one interval after this pong (an unasked-for pong
                // changes nothing).
                if entry.session.awaiting_pong.swap(false, Ordering::AcqRel) {
                    self.pings.schedule(Arc::downgrade(entry));
                }
                Ok(())
            }
            Packet::Ping(data) => {
                if entry.session.protocol != Protocol::V4 {
                    // A v3 client's heartbeat.
                    entry.session.awaiting_pong.store(false, Ordering::Release);
                }
                let mut text = String::from("3");
                text.push_str(std::str::from_utf8(&data).unwrap_or(""));
                self.send(entry, &[Frame::raw_text(text)]);
                Ok(())
            }
            Packet::Text(data) => {
                self.handler
                    .on_message(&entry.session, &entry.conn, Message::Text(data))
                    .await;
                Ok(())
            }
            Packet::Binary(data) => {
                self.handler
                    .on_message(&entry.session, &entry.conn, Message::Binary(data))
                    .await;
                Ok(())
            }
            Packet::Noop => Ok(()),
            Packet::Upgrade => Err(CloseReason::ParseError),
        }
    }
}
