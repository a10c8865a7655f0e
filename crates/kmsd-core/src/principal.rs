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

/// `2024-01-02T03:04:05Z` for epoch seconds.
pub fn format_iso8601(secs: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
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
