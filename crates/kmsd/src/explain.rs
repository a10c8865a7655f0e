//! `kmsd explain`: why is this principal allowed or denied this action on this key?
//!
//! Offline (`--bootstrap`) the world file is loaded into an in-memory service — the
//! same code the server runs — and the decision is traced along the flowchart of
//! "Troubleshooting key access". Online (`--endpoint`) the running server is asked
//! through a SigV4-signed call that requires `iam:SimulatePrincipalPolicy`.
//! Exit status: 0 allowed, 1 denied, 2 bad input.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kmsd_core::review::json::explanation_json;
use kmsd_policy::RequestContext;
use serde_json::Value;

/// Flags of `kmsd explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// World (bootstrap) file to answer from, offline.
    #[arg(
        long,
        conflicts_with = "endpoint",
        required_unless_present = "endpoint"
    )]
    pub bootstrap: Option<PathBuf>,
    /// URL of a running kmsd to ask (credentials from the usual AWS environment).
    #[arg(long)]
    pub endpoint: Option<String>,
    /// Caller: user, role, assumed-role session or account root ARN.
    #[arg(long)]
    pub principal: String,
    /// Action, e.g. kms:Decrypt.
    #[arg(long)]
    pub action: String,
    /// Key ARN or alias ARN.
    #[arg(long)]
    pub key: String,
    /// A condition key of the request, KEY=VALUE; repeat a key for several values.
    #[arg(long = "context", value_name = "KEY=VALUE")]
    pub context: Vec<String>,
    /// An encryption-context pair, KEY=VALUE (sets kms:EncryptionContext:KEY and kms:EncryptionContextKeys).
    #[arg(long = "encryption-context", value_name = "KEY=VALUE")]
    pub encryption_context: Vec<String>,
    /// Session policy (JSON file) for an assumed-role session principal.
    #[arg(long)]
    pub session_policy: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Region used when --key is not an ARN.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// Output format of explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The parsed question, shared by offline and online explain.
#[derive(Debug, Clone)]
pub struct Question {
    pub principal: String,
    pub action: String,
    pub key: String,
    pub region: String,
    pub context: RequestContext,
    pub encryption_context: Option<BTreeMap<String, String>>,
    pub session_policy: Option<String>,
}

/// Run `kmsd explain`; returns the process exit status.
pub fn run(args: ExplainArgs) -> i32 {
    match run_inner(&args) {
        Ok((explanation, question)) => {
            print_explanation(&explanation, &question, args.format);
            match explanation.get("decision").and_then(Value::as_str) {
                Some("Allow") => 0,
                _ => 1,
            }
        }
        Err(message) => {
            eprintln!("kmsd explain: {message}");
            2
        }
    }
}

/// The explanation as JSON (decision, path, message), offline or online.
fn run_inner(args: &ExplainArgs) -> Result<(Value, Question), String> {
    let question = parse_question(args)?;
    let explanation = if let Some(path) = &args.bootstrap {
        explanation_json(&explain_offline(path, &question)?)
    } else if let Some(endpoint) = &args.endpoint {
        crate::explain_online::explain_online(endpoint, &question)?
    } else {
        return Err("one of --bootstrap or --endpoint is required".into());
    };
    Ok((explanation, question))
}

/// Parse and check the flags into a [`Question`].
pub fn parse_question(args: &ExplainArgs) -> Result<Question, String> {
    if !args.action.contains(':') {
        return Err(format!(
            "--action {:?} must be SERVICE:ACTION, e.g. kms:Decrypt",
            args.action
        ));
    }
    if !args.principal.starts_with("arn:") {
        return Err(format!("--principal {:?} is not an ARN", args.principal));
    }
    kmsd_policy::validate::catalog::check_request_action(&args.action)
        .map_err(|e| format!("--action: {e}"))?;
    for item in &args.context {
        let (k, _) = split_pair(item, "--context")?;
        kmsd_policy::validate::catalog::check_request_condition_key(k)
            .map_err(|e| format!("--context: {e}"))?;
    }
    let region = region_of(&args.key).unwrap_or_else(|| args.region.clone());
    let mut context = RequestContext::new();
    let mut multi: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for item in &args.context {
        let (k, v) = split_pair(item, "--context")?;
        multi.entry(k.to_string()).or_default().push(v.to_string());
    }
    for (k, mut values) in multi {
        if values.len() == 1 && !is_multi_valued(&k) {
            context.set(&k, values.remove(0));
        } else {
            context.set_multi(&k, values);
        }
    }
    let mut encryption_context = None;
    if !args.encryption_context.is_empty() {
        let mut ec = BTreeMap::new();
        for item in &args.encryption_context {
            let (k, v) = split_pair(item, "--encryption-context")?;
            if ec.insert(k.to_string(), v.to_string()).is_some() {
                return Err(format!("--encryption-context key {k:?} given twice"));
            }
        }
        encryption_context = Some(ec);
    }
    let session_policy = match &args.session_policy {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("--session-policy {}: {e}", path.display()))?,
        ),
        None => None,
    };
    Ok(Question {
        principal: args.principal.clone(),
        action: args.action.clone(),
        key: args.key.clone(),
        region,
        context,
        encryption_context,
        session_policy,
    })
}

