//! The Redis adapter: rtio servers in one Socket.IO cluster with Node servers running
//! `@socket.io/redis-adapter` 8.x, and reached by `@socket.io/redis-emitter` 5.x (feature
//! `adapter`, on by default; it brings in the `rtio` core crate).
//!
//! [`redis_adapter`] gives an [`AdapterFactory`] to put in `rtio::Config::adapter`. The
//! server then makes one adapter per namespace, each with its own `uid` (as Node's adapter
//! does), all sharing one [`RedisLink`] per server (publisher + subscriber connections,
//! reconnecting on their own), which one dispatcher task per server drains.
//!
//! - **Local first.** Every operation is applied to this server's sockets at once through
//!   the core's [`LocalAdapter`] (encode-once) and then published; nothing waits on Redis,
//!   and a Redis outage leaves local delivery untouched.
//! - **Answers every request** a Node node (or an emitter) can send, legacy forms included,
//!   so that their `fetchSockets`, `serverSideEmit` acks and broadcast acks never wait on an
//!   rtio node for nothing.
//! - **Results that need other servers** complete the core's [`Reply`](rtio::adapter::Reply)s: the number of
//!   servers is `PUBSUB NUMSUB` of the request channel (classic) or `SHARDNUMSUB` of the
//!   main channel (sharded), as socket.io counts them, and a request still waiting after
//!   [`RedisAdapterOptions::requests_timeout`] completes with what came and
//!   `ClusterError::Timeout`.
//! - **Faults**: Redis unreachable at start → the server starts and serves its own clients,
//!   logs it (standard error, as the core does) and retries; Redis back → subscriptions
//!   replayed, cluster delivery resumes; a malformed message → logged (rate-limited) and
//!   dropped.
//!
//! **Threads and ownership.** The factory is owned by the `Config` (an `Arc`, so one
//! configuration value may be cloned); it starts the server's link on the server's own
//! runtime when the first namespace is created, and the link's tasks, the dispatcher and the
//! counts run there, never on a host thread. Adapter calls come from host and runtime threads
//! and only lock briefly and queue. The server owns its adapters; the adapters share the
//! link, which the last one to close shuts down (awaited by the server's stop).
//!
//! ```no_run
//! use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions};
//!
//! let factory = redis_adapter(RedisAdapterOptions::new("redis://127.0.0.1:6379"))?;
//! let server = rtio::Server::start(rtio::Config::default().adapter(factory)).unwrap();
//! # drop(server);
//! # Ok::<(), rtio_redis::Error>(())
//! ```

mod classic;
pub(crate) mod convert;
mod hub;
mod requests;
mod sharded;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rtio::adapter::{Adapter, AdapterContext, AdapterFactory, LocalAdapter};

use crate::error::Error;
use crate::link::{LinkConfig, RedisLink};
use crate::sharded::SubscriptionMode;

/// Which of the Redis adapter's two wire formats a cluster speaks. Every node of a cluster
/// (and its emitters) must use the same one, with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Variant {
    /// `createAdapter` (PUBLISH / PSUBSCRIBE, any Redis ≥ 6 here), the default and the one
    /// `@socket.io/redis-emitter` speaks.
    #[default]
    Classic,
    /// `createShardedAdapter` (SPUBLISH / SSUBSCRIBE, Redis ≥ 7).
    Sharded,
}

/// How an rtio server joins a Redis-backed Socket.IO cluster. Build with
/// [`RedisAdapterOptions::new`], change the public fields, give it to [`redis_adapter`].
#[derive(Debug, Clone)]
pub struct RedisAdapterOptions {
    /// `redis://[user[:password]@]host[:port][/db]` (see [`crate::link`] for the forms).
    pub url: String,
    /// The channels' prefix: Node's `key` (classic) / `channelPrefix` (sharded); default
    /// `socket.io`.
    pub key: String,
    /// The wire format; default [`Variant::Classic`].
    pub variant: Variant,
    /// How long a request to the other servers waits for their answers (Node's
    /// `requestsTimeout`, default 5 s): `fetch_sockets` and the answers to
    /// `server_side_emit_with_ack`. The core's `Config::cluster_timeout` bounds them too;
    /// the shorter wins.
    pub requests_timeout: Duration,
    /// Classic only: answer a request on the requester's own response channel
    /// (`{key}-response#{nsp}#{uid}#`) instead of the common one (Node's
    /// `publishOnSpecificResponseChannel`, default false). Answers to server-side emits go
    /// to the common channel either way, as Node's do. Responses are read on both
    /// channels whatever this says.
    pub publish_on_specific_response_channel: bool,
    /// Sharded only: which channels a server subscribes (Node's `subscriptionMode`, default
    /// `Dynamic`: one channel per room besides the namespace's two). `Static` suits many
    /// short-lived rooms or dynamic namespaces.
    pub subscription_mode: SubscriptionMode,
}

