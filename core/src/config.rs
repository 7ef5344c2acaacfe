//! Server configuration. Defaults are Socket.IO's own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::AdapterFactory;

/// Which origins may make cross-origin requests (the default is socket.io's: none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No cross-origin access: no CORS headers are sent (same-origin pages and non-browser
    /// clients only). With [`Config::reject_other_origins`], a request whose `Origin` is
    /// not the server's own (`http://` or `https://` + its `Host`) is refused.
    None,
    /// Any origin: the request's `Origin` is echoed back.
    Any,
    /// Only these origins (exact match, e.g. `https://example.com`).
    List(Vec<String>),
    /// The host decides, through the request gate: every request without a session id
    /// (handshakes and CORS preflights) reaches the host as an [`crate::Event::Request`],
    /// whose answer says whether its origin may read the response
    /// ([`crate::RequestAnswer::cross_origin`]). A session's later requests are allowed
    /// when they come from the origin its handshake was allowed for. This is how a host
    /// applies an origin function, pattern or callable of its own.
    Host,
}

/// A namespace the server accepts.
#[derive(Debug, Clone)]
pub struct NamespaceConfig {
    /// The namespace name, starting with `/`.
    pub name: String,
    /// When true, every connection to this namespace first reaches the host as an
    /// [`crate::Event::ConnectRequest`], which the host accepts or rejects.
    pub middleware: bool,
}

/// The hook called (on an rtio thread, so it must be quick and never block) when events were
/// queued for the host: once per batch, after the runtime ran what was ready (within one
/// scheduler tick), not once per event. Hosts use it to wake their own loop (e.g. write an
/// eventfd), then take every queued event.
pub type EventReadyHook = Arc<dyn Fn() + Send + Sync>;

