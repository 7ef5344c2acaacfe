//! `rtio_event`: one event for the host, and its accessors.

use std::ffi::{c_char, CStr, CString};

use bytes::Bytes;
use rtio_core::engineio::{Handshake, Headers, Transport};
use rtio_core::{ClusterError, Event, Payload, RequestInfo, SocketInfo};

use crate::error::guard_value;

/// What an event is about.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_event_type {
    /// A client asks to join a namespace configured with middleware: answer with
    /// `rtio_accept(server, rtio_event_request(ev))` or `rtio_reject(...)`.
    /// Socket id (already usable for emits and rooms; kept on accept, gone on reject),
    /// namespace, data (the auth object) and handshake are set.
    ConnectRequest = 0,
    /// A socket joined a namespace. Socket id, namespace, data (the auth object, `{}` when
    /// none) and handshake are set.
    Connect = 1,
    /// A client emitted an event. Socket id, namespace, name, data (the arguments as a JSON
    /// array), attachments and, when the client waits for an ack, the ack id are set.
    Message = 2,
    /// A socket left its namespace. Socket id, namespace and reason are set.
    Disconnect = 3,
    /// The answer to `rtio_emit_with_ack`: socket id, ack token and either data (the client's
    /// ack arguments) + attachments, or `rtio_event_ack_timed_out() == true`.
    AckResponse = 4,
    /// An HTTP request asks to open an Engine.IO session (the request gate,
    /// `rtio_config_set_request_gate`), or, with `rtio_config_set_cors_gate`, any request
    /// without a session id, CORS preflights included. The request id
    /// (`rtio_event_request`) and the request (`rtio_event_handshake`: method, url, query,
    /// headers, address, port, transport) are set; socket id and namespace are "". Answer
    /// with `rtio_request_allow`, `rtio_request_allow_origin` or `rtio_request_deny` within
    /// the gate's timeout, after which the request is refused with 403.
    Request = 5,
    /// The answer to `rtio_broadcast_with_ack`: token (`rtio_event_token`), the answers that
    /// came (`rtio_event_answer_count`, `rtio_event_answer`, `rtio_event_answer_sid`,
    /// `rtio_event_answer_attachment`) and, when not every socket answered in time, an error
    /// (`rtio_event_error`).
    BroadcastAckResponse = 6,
    /// The answer to `rtio_fetch_sockets`: token, the sockets (`rtio_event_socket_count`,
    /// `rtio_event_socket_id`, `_namespace`, `_rooms`, `_handshake`, `_auth`, `_data`,
    /// `_local`) and, when a node did not answer in time, an error.
    FetchSocketsResponse = 7,
    /// An event another node sent with `rtio_server_side_emit` (or socket.io's
    /// `serverSideEmit`, or `@socket.io/redis-emitter`'s): namespace, name, data (the
    /// arguments as a JSON array), attachments and, when the sender waits for an answer,
    /// the ack id (answer with `rtio_server_side_ack`, not `rtio_ack`). Socket id is "".
    ServerSideEmit = 8,
    /// The answer to `rtio_server_side_emit_with_ack`: token, one answer per other node
    /// (`rtio_event_answer...`; their socket ids are "") and, when a node did not answer in
    /// time, an error.
    ServerSideAckResponse = 9,
    /// The answer to `rtio_server_count`: token, and the count (`rtio_event_count`) or an
    /// error.
    ServerCountResponse = 10,
    /// The answer to `rtio_handle_request`: token (`rtio_event_token`, the one the call
    /// returned), the status code (`rtio_event_status`), the headers
    /// (`rtio_event_header_count`, `rtio_event_header_name`, `rtio_event_header_value`; no
    /// `Content-Length`, which follows the body) and the body (`rtio_event_body`). Write them
    /// as the answer of the request that got the token.
    HttpResponse = 11,
    /// rtio's answer to the handshake of a WebSocket the host frames itself
    /// (`rtio_open_websocket`), exactly one per call: its id (`rtio_event_token`), the status
    /// (`rtio_event_status`; 101: accept the WebSocket; any other: refuse it with that
    /// status, the headers and the body, as for `RTIO_EVENT_TYPE_HTTP_RESPONSE`; nothing more
    /// comes for the id then).
    WebSocketAnswer = 12,
    /// A message for the client of a WebSocket the host frames itself, in order: its id
    /// (`rtio_event_token`), the message (`rtio_event_body`, not NUL-terminated) and its kind
    /// (`rtio_event_is_binary`: true for a binary message, false for a text one, whose body
    /// is UTF-8; `rtio_event_count` gives the WebSocket opcode too: 1 text, 2 binary).
    WebSocketSend = 13,
    /// rtio ended a WebSocket the host frames itself (its id: `rtio_event_token`): close it
    /// with the close code `rtio_event_status` gives (1000 a normal end, 1009 a message over
    /// the payload limit, 1002 / 1007 a protocol violation); nothing more comes for it, and `rtio_websocket_receive` /
    /// `rtio_websocket_close` on it return `RTIO_STATUS_UNKNOWN_REQUEST`.
    WebSocketClose = 14,
}

