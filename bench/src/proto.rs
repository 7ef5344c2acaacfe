//! The wire protocol, as little of it as a load generator needs: pure functions over bytes.
//!
//! - WebSocket (RFC 6455) frames: parse the server's (unmasked) frames in place, write the
//!   client's masked text frames.
//! - HTTP/1.1 responses: the status line, `Content-Length` or chunked bodies.
//! - Engine.IO v4 / Socket.IO v5 packets: classified by their first bytes; only the fields
//!   the benchmark uses (ack ids, the timestamp and sequence number inside a benchmark
//!   event) are parsed. JSON is never parsed.

use std::fmt;

/// Name of the event the benchmark fans out (short: it is on every delivery).
pub const BENCH_EVENT: &str = "b";

/// Why bytes from a server were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtoError(pub &'static str);

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for ProtoError {}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

/// WebSocket opcodes the client cares about (Socket.IO servers send no WebSocket pings).
pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;

/// One complete frame found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsFrame {
    /// The opcode (low 4 bits of the first byte).
    pub opcode: u8,
    /// Where the payload starts, relative to the buffer given.
    pub start: usize,
    /// Where the payload ends (exclusive); also the number of bytes the frame occupies.
    pub end: usize,
    /// RSV1: the payload is compressed (permessage-deflate, RFC 7692); the caller refuses it
    /// unless the extension was negotiated.
    pub compressed: bool,
}

/// Parses the frame at the start of `buf`. `Ok(None)`: not complete yet, read more.
/// Server frames are never masked; fragmented messages are not used by Socket.IO servers
/// and are refused, as are RSV2 and RSV3 (RSV1 marks a permessage-deflate message).
pub fn ws_frame(buf: &[u8]) -> Result<Option<WsFrame>, ProtoError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let b0 = buf[0];
    let b1 = buf[1];
    if b0 & 0x30 != 0 {
        return Err(ProtoError("RSV2 or RSV3 set in a WebSocket frame"));
    }
    if b0 & 0x80 == 0 || b0 & 0x0f == 0 {
        return Err(ProtoError("fragmented WebSocket message"));
    }
    if b1 & 0x80 != 0 {
        return Err(ProtoError("masked frame from the server"));
    }
    let (len, header) = match b1 & 0x7f {
        126 => {
            if buf.len() < 4 {
                return Ok(None);
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4)
        }
        127 => {
            if buf.len() < 10 {
                return Ok(None);
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b), 10)
        }
        n => (n as u64, 2),
    };
    if len > (64 << 20) {
        return Err(ProtoError("WebSocket frame over 64 MiB"));
    }
    let end = header + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    Ok(Some(WsFrame {
        opcode: b0 & 0x0f,
        start: header,
        end,
        compressed: b0 & 0x40 != 0,
    }))
}

/// Appends a client frame (FIN set, masked) carrying `payload`. The masking key is zero:
/// RFC 6455 requires a mask but not its value, and the server unmasks every byte anyway, so
/// the server does the same work while the load generator skips the XOR.
pub fn ws_encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= u16::MAX as usize {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(payload);
}

/// The HTTP request that opens an Engine.IO session directly over WebSocket; with `deflate`
/// it offers permessage-deflate as browsers do (`client_max_window_bits` without a value:
/// the client takes whatever window the server picks; the client never compresses).
pub fn ws_upgrade_request(host: &str, path: &str, deflate: bool) -> Vec<u8> {
    let extension = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    format!(
        "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extension}\r\n"
    )
    .into_bytes()
}

/// The HTTP request that opens a plain WebSocket on `/` (the floor: no Engine.IO query, no
/// extension offered).
pub fn ws_raw_upgrade_request(host: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\n\
         Upgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// permessage-deflate as the server accepted it (`Sec-WebSocket-Extensions` of the 101).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// `server_no_context_takeover`: each message is compressed on its own (the client
    /// resets its inflater after each); without it the server's LZ77 window carries over.
    pub server_no_context_takeover: bool,
}