/// Everything [`crate::Server::start`] needs. Build it with [`Config::default`] and the
/// builder methods, or set the public fields directly.
#[derive(Clone)]
pub struct Config {
    /// Address to bind (default `0.0.0.0`, like Socket.IO).
    pub host: String,
    /// Port to bind; 0 picks a free port (see [`crate::Io::local_addr`]).
    pub port: u16,
    /// Whether rtio runs a listener of its own (default true). False for a server embedded
    /// in the host's HTTP server, which hands every request and connection over
    /// ([`crate::Io::handle_request`], [`crate::Io::adopt_websocket`],
    /// [`crate::Io::open_websocket`]); `host` and `port` are then unused and
    /// [`crate::Io::local_addr`] is `0.0.0.0:0`.
    pub listen: bool,
    /// Path of the Engine.IO endpoint (default `/socket.io/`).
    pub path: String,
    /// Interval between server pings (default 25 s).
    pub ping_interval: Duration,
    /// How long the server waits for a pong before closing (default 20 s).
    pub ping_timeout: Duration,
    /// How long a transport upgrade may take (default 10 s).
    pub upgrade_timeout: Duration,
    /// How long a new connection has to join a namespace (default 45 s).
    pub connect_timeout: Duration,
    /// Largest message or polling body accepted, in bytes (default 1 000 000).
    pub max_payload: usize,
    /// Most binary attachments one Socket.IO packet may announce (default 256).
    pub max_attachments: usize,
    /// Most packets one long-polling response carries (default 16: python-engineio clients
    /// refuse larger payloads); the rest go with the next poll.
    pub polling_max_packets: usize,
    /// Most namespaces one connection may join at once (default 64).
    pub max_namespaces_per_connection: usize,
    /// Cross-origin policy (default [`CorsOrigins::None`], like socket.io: no cross-origin
    /// access unless configured).
    pub cors: CorsOrigins,
    /// Whether allowed cross-origin requests may carry credentials (cookies):
    /// `Access-Control-Allow-Credentials: true` (default false, like socket.io's `cors`).
    pub cors_credentials: bool,
    /// When true, a request whose `Origin` the CORS policy does not allow is refused with
    /// 400 `"Not an accepted origin."` on every Engine.IO request, WebSocket upgrades
    /// included (python-engineio's behaviour: browsers do not apply CORS to WebSocket).
    /// When false (socket.io's behaviour) such a request is served without CORS headers.
    /// Default false.
    pub reject_other_origins: bool,
    /// When true, every Engine.IO handshake (a polling GET or a WebSocket without a
    /// session id) first reaches the host as an [`crate::Event::Request`], answered with
    /// [`crate::Io::answer_request`] (socket.io's `allowRequest`). Default false.
    pub request_gate: bool,
    /// How long the host has to answer an [`crate::Event::Request`]; after that the
    /// request is refused with 403 (default 10 s).
    pub request_gate_timeout: Duration,
    /// Whether the WebSocket transport is allowed (default true).
    pub websocket: bool,
    /// Whether HTTP long-polling is allowed (default true).
    pub polling: bool,
    /// Files served for other paths (`/` serves `index.html`), if set.
    pub static_dir: Option<PathBuf>,
    /// Path to the `socket.io-client` `dist/socket.io.js` bundle, served at
    /// `<path>socket.io.js` (its `.min.js` and `.map` siblings too), if set.
    pub client_bundle: Option<PathBuf>,
    /// Tokio worker threads; 0 means one per core.
    pub worker_threads: usize,
    /// Frames a connection may have queued before the slow-client policy applies.
    pub send_queue_frames: usize,
    /// Bytes a connection may have queued before the slow-client policy applies.
    pub send_queue_bytes: usize,
    /// Capacity of the event queue to the host; when full, readers stop reading.
    pub event_queue: usize,
    /// Namespaces accepted (default: `/` without middleware). Others get `Invalid namespace`.
    pub namespaces: Vec<NamespaceConfig>,
    /// When true, a client joining a namespace that is not configured reaches the host as
    /// an [`crate::Event::ConnectRequest`] instead of being refused with `Invalid
    /// namespace`; accepting it creates the namespace (socket.io's dynamic namespaces,
    /// python-socketio's `namespaces='*'`). Default false.
    pub dynamic_namespaces: bool,
    /// socket.io's `cleanupEmptyChildNamespaces`: a dynamic namespace whose last socket on
    /// this server left is removed (its adapter closed); the next client to join it makes
    /// it anew through [`crate::Event::ConnectRequest`]. Default false: dynamic namespaces
    /// stay once made.
    pub cleanup_empty_child_namespaces: bool,
    /// Called when events were queued for the host (once per batch); see [`EventReadyHook`].
    pub on_event_ready: Option<EventReadyHook>,
    /// Makes the adapter of each namespace (see [`crate::adapter`]); `None` (the default)
    /// is the [`crate::adapter::LocalAdapterFactory`]: a single server, rooms in memory.
    pub adapter: Option<Arc<dyn AdapterFactory>>,
    /// How long operations that gather answers from the other servers of a cluster wait
    /// for them: [`crate::Io::fetch_sockets`], [`crate::Io::server_count`], and the host's
    /// answer to an [`crate::Event::ServerSideEmit`] (socket.io's Redis adapter's
    /// `requestsTimeout`; default 5 s).
    pub cluster_timeout: Duration,
    /// Answers requests to other paths than the Engine.IO endpoint on rtio's own listener
    /// (an HTTP API, health checks beside Socket.IO on one port); see [`Routes`]. `None`
    /// (the default): only the client bundle and the static directory are served there.
    pub routes: Option<Arc<dyn Routes>>,
    /// HTTPS and WSS on rtio's own listener (see [`Config::tls`]); `None`: plain HTTP.
    pub tls: Option<crate::TlsFiles>,
    /// engine.io's session cookie, set on each handshake's answer (default none).
    pub cookie: Option<Cookie>,
    /// engine.io's `httpCompression`: polling responses of at least this many bytes are
    /// sent gzip- or deflate-compressed to clients that accept it (default 1024, as
    /// engine.io); `None` turns it off.
    pub http_compression: Option<usize>,
    /// engine.io's `allowUpgrades`: offer polling clients the upgrade to WebSocket (default
    /// true). False keeps each client on the transport it opened with.
    pub allow_upgrades: bool,
    /// socket.io's `connectionStateRecovery` (default off): see [`Recovery`].
    pub recovery: Option<Recovery>,
    /// How Socket.IO packets are encoded (default [`Parser::Default`]). Every client must
    /// use the same parser.
    pub parser: Parser,
    /// WebSocket permessage-deflate (RFC 7692; socket.io's `perMessageDeflate`): messages
    /// of at least this many bytes go compressed to clients that negotiated it. Default
    /// `None` (off, as in socket.io, whose `perMessageDeflate: true` means 1024).
    pub per_message_deflate: Option<usize>,
    /// engine.io's `allowEIO3`: accept Engine.IO v3 clients (socket.io-client 2.x) beside
    /// v4 ones (default false).
    pub allow_eio3: bool,
}

/// The Socket.IO packet encoding, chosen for the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parser {
    /// socket.io-parser's: JSON text, binary values as attachments.
    #[default]
    Default,
    /// `socket.io-msgpack-parser`'s: one msgpack binary message per packet, binary values
    /// native.
    Msgpack,
}

