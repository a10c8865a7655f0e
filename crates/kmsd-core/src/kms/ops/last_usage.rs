//! GetKeyLastUsage: each key's last successful cryptographic use, tracked without a store
//! write or a lock on the cryptographic path.
//!
//! Every [`KeyEntry`](crate::kms::model::entry::KeyEntry) holds a
//! [`LastUse`](crate::kms::model::last_use::LastUse): a few atomics guarded by a sequence number (a seqlock whose writers never wait: a writer that finds another write
//! in progress on the same key drops its own, which is as recent as the one being written).
//! A cryptographic handler notes the keys it authorized in its [`Req`]; when the call
//! succeeds, [`Kms::call_op`] stamps them with the time, the operation, the request id and
//! the CloudTrail event id (which the audit line then carries).
//!
//! Persistence is lazy: the last use is written into the key's record (`usage`) whenever
//! that record is committed for another reason (any metadata change through
//! `Kms::update_key`), and by [`Kms::flush_last_usage`], which the server runs at shutdown.
//! A crash loses the uses recorded since the key's last such commit; the answer then shows
//! the older use (or none), never a use that did not happen.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::ApiError;
use crate::kms::authz::Req;
use crate::kms::decode::input::Input;
use crate::kms::model::last_use::{Used, TRACKED};
use crate::kms::model::op::KmsOp;
use crate::kms::model::ts::ts;
use crate::kms::{persist, Kms};

/// Stamp the keys of a successful cryptographic call; returns the CloudTrail event id the
/// audit line must carry, if any key was stamped.
pub(crate) fn stamp(op: KmsOp, used: Used, millis: i64, request_id: &str) -> Option<String> {
    let idx = TRACKED.iter().position(|o| *o == op)?;
    if used.0.iter().all(Option::is_none) {
        return None;
    }
    // A fresh event id, made as `audit::new_id` makes every event id (the audit module
    // records the facts of KMS calls and is not imported here).
    let event = kmsd_crypto::random_uuid();
    let e = Uuid::parse_str(&event).ok()?.as_u128();
    // Request ids are UUIDs on the wire; anything else is hashed into one.
    let r = Uuid::parse_str(request_id).map_or_else(
        |_| {
            use sha2::Digest;
            let d = sha2::Sha256::digest(request_id.as_bytes());
            let mut b = [0u8; 16];
            b.copy_from_slice(&d[..16]);
            u128::from_be_bytes(b)
        },
        |u| u.as_u128(),
    );
    for u in used.0.iter().flatten() {
        u.write(idx, millis, r, e);
    }
    Some(event)
}

impl Kms {
    /// GetKeyLastUsage.
    pub(crate) fn get_key_last_usage(
        &self,
        req: &mut Req<'_>,
        input: &Value,
    ) -> Result<Value, ApiError> {
        let mut i = Input::new(input)?;
        let key_id = i.str_req("KeyId", 1, 2048)?;
        i.finish()?;
        let st = self.state.read();
        let (_, key) = self.gate(&st, req, key_id, KmsOp::GetKeyLastUsage, |_| {})?;
        let u = key.last_use.snapshot();
        let last = match u.last {
            Some(l) => json!({
                "Operation": l.operation,
                "Timestamp": ts(l.millis),
                "CloudTrailEventId": l.event_id,
                "KmsRequestId": l.request_id,
            }),
            None => json!({}),
        };
        Ok(json!({
            "KeyId": key.arn,
            "KeyLastUsage": last,
            "TrackingStartDate": ts(u.tracking_start_millis.max(key.rec.creation_millis)),
            "KeyCreationDate": ts(key.rec.creation_millis),
        }))
    }

    /// Write every key's last use that its stored record does not have yet (run at
    /// shutdown). Returns how many records were written.
    pub fn flush_last_usage(&self) -> Result<usize, ApiError> {
        let st = self.state.write();
        let mut muts = Vec::new();
        let mut changed = Vec::new();
        for (id, k) in &st.keys {
            let snap = k.last_use.snapshot();
            if snap != k.rec.usage {
                let mut rec = k.rec.clone();
                rec.usage = snap;
                muts.push(persist::put_key(&rec)?);
                changed.push((id.clone(), rec));
            }
        }
        if muts.is_empty() {
            return Ok(0);
        }
        self.commit(&muts)?;
        let n = changed.len();
        let mut st = st;
        for (id, rec) in changed {
            if let Some(k) = st.keys.get_mut(&id) {
                k.rec = rec;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::model::last_use::LastUse;
    use crate::kms::model::usage::UsageRecord;

    #[test]
    fn snapshot_round_trips_a_write() {
        let u = LastUse::from_record(&UsageRecord::starting(5));
        u.start_if_unset(99);
        assert_eq!(u.snapshot(), UsageRecord::starting(5));
        let mut used = Used::default();
        used.note(&u);
        let rid = "6f1c3a2e-0d3b-4c1e-9a4f-2b8e7d6c5a41";
        let ev = stamp(KmsOp::Encrypt, used, 1_000, rid).unwrap();
        let s = u.snapshot();
        let last = s.last.clone().unwrap();
        assert_eq!(last.operation, "Encrypt");
        assert_eq!(last.millis, 1_000);
        assert_eq!(last.request_id, rid);
        assert_eq!(last.event_id, ev);
        // The stored form loads back to the same state.
        assert_eq!(LastUse::from_record(&s).snapshot(), s);
    }

    #[test]
    fn old_records_start_tracking_at_load() {
        let u = LastUse::from_record(&UsageRecord::default());
        u.start_if_unset(777);
        assert_eq!(u.snapshot().tracking_start_millis, 777);
    }

    #[test]
    fn untracked_operations_and_keyless_calls_stamp_nothing() {
        let u = LastUse::from_record(&UsageRecord::starting(1));
        let mut used = Used::default();
        used.note(&u);
        assert_eq!(stamp(KmsOp::DescribeKey, used, 5, "r"), None);
        assert_eq!(u.snapshot().last, None);
        assert_eq!(stamp(KmsOp::Encrypt, Used::default(), 5, "r"), None);
    }
}
