//! What the adapter tests share: rtio servers in a Redis cluster, long-polling clients, the
//! spy (the test's own `RedisLink`, playing a Node peer or an emitter), the golden vectors.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use rtio::{ClusterError, Config, Event, Server};
use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions};
use rtio_redis::link::{Incoming, LinkConfig, RedisLink};
use tokio::sync::mpsc;

use crate::common;

// The long-polling client and the waits of the core's tests.
#[path = "../../../core/tests/support/polling.rs"]
mod polling;
#[allow(unused_imports)] // (each test crate uses part of it)
pub use polling::{next, quiet, Client, WAIT};

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