/// Connection state recovery (socket.io 4.6+): a client whose connection broke (not one
/// that disconnected on purpose) and that comes back within `max_disconnection` gets its
/// socket back — same id, rooms and data — and, in order, the events emitted to it
/// meanwhile; its [`crate::Event::Connect`] says `recovered`. Kept on this server only
/// (bounded: events older than the window or past 16,384 / 32 MiB per namespace go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// How long a socket that left may be taken back (socket.io's default: 2 minutes).
    pub max_disconnection: Duration,
    /// A recovered socket skips the namespace's connect middleware (socket.io's default:
    /// true).
    pub skip_middlewares: bool,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            max_disconnection: Duration::from_secs(120),
            skip_middlewares: true,
        }
    }
}

/// engine.io's `cookie` option: a cookie holding the session id, set on the polling
/// handshake's answer, which sticky load balancers route by (as in engine.io, a session
/// opened over WebSocket gets none: it needs no stickiness).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cookie {
    /// The cookie's name (engine.io's default: `io`).
    pub name: String,
    /// Its `Path` (default `/`); `None`: no `Path` attribute.
    pub path: Option<String>,
    /// `HttpOnly` (default true).
    pub http_only: bool,
    /// `SameSite`: `Strict`, `Lax` (the default) or `None`; `None` here: no attribute.
    pub same_site: Option<String>,
}

impl Cookie {
    /// A cookie named `name` with engine.io's defaults: `Path=/; HttpOnly; SameSite=Lax`.
    pub fn new(name: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            path: Some("/".into()),
            http_only: true,
            same_site: Some("Lax".into()),
        }
    }

    /// The `Set-Cookie` value for session `sid`, as engine.io writes it.
    pub(crate) fn header(&self, sid: &str) -> String {
        let mut out = format!("{}={sid}", self.name);
        if let Some(path) = &self.path {
            out.push_str("; Path=");
            out.push_str(path);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = &self.same_site {
            out.push_str("; SameSite=");
            out.push_str(same_site);
        }
        out
    }
}

/// The answer a [`Routes`] handler gives, later.
pub type RouteFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Option<crate::HttpResponse>> + Send>>;

