//! `rtio-bench`: the load generator and harness behind `make bench`.
//!
//! For each scenario it starts every host's scenarios server (`tests/interop/scenarios-server
//! HOST --no-visits`, pinned to one core), runs the scenario against each in turn from this
//! single-threaded process (pinned to the other core), and prints one table with absolute
//! figures and ratios against Node socket.io. The cluster scenario runs on two more servers
//! of each host joined through one `redis-server` it starts. See bench/README.md.

mod client;
mod proto;
mod report;
mod scenarios;
mod server;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use report::{LimitTarget, RatioTarget, ScenarioResult};
use scenarios::{Outcome, Params, Scenario};
use server::{RedisProc, ServerProc};

const USAGE: &str = "\
usage: rtio-bench [--hosts rust,socketio] [--quick]
                  [--only idle,fanout,latency,echo,polling,storm,cluster,compression,publish]
                  [--server-cpu N|none] [--loadgen-cpu N|none] [--root DIR]
                  [--results FILE] [--readme FILE] [--command TEXT] [--perf DIR]
                  [--attach PID:PORT] [--window N] [--rate N] [--noise|--no-noise]
  --hosts        servers under test: any `tests/interop/scenarios-server HOST`
                 (default rust,socketio; ratios against socketio, and socketioxide and
                 floor when they run: bench/peers/; the floor, no Socket.IO server, gets
                 --port 0 alone and raw WebSocket clients)
  --quick        small sizes (about 45 s per host with every scenario)
  --only         the scenarios to run (default all); `cluster` starts, for each host, a
                 redis-server and two nodes with --redis (a host refusing it is skipped);
                 `publish` starts `target/release/rtio serve` and an Express + socket.io
                 server (tests/interop/serve/reference-publisher.js), whatever --hosts says;
                 `compression` (= compression-ws,compression-polling) starts, for each host, a
                 second server with --per-message-deflate for its WebSocket half
  --server-cpu   core the servers are pinned to with taskset (default 0)
  --loadgen-cpu  core this process pins itself to (default 1)
  --results      write the report there (e.g. bench/RESULTS.md)
  --readme       replace the body of that file's `## Benchmarks` section with the table
  --command      how the run was started, for the report (e.g. `make bench`)
  --perf DIR     `perf record -g` each server over each measured window, into DIR
  --attach PID:PORT  run against a server started by hand (e.g. under heaptrack)
  --window N     fan-out messages in flight at most (default 16)
  --rate N       broadcasts/s of the open-loop `latency` scenario, for every server
                 (default: half of Node socket.io's saturation rate, its fan-out
                 deliveries/s ÷ clients ÷ 2, when socketio ran the fan-out before in the
                 run; else 50,000 deliveries/s ÷ the fan-out's clients: 50/s)
  --noise        run the first host once more, last, to show run-to-run noise (default
                 in the full mode; --no-noise turns it off)";

struct Options {
    hosts: Vec<String>,
    quick: bool,
    only: Vec<Scenario>,
    server_cpu: Option<usize>,
    loadgen_cpu: Option<usize>,
    root: PathBuf,
    results: Option<PathBuf>,
    readme: Option<PathBuf>,
    command: Option<String>,
    attach: Option<(u32, u16)>,
    window: Option<u32>,
    rate: Option<f64>,
    noise: Option<bool>,
    /// The commit under test, read when the run starts (commits may land meanwhile).
    revision: String,
}

/// `HEAD`, marked when `core/`, `redis/` or `examples/` have uncommitted changes.
fn revision(root: &Path) -> String {
    let rev = output("git", &["rev-parse", "--short", "HEAD"], root);
    let dirty = output(
        "git",
        &["status", "--porcelain", "--", "core", "redis", "examples"],
        root,
    );
    if dirty.is_empty() || dirty == "?" {
        rev
    } else {
        format!("{rev} + uncommitted changes")
    }
}

/// One column of the run: a label and the host it starts. A noise arm runs the first host
/// again, last, so `again ÷ first` shows how far two runs of the same code differ.
struct Arm {
    label: String,
    host: String,
}

fn arms(opts: &Options) -> Vec<Arm> {
    let mut arms: Vec<Arm> = opts
        .hosts
        .iter()
        .map(|h| Arm {
            label: h.clone(),
            host: h.clone(),
        })
        .collect();
    if opts.noise.unwrap_or(!opts.quick) && opts.attach.is_none() {
        if let Some(first) = opts.hosts.iter().find(|h| !report::is_reference(h)) {
            arms.push(Arm {
                label: report::again(first),
                host: first.clone(),
            });
        }
    }
    arms
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        hosts: vec!["rust".into(), "socketio".into()],
        quick: false,
        only: Scenario::ALL.to_vec(),
        server_cpu: Some(0),
        loadgen_cpu: Some(1),
        root: Path::new(env!("CARGO_MANIFEST_DIR")).join(".."),
        results: None,
        readme: None,
        command: None,
        attach: None,
        window: None,
        rate: None,
        noise: None,
        revision: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let cpu = |v: String| -> Result<Option<usize>, String> {
            if v == "none" {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| format!("bad CPU {v}"))
            }
        };
        match flag.as_str() {
            "--hosts" => {
                o.hosts = value()?
                    .split([',', ' '])
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect()
            }
            "--quick" => o.quick = true,
            "--only" => {
                let list = value()?;
                o.only = Scenario::ALL
                    .into_iter()
                    .filter(|s| list.split(',').any(|k| s.selected_by(k)))
                    .collect();
            }
            "--server-cpu" => o.server_cpu = cpu(value()?)?,
            "--loadgen-cpu" => o.loadgen_cpu = cpu(value()?)?,
            "--root" => o.root = value()?.into(),
            "--results" => o.results = Some(value()?.into()),
            "--readme" => o.readme = Some(value()?.into()),
            "--command" => o.command = Some(value()?),
            "--attach" => {
                let v = value()?;
                let parsed = v
                    .split_once(':')
                    .and_then(|(pid, port)| Some((pid.parse().ok()?, port.parse().ok()?)));
                o.attach = Some(parsed.ok_or(format!("--attach PID:PORT, got {v}"))?);
                o.hosts = vec!["attached".into()];
            }
            "--window" => o.window = Some(value()?.parse().map_err(|_| "--window N")?),
            "--rate" => {
                let v = value()?;
                let rate: f64 = v.parse().map_err(|_| format!("--rate N, got {v}"))?;
                if !(rate.is_finite() && rate > 0.0) {
                    return Err(format!("--rate N: broadcasts/s above 0, got {v}"));
                }
                o.rate = Some(rate);
            }
            "--noise" => o.noise = Some(true),
            "--no-noise" => o.noise = Some(false),
            "--perf" => {
                let _ = server::PERF_DIR.set(value()?.into());
            }
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if o.hosts.is_empty() || o.only.is_empty() {
        return Err(format!("nothing to run\n{USAGE}"));
    }
    o.root = o.root.canonicalize().map_err(|e| format!("--root: {e}"))?;
    o.revision = revision(&o.root);
    Ok(o)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut params = if opts.quick {
        Params::quick()
    } else {
        Params::full()
    };
    if let Some(w) = opts.window {
        params.fanout_window = w.max(1);
    }
    params.latency_rate = opts.rate;
    // One socket per client here and one per client in the server (which inherits this).
    params.fd_limit = server::raise_fd_limit(1 << 20);
    let needed = params.max_clients.max(params.idle_clients) as u64 + 1_000;
    if params.fd_limit < needed {
        eprintln!(
            "warning: RLIMIT_NOFILE is {} and may not be raised here; the idle ramp needs {needed}",
            params.fd_limit
        );
    }
    if let Some(cpu) = opts.loadgen_cpu {
        if !server::pin_self(cpu) {
            eprintln!("warning: could not pin the load generator to CPU {cpu}");
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = Instant::now();
    let load_before = loadavg();
    let (busy0, self0) = (server::machine_busy_seconds(), server::self_cpu_seconds());
    let (results, servers_cpu) = match runtime.block_on(run(&opts, &params)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rtio-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    // The latency scenario's title names the rate it ran at (the same for every server).
    if let Some(rate) = results
        .iter()
        .filter(|r| r.scenario == Scenario::Latency)
        .flat_map(|r| &r.outcomes)
        .find_map(|(_, o)| o.get("rate_per_s"))
    {
        params.latency_rate = Some(rate);
    }
    // What the machine did besides this run: its busy time minus ours (load generator and
    // servers), so a reader knows how shared the machine was.
    let others =
        server::machine_busy_seconds() - busy0 - (server::self_cpu_seconds() - self0) - servers_cpu;
    let load = format!(
        "load average (1, 5, 15 min) before the run: {load_before}; after: {}; CPU time used by \
         other processes during the run: {:.0} s in {:.0} s ({:.0}% of one CPU on average)",
        loadavg(),
        others.max(0.0),
        elapsed,
        100.0 * others.max(0.0) / elapsed
    );

    let labels: Vec<String> = arms(&opts).into_iter().map(|a| a.label).collect();
    let table = report::table(&results, &labels, &params);
    let notes = report::notes(&results);
    let targets = targets_section(&opts, &results, &params);
    println!("\n{table}");
    if !notes.is_empty() {
        println!("Notes:\n{notes}");
    }
    if !targets.is_empty() {
        println!("{targets}");
    }
    println!("run took {elapsed:.0} s; {load}");
    let command = command_line(&opts);
    if let Some(path) = &opts.results {
        let text = results_md(
            &opts, &params, &table, &notes, &targets, &command, elapsed, &load,
        );
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", path.display());
    }
    if let Some(path) = &opts.readme {
        let body = format!(
            "Latest `{command}` run ({}; machine, versions and method in \
             [bench/RESULTS.md](bench/RESULTS.md)). Ratios are against Node socket.io 4.8, \
             socketioxide and the floors (a minimal tokio-tungstenite broadcaster: `floor` \
             writes the messages waiting for a client at once, `floor-unbatched` each on its \
             own) when they ran, and for the Python host also against python-socketio (its own AsyncServer on aiohttp); the \
             publish table compares `rtio serve` with Express + socket.io 4.8 through the same \
             HTTP API: below 1× is better for times, memory and CPU, above 1× for rates.\n\n{table}",
            today()
        );
        let updated = std::fs::read_to_string(path)
            .ok()
            .and_then(|r| report::replace_section(&r, "## Benchmarks", &body));
        match updated {
            Some(text) => {
                if let Err(e) = std::fs::write(path, text) {
                    eprintln!("writing {}: {e}", path.display());
                } else {
                    println!("updated the Benchmarks section of {}", path.display());
                }
            }
            None => eprintln!("{}: no `## Benchmarks` section", path.display()),
        }
    }
    ExitCode::SUCCESS
}

/// Runs every scenario; returns the results and the CPU time the servers used in all.
async fn run(opts: &Options, params: &Params) -> Result<(Vec<ScenarioResult>, f64), String> {
    // Every arm's server starts once, beside the others, and serves every scenario: one build
    // of each host for the whole run (the Rust launcher rebuilds when core/ changed, which
    // must not happen between two scenarios), and a fresh process for the first scenario
    // (idle memory). A server found dead at its turn is restarted (and that is noted). The
    // cluster scenario's Redis server and nodes start then too, for the same reasons.
    let arms = arms(opts);
    let start = |arm: &Arm| -> Result<ServerProc, String> {
        match opts.attach {
            Some((pid, port)) => Ok(ServerProc::attach(pid, port)),
            None => {
                let log = server::log_path(&opts.root, &arm.label);
                ServerProc::start(&opts.root, &arm.host, &[], opts.server_cpu, &log)
            }
        }
    };
    let t_start = Instant::now();
    let mut servers = Vec::new();
    // The publish scenario starts servers of its own: alone, it needs none of the hosts'.
    let hosts_needed = opts.only.iter().any(|&s| s != Scenario::Publish);
    for arm in arms.iter().filter(|_| hosts_needed) {
        let s = start(arm)?;
        eprintln!(
            "{}: pid {}, port {}, CPUs {}",
            arm.label,
            s.pid,
            s.port,
            s.cpus_allowed()
        );
        servers.push(s);
    }
    let mut cluster = opts
        .only
        .contains(&Scenario::Cluster)
        .then(|| Cluster::start(opts, &arms));
    // The WebSocket compression scenario's servers: one more per arm, with
    // --per-message-deflate (permessage-deflate is off by default, as in socket.io).
    let mut deflate: Vec<Result<ServerProc, String>> =
        if opts.only.contains(&Scenario::CompressionWs) {
            arms.iter().map(|arm| start_deflate(opts, arm)).collect()
        } else {
            Vec::new()
        };
    eprintln!("servers ready in {:.1} s", t_start.elapsed().as_secs_f64());

    let mut results = Vec::new();
    let mut publish_cpu = 0.0;
    let total = opts.only.len();
    for (n, &scenario) in opts.only.iter().enumerate() {
        if scenario == Scenario::Publish {
            let mut quiet: Vec<&mut ServerProc> = servers.iter_mut().collect();
            if let Some(c) = &mut cluster {
                quiet.extend(c.nodes.iter_mut().flatten().flatten());
            }
            let (result, cpu) = run_publish(opts, params, quiet, n + 1, total).await;
            results.push(result);
            publish_cpu += cpu;
            continue;
        }
        // The latency scenario's rate, the same for every server (and why that one).
        let (rate, why) = if scenario == Scenario::Latency {
            let (rate, why) = latency_rate(opts, params, &results);
            eprintln!(
                "latency: {} broadcasts/s to {} clients: {why}",
                report::number(rate, 1),
                params.fanout_clients
            );
            (rate, why)
        } else {
            (0.0, String::new())
        };
        let mut outcomes = Vec::new();
        for (i, arm) in arms.iter().enumerate() {
            // Every server shares one core: the one measured starts once all are quiet (a
            // slow one may still be closing the clients of its previous run).
            for other in servers.iter_mut() {
                server::quiesce(other).await;
            }
            if let Some(c) = &mut cluster {
                for node in c.nodes.iter_mut().flatten().flatten() {
                    server::quiesce(node).await;
                }
            }
            for other in deflate.iter_mut().flatten() {
                server::quiesce(other).await;
            }
            eprintln!("[{}/{total} {}] {}", n + 1, scenario.key(), arm.label);
            let t0 = Instant::now();
            // A fresh LocalSet per run: dropping it ends every client task and closes
            // every socket of this run.
            let local = tokio::task::LocalSet::new();
            let outcome = if scenario == Scenario::Cluster {
                match &mut cluster {
                    Some(c) => local.run_until(c.run(i, params)).await,
                    None => Outcome::default(),
                }
            } else if scenario == Scenario::CompressionWs {
                let alive = deflate
                    .get_mut(i)
                    .is_some_and(|s| s.as_mut().is_ok_and(|s| s.alive()));
                match deflate.get_mut(i) {
                    Some(Ok(s)) if alive => {
                        local
                            .run_until(scenarios::compression(s, params, false))
                            .await
                    }
                    Some(Ok(s)) => Outcome {
                        notes: vec![format!(
                            "skipped: the server started with --per-message-deflate (pid {}) \
                             had exited; its log: {}",
                            s.pid,
                            server::last_line(&server::log_path(&opts.root, &deflate_label(arm)))
                        )],
                        ..Outcome::default()
                    },
                    Some(Err(e)) => Outcome {
                        notes: vec![format!("skipped: {e}")],
                        ..Outcome::default()
                    },
                    None => Outcome::default(),
                }
            } else {
                let s = &mut servers[i];
                let mut restarted = None;
                if !s.alive() {
                    *s = start(arm)?;
                    restarted = Some(format!("the server had exited; restarted as pid {}", s.pid));
                }
                let mut outcome = if s.floor && !scenarios::floor_runs(scenario) {
                    Outcome {
                        notes: vec![format!("not run: {FLOOR_NOTE}")],
                        ..Outcome::default()
                    }
                } else {
                    local.run_until(run_one(scenario, s, params, rate)).await
                };
                outcome.notes.extend(restarted);
                outcome
            };
            drop(local);
            let mut outcome = outcome;
            if scenario == Scenario::Latency && i == 0 {
                outcome.notes.insert(0, format!("rate: {why}"));
            }
            eprintln!(
                "    {} ({:.1} s){}",
                summary(scenario, &outcome),
                t0.elapsed().as_secs_f64(),
                notes_text(&outcome)
            );
            outcomes.push((arm.label.clone(), outcome));
        }
        results.push(ScenarioResult { scenario, outcomes });
    }
    let mut servers_cpu = publish_cpu + cluster.map_or(0.0, Cluster::stop);
    for s in deflate.into_iter().flatten() {
        servers_cpu += s.cpu_with_children();
        s.stop();
    }
    for s in servers {
        servers_cpu += s.cpu_with_children();
        s.stop();
    }
    Ok((results, servers_cpu))
}

/// The latency scenario's rate in broadcasts/s, and why: `--rate`; else half of Node
/// socket.io's saturation rate when it ran the fan-out before in this run (its fan-out
/// deliveries/s ÷ clients ÷ 2); else the default of [`Params::latency_default_rate`].
fn latency_rate(opts: &Options, p: &Params, results: &[ScenarioResult]) -> (f64, String) {
    if let Some(rate) = p.latency_rate {
        return (rate, "set with --rate".into());
    }
    let clients = p.fanout_clients.max(1) as f64;
    let socketio = results
        .iter()
        .find(|r| r.scenario == Scenario::Fanout)
        .and_then(|r| r.outcomes.iter().find(|(h, _)| h == report::REFERENCE))
        .and_then(|(_, o)| o.get("deliveries_per_s"))
        .filter(|&d| d > 0.0);
    if let Some(d) = socketio {
        let rate = (d / clients / 2.0).max(0.1);
        return (
            rate,
            format!(
                "half of Node socket.io's saturation rate (its fan-out in this run: {} \
                 deliveries/s ÷ {} clients ÷ 2)",
                report::number(d, 0),
                report::number(clients, 0)
            ),
        );
    }
    let reason = if !opts.hosts.iter().any(|h| h == report::REFERENCE) {
        "socketio is not in this run"
    } else if !opts.only.contains(&Scenario::Fanout) {
        "the fan-out was not selected"
    } else {
        "Node socket.io's fan-out has no deliveries/s"
    };
    let rate = p.latency_default_rate();
    (
        rate,
        format!(
            "the default, {} deliveries/s ÷ {} clients ({reason}, so Node socket.io's \
             saturation rate is not known; --rate N sets it)",
            report::number(p.latency_default_deliveries, 0),
            report::number(clients, 0)
        ),
    )
}

/// Why the floor has no figure for a scenario.
const FLOOR_NOTE: &str = "the floor is a plain WebSocket broadcaster with no Engine.IO or \
                          Socket.IO layer (bench/peers/README.md): it has WebSocket fan-out, \
                          echo, idle connections and connects, no long-polling, cluster, \
                          compression or publish API";

/// The label (and log name) of an arm's server started with `--per-message-deflate`.
fn deflate_label(arm: &Arm) -> String {
    format!("{} per-message-deflate", arm.label)
}

/// Starts `arm`'s host once more with `--per-message-deflate`, for the WebSocket compression
/// scenario, or says why not (a host refusing the flag gets an empty column and that note).
fn start_deflate(opts: &Options, arm: &Arm) -> Result<ServerProc, String> {
    if opts.attach.is_some() {
        return Err(
            "not run with --attach: the compression scenario starts its own servers".into(),
        );
    }
    if report::is_floor(&arm.host) {
        return Err(FLOOR_NOTE.into());
    }
    let label = deflate_label(arm);
    let log = server::log_path(&opts.root, &label);
    let flags = ["--per-message-deflate".to_string()];
    let s = ServerProc::start(&opts.root, &arm.host, &flags, opts.server_cpu, &log)
        .map_err(|e| format!("the server did not start with --per-message-deflate: {e}"))?;
    eprintln!(
        "{label}: pid {}, port {}, CPUs {}",
        s.pid,
        s.port,
        s.cpus_allowed()
    );
    Ok(s)
}

async fn run_one(scenario: Scenario, server: &mut ServerProc, p: &Params, rate: f64) -> Outcome {
    match scenario {
        Scenario::Idle => scenarios::idle(server, p).await,
        Scenario::Fanout => scenarios::fanout(server, p, false).await,
        Scenario::Latency => scenarios::latency(server, p, rate).await,
        Scenario::Echo => scenarios::echo(server, p).await,
        Scenario::PollingFanout => scenarios::fanout(server, p, true).await,
        Scenario::Storm => scenarios::storm(server, p).await,
        Scenario::CompressionPolling => scenarios::compression(server, p, true).await,
        Scenario::CompressionWs => Outcome {
            notes: vec!["the websocket compression scenario runs on its own servers".into()],
            ..Outcome::default()
        },
        Scenario::Cluster => Outcome {
            notes: vec!["the cluster scenario runs on its own nodes (Cluster::run)".into()],
            ..Outcome::default()
        },
        Scenario::Publish => Outcome {
            notes: vec!["the publish scenario runs on its own servers (run_publish)".into()],
            ..Outcome::default()
        },
    }
}

/// The publish scenario (issue 18): not a scenarios-server scenario, so it starts its own
/// two servers — `target/release/rtio serve` and the Express + socket.io reference
/// (tests/interop/serve/reference-publisher.js), both with API key `bench` and pinned to the
/// servers' core — measures each in turn once every other server is quiet, and stops them
/// by PID. Returns the result (columns [`report::SERVE`] and [`report::SERVE_REFERENCE`])
/// and the CPU time the two used.
async fn run_publish(
    opts: &Options,
    params: &Params,
    mut quiet: Vec<&mut ServerProc>,
    n: usize,
    total: usize,
) -> (ScenarioResult, f64) {
    let root = &opts.root;
    let key = scenarios::PUBLISH_API_KEY.to_string();
    let common = |mut args: Vec<String>| {
        args.extend(["--host", "127.0.0.1", "--port", "0", "--api-key", &key].map(str::to_string));
        args
    };
    let rtio = root.join("target/release/rtio");
    let script = root.join("tests/interop/serve/reference-publisher.js");
    let programs = [
        (
            report::SERVE,
            rtio.clone().into_os_string(),
            common(vec!["serve".into()]),
        ),
        (
            report::SERVE_REFERENCE,
            "node".into(),
            common(vec![script.display().to_string()]),
        ),
    ];
    let mut started: Vec<(&str, Result<ServerProc, String>)> = Vec::new();
    for (label, program, args) in programs {
        let server = if opts.attach.is_some() {
            Err("not run with --attach: the publish scenario starts its own servers".into())
        } else if label == report::SERVE && !rtio.exists() {
            Err(format!("{} is missing (make rtio-serve)", rtio.display()))
        } else {
            let log = server::log_path(root, label);
            ServerProc::start_program(root, label, &program, &args, opts.server_cpu, &log, |l| {
                server::listening_port(l)
            })
        };
        if let Ok(s) = &server {
            eprintln!(
                "{label}: pid {}, port {}, CPUs {}",
                s.pid,
                s.port,
                s.cpus_allowed()
            );
        }
        started.push((label, server));
    }
    let mut outcomes = Vec::new();
    for i in 0..started.len() {
        for other in quiet.iter_mut() {
            server::quiesce(other).await;
        }
        for (_, s) in started.iter_mut() {
            if let Ok(s) = s {
                server::quiesce(s).await;
            }
        }
        let (label, server) = &mut started[i];
        eprintln!("[{n}/{total} publish] {label}");
        let t0 = Instant::now();
        let alive = server.as_mut().is_ok_and(|s| s.alive());
        let outcome = match server {
            Ok(s) if alive => {
                let local = tokio::task::LocalSet::new();
                let outcome = local.run_until(scenarios::publish(s, params)).await;
                drop(local);
                outcome
            }
            Ok(s) => Outcome {
                notes: vec![format!(
                    "skipped: the server (pid {}) had exited; its log: {}",
                    s.pid,
                    server::last_line(&server::log_path(root, label))
                )],
                ..Outcome::default()
            },
            Err(e) => Outcome {
                notes: vec![format!("skipped: {e}")],
                ..Outcome::default()
            },
        };
        eprintln!(
            "    {} ({:.1} s){}",
            summary(Scenario::Publish, &outcome),
            t0.elapsed().as_secs_f64(),
            notes_text(&outcome)
        );
        outcomes.push((label.to_string(), outcome));
    }
    let mut cpu = 0.0;
    for (_, s) in started {
        if let Ok(s) = s {
            cpu += s.cpu_with_children();
            s.stop();
        }
    }
    let result = ScenarioResult {
        scenario: Scenario::Publish,
        outcomes,
    };
    (result, cpu)
}

/// The cluster scenario's processes: one Redis server, and for each arm two nodes of its
/// host started with `--redis` and a key prefix of their own (each arm's pair is a cluster
/// of its own on the shared Redis server). Everything is pinned to the servers' core: the
/// whole cluster gets the core a single server has, the load generator keeps the other.
struct Cluster {
    redis: Result<RedisProc, String>,
    /// Per arm: nodes A and B, or why they are not there (a host refusing `--redis`).
    nodes: Vec<Result<[ServerProc; 2], String>>,
}

impl Cluster {
    fn start(opts: &Options, arms: &[Arm]) -> Cluster {
        let redis = if opts.attach.is_some() {
            Err("not run with --attach: the cluster scenario starts its own nodes".into())
        } else {
            RedisProc::start(
                opts.server_cpu,
                &server::log_path(&opts.root, "redis-server"),
            )
        };
        let redis_url = match &redis {
            Ok(r) => {
                eprintln!(
                    "redis-server: pid {}, port {}, CPUs {}",
                    r.pid,
                    r.port,
                    r.cpus_allowed()
                );
                Ok(r.url())
            }
            Err(e) => Err(e.clone()),
        };
        let nodes = arms
            .iter()
            .enumerate()
            .map(|(i, arm)| {
                if report::is_floor(&arm.host) {
                    return Err(FLOOR_NOTE.to_string());
                }
                let url = redis_url.clone()?;
                let flags = [
                    "--redis".to_string(),
                    url,
                    "--redis-key".to_string(),
                    format!("rtio-bench-{i}"),
                ];
                let node = |name: &str| {
                    let label = format!("{} cluster {name}", arm.label);
                    let log = server::log_path(&opts.root, &label);
                    let node =
                        ServerProc::start(&opts.root, &arm.host, &flags, opts.server_cpu, &log)
                            .map_err(|e| {
                                format!(
                                    "node {name} did not start with --redis (a host without \
                                 cluster support refuses the flag): {e}"
                                )
                            })?;
                    eprintln!(
                        "{label}: pid {}, port {}, CPUs {}",
                        node.pid,
                        node.port,
                        node.cpus_allowed()
                    );
                    Ok::<_, String>(node)
                };
                let a = node("A")?;
                match node("B") {
                    Ok(b) => Ok([a, b]),
                    Err(e) => {
                        a.stop();
                        Err(e)
                    }
                }
            })
            .collect();
        Cluster { redis, nodes }
    }

    /// The cluster fan-out on arm `i`'s nodes, or a note saying why it was skipped.
    async fn run(&mut self, i: usize, params: &Params) -> Outcome {
        let skipped = |note: String| Outcome {
            notes: vec![format!("skipped: {note}")],
            ..Outcome::default()
        };
        let redis = match &self.redis {
            Ok(r) => r,
            Err(e) => return skipped(e.clone()),
        };
        let [a, b] = match self.nodes.get_mut(i) {
            Some(Ok(pair)) => pair,
            Some(Err(e)) => return skipped(e.clone()),
            None => return skipped("no nodes for this arm".into()),
        };
        for (name, node) in [("A", &mut *a), ("B", &mut *b)] {
            if !node.alive() {
                return skipped(format!("node {name} (pid {}) had exited", node.pid));
            }
        }
        scenarios::cluster([a, b], redis, params).await
    }

    /// Stops every node, then Redis; returns the CPU time they used in all.
    fn stop(self) -> f64 {
        let mut cpu = 0.0;
        for node in self.nodes.into_iter().flatten().flatten() {
            cpu += node.cpu_with_children();
            node.stop();
        }
        if let Ok(redis) = self.redis {
            cpu += redis.cpu_seconds();
            // Dropping it stops it, by its pid.
            drop(redis);
        }
        cpu
    }
}

fn notes_text(o: &Outcome) -> String {
    o.notes.iter().map(|n| format!("\n    note: {n}")).collect()
}

fn summary(s: Scenario, o: &Outcome) -> String {
    let f = |k: &str, d: usize| report::number(o.get(k).unwrap_or(f64::NAN), d);
    let cpu = format!(
        "server CPU {}%, load generator {}%",
        f("server_cpu_pct", 0),
        f("loadgen_cpu_pct", 0)
    );
    match s {
        Scenario::Idle => format!(
            "{} held, {} KiB/connection; ramp: {} held, {} MiB",
            f("idle_connected", 0),
            f("rss_per_conn_kib", 1),
            f("max_held", 0),
            f("rss_max_mib", 0)
        ),
        Scenario::Latency => format!(
            "{} broadcasts/s: {} of {} deliveries/s, {} µs CPU/delivery, p50 {} ms, p99 {} ms, \
             p99.9 {} ms, {} sent late; {cpu}",
            f("rate_per_s", 1),
            f("deliveries_per_s", 0),
            f("asked_deliveries_per_s", 0),
            f("cpu_us_per_delivery", 3),
            f("p50_ms", 2),
            f("p99_ms", 2),
            f("p999_ms", 2),
            f("late_sends", 0)
        ),
        Scenario::Fanout | Scenario::PollingFanout => format!(
            "{} deliveries/s, {} µs CPU/delivery, p50 {} ms, p99 {} ms; {cpu}",
            f("deliveries_per_s", 0),
            f("cpu_us_per_delivery", 3),
            f("p50_ms", 2),
            f("p99_ms", 2)
        ),
        Scenario::CompressionWs | Scenario::CompressionPolling => format!(
            "{} deliveries/s, {} µs CPU/delivery, {} B on the wire/delivery ({} B decoded, \
             {}% compressed), p50 {} ms, p99 {} ms; {cpu}",
            f("deliveries_per_s", 0),
            f("cpu_us_per_delivery", 3),
            f("wire_bytes_per_delivery", 0),
            f("decoded_bytes_per_delivery", 0),
            f("compressed_pct", 0),
            f("p50_ms", 2),
            f("p99_ms", 2)
        ),
        Scenario::Cluster => format!(
            "{} deliveries/s, {} µs CPU/delivery on both nodes (A {}, B {}), Redis {} µs, \
             p50 {} ms, p99 {} ms; {cpu}, Redis {}%",
            f("deliveries_per_s", 0),
            f("cpu_us_per_delivery", 3),
            f("node_a_cpu_us_per_op", 3),
            f("node_b_cpu_us_per_op", 3),
            f("redis_cpu_us_per_op", 3),
            f("p50_ms", 2),
            f("p99_ms", 2),
            f("redis_cpu_pct", 0)
        ),
        Scenario::Echo => format!(
            "{} acks/s, {} µs CPU/ack, p50 {} ms, p99 {} ms; {cpu}",
            f("acks_per_s", 0),
            f("cpu_us_per_ack", 2),
            f("p50_ms", 3),
            f("p99_ms", 3)
        ),
        Scenario::Publish => format!(
            "{} publishes/s, {} deliveries/s, {} µs CPU/publish, {} µs CPU/delivery, p50 {} ms, \
             p99 {} ms; {cpu}",
            f("publishes_per_s", 0),
            f("deliveries_per_s", 0),
            f("cpu_us_per_publish", 1),
            f("cpu_us_per_delivery", 3),
            f("p50_ms", 2),
            f("p99_ms", 2)
        ),
        Scenario::Storm => format!(
            "{} connections/s, {} µs CPU/connection, p99 {} ms; {cpu}",
            f("conns_per_s", 0),
            f("cpu_us_per_conn", 0),
            f("connect_p99_ms", 1)
        ),
    }
}

/// Issue 6's targets: rtio's Python host against python-socketio itself.
const PYTHON_TARGETS: [RatioTarget; 3] = [
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "deliveries_per_s",
        what: "fan-out deliveries/s ≥ 5× python-socketio's",
        at_least: true,
        limit: 5.0,
    },
    RatioTarget {
        scenario: Scenario::Echo,
        key: "acks_per_s",
        what: "echo acks/s ≥ 5× python-socketio's",
        at_least: true,
        limit: 5.0,
    },
    RatioTarget {
        scenario: Scenario::Idle,
        key: "rss_per_conn_kib",
        what: "memory per idle connection ≤ 1/5 of python-socketio's (KiB)",
        at_least: false,
        limit: 0.2,
    },
];

/// Issue 7's targets: rtio's Node host (JS handlers included) against Node socket.io.
const NODE_TARGETS: [RatioTarget; 5] = [
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "deliveries_per_s",
        what: "fan-out deliveries/s ≥ 3× socket.io's",
        at_least: true,
        limit: 3.0,
    },
    RatioTarget {
        scenario: Scenario::Echo,
        key: "acks_per_s",
        what: "echo acks/s ≥ 3× socket.io's",
        at_least: true,
        limit: 3.0,
    },
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "cpu_us_per_delivery",
        what: "server CPU per fan-out delivery ≤ 1/3 of socket.io's (µs)",
        at_least: false,
        limit: 1.0 / 3.0,
    },
    RatioTarget {
        scenario: Scenario::Echo,
        key: "cpu_us_per_ack",
        what: "server CPU per echo ack ≤ 1/3 of socket.io's (µs)",
        at_least: false,
        limit: 1.0 / 3.0,
    },
    RatioTarget {
        scenario: Scenario::Idle,
        key: "rss_per_conn_kib",
        what: "memory per idle connection ≤ 1/3 of socket.io's (KiB)",
        at_least: false,
        limit: 1.0 / 3.0,
    },
];

/// Issue 17's target: the Node host attached to an app's `http.Server` against the
/// standalone Node host.
const NODE_HTTP_TARGETS: [RatioTarget; 1] = [RatioTarget {
    scenario: Scenario::Fanout,
    key: "cpu_us_per_delivery",
    what: "WebSocket fan-out CPU per delivery within 10% of the standalone Node host's (µs)",
    at_least: false,
    limit: 1.1,
}];

/// Issue 16's target: any rtio host's nodes against Node socket.io's with the Redis adapter.
const CLUSTER_TARGETS: [RatioTarget; 1] = [RatioTarget {
    scenario: Scenario::Cluster,
    key: "cpu_us_per_delivery",
    what: "CPU per delivery of the two-node fan-out through Redis (both nodes summed) ≤ 1/5 \
           of Node socket.io + redis-adapter's (µs)",
    at_least: false,
    limit: 0.2,
}];

/// Issue 20's targets against the minimal tokio-tungstenite broadcaster: set against the
/// floor writing each message on its own (`floor-unbatched`, the issue's "one write per
/// message"), and shown against the floor that gathers what waits for a client into one
/// write as rtio does (`floor`, stricter than the issue).
const FLOOR_TARGETS: [RatioTarget; 2] = [
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "cpu_us_per_delivery",
        what: "server CPU per WebSocket fan-out delivery ≤ 0.6× the minimal broadcaster's (µs)",
        at_least: false,
        limit: 0.6,
    },
    RatioTarget {
        scenario: Scenario::Echo,
        key: "cpu_us_per_ack",
        what: "server CPU per echo ack ≤ 1.0× the minimal broadcaster's echo (µs)",
        at_least: false,
        limit: 1.0,
    },
];

