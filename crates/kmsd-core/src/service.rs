//! The whole service: IAM/STS and KMS over one store, one clock and one root key.
//!
//! This is what the server and offline explain both run, so the decision a user
//! sees explained offline is the decision the server makes.

use std::sync::Arc;

use kmsd_crypto::RootKey;

use crate::bootstrap::World;
use crate::clock::Clock;
use crate::error::ApiError;
use crate::error::KmsError;
use crate::iam::Iam;
use crate::kms::Kms;
use crate::store::Store;

/// IAM, STS and KMS state over one store.
pub struct Service {
    pub iam: Arc<Iam>,
    pub kms: Arc<Kms>,
    pub clock: Arc<dyn Clock>,
    /// Default region for ARNs the server prints on its own.
    pub region: String,
    /// The most recent denied KMS requests (audit events), newest last, for the explain page.
    pub recent_denials: RecentDenials,
}

/// A bounded, in-memory list of recent denied requests' audit events. The durable record is
/// the audit log; this only lets the explain page open a denial without reading files.
#[derive(Debug, Default)]
pub struct RecentDenials {
    events: parking_lot::Mutex<std::collections::VecDeque<serde_json::Value>>,
}

impl RecentDenials {
    /// How many denials are kept.
    pub const CAPACITY: usize = 200;

    /// Remember a denied request's audit event (the oldest is dropped when full).
    pub fn push(&self, event: serde_json::Value) {
        let mut events = self.events.lock();
        if events.len() >= Self::CAPACITY {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// The denials of callers in `account`, newest first.
    pub fn for_account(&self, account: &str) -> Vec<serde_json::Value> {
        let events = self.events.lock();
        events
            .iter()
            .rev()
            .filter(|e| e["userIdentity"]["accountId"].as_str() == Some(account))
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
        let kms = Arc::new(Kms::open(store, clock.clone(), root_key, directory)?);
        Ok(Service {
            iam,
            kms,
            clock,
            region: region.to_string(),
            recent_denials: RecentDenials::default(),
        })
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
