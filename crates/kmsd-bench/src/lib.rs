//! kmsd-bench: a load generator for AWS-KMS-compatible endpoints.
//!
//! It signs every request with SigV4 as the AWS SDKs do ([`sign`]), builds
//! awsJson1_1 KMS calls ([`request`]), drives them over N keep-alive HTTP/1.1
//! connections for a fixed time ([`load`]), samples process CPU from `/proc`
//! ([`cpu`]) and reports throughput, HDR latency percentiles and errors by
//! code as a table or JSON ([`report`]). [`populate`] fills an endpoint with
//! many keys, IAM users and grants on one key before a load at scale. The
//! binary's flags live in `main.rs`; everything it does is in this library so
//! it can be tested.

pub mod cpu;
pub mod load;
pub mod populate;
pub mod report;
pub mod request;
pub mod sign;

use std::time::Duration;

/// Parses a duration such as `10s`, `500ms`, `2m`, `1.5s` or `10` (seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 10s, 500ms, 2m)"))?;
    if !v.is_finite() || v < 0.0 || v * mult > 86_400.0 {
        return Err(format!("duration out of range: {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * mult))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("1e9s").is_err());
    }
}