/// Issue 20's targets against socketioxide.
const SOCKETIOXIDE_TARGETS: [RatioTarget; 2] = [
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "cpu_us_per_delivery",
        what: "server CPU per WebSocket fan-out delivery ≤ 0.5× socketioxide's (µs)",
        at_least: false,
        limit: 0.5,
    },
    RatioTarget {
        scenario: Scenario::Echo,
        key: "cpu_us_per_ack",
        what: "server CPU per echo ack ≤ 0.5× socketioxide's (µs)",
        at_least: false,
        limit: 0.5,
    },
];

/// Issue 20's latency target against Node socket.io (the open-loop fan-out at half of its
/// saturation rate).
const LATENCY_TARGETS: [RatioTarget; 1] = [RatioTarget {
    scenario: Scenario::Latency,
    key: "p99_ms",
    what: "rtio (rust) p99 ≤ 1/5 of Node socket.io's p99, open-loop fan-out at the same rate (ms)",
    at_least: false,
    limit: 0.2,
}];

/// Issue 20's host-crossing targets: a Node or Python host (JS or Python handlers) against
/// the Rust host (handlers in Rust), same scenarios.
const CROSSING_TARGETS: [RatioTarget; 2] = [
    RatioTarget {
        scenario: Scenario::Echo,
        key: "cpu_us_per_ack",
        what: "server CPU per echo ack within 15% of the Rust host's (µs)",
        at_least: false,
        limit: 1.15,
    },
    RatioTarget {
        scenario: Scenario::Fanout,
        key: "cpu_us_per_delivery",
        what: "server CPU per WebSocket fan-out delivery within 5% of the Rust host's (µs)",
        at_least: false,
        limit: 1.05,
    },
];

