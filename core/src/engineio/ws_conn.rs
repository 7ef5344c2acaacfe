//! One WebSocket connection, server side (RFC 6455): client messages in, frames out.
//!
//! Why not tungstenite's `WebSocket`: it keeps, for the connection's whole life, a read
//! buffer, its frame codec's state and (through tokio-tungstenite) two waker proxies: about
//! 760 bytes of every idle connection, a quarter of all it cost. Here an idle connection
//! keeps no buffer: bytes are read onto the stack and kept on the heap only while a frame
//! is incomplete. tungstenite still parses every frame header ([`FrameHeader::parse`]);
//! what is rtio's own is small: unmasking, fragments, answering pings and closes, and which
//! frames break the protocol.

use std::future::{poll_fn, Future};
use std::io::{self, Cursor};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use super::deflate::{InflateError, Inflater, Negotiated};
use super::lean_stream::LeanStream;
use super::packet::Frame;

/// Bytes taken from the socket per `recv()`, onto the stack: a large message still costs
/// one `recv()` per 16 KiB, and nothing of it stays once it is taken.
const READ_CHUNK: usize = 16 * 1024;

/// The most payload a control frame may carry (RFC 6455 §5.5).
const MAX_CONTROL_PAYLOAD: u64 = 125;

/// Bytes waiting to be sent beyond which pings go unanswered.
const MAX_UNSENT_PONGS: usize = 8_000;

const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PONG: u8 = 0xA;
/// The first frame of a compressed message has RSV1 set (RFC 7692 §6).
const RSV1: u8 = 0x40;

/// A complete data message from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Message {
    /// Valid UTF-8.
    Text(Bytes),
    Binary(Bytes),
}

/// Why no more messages will be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEnd {
    /// The client closed: a close frame (its answer is gathered, sent by the next flush or
    /// [`WsConn::shutdown`]), the end of the stream, or a failed socket.
    Closed,
    /// The client broke the protocol or a limit: close with this code (1002, 1007 for text
    /// that is not UTF-8, 1009 for a message over the size limit, see [`too_big`]) and
    /// reason.
    Violation(u16, &'static str),
}

/// A WebSocket after its handshake: reads messages (answering pings and closes on its own)
/// and writes frames. Used by one task at a time; [`WsConn::next`] is cancel-safe.
pub struct WsConn<S> {
    stream: LeanStream<S>,
    /// Bytes received and not yet taken: the start of an incomplete frame. Empty, holding
    /// no memory, between frames.
    kept: Vec<u8>,
    /// A fragmented message being assembled: whether it is text, whether it is
    /// compressed, and its bytes so far.
    fragments: Option<(bool, bool, Vec<u8>)>,
    /// permessage-deflate, when the handshake negotiated it.
    deflate: Option<Negotiated>,
    /// The client's compression context, kept between its messages unless it gave it up.
    inflater: Option<Box<Inflater>>,
    /// Engine.IO v3: binary messages start with the packet type byte.
    eio3: bool,
    /// Gathered control frames (pongs, a close answer) wait for a flush.
    unflushed: bool,
    /// A close frame was sent or gathered: nothing more is written.
    close_sent: bool,
    max_message: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsConn<S> {
    /// A connection over `stream`, whose client already sent `early` (bytes that came with
    /// the upgrade request), taking messages of at most `max_message` bytes.
    pub fn new(stream: S, early: Vec<u8>, max_message: usize) -> Self {
        WsConn {
            stream: LeanStream::new(stream),
            kept: early,
            fragments: None,
            deflate: None,
            inflater: None,
            eio3: false,
            unflushed: false,
            close_sent: false,
            max_message,
        }
    }

    /// Frames binary messages for an Engine.IO v3 client (see [`crate::engineio::v3`]).
    pub(crate) fn set_eio3(&mut self, eio3: bool) {
        self.eio3 = eio3;
    }

    /// Uses permessage-deflate as the handshake negotiated it.
    pub fn with_deflate(mut self, deflate: Option<Negotiated>) -> Self {
        self.deflate = deflate;
        self
    }

    /// The next data message. Cancel-safe: what was read stays in `self`. (Not an `async
    /// fn`: its future is this one reference, inside every idle connection's task.)
    pub fn recv(&mut self) -> impl Future<Output = Result<Message, ReadEnd>> + '_ {
        poll_fn(move |cx| self.poll_next(cx))
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message, ReadEnd>> {
        loop {
            if !self.kept.is_empty() {
                let mut kept = std::mem::take(&mut self.kept);
                let (used, taken) = self.take_frames(&mut kept);
                if used < kept.len() {
                    kept.drain(..used);
                    self.kept = kept;
                }
                if let Some(taken) = taken {
                    return Poll::Ready(taken);
                }
            }
            if self.unflushed {
                // Pending means the socket is full: read on meanwhile (the write's waker is
                // registered, so the task comes back to finish it).
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.unflushed = false,
                    Poll::Ready(Err(_)) => return Poll::Ready(Err(ReadEnd::Closed)),
                    Poll::Pending => {}
                }
            }
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            if ready!(Pin::new(self.stream.inner_mut()).poll_read(cx, &mut read)).is_err() {
                return Poll::Ready(Err(ReadEnd::Closed));
            }
            let got = read.filled_mut();
            if got.is_empty() {
                return Poll::Ready(Err(ReadEnd::Closed));
            }
            if self.kept.is_empty() {
                let (used, taken) = self.take_frames(got);
                if used < got.len() {
                    self.kept = got[used..].to_vec();
                }
                if let Some(taken) = taken {
                    return Poll::Ready(taken);
                }
            } else {
                self.kept.extend_from_slice(got);
            }
        }
    }

