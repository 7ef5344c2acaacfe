//! The IO half of the Redis adapter: a [`RedisLink`] keeps one **publisher** and one
//! **subscriber** connection to a Redis server on the caller's tokio runtime, reconnects
//! them with exponential backoff, re-establishes every subscription after a reconnect, and
//! reports what happens through a status stream. It moves bytes only: channel names come
//! from [`classic`](crate::classic) / [`sharded`](crate::sharded), payloads are encoded and
//! decoded by the codec, and deciding what a message means is the adapter's job.
//!
//! # Contract with the adapter
//! - **Local delivery never waits on Redis.** [`RedisLink::publish`] / [`RedisLink::spublish`]
//!   only queue into a bounded channel and return; when the queue is full (Redis down or too
//!   slow) the message is dropped, counted ([`LinkStats::publish_dropped`]), logged (the
//!   `log` facade) and reported ([`LinkStatus::Dropped`]). Messages queued while Redis is down are sent after
//!   the reconnect, in order; a batch in flight when the connection breaks is dropped and
//!   counted (Redis may or may not have seen it: never resent, never duplicated).
//! - **Incoming messages** arrive as [`Incoming`] on a bounded receiver handed out by
//!   [`RedisLink::start`]. The redis client's connection task pushes into it without
//!   waiting: when the adapter falls behind, messages are dropped and counted
//!   ([`LinkStats::incoming_dropped`]) instead of growing memory without bound (Redis would
//!   cut a subscriber that stops reading anyway, `client-output-buffer-limit pubsub`).
//! - **Subscriptions** are a set kept by the link ([`RedisLink::subscribe`],
//!   [`RedisLink::psubscribe`], [`RedisLink::ssubscribe`] and their `un` forms, callable
//!   at any time from any thread): the change is recorded at once and applied on the
//!   subscriber connection; the returned [`Confirmation`] resolves when Redis confirmed it
//!   (after the next reconnect if Redis is down). Dropping it does not undo anything.
//! - **Faults**: [`RedisLink::start`] returns even when Redis is unreachable (only a bad URL
//!   or a missing runtime is an error) and keeps retrying; after a loss each connection
//!   reconnects on its own with backoff (first retry at once, then `backoff_min` doubling up
//!   to `backoff_max`, with jitter so a cluster's nodes do not reconnect in lockstep); a
//!   silent peer is caught by a periodic `PING`. [`LinkStatus`] tells the adapter what to log.
//! - [`RedisLink::close`] ends both tasks and both connections before it returns; dropping
//!   every handle without `close` ends them too, a moment later.
//!
//! # Why redis-rs
//! `redis` (redis-rs) is the most used and actively maintained Rust client (1.8, which
//! needs Rust ≥ 1.88, as napi already does for this workspace). Its tokio
//! [`MultiplexedConnection`] in RESP3 gives, with no code of ours on the wire: out-of-band
//! push messages handed to a non-blocking callback (so the inbox can be bounded and never
//! stalls the socket), SSUBSCRIBE/SMESSAGE (its RESP2 `aio::PubSub` knows no sharded
//! Pub/Sub), a `Disconnection` push when the socket dies (prompt loss detection),
//! pipelining, `AUTH` in `HELLO` from the URL, and TLS behind a feature. Its own
//! `ConnectionManager` reconnects lazily and silently, so this module supervises the two
//! connections itself: every state change is reported and the subscriptions are replayed
//! in one place. `fred` would fit too, but brings runtime policies of its own (reconnect
//! loop, delivery through a lagging broadcast channel) that would be worked around rather
//! than used.
//!
//! # Requirements and limits
//! - **Redis ≥ 6** (RESP3 `HELLO 3`), **≥ 7.0** for the sharded variant (SSUBSCRIBE,
//!   SPUBLISH, `PUBSUB SHARDNUMSUB`). A `protocol=resp2` in the URL is overridden. Valkey
//!   and other servers that speak RESP3 work the same.
//! - **One Redis server.** On a Redis Cluster, classic Pub/Sub works through any node, but
//!   sharded SSUBSCRIBE must reach the master owning each channel's slot and
//!   `PUBSUB NUMSUB` is per node: routing by slot is out of scope here.
//! - **URL**: `redis://[user[:password]@]host[:port][/db]` (or `redis+unix:///path`, as
//!   redis-rs parses it); the password goes into `HELLO 3 AUTH` (ACL user or
//!   `requirepass`). `rediss://` (TLS) needs
//!   this crate's `tls` feature, off by default because it compiles rustls and ring; without
//!   it such a URL is refused by [`RedisLink::start`]. With it the server certificate is
//!   checked against the system's roots or `LinkConfig::tls_root_cert` (a private CA);
//!   client certificates (mTLS) and `#insecure` are not offered.
//!
//! ```no_run
//! # async fn demo() -> Result<(), rtio_redis::link::LinkError> {
//! use rtio_redis::{classic, link::{LinkConfig, RedisLink}};
//!
//! let started = RedisLink::start(LinkConfig::new("redis://127.0.0.1:6379"))?;
//! let (link, mut inbox) = (started.link, started.messages);
//! link.psubscribe(classic::broadcast_pattern("socket.io", "/")).await?;
//! link.subscribe(classic::request_channel("socket.io", "/")).await?;
//! link.publish(classic::broadcast_channel("socket.io", "/", None), vec![0x93u8])?;
//! while let Some(msg) = inbox.recv().await {
//!     // hand msg.channel / msg.payload to the adapter's decoder
//! #   let _ = msg;
//! }
//! link.close().await;
//! # Ok(()) }
//! ```
//!
//! [`MultiplexedConnection`]: redis::aio::MultiplexedConnection

