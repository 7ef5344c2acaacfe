//! WebSocket permessage-deflate (RFC 7692): the offer's negotiation, compressing a message,
//! and inflating a client's message within the size limit.
//!
//! The server always answers `server_no_context_takeover` (§7.1.1.1 lets it): each message
//! it sends is compressed on its own, so one compressed broadcast suits every connection
//! (see [`super::packet::Deflatable`]) and no connection keeps a compressor. A client that
//! keeps its context (the default) costs its connection an inflater for its lifetime.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The bytes a sync flush ends with, removed from each message (§7.2.1) and put back
/// before inflating (§7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What a connection agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The client compresses each message on its own: no inflater is kept between them.
    pub client_no_context_takeover: bool,
}

impl Negotiated {
    /// The `Sec-WebSocket-Extensions` answer.
    pub fn header(&self) -> &'static str {
        if self.client_no_context_takeover {
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        } else {
            "permessage-deflate; server_no_context_takeover"
        }
    }
}

/// Picks the first permessage-deflate offer of a `Sec-WebSocket-Extensions` header that
/// this server can take, as RFC 7692 §5 says: an offer is declined when a parameter is
/// unknown, repeated or invalid, or asks the server for a window smaller than the 32 KiB
/// its compressor uses (`server_max_window_bits` below 15).
pub fn negotiate(offers: &str) -> Option<Negotiated> {
    offers.split(',').find_map(|offer| {
        let mut parts = offer.split(';').map(str::trim);
        if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
            return None;
        }
        let mut seen: Vec<String> = Vec::new();
        let mut negotiated = Negotiated {
            client_no_context_takeover: false,
        };
        for param in parts {
            let (name, value) = match param.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                None => (param, None),
            };
            let name = name.to_ascii_lowercase();
            if seen.contains(&name) {
                return None;
            }
            match (name.as_str(), value) {
                ("server_no_context_takeover", None) => {}
                ("client_no_context_takeover", None) => {
                    negotiated.client_no_context_takeover = true;
                }
                ("server_max_window_bits", Some("15")) => {}
                // Any client window fits the inflater's 32 KiB one; no value: the client
                // may use up to 15.
                ("client_max_window_bits", None) => {}
                ("client_max_window_bits", Some(v)) if window_bits(v) => {}
                _ => return None,
            }
            seen.push(name);
        }
        Some(negotiated)
    })
}

fn window_bits(v: &str) -> bool {
    v.len() <= 2 && v.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b))
}

thread_local! {
    /// Compressors per runtime thread, reset for each message: their state is some
    /// 300 KiB, too much to build per message (the allocation and its page faults cost more
    /// than the compression) or to keep per connection. Raw deflate (WebSocket messages,
    /// gzip bodies) and zlib-wrapped (HTTP `deflate` bodies).
    static RAW: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
    static ZLIB: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), true));
}

/// Runs `input` through a reset compressor, ending with `flush`.
fn run(c: &RefCell<Compress>, input: &[u8], flush: FlushCompress, out: &mut Vec<u8>) {
    let mut c = c.borrow_mut();
    c.reset();
    out.reserve(input.len() / 2 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c.compress_vec(&input[consumed..], out, flush);
        let done = match status {
            Ok(Status::StreamEnd) => true,
            Ok(_) => c.total_in() as usize == input.len() && out.len() < out.capacity(),
            Err(_) => true,
        };
        if done {
            return;
        }
        out.reserve(out.capacity().max(64));
    }
}

/// A message compressed on its own, the trailing `00 00 ff ff` removed.
pub fn compress(message: &[u8]) -> Bytes {
    let mut out = Vec::new();
    RAW.with(|c| run(c, message, FlushCompress::Sync, &mut out));
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Bytes::from(out)
}

/// An HTTP body compressed as `Content-Encoding: gzip` (RFC 1952: a fixed header, raw
/// deflate, CRC-32 and length) or `deflate` (zlib, RFC 1950).
pub fn compress_body(body: &[u8], gzip: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if !gzip {
        ZLIB.with(|c| run(c, body, FlushCompress::Finish, &mut out));
        return out;
    }
    // ID1 ID2, CM = deflate, no flags, no mtime, no extra flags, OS unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    RAW.with(|c| run(c, body, FlushCompress::Finish, &mut out));
    let mut crc = flate2::Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out
}

