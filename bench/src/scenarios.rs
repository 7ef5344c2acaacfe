//! The scenarios. Each runs against one server and returns its figures; the caller
//! runs it in a fresh `LocalSet`, so every client task ends (and every socket closes) when
//! the scenario returns.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::client::{self, now_us, Polling, Publisher, Result, Target, Traffic, Ws};
use crate::proto::{self, Packet};
use crate::server::{self_cpu_seconds, RedisProc, ServerProc};

/// The sizes of one run (full or quick).
#[derive(Debug, Clone)]
pub struct Params {
    /// Idle clients for the memory-per-connection figure.
    pub idle_clients: usize,
    /// After that, keep connecting up to this many (0: skip), within `max_ramp_budget`.
    pub max_clients: usize,
    /// File descriptors each process may open (RLIMIT_NOFILE, raised as far as allowed):
    /// every client costs one here and one in the server, so it caps the ramp.
    pub fd_limit: u64,
    /// Time allowed for the ramp to `max_clients`.
    pub max_ramp_budget: Duration,
    /// Clients of the fan-out scenarios.
    pub fanout_clients: usize,
    /// Fan-out messages sent.
    pub fanout_messages: u32,
    /// Fan-out messages in flight at most (closed loop).
    pub fanout_window: u32,
    /// Fan-out messages sent one at a time before the measured run (unloaded latency).
    pub probe_messages: u32,
    /// Time allowed for the measured fan-out; then sending stops (noted in the report).
    pub fanout_budget: Duration,
    /// Bytes of the `data` string of a fan-out message.
    pub payload_bytes: usize,
    /// Polling clients of the polling fan-out.
    pub polling_clients: usize,
    /// Fan-out messages of the polling fan-out.
    pub polling_messages: u32,
    /// Echo clients (one round trip in flight each).
    pub echo_clients: usize,
    /// Echo warm-up, not measured.
    pub echo_warmup: Duration,
    /// Echo measured window.
    pub echo_duration: Duration,
    /// Bytes of the echo argument.
    pub echo_bytes: usize,
    /// Clients of the connect storm.
    pub storm_clients: usize,
    /// Fan-out messages of the cluster fan-out (its clients: `fanout_clients`).
    pub cluster_messages: u32,
    /// WebSocket clients of the publish scenario (all receivers).
    pub publish_clients: usize,
    /// Publishes through the HTTP API in the publish scenario's measured run.
    pub publish_messages: u32,
    /// Keep-alive HTTP/1.1 connections of the publisher, one POST in flight on each.
    pub publishers: usize,
    /// Clients of each compression scenario (WebSocket with permessage-deflate, polling
    /// with HTTP compression).
    pub compression_clients: usize,
    /// Messages (~2 KB JSON) of the WebSocket fan-out with permessage-deflate.
    pub compression_ws_messages: u32,
    /// Messages (~2 KB JSON) of the polling fan-out with HTTP compression.
    pub compression_polling_messages: u32,
    /// Connection attempts in flight at once during a ramp or a storm (kept under the
    /// servers' listen backlog: Node's is 511; beyond it the kernel drops SYNs and the
    /// figure would measure TCP's 1 s retransmission timer instead of the server).
    pub connect_concurrency: usize,
    /// Open-loop fan-out (latency under load): warm-up, not measured.
    pub latency_warmup: Duration,
    /// Open-loop fan-out: measured window.
    pub latency_duration: Duration,
    /// Open-loop fan-out: deliveries/s asked of every server when Node socket.io's
    /// saturation rate is not known in the run (no `socketio` column, or no fan-out before):
    /// divided by `fanout_clients`, it is the broadcasts/s the sender keeps to.
    pub latency_default_deliveries: f64,
    /// Open-loop fan-out: broadcasts/s set with `--rate` (overrides both).
    pub latency_rate: Option<f64>,
}

impl Params {
    /// The sizes the issue asks for.
    pub fn full() -> Params {
        Params {
            idle_clients: 10_000,
            max_clients: 100_000,
            fd_limit: 1 << 20,
            max_ramp_budget: Duration::from_secs(120),
            fanout_clients: 1_000,
            fanout_messages: 2_000,
            fanout_window: 16,
            probe_messages: 100,
            fanout_budget: Duration::from_secs(150),
            payload_bytes: 200,
            polling_clients: 1_000,
            polling_messages: 2_000,
            echo_clients: 100,
            echo_warmup: Duration::from_secs(1),
            echo_duration: Duration::from_secs(10),
            echo_bytes: 200,
            storm_clients: 5_000,
            cluster_messages: 2_000,
            publish_clients: 1_000,
            publish_messages: 2_000,
            publishers: 4,
            // socket.io compresses each message once per socket (ws keeps a deflate context
            // per connection): ~16k deliveries/s on one core, so 500 × 300 takes ~10 s (the
            // probe's 100 × 500 ~3 s more), and ~10k/s over polling; python-socketio is
            // slower still. Small enough to keep the full run near its 15 minutes.
            compression_clients: 500,
            compression_ws_messages: 300,
            compression_polling_messages: 200,
            connect_concurrency: 500,
            latency_warmup: Duration::from_secs(1),
            latency_duration: Duration::from_secs(10),
            // 50 broadcasts/s to 1,000 clients: under half of what Node socket.io sustains on
            // one core here (~100k deliveries/s in quick runs), far under rtio's.
            latency_default_deliveries: 50_000.0,
            latency_rate: None,
        }
    }

    /// A smaller run: about 45 s per host with every scenario.
    pub fn quick() -> Params {
        Params {
            idle_clients: 2_000,
            max_clients: 0,
            fanout_messages: 300,
            polling_messages: 200,
            probe_messages: 30,
            fanout_budget: Duration::from_secs(20),
            echo_warmup: Duration::from_millis(500),
            echo_duration: Duration::from_secs(3),
            storm_clients: 2_000,
            // More than the single server's 300: at 2M deliveries/s 300 messages take 0.15 s,
            // 15 ticks of the 10 ms CPU clock.
            cluster_messages: 1_000,
            // 100 clients: a publish is 100 deliveries, so thousands of publishes a second;
            // 8,000 of them last about a second on the faster server (100 ticks of the CPU
            // clock).
            publish_clients: 100,
            publish_messages: 8_000,
            compression_clients: 50,
            compression_ws_messages: 2_000,
            compression_polling_messages: 1_000,
            latency_warmup: Duration::from_millis(500),
            latency_duration: Duration::from_secs(3),
            ..Params::full()
        }
    }
}

impl Params {
    /// The open-loop fan-out's default rate, broadcasts/s: `latency_default_deliveries`
    /// spread over the fan-out's clients (50/s for 1,000).
    pub fn latency_default_rate(&self) -> f64 {
        (self.latency_default_deliveries / self.fanout_clients.max(1) as f64).max(1.0)
    }
}

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Idle,
    Fanout,
    /// The WebSocket fan-out of 2 in an open loop: client 0 sends at a fixed rate whatever
    /// the server's progress; latency from each message's scheduled send time.
    Latency,
    Echo,
    PollingFanout,
    Storm,
    /// The fan-out of 2 across two nodes of one host joined through a Redis server.
    Cluster,
    /// The fan-out with ~2 KB JSON events over WebSocket with permessage-deflate, on a
    /// second server of each host started with `--per-message-deflate` (issue 19).
    CompressionWs,
    /// The same events over long-polling with HTTP compression (on by default), clients
    /// sending `Accept-Encoding: gzip, deflate` (issue 19).
    CompressionPolling,
    /// Publishes through the HTTP API of `rtio serve` and of an Express + socket.io server
    /// (issue 18): not a scenarios-server scenario, it runs once on servers of its own.
    Publish,
}

impl Scenario {
    /// The latency scenario follows the fan-out: its rate is half of the saturation rate
    /// Node socket.io showed there.
    pub const ALL: [Scenario; 10] = [
        Scenario::Idle,
        Scenario::Fanout,
        Scenario::Latency,
        Scenario::Echo,
        Scenario::PollingFanout,
        Scenario::Storm,
        Scenario::Cluster,
        Scenario::CompressionWs,
        Scenario::CompressionPolling,
        Scenario::Publish,
    ];

    /// Whether `--only NAME` selects this scenario: its key, or its group's (`compression`
    /// selects both compression scenarios).
    pub fn selected_by(self, name: &str) -> bool {
        name == self.key()
            || (name == "compression"
                && matches!(self, Scenario::CompressionWs | Scenario::CompressionPolling))
    }

