//! The adapter seam over real sockets: the cluster operations of `Io` with the default local
//! adapter (a single server), an adapter's lifecycle, and two servers in one process joined
//! by a small in-memory "bus" adapter, which stands in for Redis to show that an adapter
//! outside the crate can distribute every operation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rtio::adapter::{
    AckAnswer, Adapter, AdapterContext, AdapterFactory, AdapterFuture, LocalAdapter, OutPacket,
    Reply, Selector, ServerAck, SocketInfo,
};
use rtio::{ClusterError, Config, DisconnectReason, Error, Event, Payload, Server};

#[path = "support/polling.rs"]
mod polling;
use polling::{next, quiet, start, Client, WAIT};

fn rooms(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

fn sids(answers: &[AckAnswer]) -> Vec<String> {
    sorted(
        answers
            .iter()
            .map(|a| a.sid.as_deref().unwrap().to_string())
            .collect(),
    )
}

#[test]
fn broadcast_with_ack_gathers_every_answer_in_one_event() {
    let server = start(Config::default());
    let io = server.io();
    let (a, b, c) = (
        Client::connect(&server, ""),
        Client::connect(&server, ""),
        Client::connect(&server, ""),
    );
    io.join(&a.sid, "r").unwrap();
    io.join(&b.sid, "r").unwrap();
    let token = io
        .broadcast("/")
        .to("r")
        .emit_with_ack("q", &Payload::one(1), WAIT)
        .unwrap();
    // one ack id for every target: the packet is encoded once
    assert_eq!(a.get(), "420[\"q\",1]");
    assert_eq!(b.get(), "420[\"q\",1]");
    a.post("430[\"from a\"]");
    quiet(&server, Duration::from_millis(200));
    b.post("430[\"from b\",2]");
    match next(&server) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error,
        } => {
            assert_eq!((t, error), (token, None));
            assert_eq!(sids(&answers), sorted(vec![a.sid.clone(), b.sid.clone()]));
            let args: Vec<&str> = answers.iter().map(|a| a.payload.json()).collect();
            assert_eq!(args, ["[\"from a\"]", "[\"from b\",2]"]);
        }
        other => panic!("{other:?}"),
    }
    // the socket's own acks keep working beside (ids come from the same counter)
    let single = io
        .emit_with_ack(&c.sid, "one", &Payload::empty(), WAIT)
        .unwrap();
    assert_eq!(c.get(), "421[\"one\"]");
    c.post("431[true]");
    match next(&server) {
        Event::AckResponse { token, result, .. } => {
            assert_eq!(token, single);
            assert_eq!(result.unwrap().json(), "[true]");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn broadcast_with_ack_times_out_with_the_answers_that_came() {
    let server = start(Config::default());
    let io = server.io();
    let (a, b) = (Client::connect(&server, ""), Client::connect(&server, ""));
    let token = io
        .broadcast("/")
        .emit_with_ack("q", &Payload::empty(), Duration::from_millis(300))
        .unwrap();
    assert_eq!(a.get(), "420[\"q\"]");
    assert_eq!(b.get(), "420[\"q\"]");
    a.post("430[1]");
    match next(&server) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error,
        } => {
            assert_eq!((t, error), (token, Some(ClusterError::Timeout)));
            assert_eq!(sids(&answers), [a.sid.as_str()]);
        }
        other => panic!("{other:?}"),
    }
    // a late answer is ignored
    b.post("430[2]");
    quiet(&server, Duration::from_millis(300));

    // nobody selected: answered at once, with nothing
    let token = io
        .broadcast("/")
        .to("empty-room")
        .emit_with_ack("q", &Payload::empty(), WAIT)
        .unwrap();
    match next(&server) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => assert_eq!((t, answers.len()), (token, 0)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_deadline_a_broadcast_waits_until_no_answer_can_come() {
    let server = start(Config::default());
    let io = server.io();
    let (a, b) = (Client::connect(&server, ""), Client::connect(&server, ""));
    let token = io
        .broadcast("/")
        .emit_with_ack("q", &Payload::empty(), Duration::MAX)
        .unwrap();
    assert_eq!(a.get(), "420[\"q\"]");
    assert_eq!(b.get(), "420[\"q\"]");
    a.post("430[1]");
    quiet(&server, Duration::from_millis(200));
    b.post("41");
    // the disconnect and the answer, in either order
    let (mut left, mut answered) = (false, false);
    for _ in 0..2 {
        match next(&server) {
            Event::Disconnect { sid, .. } => left = *sid == *b.sid,
            Event::BroadcastAckResponse {
                token: t,
                answers,
                error,
            } => {
                assert_eq!((t, error), (token, Some(ClusterError::Abandoned)));
                assert_eq!(sids(&answers), [a.sid.as_str()]);
                answered = true;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(left && answered);
}

#[test]
fn fetch_sockets_describes_the_selected_sockets() {
    let server = start(Config::default());
    let io = server.io();
    let a = Client::connect(&server, "{\"user\":\"ann\"}");
    let b = Client::connect(&server, "");
    io.join(&a.sid, "r").unwrap();
    let token = io.broadcast("/").to("r").fetch_sockets().unwrap();
    match next(&server) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let [s] = &sockets[..] else {
                panic!("{sockets:?}")
            };
            assert_eq!(&*s.id, a.sid);
            assert_eq!(&*s.nsp, "/");
            assert_eq!(s.rooms, rooms(&[&a.sid, "r"]));
            assert_eq!(s.auth, "{\"user\":\"ann\"}");
            assert!(s.handshake.query.contains("q=1"), "{:?}", s.handshake);
            assert_eq!((s.local, s.data.as_deref()), (true, None));
        }
        other => panic!("{other:?}"),
    }
    let token = io.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&server) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let ids = sorted(sockets.iter().map(|s| s.id.to_string()).collect());
            assert_eq!(ids, sorted(vec![a.sid.clone(), b.sid.clone()]));
            let auth_of_b = sockets.iter().find(|s| *s.id == *b.sid).unwrap();
            assert_eq!(auth_of_b.auth, "{}");
        }
        other => panic!("{other:?}"),
    }
    // What the host attaches travels with the socket; what is not JSON is refused.
    io.set_socket_data(&a.sid, Some("{\"name\":\"ann\"}"))
        .unwrap();
    assert!(matches!(
        io.set_socket_data(&b.sid, Some("{name")),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        io.set_socket_data("nobody", None),
        Err(Error::UnknownSocket(_))
    ));
    io.broadcast("/").to("r").fetch_sockets().unwrap();
    match next(&server) {
        Event::FetchSocketsResponse { sockets, .. } => {
            assert_eq!(sockets[0].data.as_deref(), Some("{\"name\":\"ann\"}"));
        }
        other => panic!("{other:?}"),
    }
    io.set_socket_data(&a.sid, None).unwrap();
    io.broadcast("/").to("r").fetch_sockets().unwrap();
    match next(&server) {
        Event::FetchSocketsResponse { sockets, .. } => assert_eq!(sockets[0].data, None),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        io.fetch_sockets("/nope", &Selector::default()),
        Err(Error::UnknownNamespace(_))
    ));
}

