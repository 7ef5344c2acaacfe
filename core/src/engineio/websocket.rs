//! The WebSocket transport: fresh WebSocket sessions and upgrades from long-polling.
//!
//! Each WebSocket runs as one task that both reads and writes: reading hands packets to the
//! engine in order; writing drains the session's queue, feeds every frame, and flushes once.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{header, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use super::engine::{EioError, Engine, EngineHandler, Entry};
use super::lean_stream::LeanStream;
use super::packet::{self, Frame, Packet};
use super::session::{CloseReason, Handshake, Transport};
use crate::http::Body;

/// The WebSocket runs on the bare TCP stream: hyper's upgrade wrapper (and the HTTP read
/// buffer it keeps alive) is dropped, which saves several KiB per idle connection. Writes
/// are gathered until the writer flushes and reads taken in chunks (`LeanStream`): a drained
/// queue leaves in one send.
type Ws = WebSocketStream<LeanStream<TcpStream>>;

/// tungstenite's read buffer, allocated for the connection's whole life: 256 bytes, so an
/// idle connection is cheap (it was 4 KiB, most of an idle connection's memory). tungstenite
/// asks for at most this much per read; `LeanStream` serves those reads from one `recv()` of
/// up to 16 KiB, so small reads cost no syscalls.
const READ_BUFFER: usize = 256;

/// True when the request asks to switch to WebSocket.
pub(crate) fn is_upgrade_request(req: &Request<Incoming>) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

fn ws_config(max_payload: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        // tungstenite hands each frame to the stream at once; `LeanStream` gathers them.
        .write_buffer_size(0)
        .max_message_size(Some(max_payload))
        .max_frame_size(Some(max_payload))
}

/// Answers 101, then, in a new task, runs `prepare` on the upgraded stream: it returns the
/// session the WebSocket now carries, or `None` when there is nothing to serve.
///
/// Serving that session (`run`) is spawned as a task of its own: the preparing future holds
/// the request, the upgrade and the handshake, several KiB that an idle connection would
/// otherwise keep for its whole life inside one task.
fn switch<H, F, Fut>(
    engine: &Arc<Engine<H>>,
    mut req: Request<Incoming>,
    prepare: F,
) -> Response<Body>
where
    H: EngineHandler,
    F: FnOnce(Ws) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Option<(Arc<Entry<H::Conn>>, Ws)>> + Send + 'static,
{
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY) else {
        return EioError::BadRequest.response();
    };
    let accept = derive_accept_key(key.as_bytes());
    let config = ws_config(engine.config.max_payload);
    let engine2 = engine.clone();
    engine.rt.spawn(async move {
        let upgraded = hyper::upgrade::on(&mut req).await;
        // The request (and hyper's buffer its head lives in) is not needed any more.
        drop(req);
        let Ok(upgraded) = upgraded else {
            return;
        };
        // Our connections are always TokioIo<TcpStream> (see http::serve_connection).
        let Ok(hyper::upgrade::Parts { io, read_buf, .. }) =
            upgraded.downcast::<TokioIo<TcpStream>>()
        else {
            return;
        };
        // Copy what the client sent early and release hyper's read buffer with it.
        let early = read_buf.to_vec();
        drop(read_buf);
        let stream = LeanStream::new(io.into_inner());
        let ws = if early.is_empty() {
            WebSocketStream::from_raw_socket(stream, Role::Server, Some(config)).await
        } else {
            WebSocketStream::from_partially_read(stream, early, Role::Server, Some(config)).await
        };
        if let Some((entry, ws)) = prepare(ws).await {
            let engine = engine2.clone();
            // Boxed: the future would otherwise hold the stream more than once (each async
            // fn keeps its argument beside the moved copy), several hundred bytes each.
            let ws = Box::new(ws);
            engine2.rt.spawn(run(engine, entry, ws));
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Full::new(Bytes::new()))
        .expect("static response")
}

/// A WebSocket connection without a prior polling handshake: opens a session on it.
pub(crate) fn accept_fresh<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    req: Request<Incoming>,
    handshake: Handshake,
) -> Response<Body> {
    let engine2 = engine.clone();
    switch(engine, req, move |mut ws| async move {
        let entry = engine2.open(handshake, Transport::WebSocket);
        let open = engine2.open_packet(&entry.session);
        if send_frames(&mut ws, &[Frame::Text(open.into())])
            .await
            .is_err()
        {
            engine2.close(&entry, CloseReason::TransportError);
            return None;
        }
        Some((entry, ws))
    })
}

