//! The request gate: what the host learns of a request it is asked to allow, and its answer
//! (socket.io's `allowRequest`, python-engineio's origin callable).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{header, Response, StatusCode};

use super::session::{Headers, Transport};
use crate::http::Body;

/// A request the host is asked about (see [`crate::Config::request_gate`] and
/// [`crate::CorsOrigins::Host`]).
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The HTTP method (`GET` for handshakes, `OPTIONS` for CORS preflights).
    pub method: String,
    /// The request target: path and query (e.g. `/socket.io/?EIO=4&transport=polling`).
    pub url: String,
    /// The request headers.
    pub headers: Headers,
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// The transport asked for (`WebSocket` for an upgrade request).
    pub transport: Transport,
}

impl RequestInfo {
    /// The query string (without `?`), empty when there is none.
    pub fn query(&self) -> &str {
        self.url.split_once('?').map_or("", |(_, q)| q)
    }

    /// The `Origin` header, when sent and valid UTF-8.
    pub fn origin(&self) -> Option<&str> {
        self.headers
            .get("origin")
            .and_then(|o| std::str::from_utf8(o).ok())
    }
}

/// Why the host refused a request: the HTTP status (400–599) and the message of the
/// Engine.IO error body `{"code":4,"message":...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The message the client gets.
    pub message: String,
}

/// The host's answer to an [`crate::Event::Request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAnswer {
    /// `None` to let the request through, else why it is refused.
    pub refusal: Option<Refusal>,
    /// With [`crate::CorsOrigins::Host`]: whether the request's origin may read the
    /// response (CORS headers are sent, and a session opened by it keeps this for its
    /// requests from the same origin). Ignored with the other CORS policies.
    pub cross_origin: bool,
}

impl RequestAnswer {
    /// Lets the request through (no cross-origin access; see [`Self::cross_origin`]).
    pub fn allow() -> Self {
        RequestAnswer {
            refusal: None,
            cross_origin: false,
        }
    }

    /// Refuses the request with this status (e.g. 403) and message. A status outside
    /// 400–599 is answered as 403.
    pub fn deny(status: u16, message: impl Into<String>) -> Self {
        RequestAnswer {
            refusal: Some(Refusal {
                status: if (400..600).contains(&status) {
                    status
                } else {
                    403
                },
                message: message.into(),
            }),
            cross_origin: false,
        }
    }

    /// Sets whether the request's origin may read the response (with
    /// [`crate::CorsOrigins::Host`]).
    pub fn cross_origin(mut self, allowed: bool) -> Self {
        self.cross_origin = allowed;
        self
    }

    /// The answer when the host did not answer in time.
    pub(crate) fn timed_out() -> Self {
        Self::deny(403, "Forbidden")
    }
}

impl Refusal {
    /// The HTTP answer, as engine.io answers a refused request: the status and
    /// `{"code":4,"message":...}`.
    pub(crate) fn response(&self) -> Response<Body> {
        let body = serde_json::json!({ "code": 4, "message": self.message }).to_string();
        Response::builder()
            .status(StatusCode::from_u16(self.status).unwrap_or(StatusCode::FORBIDDEN))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .expect("static response")
    }
}
