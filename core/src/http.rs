//! The HTTP front: routes requests to the Engine.IO endpoint, the client bundle or static
//! files, and applies the CORS policy.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use crate::config::{Config, CorsOrigins};
use crate::engineio::{Engine, EngineHandler, OverTls};
use crate::tls::Conn;

/// The response body type used everywhere.
pub(crate) type Body = Full<Bytes>;

/// A request body the Engine.IO endpoint reads: hyper's own (`Incoming`, on rtio's
/// listener), or one a host hands over whole (`Full<Bytes>`, see `crate::intake`).
pub(crate) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
    + Send
    + Unpin
    + 'static
{
}

impl<B> RequestBody for B where
    B: hyper::body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static
{
}

/// A `text/plain` response, as Engine.IO answers polling requests.
pub(crate) fn text_response(body: Bytes) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .body(Full::new(body))
        .expect("static response")
}

/// A binary body (Engine.IO v3's binary polling payloads).
pub(crate) fn binary_response(body: Bytes) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(body))
        .expect("static response")
}

fn status(code: StatusCode) -> Response<Body> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .expect("static response")
}

/// Serves one TCP connection until it closes (or upgrades to WebSocket).
pub(crate) async fn serve_connection<H: EngineHandler>(
    engine: Arc<Engine<H>>,
    conn: Conn,
    remote: SocketAddr,
) {
    let _ = conn.tcp().set_nodelay(true);
    let over_tls = conn.is_tls();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let engine = engine.clone();
        if over_tls {
            req.extensions_mut().insert(OverTls);
        }
        async move { Ok::<_, Infallible>(route(&engine, req, remote).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(conn), service)
        .with_upgrades()
        .await;
}

async fn route<H: EngineHandler>(
    engine: &Arc<Engine<H>>,
    req: Request<Incoming>,
    remote: SocketAddr,
) -> Response<Body> {
    let config = &engine.config;
    let path = req.uri().path();
    let endpoint = config.path.trim_end_matches('/');
    if path == config.path || path == endpoint {
        return engine.handle(req, remote).await;
    }
    let (method, path) = (req.method().clone(), path.to_owned());
    if let Some(routes) = &config.routes {
        let request = match host_request(req, remote, config.max_payload).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        };
        if let Some(answer) = routes.handle(request).await {
            return host_response(answer, method == Method::HEAD);
        }
    }
    if method != Method::GET && method != Method::HEAD {
        return status(StatusCode::NOT_FOUND);
    }
    if let Some(name) = path.strip_prefix(config.path.as_str()) {
        if let Some(bundle) = &config.client_bundle {
            if let Some(file) = bundle_file(bundle, name) {
                return serve_file(&file).await;
            }
        }
    }
    match &config.static_dir {
        Some(dir) => match static_path(dir, &path) {
            Some(file) => serve_file(&file).await,
            None => status(StatusCode::NOT_FOUND),
        },
        None => status(StatusCode::NOT_FOUND),
    }
}

/// A request for the host's [`crate::Routes`], its body read whole (413 past `limit`).
pub(crate) async fn host_request(
    req: Request<Incoming>,
    remote: SocketAddr,
    limit: usize,
) -> Result<crate::HttpRequest, Response<Body>> {
    let (parts, body) = req.into_parts();
    let body = match http_body_util::Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(status(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    Ok(crate::HttpRequest {
        method: parts.method.as_str().to_string(),
        url: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_string(), |p| p.as_str().to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        secure: parts.extensions.get::<OverTls>().is_some(),
        body,
        remote_addr: remote,
    })
}

/// The host's answer as hyper's (an invalid header is left out; a HEAD's body too).
pub(crate) fn host_response(answer: crate::HttpResponse, head_only: bool) -> Response<Body> {
    let mut builder = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(n, v);
        }
    }
    let body = if head_only { Bytes::new() } else { answer.body };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| status(StatusCode::INTERNAL_SERVER_ERROR))
}

/// A content coding of HTTP compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gzip,
    Deflate,
}

/// The coding a request accepts, gzip first (as engine.io's choice among its two);
/// `None` when neither (or `q=0` for both).
pub(crate) fn accepted_encoding<B>(req: &Request<B>) -> Option<Encoding> {
    let mut accepted = (false, false);
    for value in req.headers().get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            if refused {
                continue;
            }
            match name.to_ascii_lowercase().as_str() {
                "gzip" | "*" => accepted.0 = true,
                "deflate" => accepted.1 = true,
                _ => {}
            }
        }
    }
    match accepted {
        (true, _) => Some(Encoding::Gzip),
        (false, true) => Some(Encoding::Deflate),
        _ => None,
    }
}

