//! Engine.IO v3 (socket.io-client 2.x, `allowEIO3`): what differs from v4 on the wire.
//!
//! - Long-polling payloads are framed with lengths instead of a separator. As text:
//!   `<length>:<packet>` per packet, the length in UTF-16 code units (JavaScript's string
//!   length), binary as `b4<base64>`. Clients that can take binary (no `b64=1` in the
//!   query) get a payload holding binary as bytes: per packet a `0` (text) or `1` (binary)
//!   byte, the length's decimal digits as bytes 0–9, `255`, then the packet (text as UTF-8,
//!   its length in bytes; binary as the type byte `4` and the data).
//! - Over WebSocket a binary message starts with its packet type byte (`4`).
//! - The client pings and the server answers (see `Engine::heartbeats`).

use base64::Engine as _;
use bytes::Bytes;

use super::packet::{decode_text, DecodeError, Frame, Packet};

/// The type byte of a message packet, first in v3 binary messages.
pub const MESSAGE: u8 = 4;

/// Most digits a length may have (more than any payload the size limit lets through).
const MAX_LENGTH_DIGITS: usize = 10;

/// Encodes queued frames into one response body; true when it is the binary form
/// (`application/octet-stream`), false for text.
pub fn encode_payload(frames: &[Frame], b64: bool) -> (Vec<u8>, bool) {
    let binary = !b64 && frames.iter().any(|f| !f.contents().0);
    let mut out = Vec::with_capacity(frames.iter().map(|f| f.len() * 4 / 3 + 8).sum());
    for frame in frames {
        match (frame.contents(), binary) {
            ((true, text), false) => {
                let units = std::str::from_utf8(text).map_or(text.len(), utf16_len);
                out.extend_from_slice(format!("{units}:").as_bytes());
                out.extend_from_slice(text);
            }
            ((false, bytes), false) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
                out.extend_from_slice(format!("{}:b4", encoded.len() + 2).as_bytes());
                out.extend_from_slice(encoded.as_bytes());
            }
            ((true, text), true) => {
                push_binary_header(&mut out, 0, text.len());
                out.extend_from_slice(text);
            }
            ((false, bytes), true) => {
                push_binary_header(&mut out, 1, bytes.len() + 1);
                out.push(MESSAGE);
                out.extend_from_slice(bytes);
            }
        }
    }
    (out, binary)
}

/// A single text packet as a whole text payload (`1:6`).
pub fn single(packet: &'static str) -> Bytes {
    Bytes::from(format!("{}:{packet}", utf16_len(packet)))
}

fn push_binary_header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    out.extend(len.to_string().bytes().map(|d| d - b'0'));
    out.push(0xff);
}

fn utf16_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Decodes a POST body: the binary form when the client sent `application/octet-stream`,
/// else the text form. At most `max_packets` packets.
pub fn decode_payload(
    body: &Bytes,
    binary: bool,
    max_packets: usize,
) -> Result<Vec<Packet>, DecodeError> {
    if body.is_empty() {
        return Err(DecodeError("empty payload"));
    }
    // The text form is checked as UTF-8 once, here: per packet it would cost the rest of
    // the body each time.
    let text = if binary {
        None
    } else {
        Some(std::str::from_utf8(body).map_err(|_| DecodeError("payload is not UTF-8"))?)
    };
    let mut packets = Vec::new();
    let mut pos = 0;
    while pos < body.len() {
        if packets.len() == max_packets {
            return Err(DecodeError("too many packets in one payload"));
        }
        let packet = match text {
            Some(text) => take_text_packet(body, text, &mut pos)?,
            None => {
                let mut rest = body.slice(pos..);
                let packet = take_binary_packet(&mut rest)?;
                pos = body.len() - rest.len();
                packet
            }
        };
        packets.push(packet);
    }
    Ok(packets)
}

