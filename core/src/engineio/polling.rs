//! The HTTP long-polling transport: GET waits for queued packets, POST delivers packets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::engine::{EioError, Engine, EngineHandler, Entry};
use super::packet;
use super::session::{CloseReason, Transport};
use crate::http::{self, Body};

/// Most packets one POST body may carry.
const MAX_PACKETS_PER_POST: usize = 16_384;

/// Clears a session's "request in progress" flag however the request ends.
struct Active<'a>(&'a AtomicBool);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A GET: answers with everything queued, waiting until something is.
pub(crate) async fn get<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    entry: &Arc<Entry<H::Conn>>,
) -> Response<Body> {
    let s = &entry.session;
    if s.poll_active.swap(true, Ordering::AcqRel) {
        // Two GETs at once on one session is a protocol violation: close it.
        engine.close(entry, CloseReason::TransportError);
        return EioError::BadRequest.response();
    }
    let _active = Active(&s.poll_active);
    loop {
        let closed = s.is_closed();
        let frames = s.drain_at_most(engine.config.polling_max_packets.max(1));
        if !frames.is_empty() && s.has_pending() {
            // The rest goes out with the next GET.
            s.poll_wake.notify_one();
        }
        if closed && frames.is_empty() {
            engine.remove(entry);
            return http::text_response(Bytes::from_static(b"1"));
        }
        // The close packet goes alone in the next response: clients handle the packets of
        // a payload asynchronously but a close at once, so sharing a payload would let the
        // close overtake e.g. a disconnect packet.
        if !frames.is_empty() {
            return http::text_response(Bytes::from(packet::encode_payload(&frames)));
        }
        if s.upgrading() || s.transport() == Transport::WebSocket {
            return http::text_response(Bytes::from_static(b"6"));
        }
        s.poll_wake.notified().await;
    }
}

/// A POST: decodes the body's packets and hands them to the engine, in order.
pub(crate) async fn post<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    entry: &Arc<Entry<H::Conn>>,
    req: Request<Incoming>,
) -> Response<Body> {
    let s = &entry.session;
    if s.post_active.swap(true, Ordering::AcqRel) {
        engine.close(entry, CloseReason::TransportError);
        return EioError::BadRequest.response();
    }
    let _active = Active(&s.post_active);
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Like Engine.IO, a body over the limit is refused with 413 and the session stays
    // open: the client decides what to do (the official ones close it).
    if declared.is_some_and(|n| n > engine.config.max_payload) {
        return too_large();
    }
    let body = match Limited::new(req.into_body(), engine.config.max_payload)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large();
            }
            engine.close(entry, CloseReason::TransportError);
            return EioError::BadRequest.response();
        }
    };
    // Like Engine.IO, a malformed body is still answered `ok`; the session is closed.
    match packet::decode_payload(&body, MAX_PACKETS_PER_POST) {
        Ok(packets) => {
            for p in packets {
                if let Err(reason) = engine.on_packet(entry, p).await {
                    engine.close(entry, reason);
                    break;
                }
            }
        }
        Err(_) => engine.close(entry, CloseReason::ParseError),
    }
    Response::builder()
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from_static(b"ok")))
        .expect("static response")
}

fn too_large() -> Response<Body> {
    Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .body(Full::new(Bytes::new()))
        .expect("static response")
}
