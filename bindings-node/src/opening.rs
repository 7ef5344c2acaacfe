//! A connection's opening request (the core's [`Handshake`]) as JS names it: JS reads what a
//! socket's `handshake` shows (headers, address, query...) through [`opening_headers`] and
//! [`opening_info`] only when the app asks, so an idle socket costs no JS strings for it.
//!
//! An opening is named by one of two values:
//! - while the socket is connected, by its id, a string JS holds anyway: the handshakes of
//!   connected sockets are kept here by id ([`connected`], [`disconnected`]);
//! - before (a connect request) and after (once it disconnected), by an external value that
//!   owns a reference to the handshake ([`to_js`], [`opening`]).
//!
//! Why not an external for every socket's life: an external is a JS object, the reference
//! N-API keeps for its finalizer and a global handle, ~250 bytes a socket (heaptrack and heap
//! snapshots), against ~40 for an entry of the map by id. Why an external and not a `#[napi]`
//! class: a class instance is a JS object, a wrapper object, a property array and two native
//! records (200 bytes a socket more).

// The `#[napi]` functions are registered with Node only outside of test builds, where
// nothing else calls them.
#![cfg_attr(test, allow(dead_code))]

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::c_void;
use std::ptr;
use std::sync::Arc;

use napi::bindgen_prelude::{FromNapiValue, JsValue, Unknown, ValueType};
use napi::{check_status, sys, Env, Error, Status};
use napi_derive::napi;
use rtio::engineio::{Handshake, Headers};

thread_local! {
    /// The handshakes of the sockets connected as JS sees them, by socket id (ids are unique
    /// across namespaces and servers). Added when a socket's connect event is taken for JS;
    /// removed once JS handled the batch its disconnect event came in (see [`settle_openings`]): the
    /// core sends one for every socket it connected, at the latest when it stops. Events are
    /// taken on the JS thread that owns the server, the thread JS reads openings on.
    static CONNECTED: RefCell<HashMap<Arc<str>, Arc<Handshake>>> = RefCell::new(HashMap::new());

    /// Sockets whose disconnect event was taken: JS may still name them by id while it
    /// handles the events before it in the same batch.
    static LEFT: RefCell<Vec<Arc<str>>> = const { RefCell::new(Vec::new()) };

    /// The handshakes JS holds as externals, with how many externals hold each (the sockets
    /// of one connection share its handshake). A pointer read from an external is used only
    /// when it is here: any other external passed in is refused, never dereferenced.
    /// Externals are made and finalized on the JS thread that owns them.
    static HELD: RefCell<HashMap<usize, u32>> = RefCell::new(HashMap::new());
}

/// The external value for `handshake`: it owns one strong reference, released by its
/// finalizer when JS lets go of it.
///
/// # Safety
/// `env` must be the env of the current JS call (on the JS thread).
pub(crate) unsafe fn to_js(
    env: sys::napi_env,
    handshake: Arc<Handshake>,
) -> napi::Result<sys::napi_value> {
    let data = Arc::into_raw(handshake) as *mut c_void;
    let mut value = ptr::null_mut();
    let created = check_status!(sys::napi_create_external(
        env,
        data,
        Some(release),
        ptr::null_mut(),
        &mut value,
    ));
    if let Err(e) = created {
        drop(Arc::from_raw(data as *const Handshake));
        return Err(e);
    }
    HELD.with(|held| *held.borrow_mut().entry(data as usize).or_insert(0) += 1);
    Ok(value)
}

/// Finalizer of an opening's external: forgets it and drops its reference.
unsafe extern "C" fn release(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    HELD.with(|held| {
        let mut held = held.borrow_mut();
        if let Some(count) = held.get_mut(&(data as usize)) {
            *count -= 1;
            if *count == 0 {
                held.remove(&(data as usize));
            }
        }
    });
    drop(Arc::from_raw(data as *const Handshake));
}

/// Records the handshake of a socket that connected (its connect event is being taken).
pub(crate) fn connected(sid: Arc<str>, handshake: Arc<Handshake>) {
    CONNECTED.with(|c| c.borrow_mut().insert(sid, handshake));
}

/// The handshake of a socket that disconnected (its disconnect event is being taken), for
/// the event to carry; its id names it until [`settle_openings`].
pub(crate) fn disconnected(sid: &Arc<str>) -> Option<Arc<Handshake>> {
    let handshake = connected_handshake(sid);
    if handshake.is_some() {
        LEFT.with(|left| left.borrow_mut().push(sid.clone()));
    }
    handshake
}