impl RedisAdapterOptions {
    /// Options for the Redis server at `url`, with Node's defaults: key `socket.io`, the
    /// classic variant, 5 s requests timeout, answers on the common response channel.
    pub fn new(url: impl Into<String>) -> Self {
        RedisAdapterOptions {
            url: url.into(),
            key: "socket.io".into(),
            variant: Variant::Classic,
            requests_timeout: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            subscription_mode: SubscriptionMode::Dynamic,
        }
    }
}

/// The adapter factory for `rtio::Config::adapter`: checks the options now (a URL that
/// does not parse, or `rediss://` without the `tls` feature, is an [`Error::Config`]) and
/// connects later, when a server starts. Redis being down is not an error: the server
/// starts, serves its own clients and keeps retrying.
///
/// One factory serves one server at a time (the servers of one process each get their own
/// link when each runs its own runtime, as rtio servers do; a factory may be reused once
/// its server stopped).
pub fn redis_adapter(options: RedisAdapterOptions) -> Result<Arc<dyn AdapterFactory>, Error> {
    link_config(&options)
        .check()
        .map_err(|e| Error::Config(e.to_string()))?;
    Ok(Arc::new(RedisAdapterFactory {
        options: Arc::new(options),
        hubs: Arc::new(Mutex::new(HashMap::new())),
    }))
}

fn link_config(options: &RedisAdapterOptions) -> LinkConfig {
    LinkConfig::new(options.url.clone())
}

/// Makes a server's adapters: the first one starts the server's [`hub::Hub`] (its
/// [`RedisLink`] and dispatcher) on the server's runtime, the last one to close ends it.
struct RedisAdapterFactory {
    options: Arc<RedisAdapterOptions>,
    /// The live hubs, one per runtime (that is: per running server).
    hubs: Arc<hub::Hubs>,
}

impl AdapterFactory for RedisAdapterFactory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        let hub = match hub::Hub::acquire(&self.hubs, &self.options, ctx.runtime()) {
            Ok(hub) => hub,
            Err(e) => {
                // Only an invalid URL fails here, and `redis_adapter` checked it.
                eprintln!(
                    "rtio-redis: cannot start the Redis link ({e}); namespace {} serves this \
                     server only",
                    ctx.nsp()
                );
                return Arc::new(LocalAdapter::new(&ctx));
            }
        };
        match self.options.variant {
            Variant::Classic => classic::ClassicAdapter::create(ctx, hub, self.options.clone()),
            Variant::Sharded => sharded::ShardedAdapter::create(ctx, hub, self.options.clone()),
        }
    }
}

/// A random id of `len` characters from uid2's alphabet (what Node's adapter uses for its
/// `uid` and request ids).
pub(crate) fn uid2(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| ALPHABET[rand::random_range(0..64)] as char)
        .collect()
}