    /// Short name (command line, log files).
    pub fn key(self) -> &'static str {
        match self {
            Scenario::Idle => "idle",
            Scenario::Fanout => "fanout",
            Scenario::Latency => "latency",
            Scenario::Echo => "echo",
            Scenario::PollingFanout => "polling",
            Scenario::Storm => "storm",
            Scenario::Cluster => "cluster",
            Scenario::CompressionWs => "compression-ws",
            Scenario::CompressionPolling => "compression-polling",
            Scenario::Publish => "publish",
        }
    }

    /// Title in the table.
    pub fn title(self, p: &Params) -> String {
        match self {
            Scenario::Idle => format!("1. idle, {} websocket clients", thousands(p.idle_clients)),
            Scenario::Fanout => format!(
                "2. fan-out, websocket, {} clients × {} msgs of {} B, {} in flight",
                thousands(p.fanout_clients),
                thousands(p.fanout_messages as usize),
                p.payload_bytes,
                p.fanout_window
            ),
            Scenario::Latency => match p.latency_rate {
                Some(rate) => latency_title(p, rate),
                None => format!(
                    "9. latency, open-loop fan-out, websocket, {} clients",
                    thousands(p.fanout_clients)
                ),
            },
            Scenario::Echo => format!(
                "3. echo (message-with-ack), {} clients, {} s",
                p.echo_clients,
                p.echo_duration.as_secs_f64()
            ),
            Scenario::PollingFanout => format!(
                "4. fan-out, long-polling, {} clients × {} msgs, {} in flight",
                thousands(p.polling_clients),
                thousands(p.polling_messages as usize),
                p.fanout_window
            ),
            Scenario::Storm => format!(
                "5. connect storm, {} websocket clients",
                thousands(p.storm_clients)
            ),
            Scenario::Cluster => format!(
                "6. cluster fan-out, 2 nodes + Redis, websocket, {} clients (half on each) × {} \
                 msgs of {} B, {} in flight",
                thousands(p.fanout_clients),
                thousands(p.cluster_messages as usize),
                p.payload_bytes,
                p.fanout_window
            ),
            Scenario::CompressionWs => format!(
                "8a. compression: fan-out, websocket with permessage-deflate (servers started \
                 with --per-message-deflate: threshold 0), {} clients × {} msgs of ~2 KB JSON, \
                 {} in flight",
                thousands(p.compression_clients),
                thousands(p.compression_ws_messages as usize),
                p.fanout_window
            ),
            Scenario::CompressionPolling => format!(
                "8b. compression: fan-out, long-polling with HTTP compression (the default: \
                 ≥ 1024 B), Accept-Encoding: gzip, deflate, {} clients × {} msgs of ~2 KB \
                 JSON, {} in flight",
                thousands(p.compression_clients),
                thousands(p.compression_polling_messages as usize),
                p.fanout_window
            ),
            Scenario::Publish => format!(
                "7. publish through the HTTP API (POST /api/emit), {} websocket clients × {} \
                 publishes of {} B, {} keep-alive connections with one POST in flight each, \
                 at most {} publishes undelivered",
                thousands(p.publish_clients),
                thousands(p.publish_messages as usize),
                p.payload_bytes,
                p.publishers,
                p.fanout_window
            ),
        }
    }
}

/// The latency scenario's title at `rate` broadcasts/s.
pub fn latency_title(p: &Params, rate: f64) -> String {
    format!(
        "9. latency, open-loop fan-out at {} broadcasts/s, websocket, {} clients, msgs of {} B, \
         {} s measured after {} s",
        crate::report::number(rate, if rate < 10.0 { 1 } else { 0 }),
        thousands(p.fanout_clients),
        p.payload_bytes,
        p.latency_duration.as_secs_f64(),
        p.latency_warmup.as_secs_f64()
    )
}

/// Formats 10000 as 10,000.
pub fn thousands(n: usize) -> String {
    crate::report::number(n as f64, 0)
}

/// What one scenario measured on one server: named figures, and notes (errors, limits).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub values: Vec<(&'static str, f64)>,
    pub notes: Vec<String>,
}

impl Outcome {
    fn set(&mut self, key: &'static str, v: f64) {
        self.values.push((key, v));
    }

    /// A figure by key.
    pub fn get(&self, key: &str) -> Option<f64> {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .filter(|v| v.is_finite())
    }
}

/// The processes a scenario measures: the server under test, or the nodes of a cluster
/// (their figures are summed: the cost of the work to the whole cluster) and its Redis
/// server (measured apart: it is the same program whichever host the nodes are).
#[derive(Clone, Copy)]
pub struct Procs<'a> {
    pub servers: &'a [&'a ServerProc],
    pub redis: Option<&'a RedisProc>,
}

impl<'a> Procs<'a> {
    pub fn one(server: &'a &'a ServerProc) -> Procs<'a> {
        Procs {
            servers: std::slice::from_ref(server),
            redis: None,
        }
    }

    fn cpu_split(&self) -> Vec<(f64, f64)> {
        self.servers.iter().map(|s| s.cpu_split()).collect()
    }

    fn context_switches(&self) -> u64 {
        self.servers.iter().map(|s| s.context_switches()).sum()
    }

    fn redis_cpu(&self) -> f64 {
        self.redis.map_or(f64::NAN, RedisProc::cpu_seconds)
    }
}

/// The figures of each node of a cluster, in node order (node A has the sending client).
const NODE_CPU_KEYS: [&str; 2] = ["node_a_cpu_us_per_op", "node_b_cpu_us_per_op"];

/// Server and load-generator CPU over a measured window (and a `perf record` of each
/// server over it, with `--perf`).
struct Window<'a> {
    procs: Procs<'a>,
    t0: u64,
    servers0: Vec<(f64, f64)>,
    redis0: f64,
    self0: f64,
    perf: Vec<std::process::Child>,
    drops0: (u64, u64),
    switches0: u64,
}

impl<'a> Window<'a> {
    fn start(procs: Procs<'a>) -> Window<'a> {
        let perf = procs
            .servers
            .iter()
            .filter_map(|s| s.start_perf())
            .collect();
        Window {
            procs,
            t0: now_us(),
            servers0: procs.cpu_split(),
            redis0: procs.redis_cpu(),
            self0: self_cpu_seconds(),
            perf,
            drops0: crate::server::listen_drops(),
            switches0: procs.context_switches(),
        }
    }

    /// Records wall time, CPU of both sides (seconds and % of one core), and server CPU
    /// per unit of work (`per` names the unit: µs of server CPU per `count`), summed over
    /// the servers, with each node's share and Redis' CPU apart for a cluster.
    fn finish(self, out: &mut Outcome, count: f64, per: &'static str) {
        let wall = (now_us() - self.t0) as f64 / 1e6;
        let cpu: Vec<(f64, f64)> = self
            .procs
            .cpu_split()
            .iter()
            .zip(&self.servers0)
            .map(|((u1, s1), (u0, s0))| (u1 - u0, s1 - s0))
            .collect();
        let kernel: f64 = cpu.iter().map(|(_, s)| s).sum();
        let server_cpu = cpu.iter().map(|(u, _)| u).sum::<f64>() + kernel;
        let redis_cpu = self.procs.redis_cpu() - self.redis0;
        let self_cpu = self_cpu_seconds() - self.self0;
        for perf in self.perf {
            crate::server::stop_perf(perf);
        }
        let drops = crate::server::listen_drops();
        let (dropped, cookies) = (drops.0 - self.drops0.0, drops.1 - self.drops0.1);
        if dropped + cookies > 0 {
            out.notes.push(format!(
                "the kernel dropped {dropped} connection attempts (listen queue full) and sent \
                 {cookies} SYN cookies during the measured window"
            ));
        }
        out.set("wall_s", wall);
        out.set("server_cpu_s", server_cpu);
        out.set("server_cpu_pct", 100.0 * server_cpu / wall);
        out.set("loadgen_cpu_pct", 100.0 * self_cpu / wall);
        if self.procs.redis.is_some() {
            out.set("redis_cpu_pct", 100.0 * redis_cpu / wall);
        }
        if count > 0.0 {
            out.set(per, server_cpu * 1e6 / count);
            out.set("kernel_us_per_op", kernel * 1e6 / count);
            let switches = self.procs.context_switches().saturating_sub(self.switches0);
            out.set("switches_per_op", switches as f64 / count);
            if cpu.len() > 1 {
                for (key, (u, s)) in NODE_CPU_KEYS.iter().zip(&cpu) {
                    out.set(key, (u + s) * 1e6 / count);
                }
            }
            if self.procs.redis.is_some() {
                out.set("redis_cpu_us_per_op", redis_cpu * 1e6 / count);
            }
        }
    }
}

/// Where a scenario's WebSocket clients connect on `server`: a scenarios server, or the
/// floor (raw WebSocket clients).
fn target_of(server: &ServerProc) -> Target {
    if server.floor {
        Target::floor(server.port)
    } else {
        Target::local(server.port)
    }
}

/// Whether the floor (a plain WebSocket broadcaster, no Socket.IO layer) has an equivalent
/// of `scenario`: idle memory, WebSocket fan-out, echo and the connect storm; not
/// long-polling, the cluster, compression or publishing.
pub fn floor_runs(scenario: Scenario) -> bool {
    matches!(
        scenario,
        Scenario::Idle | Scenario::Fanout | Scenario::Latency | Scenario::Echo | Scenario::Storm
    )
}

/// p50 and p99 of latencies in µs, as milliseconds.
fn percentiles(out: &mut Outcome, lat: &mut [u32], p50: &'static str, p99: &'static str) {
    if lat.is_empty() {
        return;
    }
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    out.set(p50, at(0.50));
    out.set(p99, at(0.99));
}

// ---------------------------------------------------------------------------------------------
// Connecting many clients
// ---------------------------------------------------------------------------------------------

/// A connected client, either transport.
enum Client {
    Ws(Ws),
    Polling(Polling),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Ws,
    Polling,
}

/// How long one client may take to connect before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

type Role = Rc<dyn Fn(usize, Client) -> Pin<Box<dyn Future<Output = ()>>>>;

/// Progress of a ramp of connections.
#[derive(Default)]
struct Ramp {
    ok: Cell<usize>,
    failed: Cell<usize>,
    /// Clients whose connection later ended (idle clients only).
    lost: Cell<usize>,
    first_error: RefCell<Option<String>>,
    connect_us: RefCell<Vec<u32>>,
    progress: Notify,
}

impl Ramp {
    /// Waits until `n` attempts ended (connected or failed).
    async fn wait(&self, n: usize) {
        while self.ok.get() + self.failed.get() < n {
            self.progress.notified().await;
        }
    }

