//! Seeded fuzz tests of rtio's decoders, run by a plain `cargo test` on stable (so by
//! `make test`): the Engine.IO packet and long-polling payload decoders, the Socket.IO
//! packet decoder with the placeholder check attachment reassembly relies on, and the
//! WebSocket frame reader.
//!
//! Each test runs a fixed number of cases, each from its own generator seeded from a fixed
//! seed and the case's number, so every run is the same. Cases mix random bytes, valid
//! input checked against a model of what it must decode to (so a broken generator or
//! decoder fails the test, not just a panicking one), and valid input mutated (flipped and
//! inserted bytes, truncations, huge declared lengths and counts, deep nesting, bogus
//! placeholders, bad UTF-8...), checked for consistency.
//!
//! A counting global allocator records, per thread, the peak of the live heap during each
//! decode: a case that allocates beyond a bound proportional to its input (for the
//! WebSocket reader: to its message size limit) fails, as does a panic. The message gives
//! the input bytes, to keep as a regression test at the end of this file.
//!
//! `RTIO_FUZZ_SEED=<u64>` runs other cases; `RTIO_FUZZ_SCALE=<n>` runs n times as many.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::future::Future;
use std::hash::Hasher;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use base64::Engine as _;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, RngCore, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use rtio::engineio::packet::{decode_payload, decode_text, Packet, SEPARATOR};
use rtio::fuzzing::{ReadEnd, WsConn, WsMessage};
use rtio::socketio::packet::{check_placeholders, decode, PacketType};

// --- heap accounting ---------------------------------------------------------------------------

/// The system allocator, counting the live bytes of each thread and their peak, so each
/// test (one thread each) measures its own decodes.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn grew(bytes: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes as isize;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get() - bytes as isize));
}

// SAFETY: every call is passed to `System` unchanged; the counting touches no heap.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // Both blocks counted for a moment, as both exist when the block moves.
            grew(new_size);
            shrank(layout.size());
        }
        p
    }
}

#[global_allocator]
static HEAP: Counting = Counting;

/// Runs `f`: its result, and the most heap bytes this thread held meanwhile beyond what it
/// held before (the result included).
fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    let peak = PEAK.with(Cell::get) - base;
    (r, peak.max(0) as usize)
}

/// Heap any decode may take whatever its input (first allocations of a `Vec`, a parser's
/// scratch space...).
const SLACK: usize = 64 * 1024;

// Bounds on the peak heap of one decode, per input byte, from what the decoders keep (a
// `Vec` grown by doubling holds up to twice what it needs, and three times for a moment
// while it moves). Worst cases measured (here and in `RTIO_FUZZ_SCALE=15` runs of other
// seeds): 49 per byte for a payload of 16 000 `6`s (38 in the fuzz cases), 24 for Socket.IO
// (`[0,0,...]`), under the slack for the placeholder check, and 4.7 per byte of the limit
// for the WebSocket reader (70 000 bytes; 6.7 for a 4 KiB limit, which the slack's read
// chunk dominates). A decoder that allocates by a declared count or length, or keeps a
// tree of the input, goes far beyond: the placeholder check took 98 per byte.

/// Engine.IO payload: a `Vec` of 40-byte packets, the smallest being 2 bytes of input
/// (`6\x1e`): 60 at worst. `max_packets` bounds it too (see [`PAYLOAD_PER_PACKET`]).
const PAYLOAD_PER_BYTE: usize = 64;
/// Per packet `decode_payload` may take: its place in the `Vec` (three times, as above) and
/// a binary packet's `Bytes` header (the decoded bytes themselves count as input bytes).
const PAYLOAD_PER_PACKET: usize = 3 * std::mem::size_of::<Packet>() + 32;
/// Socket.IO decode: a 16-byte slice for each item of the data's array, the smallest being
/// 2 bytes (`0,`): 24 at worst; and the event's name and arguments, copied.
const SIO_PER_BYTE: usize = 32;
/// The placeholder check keeps no values, only the parser's scratch space for a string with
/// escapes. (It parsed into a `serde_json::Value` tree: up to 98 bytes per byte.)
const PLACEHOLDERS_PER_BYTE: usize = 4;
/// The WebSocket reader holds one incomplete frame (up to the message limit) and what came
/// with it in a read (16 KiB, in `SLACK`), the fragments of one message (up to the limit),
/// and the message: 1 + 2 + 2 + 1 with growth by doubling, though not all at once.
const WS_PER_MESSAGE_LIMIT: usize = 6;

/// Fails with the input when `peak` exceeds `bound`.
fn assert_heap(what: &str, input: &[u8], peak: usize, bound: usize) {
    assert!(
        peak <= bound,
        "{what} took {peak} bytes of heap (bound {bound}) for {} input bytes: {}",
        input.len(),
        show(input)
    );
}

/// The input as a byte string literal (its start, when long).
fn show(input: &[u8]) -> String {
    const MAX: usize = 4096;
    let cut = &input[..input.len().min(MAX)];
    let more = if input.len() > MAX { " (cut)" } else { "" };
    format!("b\"{}\"{more}", cut.escape_ascii())
}

/// Runs one decode under [`peak_heap`]; a panic fails the test with the input.
fn run<R>(what: &str, input: &[u8], f: impl FnOnce() -> R) -> (R, usize) {
    match catch_unwind(AssertUnwindSafe(|| peak_heap(f))) {
        Ok(r) => r,
        Err(_) => panic!("{what} panicked on {}", show(input)),
    }
}

/// The largest peaks seen, for tuning the bounds (printed with `--nocapture`): the largest
/// of all, and the largest per input byte (per limit byte, for the reader) of inputs of at
/// least 1 KiB.
#[derive(Default)]
struct Worst {
    peak: (usize, usize),
    ratio: (f64, usize, usize),
}

impl Worst {
    fn saw(&mut self, size: usize, peak: usize) {
        if peak > self.peak.0 {
            self.peak = (peak, size);
        }
        let ratio = peak as f64 / size.max(1) as f64;
        if size >= 1024 && ratio > self.ratio.0 {
            self.ratio = (ratio, peak, size);
        }
    }

    fn report(&self, what: &str) {
        let (peak, size) = self.peak;
        let (ratio, rpeak, rsize) = self.ratio;
        eprintln!(
            "{what}: largest peak {peak} bytes (for {size}); largest per byte {ratio:.1} \
             ({rpeak} for {rsize})"
        );
    }
}

// --- cases -------------------------------------------------------------------------------------

const DEFAULT_SEED: u64 = 0x7274_696f_0015_0006;

fn seed() -> u64 {
    let Ok(s) = std::env::var("RTIO_FUZZ_SEED") else {
        return DEFAULT_SEED;
    };
    let s = s.trim();
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.expect("RTIO_FUZZ_SEED is a number")
}

fn scale() -> usize {
    std::env::var("RTIO_FUZZ_SCALE")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1)
}

/// Runs `cases` cases of the test `name`, each with its own generator from the seed, the
/// name and the case's number; a failing case is named, to be replayed.
fn fuzz(name: &str, cases: usize, mut case: impl FnMut(&mut StdRng)) {
    let seed = seed();
    let salt = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    for i in 0..cases * scale() {
        let mut rng =
            StdRng::seed_from_u64(seed ^ salt ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| case(&mut rng))) {
            eprintln!("{name}: case {i} failed (RTIO_FUZZ_SEED={seed:#x})");
            resume_unwind(panic);
        }
    }
}

// --- generators --------------------------------------------------------------------------------

/// A length: mostly small, sometimes up to tens of KiB.
fn rand_len(rng: &mut StdRng) -> usize {
    match rng.random_range(0..100) {
        0..60 => rng.random_range(0..16),
        60..85 => rng.random_range(16..256),
        85..97 => rng.random_range(256..4096),
        _ => rng.random_range(4096..70_000),
    }
}

