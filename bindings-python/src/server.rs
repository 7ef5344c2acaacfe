//! `NativeServer`: one running rtio server, its event delivery to Python, and the thin
//! wrappers over [`rtio::Io`] that the Python package (`python/rtio/`) builds python-socketio's
//! API on.
//!
//! Delivery (host code never runs on rtio's runtime threads):
//! - *dispatcher mode* (`rtio.Server`): one Rust thread waits for events with the GIL
//!   released and attaches it only to hand a batch to the Python callback, which runs the
//!   handlers on that thread;
//! - *poll mode* (`rtio.AsyncServer`): the core's `on_event_ready` hook writes a byte to a
//!   socket pair; the asyncio loop watches the read end (`wake_fd`) and takes the queued
//!   events with `poll`, on its own thread.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::Duration;

use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use rtio::engineio::{Handshake, Headers};
use rtio::{
    ClusterError, Config, CorsOrigins, DisconnectReason, Event, Events, Io, RequestAnswer,
    RequestInfo, Selector, Server, SocketInfo, WsMessage,
};
use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions, Variant};
use rtio_redis::SubscriptionMode;

use crate::convert;

/// Event kinds, the first item of each event tuple handed to Python.
pub const CONNECT_REQUEST: u8 = 0;
pub const CONNECT: u8 = 1;
pub const MESSAGE: u8 = 2;
pub const DISCONNECT: u8 = 3;
pub const ACK: u8 = 4;
pub const REQUEST: u8 = 5;
pub const BROADCAST_ACK: u8 = 6;
pub const FETCH_SOCKETS: u8 = 7;
pub const SERVER_SIDE_EMIT: u8 = 8;
pub const SERVER_SIDE_ACK: u8 = 9;
pub const SERVER_COUNT: u8 = 10;
/// The answer to a request handed over with `handle_request`:
/// `(HTTP_RESPONSE, token, status, [(name, value)], body bytes)`.
pub const HTTP_RESPONSE: u8 = 11;
/// The answer to a WebSocket handshake handed over with `open_websocket`:
/// `(WS_ANSWER, id, status, [(name, value)], body bytes)`; 101: accept it.
pub const WS_ANSWER: u8 = 12;
/// A message for the client of a host-framed WebSocket: `(WS_SEND, id, str | bytes)`.
pub const WS_SEND: u8 = 13;
/// rtio ended a host-framed WebSocket: `(WS_CLOSE, id, code)`; the host closes it with that
/// WebSocket close code (1000 normal, 1009 message too big, 1002 protocol error...).
pub const WS_CLOSE: u8 = 14;

// Raised when the server is stopped (re-exported by `rtio.exceptions`).
pyo3::create_exception!(
    _native,
    StoppedError,
    pyo3::exceptions::PyRuntimeError,
    "The server is stopped; the call did nothing."
);

fn to_py_err(e: rtio::Error) -> PyErr {
    match e {
        rtio::Error::Stopped => StoppedError::new_err(e.to_string()),
        rtio::Error::Bind(_) | rtio::Error::Io(_) => PyOSError::new_err(e.to_string()),
        rtio::Error::InvalidArgument(_) => PyValueError::new_err(e.to_string()),
        _ => PyRuntimeError::new_err(e.to_string()),
    }
}

/// `Ok(true)`, `Ok(false)` when the socket (or request) is gone, or the error.
fn found(r: Result<(), rtio::Error>) -> PyResult<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(rtio::Error::UnknownSocket(_)) | Err(rtio::Error::UnknownRequest(_)) => Ok(false),
        Err(e) => Err(to_py_err(e)),
    }
}

/// The reason as python-socketio names it (`socketio.Server.reason`), or rtio's own name
/// where python-socketio has none.
pub fn reason_name(r: DisconnectReason) -> &'static str {
    match r {
        DisconnectReason::ClientNamespaceDisconnect => "client disconnect",
        DisconnectReason::ServerNamespaceDisconnect
        | DisconnectReason::ForcedClose
        | DisconnectReason::ServerShuttingDown => "server disconnect",
        DisconnectReason::TransportClose => "transport close",
        DisconnectReason::TransportError => "transport error",
        DisconnectReason::PingTimeout => "ping timeout",
        DisconnectReason::ParseError => "parse error",
        DisconnectReason::SendQueueFull => "send queue full",
    }
}

/// A WSGI-like `environ` dict for a connection's handshake, as python-socketio passes to
/// `connect` handlers.
fn environ<'py>(py: Python<'py>, h: &Handshake, path: &str) -> PyResult<Bound<'py, PyDict>> {
    let env = wsgi_environ(py, "GET", path, &h.query, h.remote_addr, &h.headers)?;
    // Over TLS (rtio's own or the host's): `https`. Otherwise what a proxy says it received,
    // as python-engineio's ASGI and aiohttp drivers take it.
    if h.secure {
        env.set_item("wsgi.url_scheme", "https")?;
    } else if let Some(proto) = h.headers.get("x-forwarded-proto") {
        env.set_item(
            "wsgi.url_scheme",
            String::from_utf8_lossy(proto).into_owned(),
        )?;
    }
    env.set_item("rtio.issued_ms", h.issued_ms)?;
    Ok(env)
}

/// A WSGI-like `environ` dict of one HTTP request.
fn wsgi_environ<'py>(
    py: Python<'py>,
    method: &str,
    path: &str,
    query: &str,
    remote: std::net::SocketAddr,
    headers: &Headers,
) -> PyResult<Bound<'py, PyDict>> {
    let env = PyDict::new(py);
    env.set_item("REQUEST_METHOD", method)?;
    env.set_item("PATH_INFO", path)?;
    env.set_item("SCRIPT_NAME", "")?;
    env.set_item("QUERY_STRING", query)?;
    env.set_item("REMOTE_ADDR", remote.ip().to_string())?;
    env.set_item("REMOTE_PORT", remote.port().to_string())?;
    env.set_item("SERVER_PROTOCOL", "HTTP/1.1")?;
    env.set_item("wsgi.url_scheme", "http")?;
    for (name, value) in headers.iter() {
        let key = name.to_ascii_uppercase().replace('-', "_");
        let key = match key.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => key,
            _ => format!("HTTP_{key}"),
        };
        let value = String::from_utf8_lossy(value);
        // Repeated headers are joined with a comma, as WSGI servers do.
        let joined = match env.get_item(&key)? {
            Some(prev) => format!("{},{}", prev.extract::<String>()?, value),
            None => value.into_owned(),
        };
        env.set_item(key, joined)?;
    }
    Ok(env)
}

