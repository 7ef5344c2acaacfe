//! WebSockets whose framing the host's server does (ASGI, aiohttp's `WebSocketResponse`):
//! the host passes each message it receives in and sends each message rtio gives it.
//!
//! Each such WebSocket is carried, inside rtio, by a loopback TCP connection: one end is
//! served by the engine exactly like a connection of rtio's own listener (the handshake
//! with its request gate and refusals, the upgrade probe, limits, heartbeats), the other is
//! this module's pump, which frames the host's messages as a client would and turns the
//! engine's frames back into messages for the host. The engine stays one code path for
//! every transport; a bridged message costs two loopback hops more than a direct one,
//! small beside the host's own per-message cost in these servers.

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{HttpRequest, HttpResponse};
use crate::event::Event;
use crate::socketio::Sio;

/// A WebSocket message, either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// What the host tells a bridged WebSocket.
pub(crate) enum FromHost {
    Message(WsMessage),
    /// The host's client went (or the host closes it).
    Close,
}

/// The bridged WebSockets of a server, by id: where the host's messages go.
#[derive(Default)]
pub(crate) struct Bridges(Mutex<HashMap<u64, mpsc::UnboundedSender<FromHost>>>);

impl Bridges {
    pub(crate) fn insert(&self, id: u64) -> mpsc::UnboundedReceiver<FromHost> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.0.lock().insert(id, tx);
        rx
    }

    /// Hands `what` to bridge `id`; false when there is no such bridge (any more).
    pub(crate) fn send(&self, id: u64, what: FromHost) -> bool {
        match self.0.lock().get(&id) {
            Some(tx) => tx.send(what).is_ok(),
            None => false,
        }
    }

    /// Tells bridge `id` that the host's side closed, and forgets it at once (nothing the
    /// host sends afterwards is taken); false when there is no such bridge.
    pub(crate) fn close(&self, id: u64) -> bool {
        let sender = self.0.lock().remove(&id);
        sender.is_some_and(|tx| tx.send(FromHost::Close).is_ok())
    }

    fn remove(&self, id: u64) {
        self.0.lock().remove(&id);
    }
}

/// The most bytes a message from rtio to the host may have (rtio's own frames are far
/// smaller; this only bounds what a broken stream could make the pump allocate).
const MAX_MESSAGE: usize = 256 << 20;

/// A connected pair of loopback TCP streams.
async fn loopback_pair() -> std::io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, (server, _)) = (client?, accepted?);
    let _ = client.set_nodelay(true);
    Ok((client, server))
}

