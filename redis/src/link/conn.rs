//! Opening connections: the client from the URL, one connection with backoff and status
//! reports, and what both tasks share (backoff, ping, reply parsing).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{AsyncPushSender, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, ProtocolVersion, Value};
use tokio::sync::Notify;

use super::{LinkConfig, LinkError, LinkStatus, Role, Shared};

/// The redis-rs client for the configured URL, forced to RESP3 (push messages on a
/// multiplexed connection). Refuses what this build cannot connect to, so that a typo fails
/// at `start` instead of retrying forever.
pub(super) fn client(config: &LinkConfig) -> Result<Client, LinkError> {
    let url = &config.url;
    let info = url
        .as_str()
        .into_connection_info()
        .map_err(|e| LinkError::InvalidUrl(e.to_string()))?;
    if !info.addr().is_supported() {
        return Err(LinkError::InvalidUrl(format!(
            "{}: this build of rtio-redis has no TLS (enable the `tls` feature)",
            super::redact(url)
        )));
    }
    let redis = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3)
        .set_lib_name("rtio-redis", env!("CARGO_PKG_VERSION"));
    let info = info.set_redis_settings(redis);
    #[cfg(feature = "tls")]
    if matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }) {
        // redis-rs builds its rustls config on the process-wide provider; install ring's
        // unless the host already chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if let Some(root) = &config.tls_root_cert {
            let certs = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root.clone()),
            };
            return Client::build_with_tls(info, certs)
                .map_err(|e| LinkError::InvalidUrl(e.to_string()));
        }
    }
    Client::open(info).map_err(|e| LinkError::InvalidUrl(e.to_string()))
}

/// Exponential backoff with jitter: `min`, `2·min`, ... capped at `max`, each scaled by a
/// random factor in [0.5, 1] so that a cluster's nodes spread their reconnects. Not reset
/// by a successful connect, only by a connection that then stays up (see `after_loss`).
pub(super) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub(super) fn new(config: &LinkConfig) -> Backoff {
        Backoff {
            min: config.backoff_min,
            max: config.backoff_max.max(config.backoff_min),
            failures: 0,
        }
    }

    /// The delay before the next attempt after one more failure.
    pub(super) fn next_delay(&mut self) -> Duration {
        let exp = self.failures.min(20);
        self.failures = self.failures.saturating_add(1);
        let base = self.min.saturating_mul(1u32 << exp).min(self.max);
        base.mul_f64(0.5 + rand::random::<f64>() / 2.0)
    }

    /// After a loss: `None` (reconnect at once, backoff restarted) if the connection had
    /// been up for `max` (a real outage begins); otherwise the next delay, so that a server
    /// that accepts and then drops at once is not hammered.
    pub(super) fn after_loss(&mut self, up_since: Instant) -> Option<Duration> {
        if up_since.elapsed() >= self.max {
            self.failures = 0;
            None
        } else {
            Some(self.next_delay())
        }
    }
}

/// Connects `role`'s connection, retrying with `backoff` (reporting each failure) until it
/// works; runs until the link shuts down (the caller's future is then dropped). The
/// connection is RESP3 with the callback from `make_push` receiving its out-of-band
/// messages, named with `CLIENT SETNAME`, and answers every command within
/// `command_timeout`. Also returns the connection's own loss signal, handed to `make_push`
/// (fresh per attempt, so that a failed attempt cannot leave a stale notification).
pub(super) async fn connect<P: AsyncPushSender>(
    shared: &Shared,
    role: Role,
    backoff: &mut Backoff,
    make_push: impl Fn(Arc<Notify>) -> P,
) -> (MultiplexedConnection, Arc<Notify>) {
    let mut attempt = 0;
    loop {
        let lost = Arc::new(Notify::new());
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(shared.config.connect_timeout))
            .set_response_timeout(Some(shared.config.command_timeout))
            .set_push_sender(make_push(lost.clone()));
        let result = match shared
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(mut conn) => set_name(shared, role, &mut conn).await.map(|()| conn),
            Err(e) => Err(e),
        };
        match result {
            Ok(conn) => return (conn, lost),
            Err(e) => {
                attempt += 1;
                let retry_in = backoff.next_delay();
                shared.reporter.report(LinkStatus::ConnectFailed {
                    role,
                    attempt,
                    reason: e.to_string(),
                    retry_in,
                });
                tokio::time::sleep(retry_in).await;
            }
        }
    }
}

