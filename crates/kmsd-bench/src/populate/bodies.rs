//! What the populate phases send and read: request bodies (awsQuery IAM forms, CreateGrant JSON)
//! and the fields taken from IAM's XML responses.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use bytes::Bytes;
use zeroize::Zeroizing;

use super::IAM_VERSION;

/// Percent-encodes a form value (`application/x-www-form-urlencoded`, RFC 3986
/// unreserved characters kept, everything else `%XX`).
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// An awsQuery IAM form body: `Action=..&Version=2010-05-08&K=V...`.
pub fn iam_form(action: &str, params: &[(&str, &str)]) -> Bytes {
    let mut s = format!("Action={}&Version={IAM_VERSION}", form_encode(action));
    for (k, v) in params {
        let _ = write!(s, "&{}={}", form_encode(k), form_encode(v));
    }
    Bytes::from(s)
}

/// `{"KeyId": .., "GranteePrincipal": .., "Operations": ["Encrypt","Decrypt"]}`.
pub fn create_grant_body(key_id: &str, grantee: &str) -> Bytes {
    let v = serde_json::json!({
        "KeyId": key_id,
        "GranteePrincipal": grantee,
        "Operations": ["Encrypt", "Decrypt"],
    });
    Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
}

/// The name of user `i`.
pub fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:05}")
}

/// Replaces the five predefined XML entities and numeric character references.
/// An unknown or malformed reference is kept as it is.
pub fn xml_unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let decoded = tail.find(';').and_then(|end| {
            let name = &tail[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &tail[len..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The unescaped text of the first `<tag>...</tag>` element in `xml`
/// (`tag` without attributes; a self-closing or absent element gives `None`).
pub fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml.get(start..)?.find(&close)?;
    Some(xml_unescape(xml.get(start..start + len)?.trim()))
}

/// The `<Error><Code>` of an awsQuery `<ErrorResponse>`.
pub fn xml_error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let err = text.get(text.find("<Error>")?..)?;
    xml_text(err, "Code").filter(|c| !c.is_empty())
}

/// The user ARN in a CreateUser (or GetUser) response.
pub fn user_arn_from_create_user(body: &[u8]) -> anyhow::Result<String> {
    let text = std::str::from_utf8(body).context("CreateUser response is not UTF-8")?;
    let user = text
        .find("<User>")
        .and_then(|at| text.get(at..))
        .context("CreateUser response has no <User>")?;
    let arn = xml_text(user, "Arn").context("CreateUser response has no <User><Arn>")?;
    if !arn.starts_with("arn:") || !arn.contains(":user/") {
        bail!("CreateUser response has an unexpected user ARN: {arn}");
    }
    Ok(arn)
}

/// Access key id and secret of a CreateAccessKey response.
pub fn access_key_from_create_access_key(
    body: &[u8],
) -> anyhow::Result<(String, Zeroizing<String>)> {
    let text = std::str::from_utf8(body).context("CreateAccessKey response is not UTF-8")?;
    let key = text
        .find("<AccessKey>")
        .and_then(|at| text.get(at..))
        .context("CreateAccessKey response has no <AccessKey>")?;
    let id = xml_text(key, "AccessKeyId").context("CreateAccessKey response has no AccessKeyId")?;
    let secret = Zeroizing::new(
        xml_text(key, "SecretAccessKey")
            .context("CreateAccessKey response has no SecretAccessKey")?,
    );
    if id.is_empty() || secret.is_empty() {
        bail!("CreateAccessKey response has an empty access key");
    }
    Ok((id, secret))
}