/// A request handed over by the host, its address checked.
fn http_request(
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: &[u8],
    remote_addr: Option<(String, u16)>,
    secure: bool,
) -> PyResult<rtio::HttpRequest> {
    let remote_addr = match remote_addr {
        Some((ip, port)) => {
            let ip: std::net::IpAddr = ip.parse().map_err(|_| {
                PyValueError::new_err(format!("remote_addr: {ip:?} is not an IP address"))
            })?;
            std::net::SocketAddr::new(ip, port)
        }
        None => std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
    };
    Ok(rtio::HttpRequest {
        method,
        url,
        headers,
        body: bytes::Bytes::copy_from_slice(body),
        remote_addr,
        secure,
    })
}

/// `Ok(None)` for a namespace this server does not serve (nothing selected), else the value
/// or the error.
fn known_namespace<T>(r: Result<T, rtio::Error>) -> PyResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rtio::Error::UnknownNamespace(_)) => Ok(None),
        Err(e) => Err(to_py_err(e)),
    }
}

/// An HTTP request the host is asked about (with a callable `cors_allowed_origins`): its
/// `Origin` and, when the callable wants it, its environ.
#[pyclass(frozen, module = "rtio._native")]
pub struct PendingRequest {
    info: Arc<RequestInfo>,
}

#[pymethods]
impl PendingRequest {
    /// The `Origin` header, or `None`.
    #[getter]
    fn origin(&self) -> Option<&str> {
        self.info.origin()
    }

    /// The `Host` header, or `None`.
    #[getter]
    fn host(&self) -> Option<String> {
        self.info
            .headers
            .get("host")
            .map(|h| String::from_utf8_lossy(h).into_owned())
    }

    /// A new WSGI-like environ dict of the request.
    fn environ<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let path = self.info.url.split('?').next().unwrap_or("");
        wsgi_environ(
            py,
            &self.info.method,
            path,
            self.info.query(),
            self.info.remote_addr,
            &self.info.headers,
        )
    }
}

/// The opening request of a client's connection, as the Python side keeps it per socket:
/// the environ dict is built from it when asked for (the connect handler's argument,
/// `get_environ`), so an idle client costs this small object rather than a dict of strings.
#[pyclass(frozen, module = "rtio._native")]
pub struct Opening {
    handshake: Arc<Handshake>,
    path: Arc<str>,
}

#[pymethods]
impl Opening {
    /// A new WSGI-like environ dict of the opening request.
    fn environ<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        environ(py, &self.handshake, &self.path)
    }
}

fn opening<'py>(
    py: Python<'py>,
    handshake: Arc<Handshake>,
    path: &Arc<str>,
) -> PyResult<Bound<'py, Opening>> {
    Bound::new(
        py,
        Opening {
            handshake,
            path: path.clone(),
        },
    )
}

/// The error of a cluster answer as text for Python (`None`: complete).
fn cluster_error<'py>(py: Python<'py>, e: Option<ClusterError>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match e {
        Some(e) => e.to_string().into_pyobject(py)?.into_any(),
        None => py.None().into_bound(py),
    })
}

/// A socket of a `fetch_sockets` answer as a dict: `id`, `nsp`, `rooms`, `data` (decoded,
/// `None` when unset), `local`, `auth`, and its handshake's parts (`address`, `headers`,
/// `query` text, `issued` ms) for the Python side to shape like socket.io's.
fn socket_info<'py>(py: Python<'py>, s: SocketInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &*s.id)?;
    d.set_item("nsp", &*s.nsp)?;
    d.set_item("rooms", s.rooms)?;
    let data = match &s.data {
        Some(json) => convert::decode_json(py, json, &[])?,
        None => py.None().into_bound(py),
    };
    d.set_item("data", data)?;
    d.set_item("local", s.local)?;
    d.set_item("auth", convert::decode_json(py, &s.auth, &[])?)?;
    let h = &s.handshake;
    d.set_item("address", h.remote_addr.ip().to_string())?;
    let headers = PyDict::new(py);
    for (name, value) in h.headers.iter() {
        let value = String::from_utf8_lossy(value);
        let joined = match headers.get_item(name)? {
            Some(prev) => format!("{}, {}", prev.extract::<String>()?, value),
            None => value.into_owned(),
        };
        headers.set_item(name, joined)?;
    }
    d.set_item("headers", headers)?;
    d.set_item("query", &h.query)?;
    d.set_item("issued", h.issued_ms)?;
    Ok(d)
}

