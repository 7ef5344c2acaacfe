//! Node binding of rtio: one thin native class over the core's [`Server`] / [`Io`], and one
//! ThreadsafeFunction through which the JS thread is told that the core has events for it.
//! The socket.io-shaped API (`Server`, `Namespace`, `Socket`, broadcast operators, binary
//! packing) is plain JavaScript on top (`lib/*.js`).
//!
//! Threads: rtio's runtime thread does all socket IO. When it queues an event while the JS
//! thread has not been told yet, it rings the [`Doorbell`]: one non-blocking ThreadsafeFunction
//! call (a wake-up of the JS event loop), never a wait. The JS thread then takes up to
//! [`MAX_BATCH`] events from the core's bounded queue, converts them and runs the handlers;
//! JS handlers run on the JS thread only. No thread sits between the two: an event costs no
//! extra thread hand-off. When JS falls behind, the core's queue fills and the core stops
//! reading from clients (TCP backpressure) — nothing buffers without bound.

mod args;
mod batch;
mod fast;
mod opening;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use args::JsonArgs;
use batch::{convert, transport_name, EventBatch, NativeEvent, KIND_CLOSED};
use bytes::Bytes;
use fast::FastCalls;
use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::{
    ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::Status;
use napi_derive::napi;
use rtio::{
    Config, CorsOrigins, Events, Io, NamespaceConfig, Payload, RequestAnswer, Selector, Server,
};
use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions, Variant};
use rtio_redis::SubscriptionMode;

/// Events handed to JS in one ThreadsafeFunction call, at most: then the doorbell rings
/// again, so timers and IO of the JS loop get their turn between batches.
const MAX_BATCH: usize = 256;

/// A namespace accepted from the start.
#[napi(object)]
pub struct NamespaceOptions {
    /// The name, starting with `/`.
    pub name: String,
    /// Whether connections first reach JS as a connect request (`.use()` middlewares).
    pub middleware: bool,
}

/// The Redis adapter a server joins its cluster with (`createRedisAdapter` /
/// `createShardedRedisAdapter` in JS make it).
#[napi(object)]
pub struct RedisOptions {
    /// `redis://[user[:password]@]host[:port][/db]`.
    pub url: String,
    /// The channels' prefix (Node's `key` / `channelPrefix`; default `socket.io`).
    pub key: Option<String>,
    /// The sharded variant (`createShardedAdapter`, Redis 7 or later).
    pub sharded: Option<bool>,
    /// Milliseconds a request to the other servers waits for their answers (default 5000).
    pub requests_timeout: Option<f64>,
    /// Classic only: answer requests on the requester's own response channel.
    pub publish_on_specific_response_channel: Option<bool>,
    /// Sharded only: `"static"`, `"dynamic"` (the default) or `"dynamic-private"`.
    pub subscription_mode: Option<String>,
}

/// engine.io's session cookie, as the JS layer normalised socket.io's `cookie` option.
#[napi(object)]
pub struct CookieOptions {
    /// The cookie's name (a token: no spaces, `;`, `=` or other separators).
    pub name: String,
    /// Its `Path` attribute (absent: none).
    pub path: Option<String>,
    /// `HttpOnly` (default false here: the JS layer applies engine.io's defaults).
    pub http_only: Option<bool>,
    /// `SameSite`: `"Strict"`, `"Lax"` or `"None"` (absent: no attribute).
    pub same_site: Option<String>,
}

/// Options of the native server (the JS layer maps socket.io's option names onto these).
#[napi(object)]
pub struct ServerOptions {
    /// Address to bind (default `0.0.0.0`).
    pub host: Option<String>,
    /// Port (0 or absent: a free port).
    pub port: Option<u32>,
    /// Whether rtio runs a listener of its own (default true): false when attached to the
    /// app's `http.Server`, which hands every request over (`handleRequest`,
    /// `adoptWebSocket`); `host` and `port` are then unused.
    pub listen: Option<bool>,
    /// Endpoint path (default `/socket.io/`).
    pub path: Option<String>,
    /// Milliseconds between pings.
    pub ping_interval: Option<f64>,
    /// Milliseconds to wait for a pong.
    pub ping_timeout: Option<f64>,
    /// Milliseconds a transport upgrade may take.
    pub upgrade_timeout: Option<f64>,
    /// Milliseconds a connection has to join a namespace (and middlewares to decide).
    pub connect_timeout: Option<f64>,
    /// Largest message or polling body, in bytes.
    pub max_payload: Option<f64>,
    /// Most binary attachments per packet.
    pub max_attachments: Option<u32>,
    /// Which origins get CORS headers: `"none"` (the default), `"any"` (the request's
    /// Origin is echoed), `"list"` (those of `corsOrigins`) or `"host"` (JS decides for each
    /// request without a session id, through `KIND_REQUEST` events).
    pub cors: Option<String>,
    /// Allowed origins when `cors` is `"list"`.
    pub cors_origins: Option<Vec<String>>,
    /// Whether allowed cross-origin requests may carry credentials
    /// (`Access-Control-Allow-Credentials: true`; default false).
    pub cors_credentials: Option<bool>,
    /// Whether every handshake first reaches JS as a `KIND_REQUEST` event (socket.io's
    /// `allowRequest`; default false).
    pub request_gate: Option<bool>,
    /// Milliseconds JS has to answer a `KIND_REQUEST` event, after which the request is
    /// refused with 403 (default 10 000).
    pub request_gate_timeout: Option<f64>,
    /// Whether the WebSocket transport is allowed.
    pub websocket: Option<bool>,
    /// Whether HTTP long-polling is allowed.
    pub polling: Option<bool>,
    /// Directory served for other paths (`/` serves `index.html`).
    pub static_dir: Option<String>,
    /// The `socket.io.js` client bundle served at `<path>socket.io.js`.
    pub client_bundle: Option<String>,
    /// Runtime worker threads (0: one per core).
    pub worker_threads: Option<u32>,
    /// Capacity of the core's event queue.
    pub event_queue: Option<u32>,
    /// Frames a connection may have queued before the slow-client policy applies.
    pub send_queue_frames: Option<u32>,
    /// Bytes a connection may have queued before the slow-client policy applies.
    pub send_queue_bytes: Option<f64>,
    /// Namespaces accepted from the start (besides `/`).
    pub namespaces: Option<Vec<NamespaceOptions>>,
    /// Whether a client joining another namespace comes as a connect request (to be
    /// accepted, which creates the namespace, or refused) instead of being refused.
    pub dynamic_namespaces: Option<bool>,
    /// Joins a Socket.IO cluster through Redis (absent: a server on its own).
    pub redis: Option<RedisOptions>,
    /// engine.io's session cookie, set on the polling handshake's answer (absent: none).
    pub cookie: Option<CookieOptions>,
    /// HTTPS and WSS on rtio's own listener: the PEM certificate chain file (with `tlsKeyFile`).
    pub tls_cert_file: Option<String>,
    /// The PEM private key file of `tlsCertFile`.
    pub tls_key_file: Option<String>,
    /// Connection state recovery's window in ms (absent: off).
    pub recovery_max_disconnection: Option<f64>,
    /// A recovered socket skips the connect middleware (default true).
    pub recovery_skip_middlewares: Option<bool>,
    /// Offer polling clients the upgrade to WebSocket (default true).
    pub allow_upgrades: Option<bool>,
    /// Compress polling responses of at least this many bytes (default 1024).
    pub http_compression_threshold: Option<f64>,
    /// No compression of polling responses.
    pub http_compression_off: Option<bool>,
    /// The packet encoding: "default" (socket.io-parser's) or "msgpack"
    /// (socket.io-msgpack-parser's).
    pub parser: Option<String>,
    /// WebSocket permessage-deflate: compress messages of at least this many bytes (absent:
    /// off).
    pub per_message_deflate_threshold: Option<f64>,
    /// Accept Engine.IO v3 clients (socket.io-client 2.x) too (default false).
    pub allow_eio3: Option<bool>,
    /// socket.io's `cleanupEmptyChildNamespaces`: a dynamic namespace whose last socket left
    /// is removed (default false).
    pub cleanup_empty_child_namespaces: Option<bool>,
}

