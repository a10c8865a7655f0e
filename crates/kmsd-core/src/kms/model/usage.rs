//! A key's last use as stored in its record (`usage`): when tracking began and the last
//! successful cryptographic use.

use serde::{Deserialize, Serialize};

/// What is persisted in the key record: when tracking began and the last use, if any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UsageRecord {
    /// `TrackingStartDate` (epoch ms); 0 in records written before tracking existed.
    #[serde(default)]
    pub tracking_start_millis: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<LastUseRecord>,
}

impl UsageRecord {
    /// The record of a key created at `millis`.
    pub(crate) fn starting(millis: i64) -> UsageRecord {
        UsageRecord {
            tracking_start_millis: millis,
            last: None,
        }
    }
}

/// One successful cryptographic use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastUseRecord {
    pub operation: String,
    pub millis: i64,
    pub request_id: String,
    pub event_id: String,
}
