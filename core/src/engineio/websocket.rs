//! The WebSocket transport: fresh WebSocket sessions and upgrades from long-polling.
//!
//! Each WebSocket runs as one task that both reads and writes: reading hands packets to the
//! engine in order; writing drains the session's queue, feeds every frame, and flushes once.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tungstenite::handshake::derive_accept_key;

use super::deflate;
use super::engine::{random_id, EioError, Engine, EngineHandler, Entry};
use super::packet::{self, Frame, Packet};
use super::session::{CloseReason, Handshake, Protocol, Transport};
use super::v3;
use super::ws_conn::{Message, ReadEnd, WsConn};
use crate::http::Body;
use crate::tls::Conn;

/// The WebSocket runs on the bare connection (TCP, or TLS over it): hyper's upgrade wrapper
/// (and the HTTP read buffer it keeps alive) is dropped, which saves several KiB per idle
/// connection.
type Ws = WsConn<Conn>;

/// How long closing a connection may wait for the client to take the last frames: a client
/// that stopped reading must not keep its connection's memory for good.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// True when the request asks to switch to WebSocket.
pub(crate) fn is_upgrade_request<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Answers 101, then, in a new task, runs `prepare` on the upgraded stream: it returns the
/// session the WebSocket now carries, or `None` when there is nothing to serve.
///
/// Serving that session (`run`) is spawned as a task of its own: the preparing future holds
/// the request, the upgrade and the handshake, several KiB that an idle connection would
/// otherwise keep for its whole life inside one task.
fn switch<H, B, F, Fut>(engine: &Arc<Engine<H>>, mut req: Request<B>, prepare: F) -> Response<Body>
where
    H: EngineHandler,
    B: Send + 'static,
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<(Arc<Entry<H::Conn>>, Ws)>> + Send + 'static,
{
    let accept = match accept_key(&req) {
        Ok(accept) => accept,
        Err(refused) => return refused.response(),
    };
    let max_message = engine.config.max_payload;
    let deflate = engine.config.per_message_deflate.and_then(|_| {
        let offers = req.headers().get(header::SEC_WEBSOCKET_EXTENSIONS)?;
        deflate::negotiate(offers.to_str().ok()?)
    });
    let engine2 = engine.clone();
    let adopted = req.extensions_mut().remove::<Adopted>();
    engine.rt.spawn(async move {
        let connection = match adopted {
            Some(adopted) => adopted.connection().await,
            None => upgraded(req).await,
        };
        let Some((io, early)) = connection else {
            return;
        };
        let ws = WsConn::new(io, early, max_message).with_deflate(deflate);
        if let Some((entry, ws)) = prepare(ws).await {
            let engine = engine2.clone();
            // Boxed: inline, the connection would enlarge the task past its allocation step
            // (see `run`).
            let ws = Box::new(ws);
            engine2.rt.spawn(run(engine, entry, ws));
        }
    });
    let mut answer = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(deflate) = deflate {
        answer = answer.header(header::SEC_WEBSOCKET_EXTENSIONS, deflate.header());
    }
    answer
        .body(Full::new(Bytes::new()))
        .expect("static response")
}

/// The connection under an upgraded request of rtio's own listener, with what the client
/// sent after the handshake (hyper read it already).
async fn upgraded<B>(mut req: Request<B>) -> Option<(Conn, Vec<u8>)> {
    let upgraded = hyper::upgrade::on(&mut req).await;
    // The request (and hyper's buffer its head lives in) is not needed any more.
    drop(req);
    // Our connections are always TokioIo<Conn> (see http::serve_connection).
    let hyper::upgrade::Parts { io, read_buf, .. } =
        upgraded.ok()?.downcast::<TokioIo<Conn>>().ok()?;
    // Copy what the client sent early and release hyper's read buffer with it.
    let early = read_buf.to_vec();
    drop(read_buf);
    Some((io.into_inner(), early))
}

/// The connection of a WebSocket handshake a host handed over ([`crate::Io::adopt_websocket`]),
/// carried in the request's extensions: it arrives once the host's side wrote the
/// handshake's answer (and never when the answer was a refusal).
#[derive(Clone)]
pub(crate) struct Adopted(pub(crate) Arc<parking_lot::Mutex<Option<AdoptedConnection>>>);

/// The adopted connection and the bytes the client sent after its handshake.
pub(crate) type AdoptedConnection = tokio::sync::oneshot::Receiver<(TcpStream, Vec<u8>)>;

impl Adopted {
    async fn connection(self) -> Option<(Conn, Vec<u8>)> {
        let receiver = self.0.lock().take()?;
        let (stream, early) = receiver.await.ok()?;
        Some((Conn::Plain(stream), early))
    }
}

/// Why an opening handshake is refused.
enum BadHandshake {
    /// `Sec-WebSocket-Version` is missing or not 13.
    Version,
    /// `Sec-WebSocket-Key` is missing or not 16 bytes in base64.
    Key,
}