/// The `Content-Encoding` of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    /// HTTP's `deflate`: zlib-wrapped (RFC 9110), raw deflate tolerated.
    Deflate,
    /// Any other coding: an error for the client.
    Other,
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 responses
// ---------------------------------------------------------------------------------------------

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// `Content-Length: n` (also 0 when absent on a 101).
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed status line and headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// Bytes of the status line and headers, blank line included.
    pub len: usize,
    /// How the body is delimited.
    pub body: BodyKind,
    /// `Content-Encoding`.
    pub encoding: Encoding,
    /// permessage-deflate, when a 101 accepted it.
    pub deflate: Option<Deflate>,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses the head of a response at the start of `buf`; `Ok(None)` until it is complete.
pub fn http_head(buf: &[u8]) -> Result<Option<Head>, ProtoError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > 64 * 1024 {
            return Err(ProtoError("HTTP head over 64 KiB"));
        }
        return Ok(None);
    };
    let head = &buf[..end];
    let mut lines = head.split(|&b| b == b'\n');
    let status_line = lines.next().unwrap_or_default();
    if !status_line.starts_with(b"HTTP/1.") || status_line.len() < 12 {
        return Err(ProtoError("not an HTTP/1.x status line"));
    }
    let status = parse_u64(&status_line[9..12])
        .map(|(v, _)| v as u16)
        .ok_or(ProtoError("bad HTTP status"))?;
    let mut body = BodyKind::Length(0);
    let mut encoding = Encoding::Identity;
    let mut deflate = None;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
        if name.eq_ignore_ascii_case(b"content-length") {
            let (n, used) = parse_u64(value).ok_or(ProtoError("bad Content-Length"))?;
            if used != value.len() {
                return Err(ProtoError("bad Content-Length"));
            }
            body = BodyKind::Length(n as usize);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding")
            && value.eq_ignore_ascii_case(b"chunked")
        {
            body = BodyKind::Chunked;
        } else if name.eq_ignore_ascii_case(b"content-encoding") {
            encoding = match value.to_ascii_lowercase().as_slice() {
                b"identity" | b"" => Encoding::Identity,
                b"gzip" | b"x-gzip" => Encoding::Gzip,
                b"deflate" => Encoding::Deflate,
                _ => Encoding::Other,
            };
        } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") {
            let value = String::from_utf8_lossy(value).to_ascii_lowercase();
            let mut params = value.split(';').map(str::trim);
            if params.next() == Some("permessage-deflate") {
                deflate = Some(Deflate {
                    server_no_context_takeover: params.any(|p| p == "server_no_context_takeover"),
                });
            }
        }
    }
    Ok(Some(Head {
        status,
        len: end + 4,
        body,
        encoding,
        deflate,
    }))
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Decodes a chunked body at the start of `buf`: `Ok(None)` until the last chunk arrived,
/// else the body and the bytes it occupied (trailers are not supported).
pub fn http_chunked(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ProtoError> {
    let mut body = Vec::new();
    let mut i = 0;
    loop {
        let Some(eol) = find(&buf[i..], b"\r\n") else {
            return Ok(None);
        };
        let line = &buf[i..i + eol];
        let hex_len = line
            .iter()
            .position(|&b| b == b';')
            .map_or(line, |p| &line[..p]);
        let size = usize::from_str_radix(
            std::str::from_utf8(trim(hex_len)).map_err(|_| ProtoError("bad chunk size"))?,
            16,
        )
        .map_err(|_| ProtoError("bad chunk size"))?;
        i += eol + 2;
        if buf.len() < i + size + 2 {
            return Ok(None);
        }
        if &buf[i + size..i + size + 2] != b"\r\n" {
            return Err(ProtoError("chunk not followed by CRLF"));
        }
        if size == 0 {
            return Ok(Some((body, i + 2)));
        }
        body.extend_from_slice(&buf[i..i + size]);
        i += size + 2;
    }
}

// ---------------------------------------------------------------------------------------------
// Engine.IO / Socket.IO
// ---------------------------------------------------------------------------------------------

/// The record separator between the packets of one long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// An Engine.IO packet (Socket.IO packets inside `4` messages), classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet {
    /// `0{...}`: the session is open.
    Open,
    /// `1`: the server closed the session.
    Close,
    /// `2`: a heartbeat; answer `3`.
    Ping,
    /// `40{"sid":...}`: joined the main namespace.
    Connected,
    /// `44{...}`: the namespace refused the client.
    ConnectError,
    /// `41`: disconnected from the namespace by the server.
    Disconnect,
    /// `42["b","<send time µs>:<seq>:..."]`: a benchmark fan-out delivery.
    Bench {
        /// Send time, microseconds since the load generator's epoch.
        sent_us: u64,
        /// Which fan-out message it is.
        seq: u32,
    },
    /// `43<id>[...]`: an ack.
    Ack {
        /// The ack id the client chose.
        id: u64,
    },
    /// Any other event (`auth`, ...).
    Event,
    /// Anything else (pong, noop, binary...).
    Other,
    /// A raw WebSocket server's answer to an echo request (the floor): any text message
    /// that is not a fan-out delivery. One request is in flight per client, so no id.
    Reply,
}