mod conn;
mod publisher;
mod subscriber;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;

use subscriber::SubState;

/// How a [`RedisLink`] connects and how much it buffers. Build with [`LinkConfig::new`] and
/// change the public fields; every default is chosen for a production node, tests shorten
/// the backoff. Its `Debug` form hides the URL's password.
#[derive(Clone)]
#[non_exhaustive]
pub struct LinkConfig {
    /// `redis://[user[:password]@]host[:port][/db]` (see the module doc for the forms).
    pub url: String,
    /// Messages [`RedisLink::publish`] may hold while Redis is slow or down (default 4096);
    /// past that, new messages are dropped and counted.
    pub publish_queue: usize,
    /// Incoming messages the adapter may leave unread (default 4096); past that, new ones
    /// are dropped and counted.
    pub inbox: usize,
    /// Status events held for the adapter (default 64); past that they are dropped (a log
    /// line lost, never a message).
    pub status_queue: usize,
    /// First delay between two failed connection attempts (default 50 ms). The retry right
    /// after a lost connection is immediate.
    pub backoff_min: Duration,
    /// Cap of the doubling delay (default 2 s). A connection that stayed up this long
    /// restarts the backoff from zero when it is lost.
    pub backoff_max: Duration,
    /// Time allowed to open a connection, handshake included (default 2 s).
    pub connect_timeout: Duration,
    /// Time allowed for any reply: a publish batch, a (un)subscription batch, a `PING`, a
    /// `PUBSUB NUMSUB` (default 5 s). A connection that misses it is considered lost.
    pub command_timeout: Duration,
    /// How often each connection sends `PING` to detect a peer that vanished without
    /// closing the socket (default 5 s); `None` relies on the socket alone.
    pub ping_interval: Option<Duration>,
    /// Root certificate(s), PEM, that a `rediss://` server's certificate must chain to,
    /// instead of the system's trust store (a private CA). Feature `tls` only.
    #[cfg(feature = "tls")]
    pub tls_root_cert: Option<Vec<u8>>,
    /// `CLIENT SETNAME` of the connections, suffixed `-pub` / `-sub` (default `rtio`), so
    /// that `CLIENT LIST` on the Redis side tells them apart; `None` sends no name.
    pub client_name: Option<String>,
}