/// One answer of a broadcast with acks or of a server-side emit with ack.
struct Answer {
    sid: CString,
    data: Vec<u8>,
    attachments: Vec<Bytes>,
}

/// One socket of a fetch-sockets answer.
struct FetchedSocket {
    id: CString,
    nsp: CString,
    rooms: Vec<u8>,
    handshake: Vec<u8>,
    auth: Vec<u8>,
    data: Option<Vec<u8>>,
    local: bool,
}

/// One event (opaque). In callback mode it is borrowed for the duration of the callback; in
/// poll mode `rtio_server_poll` hands it over and you free it with `rtio_event_free`.
/// Every string an accessor returns is owned by the event and lives as long as it.
#[allow(non_camel_case_types)]
pub struct rtio_event {
    kind: rtio_event_type,
    sid: CString,
    nsp: CString,
    name: Vec<u8>,
    data: Vec<u8>,
    attachments: Vec<Bytes>,
    ack_id: i64,
    request: u64,
    token: u64,
    timed_out: bool,
    reason: &'static CStr,
    handshake: Vec<u8>,
    error: CString,
    count: usize,
    answers: Vec<Answer>,
    sockets: Vec<FetchedSocket>,
    status: u16,
    http_headers: Vec<(CString, CString)>,
    body: Bytes,
    recovered: bool,
}

fn cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Text with a trailing NUL, so it can be read as a C string (the length excludes the NUL).
fn text(s: impl Into<Vec<u8>>) -> Vec<u8> {
    let mut v = s.into();
    v.push(0);
    v
}

fn reason_cstr(r: rtio_core::DisconnectReason) -> &'static CStr {
    use rtio_core::DisconnectReason as R;
    match r {
        R::ClientNamespaceDisconnect => c"client namespace disconnect",
        R::ServerNamespaceDisconnect => c"server namespace disconnect",
        R::TransportClose => c"transport close",
        R::TransportError => c"transport error",
        R::PingTimeout => c"ping timeout",
        R::ParseError => c"parse error",
        R::ForcedClose => c"forced close",
        R::ServerShuttingDown => c"server shutting down",
        R::SendQueueFull => c"send queue full",
    }
}

/// Headers as a JSON object (a repeated name keeps its last value).
fn headers_json(headers: &Headers) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v).into_owned();
            (k.to_string(), serde_json::Value::String(v))
        })
        .collect();
    serde_json::Value::Object(map)
}

/// The handshake as JSON: `{"address","port","query","headers":{...},"issued","secure"}`.
fn handshake_json(h: &Handshake) -> String {
    serde_json::json!({
        "address": h.remote_addr.ip().to_string(),
        "port": h.remote_addr.port(),
        "query": h.query,
        "headers": headers_json(&h.headers),
        "issued": h.issued_ms,
        "secure": h.secure,
    })
    .to_string()
}

/// A gated request as JSON:
/// `{"method","url","query","headers":{...},"address","port","transport"}`.
fn request_json(r: &RequestInfo) -> String {
    serde_json::json!({
        "method": r.method,
        "url": r.url,
        "query": r.query(),
        "headers": headers_json(&r.headers),
        "address": r.remote_addr.ip().to_string(),
        "port": r.remote_addr.port(),
        "transport": transport_name(r.transport),
    })
    .to_string()
}