/// A Rust host's own routes on rtio's listener: every request whose path is not the
/// Engine.IO endpoint comes here first, with its whole body (at most `max_payload` bytes;
/// a longer one is answered 413 without asking). `Some(response)` answers it; `None` lets
/// rtio go on (the client bundle, the static directory, else 404).
///
/// Called on rtio's runtime: the future must not block (await IO, never wait on a thread).
pub trait Routes: Send + Sync + 'static {
    /// Answers `request`, or leaves it to rtio.
    fn handle(&self, request: crate::HttpRequest) -> RouteFuture;
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "0.0.0.0".into(),
            port: 0,
            listen: true,
            path: "/socket.io/".into(),
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(20_000),
            upgrade_timeout: Duration::from_millis(10_000),
            connect_timeout: Duration::from_millis(45_000),
            max_payload: 1_000_000,
            max_attachments: 256,
            polling_max_packets: 16,
            max_namespaces_per_connection: 64,
            cors: CorsOrigins::None,
            cors_credentials: false,
            reject_other_origins: false,
            request_gate: false,
            request_gate_timeout: Duration::from_secs(10),
            websocket: true,
            polling: true,
            static_dir: None,
            client_bundle: None,
            worker_threads: 0,
            send_queue_frames: 16_384,
            send_queue_bytes: 16 << 20,
            event_queue: 4096,
            namespaces: vec![NamespaceConfig {
                name: "/".into(),
                middleware: false,
            }],
            dynamic_namespaces: false,
            cleanup_empty_child_namespaces: false,
            on_event_ready: None,
            adapter: None,
            cluster_timeout: Duration::from_secs(5),
            routes: None,
            tls: None,
            cookie: None,
            http_compression: Some(1024),
            allow_upgrades: true,
            recovery: None,
            parser: Parser::Default,
            per_message_deflate: None,
            allow_eio3: false,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("cors", &self.cors)
            .field("cors_credentials", &self.cors_credentials)
            .field("reject_other_origins", &self.reject_other_origins)
            .field("request_gate", &self.request_gate)
            .field("namespaces", &self.namespaces)
            .field("adapter", &self.adapter.as_ref().map(|_| "custom"))
            .field("cluster_timeout", &self.cluster_timeout)
            .field("routes", &self.routes.as_ref().map(|_| "custom"))
            .field("tls", &self.tls)
            .field("cookie", &self.cookie)
            .field("parser", &self.parser)
            .field("per_message_deflate", &self.per_message_deflate)
            .field("allow_eio3", &self.allow_eio3)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Serves HTTPS and WSS on rtio's own listener with this certificate chain and private
    /// key (PEM files, read at start and again by [`crate::Io::reload_tls`]); every
    /// handshake is then `secure`.
    pub fn tls(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some(crate::TlsFiles {
            cert: cert.into(),
            key: key.into(),
        });
        self
    }

    /// Compresses polling responses of at least `threshold` bytes (`None`: never); see
    /// [`Config::http_compression`].
    pub fn http_compression(mut self, threshold: Option<usize>) -> Self {
        self.http_compression = threshold;
        self
    }

    /// Turns connection state recovery on (see [`Recovery`]).
    pub fn recovery(mut self, recovery: Recovery) -> Self {
        self.recovery = Some(recovery);
        self
    }

    /// Removes dynamic namespaces once empty (see
    /// [`Config::cleanup_empty_child_namespaces`]).
    pub fn cleanup_empty_child_namespaces(mut self, on: bool) -> Self {
        self.cleanup_empty_child_namespaces = on;
        self
    }

    /// Chooses the packet encoding (see [`Parser`]).
    pub fn parser(mut self, parser: Parser) -> Self {
        self.parser = parser;
        self
    }

    /// Compresses WebSocket messages of at least `threshold` bytes for clients that
    /// negotiate permessage-deflate (`None`: off); see [`Config::per_message_deflate`].
    pub fn per_message_deflate(mut self, threshold: Option<usize>) -> Self {
        self.per_message_deflate = threshold;
        self
    }

    /// Accepts Engine.IO v3 clients too (see [`Config::allow_eio3`]).
    pub fn allow_eio3(mut self, allow: bool) -> Self {
        self.allow_eio3 = allow;
        self
    }

    /// Sets engine.io's session cookie (see [`Cookie`]).
    pub fn cookie(mut self, cookie: Cookie) -> Self {
        self.cookie = Some(cookie);
        self
    }

    /// Sets the host's own routes (see [`Routes`]).
    pub fn routes(mut self, routes: Arc<dyn Routes>) -> Self {
        self.routes = Some(routes);
        self
    }

    /// Sets the bind address.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }
    /// Sets the port (0 = any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    /// Runs a listener of its own or not (see [`Config::listen`]).
    pub fn listen(mut self, listen: bool) -> Self {
        self.listen = listen;
        self
    }
    /// Sets the endpoint path; a trailing `/` is added when missing.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.path = path;
        self
    }
    /// Sets the ping interval.
    pub fn ping_interval(mut self, d: Duration) -> Self {
        self.ping_interval = d;
        self
    }
    /// Sets the ping timeout.
    pub fn ping_timeout(mut self, d: Duration) -> Self {
        self.ping_timeout = d;
        self
    }
    /// Sets the namespace connect timeout.
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Sets the largest accepted message or polling body.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.max_payload = bytes;
        self
    }
    /// Sets the CORS policy.
    pub fn cors(mut self, cors: CorsOrigins) -> Self {
        self.cors = cors;
        self
    }
    /// Sets whether allowed cross-origin requests may carry credentials.
    pub fn cors_credentials(mut self, credentials: bool) -> Self {
        self.cors_credentials = credentials;
        self
    }
    /// Sets whether requests from origins the CORS policy does not allow are refused.
    pub fn reject_other_origins(mut self, reject: bool) -> Self {
        self.reject_other_origins = reject;
        self
    }
    /// Turns the request gate on or off (see [`Config::request_gate`]).
    pub fn request_gate(mut self, on: bool) -> Self {
        self.request_gate = on;
        self
    }
    /// Serves files from this directory.
    pub fn static_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.static_dir = Some(dir.into());
        self
    }
    /// Serves this `socket.io.js` bundle at `<path>socket.io.js`.
    pub fn client_bundle(mut self, file: impl Into<PathBuf>) -> Self {
        self.client_bundle = Some(file.into());
        self
    }
    /// Sets the number of runtime worker threads (0 = one per core).
    pub fn worker_threads(mut self, n: usize) -> Self {
        self.worker_threads = n;
        self
    }
    /// Accepts one more namespace (or reconfigures an existing one).
    pub fn namespace(mut self, name: impl Into<String>, middleware: bool) -> Self {
        let name = name.into();
        self.namespaces.retain(|n| n.name != name);
        self.namespaces.push(NamespaceConfig { name, middleware });
        self
    }
    /// Sets the hook called when events were queued for the host (once per batch).
    pub fn on_event_ready(mut self, hook: EventReadyHook) -> Self {
        self.on_event_ready = Some(hook);
        self
    }

    /// Sets the factory of the namespaces' adapters (see [`Config::adapter`]).
    pub fn adapter(mut self, factory: Arc<dyn AdapterFactory>) -> Self {
        self.adapter = Some(factory);
        self
    }

    /// Sets how long cluster operations wait for other servers (see
    /// [`Config::cluster_timeout`]).
    pub fn cluster_timeout(mut self, d: Duration) -> Self {
        self.cluster_timeout = d;
        self
    }
}
