//! `kmsd audit`: search the audit log of a data directory (rotated files included, oldest
//! first) by principal, key, action, decision and time; print text or JSON lines.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;

use serde_json::Value;

use crate::audit_log::files_oldest_first;

/// Flags of `kmsd audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Data directory of the server (the log is DATA_DIR/audit/audit.log*).
    #[arg(long, default_value = "./kmsd-data")]
    pub data_dir: PathBuf,
    /// Only events of this caller: user, role, session or root ARN, or access key id.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only events about this key: key ARN, key id or alias as given in the request.
    #[arg(long)]
    pub key: Option<String>,
    /// Only this operation, e.g. Decrypt or kms:Decrypt.
    #[arg(long)]
    pub action: Option<String>,
    /// Only this decision: Allow, ExplicitDeny, ImplicitDeny, or Deny (either deny).
    #[arg(long)]
    pub decision: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2024-01-02T03:04:05Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
}

/// Output format of `kmsd audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The filters, parsed.
#[derive(Debug, Default)]
pub struct Filter {
    principal: Option<String>,
    key: Option<String>,
    action: Option<String>,
    decision: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
}

fn parse_time(flag: &str, s: &str) -> Result<i64, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| format!("{flag} {s:?} is not an RFC 3339 time: {e}"))
}

impl Filter {
    /// Parse the flags.
    pub fn from_args(args: &AuditArgs) -> Result<Filter, String> {
        let decision = match args.decision.as_deref() {
            None => None,
            Some(d) => {
                let canon = ["Allow", "ExplicitDeny", "ImplicitDeny", "Deny"]
                    .into_iter()
                    .find(|c| c.eq_ignore_ascii_case(d))
                    .ok_or_else(|| {
                        format!(
                            "--decision {d:?}: expected Allow, ExplicitDeny, ImplicitDeny or Deny"
                        )
                    })?;
                Some(canon.to_string())
            }
        };
        Ok(Filter {
            principal: args.principal.clone(),
            key: args.key.clone(),
            action: args
                .action
                .as_deref()
                .map(|a| a.rsplit(':').next().unwrap_or(a).to_string()),
            decision,
            since: args
                .since
                .as_deref()
                .map(|s| parse_time("--since", s))
                .transpose()?,
            until: args
                .until
                .as_deref()
                .map(|s| parse_time("--until", s))
                .transpose()?,
        })
    }