impl LinkConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(url: impl Into<String>) -> LinkConfig {
        LinkConfig {
            url: url.into(),
            publish_queue: 4096,
            inbox: 4096,
            status_queue: 64,
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
            ping_interval: Some(Duration::from_secs(5)),
            client_name: Some("rtio".into()),
            #[cfg(feature = "tls")]
            tls_root_cert: None,
        }
    }
}

impl LinkConfig {
    /// Checks the URL as [`RedisLink::start`] will (it parses, and this build can connect
    /// to it: `rediss://` needs the `tls` feature) without connecting, so that a typo is
    /// refused when the configuration is made rather than when a runtime starts the link.
    pub fn check(&self) -> Result<(), LinkError> {
        conn::client(self).map(drop)
    }

    /// The redis-rs client [`RedisLink`] connects with (for the emitter's synchronous
    /// connection).
    pub(crate) fn client(&self) -> Result<redis::Client, LinkError> {
        conn::client(self)
    }
}

impl std::fmt::Debug for LinkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("LinkConfig");
        d.field("url", &redact(&self.url))
            .field("publish_queue", &self.publish_queue)
            .field("inbox", &self.inbox)
            .field("status_queue", &self.status_queue)
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("client_name", &self.client_name);
        #[cfg(feature = "tls")]
        d.field(
            "tls_root_cert",
            &self.tls_root_cert.as_ref().map(|c| c.len()),
        );
        d.finish()
    }
}

/// `url` with the user-info part (`user:password@`) replaced by `***@`, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Which of the link's two connections a [`LinkStatus`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Sends PUBLISH / SPUBLISH and the `PUBSUB` counts.
    Publisher,
    /// Holds the subscriptions (in subscribed state it serves nothing else).
    Subscriber,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Publisher => "publisher",
            Role::Subscriber => "subscriber",
        })
    }
}

/// What was dropped, in a [`LinkStatus::Dropped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropKind {
    /// Outgoing messages: the publish queue was full, or their batch was in flight when the
    /// connection broke.
    Publish,
    /// Incoming messages: the adapter did not drain the inbox in time.
    Incoming,
}

/// A change the adapter should log (and may act on: e.g. treat the cluster as absent while
/// the publisher is lost). Delivered in order on the status receiver of [`Started`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkStatus {
    /// The connection is up for the first time (for the subscriber: with every
    /// subscription requested so far applied).
    Connected {
        /// Which connection.
        role: Role,
    },
    /// The connection is up again after a loss (the subscriber: every current subscription
    /// re-established).
    Reconnected {
        /// Which connection.
        role: Role,
    },
    /// The connection broke (or, for the subscriber, broke while replaying the set);
    /// reconnection starts at once, or after a backoff if it had been up for less than
    /// `backoff_max`.
    Lost {
        /// Which connection.
        role: Role,
        /// What the client saw (socket closed, timeout, IO error text).
        reason: String,
    },
    /// An attempt to connect failed; the next one comes after `retry_in`.
    ConnectFailed {
        /// Which connection.
        role: Role,
        /// 1 for the first failure since the last success.
        attempt: u32,
        /// The client's error (refused, timeout, auth failure, ...).
        reason: String,
        /// The backoff before the next attempt.
        retry_in: Duration,
    },
    /// Redis answered a command with an error (e.g. `SSUBSCRIBE` on Redis 6, an ACL
    /// refusal); the connection stays up.
    CommandFailed {
        /// Which connection.
        role: Role,
        /// The command (`PUBLISH`, `SSUBSCRIBE`, ...).
        command: &'static str,
        /// Redis's error text.
        reason: String,
    },
    /// Messages were dropped. Reported on the first drop and then at most once a second
    /// while drops go on; `total` is the running count since start.
    Dropped {
        /// Which direction.
        what: DropKind,
        /// Drops of this kind since the link started.
        total: u64,
    },
    /// [`RedisLink::close`] finished: the last status.
    Closed,
}