/// A 200 response's body compressed with `encoding` when it has at least `threshold`
/// bytes (engine.io's `httpCompression`); any other response as it is.
pub(crate) async fn compress(
    resp: Response<Body>,
    encoding: Encoding,
    threshold: usize,
) -> Response<Body> {
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(never) => match never {},
    };
    if bytes.len() < threshold {
        return Response::from_parts(parts, Full::new(bytes));
    }
    let compressed =
        crate::engineio::deflate::compress_body(&bytes, matches!(encoding, Encoding::Gzip));
    parts.headers.insert(
        header::CONTENT_ENCODING,
        HeaderValue::from_static(match encoding {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Full::new(Bytes::from(compressed)))
}

/// The answer to a CORS preflight (`OPTIONS`) of the Engine.IO path.
pub(crate) fn preflight<B>(req: &Request<B>) -> Response<Body> {
    let mut resp = status(StatusCode::NO_CONTENT);
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET,HEAD,PUT,PATCH,POST,DELETE"),
    );
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

/// Whether a static policy lets this origin read responses ([`CorsOrigins::Host`] is
/// decided by the host, per session: see `Engine::handle`).
pub(crate) fn cross_origin_allowed(policy: &CorsOrigins, origin: Option<&HeaderValue>) -> bool {
    let Some(origin) = origin else { return false };
    match policy {
        CorsOrigins::None | CorsOrigins::Host => false,
        CorsOrigins::Any => true,
        CorsOrigins::List(list) => origin.to_str().is_ok_and(|o| list.iter().any(|a| a == o)),
    }
}

/// True when `origin` is the server's own: `http://` or `https://` followed by the
/// request's `Host`, or, behind a proxy, by the first `X-Forwarded-Host` (as
/// python-engineio accepts).
pub(crate) fn same_origin<B>(req: &Request<B>, origin: Option<&HeaderValue>) -> bool {
    let Some(origin) = origin else { return false };
    let origin = origin.as_bytes();
    let forwarded = req
        .headers()
        .get("x-forwarded-host")
        .and_then(|h| h.as_bytes().split(|b| *b == b',').next())
        .map(<[u8]>::trim_ascii);
    let host = req.headers().get(header::HOST).map(HeaderValue::as_bytes);
    [host, forwarded].into_iter().flatten().any(|host| {
        [&b"http://"[..], b"https://"]
            .iter()
            .any(|scheme| origin.strip_prefix(*scheme) == Some(host))
    })
}

/// python-engineio's answer to a request from an origin it does not accept.
pub(crate) fn not_an_accepted_origin() -> Response<Body> {
    Response::builder()
        .status(StatusCode::BAD_REQUEST)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Full::new(Bytes::from_static(
            b"\"Not an accepted origin.\"",
        )))
        .expect("static response")
}

/// Adds the CORS headers that let `origin` read the response.
pub(crate) fn apply_cors(config: &Config, origin: Option<&HeaderValue>, resp: &mut Response<Body>) {
    let Some(origin) = origin else { return };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    if config.cors_credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    h.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// Maps `socket.io.js` to the configured bundle, and the other bundles socket.io serves
/// (minified, ESM, msgpack, their `.map` files) to its siblings in the package's `dist/`.
fn bundle_file(bundle: &Path, name: &str) -> Option<PathBuf> {
    match name {
        "socket.io.js" => Some(bundle.to_path_buf()),
        "socket.io.min.js"
        | "socket.io.esm.min.js"
        | "socket.io.msgpack.min.js"
        | "socket.io.js.map"
        | "socket.io.min.js.map"
        | "socket.io.esm.min.js.map"
        | "socket.io.msgpack.min.js.map" => Some(bundle.with_file_name(name)),
        _ => None,
    }
}

/// The file under `dir` for a URL path, refusing anything that would leave `dir`.
fn static_path(dir: &Path, url_path: &str) -> Option<PathBuf> {
    let rel = url_path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    let rel = Path::new(rel);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    let mut file = dir.join(rel);
    if file.is_dir() {
        file.push("index.html");
    }
    Some(file)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") | Some("mjs") => "application/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") | Some("map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

async fn serve_file(path: &Path) -> Response<Body> {
    match tokio::fs::read(path).await {
        Ok(data) => Response::builder()
            .header(header::CONTENT_TYPE, content_type(path))
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Full::new(Bytes::from(data)))
            .expect("static response"),
        Err(_) => status(StatusCode::NOT_FOUND),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside() {
        let dir = Path::new("/srv");
        assert_eq!(
            static_path(dir, "/"),
            Some(PathBuf::from("/srv/index.html"))
        );
        assert_eq!(
            static_path(dir, "/a/b.js"),
            Some(PathBuf::from("/srv/a/b.js"))
        );
        assert_eq!(static_path(dir, "/../etc/passwd"), None);
        assert_eq!(static_path(dir, "/a/../../x"), None);
    }
}
