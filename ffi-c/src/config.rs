//! `rtio_config`: what `rtio_server_start` needs.

use std::ffi::{c_char, c_void};
use std::time::Duration;

use rtio_core::{Config, CorsOrigins};

use crate::error::{arg_str, guard, guard_ptr, rtio_status, Failure, FfiResult};
use crate::event::rtio_event;

/// Called by rtio's dispatcher thread for each event in callback mode. `event` is borrowed
/// for the duration of the call only (do not keep it, do not free it); `user_data` is the
/// pointer given to `rtio_config_set_callback`. Calling any rtio function from inside the
/// callback is allowed, `rtio_server_stop` included (but not `rtio_server_free`).
#[allow(non_camel_case_types)]
pub type rtio_event_cb =
    Option<unsafe extern "C" fn(event: *const rtio_event, user_data: *mut c_void)>;

/// A server configuration (opaque). Create with `rtio_config_new`, free with
/// `rtio_config_free`. Not thread-safe: configure it from one thread.
#[allow(non_camel_case_types)]
pub struct rtio_config {
    pub(crate) config: Config,
    pub(crate) callback: rtio_event_cb,
    pub(crate) user_data: *mut c_void,
    /// Set by `rtio_config_set_redis`; the adapter is made from it at start.
    pub(crate) redis: Option<rtio_redis::adapter::RedisAdapterOptions>,
}

pub(crate) fn config_mut<'a>(p: *mut rtio_config) -> FfiResult<&'a mut rtio_config> {
    // SAFETY: a non-NULL config pointer comes from rtio_config_new and is not yet freed.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::new(rtio_status::NullPointer, "config is NULL"))
}

fn ms(v: u32, what: &str) -> FfiResult<Duration> {
    if v == 0 {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            format!("{what} must be > 0"),
        ));
    }
    Ok(Duration::from_millis(u64::from(v)))
}

/// A new configuration with Socket.IO's defaults: host 0.0.0.0, port 0 (any free port), path
/// `/socket.io/`, ping interval 25 000 ms, ping timeout 20 000 ms, max payload 1 000 000
/// bytes, connect timeout 45 000 ms, no cross-origin access (CORS off, as in socket.io),
/// request gate off, namespace `/` only, poll mode (no callback).
/// Free it with `rtio_config_free` (starting a server does not consume it).
/// Returns NULL only on internal error (see `rtio_last_error`).
#[no_mangle]
pub extern "C" fn rtio_config_new() -> *mut rtio_config {
    guard_ptr(|| {
        Ok(Box::into_raw(Box::new(rtio_config {
            config: Config::default(),
            callback: None,
            user_data: std::ptr::null_mut(),
            redis: None,
        })))
    })
}

/// Frees a configuration. NULL is ignored.
///
/// # Safety
/// `config` is NULL or a pointer from `rtio_config_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_free(config: *mut rtio_config) {
    if !config.is_null() {
        drop(Box::from_raw(config));
    }
}

/// Sets the address to bind (an IP address or host name; default `0.0.0.0`).
///
/// # Safety
/// `config` from `rtio_config_new`; `host` a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_host(
    config: *mut rtio_config,
    host: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config.host = arg_str(host, "host")?.to_string();
        Ok(())
    })
}

/// Sets the port to bind; 0 (the default) picks a free port (see `rtio_server_port`).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_port(config: *mut rtio_config, port: u16) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.port = port;
        Ok(())
    })
}

/// Whether rtio runs an HTTP listener of its own (true, the default). False when your own
/// HTTP server hands every request over (`rtio_handle_request`, `rtio_adopt_websocket`,
/// `rtio_open_websocket`): nothing is bound, `rtio_server_port` gives 0, host and port are
/// ignored.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_listen(
    config: *mut rtio_config,
    listen: bool,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config = std::mem::take(&mut c.config).listen(listen);
        Ok(())
    })
}

/// Sets the endpoint path (default `/socket.io/`); must start with `/`.
///
/// # Safety
/// `config` from `rtio_config_new`; `path` a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_path(
    config: *mut rtio_config,
    path: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let path = arg_str(path, "path")?;
        if !path.starts_with('/') {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "path must start with '/'",
            ));
        }
        c.config = std::mem::take(&mut c.config).path(path);
        Ok(())
    })
}