/// A WebSocket that upgrades an existing polling session (`2probe`, `3probe`, `5`).
pub(crate) fn accept<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    req: Request<Incoming>,
    entry: Arc<Entry<H::Conn>>,
) -> Response<Body> {
    let timeout = engine.config.upgrade_timeout;
    switch(engine, req, move |mut ws| async move {
        match tokio::time::timeout(timeout, probe(&entry, &mut ws)).await {
            Ok(Ok(())) => {
                entry.session.set_transport(Transport::WebSocket);
                Some((entry, ws))
            }
            _ => {
                // A failed upgrade closes only the probe; polling carries on.
                let _ = ws.close(None).await;
                None
            }
        }
    })
}

async fn probe<C>(entry: &Entry<C>, ws: &mut Ws) -> Result<(), ()> {
    while let Some(msg) = ws.next().await {
        let WsMessage::Text(text) = msg.map_err(|_| ())? else {
            continue;
        };
        match packet::decode_text(&Bytes::from(text)) {
            Ok(Packet::Ping(data)) if &data[..] == b"probe" => {
                ws.send(WsMessage::Text("3probe".into()))
                    .await
                    .map_err(|_| ())?;
                entry.session.set_upgrading();
            }
            Ok(Packet::Upgrade) if entry.session.upgrading() => return Ok(()),
            Ok(Packet::Noop) => {}
            _ => return Err(()),
        }
    }
    Err(())
}

/// The header of a final, unmasked data frame (RFC 6455 §5.2: what a server sends) of `len`
/// payload bytes, into `out`; returns its length.
fn data_frame_header(opcode: u8, len: usize, out: &mut [u8; 10]) -> usize {
    out[0] = 0x80 | opcode; // FIN, no extensions
    if len < 126 {
        out[1] = len as u8;
        2
    } else if let Ok(len) = u16::try_from(len) {
        out[1] = 126;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        4
    } else {
        out[1] = 127;
        out[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        10
    }
}

/// Sends `frames` as WebSocket data frames and flushes: they leave in one `send()`.
///
/// Data frames are written straight into the stream, not through tungstenite's writer:
/// tungstenite formats each frame into a buffer of its own, which then keeps the capacity of
/// the largest frame the connection ever sent for the connection's whole life (a broadcast of
/// 1 MiB to 10,000 clients would keep 10 GiB), and costs a copy of every payload. Only
/// tungstenite's control frames (close, pong) still go through it; the flush writes those too.
async fn send_frames(ws: &mut Ws, frames: &[Frame]) -> Result<(), WsError> {
    let stream = ws.get_mut();
    for frame in frames {
        let (opcode, payload): (u8, &[u8]) = match frame {
            Frame::Text(text) => (0x1, text.as_bytes()),
            Frame::Binary(bytes) => (0x2, bytes),
        };
        let mut header = [0u8; 10];
        let n = data_frame_header(opcode, payload.len(), &mut header);
        stream.write_all(&header[..n]).await?;
        stream.write_all(payload).await?;
    }
    ws.flush().await
}

async fn write_pending<C>(entry: &Entry<C>, ws: &mut Ws) -> Result<(), WsError> {
    let frames = entry.session.drain();
    if frames.is_empty() {
        return Ok(());
    }
    send_frames(ws, &frames).await
}

/// How serving a WebSocket ended: what is left to send before the connection goes.
enum End {
    /// Nothing (the peer is gone, or the socket failed).
    Gone,
    /// The session was closed on our side: a close frame (Engine.IO sends no status code,
    /// clients see 1005).
    Closed,
    /// A message over the size limit: close frame 1009.
    TooBig,
    /// A protocol error: flush what is queued (e.g. a disconnect packet), then close.
    Failed,
}

/// Serves a session over WebSocket until either side closes it. Spawned as it is (owning
/// its arguments, no wrapping block that would keep a second copy of them): its future is
/// the per-connection task, allocated in 128-byte steps, and now fits in 384 bytes (512
/// before).
async fn run<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    entry: Arc<Entry<H::Conn>>,
    mut ws: Box<Ws>,
) {
    /// Counts this task as running until it ends, however it ends.
    struct Running<'a>(&'a std::sync::atomic::AtomicUsize);
    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
    engine
        .websockets
        .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    let _running = Running(&engine.websockets);
    let end = serve(&engine, &entry, &mut ws).await;
    // Boxed: the closing futures exist once per connection, at its end; inline they would
    // enlarge every idle connection's task.
    Box::pin(finish(&entry, &mut ws, end)).await;
    engine.remove(&entry);
}

