//! The `@socket.io/admin-ui` dashboard's server side (what socket.io's `instrument(io)` does):
//! the dashboard joins the admin namespace (basic auth against a bcrypt hash, then a session
//! id), gets the configuration, every socket and the server's stats every 2 s, hears sockets
//! come and go, and may emit, join, leave and disconnect.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rtio::engineio::Handshake;
use rtio::{Payload, Selector, SocketInfo};
use serde_json::{json, Value};

use crate::auth::headers_object;
use crate::state::State;

/// The admin namespace's settings.
#[derive(Debug, Clone)]
pub struct Admin {
    pub namespace: String,
    /// `None`: no authentication (`auth = false`).
    pub credentials: Option<(String, String)>,
    pub readonly: bool,
}

/// Session ids given to dashboards that logged in (they reconnect with them).
#[derive(Default)]
pub struct Sessions(Mutex<HashSet<String>>);

const FEATURES: [&str; 7] = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
];

fn random_id() -> String {
    rand::random::<[u8; 8]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Decides a dashboard's connect (on rtio serve's runtime: bcrypt is slow on purpose).
pub async fn decide(state: Arc<State>, admin: Admin, request: u64, sid: Arc<str>, auth: String) {
    let auth: Value = serde_json::from_str(&auth).unwrap_or(json!({}));
    let Some((username, hash)) = admin.credentials else {
        let _ = state.io.accept(request);
        return;
    };
    if let Some(session) = auth.get("sessionId").and_then(Value::as_str) {
        if state.admin_sessions.0.lock().contains(session) {
            let _ = state.io.accept(request);
            return;
        }
    }
    let user_ok = auth.get("username").and_then(Value::as_str) == Some(username.as_str());
    let password = auth
        .get("password")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let matches = user_ok
        && tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
    if matches {
        let session = random_id();
        state.admin_sessions.0.lock().insert(session.clone());
        // (sent before the connect packet: it follows it on accept)
        let _ = state.io.emit(&sid, "session", &Payload::one(session));
        let _ = state.io.accept(request);
    } else {
        let _ = state.io.reject(request, "invalid credentials", None);
    }
}

fn handshake_json(h: &Handshake) -> Value {
    let query = crate::query::object(&h.query);
    let url = if h.query.is_empty() {
        "/socket.io/".to_string()
    } else {
        format!("/socket.io/?{}", h.query)
    };
    let headers = headers_object(h);
    let address = headers
        .get("cf-connecting-ip")
        .or_else(|| headers.get("x-forwarded-for"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| h.remote_addr.ip().to_string());
    json!({
        "address": address,
        "headers": headers,
        "query": query,
        "issued": h.issued_ms,
        "secure": h.secure,
        "time": h.issued_ms,
        "url": url,
        "xdomain": h.headers.get("origin").is_some(),
    })
}

fn transport(state: &State, sid: &str) -> &'static str {
    match state.io.transport(sid) {
        Ok(rtio::engineio::Transport::WebSocket) => "websocket",
        _ => "polling",
    }
}

/// A socket as the dashboard lists it (admin-ui's `SerializedSocket`).
fn serialize(
    state: &State,
    id: &str,
    nsp: &str,
    data: Option<Value>,
    handshake: &Handshake,
    rooms: &[String],
) -> Value {
    json!({
        "id": id,
        "clientId": id.chars().take(12).collect::<String>(),
        "transport": transport(state, id),
        "nsp": nsp,
        "data": data.unwrap_or(json!({})),
        "handshake": handshake_json(handshake),
        "rooms": rooms,
    })
}

fn to_dashboards(state: &State, admin: &Admin, event: &str, args: &[Value]) {
    let _ = state
        .io
        .broadcast(&admin.namespace)
        .emit(event, &Payload::from_values(args));
}