fn rand_bytes(rng: &mut StdRng, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    if rng.random_bool(0.2) {
        // Few distinct bytes: more separators, digits and brackets than uniform bytes give.
        let alphabet: Vec<u8> = (0..4).map(|_| rng.random()).collect();
        out.iter_mut()
            .for_each(|b| *b = *alphabet.choose(rng).unwrap());
    } else {
        rng.fill_bytes(&mut out);
    }
    out
}

/// Characters that matter to the decoders: JSON syntax, escapes, separators, controls,
/// multi-byte UTF-8.
const CHARS: &[char] = &[
    'a',
    'b',
    'z',
    'A',
    '0',
    '1',
    '9',
    ' ',
    '"',
    '\\',
    '[',
    ']',
    '{',
    '}',
    ',',
    ':',
    '/',
    '-',
    '\n',
    '\t',
    '\0',
    '\x1e',
    '\x1f',
    '\x7f',
    'é',
    'ÿ',
    '☃',
    '\u{2028}',
    '\u{fffd}',
    '😀',
    '\u{10ffff}',
];

fn rand_char(rng: &mut StdRng) -> char {
    if rng.random_bool(0.6) {
        rng.random_range('a'..='z')
    } else {
        *CHARS.choose(rng).unwrap()
    }
}

fn rand_string(rng: &mut StdRng, chars: usize) -> String {
    (0..chars).map(|_| rand_char(rng)).collect()
}

/// A JSON value without floats that do not round-trip, at most `depth` deep.
fn rand_json(rng: &mut StdRng, depth: usize) -> Value {
    match rng.random_range(0..if depth == 0 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => json!(rng.random_range(-1000i64..1000)),
        3 => [
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.5),
            json!(-2.25e10),
        ]
        .choose(rng)
        .unwrap()
        .clone(),
        4 | 5 => {
            let len = rand_len(rng).min(300);
            Value::String(rand_string(rng, len))
        }
        6 | 7 => (0..rng.random_range(0..5))
            .map(|_| rand_json(rng, depth - 1))
            .collect(),
        _ => rand_object(rng, depth - 1),
    }
}

fn rand_object(rng: &mut StdRng, depth: usize) -> Value {
    Value::Object(
        (0..rng.random_range(0..4))
            .map(|_| {
                let len = rng.random_range(0..8);
                (rand_string(rng, len), rand_json(rng, depth))
            })
            .collect(),
    )
}

/// JSON text of `v`, compact or with whitespace.
fn to_text(rng: &mut StdRng, v: &Value) -> String {
    if rng.random_bool(0.2) {
        serde_json::to_string_pretty(v).unwrap()
    } else {
        serde_json::to_string(v).unwrap()
    }
}

/// `levels` arrays, one in the other.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!([]), |inner, _| json!([inner]))
}

/// Mutates `data` a few times; `tokens` are inserted or written over it now and then.
fn mutate(rng: &mut StdRng, data: &mut Vec<u8>, tokens: &[&[u8]]) {
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        let at = rng.random_range(0..=len);
        match rng.random_range(0..10) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1u8 << rng.random_range(0..8u32),
            1 if len > 0 => {
                data[at.min(len - 1)] = *[0u8, 0xff, 0x7f, 0x80, b'"', b'\\', b'0', b'-', 0x1e]
                    .choose(rng)
                    .unwrap()
            }
            2 => data.truncate(at),
            3 => {
                let end = rng.random_range(at..=len.min(at + 64));
                data.drain(at..end);
            }
            4 => {
                let len = rng.random_range(1..8);
                let junk = rand_bytes(rng, len);
                data.splice(at..at, junk);
            }
            5 | 6 => {
                let token = tokens.choose(rng).unwrap().to_vec();
                if rng.random_bool(0.3) {
                    let end = (at + token.len()).min(len);
                    data.splice(at..end, token);
                } else {
                    data.splice(at..at, token);
                }
            }
            7 => {
                let end = rng.random_range(at..=len.min(at + 256));
                let copy = data[at..end].to_vec();
                let to = rng.random_range(0..=len);
                data.splice(to..to, copy);
            }
            8 => {
                // A digit run made huge.
                if let Some(start) = (at..len).find(|&i| data[i].is_ascii_digit()) {
                    let end = (start..len)
                        .find(|&i| !data[i].is_ascii_digit())
                        .unwrap_or(len);
                    let huge: &[u8] = [
                        &b"999999"[..],
                        b"1000000",
                        b"18446744073709551615",
                        b"18446744073709551616",
                        b"4294967296",
                        b"0000000",
                    ]
                    .choose(rng)
                    .unwrap();
                    data.splice(start..end, huge.iter().copied());
                }
            }
            _ if len > 1 => data.swap(at.min(len - 1), rng.random_range(0..len)),
            _ => {}
        }
    }
}

// --- Engine.IO ---------------------------------------------------------------------------------

/// What `decode_text` must make of `input`.
fn expected_text(input: &[u8]) -> Option<Packet> {
    let data = || Bytes::copy_from_slice(&input[1..]);
    Some(match input.first()? {
        b'1' => Packet::Close,
        b'2' => Packet::Ping(data()),
        b'3' => Packet::Pong(data()),
        b'4' => Packet::Text(data()),
        b'5' => Packet::Upgrade,
        b'6' => Packet::Noop,
        _ => return None,
    })
}

const EIO_TOKENS: &[&[u8]] = &[
    b"\x1e",
    b"\x1e\x1e",
    b"b",
    b"bAQID",
    b"b====",
    b"b!",
    b"bAA",
    b"2probe",
    b"3probe",
    b"4",
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"=",
];

#[test]
fn engineio_text_packets() {
    fuzz("engineio_text_packets", 3000, |rng| {
        let len = rand_len(rng);
        let mut input = match rng.random_range(0..3) {
            0 => rand_bytes(rng, len),
            _ => {
                let mut v = vec![*b"01234567896b".choose(rng).unwrap()];
                v.extend(rand_string(rng, len).bytes());
                v
            }
        };
        if rng.random_bool(0.3) {
            mutate(rng, &mut input, EIO_TOKENS);
        }
        let bytes = Bytes::from(input.clone());
        let (got, peak) = run("decode_text", &input, || decode_text(bytes.clone()));
        // The data is a slice of the input: nothing copied.
        assert_heap("decode_text", &input, peak, 256);
        assert_eq!(got.ok(), expected_text(&input), "{}", show(&input));
    });
}

/// A client packet and how it is written in a long-polling body.
fn rand_eio_packet(rng: &mut StdRng, tiny: bool) -> (Packet, Vec<u8>) {
    let text = |rng: &mut StdRng| -> String {
        let len = if tiny {
            rng.random_range(0..3)
        } else {
            rand_len(rng)
        };
        rand_string(rng, len).replace('\x1e', "")
    };
    let (packet, wire) = match rng.random_range(0..10) {
        0 => (Packet::Close, "1".to_string()),
        1 | 2 => {
            let data = match rng.random_range(0..3) {
                0 => String::new(),
                1 => "probe".into(),
                _ => text(rng),
            };
            let wire = format!("{}{data}", if rng.random() { '2' } else { '3' });
            let data = Bytes::from(data);
            match wire.as_bytes()[0] {
                b'2' => (Packet::Ping(data), wire),
                _ => (Packet::Pong(data), wire),
            }
        }
        3..=5 => {
            let data = text(rng);
            (Packet::Text(data.clone().into()), format!("4{data}"))
        }
        6 => (Packet::Upgrade, "5".into()),
        7 => (Packet::Noop, "6".into()),
        _ => {
            let len = if tiny {
                rng.random_range(0..3)
            } else {
                rand_len(rng)
            };
            let data = rand_bytes(rng, len);
            let wire = format!(
                "b{}",
                base64::engine::general_purpose::STANDARD.encode(&data)
            );
            (Packet::Binary(data.into()), wire)
        }
    };
    (packet, wire.into_bytes())
}