/// The handshake of the connected socket `sid`, if it is one.
fn connected_handshake(sid: &str) -> Option<Arc<Handshake>> {
    CONNECTED.with(|c| c.borrow().get(sid).cloned())
}

/// Forgets the sockets whose disconnect events JS has handled: called before a batch is
/// taken (JS handled the one before, each batch being one synchronous call), and by JS when
/// the last batch of a server was handled.
#[napi]
pub fn settle_openings() {
    let left = LEFT.with(|left| std::mem::take(&mut *left.borrow_mut()));
    if left.is_empty() {
        return;
    }
    CONNECTED.with(|c| {
        let mut connected = c.borrow_mut();
        for sid in &left {
            connected.remove(sid);
        }
    });
}

/// The opening of the connected socket `sid` as an external value, for a socket JS closes
/// before its disconnect event is handled (after which its id names nothing); `null`
/// when `sid` names no connected socket.
#[napi]
pub fn opening(env: &Env, sid: String) -> napi::Result<Option<Unknown<'_>>> {
    let Some(handshake) = connected_handshake(&sid) else {
        return Ok(None);
    };
    // SAFETY: `env` is the env of this call, on the JS thread.
    let value = unsafe { to_js(env.raw(), handshake)? };
    // SAFETY: a live handle made in this call's scope.
    Ok(Some(unsafe {
        Unknown::from_raw_unchecked(env.raw(), value)
    }))
}

/// Calls `f` with the handshake behind `opening`: the id of a connected socket, or an
/// external made by [`to_js`].
fn with_handshake<R>(opening: Unknown, f: impl FnOnce(&Handshake) -> R) -> napi::Result<R> {
    if opening.get_type()? == ValueType::String {
        // SAFETY: a string, checked just above.
        let sid = unsafe { String::from_napi_value(opening.value().env, opening.value().value)? };
        if let Some(handshake) = connected_handshake(&sid) {
            return Ok(f(&handshake));
        }
        return Err(not_an_opening());
    }
    let value = opening.value();
    let mut data = ptr::null_mut();
    // SAFETY: `value` is a live handle of this call; napi checks that it is an external.
    let status = unsafe { sys::napi_get_value_external(value.env, value.value, &mut data) };
    let held = status == sys::Status::napi_ok
        && HELD.with(|held| held.borrow().contains_key(&(data as usize)));
    if !held {
        return Err(not_an_opening());
    }
    // SAFETY: registered in HELD, so an external of ours is alive and owns a reference.
    Ok(f(unsafe { &*(data as *const Handshake) }))
}

fn not_an_opening() -> Error {
    Error::new(
        Status::InvalidArg,
        "expected a socket's opening (socket.handshake's native value)",
    )
}

/// The request headers of an opening: names in lower case, repeated headers joined with
/// `, ` (cookies with `; `), as Node's `IncomingMessage.headers`. A new object on each call.
#[napi]
pub fn opening_headers(opening: Unknown) -> napi::Result<HashMap<String, String>> {
    with_handshake(opening, |h| header_map(&h.headers))
}

/// Headers as Node's `IncomingMessage.headers` has them: names in lower case, repeated
/// headers joined with `, ` (cookies with `; `).
pub(crate) fn header_map(headers: &Headers) -> HashMap<String, String> {
    let mut map: HashMap<String, String> = HashMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        let value = String::from_utf8_lossy(value);
        match map.get_mut(name) {
            Some(existing) => {
                existing.push_str(if name == "cookie" { "; " } else { ", " });
                existing.push_str(&value);
            }
            None => {
                map.insert(name.to_string(), value.into_owned());
            }
        }
    }
    map
}

/// What a socket shows of its connection besides the headers.
#[napi(object, object_from_js = false)]
pub struct OpeningInfo {
    /// Identifies the underlying connection (equal for the sockets of one connection).
    pub conn: f64,
    /// The peer's IP address.
    pub address: String,
    /// The peer's port.
    pub remote_port: u32,
    /// The raw query string of the opening request.
    pub query: String,
    /// When the connection opened, in milliseconds since the Unix epoch.
    pub issued: f64,
    /// The opening request came over TLS (socket.io's `handshake.secure`).
    pub secure: bool,
}

/// The address, port, query, time and TLS of an opening. A new object on each call.
#[napi]
pub fn opening_info(opening: Unknown) -> napi::Result<OpeningInfo> {
    with_handshake(opening, |h| OpeningInfo {
        conn: h as *const Handshake as usize as f64,
        address: h.remote_addr.ip().to_string(),
        remote_port: u32::from(h.remote_addr.port()),
        query: h.query.clone(),
        issued: h.issued_ms as f64,
        secure: h.secure,
    })
}
