//! Event arguments from JS to the core, as the JSON array text of a Socket.IO packet.
//!
//! `lib/binary.js` hands over either the text `JSON.stringify` made of the arguments, or,
//! when every argument is a well-formed string, a safe integer, a boolean or null, the
//! arguments array itself, serialized here. The second way exists for speed: V8's
//! `JSON.stringify` escapes a string character by character (about 1 µs for the 200-byte
//! string of an echo, the costliest step of answering an ack), while the string has to be
//! copied out of V8 either way: V8 copies it straight into the JSON, and serde_json escapes
//! it only when it holds a character that needs it.

use std::io::Write;
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValidateNapiValue, ValueType};
use napi::{check_status, sys, Status};
use rtio::socketio::packet::needs_json_escaping;

/// Event arguments as JSON array text, read from the JS value `lib/binary.js` packed them
/// into (see the module docs). Always a JSON array: `JSON.stringify` of an array, or built
/// here.
pub struct JsonArgs(pub String);

impl TypeName for JsonArgs {
    fn type_name() -> &'static str {
        "string | Array<string | number | boolean | null>"
    }

    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ValidateNapiValue for JsonArgs {}

fn type_of(env: sys::napi_env, value: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut kind = 0;
    check_status!(unsafe { sys::napi_typeof(env, value, &mut kind) })?;
    Ok(kind)
}

fn refused(what: &str) -> napi::Error {
    napi::Error::new(
        Status::InvalidArg,
        format!("event arguments: {what} (expected JSON text or an array of strings, safe integers, booleans and nulls)"),
    )
}

/// Appends one simple argument as JSON.
///
/// # Safety
/// `env` and `value` must be valid handles of the current JS call.
unsafe fn push_value(
    env: sys::napi_env,
    value: sys::napi_value,
    json: &mut Vec<u8>,
) -> napi::Result<()> {
    match type_of(env, value)? {
        sys::ValueType::napi_string => push_string(env, value, json)?,
        sys::ValueType::napi_number => {
            let number = f64::from_napi_value(env, value)?;
            // safe integers only: their JSON is their decimal digits, as JSON.stringify writes
            // them (other numbers go through JSON.stringify in JS)
            if number.fract() != 0.0 || number.abs() > 9_007_199_254_740_991.0 {
                return Err(refused("a number that is not a safe integer"));
            }
            // into the buffer, no string of its own: this runs for every ack
            let _ = write!(json, "{}", number as i64);
        }
        sys::ValueType::napi_boolean => {
            let flag = bool::from_napi_value(env, value)?;
            json.extend_from_slice(if flag { b"true" } else { b"false" });
        }
        // JSON.stringify writes null for undefined array elements too
        sys::ValueType::napi_null | sys::ValueType::napi_undefined => {
            json.extend_from_slice(b"null")
        }
        _ => return Err(refused("an object")),
    }
    Ok(())
}

/// Appends the JS string `value` as a JSON string. V8 copies it straight into `json`; it goes
/// through serde_json's escaping only when it holds a character JSON must escape.
///
/// # Safety
/// `env` and `value` must be valid handles of the current JS call, `value` a string.
unsafe fn push_string(
    env: sys::napi_env,
    value: sys::napi_value,
    json: &mut Vec<u8>,
) -> napi::Result<()> {
    let mut len = 0;
    check_status!(sys::napi_get_value_string_utf8(
        env,
        value,
        ptr::null_mut(),
        0,
        &mut len
    ))?;
    json.reserve(len + 3);
    json.push(b'"');
    let start = json.len();
    let mut written = 0;
    // writes at most `len` bytes and a NUL after them, within the reserved capacity
    check_status!(sys::napi_get_value_string_utf8(
        env,
        value,
        json.as_mut_ptr().add(start).cast(),
        len + 1,
        &mut written,
    ))?;
    json.set_len(start + written);
    if needs_json_escaping(&json[start..]) {
        // V8 wrote valid UTF-8 (it replaces what it cannot encode, and the JS side only
        // sends well-formed strings this way), so this copy is exact
        let text = String::from_utf8_lossy(&json[start..]).into_owned();
        json.truncate(start - 1);
        serde_json::to_writer(&mut *json, &text).map_err(|e| refused(&e.to_string()))?;
    } else {
        json.push(b'"');
    }
    Ok(())
}

impl FromNapiValue for JsonArgs {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        if type_of(env, value)? == sys::ValueType::napi_string {
            return Ok(JsonArgs(String::from_napi_value(env, value)?));
        }
        let mut len = 0;
        check_status!(sys::napi_get_array_length(env, value, &mut len))
            .map_err(|_| refused("neither a string nor an array"))?;
        let mut json = Vec::with_capacity(64);
        json.push(b'[');
        for i in 0..len {
            if i > 0 {
                json.push(b',');
            }
            let mut element = ptr::null_mut();
            check_status!(sys::napi_get_element(env, value, i, &mut element))?;
            push_value(env, element, &mut json)?;
        }
        json.push(b']');
        // valid UTF-8: V8's strings, serde_json's escaped ones, ASCII around them
        Ok(JsonArgs(
            String::from_utf8(json).map_err(|e| refused(&e.to_string()))?,
        ))
    }
}
