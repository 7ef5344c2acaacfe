//! The dedicated runtime thread: owns a tokio runtime, binds the listener, accepts
//! connections, and shuts everything down in bounded time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::engineio::{CloseReason, Engine, EngineHandler};
use crate::http;
use crate::tls::{Conn, Tls};
use crate::Error;

/// How long stopping waits for queued frames to reach clients before closing hard.
const DRAIN_ON_STOP: Duration = Duration::from_millis(1000);

/// Pending connections the kernel queues before `accept` (tokio's default is 128, which
/// drops SYNs in connect storms; Node uses 511).
const LISTEN_BACKLOG: u32 = 1024;

/// Binds like `TcpListener::bind` (name resolution, first address that works) with a larger
/// listen backlog.
async fn bind(addr: &str) -> std::io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|_| socket.listen(LISTEN_BACKLOG)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "no address to bind")
    }))
}

/// A running server thread.
pub(crate) struct RuntimeThread {
    thread: Option<JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
    pub(crate) addr: SocketAddr,
    /// The listener's TLS settings (`Config::tls`), replaceable while it runs.
    pub(crate) tls: Option<Arc<Tls>>,
}

impl RuntimeThread {
    /// Starts the thread; `make` builds the handler once the runtime exists. Returns once
    /// the listener is bound, or with the bind error.
    pub(crate) fn start<H, M>(
        config: Arc<Config>,
        make: M,
    ) -> Result<(RuntimeThread, Arc<Engine<H>>), Error>
    where
        H: EngineHandler,
        M: FnOnce(tokio::runtime::Handle) -> H + Send + 'static,
    {
        let tls = match &config.tls {
            Some(files) => Some(Arc::new(Tls::new(files)?)),
            None => None,
        };
        let listener_tls = tls.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rtio-runtime".into())
            .spawn(move || {
                let mut builder = tokio::runtime::Builder::new_multi_thread();
                builder.enable_all().thread_name("rtio-io");
                if config.worker_threads > 0 {
                    builder.worker_threads(config.worker_threads);
                }
                let rt = match builder.build() {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Io(e.to_string())));
                        return;
                    }
                };
                rt.block_on(async move {
                    // Embedded in the host's server: no listener, requests come through
                    // `crate::intake`.
                    let listener = if config.listen {
                        let addr = format!("{}:{}", config.host, config.port);
                        match bind(&addr).await {
                            Ok(l) => Some(l),
                            Err(e) => {
                                let _ = ready_tx.send(Err(Error::Bind(format!("{addr}: {e}"))));
                                return;
                            }
                        }
                    } else {
                        None
                    };
                    let local = match listener.as_ref().map(TcpListener::local_addr) {
                        Some(Ok(a)) => a,
                        None => SocketAddr::from(([0, 0, 0, 0], 0)),
                        Some(Err(e)) => {
                            let _ = ready_tx.send(Err(Error::Bind(e.to_string())));
                            return;
                        }
                    };
                    let handler = make(tokio::runtime::Handle::current());
                    let engine = Engine::new(config, handler, tokio::runtime::Handle::current());
                    if let Err(e) = engine.handler().ready().await {
                        let _ = ready_tx.send(Err(Error::Io(e)));
                        return;
                    }
                    if ready_tx.send(Ok((local, engine.clone()))).is_err() {
                        return;
                    }
                    let tls = listener_tls.as_ref();
                    accept_loop(&engine, listener.as_ref(), tls, async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
                    engine.close_all(CloseReason::ServerShutdown);
                    // Keep accepting while sessions drain: a polling client between two
                    // requests still collects its disconnect and close packets.
                    let drained = async {
                        while engine.draining_count() > 0 {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    let _ = tokio::time::timeout(DRAIN_ON_STOP, async {
                        tokio::select! {
                            _ = drained => {}
                            _ = accept_loop(&engine, listener.as_ref(), tls, std::future::pending::<()>()) => {}
                        }
                    })
                    .await;
                    engine.handler().on_stop().await;
                });
                rt.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(|e| Error::Io(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok((addr, engine))) => Ok((
                RuntimeThread {
                    thread: Some(thread),
                    shutdown: Some(shutdown_tx),
                    addr,
                    tls,
                },
                engine,
            )),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::Io("runtime thread exited during start".into()))
            }
        }
    }

    /// Stops accepting, closes every session and joins the thread.
    pub(crate) fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn accept_loop<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    listener: Option<&TcpListener>,
    tls: Option<&Arc<Tls>>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let Some(listener) = listener else {
        // (no listener: only the shutdown to wait for)
        return shutdown.await;
    };
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => match tls {
                    None => {
                        tokio::spawn(http::serve_connection(engine.clone(), Conn::Plain(stream), remote));
                    }
                    Some(tls) => {
                        let (engine, tls) = (engine.clone(), tls.clone());
                        tokio::spawn(async move {
                            if let Some(conn) = tls.accept(stream).await {
                                http::serve_connection(engine, conn, remote).await;
                            }
                        });
                    }
                },
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    eprintln!("rtio: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}
