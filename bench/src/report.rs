//! The table (Markdown), the target verdicts, `bench/RESULTS.md` and README's section.

use std::fmt::Write as _;

use crate::scenarios::{Outcome, Params, Scenario};

/// Every host's outcome of one scenario, in host order.
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub outcomes: Vec<(String, Outcome)>,
}

/// The host every ratio is taken against: Node socket.io.
pub const REFERENCE: &str = "socketio";

/// The second reference, for the Python host(s) only: python-socketio's own server.
pub const PY_REFERENCE: &str = "python-socketio";

/// python-socketio's own AsyncServer as an ASGI app under uvicorn: the reference of rtio's
/// Python host mounted under uvicorn (`python-asgi`, issue 17).
pub const PY_ASGI_REFERENCE: &str = "python-socketio-asgi";

/// socketioxide (crates.io), a Socket.IO server in Rust implementing the scenarios
/// (bench/peers/socketioxide): a reference of every rtio host (issue 20).
pub const SOCKETIOXIDE: &str = "socketioxide";

/// The floor: a minimal tokio-tungstenite broadcaster with no Socket.IO layer
/// (bench/peers/floor), the reference of every rtio host for WebSocket fan-out, echo and
/// idle memory (issue 20).
pub const FLOOR: &str = "floor";

/// The same broadcaster sending each message with a write of its own (`--write-each`): the
/// minimal broadcaster as issue 20 defines it ("one write per message"), the floor its
/// fan-out target is set against.
pub const FLOOR_UNBATCHED: &str = "floor-unbatched";

/// Whether `host` is one of the two floors (raw WebSocket clients, no Socket.IO layer).
pub fn is_floor(host: &str) -> bool {
    host == FLOOR || host == FLOOR_UNBATCHED
}

/// The publish scenario's columns (issue 18): `rtio serve`, and the Express + socket.io 4.8
/// server doing the same through the same HTTP API (tests/interop/serve/reference-publisher.js).
pub const SERVE: &str = "rtio serve";
pub const SERVE_REFERENCE: &str = "express + socket.io";

/// Whether `host` is one of the references (they get no ratio columns of their own).
pub fn is_reference(host: &str) -> bool {
    [
        REFERENCE,
        PY_REFERENCE,
        PY_ASGI_REFERENCE,
        SERVE_REFERENCE,
        SOCKETIOXIDE,
        FLOOR,
        FLOOR_UNBATCHED,
    ]
    .contains(&host)
}

/// The references `host` is compared with: Node socket.io, socketioxide and the floor (issue
/// 20: every rtio host against each); python-socketio for any Python
/// host (users move to rtio's Python package from python-socketio), and python-socketio
/// under uvicorn for the Python host under uvicorn (issue 17: each beside python-socketio
/// under the same server); the standalone Node host for the Node host attached to an
/// `http.Server` (issue 17: within 10% of it); the Rust host for the Node and Python hosts
/// (issue 20: the cost of crossing to JS or Python handlers). Only those that ran get a column.
pub fn references_of(host: &str) -> Vec<&'static str> {
    let mut refs = vec![REFERENCE];
    if is_reference(host) {
        return refs;
    }
    refs.extend([SOCKETIOXIDE, FLOOR, FLOOR_UNBATCHED]);
    if host.starts_with("python") {
        refs.push(PY_REFERENCE);
    }
    if host == "python-asgi" {
        refs.push(PY_ASGI_REFERENCE);
    }
    if host == "node-http" {
        refs.push("node");
    }
    if matches!(host, "node" | "python") {
        // Issue 20's host crossing: the same server with handlers in JS or Python.
        refs.push("rust");
    }
    refs
}

/// The label of the noise arm of `host` (the same host run once more).
pub fn again(host: &str) -> String {
    format!("{host} again")
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
    /// A context figure: no ratio.
    Neither,
}

struct Row {
    key: &'static str,
    label: &'static str,
    decimals: usize,
    better: Better,
}

const fn row(key: &'static str, label: &'static str, decimals: usize, better: Better) -> Row {
    Row {
        key,
        label,
        decimals,
        better,
    }
}

const CPU_ROWS: [Row; 3] = [
    row(
        "switches_per_op",
        "server context switches per op",
        2,
        Better::Neither,
    ),
    row(
        "server_cpu_pct",
        "server CPU, % of its core",
        0,
        Better::Neither,
    ),
    row(
        "loadgen_cpu_pct",
        "load generator CPU, % of its core",
        0,
        Better::Neither,
    ),
];

