//! Paging of the List* operations: `Limit` and `Marker`, one page of a sorted list, and
//! the `{<list>, Truncated, NextMarker}` answer.

use serde_json::Value;

use crate::error::{ApiError, KmsError};
use crate::kms::decode::input::Input;

/// `InvalidMarkerException`: a `Marker` that names no item of the list.
pub(crate) fn invalid_marker() -> ApiError {
    ApiError::new(KmsError::InvalidMarkerException, "Invalid marker.")
}

/// Pagination of a sorted list by an opaque marker (the first item of the next page).
pub(crate) fn paginate<T>(
    items: Vec<(String, T)>,
    marker: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match marker {
        None => 0,
        Some(m) => items
            .iter()
            .position(|(k, _)| k.as_str() == m)
            .ok_or_else(invalid_marker)?,
    };
    let mut rest: Vec<(String, T)> = items.into_iter().skip(start).collect();
    let next = if rest.len() > limit {
        rest.get(limit).map(|(k, _)| k.clone())
    } else {
        None
    };
    rest.truncate(limit);
    Ok((rest.into_iter().map(|(_, v)| v).collect(), next))
}

/// `{<list>: [...], Truncated, NextMarker?}`.
pub(crate) fn page(field: &str, items: Vec<Value>, next: Option<String>) -> Value {
    let mut m = serde_json::Map::new();
    m.insert(field.into(), Value::Array(items));
    m.insert("Truncated".into(), Value::Bool(next.is_some()));
    if let Some(n) = next {
        m.insert("NextMarker".into(), Value::String(n));
    }
    Value::Object(m)
}

/// Limit and Marker of a list operation (model range 1..1000, service maximum `cap`).
pub(crate) fn limit_marker<'a>(
    i: &mut Input<'a>,
    default: usize,
    cap: usize,
) -> Result<(usize, Option<&'a str>), ApiError> {
    let limit = i.int_opt("Limit", 1, 1000)?;
    let marker = i.str_opt("Marker", 1, 1024)?;
    if let Some(m) = marker {
        let ok = m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c));
        i.pattern_check("Marker", Some(m), ok, "[\\u0020-\\u00FF]*");
    }
    let limit = limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(default)
        .min(cap);
    Ok((limit, marker))
}