/// Parses leading ASCII digits: the value and how many bytes they took.
pub fn parse_u64(s: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add((s[i] - b'0') as u64)?;
        i += 1;
    }
    (i > 0).then_some((v, i))
}

/// Classifies one Engine.IO packet (a WebSocket text frame, or one part of a polling body).
pub fn classify(p: &[u8]) -> Packet {
    match p {
        [b'0', ..] => Packet::Open,
        [b'1', ..] => Packet::Close,
        [b'2', ..] => Packet::Ping,
        [b'4', b'0', ..] => Packet::Connected,
        [b'4', b'1', ..] => Packet::Disconnect,
        [b'4', b'4', ..] => Packet::ConnectError,
        [b'4', b'3', rest @ ..] => match parse_u64(rest) {
            Some((id, _)) => Packet::Ack { id },
            None => Packet::Other,
        },
        [b'4', b'2', rest @ ..] => bench_event(rest).unwrap_or(Packet::Event),
        _ => Packet::Other,
    }
}

fn bench_event(rest: &[u8]) -> Option<Packet> {
    // ["b","<sent_us>:<seq>:   or, the JSON payload,   ["b",{"_ts":"<sent_us>:<seq>",...
    let rest = rest.strip_prefix(b"[\"")?;
    let rest = rest.strip_prefix(BENCH_EVENT.as_bytes())?;
    let rest = trim_start(rest.strip_prefix(b"\",")?);
    let rest = match rest.strip_prefix(b"\"") {
        Some(data) => data,
        None => {
            // Whatever the host's encoder does with keys and blanks: `"_ts"`, then `:` and
            // the string (`_ts` comes first in the order sent and in sorted order).
            let at = find(rest, TS_KEY)? + TS_KEY.len();
            trim_start(&rest[at..])
                .strip_prefix(b":")
                .map(trim_start)?
                .strip_prefix(b"\"")?
        }
    };
    let (sent_us, used) = parse_u64(rest)?;
    let rest = rest[used..].strip_prefix(b":")?;
    let (seq, _) = parse_u64(rest)?;
    Some(Packet::Bench {
        sent_us,
        seq: u32::try_from(seq).ok()?,
    })
}

/// Classifies one text message of the floor (bench/peers/README.md), which has no
/// Engine.IO or Socket.IO layer: `{"connected":ID}` is [`Packet::Connected`]; a fan-out
/// delivery is the JSON string `"<sent_us>:<seq>:xxx…"` ([`Packet::Bench`]); any other
/// message is the answer to an echo ([`Packet::Reply`]).
pub fn classify_raw(p: &[u8]) -> Packet {
    if p.starts_with(b"{\"connected\"") {
        return Packet::Connected;
    }
    p.strip_prefix(b"\"")
        .and_then(|rest| {
            let (sent_us, used) = parse_u64(rest)?;
            let (seq, _) = parse_u64(rest[used..].strip_prefix(b":")?)?;
            Some(Packet::Bench {
                sent_us,
                seq: u32::try_from(seq).ok()?,
            })
        })
        .unwrap_or(Packet::Reply)
}

/// Appends the floor's fan-out request: `{"fanout":"<sent_us>:<seq>:xxx..."}` (the same
/// data string as a Socket.IO fan-out's).
pub fn floor_fanout(out: &mut Vec<u8>, sent_us: u64, seq: u32, data_len: usize) {
    out.extend_from_slice(b"{\"fanout\":\"");
    bench_data(out, sent_us, seq, data_len);
    out.extend_from_slice(b"\"}");
}

/// Appends the floor's echo request with a string of `len` bytes: `{"echo":"yyy..."}`.
pub fn floor_echo(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"{\"echo\":\"");
    out.resize(out.len() + len, b'y');
    out.extend_from_slice(b"\"}");
}

