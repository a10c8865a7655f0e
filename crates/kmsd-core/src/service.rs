//! The whole service: IAM/STS and KMS over one store, one clock and one root key.
//!
//! This is what the server and offline explain both run, so the decision a user
//! sees explained offline is the decision the server makes.

use std::sync::Arc;

use kmsd_crypto::RootKey;

use crate::audit::AuditEvent;
use crate::bootstrap::World;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::error::KmsError;
use crate::iam::Iam;
use crate::kms::Kms;
use crate::store::{ChangeSink, Changed, Store, StoreError};

/// IAM, STS and KMS state over one store.
pub struct Service {
    pub iam: Arc<Iam>,
    pub kms: Arc<Kms>,
    pub clock: Arc<dyn Clock>,
    /// Default region for ARNs the server prints on its own.
    pub region: String,
    /// The most recent denied KMS requests (audit events), newest last, for the explain page.
    pub recent_denials: RecentDenials,
    store: Arc<dyn Store>,
    /// Applies other nodes' changes (a shared store holds it weakly).
    _feed: Arc<dyn ChangeSink>,
}

/// Routes a shared store's change feed to IAM and KMS memory.
struct Feed {
    iam: Arc<Iam>,
    kms: Arc<Kms>,
}

impl ChangeSink for Feed {
    fn apply(&self, changes: &[Changed]) -> Result<(), String> {
        self.iam.apply_feed(changes)?;
        self.kms.apply_feed(changes)
    }
}

/// A bounded, in-memory list of recent denied requests' audit events. The durable record is
/// the audit log; this only lets the explain page open a denial without reading files.
#[derive(Debug, Default)]
pub struct RecentDenials {
    events: parking_lot::Mutex<std::collections::VecDeque<AuditEvent>>,
}

impl RecentDenials {
    /// How many denials are kept.
    pub const CAPACITY: usize = 200;

    /// Remember a denied request's audit event (the oldest is dropped when full).
    pub fn push(&self, event: AuditEvent) {
        let mut events = self.events.lock();
        if events.len() >= Self::CAPACITY {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The denials of callers in `account`, newest first.
    pub fn for_account(&self, account: &str) -> Vec<AuditEvent> {
        let events = self.events.lock();
        events
            .iter()
            .rev()
            .filter(|e| e.user_identity.account_id.as_deref() == Some(account))
            .cloned()
            .collect()
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Open (or create) the service state from a store.
    pub fn open(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        root_key: Arc<RootKey>,
        region: &str,
    ) -> Result<Service, ApiError> {
        let iam = Arc::new(Iam::open(store.clone(), clock.clone())?);
        let directory: Arc<dyn crate::principal::PrincipalDirectory> = iam.clone();
        let kms = Arc::new(Kms::open(
            store.clone(),
            clock.clone(),
            root_key,
            directory,
        )?);
        let feed: Arc<dyn ChangeSink> = Arc::new(Feed {
            iam: iam.clone(),
            kms: kms.clone(),
        });
        store.set_sink(Arc::downgrade(&feed));
        Ok(Service {
            iam,
            kms,
            clock,
            region: region.to_string(),
            recent_denials: RecentDenials::default(),
            store,
            _feed: feed,
        })
    }

    /// Bring memory up to date with every change other nodes committed (a no-op on a
    /// single-node store).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.store.sync()
    }

    /// Validate a world file completely, then apply it idempotently.
    pub fn apply_world(&self, world: &World) -> Result<(), ApiError> {
        world
            .validate(&self.kms)
            .map_err(|e| ApiError::new(KmsError::ValidationException, e.to_string()))?;
        world
            .apply(&self.iam, &self.kms)
            .map_err(|e| ApiError::new(KmsError::KMSInternalException, e.to_string()))
    }

    /// An in-memory service loaded from a world file (offline explain and access review).
    pub fn from_world_in_memory(world: &World, region: &str) -> Result<Service, ApiError> {
        let root_key = RootKey::generate()
            .map_err(|e| ApiError::new(KmsError::KMSInternalException, e.to_string()))?;
        let service = Service::open(
            Arc::new(crate::store::MemStore::new()),
            Arc::new(crate::clock::SystemClock),
            Arc::new(root_key),
            region,
        )?;
        service.apply_world(world)?;
        Ok(service)
    }
}

#[cfg(test)]
mod tests {
    use super::RecentDenials;
    use crate::audit::AuditEvent;

    fn denial(account: Option<&str>, request_id: &str) -> AuditEvent {
        let mut event = AuditEvent::new(0, "kms.amazonaws.com", "Decrypt", "us-east-1", request_id);
        event.user_identity.account_id = account.map(str::to_string);
        event
    }

    #[test]
    fn recent_denials_are_kept_per_account_newest_first_and_bounded() {
        let denials = RecentDenials::default();
        denials.push(denial(Some("111122223333"), "a1"));
        denials.push(denial(Some("444455556666"), "b1"));
        denials.push(denial(None, "unauthenticated"));
        denials.push(denial(Some("111122223333"), "a2"));
        let ids = |account: &str| -> Vec<String> {
            denials
                .for_account(account)
                .into_iter()
                .map(|e| e.request_id)
                .collect()
        };
        assert_eq!(ids("111122223333"), ["a2", "a1"]);
        assert_eq!(ids("444455556666"), ["b1"]);
        assert!(ids("999999999999").is_empty());

        for i in 0..RecentDenials::CAPACITY {
            denials.push(denial(Some("444455556666"), &format!("b{}", i + 2)));
        }
        assert!(ids("111122223333").is_empty(), "the oldest were dropped");
        let kept = ids("444455556666");
        assert_eq!(kept.len(), RecentDenials::CAPACITY);
        assert_eq!(kept[0], format!("b{}", RecentDenials::CAPACITY + 1));
    }
}
