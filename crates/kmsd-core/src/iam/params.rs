//! Decoding of an IAM/STS call's awsQuery parameters: the form pairs the wire layer
//! parsed (flat `Name=value`, lists as `Name.member.N`, structures as `Tags.member.N.Key` /
//! `.Value` and `PolicyArns.member.N.arn`) read as typed values, with AWS's
//! `ValidationError` wording for a missing or mistyped member; and the call's
//! `requestParameters` for the audit event.

use std::collections::BTreeMap;

use crate::error::ApiError;
use crate::error::IamError;

/// Decoded form parameters of one call.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

/// `UserName` → `userName`, the path AWS names in validation messages.
pub fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::new(
        IamError::ValidationError,
        format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            lower_camel(name)
        ),
    )
}

impl Params {
    /// From decoded pairs (the last of repeated names wins).
    pub fn new(pairs: &[(String, String)]) -> Params {
        Params {
            map: pairs.iter().cloned().collect(),
        }
    }

    /// An optional parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A required parameter (`ValidationError` naming it when absent).
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| missing(name))
    }

    /// An optional boolean (`true`/`false`, case-insensitive).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::new(
                IamError::ValidationError,
                format!("1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a boolean", lower_camel(name)),
            )),
        }
    }

    /// An optional integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::new(
                    IamError::ValidationError,
                    format!("1 validation error detected: Value '{v}' at '{}' failed to satisfy constraint: Member must be a number", lower_camel(name)),
                )
            }),
        }
    }

    /// Members `PREFIX.member.N[SUFFIX]` in N order: (N, value).
    fn members(&self, prefix: &str, suffix: &str) -> Vec<(u32, String)> {
        let head = format!("{prefix}.member.");
        let mut out: Vec<(u32, String)> = self
            .map
            .iter()
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(&head)?;
                let n = if suffix.is_empty() {
                    rest
                } else {
                    rest.strip_suffix(suffix)?
                };
                let n: u32 = n.parse().ok()?;
                (n >= 1).then(|| (n, v.clone()))
            })
            .collect();
        out.sort_by_key(|(n, _)| *n);
        out
    }

    /// A list of strings `NAME.member.N`.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.members(name, "").into_iter().map(|(_, v)| v).collect()
    }

    /// A tag list `NAME.member.N.Key` / `.Value` (a missing Value is empty; a missing Key is an error).
    pub fn tags(&self, name: &str) -> Result<Vec<(String, String)>, ApiError> {
        let keys = self.members(name, ".Key");
        let values: BTreeMap<u32, String> = self.members(name, ".Value").into_iter().collect();
        for n in values.keys() {
            if !keys.iter().any(|(k, _)| k == n) {
                return Err(ApiError::new(
                    IamError::ValidationError,
                    format!("1 validation error detected: Value null at '{}.{n}.member.key' failed to satisfy constraint: Member must not be null", lower_camel(name)),
                ));
            }
        }
        Ok(keys
            .into_iter()
            .map(|(n, k)| (k, values.get(&n).cloned().unwrap_or_default()))
            .collect())
    }

    /// `NAME.member.N.FIELD` values with their N, in N order.
    pub fn struct_members(&self, name: &str, field: &str) -> Vec<(u32, String)> {
        self.members(name, &format!(".{field}"))
    }

    /// A list of structures with one member: `NAME.member.N.FIELD`.
    pub fn struct_list(&self, name: &str, field: &str) -> Vec<String> {
        self.members(name, &format!(".{field}"))
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    /// Every parameter except `Action` and `Version`, as a JSON object with lowerCamel
    /// names (the audit record's `requestParameters`; awsQuery IAM/STS inputs hold no secrets).
    pub fn to_json(&self) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        for (k, v) in &self.map {
            if k == "Action" || k == "Version" {
                continue;
            }
            obj.insert(lower_camel(k), serde_json::Value::String(v.clone()));
        }
        serde_json::Value::Object(obj)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn lists_and_structures_in_member_order() {
        let params = p(&[
            ("TagKeys.member.10", "j"),
            ("TagKeys.member.2", "b"),
            ("TagKeys.member.1", "a"),
            ("Tags.member.2.Key", "k2"),
            ("Tags.member.2.Value", "v2"),
            ("Tags.member.1.Key", "k1"),
            (
                "PolicyArns.member.1.arn",
                "arn:aws:iam::111122223333:policy/P",
            ),
        ]);
        assert_eq!(params.list("TagKeys"), vec!["a", "b", "j"]);
        assert_eq!(
            params.tags("Tags").unwrap(),
            vec![("k1".into(), String::new()), ("k2".into(), "v2".into())]
        );
        assert_eq!(
            params.struct_list("PolicyArns", "arn"),
            vec!["arn:aws:iam::111122223333:policy/P"]
        );
        assert!(params.tags("Nothing").unwrap().is_empty());
    }

    #[test]
    fn required_and_typed() {
        let params = p(&[
            ("DurationSeconds", "900"),
            ("SetAsDefault", "TRUE"),
            ("X", "y"),
        ]);
        assert_eq!(params.int("DurationSeconds").unwrap(), Some(900));
        assert_eq!(params.bool("SetAsDefault").unwrap(), Some(true));
        assert!(params.int("X").is_err());
        let err = params.required("UserName").unwrap_err();
        assert_eq!(err.code, "ValidationError");
        assert!(err.message.unwrap().contains("'userName'"));
        let bad = p(&[("Tags.member.1.Value", "v")]);
        assert!(bad.tags("Tags").is_err());
    }
}
