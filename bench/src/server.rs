//! The servers under test: started with `tests/interop/scenarios-server HOST`, pinned to
//! one core, measured through `/proc`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A running scenarios server.
pub struct ServerProc {
    /// Its process id (the launchers `exec`, so this is the server itself).
    pub pid: u32,
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    /// `None` for a server started by someone else (`--attach`): never stopped here.
    child: Option<Child>,
    /// The floor (host [`crate::report::FLOOR`]): a plain WebSocket broadcaster, not a
    /// Socket.IO server; its clients are raw WebSockets (`Target::floor`).
    pub floor: bool,
}

/// How long a server may take to print `READY` (the Rust launcher may have to build).
const START_TIMEOUT: Duration = Duration::from_secs(900);

impl ServerProc {
    /// Starts `scenarios-server HOST --port 0 --no-visits` plus `extra` flags (pinned to `cpu`
    /// with taskset when given); its stderr goes to `log`. A server that exits before
    /// printing `READY` (e.g. it refuses a flag) is an error quoting the end of its log.
    /// The floor gets `--port 0` alone: it has no visits counter and refuses other flags.
    pub fn start(
        root: &Path,
        host: &str,
        extra: &[String],
        cpu: Option<usize>,
        log: &Path,
    ) -> Result<Self, String> {
        let script = root.join("tests/interop/scenarios-server");
        let floor = crate::report::is_floor(host);
        let flags: &[&str] = if floor {
            &["--port", "0"]
        } else {
            &["--port", "0", "--no-visits"]
        };
        let mut args: Vec<String> = std::iter::once(host)
            .chain(flags.iter().copied())
            .map(str::to_string)
            .collect();
        args.extend_from_slice(extra);
        let mut s =
            ServerProc::start_program(root, host, script.as_os_str(), &args, cpu, log, |line| {
                line.strip_prefix("READY ")?.trim().parse().ok()
            })?;
        s.floor = floor;
        Ok(s)
    }

    /// Starts any server program (`rtio serve`, the publish scenario's reference) pinned
    /// like the scenarios servers, with its stderr into `log`; `ready` finds the port in a
    /// line of its stdout. A server that exits before printing it is an error quoting the
    /// end of its log.
    pub fn start_program(
        root: &Path,
        name: &str,
        program: &std::ffi::OsStr,
        args: &[String],
        cpu: Option<usize>,
        log: &Path,
        ready: fn(&str) -> Option<u16>,
    ) -> Result<Self, String> {
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args);
        let mut child = spawn_logged(cmd, log, root, true)?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = ready(&line) {
                    let _ = tx.send(port);
                }
            }
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(port) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{name}: no ready line; its log ({}) ends with: {}",
                    log.display(),
                    last_line(log)
                ));
            }
        };
        Ok(ServerProc {
            pid: child.id(),
            port,
            child: Some(child),
            floor: false,
        })
    }

    /// A server someone else started (e.g. under heaptrack or valgrind), by pid and port.
    pub fn attach(pid: u32, port: u16) -> ServerProc {
        ServerProc {
            pid,
            port,
            child: None,
            floor: false,
        }
    }

    /// With `--perf DIR`: starts `perf record -g` on the server (stopped by [`stop_perf`]).
    pub fn start_perf(&self) -> Option<Child> {
        let dir = PERF_DIR.get()?;
        let _ = std::fs::create_dir_all(dir);
        let n = PERF_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = dir.join(format!("perf-{n}-{}.data", self.pid));
        eprintln!("    perf record of pid {} → {}", self.pid, out.display());
        Command::new("perf")
            .args(["record", "-F", "1999", "-g", "-q", "-p"])
            .arg(self.pid.to_string())
            .arg("-o")
            .arg(&out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    }

    /// CPU time of the process and of its reaped children (e.g. the launcher's `cargo build`
    /// before it exec'd the server), in seconds.
    pub fn cpu_with_children(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            return 0.0;
        };
        let ticks: u64 = stat[close + 1..]
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        ticks as f64 / clock_ticks()
    }

    /// CPU time used so far split into user and kernel (system) time, in seconds.
    pub fn cpu_split(&self) -> (f64, f64) {
        proc_cpu_seconds(self.pid).unwrap_or((f64::NAN, f64::NAN))
    }

    /// Context switches (voluntary + involuntary) of all the server's live threads.
    pub fn context_switches(&self) -> u64 {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) else {
            return 0;
        };
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("status")).ok())
            .map(|status| {
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches:"))
                    .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    }

    /// Resident set size in KiB.
    pub fn rss_kib(&self) -> u64 {
        proc_status_field(self.pid, "VmRSS:").unwrap_or(0)
    }

    /// The CPUs the server may run on, as the kernel reports them.
    pub fn cpus_allowed(&self) -> String {
        cpus_allowed(self.pid)
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => Path::new(&format!("/proc/{}", self.pid)).exists(),
        }
    }

    /// SIGTERM, then SIGKILL after 5 s.
    pub fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            terminate(&mut child, Duration::from_secs(5));
        }
    }
}