/// The session id of an open packet (`0{"sid":"..."...}`).
pub fn open_sid(p: &[u8]) -> Option<&str> {
    let key = b"\"sid\":\"";
    let at = find(p, key)? + key.len();
    let len = p[at..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&p[at..at + len]).ok()
}

/// The packets of a long-polling payload.
pub fn polling_packets(body: &[u8]) -> impl Iterator<Item = &[u8]> {
    body.split(|&b| b == SEPARATOR).filter(|p| !p.is_empty())
}

/// Appends the data string of a fan-out message: `<sent_us>:<seq>:` padded with `x` to
/// exactly `len` bytes (longer when the numbers alone need more).
pub fn bench_data(out: &mut Vec<u8>, sent_us: u64, seq: u32, len: usize) {
    let start = out.len();
    push_u64(out, sent_us);
    out.push(b':');
    push_u64(out, seq as u64);
    out.push(b':');
    while out.len() - start < len {
        out.push(b'x');
    }
}

/// Appends a complete Engine.IO packet carrying a Socket.IO `fanout` request:
/// `42["fanout",{"event":"b","data":"<sent_us>:<seq>:xxx..."}]`.
pub fn fanout_packet(out: &mut Vec<u8>, sent_us: u64, seq: u32, data_len: usize) {
    out.extend_from_slice(b"42[\"fanout\",{\"event\":\"");
    out.extend_from_slice(BENCH_EVENT.as_bytes());
    out.extend_from_slice(b"\",\"data\":\"");
    bench_data(out, sent_us, seq, data_len);
    out.extend_from_slice(b"\"}]");
}

/// Appends the JSON body of a publish through a server's HTTP API (`POST /api/emit`): the
/// event and data of a fan-out message, `{"event":"b","args":["<sent_us>:<seq>:xxx..."]}`,
/// so every client gets the same `42["b","..."]` a fan-out delivers.
pub fn publish_body(out: &mut Vec<u8>, sent_us: u64, seq: u32, data_len: usize) {
    out.extend_from_slice(b"{\"event\":\"");
    out.extend_from_slice(BENCH_EVENT.as_bytes());
    out.extend_from_slice(b"\",\"args\":[\"");
    bench_data(out, sent_us, seq, data_len);
    out.extend_from_slice(b"\"]}");
}

/// The key of the timestamp in a JSON fan-out payload.
const TS_KEY: &[u8] = b"\"_ts\"";

/// Appends a complete Engine.IO packet carrying a Socket.IO `fanout` request whose data is a
/// realistic JSON event of about 2 KB (the compression scenarios): a job board's page of 6
/// rows, `{"_ts":"<sent_us>:<seq>","page":…,"jobs":[{…},…]}`. The rows change with `seq`
/// (ids, titles, companies, figures) the way successive pages of a real board do: the same
/// keys and vocabulary, different values.
pub fn fanout_json_packet(out: &mut Vec<u8>, sent_us: u64, seq: u32) {
    out.extend_from_slice(b"42[\"fanout\",{\"event\":\"");
    out.extend_from_slice(BENCH_EVENT.as_bytes());
    out.extend_from_slice(b"\",\"data\":");
    job_page(out, sent_us, seq);
    out.extend_from_slice(b"}]");
}

