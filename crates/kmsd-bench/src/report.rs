//! Measurement results: per-operation latency histograms (HDR, nanoseconds),
//! their merge across connections, and the report as a table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram records (60 s, in ns); larger values are clamped.
pub const MAX_LATENCY_NS: u64 = 60_000_000_000;

/// A latency histogram in nanoseconds, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    match Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3) {
        Ok(h) => h,
        // The bounds are constants that satisfy the constructor's rules.
        Err(_) => unreachable!("constant histogram bounds are valid"),
    }
}

/// What one connection observed for one operation.
#[derive(Debug, Clone)]
pub struct OpStats {
    /// Latency of every completed request (success or error response), ns.
    pub latency: Histogram<u64>,
    /// Requests answered with a 2xx status.
    pub ok: u64,
    /// Failed requests by AWS error code (or transport error class).
    pub errors: BTreeMap<String, u64>,
}

impl Default for OpStats {
    fn default() -> Self {
        OpStats {
            latency: new_histogram(),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl OpStats {
    /// Records one completed request.
    pub fn record(&mut self, latency_ns: u64, error: Option<&str>) {
        self.latency
            .saturating_record(latency_ns.clamp(1, MAX_LATENCY_NS));
        match error {
            None => self.ok += 1,
            Some(code) => self.count_error(code),
        }
    }

    /// Counts an error that has no meaningful latency (e.g. connect failure).
    pub fn count_error(&mut self, code: &str) {
        match self.errors.get_mut(code) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(code.to_owned(), 1);
            }
        }
    }

    /// Total failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Adds another connection's numbers to these.
    pub fn merge(&mut self, other: &OpStats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.ok += other.ok;
        for (code, n) in &other.errors {
            *self.errors.entry(code.clone()).or_insert(0) += n;
        }
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Number of recorded samples.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
    /// Arithmetic mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// Summarizes a nanosecond histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let us = |ns: u64| ns as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary {
                count: 0,
                p50_us: 0.0,
                p90_us: 0.0,
                p99_us: 0.0,
                p999_us: 0.0,
                max_us: 0.0,
                mean_us: 0.0,
            };
        }
        LatencySummary {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            p999_us: us(h.value_at_quantile(0.999)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
        }
    }
}

/// One operation's results.
#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    /// Operation name (`Encrypt`, ...).
    pub op: String,
    /// Requests completed in the measured window (ok + errors).
    pub requests: u64,
    /// 2xx responses.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// `requests / duration_s`.
    pub requests_per_sec: f64,
    /// `ok / duration_s`.
    pub ok_per_sec: f64,
    /// Latency of completed requests.
    pub latency: LatencySummary,
    /// Failed requests by error code.
    pub errors_by_code: BTreeMap<String, u64>,
}

impl OpReport {
    /// Builds the report of `stats` over `duration_s` seconds.
    pub fn new(op: &str, stats: &OpStats, duration_s: f64) -> Self {
        let errors = stats.error_count();
        let requests = stats.ok + errors;
        let rate = |n: u64| {
            if duration_s > 0.0 {
                n as f64 / duration_s
            } else {
                0.0
            }
        };
        OpReport {
            op: op.to_owned(),
            requests,
            ok: stats.ok,
            errors,
            requests_per_sec: rate(requests),
            ok_per_sec: rate(stats.ok),
            latency: LatencySummary::from_histogram(&stats.latency),
            errors_by_code: stats.errors.clone(),
        }
    }
}

/// CPU time a process spent during the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuReport {
    /// The process measured.
    pub pid: u32,
    /// user + system CPU seconds during the window.
    pub cpu_seconds: f64,
    /// `cpu_seconds / duration_s` (1.0 = one core fully busy).
    pub cores_busy: f64,
    /// CPU microseconds per completed request.
    pub us_per_request: f64,
}

