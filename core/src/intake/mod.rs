//! Requests and connections from a host that owns the HTTP server (Node's `http.Server`, an
//! ASGI/WSGI server, a C HTTP library): the host parses a request to the Engine.IO path and
//! hands it over; rtio answers it exactly as on its own listener (the request gate, CORS,
//! limits, sessions), and for a WebSocket handshake takes the connection itself.
//!
//! - [`Io::handle_request`]: one polling request (or handshake), answered asynchronously
//!   with [`Event::HttpResponse`] (a long-poll GET waits for packets, as always);
//!   [`Io::serve_request`] is the same for a Rust host that awaits the answer.
//! - [`Io::adopt_websocket`]: a WebSocket handshake with its TCP connection: rtio writes the
//!   answer and serves the connection on its runtime, at the cost of a connection accepted
//!   by its own listener.
//! - [`Io::open_websocket`]: a WebSocket whose framing the host's server does (ASGI): the
//!   host passes the messages it receives in ([`Io::websocket_receive`]) and sends those rtio
//!   gives it ([`Event::WebSocketSend`]); see `bridge`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use tokio::io::AsyncWriteExt;

use crate::engineio::websocket::{is_upgrade_request, Adopted};
use crate::engineio::{CloseReason, EioError, Engine, OverTls};
use crate::event::Event;
use crate::server::Io;
use crate::socketio::Sio;
use crate::Error;

mod bridge;
pub(crate) use bridge::Bridges;
pub use bridge::WsMessage;

/// An HTTP request the host received on its own server, for the Engine.IO path.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// `GET`, `POST`, `OPTIONS`…
    pub method: String,
    /// The path and query as the client sent them (`/socket.io/?EIO=4&transport=polling`).
    pub url: String,
    /// The headers, in the order received (a repeated header once per value).
    pub headers: Vec<(String, String)>,
    /// The whole body (empty for a GET).
    pub body: Bytes,
    /// The client's address (what the handshake reports as its address).
    pub remote_addr: SocketAddr,
    /// The host's server received it over TLS (`https`, `wss`): the session's handshake
    /// reports it as `secure`, as socket.io's does.
    pub secure: bool,
}

/// rtio's answer to an [`HttpRequest`], for the host to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers to send (CORS included; no `Content-Length`, which follows the body).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl HttpResponse {
    /// The answer in hyper's form (headers hyper refuses are left out; `head_only`: no
    /// body, for a HEAD request).
    pub fn into_hyper(self, head_only: bool) -> Response<Full<Bytes>> {
        crate::http::host_response(self, head_only)
    }
}

impl HttpRequest {
    /// Reads a request a Rust host's own hyper server received (its body whole, at most
    /// `limit` bytes): for a host that serves [`crate::Routes`]-like handlers of its own
    /// with the same types rtio hands them. `Err` is the 413 answer for a longer body.
    pub async fn from_hyper(
        req: Request<hyper::body::Incoming>,
        remote: SocketAddr,
        limit: usize,
    ) -> Result<HttpRequest, Response<Full<Bytes>>> {
        crate::http::host_request(req, remote, limit).await
    }

    /// The request in hyper's form; `None` for a method, URL or header hyper refuses.
    fn to_hyper(&self) -> Option<Request<Full<Bytes>>> {
        let mut builder = Request::builder()
            .method(self.method.as_str())
            .uri(self.url.as_str());
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if self.secure {
            builder = builder.extension(OverTls);
        }
        builder.body(Full::new(self.body.clone())).ok()
    }
}

/// The answer in the host's form.
async fn from_hyper(resp: Response<Full<Bytes>>) -> HttpResponse {
    let (parts, body) = resp.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    HttpResponse {
        status: parts.status.as_u16(),
        headers: parts
            .headers
            .iter()
            .filter(|(name, _)| *name != hyper::header::CONTENT_LENGTH)
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    }
}

