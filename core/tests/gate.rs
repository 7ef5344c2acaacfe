//! The request gate and the origin policy, over real sockets with raw HTTP requests.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rtio::engineio::Transport;
use rtio::{Config, CorsOrigins, Error, Event, RequestAnswer, Server};

const WAIT: Duration = Duration::from_secs(5);
const HANDSHAKE: &str = "/socket.io/?EIO=4&transport=polling";
const UPGRADE: &str = "/socket.io/?EIO=4&transport=websocket";

/// An answer: status, header lines (names lower case), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request with `Connection: close` and extra header lines; reads the answer's head
/// and, unless it is a 101, its body.
fn request(addr: SocketAddr, method: &str, path: &str, extra: &[(&str, &str)]) -> Answer {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: ");
    let upgrade = extra.iter().any(|(n, _)| *n == "Upgrade");
    head.push_str(if upgrade { "Upgrade\r\n" } else { "close\r\n" });
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let split = loop {
        if let Some(p) = out.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).expect("an answer");
        assert!(n > 0, "the connection closed before an answer");
        out.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&out[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = out[split + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    if status != 101 {
        match length {
            // A refused upgrade may keep the connection open: read just the body.
            Some(n) => {
                while body.len() < n {
                    let got = s.read(&mut buf).expect("the body");
                    assert!(got > 0, "the body was cut");
                    body.extend_from_slice(&buf[..got]);
                }
            }
            None => {
                s.read_to_end(&mut body).expect("the body");
            }
        }
    }
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
    }
}

fn ws_headers(origin: Option<&str>) -> Vec<(&str, &str)> {
    let mut h = vec![
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];
    h.extend(origin.map(|o| ("Origin", o)));
    h
}

fn start(config: Config) -> Server {
    Server::start(config.host("127.0.0.1").port(0)).expect("server starts")
}

/// Answers the next gated request with what `decide` says, on a thread of its own.
fn gatekeeper(
    server: &Server,
    decide: impl Fn(&rtio::RequestInfo) -> RequestAnswer + Send + 'static,
) -> std::thread::JoinHandle<Vec<rtio::RequestInfo>> {
    let events = server.events().clone();
    let io = server.io();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok(Some(event)) = events.recv_timeout(Duration::from_millis(1500)) {
            if let Event::Request { request, info } = event {
                io.answer_request(request, decide(&info)).unwrap();
                seen.push((*info).clone());
            }
        }
        seen
    })
}

