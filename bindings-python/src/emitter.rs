//! `RedisEmitter`: `rtio.RedisManager(url, write_only=True)`'s publisher, on
//! [`rtio_redis::emitter::Emitter`]: pushes into a Socket.IO cluster from a process that
//! serves no clients (a script, a Celery worker).
//!
//! Threads: every call blocks the calling thread until Redis took the message (the GIL is
//! released meanwhile); one emitter may be used from any number of threads, its calls are
//! serialized on its one connection.

use pyo3::exceptions::{PyConnectionError, PyValueError};
use pyo3::prelude::*;
use rtio_redis::emitter::{Emitter, Target};

use crate::convert;
use crate::server::RedisOptions;

fn to_py_err(e: rtio_redis::Error) -> PyErr {
    match e {
        rtio_redis::Error::Redis(m) => PyConnectionError::new_err(format!("Redis: {m}")),
        other => PyValueError::new_err(other.to_string()),
    }
}

fn target(to: Vec<String>, except: Vec<String>) -> Target {
    Target { to, except }
}

/// A publisher into one Socket.IO cluster (internal: use
/// `rtio.RedisManager(url, write_only=True)`).
#[pyclass(frozen, module = "rtio._native")]
pub struct RedisEmitter {
    emitter: Emitter,
}

#[pymethods]
impl RedisEmitter {
    /// Checks the options (a bad URL: `ValueError`); connects on first use.
    #[new]
    fn new(options: RedisOptions) -> PyResult<RedisEmitter> {
        let emitter = Emitter::new(options.adapter_options()?)
            .map_err(|e| PyValueError::new_err(format!("RedisManager: {e}")))?;
        Ok(RedisEmitter { emitter })
    }

    /// Emits `event` with `data` (python-socketio's convention) to the sockets of `nsp` in
    /// any of `to` (all when empty) minus those in any of `exclude`, on every server.
    fn emit(
        &self,
        py: Python<'_>,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        event: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let payload = convert::encode_data(data)?;
        let t = target(to, exclude);
        py.detach(|| self.emitter.emit(nsp, &t, event, &payload))
            .map_err(to_py_err)
    }

    /// Makes the selected sockets join `rooms`.
    fn sockets_join(
        &self,
        py: Python<'_>,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        rooms: Vec<String>,
    ) -> PyResult<()> {
        let t = target(to, exclude);
        py.detach(|| self.emitter.sockets_join(nsp, &t, &rooms))
            .map_err(to_py_err)
    }

    /// Makes the selected sockets leave `rooms`.
    fn sockets_leave(
        &self,
        py: Python<'_>,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        rooms: Vec<String>,
    ) -> PyResult<()> {
        let t = target(to, exclude);
        py.detach(|| self.emitter.sockets_leave(nsp, &t, &rooms))
            .map_err(to_py_err)
    }

    /// Disconnects the selected sockets (with `close_connection`, their connections too).
    fn disconnect_sockets(
        &self,
        py: Python<'_>,
        nsp: &str,
        to: Vec<String>,
        exclude: Vec<String>,
        close_connection: bool,
    ) -> PyResult<()> {
        let t = target(to, exclude);
        py.detach(|| self.emitter.disconnect_sockets(nsp, &t, close_connection))
            .map_err(to_py_err)
    }

    /// Sends `event` with `data` to every server of the cluster (no answer can come).
    fn server_side_emit(
        &self,
        py: Python<'_>,
        nsp: &str,
        event: &str,
        data: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let payload = convert::encode_data(data)?;
        py.detach(|| self.emitter.server_side_emit(nsp, event, &payload))
            .map_err(to_py_err)
    }
}