fn transport_name(t: Transport) -> &'static str {
    match t {
        Transport::Polling => "polling",
        Transport::WebSocket => "websocket",
    }
}

impl rtio_event {
    fn blank(kind: rtio_event_type) -> rtio_event {
        rtio_event {
            kind,
            sid: CString::default(),
            nsp: CString::default(),
            name: text(""),
            data: text(""),
            attachments: Vec::new(),
            ack_id: -1,
            request: 0,
            token: 0,
            timed_out: false,
            reason: c"",
            handshake: text(""),
            error: CString::default(),
            count: 0,
            answers: Vec::new(),
            sockets: Vec::new(),
            status: 0,
            http_headers: Vec::new(),
            body: Bytes::new(),
            recovered: false,
        }
    }

    fn with_error(mut self, error: Option<ClusterError>) -> rtio_event {
        if let Some(e) = error {
            self.error = cstring(&e.to_string());
        }
        self
    }

    fn with_payload(mut self, payload: Payload) -> rtio_event {
        let (json, attachments) = payload.into_parts();
        self.data = text(json);
        self.attachments = attachments;
        self
    }

    /// The C form of a core event; `None` for the events of core APIs the C ABI does not
    /// offer (they never come to a C host).
    pub(crate) fn from_core(ev: Event) -> Option<rtio_event> {
        Some(match ev {
            Event::BroadcastAckResponse {
                token,
                answers,
                error,
            } => rtio_event {
                token,
                answers: answers
                    .into_iter()
                    .map(|a| answer(a.sid.as_deref().unwrap_or(""), a.payload))
                    .collect(),
                ..rtio_event::blank(rtio_event_type::BroadcastAckResponse)
            }
            .with_error(error),
            Event::FetchSocketsResponse {
                token,
                sockets,
                error,
            } => rtio_event {
                token,
                sockets: sockets.into_iter().map(fetched).collect(),
                ..rtio_event::blank(rtio_event_type::FetchSocketsResponse)
            }
            .with_error(error),
            Event::ServerSideEmit {
                nsp,
                event,
                payload,
                ack,
            } => rtio_event {
                nsp: cstring(&nsp),
                name: text(event),
                ack_id: ack.and_then(|a| i64::try_from(a).ok()).unwrap_or(-1),
                ..rtio_event::blank(rtio_event_type::ServerSideEmit)
            }
            .with_payload(payload),
            Event::ServerSideAckResponse {
                token,
                answers,
                error,
            } => rtio_event {
                token,
                answers: answers.into_iter().map(|p| answer("", p)).collect(),
                ..rtio_event::blank(rtio_event_type::ServerSideAckResponse)
            }
            .with_error(error),
            Event::ServerCountResponse { token, result } => {
                let ev = rtio_event {
                    token,
                    count: *result.as_ref().unwrap_or(&0),
                    ..rtio_event::blank(rtio_event_type::ServerCountResponse)
                };
                ev.with_error(result.err())
            }
            Event::HttpResponse { token, response } => rtio_event {
                token,
                status: response.status,
                http_headers: response
                    .headers
                    .iter()
                    .map(|(n, v)| (cstring(n), cstring(v)))
                    .collect(),
                body: response.body,
                ..rtio_event::blank(rtio_event_type::HttpResponse)
            },
            Event::WebSocketAnswer { id, response } => rtio_event {
                token: id,
                status: response.status,
                http_headers: response
                    .headers
                    .iter()
                    .map(|(n, v)| (cstring(n), cstring(v)))
                    .collect(),
                body: response.body,
                ..rtio_event::blank(rtio_event_type::WebSocketAnswer)
            },
            Event::WebSocketSend { id, message } => {
                let (opcode, body) = match message {
                    rtio_core::WsMessage::Text(t) => (1, bytes::Bytes::from(t)),
                    rtio_core::WsMessage::Binary(b) => (2, b),
                };
                rtio_event {
                    token: id,
                    count: opcode,
                    body,
                    ..rtio_event::blank(rtio_event_type::WebSocketSend)
                }
            }
            Event::WebSocketClose { id, code } => rtio_event {
                token: id,
                status: code,
                ..rtio_event::blank(rtio_event_type::WebSocketClose)
            },
            Event::Request { request, info } => rtio_event {
                request,
                handshake: text(request_json(&info)),
                ..rtio_event::blank(rtio_event_type::Request)
            },
            Event::ConnectRequest {
                request,
                sid,
                nsp,
                auth,
                handshake,
            } => rtio_event {
                request,
                sid: cstring(&sid),
                nsp: cstring(&nsp),
                data: text(auth),
                handshake: text(handshake_json(&handshake)),
                ..rtio_event::blank(rtio_event_type::ConnectRequest)
            },
            Event::Connect {
                sid,
                nsp,
                auth,
                handshake,
                recovered,
            } => rtio_event {
                recovered,
                sid: cstring(&sid),
                nsp: cstring(&nsp),
                data: text(auth),
                handshake: text(handshake_json(&handshake)),
                ..rtio_event::blank(rtio_event_type::Connect)
            },
            Event::Message {
                sid,
                nsp,
                event,
                payload,
                ack,
            } => rtio_event {
                sid: cstring(&sid),
                nsp: cstring(&nsp),
                name: text(event),
                ack_id: ack.map_or(-1, |a| a as i64),
                ..rtio_event::blank(rtio_event_type::Message)
            }
            .with_payload(payload),
            Event::Disconnect {
                sid, nsp, reason, ..
            } => rtio_event {
                sid: cstring(&sid),
                nsp: cstring(&nsp),
                reason: reason_cstr(reason),
                ..rtio_event::blank(rtio_event_type::Disconnect)
            },
            Event::AckResponse { token, sid, result } => {
                let ev = rtio_event {
                    sid: cstring(&sid),
                    token,
                    timed_out: result.is_err(),
                    reason: match &result {
                        Ok(_) => c"",
                        Err(rtio_core::AckError::Timeout) => c"operation has timed out",
                        Err(rtio_core::AckError::Disconnected) => c"socket has been disconnected",
                    },
                    ..rtio_event::blank(rtio_event_type::AckResponse)
                };
                match result {
                    Ok(p) => ev.with_payload(p),
                    Err(_) => ev,
                }
            }
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }
}

fn answer(sid: &str, payload: Payload) -> Answer {
    let (json, attachments) = payload.into_parts();
    Answer {
        sid: cstring(sid),
        data: text(json),
        attachments,
    }
}

fn fetched(s: SocketInfo) -> FetchedSocket {
    FetchedSocket {
        id: cstring(&s.id),
        nsp: cstring(&s.nsp),
        rooms: text(serde_json::to_string(&s.rooms).unwrap_or_else(|_| "[]".into())),
        handshake: text(handshake_json(&s.handshake)),
        auth: text(s.auth),
        data: s.data.map(text),
        local: s.local,
    }
}

fn event<'a>(ev: *const rtio_event) -> Option<&'a rtio_event> {
    // SAFETY: a non-NULL event pointer is a live event (borrowed in a callback or owned
    // after rtio_server_poll), per the documented contract.
    unsafe { ev.as_ref() }
}

fn with_len(bytes: &[u8], len: *mut usize) -> *const c_char {
    if !len.is_null() {
        // SAFETY: non-NULL out-pointer documented as writable.
        unsafe { *len = bytes.len() - 1 };
    }
    bytes.as_ptr() as *const c_char
}

/// Frees an event returned by `rtio_server_poll`. NULL is ignored. Never call it on the
/// event passed to a callback.
///
/// # Safety
/// `event` is NULL or an event from `rtio_server_poll` not freed before.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_free(event: *mut rtio_event) {
    if !event.is_null() {
        drop(Box::from_raw(event));
    }
}

/// The event's type (`RTIO_EVENT_TYPE_MESSAGE` for NULL).
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_get_type(ev: *const rtio_event) -> rtio_event_type {
    guard_value(rtio_event_type::Message, || event(ev).map(|e| e.kind))
}

/// The socket id (NULL for a NULL event). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_sid(ev: *const rtio_event) -> *const c_char {
    guard_value(std::ptr::null(), || event(ev).map(|e| e.sid.as_ptr()))
}