/// A long-polling body of `packets`, as a client writes it.
fn encode_body(packets: &[Packet]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        match p {
            Packet::Close => out.push(b'1'),
            Packet::Ping(d) => out.extend([&b"2"[..], d].concat()),
            Packet::Pong(d) => out.extend([&b"3"[..], d].concat()),
            Packet::Text(d) => out.extend([&b"4"[..], d].concat()),
            Packet::Upgrade => out.push(b'5'),
            Packet::Noop => out.push(b'6'),
            Packet::Binary(b) => {
                out.push(b'b');
                out.extend(base64::engine::general_purpose::STANDARD.encode(b).bytes());
            }
        }
    }
    out
}

#[test]
fn engineio_polling_payloads() {
    let mut worst = Worst::default();
    let (mut valid, mut valid_ok, mut mutated_ok) = (0, 0, 0);
    fuzz("engineio_polling_payloads", 3000, |rng| {
        let (mut body, expected, max_packets) = if rng.random_bool(0.1) {
            let len = rand_len(rng);
            (rand_bytes(rng, len), None, 16_384)
        } else {
            let tiny = rng.random_bool(0.15);
            let count = match rng.random_range(0..10) {
                0 if tiny => rng.random_range(1..20_000),
                _ => rng.random_range(1..10),
            };
            let (packets, wires): (Vec<_>, Vec<_>) =
                (0..count).map(|_| rand_eio_packet(rng, tiny)).unzip();
            let body = wires.join(&SEPARATOR);
            let max_packets = *[count, count + 1, count - 1, 16_384, 1]
                .choose(rng)
                .unwrap();
            let max_packets = max_packets.max(1);
            let expected = (max_packets >= count).then_some(packets);
            (body, Some(expected), max_packets)
        };
        let mutated = expected.is_none() || rng.random_bool(0.5);
        if mutated && expected.is_some() {
            mutate(rng, &mut body, EIO_TOKENS);
        }
        let input = Bytes::from(body.clone());
        let (got, peak) = run("decode_payload", &body, || {
            decode_payload(&input, max_packets)
        });
        worst.saw(body.len(), peak);
        let per_byte = PAYLOAD_PER_BYTE * body.len() + SLACK;
        let per_packet = PAYLOAD_PER_PACKET * max_packets + body.len() + SLACK;
        assert_heap("decode_payload", &body, peak, per_byte.min(per_packet));
        match (mutated, expected) {
            (false, Some(expected)) => {
                valid += 1;
                valid_ok += usize::from(got.is_ok());
                assert_eq!(got.ok(), expected, "{}", show(&body));
            }
            _ => {
                if let Ok(packets) = got {
                    mutated_ok += 1;
                    assert!(packets.len() <= max_packets);
                    // What decodes is what the packets say: written again, it reads the same.
                    let again = Bytes::from(encode_body(&packets));
                    assert_eq!(decode_payload(&again, max_packets), Ok(packets));
                }
            }
        }
    });
    worst.report("decode_payload");
    eprintln!("decode_payload: {valid_ok} of {valid} valid bodies decoded, {mutated_ok} mutated");
    assert!(valid > 300 && valid_ok * 2 > valid, "{valid_ok} of {valid}");
    assert!(mutated_ok > 50, "mutations too destructive: {mutated_ok}");
}

// --- Socket.IO ---------------------------------------------------------------------------------