/// The HTTP/1.1 bytes of a response (with `Content-Length`), for a connection rtio writes to.
fn serialize(resp: &HttpResponse) -> Vec<u8> {
    let reason = hyper::StatusCode::from_u16(resp.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", resp.status).into_bytes();
    for (name, value) in &resp.headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    if resp.status != 101 {
        out.extend_from_slice(format!("content-length: {}\r\n", resp.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&resp.body);
    out
}

impl Io {
    /// Answers one request to the Engine.IO path that the host's own HTTP server received
    /// (long-polling, handshakes, CORS preflights): returns a token at once; the answer
    /// comes as one [`Event::HttpResponse`] carrying it, for the host to write, after as
    /// long as the request waits (a long-poll GET: until packets are queued or the session
    /// ends). A WebSocket handshake is answered 400: it goes to [`Io::adopt_websocket`].
    pub fn handle_request(&self, request: HttpRequest) -> Result<u64, Error> {
        let engine = self.intake_engine()?.clone();
        let sio = engine.handler().clone();
        let token = sio.next_id();
        let io = self.clone();
        let gone = ClientGone {
            engine: engine.clone(),
            sid: polling_sid(&request),
        };
        // Registered before the task can end (it takes the same lock to leave).
        let mut in_flight = self.in_flight().lock();
        let task = engine.rt.spawn(async move {
            let response = io.answer(request).await;
            gone.answered();
            io.in_flight().lock().remove(&token);
            sio.emit_event(Event::HttpResponse { token, response })
                .await;
        });
        in_flight.insert(token, task.abort_handle());
        Ok(token)
    }

    /// Gives up a request handed over with [`Io::handle_request`] whose client went before
    /// its answer (the host's connection closed): no [`Event::HttpResponse`] comes for it,
    /// and a long-poll GET's session closes, as engine.io closes it when its poll's
    /// connection closes. [`Error::UnknownRequest`] when it was answered or given up already.
    pub fn cancel_request(&self, token: u64) -> Result<(), Error> {
        match self.in_flight().lock().remove(&token) {
            Some(task) => {
                task.abort();
                Ok(())
            }
            None => Err(Error::UnknownRequest(token)),
        }
    }

    /// Like [`Io::handle_request`], for a Rust host that awaits the answer on its own
    /// runtime (the request is served on rtio's).
    pub async fn serve_request(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let engine = self.intake_engine()?.clone();
        let io = self.clone();
        engine
            .rt
            .spawn(async move { io.answer(request).await })
            .await
            .map_err(|_| Error::Stopped)
    }

    async fn answer(&self, request: HttpRequest) -> HttpResponse {
        let Some(req) = request.to_hyper() else {
            return from_hyper(EioError::BadRequest.response()).await;
        };
        let Ok(engine) = self.intake_engine() else {
            return from_hyper(EioError::BadRequest.response()).await;
        };
        if is_upgrade_request(&req) {
            return from_hyper(EioError::BadRequest.response()).await;
        }
        from_hyper(engine.handle(req, request.remote_addr).await).await
    }

    /// Takes over a connection whose WebSocket handshake (`request`, to the Engine.IO path)
    /// the host's server read: rtio answers the handshake on it (101, or the refusal: an
    /// unknown session, the request gate, a bad `Sec-WebSocket-Key`…) and serves the
    /// WebSocket on its runtime, as if its own listener had accepted it. `early`: bytes the
    /// host read past the request's head (the client's first frames), given back first.
    ///
    /// From this call on the connection is rtio's: the host must not read, write or close
    /// it (a host that cannot give its socket away passes a duplicate, e.g. `dup(2)`, and
    /// closes its own without shutting it down). Call from any thread; it returns at once.
    pub fn adopt_websocket(
        &self,
        stream: std::net::TcpStream,
        request: HttpRequest,
        early: Vec<u8>,
    ) -> Result<(), Error> {
        let engine = self.intake_engine()?.clone();
        stream
            .set_nonblocking(true)
            .map_err(|e| Error::Io(format!("adopting a connection: {e}")))?;
        if request.to_hyper().is_none() {
            return Err(Error::InvalidArgument(
                "the request's method, URL or headers are not HTTP".into(),
            ));
        }
        let rt = engine.rt.clone();
        rt.spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                return;
            };
            adopt(engine, stream, request, early).await;
        });
        Ok(())
    }

    /// Opens a WebSocket whose framing the host's server does (an ASGI `websocket` scope,
    /// aiohttp's `WebSocketResponse`): `handshake` is its opening request (the WebSocket
    /// headers themselves are not needed). Returns its id at once; rtio's answer comes as
    /// [`Event::WebSocketAnswer`] (101: accept it; else refuse it with that status), then
    /// each message for the client as [`Event::WebSocketSend`], and [`Event::WebSocketClose`]
    /// when rtio ends it. Give it the client's messages with [`Io::websocket_receive`] (they
    /// may come before the answer: they wait) and its end with [`Io::websocket_close`].
    pub fn open_websocket(&self, handshake: HttpRequest) -> Result<u64, Error> {
        let engine = self.intake_engine()?.clone();
        if handshake.to_hyper().is_none() {
            return Err(Error::InvalidArgument(
                "the request's method, URL or headers are not HTTP".into(),
            ));
        }
        let sio = engine.handler().clone();
        let id = sio.next_id();
        let bridges = self.bridges().clone();
        let from_host = bridges.insert(id);
        let rt = engine.rt.clone();
        rt.spawn(bridge::run(
            id,
            handshake,
            bridges,
            from_host,
            sio,
            move |stream, request| adopt(engine, stream, request, Vec::new()),
        ));
        Ok(id)
    }

    /// A message the client sent on WebSocket `id` ([`Io::open_websocket`]).
    /// [`Error::UnknownRequest`] when that WebSocket is closed.
    pub fn websocket_receive(&self, id: u64, message: WsMessage) -> Result<(), Error> {
        self.intake_engine()?;
        if self.bridges().send(id, bridge::FromHost::Message(message)) {
            Ok(())
        } else {
            Err(Error::UnknownRequest(id))
        }
    }

    /// The client of WebSocket `id` went, or the host closes it: rtio ends the session (no
    /// [`Event::WebSocketClose`] follows). [`Error::UnknownRequest`] when it is closed already.
    pub fn websocket_close(&self, id: u64) -> Result<(), Error> {
        self.intake_engine()?;
        if self.bridges().close(id) {
            Ok(())
        } else {
            Err(Error::UnknownRequest(id))
        }
    }
}