#[test]
fn the_gate_decides_polling_and_websocket_handshakes() {
    let server = start(Config::default().request_gate(true));
    let keeper = gatekeeper(&server, |info| {
        if info.query().contains("deny=1") {
            RequestAnswer::deny(403, "go away")
        } else {
            RequestAnswer::allow()
        }
    });
    let addr = server.local_addr();
    let refused = request(addr, "GET", &format!("{HANDSHAKE}&deny=1"), &[]);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, r#"{"code":4,"message":"go away"}"#);
    let allowed = request(addr, "GET", HANDSHAKE, &[("Origin", "http://a.test")]);
    assert_eq!(allowed.status, 200);
    assert!(allowed.body.starts_with("0{"), "{}", allowed.body);

    let refused = request(addr, "GET", &format!("{UPGRADE}&deny=1"), &ws_headers(None));
    assert_eq!(refused.status, 403, "a refused WebSocket is not upgraded");
    let allowed = request(addr, "GET", UPGRADE, &ws_headers(None));
    assert_eq!(allowed.status, 101);

    let seen = keeper.join().unwrap();
    assert_eq!(seen.len(), 4, "one question per handshake: {seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].url, format!("{HANDSHAKE}&deny=1"));
    assert_eq!(seen[0].transport, Transport::Polling);
    assert_eq!(seen[1].origin(), Some("http://a.test"));
    assert_eq!(seen[2].transport, Transport::WebSocket);
    assert_eq!(seen[0].remote_addr.ip(), addr.ip());
}

#[test]
fn requests_of_an_open_session_are_not_gated() {
    let server = start(Config::default().request_gate(true));
    let keeper = gatekeeper(&server, |_| RequestAnswer::allow());
    let addr = server.local_addr();
    let open = request(addr, "GET", HANDSHAKE, &[]);
    let sid = open.body.split('"').nth(3).unwrap().to_string();
    let post = request(
        addr,
        "POST",
        &format!("{HANDSHAKE}&sid={sid}"),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(post.status, 400, "an empty POST body is no payload");
    assert_eq!(keeper.join().unwrap().len(), 1);
}

#[test]
fn an_unanswered_gate_refuses_after_its_timeout() {
    let mut config = Config::default().request_gate(true);
    config.request_gate_timeout = Duration::from_millis(200);
    let server = start(config);
    let refused = request(server.local_addr(), "GET", HANDSHAKE, &[]);
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body, r#"{"code":4,"message":"Forbidden"}"#);
    let Ok(Some(Event::Request { request, .. })) = server.events().recv_timeout(WAIT) else {
        panic!("the request reached the host");
    };
    assert_eq!(
        server.io().answer_request(request, RequestAnswer::allow()),
        Err(Error::UnknownRequest(request)),
        "a late answer is refused"
    );
}

#[test]
fn the_default_policy_gives_no_cross_origin_access() {
    let server = start(Config::default());
    let addr = server.local_addr();
    let get = request(addr, "GET", HANDSHAKE, &[("Origin", "http://other.test")]);
    assert_eq!(get.status, 200, "served, as socket.io does");
    assert_eq!(get.header("access-control-allow-origin"), None);
    let preflight = request(
        addr,
        "OPTIONS",
        HANDSHAKE,
        &[("Origin", "http://other.test")],
    );
    assert_eq!(preflight.header("access-control-allow-origin"), None);
}

#[test]
fn credentials_are_allowed_only_when_configured() {
    let origin = "http://other.test";
    for credentials in [false, true] {
        let server = start(
            Config::default()
                .cors(CorsOrigins::Any)
                .cors_credentials(credentials),
        );
        let get = request(server.local_addr(), "GET", HANDSHAKE, &[("Origin", origin)]);
        assert_eq!(get.header("access-control-allow-origin"), Some(origin));
        assert_eq!(
            get.header("access-control-allow-credentials"),
            credentials.then_some("true")
        );
    }
}

#[test]
fn other_origins_are_refused_on_every_request_when_asked() {
    let server = start(
        Config::default()
            .cors(CorsOrigins::List(vec!["http://good.test".into()]))
            .reject_other_origins(true),
    );
    let addr = server.local_addr();
    for (method, path, headers) in [
        ("GET", HANDSHAKE.to_string(), vec![]),
        ("GET", UPGRADE.to_string(), ws_headers(None)),
    ] {
        let mut bad = headers.clone();
        bad.push(("Origin", "http://evil.test"));
        let refused = request(addr, method, &path, &bad);
        assert_eq!(refused.status, 400, "{path}");
        assert_eq!(refused.body, "\"Not an accepted origin.\"");
        let mut good = headers.clone();
        good.push(("Origin", "http://good.test"));
        let allowed = request(addr, method, &path, &good);
        assert!([200, 101].contains(&allowed.status), "{path}");
        let plain = request(addr, method, &path, &headers);
        assert!(
            [200, 101].contains(&plain.status),
            "no Origin: not a browser"
        );
    }
}

#[test]
fn with_no_cross_origin_policy_only_the_own_origin_passes_the_check() {
    let server = start(Config::default().reject_other_origins(true));
    let addr = server.local_addr();
    let own = format!("http://{addr}");
    assert_eq!(
        request(addr, "GET", HANDSHAKE, &[("Origin", own.as_str())]).status,
        200
    );
    assert_eq!(
        request(addr, "GET", HANDSHAKE, &[("Origin", "http://evil.test")]).status,
        400
    );
    let ws = request(addr, "GET", UPGRADE, &ws_headers(Some("http://evil.test")));
    assert_eq!(ws.status, 400, "a cross-site WebSocket is refused");
    let proxied = [
        ("Origin", "https://public.test"),
        ("X-Forwarded-Host", "public.test, inner.test"),
    ];
    assert_eq!(
        request(addr, "GET", HANDSHAKE, &proxied).status,
        200,
        "behind a proxy, the forwarded host is the server's own"
    );
}

#[test]
fn the_host_decides_origins_per_handshake_and_sessions_keep_the_decision() {
    let good = "http://good.test";
    let server = start(
        Config::default()
            .cors(CorsOrigins::Host)
            .cors_credentials(true),
    );
    let keeper = gatekeeper(&server, move |info| {
        RequestAnswer::allow().cross_origin(info.origin() == Some(good))
    });
    let addr = server.local_addr();
    let open = request(addr, "GET", HANDSHAKE, &[("Origin", good)]);
    assert_eq!(open.header("access-control-allow-origin"), Some(good));
    assert_eq!(
        open.header("access-control-allow-credentials"),
        Some("true")
    );
    let sid = open.body.split('"').nth(3).unwrap().to_string();
    let session = format!("{HANDSHAKE}&sid={sid}");

    let preflight = request(addr, "OPTIONS", &session, &[("Origin", good)]);
    assert_eq!(preflight.header("access-control-allow-origin"), Some(good));
    let other = request(addr, "OPTIONS", &session, &[("Origin", "http://evil.test")]);
    assert_eq!(
        other.header("access-control-allow-origin"),
        None,
        "the session's decision is for its own origin only"
    );
    let refused = request(addr, "GET", HANDSHAKE, &[("Origin", "http://evil.test")]);
    assert_eq!(refused.status, 200);
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let asked = keeper.join().unwrap();
    assert_eq!(asked.len(), 2, "only requests without a session are asked");
}