fn rows(s: Scenario) -> Vec<Row> {
    use Better::*;
    let mut r = match s {
        Scenario::Idle => vec![
            row(
                "rss_per_conn_kib",
                "server RSS per connection, KiB",
                1,
                Lower,
            ),
            row("idle_connected", "connections held", 0, Neither),
            row("rss_base_mib", "server RSS before, MiB", 1, Lower),
            row("rss_idle_mib", "server RSS with them, MiB", 1, Lower),
            row("max_held", "most connections held (ramp)", 0, Higher),
            row("rss_max_mib", "server RSS at the most, MiB", 0, Lower),
            row(
                "rss_per_conn_max_kib",
                "server RSS per connection there, KiB",
                1,
                Lower,
            ),
        ],
        Scenario::Fanout | Scenario::PollingFanout => vec![
            row("deliveries_per_s", "deliveries/s", 0, Higher),
            row(
                "cpu_us_per_delivery",
                "server CPU per delivery, µs",
                3,
                Lower,
            ),
            row("kernel_us_per_op", "… of which in the kernel, µs", 3, Lower),
            row("p50_ms", "delivery latency p50, ms", 2, Lower),
            row("p99_ms", "delivery latency p99, ms", 2, Lower),
            row(
                "probe_p50_ms",
                "one broadcast alone: latency p50, ms",
                2,
                Lower,
            ),
            row(
                "probe_p99_ms",
                "one broadcast alone: latency p99, ms",
                2,
                Lower,
            ),
            row("lost", "deliveries missing", 0, Lower),
        ],
        Scenario::Latency => vec![
            row(
                "asked_deliveries_per_s",
                "deliveries/s asked (rate × clients)",
                0,
                Neither,
            ),
            row("deliveries_per_s", "deliveries/s achieved", 0, Higher),
            row(
                "cpu_us_per_delivery",
                "server CPU per delivery, µs",
                3,
                Lower,
            ),
            row("kernel_us_per_op", "… of which in the kernel, µs", 3, Lower),
            row(
                "p50_ms",
                "delivery latency p50 (due time → kernel receive stamp at the client), ms",
                2,
                Lower,
            ),
            row("p99_ms", "delivery latency p99, ms", 2, Lower),
            row("p999_ms", "delivery latency p99.9, ms", 2, Lower),
            row(
                "read_p50_ms",
                "… until the load generator read it, p50, ms",
                2,
                Neither,
            ),
            row(
                "read_p99_ms",
                "… until the load generator read it, p99, ms",
                2,
                Neither,
            ),
            row(
                "late_sends",
                "messages the load generator sent > 1 ms late",
                0,
                Neither,
            ),
            row(
                "late_p99_ms",
                "… p99 of its delay after the due time, ms",
                2,
                Neither,
            ),
            row(
                "late_max_ms",
                "… its latest send after the due time, ms",
                2,
                Neither,
            ),
            row("lost", "deliveries missing", 0, Lower),
        ],
        Scenario::CompressionWs | Scenario::CompressionPolling => vec![
            row("deliveries_per_s", "deliveries/s", 0, Higher),
            row(
                "cpu_us_per_delivery",
                "server CPU per delivery, µs",
                3,
                Lower,
            ),
            row("kernel_us_per_op", "… of which in the kernel, µs", 3, Lower),
            row(
                "wire_bytes_per_delivery",
                "bytes on the wire per delivery (as the clients read them)",
                0,
                Lower,
            ),
            row(
                "decoded_bytes_per_delivery",
                "… the same decoded (Engine.IO packets), bytes",
                0,
                Neither,
            ),
            row(
                "deliveries_per_message",
                "deliveries per websocket message or polling response",
                2,
                Neither,
            ),
            row(
                "compressed_pct",
                "messages (websocket) or responses (polling) compressed, %",
                0,
                Neither,
            ),
            row("p50_ms", "delivery latency p50, ms", 2, Lower),
            row("p99_ms", "delivery latency p99, ms", 2, Lower),
            row(
                "probe_p50_ms",
                "one broadcast alone: latency p50, ms",
                2,
                Lower,
            ),
            row(
                "probe_p99_ms",
                "one broadcast alone: latency p99, ms",
                2,
                Lower,
            ),
            row("lost", "deliveries missing", 0, Lower),
        ],
        Scenario::Cluster => vec![
            row("deliveries_per_s", "deliveries/s", 0, Higher),
            row(
                "cpu_us_per_delivery",
                "CPU per delivery, both nodes, µs",
                3,
                Lower,
            ),
            row(
                "node_a_cpu_us_per_op",
                "… of which node A (the sender's), µs",
                3,
                Lower,
            ),
            row(
                "node_b_cpu_us_per_op",
                "… of which node B (through Redis), µs",
                3,
                Lower,
            ),
            row("kernel_us_per_op", "… of which in the kernel, µs", 3, Lower),
            row(
                "redis_cpu_us_per_op",
                "Redis CPU per delivery, µs",
                4,
                Lower,
            ),
            row("p50_ms", "delivery latency p50, ms", 2, Lower),
            row("p99_ms", "delivery latency p99, ms", 2, Lower),
            row(
                "probe_p50_ms",
                "one broadcast alone: latency p50, ms",
                2,
                Lower,
            ),
            row(
                "probe_p99_ms",
                "one broadcast alone: latency p99, ms",
                2,
                Lower,
            ),
            row("lost", "deliveries missing", 0, Lower),
        ],
        Scenario::Publish => vec![
            row("publishes_per_s", "publishes/s (HTTP API)", 0, Higher),
            row("deliveries_per_s", "deliveries/s", 0, Higher),
            row("cpu_us_per_publish", "server CPU per publish, µs", 1, Lower),
            row(
                "cpu_us_per_delivery",
                "server CPU per delivery, µs",
                3,
                Lower,
            ),
            row("kernel_us_per_op", "… of which in the kernel, µs", 3, Lower),
            row("p50_ms", "delivery latency p50, ms", 2, Lower),
            row("p99_ms", "delivery latency p99, ms", 2, Lower),
            row(
                "probe_p50_ms",
                "one publish alone: latency p50, ms",
                2,
                Lower,
            ),
            row(
                "probe_p99_ms",
                "one publish alone: latency p99, ms",
                2,
                Lower,
            ),
            row("lost", "deliveries missing", 0, Lower),
        ],
        Scenario::Echo => vec![
            row("acks_per_s", "acks/s", 0, Higher),
            row("cpu_us_per_ack", "server CPU per ack, µs", 2, Lower),
            row("kernel_us_per_op", "… of which in the kernel, µs", 2, Lower),
            row("p50_ms", "round trip p50, ms", 3, Lower),
            row("p99_ms", "round trip p99, ms", 3, Lower),
        ],
        Scenario::Storm => vec![
            row("conns_per_s", "connections/s", 0, Higher),
            row("cpu_us_per_conn", "server CPU per connection, µs", 0, Lower),
            row("kernel_us_per_op", "… of which in the kernel, µs", 0, Lower),
            row("connect_p50_ms", "connect time p50, ms", 1, Lower),
            row("connect_p99_ms", "connect time p99, ms", 1, Lower),
            row("connected", "connected", 0, Neither),
        ],
    };
    if s != Scenario::Idle {
        r.extend(CPU_ROWS);
    }
    if s == Scenario::Cluster {
        r.push(row(
            "redis_cpu_pct",
            "Redis CPU, % of the servers' core",
            0,
            Better::Neither,
        ));
    }
    r
}

