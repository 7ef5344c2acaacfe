//! What the adapter tests share: rtio servers in a Redis cluster, long-polling clients, the
//! spy (the test's own `RedisLink`, playing a Node peer or an emitter), the golden vectors.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtio::{ClusterError, Config, Event, Server};
use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions};
use rtio_redis::link::{Incoming, LinkConfig, RedisLink};
use tokio::sync::mpsc;

use crate::common;

/// Deadline of any single wait.
pub const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// rtio servers and long-polling clients.

pub fn options(url: &str) -> RedisAdapterOptions {
    let mut o = RedisAdapterOptions::new(url);
    o.requests_timeout = Duration::from_millis(600);
    o
}

/// An rtio server on a loopback port, in the cluster of `options`.
pub fn node_with(options: RedisAdapterOptions) -> Server {
    let factory = redis_adapter(options).expect("valid options");
    let config = Config {
        worker_threads: 1,
        ..Config::default().adapter(factory)
    };
    Server::start(config.host("127.0.0.1").port(0)).expect("server starts")
}

pub fn node(url: &str) -> Server {
    node_with(options(url))
}

/// An rtio server in the sharded cluster of `url` (dynamic subscription mode).
pub fn sharded_node(url: &str) -> Server {
    let mut o = options(url);
    o.variant = rtio_redis::adapter::Variant::Sharded;
    node_with(o)
}

/// Waits until `channel` has `n` shard subscribers (a room channel follows its room a
/// moment after the join).
pub fn wait_shardnumsub(port: u16, channel: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let reply = crate::redis_server::raw_command(port, &["PUBSUB", "SHARDNUMSUB", channel])
            .expect("PUBSUB");
        // *2\r\n$len\r\nchannel\r\n:n\r\n
        let got: Option<usize> = reply
            .rsplit(':')
            .next()
            .and_then(|t| t.trim_end().parse().ok());
        if got == Some(n) {
            return;
        }
        assert!(Instant::now() < deadline, "{channel}: {reply:?}, not {n}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    (
        status,
        String::from_utf8(out[split + 4..].to_vec()).unwrap(),
    )
}

/// A long-polling client joined to `/`.
pub struct Client {
    pub addr: SocketAddr,
    pub eio: String,
    /// The Socket.IO id its host was given.
    pub sid: String,
}

impl Client {
    /// Opens a session, joins `/` with this auth, takes the host's `Connect` and the
    /// client's CONNECT packet.
    pub fn connect(server: &Server, auth: &str) -> Client {
        let addr = server.local_addr();
        let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling&q=1", b"");
        assert_eq!(status, 200);
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        let mut c = Client {
            addr,
            eio: open["sid"].as_str().unwrap().to_string(),
            sid: String::new(),
        };
        c.post(&format!("40{auth}"));
        match next(server) {
            Event::Connect { sid, .. } => c.sid = sid.to_string(),
            other => panic!("{other:?}"),
        }
        c.expect(&[&format!("40{{\"sid\":\"{}\"}}", c.sid)]);
        c
    }

    pub fn path(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.eio)
    }

    pub fn post(&self, packets: &str) {
        assert_eq!(
            http(self.addr, "POST", &self.path(), packets.as_bytes()).0,
            200
        );
    }

    /// The next packets for the client, exactly these (waits for them; one more that came
    /// in the same poll fails the test).
    pub fn expect(&self, want: &[&str]) {
        let mut got: Vec<String> = Vec::new();
        while got.len() < want.len() {
            let (status, body) = http(self.addr, "GET", &self.path(), b"");
            assert_eq!(status, 200, "{body}");
            got.extend(body.split('\x1e').map(str::to_string));
        }
        assert_eq!(got, want, "packets of {}", self.sid);
    }

    /// The packets up to and including `last`.
    pub fn until(&self, last: &str) -> Vec<String> {
        let mut got: Vec<String> = Vec::new();
        while !got.iter().any(|p| p == last) {
            let (status, body) = http(self.addr, "GET", &self.path(), b"");
            assert_eq!(status, 200, "{body}");
            got.extend(body.split('\x1e').map(str::to_string));
        }
        assert_eq!(got.last().map(String::as_str), Some(last), "{got:?}");
        got
    }

    /// The next packet (one poll that must bring exactly one).
    pub fn one(&self) -> String {
        let (status, body) = http(self.addr, "GET", &self.path(), b"");
        assert_eq!(status, 200, "{body}");
        assert!(!body.contains('\x1e'), "one packet expected: {body:?}");
        body
    }
}