/// The text-form packet at `*pos` of `body` (`text` is `body` as a string), moving `pos`
/// past it.
fn take_text_packet(body: &Bytes, text: &str, pos: &mut usize) -> Result<Packet, DecodeError> {
    let rest = &text[*pos..];
    let colon = rest
        .bytes()
        .take(MAX_LENGTH_DIGITS + 1)
        .position(|b| b == b':')
        .ok_or(DecodeError("missing length"))?;
    let digits = &rest[..colon];
    let units: usize = digits
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| digits.parse().ok())
        .flatten()
        .ok_or(DecodeError("invalid length"))?;
    // The packet's end: `units` UTF-16 code units into the text.
    let start = *pos + colon + 1;
    let mut counted = 0;
    let mut end = start;
    for c in text[start..].chars() {
        if counted >= units {
            break;
        }
        counted += c.len_utf16();
        end += c.len_utf8();
    }
    if counted != units || units == 0 {
        return Err(DecodeError("length does not match the packet"));
    }
    let packet = body.slice(start..end);
    *pos = end;
    if packet[0] == b'b' {
        if packet.get(1) != Some(&b'4') {
            return Err(DecodeError("binary packet that is not a message"));
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(&packet[2..])
            .map_err(|_| DecodeError("invalid base64 in binary packet"))?;
        return Ok(Packet::Binary(Bytes::from(data)));
    }
    decode_text(packet)
}

fn take_binary_packet(rest: &mut Bytes) -> Result<Packet, DecodeError> {
    let kind = rest[0];
    let end = rest
        .iter()
        .skip(1)
        .take(MAX_LENGTH_DIGITS + 1)
        .position(|b| *b == 0xff)
        .ok_or(DecodeError("missing length"))?
        + 1;
    let digits = &rest[1..end];
    if digits.is_empty() || digits.iter().any(|d| *d > 9) {
        return Err(DecodeError("invalid length"));
    }
    let len = digits.iter().fold(0usize, |n, d| n * 10 + usize::from(*d));
    let start = end + 1;
    if len == 0 || rest.len() - start < len {
        return Err(DecodeError("length does not match the packet"));
    }
    let packet = rest.slice(start..start + len);
    *rest = rest.slice(start + len..);
    match kind {
        0 => {
            std::str::from_utf8(&packet).map_err(|_| DecodeError("payload is not UTF-8"))?;
            decode_text(packet)
        }
        1 if packet[0] == MESSAGE => Ok(Packet::Binary(packet.slice(1..))),
        _ => Err(DecodeError("invalid packet kind")),
    }
}

/// A v3 binary WebSocket message: its type byte, then the data.
pub fn decode_binary_message(message: Bytes) -> Result<Packet, DecodeError> {
    match message.first() {
        Some(&MESSAGE) => Ok(Packet::Binary(message.slice(1..))),
        _ => Err(DecodeError("binary packet that is not a message")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payloads_count_utf16_units() {
        let frames = [
            Frame::raw_text("4é😀".into()),
            Frame::Binary(Bytes::from_static(&[1, 2, 3])),
            Frame::raw_text("2".into()),
        ];
        let (body, binary) = encode_payload(&frames, true);
        assert!(!binary);
        // "4é😀": 1 + 1 + 2 UTF-16 units.
        assert_eq!(body, "4:4é😀6:b4AQID1:2".as_bytes());
        let packets = decode_payload(&Bytes::from(body), false, 10).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Text(Bytes::from("é😀")),
                Packet::Binary(Bytes::from_static(&[1, 2, 3])),
                Packet::Ping(Bytes::new()),
            ]
        );
    }

    #[test]
    fn binary_payloads_carry_raw_bytes_and_utf8_lengths() {
        let frames = [
            Frame::raw_text("4é".into()),
            Frame::Binary(Bytes::from_static(&[9; 12])),
        ];
        let (body, binary) = encode_payload(&frames, false);
        assert!(binary);
        let mut expected = vec![0, 3, 0xff, b'4', 0xc3, 0xa9, 1, 1, 3, 0xff, 4];
        expected.extend([9; 12]);
        assert_eq!(body, expected);
        let packets = decode_payload(&Bytes::from(body), true, 10).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Text(Bytes::from("é")),
                Packet::Binary(Bytes::from_static(&[9; 12])),
            ]
        );
        // Without binary frames the text form goes, even when binary is allowed.
        assert!(!encode_payload(&[Frame::raw_text("6".into())], false).1);
    }

    #[test]
    fn bad_payloads_are_refused() {
        for (body, binary) in [
            (&b""[..], false),
            (b"5:4ab", false),
            (b"x:4", false),
            (b"0:", false),
            (b"99999999999999:4", false),
            (b"2:b5AQ", false),
            (&[0, 5, 0xff, b'4'], true),
            (&[0, 12, 0xff, b'4'], true),
            (&[2, 1, 0xff, b'6'], true),
            (&[1, 1, 0xff, 3], true),
            (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 0xff], true),
        ] {
            assert!(
                decode_payload(&Bytes::copy_from_slice(body), binary, 10).is_err(),
                "{body:?}"
            );
        }
    }
}
