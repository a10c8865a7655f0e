//! IAM records as stored (serde, one store table per entity kind), identifier formats
//! (ARNs, unique ids, access key ids) and the input checks IAM applies to names, paths and tags.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::error::IamError;

/// Store tables owned by IAM.
pub(crate) const T_ACCOUNTS: &str = "iam_accounts";
pub(crate) const T_USERS: &str = "iam_users";
pub(crate) const T_GROUPS: &str = "iam_groups";
pub(crate) const T_ROLES: &str = "iam_roles";
pub(crate) const T_POLICIES: &str = "iam_policies";
pub(crate) const T_KEYS: &str = "iam_access_keys";
pub(crate) const T_SESSIONS: &str = "iam_sessions";

/// Every IAM table, for reload and comparisons.
pub const TABLES: [&str; 7] = [
    T_ACCOUNTS, T_USERS, T_GROUPS, T_ROLES, T_POLICIES, T_KEYS, T_SESSIONS,
];

/// An ordered tag list (AWS keeps the order tags were given in).
pub type Tags = Vec<(String, String)>;

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRec {
    pub id: String,
    pub created: i64,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRec {
    pub account: String,
    pub name: String,
    pub path: String,
    pub user_id: String,
    pub created: i64,
    #[serde(default)]
    pub tags: Tags,
    /// Group names (as created).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Inline policies: name → document text.
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    /// Attached managed policy ARNs.
    #[serde(default)]
    pub managed: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRec {
    pub account: String,
    pub name: String,
    pub path: String,
    pub group_id: String,
    pub created: i64,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub managed: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleRec {
    pub account: String,
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub created: i64,
    /// The trust policy (AssumeRolePolicyDocument) text.
    pub trust: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session: i64,
    #[serde(default)]
    pub tags: Tags,
    #[serde(default)]
    pub inline: BTreeMap<String, String>,
    #[serde(default)]
    pub managed: Vec<String>,
    #[serde(default)]
    pub boundary: Option<String>,
    /// Unique ids of the users and roles the trust policy named when it was saved (P8):
    /// ARN → `AIDA…`/`AROA…`. An entry whose entity was deleted (or re-created) no longer
    /// matches it.
    #[serde(default)]
    pub trust_bindings: BTreeMap<String, String>,
}

/// One version of a customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVersionRec {
    pub id: String,
    pub document: String,
    pub created: i64,
}

/// A customer managed policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRec {
    pub account: String,
    pub name: String,
    pub path: String,
    pub policy_id: String,
    pub created: i64,
    pub updated: i64,
    #[serde(default)]
    pub description: Option<String>,
    pub default_version: String,
    pub versions: Vec<PolicyVersionRec>,
    /// The next `vN` number to hand out.
    pub next_version: u32,
    #[serde(default)]
    pub tags: Tags,
}

impl PolicyRec {
    /// `arn:aws:iam::ACCT:policy/PATH/NAME`.
    pub fn arn(&self) -> String {
        policy_arn(&self.account, &self.path, &self.name)
    }

    /// The default version's document.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// Who an access key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyOwner {
    Root,
    /// User name (as created).
    User(String),
}

/// A long-term access key (AKIA…). `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessKeyRec {
    pub id: String,
    pub secret: Zeroizing<String>,
    pub account: String,
    pub owner: KeyOwner,
    /// `Active` or `Inactive`.
    pub status: String,
    pub created: i64,
}

/// A role session made by AssumeRole (ASIA… credentials). `Debug` shows neither the secret
/// nor the token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRec {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub token: Zeroizing<String>,
    pub account: String,
    pub role_name: String,
    pub session_name: String,
    pub issued: i64,
    pub expires: i64,
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub policy_arns: Vec<String>,
    #[serde(default)]
    pub tags: Tags,
    /// `None`: a role session (AssumeRole). `Some`: a GetSessionToken session of a user or
    /// of the account root (`role_name` is then empty).
    #[serde(default)]
    pub owner: Option<KeyOwner>,
    /// AssumeRole's `SourceIdentity`, when one was set.
    #[serde(default)]
    pub source_identity: Option<String>,
    /// Keys of `tags` that pass on to sessions this session creates (role chaining):
    /// `TransitiveTagKeys` plus the transitive tags it inherited.
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
}

impl std::fmt::Debug for AccessKeyRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRec")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("account", &self.account)
            .field("owner", &self.owner)
            .field("status", &self.status)
            .field("created", &self.created)
            .finish()
    }
}

impl std::fmt::Debug for SessionRec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRec")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field("token", &"<redacted>")
            .field("account", &self.account)
            .field("role_name", &self.role_name)
            .field("session_name", &self.session_name)
            .field("issued", &self.issued)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// `arn:aws:iam::ACCT:user/PATH/NAME` (path starts and ends with `/`).
pub fn user_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:user{path}{name}")
}

/// `arn:aws:iam::ACCT:group/PATH/NAME`.
pub fn group_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:group{path}{name}")
}

/// `arn:aws:iam::ACCT:role/PATH/NAME`.
pub fn role_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:role{path}{name}")
}

