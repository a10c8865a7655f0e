//! The AWS Regions a multi-Region key may be replicated to: the commercial (`aws`
//! partition) Regions where KMS has an endpoint.
//!
//! The list is botocore 1.44.8's `botocore/data/endpoints.json`: partition `aws`, service
//! `kms`, `endpoints` (every Region of the partition; the FIPS endpoints are not Regions).
//! A Region added by AWS later is added here by hand.

/// The commercial Regions with a KMS endpoint, sorted.
pub(crate) const COMMERCIAL: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
];

/// True for a commercial Region with a KMS endpoint.
pub(crate) fn is_region(s: &str) -> bool {
    COMMERCIAL.binary_search(&s).is_ok()
}

/// True for a string of the model's `RegionType` pattern `^([a-z]+-){2,3}\d+$`.
pub(crate) fn matches_pattern(s: &str) -> bool {
    let Some((head, digits)) = s.rsplit_once('-') else {
        return false;
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let words: Vec<&str> = head.split('-').collect();
    (2..=3).contains(&words.len())
        && words
            .iter()
            .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_matching_the_model_pattern() {
        assert!(COMMERCIAL.windows(2).all(|w| w[0] < w[1]));
        assert!(COMMERCIAL.iter().all(|r| matches_pattern(r)));
        assert!(is_region("eu-west-1"));
        assert!(!is_region("eu-west-9"));
        assert!(matches_pattern("us-gov-west-1"));
        assert!(!matches_pattern("us-east"));
        assert!(!matches_pattern("US-east-1"));
        assert!(!matches_pattern("a-b-c-d-1"));
    }
}