/// The handshake rtio's end reads: the host's request with the WebSocket headers a client
/// sends. `Connection` and `Upgrade` are set (servers consume them); the client's key and
/// version are kept when the host passed them, so that rtio refuses a bad one as its own
/// listener would, and filled in when it did not. The client's extension offers go: the
/// host's server frames this WebSocket, so extensions are its business, not rtio's.
fn handshake_of(mut request: HttpRequest) -> HttpRequest {
    const HOP: [&str; 3] = ["connection", "upgrade", "sec-websocket-extensions"];
    request
        .headers
        .retain(|(n, _)| !HOP.iter().any(|hop| n.eq_ignore_ascii_case(hop)));
    let has = |request: &HttpRequest, name: &str| {
        request
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let mut add = vec![("connection", "Upgrade"), ("upgrade", "websocket")];
    if !has(&request, "sec-websocket-key") {
        add.push(("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="));
    }
    if !has(&request, "sec-websocket-version") {
        add.push(("sec-websocket-version", "13"));
    }
    request
        .headers
        .extend(add.into_iter().map(|(n, v)| (n.to_string(), v.to_string())));
    request.method = "GET".into();
    request.body = Bytes::new();
    request
}

/// Runs bridge `id`: rtio's end served by `serve` (the adopted-connection path), the host's
/// messages from `from_host`, rtio's answer and messages reported on the host's event
/// stream (`to_host`).
pub(crate) async fn run<S, Fut>(
    id: u64,
    request: HttpRequest,
    bridges: std::sync::Arc<Bridges>,
    mut from_host: mpsc::UnboundedReceiver<FromHost>,
    to_host: std::sync::Arc<Sio>,
    serve: S,
) where
    S: FnOnce(TcpStream, HttpRequest) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let refused = |status: u16| HttpResponse {
        status,
        headers: Vec::new(),
        body: Bytes::new(),
    };
    let Ok((mut client, server)) = loopback_pair().await else {
        bridges.remove(id);
        let response = refused(503);
        return to_host
            .emit_event(Event::WebSocketAnswer { id, response })
            .await;
    };
    serve(server, handshake_of(request)).await;
    let mut buf = BytesMut::with_capacity(4096);
    let response = match read_answer(&mut client, &mut buf).await {
        Some(response) => response,
        None => refused(502),
    };
    let accepted = response.status == 101;
    if !accepted {
        // (gone before the host hears of the refusal: nothing it sends then is taken)
        bridges.remove(id);
    }
    to_host
        .emit_event(Event::WebSocketAnswer { id, response })
        .await;
    if !accepted {
        return;
    }
    let (mut read, mut write) = client.into_split();
    let mut partial: Option<(u8, Vec<u8>)> = None;
    // What the host closes with when rtio's end breaks off without a close frame.
    let mut code = ABNORMAL;
    loop {
        tokio::select! {
            what = from_host.recv() => match what {
                Some(FromHost::Message(WsMessage::Text(t))) => {
                    if write.write_all(&client_frame(0x1, t.as_bytes())).await.is_err() {
                        code = closed_with(&mut read, &mut buf).await;
                        break;
                    }
                }
                Some(FromHost::Message(WsMessage::Binary(b))) => {
                    if write.write_all(&client_frame(0x2, &b)).await.is_err() {
                        code = closed_with(&mut read, &mut buf).await;
                        break;
                    }
                }
                Some(FromHost::Close) | None => {
                    let _ = write.write_all(&client_frame(0x8, &[])).await;
                    let _ = write.shutdown().await;
                    bridges.remove(id);
                    return;
                }
            },
            frame = next_frame(&mut read, &mut buf) => {
                let Some((fin, opcode, payload)) = frame else { break };
                match opcode {
                    0x8 => {
                        code = close_code(&payload);
                        break;
                    }
                    0x9 => {
                        // (rtio sends no WebSocket pings; answered all the same)
                        if write.write_all(&client_frame(0xA, &payload)).await.is_err() { break; }
                    }
                    0xA => {}
                    0x0..=0x2 => {
                        let (kind, mut data) = match (opcode, partial.take()) {
                            (0x0, Some(started)) => started,
                            (0x0, None) => break,
                            (op, _) => (op, Vec::new()),
                        };
                        data.extend_from_slice(&payload);
                        if data.len() > MAX_MESSAGE { break; }
                        if !fin {
                            partial = Some((kind, data));
                            continue;
                        }
                        let message = if kind == 0x1 {
                            match String::from_utf8(data) {
                                Ok(t) => WsMessage::Text(t),
                                Err(_) => break,
                            }
                        } else {
                            WsMessage::Binary(data.into())
                        };
                        to_host.emit_event(Event::WebSocketSend { id, message }).await;
                    }
                    _ => break,
                }
            }
        }
    }
    bridges.remove(id);
    to_host.emit_event(Event::WebSocketClose { id, code }).await;
}

/// After a write to rtio's end failed (it closed, e.g. on a message over the size limit):
/// the code of the close frame it sent, read from what is left (1011 when none comes).
async fn closed_with<R: AsyncReadExt + Unpin>(read: &mut R, buf: &mut BytesMut) -> u16 {
    let close = async {
        loop {
            match next_frame(read, buf).await {
                Some((_, 0x8, payload)) => return close_code(&payload),
                Some(_) => {}
                None => return ABNORMAL,
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(2), close)
        .await
        .unwrap_or(ABNORMAL)
}

/// The close code rtio's end sent the host's client on its behalf: 1011 (internal error)
/// for a connection that ended without a close frame, which a peer may not send as 1006.
const ABNORMAL: u16 = 1011;

/// The code of a close frame's `payload` (RFC 6455 §5.5.1); 1000 when it carries none
/// (1005 "no status" is not sent on the wire either).
fn close_code(payload: &[u8]) -> u16 {
    match payload {
        [hi, lo, ..] => u16::from_be_bytes([*hi, *lo]),
        _ => 1000,
    }
}

/// The handshake's answer, read from the client end (`None` when the connection broke).
async fn read_answer(stream: &mut TcpStream, buf: &mut BytesMut) -> Option<HttpResponse> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).ok()?.to_string();
            let _ = buf.split_to(end + 4);
            let mut lines = head.split("\r\n");
            let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(0);
            if status == 101 {
                return Some(HttpResponse {
                    status,
                    headers,
                    body: Bytes::new(),
                });
            }
            while buf.len() < length {
                if stream.read_buf(buf).await.ok()? == 0 {
                    return None;
                }
            }
            let body = buf.split_to(length).freeze();
            return Some(HttpResponse {
                status,
                headers: headers
                    .into_iter()
                    .filter(|(n, _)| n != "content-length")
                    .collect(),
                body,
            });
        }
        if buf.len() > 64 << 10 || stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// A client frame: FIN, `opcode`, masked with a zero key (a client must mask; a zero key
/// leaves the bytes as they are).
fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(payload);
    f
}

