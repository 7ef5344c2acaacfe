//! The subscriber task and the subscription set.
//!
//! The set ([`SubState`]) is the truth: the handles change it at once (under a short lock,
//! never waiting on Redis) and append the change to a queue of pending operations with its
//! waiter. The task applies pending operations in order while connected; after every
//! (re)connect it replays the whole set on the fresh connection instead, and answers the
//! waiters of the operations that were pending from that replay. A batch cut by a lost
//! connection goes back to the front of the queue, so no waiter is ever forgotten.
//!
//! Messages are not handled by this task: the push callback given to the connection runs
//! inside the redis client's connection task and puts them straight into the bounded inbox
//! (`try_send`: dropped and counted when full, never blocking the socket).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use redis::aio::{AsyncPushSender, MultiplexedConnection};
use redis::{PushInfo, PushKind, Value};
use tokio::sync::{mpsc, oneshot, Notify};

use super::conn::{self, Backoff};
use super::{DropKind, Incoming, LinkError, LinkStatus, Reporter, Role, Shared, SubKind};

/// Operations sent as one pipeline at most (a replay of thousands of room channels goes in
/// several).
const BATCH: usize = 256;

type Waiter = oneshot::Sender<Result<(), LinkError>>;

/// One requested change of the set.
struct Op {
    kind: SubKind,
    subscribe: bool,
    channel: Bytes,
    waiter: Waiter,
}

/// The subscription set and the changes not yet applied on the connection.
#[derive(Default)]
pub(super) struct SubState {
    desired: [HashSet<Bytes>; 3],
    pending: VecDeque<Op>,
}

impl SubState {
    pub(super) fn change(
        &mut self,
        kind: SubKind,
        subscribe: bool,
        channel: Bytes,
        waiter: Waiter,
    ) {
        let set = &mut self.desired[kind.index()];
        if subscribe {
            set.insert(channel.clone());
        } else {
            set.remove(&channel);
        }
        self.pending.push_back(Op {
            kind,
            subscribe,
            channel,
            waiter,
        });
    }

    pub(super) fn contains(&self, kind: SubKind, channel: &[u8]) -> bool {
        self.desired[kind.index()].contains(channel)
    }

    /// At close: every waiter still pending learns the link is gone.
    pub(super) fn fail_pending(&mut self) {
        for op in self.pending.drain(..) {
            let _ = op.waiter.send(Err(LinkError::Closed));
        }
    }

    fn restore(&mut self, ops: Vec<Op>) {
        for op in ops.into_iter().rev() {
            self.pending.push_front(op);
        }
    }
}

fn command(kind: SubKind, subscribe: bool) -> &'static str {
    match (kind, subscribe) {
        (SubKind::Channel, true) => "SUBSCRIBE",
        (SubKind::Channel, false) => "UNSUBSCRIBE",
        (SubKind::Pattern, true) => "PSUBSCRIBE",
        (SubKind::Pattern, false) => "PUNSUBSCRIBE",
        (SubKind::Shard, true) => "SSUBSCRIBE",
        (SubKind::Shard, false) => "SUNSUBSCRIBE",
    }
}

/// Runs until the link shuts down (this future is then dropped, and with it the
/// connection, its callback and so the last inbox sender: the receiver ends).
pub(super) async fn run(shared: Arc<Shared>, inbox: mpsc::Sender<Incoming>) {
    let mut backoff = Backoff::new(&shared.config);
    let mut ever_up = false;
    loop {
        let (mut conn, lost) = conn::connect(&shared, Role::Subscriber, &mut backoff, |lost| {
            deliverer(inbox.clone(), shared.reporter.clone(), lost)
        })
        .await;
        let up_since = Instant::now();
        let reason = match replay(&shared, &mut conn).await {
            Err(reason) => reason,
            Ok(()) => {
                shared.sub_up.store(true, Ordering::Release);
                conn::report_up(&shared, Role::Subscriber, &mut ever_up);
                let reason = serve(&shared, &mut conn, &lost).await;
                shared.sub_up.store(false, Ordering::Release);
                reason
            }
        };
        drop(conn);
        shared.reporter.report(LinkStatus::Lost {
            role: Role::Subscriber,
            reason,
        });
        if let Some(delay) = backoff.after_loss(up_since) {
            tokio::time::sleep(delay).await;
        }
    }
}

/// While connected: applies set changes as they come, pings. Returns why the connection
/// is considered lost.
async fn serve(shared: &Shared, conn: &mut MultiplexedConnection, lost: &Notify) -> String {
    let mut ping = conn::ping_timer(shared);
    loop {
        tokio::select! {
            _ = lost.notified() => return "connection closed".to_string(),
            _ = shared.subs_changed.notified() => {
                if let Err(reason) = apply_pending(shared, conn).await {
                    return reason;
                }
            }
            _ = ping.tick() => {
                if let Err(reason) = conn::ping(conn).await {
                    return reason;
                }
            }
        }
    }
}