/// `arn:aws:iam::ACCT:policy/PATH/NAME`.
pub fn policy_arn(account: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:policy{path}{name}")
}

/// The parts of an IAM or STS ARN kmsd knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedArn {
    Root {
        account: String,
    },
    User {
        account: String,
        path: String,
        name: String,
    },
    Group {
        account: String,
        path: String,
        name: String,
    },
    Role {
        account: String,
        path: String,
        name: String,
    },
    Policy {
        account: String,
        path: String,
        name: String,
    },
    AssumedRole {
        account: String,
        role: String,
        session: String,
    },
}

/// Parse an IAM/STS ARN (or a bare 12-digit account id, meaning the root).
pub fn parse_arn(arn: &str) -> Option<ParsedArn> {
    if is_account_id(arn) {
        return Some(ParsedArn::Root {
            account: arn.to_string(),
        });
    }
    if let Some(rest) = arn.strip_prefix("arn:aws:sts::") {
        let (account, res) = rest.split_once(':')?;
        let res = res.strip_prefix("assumed-role/")?;
        let (role, session) = res.split_once('/')?;
        if !is_account_id(account) || role.is_empty() || session.is_empty() || session.contains('/')
        {
            return None;
        }
        return Some(ParsedArn::AssumedRole {
            account: account.to_string(),
            role: role.to_string(),
            session: session.to_string(),
        });
    }
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, res) = rest.split_once(':')?;
    if !is_account_id(account) {
        return None;
    }
    let account = account.to_string();
    if res == "root" {
        return Some(ParsedArn::Root { account });
    }
    let (kind, tail) = res.split_once('/')?;
    let (path, name) = match tail.rfind('/') {
        Some(i) => (format!("/{}", &tail[..=i]), tail[i + 1..].to_string()),
        None => ("/".to_string(), tail.to_string()),
    };
    if name.is_empty() {
        return None;
    }
    Some(match kind {
        "user" => ParsedArn::User {
            account,
            path,
            name,
        },
        "group" => ParsedArn::Group {
            account,
            path,
            name,
        },
        "role" => ParsedArn::Role {
            account,
            path,
            name,
        },
        "policy" => ParsedArn::Policy {
            account,
            path,
            name,
        },
        _ => return None,
    })
}

/// Twelve ASCII digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

const ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn encode(bytes: &[u8], alphabet: &[u8], len: usize) -> String {
    bytes
        .iter()
        .take(len)
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect()
}

fn random(len: usize) -> Result<Vec<u8>, ApiError> {
    kmsd_crypto::random_bytes(len)
        .map_err(|_| ApiError::new(IamError::ServiceFailure, "random number generator failure"))
}

/// A fresh unique id: `prefix` + 17 characters (21 in all), e.g. `AIDA…`.
pub fn random_unique_id(prefix: &str) -> Result<String, ApiError> {
    Ok(format!("{prefix}{}", encode(&random(17)?, ID_ALPHABET, 17)))
}

/// A unique id derived from what it names, so a world file gives the same ids on every start.
pub fn derived_unique_id(prefix: &str, seed: &str) -> String {
    let digest = Sha256::digest(seed.as_bytes());
    format!("{prefix}{}", encode(&digest, ID_ALPHABET, 17))
}

/// A fresh access key id: `AKIA`/`ASIA` + 16 characters.
pub fn random_access_key_id(prefix: &str) -> Result<String, ApiError> {
    Ok(format!("{prefix}{}", encode(&random(16)?, ID_ALPHABET, 16)))
}

/// A fresh 40-character secret access key.
pub fn random_secret() -> Result<Zeroizing<String>, ApiError> {
    let bytes = Zeroizing::new(random(40)?);
    Ok(Zeroizing::new(encode(&bytes, SECRET_ALPHABET, 40)))
}

/// A fresh opaque session token.
pub fn random_session_token() -> Result<Zeroizing<String>, ApiError> {
    use base64::Engine;
    let bytes = Zeroizing::new(random(96)?);
    Ok(Zeroizing::new(format!(
        "IQoJb3JpZ2luX2Vj{}",
        base64::engine::general_purpose::STANDARD.encode(bytes.as_slice())
    )))
}