/// Socket and room counts of a namespace.
#[napi(object)]
pub struct NativeStats {
    /// Sockets connected.
    pub sockets: u32,
    /// Rooms with members, not counting each socket's own room.
    pub rooms: u32,
}

/// Called with nothing from rtio's threads; on the JS thread its callback takes the batch.
type EventsTsfn = ThreadsafeFunction<(), (), EventBatch, Status, false>;

/// Tells the JS thread that events wait, once until it has taken them.
#[derive(Default)]
struct Doorbell {
    /// True from a ring until the JS thread starts taking events.
    rung: AtomicBool,
    /// Released (taken) once the last events and `KIND_CLOSED` went to JS, so that the
    /// process may exit.
    tsfn: Mutex<Option<EventsTsfn>>,
    /// The core's queue (set right after the server starts, before JS can be called).
    events: OnceLock<Events>,
    /// Set once `KIND_CLOSED` was handed over.
    closed: AtomicBool,
}

impl Doorbell {
    /// On any thread; never blocks (NonBlocking call on an unbounded queue that holds at most
    /// one pending wake-up).
    fn ring(&self) {
        if self.rung.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(tsfn) = &*self.tsfn.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// On the JS thread: the next events, at most [`MAX_BATCH`], converted. Ends with a
    /// `KIND_CLOSED` event once the server stopped and every event was taken.
    fn take_batch(&self) -> EventBatch {
        // Cleared first: an event queued from now on rings again.
        self.rung.store(false, Ordering::Release);
        // JS handled the batch before this one.
        opening::settle_openings();
        let mut batch = Vec::new();
        let Some(events) = self.events.get() else {
            return EventBatch(batch);
        };
        if self.closed.load(Ordering::Acquire) {
            return EventBatch(batch);
        }
        while batch.len() < MAX_BATCH {
            match events.try_recv() {
                Ok(Some(e)) => convert(e, &mut batch),
                Ok(None) => return EventBatch(batch),
                Err(_) => {
                    self.closed.store(true, Ordering::Release);
                    batch.push(NativeEvent::new(KIND_CLOSED));
                    // Released: nothing keeps the JS loop alive any more.
                    drop(self.tsfn.lock().unwrap_or_else(|e| e.into_inner()).take());
                    return EventBatch(batch);
                }
            }
        }
        self.ring();
        EventBatch(batch)
    }
}

fn invalid(message: impl Into<String>) -> napi::Error {
    napi::Error::new(Status::InvalidArg, message.into())
}

fn millis(name: &str, value: Option<f64>) -> napi::Result<Option<Duration>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(Duration::from_millis(v as u64))),
        Some(v) => Err(invalid(format!(
            "{name} must be a non-negative number of milliseconds, got {v}"
        ))),
    }
}

fn count(name: &str, value: Option<f64>) -> napi::Result<Option<usize>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(Some(v as usize)),
        Some(v) => Err(invalid(format!(
            "{name} must be a non-negative number, got {v}"
        ))),
    }
}

/// Whether `c` may appear in a cookie name (RFC 6265's token: RFC 7230 `tchar`).
fn cookie_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// The core's cookie from the normalised option, checked (a bad value is an error, never a
/// cookie silently left out).
fn to_cookie(o: CookieOptions) -> napi::Result<rtio::Cookie> {
    if o.name.is_empty() || !o.name.chars().all(cookie_name_char) {
        return Err(invalid(format!(
            "cookie.name {:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
            o.name
        )));
    }
    if let Some(path) = &o.path {
        if path
            .chars()
            .any(|c| c == ';' || c.is_control() || !c.is_ascii())
        {
            return Err(invalid(format!(
                "cookie.path {path:?} is not a valid cookie path (no ';' or control characters)"
            )));
        }
    }
    let same_site = match o.same_site.as_deref() {
        None => None,
        Some(v @ ("Strict" | "Lax" | "None")) => Some(v.to_string()),
        Some(other) => {
            return Err(invalid(format!(
                "cookie.sameSite {other:?} is not \"Strict\", \"Lax\" or \"None\""
            )))
        }
    };
    Ok(rtio::Cookie {
        name: o.name,
        path: o.path,
        http_only: o.http_only.unwrap_or(false),
        same_site,
    })
}

