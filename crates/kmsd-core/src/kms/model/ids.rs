//! Key identifiers: the four forms of §2.1 (key id, key ARN, alias name, alias ARN), ARN
//! rendering, and the random identifiers KMS issues (key ids, grant ids, material ids).

use kmsd_crypto::random_bytes;

use crate::error::{ApiError, KmsError};

/// A key named in a request, before it is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyRef {
    /// A bare key id (resolves in the caller's account and the request region).
    Id(String),
    /// A key ARN.
    KeyArn {
        region: String,
        account: String,
        id: String,
    },
    /// `alias/NAME` (resolves in the caller's account and the request region).
    AliasName(String),
    /// An alias ARN.
    AliasArn {
        region: String,
        account: String,
        name: String,
    },
}

impl KeyRef {
    /// True for the alias forms.
    pub(crate) fn is_alias(&self) -> bool {
        matches!(self, KeyRef::AliasName(_) | KeyRef::AliasArn { .. })
    }
}

/// `arn:aws:kms:REGION:ACCT:key/ID`.
pub(crate) fn key_arn(region: &str, account: &str, id: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:key/{id}")
}

/// `arn:aws:kms:REGION:ACCT:alias/NAME` for an alias name `alias/NAME`.
pub(crate) fn alias_arn(region: &str, account: &str, alias_name: &str) -> String {
    format!("arn:aws:kms:{region}:{account}:{alias_name}")
}

/// True for a lower-case hyphenated UUID (`8-4-4-4-12`).
pub(crate) fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 36 {
        return false;
    }
    b.iter().enumerate().all(|(i, c)| {
        if matches!(i, 8 | 13 | 18 | 23) {
            *c == b'-'
        } else {
            c.is_ascii_digit() || (b'a'..=b'f').contains(c)
        }
    })
}

/// True for a syntactically valid key id (UUID, or `mrk-` + 32 lower-case hex digits).
pub(crate) fn is_key_id(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("mrk-") {
        return rest.len() == 32
            && rest
                .bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c));
    }
    is_uuid(s)
}

fn invalid_key_id(s: &str) -> ApiError {
    ApiError::new(KmsError::NotFoundException, format!("Invalid keyId '{s}'"))
}

/// A key's index in memory and in the store: its key id, or `<key id>@<region>` for a
/// multi-Region key, whose related keys in other Regions share its key id. Keys with UUID ids
/// (every key a store written before multi-Region keys holds) are indexed by their id alone.
pub(crate) fn slot(id: &str, region: &str) -> String {
    if id.starts_with("mrk-") {
        format!("{id}@{region}")
    } else {
        id.to_string()
    }
}

/// The key id of a slot (see [`slot`]).
pub(crate) fn id_of_slot(slot: &str) -> &str {
    slot.split_once('@').map_or(slot, |(id, _)| id)
}

/// True for a slot this server could have made (a key id, or an `mrk-` id with a Region).
pub(crate) fn is_slot(s: &str) -> bool {
    match s.split_once('@') {
        Some((id, region)) => {
            id.starts_with("mrk-") && is_key_id(id) && crate::kms::model::regions::is_region(region)
        }
        None => is_key_id(s),
    }
}

/// Parse any of the four identifier forms. Syntax errors are `NotFoundException`s as in AWS.
pub(crate) fn parse_key_ref(s: &str) -> Result<KeyRef, ApiError> {
    if let Some(rest) = s.strip_prefix("arn:") {
        let parts: Vec<&str> = rest.splitn(5, ':').collect();
        let [partition, service, region, account, resource] = parts.as_slice() else {
            return Err(ApiError::new(
                KmsError::NotFoundException,
                format!("Invalid arn {s}"),
            ));
        };
        if !partition.starts_with("aws")
            || *service != "kms"
            || region.is_empty()
            || !is_account(account)
        {
            return Err(ApiError::new(
                KmsError::NotFoundException,
                format!("Invalid arn {s}"),
            ));
        }
        if let Some(id) = resource.strip_prefix("key/") {
            if !is_key_id(id) {
                return Err(invalid_key_id(s));
            }
            return Ok(KeyRef::KeyArn {
                region: (*region).to_string(),
                account: (*account).to_string(),
                id: id.to_string(),
            });
        }
        if resource.starts_with("alias/") && resource.len() > "alias/".len() {
            return Ok(KeyRef::AliasArn {
                region: (*region).to_string(),
                account: (*account).to_string(),
                name: (*resource).to_string(),
            });
        }
        return Err(ApiError::new(
            KmsError::NotFoundException,
            format!("Invalid arn {s}"),
        ));
    }
    if s.starts_with("alias/") {
        return Ok(KeyRef::AliasName(s.to_string()));
    }
    if is_key_id(s) {
        return Ok(KeyRef::Id(s.to_string()));
    }
    Err(invalid_key_id(s))
}

/// True for a 12-digit account id.
pub(crate) fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|c| c.is_ascii_digit())
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    s
}

/// 64 random lower-hex characters (grant ids, key material ids).
pub(crate) fn random_hex64() -> Result<String, ApiError> {
    let b = random_bytes(32).map_err(|_| internal())?;
    Ok(hex(&b))
}

/// A fresh key id (UUID v4 text).
pub(crate) fn new_key_id() -> String {
    kmsd_crypto::random_uuid()
}

/// A fresh multi-Region key id: `mrk-` and 32 lower-case hex digits.
pub(crate) fn new_mrk_id() -> Result<String, ApiError> {
    let b = random_bytes(16).map_err(|_| internal())?;
    Ok(format!("mrk-{}", hex(&b)))
}

/// True for a grant id we could have issued (64 lower-hex characters).
pub(crate) fn is_grant_id(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// `KMSInternalException` without details (details never reach clients).
pub(crate) fn internal() -> ApiError {
    ApiError::new(
        KmsError::KMSInternalException,
        "The request was rejected because an internal exception occurred. The request can be retried.",
    )
}

/// `DependencyTimeoutException`: the store could not be reached and nothing was written
/// (AWS's wording; the request can be retried).
pub(crate) fn dependency_timeout() -> ApiError {
    ApiError::new(
        KmsError::DependencyTimeoutException,
        "The system timed out while trying to fulfill the request. You can retry the request.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_forms() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert_eq!(parse_key_ref(id), Ok(KeyRef::Id(id.into())));
        assert!(matches!(
            parse_key_ref(&format!("arn:aws:kms:us-east-1:111122223333:key/{id}")),
            Ok(KeyRef::KeyArn { .. })
        ));
        assert_eq!(
            parse_key_ref("alias/x"),
            Ok(KeyRef::AliasName("alias/x".into()))
        );
        assert!(matches!(
            parse_key_ref("arn:aws:kms:us-east-1:111122223333:alias/x"),
            Ok(KeyRef::AliasArn { .. })
        ));
        let e = parse_key_ref("fake-key-id").err();
        assert_eq!(
            e.and_then(|e| e.message),
            Some("Invalid keyId 'fake-key-id'".into())
        );
        assert!(parse_key_ref("mrk-fake-key-id").is_err());
        assert!(parse_key_ref("1234abcd12ab34cd56ef1234567890ab").is_err());
        assert!(parse_key_ref("mrk-1234abcd12ab34cd56ef1234567890ab").is_ok());
    }
}
