//! Operations on the sockets of every node of a cluster, and the server-side events between
//! nodes. Each one that needs other nodes' answers returns a token at once; the answer comes
//! later as one event carrying it (`RTIO_EVENT_TYPE_*_RESPONSE`). Without a cluster they
//! work on this server alone (a cluster of one).

use std::ffi::c_char;
use std::time::Duration;

use crate::error::{arg_str, guard, out_ptr, rtio_status, Failure, FfiResult};
use crate::server::{
    payload, rtio_broadcast_opts, rtio_buffer, rtio_server, server, str_list, target,
};

fn timeout(ms: u32) -> FfiResult<Duration> {
    if ms == 0 {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            "timeout_ms must be > 0",
        ));
    }
    Ok(Duration::from_millis(u64::from(ms)))
}

/// Sends an event to the sockets `opts` selects on every node (NULL `opts`: every socket on
/// `/`) and asks each for an ack (socket.io's `io.timeout(ms).emit(..., callback)`).
/// Arguments as in `rtio_emit`. Stores a token in `*token`; exactly one
/// `RTIO_EVENT_TYPE_BROADCAST_ACK_RESPONSE` carrying it follows, once every socket reached
/// answered (at once when none was reached) or after `timeout_ms` (> 0) with the answers
/// that came and an error (`rtio_event_error`).
/// `RTIO_STATUS_UNKNOWN_NAMESPACE` when `opts->nsp` is not served.
///
/// # Safety
/// As `rtio_broadcast`; `token` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_broadcast_with_ack(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
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
        let event = arg_str(event, "event")?;
        let timeout = timeout(timeout_ms)?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        *token = target(&s.io, opts)?.emit_with_ack(event, &p, timeout)?;
        Ok(())
    })
}

/// Lists the sockets `opts` selects on every node (socket.io's `fetchSockets`; NULL `opts`:
/// every socket on `/`).
/// Stores a token in `*token`; exactly one `RTIO_EVENT_TYPE_FETCH_SOCKETS_RESPONSE` carrying
/// it follows, once every node answered or after the cluster timeout with this node's
/// sockets, those that came and an error. `RTIO_STATUS_UNKNOWN_NAMESPACE` when the namespace
/// is not served.
///
/// # Safety
/// `server` from `rtio_server_start`; `opts` NULL or valid for the call; `token` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_fetch_sockets(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
    token: *mut u64,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let token = out_ptr(token, "token")?;
        *token = target(&s.io, opts)?.fetch_sockets()?;
        Ok(())
    })
}

/// Puts the sockets `opts` selects, on every node, in these rooms (socket.io's
/// `socketsJoin`; NULL `opts`: every socket on `/`). Applied to this node's sockets before it
/// returns; the other nodes apply it when they hear of it. `rooms_len` may be 0 (nothing
/// happens).
///
/// # Safety
/// `server` from `rtio_server_start`; `opts` NULL or valid for the call; `rooms`
/// `rooms_len` NUL-terminated strings (copied).
#[no_mangle]
pub unsafe extern "C" fn rtio_sockets_join(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
    rooms: *const *const c_char,
    rooms_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let rooms = str_list(rooms, rooms_len, "rooms")?;
        target(&s.io, opts)?.sockets_join(rooms)?;
        Ok(())
    })
}

/// Takes the sockets `opts` selects, on every node, out of these rooms (socket.io's
/// `socketsLeave`). As `rtio_sockets_join`.
///
/// # Safety
/// As `rtio_sockets_join`.
#[no_mangle]
pub unsafe extern "C" fn rtio_sockets_leave(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
    rooms: *const *const c_char,
    rooms_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let rooms = str_list(rooms, rooms_len, "rooms")?;
        target(&s.io, opts)?.sockets_leave(rooms)?;
        Ok(())
    })
}

/// Disconnects the sockets `opts` selects on every node (socket.io's `disconnectSockets`;
/// NULL `opts`: every socket on `/`): each client sees `io server disconnect`, and each
/// socket's server reports its disconnect event. With `close_connection`, their whole
/// connections are closed too.
///
/// # Safety
/// `server` from `rtio_server_start`; `opts` NULL or valid for the call.
#[no_mangle]
pub unsafe extern "C" fn rtio_disconnect_sockets(
    server_: *const rtio_server,
    opts: *const rtio_broadcast_opts,
    close_connection: bool,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        target(&s.io, opts)?.disconnect_sockets(close_connection)?;
        Ok(())
    })
}