/// Inflates a connection's compressed messages, keeping the client's window between them
/// unless the client gave up its context.
pub struct Inflater {
    inflate: Decompress,
}

/// Why a message could not be inflated.
#[derive(Debug, PartialEq, Eq)]
pub enum InflateError {
    /// It inflates past the size limit (closed with 1009).
    TooBig,
    /// Not valid deflate data (closed with 1007, as `ws` does).
    Invalid,
}

impl Inflater {
    pub fn new() -> Inflater {
        Inflater {
            inflate: Decompress::new(false),
        }
    }

    /// Inflates one message, refusing it as soon as its output passes `max` bytes: a small
    /// message that inflates to gigabytes costs at most `max` bytes of memory.
    pub fn inflate(&mut self, compressed: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::with_capacity((compressed.len() * 4).min(max) + 64);
        for input in [compressed, &TAIL[..]] {
            let mut offset = 0;
            loop {
                let before = self.inflate.total_in();
                let status = self
                    .inflate
                    .decompress_vec(&input[offset..], &mut out, FlushDecompress::Sync)
                    .map_err(|_| InflateError::Invalid)?;
                offset += (self.inflate.total_in() - before) as usize;
                if out.len() > max {
                    return Err(InflateError::TooBig);
                }
                if offset == input.len() && out.len() < out.capacity() {
                    break;
                }
                if status == Status::StreamEnd {
                    // A final block ends the stream: what follows starts afresh.
                    self.inflate.reset(false);
                    break;
                }
                if out.len() == out.capacity() {
                    out.reserve(out.capacity().min(max + 1 - out.len()).max(64));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers_are_taken_or_declined_as_rfc_7692_says() {
        let plain = Some(Negotiated {
            client_no_context_takeover: false,
        });
        // What browsers and the `ws` client offer.
        assert_eq!(
            negotiate("permessage-deflate; client_max_window_bits"),
            plain
        );
        assert_eq!(negotiate("permessage-deflate"), plain);
        assert_eq!(
            negotiate("permessage-deflate; client_no_context_takeover")
                .map(|n| n.client_no_context_takeover),
            Some(true)
        );
        // A smaller server window is declined; the next offer is taken.
        assert_eq!(
            negotiate("permessage-deflate; server_max_window_bits=10, permessage-deflate"),
            plain
        );
        for declined in [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=16",
            "permessage-deflate; unknown",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(negotiate(declined), None, "{declined}");
        }
    }

    #[test]
    fn compressed_messages_inflate_back_on_one_connection() {
        let mut inflater = Inflater::new();
        for message in [&b"hello hello hello hello"[..], b"", &[7u8; 100_000]] {
            let deflated = compress(message);
            assert!(!deflated.ends_with(&TAIL));
            assert_eq!(inflater.inflate(&deflated, 1 << 20).unwrap(), message);
        }
    }

    #[test]
    fn http_bodies_decode_with_the_standard_decoders() {
        use std::io::Read as _;
        let body: Vec<u8> = (0..50_000u32)
            .map(|i| b"socket.io "[i as usize % 10])
            .collect();
        for _ in 0..2 {
            let gzip = compress_body(&body, true);
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gzip[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, body);
            let zlib = compress_body(&body, false);
            let mut back = Vec::new();
            flate2::read::ZlibDecoder::new(&zlib[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, body);
            assert!(gzip.len() < 1000 && zlib.len() < 1000);
        }
    }

    #[test]
    fn the_rfc_example_inflates() {
        // RFC 7692 §7.2.3.1: "Hello" in one compressed message.
        let mut inflater = Inflater::new();
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflater.inflate(&hello, 100).unwrap(), b"Hello");
    }

    #[test]
    fn a_bomb_stops_at_the_limit_and_garbage_is_refused() {
        let bomb = compress(&vec![0u8; 50_000_000]);
        assert!(bomb.len() < 100_000);
        let mut inflater = Inflater::new();
        assert_eq!(
            inflater.inflate(&bomb, 1_000_000),
            Err(InflateError::TooBig)
        );
        let mut inflater = Inflater::new();
        assert_eq!(
            inflater.inflate(&[0xff, 0xff, 0xff, 0xff], 100),
            Err(InflateError::Invalid)
        );
    }
}