/// 1234567.8 as "1,234,568" (decimals 0) or with `decimals` digits after the point.
pub fn number(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let text = format!("{v:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (text.clone(), None),
    };
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d.to_string()),
        None => ("", int),
    };
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A ratio: two decimals from 0.1 to 10, none above, three below.
fn ratio(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let decimals = if v >= 10.0 {
        0
    } else if v >= 0.1 {
        2
    } else {
        3
    };
    format!("{}×", number(v, decimals))
}

/// The Markdown table: one row per figure, a column per arm, then `arm ÷ reference` for each
/// other host and each of its references present (`references_of`), then `again ÷ first` for
/// a noise arm. The publish scenario, which runs on servers of its own, follows in a table
/// of its own: `rtio serve`, the Express + socket.io reference, and their ratio.
pub fn table(results: &[ScenarioResult], labels: &[String], p: &Params) -> String {
    let (publish, hosts): (Vec<&ScenarioResult>, Vec<&ScenarioResult>) = results
        .iter()
        .partition(|r| r.scenario == Scenario::Publish);
    let mut t = String::new();
    if !hosts.is_empty() {
        t.push_str(&host_table(&hosts, labels, p));
    }
    if !publish.is_empty() {
        if !t.is_empty() {
            t.push('\n');
        }
        let labels = [SERVE, SERVE_REFERENCE].map(String::from);
        let ratios = vec![(format!("{SERVE} ÷ {SERVE_REFERENCE}"), 0, 1)];
        t.push_str(&render(&publish, &labels, &ratios, p));
    }
    t
}

