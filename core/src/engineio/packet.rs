//! Engine.IO v4 packet codec: pure functions over bytes, no IO.
//!
//! A packet on the wire is one type digit followed by its data. Over WebSocket each frame
//! is one packet (binary frames carry raw message bytes). Over HTTP long-polling several
//! packets travel in one body separated by `\x1e`, and binary messages are written as `b`
//! followed by their base64 encoding.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use bytes::{Buf, Bytes};
use tungstenite::Utf8Bytes;

/// The record separator between packets of one long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// A packet received from a client, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `1`: the client closes the session.
    Close,
    /// `2` with optional data (`2probe` during an upgrade).
    Ping(Bytes),
    /// `3` with optional data (`3probe` during an upgrade).
    Pong(Bytes),
    /// `4` text message.
    Text(Bytes),
    /// A binary message (a binary frame, or `b<base64>` over polling).
    Binary(Bytes),
    /// `5`: the client completes a transport upgrade.
    Upgrade,
    /// `6`: nothing.
    Noop,
}

/// Why a client's bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DecodeError {}

/// A packet the server sends, already encoded, shared by reference count so a broadcast is
/// encoded once and fanned out to every target without copying.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A complete text packet including its type digit, e.g. `4["event"]`.
    Text(Utf8Bytes),
    /// Raw bytes of a binary message.
    Binary(Bytes),
    /// A message that WebSocket connections which negotiated permessage-deflate receive
    /// compressed (see [`Deflatable`]); every other transport sends it as it is.
    Deflatable(Arc<Deflatable>),
}

/// A text or binary message and, once a WebSocket connection that negotiated
/// permessage-deflate sends it, its compressed form: compressed once, by the first such
/// connection, then shared by every other (connections compress without context takeover,
/// so one compressed message suits them all).
#[derive(Debug)]
pub struct Deflatable {
    text: bool,
    bytes: Bytes,
    deflated: OnceLock<Bytes>,
}

impl Deflatable {
    /// The compressed payload (RFC 7692 §7.2.1: the trailing `00 00 ff ff` removed).
    pub fn deflated(&self) -> &Bytes {
        self.deflated
            .get_or_init(|| crate::engineio::deflate::compress(&self.bytes))
    }
}

impl Frame {
    /// Bytes this frame occupies in a send queue (for the queue's byte bound).
    pub fn len(&self) -> usize {
        self.contents().1.len()
    }

    /// The message as it goes uncompressed: whether it is text, and its bytes.
    pub fn contents(&self) -> (bool, &[u8]) {
        match self {
            Frame::Text(t) => (true, t.as_bytes()),
            Frame::Binary(b) => (false, b),
            Frame::Deflatable(d) => (d.text, &d.bytes),
        }
    }

    /// This frame, marked to go compressed to WebSocket connections that negotiated
    /// permessage-deflate.
    pub fn deflatable(self) -> Frame {
        let (text, bytes) = match self {
            Frame::Text(t) => (true, Bytes::from(t)),
            Frame::Binary(b) => (false, b),
            Frame::Deflatable(_) => return self,
        };
        Frame::Deflatable(Arc::new(Deflatable {
            text,
            bytes,
            deflated: OnceLock::new(),
        }))
    }

    /// True when the frame carries no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A text message packet (`4` + `text`).
    pub fn message(text: &str) -> Frame {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('4');
        s.push_str(text);
        Frame::Text(s.into())
    }

    /// A text packet given exactly as it goes on the wire (type digit included).
    pub fn raw_text(text: String) -> Frame {
        Frame::Text(text.into())
    }
}