/// The namespace ("" for the answer events: ack, broadcast-ack, fetch-sockets,
/// server-side-ack and server-count responses; NULL for a NULL event). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_namespace(ev: *const rtio_event) -> *const c_char {
    guard_value(std::ptr::null(), || event(ev).map(|e| e.nsp.as_ptr()))
}

/// The event name of a message or a server-side emit ("" otherwise). NUL-terminated; when `len` is not NULL it
/// receives the length in bytes (names may contain NUL). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_name(ev: *const rtio_event, len: *mut usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        event(ev).map(|e| with_len(&e.name, len))
    })
}

/// The event's JSON text: the arguments array of a message, ack response or server-side
/// emit, the auth object of a connect or connect request ("" otherwise). NUL-terminated; `len` (if not NULL)
/// receives its length. Binary values appear as `{"_placeholder":true,"num":N}`, where N
/// indexes `rtio_event_attachment`. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_data(ev: *const rtio_event, len: *mut usize) -> *const c_char {
    guard_value(std::ptr::null(), || {
        event(ev).map(|e| with_len(&e.data, len))
    })
}

/// Number of binary attachments (0 for NULL).
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_attachment_count(ev: *const rtio_event) -> usize {
    guard_value(0, || event(ev).map(|e| e.attachments.len()))
}

