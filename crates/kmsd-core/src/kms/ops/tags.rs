//! Tags (§4.6): parsing and the tag rules (reserved `aws:` prefix, duplicates, 50 per key),
//! TagResource, UntagResource, ListResourceTags, and the `aws:RequestTag/*` / `aws:TagKeys`
//! context keys.

use std::collections::BTreeMap;

use kmsd_policy::RequestContext;
use serde_json::{json, Value};

use crate::error::{ApiError, KmsError};
use crate::kms::authz::Req;
use crate::kms::decode::input::Input;
use crate::kms::model::op::KmsOp;
use crate::kms::ops::paging::{limit_marker, page, paginate};
use crate::kms::Kms;

/// Most tags a key may carry.
pub(crate) const MAX_TAGS: usize = 50;

fn tag_error(msg: &str) -> ApiError {
    ApiError::new(KmsError::TagException, msg)
}

/// Check a tag map against the semantic rules (reserved prefix, count).
pub(crate) fn check_tag_rules(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags
        .keys()
        .any(|k| k.to_ascii_lowercase().starts_with("aws:"))
    {
        return Err(tag_error("Tags beginning with aws: are reserved"));
    }
    if tags.len() > MAX_TAGS {
        return Err(tag_error("Too many tags"));
    }
    Ok(())
}

/// Parse a `Tags` list (`[{TagKey, TagValue}]`) with model checks and the tag rules.
pub(crate) fn parse_tags(
    i: &mut Input<'_>,
    field: &str,
) -> Result<Option<BTreeMap<String, String>>, ApiError> {
    let Some(v) = i.value(field) else {
        return Ok(None);
    };
    let Value::Array(items) = v else {
        return Err(ApiError::new(
            KmsError::SerializationException,
            format!("Unexpected value type for field {field}"),
        ));
    };
    let mut out = BTreeMap::new();
    let mut dup = false;
    let mut reserved = false;
    for (n, it) in items.iter().enumerate() {
        let Value::Object(m) = it else {
            return Err(ApiError::new(
                KmsError::SerializationException,
                "Unexpected value type for Tag",
            ));
        };
        let k = match m.get("TagKey") {
            Some(Value::String(s)) => Some(s.as_str()),
            None | Some(Value::Null) => None,
            Some(_) => {
                return Err(ApiError::new(
                    KmsError::SerializationException,
                    "Unexpected value type for field TagKey",
                ))
            }
        };
        let v = match m.get("TagValue") {
            Some(Value::String(s)) => Some(s.as_str()),
            None | Some(Value::Null) => None,
            Some(_) => {
                return Err(ApiError::new(
                    KmsError::SerializationException,
                    "Unexpected value type for field TagValue",
                ))
            }
        };
        let base = format!("tags.{}.member", n + 1);
        match k {
            None => i.violate(None, &format!("{base}.tagKey"), "Member must not be null"),
            Some(k) if k.is_empty() => i.violate(
                Some(k),
                &format!("{base}.tagKey"),
                "Member must have length greater than or equal to 1",
            ),
            Some(k) if k.chars().count() > 128 => i.violate(
                Some(k),
                &format!("{base}.tagKey"),
                "Member must have length less than or equal to 128",
            ),
            Some(_) => {}
        }
        match v {
            None => i.violate(None, &format!("{base}.tagValue"), "Member must not be null"),
            Some(v) if v.chars().count() > 256 => i.violate(
                Some(v),
                &format!("{base}.tagValue"),
                "Member must have length less than or equal to 256",
            ),
            Some(_) => {}
        }
        if let (Some(k), Some(v)) = (k, v) {
            if k.to_ascii_lowercase().starts_with("aws:") {
                reserved = true;
            }
            if out.insert(k.to_string(), v.to_string()).is_some() {
                dup = true;
            }
        }
    }
    i.finish()?;
    if reserved {
        return Err(tag_error("Tags beginning with aws: are reserved"));
    }
    if dup {
        return Err(tag_error("Duplicate tag keys"));
    }
    if out.len() > MAX_TAGS {
        return Err(tag_error("Too many tags"));
    }
    Ok(Some(out))
}

/// `aws:RequestTag/<k>` and `aws:TagKeys`.
pub(crate) fn add_request_tags(ctx: &mut RequestContext, tags: &BTreeMap<String, String>) {
    if tags.is_empty() {
        return;
    }
    for (k, v) in tags {
        ctx.set(&format!("aws:RequestTag/{k}"), v.clone());
    }
    ctx.set_multi("aws:TagKeys", tags.keys().cloned().collect());
}

impl Kms {
    pub(crate) fn tag_resource(&self, req: &mut Req<'_>, input: &Value) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let tags = parse_tags(&mut i, "Tags")?;
        if tags.is_none() {
            i.null("Tags");
        }
        i.finish()?;
        let tags = tags.unwrap_or_default();
        let st = self.state.upgradable_read();
        let (r, _) = self.gate(&st, req, key_id, KmsOp::TagResource, |c| {
            add_request_tags(c, &tags)
        })?;
        drop(self.update_key(st, &r.id, |rec| {
            for (k, v) in tags {
                rec.tags.insert(k, v);
            }
            check_tag_rules(&rec.tags)?;
            Ok(true)
        })?);
        Ok(json!({}))
    }

    pub(crate) fn untag_resource(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let keys = i.str_list_opt("TagKeys", 1, 128, 0, usize::MAX)?;
        if keys.is_none() {
            i.null("TagKeys");
        }
        i.finish()?;
        let keys: Vec<String> = keys
            .unwrap_or_default()
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        if keys
            .iter()
            .any(|k| k.to_ascii_lowercase().starts_with("aws:"))
        {
            return Err(tag_error("Tags beginning with aws: are reserved"));
        }
        let st = self.state.upgradable_read();
        let (r, _) = self.gate(&st, req, key_id, KmsOp::UntagResource, |c| {
            c.set_multi("aws:TagKeys", keys.clone())
        })?;
        drop(self.update_key(st, &r.id, |rec| {
            let before = rec.tags.len();
            for k in &keys {
                rec.tags.remove(k);
            }
            Ok(rec.tags.len() != before)
        })?);
        Ok(json!({}))
    }

    pub(crate) fn list_resource_tags(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        let (limit, marker) = limit_marker(&mut i, 50, 50)?;
        i.finish()?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::ListResourceTags, |_| {})?;
        let items: Vec<(String, Value)> = key
            .rec
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), json!({"TagKey": k, "TagValue": v})))
            .collect();
        let (items, next) = paginate(items, marker, limit)?;
        Ok(page("Tags", items, next))
    }
}
