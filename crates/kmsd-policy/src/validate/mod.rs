//! Policy validation findings, as IAM Access Analyzer's `ValidatePolicy` reports them: each
//! [`Finding`] has a finding type (ERROR, SECURITY_WARNING, WARNING, SUGGESTION), an issue
//! code (Access Analyzer's where one exists, see [`codes`]), a message, and the locations in
//! the document (a JSON path and a line/column span).
//!
//! Unlike [`crate::Policy::parse`], which stops at the first grammar error, validation reads
//! the whole document and reports every problem it finds. It works on the span-keeping JSON
//! tree; the checks that need the compiled form (redundancy, lockout, public access) run only
//! when the policy compiles. Pure: the caller passes what it knows of the world
//! ([`ValidateOptions`]).

pub mod catalog;
mod checks;
pub mod codes;
pub mod custom;
pub mod witness;

use crate::json;
use crate::policy::PolicyKind;

/// How serious a finding is (Access Analyzer's `findingType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FindingType {
    /// Part of the policy does not work (or kmsd would refuse the policy).
    Error,
    /// The policy allows access that is overly permissive.
    SecurityWarning,
    /// The policy does not follow policy-writing practice.
    Warning,
    /// A stylistic improvement that does not change access.
    Suggestion,
}

impl FindingType {
    /// Access Analyzer's name.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingType::Error => "ERROR",
            FindingType::SecurityWarning => "SECURITY_WARNING",
            FindingType::Warning => "WARNING",
            FindingType::Suggestion => "SUGGESTION",
        }
    }
}

/// One step of a path into the policy document (Access Analyzer's `PathElement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathElement {
    /// An array index.
    Index(usize),
    /// An object member name.
    Key(String),
    /// A string value (the path ends at this value).
    Value(String),
}

/// A position in the document: 1-based line, 0-based column and 0-based character offset, as
/// Access Analyzer counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

/// Where a finding applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: Vec<PathElement>,
    pub start: Position,
    pub end: Position,
}

/// One validation finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub finding_type: FindingType,
    pub issue_code: &'static str,
    /// The message (Access Analyzer's `findingDetails`).
    pub details: String,
    pub locations: Vec<Location>,
}

impl Finding {
    /// Access Analyzer's `learnMoreLink` for the issue code.
    pub fn learn_more_link(&self) -> String {
        codes::learn_more_link(self.issue_code)
    }
}

/// What the validator may know beyond the document.
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    /// The account that owns the key (key policies) or the role (trust policies). When absent,
    /// the account of the first account principal allowed `kms:PutKeyPolicy` is assumed.
    pub account: Option<String>,
}

/// Largest document the validator reads at all; anything larger is bad input.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Input the validator refuses to read (not a finding: the request itself is bad).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValidateInputError(pub String);

/// Validate a policy document of the given kind. Findings come in document order within
/// each finding type, errors first.
pub fn validate_policy(
    text: &str,
    kind: PolicyKind,
    options: &ValidateOptions,
) -> Result<Vec<Finding>, ValidateInputError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ValidateInputError(format!(
            "the policy document is {} bytes; at most {MAX_DOCUMENT_BYTES} bytes are read",
            text.len()
        )));
    }
    let mut findings = Vec::new();
    match json::parse_at(text) {
        Err((offset, message)) => {
            let pos = position(text, offset);
            findings.push(Finding {
                finding_type: FindingType::Error,
                issue_code: codes::JSON_SYNTAX_ERROR,
                details: format!(
                    "Fix the JSON syntax error at index {} line {} column {} ({message}).",
                    pos.offset, pos.line, pos.column
                ),
                locations: vec![Location {
                    path: Vec::new(),
                    start: pos,
                    end: pos,
                }],
            });
        }
        Ok(root) => {
            checks::Checker::new(text, kind, options, &mut findings).document(&root);
        }
    }
    findings.sort_by_key(|f| {
        (
            f.finding_type,
            f.locations
                .first()
                .map(|l| l.start.offset)
                .unwrap_or_default(),
        )
    });
    Ok(findings)
}

/// Access Analyzer's position of a byte offset.
pub(crate) fn position(text: &str, byte_offset: usize) -> Position {
    let (line, col) = json::line_col(text, byte_offset);
    let offset = text
        .get(..byte_offset.min(text.len()))
        .map(|s| s.chars().count())
        .unwrap_or(0);
    Position {
        line,
        column: col.saturating_sub(1),
        offset,
    }
}

/// A path as text: `Statement[0].Action[1]` (a trailing value is left out).
pub fn path_text(path: &[PathElement]) -> String {
    let mut out = String::new();
    for e in path {
        match e {
            PathElement::Index(i) => out.push_str(&format!("[{i}]")),
            PathElement::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathElement::Value(_) => {}
        }
    }
    out
}

fn position_json(p: &Position) -> serde_json::Value {
    serde_json::json!({ "line": p.line, "column": p.column, "offset": p.offset })
}

/// Findings in the shape of Access Analyzer's `ValidatePolicy` response member `findings`.
pub fn findings_json(findings: &[Finding]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = findings
        .iter()
        .map(|f| {
            let locations: Vec<serde_json::Value> = f
                .locations
                .iter()
                .map(|l| {
                    let path: Vec<serde_json::Value> = l
                        .path
                        .iter()
                        .map(|e| match e {
                            PathElement::Index(i) => serde_json::json!({ "index": i }),
                            PathElement::Key(k) => serde_json::json!({ "key": k }),
                            PathElement::Value(v) => serde_json::json!({ "value": v }),
                        })
                        .collect();
                    serde_json::json!({
                        "path": path,
                        "span": { "start": position_json(&l.start), "end": position_json(&l.end) },
                    })
                })
                .collect();
            serde_json::json!({
                "findingDetails": f.details,
                "findingType": f.finding_type.as_str(),
                "issueCode": f.issue_code,
                "learnMoreLink": f.learn_more_link(),
                "locations": locations,
            })
        })
        .collect();
    serde_json::Value::Array(list)
}
