//! Embedding in the host's own HTTP server: `rtio_handle_request` (polling requests, answered
//! by an `RTIO_EVENT_TYPE_HTTP_RESPONSE` event) and `rtio_adopt_websocket` (a WebSocket
//! handshake's connection, given to rtio), and `rtio_open_websocket` / `rtio_websocket_receive` /
//! `rtio_websocket_close` (a WebSocket whose framing the host does; rtio's side comes as events).

use std::ffi::{c_char, c_int};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::FromRawFd;

use bytes::Bytes;
use rtio_core::{HttpRequest, WsMessage};

use crate::error::{arg_str, guard, opt_str, out_ptr, rtio_status, Failure, FfiResult};
use crate::server::{rtio_server, server};

/// One request header: a name and its value, both NUL-terminated UTF-8 (borrowed for the call).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rtio_http_header {
    /// The name, as received (any case).
    pub name: *const c_char,
    /// The value.
    pub value: *const c_char,
}

/// An HTTP request the host's own server received for the Engine.IO path (e.g.
/// `/socket.io/`). Every pointer is borrowed for the call; rtio copies what it keeps.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rtio_http_request {
    /// `"GET"`, `"POST"`, `"OPTIONS"`... (required).
    pub method: *const c_char,
    /// The path and query exactly as the client sent them, e.g.
    /// `"/socket.io/?EIO=4&transport=polling&sid=..."` (required; the query is needed).
    pub url: *const c_char,
    /// The headers, in the order received; a repeated header once per value. May be NULL
    /// when `headers_len` is 0.
    pub headers: *const rtio_http_header,
    /// Number of entries in `headers`.
    pub headers_len: usize,
    /// The whole request body (NULL when `body_len` is 0).
    pub body: *const u8,
    /// Number of bytes in `body`.
    pub body_len: usize,
    /// The client's address as text, `"1.2.3.4:5678"`, `"[::1]:5678"` or an address without
    /// port (port 0); NULL means unknown (`0.0.0.0:0`). The handshake reports it.
    pub remote_addr: *const c_char,
    /// True when your server received the request over TLS (https / wss): the session's
    /// handshake reports it as `secure`, as socket.io's does.
    pub secure: bool,
}

fn remote(text: Option<&str>) -> FfiResult<SocketAddr> {
    let Some(text) = text else {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
    };
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 0))
        .map_err(|_| {
            Failure::new(
                rtio_status::InvalidArgument,
                format!("req.remote_addr {text:?} is not an IP address (with or without port)"),
            )
        })
}

/// The request in the core's form, every field checked.
///
/// # Safety
/// `req` NULL or valid for the call as documented on `rtio_http_request`.
unsafe fn request(req: *const rtio_http_request, what: &str) -> FfiResult<HttpRequest> {
    let r = req
        .as_ref()
        .ok_or_else(|| Failure::new(rtio_status::NullPointer, format!("{what} is NULL")))?;
    let method = arg_str(r.method, &format!("{what}.method"))?;
    let url = arg_str(r.url, &format!("{what}.url"))?;
    let mut headers = Vec::with_capacity(r.headers_len);
    if r.headers_len > 0 {
        if r.headers.is_null() {
            return Err(Failure::new(
                rtio_status::NullPointer,
                format!("{what}.headers is NULL but headers_len is not 0"),
            ));
        }
        for (i, h) in std::slice::from_raw_parts(r.headers, r.headers_len)
            .iter()
            .enumerate()
        {
            let name = arg_str(h.name, &format!("{what}.headers[{i}].name"))?;
            let value = arg_str(h.value, &format!("{what}.headers[{i}].value"))?;
            headers.push((name.to_string(), value.to_string()));
        }
    }
    let body = if r.body_len == 0 {
        Bytes::new()
    } else if r.body.is_null() {
        return Err(Failure::new(
            rtio_status::NullPointer,
            format!("{what}.body is NULL but body_len is not 0"),
        ));
    } else {
        Bytes::copy_from_slice(std::slice::from_raw_parts(r.body, r.body_len))
    };
    let remote_addr = remote(opt_str(r.remote_addr, &format!("{what}.remote_addr"))?)?;
    Ok(HttpRequest {
        method: method.to_string(),
        url: url.to_string(),
        headers,
        body,
        remote_addr,
        secure: r.secure,
    })
}