/// Sets the ping interval and ping timeout in milliseconds (both > 0).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_ping(
    config: *mut rtio_config,
    interval_ms: u32,
    timeout_ms: u32,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let (interval, timeout) = (
            ms(interval_ms, "ping: interval_ms")?,
            ms(timeout_ms, "ping: timeout_ms")?,
        );
        c.config.ping_interval = interval;
        c.config.ping_timeout = timeout;
        Ok(())
    })
}

/// Sets how long a new connection may take to join a namespace, in milliseconds (> 0).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_connect_timeout(
    config: *mut rtio_config,
    timeout_ms: u32,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.connect_timeout = ms(timeout_ms, "connect timeout: timeout_ms")?;
        Ok(())
    })
}

/// Sets the largest message or polling body accepted, in bytes (> 0; default 1 000 000).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_max_payload(
    config: *mut rtio_config,
    bytes: usize,
) -> rtio_status {
    guard(|| {
        if bytes == 0 {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "max payload must be > 0",
            ));
        }
        config_mut(config)?.config.max_payload = bytes;
        Ok(())
    })
}

/// Sets which origins may make cross-origin requests (CORS): `"*"` allows any origin (the
/// request's `Origin` is echoed), `""` none (the default, as in socket.io: no CORS headers
/// are sent), otherwise a comma-separated list of exact origins such as
/// `"https://a.example,https://b.example"`. Credentials (cookies) are allowed only with
/// `rtio_config_set_cors_credentials`. Replaces an earlier `rtio_config_set_cors_gate`.
/// `RTIO_STATUS_INVALID_ARGUMENT` for an empty entry in a list (`"https://a.example,"`).
///
/// # Safety
/// `config` from `rtio_config_new`; `origins` a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cors(
    config: *mut rtio_config,
    origins: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let origins = arg_str(origins, "origins")?.trim();
        c.config.cors = match origins {
            "*" => CorsOrigins::Any,
            "" => CorsOrigins::None,
            list => {
                let list: Vec<String> = list.split(',').map(|o| o.trim().to_string()).collect();
                if list.iter().any(|o| o.is_empty()) {
                    return Err(Failure::new(
                        rtio_status::InvalidArgument,
                        "cors: the origin list has an empty entry",
                    ));
                }
                CorsOrigins::List(list)
            }
        };
        Ok(())
    })
}

/// CORS decided by the host, request by request: every request without a session id
/// (handshakes and CORS preflights) arrives as `RTIO_EVENT_TYPE_REQUEST`, and
/// `rtio_request_allow_origin` lets its `Origin` read the response (CORS headers are sent;
/// the session keeps that for its later requests from the same origin), while
/// `rtio_request_allow` lets it through without cross-origin access. Unanswered requests are
/// refused after the gate's timeout (`rtio_config_set_request_gate`, default 10 000 ms).
/// Replaces an earlier `rtio_config_set_cors`.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cors_gate(config: *mut rtio_config) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.cors = CorsOrigins::Host;
        Ok(())
    })
}

/// With `enabled`, allowed cross-origin requests may carry credentials (cookies):
/// `Access-Control-Allow-Credentials: true` is sent. Default false.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cors_credentials(
    config: *mut rtio_config,
    enabled: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.cors_credentials = enabled;
        Ok(())
    })
}

/// With `enabled`, a request whose `Origin` the CORS policy does not allow is refused with
/// HTTP 400 and the body `"Not an accepted origin."`, WebSocket upgrades included
/// (python-engineio's behaviour; browsers do not apply CORS to WebSocket). With CORS none
/// (`""`), only the server's own origin is accepted. Default false (socket.io's behaviour:
/// such requests are served without CORS headers).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_reject_other_origins(
    config: *mut rtio_config,
    enabled: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.reject_other_origins = enabled;
        Ok(())
    })
}

