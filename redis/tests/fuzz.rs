//! A seeded fuzz loop over every decoder: random and mutated inputs (the golden vectors,
//! bit flips, hostile lengths, truncations, deep nesting) must never panic, never allocate
//! more than a small multiple of the input, and whatever decodes must re-encode to bytes
//! that decode again to the same bytes.
//!
//! One `#[test]` only: the allocation counter is process-wide.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use rtio_redis::{
    decode_json, decode_msgpack, decode_msgpack_bytes, encode_json, encode_msgpack, from_socketio,
    to_socketio, ClassicBroadcast, ClassicRequest, ClassicResponse, ShardedMessage, Value,
};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            let now =
                CURRENT.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that change a msgpack or JSON parse the most: huge-length headers, ext markers,
/// containers, JSON structure.
const INTERESTING: &[u8] = &[
    0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9,
    0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd6, 0xd7, 0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xff, b'{',
    b'}', b'[', b']', b'"', b':', b',', b'\\', b'-', b'1', b'e',
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = b.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                b[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                b[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 => {
                let i = rng.below(len + 1);
                b.insert(i, INTERESTING[rng.below(INTERESTING.len())]);
            }
            3 if len > 0 => b.truncate(rng.below(len)),
            4 if len > 1 => {
                // Duplicate a range (nesting and repetition).
                let i = rng.below(len);
                let j = i + rng.below(len - i);
                let chunk = b[i..j].to_vec();
                let at = rng.below(len + 1);
                b.splice(at..at, chunk);
            }
            5 if len > 0 => {
                // A huge declared length right after a header byte.
                let i = rng.below(len);
                b.splice(i..i, [0xdd, 0xff, 0xff, 0xff, 0xf0]);
            }
            6 if len > 0 => {
                let i = rng.below(len);
                b.remove(i);
            }
            _ => {
                let n = rng.below(16);
                b.extend((0..n).map(|_| rng.next() as u8));
            }
        }
    }
    b
}

/// A random leaf of any type.
fn random_leaf(rng: &mut Rng) -> Value {
    match rng.below(9) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 0),
        2 => Value::Int(rng.next() as i64 >> rng.below(64)),
        3 => Value::UInt(rng.next()),
        4 => Value::Float(f64::from_bits(rng.next())),
        5 => {
            Value::from(["", "r1", "/", "emitter", "timeout", "type", "_placeholder"][rng.below(7)])
        }
        6 => Value::Bin(Bytes::from(vec![rng.next() as u8; rng.below(4)])),
        7 => Value::Array(vec![]),
        _ => Value::Map(vec![]),
    }
}

/// Structure-aware mutation: changes one node of a decoded message, so that the result
/// still parses and reaches the typed decoders' field checks.
fn mutate_value(rng: &mut Rng, v: &mut Value) {
    match v {
        Value::Map(m) if !m.is_empty() && rng.below(3) > 0 => {
            let i = rng.below(m.len());
            match rng.below(5) {
                0 => drop(m.remove(i)),
                1 => {
                    let e = m[i].clone();
                    m.push(e);
                }
                2 => {
                    let j = rng.below(m.len());
                    m.swap(i, j);
                }
                3 => m[i].1 = random_leaf(rng),
                _ => mutate_value(rng, &mut m[i].1),
            }
        }
        Value::Array(a) if !a.is_empty() && rng.below(3) > 0 => {
            let i = rng.below(a.len());
            match rng.below(4) {
                0 => drop(a.remove(i)),
                1 => a.push(random_leaf(rng)),
                2 => a[i] = random_leaf(rng),
                _ => mutate_value(rng, &mut a[i]),
            }
        }
        _ => *v = random_leaf(rng),
    }
}

/// Runs `f`, returning the peak bytes it had allocated above what was live before.
fn measured(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    f();
    PEAK.load(Relaxed).saturating_sub(base)
}

/// Decoded values re-encode to bytes that are a fixed point of decode → encode.
/// Returns whether `bytes` decoded.
fn check_stable<T>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> rtio_redis::Result<T>,
    encode: impl Fn(&T) -> Vec<u8>,
) -> bool {
    let Ok(t) = decode(bytes) else { return false };
    let once = encode(&t);
    let again = decode(&once)
        .unwrap_or_else(|e| panic!("re-encoded message fails to decode: {e}\n{once:02x?}"));
    assert_eq!(
        encode(&again),
        once,
        "decode(encode(x)) is not stable for {bytes:02x?}"
    );
    true
}