/// The table of the scenarios run on every arm.
fn host_table(results: &[&ScenarioResult], labels: &[String], p: &Params) -> String {
    // (column title, index of the numerator, index of the denominator)
    let mut ratios: Vec<(String, usize, usize)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        if let Some(first) = labels.iter().position(|f| again(f) == *l) {
            ratios.push((format!("noise: {l} ÷ {}", labels[first]), i, first));
        } else if !is_reference(l) {
            for reference in references_of(l) {
                if let Some(r) = labels.iter().position(|h| h == reference) {
                    ratios.push((format!("{l} ÷ {reference}"), i, r));
                }
            }
        }
    }
    ratios.sort_by_key(|(title, _, _)| title.starts_with("noise"));
    render(results, labels, &ratios, p)
}

/// A table of `results` with a column per label and the ratio columns `(title, index of the
/// numerator, index of the denominator)`.
fn render(
    results: &[&ScenarioResult],
    labels: &[String],
    ratios: &[(String, usize, usize)],
    p: &Params,
) -> String {
    let mut t = String::from("| scenario | figure |");
    for h in labels {
        let _ = write!(t, " {h} |");
    }
    for (title, _, _) in ratios {
        let _ = write!(t, " {title} |");
    }
    t.push_str("\n|---|---|");
    for _ in labels.iter().chain(ratios.iter().map(|(t, _, _)| t)) {
        t.push_str("---:|");
    }
    t.push('\n');
    for r in results {
        let mut first = true;
        for row in rows(r.scenario) {
            let values: Vec<Option<f64>> = labels
                .iter()
                .map(|h| {
                    r.outcomes
                        .iter()
                        .find(|(host, _)| host == h)
                        .and_then(|(_, o)| o.get(row.key))
                })
                .collect();
            if values.iter().all(Option::is_none) {
                continue;
            }
            if row.key == "lost" && values.iter().all(|v| v.unwrap_or(0.0) == 0.0) {
                continue;
            }
            let title = if first {
                format!("**{}**", r.scenario.title(p))
            } else {
                String::new()
            };
            first = false;
            let _ = write!(t, "| {title} | {} |", row.label);
            for v in &values {
                let _ = write!(
                    t,
                    " {} |",
                    v.map_or("–".to_string(), |v| number(v, row.decimals))
                );
            }
            for (_, num, den) in ratios {
                let cell = match (row.better, values[*num], values[*den]) {
                    (Better::Neither, _, _) => String::new(),
                    (_, Some(v), Some(r)) if r != 0.0 => ratio(v / r),
                    _ => "–".into(),
                };
                let _ = write!(t, " {cell} |");
            }
            t.push('\n');
        }
    }
    t
}

/// Notes (errors, limits hit) under the table.
pub fn notes(results: &[ScenarioResult]) -> String {
    let mut s = String::new();
    for r in results {
        for (host, o) in &r.outcomes {
            for n in &o.notes {
                let _ = writeln!(s, "- {} / {host}: {n}", r.scenario.key());
            }
        }
    }
    s
}

fn cpu_key(s: Scenario) -> &'static str {
    match s {
        Scenario::Echo => "cpu_us_per_ack",
        Scenario::Storm => "cpu_us_per_conn",
        _ => "cpu_us_per_delivery",
    }
}

fn find<'a>(results: &'a [ScenarioResult], s: Scenario, host: &str) -> Option<&'a Outcome> {
    results
        .iter()
        .find(|r| r.scenario == s)?
        .outcomes
        .iter()
        .find(|(h, _)| h == host)
        .map(|(_, o)| o)
}

/// `- **met**: what: detail` (or NOT met, or not measured when `met` is `None`).
fn verdict_line(s: &mut String, met: Option<bool>, what: &str, detail: &str) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    };
    let _ = writeln!(s, "- **{verdict}**: {what}: {detail}");
}

/// A figure of `host` and of `reference` in one scenario, when both were measured.
fn pair_of(
    results: &[ScenarioResult],
    sc: Scenario,
    key: &str,
    host: &str,
    reference: &str,
) -> Option<(f64, f64)> {
    Some((
        find(results, sc, host)?.get(key)?,
        find(results, sc, reference)?.get(key)?,
    ))
}

