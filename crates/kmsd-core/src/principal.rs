//! An authenticated caller with everything authorization needs, and the facts of a request.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use kmsd_policy::decision::PolicySet;
use kmsd_policy::{Caller, RequestContext};

/// A caller resolved from its credentials: identity chain, compiled policies, tags.
/// Built by the IAM module; cheap to clone (shared snapshot).
#[derive(Debug, Clone)]
pub struct Principal {
    pub caller: Caller,
    pub policies: Arc<PolicySet>,
    /// `aws:PrincipalTag/*`: user or role tags, overridden by session tags.
    pub tags: Arc<BTreeMap<String, String>>,
    /// For temporary credentials: when they were issued (epoch seconds).
    pub token_issue_time: Option<i64>,
    /// `aws:SourceIdentity`: the source identity of a role session (set at AssumeRole,
    /// kept along a role chain).
    pub source_identity: Option<String>,
}

impl Principal {
    /// Add the principal keys of §4.1 to a request context.
    pub fn add_to_context(&self, ctx: &mut RequestContext) {
        let c = &self.caller;
        ctx.set("aws:PrincipalArn", c.principal_arn());
        ctx.set("aws:PrincipalAccount", c.account());
        ctx.set("aws:PrincipalType", c.principal_type());
        ctx.set("aws:userid", c.userid());
        if let Some(name) = c.username() {
            ctx.set("aws:username", name);
        }
        ctx.set("aws:PrincipalIsAWSService", "false");
        for (k, v) in self.tags.iter() {
            ctx.set(&format!("aws:PrincipalTag/{k}"), v.clone());
        }
        if let Some(t) = self.token_issue_time {
            ctx.set("aws:TokenIssueTime", format_iso8601(t));
            ctx.set("aws:MultiFactorAuthPresent", "false");
        }
        if let Some(s) = &self.source_identity {
            ctx.set("aws:SourceIdentity", s.as_str());
        }
    }
}

/// Facts of the request that come from the transport, not the caller.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub source_ip: Option<IpAddr>,
    pub secure_transport: bool,
    /// Request time, epoch milliseconds.
    pub time_millis: i64,
    /// The region of the credential scope.
    pub region: String,
    pub user_agent: Option<String>,
    pub request_id: String,
}

impl RequestMeta {
    /// Add the request keys of §4.2 (`aws:SourceIp`, `aws:CurrentTime`, ...) to a context.
    pub fn add_to_context(&self, ctx: &mut RequestContext) {
        if let Some(ip) = self.source_ip {
            ctx.set("aws:SourceIp", ip.to_string());
        }
        ctx.set(
            "aws:SecureTransport",
            if self.secure_transport {
                "true"
            } else {
                "false"
            },
        );
        let secs = self.time_millis.div_euclid(1000);
        ctx.set("aws:CurrentTime", format_iso8601(secs));
        ctx.set("aws:EpochTime", secs.to_string());
        ctx.set("aws:RequestedRegion", self.region.clone());
        ctx.set("aws:ViaAWSService", "false");
        if let Some(ua) = &self.user_agent {
            ctx.set("aws:UserAgent", ua.clone());
        }
    }
}

/// Last second of year 9999: the fast path of [`format_iso8601`] covers 1970..=9999.
const MAX_FAST_SECS: i64 = 253_402_300_799;

/// `2024-01-02T03:04:05Z` for epoch seconds (per request: the audit event time and
/// `aws:CurrentTime`). Times from 1970 to 9999 are formatted directly (proleptic Gregorian
/// calendar, the civil-from-days algorithm); others go through `time` as before (years
/// before 1970; outside -9999..=9999 they read `1970-01-01T00:00:00Z`).
pub fn format_iso8601(secs: i64) -> String {
    if (0..=MAX_FAST_SECS).contains(&secs) {
        return format_iso8601_fast(secs);
    }
    format_iso8601_with_time(secs)
}

/// `format_iso8601` through the `time` crate (any second; the fast path's reference).
fn format_iso8601_with_time(secs: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// [`format_iso8601`] for `0..=MAX_FAST_SECS`.
fn format_iso8601_fast(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil from days (H. Hinnant), days since 1970-01-01 → (year, month, day).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s) = (sod / 3600, sod / 60 % 60, sod % 60);
    let d = |v: i64| b'0' + (v % 10) as u8;
    let text = [
        d(year / 1000),
        d(year / 100),
        d(year / 10),
        d(year),
        b'-',
        d(month / 10),
        d(month),
        b'-',
        d(day / 10),
        d(day),
        b'T',
        d(h / 10),
        d(h),
        b':',
        d(m / 10),
        d(m),
        b':',
        d(s / 10),
        d(s),
        b'Z',
    ];
    // ASCII digits and separators, so this never falls back.
    std::str::from_utf8(&text)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// What the KMS layer needs to know about IAM entities (rule K5: principals in a key
/// policy or grant must exist). Implemented by the IAM module.
pub trait PrincipalDirectory: Send + Sync {
    /// True if the account exists on this server.
    fn account_exists(&self, account: &str) -> bool;
    /// True if the principal exists: an account id or `arn:aws:iam::ACCT:root` of a known
    /// account, an existing user or role ARN, or an assumed-role session ARN of an existing role.
    fn principal_exists(&self, arn: &str) -> bool;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(secs: i64) -> String {
        format_iso8601_with_time(secs)
    }

    #[test]
    fn iso8601_edges_equal_time() {
        for secs in [
            0,
            1,
            59,
            86_399,
            86_400,
            951_782_400, // 2000-02-29
            951_868_799,
            4_107_542_400, // 2100-03-01 (2100 is not a leap year)
            1_700_000_000,
            MAX_FAST_SECS - 1,
            MAX_FAST_SECS,
            MAX_FAST_SECS + 1,
            -1,
            -86_400,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(format_iso8601(secs), reference(secs), "{secs}");
        }
        assert_eq!(format_iso8601(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    proptest! {
        #[test]
        fn iso8601_equals_time(secs in -400_000_000_000i64..300_000_000_000) {
            prop_assert_eq!(format_iso8601(secs), reference(secs));
        }

        #[test]
        fn iso8601_equals_time_near_now(secs in 1_500_000_000i64..2_500_000_000) {
            prop_assert_eq!(format_iso8601(secs), reference(secs));
        }
    }
}