/// The request gate (socket.io's `allowRequest`). With `enabled`, every Engine.IO handshake
/// (a polling GET or a WebSocket upgrade without a session id) first arrives as
/// `RTIO_EVENT_TYPE_REQUEST`; the client waits until you answer with `rtio_request_allow`,
/// `rtio_request_allow_origin` or `rtio_request_deny` (from any thread). A request not
/// answered within `timeout_ms` is refused with 403. `timeout_ms` 0 means the default,
/// 10 000 ms; it also bounds the answers of `rtio_config_set_cors_gate`. Default: off.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_request_gate(
    config: *mut rtio_config,
    enabled: bool,
    timeout_ms: u32,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config.request_gate = enabled;
        c.config.request_gate_timeout = if timeout_ms == 0 {
            Config::default().request_gate_timeout
        } else {
            Duration::from_millis(u64::from(timeout_ms))
        };
        Ok(())
    })
}

/// Serves HTTPS and WSS on rtio's own listener with this certificate chain and private key
/// (PEM files, read at `rtio_server_start`, which fails with `RTIO_STATUS_INVALID_ARGUMENT`
/// naming the file when one is missing or bad; read again by `rtio_reload_tls`). Both NULL
/// turns TLS off; one NULL is an error.
///
/// # Safety
/// `config` from `rtio_config_new`; `cert`, `key` NULL or NUL-terminated strings (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_tls(
    config: *mut rtio_config,
    cert: *const c_char,
    key: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let cert = crate::error::opt_str(cert, "cert")?;
        let key = crate::error::opt_str(key, "key")?;
        c.config.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(rtio_core::TlsFiles {
                cert: cert.into(),
                key: key.into(),
            }),
            (None, None) => None,
            _ => {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    "cert and key go together (both NULL turns TLS off)",
                ))
            }
        };
        Ok(())
    })
}

/// Whether polling clients are offered the upgrade to WebSocket (engine.io's
/// `allowUpgrades`, default true); false keeps each client on the transport it opened with.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_allow_upgrades(
    config: *mut rtio_config,
    allow: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.allow_upgrades = allow;
        Ok(())
    })
}

/// How Socket.IO packets are encoded; the whole server uses one, and so must its clients.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_parser {
    /// socket.io-parser's (the default): JSON text, binary values as attachments.
    Default = 0,
    /// `socket.io-msgpack-parser`'s: one msgpack binary message per packet, binary values
    /// native. Payloads reach and leave the host as with the default parser.
    Msgpack = 1,
}

/// Chooses the packet encoding (socket.io's `parser` option): one of the `rtio_parser`
/// values (taken as an integer, so that any other value is refused with
/// `RTIO_STATUS_INVALID_ARGUMENT` rather than trusted).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_parser(
    config: *mut rtio_config,
    parser: u32,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config.parser = match parser {
            p if p == rtio_parser::Default as u32 => rtio_core::Parser::Default,
            p if p == rtio_parser::Msgpack as u32 => rtio_core::Parser::Msgpack,
            other => {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    format!("parser {other} is not an rtio_parser value"),
                ))
            }
        };
        Ok(())
    })
}

/// WebSocket permessage-deflate (RFC 7692; socket.io's `perMessageDeflate`, off by
/// default): when `on`, messages of at least `threshold` bytes go compressed to clients that
/// negotiate it (socket.io's default threshold is 1024). A compressed message from a client
/// that inflates past the maximum payload closes its connection with 1009. Applies to rtio's
/// own listener and to WebSockets handed over by fd (`rtio_adopt_websocket`).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_per_message_deflate(
    config: *mut rtio_config,
    on: bool,
    threshold: usize,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.per_message_deflate = on.then_some(threshold);
        Ok(())
    })
}

/// Accepts Engine.IO v3 clients (socket.io-client 2.x) beside v4 ones (engine.io's
/// `allowEIO3`, default false). Such a client's sockets have the ids it expects
/// (`<engine id>` on `/`, `<nsp>#<engine id>` elsewhere) and its namespace query arrives as
/// the auth object.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_allow_eio3(
    config: *mut rtio_config,
    allow: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.allow_eio3 = allow;
        Ok(())
    })
}