/// Whether `host ÷ reference` of a figure is at most (or, `at_least`, at least) `limit`,
/// with the two figures and the ratio as the detail.
fn ratio_verdict(
    results: &[ScenarioResult],
    sc: Scenario,
    key: &str,
    (host, reference): (&str, &str),
    limit: f64,
    at_least: bool,
) -> (Option<bool>, String) {
    match pair_of(results, sc, key, host, reference) {
        Some((v, r)) if r > 0.0 => {
            let met = if at_least {
                v / r >= limit
            } else {
                v / r <= limit
            };
            let bound = if at_least { "at least" } else { "limit" };
            (
                Some(met),
                format!(
                    "{} vs {} → {} ({bound} {})",
                    number(v, 3),
                    number(r, 3),
                    ratio(v / r),
                    ratio(limit)
                ),
            )
        }
        _ => (None, String::new()),
    }
}

/// One target of an issue: the ratio `host ÷ reference` of one figure, bounded.
pub struct RatioTarget {
    pub scenario: Scenario,
    pub key: &'static str,
    pub what: &'static str,
    /// `true`: the ratio must be at least `limit` (rates); `false`: at most (costs).
    pub at_least: bool,
    pub limit: f64,
}

/// Verdicts on `targets` for `host` against `reference`, as Markdown bullets.
pub fn ratio_targets(
    results: &[ScenarioResult],
    host: &str,
    reference: &str,
    targets: &[RatioTarget],
) -> String {
    let mut s = String::new();
    for t in targets {
        let (met, detail) = ratio_verdict(
            results,
            t.scenario,
            t.key,
            (host, reference),
            t.limit,
            t.at_least,
        );
        verdict_line(&mut s, met, t.what, &detail);
    }
    s
}

/// A target on one figure of a host alone (no reference): at most `limit`.
pub struct LimitTarget {
    pub scenario: Scenario,
    pub key: &'static str,
    pub what: &'static str,
    pub limit: f64,
}

/// Verdicts on `targets` for `host`, as Markdown bullets.
pub fn limit_targets(results: &[ScenarioResult], host: &str, targets: &[LimitTarget]) -> String {
    let mut s = String::new();
    for t in targets {
        let (met, detail) = match find(results, t.scenario, host).and_then(|o| o.get(t.key)) {
            Some(v) => (
                Some(v <= t.limit),
                format!("{} (limit {})", number(v, 2), number(t.limit, 2)),
            ),
            None => (None, String::new()),
        };
        verdict_line(&mut s, met, t.what, &detail);
    }
    s
}

