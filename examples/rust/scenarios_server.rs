//! The Rust scenarios server: every behaviour of `shared/SCENARIOS.md`, written as a user
//! of rtio's public API would write it. Run it through `tests/interop/scenarios-server rust`.
//!
//! With `--redis URL` (and `--redis-key PREFIX`, `--redis-sharded`) it joins a Socket.IO
//! cluster through Redis with `rtio_redis`'s adapter, wire-compatible with Node's
//! `@socket.io/redis-adapter`; the cluster rows work without it too, on one server.
//!
//! With `--engineio-echo` it is instead a plain Engine.IO server at `/engine.io/` that sends
//! every message back to its sender.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rtio::engineio::packet::Frame;
use rtio::engineio::{CloseReason, EngineHandler, EngineServer, Message, Session};
use rtio::{
    AckAnswer, ClusterError, Config, CorsOrigins, Event, Io, Payload, RequestAnswer, RequestInfo,
    Selector, Server,
};
use rtio_redis::adapter::{redis_adapter, RedisAdapterOptions, Variant};
use serde_json::{json, Value};

/// How long a request to the other servers of the cluster waits for their answers (Node's
/// `requestsTimeout` is 5 s): short, so that a node that stopped answering costs 2 s.
const REQUESTS_TIMEOUT: Duration = Duration::from_secs(2);

struct Options {
    config: Config,
    visits: bool,
    engineio_echo: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut config = Config::default()
        .host("127.0.0.1")
        .namespace("/custom", false)
        .namespace("/admin", true)
        // The contract: any origin, with credentials (socket.io's default is none).
        .cors(CorsOrigins::Any)
        .cors_credentials(true)
        // The request gate refuses handshakes that ask for it (`?deny=1`), so that the
        // suites can check what a refused client sees.
        .request_gate(true)
        .static_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../web"));
    let mut visits = true;
    let mut engineio_echo = false;
    let mut redis: Option<RedisAdapterOptions> = None;
    let mut redis_key = None;
    let mut redis_sharded = false;
    let (mut tls_cert, mut tls_key) = (None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            args.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number"))
        };
        match flag.as_str() {
            "--port" => config.port = value("--port")? as u16,
            "--ping-interval" => config.ping_interval = Duration::from_millis(value(&flag)?),
            "--ping-timeout" => config.ping_timeout = Duration::from_millis(value(&flag)?),
            "--connect-timeout" => config.connect_timeout = Duration::from_millis(value(&flag)?),
            "--max-payload" => config.max_payload = value(&flag)? as usize,
            "--no-visits" => visits = false,
            "--engineio-echo" => engineio_echo = true,
            "--redis" => {
                redis = Some(RedisAdapterOptions::new(
                    args.next().ok_or("--redis needs a URL")?,
                ))
            }
            "--redis-key" => redis_key = Some(args.next().ok_or("--redis-key needs a prefix")?),
            "--redis-sharded" => redis_sharded = true,
            "--recovery" => {
                config = config.recovery(rtio::Recovery {
                    max_disconnection: Duration::from_millis(value(&flag)?),
                    skip_middlewares: true,
                })
            }
            "--cookie" => {
                config = config.cookie(rtio::Cookie::new(
                    args.next().ok_or("--cookie needs a name")?,
                ))
            }
            "--parser" => match args.next().as_deref() {
                Some("msgpack") => config = config.parser(rtio::Parser::Msgpack),
                other => return Err(format!("--parser: only msgpack is known, got {other:?}")),
            },
            "--per-message-deflate" => config = config.per_message_deflate(Some(0)),
            "--eio3" => config = config.allow_eio3(true),
            "--tls-cert" => tls_cert = Some(args.next().ok_or("--tls-cert needs a file")?),
            "--tls-key" => tls_key = Some(args.next().ok_or("--tls-key needs a file")?),
            "--client-bundle" => {
                config.client_bundle =
                    Some(args.next().ok_or("--client-bundle needs a path")?.into())
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => config = config.tls(cert, key),
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".into()),
    }
    match redis {
        Some(mut options) => {
            if let Some(key) = redis_key {
                options.key = key;
            }
            if redis_sharded {
                options.variant = Variant::Sharded;
            }
            options.requests_timeout = REQUESTS_TIMEOUT;
            let factory = redis_adapter(options).map_err(|e| format!("--redis: {e}"))?;
            config = config.adapter(factory).cluster_timeout(REQUESTS_TIMEOUT);
        }
        None if redis_key.is_some() || redis_sharded => {
            return Err("--redis-key and --redis-sharded need --redis".into())
        }
        None => {}
    }
    Ok(Options {
        config,
        visits,
        engineio_echo,
    })
}

/// What the main namespace remembers between events: which socket asked which question,
/// how many sockets it has seen connect and not yet leave (the visitor count, which
/// follows the events in the order they are handled, as seed 000's `totalUsers` does), and
/// which client request each cluster operation in flight answers (by the token its `Io`
/// call returned; the result arrives as an event carrying it).
#[derive(Default)]
struct State {
    questions: HashMap<u64, Arc<str>>,
    visitors: usize,
    /// Sockets of `/` that came back with connection state recovery (`is-recovered`).
    recovered: std::collections::HashSet<Arc<str>>,
    cluster: HashMap<u64, Pending>,
    /// `cluster-stats` requests waiting for their two answers, by the fetch's token.
    stats: HashMap<u64, ClusterStats>,
}

/// The client's ack that a cluster operation's result answers.
struct Reply {
    sid: Arc<str>,
    ack: u64,
}

/// A cluster operation in flight, by the token of its `Io` call.
enum Pending {
    /// `cluster-stats`: the fetch of every socket on `/` (the key of `State::stats`).
    StatsSockets,
    /// `cluster-stats`: the server count; the value is the fetch's token.
    StatsServers(u64),
    /// `room-sockets`.
    RoomSockets(Reply),
    /// `server-side-ping`.
    Ping(Reply),
    /// `broadcast-with-ack`.
    BroadcastAck(Reply),
}

/// A `cluster-stats` request: answered once both the fetch and the count came.
struct ClusterStats {
    reply: Reply,
    sockets: Option<Result<usize, ClusterError>>,
    servers: Option<Result<usize, ClusterError>>,
}

fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&Value::Null)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `data` as one argument, keeping the binary attachments its placeholders point to.
fn arg_with_binary(data: &Value, from: &Payload) -> Payload {
    Payload::from_values(std::slice::from_ref(data)).with_attachments(from.attachments().to_vec())
}

