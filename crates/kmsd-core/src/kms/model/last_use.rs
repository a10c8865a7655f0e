//! A key's last use in memory: a few atomics guarded by a sequence number (a seqlock whose
//! writers never wait), and the keys a request used (see `ops::last_usage`).

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use uuid::Uuid;

use super::usage::LastUseRecord;
use super::usage::UsageRecord;
use crate::kms::model::op::KmsOp;

/// `KeyLastUsageTrackingOperation` of the model, in its order (index + 1 is stored).
pub(crate) const TRACKED: [KmsOp; 14] = [
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
    pub(crate) fn write(&self, op_index: usize, millis: i64, request_id: u128, event_id: u128) {
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
pub(crate) struct Used(pub(crate) [Option<Arc<LastUse>>; 2]);

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