const RESERVED: &[&str] = &[
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// Deepest JSON the decoder accepts (it must also parse with serde_json's recursion limit).
const DEPTH_LIMIT: usize = rtio::socketio::packet::MAX_DEPTH;

/// What decoding a generated packet must give.
struct Expected {
    kind: PacketType,
    attachments: usize,
    nsp: String,
    id: Option<u64>,
    data: Option<String>,
    event: Option<(String, Value)>,
    /// Whether every placeholder points at one of the attachments.
    placeholders_ok: bool,
}

/// A placeholder, and whether it is one pointing at one of `count` attachments (or no
/// placeholder at all: `"_placeholder"` not `true`).
fn rand_placeholder(rng: &mut StdRng, count: usize) -> (Value, bool) {
    let valid = |n: usize| json!({"_placeholder": true, "num": n});
    match rng.random_range(0..20) {
        0 => (valid(count), false),
        1 => (json!({"_placeholder": true, "num": 999_999}), false),
        2 => (json!({"_placeholder": true, "num": u64::MAX}), false),
        3 => (json!({"_placeholder": true, "num": -1}), false),
        4 => (json!({"_placeholder": true, "num": 0.5}), false),
        5 => (json!({"_placeholder": true, "num": "0"}), false),
        6 => (json!({"_placeholder": true}), false),
        7 => (json!({"_placeholder": false, "num": 999_999}), true),
        8 => (json!({"_placeholder": "true", "num": 999_999}), true),
        9 if count > 0 => (
            json!({"num": 0, "_placeholder": true, "x": [valid(999)]}),
            true,
        ),
        _ if count > 0 => (valid(rng.random_range(0..count)), true),
        _ => (valid(0), false),
    }
}

/// Puts `v` into `args`: as an argument, or inside one.
fn place(rng: &mut StdRng, args: &mut Vec<Value>, v: Value) {
    let v = match rng.random_range(0..4) {
        0 => json!({"file": v, "n": 1}),
        1 => json!([1, [v]]),
        _ => v,
    };
    let at = rng.random_range(0..=args.len());
    args.insert(at, v);
}

/// A Socket.IO packet as a client writes it, and what it decodes to (`None`: refused).
fn rand_sio_packet(rng: &mut StdRng) -> (String, usize, Option<Expected>) {
    let mut valid = true;
    let kind = *[0u8, 0, 1, 2, 2, 2, 2, 3, 3, 4, 5, 5, 5, 6, 6]
        .choose(rng)
        .unwrap();
    let kind_of = [
        PacketType::Connect,
        PacketType::Disconnect,
        PacketType::Event,
        PacketType::Ack,
        PacketType::ConnectError,
        PacketType::BinaryEvent,
        PacketType::BinaryAck,
    ][usize::from(kind)];
    let max_attachments = *[0usize, 1, 4, 10, 256].choose(rng).unwrap();
    let mut text = String::from(char::from(b'0' + kind));
    let binary = kind == 5 || kind == 6;
    let mut attachments = 0;
    if binary {
        attachments = match rng.random_range(0..10) {
            0 => rng.random_range(0..=999_999),
            1 => max_attachments + 1,
            _ => rng.random_range(0..=max_attachments.min(4)),
        };
        valid &= attachments <= max_attachments;
        let digits = attachments.to_string();
        if digits.len() < 6 && rng.random_bool(0.1) {
            text.push_str(&"0".repeat(rng.random_range(1..=6 - digits.len())));
        }
        text.push_str(&digits);
        text.push('-');
    }
    let nsp = if rng.random() {
        "/".to_string()
    } else {
        let len = rng.random_range(0..12);
        format!("/{}", rand_string(rng, len).replace(',', ""))
    };
    let id_chance = match kind {
        0 | 1 => 0.05,
        3 | 6 => 0.95,
        _ => 0.5,
    };
    let id = rng
        .random_bool(id_chance)
        .then(|| match rng.random_range(0..4) {
            0 => u64::MAX,
            1 => rng.random(),
            _ => rng.random_range(0..1000),
        });
    let mut placeholders_ok = true;
    let mut event = None;
    let data = match kind {
        0 => match rng.random_range(0..10) {
            0..4 => None,
            4 => {
                valid = false;
                Some(json!([1]))
            }
            _ => Some(rand_object(rng, 3)),
        },
        1 => (!rng.random_bool(0.9)).then(|| {
            valid = false;
            json!("x")
        }),
        4 => {
            valid = false;
            Some(json!({"message": "x"}))
        }
        _ => {
            let mut args: Vec<Value> = (0..rng.random_range(0..4))
                .map(|_| rand_json(rng, 3))
                .collect();
            if rng.random_bool(0.04) {
                // Many of the smallest values: the most values per byte to decode.
                let units = [
                    json!(0),
                    json!(""),
                    json!([]),
                    json!({}),
                    json!([0]),
                    json!({"": 0}),
                    json!({"_placeholder": false}),
                ];
                let unit = units.choose(rng).unwrap();
                let n = rng.random_range(1000..40_000);
                args.extend(std::iter::repeat_n(unit.clone(), n));
            }
            if binary {
                for _ in 0..rng.random_range(0..=attachments.min(4) + 1) {
                    let (p, ok) = rand_placeholder(rng, attachments);
                    placeholders_ok &= ok;
                    place(rng, &mut args, p);
                }
            }
            if rng.random_bool(0.05) {
                // `levels` deep, in the array of the data: one more.
                let levels = rng.random_range(DEPTH_LIMIT - 8..DEPTH_LIMIT + 8);
                valid &= levels < DEPTH_LIMIT;
                let at = rng.random_range(0..=args.len());
                args.insert(at, nested(levels - 1));
            }
            if kind == 3 || kind == 6 {
                valid &= id.is_some();
                if rng.random_bool(0.03) {
                    valid = false;
                    Some(json!({"not": "an array"}))
                } else {
                    Some(Value::Array(args))
                }
            } else {
                let (name, name_text) = match rng.random_range(0..20) {
                    0 => {
                        let name = RESERVED.choose(rng).unwrap();
                        valid = false;
                        (json!(name), String::new())
                    }
                    1 => {
                        let n = rng.random_range(0..100_000u32);
                        (json!(n), n.to_string())
                    }
                    2 => {
                        valid = false;
                        let names = [Value::Null, json!({}), json!(true)];
                        (names.choose(rng).unwrap().clone(), String::new())
                    }
                    _ => {
                        let len = rng.random_range(0..12);
                        let name = rand_string(rng, len);
                        (json!(name), name)
                    }
                };
                event = Some((name_text, Value::Array(args.clone())));
                match rng.random_range(0..40) {
                    0 => {
                        valid = false;
                        None
                    }
                    1 => {
                        valid = false;
                        Some(json!([]))
                    }
                    _ => Some(Value::Array([vec![name], args].concat())),
                }
            }
        }
    };
    let data = data.map(|d| {
        let t = to_text(rng, &d);
        if rng.random_bool(0.05) {
            format!(" {t}\n")
        } else {
            t
        }
    });
    if nsp != "/" || rng.random_bool(0.05) {
        text.push_str(&nsp);
        if id.is_some() || data.is_some() || rng.random() {
            text.push(',');
        }
    }
    if let Some(id) = id {
        text.push_str(&id.to_string());
    }
    if let Some(d) = &data {
        text.push_str(d);
    }
    let expected = valid.then_some(Expected {
        kind: kind_of,
        attachments,
        nsp,
        id,
        data,
        event,
        placeholders_ok,
    });
    (text, max_attachments, expected)
}

/// Pieces of Socket.IO packets, for mutations and random soups.
const SIO_TOKENS: &[&[u8]] = &[
    b"0",
    b"2",
    b"5",
    b"6",
    b"1-",
    b"999999-",
    b"-",
    b"/",
    b"/admin,",
    b",",
    b"12",
    b"18446744073709551616",
    b"[",
    b"]",
    b"{",
    b"}",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b":",
    b"null",
    b"true",
    b"\"connect\"",
    b"{\"_placeholder\":true,\"num\":0}",
    b"{\"_placeholder\":true,\"num\":999999}",
    b"{\"_placeholder\":true,\"num\":18446744073709551615}",
    b"{\"_placeholder\":true}",
    b"\"_placeholder\"",
    b"\"num\":",
    b"1e999",
    b"-0.0",
    b" ",
    b"\xc3\xa9",
    b"\xff",
];

/// The placeholder rule, checked here on its own: every `{"_placeholder":true,...}` object
/// has a `num` that is an index into the attachments.
fn placeholders_point_at_attachments(v: &Value, count: usize) -> bool {
    match v {
        Value::Array(items) => items
            .iter()
            .all(|i| placeholders_point_at_attachments(i, count)),
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => map
            .get("num")
            .and_then(Value::as_u64)
            .is_some_and(|n| n < count as u64),
        Value::Object(map) => map
            .values()
            .all(|i| placeholders_point_at_attachments(i, count)),
        _ => true,
    }
}

/// Whether some object in `json` has a key twice.
fn has_duplicate_keys(json: &str) -> bool {
    use serde::de::{self, DeserializeSeed, Deserializer as _};
    struct Dups;
    impl<'de> DeserializeSeed<'de> for Dups {
        type Value = bool;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_any(self)
        }
    }
    impl<'de> de::Visitor<'de> for Dups {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("JSON")
        }
        fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_str<E>(self, _: &str) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut items: A) -> Result<bool, A::Error> {
            let mut dup = false;
            while let Some(d) = items.next_element_seed(Dups)? {
                dup |= d;
            }
            Ok(dup)
        }
        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
            let (mut keys, mut dup) = (BTreeSet::new(), false);
            while let Some(key) = map.next_key::<String>()? {
                dup |= !keys.insert(key);
                dup |= map.next_value_seed(Dups)?;
            }
            Ok(dup)
        }
    }
    let mut json = serde_json::Deserializer::from_str(json);
    (&mut json).deserialize_any(Dups).unwrap_or(false)
}

#[derive(Default)]
struct SioStats {
    valid: usize,
    valid_ok: usize,
    kinds_ok: BTreeSet<u8>,
    placeholders: [usize; 2],
    too_deep: usize,
    mutated_ok: usize,
}

