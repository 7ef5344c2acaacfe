//! Counters for `/metrics`, in Prometheus' text format (version 0.0.4). Gauges that the
//! core knows (connections, sockets) are read from it when scraped, not mirrored here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use parking_lot::Mutex;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A latency histogram.
#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Every counter rtio serve keeps, by metric name and label set.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, String), Histogram>>,
}

/// A metric's help text and type, written once per name.
const HELP: &[(&str, &str, &str)] = &[
    (
        "rtio_events_received_total",
        "counter",
        "Events clients sent, by namespace.",
    ),
    (
        "rtio_event_bytes_received_total",
        "counter",
        "Bytes of JSON arguments of events clients sent.",
    ),
    (
        "rtio_events_emitted_total",
        "counter",
        "Events emitted through the API or a webhook's answer.",
    ),
    (
        "rtio_acks_total",
        "counter",
        "Acks answered to clients, by outcome.",
    ),
    (
        "rtio_api_requests_total",
        "counter",
        "HTTP API calls, by endpoint and status.",
    ),
    (
        "rtio_auth_requests_total",
        "counter",
        "Connect decisions asked of the backend, by outcome.",
    ),
    (
        "rtio_webhook_requests_total",
        "counter",
        "Webhook calls, by outcome.",
    ),
    (
        "rtio_webhook_dropped_total",
        "counter",
        "Events refused because the webhook queue was full.",
    ),
    (
        "rtio_webhook_duration_seconds",
        "histogram",
        "Webhook call latency.",
    ),
    (
        "rtio_connects_total",
        "counter",
        "Sockets that joined a namespace.",
    ),
    (
        "rtio_disconnects_total",
        "counter",
        "Sockets that left a namespace, by reason.",
    ),
];

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out
}

impl Metrics {
    /// Adds `n` to counter `name` with these labels.
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], n: u64) {
        *self
            .counters
            .lock()
            .entry((name, labels(pairs)))
            .or_default() += n;
    }

    /// Adds one.
    pub fn inc(&self, name: &'static str, pairs: &[(&str, &str)]) {
        self.add(name, pairs, 1);
    }

    /// Records one observation of histogram `name`.
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], took: Duration) {
        let secs = took.as_secs_f64();
        let mut all = self.histograms.lock();
        let h = all.entry((name, labels(pairs))).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Everything in the text format, after `gauges` (already formatted by the caller).
    pub fn render(&self, gauges: &str) -> String {
        let mut out = String::from(gauges);
        let counters = self.counters.lock().clone();
        let histograms = self.histograms.lock().clone();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, l), v) in counters.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{n}{} {v}", braces(l));
            }
            for ((n, l), h) in histograms.iter().filter(|((n, _), _)| n == name) {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let le = format!("le=\"{bound}\"");
                    let _ = writeln!(out, "{n}_bucket{} {}", braces(&join(l, &le)), h.counts[i]);
                }
                let _ = writeln!(
                    out,
                    "{n}_bucket{} {}",
                    braces(&join(l, "le=\"+Inf\"")),
                    h.count
                );
                let _ = writeln!(out, "{n}_sum{} {}", braces(l), h.sum);
                let _ = writeln!(out, "{n}_count{} {}", braces(l), h.count);
            }
        }
        out
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a},{b}")
    }
}

fn braces(l: &str) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!("{{{l}}}")
    }
}

/// A gauge line with its help and type.
pub fn gauge(out: &mut String, name: &str, help: &str, values: &[(String, f64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (l, v) in values {
        let _ = writeln!(out, "{name}{} {v}", braces(l));
    }
}

/// Labels for a gauge value.
pub fn label(pairs: &[(&str, &str)]) -> String {
    labels(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms_in_the_text_format() {
        let m = Metrics::default();
        m.inc(
            "rtio_api_requests_total",
            &[("endpoint", "emit"), ("status", "200")],
        );
        m.inc(
            "rtio_api_requests_total",
            &[("endpoint", "emit"), ("status", "200")],
        );
        m.observe(
            "rtio_webhook_duration_seconds",
            &[],
            Duration::from_millis(20),
        );
        let text = m.render("");
        assert!(
            text.contains("rtio_api_requests_total{endpoint=\"emit\",status=\"200\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("rtio_webhook_duration_seconds_bucket{le=\"0.025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("rtio_webhook_duration_seconds_bucket{le=\"0.01\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("rtio_webhook_duration_seconds_count 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE rtio_webhook_duration_seconds histogram\n"),
            "{text}"
        );
    }
}
