//! `rtio_server`: start, stop, the two delivery modes, and every action.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use rtio_core::engineio::Transport;
use rtio_core::{Events, Io, Payload, RequestAnswer, Server};

use crate::config::{rtio_config, rtio_event_cb};
use crate::error::{arg_str, guard, opt_str, out_ptr, rtio_status, Failure, FfiResult};
use crate::event::rtio_event;

/// A byte buffer passed to rtio (borrowed for the call; rtio copies what it keeps).
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rtio_buffer {
    /// The bytes (may be NULL when `len` is 0).
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

/// Which sockets a broadcast reaches. Every pointer is borrowed for the call.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rtio_broadcast_opts {
    /// The namespace (NULL means `/`).
    pub nsp: *const c_char,
    /// Rooms to reach (their union); none (`rooms_len == 0`) means every socket.
    pub rooms: *const *const c_char,
    /// Number of entries in `rooms`.
    pub rooms_len: usize,
    /// Rooms whose members are left out.
    pub except_rooms: *const *const c_char,
    /// Number of entries in `except_rooms`.
    pub except_rooms_len: usize,
    /// One socket left out (NULL for none), e.g. the sender for `socket.broadcast.emit`.
    pub except_sid: *const c_char,
    /// This server's sockets only: in a cluster (`rtio_config_set_redis`) the operation is
    /// not forwarded to the other nodes (socket.io's `local` flag). Without a cluster it
    /// changes nothing.
    pub local: bool,
    /// socket.io's `volatile` (emits only): a socket whose transport cannot take the event
    /// right now (a WebSocket still writing, a polling client with no GET waiting) does not
    /// get it; it is never queued. Other operations ignore it.
    pub is_volatile: bool,
    /// socket.io's `compress(false)` (emits only): the event never goes
    /// permessage-deflate-compressed (`rtio_config_set_per_message_deflate`).
    pub no_compress: bool,
}

/// The user data pointer, handed to the dispatcher thread.
struct UserData(*mut c_void);
// SAFETY: the user promises (rtio_config_set_callback) that user_data may be used from the
// dispatcher thread.
unsafe impl Send for UserData {}

/// A running server (opaque). Thread-safe: every function taking it may be called from any
/// thread, concurrently, including from inside the event callback — except
/// `rtio_server_free`, which must be called once, from a thread other than the dispatcher,
/// when no other call on it is in progress.
#[allow(non_camel_case_types)]
pub struct rtio_server {
    server: Server,
    pub(crate) io: Io,
    events: Option<Events>,
    event_fd: c_int,
    dispatcher: parking_lot::Mutex<Option<JoinHandle<()>>>,
}

pub(crate) fn server<'a>(p: *const rtio_server) -> FfiResult<&'a rtio_server> {
    // SAFETY: a non-NULL server pointer comes from rtio_server_start and is not yet freed.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::new(rtio_status::NullPointer, "server is NULL"))
}

/// Arguments as a payload: JSON array text (NULL/0 means none) plus copied attachments.
pub(crate) unsafe fn payload(
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> FfiResult<Payload> {
    let mut p = if json.is_null() {
        if json_len != 0 {
            return Err(Failure::new(
                rtio_status::NullPointer,
                "json is NULL but json_len is not 0",
            ));
        }
        Payload::empty()
    } else {
        let bytes = std::slice::from_raw_parts(json as *const u8, json_len);
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Failure::new(rtio_status::InvalidUtf8, "json is not valid UTF-8"))?;
        Payload::from_json(text).map_err(|e| Failure::new(rtio_status::InvalidJson, e.0))?
    };
    if attachments_len > 0 {
        if attachments.is_null() {
            return Err(Failure::new(
                rtio_status::NullPointer,
                "attachments is NULL",
            ));
        }
        let bufs = std::slice::from_raw_parts(attachments, attachments_len);
        let mut out = Vec::with_capacity(bufs.len());
        for (i, b) in bufs.iter().enumerate() {
            if b.data.is_null() && b.len > 0 {
                return Err(Failure::new(
                    rtio_status::NullPointer,
                    format!("attachments[{i}].data is NULL"),
                ));
            }
            let slice = if b.len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(b.data, b.len)
            };
            out.push(Bytes::copy_from_slice(slice));
        }
        p = p.with_attachments(out);
    }
    Ok(p)
}

