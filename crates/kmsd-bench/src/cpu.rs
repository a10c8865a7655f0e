//! Process CPU time from `/proc/PID/stat` (Linux): user + system time of all
//! threads, including threads that have exited.

use std::path::Path;

use anyhow::Context;

/// Parses utime + stime (clock ticks) out of a `/proc/PID/stat` line.
///
/// The command name (field 2) is in parentheses and may contain spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    // After the name: state(3) ppid(4) ... utime(14) stime(15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The 1-minute load average from `/proc/loadavg`.
pub fn loadavg_1m() -> Option<f64> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

/// Parses the first field of a `/proc/loadavg` line.
pub fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 when unknown).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t: &u64| t > 0)
        .unwrap_or(100)
}

/// CPU seconds (user + system) used so far by process `pid`.
pub fn process_cpu_seconds(pid: u32, ticks_per_sec: u64) -> anyhow::Result<f64> {
    let path = format!("/proc/{pid}/stat");
    read_cpu_seconds(Path::new(&path), ticks_per_sec)
}

fn read_cpu_seconds(path: &Path, ticks_per_sec: u64) -> anyhow::Result<f64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let ticks = parse_stat_ticks(&text)
        .with_context(|| format!("unexpected format of {}", path.display()))?;
    Ok(ticks as f64 / ticks_per_sec.max(1) as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_even_with_odd_names() {
        let line =
            "1234 (kms d) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 4 0 9 1 2 3";
        assert_eq!(parse_stat_ticks(line), Some(287));
        assert_eq!(parse_stat_ticks("1 (x) S 1 2"), None);
        assert_eq!(parse_stat_ticks("garbage"), None);
    }

    #[test]
    fn parses_loadavg() {
        assert_eq!(parse_loadavg("7.83 5.45 3.25 3/512 31834\n"), Some(7.83));
        assert_eq!(parse_loadavg(""), None);
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        let t = clock_ticks_per_sec();
        assert!(t >= 1);
        // Burn a little CPU so the count is not trivially zero on slow clocks.
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        let s = process_cpu_seconds(pid, t).unwrap();
        assert!(s >= 0.0);
        assert!(process_cpu_seconds(u32::MAX, t).is_err());
    }
}
