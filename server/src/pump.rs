//! The core's events, taken on rtio serve's own runtime: connects to decide, client events
//! for the webhook, answers API calls wait for, and the counters.

use std::sync::Arc;

use rtio::{Event, Server};

use crate::auth::{self, Connect};
use crate::state::State;
use crate::webhook::{self, ClientEvent};

/// Takes events until the server stops.
pub async fn run(server: Arc<Server>, state: Arc<State>) {
    while let Ok(event) = server.events().recv_async().await {
        handle(&state, event);
    }
}

fn handle(state: &Arc<State>, event: Event) {
    match event {
        Event::ConnectRequest {
            request,
            sid,
            nsp,
            auth,
            handshake,
        } => {
            let connect = Connect {
                request,
                sid,
                nsp,
                auth,
                handshake,
            };
            state.rt.spawn(auth::decide(state.clone(), connect));
        }
        Event::Connect { nsp, .. } => {
            state.metrics.inc("rtio_connects_total", &[("nsp", &nsp)]);
        }
        Event::Disconnect { nsp, reason, .. } => {
            let reason = reason.to_string();
            state.metrics.inc(
                "rtio_disconnects_total",
                &[("nsp", &nsp), ("reason", &reason)],
            );
        }
        Event::Message {
            sid,
            nsp,
            event,
            payload,
            ack,
        } => {
            state
                .metrics
                .inc("rtio_events_received_total", &[("nsp", &nsp)]);
            state.metrics.add(
                "rtio_event_bytes_received_total",
                &[("nsp", &nsp)],
                payload.json().len() as u64,
            );
            if webhook::wanted(state, &event) {
                webhook::post(
                    state,
                    ClientEvent {
                        sid,
                        nsp,
                        event,
                        payload,
                        ack,
                    },
                );
            }
        }
        ev @ Event::FetchSocketsResponse { token, .. }
        | ev @ Event::ServerCountResponse { token, .. } => {
            state.answered(token, ev);
        }
        _ => {}
    }
}
