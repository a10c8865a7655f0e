//! GetKeyLastUsage: each key's last successful cryptographic use, tracked without a store
//! write or a lock on the cryptographic path.
//!
//! Every [`KeyEntry`](super::key::KeyEntry) holds a [`LastUse`]: a few atomics guarded by a
//! sequence number (a seqlock whose writers never wait: a writer that finds another write
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

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::api::{ts, Input};
use super::authz::Forms;
use super::ids::internal;
use super::op::KmsOp;
use super::{persist, Kms, Req};
use crate::error::ApiError;

/// `KeyLastUsageTrackingOperation` of the model, in its order (index + 1 is stored).
const TRACKED: [KmsOp; 14] = [
    KmsOp::Decrypt,
    KmsOp::DeriveSharedSecret,
    KmsOp::Encrypt,
    KmsOp::GenerateDataKey,
    KmsOp::GenerateDataKeyPair,
    KmsOp::GenerateDataKeyPairWithoutPlaintext,
    KmsOp::GenerateDataKeyWithoutPlaintext,
    KmsOp::GenerateMac,
    KmsOp::ReEncrypt,
    KmsOp::Sign,
    KmsOp::Verify,
    KmsOp::VerifyMac,
    KmsOp::Encapsulate,
    KmsOp::Decapsulate,
];

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

/// The in-memory last use of one key (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct LastUse {
    /// Even: stable; odd: a write is in progress.
    seq: AtomicU64,
    /// 0: never used since tracking began; else index into [`TRACKED`] + 1.
    op: AtomicU8,
    millis: AtomicI64,
    request_id: [AtomicU64; 2],
    event_id: [AtomicU64; 2],
    /// `TrackingStartDate` (epoch ms).
    tracking_start: AtomicI64,
}

fn split(u: u128) -> (u64, u64) {
    ((u >> 64) as u64, u as u64)
}

fn join(hi: u64, lo: u64) -> String {
    Uuid::from_u128((u128::from(hi) << 64) | u128::from(lo))
        .hyphenated()
        .to_string()
}

impl LastUse {
    /// Memory state from a stored record (a record written before tracking existed has
    /// no start: see [`LastUse::start_if_unset`]).
    pub(crate) fn from_record(rec: &UsageRecord) -> Arc<LastUse> {
        let u = LastUse::default();
        u.tracking_start
            .store(rec.tracking_start_millis, Ordering::Relaxed);
        if let Some(l) = &rec.last {
            let op = TRACKED.iter().position(|o| o.name() == l.operation);
            let (Some(op), Ok(r), Ok(e)) = (
                op,
                Uuid::parse_str(&l.request_id),
                Uuid::parse_str(&l.event_id),
            ) else {
                return Arc::new(u);
            };
            u.write(op, l.millis, r.as_u128(), e.as_u128());
        }
        Arc::new(u)
    }

    /// Tracking of a key loaded from a record written before tracking existed starts now.
    pub(crate) fn start_if_unset(&self, now: i64) {
        let _ = self
            .tracking_start
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Record a use; never waits (see the module documentation).
    fn write(&self, op_index: usize, millis: i64, request_id: u128, event_id: u128) {
        let s = self.seq.load(Ordering::Relaxed);
        if s % 2 == 1
            || self
                .seq
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let op = u8::try_from(op_index + 1).unwrap_or(0);
        self.op.store(op, Ordering::Relaxed);
        self.millis.store(millis, Ordering::Relaxed);
        let (rh, rl) = split(request_id);
        let (eh, el) = split(event_id);
        self.request_id[0].store(rh, Ordering::Relaxed);
        self.request_id[1].store(rl, Ordering::Relaxed);
        self.event_id[0].store(eh, Ordering::Relaxed);
        self.event_id[1].store(el, Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }

    /// A consistent copy of what is held.
    pub(crate) fn snapshot(&self) -> UsageRecord {
        let tracking_start_millis = self.tracking_start.load(Ordering::Relaxed);
        loop {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let op = self.op.load(Ordering::Relaxed);
            let millis = self.millis.load(Ordering::Relaxed);
            let r = [
                self.request_id[0].load(Ordering::Relaxed),
                self.request_id[1].load(Ordering::Relaxed),
            ];
            let e = [
                self.event_id[0].load(Ordering::Relaxed),
                self.event_id[1].load(Ordering::Relaxed),
            ];
            std::sync::atomic::fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) != s1 {
                continue;
            }
            let last = usize::from(op)
                .checked_sub(1)
                .and_then(|i| TRACKED.get(i))
                .map(|o| LastUseRecord {
                    operation: o.name().to_string(),
                    millis,
                    request_id: join(r[0], r[1]),
                    event_id: join(e[0], e[1]),
                });
            return UsageRecord {
                tracking_start_millis,
                last,
            };
        }
    }
}

/// The keys a request used, noted when it authorized them (at most two: ReEncrypt).
#[derive(Debug, Default)]
pub(crate) struct Used([Option<Arc<LastUse>>; 2]);

impl Used {
    pub(crate) fn note(&mut self, u: &Arc<LastUse>) {
        if let Some(slot) = self
            .0
            .iter_mut()
            .find(|s| s.as_ref().is_none_or(|held| Arc::ptr_eq(held, u)))
        {
            *slot = Some(u.clone());
        }
    }
}

/// Stamp the keys of a successful cryptographic call; returns the CloudTrail event id the
/// audit line must carry, if any key was stamped.
pub(crate) fn stamp(op: KmsOp, used: Used, millis: i64, request_id: &str) -> Option<String> {
    let idx = TRACKED.iter().position(|o| *o == op)?;
    if used.0.iter().all(Option::is_none) {
        return None;
    }
    let event = crate::audit::new_id();
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
        let r = self.gate(
            &st,
            req,
            key_id,
            Forms::KeyLocal,
            "kms:GetKeyLastUsage",
            KmsOp::GetKeyLastUsage,
            |_| {},
        )?;
        let key = st.keys.get(&r.id).ok_or_else(internal)?;
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