pub fn next(server: &Server) -> Event {
    server
        .events()
        .recv_timeout(WAIT)
        .expect("running")
        .expect("an event within the timeout")
}

pub fn quiet(server: &Server, wait: Duration) {
    if let Some(ev) = server.events().recv_timeout(wait).unwrap() {
        panic!("no event expected, got {ev:?}");
    }
}

/// The server count `server`'s namespace `/` reports.
pub fn count(server: &Server) -> Result<usize, ClusterError> {
    let token = server.io().server_count("/").unwrap();
    match next(server) {
        Event::ServerCountResponse { token: t, result } if t == token => result,
        other => panic!("{other:?}"),
    }
}

/// Waits (polling the count) until `server` sees `n` servers.
pub fn wait_count(server: &Server, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let c = count(server);
        if c == Ok(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "server count stays {c:?}, not {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// The spy: the test's own connections to Redis.

pub struct Spy {
    pub rt: tokio::runtime::Runtime,
    pub link: RedisLink,
    pub messages: mpsc::Receiver<Incoming>,
}

impl Spy {
    pub fn new(url: &str) -> Spy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let started = RedisLink::start_on(rt.handle(), LinkConfig::new(url)).unwrap();
        Spy {
            rt,
            link: started.link,
            messages: started.messages,
        }
    }

    pub fn psubscribe(&self, pattern: &str) {
        let link = &self.link;
        self.rt
            .block_on(async {
                tokio::time::timeout(WAIT, link.psubscribe(pattern.to_string())).await
            })
            .expect("in time")
            .expect("psubscribed");
    }

    pub fn subscribe(&self, channel: &str) {
        let link = &self.link;
        self.rt
            .block_on(async {
                tokio::time::timeout(WAIT, link.subscribe(channel.to_string())).await
            })
            .expect("in time")
            .expect("subscribed");
    }

    pub fn ssubscribe(&self, channel: &str) {
        let link = &self.link;
        self.rt
            .block_on(async {
                tokio::time::timeout(WAIT, link.ssubscribe(channel.to_string())).await
            })
            .expect("in time")
            .expect("ssubscribed");
    }

    /// SPUBLISHes, in order with the spy's other publishes.
    pub fn spublish(&self, channel: &str, payload: impl Into<Bytes>) {
        self.link
            .spublish(channel.to_string(), payload.into())
            .expect("queued");
    }

    /// Publishes, in order with the spy's other publishes.
    pub fn publish(&self, channel: &str, payload: impl Into<Bytes>) {
        self.link
            .publish(channel.to_string(), payload.into())
            .expect("queued");
    }

    pub fn recv(&mut self) -> Incoming {
        let messages = &mut self.messages;
        self.rt
            .block_on(async { tokio::time::timeout(WAIT, messages.recv()).await })
            .expect("a message within the deadline")
            .expect("link open")
    }

    /// The next message on `channel`, skipping others.
    pub fn recv_on(&mut self, channel: &str) -> Incoming {
        loop {
            let m = self.recv();
            if m.channel_str() == Some(channel) {
                return m;
            }
        }
    }
}

/// `bytes` with every occurrence of each `(from, to)` (same length) replaced.
pub fn replace(bytes: &[u8], pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for (from, to) in pairs {
        assert_eq!(from.len(), to.len());
        let (from, to) = (from.as_bytes(), to.as_bytes());
        let mut i = 0;
        while i + from.len() <= out.len() {
            if &out[i..i + from.len()] == from {
                out[i..i + from.len()].copy_from_slice(to);
                i += from.len();
            } else {
                i += 1;
            }
        }
    }
    out
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// The captured messages of Node peers, by line (1-based) of `vectors-classic.jsonl`.
pub struct Vectors(Vec<common::Vector>);

impl Vectors {
    pub fn load() -> Vectors {
        Vectors(common::load("classic"))
    }

    pub fn line(&self, n: usize) -> &common::Vector {
        &self.0[n - 1]
    }
}
