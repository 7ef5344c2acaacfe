//! The emitter (`rtio_redis::emitter`) pushing into real rtio servers through a real
//! `redis-server`, in both wire formats: broadcasts with rooms, exclusions and binary,
//! room operations, disconnects, server-side emits; and its errors when Redis is away.

#![cfg(feature = "adapter")]

#[path = "support/redis_server.rs"]
mod redis_server;

mod common;

#[path = "support/cluster.rs"]
mod cluster;

use bytes::Bytes;
use rtio::{Event, Payload, Server};
use rtio_redis::adapter::Variant;
use rtio_redis::emitter::{Emitter, Target};
use rtio_redis::Error;

use cluster::{next, node_with, options, wait_shardnumsub, Client};
use redis_server::{free_port, RedisServer};

fn emitter(url: &str, variant: Variant) -> Emitter {
    let mut o = options(url);
    o.variant = variant;
    Emitter::new(o).expect("valid options")
}

fn server(url: &str, variant: Variant) -> Server {
    let mut o = options(url);
    o.variant = variant;
    node_with(o)
}

/// Every emitter operation reaches the sockets (and the host) of a server of `variant`.
fn pushes_reach_a_server(variant: Variant) {
    let redis = RedisServer::start();
    let url = redis.url();
    let srv = server(&url, variant);
    let io = srv.io();
    let a = Client::connect(&srv, "");
    let b = Client::connect(&srv, "");
    io.join(&a.sid, "jobs").unwrap();
    if variant == Variant::Sharded {
        wait_shardnumsub(redis.port, "socket.io#/#jobs#", 1);
    }
    let em = emitter(&url, variant);

    em.emit("/", &Target::all(), "all", &Payload::one(1))
        .unwrap();
    a.expect(&["42[\"all\",1]"]);
    b.expect(&["42[\"all\",1]"]);

    em.emit("/", &Target::rooms(["jobs"]), "job", &Payload::one(2))
        .unwrap();
    a.expect(&["42[\"job\",2]"]);
    em.emit("/", &Target::all().except(["jobs"]), "ex", &Payload::one(3))
        .unwrap();
    b.expect(&["42[\"ex\",3]"]);

    let bin = Payload::from_json(r#"[{"_placeholder":true,"num":0}]"#)
        .unwrap()
        .with_attachments(vec![Bytes::from_static(&[7, 8])]);
    em.emit("/", &Target::rooms([&*b.sid]), "bin", &bin)
        .unwrap();
    b.expect(&["451-[\"bin\",{\"_placeholder\":true,\"num\":0}]", "bBwg="]);

    // b joins `jobs` by the emitter's word, then leaves it again
    em.sockets_join("/", &Target::rooms([&*b.sid]), &["jobs".into()])
        .unwrap();
    let deadline = std::time::Instant::now() + cluster::WAIT;
    while !io.rooms(&b.sid).unwrap().contains(&"jobs".to_string()) {
        assert!(std::time::Instant::now() < deadline, "b never joined");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    em.sockets_leave("/", &Target::rooms(["jobs"]), &["jobs".into()])
        .unwrap();
    while !io.sockets("/", Some("jobs")).unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "jobs never emptied");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }

    em.server_side_emit("/", "relay", &Payload::one("hi"))
        .unwrap();
    loop {
        match next(&srv) {
            Event::ServerSideEmit {
                event,
                payload,
                ack,
                ..
            } => {
                assert_eq!(
                    (event.as_str(), payload.json(), ack),
                    ("relay", "[\"hi\"]", None)
                );
                break;
            }
            Event::Message { .. } | Event::Connect { .. } => {}
            other => panic!("{other:?}"),
        }
    }

    em.disconnect_sockets("/", &Target::rooms([&*a.sid]), false)
        .unwrap();
    a.expect(&["41"]);
    loop {
        match next(&srv) {
            Event::Disconnect { sid, .. } => {
                assert_eq!(*sid, *a.sid);
                break;
            }
            Event::Message { .. } | Event::Connect { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    // b is untouched
    em.emit("/", &Target::all(), "end", &Payload::empty())
        .unwrap();
    b.expect(&["42[\"end\"]"]);
}

#[test]
fn emitter_pushes_reach_a_classic_server() {
    pushes_reach_a_server(Variant::Classic);
}

#[test]
fn emitter_pushes_reach_a_sharded_server() {
    pushes_reach_a_server(Variant::Sharded);
}

#[test]
fn emitter_errors_are_clear_and_it_recovers_when_redis_returns() {
    assert!(matches!(
        Emitter::new(options("http://nope")),
        Err(Error::Config(_))
    ));
    let port = free_port();
    let em = emitter(&format!("redis://127.0.0.1:{port}"), Variant::Classic);
    let err = em
        .emit("/", &Target::all(), "x", &Payload::empty())
        .unwrap_err();
    assert!(err.to_string().contains("cannot connect to Redis"), "{err}");

    // Redis comes up: the same emitter works; Redis restarts: the next call reconnects.
    let mut redis = RedisServer::start_on(port);
    let srv = server(&redis.url(), Variant::Classic);
    let c = Client::connect(&srv, "");
    em.emit("/", &Target::all(), "up", &Payload::empty())
        .unwrap();
    c.expect(&["42[\"up\"]"]);
    redis.kill();
    drop(redis);
    let _redis = RedisServer::start_on(port);
    cluster::wait_count(&srv, 1);
    // the emitter's connection broke with the restart: the call reopens it
    em.emit("/", &Target::all(), "again", &Payload::empty())
        .unwrap();
    c.expect(&["42[\"again\"]"]);
}