/// Decodes one packet from a WebSocket text frame. Takes the frame's bytes and keeps them
/// (`advance`, not `slice`: slicing a `Bytes` made from a `Vec` allocates the header that
/// shares it, once per message).
pub fn decode_text(mut text: Bytes) -> Result<Packet, DecodeError> {
    let Some(&kind) = text.first() else {
        return Err(DecodeError("empty packet"));
    };
    text.advance(1);
    let data = text;
    match kind {
        b'1' => Ok(Packet::Close),
        b'2' => Ok(Packet::Ping(data)),
        b'3' => Ok(Packet::Pong(data)),
        b'4' => Ok(Packet::Text(data)),
        b'5' => Ok(Packet::Upgrade),
        b'6' => Ok(Packet::Noop),
        _ => Err(DecodeError("unknown packet type")),
    }
}

/// Decodes a long-polling request body into its packets. `max_packets` bounds how many
/// packets one body may carry, so a hostile body costs a bounded amount of work.
pub fn decode_payload(body: &Bytes, max_packets: usize) -> Result<Vec<Packet>, DecodeError> {
    let mut packets = Vec::new();
    for part in body.split(|b| *b == SEPARATOR) {
        if packets.len() == max_packets {
            return Err(DecodeError("too many packets in one payload"));
        }
        let start = part.as_ptr() as usize - body.as_ptr() as usize;
        let part = body.slice(start..start + part.len());
        if part.first() == Some(&b'b') {
            let data = base64::engine::general_purpose::STANDARD
                .decode(&part[1..])
                .map_err(|_| DecodeError("invalid base64 in binary packet"))?;
            packets.push(Packet::Binary(Bytes::from(data)));
        } else {
            std::str::from_utf8(&part).map_err(|_| DecodeError("payload is not UTF-8"))?;
            packets.push(decode_text(part)?);
        }
    }
    Ok(packets)
}

/// Encodes queued frames into one long-polling response body.
pub fn encode_payload(frames: &[Frame]) -> Vec<u8> {
    let size: usize = frames.iter().map(|f| f.len() * 4 / 3 + 4).sum();
    let mut out = Vec::with_capacity(size);
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match frame.contents() {
            (true, text) => out.extend_from_slice(text),
            (false, bytes) => {
                out.push(b'b');
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                out.extend_from_slice(encoded.as_bytes());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_text_type() {
        assert_eq!(decode_text(Bytes::from_static(b"1")), Ok(Packet::Close));
        assert_eq!(
            decode_text(Bytes::from_static(b"2probe")),
            Ok(Packet::Ping(Bytes::from_static(b"probe")))
        );
        assert_eq!(
            decode_text(Bytes::from_static(b"3")),
            Ok(Packet::Pong(Bytes::new()))
        );
        assert_eq!(
            decode_text(Bytes::from_static(b"4hello")),
            Ok(Packet::Text(Bytes::from_static(b"hello")))
        );
        assert_eq!(decode_text(Bytes::from_static(b"5")), Ok(Packet::Upgrade));
        assert_eq!(decode_text(Bytes::from_static(b"6")), Ok(Packet::Noop));
        assert!(decode_text(Bytes::from_static(b"")).is_err());
        assert!(decode_text(Bytes::from_static(b"9")).is_err());
        assert!(decode_text(Bytes::from_static(b"0{}")).is_err());
    }

    #[test]
    fn payload_round_trip_with_binary() {
        let frames = vec![
            Frame::message("hello"),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
            Frame::raw_text("2".into()),
        ];
        let body = encode_payload(&frames);
        assert_eq!(body, b"4hello\x1ebAQID\x1e2");
        let packets = decode_payload(&Bytes::from(body), 10).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Text(Bytes::from_static(b"hello")),
                Packet::Binary(Bytes::from_static(&[1, 2, 3])),
                Packet::Ping(Bytes::new()),
            ]
        );
    }

    #[test]
    fn payload_errors() {
        assert!(decode_payload(&Bytes::from_static(b"b!!!"), 10).is_err());
        assert!(decode_payload(&Bytes::from_static(b"4a\x1e4b\x1e4c"), 2).is_err());
        assert!(decode_payload(&Bytes::from_static(b"4a\x1e"), 10).is_err());
        assert!(decode_payload(&Bytes::from_static(b"4\xff"), 10).is_err());
    }
}