pub(crate) unsafe fn str_list<'a>(
    p: *const *const c_char,
    len: usize,
    what: &str,
) -> FfiResult<Vec<&'a str>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Failure::new(
            rtio_status::NullPointer,
            format!("{what} is NULL"),
        ));
    }
    std::slice::from_raw_parts(p, len)
        .iter()
        .enumerate()
        .map(|(i, s)| arg_str(*s, &format!("{what}[{i}]")))
        .collect()
}

/// The broadcast `opts` selects (NULL: every socket on `/`).
///
/// # Safety
/// `opts` NULL or valid for the call, its strings NUL-terminated.
pub(crate) unsafe fn target<'a>(
    io: &'a Io,
    opts: *const rtio_broadcast_opts,
) -> FfiResult<rtio_core::Broadcast<'a>> {
    let Some(o) = opts.as_ref() else {
        return Ok(io.broadcast("/"));
    };
    let mut b = io.broadcast(opt_str(o.nsp, "opts.nsp")?.unwrap_or("/"));
    for r in str_list(o.rooms, o.rooms_len, "opts.rooms")? {
        b = b.to(r);
    }
    for r in str_list(o.except_rooms, o.except_rooms_len, "opts.except_rooms")? {
        b = b.except(r);
    }
    if let Some(sid) = opt_str(o.except_sid, "opts.except_sid")? {
        b = b.skip(sid);
    }
    if o.local {
        b = b.local();
    }
    if o.is_volatile {
        b = b.volatile();
    }
    if o.no_compress {
        b = b.compress(false);
    }
    Ok(b)
}

fn dispatch(
    events: Events,
    callback: unsafe extern "C" fn(*const rtio_event, *mut c_void),
    user: UserData,
) {
    while let Ok(ev) = events.recv() {
        let Some(ev) = rtio_event::from_core(ev) else {
            continue;
        };
        // A panic cannot come from C; catching keeps the dispatcher alive regardless.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: the callback and user data were given by the host for this purpose.
            unsafe { callback(&ev, user.0) }
        }));
    }
}

fn new_event_fd() -> FfiResult<c_int> {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(Failure::new(
            rtio_status::Io,
            format!("eventfd: {}", std::io::Error::last_os_error()),
        ));
    }
    Ok(fd)
}

fn signal_fd(fd: c_int) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes to an eventfd we own; failure (counter full) is harmless.
    unsafe { libc::write(fd, &one as *const u64 as *const c_void, 8) };
}

fn drain_fd(fd: c_int) {
    let mut v: u64 = 0;
    // SAFETY: reading 8 bytes from a non-blocking eventfd we own.
    unsafe { libc::read(fd, &mut v as *mut u64 as *mut c_void, 8) };
}

/// Starts a server as `config` says (NULL means the defaults, in poll mode) and stores it in
/// `*out` once it listens. `config` is not consumed: free it when you like. In callback mode
/// rtio starts one dispatcher thread that calls the callback for every event.
/// Errors: `RTIO_STATUS_BIND` (address in use or invalid), `RTIO_STATUS_INVALID_ARGUMENT`,
/// `RTIO_STATUS_IO`. Free the server with `rtio_server_free`.
///
/// # Safety
/// `config` NULL or from `rtio_config_new`; `out` points to writable storage.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_start(
    config: *const rtio_config,
    out: *mut *mut rtio_server,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let (mut cfg, callback, user, redis): (_, rtio_event_cb, _, _) = match config.as_ref() {
            Some(c) => (c.config.clone(), c.callback, c.user_data, c.redis.clone()),
            None => (
                rtio_core::Config::default(),
                None,
                std::ptr::null_mut(),
                None,
            ),
        };
        if let Some(options) = redis {
            let factory = rtio_redis::adapter::redis_adapter(options)
                .map_err(|e| Failure::new(rtio_status::InvalidArgument, format!("redis: {e}")))?;
            cfg = cfg.adapter(factory);
        }
        let event_fd = if callback.is_none() {
            let fd = new_event_fd()?;
            cfg.on_event_ready = Some(Arc::new(move || signal_fd(fd)));
            fd
        } else {
            -1
        };
        let server = match Server::start(cfg) {
            Ok(s) => s,
            Err(e) => {
                if event_fd >= 0 {
                    libc::close(event_fd);
                }
                return Err(e.into());
            }
        };
        let io = server.io();
        let events = server.events().clone();
        let (events, dispatcher) = match callback {
            Some(cb) => {
                let user = UserData(user);
                let handle = std::thread::Builder::new()
                    .name("rtio-dispatch".into())
                    .spawn(move || dispatch(events, cb, user))
                    .map_err(|e| Failure::new(rtio_status::Io, e.to_string()))?;
                (None, Some(handle))
            }
            None => (Some(events), None),
        };
        *out = Box::into_raw(Box::new(rtio_server {
            server,
            io,
            events,
            event_fd,
            dispatcher: parking_lot::Mutex::new(dispatcher),
        }));
        Ok(())
    })
}

