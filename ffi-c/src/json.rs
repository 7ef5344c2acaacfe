//! Small JSON readers so a C host needs no JSON library for the common cases.

use std::collections::HashMap;
use std::ffi::{c_char, CString};

use serde_json::value::RawValue;

use crate::error::{arg_str, guard, out_ptr, rtio_status, Failure, FfiResult};

unsafe fn input<'a>(json: *const c_char, len: usize) -> FfiResult<&'a str> {
    if json.is_null() {
        return Err(Failure::new(rtio_status::NullPointer, "json is NULL"));
    }
    std::str::from_utf8(std::slice::from_raw_parts(json as *const u8, len))
        .map_err(|_| Failure::new(rtio_status::InvalidUtf8, "json is not valid UTF-8"))
}

/// The raw JSON text of the value at an RFC 6901 pointer (`""` is the whole document,
/// `"/0/nome"` is field `nome` of the first array item), borrowed from `json`.
fn lookup<'a>(json: &'a str, pointer: &str) -> FfiResult<&'a RawValue> {
    let bad = |m: &str| Failure::new(rtio_status::InvalidJson, m.to_string());
    let mut cur: &'a RawValue = serde_json::from_str(json).map_err(|e| bad(&e.to_string()))?;
    if pointer.is_empty() {
        return Ok(cur);
    }
    let rest = pointer.strip_prefix('/').ok_or_else(|| {
        Failure::new(
            rtio_status::InvalidArgument,
            "a JSON pointer starts with '/'",
        )
    })?;
    for token in rest.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        let text = cur.get().trim_start();
        let next = if text.starts_with('{') {
            let map: HashMap<String, &'a RawValue> =
                serde_json::from_str(cur.get()).map_err(|e| bad(&e.to_string()))?;
            map.get(&token).copied()
        } else if text.starts_with('[') {
            let items: Vec<&'a RawValue> =
                serde_json::from_str(cur.get()).map_err(|e| bad(&e.to_string()))?;
            token
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i).copied())
        } else {
            None
        };
        cur = next.ok_or_else(|| {
            Failure::new(
                rtio_status::NotFound,
                format!("nothing at JSON pointer {pointer:?}"),
            )
        })?;
    }
    Ok(cur)
}

/// Finds the value at JSON pointer `pointer` (RFC 6901: `""` whole document, `"/0/nome"`
/// field `nome` of item 0) in `json` (`len` bytes) and stores a pointer to its JSON text in
/// `*out` and its length in `*out_len`. The result points INTO `json` (not NUL-terminated at
/// the value's end) and lives as long as `json`. `RTIO_STATUS_NOT_FOUND` when nothing is
/// there, `RTIO_STATUS_INVALID_JSON` when `json` is not JSON.
///
/// # Safety
/// `json` `len` readable bytes; `pointer` NUL-terminated; `out`, `out_len` writable.
#[no_mangle]
pub unsafe extern "C" fn rtio_json_get(
    json: *const c_char,
    len: usize,
    pointer: *const c_char,
    out: *mut *const c_char,
    out_len: *mut usize,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let out_len = out_ptr(out_len, "out_len")?;
        let text = input(json, len)?;
        let raw = lookup(text, arg_str(pointer, "pointer")?)?;
        *out = raw.get().as_ptr() as *const c_char;
        *out_len = raw.get().len();
        Ok(())
    })
}

/// Like `rtio_json_get` for a string value: stores a new NUL-terminated copy, unescaped, in
/// `*out`. Free it with `rtio_string_free` (not `free`). `RTIO_STATUS_NOT_FOUND` when the
/// value is missing or not a string.
///
/// # Safety
/// As `rtio_json_get`.
#[no_mangle]
pub unsafe extern "C" fn rtio_json_get_string(
    json: *const c_char,
    len: usize,
    pointer: *const c_char,
    out: *mut *mut c_char,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        *out = std::ptr::null_mut();
        let pointer = arg_str(pointer, "pointer")?;
        let raw = lookup(input(json, len)?, pointer)?;
        let s: String = serde_json::from_str(raw.get()).map_err(|_| {
            Failure::new(
                rtio_status::NotFound,
                format!("the value at {pointer:?} is not a string"),
            )
        })?;
        *out = CString::new(s.replace('\0', ""))
            .unwrap_or_default()
            .into_raw();
        Ok(())
    })
}

/// Like `rtio_json_get` for a number: stores it in `*out`. `RTIO_STATUS_NOT_FOUND` when the
/// value is missing or not a number.
///
/// # Safety
/// As `rtio_json_get`.
#[no_mangle]
pub unsafe extern "C" fn rtio_json_get_number(
    json: *const c_char,
    len: usize,
    pointer: *const c_char,
    out: *mut f64,
) -> rtio_status {
    guard(|| {
        let out = out_ptr(out, "out")?;
        let pointer = arg_str(pointer, "pointer")?;
        let raw = lookup(input(json, len)?, pointer)?;
        *out = serde_json::from_str(raw.get()).map_err(|_| {
            Failure::new(
                rtio_status::NotFound,
                format!("the value at {pointer:?} is not a number"),
            )
        })?;
        Ok(())
    })
}

/// Frees a string rtio allocated for you (`rtio_json_get_string`). NULL is ignored.
///
/// # Safety
/// `s` NULL or a string from rtio not freed before.
#[no_mangle]
pub unsafe extern "C" fn rtio_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}