/// The next frame rtio's end wrote: (fin, opcode, payload); `None` at the end.
async fn next_frame<R: AsyncReadExt + Unpin>(
    read: &mut R,
    buf: &mut BytesMut,
) -> Option<(bool, u8, Vec<u8>)> {
    loop {
        if buf.len() >= 2 {
            let (fin, opcode) = (buf[0] & 0x80 != 0, buf[0] & 0x0f);
            let masked = buf[1] & 0x80 != 0;
            // (`None`: the extended length has not all arrived yet)
            let header = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => Some((u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)),
                127 if buf.len() >= 10 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&buf[2..10]);
                    Some((usize::try_from(u64::from_be_bytes(n)).ok()?, 10))
                }
                126 | 127 => None,
                n => Some((n as usize, 2)),
            };
            if masked {
                return None; // a server never masks
            }
            if let Some((len, at)) = header {
                if len > MAX_MESSAGE {
                    return None;
                }
                if buf.len() >= at + len {
                    let _ = buf.split_to(at);
                    return Some((fin, opcode, buf.split_to(len).to_vec()));
                }
            }
        }
        if read.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handshake_keeps_the_clients_key_and_drops_its_extension_offers() {
        let request = HttpRequest {
            method: "GET".into(),
            url: "/socket.io/?EIO=4&transport=websocket".into(),
            headers: vec![
                (
                    "Sec-WebSocket-Key".into(),
                    "x3JJHMbDL1EzLkh9GBhXDw==".into(),
                ),
                (
                    "Sec-WebSocket-Extensions".into(),
                    "permessage-deflate; client_max_window_bits".into(),
                ),
                ("Connection".into(), "keep-alive, Upgrade".into()),
            ],
            body: Bytes::new(),
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            secure: false,
        };
        let names: Vec<String> = handshake_of(request)
            .headers
            .into_iter()
            .map(|(n, v)| format!("{}: {v}", n.to_ascii_lowercase()))
            .collect();
        assert_eq!(
            names,
            [
                "sec-websocket-key: x3JJHMbDL1EzLkh9GBhXDw==",
                "connection: Upgrade",
                "upgrade: websocket",
                "sec-websocket-version: 13",
            ]
        );
    }

    #[test]
    fn client_frames_are_masked_with_a_zero_key() {
        assert_eq!(
            client_frame(0x1, b"40"),
            [0x81, 0x82, 0, 0, 0, 0, b'4', b'0']
        );
        let long = client_frame(0x2, &[7; 300]);
        assert_eq!(&long[..4], &[0x82, 0x80 | 126, 1, 44]);
        assert_eq!(long.len(), 4 + 4 + 300);
    }

    #[tokio::test]
    async fn server_frames_are_read_whole_however_they_arrive() {
        let mut bytes = vec![0x81, 3, b'a', b'b', b'c', 0x02, 126, 1, 0];
        bytes.extend([9u8; 256]);
        bytes.extend([0x80, 1, 1]);
        let mut buf = BytesMut::new();
        let mut input: &[u8] = &bytes;
        assert_eq!(
            next_frame(&mut input, &mut buf).await,
            Some((true, 1, b"abc".to_vec()))
        );
        assert_eq!(
            next_frame(&mut input, &mut buf).await,
            Some((false, 2, vec![9; 256]))
        );
        assert_eq!(
            next_frame(&mut input, &mut buf).await,
            Some((true, 0, vec![1]))
        );
        assert_eq!(next_frame(&mut input, &mut buf).await, None);
        let mut masked: &[u8] = &[0x81, 0x81, 0, 0, 0, 0, b'x'];
        assert_eq!(next_frame(&mut masked, &mut BytesMut::new()).await, None);
    }

    /// Gives its bytes one at a time: every frame arrives split at every byte.
    struct Trickle<'a>(&'a [u8]);

    impl tokio::io::AsyncRead for Trickle<'_> {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            out: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if let Some((first, rest)) = self.0.split_first() {
                out.put_slice(&[*first]);
                self.0 = rest;
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn extended_lengths_that_arrive_in_pieces_are_waited_for() {
        let mut bytes = vec![0x81, 126, 1, 0];
        bytes.extend([7u8; 256]);
        bytes.extend([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        bytes.extend(vec![8u8; 65536]);
        let mut input = Trickle(&bytes);
        let mut buf = BytesMut::new();
        assert_eq!(
            next_frame(&mut input, &mut buf).await,
            Some((true, 1, vec![7; 256]))
        );
        assert_eq!(
            next_frame(&mut input, &mut buf).await,
            Some((true, 2, vec![8; 65536]))
        );
        assert_eq!(next_frame(&mut input, &mut buf).await, None);
    }
}