/// Turns connection state recovery on (socket.io's `connectionStateRecovery`): a client
/// whose connection broke and that comes back within `max_disconnection_ms` gets its socket
/// back (same id, rooms, data) and the events emitted to it meanwhile; its connect event
/// says so (`rtio_event_recovered`). `skip_middlewares`: a recovered socket is not asked
/// about again (no `RTIO_EVENT_TYPE_CONNECT_REQUEST`). 0 turns it off.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_recovery(
    config: *mut rtio_config,
    max_disconnection_ms: u32,
    skip_middlewares: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.recovery =
            (max_disconnection_ms > 0).then(|| rtio_core::Recovery {
                max_disconnection: std::time::Duration::from_millis(max_disconnection_ms.into()),
                skip_middlewares,
            });
        Ok(())
    })
}

/// Sets engine.io's session cookie: `name=<session id>; Path=/; HttpOnly; SameSite=Lax` on
/// each polling handshake's answer (for sticky load balancers). NULL turns it off (the
/// default). The name must be a cookie token (letters, digits, `!#$%&'*+-.^_`|~`).
///
/// # Safety
/// `config` from `rtio_config_new`; `name` NULL or a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cookie(
    config: *mut rtio_config,
    name: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let name = crate::error::opt_str(name, "name")?;
        if let Some(n) = name {
            let token = |ch: char| ch.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(ch);
            if n.is_empty() || !n.chars().all(token) {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    format!("cookie name {n:?} is not a cookie token"),
                ));
            }
        }
        c.config.cookie = name.map(rtio_core::Cookie::new);
        Ok(())
    })
}

/// Serves files from this directory for paths outside the endpoint (`/` serves
/// `index.html`). NULL turns static files off.
///
/// # Safety
/// `config` from `rtio_config_new`; `dir` NULL or a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_static_dir(
    config: *mut rtio_config,
    dir: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config.static_dir = crate::error::opt_str(dir, "dir")?.map(Into::into);
        Ok(())
    })
}

/// Serves this `socket.io.js` file (from npm's `socket.io-client/dist/`) at
/// `<path>socket.io.js`; its `.min.js` and `.map` siblings too. NULL turns it off.
///
/// # Safety
/// `config` from `rtio_config_new`; `file` NULL or a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_client_bundle(
    config: *mut rtio_config,
    file: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.config.client_bundle = crate::error::opt_str(file, "file")?.map(Into::into);
        Ok(())
    })
}

/// Sets the number of IO worker threads (0, the default, means one per core).
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_worker_threads(
    config: *mut rtio_config,
    threads: u32,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.worker_threads = threads as usize;
        Ok(())
    })
}

/// Bounds each connection's send queue (frames and bytes, both > 0). A client whose queue is
/// full is disconnected with reason `"send queue full"`.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_send_queue(
    config: *mut rtio_config,
    max_frames: usize,
    max_bytes: usize,
) -> rtio_status {
    guard(|| {
        if max_frames == 0 || max_bytes == 0 {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "send queue bounds must be > 0",
            ));
        }
        let c = config_mut(config)?;
        c.config.send_queue_frames = max_frames;
        c.config.send_queue_bytes = max_bytes;
        Ok(())
    })
}

/// Sets the capacity of the event queue (> 0; default 4096). When the host falls behind
/// and the queue is full, rtio stops reading from the clients that produce events.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_event_queue(
    config: *mut rtio_config,
    capacity: usize,
) -> rtio_status {
    guard(|| {
        if capacity == 0 {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "event queue: capacity must be > 0",
            ));
        }
        config_mut(config)?.config.event_queue = capacity;
        Ok(())
    })
}

/// Accepts clients on a namespace (`/` is accepted by default). With `middleware`, each
/// client's join first arrives as `RTIO_EVENT_TYPE_CONNECT_REQUEST`, to be answered with
/// `rtio_accept` or `rtio_reject`.
///
/// # Safety
/// `config` from `rtio_config_new`; `nsp` a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_add_namespace(
    config: *mut rtio_config,
    nsp: *const c_char,
    middleware: bool,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let nsp = arg_str(nsp, "nsp")?;
        if !nsp.starts_with('/') {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "namespace must start with '/'",
            ));
        }
        c.config = std::mem::take(&mut c.config).namespace(nsp, middleware);
        Ok(())
    })
}