/// Answers one request to the Engine.IO path that your own HTTP server received (polling
/// GET/POST, handshakes, CORS preflights) exactly as rtio's own listener would (request gate,
/// CORS, limits). Returns at once with `*token`; the answer arrives later as one
/// `RTIO_EVENT_TYPE_HTTP_RESPONSE` event carrying the same token (`rtio_event_token`), on
/// the server's usual event delivery (callback or poll). A long-poll GET is answered only
/// when packets are queued for it or the session ends (up to the ping interval): keep the
/// client's connection open (e.g. suspend it) until the event comes. A WebSocket handshake
/// is answered 400: give its connection to `rtio_adopt_websocket` instead.
///
/// Everything in `req` is copied. Errors: `RTIO_STATUS_NULL_POINTER` (server, req, token,
/// a required field), `RTIO_STATUS_INVALID_UTF8`, `RTIO_STATUS_INVALID_ARGUMENT` (a bad
/// remote address), `RTIO_STATUS_STOPPED`. Any thread.
///
/// # Safety
/// `server` from `rtio_server_start`; `req` as documented on `rtio_http_request`; `token`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_handle_request(
    server_: *const rtio_server,
    req: *const rtio_http_request,
    token: *mut u64,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(token, "token")?;
        let s = server(server_)?;
        let request = request(req, "req")?;
        *out = s.io.handle_request(request)?;
        Ok(())
    })
}