/// Issue 20's memory targets: RSS per idle WebSocket connection, by host (KiB).
fn memory_target(host: &str) -> Option<LimitTarget> {
    let (what, limit) = match host {
        "rust" => ("server RSS per idle WebSocket connection ≤ 1.5 KiB", 1.5),
        "node" => ("server RSS per idle WebSocket connection ≤ 3 KiB", 3.0),
        "python" => ("server RSS per idle WebSocket connection ≤ 2 KiB", 2.0),
        _ => return None,
    };
    Some(LimitTarget {
        scenario: Scenario::Idle,
        key: "rss_per_conn_kib",
        what,
        limit,
    })
}

/// The issues' targets for each host of the run whose reference ran beside it.
fn targets_section(opts: &Options, results: &[ScenarioResult], p: &Params) -> String {
    let has = |h: &str| opts.hosts.iter().any(|x| x == h);
    let mut s = String::new();
    let cluster_ran = results.iter().any(|r| r.scenario == Scenario::Cluster);
    for host in &opts.hosts {
        let (issue, reference, body) = match host.as_str() {
            "rust" if has(report::REFERENCE) => (
                4,
                report::REFERENCE,
                report::targets(results, host, p.max_clients),
            ),
            "node" if has(report::REFERENCE) => (
                7,
                report::REFERENCE,
                report::ratio_targets(results, host, report::REFERENCE, &NODE_TARGETS),
            ),
            "node-http" if has("node") => (
                17,
                "node",
                report::ratio_targets(results, host, "node", &NODE_HTTP_TARGETS),
            ),
            "python" if has(report::PY_REFERENCE) => (
                6,
                report::PY_REFERENCE,
                report::ratio_targets(results, host, report::PY_REFERENCE, &PYTHON_TARGETS),
            ),
            _ => continue,
        };
        push_targets(&mut s, issue, host, reference, &body);
    }
    // Issue 20's fan-out and echo targets, for the Rust host.
    for (reference, targets) in [
        (report::FLOOR_UNBATCHED, &FLOOR_TARGETS[..]),
        (report::FLOOR, &FLOOR_TARGETS[..]),
        (report::SOCKETIOXIDE, &SOCKETIOXIDE_TARGETS[..]),
        (report::REFERENCE, &LATENCY_TARGETS[..]),
    ] {
        if has("rust") && has(reference) {
            let body = report::ratio_targets(results, "rust", reference, targets);
            push_targets(&mut s, 20, "rust", reference, &body);
        }
    }
    for host in ["node", "python"] {
        if has(host) && has("rust") {
            let body = report::ratio_targets(results, host, "rust", &CROSSING_TARGETS);
            push_targets(&mut s, 20, host, "rust", &body);
        }
    }
    for host in &opts.hosts {
        if let Some(target) = memory_target(host) {
            let body = report::limit_targets(results, host, &[target]);
            push_targets(&mut s, 20, host, "its own limit", &body);
        }
    }
    for host in &opts.hosts {
        if cluster_ran && !report::is_reference(host) && has(report::REFERENCE) {
            let body = report::ratio_targets(results, host, report::REFERENCE, &CLUSTER_TARGETS);
            push_targets(&mut s, 16, host, report::REFERENCE, &body);
        }
    }
    s
}