/// Stores the port the server listens on in `*port` (useful with port 0).
///
/// # Safety
/// `server` from `rtio_server_start`; `port` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_port(
    server_: *const rtio_server,
    port: *mut u16,
) -> rtio_status {
    guard(|| {
        *out_ptr(port, "port")? = server(server_)?.server.local_addr().port();
        Ok(())
    })
}

/// Reads the TLS certificate and key files (`rtio_config_set_tls`) again, e.g. after a
/// renewal: new connections get the new certificate, open ones keep theirs. On an error
/// (`RTIO_STATUS_INVALID_ARGUMENT`, the message names the file; also when the server has no
/// TLS) the certificate in use stays. Any thread.
///
/// # Safety
/// `server` from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_reload_tls(server_: *const rtio_server) -> rtio_status {
    guard(|| Ok(server(server_)?.server.io().reload_tls()?))
}

/// Stops the server: every client gets a disconnect and a proper close, then the IO thread
/// is joined (within about 1.5 s). In callback mode the dispatcher delivers what was queued
/// and ends (joined here unless this is called from the callback itself). Afterwards every
/// call on the server returns `RTIO_STATUS_STOPPED`; poll returns it once drained. Calling
/// it again is harmless. The server must still be freed with `rtio_server_free`.
///
/// # Safety
/// `server` from `rtio_server_start`, not freed.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_stop(server_: *mut rtio_server) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.stop();
        let handle = s.dispatcher.lock().take();
        if let Some(h) = handle {
            if h.thread().id() == std::thread::current().id() {
                // Called from the callback: the dispatcher ends by itself after returning.
                *s.dispatcher.lock() = Some(h);
            } else {
                let _ = h.join();
            }
        }
        if s.event_fd >= 0 {
            signal_fd(s.event_fd);
        }
        Ok(())
    })
}

/// Stops the server if it runs and frees it. NULL is ignored. Do not call it from the event
/// callback, nor while another thread still uses the server.
///
/// # Safety
/// `server` NULL or from `rtio_server_start`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_free(server_: *mut rtio_server) {
    if server_.is_null() {
        return;
    }
    let _ = rtio_server_stop(server_);
    let s = Box::from_raw(server_);
    let handle = s.dispatcher.lock().take();
    if let Some(h) = handle {
        if h.thread().id() != std::thread::current().id() {
            let _ = h.join();
        }
    }
    if s.event_fd >= 0 {
        libc::close(s.event_fd);
    }
    drop(s);
}

/// Poll mode: waits up to `timeout_ms` (negative: forever, 0: don't wait) for the next event.
/// On `RTIO_STATUS_OK`, `*event` is the event (free it with `rtio_event_free`) or NULL when
/// the timeout passed. Returns `RTIO_STATUS_STOPPED` once the server stopped and every
/// queued event was taken, `RTIO_STATUS_WRONG_MODE` in callback mode. Events of one socket
/// come in order. Safe to call from several threads (each event goes to one caller).
///
/// # Safety
/// `server` from `rtio_server_start`; `event` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_poll(
    server_: *mut rtio_server,
    timeout_ms: i32,
    event: *mut *mut rtio_event,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(event, "event")?;
        *out = std::ptr::null_mut();
        let s = server(server_)?;
        let events = s.events.as_ref().ok_or_else(|| {
            Failure::new(rtio_status::WrongMode, "the server is in callback mode")
        })?;
        let next = match timeout_ms {
            t if t < 0 => events.recv().map(Some),
            0 => events.try_recv(),
            t => events.recv_timeout(Duration::from_millis(t as u64)),
        }?;
        // Re-arm the descriptor: clear it, then signal again if events remain, so it is
        // readable exactly while events are pending (no lost wake-up: producers signal after
        // queueing).
        drain_fd(s.event_fd);
        if !events.is_empty() {
            signal_fd(s.event_fd);
        }
        if let Some(ev) = next.and_then(rtio_event::from_core) {
            *out = Box::into_raw(Box::new(ev));
        }
        Ok(())
    })
}