fn to_config(o: ServerOptions) -> napi::Result<Config> {
    let mut c = Config::default();
    if let Some(h) = o.host {
        c.host = h;
    }
    if let Some(p) = o.port {
        c.port = u16::try_from(p).map_err(|_| invalid(format!("port {p} is out of range")))?;
    }
    if let Some(l) = o.listen {
        c.listen = l;
    }
    if let Some(p) = o.path {
        c = c.path(p);
    }
    if let Some(d) = millis("pingInterval", o.ping_interval)? {
        c.ping_interval = d;
    }
    if let Some(d) = millis("pingTimeout", o.ping_timeout)? {
        c.ping_timeout = d;
    }
    if let Some(d) = millis("upgradeTimeout", o.upgrade_timeout)? {
        c.upgrade_timeout = d;
    }
    if let Some(d) = millis("connectTimeout", o.connect_timeout)? {
        c.connect_timeout = d;
    }
    if let Some(n) = count("maxHttpBufferSize", o.max_payload)? {
        c.max_payload = n;
    }
    if let Some(n) = o.max_attachments {
        c.max_attachments = n as usize;
    }
    c.cors = match o.cors.as_deref() {
        None | Some("none") => CorsOrigins::None,
        Some("any") => CorsOrigins::Any,
        Some("list") => CorsOrigins::List(o.cors_origins.unwrap_or_default()),
        Some("host") => CorsOrigins::Host,
        Some(other) => return Err(invalid(format!("unknown cors mode {other:?}"))),
    };
    c.cors_credentials = o.cors_credentials.unwrap_or(false);
    c.request_gate = o.request_gate.unwrap_or(false);
    if let Some(d) = millis("requestGateTimeout", o.request_gate_timeout)? {
        c.request_gate_timeout = d;
    }
    if let Some(b) = o.websocket {
        c.websocket = b;
    }
    if let Some(b) = o.polling {
        c.polling = b;
    }
    c.static_dir = o.static_dir.map(Into::into);
    c.client_bundle = o.client_bundle.map(Into::into);
    if let Some(n) = o.worker_threads {
        c.worker_threads = n as usize;
    }
    if let Some(n) = o.event_queue {
        c.event_queue = (n as usize).max(1);
    }
    if let Some(n) = o.send_queue_frames {
        c.send_queue_frames = n as usize;
    }
    if let Some(n) = count("sendQueueBytes", o.send_queue_bytes)? {
        c.send_queue_bytes = n;
    }
    c.dynamic_namespaces = o.dynamic_namespaces.unwrap_or(false);
    if let Some(cookie) = o.cookie {
        c = c.cookie(to_cookie(cookie)?);
    }
    c.allow_upgrades = o.allow_upgrades.unwrap_or(true);
    if o.http_compression_off.unwrap_or(false) {
        c.http_compression = None;
    } else if let Some(n) = count("httpCompressionThreshold", o.http_compression_threshold)? {
        c.http_compression = Some(n);
    }
    c.parser = match o.parser.as_deref() {
        None | Some("default") => rtio::Parser::Default,
        Some("msgpack") => rtio::Parser::Msgpack,
        Some(other) => {
            return Err(invalid(format!(
                "unknown parser {other:?} (\"default\" or \"msgpack\")"
            )))
        }
    };
    c.per_message_deflate = count(
        "perMessageDeflateThreshold",
        o.per_message_deflate_threshold,
    )?;
    c.allow_eio3 = o.allow_eio3.unwrap_or(false);
    c.cleanup_empty_child_namespaces = o.cleanup_empty_child_namespaces.unwrap_or(false);
    if let Some(ms) = o.recovery_max_disconnection {
        if !(ms.is_finite() && ms > 0.0) {
            return Err(invalid(
                "recoveryMaxDisconnection must be a positive number of ms",
            ));
        }
        c = c.recovery(rtio::Recovery {
            max_disconnection: std::time::Duration::from_millis(ms as u64),
            skip_middlewares: o.recovery_skip_middlewares.unwrap_or(true),
        });
    }
    match (o.tls_cert_file, o.tls_key_file) {
        (Some(cert), Some(key)) => c = c.tls(cert, key),
        (None, None) => {}
        _ => return Err(invalid("tlsCertFile and tlsKeyFile go together")),
    }
    if let Some(r) = o.redis {
        let mut options = RedisAdapterOptions::new(r.url);
        if let Some(key) = r.key {
            options.key = key;
        }
        if r.sharded.unwrap_or(false) {
            options.variant = Variant::Sharded;
        }
        if let Some(d) = millis("requestsTimeout", r.requests_timeout)? {
            options.requests_timeout = d;
        }
        options.publish_on_specific_response_channel =
            r.publish_on_specific_response_channel.unwrap_or(false);
        options.subscription_mode = match r.subscription_mode.as_deref() {
            None | Some("dynamic") => SubscriptionMode::Dynamic,
            Some("static") => SubscriptionMode::Static,
            Some("dynamic-private") => SubscriptionMode::DynamicPrivate,
            Some(other) => {
                return Err(invalid(format!(
                    "unknown subscriptionMode {other:?} (\"static\", \"dynamic\" or \"dynamic-private\")"
                )))
            }
        };
        // requests to other servers end at the adapter's timeout, as in socket.io
        c.cluster_timeout = options.requests_timeout;
        c.adapter = Some(redis_adapter(options).map_err(|e| invalid(format!("redis: {e}")))?);
    }
    for ns in o.namespaces.unwrap_or_default() {
        c.namespaces.retain(|n| n.name != ns.name);
        c.namespaces.push(NamespaceConfig {
            name: ns.name,
            middleware: ns.middleware,
        });
    }
    Ok(c)
}