/// Which kind of subscription delivered an [`Incoming`] message (and which set a
/// subscription call changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubKind {
    /// `SUBSCRIBE` of an exact channel (a `message`).
    Channel,
    /// `PSUBSCRIBE` of a glob pattern (a `pmessage`).
    Pattern,
    /// `SSUBSCRIBE` of a shard channel (an `smessage`, Redis ≥ 7).
    Shard,
}

impl SubKind {
    fn index(self) -> usize {
        match self {
            SubKind::Channel => 0,
            SubKind::Pattern => 1,
            SubKind::Shard => 2,
        }
    }

    const ALL: [SubKind; 3] = [SubKind::Channel, SubKind::Pattern, SubKind::Shard];
}

/// One message received on the subscriber connection. Owned by the receiver; the byte
/// buffers are the client's own (no copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Which subscription delivered it.
    pub kind: SubKind,
    /// The channel it was published on.
    pub channel: Bytes,
    /// The pattern that matched, for [`SubKind::Pattern`].
    pub pattern: Option<Bytes>,
    /// The published bytes (JSON or msgpack for the adapter's decoder).
    pub payload: Bytes,
}

impl Incoming {
    /// The channel as text (every channel the adapter uses is UTF-8); `None` if it is not.
    pub fn channel_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.channel).ok()
    }
}

/// Why a [`RedisLink`] call did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// The URL does not parse, or names something this build cannot do (`rediss://`
    /// without the `tls` feature).
    InvalidUrl(String),
    /// [`RedisLink::start`] was called outside a tokio runtime.
    NoRuntime,
    /// The publish queue is full: the message was dropped (and counted).
    QueueFull,
    /// The publisher connection is down right now (the `PUBSUB` counts do not wait for it).
    NotConnected,
    /// Redis did not answer within [`LinkConfig::command_timeout`].
    Timeout,
    /// The link was closed (or every handle dropped).
    Closed,
    /// Redis answered with an error, or the connection failed during the call.
    Redis(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::InvalidUrl(e) => write!(f, "invalid Redis URL: {e}"),
            LinkError::NoRuntime => f.write_str("RedisLink::start needs a tokio runtime"),
            LinkError::QueueFull => f.write_str("Redis publish queue full: message dropped"),
            LinkError::NotConnected => f.write_str("not connected to Redis"),
            LinkError::Timeout => f.write_str("Redis did not answer in time"),
            LinkError::Closed => f.write_str("Redis link closed"),
            LinkError::Redis(e) => write!(f, "Redis: {e}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Counters since [`RedisLink::start`], read with [`RedisLink::stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkStats {
    /// Messages Redis accepted (PUBLISH/SPUBLISH answered without error).
    pub published: u64,
    /// Messages dropped before or while being published (queue full, batch lost with the
    /// connection) plus those Redis refused.
    pub publish_dropped: u64,
    /// Messages put in the inbox.
    pub received: u64,
    /// Incoming messages dropped because the inbox was full.
    pub incoming_dropped: u64,
    /// Successful reconnections, both connections together.
    pub reconnects: u64,
}

/// What [`RedisLink::start`] hands out: the link handle and the two receivers the adapter
/// drains on its own task. The receivers end (`recv` gives `None`) once the link is closed
/// or every handle dropped.
#[derive(Debug)]
pub struct Started {
    /// The handle (cheap to clone; every clone drives the same link).
    pub link: RedisLink,
    /// Messages from the subscriber connection, in Redis's order.
    pub messages: mpsc::Receiver<Incoming>,
    /// State changes to log; [`LinkStatus::Closed`] is the last.
    pub status: mpsc::Receiver<LinkStatus>,
}

/// The publisher and subscriber connections of one rtio node. Cloning gives another handle
/// to the same link (the namespaces of a server share one link, as Node's adapters share
/// one pair of clients). Dropping the last handle ends the link's tasks; [`close`] does it
/// and waits for them.
///
/// Threads: the link's two tasks (and the redis client's connection tasks) run on the
/// runtime given to [`start_on`]. The handle is `Send + Sync`; the publish and subscription
/// calls are plain functions that never block and need no runtime, so the core may call
/// them from any thread, locks held or not. The `async` calls (the counts, [`close`]) are
/// awaited on any tokio runtime; a [`Confirmation`] on any executor.
///
/// [`close`]: RedisLink::close
/// [`start_on`]: RedisLink::start_on
#[derive(Clone)]
pub struct RedisLink {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    queue: mpsc::Sender<Outgoing>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("RedisLink")
            .field("url", &redact(&shared.config.url))
            .field("publisher_connected", &self.is_publisher_connected())
            .field("subscriber_connected", &self.is_subscriber_connected())
            .field("closed", &shared.closed.load(Ordering::Relaxed))
            .field("stats", &self.stats())
            .finish()
    }
}