/// The port of a `… listening on http://HOST:PORT/…` line, the ready line of `rtio serve`
/// and of the publish scenario's reference server.
pub fn listening_port(line: &str) -> Option<u16> {
    let url = &line[line.find("listening on http://")? + "listening on http://".len()..];
    let authority = url.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

/// Spawns `cmd` with its stderr into `log` (created with its directory) and its stdout piped
/// or into `log` too, stdin closed, and a death signal: SIGTERM reaches the child if the load
/// generator dies, so nothing it started outlives a crashed run.
fn spawn_logged(mut cmd: Command, log: &Path, dir: &Path, pipe: bool) -> Result<Child, String> {
    if let Some(parent) = log.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let io_error = |e: std::io::Error| format!("{}: {e}", log.display());
    let stderr = File::create(log).map_err(io_error)?;
    let stdout = if pipe {
        Stdio::piped()
    } else {
        Stdio::from(stderr.try_clone().map_err(io_error)?)
    };
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::from(stderr))
        .current_dir(dir);
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| format!("starting {:?}: {e}", cmd.get_program()))
}

/// Why a server stopped, from its log: the last line that mentions an error (a stack trace
/// and a runtime's banner may follow it), else the last non-empty line, else `(empty)`.
pub fn last_line(log: &Path) -> String {
    reason(&std::fs::read_to_string(log).unwrap_or_default())
}

fn reason(log: &str) -> String {
    let lines = || log.lines().rev().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or_else(|| lines().next())
        .unwrap_or("(empty)")
        .to_string()
}