/// The JSON object of [`fanout_json_packet`].
pub fn job_page(out: &mut Vec<u8>, sent_us: u64, seq: u32) {
    const TITLES: [&str; 11] = [
        "Senior Backend Engineer (Rust)",
        "Staff Site Reliability Engineer",
        "Frontend Developer, Design Systems",
        "Data Engineer, Streaming Platform",
        "Engineering Manager, Payments",
        "Mobile Developer (iOS, Swift)",
        "Security Engineer, Cloud Infrastructure",
        "Product Designer, Growth",
        "Machine Learning Engineer, Ranking",
        "Technical Support Specialist",
        "Developer Advocate",
    ];
    const COMPANIES: [&str; 7] = [
        "Acme Robotics GmbH",
        "Northwind Logistics",
        "Blue Harbor Analytics",
        "Quantum Leaf Energy",
        "Helios Health Systems",
        "Paper Crane Media",
        "Vertex Payments Ltd",
    ];
    const PLACES: [&str; 6] = [
        "Berlin, Germany",
        "Lisbon, Portugal",
        "Toronto, Canada",
        "Austin, TX, United States",
        "Remote (Europe)",
        "Singapore",
    ];
    const TAGS: [&str; 9] = [
        "rust",
        "tokio",
        "kubernetes",
        "postgres",
        "typescript",
        "react",
        "kafka",
        "aws",
        "go",
    ];
    let s = seq as usize;
    out.extend_from_slice(b"{\"_ts\":\"");
    push_u64(out, sent_us);
    out.push(b':');
    push_u64(out, seq as u64);
    out.extend_from_slice(b"\",\"board\":\"engineering\",\"page\":");
    push_u64(out, (s % 50 + 1) as u64);
    out.extend_from_slice(b",\"total\":");
    push_u64(out, (1_200 + s % 97) as u64);
    out.extend_from_slice(b",\"jobs\":[");
    for k in 0..6usize {
        let r = s.wrapping_mul(6).wrapping_add(k);
        if k > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"id\":");
        push_u64(out, 40_000 + r as u64);
        out.extend_from_slice(b",\"title\":\"");
        out.extend_from_slice(TITLES[(r * 7 + s) % TITLES.len()].as_bytes());
        out.extend_from_slice(b"\",\"company\":{\"name\":\"");
        out.extend_from_slice(COMPANIES[(r * 3 + k) % COMPANIES.len()].as_bytes());
        out.extend_from_slice(b"\",\"verified\":");
        out.extend_from_slice(if r % 3 == 0 { b"false" } else { b"true" });
        out.extend_from_slice(b"},\"location\":\"");
        out.extend_from_slice(PLACES[(r * 5 + s / 3) % PLACES.len()].as_bytes());
        out.extend_from_slice(b"\",\"remote\":");
        out.extend_from_slice(if r % 2 == 0 { b"true" } else { b"false" });
        out.extend_from_slice(b",\"salary\":{\"min\":");
        let min = 55_000 + (r * 7_919) % 60_000 / 500 * 500;
        push_u64(out, min as u64);
        out.extend_from_slice(b",\"max\":");
        push_u64(
            out,
            (min + 15_000 + (r * 104_729) % 30_000 / 500 * 500) as u64,
        );
        out.extend_from_slice(b",\"currency\":\"");
        out.extend_from_slice(["EUR", "USD", "CAD", "SGD"][r % 4].as_bytes());
        out.extend_from_slice(b"\"},\"tags\":[");
        for t in 0..3usize {
            if t > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(TAGS[(r * 5 + t * 2 + s) % TAGS.len()].as_bytes());
            out.push(b'"');
        }
        out.extend_from_slice(b"],\"posted\":\"2026-12-");
        let day = 1 + (r * 13) % 28;
        out.push(b'0' + (day / 10) as u8);
        out.push(b'0' + (day % 10) as u8);
        out.extend_from_slice(b"T");
        let (h, m) = ((r * 17) % 24, (r * 31) % 60);
        out.extend_from_slice(&[b'0' + (h / 10) as u8, b'0' + (h % 10) as u8, b':']);
        out.extend_from_slice(&[b'0' + (m / 10) as u8, b'0' + (m % 10) as u8]);
        out.extend_from_slice(b":00Z\",\"applicants\":");
        push_u64(out, ((r * 37) % 250) as u64);
        out.extend_from_slice(b",\"status\":\"");
        out.extend_from_slice(["open", "open", "interviewing", "open", "closed"][r % 5].as_bytes());
        out.extend_from_slice(b"\"}");
    }
    out.extend_from_slice(b"]}");
}

/// Appends a `message-with-ack` request with ack `id` and a string argument of `len` bytes.
pub fn echo_packet(out: &mut Vec<u8>, id: u64, len: usize) {
    out.extend_from_slice(b"42");
    push_u64(out, id);
    out.extend_from_slice(b"[\"message-with-ack\",\"");
    out.resize(out.len() + len, b'y');
    out.extend_from_slice(b"\"]");
}

/// Appends a Socket.IO event with no argument that asks for ack `id`: `42<id>["<event>"]`.
pub fn call_packet(out: &mut Vec<u8>, id: u64, event: &str) {
    out.extend_from_slice(b"42");
    push_u64(out, id);
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\"]");
}

