//! `rtio_emitter`: pushes into a Socket.IO cluster through Redis from a program that serves
//! no clients (a cron job, a queue worker), as `@socket.io/redis-emitter` does for Node.

use std::ffi::c_char;

use rtio_redis::adapter::{RedisAdapterOptions, Variant};
use rtio_redis::emitter::{Emitter, Target};

use crate::error::{arg_str, guard, opt_str, out_ptr, rtio_status, Failure, FfiResult};
use crate::server::{payload, rtio_broadcast_opts, rtio_buffer, str_list};

/// A write-only member of a Redis cluster (opaque): it publishes, subscribes to nothing and
/// is not counted as a server. Create with `rtio_emitter_new`, free with `rtio_emitter_free`.
/// Thread-safe: any thread may use one emitter, calls are serialized on its one Redis
/// connection. Every call blocks the calling thread until Redis took the message (at most
/// about 5 s), so a script knows its push left; there is no background thread.
#[allow(non_camel_case_types)]
pub struct rtio_emitter {
    emitter: Emitter,
}

fn emitter<'a>(p: *const rtio_emitter) -> FfiResult<&'a Emitter> {
    // SAFETY: a non-NULL emitter pointer comes from rtio_emitter_new and is not yet freed.
    unsafe { p.as_ref() }
        .map(|e| &e.emitter)
        .ok_or_else(|| Failure::new(rtio_status::NullPointer, "emitter is NULL"))
}

fn failure(e: rtio_redis::Error) -> Failure {
    match e {
        rtio_redis::Error::Config(m) => Failure::new(rtio_status::InvalidArgument, m),
        rtio_redis::Error::Redis(m) => Failure::new(rtio_status::Io, format!("redis: {m}")),
        other => Failure::new(
            rtio_status::InvalidJson,
            format!("the arguments cannot be sent: {other}"),
        ),
    }
}

/// The namespace and the selection of `opts` (NULL: every socket on `/`); the excluded
/// socket is one more excluded room (a socket id is a room), and the local flag is refused
/// (an emitter has no sockets of its own).
unsafe fn selection<'a>(opts: *const rtio_broadcast_opts) -> FfiResult<(&'a str, Target)> {
    let Some(o) = opts.as_ref() else {
        return Ok(("/", Target::all()));
    };
    if o.local {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            "opts.local: an emitter has no sockets of its own",
        ));
    }
    if o.is_volatile {
        return Err(Failure::new(
            rtio_status::InvalidArgument,
            "opts.is_volatile: emitters do not send volatile events (emit from a server)",
        ));
    }
    let nsp = opt_str(o.nsp, "opts.nsp")?.unwrap_or("/");
    let mut target = Target::rooms(str_list(o.rooms, o.rooms_len, "opts.rooms")?);
    target = target.except(str_list(
        o.except_rooms,
        o.except_rooms_len,
        "opts.except_rooms",
    )?);
    if let Some(sid) = opt_str(o.except_sid, "opts.except_sid")? {
        target = target.except([sid]);
    }
    Ok((nsp, target))
}

/// Creates an emitter for the cluster at `url` (`redis://[user[:password]@]host[:port][/db]`)
/// with channel prefix `key` (NULL: `socket.io`, Node's default) and wire format `variant`
/// (an `rtio_redis_variant`: `RTIO_REDIS_VARIANT_CLASSIC`, the one
/// `@socket.io/redis-emitter` speaks, or `RTIO_REDIS_VARIANT_SHARDED`), the same as the
/// cluster's servers use. Stores it in `*out` (NULL on error). Connects on first use, so
/// Redis being down is not an error here; `RTIO_STATUS_INVALID_ARGUMENT` for a URL that does
/// not parse, an empty key or an unknown variant. Free it with `rtio_emitter_free`.
///
/// # Safety
/// `url` NUL-terminated; `key` NULL or NUL-terminated (both copied); `out` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_new(
    url: *const c_char,
    key: *const c_char,
    variant: i32,
    out: *mut *mut rtio_emitter,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let mut options = RedisAdapterOptions::new(arg_str(url, "url")?);
        if let Some(key) = opt_str(key, "key")? {
            if key.is_empty() {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    "key must not be empty",
                ));
            }
            options.key = key.to_string();
        }
        options.variant = match variant {
            0 => Variant::Classic,
            1 => Variant::Sharded,
            other => {
                return Err(Failure::new(
                    rtio_status::InvalidArgument,
                    format!("variant: {other} is no rtio_redis_variant"),
                ))
            }
        };
        let emitter = Emitter::new(options).map_err(failure)?;
        *out = Box::into_raw(Box::new(rtio_emitter { emitter }));
        Ok(())
    })
}