/// One core event as the tuple the Python side dispatches on (`None`: nothing to deliver).
fn event_to_py<'py>(
    py: Python<'py>,
    ev: Event,
    path: &Arc<str>,
) -> PyResult<Option<Bound<'py, PyTuple>>> {
    let none = || py.None().into_bound(py);
    Ok(Some(match ev {
        Event::BroadcastAckResponse {
            token,
            answers,
            error,
        } => {
            let list = PyList::empty(py);
            for a in answers {
                let sid = match &a.sid {
                    Some(sid) => (&**sid).into_pyobject(py)?.into_any(),
                    None => none(),
                };
                let args = convert::decode_args(py, &a.payload)?.into_any();
                list.append(PyTuple::new(py, [sid, args])?)?;
            }
            PyTuple::new(
                py,
                [
                    BROADCAST_ACK.into_pyobject(py)?.into_any(),
                    token.into_pyobject(py)?.into_any(),
                    list.into_any(),
                    cluster_error(py, error)?,
                ],
            )?
        }
        Event::FetchSocketsResponse {
            token,
            sockets,
            error,
        } => {
            let list = PyList::empty(py);
            for s in sockets {
                list.append(socket_info(py, s)?)?;
            }
            PyTuple::new(
                py,
                [
                    FETCH_SOCKETS.into_pyobject(py)?.into_any(),
                    token.into_pyobject(py)?.into_any(),
                    list.into_any(),
                    cluster_error(py, error)?,
                ],
            )?
        }
        Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack,
        } => PyTuple::new(
            py,
            [
                SERVER_SIDE_EMIT.into_pyobject(py)?.into_any(),
                (&*nsp).into_pyobject(py)?.into_any(),
                event.into_pyobject(py)?.into_any(),
                convert::decode_args(py, &payload)?.into_any(),
                match ack {
                    Some(id) => id.into_pyobject(py)?.into_any(),
                    None => none(),
                },
            ],
        )?,
        Event::ServerSideAckResponse {
            token,
            answers,
            error,
        } => {
            let list = PyList::empty(py);
            for a in &answers {
                list.append(convert::decode_args(py, a)?)?;
            }
            PyTuple::new(
                py,
                [
                    SERVER_SIDE_ACK.into_pyobject(py)?.into_any(),
                    token.into_pyobject(py)?.into_any(),
                    list.into_any(),
                    cluster_error(py, error)?,
                ],
            )?
        }
        Event::ServerCountResponse { token, result } => {
            let (count, error) = match result {
                Ok(n) => (n.into_pyobject(py)?.into_any(), none()),
                Err(e) => (none(), cluster_error(py, Some(e))?),
            };
            PyTuple::new(
                py,
                [
                    SERVER_COUNT.into_pyobject(py)?.into_any(),
                    token.into_pyobject(py)?.into_any(),
                    count,
                    error,
                ],
            )?
        }
        Event::WebSocketAnswer { id, response } => PyTuple::new(
            py,
            [
                WS_ANSWER.into_pyobject(py)?.into_any(),
                id.into_pyobject(py)?.into_any(),
                response.status.into_pyobject(py)?.into_any(),
                response.headers.into_pyobject(py)?.into_any(),
                pyo3::types::PyBytes::new(py, &response.body).into_any(),
            ],
        )?,
        Event::WebSocketSend { id, message } => PyTuple::new(
            py,
            [
                WS_SEND.into_pyobject(py)?.into_any(),
                id.into_pyobject(py)?.into_any(),
                match message {
                    WsMessage::Text(t) => t.into_pyobject(py)?.into_any(),
                    WsMessage::Binary(b) => pyo3::types::PyBytes::new(py, &b).into_any(),
                },
            ],
        )?,
        Event::WebSocketClose { id, code } => PyTuple::new(
            py,
            [
                WS_CLOSE.into_pyobject(py)?.into_any(),
                id.into_pyobject(py)?.into_any(),
                code.into_pyobject(py)?.into_any(),
            ],
        )?,
        Event::HttpResponse { token, response } => PyTuple::new(
            py,
            [
                HTTP_RESPONSE.into_pyobject(py)?.into_any(),
                token.into_pyobject(py)?.into_any(),
                response.status.into_pyobject(py)?.into_any(),
                response.headers.into_pyobject(py)?.into_any(),
                pyo3::types::PyBytes::new(py, &response.body).into_any(),
            ],
        )?,
        Event::Request { request, info } => PyTuple::new(
            py,
            [
                REQUEST.into_pyobject(py)?.into_any(),
                request.into_pyobject(py)?.into_any(),
                Bound::new(py, PendingRequest { info })?.into_any(),
            ],
        )?,
        Event::ConnectRequest {
            request,
            sid,
            nsp,
            auth,
            handshake,
        } => PyTuple::new(
            py,
            [
                CONNECT_REQUEST.into_pyobject(py)?.into_any(),
                request.into_pyobject(py)?.into_any(),
                (&*nsp).into_pyobject(py)?.into_any(),
                convert::decode_json(py, &auth, &[])?,
                opening(py, handshake, path)?.into_any(),
                // The socket already exists while the host decides; it keeps this id.
                (&*sid).into_pyobject(py)?.into_any(),
            ],
        )?,
        Event::Connect {
            sid,
            nsp,
            auth,
            handshake,
            ..
        } => PyTuple::new(
            py,
            [
                CONNECT.into_pyobject(py)?.into_any(),
                (&*sid).into_pyobject(py)?.into_any(),
                (&*nsp).into_pyobject(py)?.into_any(),
                convert::decode_json(py, &auth, &[])?,
                opening(py, handshake, path)?.into_any(),
            ],
        )?,
        Event::Message {
            sid,
            nsp,
            event,
            payload,
            ack,
        } => PyTuple::new(
            py,
            [
                MESSAGE.into_pyobject(py)?.into_any(),
                (&*sid).into_pyobject(py)?.into_any(),
                (&*nsp).into_pyobject(py)?.into_any(),
                event.into_pyobject(py)?.into_any(),
                convert::decode_args(py, &payload)?.into_any(),
                match ack {
                    Some(id) => id.into_pyobject(py)?.into_any(),
                    None => none(),
                },
            ],
        )?,
        Event::Disconnect {
            sid,
            nsp,
            reason,
            rooms,
        } => PyTuple::new(
            py,
            [
                DISCONNECT.into_pyobject(py)?.into_any(),
                (&*sid).into_pyobject(py)?.into_any(),
                (&*nsp).into_pyobject(py)?.into_any(),
                reason_name(reason).into_pyobject(py)?.into_any(),
                rooms.into_pyobject(py)?.into_any(),
            ],
        )?,
        Event::AckResponse { token, sid, result } => PyTuple::new(
            py,
            [
                ACK.into_pyobject(py)?.into_any(),
                token.into_pyobject(py)?.into_any(),
                (&*sid).into_pyobject(py)?.into_any(),
                match result {
                    Ok(payload) => convert::decode_args(py, &payload)?.into_any(),
                    Err(_) => none(),
                },
            ],
        )?,
    }))
}

/// Converts a batch of events; an event that cannot be converted is logged and skipped (it
/// cannot happen for what the core validated, but one bad event must not stop delivery).
fn batch_to_py<'py>(py: Python<'py>, batch: Vec<Event>, path: &Arc<str>) -> Bound<'py, PyList> {
    let list = PyList::empty(py);
    for ev in batch {
        match event_to_py(py, ev, path) {
            Ok(Some(t)) => {
                let _ = list.append(t);
            }
            Ok(None) => {}
            Err(e) => e.write_unraisable(py, None),
        }
    }
    list
}

/// Takes up to `max` queued events without waiting. `Err` once the server stopped and
/// every event was taken.
fn drain(events: &Events, batch: &mut Vec<Event>, max: usize) -> Result<(), rtio::Error> {
    while batch.len() < max {
        match events.try_recv()? {
            Some(ev) => batch.push(ev),
            None => break,
        }
    }
    Ok(())
}

/// The wake-up socket pair of poll mode: the hook writes one byte when the loop is not
/// already due to look.
struct Wake {
    reader: UnixStream,
    armed: Arc<AtomicBool>,
}

/// A running rtio server (internal: use `rtio.Server` or `rtio.AsyncServer`).
#[pyclass(frozen, module = "rtio._native")]
pub struct NativeServer {
    server: Mutex<Option<Server>>,
    io: Io,
    events: Events,
    path: Arc<str>,
    wake: Option<Wake>,
    dispatcher: Mutex<Option<JoinHandle<()>>>,
    dispatcher_id: Mutex<Option<ThreadId>>,
}

