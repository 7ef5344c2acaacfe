//! One server's share of Redis: its [`RedisLink`], the dispatcher task that hands each
//! incoming message to the adapter whose channel it came on, and the link's state for
//! logging and for the adapters' `init`.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, watch};

use super::RedisAdapterOptions;
use crate::link::{Incoming, LinkError, LinkStatus, RedisLink, Role, SubKind};

/// The live hubs of a factory, by runtime, with how many adapters use each.
pub(crate) type Hubs = Mutex<HashMap<tokio::runtime::Id, (Arc<Hub>, usize)>>;

/// Receives the messages of the channels an adapter registered with [`Hub::route`].
/// Called on the dispatcher task, one message at a time, in Redis's order; must not block.
pub(crate) trait Inbound: Send + Sync {
    /// A message on a channel (or pattern) registered with this `tag`.
    fn on_message(&self, tag: u8, msg: Incoming);
}

/// Where messages of one channel (or pattern) go.
struct Route {
    to: Weak<dyn Inbound>,
    tag: u8,
}

/// Whether the subscriber connection is up: `None` until the first attempt ends.
type LinkUp = Option<bool>;

/// One server's link and the routing of its incoming messages to the namespaces'
/// adapters. Shared (`Arc`) by the adapters; the dispatcher task holds it weakly.
pub(crate) struct Hub {
    /// The connections (cheap clones; publish calls never block).
    pub(crate) link: RedisLink,
    /// The runtime of the server (and of the link's tasks).
    pub(crate) rt: tokio::runtime::Handle,
    routes: RwLock<HashMap<(SubKind, Bytes), Route>>,
    up: watch::Receiver<LinkUp>,
    hubs: Weak<Hubs>,
    id: tokio::runtime::Id,
    /// Rate limit of the "dropped a malformed message" lines.
    malformed: LogLimit,
}

impl Hub {
    /// The hub of the server running on `rt`, started on first use; counts one more
    /// adapter on it (see [`Hub::release`]).
    pub(crate) fn acquire(
        hubs: &Arc<Hubs>,
        options: &RedisAdapterOptions,
        rt: &tokio::runtime::Handle,
    ) -> Result<Arc<Hub>, LinkError> {
        let id = rt.id();
        let mut all = hubs.lock();
        if let Some((hub, users)) = all.get_mut(&id) {
            *users += 1;
            return Ok(hub.clone());
        }
        let started = RedisLink::start_on(rt, super::link_config(options))?;
        let (up_tx, up_rx) = watch::channel(None);
        let hub = Arc::new(Hub {
            link: started.link,
            rt: rt.clone(),
            routes: RwLock::new(HashMap::new()),
            up: up_rx,
            hubs: Arc::downgrade(hubs),
            id,
            malformed: LogLimit::default(),
        });
        rt.spawn(dispatch(
            Arc::downgrade(&hub),
            started.messages,
            started.status,
            up_tx,
            super::link_config(options).url,
        ));
        all.insert(id, (hub.clone(), 1));
        Ok(hub)
    }

    /// One adapter fewer; when it was the last, the hub is forgotten and its link returned
    /// for the caller to close (awaited in the adapter's `close`).
    pub(crate) fn release(&self) -> Option<RedisLink> {
        let hubs = self.hubs.upgrade()?;
        let mut all = hubs.lock();
        let (_, users) = all.get_mut(&self.id)?;
        *users -= 1;
        if *users > 0 {
            return None;
        }
        all.remove(&self.id).map(|(hub, _)| hub.link.clone())
    }

    /// The other servers, from a count of subscribers of a channel every server subscribes
    /// (`PUBSUB NUMSUB` / `SHARDNUMSUB`), which counts this one too while its subscriber
    /// is up.
    pub(crate) fn others(&self, subscribers: u64) -> usize {
        let me = u64::from(self.link.is_subscriber_connected());
        usize::try_from(subscribers.saturating_sub(me)).unwrap_or(usize::MAX)
    }

    /// Sends the messages of `channel` (a pattern for [`SubKind::Pattern`]) to `to`.
    pub(crate) fn route(&self, kind: SubKind, channel: Bytes, to: Weak<dyn Inbound>, tag: u8) {
        self.routes
            .write()
            .insert((kind, channel), Route { to, tag });
    }

    /// Stops routing `channel`.
    pub(crate) fn unroute(&self, kind: SubKind, channel: &Bytes) {
        self.routes.write().remove(&(kind, channel.clone()));
    }

    /// Resolves once the subscriber connection is known to be down (an attempt to connect
    /// failed, or it was lost), or the link is gone; pending while it is up or connecting.
    pub(crate) async fn down(&self) {
        let mut up = self.up.clone();
        let _ = up.wait_for(|s| *s == Some(false)).await;
    }

    /// Logs a message this server could not use (and dropped): the first one, then at
    /// most one line a second with the count.
    pub(crate) fn malformed(&self, channel: &Bytes, what: &dyn std::fmt::Display) {
        if let Some(n) = self.malformed.hit() {
            let more = if n > 1 {
                format!(" ({n} dropped since the last report)")
            } else {
                String::new()
            };
            eprintln!(
                "rtio-redis: dropped a message on {}: {what}{more}",
                String::from_utf8_lossy(&channel[..channel.len().min(200)])
            );
        }
    }