/// With `enabled`, a client joining a namespace that was never added arrives as
/// `RTIO_EVENT_TYPE_CONNECT_REQUEST` (instead of being refused with "Invalid namespace");
/// `rtio_accept` creates the namespace. Default false.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_dynamic_namespaces(
    config: *mut rtio_config,
    enabled: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.dynamic_namespaces = enabled;
        Ok(())
    })
}

/// socket.io's `cleanupEmptyChildNamespaces`: with `enabled`, a namespace made by accepting
/// a dynamic namespace's client (`rtio_config_set_dynamic_namespaces`) is removed once its
/// last socket on this server left; the next client to join it is asked about anew.
/// Default false.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cleanup_empty_child_namespaces(
    config: *mut rtio_config,
    enabled: bool,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.cleanup_empty_child_namespaces = enabled;
        Ok(())
    })
}

/// Selects callback mode: rtio's dispatcher thread calls `callback(event, user_data)` for
/// every event. NULL selects poll mode (the default: use `rtio_server_poll`).
///
/// # Safety
/// `config` from `rtio_config_new`; `user_data` must stay valid while the server runs and
/// be safe to use from the dispatcher thread.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_callback(
    config: *mut rtio_config,
    callback: rtio_event_cb,
    user_data: *mut c_void,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        c.callback = callback;
        c.user_data = user_data;
        Ok(())
    })
}

/// The wire format of a Redis cluster (for `rtio_config_set_redis_variant`). Every node of
/// a cluster, Node's included, uses the same one.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_redis_variant {
    /// `@socket.io/redis-adapter`'s `createAdapter` (PUBLISH / PSUBSCRIBE), the default and
    /// the one `@socket.io/redis-emitter` speaks.
    Classic = 0,
    /// `createShardedAdapter` (SPUBLISH / SSUBSCRIBE, Redis >= 7).
    Sharded = 1,
}

/// Which channels a node of the sharded variant subscribes (for
/// `rtio_config_set_redis_subscription_mode`; Node's `subscriptionMode`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_redis_subscription_mode {
    /// The namespace's main channel and the node's own only (suits dynamic namespaces).
    Static = 0,
    /// Plus one channel per public room (not a socket id); the default.
    Dynamic = 1,
    /// Plus one channel per room, socket-id rooms included.
    DynamicPrivate = 2,
}

fn redis_mut<'a>(
    config: *mut rtio_config,
    what: &str,
) -> FfiResult<&'a mut rtio_redis::adapter::RedisAdapterOptions> {
    config_mut(config)?.redis.as_mut().ok_or_else(|| {
        Failure::new(
            rtio_status::InvalidArgument,
            format!("{what}: call rtio_config_set_redis first"),
        )
    })
}

/// Joins a Socket.IO cluster through Redis: the server starts with rtio's Redis adapter,
/// wire-compatible with `@socket.io/redis-adapter` 8.x (and reached by
/// `@socket.io/redis-emitter`), on every namespace. `url` is
/// `redis://[user[:password]@]host[:port][/db]`; the other options get Node's defaults (key
/// `socket.io`, classic variant, requests timeout 5000 ms), which the
/// `rtio_config_set_redis_*` setters change. NULL turns the cluster off (a single node, the
/// default). `RTIO_STATUS_INVALID_ARGUMENT` for a URL that does not parse (the
/// configuration is then unchanged). Redis being down is not an error: the server starts,
/// serves its own clients, reports the loss on standard error and keeps retrying.
///
/// # Safety
/// `config` from `rtio_config_new`; `url` NULL or a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis(
    config: *mut rtio_config,
    url: *const c_char,
) -> rtio_status {
    guard(|| {
        let c = config_mut(config)?;
        let Some(url) = crate::error::opt_str(url, "url")? else {
            c.redis = None;
            return Ok(());
        };
        let options = rtio_redis::adapter::RedisAdapterOptions::new(url);
        rtio_redis::adapter::redis_adapter(options.clone())
            .map_err(|e| Failure::new(rtio_status::InvalidArgument, format!("redis: {e}")))?;
        c.redis = Some(options);
        Ok(())
    })
}

