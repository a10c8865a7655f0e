//! `Principal`/`NotPrincipal` entries, classified at compile time, and their matching against a
//! caller's identity chain (§2.3 P1–P8, §2.4 NP2, §2.5 GP1).

use crate::caller::Caller;

/// Bit set of the kinds of principal entry that matched a caller.
pub(crate) type MatchKinds = u8;
pub(crate) const M_ACCOUNT: MatchKinds = 1;
pub(crate) const M_USER: MatchKinds = 2;
pub(crate) const M_ROLE: MatchKinds = 4;
pub(crate) const M_SESSION: MatchKinds = 8;
pub(crate) const M_STAR: MatchKinds = 16;
/// Every kind other than the account entry ("direct" in §5.4).
pub(crate) const M_DIRECT: MatchKinds = M_USER | M_ROLE | M_SESSION | M_STAR;

/// One classified principal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    /// `"*"` or `{"AWS":"*"}`.
    Star,
    /// Account id or `arn:aws:iam::ACCT:root`.
    Account(Box<str>),
    /// `arn:aws:iam::ACCT:user/PATH/NAME`.
    User(Box<str>),
    /// `arn:aws:iam::ACCT:role/PATH/NAME` (matches its sessions too, P4).
    Role(Box<str>),
    /// `arn:aws:sts::ACCT:assumed-role/ROLE/SESSION`.
    Session {
        account: Box<str>,
        role_name: Box<str>,
        session: Box<str>,
    },
    /// `arn:aws:sts::ACCT:federated-user/NAME` (no such callers here; never matches).
    FederatedUser,
    /// A unique id (`AIDA…`, `AROA…`) an entry was bound to (P8).
    UniqueId(Box<str>),
    /// `Service` or `Federated` entries: never match an IAM caller.
    NonIam,
}

/// Classify an `AWS` principal value. Errors describe why the value is not a valid principal.
pub(crate) fn classify_aws(v: &str) -> Result<Entry, String> {
    if v == "*" {
        return Ok(Entry::Star);
    }
    if is_account_id(v) {
        return Ok(Entry::Account(v.into()));
    }
    if v.len() >= 16
        && (v.starts_with("AIDA") || v.starts_with("AROA"))
        && v.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Ok(Entry::UniqueId(v.into()));
    }
    if v.contains('*') || v.contains('?') {
        return Err(format!(
            "invalid principal \"{v}\": wildcards are not allowed in principal ARNs"
        ));
    }
    let bad = || format!("invalid principal \"{v}\"");
    let parts = crate::arn::split_arn(v).ok_or_else(bad)?;
    let [arn, partition, service, region, account, resource] = parts;
    if arn != "arn" || partition.is_empty() || !region.is_empty() || !is_account_id(account) {
        return Err(bad());
    }
    match service {
        "iam" => {
            if resource == "root" {
                return Ok(Entry::Account(account.into()));
            }
            if let Some(rest) = resource.strip_prefix("user/") {
                if valid_path_name(rest) {
                    return Ok(Entry::User(v.into()));
                }
            }
            if let Some(rest) = resource.strip_prefix("role/") {
                if valid_path_name(rest) {
                    return Ok(Entry::Role(v.into()));
                }
            }
            Err(bad())
        }
        "sts" => {
            if let Some(rest) = resource.strip_prefix("assumed-role/") {
                if let Some((role, session)) = rest.split_once('/') {
                    if !role.is_empty() && !session.is_empty() && !session.contains('/') {
                        return Ok(Entry::Session {
                            account: account.into(),
                            role_name: role.into(),
                            session: session.into(),
                        });
                    }
                }
            }
            if let Some(name) = resource.strip_prefix("federated-user/") {
                if !name.is_empty() && !name.contains('/') {
                    return Ok(Entry::FederatedUser);
                }
            }
            Err(bad())
        }
        _ => Err(bad()),
    }
}

fn valid_path_name(rest: &str) -> bool {
    // PATH/NAME: the last segment is the name and must be non-empty.
    !rest.is_empty() && !rest.ends_with('/') && !rest.contains("//")
}

