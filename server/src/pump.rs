//! The core's events, taken on rtio serve's own runtime: connects to decide, client events
//! for the webhook, answers API calls wait for, and the counters.

use std::sync::Arc;

use rtio::{Event, Server};

use crate::admin::{self, Admin};
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
    if let Some(admin) = &state.settings.admin {
        if for_admin(state, admin, &event) {
            return;
        }
    }
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

/// The admin dashboard's share of an event: true when the event was the dashboard's own
/// (its namespace), else it is only told about it and the event goes on.
fn for_admin(state: &Arc<State>, admin: &Admin, event: &Event) -> bool {
    match event {
        Event::ConnectRequest {
            request,
            sid,
            nsp,
            auth,
            ..
        } if **nsp == *admin.namespace => {
            let decide = admin::decide(
                state.clone(),
                admin.clone(),
                *request,
                sid.clone(),
                auth.clone(),
            );
            state.rt.spawn(decide);
            true
        }
        Event::Connect { sid, nsp, .. } if **nsp == *admin.namespace => {
            state
                .rt
                .spawn(admin::welcome(state.clone(), admin.clone(), sid.clone()));
            true
        }
        Event::Message {
            nsp,
            event,
            payload,
            ..
        } if **nsp == *admin.namespace => {
            admin::command(state, admin, event, payload);
            true
        }
        Event::Disconnect { nsp, .. } if **nsp == *admin.namespace => true,
        Event::Connect {
            sid,
            nsp,
            handshake,
            ..
        } => {
            admin::connected(state, admin, sid, nsp, handshake);
            false
        }
        Event::Disconnect {
            sid, nsp, reason, ..
        } => {
            admin::disconnected(state, admin, sid, nsp, &reason.to_string());
            false
        }
        _ => false,
    }
}