/// A dashboard joined: its configuration and every socket of every namespace.
pub async fn welcome(state: Arc<State>, admin: Admin, sid: Arc<str>) {
    let features: Vec<&str> = if admin.readonly {
        Vec::new()
    } else {
        FEATURES.to_vec()
    };
    let _ = state.io.emit(
        &sid,
        "config",
        &Payload::one(json!({"supportedFeatures": features})),
    );
    let mut all = Vec::new();
    for nsp in state.io.namespaces().unwrap_or_default() {
        let asked = state
            .ask(
                || state.io.fetch_sockets(&nsp, &Selector::default()),
                Duration::from_secs(6),
            )
            .await;
        if let Ok(Some(rtio::Event::FetchSocketsResponse { sockets, .. })) = asked {
            all.extend(sockets.iter().map(|s: &SocketInfo| {
                let data = s.data.as_deref().and_then(|d| serde_json::from_str(d).ok());
                serialize(&state, &s.id, &s.nsp, data, &s.handshake, &s.rooms)
            }));
        }
    }
    let _ = state
        .io
        .emit(&sid, "all_sockets", &Payload::one(Value::Array(all)));
}

/// A socket joined a namespace.
pub fn connected(state: &State, admin: &Admin, sid: &str, nsp: &str, handshake: &Handshake) {
    let rooms = state.io.rooms(sid).unwrap_or_default();
    let socket = serialize(state, sid, nsp, state.socket_data(sid), handshake, &rooms);
    to_dashboards(state, admin, "socket_connected", &[socket]);
}

/// A socket left.
pub fn disconnected(state: &State, admin: &Admin, sid: &str, nsp: &str, reason: &str) {
    to_dashboards(
        state,
        admin,
        "socket_disconnected",
        &[json!(nsp), json!(sid), json!(reason)],
    );
}

/// A dashboard's command: `emit`, `join`, `leave`, `_disconnect`.
pub fn command(state: &State, admin: &Admin, event: &str, payload: &Payload) {
    if admin.readonly {
        return;
    }
    let args = payload.values();
    let text = |i: usize| args.get(i).and_then(Value::as_str).map(str::to_string);
    let Some(nsp) = text(0) else { return };
    if !state.namespaces.allows(&nsp) && nsp != admin.namespace {
        return;
    }
    let filter: Vec<String> = match event {
        "emit" => text(1),
        "join" | "leave" | "_disconnect" => text(2),
        _ => return,
    }
    .filter(|f| !f.is_empty())
    .into_iter()
    .collect();
    let sel = Selector {
        to: &filter,
        ..Default::default()
    };
    let io = &state.io;
    let done = match event {
        "emit" => match text(2) {
            Some(ev) => {
                let mut b = io.broadcast(&nsp);
                for room in &filter {
                    b = b.to(room.clone());
                }
                b.emit(&ev, &Payload::from_values(args.get(3..).unwrap_or(&[])))
                    .map(|_| ())
            }
            None => return,
        },
        "join" => match text(1) {
            Some(room) => io.sockets_join(&nsp, &sel, [room]),
            None => return,
        },
        "leave" => match text(1) {
            Some(room) => io.sockets_leave(&nsp, &sel, [room]),
            None => return,
        },
        _ => {
            let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            io.disconnect_sockets(&nsp, &sel, close)
        }
    };
    if let Err(e) = done {
        log::warn!("admin {event}: {e}");
    }
}

/// Sends the server's stats to the dashboards every 2 s, as `instrument()` does.
pub async fn stats(state: Arc<State>, admin: Admin) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "rtio".into());
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    loop {
        tick.tick().await;
        if state.io.is_stopped() {
            return;
        }
        let namespaces: Vec<Value> = state
            .io
            .namespaces()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| {
                let count = state.io.stats(&n).ok()?.sockets;
                Some(json!({"name": n, "socketsCount": count}))
            })
            .collect();
        let stats = json!({
            "serverId": format!("{host}#{}", std::process::id()),
            "hostname": host,
            "pid": std::process::id(),
            "uptime": state.started.elapsed().as_secs_f64(),
            "clientsCount": state.io.client_count().unwrap_or(0),
            "namespaces": namespaces,
        });
        to_dashboards(&state, &admin, "server_stats", &[stats]);
    }
}