/// A message waiting in the publish queue.
struct Outgoing {
    sharded: bool,
    channel: Bytes,
    payload: Bytes,
}

/// State the two tasks and the handles share. The redis client's connection tasks never
/// hold it (only [`Reporter`]), so dropping the link frees it.
struct Shared {
    config: LinkConfig,
    client: redis::Client,
    reporter: Arc<Reporter>,
    /// The publisher's current connection, cloned by the `PUBSUB` count calls; `None`
    /// while it is down.
    pub_conn: Mutex<Option<redis::aio::MultiplexedConnection>>,
    subs: Mutex<SubState>,
    subs_changed: Notify,
    /// The subscriber is connected and has replayed the set.
    sub_up: AtomicBool,
    closed: AtomicBool,
}

/// Status sender and counters, shared with the push callbacks that run inside the redis
/// client's connection tasks.
struct Reporter {
    status: Mutex<Option<mpsc::Sender<LinkStatus>>>,
    started: Instant,
    published: AtomicU64,
    publish_dropped: AtomicU64,
    received: AtomicU64,
    incoming_dropped: AtomicU64,
    reconnects: AtomicU64,
    /// Milliseconds since `started` of the last `Dropped` report per kind, +1 (0 = never).
    last_drop_report: [AtomicU64; 2],
}

impl Reporter {
    fn new(status: mpsc::Sender<LinkStatus>) -> Reporter {
        Reporter {
            status: Mutex::new(Some(status)),
            started: Instant::now(),
            published: AtomicU64::new(0),
            publish_dropped: AtomicU64::new(0),
            received: AtomicU64::new(0),
            incoming_dropped: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            last_drop_report: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    /// Hands a status to the adapter without waiting (dropped if its queue is full) and
    /// mirrors it to the `log` facade.
    fn report(&self, status: LinkStatus) {
        match &status {
            LinkStatus::Connected { role } => log::info!("rtio-redis: {role} connected"),
            LinkStatus::Reconnected { role } => log::info!("rtio-redis: {role} reconnected"),
            LinkStatus::Lost { role, reason } => {
                log::warn!("rtio-redis: {role} connection lost: {reason}")
            }
            LinkStatus::ConnectFailed {
                role,
                attempt,
                reason,
                retry_in,
            } => log::warn!(
                "rtio-redis: {role} connect attempt {attempt} failed: {reason}; retry in {retry_in:?}"
            ),
            LinkStatus::CommandFailed {
                role,
                command,
                reason,
            } => log::warn!("rtio-redis: {role} {command} failed: {reason}"),
            LinkStatus::Dropped { what, total } => {
                log::warn!("rtio-redis: dropping {what:?} messages ({total} so far)")
            }
            LinkStatus::Closed => log::info!("rtio-redis: link closed"),
        }
        if let Some(tx) = &*self.status.lock() {
            let _ = tx.try_send(status);
        }
    }

    /// Counts `n` dropped messages and reports it, at most once a second per kind.
    fn dropped(&self, what: DropKind, n: u64) {
        let counter = match what {
            DropKind::Publish => &self.publish_dropped,
            DropKind::Incoming => &self.incoming_dropped,
        };
        let total = counter.fetch_add(n, Ordering::Relaxed) + n;
        let slot = &self.last_drop_report[what as usize];
        let now = self.started.elapsed().as_millis() as u64 + 1;
        let last = slot.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1000)
            && slot
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.report(LinkStatus::Dropped { what, total });
        }
    }
}