/// Options of [`NativeServer::start`], as the Python side passes them (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Options {
    host: String,
    port: u16,
    /// False when mounted in the app's own server: no listener of rtio's own.
    listen: bool,
    path: String,
    ping_interval_ms: u64,
    ping_timeout_ms: u64,
    connect_timeout_ms: u64,
    max_payload: usize,
    /// `"none"` (the server's own origin only), `"any"`, `"list"` (`cors_origins`) or
    /// `"host"` (each handshake's origin is asked about: `REQUEST` events).
    cors: String,
    cors_origins: Vec<String>,
    cors_credentials: bool,
    /// Refuse requests from origins the policy does not allow (400).
    reject_other_origins: bool,
    websocket: bool,
    polling: bool,
    static_dir: Option<String>,
    client_bundle: Option<String>,
    worker_threads: usize,
    /// `(name, middleware)` pairs.
    namespaces: Vec<(String, bool)>,
    /// Offer unknown namespaces to the host (`namespaces='*'`).
    dynamic_namespaces: bool,
    /// Poll mode (a wake-up fd) instead of a dispatcher thread.
    poll_mode: bool,
    /// Join a Socket.IO cluster through Redis (`client_manager=rtio.RedisManager(...)`).
    redis: Option<RedisOptions>,
    /// engine.io's session cookie (`cookie=`), as the Python side normalised it.
    cookie: Option<CookieOptions>,
    /// HTTPS and WSS on the listener: the PEM certificate chain and key files
    /// (`ssl_certfile=`, `ssl_keyfile=`).
    tls: Option<(String, String)>,
    /// Offer polling clients the upgrade to WebSocket (`allow_upgrades=`).
    allow_upgrades: bool,
    /// Compress polling responses of at least this many bytes (`http_compression=`,
    /// `compression_threshold=`); `None`: never.
    http_compression: Option<usize>,
    /// Connection state recovery's window in ms and whether a recovered socket skips the
    /// connect handler's decision (`connection_state_recovery=`); `None`: off.
    recovery: Option<(u64, bool)>,
    /// The Socket.IO packet encoding (`serializer=`): `"default"` or `"msgpack"`.
    parser: String,
    /// WebSocket permessage-deflate for messages of at least this many bytes
    /// (`websocket_compression=`, `websocket_compression_threshold=`); `None`: off.
    per_message_deflate: Option<usize>,
    /// Accept Engine.IO v3 clients too (`allow_eio3=`).
    allow_eio3: bool,
}

/// The core's parser for the name the Python side passes (`serializer=`'s): `ValueError`
/// for another name.
fn parser(name: &str) -> PyResult<rtio::Parser> {
    match name {
        "default" => Ok(rtio::Parser::Default),
        "msgpack" => Ok(rtio::Parser::Msgpack),
        other => Err(PyValueError::new_err(format!(
            "serializer must be 'default' or 'msgpack', not {other:?}"
        ))),
    }
}

/// The session cookie's attributes, as the Python side passes them (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct CookieOptions {
    name: String,
    path: Option<String>,
    http_only: bool,
    /// `"Strict"`, `"Lax"` or `"None"`; `None`: no attribute.
    same_site: Option<String>,
}

impl CookieOptions {
    /// The core's cookie; `ValueError` for a name, path or SameSite a browser would not take
    /// (the core would otherwise leave a cookie it cannot write out, silently).
    fn cookie(self) -> PyResult<rtio::Cookie> {
        let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if self.name.is_empty() || !self.name.chars().all(token) {
            return Err(PyValueError::new_err(format!(
                "cookie name {:?} is not a valid cookie name",
                self.name
            )));
        }
        if let Some(path) = &self.path {
            if path
                .chars()
                .any(|c| c == ';' || c.is_control() || !c.is_ascii())
            {
                return Err(PyValueError::new_err(format!(
                    "cookie path {path:?} is not a valid cookie path"
                )));
            }
        }
        if let Some(s) = self.same_site.as_deref() {
            if !matches!(s, "Strict" | "Lax" | "None") {
                return Err(PyValueError::new_err(format!(
                    "cookie SameSite {s:?} is not \"Strict\", \"Lax\" or \"None\""
                )));
            }
        }
        Ok(rtio::Cookie {
            name: self.name,
            path: self.path,
            http_only: self.http_only,
            same_site: self.same_site,
        })
    }
}

/// The Redis adapter's options, as `rtio.RedisManager` passes them (a dict).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct RedisOptions {
    url: String,
    key: String,
    sharded: bool,
    requests_timeout_ms: u64,
    publish_on_specific_response_channel: bool,
    /// `"static"`, `"dynamic"` or `"dynamic-private"` (sharded only).
    subscription_mode: String,
}

impl RedisOptions {
    /// The adapter's (and the emitter's) options; `ValueError` for an unknown mode.
    pub(crate) fn adapter_options(self) -> PyResult<RedisAdapterOptions> {
        let mut o = RedisAdapterOptions::new(self.url);
        o.key = self.key;
        o.variant = if self.sharded {
            Variant::Sharded
        } else {
            Variant::Classic
        };
        o.requests_timeout = Duration::from_millis(self.requests_timeout_ms);
        o.publish_on_specific_response_channel = self.publish_on_specific_response_channel;
        o.subscription_mode = match self.subscription_mode.as_str() {
            "static" => SubscriptionMode::Static,
            "dynamic" => SubscriptionMode::Dynamic,
            "dynamic-private" => SubscriptionMode::DynamicPrivate,
            other => {
                return Err(PyValueError::new_err(format!(
                    "subscription_mode must be 'static', 'dynamic' or 'dynamic-private', \
                     not {other:?}"
                )))
            }
        };
        Ok(o)
    }
}

/// Checks a manager's Redis options now (a URL the client cannot take, an unknown mode):
/// `ValueError` naming what is wrong. Connects to nothing.
#[pyfunction]
pub fn check_redis(options: RedisOptions) -> PyResult<()> {
    redis_adapter(options.adapter_options()?)
        .map(drop)
        .map_err(|e| PyValueError::new_err(format!("RedisManager: {e}")))
}

