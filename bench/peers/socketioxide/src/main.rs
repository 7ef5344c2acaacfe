//! The scenarios server of `shared/SCENARIOS.md` written with socketioxide (crates.io), the way
//! its documentation shows: a `SocketIoLayer` on an axum `Router`, handlers as async closures
//! with extractors. It is one of rtio-bench's reference servers (`tests/interop/hosts/socketioxide`).
//!
//!   socketioxide-scenarios-server [--port N] [--ping-interval MS] [--ping-timeout MS]
//!                                 [--max-payload BYTES] [--connect-timeout MS] [--no-visits]
//!
//! Namespace `/`: every row the benchmark uses (`fanout`, `message`, `message-with-ack`,
//! `broadcast`, `whoami`, `join`, `leave`, `to-room`, `to-room-except-me`, `stats`, visits) and
//! a few more; `/custom` and `/admin`. Not implemented: the cluster (`--redis`) and the protocol
//! options (`--per-message-deflate`, `--eio3`, ...), refused with exit code 2.
//!
//! socketioxide hands a handler one typed value per event (`Data<T>`: the first argument, or a
//! tuple of fixed arity), so `message` and `message-with-ack` echo their first argument only
//! (`rmpv::Value`, which keeps binaries as binaries): what the benchmark sends.
//!
//! Prints `READY <port>` on stdout once listening; logs go to stderr. SIGTERM or SIGINT closes
//! every socket (`io.close()`) and exits 0.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::response::Html;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef, State, TryData};
use socketioxide::handler::ConnectHandler;
use tower_http::cors::CorsLayer;

struct Options {
    port: u16,
    ping_interval: u64,
    ping_timeout: u64,
    max_payload: u64,
    connect_timeout: u64,
    visits: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        port: 0,
        ping_interval: 25_000,
        ping_timeout: 20_000,
        max_payload: 1_000_000,
        connect_timeout: 45_000,
        visits: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--no-visits" {
            options.visits = false;
            continue;
        }
        let mut value = |name: &str| -> Result<u64, String> {
            let text = args.next().ok_or(format!("{name}: a value is missing"))?;
            text.parse()
                .map_err(|_| format!("{name}: expected a non-negative integer, got {text:?}"))
        };
        match flag.as_str() {
            "--port" => {
                options.port = u16::try_from(value("--port")?).map_err(|_| "--port: too large")?
            }
            "--ping-interval" => options.ping_interval = value("--ping-interval")?,
            "--ping-timeout" => options.ping_timeout = value("--ping-timeout")?,
            "--max-payload" => options.max_payload = value("--max-payload")?,
            "--connect-timeout" => options.connect_timeout = value("--connect-timeout")?,
            other => return Err(format!("{other}: not supported by the socketioxide server")),
        }
    }
    Ok(options)
}

/// Sockets connected to `/`, counted by the connect and disconnect handlers (seed 000's
/// `totalUsers++` / `totalUsers--`).
#[derive(Clone, Default)]
struct Visits(Arc<AtomicUsize>);

#[derive(Clone, Copy)]
struct VisitsOn(bool);

// Event data passes through as `rmpv::Value` (the docs' advice: unlike `serde_json::Value`, it
// keeps binary attachments as binaries).
type Any = rmpv::Value;

#[derive(Deserialize)]
struct Fanout {
    event: String,
    data: Any,
}

#[derive(Deserialize)]
struct ToRoom {
    room: String,
    event: String,
    data: Any,
}