/// Applies the pending operations in order, in batches; each waiter gets its own reply.
async fn apply_pending(shared: &Shared, conn: &mut MultiplexedConnection) -> Result<(), String> {
    loop {
        let ops: Vec<Op> = {
            let mut subs = shared.subs.lock();
            let n = subs.pending.len().min(BATCH);
            subs.pending.drain(..n).collect()
        };
        if ops.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for op in &ops {
            pipe.cmd(command(op.kind, op.subscribe))
                .arg(&op.channel[..]);
            if is_sunsubscribe(op) {
                // redis-rs 1.8 drops the `sunsubscribe` confirmation of a raw SUNSUBSCRIBE
                // (it takes it for a cluster's unsolicited one, redis-rs#2533), so the
                // command would never get its reply and the connection's replies would
                // shift by one. A PING after it gives the op a reply of its own.
                pipe.cmd("PING");
            }
        }
        let replies = match conn.send_packed_commands(&pipe, 0, ops.len()).await {
            Ok(replies) => replies,
            Err(e) => {
                shared.subs.lock().restore(ops);
                return Err(format!("subscription change failed: {e}"));
            }
        };
        let mut reported = false;
        let mut desync = None;
        for (op, reply) in ops.into_iter().zip(replies) {
            let result = match reply {
                // The confirmation itself came as the reply (a redis-rs that recognises
                // SUNSUBSCRIBE), or Redis refused the command: either way the PING's reply
                // is still to come and would answer the next command. Start afresh.
                Value::Push { .. } | Value::ServerError(_) if is_sunsubscribe(&op) => {
                    desync = Some(format!(
                        "unexpected reply to SUNSUBSCRIBE: {}",
                        match &reply {
                            Value::ServerError(e) => e.to_string(),
                            other => format!("{other:?}"),
                        }
                    ));
                    Ok(())
                }
                Value::ServerError(e) => {
                    if !reported {
                        reported = true;
                        shared.reporter.report(LinkStatus::CommandFailed {
                            role: Role::Subscriber,
                            command: command(op.kind, op.subscribe),
                            reason: e.to_string(),
                        });
                    }
                    Err(LinkError::Redis(e.to_string()))
                }
                _ => Ok(()),
            };
            let _ = op.waiter.send(result);
        }
        if let Some(reason) = desync {
            return Err(reason);
        }
    }
}

fn is_sunsubscribe(op: &Op) -> bool {
    op.kind == SubKind::Shard && !op.subscribe
}

/// On a fresh connection: subscribes the whole set, then answers the waiters of every
/// operation pending until then from that replay (a subscription refused in the replay
/// fails its waiter; an unsubscription is done by the fresh connection itself).
async fn replay(shared: &Shared, conn: &mut MultiplexedConnection) -> Result<(), String> {
    let (ops, all): (Vec<Op>, Vec<(SubKind, Bytes)>) = {
        let mut subs = shared.subs.lock();
        let ops = subs.pending.drain(..).collect();
        let all = SubKind::ALL
            .iter()
            .flat_map(|&kind| {
                subs.desired[kind.index()]
                    .iter()
                    .map(move |c| (kind, c.clone()))
            })
            .collect();
        (ops, all)
    };
    let mut refused: HashMap<(SubKind, Bytes), String> = HashMap::new();
    for chunk in all.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for (kind, channel) in chunk {
            pipe.cmd(command(*kind, true)).arg(&channel[..]);
        }
        let replies = match conn.send_packed_commands(&pipe, 0, chunk.len()).await {
            Ok(replies) => replies,
            Err(e) => {
                shared.subs.lock().restore(ops);
                return Err(format!("resubscription failed: {e}"));
            }
        };
        for ((kind, channel), reply) in chunk.iter().zip(replies) {
            if let Value::ServerError(e) = reply {
                if refused.is_empty() {
                    shared.reporter.report(LinkStatus::CommandFailed {
                        role: Role::Subscriber,
                        command: command(*kind, true),
                        reason: e.to_string(),
                    });
                }
                refused.insert((*kind, channel.clone()), e.to_string());
            }
        }
    }
    for op in ops {
        let result = match refused.get(&(op.kind, op.channel.clone())) {
            Some(e) if op.subscribe => Err(LinkError::Redis(e.clone())),
            _ => Ok(()),
        };
        let _ = op.waiter.send(result);
    }
    Ok(())
}

/// The subscriber connection's push callback: messages into the inbox, loss to `lost`.
/// Runs in the redis client's connection task, so it never waits.
fn deliverer(
    inbox: mpsc::Sender<Incoming>,
    reporter: Arc<Reporter>,
    lost: Arc<Notify>,
) -> impl AsyncPushSender {
    move |info: PushInfo| -> Result<(), ()> {
        let kind = match info.kind {
            PushKind::Message => SubKind::Channel,
            PushKind::PMessage => SubKind::Pattern,
            PushKind::SMessage => SubKind::Shard,
            PushKind::Disconnection => {
                lost.notify_one();
                return Ok(());
            }
            // Confirmations of our own commands (also answered to their callers), and
            // anything else Redis may push.
            _ => return Ok(()),
        };
        let mut data = info.data.into_iter().map(bulk);
        let pattern = if kind == SubKind::Pattern {
            data.next().flatten()
        } else {
            None
        };
        let (Some(Some(channel)), Some(Some(payload))) = (data.next(), data.next()) else {
            return Ok(());
        };
        let msg = Incoming {
            kind,
            channel,
            pattern,
            payload,
        };
        // Counted before it can be read, so that a message in hand is always counted.
        reporter.received.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = inbox.try_send(msg) {
            reporter.received.fetch_sub(1, Ordering::Relaxed);
            if let mpsc::error::TrySendError::Full(_) = e {
                reporter.dropped(DropKind::Incoming, 1);
            }
        }
        Ok(())
    }
}

fn bulk(value: Value) -> Option<Bytes> {
    match value {
        Value::BulkString(b) => Some(Bytes::from(b)),
        Value::SimpleString(s) => Some(Bytes::from(s)),
        _ => None,
    }
}