pub(crate) fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl Entry {
    /// The kind bit when this entry matches the caller (Principal semantics), else 0.
    #[inline]
    pub fn match_kind(&self, caller: &Caller) -> MatchKinds {
        match (self, caller) {
            (Entry::Star, _) => M_STAR,
            (Entry::Account(a), c) if **a == *c.account() => M_ACCOUNT,
            (Entry::User(arn), Caller::User { arn: u, .. }) if **arn == **u => M_USER,
            (Entry::UniqueId(id), Caller::User { unique_id, .. }) if **id == **unique_id => M_USER,
            (Entry::Role(arn), Caller::AssumedRole { role_arn, .. }) if **arn == **role_arn => {
                M_ROLE
            }
            (Entry::UniqueId(id), Caller::AssumedRole { role_unique_id, .. })
                if **id == **role_unique_id =>
            {
                M_ROLE
            }
            (
                Entry::Session {
                    account,
                    role_name,
                    session,
                },
                Caller::AssumedRole {
                    account: ca,
                    role_name: cr,
                    session_name: cs,
                    ..
                },
            ) if **account == **ca && **role_name == **cr && **session == **cs => M_SESSION,
            _ => 0,
        }
    }
}

/// A compiled `Principal` or `NotPrincipal` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalClause {
    pub not: bool,
    pub entries: Box<[Entry]>,
}

impl PrincipalClause {
    /// Kinds of entry that make the statement apply to the caller (0 = does not apply).
    /// For `NotPrincipal` the statement applies (reported as [`M_STAR`]) iff some element of the
    /// caller's identity chain is not named (NP2).
    #[inline]
    pub fn match_kinds(&self, caller: &Caller) -> MatchKinds {
        if !self.not {
            return self
                .entries
                .iter()
                .fold(0, |acc, e| acc | e.match_kind(caller));
        }
        let named = self
            .entries
            .iter()
            .fold(0, |acc, e| acc | e.match_kind(caller));
        if named & M_STAR != 0 {
            return 0;
        }
        let chain = match caller {
            Caller::Root { .. } => M_ACCOUNT,
            Caller::User { .. } => M_ACCOUNT | M_USER,
            Caller::AssumedRole { .. } => M_ACCOUNT | M_ROLE | M_SESSION,
        };
        if chain & !named != 0 {
            M_STAR
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Caller {
        Caller::User {
            account: "111122223333".into(),
            arn: "arn:aws:iam::111122223333:user/Alice".into(),
            name: "Alice".into(),
            unique_id: "AIDAEXAMPLEALICE0001".into(),
        }
    }

    #[test]
    fn classify() {
        assert!(matches!(
            classify_aws("111122223333"),
            Ok(Entry::Account(_))
        ));
        assert!(matches!(
            classify_aws("arn:aws:iam::111122223333:root"),
            Ok(Entry::Account(_))
        ));
        assert!(matches!(
            classify_aws("arn:aws:iam::111122223333:user/p/Alice"),
            Ok(Entry::User(_))
        ));
        assert!(matches!(
            classify_aws("arn:aws:iam::111122223333:role/R"),
            Ok(Entry::Role(_))
        ));
        assert!(matches!(
            classify_aws("arn:aws:sts::111122223333:assumed-role/R/s1"),
            Ok(Entry::Session { .. })
        ));
        for bad in [
            "arn:aws:iam::111122223333:user/*",
            "arn:aws:sts::111122223333:assumed-role/R/*",
            "arn:aws:iam::111122223333:group/G",
            "arn:aws:iam::1111:root",
            "alice",
            "arn:aws:iam::111122223333:user/",
        ] {
            assert!(classify_aws(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn not_principal_chain_rule() {
        let c = PrincipalClause {
            not: true,
            entries: vec![
                Entry::User("arn:aws:iam::111122223333:user/Alice".into()),
                Entry::Account("111122223333".into()),
            ]
            .into(),
        };
        assert_eq!(c.match_kinds(&alice()), 0);
        let c = PrincipalClause {
            not: true,
            entries: vec![Entry::User("arn:aws:iam::111122223333:user/Alice".into())].into(),
        };
        assert_eq!(c.match_kinds(&alice()), M_STAR);
    }
}