/// The whole number after `"key":` in an ack or event (e.g. `servers` in the `cluster-stats`
/// answer `43<id>[{"sockets":10,"servers":2}]`). Tolerates the blanks any host's JSON encoder
/// puts around the colon (Python's `json.dumps` writes `"key": 2`); no other JSON is read.
pub fn json_number(p: &[u8], key: &str) -> Option<u64> {
    let mut quoted = Vec::with_capacity(key.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(key.as_bytes());
    quoted.push(b'"');
    let at = find(p, &quoted)? + quoted.len();
    let rest = trim_start(&p[at..]).strip_prefix(b":")?;
    parse_u64(trim_start(rest)).map(|(v, _)| v)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let blanks = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[blanks..]
}

/// Appends the decimal digits of `v`.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_publish_body_carries_a_fanout_payload() {
        let mut out = Vec::new();
        publish_body(&mut out, 123_456, 42, 20);
        assert_eq!(out, br#"{"event":"b","args":["123456:42:xxxxxxxxxx"]}"#);
        // What a server emits from it is a fan-out delivery.
        let delivered = b"42[\"b\",\"123456:42:xxxxxxxxxx\"]";
        assert_eq!(
            classify(delivered),
            Packet::Bench {
                sent_us: 123_456,
                seq: 42
            }
        );
    }

    #[test]
    fn ws_frames_of_every_length_form() {
        // 5-byte text frame, then a partial frame
        let mut buf = vec![0x81, 5];
        buf.extend_from_slice(b"40{}x");
        buf.extend_from_slice(&[0x81, 126, 0x01]);
        let f = ws_frame(&buf).unwrap().unwrap();
        assert_eq!((f.opcode, &buf[f.start..f.end]), (OP_TEXT, &b"40{}x"[..]));
        assert_eq!(ws_frame(&buf[f.end..]), Ok(None));
        // 16-bit length
        let mut big = vec![0x81, 126, 0x01, 0x00];
        big.resize(4 + 256, b'a');
        let f = ws_frame(&big).unwrap().unwrap();
        assert_eq!((f.start, f.end), (4, 260));
        assert_eq!(ws_frame(&big[..259]), Ok(None));
        // 64-bit length
        let mut huge = vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0];
        huge.resize(10 + 65536, 0);
        let f = ws_frame(&huge).unwrap().unwrap();
        assert_eq!((f.opcode, f.start, f.end), (0x2, 10, 65546));
        // refused
        assert!(ws_frame(&[0x01, 0]).is_err(), "fragment");
        assert!(ws_frame(&[0xA1, 0]).is_err(), "RSV2");
        assert!(ws_frame(&[0x91, 0]).is_err(), "RSV3");
        let f = ws_frame(&[0xC1, 1, 0]).unwrap().unwrap();
        assert!(f.compressed, "RSV1: permessage-deflate");
        assert!(!ws_frame(&[0x81, 1, 0]).unwrap().unwrap().compressed);
        assert!(ws_frame(&[0x81, 0x81, 0, 0, 0, 0, b'a']).is_err(), "masked");
    }

    #[test]
    fn ws_client_frames_are_masked() {
        let mut out = Vec::new();
        ws_encode(&mut out, OP_TEXT, b"3");
        assert_eq!(out, [0x81, 0x81, 0, 0, 0, 0, b'3']);
        out.clear();
        ws_encode(&mut out, OP_TEXT, &[b'a'; 300]);
        assert_eq!(&out[..8], &[0x81, 0xFE, 0x01, 0x2C, 0, 0, 0, 0]);
        assert_eq!(out.len(), 8 + 300);
    }

    #[test]
    fn http_heads_and_bodies() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nContent-Length:  3 \r\n\r\nok!";
        let h = http_head(r).unwrap().unwrap();
        assert_eq!(h.status, 200);
        assert_eq!(h.body, BodyKind::Length(3));
        assert_eq!(&r[h.len..], b"ok!");
        assert_eq!(http_head(&r[..20]), Ok(None));
        let up = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x01";
        let h = http_head(up).unwrap().unwrap();
        assert_eq!((h.status, h.body), (101, BodyKind::Length(0)));
        assert_eq!(&up[h.len..], b"\x81\x01");
        assert!(http_head(b"SSH-2.0\r\n\r\n").is_err());

        let c = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n40{\r\n2;x=y\r\n}\x1e\r\n0\r\n\r\nNEXT";
        let h = http_head(c).unwrap().unwrap();
        assert_eq!(h.body, BodyKind::Chunked);
        let (body, used) = http_chunked(&c[h.len..]).unwrap().unwrap();
        assert_eq!(body, b"40{}\x1e");
        assert_eq!(&c[h.len + used..], b"NEXT");
        assert_eq!(http_chunked(&c[h.len..c.len() - 8]), Ok(None));
    }

    #[test]
    fn the_floors_messages() {
        let mut req = Vec::new();
        floor_fanout(&mut req, 1733357000123456, 7, 40);
        assert!(req.starts_with(b"{\"fanout\":\"1733357000123456:7:xxx"));
        assert!(req.ends_with(b"x\"}"));
        assert_eq!(req.len(), 40 + b"{\"fanout\":\"\"}".len());
        // The server sends the data's JSON text as it was: the quoted string.
        let delivery = &req[b"{\"fanout\":".len()..req.len() - 1];
        assert_eq!(
            classify_raw(delivery),
            Packet::Bench {
                sent_us: 1733357000123456,
                seq: 7
            }
        );
        assert_eq!(classify_raw(b"{\"connected\":12}"), Packet::Connected);
        let mut echo = Vec::new();
        floor_echo(&mut echo, 5);
        assert_eq!(echo, b"{\"echo\":\"yyyyy\"}");
        assert_eq!(classify_raw(b"\"yyyyy\""), Packet::Reply);
        let up = String::from_utf8(ws_raw_upgrade_request("127.0.0.1:9")).unwrap();
        assert!(up.starts_with("GET / HTTP/1.1\r\n") && up.ends_with("13\r\n\r\n"));
        assert!(!up.contains("EIO") && !up.contains("Extensions"));
    }

    #[test]
    fn classifies_packets() {
        assert_eq!(
            classify(b"0{\"sid\":\"abc\",\"upgrades\":[]}"),
            Packet::Open
        );
        assert_eq!(open_sid(b"0{\"sid\":\"abc\",\"upgrades\":[]}"), Some("abc"));
        assert_eq!(classify(b"2"), Packet::Ping);
        assert_eq!(classify(b"40{\"sid\":\"x\"}"), Packet::Connected);
        assert_eq!(classify(b"44{\"message\":\"no\"}"), Packet::ConnectError);
        assert_eq!(classify(b"41"), Packet::Disconnect);
        assert_eq!(classify(b"4317[\"y\"]"), Packet::Ack { id: 17 });
        assert_eq!(classify(b"42[\"auth\",{}]"), Packet::Event);
        assert_eq!(classify(b"42[\"bb\",\"1:2:\"]"), Packet::Event);
        assert_eq!(classify(b"6"), Packet::Other);
        assert_eq!(classify(b""), Packet::Other);

        let mut out = Vec::new();
        fanout_packet(&mut out, 123_456, 42, 200);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("42[\"fanout\",{\"event\":\"b\",\"data\":\"123456:42:xx"));
        // the server emits `b` with the data: what the clients receive
        let data_start = text.find("\"data\":\"").unwrap() + 8;
        let data = &text[data_start..text.len() - 3];
        assert_eq!(data.len(), 200);
        let delivered = format!("42[\"b\",\"{data}\"]");
        assert_eq!(
            classify(delivered.as_bytes()),
            Packet::Bench {
                sent_us: 123_456,
                seq: 42
            }
        );
        out.clear();
        echo_packet(&mut out, 7, 3);
        assert_eq!(out, b"427[\"message-with-ack\",\"yyy\"]");
    }

    #[test]
    fn json_fanout_payloads_are_about_2_kb_and_classified_however_encoded() {
        let mut out = Vec::new();
        fanout_json_packet(&mut out, 123_456, 42);
        let text = std::str::from_utf8(&out).unwrap();
        assert!(text.starts_with(r#"42["fanout",{"event":"b","data":{"_ts":"123456:42","#));
        assert!(text.ends_with("]}}]"), "{text}");
        let data = &text[text.find(r#""data":"#).unwrap() + 7..text.len() - 2];
        assert!((1_800..2_400).contains(&data.len()), "{} B", data.len());
        assert_eq!(data.matches(r#"{"id":"#).count(), 6);
        // Another page: the same shape, other values.
        let mut other = Vec::new();
        fanout_json_packet(&mut other, 123_456, 43);
        assert_ne!(out[60..], other[60..]);
        let bench = Packet::Bench {
            sent_us: 123_456,
            seq: 42,
        };
        // As sent (socket.io), keys sorted (serde_json without preserve_order), Python's blanks.
        let delivered = format!("42[\"b\",{data}]");
        assert_eq!(classify(delivered.as_bytes()), bench);
        let sorted = br#"42["b",{"_ts":"123456:42","board":"engineering","jobs":[]}]"#;
        assert_eq!(classify(sorted), bench);
        let python = br#"42["b", {"board": "x", "_ts": "123456:42", "jobs": []}]"#;
        assert_eq!(classify(python), bench);
        let spaced = br#"42["b",{"board": "x", "_ts" : "123456:42", "jobs": []}]"#;
        assert_eq!(classify(spaced), bench);
        assert_eq!(classify(br#"42["b",{"ts":"1:2"}]"#), Packet::Event);
    }

    #[test]
    fn extension_and_content_encoding_headers() {
        let up = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; \
            client_max_window_bits=15\r\n\r\n";
        let h = http_head(up).unwrap().unwrap();
        let nct = Some(Deflate {
            server_no_context_takeover: true,
        });
        assert_eq!(h.deflate, nct);
        let ws = b"HTTP/1.1 101 OK\r\nsec-websocket-extensions: permessage-deflate\r\n\r\n";
        let h = http_head(ws).unwrap().unwrap();
        assert_eq!(h.deflate.map(|d| d.server_no_context_takeover), Some(false));
        let plain = b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(http_head(plain).unwrap().unwrap().deflate, None);
        let gz = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(http_head(gz).unwrap().unwrap().encoding, Encoding::Gzip);
        let df = b"HTTP/1.1 200 OK\r\ncontent-encoding: Deflate\r\n\r\n";
        assert_eq!(http_head(df).unwrap().unwrap().encoding, Encoding::Deflate);
        let br = b"HTTP/1.1 200 OK\r\ncontent-encoding: br\r\n\r\n";
        assert_eq!(http_head(br).unwrap().unwrap().encoding, Encoding::Other);
        let offer = String::from_utf8(ws_upgrade_request("h", "/socket.io/", true)).unwrap();
        assert!(offer.contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
        ));
        let none = String::from_utf8(ws_upgrade_request("h", "/socket.io/", false)).unwrap();
        assert!(!none.contains("Extensions") && none.ends_with("13\r\n\r\n"));
    }

    #[test]
    fn reads_numbers_of_an_answer() {
        let mut out = Vec::new();
        call_packet(&mut out, 9, "cluster-stats");
        assert_eq!(out, b"429[\"cluster-stats\"]");
        let js = b"439[{\"sockets\":1001,\"servers\":2}]";
        assert_eq!(classify(js), Packet::Ack { id: 9 });
        assert_eq!(json_number(js, "sockets"), Some(1001));
        assert_eq!(json_number(js, "servers"), Some(2));
        let py = b"439[{\"servers\" : 1, \"sockets\": 12}]";
        assert_eq!(json_number(py, "servers"), Some(1));
        assert_eq!(json_number(py, "sockets"), Some(12));
        assert_eq!(
            json_number(b"439[{\"error\":\"timeout\"}]", "servers"),
            None
        );
        assert_eq!(json_number(b"439[{\"servers\":\"2\"}]", "servers"), None);
    }

    #[test]
    fn polling_payloads_split() {
        let parts: Vec<_> = polling_packets(b"40{\"sid\":\"s\"}\x1e42[\"auth\",{}]\x1e2").collect();
        assert_eq!(
            parts,
            [
                &b"40{\"sid\":\"s\"}"[..],
                &b"42[\"auth\",{}]"[..],
                &b"2"[..]
            ]
        );
        assert_eq!(parse_u64(b"0042x"), Some((42, 4)));
        assert_eq!(parse_u64(b"x"), None);
        assert_eq!(parse_u64(b"99999999999999999999999"), None);
        let mut d = Vec::new();
        push_u64(&mut d, 0);
        push_u64(&mut d, 18_446_744_073_709_551_615);
        assert_eq!(d, b"018446744073709551615");
    }
}