fn send_visits(io: &Io, count: usize) -> Result<(), rtio::Error> {
    io.broadcast("/").emit("visits", &Payload::one(count))?;
    Ok(())
}

/// The request gate: a handshake whose query has `deny=1` is refused.
fn gate(info: &RequestInfo) -> RequestAnswer {
    if info.query().split('&').any(|pair| pair == "deny=1") {
        RequestAnswer::deny(403, "denied by the request gate")
    } else {
        RequestAnswer::allow()
    }
}

fn on_main_message(
    io: &Io,
    state: &mut State,
    sid: &Arc<str>,
    event: &str,
    payload: Payload,
    ack: Option<u64>,
) -> Result<(), String> {
    // Parsed when an event needs it (an echo passes its payload through unparsed).
    let data = std::cell::LazyCell::new(|| payload.first());
    let reply = |value: Value| -> Result<(), String> {
        let id = ack.ok_or(format!("{event} needs an ack"))?;
        io.ack(sid, id, &Payload::one(value))
            .map_err(|e| e.to_string())
    };
    let err = |e: rtio::Error| e.to_string();
    match event {
        "message" => io.emit(sid, "message-back", &payload).map_err(err)?,
        "message-with-ack" => {
            let id = ack.ok_or("message-with-ack needs an ack")?;
            io.ack(sid, id, &payload).map_err(err)?;
        }
        "toServer" => {
            let line = Payload::one(format!(
                "{}:{}",
                text(field(&data, "nome")),
                text(field(&data, "msg"))
            ));
            io.emit(sid, "toClient", &line).map_err(err)?;
            io.broadcast("/")
                .skip(&**sid)
                .emit("toClient", &line)
                .map_err(err)?;
        }
        "client:created:job" => {
            io.broadcast("/")
                .emit("server:created:job", &payload)
                .map_err(err)?;
        }
        "whoami" => reply(json!(&**sid))?,
        "is-recovered" => reply(json!(state.recovered.contains(sid)))?,
        "join" => {
            io.join(sid, &text(&data)).map_err(err)?;
            reply(json!(true))?;
        }
        "leave" => {
            io.leave(sid, &text(&data)).map_err(err)?;
            reply(json!(true))?;
        }
        "to-room" | "to-room-except-me" => {
            let mut target = io.broadcast("/").to(text(field(&data, "room")));
            if event == "to-room-except-me" {
                target = target.skip(&**sid);
            }
            let out = arg_with_binary(field(&data, "data"), &payload);
            target
                .emit(&text(field(&data, "event")), &out)
                .map_err(err)?;
        }
        "broadcast" => {
            io.broadcast("/")
                .skip(&**sid)
                .emit("broadcast", &payload)
                .map_err(err)?;
        }
        "fanout" => {
            let out = arg_with_binary(field(&data, "data"), &payload);
            io.broadcast("/")
                .emit(&text(field(&data, "event")), &out)
                .map_err(err)?;
        }
        "ask" => {
            let timeout =
                Duration::from_millis(field(&data, "timeout_ms").as_u64().unwrap_or(5000));
            let question = Payload::one(field(&data, "question").clone());
            let token = io
                .emit_with_ack(sid, "question", &question, timeout)
                .map_err(err)?;
            state.questions.insert(token, sid.clone());
        }
        "later" => {
            // Emitting from a thread that is not an rtio handler.
            let io = io.clone();
            let sid = sid.clone();
            let ms = field(&data, "ms").as_u64().unwrap_or(0);
            let name = text(field(&data, "event"));
            let out = arg_with_binary(field(&data, "data"), &payload);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(ms));
                if let Err(e) = io.emit(&sid, &name, &out) {
                    eprintln!("later: {e}");
                }
            });
        }
        "kick-me" => io.disconnect(sid, true).map_err(err)?,
        "throw" => return Err("the client asked this handler to fail (\"throw\")".into()),
        "stats" => {
            let stats = io.stats("/").map_err(err)?;
            reply(json!({"sockets": stats.sockets, "rooms": stats.rooms}))?;
        }
        // --- the cluster rows (on one server without --redis) -----------------------------
        "cluster-stats" | "room-sockets" | "server-side-ping" | "broadcast-with-ack" => {
            let id = ack.ok_or(format!("{event} needs an ack"))?;
            let me = Reply {
                sid: sid.clone(),
                ack: id,
            };
            match event {
                "cluster-stats" => {
                    let fetch = io.fetch_sockets("/", &Selector::default()).map_err(err)?;
                    let count = io.server_count("/").map_err(err)?;
                    state.cluster.insert(fetch, Pending::StatsSockets);
                    state.cluster.insert(count, Pending::StatsServers(fetch));
                    let stats = ClusterStats {
                        reply: me,
                        sockets: None,
                        servers: None,
                    };
                    state.stats.insert(fetch, stats);
                }
                "room-sockets" => {
                    let token = io.broadcast("/").to(text(&data)).fetch_sockets();
                    state
                        .cluster
                        .insert(token.map_err(err)?, Pending::RoomSockets(me));
                }
                "server-side-ping" => {
                    let token = io.server_side_emit_with_ack(
                        "/",
                        "ping",
                        &Payload::empty(),
                        REQUESTS_TIMEOUT,
                    );
                    state.cluster.insert(token.map_err(err)?, Pending::Ping(me));
                }
                _ => {
                    let timeout = field(&data, "timeout_ms").as_u64().unwrap_or(5000);
                    let out = arg_with_binary(field(&data, "data"), &payload);
                    let token = io.broadcast("/").emit_with_ack(
                        &text(field(&data, "event")),
                        &out,
                        Duration::from_millis(timeout),
                    );
                    state
                        .cluster
                        .insert(token.map_err(err)?, Pending::BroadcastAck(me));
                }
            }
        }
        "sockets-join" | "sockets-leave" => {
            let from = io.broadcast("/").to(text(field(&data, "in")));
            let room = [text(field(&data, "room"))];
            if event == "sockets-join" {
                from.sockets_join(room).map_err(err)?;
            } else {
                from.sockets_leave(room).map_err(err)?;
            }
            reply(json!(true))?;
        }
        "disconnect-in" => io
            .broadcast("/")
            .to(text(&data))
            .disconnect_sockets(true)
            .map_err(err)?,
        "fanout-except" => {
            let out = arg_with_binary(field(&data, "data"), &payload);
            io.broadcast("/")
                .except(text(field(&data, "except")))
                .emit(&text(field(&data, "event")), &out)
                .map_err(err)?;
        }
        "server-side-emit" => {
            // the other servers relay it to their sockets (a single server tells no one)
            let relay = json!({"event": field(&data, "event"), "data": field(&data, "data")});
            io.server_side_emit("/", "relay", &arg_with_binary(&relay, &payload))
                .map_err(err)?;
        }
        _ => {}
    }
    Ok(())
}