/// Issue 4's targets for one host against Node socket.io, as Markdown bullets.
pub fn targets(results: &[ScenarioResult], host: &str, max_clients: usize) -> String {
    let mut s = String::new();
    let mut line = |met: Option<bool>, what: &str, detail: String| {
        verdict_line(&mut s, met, what, &detail);
    };
    let pair = |sc: Scenario, key: &str| pair_of(results, sc, key, host, REFERENCE);
    let ratio_target = |sc: Scenario, key: &str, limit: f64| {
        ratio_verdict(results, sc, key, (host, REFERENCE), limit, false)
    };
    // The part of the server CPU spent in the kernel (send/recv, TCP over loopback, wake-ups):
    // when it alone exceeds the limit, no user-space change can meet the target.
    let kernel = |sc: Scenario, limit: f64| -> String {
        match (pair(sc, "kernel_us_per_op"), pair(sc, cpu_key(sc))) {
            (Some((vk, rk)), Some((_, r))) => format!(
                "; in the kernel alone: {} vs {} µs, against a limit of {} µs",
                number(vk, 2),
                number(rk, 2),
                number(r * limit, 2)
            ),
            _ => String::new(),
        }
    };
    let (m, d) = ratio_target(Scenario::Fanout, "cpu_us_per_delivery", 0.1);
    let d = d + &kernel(Scenario::Fanout, 0.1);
    line(
        m,
        "server CPU per fan-out delivery ≤ 1/10 of Node's (µs)",
        d,
    );
    let (m, d) = ratio_target(Scenario::Echo, "cpu_us_per_ack", 0.2);
    let d = d + &kernel(Scenario::Echo, 0.2);
    line(m, "server CPU per echo ack ≤ 1/5 of Node's (µs)", d);
    for (sc, what, rate) in [
        (Scenario::Fanout, "fan-out deliveries/s", "deliveries_per_s"),
        (Scenario::Echo, "echo acks/s", "acks_per_s"),
    ] {
        match find(results, sc, host) {
            Some(o) => {
                let (server, lg) = (
                    o.get("server_cpu_pct").unwrap_or(f64::NAN),
                    o.get("loadgen_cpu_pct").unwrap_or(f64::NAN),
                );
                let rate_v = o.get(rate).unwrap_or(f64::NAN);
                let met = lg >= 90.0 && server < lg;
                let side = if met {
                    "the load generator is the saturated side".to_string()
                } else if server >= 90.0 {
                    format!(
                        "the server is the saturated side; the load generator would absorb \
                         about {}/s at 100% (rate ÷ its CPU share)",
                        number(rate_v * 100.0 / lg, 0)
                    )
                } else {
                    "neither side saturated".to_string()
                };
                line(
                    Some(met),
                    &format!("{what} as high as the load generator can absorb"),
                    format!(
                        "{} with the load generator at {}% of its core and the server at {}%: {side}",
                        number(rate_v, 0),
                        number(lg, 0),
                        number(server, 0),
                    ),
                );
            }
            None => line(None, what, String::new()),
        }
    }
    let (m, d) = ratio_target(Scenario::Idle, "rss_per_conn_kib", 0.2);
    line(m, "memory per idle connection ≤ 1/5 of Node's (KiB)", d);
    let (m, d) = ratio_target(Scenario::Fanout, "p99_ms", 0.2);
    let alone = match pair(Scenario::Fanout, "probe_p99_ms") {
        Some((v, r)) if r > 0.0 => format!(
            "; one broadcast alone: {} vs {} → {}",
            number(v, 2),
            number(r, 2),
            ratio(v / r)
        ),
        _ => String::new(),
    };
    line(m, "fan-out p99 latency ≤ 1/5 of Node's (ms)", d + &alone);
    match find(results, Scenario::Idle, host).and_then(|o| o.get("max_held")) {
        Some(held) => line(
            Some(held >= 100_000.0),
            "100,000 idle websocket connections held",
            format!(
                "{} held (ramp target {})",
                number(held, 0),
                number(max_clients as f64, 0)
            ),
        ),
        None => line(
            None,
            "100,000 idle websocket connections held",
            "(the ramp runs in the full mode only)".into(),
        ),
    }
    s
}