/// Poll mode: a file descriptor that is readable while events are pending (an eventfd), for
/// epoll / poll / libuv / asyncio loops: when readable, call `rtio_server_poll` with timeout 0
/// until it gives no event. Owned by the server (closed by `rtio_server_free`): never close
/// or read it yourself. -1 in callback mode or for NULL.
///
/// # Safety
/// `server` NULL or from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_fd(server_: *const rtio_server) -> c_int {
    server(server_).map(|s| s.event_fd).unwrap_or(-1)
}

/// Sends an event to one socket. `json` is the arguments as a JSON array (`"[1,\"a\"]"`;
/// NULL with `json_len` 0 means no arguments), of `json_len` bytes (no NUL needed); binary
/// arguments are `{"_placeholder":true,"num":N}` objects in the JSON referring to
/// `attachments[N]`. Everything is copied; nothing blocks.
///
/// # Safety
/// `server` from `rtio_server_start`; strings NUL-terminated; `json` `json_len` readable
/// bytes; `attachments` `attachments_len` entries.
#[no_mangle]
pub unsafe extern "C" fn rtio_emit(
    server_: *const rtio_server,
    sid: *const c_char,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let sid = arg_str(sid, "sid")?;
        let event = arg_str(event, "event")?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        s.io.emit(sid, event, &p)?;
        Ok(())
    })
}

/// Like `rtio_emit`, and asks the client for an ack. Exactly one
/// `RTIO_EVENT_TYPE_ACK_RESPONSE` event later carries `*token` (stored here): the client's
/// answer, or `rtio_event_ack_timed_out()` after `timeout_ms` (> 0).
///
/// # Safety
/// As `rtio_emit`; `token` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_emit_with_ack(
    server_: *const rtio_server,
    sid: *const c_char,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
    timeout_ms: u32,
    token: *mut u64,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let token = out_ptr(token, "token")?;
        let sid = arg_str(sid, "sid")?;
        let event = arg_str(event, "event")?;
        if timeout_ms == 0 {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                "timeout_ms must be > 0",
            ));
        }
        let p = payload(json, json_len, attachments, attachments_len)?;
        *token =
            s.io.emit_with_ack(sid, event, &p, Duration::from_millis(u64::from(timeout_ms)))?;
        Ok(())
    })
}

/// Answers a message whose sender waits for an ack (`rtio_event_ack_id() >= 0`), with
/// arguments as in `rtio_emit`.
///
/// # Safety
/// As `rtio_emit`.
#[no_mangle]
pub unsafe extern "C" fn rtio_ack(
    server_: *const rtio_server,
    sid: *const c_char,
    ack_id: i64,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let sid = arg_str(sid, "sid")?;
        let id = u64::try_from(ack_id)
            .map_err(|_| Failure::new(rtio_status::InvalidArgument, "ack_id must be >= 0"))?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        s.io.ack(sid, id, &p)?;
        Ok(())
    })
}

/// Sends an event to the sockets `opts` selects (NULL `opts`: every socket on `/`), encoded
/// once for all. Arguments as in `rtio_emit`. When `delivered` is not NULL it receives the
/// number of sockets the event was queued for.
///
/// # Safety
/// As `rtio_emit`; `opts` NULL or valid for the call; `delivered` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_broadcast(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
    delivered: *mut usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let event = arg_str(event, "event")?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        let b = target(&s.io, opts)?;
        let n = b.emit(event, &p)?;
        if !delivered.is_null() {
            *delivered = n;
        }
        Ok(())
    })
}

/// Puts a socket in a room.
///
/// # Safety
/// `server` from `rtio_server_start`; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_join(
    server_: *const rtio_server,
    sid: *const c_char,
    room: *const c_char,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.join(arg_str(sid, "sid")?, arg_str(room, "room")?)?;
        Ok(())
    })
}

/// Takes a socket out of a room.
///
/// # Safety
/// `server` from `rtio_server_start`; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_leave(
    server_: *const rtio_server,
    sid: *const c_char,
    room: *const c_char,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.leave(arg_str(sid, "sid")?, arg_str(room, "room")?)?;
        Ok(())
    })
}