impl RedisLink {
    /// Starts the link on the current tokio runtime: spawns the publisher and subscriber
    /// tasks and returns at once, connected or not (the status receiver tells when each
    /// connection is up, or why not while it keeps retrying). Fails only on an invalid URL
    /// or outside a runtime.
    pub fn start(config: LinkConfig) -> Result<Started, LinkError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| LinkError::NoRuntime)?;
        RedisLink::start_on(&handle, config)
    }

    /// [`start`](RedisLink::start) on the runtime of `handle`, from any thread.
    pub fn start_on(
        handle: &tokio::runtime::Handle,
        config: LinkConfig,
    ) -> Result<Started, LinkError> {
        let client = conn::client(&config)?;
        let (status_tx, status_rx) = mpsc::channel(config.status_queue.max(1));
        let (inbox_tx, inbox_rx) = mpsc::channel(config.inbox.max(1));
        let (queue_tx, queue_rx) = mpsc::channel(config.publish_queue.max(1));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            client,
            reporter: Arc::new(Reporter::new(status_tx)),
            pub_conn: Mutex::new(None),
            subs: Mutex::new(SubState::default()),
            subs_changed: Notify::new(),
            sub_up: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        });
        let publisher = handle.spawn(until_shutdown(
            shutdown_rx.clone(),
            publisher::run(shared.clone(), queue_rx),
        ));
        let subscriber = handle.spawn(until_shutdown(
            shutdown_rx,
            subscriber::run(shared.clone(), inbox_tx),
        ));
        Ok(Started {
            link: RedisLink {
                inner: Arc::new(Inner {
                    shared,
                    queue: queue_tx,
                    shutdown: shutdown_tx,
                    tasks: Mutex::new(vec![publisher, subscriber]),
                }),
            },
            messages: inbox_rx,
            status: status_rx,
        })
    }

    /// Queues `PUBLISH channel payload` (classic adapter, emitter) without waiting. `Err`
    /// means the message was dropped: [`LinkError::QueueFull`] (counted and reported) or
    /// [`LinkError::Closed`]. `Ok` means queued, not delivered: see [`LinkStats`].
    pub fn publish(
        &self,
        channel: impl Into<Bytes>,
        payload: impl Into<Bytes>,
    ) -> Result<(), LinkError> {
        self.enqueue(false, channel.into(), payload.into())
    }

    /// Queues `SPUBLISH channel payload` (sharded adapter, Redis ≥ 7), like
    /// [`publish`](RedisLink::publish).
    pub fn spublish(
        &self,
        channel: impl Into<Bytes>,
        payload: impl Into<Bytes>,
    ) -> Result<(), LinkError> {
        self.enqueue(true, channel.into(), payload.into())
    }

    fn enqueue(&self, sharded: bool, channel: Bytes, payload: Bytes) -> Result<(), LinkError> {
        let msg = Outgoing {
            sharded,
            channel,
            payload,
        };
        match self.inner.queue.try_send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.inner.shared.reporter.dropped(DropKind::Publish, 1);
                Err(LinkError::QueueFull)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(LinkError::Closed),
        }
    }

    /// Adds `channel` to the `SUBSCRIBE` set (request/response channels of the classic
    /// adapter). Takes effect at once in the link's state; the returned future resolves
    /// when Redis confirmed (see [`Confirmation`]).
    pub fn subscribe(&self, channel: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Channel, true, channel.into())
    }

    /// Removes `channel` from the `SUBSCRIBE` set.
    pub fn unsubscribe(&self, channel: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Channel, false, channel.into())
    }

    /// Adds a glob `pattern` to the `PSUBSCRIBE` set (the classic broadcast pattern: build
    /// it with [`classic::broadcast_pattern`](crate::classic::broadcast_pattern), which
    /// escapes the glob characters of the key and namespace).
    pub fn psubscribe(&self, pattern: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Pattern, true, pattern.into())
    }

    /// Removes `pattern` from the `PSUBSCRIBE` set.
    pub fn punsubscribe(&self, pattern: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Pattern, false, pattern.into())
    }

    /// Adds `channel` to the `SSUBSCRIBE` set (sharded adapter: main, own and dynamic room
    /// channels; Redis ≥ 7).
    pub fn ssubscribe(&self, channel: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Shard, true, channel.into())
    }

    /// Removes `channel` from the `SSUBSCRIBE` set (`SUNSUBSCRIBE`, e.g. on `delete-room`).
    pub fn sunsubscribe(&self, channel: impl Into<Bytes>) -> Confirmation {
        self.change(SubKind::Shard, false, channel.into())
    }

    fn change(&self, kind: SubKind, subscribe: bool, channel: Bytes) -> Confirmation {
        let shared = &self.inner.shared;
        let (tx, rx) = oneshot::channel();
        {
            // Checked under the lock that `close` takes after setting the flag, so a change
            // is either refused here or failed by `close`, never left waiting.
            let mut subs = shared.subs.lock();
            if shared.closed.load(Ordering::Acquire) {
                return Confirmation::ready(Err(LinkError::Closed));
            }
            subs.change(kind, subscribe, channel, tx);
        }
        shared.subs_changed.notify_one();
        Confirmation { rx: Some(rx) }
    }

    /// Whether the subscription set holds `channel` of `kind` (what the link will keep
    /// subscribed across reconnects, confirmed or not yet).
    pub fn is_subscribed(&self, kind: SubKind, channel: &[u8]) -> bool {
        self.inner.shared.subs.lock().contains(kind, channel)
    }

    /// `PUBSUB NUMSUB channel`: how many connections are subscribed to `channel` (the
    /// classic adapter's `serverCount()` on the request channel, itself included). Sent on
    /// the publisher connection; fails at once with [`LinkError::NotConnected`] while it is
    /// down, with [`LinkError::Timeout`] after [`LinkConfig::command_timeout`].
    pub async fn numsub(&self, channel: impl AsRef<[u8]>) -> Result<u64, LinkError> {
        self.pubsub_count("NUMSUB", channel.as_ref()).await
    }

    /// `PUBSUB SHARDNUMSUB channel` (sharded adapter's `serverCount()` on the main channel,
    /// Redis ≥ 7), like [`numsub`](RedisLink::numsub).
    pub async fn shardnumsub(&self, channel: impl AsRef<[u8]>) -> Result<u64, LinkError> {
        self.pubsub_count("SHARDNUMSUB", channel.as_ref()).await
    }

    async fn pubsub_count(&self, sub: &str, channel: &[u8]) -> Result<u64, LinkError> {
        let shared = &self.inner.shared;
        if shared.closed.load(Ordering::Acquire) {
            return Err(LinkError::Closed);
        }
        let mut conn = shared
            .pub_conn
            .lock()
            .clone()
            .ok_or(LinkError::NotConnected)?;
        let mut cmd = redis::cmd("PUBSUB");
        cmd.arg(sub).arg(channel);
        let reply = tokio::time::timeout(
            shared.config.command_timeout,
            conn.send_packed_command(&cmd),
        )
        .await
        .map_err(|_| LinkError::Timeout)?
        .map_err(|e| LinkError::Redis(e.to_string()))?;
        conn::parse_count(reply)
    }

    /// The counters since start.
    pub fn stats(&self) -> LinkStats {
        let r = &self.inner.shared.reporter;
        LinkStats {
            published: r.published.load(Ordering::Relaxed),
            publish_dropped: r.publish_dropped.load(Ordering::Relaxed),
            received: r.received.load(Ordering::Relaxed),
            incoming_dropped: r.incoming_dropped.load(Ordering::Relaxed),
            reconnects: r.reconnects.load(Ordering::Relaxed),
        }
    }

    /// Whether the publisher connection is up right now (a snapshot: the status stream
    /// tells when it changes).
    pub fn is_publisher_connected(&self) -> bool {
        self.inner.shared.pub_conn.lock().is_some()
    }

    /// Whether the subscriber connection is up with the subscription set replayed right now
    /// (a snapshot, like [`is_publisher_connected`](RedisLink::is_publisher_connected)).
    pub fn is_subscriber_connected(&self) -> bool {
        self.inner.shared.sub_up.load(Ordering::Acquire)
    }

    /// Ends the link: stops both tasks (queued messages not yet sent are dropped, pending
    /// [`Confirmation`]s resolve to [`LinkError::Closed`]), closes both connections, sends
    /// [`LinkStatus::Closed`] and ends the receivers. Returns once no task of the link is
    /// left; safe to call again or from several handles. Publishing afterwards gives
    /// [`LinkError::Closed`].
    pub async fn close(&self) {
        let shared = &self.inner.shared;
        shared.closed.store(true, Ordering::Release);
        self.inner.shutdown.send_replace(true);
        let tasks = std::mem::take(&mut *self.inner.tasks.lock());
        for task in tasks {
            let _ = task.await;
        }
        // The tasks are gone; drop what they left: the connection kept for the counts and
        // the waiters of subscription changes never sent.
        shared.pub_conn.lock().take();
        shared.sub_up.store(false, Ordering::Release);
        shared.subs.lock().fail_pending();
        let reporter = &shared.reporter;
        if reporter.status.lock().is_some() {
            reporter.report(LinkStatus::Closed);
            reporter.status.lock().take();
        }
    }
}