/// Binary attachment `index` (NULL when out of range); `len` (if not NULL) receives its size.
/// Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_attachment(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        let a = event(ev)?.attachments.get(index)?;
        if !len.is_null() {
            // SAFETY: non-NULL out-pointer documented as writable.
            unsafe { *len = a.len() };
        }
        Some(a.as_ptr())
    })
}

/// The ack id of a message whose sender waits for an ack (answer with `rtio_ack`), or of a
/// server-side emit whose sending node waits for an answer (answer with
/// `rtio_server_side_ack`); -1 otherwise.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_ack_id(ev: *const rtio_event) -> i64 {
    guard_value(-1, || event(ev).map(|e| e.ack_id))
}

/// The request id of a connect request (for `rtio_accept` / `rtio_reject`) or of a gated
/// HTTP request (for `rtio_request_allow` / `rtio_request_allow_origin` /
/// `rtio_request_deny`); 0 otherwise.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_request(ev: *const rtio_event) -> u64 {
    guard_value(0, || event(ev).map(|e| e.request))
}

/// The token `rtio_emit_with_ack` returned, on an ack response (0 otherwise); the same as
/// `rtio_event_token`.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_ack_token(ev: *const rtio_event) -> u64 {
    guard_value(0, || event(ev).map(|e| e.token))
}

/// True when an ack response carries no answer: the timeout passed, or the socket
/// disconnected first (`rtio_event_reason` says which).
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_ack_timed_out(ev: *const rtio_event) -> bool {
    guard_value(false, || event(ev).map(|e| e.timed_out))
}

/// Why a socket disconnected, as Socket.IO names it (`"transport close"`, `"ping timeout"`,
/// `"client namespace disconnect"`...), or why an ack response has no answer
/// (`"operation has timed out"`, `"socket has been disconnected"`); "" otherwise. Static
/// storage.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_reason(ev: *const rtio_event) -> *const c_char {
    guard_value(std::ptr::null(), || event(ev).map(|e| e.reason.as_ptr()))
}

/// The connection's handshake as a JSON object, on connect and connect-request events:
/// `{"address":"127.0.0.1","port":50000,"query":"EIO=4&transport=polling",
/// "headers":{"user-agent":"..."},"issued":<ms since epoch>,"secure":false}` (`secure`: it
/// came over TLS, see `rtio_http_request.secure`).
/// On a request event, the HTTP request: `{"method":"GET",
/// "url":"/socket.io/?EIO=4&transport=polling","query":"EIO=4&transport=polling",
/// "headers":{"origin":"..."},"address":"127.0.0.1","port":50000,
/// "transport":"polling"}` (`"websocket"` for an upgrade request; `"method":"OPTIONS"` for
/// a CORS preflight). "" on other events. Header names are lower case (a repeated header
/// keeps its last value). Read fields with `rtio_json_get_string` (`"/query"`,
/// `"/headers/origin"`). `len` (if not NULL) receives its length. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_handshake(
    ev: *const rtio_event,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        event(ev).map(|e| with_len(&e.handshake, len))
    })
}