    fn error(&self, e: String) {
        self.failed.set(self.failed.get() + 1);
        self.first_error.borrow_mut().get_or_insert(e);
        self.progress.notify_one();
    }
}

/// Spawns clients `first..first + count`: each connects (at most `sem` at once), then runs
/// `role`.
fn spawn_clients(
    target: &Rc<Target>,
    first: usize,
    count: usize,
    transport: Transport,
    sem: &Rc<Semaphore>,
    ramp: &Rc<Ramp>,
    role: &Role,
) -> Vec<JoinHandle<()>> {
    (first..first + count)
        .map(|i| {
            let (target, sem, ramp, role) =
                (target.clone(), sem.clone(), ramp.clone(), role.clone());
            tokio::task::spawn_local(async move {
                let permit = sem.acquire().await.expect("semaphore open");
                let t0 = now_us();
                let connect = async {
                    match transport {
                        Transport::Ws => Ws::connect(&target).await.map(Client::Ws),
                        Transport::Polling => Polling::connect(&target).await.map(Client::Polling),
                    }
                };
                let client = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                    .await
                    .unwrap_or_else(|_| Err(crate::client::Error("connect timed out".into())));
                drop(permit);
                match client {
                    Ok(c) => {
                        let took = (now_us() - t0).min(u32::MAX as u64) as u32;
                        ramp.connect_us.borrow_mut().push(took);
                        ramp.ok.set(ramp.ok.get() + 1);
                        ramp.progress.notify_one();
                        role(i, c).await;
                    }
                    Err(e) => ramp.error(e.0),
                }
            })
        })
        .collect()
}

/// A role for clients that only stay connected (answering pings) until the scenario ends.
fn hold(ramp: &Rc<Ramp>) -> Role {
    let ramp = ramp.clone();
    Rc::new(move |_, client| {
        let ramp = ramp.clone();
        Box::pin(async move {
            let Client::Ws(mut ws) = client else { return };
            while ws.idle().await.is_ok() {}
            ramp.lost.set(ramp.lost.get() + 1);
        })
    })
}

fn connect_failures(out: &mut Outcome, ramp: &Ramp) {
    if ramp.failed.get() > 0 {
        out.notes.push(format!(
            "{} connection attempts failed (first: {})",
            ramp.failed.get(),
            ramp.first_error.borrow().as_deref().unwrap_or("?")
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Idle memory per connection, and the most connections held
// ---------------------------------------------------------------------------------------------

pub async fn idle(server: &mut ServerProc, p: &Params) -> Outcome {
    let mut out = Outcome::default();
    let target = Rc::new(target_of(server));
    let sem = Rc::new(Semaphore::new(p.connect_concurrency));

    // Warm-up: the first connections load code and grow pools in either server; that is
    // not a per-connection cost.
    let warm = Rc::new(Ramp::default());
    let tasks = spawn_clients(&target, 0, 100, Transport::Ws, &sem, &warm, &hold(&warm));
    warm.wait(100).await;
    tasks.iter().for_each(JoinHandle::abort);
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let rss0 = server.rss_kib();
    let ramp = Rc::new(Ramp::default());
    let role = hold(&ramp);
    let t0 = now_us();
    let _idle = spawn_clients(
        &target,
        0,
        p.idle_clients,
        Transport::Ws,
        &sem,
        &ramp,
        &role,
    );
    ramp.wait(p.idle_clients).await;
    let ramp_s = (now_us() - t0) as f64 / 1e6;
    // Every CONNECT ack and `auth` event arrived; now let it sit idle for a moment.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss1 = server.rss_kib();
    let held = ramp.ok.get() - ramp.lost.get();
    out.set("idle_connected", held as f64);
    out.set("rss_base_mib", rss0 as f64 / 1024.0);
    out.set("rss_idle_mib", rss1 as f64 / 1024.0);
    if held > 0 {
        out.set(
            "rss_per_conn_kib",
            (rss1 as f64 - rss0 as f64) / held as f64,
        );
    }
    out.set("idle_ramp_s", ramp_s);
    connect_failures(&mut out, &ramp);

    // Headroom for the sockets of the warm-up still closing, /proc reads, logs.
    let fd_cap = (p.fd_limit as usize).saturating_sub(1_000);
    let ramp_to = p.max_clients.min(fd_cap);
    if ramp_to > p.idle_clients && ramp.failed.get() == 0 {
        // Keep connecting, 10,000 at a time, until the target, a failure, or the budget.
        let deadline = now_us() + p.max_ramp_budget.as_micros() as u64;
        let mut spawned = p.idle_clients;
        while spawned < ramp_to && now_us() < deadline && server.alive() {
            let batch = (ramp_to - spawned).min(10_000);
            spawn_clients(&target, spawned, batch, Transport::Ws, &sem, &ramp, &role);
            spawned += batch;
            let waited = tokio::time::timeout(
                Duration::from_micros(deadline.saturating_sub(now_us())),
                ramp.wait(spawned),
            )
            .await;
            if waited.is_err() || ramp.failed.get() > 0 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let held = ramp.ok.get() - ramp.lost.get();
        out.set("max_held", held as f64);
        out.set("max_attempted", spawned as f64);
        let rss = server.rss_kib();
        out.set("rss_max_mib", rss as f64 / 1024.0);
        if held > 0 {
            out.set(
                "rss_per_conn_max_kib",
                (rss as f64 - rss0 as f64) / held as f64,
            );
        }
        if ramp.failed.get() > 0 && out.notes.is_empty() {
            connect_failures(&mut out, &ramp);
        }
        if !server.alive() {
            out.notes
                .push(format!("the server exited at about {held} connections"));
        } else if spawned < ramp_to {
            out.notes.push(format!(
                "ramp to {} stopped at {} connections (time budget {} s or failures)",
                thousands(ramp_to),
                thousands(held),
                p.max_ramp_budget.as_secs()
            ));
        }
    }
    if p.max_clients > fd_cap {
        out.notes.push(format!(
            "the ramp aimed at {} connections, not {}: RLIMIT_NOFILE is {} here and this process \
             may not raise it (hard limit; needs root with CAP_SYS_RESOURCE, see bench/README.md)",
            thousands(ramp_to),
            thousands(p.max_clients),
            thousands(p.fd_limit as usize)
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 2 and 4. Broadcast fan-out, in two phases on the same clients:
//  - a probe: one broadcast in flight at a time, so its latency is the server's own pace of
//    writing one message to every client (no queue in front of it);
//  - the measured run: a closed loop keeping `fanout_window` broadcasts in flight, enough to
//    keep either server busy; its throughput, CPU and latency (queueing included) are the
//    headline figures.
// ---------------------------------------------------------------------------------------------

struct Fan {
    clients: u32,
    data_len: usize,
    /// Send the ~2 KB JSON job page instead of the `data_len` string (compression).
    json: bool,
    /// Send the floor's `{"fanout":"…"}` instead of a Socket.IO packet.
    raw: bool,
    /// Sending stops before this sequence number (the end of the current phase).
    phase_end: Cell<u32>,
    window: Cell<u32>,
    sent: Cell<u32>,
    counts: Vec<Cell<u32>>,
    outstanding: Cell<u32>,
    completed: Cell<u32>,
    delivered: Cell<u64>,
    lat_us: RefCell<Vec<u32>>,
    wake_sender: Notify,
    done: Notify,
    failed_clients: Cell<u32>,
    /// Per client: deliveries received, and when it last received anything (diagnostics).
    received: Vec<Cell<u32>>,
    heard_us: Vec<Cell<u64>>,
    /// Per client: the last packet that was not a delivery (diagnostics).
    last_other: Vec<Cell<Option<Packet>>>,
    /// Open loop (the latency scenario): message `seq` is due at `open_start_us +
    /// (seq - open_first) × open_interval_us` and stamped with that time, whatever the
    /// window. `open_interval_us` 0: the closed loop.
    open_start_us: Cell<u64>,
    open_first: Cell<u32>,
    open_interval_us: Cell<f64>,
    /// Latencies are kept for messages from this sequence number on (the open loop's
    /// warm-up is not measured); the open loop's late sends are counted from there too.
    measured_from: Cell<u32>,
    /// Open loop: measured messages sent more than [`LATE_US`] after their due time, and
    /// how long after it each measured message was sent.
    late: Cell<u32>,
    lag_us: RefCell<Vec<u32>>,
    /// Open loop: client 0's connection, handed over to the scenario's own future instead
    /// of running in a task of its own (see [`latency`]).
    sender: RefCell<Option<Ws>>,
    hand_over: bool,
    /// The WebSocket clients take the kernel's receive time of each read (the open loop),
    /// and `arrival_us` keeps each measured delivery's latency up to then: the server's
    /// part, without the time this generator took to get round to reading it.
    /// `unstamped` counts the measured deliveries whose read carried no stamp.
    stamp_arrivals: bool,
    arrival_us: RefCell<Vec<u32>>,
    unstamped: Cell<u64>,
}

/// An open-loop message sent later than this after its due time counts as late: the load
/// generator fell behind its schedule.
const LATE_US: u64 = 1_000;

/// The open-loop sender sleeps until this long before a message is due, then yields to
/// the other tasks until it is (tokio's timer has a 1 ms resolution).
const SPIN_US: u64 = 1_500;

impl Fan {
    fn new(clients: usize, p: &Params, messages: u32) -> Fan {
        Fan {
            clients: clients as u32,
            data_len: p.payload_bytes,
            json: false,
            raw: false,
            phase_end: Cell::new(0),
            window: Cell::new(1),
            sent: Cell::new(0),
            counts: (0..messages).map(|_| Cell::new(0)).collect(),
            outstanding: Cell::new(0),
            completed: Cell::new(0),
            delivered: Cell::new(0),
            lat_us: RefCell::new(Vec::with_capacity(
                (clients * messages as usize).min(1 << 26),
            )),
            wake_sender: Notify::new(),
            done: Notify::new(),
            failed_clients: Cell::new(0),
            received: (0..clients).map(|_| Cell::new(0)).collect(),
            heard_us: (0..clients).map(|_| Cell::new(0)).collect(),
            last_other: (0..clients).map(|_| Cell::new(None)).collect(),
            open_start_us: Cell::new(0),
            open_first: Cell::new(0),
            open_interval_us: Cell::new(0.0),
            measured_from: Cell::new(0),
            late: Cell::new(0),
            lag_us: RefCell::new(Vec::new()),
            sender: RefCell::new(None),
            hand_over: false,
            stamp_arrivals: false,
            arrival_us: RefCell::new(Vec::new()),
            unstamped: Cell::new(0),
        }
    }

    /// Open loop: when message `seq` is due (and the time it is stamped with).
    fn due_us(&self, seq: u32) -> u64 {
        let n = seq.saturating_sub(self.open_first.get()) as f64;
        self.open_start_us.get() + (n * self.open_interval_us.get()).round() as u64
    }

    fn open_loop(&self) -> bool {
        self.open_interval_us.get() > 0.0
    }

    /// Open loop: resolves when the next message is due (never in the closed loop, or
    /// once the phase's messages are all sent). Sleeps until [`SPIN_US`] before, then
    /// yields until the time: the other tasks (receivers) run meanwhile.
    async fn until_due(&self) {
        let seq = self.sent.get();
        if !self.open_loop() || seq >= self.phase_end.get() {
            return std::future::pending().await;
        }
        let due = self.due_us(seq);
        let early = due.saturating_sub(SPIN_US).saturating_sub(now_us());
        if early > 0 {
            tokio::time::sleep(Duration::from_micros(early)).await;
        }
        while now_us() < due {
            tokio::task::yield_now().await;
        }
    }

    /// Which clients lag behind, and for how long they heard nothing (for a stall report).
    fn laggards(&self) -> String {
        let now = now_us();
        let lagging: Vec<usize> = (0..self.received.len())
            .filter(|&i| self.received[i].get() < self.sent.get())
            .collect();
        let quiet = lagging
            .iter()
            .map(|&i| now.saturating_sub(self.heard_us[i].get()))
            .max()
            .unwrap_or(0);
        let examples: Vec<String> = lagging
            .iter()
            .take(3)
            .map(|&i| {
                format!(
                    "client {i}: {} received, last other packet {:?}",
                    self.received[i].get(),
                    self.last_other[i].get()
                )
            })
            .collect();
        format!(
            "{} clients behind ({}), the quietest heard nothing for {:.1} s",
            lagging.len(),
            examples.join("; "),
            quiet as f64 / 1e6
        )
    }

    /// Called once per read with what arrived: notes that client `i` heard from the server.
    fn heard(&self, i: usize, now: u64) {
        if let Some(h) = self.heard_us.get(i) {
            h.set(now);
        }
    }

    /// The next message to send, if the phase and the window allow one (in the open
    /// loop: if it is due, whatever is in flight).
    fn next(&self) -> Option<u32> {
        let seq = self.sent.get();
        if seq >= self.phase_end.get() {
            return None;
        }
        if self.open_loop() {
            let (due, now) = (self.due_us(seq), now_us());
            if due > now {
                return None;
            }
            if seq >= self.measured_from.get() {
                let lag = now - due;
                self.lag_us
                    .borrow_mut()
                    .push(lag.min(u32::MAX as u64) as u32);
                if lag > LATE_US {
                    self.late.set(self.late.get() + 1);
                }
            }
        } else if self.outstanding.get() >= self.window.get() {
            return None;
        }
        self.sent.set(seq + 1);
        self.outstanding.set(self.outstanding.get() + 1);
        Some(seq)
    }

    fn on_packet(&self, i: usize, p: Packet, now: u64) {
        self.on_packet_at(i, p, None, now);
    }

    /// A packet for client `i` that reached its socket at `arrived` (the kernel's stamp, if
    /// the read had one) and was read at `now`.
    fn on_packet_at(&self, i: usize, p: Packet, arrived: Option<u64>, now: u64) {
        let Packet::Bench { sent_us, seq } = p else {
            if let Some(o) = self.last_other.get(i) {
                o.set(Some(p));
            }
            return;
        };
        if let Some(r) = self.received.get(i) {
            r.set(r.get() + 1);
        }
        self.delivered.set(self.delivered.get() + 1);
        if seq >= self.measured_from.get() {
            self.lat_us
                .borrow_mut()
                .push(now.saturating_sub(sent_us).min(u32::MAX as u64) as u32);
            if self.stamp_arrivals {
                match arrived {
                    Some(t) => self
                        .arrival_us
                        .borrow_mut()
                        .push(t.saturating_sub(sent_us).min(u32::MAX as u64) as u32),
                    None => self.unstamped.set(self.unstamped.get() + 1),
                }
            }
        }
        let Some(count) = self.counts.get(seq as usize) else {
            return;
        };
        count.set(count.get() + 1);
        if count.get() == self.clients {
            self.outstanding.set(self.outstanding.get() - 1);
            self.completed.set(self.completed.get() + 1);
            self.wake_sender.notify_one();
            if self.completed.get() == self.sent.get() && self.sent.get() == self.phase_end.get() {
                self.done.notify_one();
            }
        }
    }

    /// Message `seq`, stamped with the time it is sent (closed loop) or was due (open
    /// loop: a late send's delay counts in its latency, no coordinated omission).
    fn packet(&self, buf: &mut Vec<u8>, seq: u32) {
        buf.clear();
        let stamp = if self.open_loop() {
            self.due_us(seq)
        } else {
            now_us()
        };
        if self.raw {
            proto::floor_fanout(buf, stamp, seq, self.data_len);
        } else if self.json {
            proto::fanout_json_packet(buf, stamp, seq);
        } else {
            proto::fanout_packet(buf, stamp, seq, self.data_len);
        }
    }

    /// Sends messages up to `end` with at most `window` in flight, and returns once every
    /// one reached every client, or when `budget` is over (then no new message is sent
    /// and the ones in flight are waited for), or when nothing completes for 10 s.
    async fn run_phase(&self, end: u32, window: u32, budget: Duration) -> Option<String> {
        const STALL: Duration = Duration::from_secs(10);
        self.window.set(window);
        self.phase_end.set(end);
        self.wake_sender.notify_one();
        let deadline = now_us() + budget.as_micros() as u64;
        let mut note = None;
        loop {
            let before = self.completed.get();
            let sending = self.phase_end.get() == end && self.sent.get() < end;
            let tick = if sending {
                Duration::from_micros(deadline.saturating_sub(now_us()).max(1)).min(STALL)
            } else {
                STALL
            };
            let finished = tokio::time::timeout(tick, self.done.notified()).await;
            if finished.is_ok() || self.completed.get() == end {
                break;
            }
            if sending && now_us() >= deadline {
                // Out of time: stop sending; what is in flight still counts.
                self.phase_end.set(self.sent.get());
                note = Some(format!(
                    "time budget of {} s: stopped after {} messages",
                    budget.as_secs(),
                    self.sent.get()
                ));
                if self.completed.get() == self.sent.get() {
                    break;
                }
                continue;
            }
            if tick == STALL && self.completed.get() == before {
                return Some(format!(
                    "stalled: {} of {} messages reached every client ({} clients failed; {})",
                    self.completed.get(),
                    self.sent.get(),
                    self.failed_clients.get(),
                    self.laggards()
                ));
            }
        }
        note
    }
}

async fn ws_sender(mut ws: Ws, fan: Rc<Fan>) -> Result<()> {
    let mut buf = Vec::with_capacity(fan.data_len + 64);
    if fan.stamp_arrivals {
        ws.conn.stamp_arrivals()?;
    }
    loop {
        while let Some(seq) = fan.next() {
            fan.packet(&mut buf, seq);
            ws.send(&buf).await?;
        }
        tokio::select! {
            r = ws.conn.fill() => {
                r?;
                let now = now_us();
                fan.heard(0, now);
                let arrived = ws.conn.arrived(now);
                let pongs = ws.drain(|p| fan.on_packet_at(0, p, arrived, now))?;
                ws.pong(pongs).await?;
            }
            _ = fan.wake_sender.notified() => {}
            _ = fan.until_due() => {}
        }
    }
}

async fn polling_sender(mut c: Polling, fan: Rc<Fan>) -> Result<()> {
    let mut buf = Vec::with_capacity(fan.data_len + 64);
    loop {
        while let Some(seq) = fan.next() {
            fan.packet(&mut buf, seq);
            c.post(&buf).await?;
        }
        c.send_get().await?;
        tokio::select! {
            r = c.get.fill() => {
                r?;
                if c.take_response()? {
                    let now = now_us();
                    fan.heard(0, now);
                    let pongs = c.drain(|p| fan.on_packet(0, p, now));
                    c.pong(pongs).await?;
                }
            }
            _ = fan.wake_sender.notified() => {}
            _ = fan.until_due() => {}
        }
    }
}

async fn receiver(i: usize, client: Client, fan: Rc<Fan>) -> Result<()> {
    match client {
        Client::Ws(mut ws) => {
            if fan.stamp_arrivals {
                ws.conn.stamp_arrivals()?;
            }
            loop {
                ws.recv_at(|p, arrived, now| fan.on_packet_at(i, p, arrived, now))
                    .await?;
                fan.heard(i, now_us());
            }
        }
        Client::Polling(mut c) => loop {
            c.poll().await?;
            let now = now_us();
            fan.heard(i, now);
            let pongs = c.drain(|p| fan.on_packet(i, p, now));
            c.pong(pongs).await?;
        },
    }
}

/// What a fan-out runs: how many clients, messages, over which transport, and whether the
/// clients ask for compression (then the messages are the ~2 KB JSON job pages).
#[derive(Clone, Copy)]
struct Load {
    clients: usize,
    messages: u32,
    transport: Transport,
    compressed: bool,
}

/// Fan-out on one server (scenarios 2 and 4).
pub async fn fanout(server: &ServerProc, p: &Params, polling: bool) -> Outcome {
    let load = if polling {
        Load {
            clients: p.polling_clients,
            messages: p.polling_messages,
            transport: Transport::Polling,
            compressed: false,
        }
    } else {
        Load {
            clients: p.fanout_clients,
            messages: p.fanout_messages,
            transport: Transport::Ws,
            compressed: false,
        }
    };
    fan_out(Procs::one(&server), p, load).await
}

/// The compression scenarios (8a, 8b): the fan-out of ~2 KB JSON events to clients that ask
/// for compression — over WebSocket with permessage-deflate (`server` started with
/// `--per-message-deflate`), or over long-polling with `Accept-Encoding: gzip, deflate`.
/// Adds the bytes the clients read from their sockets per delivery, and what they carried
/// once decoded.
pub async fn compression(server: &ServerProc, p: &Params, polling: bool) -> Outcome {
    let load = Load {
        clients: p.compression_clients,
        messages: if polling {
            p.compression_polling_messages
        } else {
            p.compression_ws_messages
        },
        transport: if polling {
            Transport::Polling
        } else {
            Transport::Ws
        },
        compressed: true,
    };
    let before = Traffic::now();
    let mut out = fan_out(Procs::one(&server), p, load).await;
    let connected = Traffic::now().since(before);
    if out.get("compressed_pct") == Some(0.0) {
        // socketioxide, for one, has no HTTP compression of polling responses.
        out.notes.push(format!(
            "none of the {} came compressed: this server does not compress them, its figures \
             are an uncompressed fan-out's (compare its ratios accordingly)",
            if polling {
                "polling responses"
            } else {
                "WebSocket messages"
            }
        ));
    }
    if !polling && connected.deflate_refused > 0 {
        out.notes.push(format!(
            "permessage-deflate was not accepted on {} of {} WebSocket connections",
            connected.deflate_refused,
            connected.deflate_refused + connected.deflate_accepted
        ));
    }
    if !polling && connected.deflate_accepted > 0 {
        let n = connected.deflate_no_context_takeover;
        out.notes.push(if n == connected.deflate_accepted {
            format!(
                "permessage-deflate with server_no_context_takeover on all {n} connections: \
                 each message compressed on its own"
            )
        } else {
            format!(
                "permessage-deflate with context takeover on {} of {} connections: the \
                 server's LZ77 window carries over from message to message on each",
                connected.deflate_accepted - n,
                connected.deflate_accepted
            )
        });
    }
    out
}

/// Fan-out across the two nodes of a cluster (scenario 6): half the clients on each, the
/// sender on node A; every delivery to a client of node B went through Redis.
pub async fn cluster(nodes: [&ServerProc; 2], redis: &RedisProc, p: &Params) -> Outcome {
    let procs = Procs {
        servers: &nodes,
        redis: Some(redis),
    };
    let load = Load {
        clients: p.fanout_clients,
        messages: p.cluster_messages,
        transport: Transport::Ws,
        compressed: false,
    };
    fan_out(procs, p, load).await
}

/// Which node client `i` of `clients` connects to: contiguous equal blocks, client 0 (the
/// sender) on the first node.
pub fn node_of(i: usize, clients: usize, nodes: usize) -> usize {
    i * nodes / clients.max(1)
}

/// How long a cluster may take to form once every client is connected.
const CLUSTER_FORM_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until every node sees all the nodes and all the sockets on `/` across the cluster
/// (`cluster-stats`, asked from one more client on each node, so `clients` + one per node):
/// every node subscribed and answering the others' requests through Redis. Otherwise the
/// error names the node and its last answer.
async fn cluster_formed(targets: &[Rc<Target>], clients: usize) -> std::result::Result<(), String> {
    let deadline = now_us() + CLUSTER_FORM_TIMEOUT.as_micros() as u64;
    let (nodes, sockets) = (targets.len() as u64, (clients + targets.len()) as u64);
    let mut askers = Vec::new();
    for target in targets {
        let ws = tokio::time::timeout(CONNECT_TIMEOUT, Ws::connect(target))
            .await
            .map_err(|_| "a cluster-stats client could not connect in time".to_string())?
            .map_err(|e| format!("a cluster-stats client could not connect: {e}"))?;
        askers.push(ws);
    }
    let mut id = 0;
    for (k, ws) in askers.iter_mut().enumerate() {
        let mut last = String::from("none");
        loop {
            id += 1;
            let left = Duration::from_micros(deadline.saturating_sub(now_us()).max(1));
            match tokio::time::timeout(left, ws.call(id, "cluster-stats")).await {
                Ok(Ok(answer)) => {
                    let seen = (
                        proto::json_number(&answer, "servers"),
                        proto::json_number(&answer, "sockets"),
                    );
                    if seen == (Some(nodes), Some(sockets)) {
                        break;
                    }
                    last = String::from_utf8_lossy(&answer).into_owned();
                }
                Ok(Err(e)) => return Err(format!("cluster-stats on node {}: {e}", node_name(k))),
                Err(_) => {}
            }
            if now_us() >= deadline {
                return Err(format!(
                    "the cluster did not form within {} s: node {} never saw {nodes} servers \
                     and {sockets} sockets (`cluster-stats`, last answer: {last})",
                    CLUSTER_FORM_TIMEOUT.as_secs(),
                    node_name(k)
                ));
            }
            // A node joins by itself; ask again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// A, B, C... for node 0, 1, 2...
fn node_name(k: usize) -> char {
    (b'A' + (k % 26) as u8) as char
}

/// `clients` clients spread over `procs.servers` (see [`node_of`]), client 0 sending
/// `messages` broadcasts after the probe.
async fn fan_out(procs: Procs<'_>, p: &Params, load: Load) -> Outcome {
    let mut out = Outcome::default();
    let total = p.probe_messages + load.messages;
    if let Some((fan, _clients)) = fan_clients(procs, p, load, total, false, &mut out).await {
        fan_phases(&fan, procs, p, load.clients, load.messages, &mut out).await;
    }
    out
}

/// Connects the clients of a fan-out (`load`) to `procs.servers` (see [`node_of`]): client 0
/// the sender, taking its messages (at most `messages` in all) from the returned `Fan`, the
/// others receivers; for a cluster, waits until it formed. With `open_loop` (the latency
/// scenario), client 0's WebSocket is left in `Fan::sender` for the caller to run
/// [`ws_sender`] on, and the receivers take arrival stamps. `None` (with a note in `out`)
/// when a client could not connect or the cluster did not form. The client tasks run until
/// the scenario's `LocalSet` is dropped.
async fn fan_clients(
    procs: Procs<'_>,
    p: &Params,
    load: Load,
    messages: u32,
    open_loop: bool,
    out: &mut Outcome,
) -> Option<(Rc<Fan>, Vec<JoinHandle<()>>)> {
    let Load {
        clients,
        transport,
        compressed,
        ..
    } = load;
    let targets: Vec<Rc<Target>> = procs
        .servers
        .iter()
        .map(|s| {
            let t = target_of(s);
            Rc::new(if compressed { t.compressed() } else { t })
        })
        .collect();
    let sem = Rc::new(Semaphore::new(p.connect_concurrency));
    let mut fan = Fan::new(clients, p, messages);
    fan.json = compressed;
    fan.raw = targets.iter().any(|t| t.raw);
    fan.hand_over = open_loop;
    fan.stamp_arrivals = open_loop;
    let fan = Rc::new(fan);
    let ramp = Rc::new(Ramp::default());
    let role: Role = {
        let fan = fan.clone();
        Rc::new(move |i, client| {
            let fan = fan.clone();
            Box::pin(async move {
                let result = match (i, client) {
                    (0, Client::Ws(ws)) if fan.hand_over => {
                        *fan.sender.borrow_mut() = Some(ws);
                        Ok(())
                    }
                    (0, Client::Ws(ws)) => ws_sender(ws, fan.clone()).await,
                    (0, Client::Polling(c)) => polling_sender(c, fan.clone()).await,
                    (i, client) => receiver(i, client, fan.clone()).await,
                };
                if result.is_err() {
                    fan.failed_clients.set(fan.failed_clients.get() + 1);
                }
            })
        })
    };
    let mut tasks = Vec::new();
    for (k, target) in targets.iter().enumerate() {
        let first = (0..clients)
            .find(|&i| node_of(i, clients, targets.len()) == k)
            .unwrap_or(clients);
        let count = (first..clients)
            .take_while(|&i| node_of(i, clients, targets.len()) == k)
            .count();
        tasks.extend(spawn_clients(
            target, first, count, transport, &sem, &ramp, &role,
        ));
    }
    ramp.wait(clients).await;
    connect_failures(out, &ramp);
    if ramp.failed.get() > 0 {
        return None;
    }
    if targets.len() > 1 {
        let formed = cluster_formed(&targets, clients).await;
        if let Err(note) = formed {
            out.notes.push(note);
            return None;
        }
    }
    Some((fan, tasks))
}

// ---------------------------------------------------------------------------------------------
// 9. Latency under load: the WebSocket fan-out of 2 in an open loop
// ---------------------------------------------------------------------------------------------

/// The share of late sends (more than [`LATE_US`] after their due time) beyond which the
/// load generator fell behind its schedule: its latency figures would be its own delay,
/// so none is reported. A shared machine preempts it now and then: a few late sends are
/// noise (they count in their messages' latency all the same).
const LATE_SHARE_MAX: f64 = 0.05;

/// The load generator also fell behind when the p99 of its own delay (due time to send)
/// is this share of the deliveries' p99 or more: the tail would be its own.
const LAG_OF_P99_MAX: f64 = 0.5;

/// The fan-out of 2 (same clients, same payload, same sender and receivers) in an open
/// loop: client 0 sends `rate` broadcasts/s on schedule whatever the server's progress, for
/// `p.latency_warmup` then `p.latency_duration` (measured); each delivery's latency runs
/// from its message's due time (stamped in the payload), so a server that falls behind
/// pays for every message queued behind (no coordinated omission). Deliveries/s and server
/// CPU over the measured window; p50/p99/p99.9 of the measured messages' deliveries; the
/// measured messages the load generator itself sent late.
pub async fn latency(server: &ServerProc, p: &Params, rate: f64) -> Outcome {
    let mut out = Outcome::default();
    let rate = rate.max(0.1);
    let clients = p.fanout_clients;
    let warm = (rate * p.latency_warmup.as_secs_f64()).round() as u32;
    let measured = ((rate * p.latency_duration.as_secs_f64()).round() as u32).max(1);
    let end = warm + measured;
    out.set("rate_per_s", rate);
    out.set("asked_deliveries_per_s", rate * clients as f64);
    let load = Load {
        clients,
        messages: end,
        transport: Transport::Ws,
        compressed: false,
    };
    let procs = Procs::one(&server);
    // Client 0 sends from this future, not from a task of its own: `LocalSet::run_until`
    // polls it between every 61 task polls, where a task waits behind all the receivers
    // woken by the previous broadcast (1,000 of them) and would send late.
    let Some((fan, _clients)) = fan_clients(procs, p, load, end, true, &mut out).await else {
        return out;
    };
    let Some(ws) = fan.sender.borrow_mut().take() else {
        out.notes
            .push("the sending client did not connect over WebSocket".into());
        return out;
    };
    // Settle: let the connection burst finish on the server before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let start = now_us() + 10_000;
    fan.open_start_us.set(start);
    fan.open_first.set(fan.sent.get());
    fan.open_interval_us.set(1e6 / rate);
    fan.measured_from.set(fan.sent.get() + warm);
    let (from, to) = (fan.due_us(warm), fan.due_us(end));
    client::sync_realtime();
    // Sending stops if the schedule runs more than 5 s late (the generator far behind).
    let budget = Duration::from_micros(to.saturating_sub(now_us())) + Duration::from_secs(5);
    let until = |t: u64| tokio::time::sleep(Duration::from_micros(t.saturating_sub(now_us())));
    let measure = async {
        until(from).await;
        let delivered0 = fan.delivered.get();
        let window = Window::start(procs);
        until(to).await;
        let delivered = (fan.delivered.get() - delivered0) as f64;
        let wall = (now_us() - window.t0) as f64 / 1e6;
        (window, delivered, wall)
    };
    let run = async { tokio::join!(fan.run_phase(end, u32::MAX, budget), measure) };
    let (note, (window, delivered, wall)) = tokio::select! {
        done = run => done,
        Err(e) = ws_sender(ws, fan.clone()) => {
            out.notes.push(format!("the sending client failed: {e}"));
            return out;
        }
    };
    window.finish(&mut out, delivered, "cpu_us_per_delivery");
    out.notes.extend(note);
    let sent = fan.sent.get().saturating_sub(fan.measured_from.get());
    let mut lat = std::mem::take(&mut *fan.lat_us.borrow_mut());
    let late = fan.late.get();
    out.set("deliveries_per_s", delivered / wall);
    out.set("messages", sent as f64);
    out.set("deliveries", lat.len() as f64);
    out.set(
        "lost",
        (clients as f64 * sent as f64 - lat.len() as f64).max(0.0),
    );
    out.set("late_sends", late as f64);
    let mut lag = std::mem::take(&mut *fan.lag_us.borrow_mut());
    lag.sort_unstable();
    let lag_at = |q: f64| lag[((lag.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    if lag.is_empty() || lat.is_empty() {
        out.notes.push(format!(
            "nothing measured: {sent} messages sent, {} deliveries",
            lat.len()
        ));
        return out;
    }
    let (lag_p99, lag_max) = (lag_at(0.99), lag_at(1.0));
    out.set("late_p99_ms", lag_p99);
    out.set("late_max_ms", lag_max);
    // Delivery latency: from the due time to the kernel's receive stamp on the client's
    // socket, so that the time this single-threaded generator takes to get round to
    // reading 1,000 sockets is not counted as the server's; the latency until it read them
    // is reported beside (`read_*`). Without stamps, the read time is all there is.
    let mut arrival = std::mem::take(&mut *fan.arrival_us.borrow_mut());
    let unstamped = fan.unstamped.get();
    if unstamped > 0 {
        out.notes.push(format!(
            "{unstamped} of {} deliveries were read without the kernel's receive stamp: \
             latency measured when read",
            lat.len()
        ));
        arrival = lat.clone();
    }
    percentiles(&mut out, &mut lat, "read_p50_ms", "read_p99_ms");
    percentiles(&mut out, &mut arrival, "p50_ms", "p99_ms");
    let p999 = arrival[((arrival.len() - 1) as f64 * 0.999).round() as usize] as f64 / 1000.0;
    out.set("p999_ms", p999);
    let asked = rate * clients as f64;
    if delivered / wall < 0.9 * asked {
        out.notes.push(format!(
            "the server did not keep up: {} of the {} deliveries/s asked; its queue, and so \
             its latency, grew over the run",
            thousands((delivered / wall) as usize),
            thousands(asked as usize)
        ));
    }
    let p99 = out.get("p99_ms").unwrap_or(0.0);
    if late as f64 > LATE_SHARE_MAX * sent as f64 || lag_p99 >= LAG_OF_P99_MAX * p99 {
        // The figures are the generator's delay as much as the server's: none is reported.
        out.values.retain(|(k, _)| {
            !matches!(
                *k,
                "p50_ms" | "p99_ms" | "p999_ms" | "read_p50_ms" | "read_p99_ms"
            )
        });
        out.notes.push(format!(
            "the load generator fell behind its schedule: {late} of {sent} measured messages \
             sent more than {} ms after their due time, p99 of its delay {lag_p99:.2} ms \
             against a delivery p99 of {p99:.2} ms (the latest {lag_max:.1} ms late, load \
             generator at {:.0}% of its core): its delay would be counted as the server's, so \
             no latency figure is reported",
            LATE_US / 1000,
            out.get("loadgen_cpu_pct").unwrap_or(f64::NAN)
        ));
    }
    out
}

/// On clients already connected: a settling pause, the probe (`p.probe_messages` one at a
/// time: unloaded latency), then the measured run of `messages` with at most
/// `p.fanout_window` in flight: deliveries/s, CPU per delivery (over `procs`), latency. The
/// sender(s) take their messages from `fan`.
async fn fan_phases(
    fan: &Fan,
    procs: Procs<'_>,
    p: &Params,
    clients: usize,
    messages: u32,
    out: &mut Outcome,
) {
    let probe = p.probe_messages;
    // Settle: let the connection bursts finish on the server before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Probe: one broadcast at a time.
    if probe > 0 {
        if let Some(n) = fan.run_phase(probe, 1, p.fanout_budget).await {
            out.notes.push(format!("probe: {n}"));
            return;
        }
        let mut lat = std::mem::take(&mut *fan.lat_us.borrow_mut());
        percentiles(out, &mut lat, "probe_p50_ms", "probe_p99_ms");
    }

    // The measured run.
    let delivered0 = fan.delivered.get();
    let sent0 = fan.sent.get();
    let traffic0 = Traffic::now();
    let window = Window::start(procs);
    let note = fan
        .run_phase(probe + messages, p.fanout_window, p.fanout_budget)
        .await;
    out.notes.extend(note);
    let delivered = (fan.delivered.get() - delivered0) as f64;
    let wall = (now_us() - window.t0) as f64 / 1e6;
    let traffic = Traffic::now().since(traffic0);
    window.finish(out, delivered, "cpu_us_per_delivery");
    if delivered > 0.0 {
        out.set("wire_bytes_per_delivery", traffic.wire as f64 / delivered);
        out.set(
            "decoded_bytes_per_delivery",
            traffic.decoded as f64 / delivered,
        );
    }
    if traffic.messages > 0 {
        out.set(
            "deliveries_per_message",
            delivered / traffic.messages as f64,
        );
        out.set(
            "compressed_pct",
            100.0 * traffic.compressed as f64 / traffic.messages as f64,
        );
    }
    let sent = (fan.sent.get() - sent0) as f64;
    out.set("messages", sent);
    out.set("deliveries", delivered);
    out.set("lost", (clients as f64 * sent - delivered).max(0.0));
    out.set("deliveries_per_s", delivered / wall);
    percentiles(out, &mut fan.lat_us.borrow_mut(), "p50_ms", "p99_ms");
}

// ---------------------------------------------------------------------------------------------
// 7. Publish through a server's HTTP API (`rtio serve`, and Express + socket.io beside it)
// ---------------------------------------------------------------------------------------------

/// The API key both publish servers are started with.
pub const PUBLISH_API_KEY: &str = "bench";

/// One publisher connection: takes the next message from `fan` (the window allowing) and
/// POSTs it, one request in flight, until the scenario ends; an error ends it.
async fn publisher(mut http: Publisher, fan: Rc<Fan>) -> Result<()> {
    loop {
        let Some(seq) = fan.next() else {
            fan.wake_sender.notified().await;
            continue;
        };
        // Several publishers wait on the one `wake_sender`, which wakes one at a time:
        // pass the turn on, in case the window has room for another.
        fan.wake_sender.notify_one();
        http.post(|body| proto::publish_body(body, now_us(), seq, fan.data_len))
            .await?;
    }
}

/// Publishes through `server`'s `POST /api/emit` to `p.publish_clients` WebSocket clients
/// (all receivers), from `p.publishers` keep-alive connections with one POST in flight
/// each and at most `p.fanout_window` publishes not yet delivered to every client. Adds
/// publishes/s and CPU per publish to the fan-out figures.
pub async fn publish(server: &ServerProc, p: &Params) -> Outcome {
    let mut out = Outcome::default();
    let clients = p.publish_clients;
    let messages = p.publish_messages;
    let target = Rc::new(Target::plain(server.port));
    let sem = Rc::new(Semaphore::new(p.connect_concurrency));
    let fan = Rc::new(Fan::new(clients, p, p.probe_messages + messages));
    let ramp = Rc::new(Ramp::default());
    let role: Role = {
        let fan = fan.clone();
        Rc::new(move |i, client| {
            let fan = fan.clone();
            Box::pin(async move {
                if receiver(i, client, fan.clone()).await.is_err() {
                    fan.failed_clients.set(fan.failed_clients.get() + 1);
                }
            })
        })
    };
    let _receivers = spawn_clients(&target, 0, clients, Transport::Ws, &sem, &ramp, &role);
    ramp.wait(clients).await;
    connect_failures(&mut out, &ramp);
    if ramp.failed.get() > 0 {
        return out;
    }
    let failure: Rc<RefCell<Option<String>>> = Rc::default();
    let mut _publishers = Vec::new();
    for _ in 0..p.publishers.max(1) {
        let http = match Publisher::connect(&target, "/api/emit", PUBLISH_API_KEY).await {
            Ok(h) => h,
            Err(e) => {
                out.notes
                    .push(format!("a publisher could not connect: {e}"));
                return out;
            }
        };
        let (fan, failure) = (fan.clone(), failure.clone());
        _publishers.push(tokio::task::spawn_local(async move {
            if let Err(e) = publisher(http, fan).await {
                failure.borrow_mut().get_or_insert(e.0);
            }
        }));
    }
    fan_phases(&fan, Procs::one(&server), p, clients, messages, &mut out).await;
    if let Some(e) = failure.borrow().as_ref() {
        out.notes.push(format!("a publisher stopped: {e}"));
    }
    if let (Some(sent), Some(wall), Some(cpu)) = (
        out.get("messages"),
        out.get("wall_s"),
        out.get("server_cpu_s"),
    ) {
        if sent > 0.0 {
            out.set("publishes_per_s", sent / wall);
            out.set("cpu_us_per_publish", cpu * 1e6 / sent);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 3. Echo: message-with-ack round trips
// ---------------------------------------------------------------------------------------------

struct Echo {
    data_len: usize,
    gate: Cell<bool>,
    opened: Notify,
    start_us: Cell<u64>,
    end_us: Cell<u64>,
    acks: Cell<u64>,
    lat_us: RefCell<Vec<u32>>,
    failed: Cell<u32>,
    first_error: RefCell<Option<String>>,
}

async fn echo_client(mut ws: Ws, st: Rc<Echo>) -> Result<()> {
    // The wait is shorter than a ping interval: no need to read meanwhile.
    while !st.gate.get() {
        st.opened.notified().await;
    }
    let mut buf = Vec::with_capacity(st.data_len + 64);
    let mut id = 0u64;
    loop {
        id += 1;
        buf.clear();
        // The floor answers `{"echo":"…"}` with the string alone: the next message.
        let answer = if ws.raw {
            proto::floor_echo(&mut buf, st.data_len);
            Packet::Reply
        } else {
            proto::echo_packet(&mut buf, id, st.data_len);
            Packet::Ack { id }
        };
        let t0 = now_us();
        ws.send(&buf).await?;
        let mut t1 = 0;
        while t1 == 0 {
            ws.recv(|p, now| {
                if p == answer {
                    t1 = now;
                }
            })
            .await?;
        }
        if t1 >= st.start_us.get() && t1 < st.end_us.get() {
            st.acks.set(st.acks.get() + 1);
            st.lat_us
                .borrow_mut()
                .push((t1 - t0).min(u32::MAX as u64) as u32);
        }
        if t1 >= st.end_us.get() {
            // Stay connected (and quiet) until the scenario ends.
            loop {
                ws.idle().await?;
            }
        }
    }
}

pub async fn echo(server: &ServerProc, p: &Params) -> Outcome {
    let mut out = Outcome::default();
    let target = Rc::new(target_of(server));
    let sem = Rc::new(Semaphore::new(p.connect_concurrency));
    let st = Rc::new(Echo {
        data_len: p.echo_bytes,
        gate: Cell::new(false),
        opened: Notify::new(),
        start_us: Cell::new(u64::MAX),
        end_us: Cell::new(u64::MAX),
        acks: Cell::new(0),
        lat_us: RefCell::new(Vec::new()),
        failed: Cell::new(0),
        first_error: RefCell::default(),
    });
    let ramp = Rc::new(Ramp::default());
    let role: Role = {
        let st = st.clone();
        Rc::new(move |_, client| {
            let st = st.clone();
            Box::pin(async move {
                let Client::Ws(ws) = client else { return };
                if let Err(e) = echo_client(ws, st.clone()).await {
                    st.failed.set(st.failed.get() + 1);
                    st.first_error.borrow_mut().get_or_insert(e.0);
                }
            })
        })
    };
    let _tasks = spawn_clients(
        &target,
        0,
        p.echo_clients,
        Transport::Ws,
        &sem,
        &ramp,
        &role,
    );
    ramp.wait(p.echo_clients).await;
    connect_failures(&mut out, &ramp);
    if ramp.failed.get() > 0 {
        return out;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let start = now_us() + p.echo_warmup.as_micros() as u64;
    let end = start + p.echo_duration.as_micros() as u64;
    st.start_us.set(start);
    st.end_us.set(end);
    st.gate.set(true);
    st.opened.notify_waiters();
    tokio::time::sleep(p.echo_warmup).await;
    let window = Window::start(Procs::one(&server));
    tokio::time::sleep(Duration::from_micros(end.saturating_sub(now_us()))).await;
    let acks = st.acks.get() as f64;
    window.finish(&mut out, acks, "cpu_us_per_ack");
    out.set("acks", acks);
    out.set("acks_per_s", acks / p.echo_duration.as_secs_f64());
    percentiles(&mut out, &mut st.lat_us.borrow_mut(), "p50_ms", "p99_ms");
    if st.failed.get() > 0 {
        out.notes.push(format!(
            "{} echo clients failed (first: {})",
            st.failed.get(),
            st.first_error.borrow().as_deref().unwrap_or("?")
        ));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 5. Connect storm
// ---------------------------------------------------------------------------------------------

pub async fn storm(server: &ServerProc, p: &Params) -> Outcome {
    let mut out = Outcome::default();
    let target = Rc::new(target_of(server));
    let sem = Rc::new(Semaphore::new(p.connect_concurrency));
    let ramp = Rc::new(Ramp::default());
    let window = Window::start(Procs::one(&server));
    let _tasks = spawn_clients(
        &target,
        0,
        p.storm_clients,
        Transport::Ws,
        &sem,
        &ramp,
        &hold(&ramp),
    );
    ramp.wait(p.storm_clients).await;
    let wall = (now_us() - window.t0) as f64 / 1e6;
    let ok = ramp.ok.get() as f64;
    window.finish(&mut out, ok, "cpu_us_per_conn");
    out.set("connected", ok);
    out.set("conns_per_s", ok / wall);
    percentiles(
        &mut out,
        &mut ramp.connect_us.borrow_mut(),
        "connect_p50_ms",
        "connect_p99_ms",
    );
    connect_failures(&mut out, &ramp);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_split_evenly_over_the_nodes_sender_on_the_first() {
        let on = |clients, nodes| {
            let mut n = vec![0; nodes];
            (0..clients).for_each(|i| n[node_of(i, clients, nodes)] += 1);
            n
        };
        assert_eq!(on(1_000, 2), [500, 500]);
        assert_eq!(on(1_001, 2), [501, 500]);
        assert_eq!(on(1_000, 1), [1_000]);
        assert_eq!(node_of(0, 1_000, 2), 0);
        assert_eq!(node_of(499, 1_000, 2), 0);
        assert_eq!(node_of(500, 1_000, 2), 1);
        assert_eq!(node_of(999, 1_000, 2), 1);
    }

    #[test]
    fn the_publish_scenario_runs_by_default_in_both_modes() {
        assert_eq!(Scenario::ALL.last(), Some(&Scenario::Publish));
        assert_eq!(Scenario::Publish.key(), "publish");
        let (full, quick) = (Params::full(), Params::quick());
        assert_eq!((full.publish_clients, quick.publish_clients), (1_000, 100));
        for p in [full, quick] {
            assert!(p.publish_messages > 0 && p.publishers >= 1);
            assert!(
                p.fanout_window as usize >= p.publishers,
                "the window admits them all"
            );
            assert!(Scenario::Publish.title(&p).contains("POST /api/emit"));
        }
    }

    #[test]
    fn compression_runs_by_default_in_both_modes_and_is_one_name() {
        let both = [Scenario::CompressionWs, Scenario::CompressionPolling];
        for s in both {
            assert!(Scenario::ALL.contains(&s));
            assert!(s.selected_by("compression") && s.selected_by(s.key()));
            assert!(!s.selected_by("fanout") && !s.selected_by("polling"));
        }
        assert!(!Scenario::Fanout.selected_by("compression"));
        assert!(Scenario::CompressionWs.selected_by("compression-ws"));
        assert!(!Scenario::CompressionWs.selected_by("compression-polling"));
        let quick = Params::quick();
        assert!(
            quick.compression_clients <= 100,
            "few clients in QUICK runs"
        );
        for p in [Params::full(), quick] {
            assert!(p.compression_ws_messages > 0 && p.compression_polling_messages > 0);
            assert!(Scenario::CompressionWs
                .title(&p)
                .contains("permessage-deflate"));
            assert!(Scenario::CompressionPolling.title(&p).contains("gzip"));
        }
    }

    #[test]
    fn the_latency_scenario_runs_by_default_after_the_fanout() {
        let at = |s| Scenario::ALL.iter().position(|&x| x == s).unwrap();
        assert!(
            at(Scenario::Fanout) < at(Scenario::Latency),
            "its rate needs the fan-out"
        );
        assert!(Scenario::Latency.selected_by("latency"));
        assert!(!Scenario::Fanout.selected_by("latency"));
        assert!(floor_runs(Scenario::Latency));
        let (full, quick) = (Params::full(), Params::quick());
        assert_eq!(full.latency_default_rate(), 50.0);
        assert_eq!(full.latency_duration, Duration::from_secs(10));
        assert_eq!(full.latency_warmup, Duration::from_secs(1));
        assert!(quick.latency_duration <= Duration::from_secs(3));
        let title = latency_title(&quick, 27.0);
        assert!(
            title.starts_with("9. latency, open-loop fan-out at 27 broadcasts/s"),
            "{title}"
        );
    }

    #[test]
    fn open_loop_messages_are_due_on_schedule_and_stamped_with_it() {
        let p = Params::quick();
        let fan = Fan::new(3, &p, 10);
        fan.phase_end.set(10);
        fan.open_start_us.set(now_us() + 1_000_000);
        fan.open_interval_us.set(20_000.0);
        assert_eq!(fan.due_us(5) - fan.due_us(0), 100_000);
        assert_eq!(fan.next(), None, "not due yet, whatever the window");
        // Due long ago: sent at once, late, whatever is in flight.
        std::thread::sleep(Duration::from_millis(25));
        fan.open_start_us.set(0);
        fan.window.set(1);
        assert_eq!(fan.next(), Some(0));
        assert_eq!(fan.next(), Some(1));
        assert_eq!(fan.late.get(), 2);
        let mut buf = Vec::new();
        fan.packet(&mut buf, 1);
        let text = String::from_utf8(buf).unwrap();
        assert!(text.contains("\"data\":\"20000:1:"), "{text}");
    }

    #[test]
    fn the_cluster_runs_by_default_in_both_modes() {
        assert!(Scenario::ALL.contains(&Scenario::Cluster));
        assert_eq!(Scenario::Cluster.key(), "cluster");
        for p in [Params::full(), Params::quick()] {
            assert!(p.cluster_messages > 0 && p.fanout_clients >= 2);
            assert!(Scenario::Cluster.title(&p).contains("2 nodes + Redis"));
        }
    }
}