/// Reads and writes until the session ends.
async fn serve<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    entry: &Arc<Entry<H::Conn>>,
    ws: &mut Ws,
) -> End {
    let s = &entry.session;
    loop {
        // What is alive across an await is stored in this task for the connection's life:
        // the select's output and the message are gone before anything is awaited, so an
        // idle connection's task keeps only the wait itself.
        let received = tokio::select! {
            biased;
            _ = s.ws_wake.notified() => None,
            msg = ws.next() => Some(packet_of(msg)),
        };
        let Some(received) = received else {
            if Box::pin(write_pending(entry, ws)).await.is_err() {
                engine.close(entry, CloseReason::TransportError);
                return End::Gone;
            }
            if s.is_closed() {
                return End::Closed;
            }
            continue;
        };
        // Boxed: the handler's future is large and only exists while a message is handled.
        let handled = match received {
            Received::Packet(p) => Box::pin(engine.on_packet(entry, p)),
            Received::Skip => continue,
            Received::End(reason, end) => {
                engine.close(entry, reason);
                return end;
            }
        };
        if let Err(reason) = handled.await {
            engine.close(entry, reason);
            return End::Failed;
        }
    }
}

/// What a WebSocket message means for the session.
enum Received {
    /// An Engine.IO packet to handle.
    Packet(Packet),
    /// Nothing (a ping or pong frame, answered by tungstenite).
    Skip,
    /// The session ends for this reason, and the connection as `End` says.
    End(CloseReason, End),
}

fn packet_of(msg: Option<Result<WsMessage, WsError>>) -> Received {
    match msg {
        Some(Ok(WsMessage::Text(t))) => match packet::decode_text(&Bytes::from(t)) {
            Ok(p) => Received::Packet(p),
            Err(_) => Received::End(CloseReason::ParseError, End::Failed),
        },
        Some(Ok(WsMessage::Binary(b))) => Received::Packet(Packet::Binary(b)),
        Some(Ok(WsMessage::Close(_))) | None => {
            Received::End(CloseReason::TransportClose, End::Gone)
        }
        Some(Ok(_)) => Received::Skip,
        Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
            Received::End(CloseReason::TransportError, End::TooBig)
        }
        Some(Err(_)) => Received::End(CloseReason::TransportError, End::Gone),
    }
}

/// Sends what `end` calls for before the connection goes.
async fn finish<C>(entry: &Entry<C>, ws: &mut Ws, end: End) {
    match end {
        End::Gone => {}
        End::Closed => {
            let _ = ws.close(None).await;
        }
        End::TooBig => {
            let frame = CloseFrame {
                code: CloseCode::Size,
                reason: "message too big".into(),
            };
            let _ = ws.close(Some(frame)).await;
        }
        End::Failed => {
            let _ = write_pending(entry, ws).await;
            let _ = ws.close(None).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::data_frame_header;

    /// The header, then the payload length as a client reads it back (RFC 6455 §5.2).
    fn header(len: usize) -> (Vec<u8>, u64) {
        let mut out = [0u8; 10];
        let n = data_frame_header(0x1, len, &mut out);
        let read = match out[1] {
            126 => u64::from(u16::from_be_bytes([out[2], out[3]])),
            127 => u64::from_be_bytes(out[2..10].try_into().unwrap()),
            short => u64::from(short),
        };
        (out[..n].to_vec(), read)
    }

    #[test]
    fn data_frame_headers_use_the_shortest_length_encoding() {
        assert_eq!(header(0), (vec![0x81, 0], 0));
        assert_eq!(header(125), (vec![0x81, 125], 125));
        assert_eq!(header(126), (vec![0x81, 126, 0, 126], 126));
        assert_eq!(header(65_535), (vec![0x81, 126, 0xff, 0xff], 65_535));
        assert_eq!(header(65_536).0.len(), 10);
        assert_eq!(header(65_536).1, 65_536);
        assert_eq!(header(5_000_000).1, 5_000_000);
        let mut out = [0u8; 10];
        data_frame_header(0x2, 3, &mut out);
        assert_eq!(out[..2], [0x82, 3], "binary opcode, FIN set, no mask bit");
    }
}