/// The machine the run happened on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MachineInfo {
    /// CPUs available to this process.
    pub cpus: usize,
    /// 1-minute load average when the measured window started.
    pub loadavg_1m_start: Option<f64>,
    /// 1-minute load average when it ended.
    pub loadavg_1m_end: Option<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Always `kmsd-bench`.
    pub tool: &'static str,
    /// Endpoint URL.
    pub endpoint: String,
    /// Region of the credential scope.
    pub region: String,
    /// `encrypt`, `decrypt`, `generate-data-key` or `mixed`.
    pub mode: String,
    /// `per-request` (every request signed anew, as SDKs do) or
    /// `replay` (one signed request sent again and again).
    pub signing: &'static str,
    /// Key id used.
    pub key_id: String,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Load generator runtime threads.
    pub threads: usize,
    /// Plaintext bytes per Encrypt.
    pub plaintext_size: usize,
    /// Warm-up seconds (not measured).
    pub warmup_s: f64,
    /// Measured window in seconds.
    pub duration_s: f64,
    /// Totals over all operations.
    pub total: OpReport,
    /// Per operation (one entry unless mixed).
    pub per_op: Vec<OpReport>,
    /// Server CPU (when `--server-pid` was given).
    pub server_cpu: Option<CpuReport>,
    /// The load generator's own CPU.
    pub client_cpu: Option<CpuReport>,
    /// CPUs and load average.
    pub machine: MachineInfo,
}

fn fmt_ms(us: f64) -> String {
    format!("{:.3}", us / 1000.0)
}

/// Renders the report as a human-readable table.
pub fn render_table(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kmsd-bench {} -> {} (region {}, key {})",
        r.mode, r.endpoint, r.region, r.key_id
    );
    let signing = match r.signing {
        "replay" => "REPLAY of one signed request (not per-request signing)",
        _ => "SigV4 signed per request",
    };
    let _ = writeln!(
        s,
        "{} connections, {} thread(s), {:.2} s measured after {:.2} s warm-up, {} B plaintext; {}",
        r.connections, r.threads, r.duration_s, r.warmup_s, r.plaintext_size, signing
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<16} {:>10} {:>10} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "op",
        "requests",
        "ok",
        "errors",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms"
    );
    let mut rows: Vec<&OpReport> = r.per_op.iter().collect();
    if r.per_op.len() != 1 {
        rows.push(&r.total);
    }
    for o in rows {
        let _ = writeln!(
            s,
            "{:<16} {:>10} {:>10} {:>8} {:>11.0} {:>9} {:>9} {:>9} {:>9} {:>9}",
            o.op,
            o.requests,
            o.ok,
            o.errors,
            o.requests_per_sec,
            fmt_ms(o.latency.p50_us),
            fmt_ms(o.latency.p90_us),
            fmt_ms(o.latency.p99_us),
            fmt_ms(o.latency.p999_us),
            fmt_ms(o.latency.max_us),
        );
    }
    if !r.total.errors_by_code.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "errors by code:");
        for (code, n) in &r.total.errors_by_code {
            let _ = writeln!(s, "  {code:<40} {n:>10}");
        }
    }
    let _ = writeln!(s);
    let la = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        s,
        "machine: {} CPUs, 1-min load average {} at start, {} at end",
        r.machine.cpus,
        la(r.machine.loadavg_1m_start),
        la(r.machine.loadavg_1m_end)
    );
    for (label, cpu) in [("server", &r.server_cpu), ("client", &r.client_cpu)] {
        if let Some(c) = cpu {
            let _ = writeln!(
                s,
                "{label} CPU (pid {}): {:.2} s user+sys = {:.2} cores busy, {:.2} us per request",
                c.pid, c.cpu_seconds, c.cores_busy, c.us_per_request
            );
        }
    }
    s
}