/// SIGTERM to a child, SIGKILL after `grace`; returns once it is reaped.
fn terminate(child: &mut Child, grace: Duration) {
    // SAFETY: signalling our own child by pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A `redis-server` of the cluster scenario: Debian's binary on a free loopback port,
/// nothing persisted, stopped by its pid (SIGTERM, then SIGKILL) when dropped.
pub struct RedisProc {
    pub pid: u32,
    pub port: u16,
    child: Child,
}

/// How long `redis-server` may take to answer PING.
const REDIS_START_TIMEOUT: Duration = Duration::from_secs(10);

impl RedisProc {
    /// Starts `redis-server` (pinned to `cpu` with taskset when given) on a free port of
    /// 127.0.0.1, logging to `log` with its working directory beside it, and returns once it
    /// answers PING.
    pub fn start(cpu: Option<usize>, log: &Path) -> Result<RedisProc, String> {
        let port = free_port().map_err(|e| format!("no free port for redis-server: {e}"))?;
        let dir = log.with_extension("d");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg("redis-server");
                c
            }
            None => Command::new("redis-server"),
        };
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir);
        let mut child = spawn_logged(cmd, log, &dir, false)?;
        let deadline = Instant::now() + REDIS_START_TIMEOUT;
        loop {
            if redis_answers(port) {
                return Ok(RedisProc {
                    pid: child.id(),
                    port,
                    child,
                });
            }
            if !matches!(child.try_wait(), Ok(None)) || Instant::now() > deadline {
                terminate(&mut child, Duration::ZERO);
                return Err(format!(
                    "redis-server did not answer PING on port {port}; its log ({}) ends with: {}",
                    log.display(),
                    last_line(log)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The URL the nodes are given.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// CPU time so far, in seconds, to the nanosecond: Redis does little per delivery, and
    /// clock ticks (10 ms) would round a short window's share to 0 or 1 tick.
    pub fn cpu_seconds(&self) -> f64 {
        run_seconds(self.pid)
    }

    /// The CPUs it may run on.
    pub fn cpus_allowed(&self) -> String {
        cpus_allowed(self.pid)
    }
}

impl Drop for RedisProc {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(5));
    }
}

/// The CPUs process `pid` may run on, as the kernel reports them.
fn cpus_allowed(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// A port of 127.0.0.1 nobody listens on right now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether a Redis server answers `PING` with `+PONG` on 127.0.0.1:`port`.
fn redis_answers(port: u16) -> bool {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

/// Kernel TCP counters (`/proc/net/netstat`) that tell a connection attempt was dropped:
/// ListenOverflows (accept queue full), ListenDrops, and SYN cookies sent.
pub fn listen_drops() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = (0, 0);
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        if !names.starts_with("TcpExt:") {
            continue;
        }
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            match n {
                "ListenDrops" => out.0 = v.parse().unwrap_or(0),
                "SyncookiesSent" => out.1 = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    out
}

/// Where `--perf` writes its recordings (unset: no profiling).
pub static PERF_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
static PERF_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Stops a `perf record` (SIGINT, so it writes its file) and waits for it.
pub fn stop_perf(mut perf: Child) {
    // SAFETY: signalling our own child by pid.
    unsafe {
        libc::kill(perf.id() as libc::pid_t, libc::SIGINT);
    }
    let _ = perf.wait();
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime and stime of a whole process (all its threads, dead ones included), in seconds.
pub fn proc_cpu_seconds(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (user, system) = parse_stat_cpu(&stat)?;
    let hz = clock_ticks();
    Some((user as f64 / hz, system as f64 / hz))
}

/// utime and stime in clock ticks from the text of `/proc/PID/stat`.
pub fn parse_stat_cpu(stat: &str) -> Option<(u64, u64)> {
    // The command name (field 2) may hold spaces and parentheses: skip to the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime, stime))
}

/// Time the live threads of `pid` spent on a CPU (user and kernel), in seconds, from the
/// scheduler's nanosecond counters (`/proc/PID/task/*/schedstat`); NaN when unreadable.
pub fn run_seconds(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

/// A `kB` field of `/proc/PID/status` (VmRSS:, VmHWM:...).
pub fn proc_status_field(pid: u32, field: &str) -> Option<u64> {
    proc_status_field_file(&format!("/proc/{pid}/status"), field)
}

/// The first number after `field` in a `/proc` file of `Name: value` lines.
pub fn proc_status_field_file(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU time the whole machine spent busy (all CPUs, `/proc/stat`), in seconds.
pub fn machine_busy_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return f64::NAN;
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user)
    let busy: u64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&i| v.get(i)).sum();
    busy as f64 / clock_ticks()
}

/// CPU time of the load generator itself (all threads), in seconds.
pub fn self_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we pass.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

/// Raises RLIMIT_NOFILE (soft and hard) to `want` when allowed (root may go up to
/// fs.nr_open); returns the soft limit in force afterwards. Servers started later inherit it.
pub fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        if lim.rlim_cur >= want {
            return lim.rlim_cur;
        }
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(lim.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) != 0 {
            // Not privileged: go as far as the hard limit allows.
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

/// Pins the calling process to one CPU.
pub fn pin_self(cpu: usize) -> bool {
    // SAFETY: a zeroed cpu_set_t, set with the libc macros' equivalents.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Where a server's log (stderr) goes.
pub fn log_path(root: &Path, label: &str) -> PathBuf {
    root.join("target/bench/logs")
        .join(format!("{}.log", label.replace(' ', "-")))
}

/// Waits (up to 30 s: python-socketio takes that long to close 19,000 connections) until
/// the server is quiet: under 5% of a core over 250 ms, e.g. done closing the previous
/// scenario's clients.
pub async fn quiesce(server: &mut ServerProc) {
    for _ in 0..120 {
        let (u0, s0) = server.cpu_split();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (u1, s1) = server.cpu_split();
        if !server.alive() || (u1 + s1 - u0 - s0) < 0.0125 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_stat() {
        let stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194304 5029 0 0 0 150 25 0 0 20 0 11 0 \
                    1234 1000000 5000 18446744073709551615";
        assert_eq!(parse_stat_cpu(stat), Some((150, 25)));
        assert_eq!(parse_stat_cpu("1 (x) S 1"), None);
        assert!(proc_cpu_seconds(std::process::id()).is_some());
        let spin = Instant::now();
        while spin.elapsed() < Duration::from_millis(20) {
            std::hint::black_box(spin.elapsed());
        }
        assert!(run_seconds(std::process::id()) >= 0.015);
        assert!(run_seconds(u32::MAX).is_nan());
        assert!(proc_status_field(std::process::id(), "VmRSS:").unwrap() > 0);
    }

    #[test]
    fn the_reason_in_a_log() {
        let node = "node:internal/util/parse_args/parse_args:107\n      throw new X(\n\n\
                    TypeError [ERR_PARSE_ARGS_UNKNOWN_OPTION]: Unknown option '--redis'\n    \
                    at checkOptionUsage (node:internal:107:13)\n  code: 'ERR_PARSE'\n}\n\n\
                    Node.js v20.20.2\n";
        assert_eq!(
            reason(node),
            "TypeError [ERR_PARSE_ARGS_UNKNOWN_OPTION]: Unknown option '--redis'"
        );
        assert_eq!(reason("starting\nbye\n\n"), "bye");
        assert_eq!(reason(""), "(empty)");
    }

    /// A root holding a fake `tests/interop/scenarios-server` with the given script body.
    fn fake_root(name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("rtio-bench-{name}-{}", std::process::id()));
        let dir = root.join("tests/interop");
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("scenarios-server");
        std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        root
    }

    #[test]
    fn a_server_refusing_a_flag_is_an_error_quoting_its_log() {
        let root = fake_root(
            "refuses",
            "echo \"server.py: error: unrecognized arguments: $5 $6\" >&2; exit 2",
        );
        let log = root.join("logs/refuses.log");
        let extra = ["--redis".to_string(), "redis://127.0.0.1:1".to_string()];
        let started = Instant::now();
        let err = ServerProc::start(&root, "any", &extra, None, &log)
            .err()
            .expect("a server that exits is an error");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no wait for READY"
        );
        assert!(
            err.contains("unrecognized arguments: --redis redis://127.0.0.1:1"),
            "{err}"
        );

        // The same flags reach a server that takes them.
        let root = fake_root(
            "takes",
            "[ \"$5\" = --redis ] || exit 3; echo READY 4321; exec sleep 30",
        );
        let server = ServerProc::start(&root, "any", &extra, None, &root.join("takes.log"))
            .expect("started");
        assert_eq!(server.port, 4321);
        server.stop();
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_floor_gets_its_port_flag_alone() {
        // The floor refuses any flag but --port (and has no visits counter).
        let root = fake_root(
            "floor",
            "[ \"$*\" = \"floor --port 0\" ] || { echo \"error: args $*\" >&2; exit 2; }; \
             echo READY 4322; exec sleep 30",
        );
        let log = root.join("floor.log");
        let server = ServerProc::start(&root, crate::report::FLOOR, &[], None, &log)
            .expect("started with --port 0 alone");
        assert!(server.floor);
        server.stop();
        let server = ServerProc::start(&root, "socketioxide", &[], None, &log);
        let err = server.err().expect("the others get --no-visits");
        assert!(
            err.contains("args socketioxide --port 0 --no-visits"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn finds_the_port_of_a_listening_line() {
        let rtio = "rtio serve: listening on http://127.0.0.1:41234/socket.io/";
        assert_eq!(listening_port(rtio), Some(41234));
        let node = "reference-publisher: listening on http://127.0.0.1:8080/socket.io/";
        assert_eq!(listening_port(node), Some(8080));
        assert_eq!(listening_port("READY 4321"), None);
        assert_eq!(listening_port("listening on http://[::1]/"), None);
    }

    #[test]
    fn redis_server_starts_answers_and_stops() {
        if Command::new("redis-server")
            .arg("--version")
            .output()
            .is_err()
        {
            eprintln!("redis-server is not installed: skipped");
            return;
        }
        let log = std::env::temp_dir().join(format!("rtio-bench-redis-{}.log", std::process::id()));
        let redis = RedisProc::start(None, &log).expect("redis-server starts");
        let (pid, port) = (redis.pid, redis.port);
        assert!(redis_answers(port));
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
        assert!(redis.cpu_seconds() >= 0.0);
        drop(redis);
        assert!(!redis_answers(port), "stopped with the handle");
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "reaped");
        let _ = std::fs::remove_file(&log);
        let _ = std::fs::remove_dir_all(log.with_extension("d"));
    }
}
