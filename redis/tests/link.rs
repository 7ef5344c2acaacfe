//! `RedisLink` against a real `redis-server` that each test starts on a free loopback port
//! (`--save '' --appendonly no`) and kills by PID when its guard drops. Without
//! `redis-server` on the PATH every test here FAILS, on purpose: a cluster test that passes
//! without Redis would prove nothing (CI installs it from Debian, see `.ci/run`).
//!
//! Every wait is on an event (a status, a message, a confirmation) with a deadline; nothing
//! sleeps and hopes.

#![cfg(feature = "link")]

#[path = "support/redis_server.rs"]
mod redis_server;

use std::time::{Duration, Instant};

use bytes::Bytes;
use rtio_redis::classic;
use rtio_redis::link::{
    DropKind, Incoming, LinkConfig, LinkError, LinkStatus, RedisLink, Role, Started, SubKind,
};
use rtio_redis::sharded;
use tokio::sync::mpsc;
use tokio::time::timeout;

use redis_server::{free_port, RedisServer};

/// Deadline of any single wait.
const WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// Link helpers.

fn config(url: &str) -> LinkConfig {
    let mut config = LinkConfig::new(url);
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(400);
    config.connect_timeout = Duration::from_secs(1);
    config.command_timeout = Duration::from_secs(2);
    config
}

/// The next status matching `want`, skipping others; fails with what was seen.
async fn wait_status(
    status: &mut mpsc::Receiver<LinkStatus>,
    what: &str,
    want: impl Fn(&LinkStatus) -> bool,
) -> LinkStatus {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, status.recv()).await {
            Ok(Some(s)) if want(&s) => return s,
            Ok(Some(s)) => seen.push(s),
            Ok(None) => panic!("status stream ended waiting for {what}; seen {seen:?}"),
            Err(_) => panic!("no {what} within {WAIT:?}; seen {seen:?}"),
        }
    }
}

/// Waits until both connections reported `Connected` (or `Reconnected` when `again`).
async fn wait_both_up(status: &mut mpsc::Receiver<LinkStatus>, again: bool) {
    let mut missing = vec![Role::Publisher, Role::Subscriber];
    while !missing.is_empty() {
        let s = wait_status(status, "connections up", |s| match s {
            LinkStatus::Connected { .. } => !again,
            LinkStatus::Reconnected { .. } => again,
            _ => false,
        })
        .await;
        let (LinkStatus::Connected { role } | LinkStatus::Reconnected { role }) = s else {
            unreachable!()
        };
        missing.retain(|r| *r != role);
    }
}

async fn recv(messages: &mut mpsc::Receiver<Incoming>) -> Incoming {
    timeout(WAIT, messages.recv())
        .await
        .expect("no message within the deadline")
        .expect("message stream ended")
}

async fn confirmed(what: &str, c: rtio_redis::link::Confirmation) {
    timeout(WAIT, c)
        .await
        .unwrap_or_else(|_| panic!("{what}: not confirmed in time"))
        .unwrap_or_else(|e| panic!("{what}: {e}"));
}

fn start(url: &str) -> Started {
    RedisLink::start(config(url)).expect("start")
}