/// Sets the Redis channels' prefix (Node's `key` / `channelPrefix`; default `socket.io`;
/// not empty). Needs `rtio_config_set_redis` first (else `RTIO_STATUS_INVALID_ARGUMENT`).
///
/// # Safety
/// `config` from `rtio_config_new`; `key` a NUL-terminated string (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis_key(
    config: *mut rtio_config,
    key: *const c_char,
) -> rtio_status {
    guard(|| {
        let key = arg_str(key, "key")?;
        if key.is_empty() {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "redis key: must not be empty",
            ));
        }
        redis_mut(config, "redis key")?.key = key.to_string();
        Ok(())
    })
}

/// Sets the cluster's wire format: an `rtio_redis_variant` value (`RTIO_REDIS_VARIANT_CLASSIC`,
/// the default, or `RTIO_REDIS_VARIANT_SHARDED`); `RTIO_STATUS_INVALID_ARGUMENT` for any other
/// value. Needs `rtio_config_set_redis` first.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis_variant(
    config: *mut rtio_config,
    variant: i32,
) -> rtio_status {
    use rtio_redis::adapter::Variant;
    guard(|| {
        let v = match variant {
            0 => Variant::Classic,
            1 => Variant::Sharded,
            other => {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    format!("redis variant: {other} is no rtio_redis_variant"),
                ))
            }
        };
        redis_mut(config, "redis variant")?.variant = v;
        Ok(())
    })
}

/// Sets how long a request to the other nodes waits for their answers, in milliseconds
/// (> 0; Node's `requestsTimeout`, default 5000): `rtio_fetch_sockets`,
/// `rtio_server_side_emit_with_ack`, `rtio_server_count`. The server's cluster timeout
/// (`rtio_config_set_cluster_timeout`) bounds them too; the shorter wins. Needs
/// `rtio_config_set_redis` first.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis_requests_timeout(
    config: *mut rtio_config,
    timeout_ms: u32,
) -> rtio_status {
    guard(|| {
        let d = ms(timeout_ms, "redis requests timeout: timeout_ms")?;
        redis_mut(config, "redis requests timeout")?.requests_timeout = d;
        Ok(())
    })
}

/// Classic variant: with `enabled`, answers another node's request on that node's own
/// response channel instead of the common one (Node's `publishOnSpecificResponseChannel`,
/// default false; answers are read on both either way). Needs `rtio_config_set_redis` first.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis_specific_response_channel(
    config: *mut rtio_config,
    enabled: bool,
) -> rtio_status {
    guard(|| {
        redis_mut(config, "redis specific response channel")?
            .publish_on_specific_response_channel = enabled;
        Ok(())
    })
}

/// Sharded variant: which channels this node subscribes, an `rtio_redis_subscription_mode`
/// value (default `RTIO_REDIS_SUBSCRIPTION_MODE_DYNAMIC`); `RTIO_STATUS_INVALID_ARGUMENT` for
/// any other value. Needs `rtio_config_set_redis` first.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_redis_subscription_mode(
    config: *mut rtio_config,
    mode: i32,
) -> rtio_status {
    use rtio_redis::SubscriptionMode;
    guard(|| {
        let m = match mode {
            0 => SubscriptionMode::Static,
            1 => SubscriptionMode::Dynamic,
            2 => SubscriptionMode::DynamicPrivate,
            other => {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    format!("redis subscription mode: {other} is no rtio_redis_subscription_mode"),
                ))
            }
        };
        redis_mut(config, "redis subscription mode")?.subscription_mode = m;
        Ok(())
    })
}

/// Sets the longest a cluster request waits for answers, in milliseconds (> 0; default
/// 5000): `rtio_fetch_sockets`, `rtio_server_count`, and how long an
/// `RTIO_EVENT_TYPE_SERVER_SIDE_EMIT` may wait for `rtio_server_side_ack`.
///
/// # Safety
/// `config` from `rtio_config_new`.
#[no_mangle]
pub unsafe extern "C" fn rtio_config_set_cluster_timeout(
    config: *mut rtio_config,
    timeout_ms: u32,
) -> rtio_status {
    guard(|| {
        config_mut(config)?.config.cluster_timeout = ms(timeout_ms, "cluster timeout: timeout_ms")?;
        Ok(())
    })
}