impl BadHandshake {
    /// 400, with `Sec-WebSocket-Version: 13` when the version is the problem (RFC 6455
    /// §4.2.2).
    fn response(self) -> Response<Body> {
        let mut refused = EioError::BadRequest.response();
        if let BadHandshake::Version = self {
            refused.headers_mut().insert(
                header::SEC_WEBSOCKET_VERSION,
                header::HeaderValue::from_static("13"),
            );
        }
        refused
    }
}

/// The `Sec-WebSocket-Accept` value for a valid opening handshake (RFC 6455 §4.2.1).
fn accept_key<B>(req: &Request<B>) -> Result<String, BadHandshake> {
    let version = req.headers().get(header::SEC_WEBSOCKET_VERSION);
    if version.is_none_or(|v| v.as_bytes() != b"13") {
        return Err(BadHandshake::Version);
    }
    // The key is 16 random bytes in base64: 22 characters and `==`.
    match req.headers().get(header::SEC_WEBSOCKET_KEY) {
        Some(key)
            if key.len() == 24
                && key.as_bytes().ends_with(b"==")
                && key.as_bytes()[..22]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/') =>
        {
            Ok(derive_accept_key(key.as_bytes()))
        }
        _ => Err(BadHandshake::Key),
    }
}

/// A WebSocket for a session that already upgrades or did: like engine.io ("transport
/// had already been upgraded"), the handshake completes and the connection is closed at
/// once; the session carries on untouched.
pub(crate) fn refuse_duplicate<H: EngineHandler, B: Send + 'static>(
    engine: &Arc<Engine<H>>,
    req: Request<B>,
) -> Response<Body> {
    switch(engine, req, |mut ws| async move {
        let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(None)).await;
        None
    })
}

/// A WebSocket connection without a prior polling handshake: opens a session on it.
pub(crate) fn accept_fresh<H: EngineHandler, B: Send + 'static>(
    engine: &Arc<Engine<H>>,
    req: Request<B>,
    handshake: Handshake,
    protocol: Protocol,
    cross_origin: bool,
) -> Response<Body> {
    let engine2 = engine.clone();
    // (engine.io sets no session cookie on a fresh WebSocket's 101: neither does rtio)
    switch(engine, req, move |mut ws| async move {
        let entry = engine2.open(
            random_id(),
            handshake,
            protocol,
            Transport::WebSocket,
            cross_origin,
        );
        ws.set_eio3(protocol != Protocol::V4);
        let open = engine2.open_packet(&entry.session);
        if ws.send(&[Frame::Text(open.into())]).await.is_err() {
            engine2.close(&entry, CloseReason::TransportError);
            return None;
        }
        Some((entry, ws))
    })
}

/// A WebSocket that upgrades an existing polling session (`2probe`, `3probe`, `5`).
pub(crate) fn accept<H: EngineHandler, B: Send + 'static>(
    engine: &Arc<Engine<H>>,
    req: Request<B>,
    entry: Arc<Entry<H::Conn>>,
) -> Response<Body> {
    let timeout = engine.config.upgrade_timeout;
    let mut claim = Claim(Some(entry.clone()));
    switch(engine, req, move |mut ws| async move {
        ws.set_eio3(entry.session.protocol != Protocol::V4);
        match tokio::time::timeout(timeout, probe(&entry, &mut ws)).await {
            Ok(Ok(())) => {
                claim.0.take();
                entry.session.set_transport(Transport::WebSocket);
                Some((entry, ws))
            }
            _ => {
                // A failed upgrade closes only the probe; polling carries on.
                drop(claim);
                let _ = tokio::time::timeout(CLOSE_WAIT, ws.close(None)).await;
                None
            }
        }
    })
}

/// A session's claim on its upgrade, released when dropped before the upgrade completed
/// (a failed probe, a refused or failed handshake), so that a later WebSocket may try.
struct Claim<C>(Option<Arc<Entry<C>>>);

impl<C> Drop for Claim<C> {
    fn drop(&mut self) {
        if let Some(entry) = self.0.take() {
            entry.session.release_upgrade();
        }
    }
}

async fn probe<C>(entry: &Entry<C>, ws: &mut Ws) -> Result<(), ()> {
    loop {
        let Message::Text(text) = ws.recv().await.map_err(|_| ())? else {
            continue;
        };
        match packet::decode_text(text) {
            Ok(Packet::Ping(data)) if &data[..] == b"probe" => {
                ws.send(&[Frame::Text("3probe".into())])
                    .await
                    .map_err(|_| ())?;
                entry.session.set_upgrading();
            }
            Ok(Packet::Upgrade) if entry.session.upgrading() => return Ok(()),
            Ok(Packet::Noop) => {}
            _ => return Err(()),
        }
    }
}

async fn write_pending<C>(entry: &Entry<C>, ws: &mut Ws) -> std::io::Result<()> {
    let frames = entry.session.drain();
    if frames.is_empty() {
        return Ok(());
    }
    ws.send(&frames).await
}