/// Runs `work` until the link shuts down: `close()` sets the flag, and dropping every
/// handle drops the sender; either way `work` is dropped mid-await, which drops its
/// connections (and with them the redis client's connection tasks).
async fn until_shutdown(mut shutdown: watch::Receiver<bool>, work: impl Future<Output = ()>) {
    tokio::select! {
        _ = shutdown.wait_for(|closed| *closed) => {}
        _ = work => {}
    }
}

/// Resolves when Redis confirmed a subscription change (`Ok`), refused it
/// ([`LinkError::Redis`], e.g. SSUBSCRIBE on Redis < 7; the entry stays in the set and is
/// retried after each reconnect until removed), or the link closed ([`LinkError::Closed`]).
/// While Redis is down it stays pending until the reconnect replays the set: wrap it in a
/// timeout if that matters. Dropping it is fine: the change stands.
#[derive(Debug)]
#[must_use = "the change is made either way; await this only to know Redis confirmed it"]
pub struct Confirmation {
    rx: Option<oneshot::Receiver<Result<(), LinkError>>>,
}

impl Confirmation {
    fn ready(result: Result<(), LinkError>) -> Confirmation {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(result);
        Confirmation { rx: Some(rx) }
    }
}

impl Future for Confirmation {
    type Output = Result<(), LinkError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(Err(LinkError::Closed));
        };
        let out = match Pin::new(rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(result)) => result,
            Poll::Ready(Err(_)) => Err(LinkError::Closed),
        };
        self.rx = None;
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RedisLink>();
        send_sync::<Confirmation>();
        send_sync::<Incoming>();
    }

    #[test]
    fn redact_hides_credentials_only() {
        assert_eq!(redact("redis://u:pw@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("rediss://:p@ss@h"), "rediss://***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        let config = LinkConfig::new("redis://:secret@h");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
