//! A raw Engine.IO long-polling client for tests of real servers: one HTTP/1.1 request per
//! call (`Connection: close`), so every wait has the read timeout [`WAIT`] as its deadline.
//! Shared by the core's and rtio-redis's tests (`#[path]`), each using part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rtio::{Config, Event, Server};

/// How long any wait of a test may last.
pub const WAIT: Duration = Duration::from_secs(5);

/// One HTTP/1.1 request with `Connection: close`; returns (status, body), a chunked body
/// decoded.
pub fn http_bytes(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("response");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let status = std::str::from_utf8(&out[9..12]).unwrap().parse().unwrap();
    let head = String::from_utf8_lossy(&out[..split]).to_lowercase();
    let mut body = out[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

/// Like [`http_bytes`], with the body as text.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let (status, body) = http_bytes(addr, method, path, body);
    (status, String::from_utf8(body).expect("a text body"))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[line_end + 2..line_end + 2 + size]);
        data = &data[line_end + 4 + size..];
    }
}

/// A long-polling client joined to `/`.
pub struct Client {
    pub addr: SocketAddr,
    /// The Engine.IO session id.
    pub eio: String,
    /// The Socket.IO id its host was given.
    pub sid: String,
}

impl Client {
    /// Opens a session, joins `/` with this auth, takes the host's `Connect` and the
    /// client's CONNECT packet.
    pub fn connect(server: &Server, auth: &str) -> Client {
        let addr = server.local_addr();
        let (status, body) = http(addr, "GET", "/socket.io/?EIO=4&transport=polling&q=1", b"");
        assert_eq!(status, 200);
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        let mut c = Client {
            addr,
            eio: open["sid"].as_str().unwrap().to_string(),
            sid: String::new(),
        };
        c.post(&format!("40{auth}"));
        match next(server) {
            Event::Connect { sid, .. } => c.sid = sid.to_string(),
            other => panic!("{other:?}"),
        }
        c.expect(&[&format!("40{{\"sid\":\"{}\"}}", c.sid)]);
        c
    }

    pub fn path(&self) -> String {
        format!("/socket.io/?EIO=4&transport=polling&sid={}", self.eio)
    }

    pub fn post(&self, packets: &str) {
        assert_eq!(
            http(self.addr, "POST", &self.path(), packets.as_bytes()).0,
            200
        );
    }

    /// What is queued for the client (waits for something: call it only when a packet is
    /// due).
    pub fn get(&self) -> String {
        let (status, body) = http(self.addr, "GET", &self.path(), b"");
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The next packets for the client, exactly these (waits for them; one more that came
    /// in the same poll fails the test).
    pub fn expect(&self, want: &[&str]) {
        let mut got: Vec<String> = Vec::new();
        while got.len() < want.len() {
            got.extend(self.get().split('\x1e').map(str::to_string));
        }
        assert_eq!(got, want, "packets of {}", self.sid);
    }

    /// The packets up to and including `last`.
    pub fn until(&self, last: &str) -> Vec<String> {
        let mut got: Vec<String> = Vec::new();
        while !got.iter().any(|p| p == last) {
            got.extend(self.get().split('\x1e').map(str::to_string));
        }
        assert_eq!(got.last().map(String::as_str), Some(last), "{got:?}");
        got
    }

    /// The next packet (one poll that must bring exactly one).
    pub fn one(&self) -> String {
        let body = self.get();
        assert!(!body.contains('\x1e'), "one packet expected: {body:?}");
        body
    }
}

/// A server on a free loopback port.
pub fn start(config: Config) -> Server {
    Server::start(config.host("127.0.0.1").port(0)).expect("server starts")
}

/// The server's next event, within [`WAIT`].
pub fn next(server: &Server) -> Event {
    server
        .events()
        .recv_timeout(WAIT)
        .expect("running")
        .expect("an event within the timeout")
}

/// Fails if the server has an event within `wait`.
pub fn quiet(server: &Server, wait: Duration) {
    if let Some(ev) = server.events().recv_timeout(wait).unwrap() {
        panic!("no event expected, got {ev:?}");
    }
}