/// The selection of a cluster operation: rooms (or sids) to reach, all sockets of the
/// namespace when empty, minus the members of `exclude`; `local`: this server only.
fn selector<'a>(to: &'a [String], except: &'a [String], local: bool) -> Selector<'a> {
    Selector {
        to,
        except,
        skip: None,
        local,
    }
}

fn seconds(t: f64) -> Duration {
    Duration::from_secs_f64(if t.is_finite() {
        t.clamp(0.0, 1e9)
    } else {
        1e9
    })
}

#[pymethods]
impl NativeServer {
    /// Starts a server; returns once it listens, or raises `OSError` (address in use...) or
    /// `ValueError` (bad option).
    #[staticmethod]
    fn start(py: Python<'_>, options: Options) -> PyResult<NativeServer> {
        let mut config = Config::default()
            .host(options.host)
            .port(options.port)
            .listen(options.listen)
            .path(options.path)
            .ping_interval(Duration::from_millis(options.ping_interval_ms))
            .ping_timeout(Duration::from_millis(options.ping_timeout_ms))
            .connect_timeout(Duration::from_millis(options.connect_timeout_ms))
            .max_payload(options.max_payload)
            .worker_threads(options.worker_threads);
        config.cors = match options.cors.as_str() {
            "none" => CorsOrigins::None,
            "any" => CorsOrigins::Any,
            "list" => CorsOrigins::List(options.cors_origins),
            "host" => CorsOrigins::Host,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown CORS policy {other:?}"
                )))
            }
        };
        config.cors_credentials = options.cors_credentials;
        config.reject_other_origins = options.reject_other_origins;
        config.websocket = options.websocket;
        config.polling = options.polling;
        config.static_dir = options.static_dir.map(Into::into);
        config.client_bundle = options.client_bundle.map(Into::into);
        config.namespaces.clear();
        for (name, middleware) in options.namespaces {
            config = config.namespace(name, middleware);
        }
        config.dynamic_namespaces = options.dynamic_namespaces;
        if let Some(cookie) = options.cookie {
            config = config.cookie(cookie.cookie()?);
        }
        if let Some((cert, key)) = options.tls {
            config = config.tls(cert, key);
        }
        config.allow_upgrades = options.allow_upgrades;
        config.http_compression = options.http_compression;
        config = config
            .parser(parser(&options.parser)?)
            .per_message_deflate(options.per_message_deflate)
            .allow_eio3(options.allow_eio3);
        if let Some((ms, skip_middlewares)) = options.recovery {
            config = config.recovery(rtio::Recovery {
                max_disconnection: std::time::Duration::from_millis(ms),
                skip_middlewares,
            });
        }
        if let Some(redis) = options.redis {
            let adapter_options = redis.adapter_options()?;
            let timeout = adapter_options.requests_timeout;
            let factory = redis_adapter(adapter_options)
                .map_err(|e| PyValueError::new_err(format!("RedisManager: {e}")))?;
            config = config.adapter(factory).cluster_timeout(timeout);
        }
        let wake = if options.poll_mode {
            let (reader, writer) =
                UnixStream::pair().map_err(|e| PyOSError::new_err(e.to_string()))?;
            reader
                .set_nonblocking(true)
                .and_then(|_| writer.set_nonblocking(true))
                .map_err(|e| PyOSError::new_err(e.to_string()))?;
            let armed = Arc::new(AtomicBool::new(false));
            let hook_armed = armed.clone();
            config = config.on_event_ready(Arc::new(move || {
                if !hook_armed.swap(true, Ordering::SeqCst) {
                    // A full pipe already wakes the reader; nothing else can go wrong here.
                    let _ = (&writer).write(&[1]);
                }
            }));
            Some(Wake { reader, armed })
        } else {
            None
        };
        let path: Arc<str> = config.path.as_str().into();
        let server = py.detach(|| Server::start(config)).map_err(to_py_err)?;
        Ok(NativeServer {
            io: server.io(),
            events: server.events().clone(),
            server: Mutex::new(Some(server)),
            path,
            wake,
            dispatcher: Mutex::new(None),
            dispatcher_id: Mutex::new(None),
        })
    }

    /// Reads the TLS certificate and key files again (after a renewal): new connections get
    /// the new certificate, open ones keep theirs. `ValueError` (naming the file) when they
    /// cannot be read, the certificate in use then staying, or when the server has no TLS.
    fn reload_tls(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.io.reload_tls()).map_err(to_py_err)
    }

    /// The port the server listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.io.local_addr().port()
    }

    /// The address the server listens on.
    #[getter]
    fn host(&self) -> String {
        self.io.local_addr().ip().to_string()
    }

    /// True once the server was stopped.
    fn is_stopped(&self) -> bool {
        self.io.is_stopped()
    }

    /// Dispatcher mode: starts the thread that calls `callback(events)` with each batch of
    /// at most `batch_max` event tuples, then once with `None` when the event stream ended.
    /// A callback that returns a number of seconds is called again with an empty list when
    /// that long passed without events (the handler pool's check for stuck threads).
    fn start_dispatcher(&self, callback: Py<PyAny>, batch_max: usize) -> PyResult<()> {
        let mut slot = self.dispatcher.lock();
        if slot.is_some() {
            return Err(PyRuntimeError::new_err("the dispatcher is already running"));
        }
        let events = self.events.clone();
        let path = self.path.clone();
        let max = batch_max.max(1);
        let handle = std::thread::Builder::new()
            .name("rtio-py-dispatch".into())
            .spawn(move || dispatch_loop(events, callback, path, max))
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        *self.dispatcher_id.lock() = Some(handle.thread().id());
        *slot = Some(handle);
        Ok(())
    }

    /// Poll mode: the file descriptor that becomes readable when events are queued.
    fn wake_fd(&self) -> PyResult<i32> {
        self.wake
            .as_ref()
            .map(|w| w.reader.as_raw_fd())
            .ok_or_else(|| PyRuntimeError::new_err("not started in poll mode"))
    }

    /// Takes up to `max` queued events without waiting (poll mode: also clears the wake-up
    /// fd first). Returns `None` once the server stopped and every event was taken.
    fn poll<'py>(&self, py: Python<'py>, max: usize) -> Option<Bound<'py, PyList>> {
        if let Some(w) = &self.wake {
            // Empty the fd first, then re-arm, then take the events: a hook that runs after
            // the re-arm writes a new byte, and every event queued before it is taken below.
            // (Re-arming before reading could swallow the byte of a hook that ran in between
            // and leave `armed` set with nothing to wake the loop.)
            let mut buf = [0u8; 256];
            loop {
                match (&w.reader).read(&mut buf) {
                    Ok(n) if n > 0 => continue,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
            w.armed.store(false, Ordering::SeqCst);
        }
        let mut batch = Vec::new();
        match drain(&self.events, &mut batch, max.max(1)) {
            Err(_) if batch.is_empty() => None,
            _ => Some(batch_to_py(py, batch, &self.path)),
        }
    }

    /// True when called on this server's dispatcher thread.
    fn on_dispatcher(&self) -> bool {
        *self.dispatcher_id.lock() == Some(std::thread::current().id())
    }

    /// Sends an event to one socket (`data` as python-socketio: `None` no argument, a tuple
    /// several). Returns False when no such socket is connected.
    fn emit(&self, sid: &str, event: &str, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let payload = convert::encode_data(data)?;
        found(self.io.emit(sid, event, &payload))
    }

    /// Sends an event to the sockets of a namespace: those in any of `to` (all when empty),
    /// minus those in any of `exclude`. Returns how many it was queued for.
    /// In a cluster the other servers' sockets are reached too, unless `local`.
    #[pyo3(signature = (nsp, event, data, to=None, exclude=None, local=false))]
    fn broadcast(
        &self,
        nsp: &str,
        event: &str,
        data: &Bound<'_, PyAny>,
        to: Option<Vec<String>>,
        exclude: Option<Vec<String>>,
        local: bool,
    ) -> PyResult<usize> {
        let payload = convert::encode_data(data)?;
        let mut b = self.io.broadcast(nsp);
        for room in to.unwrap_or_default() {
            b = b.to(room);
        }
        for room in exclude.unwrap_or_default() {
            b = b.except(room);
        }
        if local {
            b = b.local();
        }
        match b.emit(event, &payload) {
            Ok(n) => Ok(n),
            Err(rtio::Error::UnknownNamespace(_)) => Ok(0),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// Sends an event asking for an ack; returns the token of the ack event that follows
    /// (exactly one: the answer, or `None` arguments after `timeout` seconds or when the
    /// socket leaves), or `None` when no such socket is connected. `timeout=None`: no time
    /// limit, the ack is awaited for as long as the socket is connected.
    #[pyo3(signature = (sid, event, data, timeout=None))]
    fn emit_with_ack(
        &self,
        sid: &str,
        event: &str,
        data: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Option<u64>> {
        let payload = convert::encode_data(data)?;
        // `Duration::MAX`: no deadline (the core's answer then comes from the client or
        // from the socket's departure).
        let timeout = match timeout {
            Some(t) => Duration::from_secs_f64(t.clamp(0.0, 1e9)),
            None => Duration::MAX,
        };
        match self.io.emit_with_ack(sid, event, &payload, timeout) {
            Ok(token) => Ok(Some(token)),
            Err(rtio::Error::UnknownSocket(_)) => Ok(None),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// Answers a client's ack request with a handler's return value (python-socketio's
    /// convention: `None` no argument, a tuple several).
    fn ack(&self, sid: &str, ack_id: u64, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let payload = convert::encode_data(data)?;
        found(self.io.ack(sid, ack_id, &payload))
    }

    /// Attaches `data` (JSON-able; `None` clears it) to a socket: socket.io's
    /// `socket.data`, which `fetch_sockets` reports on every server. False when the socket
    /// is not connected.
    fn set_socket_data(&self, sid: &str, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let json = if data.is_none() {
            None
        } else {
            Some(convert::encode_json(data)?)
        };
        found(self.io.set_socket_data(sid, json.as_deref()))
    }

    /// Puts a socket in a room.
    fn join_room(&self, sid: &str, room: &str) -> PyResult<bool> {
        found(self.io.join(sid, room))
    }

    /// Takes a socket out of a room.
    fn leave_room(&self, sid: &str, room: &str) -> PyResult<bool> {
        found(self.io.leave(sid, room))
    }

    /// True when the socket came back with connection state recovery (false when it did
    /// not, or is not connected).
    fn recovered(&self, sid: &str) -> bool {
        self.io.recovered(sid).unwrap_or(false)
    }

    /// The rooms of a socket, its own room first (empty when it is not connected).
    fn rooms(&self, sid: &str) -> PyResult<Vec<String>> {
        match self.io.rooms(sid) {
            Ok(r) => Ok(r),
            Err(rtio::Error::UnknownSocket(_)) => Ok(Vec::new()),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// Empties a room of a namespace.
    fn close_room(&self, nsp: &str, room: &str) -> PyResult<()> {
        match self.io.close_room(nsp, room) {
            Ok(()) | Err(rtio::Error::UnknownNamespace(_)) => Ok(()),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// The socket ids of a namespace, or of one of its rooms.
    #[pyo3(signature = (nsp, room=None))]
    fn sockets(&self, nsp: &str, room: Option<&str>) -> PyResult<Vec<String>> {
        match self.io.sockets(nsp, room) {
            Ok(s) => Ok(s),
            Err(rtio::Error::UnknownNamespace(_)) => Ok(Vec::new()),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// `(sockets, rooms)` of a namespace: connected sockets, and rooms with members not
    /// counting each socket's own room.
    fn stats(&self, nsp: &str) -> PyResult<(usize, usize)> {
        match self.io.stats(nsp) {
            Ok(s) => Ok((s.sockets, s.rooms)),
            Err(rtio::Error::UnknownNamespace(_)) => Ok((0, 0)),
            Err(e) => Err(to_py_err(e)),
        }
    }

    /// Disconnects a socket (the client sees a server disconnect); with `close_connection`
    /// its whole connection is closed too. False when it was not connected.
    fn disconnect(&self, sid: &str, close_connection: bool) -> PyResult<bool> {
        found(self.io.disconnect(sid, close_connection))
    }

    /// Accepts a pending connect request. False when it is no longer pending.
    fn accept(&self, request: u64) -> PyResult<bool> {
        found(self.io.accept(request))
    }

    /// Refuses a pending connect request with a `connect_error` carrying `message` and,
    /// unless `None`, `data`.
    fn reject(&self, request: u64, message: &str, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let data = if data.is_none() {
            None
        } else {
            Some(convert::encode_json(data)?)
        };
        found(self.io.reject(request, message, data.as_deref()))
    }

    /// Answers a `REQUEST` event: `cross_origin` whether its origin may read the response;
    /// `refusal` `(status, message)` refuses it instead. False when it is no longer pending.
    #[pyo3(signature = (request, cross_origin, refusal=None))]
    fn answer_request(
        &self,
        request: u64,
        cross_origin: bool,
        refusal: Option<(u16, String)>,
    ) -> PyResult<bool> {
        let answer = match refusal {
            Some((status, message)) => RequestAnswer::deny(status, message),
            None => RequestAnswer::allow().cross_origin(cross_origin),
        };
        found(self.io.answer_request(request, answer))
    }

    /// The transport a socket's connection uses now: `"polling"` or `"websocket"`.
    fn transport(&self, sid: &str) -> PyResult<&'static str> {
        Ok(match self.io.transport(sid).map_err(to_py_err)? {
            rtio::engineio::Transport::Polling => "polling",
            rtio::engineio::Transport::WebSocket => "websocket",
        })
    }

    /// Sends an event to the selected sockets of every server, asking each for an ack;
    /// returns the token of the one `BROADCAST_ACK` event that follows (every answer, or
    /// those that came by `timeout` seconds; `None`: no deadline), or `None` when the
    /// namespace is not served.
    #[pyo3(signature = (nsp, event, data, to, exclude, timeout=None, local=false))]
    #[allow(clippy::too_many_arguments)]
    fn broadcast_with_ack(
        &self,
        nsp: &str,
        event: &str,
        data: &Bound<'_, PyAny>,
        to: Vec<String>,
        exclude: Vec<String>,
        timeout: Option<f64>,
        local: bool,
    ) -> PyResult<Option<u64>> {
        let payload = convert::encode_data(data)?;
        let mut b = self.io.broadcast(nsp);
        for room in to {
            b = b.to(room);
        }
        for room in exclude {
            b = b.except(room);
        }
        if local {
            b = b.local();
        }
        let timeout = timeout.map_or(Duration::MAX, seconds);
        known_namespace(b.emit_with_ack(event, &payload, timeout))
    }

    /// Lists the selected sockets of every server: the token of the `FETCH_SOCKETS` event
    /// that follows, or `None` when the namespace is not served.
    #[pyo3(signature = (nsp, to, exclude, local=false))]
    fn fetch_sockets(
        &self,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        local: bool,
    ) -> PyResult<Option<u64>> {
        known_namespace(self.io.fetch_sockets(nsp, &selector(&to, &exclude, local)))
    }

    /// Puts the selected sockets of every server in `rooms`.
    #[pyo3(signature = (nsp, to, exclude, rooms, local=false))]
    fn sockets_join(
        &self,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        rooms: Vec<String>,
        local: bool,
    ) -> PyResult<()> {
        let sel = selector(&to, &exclude, local);
        known_namespace(self.io.sockets_join(nsp, &sel, rooms)).map(drop)
    }

    /// Takes the selected sockets of every server out of `rooms`.
    #[pyo3(signature = (nsp, to, exclude, rooms, local=false))]
    fn sockets_leave(
        &self,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        rooms: Vec<String>,
        local: bool,
    ) -> PyResult<()> {
        let sel = selector(&to, &exclude, local);
        known_namespace(self.io.sockets_leave(nsp, &sel, rooms)).map(drop)
    }

    /// Disconnects the selected sockets of every server (their clients see a server
    /// disconnect); with `close_connection` their connections are closed too.
    #[pyo3(signature = (nsp, to, exclude, close_connection, local=false))]
    fn disconnect_sockets(
        &self,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        close_connection: bool,
        local: bool,
    ) -> PyResult<()> {
        let sel = selector(&to, &exclude, local);
        known_namespace(self.io.disconnect_sockets(nsp, &sel, close_connection)).map(drop)
    }

    /// Sends an event to the other servers of the cluster (`SERVER_SIDE_EMIT` events
    /// there). With `timeout` (seconds) their answers are asked for: returns the token of
    /// the `SERVER_SIDE_ACK` event that follows. `None` when there is nothing to wait for.
    #[pyo3(signature = (nsp, event, data, timeout=None))]
    fn server_side_emit(
        &self,
        nsp: &str,
        event: &str,
        data: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<Option<u64>> {
        let payload = convert::encode_data(data)?;
        match timeout {
            None => known_namespace(self.io.server_side_emit(nsp, event, &payload)).map(|_| None),
            Some(t) => {
                known_namespace(
                    self.io
                        .server_side_emit_with_ack(nsp, event, &payload, seconds(t)),
                )
            }
        }
    }

    /// Answers a `SERVER_SIDE_EMIT` event that asked for one. False when it was answered
    /// already or waited too long.
    fn server_side_ack(&self, ack: u64, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let payload = convert::encode_data(data)?;
        found(self.io.server_side_ack(ack, &payload))
    }

    /// Counts the servers of the namespace's cluster: the token of the `SERVER_COUNT` event
    /// that follows, or `None` when the namespace is not served.
    fn server_count(&self, nsp: &str) -> PyResult<Option<u64>> {
        known_namespace(self.io.server_count(nsp))
    }

    /// Hands over one request to the Engine.IO path that the host's own HTTP server
    /// received (polling GET/POST, handshake, CORS preflight): returns at once with the
    /// token of the `HTTP_RESPONSE` event that carries the answer (a long-poll GET's comes
    /// when packets are queued). `remote_addr`: `(ip, port)` of the client, or `None` when
    /// the host's server does not know it. A WebSocket handshake is answered 400: it goes to
    /// `adopt_websocket`. `secure`: the host's server received it over TLS (the session's
    /// handshake is then `secure`, its environ's `wsgi.url_scheme` `https`).
    #[pyo3(signature = (method, url, headers, body, remote_addr=None, secure=false))]
    fn handle_request(
        &self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body: &[u8],
        remote_addr: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<u64> {
        let request = http_request(method, url, headers, body, remote_addr, secure)?;
        self.io.handle_request(request).map_err(to_py_err)
    }

    /// Takes over the connection `fd` whose WebSocket handshake (`method`, `url`, `headers`)
    /// the host's server read; `early`: bytes it read past the handshake's head. rtio works
    /// on a duplicate of `fd` (close-on-exec) and writes the answer (101 or the refusal) and
    /// the WebSocket on it from its runtime; the caller keeps `fd` and must close it without
    /// `shutdown()` and never read or write it again. Raises `ValueError` when `fd` is not a
    /// connected socket.
    #[pyo3(signature = (fd, method, url, headers, early, remote_addr=None, secure=false))]
    #[allow(clippy::too_many_arguments)]
    fn adopt_websocket(
        &self,
        fd: i32,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        early: &[u8],
        remote_addr: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<()> {
        use std::os::fd::{BorrowedFd, FromRawFd, IntoRawFd};
        if fd < 0 {
            return Err(PyValueError::new_err(format!(
                "not a file descriptor: {fd}"
            )));
        }
        // SAFETY: `fd` is only borrowed for the duplication, which fails cleanly (EBADF)
        // when the caller passed a closed descriptor.
        let owned = unsafe { BorrowedFd::borrow_raw(fd) }
            .try_clone_to_owned()
            .map_err(|e| PyValueError::new_err(format!("cannot duplicate fd {fd}: {e}")))?;
        // SAFETY: the duplicate is ours alone; the TcpStream owns (and closes) it.
        let stream = unsafe { std::net::TcpStream::from_raw_fd(owned.into_raw_fd()) };
        let peer = stream.peer_addr().map_err(|e| {
            PyValueError::new_err(format!("fd {fd} is not a connected TCP socket: {e}"))
        })?;
        let mut request = http_request(method, url, headers, &[], remote_addr, secure)?;
        if request.remote_addr.port() == 0 {
            request.remote_addr = peer;
        }
        self.io
            .adopt_websocket(stream, request, early.to_vec())
            .map_err(to_py_err)
    }

    /// Hands over a WebSocket handshake whose connection the host's server frames itself
    /// (ASGI, aiohttp's `WebSocketResponse`): returns its id at once. Then come a
    /// `WS_ANSWER` event (101: accept the WebSocket; else refuse it with that status), a
    /// `WS_SEND` per message for the client, and `WS_CLOSE` when rtio ends it. The host
    /// passes the client's messages to `websocket_receive` and its end to `websocket_close`.
    #[pyo3(signature = (method, url, headers, remote_addr=None, secure=false))]
    fn open_websocket(
        &self,
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        remote_addr: Option<(String, u16)>,
        secure: bool,
    ) -> PyResult<u64> {
        let request = http_request(method, url, headers, &[], remote_addr, secure)?;
        self.io.open_websocket(request).map_err(to_py_err)
    }

    /// A message (`str`: text, `bytes`: binary) the client sent on WebSocket `id`. False
    /// when that WebSocket is closed.
    fn websocket_receive(&self, id: u64, message: &Bound<'_, PyAny>) -> PyResult<bool> {
        let message = if let Ok(text) = message.extract::<String>() {
            WsMessage::Text(text)
        } else if let Ok(data) = message.extract::<Vec<u8>>() {
            WsMessage::Binary(bytes::Bytes::from(data))
        } else {
            return Err(PyValueError::new_err("a WebSocket message is str or bytes"));
        };
        found(self.io.websocket_receive(id, message))
    }

    /// The client of WebSocket `id` went (or the host closes it): rtio ends its session.
    /// False when it was closed already.
    fn websocket_close(&self, id: u64) -> PyResult<bool> {
        found(self.io.websocket_close(id))
    }

    /// Accepts clients on one more namespace (or changes whether it asks first).
    fn add_namespace(&self, nsp: &str, middleware: bool) -> PyResult<()> {
        self.io.add_namespace(nsp, middleware).map_err(to_py_err)
    }

    /// Stops the server (clients get a disconnect; at most about 1.5 s), then waits for the
    /// dispatcher thread to deliver the last events — unless called on that thread.
    fn stop(&self, py: Python<'_>) {
        let io = self.io.clone();
        py.detach(move || io.stop());
        self.join_dispatcher(py);
        let server = self.server.lock().take();
        py.detach(move || drop(server));
    }

    /// Waits for the dispatcher thread to finish (after `stop`), unless called on it.
    fn join_dispatcher(&self, py: Python<'_>) {
        if self.on_dispatcher() {
            return;
        }
        let handle = self.dispatcher.lock().take();
        if let Some(h) = handle {
            py.detach(move || {
                let _ = h.join();
            });
        }
    }
}

/// The dispatcher thread: waits with the GIL released, attaches it to deliver a batch.
fn dispatch_loop(events: Events, callback: Py<PyAny>, path: Arc<str>, max: usize) {
    Python::attach(|py| {
        let mut call_back_after: Option<Duration> = None;
        loop {
            let received = py.detach(|| -> Result<Vec<Event>, rtio::Error> {
                let first = match call_back_after {
                    None => events.recv()?,
                    Some(after) => match events.recv_timeout(after)? {
                        Some(ev) => ev,
                        None => return Ok(Vec::new()),
                    },
                };
                let mut batch = vec![first];
                let _ = drain(&events, &mut batch, max);
                Ok(batch)
            });
            let Ok(batch) = received else { break };
            let list = batch_to_py(py, batch, &path);
            call_back_after = match callback.call1(py, (list,)) {
                Ok(after) => after
                    .extract::<Option<f64>>(py)
                    .ok()
                    .flatten()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64),
                Err(e) => {
                    e.write_unraisable(py, Some(callback.bind(py)));
                    None
                }
            };
        }
        if let Err(e) = callback.call1(py, (py.None(),)) {
            e.write_unraisable(py, Some(callback.bind(py)));
        }
        drop(callback);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookie(name: &str, path: Option<&str>, same_site: Option<&str>) -> CookieOptions {
        CookieOptions {
            name: name.into(),
            path: path.map(Into::into),
            http_only: true,
            same_site: same_site.map(Into::into),
        }
    }

    #[test]
    fn maps_the_serializer_to_the_parser() {
        assert_eq!(parser("default").unwrap(), rtio::Parser::Default);
        assert_eq!(parser("msgpack").unwrap(), rtio::Parser::Msgpack);
        for bad in ["pickle", "cbor", "", "MSGPACK"] {
            assert!(parser(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn maps_the_session_cookie() {
        let c = cookie("io", Some("/"), Some("Lax")).cookie().unwrap();
        assert_eq!(c, rtio::Cookie::new("io"));
        let bare = CookieOptions {
            http_only: false,
            ..cookie("sticky", None, None)
        }
        .cookie()
        .unwrap();
        assert_eq!(
            (
                bare.name.as_str(),
                bare.path,
                bare.http_only,
                bare.same_site
            ),
            ("sticky", None, false, None)
        );
    }

    #[test]
    fn refuses_a_cookie_a_browser_would_not_take() {
        Python::initialize();
        for bad in [
            cookie("a b", None, None),
            cookie("", None, None),
            cookie("io=1", None, None),
            cookie("io", Some("/a;b"), None),
            cookie("io", None, Some("lax")),
        ] {
            assert!(bad.cookie().is_err());
        }
    }
}