/// The message of a cluster operation that did not complete, for the client.
fn failure(error: &ClusterError) -> Value {
    json!({"error": error.to_string()})
}

/// The first argument of each answer (what socket.io's Redis adapter forwards).
fn firsts<'a>(answers: impl IntoIterator<Item = &'a Payload>) -> Vec<Value> {
    answers.into_iter().map(Payload::first).collect()
}

/// Completes a `cluster-stats` request once its two answers came.
fn answer_stats(io: &Io, state: &mut State, fetch: u64) -> Result<(), rtio::Error> {
    let Some(stats) = state.stats.get(&fetch) else {
        return Ok(());
    };
    let (Some(sockets), Some(servers)) = (&stats.sockets, &stats.servers) else {
        return Ok(());
    };
    let answer = match (sockets, servers) {
        (Ok(sockets), Ok(servers)) => json!({"sockets": sockets, "servers": servers}),
        (Err(e), _) | (_, Err(e)) => failure(e),
    };
    let stats = state.stats.remove(&fetch).expect("looked up above");
    io.ack(&stats.reply.sid, stats.reply.ack, &Payload::one(answer))
}

/// The results of the cluster operations: each answers the client request that started it.
fn on_cluster_result(io: &Io, state: &mut State, event: Event) -> Result<(), rtio::Error> {
    let answer = |reply: Reply, value: Value| io.ack(&reply.sid, reply.ack, &Payload::one(value));
    match event {
        Event::FetchSocketsResponse {
            token,
            sockets,
            error,
        } => match state.cluster.remove(&token) {
            Some(Pending::StatsSockets) => {
                if let Some(stats) = state.stats.get_mut(&token) {
                    stats.sockets = Some(error.map_or(Ok(sockets.len()), Err));
                }
                answer_stats(io, state, token)?;
            }
            Some(Pending::RoomSockets(reply)) => {
                let value = match error {
                    Some(e) => failure(&e),
                    None => {
                        let mut ids: Vec<&str> = sockets.iter().map(|s| &*s.id).collect();
                        ids.sort_unstable();
                        json!(ids)
                    }
                };
                answer(reply, value)?;
            }
            _ => {}
        },
        Event::ServerCountResponse { token, result } => {
            if let Some(Pending::StatsServers(fetch)) = state.cluster.remove(&token) {
                if let Some(stats) = state.stats.get_mut(&fetch) {
                    stats.servers = Some(result);
                }
                answer_stats(io, state, fetch)?;
            }
        }
        Event::ServerSideAckResponse {
            token,
            answers,
            error,
        } => {
            if let Some(Pending::Ping(reply)) = state.cluster.remove(&token) {
                let value = json!({"ok": error.is_none(), "responses": firsts(&answers)});
                answer(reply, value)?;
            }
        }
        Event::BroadcastAckResponse {
            token,
            answers,
            error,
        } => {
            if let Some(Pending::BroadcastAck(reply)) = state.cluster.remove(&token) {
                let payloads = answers.iter().map(|a: &AckAnswer| &a.payload);
                let value = json!({"ok": error.is_none(), "responses": firsts(payloads)});
                answer(reply, value)?;
            }
        }
        // Sent by the other servers (or the emitter's serverSideEmit).
        Event::ServerSideEmit {
            nsp,
            event,
            payload,
            ack,
        } if &*nsp == "/" => match (event.as_str(), ack) {
            ("relay", _) => {
                let relay = payload.first();
                let out = arg_with_binary(field(&relay, "data"), &payload);
                // this server's sockets only
                io.broadcast("/")
                    .local()
                    .emit(&text(field(&relay, "event")), &out)?;
            }
            ("ping", Some(ack)) => {
                let sockets = io.stats("/")?.sockets;
                io.server_side_ack(ack, &Payload::one(sockets))?;
            }
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

fn on_event(io: &Io, state: &mut State, visits: bool, event: Event) -> Result<(), String> {
    let err = |e: rtio::Error| e.to_string();
    match event {
        Event::ConnectRequest { request, auth, .. } => {
            let auth: Value = serde_json::from_str(&auth).unwrap_or(Value::Null);
            if auth == json!({"token": "secret"}) {
                io.accept(request).map_err(err)?;
            } else {
                io.reject(request, "unauthorized", None).map_err(err)?;
            }
        }
        Event::Connect {
            sid,
            nsp,
            auth,
            recovered,
            ..
        } => {
            if recovered {
                state.recovered.insert(sid.clone());
            }
            let auth = Payload::from_json(format!("[{auth}]")).map_err(|e| e.to_string())?;
            match &*nsp {
                "/" => {
                    io.emit(&sid, "auth", &auth).map_err(err)?;
                    state.visitors += 1;
                    if visits {
                        send_visits(io, state.visitors).map_err(err)?;
                    }
                }
                "/custom" => io.emit(&sid, "auth", &auth).map_err(err)?,
                "/admin" => io
                    .emit(&sid, "admin-hello", &Payload::one(json!({"id": &*sid})))
                    .map_err(err)?,
                _ => {}
            }
        }
        Event::Request { request, info } => io.answer_request(request, gate(&info)).map_err(err)?,
        Event::Disconnect { sid, nsp, .. } if &*nsp == "/" => {
            state.recovered.remove(&sid);
            state.visitors -= 1;
            if visits {
                send_visits(io, state.visitors).map_err(err)?;
            }
        }
        Event::Message {
            sid,
            nsp,
            event,
            payload,
            ack,
        } => match &*nsp {
            "/" => on_main_message(io, state, &sid, &event, payload, ack)?,
            "/admin" if event == "broadcast-main" => {
                io.broadcast("/")
                    .emit("announcement", &payload)
                    .map_err(err)?;
            }
            _ => {}
        },
        Event::AckResponse { token, result, .. } => {
            if let Some(sid) = state.questions.remove(&token) {
                let answer = match result {
                    Ok(args) => arg_with_binary(&json!({"ok": true, "value": args.first()}), &args),
                    Err(_) => Payload::one(json!({"ok": false, "error": "timeout"})),
                };
                // The socket may have left meanwhile; then there is no one to answer.
                let _ = io.emit(&sid, "answer", &answer);
            }
        }
        // (it serves on its own listener: it hands no request over)
        Event::Disconnect { .. }
        | Event::HttpResponse { .. }
        | Event::WebSocketAnswer { .. }
        | Event::WebSocketSend { .. }
        | Event::WebSocketClose { .. } => {}
        Event::BroadcastAckResponse { .. }
        | Event::FetchSocketsResponse { .. }
        | Event::ServerSideEmit { .. }
        | Event::ServerSideAckResponse { .. }
        | Event::ServerCountResponse { .. } => {
            // the client that asked may have left meanwhile: then there is no one to answer
            if let Err(e) = on_cluster_result(io, state, event) {
                eprintln!("cluster result: {e}");
            }
        }
    }
    Ok(())
}

/// Stops the server on SIGTERM or SIGINT.
fn stop_on_signal(stop: impl FnOnce() + Send + 'static) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT]).expect("signals");
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            stop();
        }
    });
}

