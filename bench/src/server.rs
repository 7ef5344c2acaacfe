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
}

/// How long a server may take to print `READY` (the Rust launcher may have to build).
const START_TIMEOUT: Duration = Duration::from_secs(900);

impl ServerProc {
    /// Starts `scenarios-server HOST --port 0 --no-visits` (pinned to `cpu` with taskset
    /// when given); its stderr goes to `log`.
    pub fn start(root: &Path, host: &str, cpu: Option<usize>, log: &Path) -> Result<Self, String> {
        let script = root.join("tests/interop/scenarios-server");
        let mut cmd = match cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&script);
                c
            }
            None => Command::new(&script),
        };
        cmd.args([host, "--port", "0", "--no-visits"]);
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let stderr = File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .current_dir(root);
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to send SIGTERM to
        // the server if the load generator dies, so no server outlives a crashed run.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("starting {}: {e}", script.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(port) = line.strip_prefix("READY ") {
                    let _ = tx.send(port.trim().parse::<u16>().ok());
                }
            }
        });
        let port = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{host}: no READY line (see {})", log.display()));
            }
        };
        Ok(ServerProc {
            pid: child.id(),
            port,
            child: Some(child),
        })
    }

    /// A server someone else started (e.g. under heaptrack or valgrind), by pid and port.
    pub fn attach(pid: u32, port: u16) -> ServerProc {
        ServerProc {
            pid,
            port,
            child: None,
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
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_default()
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
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(self.pid as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
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
        assert!(proc_status_field(std::process::id(), "VmRSS:").unwrap() > 0);
    }
}