#[test]
fn socketio_packets() {
    let mut decode_worst = Worst::default();
    let mut placeholder_worst = Worst::default();
    let mut stats = SioStats::default();
    fuzz("socketio_packets", 5000, |rng| {
        let (text, max_attachments, expected) = match rng.random_range(0..20) {
            0 => {
                let len = rand_len(rng);
                let bytes = rand_bytes(rng, len);
                (String::from_utf8_lossy(&bytes).into_owned(), 10, None)
            }
            1 | 2 => {
                let tokens = rng.random_range(1..60);
                let soup: Vec<u8> = (0..tokens)
                    .flat_map(|_| SIO_TOKENS.choose(rng).unwrap().iter().copied())
                    .collect();
                (String::from_utf8_lossy(&soup).into_owned(), 10, None)
            }
            3..11 => rand_sio_packet(rng),
            _ => {
                let (text, max, _) = rand_sio_packet(rng);
                let mut bytes = text.into_bytes();
                mutate(rng, &mut bytes, SIO_TOKENS);
                (String::from_utf8_lossy(&bytes).into_owned(), max, None)
            }
        };
        let input = text.as_bytes();
        let (got, peak) = run("socketio decode", input, || decode(&text, max_attachments));
        decode_worst.saw(input.len(), peak);
        assert_heap(
            "socketio decode",
            input,
            peak,
            SIO_PER_BYTE * input.len() + SLACK,
        );
        if let Some(e) = &expected {
            stats.valid += 1;
            let p = got
                .as_ref()
                .unwrap_or_else(|err| panic!("valid packet refused ({err}): {}", show(input)));
            stats.valid_ok += 1;
            stats.kinds_ok.insert(p.kind as u8);
            assert_eq!(
                (p.kind, p.attachments, p.nsp, p.id, p.data),
                (e.kind, e.attachments, &*e.nsp, e.id, e.data.as_deref()),
                "{}",
                show(input)
            );
            let event = p
                .event
                .as_ref()
                .map(|(name, args)| (name.clone(), serde_json::from_str::<Value>(args).unwrap()));
            assert_eq!(event, e.event, "{}", show(input));
        } else if got.is_ok() {
            stats.mutated_ok += 1;
        }
        if let Ok(p) = &got {
            // Hosts parse what rtio hands them with serde_json: never too deep for it. (Lone
            // surrogate escapes and numbers beyond f64 do pass, as JSON.parse takes them.)
            let json = p.event.as_ref().map_or(p.data, |(_, args)| Some(args));
            if let Some(Err(e)) = json.map(serde_json::from_str::<Value>) {
                let why = e.to_string();
                assert!(!why.contains("recursion limit"), "{why}: {}", show(input));
            }
        }
        if got.as_ref().is_err_and(|e| e.0 == "JSON nested too deeply") {
            stats.too_deep += 1;
        }
        // A binary packet: the server waits for its attachments, then checks the
        // placeholders against them before handing the packet on.
        let Ok(p) = got else { return };
        if p.attachments == 0 {
            return;
        }
        let data = p.data.unwrap_or("[]");
        let (checked, peak) = run("check_placeholders", data.as_bytes(), || {
            check_placeholders(data, p.attachments)
        });
        placeholder_worst.saw(data.len(), peak);
        assert_heap(
            "check_placeholders",
            data.as_bytes(),
            peak,
            PLACEHOLDERS_PER_BYTE * data.len() + SLACK,
        );
        stats.placeholders[usize::from(checked.is_ok())] += 1;
        let rule = serde_json::from_str::<Value>(data)
            .is_ok_and(|v| placeholders_point_at_attachments(&v, p.attachments));
        if checked.is_ok() != rule {
            // A parser keeps the last of a key given twice; the check looks at all of them.
            assert!(
                checked.is_err() && has_duplicate_keys(data),
                "{checked:?}: {}",
                show(input)
            );
        }
        if let Some(e) = expected {
            assert_eq!(checked.is_ok(), e.placeholders_ok, "{}", show(input));
        }
    });
    decode_worst.report("socketio decode");
    placeholder_worst.report("check_placeholders");
    let s = &stats;
    eprintln!(
        "socketio: {} of {} valid packets decoded, kinds {:?}, {} mutated decoded, placeholders \
         refused/accepted {:?}, {} too deep",
        s.valid_ok, s.valid, s.kinds_ok, s.mutated_ok, s.placeholders, s.too_deep
    );
    assert!(s.valid > 500, "too few valid packets: {}", s.valid);
    assert_eq!(
        s.kinds_ok,
        BTreeSet::from([0, 1, 2, 3, 5, 6]),
        "every client packet type decoded"
    );
    assert!(
        s.placeholders.iter().all(|&n| n > 20),
        "{:?}",
        s.placeholders
    );
    assert!(s.too_deep > 5 && s.mutated_ok > 50);
}

// --- WebSocket ---------------------------------------------------------------------------------

/// What reading gave: a message (kind, length and hash of its bytes) or the end.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Message(bool, usize, u64),
    End(ReadEnd),
}

fn digest(text: bool, bytes: &[u8]) -> Outcome {
    let mut h = std::hash::DefaultHasher::new();
    h.write(bytes);
    Outcome::Message(text, bytes.len(), h.finish())
}

const TOO_BIG: ReadEnd = ReadEnd::Violation(1009, "message too big");

fn violation(reason: &'static str) -> ReadEnd {
    ReadEnd::Violation(1002, reason)
}

/// A client's byte stream, with what the reader must make of it.
struct WsCase {
    bytes: Vec<u8>,
    /// Where each frame starts, for mutations of headers.
    frames: Vec<usize>,
    max_message: usize,
    expected: Vec<Outcome>,
    /// The frames the server must send back (pongs, a close answer).
    answers: Vec<u8>,
    ended: bool,
}