/// The largest peak of any single decoder on `input`.
fn decode_peak(input: &[u8]) -> usize {
    let shared = Bytes::copy_from_slice(input);
    [
        measured(|| drop(decode_msgpack(input))),
        measured(|| drop(decode_msgpack_bytes(&shared))),
        measured(|| drop(decode_json(input))),
        measured(|| drop(ClassicBroadcast::decode(input))),
        measured(|| drop(ClassicRequest::decode(input))),
        measured(|| drop(ClassicResponse::decode(input))),
        measured(|| drop(ShardedMessage::decode(input))),
        measured(|| drop(std::str::from_utf8(input).map(|t| from_socketio(t, &[])))),
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
}

/// Runs every decoder; returns how many typed decoders accepted the input.
fn run_all(input: &[u8]) -> usize {
    let shared = Bytes::copy_from_slice(input);
    let _ = decode_msgpack_bytes(&shared);
    check_stable(input, decode_msgpack, encode_msgpack);
    check_stable(input, decode_json, |v| encode_json(v).into_bytes());
    let typed = [
        check_stable(input, ClassicBroadcast::decode, ClassicBroadcast::encode),
        check_stable(input, ClassicRequest::decode, ClassicRequest::encode),
        check_stable(input, ClassicResponse::decode, ClassicResponse::encode),
        check_stable(input, ShardedMessage::decode, ShardedMessage::encode),
    ];
    let _ = ClassicBroadcast::decode_bytes(&shared);
    let _ = ClassicRequest::decode_bytes(&shared);
    let _ = ClassicResponse::decode_bytes(&shared);
    let _ = ShardedMessage::decode_bytes(&shared);
    if let Ok(text) = std::str::from_utf8(input) {
        let attachments = [Bytes::from_static(b"a"), Bytes::from_static(b"b")];
        if let Ok(v) = from_socketio(text, &attachments) {
            let (json, att) = to_socketio(&v);
            assert_eq!(from_socketio(&json, &att).unwrap(), v);
        }
    }
    typed.iter().filter(|ok| **ok).count()
}

#[test]
fn fuzz_decoders() {
    let started = Instant::now();
    let vectors: Vec<common::Vector> = common::load("classic")
        .into_iter()
        .chain(common::load("sharded"))
        .collect();
    let mut seeds: Vec<Vec<u8>> = vectors.iter().map(|v| v.bytes.clone()).collect();
    // Deep nesting, both encodings, past and just within the cap.
    seeds.push(vec![0x91; 10_000]);
    seeds.push([vec![0x91; 120], vec![0xc0]].concat());
    seeds.push(b"[".repeat(10_000));
    seeds.push(format!("{}1{}", "[".repeat(100), "]".repeat(100)).into_bytes());
    seeds.push(br#"[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#.to_vec());
    // Declared lengths far beyond the input.
    for h in [
        &[0xdd, 0xff, 0xff, 0xff, 0xff][..],
        &[0xdf, 0xff, 0xff, 0xff, 0xff],
        &[0xdb, 0xff, 0xff, 0xff, 0xff],
        &[0xc6, 0xff, 0xff, 0xff, 0xff],
        &[0xc9, 0xff, 0xff, 0xff, 0xff, 0x00],
    ] {
        seeds.push(h.to_vec());
    }

    // RTIO_FUZZ_SEED / RTIO_FUZZ_RUNS widen the search by hand; CI uses the fixed defaults.
    let seed = std::env::var("RTIO_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let iterations = std::env::var("RTIO_FUZZ_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8000);
    let mut rng = Rng(seed);
    let (mut runs, mut worst_ratio, mut accepted) = (0usize, 0f64, 0usize);
    // Ratio over inputs of 1 KiB or more, where the fixed slack no longer dominates.
    let mut check = |input: &[u8], runs: &mut usize| {
        accepted += run_all(input);
        let peak = decode_peak(input);
        // A value costs ~40 bytes and the smallest msgpack value is 1 byte; the typed
        // decoders briefly hold a value and its typed form: 64× plus a fixed slack bounds
        // it, where a 4 GiB header believed would need gigabytes.
        let bound = 64 * input.len() + 64 * 1024;
        assert!(
            peak <= bound,
            "{peak} bytes allocated for {} input bytes: {:02x?}",
            input.len(),
            &input[..input.len().min(64)]
        );
        if input.len() >= 1024 {
            worst_ratio = worst_ratio.max(peak as f64 / input.len() as f64);
        }
        *runs += 1;
    };
    for seed in &seeds {
        check(seed, &mut runs);
    }
    for i in 0..iterations {
        let input = if i % 10 < 4 {
            let mut v = vectors[rng.below(vectors.len())].decoded.clone();
            for _ in 0..1 + rng.below(2) {
                mutate_value(&mut rng, &mut v);
            }
            if rng.below(2) == 0 {
                encode_msgpack(&v)
            } else {
                encode_json(&v).into_bytes()
            }
        } else if i % 10 == 9 {
            // Pure noise, biased toward interesting bytes.
            (0..rng.below(64))
                .map(|_| {
                    if rng.below(2) == 0 {
                        INTERESTING[rng.below(INTERESTING.len())]
                    } else {
                        rng.next() as u8
                    }
                })
                .collect()
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            mutate(&mut rng, seed)
        };
        check(&input, &mut runs);
    }
    // The densest honest inputs (one value per byte or two), the allocation worst case:
    // checked, not mutated (they are large and would dominate the run time).
    let n: u32 = 50_000;
    let dense = [
        [&[0xdd][..], &n.to_be_bytes(), &vec![0x90; n as usize]].concat(),
        [
            &[0xdf][..],
            &n.to_be_bytes(),
            &[0xa0, 0xc0].repeat(n as usize),
        ]
        .concat(),
        format!("[{}[]]", "[],".repeat(n as usize)).into_bytes(),
        format!("{{{}\"\":0}}", "\"\":0,".repeat(n as usize)).into_bytes(),
    ];
    for input in &dense {
        check(input, &mut runs);
    }
    let elapsed = started.elapsed();
    eprintln!("fuzz: {runs} inputs ({accepted} typed decodes accepted) in {elapsed:?}, worst peak allocation {worst_ratio:.1}× the input (inputs ≥ 1 KiB)");
    // Mutations must still reach the typed layers, not only be rejected at the bytes.
    assert!(
        accepted > runs / 20,
        "only {accepted} typed decodes accepted"
    );
    assert!(
        elapsed.as_secs_f64() < 5.0 * if cfg!(debug_assertions) { 2.0 } else { 1.0 },
        "fuzz loop too slow: {elapsed:?}"
    );
}
