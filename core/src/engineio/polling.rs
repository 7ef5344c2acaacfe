//! The HTTP long-polling transport: GET waits for queued packets, POST delivers packets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};

use super::engine::{EioError, Engine, EngineHandler, Entry};
use super::packet;
use super::session::{CloseReason, Protocol, Session, Transport};
use super::v3;
use crate::http::{self, Body, RequestBody};

/// Most packets one POST body may carry.
const MAX_PACKETS_PER_POST: usize = 16_384;

/// Clears a session's "request in progress" flag however the request ends.
struct Active<'a>(&'a AtomicBool);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Closes the session of a GET given up before its answer: its client closed the
/// connection (hyper drops the request's future; a host cancels it, see
/// `crate::Io::cancel_request`), as engine.io does on "poll connection closed prematurely".
struct Abandoned<'a, H: EngineHandler> {
    engine: &'a Arc<Engine<H>>,
    entry: &'a Arc<Entry<H::Conn>>,
}

impl<H: EngineHandler> Drop for Abandoned<'_, H> {
    fn drop(&mut self) {
        self.engine.close(self.entry, CloseReason::TransportError);
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
    let abandoned = Abandoned { engine, entry };
    let response = answer_get(engine, entry).await;
    std::mem::forget(abandoned);
    response
}

/// What a GET answers, once there is something.
async fn answer_get<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    entry: &Arc<Entry<H::Conn>>,
) -> Response<Body> {
    let s = &entry.session;
    loop {
        let closed = s.is_closed();
        // A session closed without a flush drops what was queued (see `Engine::close`).
        let frames = if closed && !s.flushes_on_close() {
            Vec::new()
        } else {
            s.drain_at_most(engine.config.polling_max_packets.max(1))
        };
        if !frames.is_empty() && s.has_pending() {
            // The rest goes out with the next GET.
            s.poll_wake.notify_one();
        }
        if closed && frames.is_empty() {
            engine.remove(entry);
            // Like engine.io: a GET pending when the client closed the session is answered
            // with a noop, any other with the close packet.
            let last = match s.close_reason() {
                Some(CloseReason::TransportClose) => "6",
                _ => "1",
            };
            return single(s, last);
        }
        // The close packet goes alone in the next response: clients handle the packets of
        // a payload asynchronously but a close at once, so sharing a payload would let the
        // close overtake e.g. a disconnect packet.
        if !frames.is_empty() {
            return match s.protocol {
                Protocol::V4 => http::text_response(Bytes::from(packet::encode_payload(&frames))),
                Protocol::V3 { b64 } => match v3::encode_payload(&frames, b64) {
                    (body, false) => http::text_response(Bytes::from(body)),
                    (body, true) => http::binary_response(Bytes::from(body)),
                },
            };
        }
        if s.upgrading() || s.transport() == Transport::WebSocket {
            return single(s, "6");
        }
        s.poll_wake.notified().await;
    }
}

/// A response of one single-character packet (a noop, a close).
fn single(s: &Session, packet: &'static str) -> Response<Body> {
    match s.protocol {
        Protocol::V4 => http::text_response(Bytes::from_static(packet.as_bytes())),
        Protocol::V3 { .. } => http::text_response(v3::single(packet)),
    }
}

/// A POST: decodes the body's packets and hands them to the engine, in order.
pub(crate) async fn post<H: EngineHandler, B: RequestBody>(
    engine: &Arc<Engine<H>>,
    entry: &Arc<Entry<H::Conn>>,
    req: Request<B>,
) -> Response<Body> {
    let s = &entry.session;
    if s.post_active.swap(true, Ordering::AcqRel) {
        engine.close(entry, CloseReason::TransportError);
        return EioError::BadRequest.response();
    }
    let _active = Active(&s.post_active);
    let binary = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/octet-stream");
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let max = engine.config.max_payload;
    let mut body = req.into_body();
    // A body over the limit is refused with 413 and closes the session.
    if declared.is_some_and(|n| n > max) {
        engine.close(entry, CloseReason::TransportError);
        return too_large(body, declared).await;
    }
    let body = match Limited::new(&mut body, max).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            engine.close(entry, CloseReason::TransportError);
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return too_large(body, declared).await;
            }
            return EioError::BadRequest.response();
        }
    };
    // A body that is not a payload is answered 400 and closes the session.
    let decoded = match s.protocol {
        Protocol::V4 => packet::decode_payload(&body, MAX_PACKETS_PER_POST),
        Protocol::V3 { .. } => v3::decode_payload(&body, binary, MAX_PACKETS_PER_POST),
    };
    let packets = match decoded {
        Ok(packets) => packets,
        Err(_) => {
            engine.close(entry, CloseReason::ParseError);
            return EioError::BadRequest.response();
        }
    };
    for p in packets {
        if let Err(reason) = engine.on_packet(entry, p).await {
            engine.close(entry, reason);
            break;
        }
    }
    Response::builder()
        .header("content-type", "text/html")
        .body(Full::new(Bytes::from_static(b"ok")))
        .expect("static response")
}

/// Most bytes of an oversized body read (and dropped) so that the 413 reaches the client:
/// closing a socket with unread bytes makes the kernel reset the connection, which can
/// destroy the answer before the client reads it.
const MAX_DISCARDED: usize = 64 << 20;

/// How long reading an oversized body for nothing may take.
const DISCARD_TIME: std::time::Duration = std::time::Duration::from_secs(10);

/// The 413 answer, after reading the rest of the body (up to `MAX_DISCARDED`). A body
/// larger than that, or slower, gets the answer on a connection that then closes.
async fn too_large<B: RequestBody>(mut body: B, declared: Option<usize>) -> Response<Body> {
    let mut resp = Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .body(Full::new(Bytes::new()))
        .expect("static response");
    let drained = declared.is_none_or(|n| n <= MAX_DISCARDED)
        && tokio::time::timeout(DISCARD_TIME, async {
            let mut read = 0usize;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { return false };
                read += frame.data_ref().map_or(0, |d| d.len());
                if read > MAX_DISCARDED {
                    return false;
                }
            }
            true
        })
        .await
        .unwrap_or(false);
    if !drained {
        resp.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
    }
    resp
}