    /// Hands one message to its adapter.
    fn deliver(&self, msg: Incoming) {
        let key = match msg.kind {
            SubKind::Pattern => match &msg.pattern {
                Some(p) => (SubKind::Pattern, p.clone()),
                None => return,
            },
            kind => (kind, msg.channel.clone()),
        };
        let target = {
            let routes = self.routes.read();
            routes.get(&key).map(|r| (r.to.clone(), r.tag))
        };
        let Some((to, tag)) = target else { return };
        let Some(to) = to.upgrade() else { return };
        let channel = msg.channel.clone();
        // A bug on hostile input must not end the server's cluster delivery.
        if catch_unwind(AssertUnwindSafe(|| to.on_message(tag, msg))).is_err() {
            self.malformed(&channel, &"its handling panicked");
        }
    }
}

/// Drains the link's messages and statuses until the link closes.
async fn dispatch(
    hub: Weak<Hub>,
    mut messages: mpsc::Receiver<Incoming>,
    mut status: mpsc::Receiver<LinkStatus>,
    up: watch::Sender<LinkUp>,
    url: String,
) {
    let mut log = StatusLog::new(url);
    let mut status_open = true;
    loop {
        tokio::select! {
            biased;
            s = status.recv(), if status_open => match s {
                Some(s) => log.on(&s, &up),
                None => status_open = false,
            },
            m = messages.recv() => match m {
                Some(m) => match hub.upgrade() {
                    Some(hub) => hub.deliver(m),
                    None => break,
                },
                None => break,
            },
        }
    }
}

/// Turns link statuses into the adapter's log lines (standard error, as rtio's core logs)
/// and its up/down state. The link mirrors every status to the `log` facade too.
struct StatusLog {
    url: String,
    /// Per connection (publisher, subscriber): a failure was reported since its last
    /// success, so say when it ends.
    failing: [bool; 2],
}

impl StatusLog {
    fn new(url: String) -> StatusLog {
        StatusLog {
            url: redact(&url),
            failing: [false; 2],
        }
    }

    fn on(&mut self, s: &LinkStatus, up: &watch::Sender<LinkUp>) {
        match s {
            LinkStatus::Connected { role } | LinkStatus::Reconnected { role } => {
                if *role == Role::Subscriber {
                    up.send_replace(Some(true));
                }
                let failing = &mut self.failing[role_index(*role)];
                if *failing || matches!(s, LinkStatus::Reconnected { .. }) {
                    eprintln!(
                        "rtio-redis: {role} connected to {}; cluster delivery resumes",
                        self.url
                    );
                }
                *failing = false;
            }
            LinkStatus::ConnectFailed {
                role,
                attempt,
                reason,
                retry_in,
            } => {
                if *role == Role::Subscriber {
                    up.send_replace(Some(false));
                }
                if *attempt == 1 || attempt.is_power_of_two() {
                    eprintln!(
                        "rtio-redis: cannot reach Redis at {} ({role}, attempt {attempt}: \
                         {reason}); serving this server's clients only, retrying in {retry_in:?}",
                        self.url
                    );
                }
                self.failing[role_index(*role)] = true;
            }
            LinkStatus::Lost { role, reason } => {
                if *role == Role::Subscriber {
                    up.send_replace(Some(false));
                }
                eprintln!(
                    "rtio-redis: {role} connection to {} lost ({reason}); reconnecting",
                    self.url
                );
                self.failing[role_index(*role)] = true;
            }
            LinkStatus::CommandFailed {
                role,
                command,
                reason,
            } => eprintln!("rtio-redis: {role}: Redis refused {command}: {reason}"),
            LinkStatus::Dropped { what, total } => {
                eprintln!("rtio-redis: dropping {what:?} messages ({total} so far)")
            }
            _ => {}
        }
    }
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Publisher => 0,
        Role::Subscriber => 1,
    }
}

/// `url` without its user-info part, for logs.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// At most one report a second; counts what it holds back.
struct LogLimit {
    start: Instant,
    /// Milliseconds since `start` of the last report, +1 (0: never).
    last: AtomicU64,
    held: AtomicU64,
}

impl Default for LogLimit {
    fn default() -> Self {
        LogLimit {
            start: Instant::now(),
            last: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }
}

impl LogLimit {
    /// `Some(events since the last report, this one included)` when this one is to be
    /// reported.
    fn hit(&self) -> Option<u64> {
        let held = self.held.fetch_add(1, Ordering::Relaxed) + 1;
        let now = self.start.elapsed().as_millis() as u64 + 1;
        let last = self.last.load(Ordering::Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 1000)
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.held.fetch_sub(held, Ordering::Relaxed);
            return Some(held);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn log_limit_reports_the_first_then_once_a_second() {
        let l = LogLimit {
            start: Instant::now() - Duration::from_secs(5),
            ..LogLimit::default()
        };
        assert_eq!(l.hit(), Some(1));
        assert_eq!(l.hit(), None);
        assert_eq!(l.hit(), None);
        // a second later (as if the last report were at the start)
        l.last.store(1, Ordering::Relaxed);
        assert_eq!(l.hit(), Some(3));
        assert_eq!(l.hit(), None);
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact("redis://u:pw@h:1"), "redis://***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
