//! Python binding of rtio: the native module `rtio._native`.
//!
//! The Python package `rtio` (in `python/rtio/`) builds python-socketio's server API on it;
//! this crate holds what is better done natively: running the server, delivering events
//! (a dispatcher thread that holds the GIL only while handlers run, or a wake-up fd for
//! asyncio), and converting payloads between Python values and JSON + binary attachments.

use pyo3::prelude::*;

pub mod convert;
pub mod emitter;
pub mod server;

/// rtio's native layer (internal: use `rtio.Server` / `rtio.AsyncServer`).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<server::NativeServer>()?;
    m.add_class::<server::Opening>()?;
    m.add_class::<server::PendingRequest>()?;
    m.add_class::<emitter::RedisEmitter>()?;
    m.add("StoppedError", m.py().get_type::<server::StoppedError>())?;
    m.add("CONNECT_REQUEST", server::CONNECT_REQUEST)?;
    m.add("CONNECT", server::CONNECT)?;
    m.add("MESSAGE", server::MESSAGE)?;
    m.add("DISCONNECT", server::DISCONNECT)?;
    m.add("ACK", server::ACK)?;
    m.add("REQUEST", server::REQUEST)?;
    m.add("BROADCAST_ACK", server::BROADCAST_ACK)?;
    m.add("FETCH_SOCKETS", server::FETCH_SOCKETS)?;
    m.add("SERVER_SIDE_EMIT", server::SERVER_SIDE_EMIT)?;
    m.add("SERVER_SIDE_ACK", server::SERVER_SIDE_ACK)?;
    m.add("SERVER_COUNT", server::SERVER_COUNT)?;
    m.add("HTTP_RESPONSE", server::HTTP_RESPONSE)?;
    m.add("WS_ANSWER", server::WS_ANSWER)?;
    m.add("WS_SEND", server::WS_SEND)?;
    m.add("WS_CLOSE", server::WS_CLOSE)?;
    // False while the core's connect requests do not carry the socket id the connection
    // will get (docs/python.md, "Connection refusal").
    m.add("CONNECT_REQUEST_HAS_SID", true)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(server::check_redis, m)?)?;
    m.add_function(wrap_pyfunction!(encode_payload, m)?)?;
    m.add_function(wrap_pyfunction!(decode_payload, m)?)?;
    Ok(())
}

/// `data` (python-socketio convention) as `(json_text, [attachments])`, for tests and
/// debugging.
#[pyfunction]
fn encode_payload(data: &Bound<'_, PyAny>) -> PyResult<(String, Vec<Vec<u8>>)> {
    let (json, atts) = convert::encode_data(data)?.into_parts();
    Ok((json, atts.into_iter().map(|b| b.to_vec()).collect()))
}

/// `(json_text, [attachments])` back to the list of Python arguments.
#[pyfunction]
fn decode_payload<'py>(
    py: Python<'py>,
    json: &str,
    attachments: Vec<Vec<u8>>,
) -> PyResult<Bound<'py, pyo3::types::PyList>> {
    let atts: Vec<bytes::Bytes> = attachments.into_iter().map(Into::into).collect();
    let value = convert::decode_json(py, json, &atts)?;
    value
        .cast_into::<pyo3::types::PyList>()
        .map_err(|_| pyo3::exceptions::PyValueError::new_err("not a JSON array"))
}
