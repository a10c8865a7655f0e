//! IAM's list paging: `MaxItems` (1–1000, default 100) and the opaque `Marker` of the
//! previous page, for every `List*` operation (and `GetGroup`'s users).

use super::params::Params;
use crate::error::{ApiError, IamError};

/// The prefix of kmsd's opaque IAM pagination markers.
const MARKER_PREFIX: &str = "kmsd-page-";

/// One page of a list and the marker of the next page (`None`: the list is complete,
/// `IsTruncated` false).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub marker: Option<String>,
}

/// The page of `items` that `MaxItems` and `Marker` in `p` ask for.
pub fn page<T>(mut items: Vec<T>, p: &Params) -> Result<Page<T>, ApiError> {
    let max = match p.int("MaxItems")? {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(100),
        Some(n) => {
            return Err(ApiError::new(
                IamError::ValidationError,
                format!("1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"),
            ))
        }
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => m
            .strip_prefix(MARKER_PREFIX)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n <= items.len())
            .ok_or_else(|| ApiError::new(IamError::InvalidInput, "Invalid Marker."))?,
    };
    let end = start.saturating_add(max).min(items.len());
    let marker = (end < items.len()).then(|| format!("{MARKER_PREFIX}{end}"));
    items.truncate(end);
    items.drain(..start);
    Ok(Page { items, marker })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn pages_follow_markers_to_the_end() {
        let items: Vec<u32> = (0..5).collect();
        let first = page(items.clone(), &params(&[("MaxItems", "2")])).unwrap();
        assert_eq!(first.items, vec![0, 1]);
        let m1 = first.marker.unwrap();
        let second = page(
            items.clone(),
            &params(&[("MaxItems", "2"), ("Marker", &m1)]),
        )
        .unwrap();
        assert_eq!(second.items, vec![2, 3]);
        let m2 = second.marker.unwrap();
        let last = page(
            items.clone(),
            &params(&[("MaxItems", "2"), ("Marker", &m2)]),
        )
        .unwrap();
        assert_eq!(
            last,
            Page {
                items: vec![4],
                marker: None
            }
        );
        let all = page(items, &params(&[])).unwrap();
        assert_eq!(all.items.len(), 5);
        assert_eq!(all.marker, None);
        let empty = page(Vec::<u32>::new(), &params(&[])).unwrap();
        assert_eq!(
            empty,
            Page {
                items: vec![],
                marker: None
            }
        );
    }

    #[test]
    fn bad_max_items_and_markers_are_refused() {
        let items: Vec<u32> = (0..3).collect();
        for (max, code) in [
            ("0", IamError::ValidationError),
            ("1001", IamError::ValidationError),
            ("x", IamError::ValidationError),
        ] {
            let err = page(items.clone(), &params(&[("MaxItems", max)])).unwrap_err();
            assert_eq!(err.code, ErrorCode::IamError(code), "{max}");
        }
        let err = page(items.clone(), &params(&[("MaxItems", "0")])).unwrap_err();
        assert_eq!(
            err.message.as_deref(),
            Some("1 validation error detected: Value '0' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000")
        );
        for marker in ["not-a-marker", "kmsd-page-4", "kmsd-page--1", "kmsd-page-"] {
            let err = page(items.clone(), &params(&[("Marker", marker)])).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::IamError(IamError::InvalidInput),
                "{marker}"
            );
            assert_eq!(err.message.as_deref(), Some("Invalid Marker."));
        }
        // A marker at the end is an empty last page.
        let end = page(items, &params(&[("Marker", "kmsd-page-3")])).unwrap();
        assert_eq!(
            end,
            Page {
                items: vec![],
                marker: None
            }
        );
    }
}