/// Sends an event to the other nodes of the cluster (socket.io's `serverSideEmit`; NULL
/// `nsp` means `/`): each other node's host gets it as `RTIO_EVENT_TYPE_SERVER_SIDE_EMIT`;
/// this node's host does not. Arguments as in `rtio_emit`. Without a cluster it reaches no
/// one.
///
/// # Safety
/// `server` from `rtio_server_start`; `nsp` NULL or NUL-terminated, `event` NUL-terminated;
/// `json` `json_len` readable bytes; `attachments` `attachments_len` entries.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_side_emit(
    server_: *const rtio_server,
    nsp: *const c_char,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let nsp = crate::error::opt_str(nsp, "nsp")?.unwrap_or("/");
        let event = arg_str(event, "event")?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        s.io.server_side_emit(nsp, event, &p)?;
        Ok(())
    })
}

/// Like `rtio_server_side_emit`, and asks each other node for an answer (socket.io's
/// `serverSideEmit(..., callback)`). Stores a token in `*token`; exactly one
/// `RTIO_EVENT_TYPE_SERVER_SIDE_ACK_RESPONSE` carrying it follows, with one answer per other
/// node, once every other node answered (at once when there is none) or after `timeout_ms`
/// (> 0) with the answers that came and an error.
///
/// # Safety
/// As `rtio_server_side_emit`; `token` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_side_emit_with_ack(
    server_: *const rtio_server,
    nsp: *const c_char,
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
        let nsp = crate::error::opt_str(nsp, "nsp")?.unwrap_or("/");
        let event = arg_str(event, "event")?;
        let timeout = timeout(timeout_ms)?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        *token = s.io.server_side_emit_with_ack(nsp, event, &p, timeout)?;
        Ok(())
    })
}

/// Answers an `RTIO_EVENT_TYPE_SERVER_SIDE_EMIT` whose sender waits for one
/// (`rtio_event_ack_id() >= 0` on it), with arguments as in `rtio_emit` (a Node sender's
/// callback gets the first one). At most once per event, within the cluster timeout:
/// `RTIO_STATUS_UNKNOWN_REQUEST` after that or for an id that is no such event's.
///
/// # Safety
/// As `rtio_emit`.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_side_ack(
    server_: *const rtio_server,
    ack_id: i64,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let id = u64::try_from(ack_id)
            .map_err(|_| Failure::new(rtio_status::InvalidArgument, "ack_id must be >= 0"))?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        s.io.server_side_ack(id, &p)?;
        Ok(())
    })
}

/// Counts the nodes serving namespace `nsp` (NULL means `/`), this one included (socket.io's
/// `io.of(nsp).adapter.serverCount()`). Stores a token in `*token`; exactly one
/// `RTIO_EVENT_TYPE_SERVER_COUNT_RESPONSE` carrying it follows (`rtio_event_count`; 1
/// without a cluster).
///
/// # Safety
/// `server` from `rtio_server_start`; `nsp` NULL or NUL-terminated; `token` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_server_count(
    server_: *const rtio_server,
    nsp: *const c_char,
    token: *mut u64,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let token = out_ptr(token, "token")?;
        let nsp = crate::error::opt_str(nsp, "nsp")?.unwrap_or("/");
        *token = s.io.server_count(nsp)?;
        Ok(())
    })
}

/// Attaches data to a socket of this node (socket.io's `socket.data`), as JSON text
/// (`json_len` bytes, no NUL needed; NULL with `json_len` 0 clears it). Other nodes see it
/// in their fetch-sockets answers (`rtio_event_socket_data`), as this node does. Copied.
/// `RTIO_STATUS_INVALID_JSON` when it is not JSON, `RTIO_STATUS_UNKNOWN_SOCKET` when no
/// socket of this node has this id.
///
/// # Safety
/// `server` from `rtio_server_start`; `sid` NUL-terminated; `json` `json_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn rtio_socket_set_data(
    server_: *const rtio_server,
    sid: *const c_char,
    json: *const c_char,
    json_len: usize,
) -> rtio_status {
    guard(|| {
        let s = server(server_)?;
        let sid = arg_str(sid, "sid")?;
        let data =
            if json.is_null() {
                if json_len != 0 {
                    return Err(Failure::new(
                        rtio_status::NullPointer,
                        "json is NULL but json_len is not 0",
                    ));
                }
                None
            } else {
                let bytes = std::slice::from_raw_parts(json as *const u8, json_len);
                Some(std::str::from_utf8(bytes).map_err(|_| {
                    Failure::new(rtio_status::InvalidUtf8, "json is not valid UTF-8")
                })?)
            };
        s.io.set_socket_data(sid, data).map_err(|e| match e {
            rtio_core::Error::InvalidArgument(m) => Failure::new(rtio_status::InvalidJson, m),
            other => other.into(),
        })
    })
}
