//! The calls JS makes once per event, as plain N-API functions: `ack(sid, id, args, bins)`
//! and `emit(sid, event, args, bins)`, each bound to one server's [`Io`].
//!
//! Why not `#[napi]` methods: napi-rs's generated glue opens a borrow scope for every call
//! (an `Arc<Mutex<…>>` allocation and thread-local bookkeeping) and registers the borrow of
//! `&self`, and reads each string argument with two V8 calls into a new allocation. Measured
//! on this project's machine: ~800 ns for a method taking two strings, against ~100 ns for a
//! plain N-API function — per answered ack, on the JS thread. These functions take no borrow
//! (the `Io` they use is their own clone, freed with the function by a finalizer), read the
//! socket id into a stack buffer, and catch panics so that none crosses into Node.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use napi::bindgen_prelude::{Buffer, FromNapiValue, ToNapiValue, TypeName, ValueType};
use napi::{check_status, sys, Status};
use rtio::{Io, Payload};

use crate::args::JsonArgs;
use crate::{done, invalid, payload};

/// The fast calls of one server, handed to JS as `{ ack, emit }`.
pub struct FastCalls(pub Io);

impl TypeName for FastCalls {
    fn type_name() -> &'static str {
        "{ ack: Function, emit: Function }"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for FastCalls {
    unsafe fn to_napi_value(env: sys::napi_env, calls: Self) -> napi::Result<sys::napi_value> {
        let mut object = ptr::null_mut();
        check_status!(sys::napi_create_object(env, &mut object))?;
        for (name, callback) in [("ack", ack as Callback), ("emit", emit as Callback)] {
            let function = bound_function(env, name, callback, calls.0.clone())?;
            let key = <&str>::to_napi_value(env, name)?;
            check_status!(sys::napi_set_property(env, object, key, function))?;
        }
        Ok(object)
    }
}

type Callback = unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value;

/// A JS function calling `callback` with `io` as its data; `io` is dropped when the function
/// is garbage collected.
unsafe fn bound_function(
    env: sys::napi_env,
    name: &str,
    callback: Callback,
    io: Io,
) -> napi::Result<sys::napi_value> {
    let data = Box::into_raw(Box::new(io)).cast::<c_void>();
    let mut function = ptr::null_mut();
    let created = check_status!(sys::napi_create_function(
        env,
        name.as_ptr().cast(),
        name.len() as isize,
        Some(callback),
        data,
        &mut function,
    ))
    .and_then(|()| {
        // napi_wrap rather than napi_add_finalizer (N-API 5, a feature napi-rs leaves off)
        check_status!(sys::napi_wrap(
            env,
            function,
            data,
            Some(drop_io),
            ptr::null_mut(),
            ptr::null_mut(),
        ))
    });
    if let Err(e) = created {
        drop(Box::from_raw(data.cast::<Io>()));
        return Err(e);
    }
    Ok(function)
}

unsafe extern "C" fn drop_io(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    drop(Box::from_raw(data.cast::<Io>()));
}

/// Runs `body` on the call's first four arguments and the bound `Io`; returns its boolean, or
/// throws its error (or a panic, as an error) into JS.
unsafe fn call(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    body: impl FnOnce(&Io, &[sys::napi_value; 4]) -> napi::Result<bool>,
) -> sys::napi_value {
    let mut argc = 4;
    let mut argv = [ptr::null_mut(); 4];
    let mut data = ptr::null_mut();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        check_status!(sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        ))?;
        // missing arguments are `undefined`: each conversion below then says what it expected
        body(&*data.cast::<Io>(), &argv)
    }));
    let result = match outcome {
        Ok(result) => result,
        Err(_) => Err(napi::Error::new(
            Status::GenericFailure,
            "rtio: internal error (a panic in the native addon)".to_string(),
        )),
    };
    match result.and_then(|sent| bool::to_napi_value(env, sent)) {
        Ok(value) => value,
        Err(e) => {
            napi::JsError::from(e).throw_into(env);
            ptr::null_mut()
        }
    }
}

/// Calls `f` with the string `value` (UTF-8), read into a stack buffer when it is short (a
/// socket id always is).
unsafe fn with_str<R>(
    env: sys::napi_env,
    value: sys::napi_value,
    f: impl FnOnce(&str) -> napi::Result<R>,
) -> napi::Result<R> {
    let mut buf = [0u8; 64];
    let mut len = 0;
    check_status!(sys::napi_get_value_string_utf8(
        env,
        value,
        buf.as_mut_ptr().cast(),
        buf.len(),
        &mut len,
    ))
    .map_err(|_| invalid("expected a string"))?;
    if len + 1 < buf.len() {
        // V8 writes whole characters only: the bytes are UTF-8
        return f(std::str::from_utf8(&buf[..len]).map_err(|e| invalid(e.to_string()))?);
    }
    f(&String::from_napi_value(env, value)?)
}

/// The payload of a call whose third and fourth arguments are `args` and `bins`.
///
/// # Safety
/// `env` and `argv` must be valid handles of the current JS call.
unsafe fn payload_of(env: sys::napi_env, argv: &[sys::napi_value; 4]) -> napi::Result<Payload> {
    payload(
        JsonArgs::from_napi_value(env, argv[2])?,
        Option::<Vec<Buffer>>::from_napi_value(env, argv[3])?,
    )
}

/// `ack(sid, id, args, bins)`: answers a client's ack request. False when the socket is gone.
unsafe extern "C" fn ack(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    call(env, info, |io, argv| {
        let id = f64::from_napi_value(env, argv[1])?;
        let p = payload_of(env, argv)?;
        with_str(env, argv[0], |sid| done(io.ack(sid, id as u64, &p)))
    })
}

/// `emit(sid, event, args, bins)`: sends an event to one socket. False when the socket is gone.
unsafe extern "C" fn emit(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    call(env, info, |io, argv| {
        let event = String::from_napi_value(env, argv[1])?;
        let p = payload_of(env, argv)?;
        with_str(env, argv[0], |sid| done(io.emit(sid, &event, &p)))
    })
}
