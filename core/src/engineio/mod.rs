//! Engine.IO v4, server side: the packet codec, sessions, the long-polling and WebSocket
//! transports and the upgrade between them. Usable on its own through [`EngineHandler`].

pub(crate) mod deflate;
mod engine;
mod gate;
mod lean_stream;
pub mod packet;
mod polling;
mod session;
mod signal;
pub(crate) mod v3;
pub(crate) mod websocket;
pub(crate) mod ws_conn;

pub(crate) use engine::{random_id, EioError, OverTls};
pub use engine::{Engine, EngineHandler, Entry, Message};
pub use gate::{Refusal, RequestAnswer, RequestInfo};
pub use session::{CloseReason, Handshake, Headers, Protocol, Queued, Session, Transport};

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::runtime::RuntimeThread;
use crate::Error;

/// A plain Engine.IO server (no Socket.IO layer) running `H` on its own runtime thread.
/// Dropping it stops the server.
pub struct EngineServer<H: EngineHandler> {
    thread: RuntimeThread,
    engine: Arc<Engine<H>>,
}

impl<H: EngineHandler> EngineServer<H> {
    /// Starts serving `config.path` with the handler `make` builds. The handler's methods
    /// run on the runtime's threads and must not block.
    pub fn start<M>(config: Config, make: M) -> Result<Self, Error>
    where
        M: FnOnce(tokio::runtime::Handle) -> H + Send + 'static,
    {
        let (thread, engine) = RuntimeThread::start(Arc::new(config), make)?;
        Ok(EngineServer { thread, engine })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.thread.addr
    }

    /// The engine, to send to sessions or close them.
    pub fn engine(&self) -> &Arc<Engine<H>> {
        &self.engine
    }

    /// Closes every session and joins the runtime thread.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}