#[test]
fn sockets_join_and_leave_by_selector() {
    let server = start(Config::default());
    let io = server.io();
    let (a, b) = (Client::connect(&server, ""), Client::connect(&server, ""));
    io.broadcast("/")
        .to(&*a.sid)
        .sockets_join(["x", "y"])
        .unwrap();
    assert_eq!(io.rooms(&a.sid).unwrap(), rooms(&[&a.sid, "x", "y"]));
    assert_eq!(io.rooms(&b.sid).unwrap(), rooms(&[&b.sid]));
    // everyone but the members of x joins z
    io.broadcast("/").except("x").sockets_join(["z"]).unwrap();
    assert_eq!(io.sockets("/", Some("z")).unwrap(), [b.sid.as_str()]);
    let x = rooms(&["x"]);
    let sel = Selector {
        to: &x,
        ..Default::default()
    };
    io.sockets_leave("/", &sel, ["x"]).unwrap();
    assert_eq!(io.rooms(&a.sid).unwrap(), rooms(&[&a.sid, "y"]));
    io.close_room("/", "y").unwrap();
    assert_eq!(io.rooms(&a.sid).unwrap(), rooms(&[&a.sid]));
    assert_eq!(io.stats("/").unwrap().rooms, 1, "z is left");
}

#[test]
fn disconnect_sockets_by_selector() {
    let server = start(Config::default());
    let io = server.io();
    let (a, b) = (Client::connect(&server, ""), Client::connect(&server, ""));
    io.join(&a.sid, "r").unwrap();
    io.broadcast("/").to("r").disconnect_sockets(false).unwrap();
    assert_eq!(a.get(), "41");
    match next(&server) {
        Event::Disconnect {
            sid, reason, rooms, ..
        } => {
            assert_eq!(*sid, *a.sid);
            assert_eq!(reason, DisconnectReason::ServerNamespaceDisconnect);
            assert_eq!(rooms, [a.sid.as_str(), "r"], "the rooms it left");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(io.sockets("/", None).unwrap(), [b.sid.as_str()]);
    assert_eq!(
        io.stats("/").unwrap().rooms,
        0,
        "r went with its last member"
    );
    // with the whole connection
    io.disconnect_sockets("/", &Selector::default(), true)
        .unwrap();
    assert!(matches!(next(&server), Event::Disconnect { .. }));
    assert_eq!(io.stats("/").unwrap().sockets, 0);
}

#[test]
fn a_single_server_counts_one_and_has_no_one_to_emit_to() {
    let server = start(Config::default());
    let io = server.io();
    io.server_side_emit("/", "hello", &Payload::one(1)).unwrap();
    let token = io
        .server_side_emit_with_ack("/", "hello", &Payload::empty(), WAIT)
        .unwrap();
    match next(&server) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => assert_eq!((t, answers.len()), (token, 0)),
        other => panic!("{other:?}"),
    }
    let token = io.server_count("/").unwrap();
    match next(&server) {
        Event::ServerCountResponse { token: t, result } => {
            assert_eq!((t, result), (token, Ok(1)))
        }
        other => panic!("{other:?}"),
    }
    quiet(&server, Duration::from_millis(100));
    assert_eq!(
        io.server_side_ack(12345, &Payload::empty()),
        Err(Error::UnknownRequest(12345))
    );
    assert!(matches!(
        io.server_count("/nope"),
        Err(Error::UnknownNamespace(_))
    ));
    server.stop();
    assert_eq!(io.server_count("/"), Err(Error::Stopped));
}

/// Counts what the server asks of its adapters.
#[derive(Default)]
struct Lifecycle {
    created: Mutex<Vec<String>>,
    inits: AtomicUsize,
    closes: AtomicUsize,
    fail_init: bool,
}

struct Watched {
    local: LocalAdapter,
    life: Arc<Lifecycle>,
}

impl Adapter for Watched {
    fn local(&self) -> &LocalAdapter {
        &self.local
    }
    fn init(self: Arc<Self>) -> AdapterFuture<Result<(), String>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if self.life.fail_init {
                return Err("broker unreachable".into());
            }
            self.life.inits.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    }
    fn close(self: Arc<Self>) -> AdapterFuture<()> {
        Box::pin(async move {
            self.life.closes.fetch_add(1, Ordering::SeqCst);
        })
    }
}