/// Frees an emitter (closing its connection). NULL is ignored. Not while another thread
/// still uses it.
///
/// # Safety
/// `emitter` NULL or from `rtio_emitter_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_free(emitter: *mut rtio_emitter) {
    if !emitter.is_null() {
        drop(Box::from_raw(emitter));
    }
}

/// Sends an event to the sockets `opts` selects on every server of the cluster (NULL `opts`:
/// every socket on `/`; `except_sid` is excluded like a room; `local` must be false).
/// Arguments as in `rtio_emit` (binary attachments travel as binary). Blocks until Redis
/// took it: `RTIO_STATUS_IO` (with Redis' or the connection's message) when it could not.
///
/// # Safety
/// `emitter` from `rtio_emitter_new`; `opts` NULL or valid for the call; `event`
/// NUL-terminated; `json` `json_len` readable bytes; `attachments` `attachments_len` entries.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_emit(
    emitter_: *const rtio_emitter,
    opts: *const rtio_broadcast_opts,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let e = emitter(emitter_)?;
        let (nsp, target) = selection(opts)?;
        let event = arg_str(event, "event")?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        e.emit(nsp, &target, event, &p).map_err(failure)
    })
}

/// Makes the sockets `opts` selects, on every server, join these rooms (socket.io's
/// `socketsJoin`). Selection as in `rtio_emitter_emit`; errors likewise.
///
/// # Safety
/// `emitter` from `rtio_emitter_new`; `opts` NULL or valid for the call; `rooms`
/// `rooms_len` NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_sockets_join(
    emitter_: *const rtio_emitter,
    opts: *const rtio_broadcast_opts,
    rooms: *const *const c_char,
    rooms_len: usize,
) -> rtio_status {
    guard(|| {
        let e = emitter(emitter_)?;
        let (nsp, target) = selection(opts)?;
        let rooms: Vec<String> = str_list(rooms, rooms_len, "rooms")?
            .into_iter()
            .map(String::from)
            .collect();
        e.sockets_join(nsp, &target, &rooms).map_err(failure)
    })
}

/// Makes the sockets `opts` selects, on every server, leave these rooms (socket.io's
/// `socketsLeave`). As `rtio_emitter_sockets_join`.
///
/// # Safety
/// As `rtio_emitter_sockets_join`.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_sockets_leave(
    emitter_: *const rtio_emitter,
    opts: *const rtio_broadcast_opts,
    rooms: *const *const c_char,
    rooms_len: usize,
) -> rtio_status {
    guard(|| {
        let e = emitter(emitter_)?;
        let (nsp, target) = selection(opts)?;
        let rooms: Vec<String> = str_list(rooms, rooms_len, "rooms")?
            .into_iter()
            .map(String::from)
            .collect();
        e.sockets_leave(nsp, &target, &rooms).map_err(failure)
    })
}

/// Disconnects the sockets `opts` selects on every server (socket.io's `disconnectSockets`;
/// clients see `io server disconnect`); with `close_connection`, their whole connections
/// are closed too. Selection as in `rtio_emitter_emit`; errors likewise.
///
/// # Safety
/// `emitter` from `rtio_emitter_new`; `opts` NULL or valid for the call.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_disconnect_sockets(
    emitter_: *const rtio_emitter,
    opts: *const rtio_broadcast_opts,
    close_connection: bool,
) -> rtio_status {
    guard(|| {
        let e = emitter(emitter_)?;
        let (nsp, target) = selection(opts)?;
        e.disconnect_sockets(nsp, &target, close_connection)
            .map_err(failure)
    })
}

/// Sends an event to the hosts of every server of the cluster on namespace `nsp` (NULL
/// means `/`; socket.io's `serverSideEmit`): rtio servers get it as
/// `RTIO_EVENT_TYPE_SERVER_SIDE_EMIT`. No answer can come back to an emitter. Arguments as
/// in `rtio_emit`; errors as `rtio_emitter_emit`.
///
/// # Safety
/// `emitter` from `rtio_emitter_new`; `nsp` NULL or NUL-terminated; `event` NUL-terminated;
/// `json` `json_len` readable bytes; `attachments` `attachments_len` entries.
#[no_mangle]
pub unsafe extern "C" fn rtio_emitter_server_side_emit(
    emitter_: *const rtio_emitter,
    nsp: *const c_char,
    event: *const c_char,
    json: *const c_char,
    json_len: usize,
    attachments: *const rtio_buffer,
    attachments_len: usize,
) -> rtio_status {
    guard(|| {
        let e = emitter(emitter_)?;
        let nsp = opt_str(nsp, "nsp")?.unwrap_or("/");
        let event = arg_str(event, "event")?;
        let p = payload(json, json_len, attachments, attachments_len)?;
        e.server_side_emit(nsp, event, &p).map_err(failure)
    })
}