async fn set_name(
    shared: &Shared,
    role: Role,
    conn: &mut MultiplexedConnection,
) -> redis::RedisResult<()> {
    let Some(name) = &shared.config.client_name else {
        return Ok(());
    };
    let suffix = match role {
        Role::Publisher => "pub",
        Role::Subscriber => "sub",
    };
    let mut cmd = redis::cmd("CLIENT");
    cmd.arg("SETNAME").arg(format!("{name}-{suffix}"));
    match conn.send_packed_command(&cmd).await? {
        // A refused name (ACL, odd characters) is no reason to stay offline.
        Value::ServerError(e) => {
            shared.reporter.report(LinkStatus::CommandFailed {
                role,
                command: "CLIENT SETNAME",
                reason: e.to_string(),
            });
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Reports an established connection (first time or after a loss).
pub(super) fn report_up(shared: &Shared, role: Role, ever_up: &mut bool) {
    if *ever_up {
        shared.reporter.reconnects.fetch_add(1, Ordering::Relaxed);
        shared.reporter.report(LinkStatus::Reconnected { role });
    } else {
        *ever_up = true;
        shared.reporter.report(LinkStatus::Connected { role });
    }
}

/// A `PING` as a liveness probe: `Err` with the reason when the connection is not healthy.
pub(super) async fn ping(conn: &mut MultiplexedConnection) -> Result<(), String> {
    match conn.send_packed_command(&redis::cmd("PING")).await {
        Ok(Value::ServerError(e)) => Err(format!("PING refused: {e}")),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("PING failed: {e}")),
    }
}

/// A push callback that only notices the loss of the connection (the publisher's).
pub(super) fn loss_notifier(lost: Arc<Notify>) -> impl AsyncPushSender {
    move |info: redis::PushInfo| -> Result<(), ()> {
        if info.kind == redis::PushKind::Disconnection {
            lost.notify_one();
        }
        Ok(())
    }
}

/// The interval of liveness pings, or one that never fires.
pub(super) fn ping_timer(shared: &Shared) -> tokio::time::Interval {
    let period = shared
        .config
        .ping_interval
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// The count of a `PUBSUB NUMSUB|SHARDNUMSUB channel` reply: `[channel, n]` in RESP2 form,
/// `{channel: n}` in RESP3 form.
pub(super) fn parse_count(reply: Value) -> Result<u64, LinkError> {
    let n = match reply {
        Value::Array(items) if items.len() == 2 => items.into_iter().nth(1),
        Value::Map(pairs) if pairs.len() == 1 => pairs.into_iter().next().map(|(_, n)| n),
        Value::ServerError(e) => return Err(LinkError::Redis(e.to_string())),
        other => {
            return Err(LinkError::Redis(format!(
                "unexpected PUBSUB reply {other:?}"
            )))
        }
    };
    match n {
        Some(Value::Int(n)) if n >= 0 => Ok(n as u64),
        other => Err(LinkError::Redis(format!(
            "unexpected PUBSUB count {other:?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let mut config = LinkConfig::new("redis://x");
        config.backoff_min = Duration::from_millis(100);
        config.backoff_max = Duration::from_millis(800);
        let mut b = Backoff::new(&config);
        for base in [100u64, 200, 400, 800, 800, 800] {
            let d = b.next_delay();
            let base = Duration::from_millis(base);
            assert!(d >= base / 2 && d <= base, "{d:?} vs {base:?}");
        }
        // A connection that dies at once keeps the delay growing; one that lived restarts it.
        assert!(b.after_loss(Instant::now()).unwrap() >= Duration::from_millis(400));
        let long_ago = Instant::now() - Duration::from_secs(1);
        assert_eq!(b.after_loss(long_ago), None);
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn pubsub_counts_in_both_reply_forms() {
        let ch = || Value::BulkString(b"ch".to_vec());
        assert_eq!(parse_count(Value::Array(vec![ch(), Value::Int(3)])), Ok(3));
        assert_eq!(parse_count(Value::Map(vec![(ch(), Value::Int(0))])), Ok(0));
        assert!(parse_count(Value::Array(vec![])).is_err());
        assert!(parse_count(Value::Array(vec![ch(), Value::Int(-1)])).is_err());
    }
}