/// Makes [`Watched`] adapters.
struct Factory(Arc<Lifecycle>);

impl AdapterFactory for Factory {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        self.0.created.lock().unwrap().push(ctx.nsp().to_string());
        Arc::new(Watched {
            local: LocalAdapter::new(&ctx),
            life: self.0.clone(),
        })
    }
}

#[test]
fn adapters_are_made_per_namespace_ready_before_start_and_closed_at_stop() {
    let life = Arc::new(Lifecycle::default());
    let server = start(
        Config::default()
            .namespace("/admin", false)
            .adapter(Arc::new(Factory(life.clone()))),
    );
    assert_eq!(
        sorted(life.created.lock().unwrap().clone()),
        ["/", "/admin"]
    );
    assert_eq!(life.inits.load(Ordering::SeqCst), 2, "awaited by start");
    let io = server.io();
    io.add_namespace("/later", false).unwrap();
    assert_eq!(life.created.lock().unwrap().len(), 3);
    // the adapter serves the namespace: rooms go through it
    let a = Client::connect(&server, "");
    io.join(&a.sid, "r").unwrap();
    assert_eq!(io.stats("/").unwrap().rooms, 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(life.inits.load(Ordering::SeqCst), 3, "spawned for /later");
    server.stop();
    assert_eq!(life.closes.load(Ordering::SeqCst), 3);

    let failing = Arc::new(Lifecycle {
        fail_init: true,
        ..Default::default()
    });
    match Server::start(Config::default().adapter(Arc::new(Factory(failing)))) {
        Err(Error::Io(m)) => assert!(m.contains("broker unreachable") && m.contains("/"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the start should fail"),
    }
}

#[test]
fn dynamic_namespaces_get_an_adapter_closed_when_they_go() {
    let life = Arc::new(Lifecycle::default());
    let server = start(Config {
        dynamic_namespaces: true,
        ..Config::default().adapter(Arc::new(Factory(life.clone())))
    });
    let io = server.io();
    let a = Client::connect(&server, "");
    a.post("40/dyn,");
    match next(&server) {
        Event::ConnectRequest { request, .. } => io.reject(request, "no", None).unwrap(),
        other => panic!("{other:?}"),
    }
    assert!(a.get().starts_with("44/dyn,"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(*life.created.lock().unwrap(), ["/", "/dyn"]);
    assert_eq!(life.inits.load(Ordering::SeqCst), 2);
    assert_eq!(
        life.closes.load(Ordering::SeqCst),
        1,
        "the refused namespace went"
    );
}

#[test]
fn cleanup_empty_child_namespaces_removes_a_dynamic_namespace_once_its_last_socket_left() {
    for cleanup in [true, false] {
        let life = Arc::new(Lifecycle::default());
        let server = start(Config {
            dynamic_namespaces: true,
            cleanup_empty_child_namespaces: cleanup,
            ..Config::default().adapter(Arc::new(Factory(life.clone())))
        });
        let io = server.io();
        let a = Client::connect(&server, "");
        a.post("40/dyn,");
        match next(&server) {
            Event::ConnectRequest { request, .. } => io.accept(request).unwrap(),
            other => panic!("{other:?}"),
        }
        assert!(a.get().starts_with("40/dyn,"));
        assert!(matches!(next(&server), Event::Connect { .. }));
        assert!(io.namespaces().unwrap().contains(&"/dyn".to_string()));
        a.post("41/dyn,");
        assert!(matches!(next(&server), Event::Disconnect { .. }));
        let deadline = std::time::Instant::now() + WAIT;
        let closed = || life.closes.load(Ordering::SeqCst) == 1;
        while cleanup && !closed() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(closed(), cleanup, "the adapter of /dyn closed: {cleanup}");
        assert_eq!(
            io.namespaces().unwrap().contains(&"/dyn".to_string()),
            !cleanup,
            "/dyn still there"
        );
        server.stop();
    }
}

/// Servers of one "cluster" in this process: each namespace's adapters, by server.
#[derive(Default, Clone)]
struct Bus(Arc<Mutex<Vec<Weak<BusAdapter>>>>);

/// A cluster adapter over [`Bus`]: what a Redis adapter does over pub/sub, with direct
/// calls instead of messages.
struct BusAdapter {
    local: LocalAdapter,
    ctx: AdapterContext,
    bus: Bus,
}

impl BusAdapter {
    /// The adapters of the same namespace on the other servers.
    fn others(&self) -> Vec<Arc<BusAdapter>> {
        let all = self.bus.0.lock().unwrap();
        all.iter()
            .filter_map(Weak::upgrade)
            .filter(|o| o.ctx.nsp() == self.ctx.nsp() && !std::ptr::eq(&**o, self))
            .collect()
    }
}

impl AdapterFactory for Bus {
    fn create(&self, ctx: AdapterContext) -> Arc<dyn Adapter> {
        Arc::new(BusAdapter {
            local: LocalAdapter::new(&ctx),
            ctx,
            bus: self.clone(),
        })
    }
}

impl Adapter for BusAdapter {
    fn local(&self) -> &LocalAdapter {
        &self.local
    }
    fn init(self: Arc<Self>) -> AdapterFuture<Result<(), String>> {
        self.bus.0.lock().unwrap().push(Arc::downgrade(&self));
        Box::pin(async { Ok(()) })
    }
    fn close(self: Arc<Self>) -> AdapterFuture<()> {
        let me = Arc::downgrade(&self);
        self.bus.0.lock().unwrap().retain(|o| !o.ptr_eq(&me));
        Box::pin(async {})
    }
    fn broadcast(&self, packet: &OutPacket<'_>, sel: &rtio::adapter::Selector<'_>) -> usize {
        if !sel.local {
            for o in self.others() {
                o.local.broadcast(packet, sel);
            }
        }
        self.local.broadcast(packet, sel)
    }
    fn broadcast_with_ack(
        &self,
        packet: &OutPacket<'_>,
        sel: &Selector<'_>,
        timeout: Duration,
        acks: Reply<AckAnswer>,
    ) {
        let others = self.others();
        acks.expect_nodes(1 + others.len());
        for o in others {
            let reached = o
                .local
                .broadcast_with_ack(packet, sel, timeout, acks.sink());
            acks.node_reply(Vec::new(), reached);
        }
        let reached = self
            .local
            .broadcast_with_ack(packet, sel, timeout, acks.sink());
        acks.node_reply(Vec::new(), reached);
    }
    fn add_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        for o in self.others() {
            o.local.add_sockets(sel, rooms);
        }
        self.local.add_sockets(sel, rooms);
    }
    fn del_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        for o in self.others() {
            o.local.del_sockets(sel, rooms);
        }
        self.local.del_sockets(sel, rooms);
    }
    fn disconnect_sockets(&self, sel: &Selector<'_>, close: bool) {
        for o in self.others() {
            o.local.disconnect_sockets(sel, close);
        }
        self.local.disconnect_sockets(sel, close);
    }
    fn fetch_sockets(&self, sel: &Selector<'_>, reply: Reply<SocketInfo>) {
        let others = self.others();
        reply.expect_nodes(1 + others.len());
        reply.node_reply(self.local.fetch_sockets(sel), 0);
        for o in others {
            let mut theirs = o.local.fetch_sockets(sel);
            for s in &mut theirs {
                s.local = false;
            }
            reply.node_reply(theirs, 0);
        }
    }
    fn server_side_emit(&self, event: &str, payload: &Payload, acks: Option<Reply<Payload>>) {
        let others = self.others();
        if let Some(acks) = &acks {
            acks.expect_nodes(others.len());
        }
        for o in others {
            let ack = acks.clone().map(|acks| {
                Box::new(move |answer: Payload| acks.node_reply(vec![answer], 0)) as ServerAck
            });
            o.ctx
                .server_side_emit(event.to_string(), payload.clone(), ack);
        }
    }
    fn server_count(&self, reply: Reply<usize>) {
        reply.expect_nodes(1);
        reply.node_reply(vec![1 + self.others().len()], 0);
    }
}

#[test]
fn an_adapter_outside_the_crate_distributes_every_operation() {
    let bus = Bus::default();
    let one = start(Config::default().adapter(Arc::new(bus.clone())));
    let two = start(Config::default().adapter(Arc::new(bus.clone())));
    let (io1, io2) = (one.io(), two.io());
    let c1 = Client::connect(&one, "");
    let c2 = Client::connect(&two, "{\"n\":2}");
    io2.join(&c2.sid, "r").unwrap();

    // a broadcast from one reaches the room's members on two
    let here = io1
        .broadcast("/")
        .to("r")
        .emit("news", &Payload::one(1))
        .unwrap();
    assert_eq!(here, 0, "the count is this server's");
    assert_eq!(c2.get(), "42[\"news\",1]");
    // unless it is local
    io1.broadcast("/")
        .local()
        .emit("x", &Payload::empty())
        .unwrap();
    assert_eq!(c1.get(), "42[\"x\"]");

    let token = io1.server_count("/").unwrap();
    assert!(
        matches!(next(&one), Event::ServerCountResponse { token: t, result: Ok(2) } if t == token)
    );

    let token = io1.fetch_sockets("/", &Selector::default()).unwrap();
    match next(&one) {
        Event::FetchSocketsResponse {
            token: t,
            sockets,
            error: None,
        } => {
            assert_eq!(t, token);
            let mut seen: Vec<_> = sockets
                .iter()
                .map(|s| (s.id.to_string(), s.local, s.auth.clone()))
                .collect();
            seen.sort_by_key(|s| !s.1);
            assert_eq!(
                seen,
                [
                    (c1.sid.clone(), true, "{}".to_string()),
                    (c2.sid.clone(), false, "{\"n\":2}".to_string())
                ]
            );
        }
        other => panic!("{other:?}"),
    }

    // server-side emits reach the other hosts, whose answers come back
    io1.server_side_emit("/", "hello", &Payload::one("all"))
        .unwrap();
    match next(&two) {
        Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack: None,
        } => assert_eq!(
            (&*nsp, &*event, payload.json()),
            ("/", "hello", "[\"all\"]")
        ),
        other => panic!("{other:?}"),
    }
    let token = io1
        .server_side_emit_with_ack("/", "ping", &Payload::empty(), WAIT)
        .unwrap();
    let ack = match next(&two) {
        Event::ServerSideEmit { ack: Some(ack), .. } => ack,
        other => panic!("{other:?}"),
    };
    io2.server_side_ack(ack, &Payload::one("pong")).unwrap();
    assert_eq!(
        io2.server_side_ack(ack, &Payload::one("again")),
        Err(Error::UnknownRequest(ack))
    );
    match next(&one) {
        Event::ServerSideAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            assert_eq!(answers, [Payload::one("pong")]);
        }
        other => panic!("{other:?}"),
    }

    // acks from the sockets of both servers come back in one event
    let token = io1
        .broadcast("/")
        .emit_with_ack("q", &Payload::empty(), WAIT)
        .unwrap();
    assert_eq!(c1.get(), "420[\"q\"]");
    assert_eq!(c2.get(), "420[\"q\"]");
    c1.post("430[1]");
    c2.post("430[2]");
    match next(&one) {
        Event::BroadcastAckResponse {
            token: t,
            answers,
            error: None,
        } => {
            assert_eq!(t, token);
            assert_eq!(sids(&answers), sorted(vec![c1.sid.clone(), c2.sid.clone()]));
        }
        other => panic!("{other:?}"),
    }

    // rooms and disconnects by selector, across servers
    io1.broadcast("/").to("r").sockets_join(["z"]).unwrap();
    assert_eq!(io2.rooms(&c2.sid).unwrap(), rooms(&[&c2.sid, "r", "z"]));
    io1.close_room("/", "z").unwrap();
    assert_eq!(io2.rooms(&c2.sid).unwrap(), rooms(&[&c2.sid, "r"]));
    io1.broadcast("/")
        .to(&*c2.sid)
        .disconnect_sockets(false)
        .unwrap();
    assert_eq!(c2.get(), "41");
    assert!(matches!(next(&two), Event::Disconnect { sid, .. } if *sid == *c2.sid));

    // a stopped server leaves the cluster (its adapters closed)
    two.stop();
    let token = io1.server_count("/").unwrap();
    assert!(
        matches!(next(&one), Event::ServerCountResponse { token: t, result: Ok(1) } if t == token)
    );
}