/// A private duplicate of `fd` after checking it is a stream socket, so that on any failure
/// the caller's descriptor is untouched.
fn dup_socket(fd: c_int) -> FfiResult<c_int> {
    if fd < 0 {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            format!("fd {fd} is not a descriptor"),
        ));
    }
    let mut kind: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: plain syscall with a valid out-buffer of `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            &mut kind as *mut c_int as *mut libc::c_void,
            &mut len,
        )
    };
    if rc != 0 {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            format!(
                "fd {fd} is not a socket: {}",
                std::io::Error::last_os_error()
            ),
        ));
    }
    if kind != libc::SOCK_STREAM {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            format!("fd {fd} is not a stream (TCP) socket"),
        ));
    }
    // SAFETY: plain syscall.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if copy < 0 {
        return Err(Failure::new(
            rtio_status::Io,
            format!("dup of fd {fd}: {}", std::io::Error::last_os_error()),
        ));
    }
    Ok(copy)
}

/// Gives rtio a connection whose WebSocket handshake (`handshake`: its method, url and
/// headers; its body is ignored) your HTTP server read, before it answered anything: rtio
/// writes the answer on `fd` itself (101, or the refusal: unknown session, request gate, bad
/// `Sec-WebSocket-Key`...) and serves the WebSocket on its runtime like a connection of its
/// own listener. `early`/`early_len`: bytes your server read past the handshake's head (NULL
/// / 0 when none), handed to the WebSocket first.
///
/// Ownership: on `RTIO_STATUS_OK` `fd` is rtio's (it closes it when the WebSocket ends):
/// never read, write, shut down or close it again. A host whose server library will still
/// close its own descriptor passes a `dup(2)` and lets the library close the original,
/// without `shutdown(2)` (which would end the connection for both). On any error nothing
/// was taken: the caller still owns `fd`. Returns at once; any thread.
///
/// Errors: `RTIO_STATUS_NULL_POINTER`, `RTIO_STATUS_INVALID_UTF8`,
/// `RTIO_STATUS_INVALID_ARGUMENT` (fd is no stream socket, the request is not HTTP),
/// `RTIO_STATUS_STOPPED`, `RTIO_STATUS_IO`.
///
/// # Safety
/// `server` from `rtio_server_start`; `handshake` as documented on `rtio_http_request`;
/// `early` `early_len` readable bytes; `fd` a descriptor the caller owns.
#[no_mangle]
pub unsafe extern "C" fn rtio_adopt_websocket(
    server_: *const rtio_server,
    fd: c_int,
    handshake: *const rtio_http_request,
    early: *const u8,
    early_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let request = request(handshake, "handshake")?;
        let early = if early_len == 0 {
            Vec::new()
        } else if early.is_null() {
            return Err(Failure::new(
                rtio_status::NullPointer,
                "early is NULL but early_len is not 0",
            ));
        } else {
            std::slice::from_raw_parts(early, early_len).to_vec()
        };
        let copy = dup_socket(fd)?;
        // SAFETY: `copy` is a fresh descriptor of ours (a stream socket).
        let stream = std::net::TcpStream::from_raw_fd(copy);
        // The copy is dropped (closed) on failure, leaving the caller's fd as it was.
        s.io.adopt_websocket(stream, request, early)?;
        // SAFETY: closing the caller's descriptor, now ours; the socket lives on in `copy`.
        libc::close(fd);
        Ok(())
    })
}

/// Opens a WebSocket whose framing your own server does (it completed or will complete the
/// upgrade itself, e.g. a WebSocket library that hands you whole messages): `handshake` is
/// the opening request (method, url with its query, headers, remote address; body ignored;
/// the `Sec-WebSocket-*` headers are not needed). Returns at once with `*id`; then, on the
/// server's usual event delivery, all carrying that id (`rtio_event_token`):
/// - one `RTIO_EVENT_TYPE_WEB_SOCKET_ANSWER`: status 101 means accept the WebSocket; any
///   other status (with its headers and body) is the refusal to send instead (unknown
///   session, request gate...), and nothing more comes for the id;
/// - `RTIO_EVENT_TYPE_WEB_SOCKET_SEND`, in order: a message for the client
///   (`rtio_event_body`; text or binary: `rtio_event_is_binary`);
/// - `RTIO_EVENT_TYPE_WEB_SOCKET_CLOSE`: rtio ended the WebSocket: close it.
///
/// Give rtio the client's messages with `rtio_websocket_receive` (they may come before the
/// answer: they wait) and the end of the connection with `rtio_websocket_close`.
///
/// Everything in `handshake` is copied. Errors: `RTIO_STATUS_NULL_POINTER`,
/// `RTIO_STATUS_INVALID_UTF8`, `RTIO_STATUS_INVALID_ARGUMENT` (a bad remote address, a
/// request that is not HTTP), `RTIO_STATUS_STOPPED`. Any thread.
///
/// # Safety
/// `server` from `rtio_server_start`; `handshake` as documented on `rtio_http_request`; `id`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_open_websocket(
    server_: *const rtio_server,
    handshake: *const rtio_http_request,
    id: *mut u64,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(id, "id")?;
        let s = server(server_)?;
        let request = request(handshake, "handshake")?;
        *out = s.io.open_websocket(request)?;
        Ok(())
    })
}

/// A message the client sent on WebSocket `id` (`rtio_open_websocket`): `binary` 0 for a text
/// message (`data` must then be UTF-8), non-zero for a binary one. `data`/`len` is the whole
/// message (NULL / 0 for an empty one), copied. Messages are handled in the order given.
///
/// Errors: `RTIO_STATUS_NULL_POINTER` (server; `data` NULL with a non-zero `len`),
/// `RTIO_STATUS_INVALID_ARGUMENT` (a text message that is not UTF-8: close that WebSocket
/// with status 1007), `RTIO_STATUS_UNKNOWN_REQUEST` (no such WebSocket open: never opened,
/// refused, closed by either side), `RTIO_STATUS_STOPPED`. Any thread.
///
/// # Safety
/// `server` from `rtio_server_start`; `data` `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rtio_websocket_receive(
    server_: *const rtio_server,
    id: u64,
    binary: c_int,
    data: *const u8,
    len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(Failure::new(
                rtio_status::NullPointer,
                "data is NULL but len is not 0",
            ));
        } else {
            std::slice::from_raw_parts(data, len)
        };
        let message = if binary != 0 {
            WsMessage::Binary(Bytes::copy_from_slice(bytes))
        } else {
            let text = std::str::from_utf8(bytes).map_err(|e| {
                Failure::new(
                    rtio_status::InvalidArgument,
                    format!("a text message must be UTF-8 (WebSocket {id}): {e}"),
                )
            })?;
            WsMessage::Text(text.to_string())
        };
        s.io.websocket_receive(id, message)
            .map_err(|e| websocket_error(e, id))?;
        Ok(())
    })
}

/// The core's error, with an unknown id said in WebSocket terms.
fn websocket_error(e: rtio_core::Error, id: u64) -> Failure {
    match e {
        rtio_core::Error::UnknownRequest(_) => Failure::new(
            rtio_status::UnknownRequest,
            format!("no open WebSocket {id} (never opened, refused, or closed by either side)"),
        ),
        e => e.into(),
    }
}

/// The client of WebSocket `id` (`rtio_open_websocket`) went, or you close it: rtio ends its
/// session. No `RTIO_EVENT_TYPE_WEB_SOCKET_CLOSE` follows (one already queued may still
/// come: ignore it). Errors: `RTIO_STATUS_NULL_POINTER`, `RTIO_STATUS_UNKNOWN_REQUEST` (not
/// open: never opened, refused, or closed already), `RTIO_STATUS_STOPPED`. Any thread.
///
/// # Safety
/// `server` from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_websocket_close(server_: *const rtio_server, id: u64) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.websocket_close(id)
            .map_err(|e| websocket_error(e, id))?;
        Ok(())
    })
}