/// Appends one issue's verdicts, unless none of its figures was measured (a run limited
/// with `--only` to other scenarios).
fn push_targets(s: &mut String, issue: u32, host: &str, reference: &str, body: &str) {
    if body.lines().all(|l| l.starts_with("- **not measured**")) {
        return;
    }
    s.push_str(&format!(
        "Targets of issue {issue} ({host} vs {reference}):\n\n{body}\n"
    ));
}

fn command_line(opts: &Options) -> String {
    opts.command.clone().unwrap_or_else(|| {
        std::env::args()
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn output(cmd: &str, args: &[&str], dir: &Path) -> String {
    Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

fn today() -> String {
    output("date", &["-u", "+%Y-%m-%d %H:%M UTC"], Path::new("/"))
}

fn package_version(root: &Path, package: &str) -> String {
    let file = root.join(format!("tests/interop/node_modules/{package}/package.json"));
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| {
            let at = s.find("\"version\"")?;
            let rest = &s[at + 9..];
            let start = rest.find('"')? + 1;
            let len = rest[start..].find('"')?;
            Some(rest[start..start + len].to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The version of `package` in the `Cargo.lock` of `bench/peers/PEER` (socketioxide, floor).
fn peer_version(root: &Path, peer: &str, package: &str) -> String {
    let lock = std::fs::read_to_string(root.join(format!("bench/peers/{peer}/Cargo.lock")));
    lock_version(&lock.unwrap_or_default(), package).unwrap_or_else(|| "?".into())
}

/// The version of `package` in the text of a `Cargo.lock`.
fn lock_version(lock: &str, package: &str) -> Option<String> {
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    lines.find(|l| l.trim() == name)?;
    let version = lines.next()?.trim().strip_prefix("version = \"")?;
    Some(version.trim_end_matches('"').to_string())
}

fn machine(root: &Path) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "?".into());
    let cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let mem_kib = server::proc_status_field_file("/proc/meminfo", "MemTotal:").unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cpus} CPUs, {:.0} GiB RAM, Linux {}; {}",
        mem_kib as f64 / 1024.0 / 1024.0,
        kernel.trim(),
        output("uname", &["-m"], root)
    )
}

#[allow(clippy::too_many_arguments)]
fn results_md(
    opts: &Options,
    p: &Params,
    table: &str,
    notes: &str,
    targets: &str,
    command: &str,
    elapsed: f64,
    load: &str,
) -> String {
    let root = &opts.root;
    let rev = &opts.revision;
    let pin = |c: Option<usize>| c.map_or("not pinned".to_string(), |c| format!("CPU {c}"));
    let mut s = String::new();
    s.push_str("# rtio benchmark results\n\n");
    s.push_str(&format!(
        "Generated by `{command}` on {} ({} mode, {:.0} s in all). Rerun it to refresh this file; \
         the method is in [README.md](README.md).\n\n",
        today(),
        if opts.quick { "QUICK" } else { "full" },
        elapsed
    ));
    s.push_str("## Machine and versions\n\n");
    s.push_str(&format!("- machine: {}\n", machine(root)));
    s.push_str(&format!("- {load}\n"));
    s.push_str(&format!(
        "- servers: {} (taskset); load generator: {}, one thread\n",
        pin(opts.server_cpu),
        pin(opts.loadgen_cpu)
    ));
    s.push_str(&format!(
        "- rtio {rev}, {}; Node {}, socket.io {}, engine.io {}, ws {}\n",
        output("rustc", &["--version"], root),
        output("node", &["--version"], root),
        package_version(root, "socket.io"),
        package_version(root, "engine.io"),
        package_version(root, "ws")
    ));
    if opts.only.contains(&Scenario::Cluster) {
        s.push_str(&format!(
            "- cluster fan-out: {}, @socket.io/redis-adapter {} (Node nodes), node-redis {}\n",
            output("redis-server", &["--version"], root)
                .split(" sha=")
                .next()
                .unwrap_or("?"),
            package_version(root, "@socket.io/redis-adapter"),
            package_version(root, "redis")
        ));
    }
    if opts.only.contains(&Scenario::Publish) {
        s.push_str(&format!(
            "- publish scenario: `target/release/rtio serve --host 127.0.0.1 --port 0 --api-key \
             bench` and `node tests/interop/serve/reference-publisher.js` (express {}, socket.io \
             {}) with the same flags, both started by the scenario, pinned like the servers, \
             measured one after the other and stopped by PID\n",
            package_version(root, "express"),
            package_version(root, "socket.io")
        ));
    }
    if opts.hosts.iter().any(|h| h == report::SOCKETIOXIDE) {
        s.push_str(&format!(
            "- socketioxide {} on axum {}, tokio {} (bench/peers/socketioxide, built into \
             target/peers)\n",
            peer_version(root, "socketioxide", "socketioxide"),
            peer_version(root, "socketioxide", "axum"),
            peer_version(root, "socketioxide", "tokio")
        ));
    }
    if opts.hosts.iter().any(|h| h == report::FLOOR) {
        s.push_str(&format!(
            "- floor: tokio-tungstenite {}, tokio {} (bench/peers/floor: one task and one \
             unbounded channel per connection, one WebSocket message per delivery, the \
             messages waiting for a client in one write, no Socket.IO layer; started with \
             `--port 0` alone)\n",
            peer_version(root, "floor", "tokio-tungstenite"),
            peer_version(root, "floor", "tokio")
        ));
    }
    if opts.hosts.iter().any(|h| h == report::FLOOR_UNBATCHED) {
        s.push_str(
            "- floor-unbatched: the same server started with `--write-each`: each message \
             sent with a write of its own (tokio-tungstenite's `send`), the minimal \
             broadcaster as issue 20 defines it (\"one write per message\")\n",
        );
    }
    if opts.hosts.iter().any(|h| h == report::PY_REFERENCE) {
        let versions = output(
            ".venv/bin/python",
            &[
                "-c",
                "import sys, socketio, engineio, aiohttp; from importlib.metadata import version as v; \
                 print(f'Python {sys.version.split()[0]}, python-socketio {v(\"python-socketio\")}, \
                 python-engineio {v(\"python-engineio\")}, aiohttp {aiohttp.__version__}')",
            ],
            root,
        );
        s.push_str(&format!("- {versions}\n"));
    }
    if opts.only.iter().any(|&s| s != Scenario::Publish) {
        s.push_str(&format!(
            "- columns: {} (each `tests/interop/scenarios-server HOST --port 0 --no-visits`, \
         the floor with `--port 0` alone, all started at the beginning, beside each other, and used by every scenario in turn; \
         an \"again\" column is a second process of the same host, run last, to show \
         run-to-run noise; the cluster fan-out runs on two more processes of each column's \
         host, started then too with `--redis` and a key prefix of their own, on one \
         redis-server; the websocket compression scenario on one more process of each \
         column's host started then with `--per-message-deflate`)\n",
            arms(opts)
                .iter()
                .map(|a| a.label.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s.push('\n');
    s.push_str(&format!("## Results\n\n{table}\n"));
    s.push_str(
        "Ratios are `host ÷ socketio` (Node socket.io), `host ÷ socketioxide`, `host ÷ \
         floor` and `host ÷ floor-unbatched` (the minimal tokio-tungstenite broadcaster, \
         writing the messages waiting for a client at once, or each on its own) when those \
         ran, and `host ÷ \
         python-socketio` for a Python host when python-socketio ran too (also `÷ python-socketio-asgi` for \
         python-asgi, and `÷ node` for node-http); the publish table's are `rtio serve ÷ \
         express + socket.io`: below 1× is better for times, memory and CPU, above 1× \
         for rates. \"Server CPU\" is utime+stime of the server process over the measured \
         window (from `/proc/PID/stat`) divided by the work done; it stays meaningful when the \
         load generator, not the server, is the saturated side (compare the two CPU rows).\n\n",
    );
    if !notes.is_empty() {
        s.push_str(&format!("Notes:\n\n{notes}\n"));
    }
    if !targets.is_empty() {
        for line in targets.trim_end().lines() {
            match line.strip_prefix("Targets of ") {
                Some(title) => {
                    s.push_str(&format!("## Targets of {}\n", title.trim_end_matches(':')))
                }
                None => s.push_str(&format!("{line}\n")),
            }
        }
        s.push_str(
            "\nWhat limits each figure, with profiles: \
             [README.md](README.md#what-limits-rtio-today).\n\n",
        );
    }
    s.push_str(&format!(
        "## Sizes of this run\n\n\
         idle {} clients (ramp to {}, budget {} s); fan-out {} clients × {} messages of {} B, \
         at most {} in flight, after {} sent one at a time (time budget {} s); echo {} clients, {} s after {} s of warm-up, {} B argument; \
         polling fan-out {} clients × {} messages; storm {} clients; cluster fan-out {} clients \
         (half on each of 2 nodes) × {} messages, the same window, one redis-server, nodes and \
         Redis pinned like the servers; publish {} clients × {} publishes from {} keep-alive \
         connections, the same window; compression {} clients × {} websocket (permessage-deflate) \
         and {} polling (HTTP compression) messages of ~2 KB JSON, the same window; latency \
         (open loop) the fan-out's clients, {} s measured after {} s of warm-up, {}; at most {} \
         connection attempts in flight.\n",
        p.idle_clients,
        p.max_clients,
        p.max_ramp_budget.as_secs(),
        p.fanout_clients,
        p.fanout_messages,
        p.payload_bytes,
        p.fanout_window,
        p.probe_messages,
        p.fanout_budget.as_secs(),
        p.echo_clients,
        p.echo_duration.as_secs_f64(),
        p.echo_warmup.as_secs_f64(),
        p.echo_bytes,
        p.polling_clients,
        p.polling_messages,
        p.storm_clients,
        p.fanout_clients,
        p.cluster_messages,
        p.publish_clients,
        p.publish_messages,
        p.publishers,
        p.compression_clients,
        p.compression_ws_messages,
        p.compression_polling_messages,
        p.latency_duration.as_secs_f64(),
        p.latency_warmup.as_secs_f64(),
        match p.latency_rate {
            Some(r) => format!("{} broadcasts/s", report::number(r, 1)),
            None => "not run".into(),
        },
        p.connect_concurrency
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_verdict_compares_the_p99s_with_socketio() {
        let at = |h: &str, p99: f64| {
            (
                h.to_string(),
                Outcome {
                    values: vec![("rate_per_s", 80.0), ("p99_ms", p99)],
                    notes: Vec::new(),
                },
            )
        };
        let results = vec![ScenarioResult {
            scenario: Scenario::Latency,
            outcomes: vec![at("rust", 4.0), at(report::REFERENCE, 30.0)],
        }];
        let v = report::ratio_targets(&results, "rust", report::REFERENCE, &LATENCY_TARGETS);
        assert!(
            v.starts_with("- **met**: rtio (rust) p99 ≤ 1/5 of Node socket.io's p99"),
            "{v}"
        );
        let mut p = Params::quick();
        p.latency_rate = Some(80.0);
        let labels = ["rust", report::REFERENCE].map(String::from);
        let t = report::table(&results, &labels, &p);
        assert!(
            t.contains("9. latency, open-loop fan-out at 80 broadcasts/s"),
            "{t}"
        );
        let row = t.lines().find(|l| l.contains("latency p99,")).unwrap();
        assert!(row.ends_with("| 4.00 | 30.00 | 0.13× |"), "{row}");
    }

    #[test]
    fn reads_a_version_from_a_cargo_lock() {
        let lock = "[[package]]\nname = \"tokio\"\nversion = \"1.54.1\"\n\n[[package]]\n\
                    name = \"tokio-tungstenite\"\nversion = \"0.30.0\"\n";
        assert_eq!(lock_version(lock, "tokio").as_deref(), Some("1.54.1"));
        assert_eq!(
            lock_version(lock, "tokio-tungstenite").as_deref(),
            Some("0.30.0")
        );
        assert_eq!(lock_version(lock, "axum"), None);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert_ne!(peer_version(&root, "socketioxide", "socketioxide"), "?");
        assert_ne!(peer_version(&root, "floor", "tokio-tungstenite"), "?");
    }
}