#[derive(Serialize)]
struct Answer {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<Any>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

#[derive(Deserialize)]
struct Ask {
    question: Any,
    timeout_ms: u64,
}

#[derive(Deserialize)]
struct Chat {
    nome: Value,
    msg: Value,
}

#[derive(Deserialize)]
struct Later {
    ms: u64,
    event: String,
    data: Any,
}

/// `nome + ":" + msg` as JavaScript would concatenate them (strings without quotes).
fn js_string(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

async fn on_main(
    socket: SocketRef,
    io: SocketIo,
    Data(auth): Data<Value>,
    State(visits): State<Visits>,
    State(VisitsOn(visits_on)): State<VisitsOn>,
) {
    socket.emit("auth", &auth).ok();
    let count = visits.0.fetch_add(1, Ordering::SeqCst) + 1;
    if visits_on {
        io.emit("visits", &count).await.ok();
    }

    socket.on_disconnect(
        async |io: SocketIo, State(visits): State<Visits>, State(VisitsOn(on)): State<VisitsOn>| {
            let count = visits.0.fetch_sub(1, Ordering::SeqCst) - 1;
            if on {
                io.emit("visits", &count).await.ok();
            }
        },
    );

    socket.on(
        "message",
        async |socket: SocketRef, Data(data): Data<Any>| {
            socket.emit("message-back", &data).ok();
        },
    );

    socket.on(
        "message-with-ack",
        async |Data(data): Data<Any>, ack: AckSender| {
            ack.send(&data).ok();
        },
    );

    socket.on(
        "toServer",
        async |socket: SocketRef, Data(chat): Data<Chat>| {
            let line = format!("{}:{}", js_string(&chat.nome), js_string(&chat.msg));
            socket.emit("toClient", &line).ok();
            socket.broadcast().emit("toClient", &line).await.ok();
        },
    );

    socket.on(
        "client:created:job",
        async |io: SocketIo, Data(data): Data<Any>| {
            io.emit("server:created:job", &data).await.ok();
        },
    );

    socket.on("whoami", async |socket: SocketRef, ack: AckSender| {
        ack.send(&socket.id).ok();
    });

    socket.on(
        "join",
        async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
            socket.join(room);
            ack.send(&true).ok();
        },
    );

    socket.on(
        "leave",
        async |socket: SocketRef, Data(room): Data<String>, ack: AckSender| {
            socket.leave(room);
            ack.send(&true).ok();
        },
    );

    socket.on(
        "to-room",
        async |io: SocketIo, Data(message): Data<ToRoom>| {
            io.to(message.room)
                .emit(&message.event, &message.data)
                .await
                .ok();
        },
    );

    socket.on(
        "to-room-except-me",
        async |socket: SocketRef, Data(message): Data<ToRoom>| {
            socket
                .to(message.room)
                .emit(&message.event, &message.data)
                .await
                .ok();
        },
    );

    socket.on(
        "broadcast",
        async |socket: SocketRef, Data(data): Data<Any>| {
            socket.broadcast().emit("broadcast", &data).await.ok();
        },
    );

    // the benchmark's fan-out: to every socket on `/`, the sender included
    socket.on(
        "fanout",
        async |io: SocketIo, Data(message): Data<Fanout>| {
            io.emit(&message.event, &message.data).await.ok();
        },
    );

    socket.on("ask", async |socket: SocketRef, Data(ask): Data<Ask>| {
        let timeout = Duration::from_millis(ask.timeout_ms);
        let Ok(ack) = socket
            .timeout(timeout)
            .emit_with_ack::<_, Any>("question", &ask.question)
        else {
            return;
        };
        let answer = match ack.await {
            Ok(value) => Answer {
                ok: true,
                value: Some(value),
                error: None,
            },
            Err(_) => Answer {
                ok: false,
                value: None,
                error: Some("timeout"),
            },
        };
        socket.emit("answer", &answer).ok();
    });

    socket.on(
        "later",
        async |socket: SocketRef, Data(later): Data<Later>| {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(later.ms)).await;
                socket.emit(&later.event, &later.data).ok();
            });
        },
    );

    socket.on("kick-me", async |socket: SocketRef| {
        socket.disconnect().ok();
    });

    // socketioxide's handlers return nothing: a panic is the way one fails. Each message
    // handler runs in a task of its own, so tokio reports the panic on stderr and the
    // socket keeps being served.
    socket.on("throw", async || {
        panic!("thrown on purpose by the \"throw\" scenario");
    });

    socket.on("is-recovered", async |ack: AckSender| {
        ack.send(&false).ok();
    });

    socket.on(
        "stats",
        async |io: SocketIo, ack: AckSender, State(visits): State<Visits>| {
            let rooms = io.rooms().await.map(|rooms| rooms.len()).unwrap_or(0);
            let sockets = visits.0.load(Ordering::SeqCst);
            ack.send(&json!({ "sockets": sockets, "rooms": rooms }))
                .ok();
        },
    );
}