// ---------------------------------------------------------------------------------------
// Tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_subscribe_round_trip() {
    let redis = RedisServer::start();
    let Started {
        link,
        mut messages,
        mut status,
    } = start(&redis.url());
    let channel = classic::request_channel("socket.io", "/");
    confirmed("subscribe", link.subscribe(channel.clone())).await;
    assert!(link.is_subscribed(SubKind::Channel, channel.as_bytes()));
    wait_both_up(&mut status, false).await;

    // Every byte value, and a payload larger than any socket buffer.
    let small: Vec<u8> = (0..=255).collect();
    let large = Bytes::from(vec![0x7bu8; 512 * 1024]);
    link.publish(channel.clone(), small.clone()).unwrap();
    link.publish(channel.clone(), large.clone()).unwrap();

    let first = recv(&mut messages).await;
    assert_eq!(first.kind, SubKind::Channel);
    assert_eq!(first.channel_str(), Some(channel.as_str()));
    assert_eq!(first.pattern, None);
    assert_eq!(&first.payload[..], &small[..]);
    let second = recv(&mut messages).await;
    assert_eq!(second.payload, large);

    // The publisher counts when Redis's reply to PUBLISH arrives, which may be after the
    // subscriber got the message.
    let deadline = Instant::now() + WAIT;
    while link.stats().published < 2 {
        assert!(Instant::now() < deadline, "{:?}", link.stats());
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let stats = link.stats();
    assert_eq!(stats.published, 2);
    assert_eq!(stats.received, 2);
    assert_eq!(stats.publish_dropped + stats.incoming_dropped, 0);

    // After UNSUBSCRIBE nothing more arrives: a second channel's message comes first.
    confirmed("unsubscribe", link.unsubscribe(channel.clone())).await;
    confirmed("subscribe other", link.subscribe("other")).await;
    link.publish(channel.clone(), "lost").unwrap();
    link.publish("other", "kept").unwrap();
    let next = recv(&mut messages).await;
    assert_eq!(
        (&next.channel[..], &next.payload[..]),
        (&b"other"[..], &b"kept"[..])
    );
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn psubscribe_with_escaped_glob_characters() {
    let redis = RedisServer::start();
    let Started {
        link, mut messages, ..
    } = start(&redis.url());
    // A key and namespace full of glob characters: the pattern must match them literally.
    let (key, nsp) = ("s*o?c[k]e\\t", "/n*s");
    let pattern = classic::broadcast_pattern(key, nsp);
    confirmed("psubscribe", link.psubscribe(pattern.clone())).await;
    // What an unescaped pattern would be: it matches the decoys below, and misses the
    // namespace's own channels (`[k]` does not match a `[`).
    let naive = format!("{key}#{nsp}#*");
    confirmed("naive psubscribe", link.psubscribe(naive.clone())).await;

    let decoys = [
        ("sXXoYcket", "/n*s"),
        ("s*o?cket", "/nXYs"),
        ("s*o?cket", "/n*s"),
    ];
    for (decoy_key, decoy_nsp) in decoys {
        link.publish(
            classic::broadcast_channel(decoy_key, decoy_nsp, None),
            "decoy",
        )
        .unwrap();
    }
    let room = classic::broadcast_channel(key, nsp, Some("r1"));
    let all = classic::broadcast_channel(key, nsp, None);
    link.publish(room.clone(), "room").unwrap();
    link.publish(all.clone(), "all").unwrap();

    // Order is kept end to end: the decoys, through the naive pattern only, then ours.
    for (decoy_key, decoy_nsp) in decoys {
        let got = recv(&mut messages).await;
        assert_eq!(got.pattern.as_deref(), Some(naive.as_bytes()), "{got:?}");
        let channel = classic::broadcast_channel(decoy_key, decoy_nsp, None);
        assert_eq!(got.channel_str(), Some(channel.as_str()));
    }
    let got = recv(&mut messages).await;
    assert_eq!(got.kind, SubKind::Pattern);
    assert_eq!(got.pattern.as_deref(), Some(pattern.as_bytes()), "{got:?}");
    assert_eq!(got.channel_str(), Some(room.as_str()));
    assert_eq!(&got.payload[..], b"room");
    assert_eq!(
        classic::parse_broadcast_channel(key, nsp, got.channel_str().unwrap()),
        Some(classic::BroadcastTarget::Room("r1"))
    );
    let got = recv(&mut messages).await;
    assert_eq!(got.pattern.as_deref(), Some(pattern.as_bytes()));
    assert_eq!(got.channel_str(), Some(all.as_str()));
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numsub_counts_two_links() {
    let redis = RedisServer::start();
    let mut a = start(&redis.url());
    let b = start(&redis.url());
    let channel = classic::request_channel("socket.io", "/");
    confirmed("a", a.link.subscribe(channel.clone())).await;
    confirmed("b", b.link.subscribe(channel.clone())).await;
    wait_both_up(&mut a.status, false).await;

    assert_eq!(a.link.numsub(&channel).await, Ok(2));
    assert_eq!(a.link.numsub("nobody#").await, Ok(0));
    // Classic and sharded subscribers are counted apart.
    assert_eq!(a.link.shardnumsub(&channel).await, Ok(0));

    confirmed("b leaves", b.link.unsubscribe(channel.clone())).await;
    assert_eq!(a.link.numsub(&channel).await, Ok(1));
    confirmed("b back", b.link.subscribe(channel.clone())).await;
    assert_eq!(a.link.numsub(&channel).await, Ok(2));
    // A closed link's connections are gone from the count at once.
    b.link.close().await;
    let deadline = Instant::now() + WAIT;
    while a.link.numsub(&channel).await != Ok(1) {
        assert!(Instant::now() < deadline, "closed link still counted");
        tokio::task::yield_now().await;
    }
    a.link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_ssubscribe_spublish_shardnumsub() {
    let redis = RedisServer::start();
    let mut a = start(&redis.url());
    let mut b = start(&redis.url());
    let main = sharded::sharded_channel("socket.io", "/");
    let own = sharded::sharded_node_channel("socket.io", "/", "a0fa37e9af126190");
    let room = sharded::sharded_room_channel("socket.io", "/", "r1");
    confirmed("main a", a.link.ssubscribe(main.clone())).await;
    confirmed("own a", a.link.ssubscribe(own.clone())).await;
    confirmed("room a", a.link.ssubscribe(room.clone())).await;
    confirmed("main b", b.link.ssubscribe(main.clone())).await;
    wait_both_up(&mut a.status, false).await;

    assert_eq!(a.link.shardnumsub(&main).await, Ok(2));
    assert_eq!(a.link.shardnumsub(&room).await, Ok(1));
    assert_eq!(a.link.numsub(&main).await, Ok(0));

    let msg = br#"{"type":3,"data":{"packet":{"type":2,"data":["ev",1]},"opts":{"rooms":["r1"],"except":[],"flags":{}}},"uid":"b","nsp":"/"}"#;
    b.link.spublish(room.clone(), &msg[..]).unwrap();
    b.link.spublish(main.clone(), "main").unwrap();
    let got = recv(&mut a.messages).await;
    assert_eq!(got.kind, SubKind::Shard);
    assert_eq!(got.channel_str(), Some(room.as_str()));
    assert_eq!(got.pattern, None);
    assert_eq!(&got.payload[..], &msg[..]);
    assert_eq!(&recv(&mut a.messages).await.payload[..], b"main");
    // b gets its own SPUBLISH on main too (Redis does not filter the sender).
    assert_eq!(&recv(&mut b.messages).await.payload[..], b"main");

    // Dynamic rooms: delete-room drops the channel. Confirmed by Redis at once, on the same
    // connection (redis-rs 1.8 drops SUNSUBSCRIBE's confirmation: the link must not wait
    // for it until its command timeout and a reconnection), twice in a row, then more.
    let other = sharded::sharded_room_channel("socket.io", "/", "r2");
    confirmed("room a 2", a.link.ssubscribe(other.clone())).await;
    let started = Instant::now();
    confirmed("sunsubscribe", a.link.sunsubscribe(room.clone())).await;
    confirmed("sunsubscribe 2", a.link.sunsubscribe(other.clone())).await;
    confirmed("room a 3", a.link.ssubscribe(other.clone())).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.link.stats().reconnects, 0);
    assert!(!a.link.is_subscribed(SubKind::Shard, room.as_bytes()));
    assert_eq!(a.link.shardnumsub(&room).await, Ok(0));
    assert_eq!(a.link.shardnumsub(&other).await, Ok(1));
    b.link.spublish(room.clone(), "gone").unwrap();
    b.link.spublish(own.clone(), "own").unwrap();
    assert_eq!(&recv(&mut a.messages).await.payload[..], b"own");
    a.link.close().await;
    b.link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_reconnects_and_resubscribes() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let Started {
        link,
        mut messages,
        mut status,
    } = start(&redis.url());
    let pattern = classic::broadcast_pattern("socket.io", "/");
    confirmed("subscribe", link.subscribe("req")).await;
    confirmed("psubscribe", link.psubscribe(pattern.clone())).await;
    confirmed("ssubscribe", link.ssubscribe("shard")).await;
    wait_both_up(&mut status, false).await;

    redis.kill();
    let mut lost = vec![Role::Publisher, Role::Subscriber];
    while !lost.is_empty() {
        if let LinkStatus::Lost { role, .. } = wait_status(&mut status, "Lost", |s| {
            matches!(s, LinkStatus::Lost { .. })
        })
        .await
        {
            lost.retain(|r| *r != role);
        }
    }
    wait_status(&mut status, "a failed reconnect", |s| {
        matches!(s, LinkStatus::ConnectFailed { .. })
    })
    .await;
    assert!(!link.is_publisher_connected());
    assert!(!link.is_subscriber_connected());
    assert_eq!(link.numsub("req").await, Err(LinkError::NotConnected));
    // A change made during the outage is applied with the replay.
    let late = link.subscribe("late");

    let _redis = RedisServer::start_on(port);
    wait_both_up(&mut status, true).await;
    assert!(link.is_publisher_connected() && link.is_subscriber_connected());
    confirmed("subscribe during outage", late).await;
    assert_eq!(link.numsub("req").await, Ok(1));
    assert_eq!(link.shardnumsub("shard").await, Ok(1));

    link.publish("req", "1").unwrap();
    link.publish(classic::broadcast_channel("socket.io", "/", None), "2")
        .unwrap();
    link.spublish("shard", "3").unwrap();
    link.publish("late", "4").unwrap();
    let mut got = Vec::new();
    while got.len() < 4 {
        let m = recv(&mut messages).await;
        // Anything published before the outage that was still queued may come first.
        if matches!(&m.payload[..], b"1" | b"2" | b"3" | b"4") {
            got.push((m.kind, m.payload));
        }
    }
    assert_eq!(
        got,
        vec![
            (SubKind::Channel, Bytes::from("1")),
            (SubKind::Pattern, Bytes::from("2")),
            (SubKind::Shard, Bytes::from("3")),
            (SubKind::Channel, Bytes::from("4")),
        ]
    );
    assert_eq!(link.stats().reconnects, 2);
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_with_redis_down_then_up() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let Started {
        link,
        mut messages,
        mut status,
    } = start(&url);
    // start returned; it reports and keeps retrying.
    for _ in 0..2 {
        let s = wait_status(&mut status, "ConnectFailed", |s| {
            matches!(s, LinkStatus::ConnectFailed { .. })
        })
        .await;
        let LinkStatus::ConnectFailed { retry_in, .. } = s else {
            unreachable!()
        };
        assert!(retry_in <= Duration::from_millis(400), "{retry_in:?}");
    }
    assert_eq!(link.numsub("ch").await, Err(LinkError::NotConnected));
    let pending = link.subscribe("ch");
    link.publish("ch", "queued while down").unwrap();

    let _redis = RedisServer::start_on(port);
    confirmed("subscribe before Redis was up", pending).await;
    // First connection: Connected, not Reconnected.
    wait_both_up(&mut status, false).await;
    link.publish("ch", "after").unwrap();
    loop {
        let m = recv(&mut messages).await;
        if &m.payload[..] == b"after" {
            break;
        }
        // The queued one may arrive first, if the subscriber was up before the publisher.
        assert_eq!(&m.payload[..], b"queued while down");
    }
    assert_eq!(link.stats().reconnects, 0);
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_leaves_no_task_and_no_connection() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let redis = RedisServer::start();
    let mut cfg = config(&redis.url());
    cfg.client_name = Some("closetest".into());
    let Started {
        link,
        mut messages,
        mut status,
    } = RedisLink::start(cfg).unwrap();
    confirmed("subscribe", link.subscribe("ch")).await;
    wait_both_up(&mut status, false).await;
    let clients = redis.client_list();
    assert!(clients.contains("name=closetest-pub"), "{clients}");
    assert!(clients.contains("name=closetest-sub"), "{clients}");
    // Our two tasks plus the redis client's two connection tasks.
    assert!(metrics.num_alive_tasks() >= baseline + 4);

    let other = link.clone();
    timeout(Duration::from_secs(1), link.close())
        .await
        .expect("close is prompt");
    other.close().await; // again, from another handle: a no-op

    wait_status(&mut status, "Closed", |s| *s == LinkStatus::Closed).await;
    assert_eq!(timeout(WAIT, status.recv()).await.unwrap(), None);
    assert_eq!(timeout(WAIT, messages.recv()).await.unwrap(), None);
    assert_eq!(link.publish("ch", "x"), Err(LinkError::Closed));
    assert_eq!(link.subscribe("ch2").await, Err(LinkError::Closed));
    assert_eq!(link.numsub("ch").await, Err(LinkError::Closed));

    // Aborted tasks are released by the runtime right after; Redis sees the sockets close.
    let deadline = Instant::now() + WAIT;
    while metrics.num_alive_tasks() > baseline || redis.client_list().contains("closetest-") {
        assert!(
            Instant::now() < deadline,
            "left running: {} tasks (baseline {baseline}); clients {}",
            metrics.num_alive_tasks(),
            redis.client_list()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_while_retrying_is_prompt() {
    let metrics = tokio::runtime::Handle::current().metrics();
    let baseline = metrics.num_alive_tasks();
    let mut cfg = config(&format!("redis://127.0.0.1:{}", free_port()));
    cfg.backoff_min = Duration::from_secs(2); // mid-backoff when close comes
    let Started {
        link, mut status, ..
    } = RedisLink::start(cfg).unwrap();
    wait_status(&mut status, "ConnectFailed", |s| {
        matches!(s, LinkStatus::ConnectFailed { .. })
    })
    .await;
    let pending = link.subscribe("never");
    let t0 = Instant::now();
    link.close().await;
    assert!(
        t0.elapsed() < Duration::from_millis(500),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(pending.await, Err(LinkError::Closed));
    let deadline = Instant::now() + WAIT;
    while metrics.num_alive_tasks() > baseline {
        assert!(Instant::now() < deadline, "tasks left running");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_publish_queue_drops_and_counts() {
    // Redis is down, so nothing drains the queue: it fills, then publish drops at once.
    let mut cfg = config(&format!("redis://127.0.0.1:{}", free_port()));
    cfg.publish_queue = 4;
    let Started {
        link, mut status, ..
    } = RedisLink::start(cfg).unwrap();
    let t0 = Instant::now();
    let results: Vec<_> = (0..10).map(|i| link.publish("ch", vec![i])).collect();
    assert!(t0.elapsed() < Duration::from_millis(50), "publish waited");
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4);
    assert!(results[4..].iter().all(|r| *r == Err(LinkError::QueueFull)));
    assert_eq!(link.stats().publish_dropped, 6);
    // Reported once (rate limit), with the running total at that moment.
    let s = wait_status(&mut status, "Dropped", |s| {
        matches!(s, LinkStatus::Dropped { .. })
    })
    .await;
    assert_eq!(
        s,
        LinkStatus::Dropped {
            what: DropKind::Publish,
            total: 1
        }
    );
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_inbox_drops_and_counts() {
    let redis = RedisServer::start();
    let mut cfg = config(&redis.url());
    cfg.inbox = 2;
    let Started {
        link,
        mut messages,
        mut status,
    } = RedisLink::start(cfg).unwrap();
    confirmed("subscribe", link.subscribe("ch")).await;
    for i in 0..10u8 {
        link.publish("ch", vec![i]).unwrap();
    }
    let s = wait_status(&mut status, "Dropped", |s| {
        matches!(
            s,
            LinkStatus::Dropped {
                what: DropKind::Incoming,
                ..
            }
        )
    })
    .await;
    assert!(matches!(s, LinkStatus::Dropped { total: 1, .. }), "{s:?}");
    let deadline = Instant::now() + WAIT;
    while link.stats().incoming_dropped < 8 {
        assert!(Instant::now() < deadline, "{:?}", link.stats());
        tokio::task::yield_now().await;
    }
    // The first two were kept, in order; the link still delivers after the overflow.
    assert_eq!(&recv(&mut messages).await.payload[..], &[0]);
    assert_eq!(&recv(&mut messages).await.payload[..], &[1]);
    link.publish("ch", "again").unwrap();
    assert_eq!(&recv(&mut messages).await.payload[..], b"again");
    assert_eq!(link.stats().received, 3);
    link.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_in_the_url() {
    let redis = RedisServer::start_with(free_port(), &["--requirepass", "s3cret"]);
    let good = format!("redis://:s3cret@127.0.0.1:{}", redis.port);
    let cfg = config(&good);
    assert!(!format!("{cfg:?}").contains("s3cret"), "{cfg:?}");
    let Started {
        link,
        mut messages,
        mut status,
    } = RedisLink::start(cfg).unwrap();
    assert!(!format!("{link:?}").contains("s3cret"), "{link:?}");
    confirmed("subscribe with auth", link.subscribe("ch")).await;
    wait_both_up(&mut status, false).await;
    link.publish("ch", "hi").unwrap();
    assert_eq!(&recv(&mut messages).await.payload[..], b"hi");
    link.close().await;

    // A wrong password is a connect failure, reported with Redis's reason and retried.
    let bad = format!("redis://:wrong@127.0.0.1:{}", redis.port);
    let Started {
        link, mut status, ..
    } = start(&bad);
    let s = wait_status(&mut status, "ConnectFailed", |s| {
        matches!(s, LinkStatus::ConnectFailed { .. })
    })
    .await;
    let LinkStatus::ConnectFailed { reason, .. } = s else {
        unreachable!()
    };
    assert!(reason.to_lowercase().contains("pass"), "{reason}");
    link.close().await;
}

#[test]
fn start_refuses_bad_urls_and_needs_a_runtime() {
    assert_eq!(
        RedisLink::start(LinkConfig::new("redis://127.0.0.1:1")).unwrap_err(),
        LinkError::NoRuntime
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    for url in ["http://127.0.0.1:6379", "not a url"] {
        assert!(
            matches!(
                RedisLink::start(LinkConfig::new(url)),
                Err(LinkError::InvalidUrl(_))
            ),
            "{url}"
        );
    }
    #[cfg(not(feature = "tls"))]
    assert!(matches!(
        RedisLink::start(LinkConfig::new("rediss://127.0.0.1:6379")),
        Err(LinkError::InvalidUrl(_))
    ));
}

/// `rediss://` with a private CA (feature `tls`; `cargo test -p rtio-redis --features tls`):
/// the server certificate is checked against `tls_root_cert`, and a link without that root
/// does not connect.
#[cfg(feature = "tls")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_private_ca() {
    let dir = std::env::temp_dir().join(format!("rtio-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        let ok = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "openssl {args:?} failed (is openssl installed?)");
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=rtio test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=localhost",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "1",
        "-extfile",
        "san.ext",
    ]);
    let path = |f: &str| dir.join(f).to_str().unwrap().to_owned();
    let tls_port = free_port();
    let _redis = RedisServer::start_with(
        free_port(),
        &[
            "--tls-port",
            &tls_port.to_string(),
            "--tls-cert-file",
            &path("srv.pem"),
            "--tls-key-file",
            &path("srv.key"),
            "--tls-ca-cert-file",
            &path("ca.pem"),
            "--tls-auth-clients",
            "no",
        ],
    );
    let url = format!("rediss://localhost:{tls_port}");

    let mut cfg = config(&url);
    cfg.tls_root_cert = Some(std::fs::read(dir.join("ca.pem")).unwrap());
    let Started {
        link,
        mut messages,
        mut status,
    } = RedisLink::start(cfg).unwrap();
    confirmed("subscribe over TLS", link.subscribe("ch")).await;
    wait_both_up(&mut status, false).await;
    link.publish("ch", "secret").unwrap();
    assert_eq!(&recv(&mut messages).await.payload[..], b"secret");
    assert_eq!(link.numsub("ch").await, Ok(1));
    link.close().await;

    // The system roots do not know this CA: the handshake fails, reported and retried.
    let Started {
        link, mut status, ..
    } = RedisLink::start(config(&url)).unwrap();
    wait_status(&mut status, "ConnectFailed", |s| {
        matches!(s, LinkStatus::ConnectFailed { .. })
    })
    .await;
    link.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
