//! Client events POSTed to the backend (`[webhook]`): `{sid, nsp, event, args, data}`;
//! its answer `{"ack": [...], "emit": [...]}` is the client's ack and/or publish commands.
//! At most `concurrency` calls are in flight and `queue` more wait; beyond that an event
//! is refused at once (its ack, if asked, gets an error), so a slow backend never holds
//! up other sockets.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use rtio::Payload;
use serde_json::{json, Value};

use crate::backend::Answer;
use crate::commands::Emit;
use crate::state::State;

/// One client event for the backend.
pub struct ClientEvent {
    pub sid: Arc<str>,
    pub nsp: Arc<str>,
    pub event: String,
    pub payload: Payload,
    pub ack: Option<u64>,
}

/// True when the settings send this event to the webhook (`*` patterns allowed).
pub fn wanted(state: &State, event: &str) -> bool {
    state.settings.webhook_url.is_some()
        && state
            .settings
            .webhook_events
            .iter()
            .any(|p| p == event || (p.contains('*') && crate::namespaces::matches(p, event)))
}

/// Queues one event for the webhook (called on the pump; returns at once).
pub fn post(state: &Arc<State>, event: ClientEvent) {
    let waiting = state.webhook_waiting.fetch_add(1, Ordering::AcqRel);
    if waiting >= state.settings.webhook_queue && state.webhook_slots.available_permits() == 0 {
        state.webhook_waiting.fetch_sub(1, Ordering::AcqRel);
        state.metrics.inc("rtio_webhook_dropped_total", &[]);
        answer_error(
            state,
            &event,
            "the server is busy: the event was not delivered",
        );
        return;
    }
    let state = state.clone();
    let rt = state.rt.clone();
    rt.spawn(async move {
        let permit = state.webhook_slots.clone().acquire_owned().await;
        state.webhook_waiting.fetch_sub(1, Ordering::AcqRel);
        let Ok(_permit) = permit else { return };
        deliver(&state, event).await;
    });
}

fn answer_error(state: &State, event: &ClientEvent, message: &str) {
    if let Some(ack) = event.ack {
        state
            .metrics
            .inc("rtio_acks_total", &[("outcome", "error")]);
        let _ = state
            .io
            .ack(&event.sid, ack, &Payload::one(json!({"error": message})));
    }
}

/// The arguments as JSON, binary ones as `{"_binary": "<base64>"}`.
fn args_json(payload: &Payload) -> Value {
    use base64::Engine as _;
    let attachments = payload.attachments();
    let mut args = Value::Array(payload.values());
    fn fill(v: &mut Value, attachments: &[bytes::Bytes]) {
        match v {
            Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
                if let Some(bin) = map
                    .get("num")
                    .and_then(Value::as_u64)
                    .and_then(|n| attachments.get(n as usize))
                {
                    *v = json!({"_binary": base64::engine::general_purpose::STANDARD.encode(bin)});
                }
            }
            Value::Object(map) => map.values_mut().for_each(|x| fill(x, attachments)),
            Value::Array(items) => items.iter_mut().for_each(|x| fill(x, attachments)),
            _ => {}
        }
    }
    if !attachments.is_empty() {
        fill(&mut args, attachments);
    }
    args
}

async fn deliver(state: &Arc<State>, event: ClientEvent) {
    let Some(url) = state.settings.webhook_url.as_deref() else {
        return;
    };
    let data = state.socket_data(&event.sid).unwrap_or(Value::Null);
    let body = json!({
        "sid": &*event.sid,
        "nsp": &*event.nsp,
        "event": event.event,
        "args": args_json(&event.payload),
        "data": data,
    });
    let started = Instant::now();
    let answer = state
        .backend
        .post_json(url, &body, state.settings.webhook_timeout)
        .await;
    state
        .metrics
        .observe("rtio_webhook_duration_seconds", &[], started.elapsed());
    let failure = match answer {
        Answer::Http {
            status: 200..=299,
            body,
        } => {
            state
                .metrics
                .inc("rtio_webhook_requests_total", &[("outcome", "ok")]);
            return answered(state, &event, body);
        }
        Answer::Http { status, .. } => format!("the backend answered {status}"),
        Answer::TimedOut => "the backend did not answer in time".to_string(),
        Answer::Failed(why) => {
            log::warn!("webhook {url}: {why}");
            "the backend cannot be reached".to_string()
        }
    };
    log::warn!("webhook {url} for {:?}: {failure}", event.event);
    state
        .metrics
        .inc("rtio_webhook_requests_total", &[("outcome", "error")]);
    answer_error(state, &event, &failure);
}

/// Applies a backend's answer: its `ack` (an array: the ack's arguments) and its `emit`
/// commands, checked whole first.
fn answered(state: &Arc<State>, event: &ClientEvent, body: Value) {
    let emits: Vec<Emit> = match body.get("emit") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => match serde_json::from_value::<Vec<Emit>>(v.clone()) {
            Ok(list) => list,
            Err(e) => {
                log::warn!("webhook answer: emit: {e}");
                return answer_error(state, event, "the backend's answer is not valid");
            }
        },
    };
    if let Some((i, e)) = emits
        .iter()
        .enumerate()
        .find_map(|(i, c)| c.check(&state.namespaces).err().map(|e| (i, e)))
    {
        log::warn!("webhook answer: emit[{i}]: {e}");
        return answer_error(state, event, "the backend's answer is not valid");
    }
    for emit in &emits {
        state.ensure_namespace(&emit.nsp);
        state
            .metrics
            .inc("rtio_events_emitted_total", &[("nsp", &emit.nsp)]);
        if let Err(e) = emit.apply(&state.io) {
            log::warn!("webhook answer: emit: {e}");
        }
    }
    if let Some(ack) = event.ack {
        let args = match body.get("ack") {
            Some(Value::Array(items)) => items.clone(),
            None | Some(Value::Null) => Vec::new(),
            Some(one) => vec![one.clone()],
        };
        state.metrics.inc("rtio_acks_total", &[("outcome", "ok")]);
        let _ = state.io.ack(&event.sid, ack, &Payload::from_values(&args));
    }
}