async fn on_custom(socket: SocketRef, Data(auth): Data<Value>) {
    socket.emit("auth", &auth).ok();
}

#[derive(Debug)]
struct Unauthorized;

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unauthorized")
    }
}

async fn admin_only(TryData(auth): TryData<Value>) -> Result<(), Unauthorized> {
    match auth {
        Ok(auth) if auth.get("token").and_then(Value::as_str) == Some("secret") => Ok(()),
        _ => Err(Unauthorized),
    }
}

async fn on_admin(socket: SocketRef) {
    socket.emit("admin-hello", &json!({ "id": socket.id })).ok();
    socket.on(
        "broadcast-main",
        async |io: SocketIo, Data(data): Data<Any>| {
            io.emit("announcement", &data).await.ok();
        },
    );
}

const HOME_PAGE: &str = "<!doctype html>
<html>
  <head><meta charset=\"utf-8\"><title>scenarios server</title></head>
  <body><h1>Scenarios server (reference: socketioxide)</h1></body>
</html>
";

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("socketioxide-scenarios-server: {message}");
            return ExitCode::from(2);
        }
    };

    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(options.ping_interval))
        .ping_timeout(Duration::from_millis(options.ping_timeout))
        .max_payload(options.max_payload)
        .connect_timeout(Duration::from_millis(options.connect_timeout))
        .with_state(Visits::default())
        .with_state(VisitsOn(options.visits))
        .build_layer();

    io.ns("/", on_main);
    io.ns("/custom", on_custom);
    io.ns("/admin", on_admin.with(admin_only));

    let app = axum::Router::new()
        .route("/", get(async || Html(HOME_PAGE)))
        .layer(layer)
        // echo the request's Origin and allow credentials, as the contract asks
        .layer(CorsLayer::very_permissive());

    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", options.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("socketioxide-scenarios-server: bind: {err}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map(|addr| addr.port()).unwrap_or(0);
    println!("READY {port}");
    eprintln!("socketioxide scenarios server listening on 127.0.0.1:{port}");

    let io_on_signal = io.clone();
    let shutdown = async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => eprintln!("SIGTERM: disconnecting every client and exiting"),
            _ = tokio::signal::ctrl_c() => eprintln!("SIGINT: disconnecting every client and exiting"),
        }
        // every socket gets a DISCONNECT packet (the server keeps answering meanwhile:
        // long-polling clients collect it with their next GET), then every connection closes;
        // bounded so that the process exits within the contract's 2 s whatever the clients do
        for namespace in io_on_signal.nsps() {
            namespace.disconnect().await.ok();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        tokio::time::timeout(Duration::from_millis(1000), io_on_signal.close())
            .await
            .ok();
        // the connections' tasks write their close frames
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // TCP_NODELAY on every connection, as Node's http server and rtio set it: without it an
    // echo waits on the peer's delayed ACK.
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        tcp.set_nodelay(true).ok();
    });
    tokio::select! {
        result = axum::serve(listener, app) => {
            if let Err(err) = result {
                eprintln!("socketioxide-scenarios-server: {err}");
                return ExitCode::FAILURE;
            }
        }
        () = shutdown => {}
    }
    ExitCode::SUCCESS
}