impl WsCase {
    /// Appends a frame: `first` is FIN, RSV and opcode; `wide` forces the 16- or 64-bit
    /// length form.
    fn frame(&mut self, rng: &mut StdRng, first: u8, payload: &[u8], masked: bool) {
        self.frames.push(self.bytes.len());
        let out = &mut self.bytes;
        out.push(first);
        let bit = if masked { 0x80 } else { 0 };
        let len = payload.len();
        match rng.random_range(0..10) {
            0 if len <= 0xffff => {
                out.push(bit | 126);
                out.extend((len as u16).to_be_bytes());
            }
            1 => {
                out.push(bit | 127);
                out.extend((len as u64).to_be_bytes());
            }
            _ if len < 126 => out.push(bit | len as u8),
            _ if len <= 0xffff => {
                out.push(bit | 126);
                out.extend((len as u16).to_be_bytes());
            }
            _ => {
                out.push(bit | 127);
                out.extend((len as u64).to_be_bytes());
            }
        }
        if masked {
            let mask: [u8; 4] = rng.random();
            out.extend(mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        } else {
            out.extend(payload);
        }
    }

    fn end(&mut self, end: ReadEnd) {
        self.expected.push(Outcome::End(end));
        self.ended = true;
    }

    /// A ping (answered) or a pong (ignored) of at most 125 bytes.
    fn control(&mut self, rng: &mut StdRng) {
        let len = if rng.random() {
            125
        } else {
            rng.random_range(0..20)
        };
        let payload = rand_bytes(rng, len);
        // Stays under the reader's bound on unsent answers, so every ping is answered.
        if rng.random() && self.answers.len() + payload.len() < 7_000 {
            self.frame(rng, 0x89, &payload, true);
            self.answers.extend([0x8a, payload.len() as u8]);
            self.answers.extend(&payload);
        } else {
            self.frame(rng, 0x8a, &payload, true);
        }
    }

    /// A data message, in fragments with control frames between them.
    fn message(&mut self, rng: &mut StdRng) {
        let text = rng.random();
        let size = if rng.random_bool(0.1) {
            self.max_message + rng.random_range(1..100)
        } else {
            rand_len(rng).min(self.max_message)
        };
        let mut payload = if text {
            let mut s = String::new();
            while s.len() < size {
                s.push(rand_char(rng));
            }
            s.into_bytes()
        } else {
            rand_bytes(rng, size)
        };
        let mut bad_utf8 = false;
        if text && rng.random_bool(0.05) {
            let junk: &[u8] = [&b"\xff"[..], b"\xc3(", b"\xed\xa0\x80", b"\xe2\x82"]
                .choose(rng)
                .unwrap();
            let at = rng.random_range(0..=payload.len());
            payload.splice(at..at, junk.iter().copied());
            bad_utf8 = true;
        }
        let mut cuts: Vec<usize> = if rng.random_bool(0.4) {
            (0..rng.random_range(1..5))
                .map(|_| rng.random_range(0..=payload.len()))
                .collect()
        } else {
            Vec::new()
        };
        cuts.sort_unstable();
        cuts.push(payload.len());
        let mut from = 0;
        for (i, &to) in cuts.iter().enumerate() {
            let last = i + 1 == cuts.len();
            let part = &payload[from..to];
            if i > 0 && rng.random_bool(0.3) {
                self.control(rng);
            }
            let opcode = match (i, text) {
                (0, true) => 1,
                (0, false) => 2,
                _ => 0,
            };
            let first = if last { 0x80 | opcode } else { opcode };
            self.frame(rng, first, part, true);
            if to > self.max_message {
                // The header that goes past the limit ends it, before its payload.
                return self.end(TOO_BIG);
            }
            from = to;
        }
        if bad_utf8 {
            return self.end(ReadEnd::Violation(1007, "text message is not UTF-8"));
        }
        self.expected.push(digest(text, &payload));
    }

    /// The client's close frame, well-formed or not.
    fn close(&mut self, rng: &mut StdRng) {
        let code: u16 = *[1000u16, 1001, 1003, 1008, 3000, 4999].choose(rng).unwrap();
        let len = rng.random_range(0..20);
        let reason = rand_string(rng, len).into_bytes();
        match rng.random_range(0..6) {
            0 => {
                self.frame(rng, 0x88, &[], true);
                self.answers.extend([0x88, 0]);
                self.end(ReadEnd::Closed);
            }
            1 => {
                self.frame(rng, 0x88, &[3], true);
                self.end(violation("close frame of one byte"));
            }
            2 => {
                let bad: u16 = *[0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]
                    .choose(rng)
                    .unwrap();
                self.frame(rng, 0x88, &bad.to_be_bytes(), true);
                self.end(violation("invalid close code"));
            }
            3 => {
                let payload = [&code.to_be_bytes()[..], b"ok\xff"].concat();
                self.frame(rng, 0x88, &payload, true);
                self.end(ReadEnd::Violation(1007, "close reason is not UTF-8"));
            }
            _ => {
                let payload = [&code.to_be_bytes()[..], &reason].concat();
                self.frame(rng, 0x88, &payload, true);
                self.answers.extend([0x88, 2]);
                self.answers.extend(code.to_be_bytes());
                self.end(ReadEnd::Closed);
            }
        }
    }

    /// A frame that breaks the protocol.
    fn broken(&mut self, rng: &mut StdRng) {
        let len = rng.random_range(0..10);
        let payload = rand_bytes(rng, len);
        match rng.random_range(0..8) {
            0 => {
                self.frame(rng, 0x82, &payload, false);
                self.end(violation("unmasked client frame"));
            }
            1 => {
                let rsv = *[0x40u8, 0x20, 0x10].choose(rng).unwrap();
                self.frame(rng, 0x82 | rsv, &payload, true);
                self.end(violation("reserved bits set"));
            }
            2 => {
                let op = *[3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15].choose(rng).unwrap();
                self.frame(rng, 0x80 | op, &payload, true);
                self.end(violation("reserved opcode"));
            }
            3 => {
                self.frame(rng, 0x09, &payload, true);
                self.end(violation("fragmented control frame"));
            }
            4 => {
                let op = *[0x88u8, 0x89, 0x8a].choose(rng).unwrap();
                self.frame(rng, op, &[b'x'; 126], true);
                self.end(violation("control frame too long"));
            }
            5 => {
                let op = *[0x00u8, 0x80].choose(rng).unwrap();
                self.frame(rng, op, &payload, true);
                self.end(violation("continuation frame outside a message"));
            }
            6 => {
                self.frame(rng, 0x01, b"a", true);
                let op = *[0x81u8, 0x82, 0x01, 0x02].choose(rng).unwrap();
                self.frame(rng, op, &payload, true);
                self.end(violation("new message inside a fragmented one"));
            }
            _ => {
                // A header announcing more than the limit, in the 16- or 64-bit form.
                self.frames.push(self.bytes.len());
                let op = *[0x81u8, 0x82, 0x01, 0x02].choose(rng).unwrap();
                let declared: u64 = *[
                    u64::MAX,
                    1 << 63,
                    1 << 32,
                    self.max_message as u64 + 1,
                    rng.random_range(self.max_message as u64 + 1..=u64::MAX),
                ]
                .choose(rng)
                .unwrap();
                self.bytes.push(op);
                if declared <= 0xffff && rng.random() {
                    self.bytes.push(0x80 | 126);
                    self.bytes.extend((declared as u16).to_be_bytes());
                } else {
                    self.bytes.push(0x80 | 127);
                    self.bytes.extend(declared.to_be_bytes());
                }
                self.bytes.extend(rng.random::<[u8; 4]>());
                let len = rng.random_range(0..64);
                self.bytes.extend(rand_bytes(rng, len));
                self.end(TOO_BIG);
            }
        }
    }
}

fn rand_ws_case(rng: &mut StdRng) -> WsCase {
    let max_message = *[16usize, 125, 1000, 4096, 20_000, 70_000]
        .choose(rng)
        .unwrap();
    let mut c = WsCase {
        bytes: Vec::new(),
        frames: Vec::new(),
        max_message,
        expected: Vec::new(),
        answers: Vec::new(),
        ended: false,
    };
    for _ in 0..rng.random_range(0..10) {
        match rng.random_range(0..4) {
            0..3 => c.message(rng),
            _ => c.control(rng),
        }
        if c.ended {
            break;
        }
    }
    if !c.ended {
        match rng.random_range(0..4) {
            0 => c.close(rng),
            1 => c.broken(rng),
            _ => {}
        }
    }
    if c.ended {
        if rng.random() {
            // Never read.
            let len = rand_len(rng);
            let junk = rand_bytes(rng, len);
            c.bytes.extend(junk);
        }
    } else {
        if rng.random_bool(0.3) {
            // The start of a frame, then the end of the stream.
            let start = c.bytes.len();
            let len = rng.random_range(1..=max_message.min(500));
            c.frame(rng, 0x82, &vec![7; len], true);
            let cut = rng.random_range(start + 1..c.bytes.len());
            c.bytes.truncate(cut);
        }
        c.end(ReadEnd::Closed);
    }
    c
}

/// The client's end of the connection, in memory: gives the reader `data` in pieces ending
/// at `cuts` (each maybe taking several reads), making it wait before some, then the end of
/// the stream; takes what the server writes, `max_write` bytes at a time, or nothing ever
/// (`stalled`).
struct Wire<'a> {
    data: &'a [u8],
    cuts: &'a [usize],
    waits: &'a [bool],
    piece: usize,
    pos: usize,
    waited: bool,
    stalled: bool,
    max_write: usize,
    written: &'a mut Vec<u8>,
}