/// Renders the report as pretty JSON.
pub fn render_json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    fn stats_1_to_1000_us() -> OpStats {
        let mut s = OpStats::default();
        for i in 1..=1000u64 {
            s.record(i * 1000, None);
        }
        s
    }

    #[test]
    fn percentiles_of_a_uniform_sample() {
        let s = stats_1_to_1000_us();
        let l = LatencySummary::from_histogram(&s.latency);
        assert_eq!(l.count, 1000);
        // 3 significant digits: within 0.1 %.
        let near = |a: f64, b: f64| (a - b).abs() <= b * 0.001 + 1e-9;
        assert!(near(l.p50_us, 500.0), "{}", l.p50_us);
        assert!(near(l.p90_us, 900.0), "{}", l.p90_us);
        assert!(near(l.p99_us, 990.0), "{}", l.p99_us);
        assert!(near(l.p999_us, 999.0), "{}", l.p999_us);
        assert!(near(l.max_us, 1000.0), "{}", l.max_us);
        assert!(near(l.mean_us, 500.5), "{}", l.mean_us);
    }

    #[test]
    fn merge_adds_counts_and_errors() {
        let mut a = stats_1_to_1000_us();
        let mut b = OpStats::default();
        b.record(5_000_000, Some("ThrottlingException"));
        b.record(1_000, Some("ThrottlingException"));
        b.count_error("ConnectError");
        a.merge(&b);
        assert_eq!(a.ok, 1000);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors["ThrottlingException"], 2);
        assert_eq!(a.latency.len(), 1002);
        // max() is the highest value equivalent at 3 significant digits.
        assert!((5_000_000..=5_005_000).contains(&a.latency.max()));
        // Values past the top are clamped, not lost.
        a.record(u64::MAX, None);
        assert_eq!(a.latency.len(), 1003);
    }

    #[test]
    fn empty_histogram_summarizes_to_zero() {
        let l = LatencySummary::from_histogram(&new_histogram());
        assert_eq!(l.count, 0);
        assert_eq!(l.max_us, 0.0);
    }

    fn sample_report(signing: &'static str) -> Report {
        let mut s = stats_1_to_1000_us();
        s.count_error("AccessDeniedException");
        let total = OpReport::new("Encrypt", &s, 2.0);
        Report {
            tool: "kmsd-bench",
            endpoint: "http://127.0.0.1:4599".into(),
            region: "us-east-1".into(),
            mode: "encrypt".into(),
            signing,
            key_id: "k".into(),
            connections: 64,
            threads: 1,
            plaintext_size: 32,
            warmup_s: 1.0,
            duration_s: 2.0,
            per_op: vec![total.clone()],
            total,
            server_cpu: Some(CpuReport {
                pid: 42,
                cpu_seconds: 1.5,
                cores_busy: 0.75,
                us_per_request: 1498.5,
            }),
            client_cpu: None,
            machine: MachineInfo {
                cpus: 2,
                loadavg_1m_start: Some(0.5),
                loadavg_1m_end: None,
            },
        }
    }

    #[test]
    fn op_report_rates() {
        let r = sample_report("per-request");
        assert_eq!(r.total.requests, 1001);
        assert_eq!(r.total.ok, 1000);
        assert_eq!(r.total.errors, 1);
        assert!((r.total.requests_per_sec - 500.5).abs() < 1e-9);
        assert!((r.total.ok_per_sec - 500.0).abs() < 1e-9);
    }

    #[test]
    fn table_shows_rates_percentiles_errors_and_cpu() {
        let t = render_table(&sample_report("per-request"));
        assert!(t.contains("SigV4 signed per request"), "{t}");
        assert!(!t.contains("REPLAY"));
        let row = t
            .lines()
            .find(|l| l.starts_with("Encrypt "))
            .expect("Encrypt row");
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[1..5], ["1001", "1000", "1", "500"]);
        assert_eq!(cols[5], "0.500");
        assert_eq!(cols[7], "0.990");
        assert!(t.contains("AccessDeniedException"));
        assert!(t.contains(
            "server CPU (pid 42): 1.50 s user+sys = 0.75 cores busy, 1498.50 us per request"
        ));
        assert!(t.contains("machine: 2 CPUs, 1-min load average 0.50 at start, ? at end"));
        let replay = render_table(&sample_report("replay"));
        assert!(replay.contains("REPLAY of one signed request"));
    }

    #[test]
    fn json_has_the_documented_fields() {
        let j: serde_json::Value =
            serde_json::from_str(&render_json(&sample_report("replay"))).unwrap();
        assert_eq!(j["signing"], "replay");
        assert_eq!(j["connections"], 64);
        assert_eq!(j["total"]["requests"], 1001);
        assert_eq!(j["total"]["errors_by_code"]["AccessDeniedException"], 1);
        assert!(j["total"]["latency"]["p99_us"].as_f64().unwrap() > 980.0);
        assert_eq!(j["server_cpu"]["pid"], 42);
        assert!(j["client_cpu"].is_null());
    }
}
