//! The populate report rendered as a table or as JSON.

use std::fmt::Write as _;

use super::PopulateReport;

/// Renders the populate report as a table.
pub fn render_table(r: &PopulateReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "kmsd-bench populate -> http://{} (region {}): {} keys, {} users, {} grants on the loaded key, {} connections",
        r.endpoint, r.region, r.requested.keys, r.requested.users, r.requested.grants, r.connections
    );
    let _ = writeln!(s, "loaded key: {}", r.loaded_key_id);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{:<11} {:<16} {:>9} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>12}",
        "phase",
        "operation",
        "requested",
        "ok",
        "errors",
        "elapsed s",
        "ok/s",
        "p50 ms",
        "p99 ms",
        "srv CPU us"
    );
    for p in &r.phases {
        let _ = writeln!(
            s,
            "{:<11} {:<16} {:>9} {:>9} {:>7} {:>10.2} {:>9.0} {:>9.3} {:>9.3} {:>12}",
            p.phase,
            p.operation,
            p.requested,
            p.ok,
            p.errors,
            p.elapsed_s,
            p.ok_per_sec,
            p.latency.p50_us / 1000.0,
            p.latency.p99_us / 1000.0,
            p.server_cpu
                .map_or_else(|| "-".to_owned(), |c| format!("{:.0}", c.us_per_request)),
        );
        for (code, n) in &p.errors_by_code {
            let _ = writeln!(s, "    error {code:<40} {n:>8}");
        }
    }
    if let Some(g) = &r.grantee {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "grantee with an access key: {} ({} grants on the loaded key), credentials in {}",
            g.user_arn, g.grants_on_loaded_key, g.credentials_file
        );
    }
    let _ = writeln!(s);
    let la = |v: Option<f64>| v.map_or_else(|| "?".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        s,
        "{:.1} s in all; errors {} (budget {}): {}; load average (1 min) {} -> {} on {} CPUs",
        r.elapsed_s,
        r.total_errors,
        r.max_errors,
        if r.success { "OK" } else { "FAILED" },
        la(r.machine.loadavg_1m_start),
        la(r.machine.loadavg_1m_end),
        r.machine.cpus
    );
    s
}

/// The report as pretty JSON.
pub fn render_json(r: &PopulateReport) -> String {
    serde_json::to_string_pretty(r).unwrap_or_default()
}
