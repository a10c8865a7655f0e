//! Shared fixtures for the IAM, STS and bootstrap tests: a service over a `MemStore` and a
//! `ManualClock`, loaded from a world file, and callers by access key.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test code: a failed expectation panics; test clients sign with the wall clock"
)]

use std::path::PathBuf;
use std::sync::Arc;

use kmsd_core::bootstrap::World;
use kmsd_core::clock::ManualClock;
use kmsd_core::iam::Actor;
use kmsd_core::principal::{Principal, RequestMeta};
use kmsd_core::service::Service;
use kmsd_core::store::MemStore;
use kmsd_crypto::RootKey;

/// 2026-01-01T00:00:00Z
pub const T0_MILLIS: i64 = 1_767_225_600_000;

pub const ROOT1: &str = "AKIA111122223333ROOT";
pub const ROOT2: &str = "AKIA444455556666ROOT";
pub const ALICE: &str = "AKIAALICE00000000001";
pub const BOB: &str = "AKIABOB0000000000001";

pub struct Fixture {
    pub svc: Service,
    pub store: Arc<MemStore>,
    pub clock: Arc<ManualClock>,
    pub root_key: Arc<RootKey>,
}

pub fn seed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed-world.json")
}

pub fn seed_world() -> World {
    World::from_file(&seed_path()).expect("seed world parses")
}

pub fn open(store: Arc<MemStore>, clock: Arc<ManualClock>, root_key: Arc<RootKey>) -> Service {
    Service::open(store, clock, root_key, "us-west-2").expect("service opens")
}

/// A service with `world` applied.
pub fn fixture_with(world: &World) -> Fixture {
    let store = Arc::new(MemStore::new());
    let clock = Arc::new(ManualClock::new(T0_MILLIS));
    let root_key = Arc::new(RootKey::generate().unwrap());
    let svc = open(store.clone(), clock.clone(), root_key.clone());
    world.validate(&svc.kms).expect("world validates");
    world.apply(&svc.iam, &svc.kms).expect("world applies");
    Fixture {
        svc,
        store,
        clock,
        root_key,
    }
}

/// The seed world.
pub fn fixture() -> Fixture {
    fixture_with(&seed_world())
}

impl Fixture {
    pub fn principal(&self, access_key_id: &str) -> Principal {
        self.svc
            .iam
            .lookup_access_key(access_key_id)
            .unwrap_or_else(|| panic!("no credentials for {access_key_id}"))
            .principal
    }

    pub fn meta(&self) -> RequestMeta {
        use kmsd_core::clock::Clock;
        RequestMeta {
            source_ip: Some("192.0.2.10".parse().unwrap()),
            secure_transport: true,
            time_millis: self.clock.now_millis(),
            region: "us-west-2".into(),
            user_agent: Some("test".into()),
            request_id: "00000000-0000-4000-8000-000000000000".into(),
        }
    }

    /// Reopen the service over the same store (a restart).
    pub fn reopen(&self) -> Service {
        open(
            self.store.clone(),
            self.clock.clone(),
            self.root_key.clone(),
        )
    }
}

/// Run `f` with an actor for `principal`.
pub fn with_actor<T>(
    fx: &Fixture,
    principal: &Principal,
    f: impl FnOnce(&mut Actor<'_>) -> T,
) -> T {
    let meta = fx.meta();
    let mut actor = Actor::new(principal, &meta);
    f(&mut actor)
}