/// The token the call returned, on the answer events: `rtio_emit_with_ack` (ack response),
/// `rtio_broadcast_with_ack`, `rtio_fetch_sockets`, `rtio_server_side_emit_with_ack`,
/// `rtio_server_count`, `rtio_handle_request` (HTTP response); the WebSocket id
/// (`rtio_open_websocket`) on the WEB_SOCKET_ANSWER / _SEND / _CLOSE events; 0 on other
/// events.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_token(ev: *const rtio_event) -> u64 {
    guard_value(0, || event(ev).map(|e| e.token))
}

/// Why a cluster answer is incomplete: `"operation has timed out"` (some answers did not come
/// in time; those that came are in the event), `"adapter error: ..."` (e.g. Redis is down),
/// `"no answer can come any more"`; "" when the answer is complete and on other events.
/// NUL-terminated, owned by the event (NULL for a NULL event).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_error(ev: *const rtio_event) -> *const c_char {
    guard_value(std::ptr::null(), || event(ev).map(|e| e.error.as_ptr()))
}

/// The number of nodes, on a server-count response (0 when it failed: see
/// `rtio_event_error`); the WebSocket opcode (1 text, 2 binary) on a WEB_SOCKET_SEND
/// event; 0 on other events.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_count(ev: *const rtio_event) -> usize {
    guard_value(0, || event(ev).map(|e| e.count))
}

fn answer_at<'a>(ev: *const rtio_event, index: usize) -> Option<&'a Answer> {
    event(ev)?.answers.get(index)
}

/// The number of answers, on a broadcast-ack or server-side-ack response (0 otherwise).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_answer_count(ev: *const rtio_event) -> usize {
    guard_value(0, || event(ev).map(|e| e.answers.len()))
}

/// Answer `index`'s arguments as a JSON array (a client on a Node node, or a Node node,
/// reports its first argument only), binary values as `{"_placeholder":true,"num":N}`
/// indexing `rtio_event_answer_attachment`. NUL-terminated; `len` (if not NULL) receives its
/// length. NULL when `index` is out of range. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_answer(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        answer_at(ev, index).map(|a| with_len(&a.data, len))
    })
}

/// The socket that gave answer `index` of a broadcast-ack response when known (this node's
/// sockets), else "" (other nodes do not say which socket answered, nor does a
/// server-side-ack response). NULL when `index` is out of range. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_answer_sid(
    ev: *const rtio_event,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        answer_at(ev, index).map(|a| a.sid.as_ptr())
    })
}

/// Number of binary attachments of answer `index` (0 when out of range).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_answer_attachment_count(
    ev: *const rtio_event,
    index: usize,
) -> usize {
    guard_value(0, || answer_at(ev, index).map(|a| a.attachments.len()))
}

/// Binary attachment `attachment` of answer `index` (NULL when either is out of range);
/// `len` (if not NULL) receives its size. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_answer_attachment(
    ev: *const rtio_event,
    index: usize,
    attachment: usize,
    len: *mut usize,
) -> *const u8 {
    guard_value(std::ptr::null(), || {
        let a = answer_at(ev, index)?.attachments.get(attachment)?;
        if !len.is_null() {
            // SAFETY: non-NULL out-pointer documented as writable.
            unsafe { *len = a.len() };
        }
        Some(a.as_ptr())
    })
}

fn socket_at<'a>(ev: *const rtio_event, index: usize) -> Option<&'a FetchedSocket> {
    event(ev)?.sockets.get(index)
}

/// The number of sockets, on a fetch-sockets response (0 otherwise).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_count(ev: *const rtio_event) -> usize {
    guard_value(0, || event(ev).map(|e| e.sockets.len()))
}

/// Socket `index`'s id (NULL when out of range). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_id(
    ev: *const rtio_event,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index).map(|s| s.id.as_ptr())
    })
}

/// Socket `index`'s namespace (NULL when out of range). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_namespace(
    ev: *const rtio_event,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index).map(|s| s.nsp.as_ptr())
    })
}

/// The rooms socket `index` is in, as a JSON array of strings, its own room (its id) first.
/// NUL-terminated; `len` (if not NULL) receives its length; NULL when out of range. Owned by
/// the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_rooms(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index).map(|s| with_len(&s.rooms, len))
    })
}