fn to_napi(e: rtio::Error) -> napi::Error {
    let status = match e {
        rtio::Error::InvalidArgument(_) => Status::InvalidArg,
        _ => Status::GenericFailure,
    };
    napi::Error::new(status, e.to_string())
}

/// Builds a payload from event arguments and binary attachments (copied).
fn payload(args: JsonArgs, bins: Option<Vec<Buffer>>) -> napi::Result<Payload> {
    // JSON array text by construction (see `args`): checking it again would parse it again
    let p = Payload::from_json_trusted(args.0);
    Ok(match bins {
        Some(bins) if !bins.is_empty() => {
            p.with_attachments(bins.iter().map(|b| Bytes::copy_from_slice(b)).collect())
        }
        _ => p,
    })
}

/// `Ok(true)` when done, `Ok(false)` when the socket (or namespace) is gone or the server
/// stopped, an error for a bad argument.
fn done(r: Result<(), rtio::Error>) -> napi::Result<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(rtio::Error::InvalidArgument(m)) => Err(invalid(m)),
        Err(_) => Ok(false),
    }
}

/// The selection of a cluster operation: sockets in any of `to` (all when empty), in none
/// of `except`; with `local`, this server's only.
fn selector<'a>(to: &'a [String], except: &'a [String], local: Option<bool>) -> Selector<'a> {
    Selector {
        to,
        except,
        skip: None,
        local: local.unwrap_or(false),
    }
}

/// A token as JS holds it, or null when the server stopped or the namespace is unknown;
/// an error for a bad argument.
fn token(r: Result<u64, rtio::Error>) -> napi::Result<Option<f64>> {
    match r {
        Ok(t) => Ok(Some(t as f64)),
        Err(rtio::Error::InvalidArgument(m)) => Err(invalid(m)),
        Err(_) => Ok(None),
    }
}

/// A request as the core takes it, from what Node's `IncomingMessage` has.
fn http_request(
    method: String,
    url: String,
    headers: Vec<String>,
    body: &[u8],
    remote_address: &str,
    remote_port: u32,
    secure: bool,
) -> napi::Result<rtio::HttpRequest> {
    if !headers.len().is_multiple_of(2) {
        return Err(invalid(
            "headers must be name, value pairs (Node's rawHeaders)",
        ));
    }
    // Node shows IPv4-mapped IPv6 peers as `::ffff:a.b.c.d`, which parses as IPv6
    let ip: std::net::IpAddr = remote_address
        .parse()
        .map_err(|_| invalid(format!("{remote_address:?} is not an IP address")))?;
    let port = u16::try_from(remote_port)
        .map_err(|_| invalid(format!("port {remote_port} is out of range")))?;
    let mut pairs = Vec::with_capacity(headers.len() / 2);
    let mut it = headers.into_iter();
    while let (Some(name), Some(value)) = (it.next(), it.next()) {
        pairs.push((name, value));
    }
    Ok(rtio::HttpRequest {
        method,
        url,
        headers: pairs,
        body: Bytes::copy_from_slice(body),
        remote_addr: std::net::SocketAddr::new(ip, port),
        secure,
    })
}

/// A `TcpStream` of a duplicate of `fd` (the caller keeps, and closes, its own).
#[cfg(unix)]
fn duplicate(fd: i32) -> napi::Result<std::net::TcpStream> {
    use std::os::fd::{BorrowedFd, OwnedFd};
    if fd < 0 {
        return Err(invalid(format!("{fd} is not a file descriptor")));
    }
    // SAFETY: the descriptor is only borrowed for the duplication, during which the JS thread
    // (the caller, which owns it) cannot close it.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    let owned: OwnedFd = borrowed
        .try_clone_to_owned()
        .map_err(|e| invalid(format!("cannot duplicate descriptor {fd}: {e}")))?;
    let stream = std::net::TcpStream::from(owned);
    // a descriptor that is no TCP socket (a pipe, a file) has no peer address
    stream.peer_addr().map_err(|e| {
        invalid(format!(
            "descriptor {fd} is not a connected TCP socket: {e}"
        ))
    })?;
    Ok(stream)
}

#[cfg(not(unix))]
fn duplicate(_fd: i32) -> napi::Result<std::net::TcpStream> {
    Err(invalid(
        "adopting a connection by descriptor needs a Unix system",
    ))
}

/// A running rtio server. Created by the JS `Server` (`lib/server.js`); not meant to be used
/// directly.
#[napi]
pub struct NativeServer {
    server: Server,
    io: Io,
    bell: Arc<Doorbell>,
    closing: AtomicBool,
}

#[napi]
impl NativeServer {
    /// Starts listening (throws when it cannot: address in use, bad option…). Every event
    /// reaches `onEvents` on the JS thread, in batches: one call per batch whose arguments are
    /// `EVENT_FIELDS` values per event (kind, sid, nsp, name, data, bins, id, reason,
    /// handshake; `undefined` where an event has none), e.g. `(...batch) => …`. The last
    /// batch ends with a `KIND_CLOSED` event, after which the process may exit.
    #[napi(constructor)]
    pub fn new(
        options: ServerOptions,
        on_events: Function<'_, EventBatch, ()>,
    ) -> napi::Result<Self> {
        // Checked first: an error must not leave a ThreadsafeFunction keeping the process alive.
        let config = to_config(options)?;
        let bell = Arc::new(Doorbell::default());
        let taker = bell.clone();
        let tsfn: EventsTsfn = on_events
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build_callback(move |_: ThreadsafeCallContext<()>| Ok(taker.take_batch()))?;
        *bell.tsfn.lock().unwrap_or_else(|e| e.into_inner()) = Some(tsfn);
        let ringer = bell.clone();
        let config = config.on_event_ready(Arc::new(move || ringer.ring()));
        let server = match Server::start(config) {
            Ok(server) => server,
            Err(e) => {
                // Released: a server that never ran must not keep the process alive.
                drop(bell.tsfn.lock().unwrap_or_else(|e| e.into_inner()).take());
                return Err(to_napi(e));
            }
        };
        // Before any ThreadsafeFunction callback can run: they run on this (the JS) thread.
        let _ = bell.events.set(server.events().clone());
        let io = server.io();
        Ok(NativeServer {
            server,
            io,
            bell,
            closing: AtomicBool::new(false),
        })
    }