/// 16 random hex characters (`randomBytes(8).toString("hex")`): the sharded adapter's uid
/// and request ids.
pub(crate) fn hex_uid() -> String {
    let bytes: [u8; 8] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What an adapter still expects from the other servers, by request id: the core's reply
/// it completes as answers come.
pub(crate) enum Pending {
    /// `fetch_sockets`.
    Fetch(rtio::adapter::Reply<rtio::SocketInfo>),
    /// `server_side_emit` with acks.
    ServerSide(rtio::adapter::Reply<rtio::Payload>),
    /// A broadcast with acks.
    Acks(rtio::adapter::Reply<rtio::AckAnswer>),
}

impl Pending {
    fn is_done(&self) -> bool {
        match self {
            Pending::Fetch(r) => r.is_done(),
            Pending::ServerSide(r) => r.is_done(),
            Pending::Acks(r) => r.is_done(),
        }
    }

    fn time_out(&self) {
        match self {
            Pending::Fetch(r) => r.time_out(),
            Pending::ServerSide(r) => r.time_out(),
            Pending::Acks(r) => r.time_out(),
        }
    }
}

/// An adapter's pending requests. Entries go when their reply completes (checked as
/// answers come) or at their deadline, when the reply is timed out.
#[derive(Default)]
pub(crate) struct PendingTable {
    map: Mutex<HashMap<String, Pending>>,
}

impl PendingTable {
    /// Registers a request; with a deadline, spawns its expiry on `rt`.
    pub(crate) fn insert(
        self: &Arc<Self>,
        rt: &tokio::runtime::Handle,
        id: String,
        pending: Pending,
        deadline: Option<Duration>,
    ) {
        self.map.lock().insert(id.clone(), pending);
        if let Some(d) = deadline {
            let table = Arc::downgrade(self);
            rt.spawn(async move {
                tokio::time::sleep(d).await;
                if let Some(table) = table.upgrade() {
                    let gone = table.map.lock().remove(&id);
                    if let Some(p) = gone {
                        p.time_out();
                    }
                }
            });
        }
    }

    /// Runs `f` on the pending request `id` (outside the table's lock), then forgets it if
    /// its reply completed. Unknown ids (another node's requests, late answers) do nothing.
    pub(crate) fn with(&self, id: &str, f: impl FnOnce(&Pending)) {
        let found = self.map.lock().get(id).map(Pending::clone_handle);
        if let Some(p) = found {
            f(&p);
            if p.is_done() {
                self.map.lock().remove(id);
            }
        }
    }

    /// Forgets a request whose reply completed (e.g. when the count of servers came last).
    pub(crate) fn forget_if_done(&self, id: &str) {
        let mut map = self.map.lock();
        if map.get(id).is_some_and(Pending::is_done) {
            map.remove(id);
        }
    }

    /// Forgets a request (its reply is kept by whoever else holds it).
    pub(crate) fn remove(&self, id: &str) {
        self.map.lock().remove(id);
    }

    /// Forgets every request (the adapter closes).
    pub(crate) fn clear(&self) {
        let all = std::mem::take(&mut *self.map.lock());
        drop(all);
    }

    /// How many requests wait (tests, debugging).
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        self.map.lock().len()
    }
}

impl Pending {
    fn clone_handle(&self) -> Pending {
        match self {
            Pending::Fetch(r) => Pending::Fetch(r.clone()),
            Pending::ServerSide(r) => Pending::ServerSide(r.clone()),
            Pending::Acks(r) => Pending::Acks(r.clone()),
        }
    }
}

/// Relays this server's acks of another server's broadcast to it, one message per answer
/// (`send` encodes and publishes it), never before the client count that announces them:
/// answers that come first (a client may answer before the broadcast call returned) are
/// held until [`AckForwarder::release`]. Called on runtime threads; never blocks.
pub(crate) struct AckForwarder {
    send: Box<dyn Fn(&rtio::Payload) + Send + Sync>,
    /// Answers waiting for the count; `None` once it went.
    held: Mutex<Option<Vec<rtio::Payload>>>,
}

impl AckForwarder {
    pub(crate) fn new(send: impl Fn(&rtio::Payload) + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(AckForwarder {
            send: Box::new(send),
            held: Mutex::new(Some(Vec::new())),
        })
    }

    /// The count went: sends the answers held so far, then each as it comes.
    pub(crate) fn release(&self) {
        let mut held = self.held.lock();
        for answer in held.take().unwrap_or_default() {
            (self.send)(&answer);
        }
    }
}

impl rtio::adapter::AckSink for AckForwarder {
    fn answer(&self, _sid: &Arc<str>, payload: rtio::Payload) {
        let mut held = self.held.lock();
        match &mut *held {
            Some(waiting) => waiting.push(payload),
            None => (self.send)(&payload),
        }
    }
}

/// Closes a link a hub let go of (the last adapter of its server closed).
pub(crate) async fn close_link(link: Option<RedisLink>) {
    if let Some(link) = link {
        link.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_nodes() {
        let u = uid2(6);
        assert_eq!(u.len(), 6);
        assert!(u
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let h = hex_uid();
        assert_eq!(h.len(), 16);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn bad_urls_are_refused_at_once() {
        assert!(matches!(
            redis_adapter(RedisAdapterOptions::new("nope://x")),
            Err(Error::Config(_))
        ));
        assert!(redis_adapter(RedisAdapterOptions::new("redis://127.0.0.1:1")).is_ok());
    }
}