/// How serving a WebSocket ended: what is left to send before the connection goes.
enum End {
    /// Nothing but what is gathered: the client closed (its close frame is answered), or
    /// the socket failed.
    Gone,
    /// The session was closed on our side: a close frame (Engine.IO sends no status code,
    /// clients see 1005).
    Closed,
    /// A WebSocket protocol violation or a message over the size limit: close frame with
    /// this code and reason.
    Violation(u16, &'static str),
    /// A protocol error: flush what is queued (e.g. a disconnect packet), then close.
    Failed,
}

/// Serves a session over WebSocket until either side closes it: the per-connection task.
///
/// tokio allocates a task with its header in 128-byte steps, and an idle connection's task
/// keeps what lives across its await for the connection's whole life, so that is kept to
/// the arguments and the wait for work (256 bytes in all): `run` and `serve` are functions
/// returning an `async move` block, which uses what it captured in place (an `async fn`
/// also copies its parameters into locals of its own); a received message is handed to a
/// boxed future before anything is awaited; rare and large futures are boxed.
fn run<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    entry: Arc<Entry<H::Conn>>,
    mut ws: Box<Ws>,
) -> impl Future<Output = ()> + Send {
    let engine = Counted::new(engine);
    async move {
        let end = serve(&engine.0, &entry, &mut ws).await;
        // Boxed: the closing futures exist once per connection, at its end.
        Box::pin(finish(&entry, &mut ws, end)).await;
        engine.0.remove(&entry);
    }
}

/// The engine, with this task counted among its running WebSockets until it is dropped,
/// however the task ends.
struct Counted<H: EngineHandler>(Arc<Engine<H>>);

impl<H: EngineHandler> Counted<H> {
    fn new(engine: Arc<Engine<H>>) -> Self {
        engine
            .websockets
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Counted(engine)
    }
}

impl<H: EngineHandler> Drop for Counted<H> {
    fn drop(&mut self) {
        self.0
            .websockets
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Reads and writes until the session ends.
#[allow(clippy::manual_async_fn)] // an `async fn` would keep its parameters twice (see `run`)
fn serve<'a, H: EngineHandler>(
    engine: &'a Arc<Engine<H>>,
    entry: &'a Arc<Entry<H::Conn>>,
    ws: &'a mut Ws,
) -> impl Future<Output = End> + Send + 'a {
    async move {
        loop {
            // The message is moved into the handler's future inside this block: nothing
            // of it is kept across the awaits below.
            let handled = {
                let received = tokio::select! {
                    biased;
                    _ = entry.session.ws_wake.wait() => None,
                    read = ws.recv() => Some(packet_of(read, entry.session.protocol)),
                };
                match received {
                    None => None,
                    // Boxed: the handler's future is large and only exists while a message
                    // is handled.
                    Some(Received::Packet(p)) => Some(Box::pin(engine.on_packet(entry, p))),
                    Some(Received::End(reason, end)) => {
                        engine.close(entry, reason);
                        return end;
                    }
                }
            };
            match handled {
                Some(handled) => {
                    if let Err(reason) = handled.await {
                        engine.close(entry, reason);
                        return End::Failed;
                    }
                }
                None => {
                    if Box::pin(write_pending(entry, ws)).await.is_err() {
                        engine.close(entry, CloseReason::TransportError);
                        return End::Gone;
                    }
                    if entry.session.is_closed() {
                        return End::Closed;
                    }
                }
            }
        }
    }
}

/// What a WebSocket message means for the session.
enum Received {
    /// An Engine.IO packet to handle.
    Packet(Packet),
    /// The session ends for this reason, and the connection as `End` says.
    End(CloseReason, End),
}

fn packet_of(read: Result<Message, ReadEnd>, protocol: Protocol) -> Received {
    let decoded = match read {
        Ok(Message::Text(text)) => packet::decode_text(text),
        Ok(Message::Binary(b)) if protocol != Protocol::V4 => v3::decode_binary_message(b),
        Ok(Message::Binary(b)) => Ok(Packet::Binary(b)),
        Err(end) => return ended(end),
    };
    match decoded {
        Ok(p) => Received::Packet(p),
        Err(_) => Received::End(CloseReason::ParseError, End::Failed),
    }
}

fn ended(end: ReadEnd) -> Received {
    match end {
        ReadEnd::Closed => Received::End(CloseReason::TransportClose, End::Gone),
        ReadEnd::Violation(code, why) => {
            Received::End(CloseReason::TransportError, End::Violation(code, why))
        }
    }
}

/// Sends what `end` calls for before the connection goes, waiting at most `CLOSE_WAIT`.
async fn finish<C>(entry: &Entry<C>, ws: &mut Ws, end: End) {
    let closing = async {
        match end {
            End::Gone => ws.shutdown().await,
            End::Closed => ws.close(None).await,
            End::Violation(code, why) => {
                ws.close(Some((code, why))).await;
                // What the client is still sending (the rest of a message over the limit)
                // is read and dropped: closing with it unread would reset the connection,
                // and the reset can destroy the close frame before the client reads it.
                ws.discard_input().await;
            }
            End::Failed => {
                let _ = write_pending(entry, ws).await;
                ws.close(None).await;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, closing).await;
}