/// Serves a connection handed over with its handshake: writes the engine's answer to the
/// handshake, then gives the connection to the WebSocket the engine accepted (if it did).
async fn adopt(
    engine: Arc<Engine<Arc<Sio>>>,
    mut stream: tokio::net::TcpStream,
    request: HttpRequest,
    early: Vec<u8>,
) {
    let Some(mut req) = request.to_hyper() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (give, connection) = tokio::sync::oneshot::channel();
    req.extensions_mut()
        .insert(Adopted(Arc::new(parking_lot::Mutex::new(Some(connection)))));
    let response = from_hyper(engine.handle(req, request.remote_addr).await).await;
    if stream.write_all(&serialize(&response)).await.is_err() {
        return;
    }
    if response.status == 101 {
        let _ = give.send((stream, early));
    } else {
        let _ = stream.shutdown().await;
    }
}

/// The session a long-poll GET belongs to (its `sid`), if it is one.
fn polling_sid(request: &HttpRequest) -> Option<String> {
    if request.method != "GET" {
        return None;
    }
    let query = request.url.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("sid="))
        .map(str::to_string)
}

/// Closes the session of a handed-over GET whose answer nobody waits for any more (the
/// host cancelled it: its client's connection closed), as engine.io does when a poll's
/// connection closes ("poll connection closed prematurely"), also when it is cancelled
/// before the engine saw it (once it did, the engine's own guard does the same; closing
/// twice is closing once). Disarmed once answered.
struct ClientGone {
    engine: Arc<Engine<Arc<Sio>>>,
    sid: Option<String>,
}

impl ClientGone {
    fn answered(mut self) {
        self.sid = None;
    }
}

impl Drop for ClientGone {
    fn drop(&mut self) {
        if let Some(entry) = self.sid.as_deref().and_then(|sid| self.engine.get(sid)) {
            self.engine.close(&entry, CloseReason::TransportError);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_serialize_as_http_1_1() {
        let resp = HttpResponse {
            status: 400,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from_static(b"{}"),
        };
        assert_eq!(
            String::from_utf8(serialize(&resp)).unwrap(),
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
        let switching = HttpResponse {
            status: 101,
            headers: vec![("upgrade".into(), "websocket".into())],
            body: Bytes::new(),
        };
        assert!(String::from_utf8(serialize(&switching))
            .unwrap()
            .starts_with("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"));
    }
}