/// Socket `index`'s handshake as a JSON object, in the form of `rtio_event_handshake`
/// (`{"address","port","query","headers":{...},"issued","secure"}`; for a socket on another node, as
/// that node reported it). NUL-terminated; `len` (if not NULL) receives its length; NULL
/// when out of range. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_handshake(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index).map(|s| with_len(&s.handshake, len))
    })
}

/// The auth object socket `index` sent to join its namespace, as JSON text (`{}` when
/// none). NUL-terminated; `len` (if not NULL) receives its length; NULL when out of range.
/// Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_auth(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index).map(|s| with_len(&s.auth, len))
    })
}

/// The data the application attached to socket `index` (socket.io's `socket.data`) as JSON
/// text, or NULL when it has none (or `index` is out of range). NUL-terminated; `len` (if
/// not NULL) receives its length. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_data(
    ev: *const rtio_event,
    index: usize,
    len: *mut usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        socket_at(ev, index)?
            .data
            .as_ref()
            .map(|d| with_len(d, len))
    })
}

/// True when socket `index` is connected to this node (so `rtio_emit`, `rtio_join` and the
/// other per-socket calls reach it); false for a socket on another node, or out of range.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_socket_local(ev: *const rtio_event, index: usize) -> bool {
    guard_value(false, || socket_at(ev, index).map(|s| s.local))
}

/// The HTTP status code of an `RTIO_EVENT_TYPE_HTTP_RESPONSE` or
/// `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER` event, the WebSocket close code of an
/// `RTIO_EVENT_TYPE_WEB_SOCKET_CLOSE` event (0 otherwise).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_status(ev: *const rtio_event) -> u16 {
    guard_value(0, || event(ev).map(|e| e.status))
}

/// The number of headers of an `RTIO_EVENT_TYPE_HTTP_RESPONSE` or
/// `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER` event (0 otherwise).
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_header_count(ev: *const rtio_event) -> usize {
    guard_value(0, || event(ev).map(|e| e.http_headers.len()))
}

/// Header `index`'s name (lower case) of an `RTIO_EVENT_TYPE_HTTP_RESPONSE` or
/// `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER` event; NULL when out of range. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_header_name(
    ev: *const rtio_event,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        event(ev)?.http_headers.get(index).map(|h| h.0.as_ptr())
    })
}

/// Header `index`'s value of an `RTIO_EVENT_TYPE_HTTP_RESPONSE` or
/// `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER` event; NULL when out of range. Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_header_value(
    ev: *const rtio_event,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        event(ev)?.http_headers.get(index).map(|h| h.1.as_ptr())
    })
}

/// The body of an `RTIO_EVENT_TYPE_HTTP_RESPONSE` or `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER`
/// event, or the message of an `RTIO_EVENT_TYPE_WEB_SOCKET_SEND` event (binary, not
/// NUL-terminated, even for a text message); `len` (if not NULL) receives its size (0 for
/// other events, or NULL `ev`, when the pointer may be NULL or dangling). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; `len` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_body(ev: *const rtio_event, len: *mut usize) -> *const u8 {
    if !len.is_null() {
        *len = 0;
    }
    guard_value(std::ptr::null(), || {
        let e = event(ev)?;
        if !len.is_null() {
            // SAFETY: non-NULL out-pointer documented as writable.
            unsafe { *len = e.body.len() };
        }
        Some(e.body.as_ptr())
    })
}

/// True for an `RTIO_EVENT_TYPE_CONNECT` event of a socket that came back with connection
/// state recovery (`rtio_config_set_recovery`): same id, rooms and data as before its
/// connection broke, the events emitted to it meanwhile already sent. False otherwise.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_recovered(ev: *const rtio_event) -> bool {
    guard_value(false, || event(ev).map(|e| e.recovered))
}

/// Whether an `RTIO_EVENT_TYPE_WEB_SOCKET_SEND` event's message is binary (send it as a
/// binary WebSocket message) rather than text (send it as a text message; its body is UTF-8).
/// False on other events and for NULL.
///
/// # Safety
/// `ev` is NULL or a live event.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_is_binary(ev: *const rtio_event) -> bool {
    guard_value(false, || {
        event(ev).map(|e| e.kind == rtio_event_type::WebSocketSend && e.count == 2)
    })
}