    /// The bound port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.server.local_addr().port())
    }

    /// The bound address.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.server.local_addr().ip().to_string()
    }

    /// Reads the TLS certificate and key files again (after a renewal): new connections get
    /// the new certificate, open ones keep theirs. Throws (naming the file) when they cannot
    /// be used, the certificate in use then staying, or when the server has no TLS.
    #[napi]
    pub fn reload_tls(&self) -> napi::Result<()> {
        self.io.reload_tls().map_err(to_napi)
    }

    /// True once `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.closing.load(Ordering::Acquire) || self.io.is_stopped()
    }

    /// `{ ack(sid, id, args, bins), emit(sid, event, args, bins) }`: the calls JS makes once
    /// per event, as plain N-API functions bound to this server (see `fast`). Each returns
    /// false when the socket is gone and throws on a bad argument. Called once, on the JS
    /// thread, right after the constructor.
    #[napi(
        ts_return_type = "{ ack(sid: string, id: number, args: string | Array<string | number | boolean | null>, bins?: Array<Buffer>): boolean, emit(sid: string, event: string, args: string | Array<string | number | boolean | null>, bins?: Array<Buffer>): boolean }"
    )]
    pub fn fast_calls(&self) -> FastCalls {
        FastCalls(self.io.clone())
    }

    /// Sends an event to one socket and asks for an ack; the answer (or the timeout) arrives
    /// as a `KIND_ACK` event with the returned token. Null when the socket is gone.
    #[napi]
    pub fn emit_with_ack(
        &self,
        sid: String,
        event: String,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
        timeout_ms: f64,
    ) -> napi::Result<Option<f64>> {
        let p = payload(args, bins)?;
        let timeout = millis("timeout", Some(timeout_ms))?.unwrap_or_default();
        match self.io.emit_with_ack(&sid, &event, &p, timeout) {
            Ok(token) => Ok(Some(token as f64)),
            Err(rtio::Error::InvalidArgument(m)) => Err(invalid(m)),
            Err(_) => Ok(None),
        }
    }

    /// Sends an event, encoded once, to the sockets of `nsp` in any of `to` (all when empty)
    /// and in none of `except`, on every server of the cluster (with `local`, this one's
    /// only; `volatile`: not to a socket whose transport is busy; `compress` false: never
    /// permessage-deflate-compressed). Returns how many sockets of this server it was queued
    /// for.
    #[napi]
    // one positional argument per JS argument: the call made for every broadcast
    #[allow(clippy::too_many_arguments)]
    pub fn broadcast(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        event: String,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
        local: Option<bool>,
        volatile: Option<bool>,
        compress: Option<bool>,
    ) -> napi::Result<u32> {
        let p = payload(args, bins)?;
        let mut b = self.io.broadcast(&nsp);
        for room in to {
            b = b.to(room);
        }
        for room in except {
            b = b.except(room);
        }
        if local.unwrap_or(false) {
            b = b.local();
        }
        if volatile.unwrap_or(false) {
            b = b.volatile();
        }
        if compress == Some(false) {
            b = b.compress(false);
        }
        match b.emit(&event, &p) {
            Ok(n) => Ok(n as u32),
            Err(rtio::Error::InvalidArgument(m)) => Err(invalid(m)),
            Err(_) => Ok(0),
        }
    }

    /// Like `broadcast`, asking each socket reached for an ack: the answers arrive as one
    /// `KIND_BROADCAST_ACK` event with the returned token, once every socket answered or at
    /// `timeoutMs`. Null when the server stopped or the namespace is unknown.
    #[napi]
    // one positional argument per JS argument, as `broadcast`
    #[allow(clippy::too_many_arguments)]
    pub fn broadcast_with_ack(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        local: bool,
        event: String,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
        timeout_ms: f64,
    ) -> napi::Result<Option<f64>> {
        let p = payload(args, bins)?;
        let timeout = millis("timeout", Some(timeout_ms))?.unwrap_or_default();
        let mut b = self.io.broadcast(&nsp);
        for room in to {
            b = b.to(room);
        }
        for room in except {
            b = b.except(room);
        }
        if local {
            b = b.local();
        }
        token(b.emit_with_ack(&event, &p, timeout))
    }

    /// Lists the selected sockets of every server: they arrive as one `KIND_FETCH_SOCKETS`
    /// event with the returned token. Null when the server stopped or the
    /// namespace is unknown.
    #[napi]
    pub fn fetch_sockets(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        local: Option<bool>,
    ) -> napi::Result<Option<f64>> {
        token(self.io.fetch_sockets(&nsp, &selector(&to, &except, local)))
    }

    /// Puts the selected sockets of every server in `rooms`. False when the server stopped or
    /// the namespace is unknown.
    #[napi]
    pub fn sockets_join(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        local: Option<bool>,
        rooms: Vec<String>,
    ) -> napi::Result<bool> {
        done(
            self.io
                .sockets_join(&nsp, &selector(&to, &except, local), rooms),
        )
    }

    /// Takes the selected sockets of every server out of `rooms`. False when the server
    /// stopped or the namespace is unknown.
    #[napi]
    pub fn sockets_leave(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        local: Option<bool>,
        rooms: Vec<String>,
    ) -> napi::Result<bool> {
        done(
            self.io
                .sockets_leave(&nsp, &selector(&to, &except, local), rooms),
        )
    }

    /// Disconnects the selected sockets of every server (with `close`, their connections
    /// too). False when the server stopped or the namespace is unknown.
    #[napi]
    pub fn disconnect_sockets(
        &self,
        nsp: String,
        to: Vec<String>,
        except: Vec<String>,
        local: Option<bool>,
        close: bool,
    ) -> napi::Result<bool> {
        done(
            self.io
                .disconnect_sockets(&nsp, &selector(&to, &except, local), close),
        )
    }

    /// Sends an event to the other servers of the cluster (they get `KIND_SERVER_SIDE_EMIT`).
    #[napi]
    pub fn server_side_emit(
        &self,
        nsp: String,
        event: String,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
    ) -> napi::Result<bool> {
        let p = payload(args, bins)?;
        done(self.io.server_side_emit(&nsp, &event, &p))
    }

    /// Like `serverSideEmit`, asking each other server for an answer: they arrive as one
    /// `KIND_SERVER_SIDE_ACK` event with the returned token.
    #[napi]
    pub fn server_side_emit_with_ack(
        &self,
        nsp: String,
        event: String,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
        timeout_ms: f64,
    ) -> napi::Result<Option<f64>> {
        let p = payload(args, bins)?;
        let timeout = millis("timeout", Some(timeout_ms))?.unwrap_or_default();
        token(self.io.server_side_emit_with_ack(&nsp, &event, &p, timeout))
    }

    /// Answers a `KIND_SERVER_SIDE_EMIT` event that asked for one. False when it was
    /// answered already, waited too long, or the server stopped.
    #[napi]
    pub fn server_side_ack(
        &self,
        ack: f64,
        #[napi(ts_arg_type = "string | Array<string | number | boolean | null>")] args: JsonArgs,
        bins: Option<Vec<Buffer>>,
    ) -> napi::Result<bool> {
        let p = payload(args, bins)?;
        done(self.io.server_side_ack(ack as u64, &p))
    }

    /// Counts the servers of the namespace's cluster: the count arrives as one
    /// `KIND_SERVER_COUNT` event with the returned token.
    #[napi]
    pub fn server_count(&self, nsp: String) -> napi::Result<Option<f64>> {
        token(self.io.server_count(&nsp))
    }

    /// Attaches socket.io's `socket.data` (JSON text; null clears it) to a socket, for the
    /// other servers' `fetchSockets`. False when the socket is gone; throws when it is not
    /// JSON.
    #[napi]
    pub fn set_socket_data(&self, sid: String, data: Option<String>) -> napi::Result<bool> {
        done(self.io.set_socket_data(&sid, data.as_deref()))
    }

    /// Puts a socket in rooms. False when the socket is gone.
    #[napi]
    pub fn join(&self, sid: String, rooms: Vec<String>) -> napi::Result<bool> {
        for room in &rooms {
            if !done(self.io.join(&sid, room))? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Takes a socket out of a room. False when the socket is gone.
    #[napi]
    pub fn leave(&self, sid: String, room: String) -> napi::Result<bool> {
        done(self.io.leave(&sid, &room))
    }

    /// The rooms of a socket (its own first), or null when it is gone.
    #[napi]
    pub fn rooms(&self, sid: String) -> Option<Vec<String>> {
        self.io.rooms(&sid).ok()
    }

    /// The ids of the sockets of a namespace, or of one of its rooms.
    #[napi]
    pub fn sockets(&self, nsp: String, room: Option<String>) -> Vec<String> {
        self.io.sockets(&nsp, room.as_deref()).unwrap_or_default()
    }

    /// Number of Engine.IO connections open now, in a namespace or not (0 once stopped).
    #[napi]
    pub fn clients_count(&self) -> u32 {
        self.io.client_count().unwrap_or(0) as u32
    }

    /// Socket and room counts of a namespace (null when unknown or stopped).
    #[napi]
    pub fn stats(&self, nsp: String) -> Option<NativeStats> {
        self.io.stats(&nsp).ok().map(|s| NativeStats {
            sockets: s.sockets as u32,
            rooms: s.rooms as u32,
        })
    }

    /// Disconnects a socket (the client sees `io server disconnect`); with `close`, closes
    /// its whole connection too. False when the socket is gone.
    #[napi]
    pub fn disconnect(&self, sid: String, close: bool) -> napi::Result<bool> {
        done(self.io.disconnect(&sid, close))
    }

    /// Accepts a connect request. False when it is no longer pending.
    #[napi]
    pub fn accept(&self, request: f64) -> napi::Result<bool> {
        done(self.io.accept(request as u64))
    }

    /// Refuses a connect request: the client gets `connect_error` with `message` and, when
    /// given, `data` (JSON text). False when it is no longer pending.
    #[napi]
    pub fn reject(
        &self,
        request: f64,
        message: String,
        data: Option<String>,
    ) -> napi::Result<bool> {
        done(self.io.reject(request as u64, &message, data.as_deref()))
    }

    /// Answers a `KIND_REQUEST` event: `status` 0 lets the request through, 400–599 refuses
    /// it with that status and `{"code":4,"message":message}`. With the `"host"` CORS mode,
    /// `crossOrigin` says whether the request's origin gets CORS headers (and a session it
    /// opens keeps that for its later requests from that origin). False when the request is
    /// no longer pending (answered, or timed out).
    #[napi]
    pub fn answer_request(
        &self,
        request: f64,
        status: u32,
        message: Option<String>,
        cross_origin: bool,
    ) -> napi::Result<bool> {
        let answer = if status == 0 {
            RequestAnswer::allow()
        } else if (400..600).contains(&status) {
            RequestAnswer::deny(status as u16, message.unwrap_or_else(|| "Forbidden".into()))
        } else {
            return Err(invalid(format!(
                "a refusal's status must be 400-599, got {status}"
            )));
        };
        done(
            self.io
                .answer_request(request as u64, answer.cross_origin(cross_origin)),
        )
    }

    /// The transport a connected socket's connection uses now: `"polling"` (until an upgrade
    /// completes) or `"websocket"`; null when the socket is gone.
    #[napi]
    pub fn transport(&self, sid: String) -> Option<&'static str> {
        self.io.transport(&sid).ok().map(transport_name)
    }

    /// The namespaces the core has now (sorted); empty once stopped. With
    /// `cleanupEmptyChildNamespaces`, a child namespace whose last socket left is no longer
    /// among them.
    #[napi]
    pub fn namespaces(&self) -> Vec<String> {
        self.io.namespaces().unwrap_or_default()
    }

    /// Accepts a namespace from now on, or changes whether it asks JS first.
    #[napi]
    pub fn add_namespace(&self, nsp: String, middleware: bool) -> napi::Result<bool> {
        done(self.io.add_namespace(&nsp, middleware))
    }

    /// Hands over one request to the Engine.IO path that the host's own `http.Server`
    /// received (polling, handshake, CORS preflight): `headers` is Node's `rawHeaders`
    /// (name, value, name, value…), `body` the whole body, `secure` whether it came over TLS
    /// (an `https.Server`: the session's handshake is then `secure`). Returns a token at
    /// once; the answer arrives as a `KIND_HTTP_RESPONSE` event with it, on the JS thread,
    /// when rtio has it (a long-poll GET: once packets are queued). Null when the server
    /// stopped; throws on a bad address or an odd header list.
    #[napi]
    // one positional argument per part of the request, as `adoptWebSocket`
    #[allow(clippy::too_many_arguments)]
    pub fn handle_request(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        body: Buffer,
        remote_address: String,
        remote_port: u32,
        secure: bool,
    ) -> napi::Result<Option<f64>> {
        let request = http_request(
            method,
            url,
            headers,
            &body,
            &remote_address,
            remote_port,
            secure,
        )?;
        token(self.io.handle_request(request))
    }

    /// Gives up a request handed over with `handleRequest` whose client's connection closed
    /// before the answer: no `KIND_HTTP_RESPONSE` comes for it, and a long-poll GET's session
    /// closes ("transport error"), as engine.io does. False when it was answered already.
    #[napi]
    pub fn cancel_request(&self, token: f64) -> bool {
        self.io.cancel_request(token as u64).is_ok()
    }

    /// Takes over the TCP connection of a WebSocket handshake to the Engine.IO path that the
    /// host's `http.Server` read (its `upgrade` event): `fd` is the socket's descriptor, which
    /// rtio duplicates (the caller then destroys its own socket object, which closes only its
    /// copy); `early` the bytes read past the request's head; `secure` as in
    /// `handleRequest` (false for a descriptor Node reads plain TCP from). rtio writes the answer (101 or
    /// the refusal) and serves the WebSocket on its runtime. False when the server stopped;
    /// throws on a bad descriptor, address or header list.
    #[napi]
    // one positional argument per part of the request, as `handleRequest`
    #[allow(clippy::too_many_arguments)]
    pub fn adopt_web_socket(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<String>,
        early: Buffer,
        remote_address: String,
        remote_port: u32,
        secure: bool,
    ) -> napi::Result<bool> {
        let request = http_request(
            method,
            url,
            headers,
            &[],
            &remote_address,
            remote_port,
            secure,
        )?;
        let stream = duplicate(fd)?;
        done(self.io.adopt_websocket(stream, request, early.to_vec()))
    }

    /// Opens a WebSocket whose framing Node does (an `https.Server`'s upgrade, TLS being
    /// Node's): `headers` and `secure` as in `handleRequest`. Returns its id at once (null
    /// when the server stopped); rtio's answer arrives as `KIND_WS_ANSWER`, its messages as
    /// `KIND_WS_SEND`, its end as `KIND_WS_CLOSE` (with the close code for the client), all
    /// with that id.
    #[napi]
    pub fn open_web_socket(
        &self,
        method: String,
        url: String,
        headers: Vec<String>,
        remote_address: String,
        remote_port: u32,
        secure: bool,
    ) -> napi::Result<Option<f64>> {
        let request = http_request(
            method,
            url,
            headers,
            &[],
            &remote_address,
            remote_port,
            secure,
        )?;
        token(self.io.open_websocket(request))
    }

    /// A message the client sent on WebSocket `id` (`openWebSocket`): `text`, or `binary`.
    /// False when that WebSocket is closed.
    #[napi]
    pub fn web_socket_receive(
        &self,
        id: f64,
        text: Option<String>,
        binary: Option<Buffer>,
    ) -> napi::Result<bool> {
        let message = match (text, binary) {
            (Some(text), None) => rtio::WsMessage::Text(text),
            (None, Some(binary)) => rtio::WsMessage::Binary(Bytes::copy_from_slice(&binary)),
            _ => return Err(invalid("a WebSocket message is either text or binary")),
        };
        done(self.io.websocket_receive(id as u64, message))
    }

    /// The client of WebSocket `id` went (or Node closed it): rtio ends its session. False when
    /// it is closed already.
    #[napi]
    pub fn web_socket_close(&self, id: f64) -> napi::Result<bool> {
        done(self.io.websocket_close(id as u64))
    }

    /// Stops the server on the calling (JS) thread and waits for its runtime to end, so that
    /// its port is free when this returns: for replacing a server that just started and has
    /// no clients yet (`io.adapter()` right after `new Server(port)`), where that takes about
    /// a millisecond. The last events and `KIND_CLOSED` follow as after `close()`.
    #[napi]
    pub fn stop_now(&self) {
        if self.closing.swap(true, Ordering::AcqRel) {
            return;
        }
        self.io.stop();
        self.bell.ring();
    }

    /// Stops the server on a thread of its own (the JS thread does not wait): every client
    /// gets a disconnect and a proper close; then the last events and a `KIND_CLOSED` event
    /// arrive, and the ThreadsafeFunction is released.
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        if self.closing.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let io = self.io.clone();
        let bell = self.bell.clone();
        std::thread::Builder::new()
            .name("rtio-node-close".into())
            .spawn(move || {
                io.stop();
                // The queue is closed now: JS takes what is left, then `KIND_CLOSED`.
                bell.ring();
            })
            .map(|_| ())
            .map_err(|e| napi::Error::from_reason(format!("cannot start a thread: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ServerOptions {
        ServerOptions {
            host: None,
            port: None,
            listen: None,
            path: None,
            ping_interval: None,
            ping_timeout: None,
            upgrade_timeout: None,
            connect_timeout: None,
            max_payload: None,
            max_attachments: None,
            cors: None,
            cors_origins: None,
            cors_credentials: None,
            request_gate: None,
            request_gate_timeout: None,
            websocket: None,
            polling: None,
            static_dir: None,
            client_bundle: None,
            worker_threads: None,
            event_queue: None,
            send_queue_frames: None,
            send_queue_bytes: None,
            namespaces: None,
            dynamic_namespaces: None,
            redis: None,
            cookie: None,
            tls_cert_file: None,
            tls_key_file: None,
            recovery_max_disconnection: None,
            recovery_skip_middlewares: None,
            allow_upgrades: None,
            http_compression_threshold: None,
            http_compression_off: None,
            parser: None,
            per_message_deflate_threshold: None,
            allow_eio3: None,
            cleanup_empty_child_namespaces: None,
        }
    }

    #[test]
    fn maps_options_onto_the_core_config() {
        let c = to_config(ServerOptions {
            port: Some(3000),
            path: Some("/io".into()),
            ping_interval: Some(300.0),
            max_payload: Some(10_000.0),
            cors: Some("list".into()),
            cors_origins: Some(vec!["https://a.example".into()]),
            namespaces: Some(vec![NamespaceOptions {
                name: "/admin".into(),
                middleware: true,
            }]),
            ..options()
        })
        .unwrap();
        assert_eq!(c.port, 3000);
        assert_eq!(c.path, "/io/");
        assert_eq!(c.ping_interval, Duration::from_millis(300));
        assert_eq!(c.max_payload, 10_000);
        assert_eq!(c.cors, CorsOrigins::List(vec!["https://a.example".into()]));
        assert!(c
            .namespaces
            .iter()
            .any(|n| n.name == "/admin" && n.middleware));
        assert!(c.namespaces.iter().any(|n| n.name == "/" && !n.middleware));
        assert!(!c.cors_credentials && !c.request_gate);
    }

    #[test]
    fn maps_cors_and_the_request_gate() {
        assert_eq!(to_config(options()).unwrap().cors, CorsOrigins::None);
        let c = to_config(ServerOptions {
            cors: Some("host".into()),
            cors_credentials: Some(true),
            request_gate: Some(true),
            request_gate_timeout: Some(2500.0),
            ..options()
        })
        .unwrap();
        assert_eq!(c.cors, CorsOrigins::Host);
        assert!(c.cors_credentials && c.request_gate);
        assert_eq!(c.request_gate_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn maps_the_redis_adapter() {
        let redis = |url: &str, mode: Option<&str>| RedisOptions {
            url: url.into(),
            key: Some("app".into()),
            sharded: Some(true),
            requests_timeout: Some(2000.0),
            publish_on_specific_response_channel: None,
            subscription_mode: mode.map(Into::into),
        };
        let c = to_config(ServerOptions {
            redis: Some(redis("redis://127.0.0.1:6379", Some("static"))),
            ..options()
        })
        .unwrap();
        assert!(c.adapter.is_some());
        assert_eq!(c.cluster_timeout, Duration::from_millis(2000));
        assert!(to_config(options()).unwrap().adapter.is_none());
        let bad_url = to_config(ServerOptions {
            redis: Some(redis("http://nowhere", None)),
            ..options()
        });
        assert!(bad_url.is_err_and(|e| e.reason.contains("redis")));
        assert!(to_config(ServerOptions {
            redis: Some(redis("redis://127.0.0.1", Some("sometimes"))),
            ..options()
        })
        .is_err());
    }

    #[test]
    fn refuses_bad_options() {
        assert!(to_config(ServerOptions {
            port: Some(70_000),
            ..options()
        })
        .is_err());
        assert!(to_config(ServerOptions {
            ping_timeout: Some(-1.0),
            ..options()
        })
        .is_err());
        assert!(to_config(ServerOptions {
            cors: Some("sometimes".into()),
            ..options()
        })
        .is_err());
    }

    #[test]
    fn maps_the_tls_files() {
        let c = to_config(ServerOptions {
            tls_cert_file: Some("cert.pem".into()),
            tls_key_file: Some("key.pem".into()),
            ..options()
        })
        .unwrap();
        assert_eq!(
            c.tls,
            Some(rtio::TlsFiles {
                cert: "cert.pem".into(),
                key: "key.pem".into()
            })
        );
        assert!(to_config(ServerOptions {
            tls_cert_file: Some("cert.pem".into()),
            ..options()
        })
        .is_err_and(|e| e.reason.contains("go together")));
    }

    #[test]
    fn maps_the_session_cookie() {
        assert_eq!(to_config(options()).unwrap().cookie, None);
        let cookie = |name: &str, path: Option<&str>, same_site: Option<&str>| CookieOptions {
            name: name.into(),
            path: path.map(Into::into),
            http_only: Some(true),
            same_site: same_site.map(Into::into),
        };
        let c = to_config(ServerOptions {
            cookie: Some(cookie("io", Some("/"), Some("Lax"))),
            ..options()
        })
        .unwrap();
        assert_eq!(c.cookie, Some(rtio::Cookie::new("io")));
        let bare = to_config(ServerOptions {
            cookie: Some(CookieOptions {
                http_only: None,
                ..cookie("sticky", None, None)
            }),
            ..options()
        })
        .unwrap()
        .cookie
        .unwrap();
        assert_eq!(
            (bare.path, bare.http_only, bare.same_site),
            (None, false, None)
        );
        for (bad, what) in [
            (cookie("a b", None, None), "cookie.name"),
            (cookie("", None, None), "cookie.name"),
            (cookie("io", Some("/x;y"), None), "cookie.path"),
            (cookie("io", None, Some("lax")), "cookie.sameSite"),
        ] {
            let err = to_config(ServerOptions {
                cookie: Some(bad),
                ..options()
            });
            assert!(err.is_err_and(|e| e.reason.contains(what)), "{what}");
        }
    }
}