/// Disconnects a socket from its namespace (the client sees `io server disconnect`); with
/// `close_connection`, its whole connection is closed too.
///
/// # Safety
/// `server` from `rtio_server_start`; `sid` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_disconnect(
    server_: *const rtio_server,
    sid: *const c_char,
    close_connection: bool,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.disconnect(arg_str(sid, "sid")?, close_connection)?;
        Ok(())
    })
}

/// Accepts a pending connect request (`rtio_event_request`).
///
/// # Safety
/// `server` from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_accept(server_: *const rtio_server, request: u64) -> rtio_status {
    guard(|| {
        server(server_)?.io.accept(request)?;
        Ok(())
    })
}

/// Refuses a pending connect request: the client gets `connect_error` with `message` and,
/// when `data_json` is not NULL, that JSON value as `data`.
///
/// # Safety
/// `server` from `rtio_server_start`; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_reject(
    server_: *const rtio_server,
    request: u64,
    message: *const c_char,
    data_json: *const c_char,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let message = arg_str(message, "message")?;
        let data = opt_str(data_json, "data_json")?;
        s.io.reject(request, message, data).map_err(|e| match e {
            rtio_core::Error::InvalidArgument(m) => Failure::new(rtio_status::InvalidJson, m),
            other => other.into(),
        })
    })
}

/// Accepts clients on one more namespace from now on (or changes whether it has middleware).
///
/// # Safety
/// `server` from `rtio_server_start`; `nsp` NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_add_namespace(
    server_: *const rtio_server,
    nsp: *const c_char,
    middleware: bool,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.add_namespace(arg_str(nsp, "nsp")?, middleware)?;
        Ok(())
    })
}

/// Stores the number of sockets connected to a namespace and the number of rooms with
/// members (not counting each socket's own room). Either out-pointer may be NULL.
///
/// # Safety
/// `server` from `rtio_server_start`; `nsp` NUL-terminated; out-pointers NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_stats(
    server_: *const rtio_server,
    nsp: *const c_char,
    sockets: *mut usize,
    rooms: *mut usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let st = s.io.stats(arg_str(nsp, "nsp")?)?;
        if !sockets.is_null() {
            *sockets = st.sockets;
        }
        if !rooms.is_null() {
            *rooms = st.rooms;
        }
        Ok(())
    })
}

fn answer(server_: *const rtio_server, request: u64, answer: RequestAnswer) -> FfiResult<()> {
    server(server_)?.io.answer_request(request, answer)?;
    Ok(())
}

/// Lets a gated request (`RTIO_EVENT_TYPE_REQUEST`) through, without cross-origin access
/// (with `rtio_config_set_cors_gate` its origin may not read the response; with the other
/// CORS policies the policy decides). May be called from any thread.
/// `RTIO_STATUS_UNKNOWN_REQUEST` when the request was answered already or timed out,
/// `RTIO_STATUS_STOPPED` after `rtio_server_stop`.
///
/// # Safety
/// `server` from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_request_allow(
    server_: *const rtio_server,
    request: u64,
) -> rtio_status {
    guard(|| answer(server_, request, RequestAnswer::allow()))
}

/// Lets a gated request through and, with `rtio_config_set_cors_gate`, lets its `Origin`
/// read the response (CORS headers are sent, also on the later requests of a session it
/// opens from that origin). With the other CORS policies the same as `rtio_request_allow`.
/// Errors as `rtio_request_allow`.
///
/// # Safety
/// `server` from `rtio_server_start`.
#[no_mangle]
pub unsafe extern "C" fn rtio_request_allow_origin(
    server_: *const rtio_server,
    request: u64,
) -> rtio_status {
    guard(|| answer(server_, request, RequestAnswer::allow().cross_origin(true)))
}

/// Refuses a gated request: the client gets HTTP `status` (400–599, e.g. 403) with the body
/// `{"code":4,"message":<message>}` (a WebSocket upgrade is refused with that response
/// instead of switching protocols). `RTIO_STATUS_INVALID_ARGUMENT` for a status outside
/// 400–599 (the request stays pending), otherwise errors as `rtio_request_allow`.
///
/// # Safety
/// `server` from `rtio_server_start`; `message` NUL-terminated (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_request_deny(
    server_: *const rtio_server,
    request: u64,
    status: u16,
    message: *const c_char,
) -> rtio_status {
    guard(|| {
        let message = arg_str(message, "message")?;
        if !(400..600).contains(&status) {
            return Err(Failure::new(
                rtio_status::InvalidArgument,
                format!("status {status} is not an HTTP error status (400-599)"),
            ));
        }
        answer(server_, request, RequestAnswer::deny(status, message))
    })
}