    /// Takes the complete frames at the start of `data` until one completes a message or
    /// ends reading; returns how many bytes it took, and that outcome.
    fn take_frames(&mut self, data: &mut [u8]) -> (usize, Option<Result<Message, ReadEnd>>) {
        let mut used = 0;
        loop {
            let mut cursor = Cursor::new(&data[used..]);
            let (header, len) = match FrameHeader::parse(&mut cursor) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => return (used, None),
                Err(_) => return (used, Some(Err(violation("reserved opcode")))),
            };
            if let Err(end) = self.check(&header, len) {
                return (used, Some(Err(end)));
            }
            let start = used + cursor.position() as usize;
            // `check` bounded it by the message limit.
            let len = len as usize;
            if data.len() - start < len {
                return (used, None);
            }
            let payload = &mut data[start..start + len];
            if let Some(mask) = header.mask {
                unmask(payload, mask);
            }
            used = start + len;
            if let Some(taken) = self.on_frame(&header, payload) {
                return (used, Some(taken));
            }
        }
    }

    /// What a frame's header alone says is wrong with it.
    fn check(&self, header: &FrameHeader, len: u64) -> Result<(), ReadEnd> {
        let compressed_start = header.rsv1
            && self.deflate.is_some()
            && matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary));
        if (header.rsv1 && !compressed_start) || header.rsv2 || header.rsv3 {
            return Err(violation("reserved bits set"));
        }
        if header.mask.is_none() {
            return Err(violation("unmasked client frame"));
        }
        match header.opcode {
            OpCode::Control(_) if !header.is_final => Err(violation("fragmented control frame")),
            OpCode::Control(_) if len > MAX_CONTROL_PAYLOAD => {
                Err(violation("control frame too long"))
            }
            OpCode::Control(_) => Ok(()),
            OpCode::Data(Data::Continue) if self.fragments.is_none() => {
                Err(violation("continuation frame outside a message"))
            }
            OpCode::Data(Data::Continue) => {
                let so_far = self
                    .fragments
                    .as_ref()
                    .map_or(0, |(_, _, bytes)| bytes.len());
                if len > (self.max_message - so_far) as u64 {
                    Err(too_big())
                } else {
                    Ok(())
                }
            }
            OpCode::Data(_) if self.fragments.is_some() => {
                Err(violation("new message inside a fragmented one"))
            }
            OpCode::Data(_) if len > self.max_message as u64 => Err(too_big()),
            OpCode::Data(_) => Ok(()),
        }
    }

    /// Handles one checked, unmasked frame; returns a message it completes, or why reading
    /// ends.
    fn on_frame(
        &mut self,
        header: &FrameHeader,
        payload: &[u8],
    ) -> Option<Result<Message, ReadEnd>> {
        match header.opcode {
            OpCode::Data(Data::Continue) => {
                let (text, compressed, mut bytes) = self.fragments.take()?;
                bytes.extend_from_slice(payload);
                if header.is_final {
                    return Some(self.message(text, compressed, bytes));
                }
                self.fragments = Some((text, compressed, bytes));
                None
            }
            OpCode::Data(kind) => {
                let text = kind == Data::Text;
                if header.is_final {
                    return Some(self.message(text, header.rsv1, payload.to_vec()));
                }
                self.fragments = Some((text, header.rsv1, payload.to_vec()));
                None
            }
            OpCode::Control(Control::Ping) => {
                // Not every ping needs an answer (RFC 6455 §5.5.3: the latest is enough): a
                // client pinging faster than it reads cannot make the answers pile up.
                if self.stream.gathered_len() < MAX_UNSENT_PONGS {
                    self.gather_control(OP_PONG, payload);
                }
                None
            }
            OpCode::Control(Control::Close) => Some(Err(self.on_close(payload))),
            // Pongs need nothing; reserved opcodes were refused by the header's parser.
            OpCode::Control(_) => None,
        }
    }

    /// The client's close frame: answered with its status code (RFC 6455 §5.5.1).
    fn on_close(&mut self, payload: &[u8]) -> ReadEnd {
        let answer = match payload {
            [] => Vec::new(),
            [_] => return violation("close frame of one byte"),
            [hi, lo, reason @ ..] => {
                if !CloseCode::from(u16::from_be_bytes([*hi, *lo])).is_allowed() {
                    return violation("invalid close code");
                }
                if std::str::from_utf8(reason).is_err() {
                    return ReadEnd::Violation(1007, "close reason is not UTF-8");
                }
                vec![*hi, *lo]
            }
        };
        self.gather_control(OP_CLOSE, &answer);
        self.close_sent = true;
        ReadEnd::Closed
    }

    fn gather_control(&mut self, opcode: u8, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        let mut header = [0u8; 10];
        let n = frame_header(opcode, payload.len(), &mut header);
        self.stream.gather(&header[..n]);
        self.stream.gather(payload);
        self.unflushed = true;
    }

    /// Sends `frames` as data frames and flushes: they leave in one `send()` (with any
    /// control frame gathered before them).
    ///
    /// Written straight into the stream: a writer of its own (tungstenite's) would format
    /// each frame into a buffer that keeps the capacity of the largest frame the connection
    /// ever sent for its whole life, and cost a copy of every payload.
    pub(crate) async fn send(&mut self, frames: &[Frame]) -> io::Result<()> {
        if self.close_sent {
            return Err(io::ErrorKind::NotConnected.into());
        }
        // Per frame: its header and v3 type byte (11 bytes at most), its payload (less when
        // compressed).
        self.stream
            .reserve_for(frames.iter().flat_map(|f| [11, f.len()]));
        for frame in frames {
            let (text, mut payload) = frame.contents();
            let mut opcode = if text { OP_TEXT } else { OP_BINARY };
            // A v3 binary message carries its type byte first (never compressed: the shared
            // compressed form has none).
            let type_byte = (self.eio3 && !text).then_some(super::v3::MESSAGE);
            if let (Frame::Deflatable(d), Some(_), None) = (frame, self.deflate, type_byte) {
                payload = d.deflated();
                opcode |= RSV1;
            }
            let mut header = [0u8; 10];
            let len = payload.len() + usize::from(type_byte.is_some());
            let n = frame_header(opcode, len, &mut header);
            self.stream.write_all(&header[..n]).await?;
            if let Some(byte) = type_byte {
                self.stream.write_all(&[byte]).await?;
            }
            self.stream.write_all(payload).await?;
        }
        self.stream.flush().await?;
        self.unflushed = false;
        Ok(())
    }

    /// Sends a close frame (with `code` and its reason, or none: the client then sees
    /// 1005), unless one was sent already, then ends the stream.
    pub(crate) async fn close(&mut self, code: Option<(u16, &str)>) {
        let payload = code.map_or_else(Vec::new, |(code, reason)| {
            [&code.to_be_bytes()[..], reason.as_bytes()].concat()
        });
        self.gather_control(OP_CLOSE, &payload);
        self.close_sent = true;
        self.shutdown().await;
    }

    /// Reads and drops whatever the client sends until it closes its end (bounded by the
    /// caller's timeout): used after a close frame went, so that the connection ends with
    /// an orderly close rather than a reset.
    pub(crate) async fn discard_input(&mut self) {
        self.kept = Vec::new();
        self.fragments = None;
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            match poll_fn(|cx| {
                let mut read = ReadBuf::new(&mut chunk);
                ready!(Pin::new(self.stream.inner_mut()).poll_read(cx, &mut read))?;
                Poll::Ready(Ok::<usize, io::Error>(read.filled().len()))
            })
            .await
            {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    /// Sends what is gathered (a close answer, say), then ends the stream; errors mean the
    /// client is gone already, and are of no use.
    pub async fn shutdown(&mut self) {
        let _ = self.stream.shutdown().await;
    }
}

fn violation(reason: &'static str) -> ReadEnd {
    ReadEnd::Violation(1002, reason)
}

/// A message over the size limit (RFC 6455 §7.4.1: 1009).
fn too_big() -> ReadEnd {
    ReadEnd::Violation(1009, "message too big")
}

impl<S> WsConn<S> {
    /// A complete message, inflated first when it came compressed.
    fn message(
        &mut self,
        text: bool,
        compressed: bool,
        bytes: Vec<u8>,
    ) -> Result<Message, ReadEnd> {
        if !compressed {
            return message(text, bytes);
        }
        let keep = self.deflate.is_some_and(|d| !d.client_no_context_takeover);
        let inflater = self
            .inflater
            .get_or_insert_with(|| Box::new(Inflater::new()));
        let inflated = inflater.inflate(&bytes, self.max_message);
        if !keep {
            self.inflater = None;
        }
        match inflated {
            Ok(bytes) => message(text, bytes),
            Err(InflateError::TooBig) => Err(too_big()),
            Err(InflateError::Invalid) => Err(ReadEnd::Violation(1007, "invalid compressed data")),
        }
    }
}

fn message(text: bool, bytes: Vec<u8>) -> Result<Message, ReadEnd> {
    if !text {
        return Ok(Message::Binary(bytes.into()));
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ReadEnd::Violation(1007, "text message is not UTF-8"));
    }
    Ok(Message::Text(bytes.into()))
}

