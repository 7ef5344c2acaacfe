//! rtio serve's HTTP routes beside Socket.IO: the publish API (`/api/*`, bearer key),
//! `/health`, `/metrics` and the embedded client bundle.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rtio::{Event, HttpRequest, HttpResponse, Selector};
use serde_json::{json, Value};

use crate::commands::{self, parse, Disconnect, Emit, Rooms};
use crate::metrics;
use crate::state::State;

/// socket.io-client's browser bundles (see server/assets/README.md).
const BUNDLE: &[u8] = include_bytes!("../assets/socket.io.min.js");
const BUNDLE_ESM: &[u8] = include_bytes!("../assets/socket.io.esm.min.js");
const BUNDLE_MSGPACK: &[u8] = include_bytes!("../assets/socket.io.msgpack.min.js");

/// How long `GET /api/sockets` and `/health` wait for the cluster's answers.
const CLUSTER_WAIT: Duration = Duration::from_secs(6);

/// Which routes a listener serves.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The public port: Socket.IO, the bundle, /health, and the API and /metrics unless
    /// they have a listener of their own.
    Public,
    /// `api_listen`: the API, /metrics and /health only.
    Internal,
}

fn json_response(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), "no-store".into()),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn error(status: u16, message: impl Into<String>) -> HttpResponse {
    json_response(status, &json!({"ok": false, "error": message.into()}))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Compares without stopping at the first difference (the time does not tell how much of
/// a guessed key was right).
fn same_key(given: &[u8], key: &[u8]) -> bool {
    given.len() == key.len() && given.iter().zip(key).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0
}

/// Answers a request for `listener`, or leaves it to rtio (`None`).
pub async fn handle(
    state: Arc<State>,
    listener: Listener,
    req: HttpRequest,
) -> Option<HttpResponse> {
    let path = req.url.split('?').next().unwrap_or("").to_string();
    let internal_api = state.settings.api_listen.is_some();
    let serves_api = match listener {
        Listener::Public => !internal_api,
        Listener::Internal => true,
    };
    if path == "/health" {
        return Some(health(&state).await);
    }
    if path == "/metrics" && serves_api {
        return Some(HttpResponse {
            status: 200,
            headers: vec![(
                "content-type".into(),
                "text/plain; version=0.0.4; charset=utf-8".into(),
            )],
            body: Bytes::from(render_metrics(&state)),
        });
    }
    if listener == Listener::Public {
        if let Some(bundle) = bundle(&state, &path) {
            return Some(bundle);
        }
    }
    if path == "/api" || path.starts_with("/api/") {
        if !serves_api {
            return None;
        }
        let endpoint = path.trim_start_matches("/api/").to_string();
        let response = api(&state, &req, &endpoint).await;
        let label = match endpoint.as_str() {
            "emit" | "join" | "leave" | "disconnect" | "sockets" | "stats" | "batch" => {
                endpoint.as_str()
            }
            _ => "other",
        };
        let status = response.status.to_string();
        state.metrics.inc(
            "rtio_api_requests_total",
            &[("endpoint", label), ("status", &status)],
        );
        return Some(response);
    }
    if listener == Listener::Internal {
        return Some(error(404, format!("no route {path}")));
    }
    None
}

fn bundle(state: &State, path: &str) -> Option<HttpResponse> {
    let name = path.strip_prefix(state.settings.path.as_str())?;
    let body = match name {
        "socket.io.js" | "socket.io.min.js" => BUNDLE,
        "socket.io.esm.min.js" => BUNDLE_ESM,
        "socket.io.msgpack.min.js" => BUNDLE_MSGPACK,
        _ => return None,
    };
    Some(HttpResponse {
        status: 200,
        headers: vec![
            (
                "content-type".into(),
                "application/javascript; charset=utf-8".into(),
            ),
            ("cache-control".into(), "public, max-age=0".into()),
        ],
        body: Bytes::from_static(body),
    })
}

async fn api(state: &State, req: &HttpRequest, endpoint: &str) -> HttpResponse {
    let Some(key) = state.settings.api_key.as_deref() else {
        return error(404, "the HTTP API is off: start rtio serve with --api-key");
    };
    let given = header(req, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !same_key(given.trim().as_bytes(), key.as_bytes()) {
        let mut refused = error(
            401,
            "missing or wrong API key (Authorization: Bearer <key>)",
        );
        refused
            .headers
            .push(("www-authenticate".into(), "Bearer realm=\"rtio\"".into()));
        return refused;
    }
    let method = req.method.as_str();
    let post = |f: PostHandler| {
        if method != "POST" {
            return error(405, format!("/api/{endpoint} takes POST"));
        }
        match f(state, &req.body) {
            Ok(v) => json_response(200, &v),
            Err((status, message)) => error(status, message),
        }
    };
    match endpoint {
        "emit" => post(emit),
        "join" => post(|s, b| rooms(s, b, true)),
        "leave" => post(|s, b| rooms(s, b, false)),
        "disconnect" => post(disconnect),
        "batch" => post(batch),
        "sockets" if method == "GET" => sockets(state, &req.url).await,
        "stats" if method == "GET" => json_response(200, &stats(state).await),
        "sockets" | "stats" => error(405, format!("/api/{endpoint} takes GET")),
        _ => error(404, format!("no API endpoint /api/{endpoint}")),
    }
}

/// A POST endpoint: the state and the body give the answer, or a status and why.
type PostHandler = fn(&State, &[u8]) -> Result<Value, (u16, String)>;

fn bad(message: String) -> (u16, String) {
    (400, message)
}

/// The answer of a command the core carried out (or could not).
fn applied(result: Result<(), rtio::Error>) -> Result<Value, (u16, String)> {
    match result {
        Ok(()) => Ok(json!({"ok": true})),
        Err(rtio::Error::Stopped) => Err((503, "the server is stopping".into())),
        Err(e) => {
            log::warn!("api: {e}");
            Err((500, e.to_string()))
        }
    }
}

fn emit(state: &State, body: &[u8]) -> Result<Value, (u16, String)> {
    let command: Emit = parse(body).map_err(bad)?;
    command.check(&state.namespaces).map_err(bad)?;
    state.ensure_namespace(&command.nsp);
    state
        .metrics
        .inc("rtio_events_emitted_total", &[("nsp", &command.nsp)]);
    applied(command.apply(&state.io).map(|_| ()))
}

fn rooms(state: &State, body: &[u8], join: bool) -> Result<Value, (u16, String)> {
    let command: Rooms = parse(body).map_err(bad)?;
    command.check(&state.namespaces).map_err(bad)?;
    state.ensure_namespace(&command.nsp);
    applied(command.apply(&state.io, join))
}

fn disconnect(state: &State, body: &[u8]) -> Result<Value, (u16, String)> {
    let command: Disconnect = parse(body).map_err(bad)?;
    command.check(&state.namespaces).map_err(bad)?;
    state.ensure_namespace(&command.nsp);
    applied(command.apply(&state.io))
}

fn batch(state: &State, body: &[u8]) -> Result<Value, (u16, String)> {
    let commands = commands::parse_batch(body).map_err(bad)?;
    // every command checked before the first is applied: nothing half-done
    for (i, c) in commands.iter().enumerate() {
        c.check(&state.namespaces)
            .map_err(|e| bad(format!("[{i}] {e}")))?;
    }
    for c in &commands {
        state.ensure_namespace(c.nsp());
        if let commands::Command::Emit(e) = c {
            state
                .metrics
                .inc("rtio_events_emitted_total", &[("nsp", &e.nsp)]);
        }
        applied(c.apply(&state.io))?;
    }
    Ok(json!({"ok": true, "count": commands.len()}))
}

async fn sockets(state: &State, url: &str) -> HttpResponse {
    let nsp = crate::query::param(url, "nsp").unwrap_or_else(|| "/".into());
    let room = crate::query::param(url, "room");
    if !state.namespaces.allows(&nsp) {
        return error(
            400,
            format!("nsp: {nsp:?} is not a namespace this server serves"),
        );
    }
    if state.io.stats(&nsp).is_err() {
        // a pattern's namespace nobody joined here yet
        return json_response(200, &json!({"ok": true, "sockets": []}));
    }
    let to: Vec<String> = room.into_iter().collect();
    let asked = state
        .ask(
            || {
                state.io.fetch_sockets(
                    &nsp,
                    &Selector {
                        to: &to,
                        ..Default::default()
                    },
                )
            },
            CLUSTER_WAIT,
        )
        .await;
    match asked {
        Ok(Some(Event::FetchSocketsResponse {
            sockets, error: e, ..
        })) => {
            let list: Vec<Value> = sockets
                .iter()
                .map(|s| {
                    json!({
                        "id": &*s.id,
                        "nsp": &*s.nsp,
                        "rooms": s.rooms,
                        "data": s.data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
                        "address": s.handshake.remote_addr.ip().to_string(),
                        "local": s.local,
                    })
                })
                .collect();
            let mut body = json!({"ok": true, "sockets": list});
            if let Some(e) = e {
                body["warning"] = json!(format!("not every server answered: {e}"));
            }
            json_response(200, &body)
        }
        Ok(_) => error(504, "no answer from the cluster in time"),
        Err(e) => error(500, e.to_string()),
    }
}

async fn stats(state: &State) -> Value {
    let mut namespaces = serde_json::Map::new();
    for nsp in known_namespaces(state) {
        if let Ok(s) = state.io.stats(&nsp) {
            namespaces.insert(nsp, json!({"sockets": s.sockets, "rooms": s.rooms}));
        }
    }
    let mut out = json!({
        "ok": true,
        "clients": state.io.client_count().unwrap_or(0),
        "namespaces": namespaces,
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    if state.settings.redis_url.is_some() {
        out["servers"] = json!(server_count(state).await);
    }
    out
}

/// The namespaces this server has now: the fixed ones and those patterns made.
pub fn known_namespaces(state: &State) -> Vec<String> {
    state.io.namespaces().unwrap_or_default()
}

async fn server_count(state: &State) -> Option<u64> {
    match state.ask(|| state.io.server_count("/"), CLUSTER_WAIT).await {
        Ok(Some(Event::ServerCountResponse { result: Ok(n), .. })) => Some(n as u64),
        _ => None,
    }
}

async fn health(state: &State) -> HttpResponse {
    if state.io.is_stopped() {
        return json_response(503, &json!({"status": "stopping"}));
    }
    let mut body = json!({"status": "ok"});
    if state.settings.redis_url.is_some() {
        match server_count(state).await {
            Some(n) => {
                body["redis"] = json!("up");
                body["servers"] = json!(n);
            }
            None => {
                body["redis"] = json!("down");
                body["status"] = json!("degraded");
            }
        }
    }
    json_response(200, &body)
}

fn render_metrics(state: &State) -> String {
    let mut gauges = String::new();
    let mut sockets = Vec::new();
    let (mut polling, mut websocket) = (0.0, 0.0);
    for nsp in known_namespaces(state) {
        let ids = state.io.sockets(&nsp, None).unwrap_or_default();
        sockets.push((metrics::label(&[("nsp", &nsp)]), ids.len() as f64));
        for id in ids {
            match state.io.transport(&id) {
                Ok(rtio::engineio::Transport::WebSocket) => websocket += 1.0,
                Ok(_) => polling += 1.0,
                Err(_) => {}
            }
        }
    }
    metrics::gauge(
        &mut gauges,
        "rtio_connections",
        "Engine.IO connections open now.",
        &[(String::new(), state.io.client_count().unwrap_or(0) as f64)],
    );
    metrics::gauge(
        &mut gauges,
        "rtio_sockets_by_transport",
        "Sockets connected now, by the transport of their connection.",
        &[
            (metrics::label(&[("transport", "polling")]), polling),
            (metrics::label(&[("transport", "websocket")]), websocket),
        ],
    );
    metrics::gauge(
        &mut gauges,
        "rtio_sockets",
        "Sockets connected now, by namespace.",
        &sockets,
    );
    metrics::gauge(
        &mut gauges,
        "rtio_webhook_waiting",
        "Webhook calls waiting for a free slot.",
        &[(
            String::new(),
            state
                .webhook_waiting
                .load(std::sync::atomic::Ordering::Relaxed) as f64,
        )],
    );
    state.metrics.render(&gauges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(same_key(b"secret", b"secret"));
        assert!(!same_key(b"secreT", b"secret"));
        assert!(!same_key(b"secret1", b"secret"));
    }
}
