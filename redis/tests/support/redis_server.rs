//! A private `redis-server` for the integration tests: each test starts its own on a free
//! loopback port (`--save '' --appendonly no`) and kills it by PID when its guard drops.
//! Without `redis-server` on the PATH the tests that use it FAIL, on purpose: a cluster
//! test that passes without Redis would prove nothing (CI installs it from Debian, see
//! `.ci/run`).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Deadline of the server's start.
const READY: Duration = Duration::from_secs(5);

/// A `redis-server` child process on 127.0.0.1:`port`, killed (SIGKILL, by PID) on drop.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// A server on a free port, ready to answer.
    pub fn start() -> RedisServer {
        RedisServer::start_on(free_port())
    }

    /// A server on `port` (e.g. the port a killed server had), ready to answer.
    pub fn start_on(port: u16) -> RedisServer {
        RedisServer::start_with(port, &[])
    }

    /// A server on `port` with more command-line options.
    pub fn start_with(port: u16, extra: &[&str]) -> RedisServer {
        let child = Command::new(redis_server())
            .args(["--port", &port.to_string()])
            .args(extra)
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn redis-server");
        let server = RedisServer {
            port,
            child: Some(child),
        };
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Polls PING until the server answers.
    pub fn wait_ready(&self) {
        let deadline = Instant::now() + READY;
        loop {
            if let Ok(reply) = raw_command(self.port, &["PING"]) {
                // With `--requirepass` the answer is a NOAUTH error: up all the same.
                if reply.starts_with("+PONG") || reply.starts_with("-NOAUTH") {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not come up",
                self.port
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills the server (SIGKILL: no goodbye to clients, like a crash) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `CLIENT LIST` as text.
    pub fn client_list(&self) -> String {
        raw_command(self.port, &["CLIENT", "LIST"]).expect("CLIENT LIST")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `redis-server` binary, or a loud failure.
pub fn redis_server() -> &'static str {
    let found = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "\n\n*** redis-server is not installed: the RedisLink tests need it and FAIL without it \
         (Debian: apt-get install redis-server; .ci/run installs it) ***\n"
    );
    "redis-server"
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a free port")
        .port()
}

/// One RESP2 command on a fresh blocking connection; the reply's raw text (a bulk reply is
/// read until the connection has nothing more for 100 ms, enough for `CLIENT LIST`).
pub fn raw_command(port: u16, args: &[&str]) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    stream.write_all(cmd.as_bytes())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                stream.set_read_timeout(Some(Duration::from_millis(100)))?;
            }
            Err(e) if out.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}
