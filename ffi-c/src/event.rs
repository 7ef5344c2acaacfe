//! `rtio_event`: one event for the host, and its accessors.

use std::ffi::{c_char, CStr, CString};

use bytes::Bytes;
use rtio_core::engineio::{Handshake, Headers, Transport};
use rtio_core::{Event, Payload, RequestInfo};

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

/// The handshake as JSON: `{"address","port","query","headers":{...},"issued"}`.
fn handshake_json(h: &Handshake) -> String {
    serde_json::json!({
        "address": h.remote_addr.ip().to_string(),
        "port": h.remote_addr.port(),
        "query": h.query,
        "headers": headers_json(&h.headers),
        "issued": h.issued_ms,
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
        }
    }

    fn with_payload(mut self, payload: Payload) -> rtio_event {
        let (json, attachments) = payload.into_parts();
        self.data = text(json);
        self.attachments = attachments;
        self
    }

    /// The C form of a core event; `None` for the answers and messages of cluster
    /// operations, which the C API does not start yet (the default adapter sends none of
    /// them unless asked).
    pub(crate) fn from_core(ev: Event) -> Option<rtio_event> {
        Some(match ev {
            Event::BroadcastAckResponse { .. }
            | Event::FetchSocketsResponse { .. }
            | Event::ServerSideEmit { .. }
            | Event::ServerSideAckResponse { .. }
            | Event::ServerCountResponse { .. } => return None,
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
            } => rtio_event {
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
            Event::Disconnect { sid, nsp, reason } => rtio_event {
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
        })
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

/// The namespace ("" for ack responses; NULL for a NULL event). Owned by the event.
///
/// # Safety
/// `ev` is NULL or a live event; out-pointers are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_event_namespace(ev: *const rtio_event) -> *const c_char {
    guard_value(std::ptr::null(), || event(ev).map(|e| e.nsp.as_ptr()))
}

/// The event name of a message ("" otherwise). NUL-terminated; when `len` is not NULL it
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

/// The event's JSON text: the arguments array of a message or ack response, the auth object
/// of a connect or connect request ("" otherwise). NUL-terminated; `len` (if not NULL)
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

/// The ack id of a message whose sender waits for an ack (answer with `rtio_ack`), or -1.
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

/// The token `rtio_emit_with_ack` returned, on an ack response (0 otherwise).
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
/// "headers":{"user-agent":"..."},"issued":<ms since epoch>}`.
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