/// Replaces the body of the `## Benchmarks` section of a README with `body`.
pub fn replace_section(readme: &str, heading: &str, body: &str) -> Option<String> {
    let start = readme.find(&format!("\n{heading}\n"))? + 1;
    let body_start = start + heading.len() + 1;
    let end = readme[body_start..]
        .find("\n## ")
        .map(|i| body_start + i + 1)
        .unwrap_or(readme.len());
    let mut out = String::with_capacity(readme.len() + body.len());
    out.push_str(&readme[..body_start]);
    out.push('\n');
    out.push_str(body.trim_end());
    out.push_str("\n\n");
    out.push_str(&readme[end..]);
    Some(out.trim_end().to_string() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_ratios() {
        assert_eq!(number(1234567.8, 0), "1,234,568");
        assert_eq!(number(-1234.5, 1), "-1,234.5");
        assert_eq!(number(0.126, 2), "0.13");
        assert_eq!(number(f64::NAN, 2), "–");
        assert_eq!(ratio(0.0421), "0.042×");
        assert_eq!(ratio(0.5), "0.50×");
        assert_eq!(ratio(12.34), "12×");
        assert_eq!(ratio(1.061), "1.06×");
    }

    #[test]
    fn replaces_one_section() {
        let readme = "# x\n\n## Benchmarks\n\nold\nold\n\n## Next\n\nkeep\n";
        let out = replace_section(readme, "## Benchmarks", "new table").unwrap();
        assert_eq!(
            out,
            "# x\n\n## Benchmarks\n\nnew table\n\n## Next\n\nkeep\n"
        );
        let last = "# x\n\n## Benchmarks\n\nold\n";
        assert_eq!(
            replace_section(last, "## Benchmarks", "new").unwrap(),
            "# x\n\n## Benchmarks\n\nnew\n"
        );
        assert!(replace_section("# x\n", "## Benchmarks", "y").is_none());
    }

    fn outcome(values: &[(&'static str, f64)]) -> Outcome {
        Outcome {
            values: values.to_vec(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn python_host_is_compared_with_both_references() {
        let results = vec![ScenarioResult {
            scenario: Scenario::Echo,
            outcomes: vec![
                ("python".into(), outcome(&[("acks_per_s", 600.0)])),
                ("python-socketio".into(), outcome(&[("acks_per_s", 100.0)])),
                ("socketio".into(), outcome(&[("acks_per_s", 300.0)])),
            ],
        }];
        let labels: Vec<String> = ["python", "python-socketio", "socketio"]
            .map(String::from)
            .to_vec();
        let t = table(&results, &labels, &Params::quick());
        let header = t.lines().next().unwrap();
        assert!(header.contains("python ÷ socketio"), "{header}");
        assert!(header.contains("python ÷ python-socketio"), "{header}");
        assert!(!header.contains("python-socketio ÷"), "{header}");
        let acks = t.lines().find(|l| l.contains("acks/s")).unwrap();
        assert!(acks.contains("2.00×") && acks.contains("6.00×"), "{acks}");

        let echo = [RatioTarget {
            scenario: Scenario::Echo,
            key: "acks_per_s",
            what: "acks",
            at_least: true,
            limit: 5.0,
        }];
        let verdict = ratio_targets(&results, "python", PY_REFERENCE, &echo);
        assert!(
            verdict.starts_with("- **met**: acks: 600.000 vs 100.000"),
            "{verdict}"
        );
        let verdict = ratio_targets(&results, "python", REFERENCE, &echo);
        assert!(verdict.starts_with("- **NOT met**"), "{verdict}");
    }

    #[test]
    fn every_rtio_host_is_compared_with_socketioxide_and_the_floor() {
        for r in [SOCKETIOXIDE, FLOOR, FLOOR_UNBATCHED] {
            assert!(is_reference(r));
            assert_eq!(references_of(r), [REFERENCE]);
        }
        let labels: Vec<String> = ["rust", SOCKETIOXIDE, FLOOR, REFERENCE]
            .map(String::from)
            .to_vec();
        let at = |h: &str, cpu: f64| {
            (
                h.to_string(),
                outcome(&[("deliveries_per_s", 1000.0), ("cpu_us_per_delivery", cpu)]),
            )
        };
        let mut results = vec![ScenarioResult {
            scenario: Scenario::Fanout,
            outcomes: vec![
                at("rust", 1.0),
                at(SOCKETIOXIDE, 2.0),
                at(FLOOR, 4.0),
                at(REFERENCE, 10.0),
            ],
        }];
        let t = table(&results, &labels, &Params::quick());
        let header = t.lines().next().unwrap();
        assert!(
            header.contains("| rust ÷ socketio | rust ÷ socketioxide | rust ÷ floor |"),
            "{header}"
        );
        assert!(!header.contains("floor ÷") && !header.contains("socketioxide ÷"));
        let cpu = t.lines().find(|l| l.contains("CPU per delivery")).unwrap();
        assert!(cpu.ends_with("| 0.10× | 0.50× | 0.25× |"), "{cpu}");
        // Without the floor: no floor column.
        results[0].outcomes.truncate(2);
        let t = table(&results, &labels[..2], &Params::quick());
        assert!(!t.lines().next().unwrap().contains("floor"));
    }

    #[test]
    fn issue_17_hosts_get_their_references() {
        assert!(is_reference(PY_ASGI_REFERENCE));
        assert_eq!(references_of(PY_ASGI_REFERENCE), [REFERENCE]);
        assert_eq!(
            references_of("python"),
            [
                REFERENCE,
                SOCKETIOXIDE,
                FLOOR,
                FLOOR_UNBATCHED,
                PY_REFERENCE,
                "rust"
            ]
        );
        for host in ["python-aiohttp", "python-wsgi"] {
            assert_eq!(
                references_of(host),
                [
                    REFERENCE,
                    SOCKETIOXIDE,
                    FLOOR,
                    FLOOR_UNBATCHED,
                    PY_REFERENCE
                ]
            );
        }
        assert_eq!(
            references_of("python-asgi"),
            [
                REFERENCE,
                SOCKETIOXIDE,
                FLOOR,
                FLOOR_UNBATCHED,
                PY_REFERENCE,
                PY_ASGI_REFERENCE
            ]
        );
        assert_eq!(
            references_of("node-http"),
            [REFERENCE, SOCKETIOXIDE, FLOOR, FLOOR_UNBATCHED, "node"]
        );
        assert_eq!(
            references_of("node"),
            [REFERENCE, SOCKETIOXIDE, FLOOR, FLOOR_UNBATCHED, "rust"]
        );
        let results = vec![ScenarioResult {
            scenario: Scenario::Fanout,
            outcomes: ["python-asgi", "python-socketio-asgi", "python-socketio"]
                .iter()
                .map(|h| (h.to_string(), outcome(&[("deliveries_per_s", 10.0)])))
                .collect(),
        }];
        let labels = ["python-asgi", "python-socketio-asgi", "python-socketio"].map(String::from);
        let header = table(&results, &labels, &Params::quick());
        let header = header.lines().next().unwrap();
        assert!(
            header.contains("python-asgi ÷ python-socketio |"),
            "{header}"
        );
        assert!(
            header.contains("python-asgi ÷ python-socketio-asgi"),
            "{header}"
        );
        assert!(!header.contains("python-socketio-asgi ÷"), "{header}");
        assert!(
            !header.contains("÷ socketio"),
            "socketio did not run: {header}"
        );
    }

    #[test]
    fn the_publish_scenario_has_a_table_of_its_own() {
        let results = vec![
            ScenarioResult {
                scenario: Scenario::Echo,
                outcomes: vec![
                    ("rust".into(), outcome(&[("acks_per_s", 600.0)])),
                    ("socketio".into(), outcome(&[("acks_per_s", 300.0)])),
                ],
            },
            ScenarioResult {
                scenario: Scenario::Publish,
                outcomes: vec![
                    (
                        SERVE.into(),
                        outcome(&[("publishes_per_s", 4000.0), ("cpu_us_per_publish", 50.0)]),
                    ),
                    (
                        SERVE_REFERENCE.into(),
                        outcome(&[("publishes_per_s", 1000.0), ("cpu_us_per_publish", 500.0)]),
                    ),
                ],
            },
        ];
        let labels = ["rust", "socketio"].map(String::from);
        let t = table(&results, &labels, &Params::quick());
        let headers: Vec<&str> = t.lines().filter(|l| l.starts_with("| scenario")).collect();
        assert_eq!(headers.len(), 2, "{t}");
        assert!(
            headers[1].contains("| rtio serve | express + socket.io |"),
            "{t}"
        );
        assert!(
            headers[1].contains("rtio serve ÷ express + socket.io"),
            "{t}"
        );
        let line = |what: &str| t.lines().find(|l| l.contains(what)).unwrap_or("");
        assert!(line("publishes/s").contains("4.00×"), "{t}");
        assert!(line("CPU per publish").contains("0.10×"), "{t}");
        assert!(line("acks/s").contains("2.00×"), "{t}");
        // Alone, only its table.
        let t = table(&results[1..], &labels, &Params::quick());
        assert_eq!(t.lines().filter(|l| l.starts_with("| scenario")).count(), 1);
    }

    #[test]
    fn cluster_rows_and_the_cluster_target() {
        let figures = |cpu, a, b, redis| {
            outcome(&[
                ("deliveries_per_s", 1000.0),
                ("cpu_us_per_delivery", cpu),
                ("node_a_cpu_us_per_op", a),
                ("node_b_cpu_us_per_op", b),
                ("redis_cpu_us_per_op", redis),
                ("redis_cpu_pct", 3.0),
            ])
        };
        let results = vec![ScenarioResult {
            scenario: Scenario::Cluster,
            outcomes: vec![
                ("rust".into(), figures(0.5, 0.3, 0.2, 0.01)),
                ("socketio".into(), figures(5.0, 3.0, 2.0, 0.01)),
            ],
        }];
        let labels: Vec<String> = ["rust", "socketio"].map(String::from).to_vec();
        let t = table(&results, &labels, &Params::quick());
        let line = |what: &str| {
            t.lines()
                .find(|l| l.contains(what))
                .unwrap_or("")
                .to_string()
        };
        assert!(line("both nodes").contains("0.10×"), "{t}");
        assert!(line("node A").contains("0.300"), "{t}");
        assert!(line("node B").contains("0.200"), "{t}");
        assert!(line("Redis CPU per delivery").contains("1.00×"), "{t}");
        assert!(line("Redis CPU, %").ends_with("|  |"), "no ratio: {t}");
        let target = [RatioTarget {
            scenario: Scenario::Cluster,
            key: "cpu_us_per_delivery",
            what: "cluster",
            at_least: false,
            limit: 0.2,
        }];
        let v = ratio_targets(&results, "rust", REFERENCE, &target);
        assert!(
            v.starts_with("- **met**: cluster: 0.500 vs 5.000 → 0.10×"),
            "{v}"
        );
        let v = ratio_targets(&results, "node", REFERENCE, &target);
        assert!(v.starts_with("- **not measured**"), "{v}");
    }
}