/// Undoes the client's masking (RFC 6455 §5.3), a word at a time.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    let word = u32::from_ne_bytes(mask);
    let mut words = payload.chunks_exact_mut(4);
    for w in &mut words {
        let v = u32::from_ne_bytes([w[0], w[1], w[2], w[3]]) ^ word;
        w.copy_from_slice(&v.to_ne_bytes());
    }
    for (b, m) in words.into_remainder().iter_mut().zip(mask) {
        *b ^= m;
    }
}

/// The header of a final, unmasked frame (RFC 6455 §5.2: what a server sends) of `len`
/// payload bytes, into `out`; returns its length.
fn frame_header(opcode: u8, len: usize, out: &mut [u8; 10]) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// The header, then the payload length as a client reads it back (RFC 6455 §5.2).
    fn header(len: usize) -> (Vec<u8>, u64) {
        let mut out = [0u8; 10];
        let n = frame_header(OP_TEXT, len, &mut out);
        let read = match out[1] {
            126 => u64::from(u16::from_be_bytes([out[2], out[3]])),
            127 => u64::from_be_bytes(out[2..10].try_into().unwrap()),
            n => u64::from(n),
        };
        (out[..n].to_vec(), read)
    }

    #[test]
    fn header_lengths_take_the_shortest_encoding() {
        assert_eq!(header(0), (vec![0x81, 0], 0));
        assert_eq!(header(125), (vec![0x81, 125], 125));
        assert_eq!(header(126), (vec![0x81, 126, 0, 126], 126));
        assert_eq!(header(65_535), (vec![0x81, 126, 0xff, 0xff], 65_535));
        let (bytes, len) = header(65_536);
        assert_eq!(bytes[..2], [0x81, 127]);
        assert_eq!((bytes.len(), len), (10, 65_536));
    }

    /// A client frame: `first` is FIN, RSV and opcode; masked unless `mask` is None.
    fn frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![first];
        let bit = if mask.is_some() { 0x80 } else { 0 };
        match payload.len() {
            n @ 0..=125 => out.push(bit | n as u8),
            n @ 126..=65_535 => {
                out.push(bit | 126);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                out.push(bit | 127);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        match mask {
            Some(m) => {
                out.extend_from_slice(&m);
                out.extend(payload.iter().enumerate().map(|(i, b)| b ^ m[i % 4]));
            }
            None => out.extend_from_slice(payload),
        }
        out
    }

    fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
        frame(first, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
    }

    /// A connection whose client end the test drives.
    fn pair(max_message: usize) -> (WsConn<DuplexStream>, DuplexStream) {
        let (server, client) = tokio::io::duplex(1 << 20);
        (WsConn::new(server, Vec::new(), max_message), client)
    }

    async fn read_all(client: &mut DuplexStream) -> Vec<u8> {
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn messages_come_whole_and_an_idle_connection_keeps_no_buffer() {
        let (mut ws, mut client) = pair(1 << 20);
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut bytes = masked(0x81, b"4hello");
        bytes.extend(masked(0x82, &big));
        // A text message in three fragments, with a ping between them.
        bytes.extend(masked(0x01, "h\u{e9}".as_bytes()));
        bytes.extend(masked(0x89, b"?"));
        bytes.extend(masked(0x00, b"l"));
        bytes.extend(masked(0x80, b"lo"));
        // Arriving a few bytes at a time, frame boundaries anywhere.
        let writer = tokio::spawn(async move {
            for piece in bytes.chunks(7_777) {
                client.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        assert_eq!(ws.recv().await, Ok(Message::Text("4hello".into())));
        assert_eq!(ws.recv().await, Ok(Message::Binary(big.into())));
        assert_eq!(ws.recv().await, Ok(Message::Text("h\u{e9}llo".into())));
        assert_eq!(ws.kept.capacity(), 0, "nothing kept between messages");
        assert!(ws.fragments.is_none());
        let mut client = writer.await.unwrap();
        // The ping was answered; a close frame is answered with its code, then the end.
        client
            .write_all(&masked(0x88, &[0x03, 0xe8, b'o', b'k']))
            .await
            .unwrap();
        assert_eq!(ws.recv().await, Err(ReadEnd::Closed));
        ws.shutdown().await;
        assert_eq!(
            read_all(&mut client).await,
            [&[0x8a, 1, b'?'][..], &[0x88, 2, 0x03, 0xe8]].concat()
        );
    }

    #[tokio::test]
    async fn protocol_violations_end_reading_with_their_close_code() {
        let cases: Vec<(Vec<u8>, ReadEnd)> = vec![
            (frame(0x81, b"x", None), violation("unmasked client frame")),
            (masked(0xc1, b"x"), violation("reserved bits set")),
            (masked(0x83, b"x"), violation("reserved opcode")),
            (masked(0x09, b"x"), violation("fragmented control frame")),
            (masked(0x89, &[0; 126]), violation("control frame too long")),
            (
                masked(0x80, b"x"),
                violation("continuation frame outside a message"),
            ),
            (
                [masked(0x01, b"x"), masked(0x81, b"y")].concat(),
                violation("new message inside a fragmented one"),
            ),
            (
                masked(0x81, &[0xff, 0xfe]),
                ReadEnd::Violation(1007, "text message is not UTF-8"),
            ),
            (masked(0x88, &[3]), violation("close frame of one byte")),
            (masked(0x88, &[0x03, 0xed]), violation("invalid close code")),
            (
                masked(0x88, &[0x03, 0xe8, 0xff]),
                ReadEnd::Violation(1007, "close reason is not UTF-8"),
            ),
            (masked(0x81, &[b'a'; 101]), too_big()),
            (
                [masked(0x01, &[b'a'; 60]), masked(0x80, &[b'a'; 41])].concat(),
                too_big(),
            ),
        ];
        for (bytes, end) in cases {
            let (mut ws, mut client) = pair(100);
            client.write_all(&bytes).await.unwrap();
            assert_eq!(ws.recv().await, Err(end), "{bytes:02x?}");
        }
    }

    #[tokio::test]
    async fn an_oversized_frame_is_refused_from_its_header_alone() {
        let (mut ws, mut client) = pair(100);
        // Only the header of a 1 GiB frame: nothing is buffered waiting for the rest.
        let mut head = vec![0x82, 0x80 | 127];
        head.extend_from_slice(&(1u64 << 30).to_be_bytes());
        head.extend_from_slice(&[1, 2, 3, 4]);
        client.write_all(&head).await.unwrap();
        assert_eq!(ws.recv().await, Err(too_big()));
    }

    #[tokio::test]
    async fn frames_sent_together_leave_in_order_and_a_close_ends_writing() {
        let (mut ws, mut client) = pair(100);
        let frames = [
            Frame::Text("40".into()),
            Frame::Binary(vec![1, 2, 3].into()),
        ];
        ws.send(&frames).await.unwrap();
        ws.close(Some((1009, "too big"))).await;
        assert!(ws.send(&frames).await.is_err(), "nothing after a close");
        let mut expected = vec![0x81, 2, b'4', b'0', 0x82, 3, 1, 2, 3, 0x88, 9, 0x03, 0xf1];
        expected.extend_from_slice(b"too big");
        assert_eq!(read_all(&mut client).await, expected);
    }

    #[tokio::test]
    async fn the_end_of_the_stream_ends_reading() {
        let (mut ws, client) = pair(100);
        drop(client);
        assert_eq!(ws.recv().await, Err(ReadEnd::Closed));
    }

    /// A connection that negotiated permessage-deflate.
    fn deflate_pair(max_message: usize) -> (WsConn<DuplexStream>, DuplexStream) {
        let (ws, client) = pair(max_message);
        let negotiated = super::super::deflate::Negotiated {
            client_no_context_takeover: false,
        };
        (ws.with_deflate(Some(negotiated)), client)
    }

    /// `message` compressed as a client sends it (context taken over between calls of the
    /// same compressor).
    fn client_deflate(c: &mut flate2::Compress, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(message.len() + 64);
        c.compress_vec(message, &mut out, flate2::FlushCompress::Sync)
            .unwrap();
        assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
        out.truncate(out.len() - 4);
        out
    }

    #[tokio::test]
    async fn compressed_messages_inflate_with_the_clients_context_and_fragments() {
        let (mut ws, mut client) = deflate_pair(1 << 20);
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let first = client_deflate(&mut c, b"4hello hello hello");
        // The second refers back into the first (context takeover).
        let second = client_deflate(&mut c, b"4hello hello hello again");
        let mut bytes = masked(0xc1, &first);
        let (a, b) = second.split_at(second.len() / 2);
        bytes.extend(masked(0x41, a)); // RSV1 on the first fragment only
        bytes.extend(masked(0x80, b));
        bytes.extend(masked(0x81, b"4plain"));
        client.write_all(&bytes).await.unwrap();
        assert_eq!(
            ws.recv().await,
            Ok(Message::Text("4hello hello hello".into()))
        );
        assert_eq!(
            ws.recv().await,
            Ok(Message::Text("4hello hello hello again".into()))
        );
        assert_eq!(ws.recv().await, Ok(Message::Text("4plain".into())));
    }

    #[tokio::test]
    async fn deflate_violations_close_with_their_code() {
        let mut c = flate2::Compress::new(flate2::Compression::default(), false);
        let zeros = client_deflate(&mut c, &[b'0'; 10_000]);
        let cases: Vec<(Vec<u8>, ReadEnd)> = vec![
            // RSV1 on a continuation frame, on a control frame.
            (
                [masked(0x41, &zeros[..4]), masked(0xc0, &zeros[4..])].concat(),
                violation("reserved bits set"),
            ),
            (masked(0xc9, b""), violation("reserved bits set")),
            (masked(0xc1, &zeros), too_big()),
            (
                masked(0xc1, &[0xff, 0xff, 0xff]),
                ReadEnd::Violation(1007, "invalid compressed data"),
            ),
        ];
        for (bytes, end) in cases {
            let (mut ws, mut client) = deflate_pair(1000);
            client.write_all(&bytes).await.unwrap();
            assert_eq!(ws.recv().await, Err(end), "{bytes:02x?}");
        }
        // Without the extension negotiated, RSV1 is a violation.
        let (mut ws, mut client) = pair(1000);
        client.write_all(&masked(0xc1, &zeros)).await.unwrap();
        assert_eq!(ws.recv().await, Err(violation("reserved bits set")));
    }

    #[tokio::test]
    async fn deflatable_frames_go_compressed_only_where_negotiated() {
        let text = "4".to_string() + &"x".repeat(1000);
        let frame = Frame::raw_text(text.clone()).deflatable();
        let (mut plain, mut plain_client) = pair(1 << 20);
        plain.send(std::slice::from_ref(&frame)).await.unwrap();
        plain.shutdown().await;
        let got = read_all(&mut plain_client).await;
        assert_eq!(got[..2], [0x81, 126]);
        assert_eq!(&got[4..], text.as_bytes());
        let (mut deflating, mut client) = deflate_pair(1 << 20);
        deflating.send(&[frame.clone(), frame]).await.unwrap();
        deflating.shutdown().await;
        let got = read_all(&mut client).await;
        assert_eq!(got[0], 0xc1, "FIN, RSV1, text");
        let len = usize::from(got[1]);
        assert!(len < 100, "1001 bytes compressed to {len}");
        let mut inflater = super::super::deflate::Inflater::new();
        let message = inflater.inflate(&got[2..2 + len], 1 << 20).unwrap();
        assert_eq!(message, text.as_bytes());
        // The second copy is the same shared compressed message.
        assert_eq!(got[2..2 + len], got[4 + len..]);
    }

    #[tokio::test]
    async fn eio3_binary_messages_carry_the_type_byte() {
        let (mut ws, mut client) = pair(100);
        ws.set_eio3(true);
        ws.send(&[
            Frame::Binary(vec![1, 2].into()),
            Frame::raw_text("4x".into()),
        ])
        .await
        .unwrap();
        ws.shutdown().await;
        assert_eq!(
            read_all(&mut client).await,
            [0x82, 3, 4, 1, 2, 0x81, 2, b'4', b'x']
        );
    }

    #[test]
    fn unmasking_matches_a_byte_at_a_time() {
        let mask = [9, 200, 31, 77];
        for len in 0..13 {
            let data: Vec<u8> = (0..len as u8).collect();
            let mut fast = data.clone();
            unmask(&mut fast, mask);
            let slow: Vec<u8> = data
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ mask[i % 4])
                .collect();
            assert_eq!(fast, slow);
        }
    }
}