fn explain_offline(
    path: &std::path::Path,
    q: &Question,
) -> Result<kmsd_policy::Explanation, String> {
    let service = load_world(path, &q.region)?;
    let principal = service
        .iam
        .principal_for_arn(&q.principal, q.session_policy.as_deref())
        .map_err(|e| format!("--principal {}: {}", q.principal, api_text(&e)))?;
    service
        .kms
        .explain(
            &principal,
            &q.action,
            &q.key,
            &q.region,
            &q.context,
            q.encryption_context.as_ref(),
        )
        .map_err(|e| format!("--key {}: {}", q.key, api_text(&e)))
}

/// The world file loaded into an in-memory service (the code the server runs); keys that
/// name no region land in `region`.
pub fn load_world(
    path: &std::path::Path,
    region: &str,
) -> Result<kmsd_core::service::Service, String> {
    let world = kmsd_core::bootstrap::World::from_file(path)
        .map_err(|e| e.to_string())?
        .with_default_region(region);
    kmsd_core::service::Service::from_world_in_memory(&world, region)
        .map_err(|e| format!("{}: {}", path.display(), e))
}

/// An API error as one line for the command line.
pub fn api_text(e: &kmsd_core::error::ApiError) -> String {
    match &e.message {
        Some(m) => format!("{} ({})", m, e.code),
        None => e.code.to_string(),
    }
}

fn split_pair<'a>(item: &'a str, flag: &str) -> Result<(&'a str, &'a str), String> {
    match item.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(format!("{flag} {item:?} must be KEY=VALUE")),
    }
}

fn is_multi_valued(key: &str) -> bool {
    const MULTI: [&str; 6] = [
        "aws:tagkeys",
        "aws:calledvia",
        "aws:principalservicenameslist",
        "kms:encryptioncontextkeys",
        "kms:grantoperations",
        "kms:resourcealiases",
    ];
    MULTI.contains(&key.to_ascii_lowercase().as_str())
}

fn region_of(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    let _service = parts.next()?;
    let region = parts.next()?;
    if region.is_empty() {
        None
    } else {
        Some(region.to_string())
    }
}

fn because_text(b: &Value) -> String {
    let field = |name: &str| b.get(name).and_then(Value::as_str).unwrap_or("");
    match field("type") {
        "statement" => {
            let index = b.get("index").and_then(Value::as_u64).unwrap_or(0);
            match b.get("sid").and_then(Value::as_str) {
                Some(sid) => format!("policy {}, statement {sid:?} (#{index})", field("policy")),
                None => format!("policy {}, statement #{index}", field("policy")),
            }
        }
        "grant" => match b.get("name").and_then(Value::as_str) {
            Some(n) => format!("grant {} ({n})", field("grant_id")),
            None => format!("grant {}", field("grant_id")),
        },
        _ => field("text").to_string(),
    }
}

fn print_explanation(e: &Value, q: &Question, format: Format) {
    match format {
        Format::Json => {
            let text = serde_json::to_string_pretty(e).unwrap_or_else(|_| "{}".to_string());
            out!("{text}");
        }
        Format::Text => {
            let decision = e.get("decision").and_then(Value::as_str).unwrap_or("?");
            out!("Principal: {}", q.principal);
            out!("Action:    {}", q.action);
            out!("Key:       {}", q.key);
            out!("Decision:  {decision}");
            out!();
            out!("Path through \"Troubleshooting key access\":");
            let empty = Vec::new();
            let steps = e.get("path").and_then(Value::as_array).unwrap_or(&empty);
            for step in steps {
                let text = |name: &str| step.get(name).and_then(Value::as_str).unwrap_or("");
                out!(
                    "  {:<3} {} -> {}",
                    text("node"),
                    text("question"),
                    text("answer").to_ascii_uppercase()
                );
                let because = step
                    .get("because")
                    .and_then(Value::as_array)
                    .unwrap_or(&empty);
                for b in because {
                    out!("        because: {}", because_text(b));
                }
            }
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                out!();
                out!("AccessDenied message: {m}");
            }
        }
    }
}
