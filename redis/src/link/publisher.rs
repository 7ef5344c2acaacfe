//! The publisher task: owns the publish queue's receiver and the publisher connection,
//! sends queued messages in pipelined batches, keeps the connection for the `PUBSUB`
//! counts, and reconnects when it breaks. While it is down the queue is not read, so it
//! fills and `publish` starts dropping: nothing upstream ever waits.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use redis::aio::MultiplexedConnection;
use redis::Value;
use tokio::sync::mpsc;

use super::conn::{self, Backoff};
use super::{DropKind, LinkStatus, Outgoing, Role, Shared};

/// Messages sent as one pipeline at most: large enough to amortise the round trip under
/// load, small enough that a broken connection loses little.
const BATCH: usize = 128;

/// Runs until the link shuts down (this future is then dropped) or every handle is gone
/// (the queue closes).
pub(super) async fn run(shared: Arc<Shared>, mut queue: mpsc::Receiver<Outgoing>) {
    // Whatever ends this task (the queue closing, or the future being dropped at shutdown),
    // the connection kept for the counts goes with it.
    struct ClearOnExit<'a>(&'a Shared);
    impl Drop for ClearOnExit<'_> {
        fn drop(&mut self) {
            self.0.pub_conn.lock().take();
        }
    }
    let _clear = ClearOnExit(&shared);

    let mut backoff = Backoff::new(&shared.config);
    let mut ever_up = false;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let (mut conn, lost) =
            conn::connect(&shared, Role::Publisher, &mut backoff, conn::loss_notifier).await;
        let up_since = Instant::now();
        *shared.pub_conn.lock() = Some(conn.clone());
        conn::report_up(&shared, Role::Publisher, &mut ever_up);

        let mut ping = conn::ping_timer(&shared);
        let reason = loop {
            tokio::select! {
                _ = lost.notified() => break "connection closed".to_string(),
                _ = ping.tick() => {
                    if let Err(reason) = conn::ping(&mut conn).await {
                        break reason;
                    }
                }
                first = queue.recv() => {
                    let Some(first) = first else {
                        return; // every handle dropped
                    };
                    batch.push(first);
                    while batch.len() < BATCH {
                        match queue.try_recv() {
                            Ok(msg) => batch.push(msg),
                            Err(_) => break,
                        }
                    }
                    let result = send_batch(&shared, &mut conn, &batch).await;
                    let sent = batch.len() as u64;
                    batch.clear();
                    if let Err(reason) = result {
                        shared.reporter.dropped(DropKind::Publish, sent);
                        break reason;
                    }
                }
            }
        };
        shared.pub_conn.lock().take();
        drop(conn);
        shared.reporter.report(LinkStatus::Lost {
            role: Role::Publisher,
            reason,
        });
        if let Some(delay) = backoff.after_loss(up_since) {
            tokio::time::sleep(delay).await;
        }
    }
}

/// Sends one batch as a pipeline. `Err` (the reason) when the connection failed: the whole
/// batch counts as dropped since Redis may have seen any part of it. Messages Redis refused
/// (e.g. SPUBLISH on Redis < 7) are counted as dropped and reported; the rest as published.
async fn send_batch(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    batch: &[Outgoing],
) -> Result<(), String> {
    let mut pipe = redis::pipe();
    for msg in batch {
        pipe.cmd(command(msg))
            .arg(&msg.channel[..])
            .arg(&msg.payload[..]);
    }
    let replies = conn
        .send_packed_commands(&pipe, 0, batch.len())
        .await
        .map_err(|e| format!("publish failed: {e}"))?;
    let mut refused = 0;
    for (msg, reply) in batch.iter().zip(&replies) {
        if let Value::ServerError(e) = reply {
            if refused == 0 {
                shared.reporter.report(LinkStatus::CommandFailed {
                    role: Role::Publisher,
                    command: command(msg),
                    reason: e.to_string(),
                });
            }
            refused += 1;
        }
    }
    let accepted = replies.len().min(batch.len()) as u64 - refused;
    shared
        .reporter
        .published
        .fetch_add(accepted, Ordering::Relaxed);
    if refused > 0 {
        shared.reporter.dropped(DropKind::Publish, refused);
    }
    Ok(())
}

fn command(msg: &Outgoing) -> &'static str {
    if msg.sharded {
        "SPUBLISH"
    } else {
        "PUBLISH"
    }
}