fn run_scenarios(options: Options) -> Result<(), String> {
    let server = Server::start(options.config).map_err(|e| e.to_string())?;
    println!("READY {}", server.local_addr().port());
    let io = server.io();
    let stopper = io.clone();
    stop_on_signal(move || stopper.stop());
    let mut state = State::default();
    while let Ok(event) = server.events().recv() {
        if let Err(e) = on_event(&io, &mut state, options.visits, event) {
            eprintln!("handler error: {e}");
        }
    }
    Ok(())
}

/// Plain Engine.IO: every message goes back to its sender.
struct Echo;

impl EngineHandler for Echo {
    type Conn = ();

    fn on_open(&self, _session: &Arc<Session>) {}

    async fn on_message(&self, session: &Arc<Session>, _conn: &(), message: Message) {
        let frame = match message {
            Message::Text(t) => Frame::message(std::str::from_utf8(&t).unwrap_or_default()),
            Message::Binary(b) => Frame::Binary(b),
        };
        session.send(&[frame]);
    }

    async fn on_close(&self, _session: &Arc<Session>, _conn: &(), _reason: CloseReason) {}
}

fn run_echo(options: Options) -> Result<(), String> {
    let config = options.config.path("/engine.io/");
    let mut server = EngineServer::start(config, |_| Echo).map_err(|e| e.to_string())?;
    println!("READY {}", server.local_addr().port());
    let (tx, rx) = std::sync::mpsc::channel();
    stop_on_signal(move || {
        let _ = tx.send(());
    });
    let _ = rx.recv();
    server.stop();
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scenarios-server: {e}");
            return ExitCode::from(2);
        }
    };
    let result = if options.engineio_echo {
        run_echo(options)
    } else {
        run_scenarios(options)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scenarios-server: {e}");
            ExitCode::FAILURE
        }
    }
}