    /// True if the event passes every filter.
    pub fn matches(&self, ev: &Value) -> bool {
        let s = |v: &Value| v.as_str().map(str::to_string);
        if let Some(p) = &self.principal {
            let id = &ev["userIdentity"];
            let candidates = [
                s(&id["arn"]),
                s(&id["accessKeyId"]),
                s(&id["principalId"]),
                s(&id["sessionContext"]["sessionIssuer"]["arn"]),
            ];
            if !candidates.iter().flatten().any(|c| c == p) {
                return false;
            }
        }
        if let Some(k) = &self.key {
            let by_resource = ev["resources"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["ARN"].as_str())
                .any(|arn| arn == k || arn.ends_with(&format!("/{k}")));
            let by_param = ["keyId", "KeyId", "aliasName", "targetKeyId"]
                .iter()
                .filter_map(|f| ev["requestParameters"][f].as_str())
                .any(|v| v == k);
            if !by_resource && !by_param {
                return false;
            }
        }
        if let Some(a) = &self.action {
            if ev["eventName"].as_str() != Some(a.as_str()) {
                return false;
            }
        }
        if let Some(d) = &self.decision {
            let got = ev["decision"].as_str().unwrap_or("");
            let ok = if d == "Deny" {
                got == "ExplicitDeny" || got == "ImplicitDeny"
            } else {
                got == d
            };
            if !ok {
                return false;
            }
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = ev["eventTime"]
                .as_str()
                .and_then(|t| parse_time("eventTime", t).ok())
            else {
                return false;
            };
            if self.since.is_some_and(|since| t < since) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        true
    }
}

/// One event as a text line.
pub fn text_line(ev: &Value) -> String {
    let get = |v: &Value| v.as_str().unwrap_or("-").to_string();
    let service = ev["eventSource"]
        .as_str()
        .and_then(|s| s.split('.').next())
        .unwrap_or("-");
    let key = ev["resources"]
        .as_array()
        .and_then(|r| r.first())
        .map(|r| get(&r["ARN"]))
        .unwrap_or_else(|| "-".into());
    let mut line = format!(
        "{} {} {}:{} {} {} {}",
        get(&ev["eventTime"]),
        ev["decision"].as_str().unwrap_or("-"),
        service,
        get(&ev["eventName"]),
        ev["userIdentity"]["arn"]
            .as_str()
            .or(ev["userIdentity"]["accessKeyId"].as_str())
            .unwrap_or("-"),
        key,
        get(&ev["sourceIPAddress"]),
    );
    if let Some(code) = ev["errorCode"].as_str() {
        line.push_str(&format!(" error={code}"));
        if let Some(m) = ev["errorMessage"].as_str() {
            line.push_str(&format!(" message={m:?}"));
        }
    }
    line
}

/// Run `kmsd audit`; returns the process exit status.
pub fn run(args: AuditArgs) -> i32 {
    let filter = match Filter::from_args(&args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kmsd audit: {e}");
            return 2;
        }
    };
    let dir = args.data_dir.join("audit");
    let files = files_oldest_first(&dir, "audit.log");
    if files.is_empty() {
        eprintln!("kmsd audit: no audit log in {}", dir.display());
        return 2;
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in files {
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("kmsd audit: {}: {e}", path.display());
                return 2;
            }
        };
        for line in BufReader::new(file).lines() {
            let Ok(line) = line else { continue };
            // A torn last line after a crash is not JSON: skip it.
            let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if !filter.matches(&ev) {
                continue;
            }
            let printed = match args.format {
                Format::Json => writeln!(out, "{line}"),
                Format::Text => writeln!(out, "{}", text_line(&ev)),
            };
            if printed.is_err() {
                // Closed pipe (e.g. `| head`): stop quietly.
                return 0;
            }
        }
    }
    0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    fn event() -> Value {
        serde_json::json!({
            "eventTime": "2024-05-01T10:00:00Z",
            "eventSource": "kms.amazonaws.com",
            "eventName": "Decrypt",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
                             "accessKeyId": "AKIAALICE"},
            "resources": [{"ARN": "arn:aws:kms:us-east-1:111122223333:key/k-1", "type": "AWS::KMS::Key"}],
            "requestParameters": {"keyId": "alias/app"},
            "decision": "ImplicitDeny",
            "errorCode": "AccessDeniedException",
            "sourceIPAddress": "127.0.0.1"
        })
    }

    fn args() -> AuditArgs {
        AuditArgs {
            data_dir: PathBuf::from("."),
            principal: None,
            key: None,
            action: None,
            decision: None,
            since: None,
            until: None,
            format: Format::Text,
        }
    }

    #[test]
    fn filters() {
        let ev = event();
        let check = |a: AuditArgs| Filter::from_args(&a).unwrap().matches(&ev);
        assert!(check(args()));
        assert!(check(AuditArgs {
            principal: Some("arn:aws:iam::111122223333:user/alice".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            principal: Some("AKIAALICE".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            principal: Some("arn:aws:iam::111122223333:user/bob".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            key: Some("k-1".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            key: Some("arn:aws:kms:us-east-1:111122223333:key/k-1".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            key: Some("alias/app".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            key: Some("k-2".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            action: Some("kms:Decrypt".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            action: Some("Encrypt".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            decision: Some("deny".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            decision: Some("ImplicitDeny".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            decision: Some("Allow".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            since: Some("2024-05-01T10:00:00Z".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            since: Some("2024-05-01T10:00:01Z".into()),
            ..args()
        }));
        assert!(check(AuditArgs {
            until: Some("2024-05-01T10:00:01Z".into()),
            ..args()
        }));
        assert!(!check(AuditArgs {
            until: Some("2024-05-01T10:00:00Z".into()),
            ..args()
        }));
        assert!(Filter::from_args(&AuditArgs {
            decision: Some("Maybe".into()),
            ..args()
        })
        .is_err());
        assert!(Filter::from_args(&AuditArgs {
            since: Some("yesterday".into()),
            ..args()
        })
        .is_err());
    }

    #[test]
    fn text_format() {
        let line = text_line(&event());
        assert_eq!(
            line,
            "2024-05-01T10:00:00Z ImplicitDeny kms:Decrypt arn:aws:iam::111122223333:user/alice arn:aws:kms:us-east-1:111122223333:key/k-1 127.0.0.1 error=AccessDeniedException"
        );
    }
}