impl AsyncRead for Wire<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let w = self.get_mut();
        if w.pos == w.data.len() {
            return Poll::Ready(Ok(()));
        }
        let start = if w.piece == 0 { 0 } else { w.cuts[w.piece - 1] };
        if w.pos == start && w.waits[w.piece] && !w.waited {
            w.waited = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let end = w.cuts[w.piece];
        let n = (end - w.pos).min(buf.remaining());
        buf.put_slice(&w.data[w.pos..w.pos + n]);
        w.pos += n;
        if w.pos == end {
            w.piece += 1;
            w.waited = false;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let w = self.get_mut();
        if w.stalled {
            return Poll::Pending;
        }
        let n = buf.len().min(w.max_write);
        w.written.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.stalled {
            Poll::Pending
        } else {
            Poll::Ready(Ok(()))
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// How the reader gets the stream: `early` bytes with the upgrade request, then pieces.
struct Delivery {
    early: usize,
    cuts: Vec<usize>,
    waits: Vec<bool>,
    /// Whether a `next()` left waiting is dropped (and called again), else polled again.
    cancel: bool,
    stalled: bool,
    max_write: usize,
}

/// Everything at once, as bytes that came with the upgrade request.
fn all_early(len: usize) -> Delivery {
    Delivery {
        early: len,
        cuts: Vec::new(),
        waits: Vec::new(),
        cancel: false,
        stalled: false,
        max_write: usize::MAX,
    }
}

fn rand_delivery(rng: &mut StdRng, len: usize) -> Delivery {
    let early = if rng.random_bool(0.15) {
        rng.random_range(0..=len)
    } else {
        0
    };
    let mode = rng.random_range(0..4);
    let mut cuts = Vec::new();
    let mut pos = early;
    while pos < len {
        let step = match mode {
            0 if len < 4096 => rng.random_range(1..=3),
            1 => rng.random_range(1..=64),
            2 => rng.random_range(1..=40_000),
            _ => match rng.random_range(0..3) {
                0 => 1,
                1 => rng.random_range(1..=16),
                _ => rng.random_range(1..=40_000),
            },
        };
        pos = (pos + step).min(len);
        cuts.push(pos);
    }
    let waits = cuts.iter().map(|_| rng.random_bool(0.2)).collect();
    Delivery {
        early,
        cuts,
        waits,
        cancel: rng.random(),
        stalled: rng.random_bool(0.2),
        max_write: *[1usize, 3, 64, usize::MAX].choose(rng).unwrap(),
    }
}

/// Reads `bytes` through a [`WsConn`] until reading ends: what it gave, what the server
/// wrote back, and the peak heap of the connection.
fn read_ws(bytes: &[u8], max_message: usize, d: &Delivery) -> (Vec<Outcome>, Vec<u8>, usize) {
    // Allocated before measuring: answers are never longer than what they answer.
    let mut written = Vec::with_capacity(bytes.len() + 16);
    let mut outcomes = Vec::with_capacity(bytes.len() / 6 + 2);
    let early = bytes[..d.early].to_vec();
    let cuts: Vec<usize> = d.cuts.iter().map(|c| c - d.early).collect();
    let wire = Wire {
        data: &bytes[d.early..],
        cuts: &cuts,
        waits: &d.waits,
        piece: 0,
        pos: 0,
        waited: false,
        stalled: d.stalled,
        max_write: d.max_write,
        written: &mut written,
    };
    let ((), peak) = run("WsConn::recv", bytes, || {
        let mut cx = Context::from_waker(Waker::noop());
        let mut ws = WsConn::new(wire, early, max_message);
        let mut polls = 0usize;
        loop {
            let read = loop {
                let mut next = pin!(ws.recv());
                let ready = loop {
                    polls += 1;
                    assert!(polls < 4 * bytes.len() + 1000, "the reader spins");
                    match next.as_mut().poll(&mut cx) {
                        Poll::Ready(r) => break Some(r),
                        Poll::Pending if d.cancel => break None,
                        Poll::Pending => {}
                    }
                };
                if let Some(r) = ready {
                    break r;
                }
            };
            match read {
                Ok(WsMessage::Text(t)) => {
                    assert!(t.len() <= max_message && std::str::from_utf8(&t).is_ok());
                    outcomes.push(digest(true, &t));
                }
                Ok(WsMessage::Binary(b)) => {
                    assert!(b.len() <= max_message);
                    outcomes.push(digest(false, &b));
                }
                Err(end) => {
                    outcomes.push(Outcome::End(end));
                    break;
                }
            }
        }
        let mut shutdown = pin!(ws.shutdown());
        for _ in 0..3 {
            if shutdown.as_mut().poll(&mut cx).is_ready() {
                break;
            }
        }
    });
    (outcomes, written, peak)
}

/// Checks what the server wrote is control frames only (pongs, one close at the end), as a
/// server writes them; returns how many.
fn check_answers(written: &[u8], input: &[u8]) -> usize {
    assert!(
        written.len() <= input.len(),
        "answers longer than the input"
    );
    let mut rest = written;
    let mut frames = 0;
    while let [first, len, tail @ ..] = rest {
        let len = usize::from(*len);
        assert!(
            (*first == 0x8a || *first == 0x88) && len <= 125 && tail.len() >= len,
            "bad answer {written:02x?} to {}",
            show(input)
        );
        rest = &tail[len..];
        frames += 1;
        if *first == 0x88 {
            assert!(rest.is_empty(), "frames after the close answer");
        }
    }
    assert!(rest.is_empty(), "a cut answer frame");
    frames
}

/// Mutates a frame header: reserved bits, mask bit, opcode, FIN, length.
fn mutate_header(rng: &mut StdRng, bytes: &mut Vec<u8>, at: usize) {
    if at + 1 >= bytes.len() {
        return;
    }
    match rng.random_range(0..6) {
        0 => bytes[at] ^= [0x40u8, 0x20, 0x10].choose(rng).unwrap(),
        1 => bytes[at + 1] ^= 0x80,
        2 => bytes[at] = (bytes[at] & 0xf0) | rng.random_range(0..16),
        3 => bytes[at] ^= 0x80,
        4 => {
            // Now announces a 64-bit length (the old length bytes become part of it).
            bytes[at + 1] = (bytes[at + 1] & 0x80) | 127;
            let huge: u64 = *[u64::MAX, 1 << 63, 1 << 40, 0x7fff_ffff_ffff_ffff]
                .choose(rng)
                .unwrap();
            bytes.splice(at + 2..at + 2, huge.to_be_bytes());
        }
        _ => bytes[at + 1] = (bytes[at + 1] & 0x80) | rng.random_range(0..128),
    }
}

const WS_TOKENS: &[&[u8]] = &[
    b"\x81\x80",
    b"\x82\xfe\xff\xff",
    b"\x82\xff\xff\xff\xff\xff\xff\xff\xff\xff",
    b"\x82\xff\x7f\xff\xff\xff\xff\xff\xff\xff",
    b"\x88\x80",
    b"\x88\x81",
    b"\x89\xfd",
    b"\x00\x80",
    b"\x01\x80",
];

#[test]
fn websocket_frames() {
    let mut worst = Worst::default();
    let mut ends: BTreeSet<String> = BTreeSet::new();
    let (mut valid, mut messages, mut answered, mut mutated) = (0, 0, 0, 0);
    fuzz("websocket_frames", 2500, |rng| {
        let mut c = rand_ws_case(rng);
        let max = c.max_message;
        let bound = WS_PER_MESSAGE_LIMIT * max + SLACK;
        if rng.random_bool(0.6) {
            valid += 1;
            let d = rand_delivery(rng, c.bytes.len());
            let (got, written, peak) = read_ws(&c.bytes, max, &d);
            worst.saw(max, peak);
            assert_heap("WsConn::recv", &c.bytes, peak, bound);
            assert_eq!(got, c.expected, "{}", show(&c.bytes));
            if !d.stalled {
                assert_eq!(written, c.answers, "{}", show(&c.bytes));
                answered += check_answers(&written, &c.bytes);
            }
            messages += got.len() - 1;
            if let Some(Outcome::End(end)) = got.last() {
                ends.insert(format!("{end:?}"));
            }
            return;
        }
        mutated += 1;
        match rng.random_range(0..3) {
            0 if !c.frames.is_empty() => {
                for _ in 0..rng.random_range(1..3) {
                    let at = *c.frames.choose(rng).unwrap();
                    mutate_header(rng, &mut c.bytes, at);
                }
            }
            1 => {
                let len = rand_len(rng);
                c.bytes = rand_bytes(rng, len);
            }
            _ => mutate(rng, &mut c.bytes, WS_TOKENS),
        }
        let d = rand_delivery(rng, c.bytes.len());
        let (reference, written, peak) = read_ws(&c.bytes, max, &all_early(c.bytes.len()));
        check_answers(&written, &c.bytes);
        worst.saw(max, peak);
        assert_heap("WsConn::recv", &c.bytes, peak, bound);
        let (got, written, peak) = read_ws(&c.bytes, max, &d);
        check_answers(&written, &c.bytes);
        worst.saw(max, peak);
        assert_heap("WsConn::recv", &c.bytes, peak, bound);
        assert_eq!(
            got,
            reference,
            "pieces change what is read: {}",
            show(&c.bytes)
        );
        if let Some(Outcome::End(end)) = got.last() {
            ends.insert(format!("{end:?}"));
        }
    });
    worst.report("WsConn (per byte of the message limit)");
    eprintln!(
        "websocket: {valid} valid streams ({messages} messages, {answered} answers), \
         {mutated} mutated; endings seen: {ends:#?}"
    );
    // Every way reading ends was reached.
    assert_eq!(ends.len(), 13, "{ends:#?}");
    assert!(messages > 1000 && answered > 200);
}

// --- the harness itself, and regressions -------------------------------------------------------

/// Found by `socketio_packets`: data nested 128 deep was accepted (`MAX_DEPTH` was 128), but
/// serde_json refuses the 128th level, so the host could not parse the arguments (and
/// `Payload::values` gave none).
#[test]
fn data_nested_128_deep_is_refused() {
    let deep = |levels: usize| {
        let inner = levels - 1; // inside the data's own array
        format!("2[\"e\",{}{}]", "[".repeat(inner), "]".repeat(inner))
    };
    assert!(decode(&deep(128), 10).is_err());
    let text = deep(127);
    let (_, args) = decode(&text, 10).unwrap().event.unwrap();
    assert!(serde_json::from_str::<Value>(&args).is_ok());
}

/// Found by `socketio_packets`: the placeholder check parsed the data into a
/// `serde_json::Value` tree, 98 bytes of heap per byte of `{"":0}` objects (a map each): a
/// 1 MB binary packet (the default `max_payload`) took about 100 MB.
#[test]
fn the_placeholder_check_keeps_no_values() {
    let data = format!("[\"e\",{}]", vec!["{\"\":0}"; 20_000].join(","));
    let text = format!("51-{data}");
    let (p, peak) = peak_heap(|| decode(&text, 10));
    assert_eq!(p.unwrap().attachments, 1);
    assert_heap(
        "decode",
        text.as_bytes(),
        peak,
        SIO_PER_BYTE * text.len() + SLACK,
    );
    let (checked, peak) = peak_heap(|| check_placeholders(&data, 1));
    assert_eq!(checked, Ok(()));
    assert_heap("check_placeholders", data.as_bytes(), peak, SLACK);
    // The same rules as before: placeholders anywhere, none inside one, `num` in range.
    for (data, ok) in [
        (r#"[{"a":[{"_placeholder":true,"num":0}]}]"#, true),
        (r#"[{"a":[{"_placeholder":true,"num":1}]}]"#, false),
        (
            r#"[{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":9}}]"#,
            true,
        ),
        (r#"[{"_placeholder":false,"num":9}]"#, true),
        (r#"[{"num":9,"_placeholder":true}]"#, false),
        (r#"[{"_placeholder":true,"num":-1}]"#, false),
        (r#"[{"_placeholder":true,"num":0.0}]"#, false),
        (r#"[{"_placeholder":true}]"#, false),
        (r#"[{"\u005fplaceholder":true,"num":0}]"#, true),
        (r#"[{"_placeholder":true,"num":0}"#, false),
        (r#"[] x"#, false),
    ] {
        assert_eq!(check_placeholders(data, 1).is_ok(), ok, "{data}");
    }
}

#[test]
fn the_heap_is_counted() {
    let (v, peak) = peak_heap(|| vec![1u8; 1 << 20]);
    assert!(peak >= 1 << 20);
    let ((), peak) = peak_heap(|| drop(v));
    assert_eq!(peak, 0);
    // A bound of the kind used here catches a decoder allocating by a declared count.
    let declared = 999_999usize;
    let ((), peak) = peak_heap(|| drop(Vec::<u64>::with_capacity(declared)));
    assert!(peak > SIO_PER_BYTE * 64 + SLACK);
}

/// msgpack markers worth splicing in: lengths that claim more than there is, nesting,
/// extensions, binary.
const MSGPACK_TOKENS: &[&[u8]] = &[
    &[0xdd, 0xff, 0xff, 0xff, 0xff],
    &[0xdf, 0x7f, 0xff, 0xff, 0xff],
    &[0xc6, 0xff, 0xff, 0xff, 0xff],
    &[0xdb, 0xff, 0xff, 0xff, 0xff],
    &[0x91, 0x91, 0x91, 0x91],
    &[0xd4, 0x00, 0x00],
    &[0xd4, 0x05, 0x00],
    &[0xc4, 0x01, 0x00],
    &[0xcb],
    &[0xa4, b't', b'y', b'p', b'e'],
];

/// The msgpack parser's decoder: what rtio encodes decodes back to the same packet; mutated
/// and random messages are refused or decoded, never a panic, within bounded memory.
#[test]
fn msgpack_packets() {
    use rtio::socketio::msgpack;
    use rtio::socketio::packet;
    let mut worst = Worst::default();
    let (mut round_trips, mut mutated_ok) = (0, 0);
    fuzz("msgpack_packets", 3000, |rng| {
        let attachments: Vec<bytes::Bytes> = (0..rng.random_range(0..3))
            .map(|_| {
                let len = rand_len(rng).min(2000);
                rand_bytes(rng, len).into()
            })
            .collect();
        let mut args = vec![rand_json(rng, 3)];
        args.extend((0..attachments.len()).map(|n| json!({"_placeholder": true, "num": n})));
        let args = Value::Array(args).to_string();
        let nsp = if rng.random_bool(0.5) { "/" } else { "/chat" };
        let id = rng
            .random_bool(0.5)
            .then(|| rng.random_range(0..1u64 << 40));
        let text = packet::encode(
            packet::PacketType::Event,
            nsp,
            id,
            Some("event"),
            &args,
            attachments.len(),
        );
        let mut message = msgpack::encode(&text, &attachments).to_vec();
        if rng.random_bool(0.3) {
            let len = rand_len(rng);
            message = rand_bytes(rng, len);
        } else if rng.random_bool(0.6) {
            mutate(rng, &mut message, MSGPACK_TOKENS);
        } else {
            let (decoded, _) = run("msgpack::decode", &message, || msgpack::decode(&message));
            let (decoded_text, decoded_atts) = decoded.expect("rtio's own message decodes");
            assert_eq!(
                packet::decode(&decoded_text, 16).map(|p| p.event),
                packet::decode(&text[1..], 16).map(|p| p.event),
                "round trip of {text}"
            );
            assert_eq!(decoded_atts, attachments);
            round_trips += 1;
            return;
        }
        let (decoded, peak) = run("msgpack::decode", &message, || {
            msgpack::decode(&message).map(|(text, atts)| {
                packet::decode(&text, 256).is_ok() && atts.len() <= message.len()
            })
        });
        if decoded == Ok(true) {
            mutated_ok += 1;
        }
        worst.saw(message.len(), peak);
        assert_heap(
            "msgpack::decode",
            &message,
            peak,
            SIO_PER_BYTE * message.len() + SLACK,
        );
    });
    worst.report("msgpack_packets");
    eprintln!(
        "msgpack_packets: {round_trips} round trips, {mutated_ok} altered messages still decoded"
    );
    assert!(round_trips > 300);
}

/// Engine.IO v3 polling payloads (text and binary forms): what rtio encodes decodes back;
/// mutated bodies are refused or decoded, never a panic, within bounded memory.
#[test]
fn engineio_v3_payloads() {
    use rtio::engineio::packet::Frame;
    use rtio::fuzzing::{decode_v3_payload, encode_v3_payload};
    let mut worst = Worst::default();
    let mut round_trips = 0;
    fuzz("engineio_v3_payloads", 3000, |rng| {
        let frames: Vec<Frame> = (0..rng.random_range(1..6))
            .map(|_| {
                let len = rand_len(rng).min(3000);
                if rng.random_bool(0.3) {
                    Frame::Binary(rand_bytes(rng, len).into())
                } else {
                    Frame::raw_text(format!("4{}", rand_string(rng, len)))
                }
            })
            .collect();
        let (mut body, binary) = encode_v3_payload(&frames, rng.random_bool(0.5));
        if rng.random_bool(0.5) {
            let decoded = decode_v3_payload(&body.clone().into(), binary, 16_384)
                .expect("rtio's own payload decodes");
            assert_eq!(decoded.len(), frames.len());
            for (packet, frame) in decoded.iter().zip(&frames) {
                let (text, bytes) = frame.contents();
                match packet {
                    Packet::Text(t) => assert!(text && t[..] == bytes[1..]),
                    Packet::Binary(b) => assert!(!text && b[..] == *bytes),
                    other => panic!("{other:?}"),
                }
            }
            round_trips += 1;
            return;
        }
        if rng.random_bool(0.2) {
            let len = rand_len(rng);
            body = rand_bytes(rng, len);
        } else {
            mutate(
                rng,
                &mut body,
                &[b"99999999:", b"1:", b"b4", &[0, 9, 0xff], &[1, 0xff]],
            );
        }
        let input = bytes::Bytes::from(body.clone());
        let (_, peak) = run("v3::decode_payload", &body, || {
            decode_v3_payload(&input, binary, 16_384).map(|p| p.len())
        });
        worst.saw(body.len(), peak);
        assert_heap(
            "v3::decode_payload",
            &body,
            peak,
            PAYLOAD_PER_BYTE * body.len() + SLACK,
        );
    });
    worst.report("engineio_v3_payloads");
    assert!(round_trips > 1000);
}