/// A string list as a JSON array, handed to C (free with `rtio_string_free`).
fn json_list(items: &[String]) -> *mut c_char {
    let json = serde_json::to_string(items).unwrap_or_else(|_| "[]".into());
    // JSON escapes NUL as \u0000, so the text has none.
    CString::new(json).unwrap_or_default().into_raw()
}

/// Stores in `*out` the rooms a socket is in, as a JSON array of strings, its own room (its
/// id) first: `["<sid>","room1"]`. `*out` is yours: free it with `rtio_string_free` (it is
/// set to NULL on error). `RTIO_STATUS_UNKNOWN_SOCKET` when no socket has this id.
///
/// # Safety
/// `server` from `rtio_server_start`; `sid` NUL-terminated; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_socket_rooms(
    server_: *const rtio_server,
    sid: *const c_char,
    out: *mut *mut c_char,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let rooms = server(server_)?.io.rooms(arg_str(sid, "sid")?)?;
        *out = json_list(&rooms);
        Ok(())
    })
}

/// Stores in `*out` the ids of the sockets in room `room` of namespace `nsp` (NULL `room`:
/// every socket of the namespace), as a JSON array of strings (`[]` for an empty or unknown
/// room). `*out` is yours: free it with `rtio_string_free` (NULL on error).
/// `RTIO_STATUS_UNKNOWN_NAMESPACE` when the namespace is not served.
///
/// # Safety
/// `server` from `rtio_server_start`; `nsp` NUL-terminated, `room` NULL or NUL-terminated;
/// `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_room_sockets(
    server_: *const rtio_server,
    nsp: *const c_char,
    room: *const c_char,
    out: *mut *mut c_char,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let s = server(server_)?;
        let ids = s.io.sockets(arg_str(nsp, "nsp")?, opt_str(room, "room")?)?;
        *out = json_list(&ids);
        Ok(())
    })
}

/// Takes every socket of namespace `nsp` out of `room` (socket.io's `socketsLeave(room)`).
/// `RTIO_STATUS_UNKNOWN_NAMESPACE` when the namespace is not served.
///
/// # Safety
/// `server` from `rtio_server_start`; strings NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn rtio_close_room(
    server_: *const rtio_server,
    nsp: *const c_char,
    room: *const c_char,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        s.io.close_room(arg_str(nsp, "nsp")?, arg_str(room, "room")?)?;
        Ok(())
    })
}

/// A connection's transport.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum rtio_transport {
    /// HTTP long-polling.
    Polling = 0,
    /// WebSocket.
    Websocket = 1,
}

/// Stores in `*transport` the transport the socket's connection uses now (polling until an
/// upgrade to WebSocket completes). `RTIO_STATUS_UNKNOWN_SOCKET` when no socket has this id.
///
/// # Safety
/// `server` from `rtio_server_start`; `sid` NUL-terminated; `transport` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_socket_transport(
    server_: *const rtio_server,
    sid: *const c_char,
    transport: *mut rtio_transport,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(transport, "transport")?;
        let t = server(server_)?.io.transport(arg_str(sid, "sid")?)?;
        *out = match t {
            Transport::Polling => rtio_transport::Polling,
            Transport::WebSocket => rtio_transport::Websocket,
        };
        Ok(())
    })
}

/// The transport's name as Engine.IO spells it: `"polling"` or `"websocket"` (`"unknown"`
/// for a value that is no transport). Static storage; never free it.
#[no_mangle]
pub extern "C" fn rtio_transport_name(transport: i32) -> *const c_char {
    match transport {
        0 => c"polling".as_ptr(),
        1 => c"websocket".as_ptr(),
        _ => c"unknown".as_ptr(),
    }
}

/// Stores in `*count` the number of Engine.IO connections open now, whether or not they
/// joined a namespace (socket.io's `io.engine.clientsCount`).
///
/// # Safety
/// `server` from `rtio_server_start`; `count` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_client_count(
    server_: *const rtio_server,
    count: *mut usize,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(count, "count")?;
        *out = server(server_)?.io.client_count()?;
        Ok(())
    })
}