/// Constant-time string comparison (secrets, session tokens).
pub fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// AWS's one-constraint validation message for query services.
pub fn validation_error(value: Option<&str>, field: &str, constraint: &str) -> ApiError {
    let msg = match value {
        Some(v) => format!(
            "1 validation error detected: Value '{v}' at '{field}' failed to satisfy constraint: {constraint}"
        ),
        None => format!(
            "1 validation error detected: Value at '{field}' failed to satisfy constraint: {constraint}"
        ),
    };
    ApiError::new(IamError::ValidationError, msg)
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

/// Check an entity name (`[\w+=,.@-]+`, `1..=max` characters).
pub fn check_name(value: &str, field: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() {
        return Err(validation_error(
            Some(value),
            field,
            "Member must have length greater than or equal to 1",
        ));
    }
    if value.chars().count() > max {
        return Err(validation_error(
            Some(value),
            field,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if !value.chars().all(is_name_char) {
        return Err(validation_error(
            Some(value),
            field,
            "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        ));
    }
    Ok(())
}

/// Check a path (`/` or `/a/b/`, at most 512 characters); `None` means `/`.
pub fn check_path(value: Option<&str>, field: &str) -> Result<String, ApiError> {
    let Some(path) = value else {
        return Ok("/".to_string());
    };
    let ok = path.len() <= 512
        && path.starts_with('/')
        && path.ends_with('/')
        && path.chars().all(|c| ('\u{21}'..='\u{7e}').contains(&c));
    if !ok {
        return Err(validation_error(
            Some(path),
            field,
            "Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        ));
    }
    Ok(path.to_string())
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

/// Check tags (≤ 50, key 1..=128, value ≤ 256, AWS's character set, no duplicate keys).
pub fn check_tags(tags: &Tags) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::new(
            IamError::LimitExceeded,
            "Cannot exceed quota for TagsPerUser: 50",
        ));
    }
    for (i, (k, v)) in tags.iter().enumerate() {
        let n = i + 1;
        if k.is_empty() || k.chars().count() > 128 || !k.chars().all(is_tag_char) {
            return Err(validation_error(
                Some(k),
                &format!("tags.{n}.member.key"),
                "Member must have length less than or equal to 128 and satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+",
            ));
        }
        if v.chars().count() > 256 || !v.chars().all(is_tag_char) {
            return Err(validation_error(
                Some(v),
                &format!("tags.{n}.member.value"),
                "Member must have length less than or equal to 256 and satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
            ));
        }
        if tags[..i].iter().any(|(k2, _)| k2.eq_ignore_ascii_case(k)) {
            return Err(ApiError::new(
                IamError::InvalidInput,
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// Merge new tags into an existing list (same key, case-insensitively: value replaced).
pub fn merge_tags(existing: &Tags, new: &Tags) -> Tags {
    let mut out = existing.clone();
    for (k, v) in new {
        match out.iter_mut().find(|(k2, _)| k2.eq_ignore_ascii_case(k)) {
            Some(slot) => *slot = (k.clone(), v.clone()),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// Policy size as IAM counts it: characters other than whitespace.
pub fn policy_size(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    #[test]
    fn arns_round_trip() {
        assert_eq!(
            parse_arn("arn:aws:iam::111122223333:user/a/b/alice"),
            Some(ParsedArn::User {
                account: "111122223333".into(),
                path: "/a/b/".into(),
                name: "alice".into()
            })
        );
        assert_eq!(
            parse_arn("arn:aws:iam::111122223333:role/R"),
            Some(ParsedArn::Role {
                account: "111122223333".into(),
                path: "/".into(),
                name: "R".into()
            })
        );
        assert_eq!(
            parse_arn("arn:aws:sts::111122223333:assumed-role/R/s1"),
            Some(ParsedArn::AssumedRole {
                account: "111122223333".into(),
                role: "R".into(),
                session: "s1".into()
            })
        );
        assert_eq!(
            parse_arn("111122223333"),
            Some(ParsedArn::Root {
                account: "111122223333".into()
            })
        );
        assert_eq!(parse_arn("arn:aws:iam::1:root"), None);
        assert_eq!(parse_arn("arn:aws:iam::111122223333:user/"), None);
        assert_eq!(user_arn("1", "/x/", "n"), "arn:aws:iam::1:user/x/n");
    }

    #[test]
    fn ids_have_aws_shapes() {
        let id = random_unique_id("AIDA").unwrap();
        assert_eq!(id.len(), 21);
        assert!(id.starts_with("AIDA"));
        let k = random_access_key_id("AKIA").unwrap();
        assert_eq!(k.len(), 20);
        assert_eq!(random_secret().unwrap().len(), 40);
        assert_eq!(
            derived_unique_id("AROA", "x"),
            derived_unique_id("AROA", "x")
        );
        assert_ne!(
            derived_unique_id("AROA", "x"),
            derived_unique_id("AROA", "y")
        );
    }

    #[test]
    fn checks() {
        assert!(check_name("alice.b@x", "userName", 64).is_ok());
        assert!(check_name("bad name", "userName", 64).is_err());
        assert!(check_name(&"a".repeat(65), "userName", 64).is_err());
        assert_eq!(check_path(None, "path").unwrap(), "/");
        assert!(check_path(Some("/a/"), "path").is_ok());
        assert!(check_path(Some("a/"), "path").is_err());
        let k = AccessKeyRec {
            id: "AKIAX".into(),
            secret: Zeroizing::new("topsecret".into()),
            account: "1".into(),
            owner: KeyOwner::Root,
            status: "Active".into(),
            created: 0,
        };
        assert!(!format!("{k:?}").contains("topsecret"));
        assert!(ct_eq("abc", "abc") && !ct_eq("abc", "abd") && !ct_eq("a", "ab"));
        let t = merge_tags(
            &vec![("a".into(), "1".into())],
            &vec![("A".into(), "2".into())],
        );
        assert_eq!(t, vec![("A".to_string(), "2".to_string())]);
        assert!(check_tags(&vec![("a".into(), "1".into()), ("A".into(), "2".into())]).is_err());
    }
}
