//! Shared fixtures for the KMS tests: a world with a MemStore (that can be told to fail),
//! a ManualClock, a fake principal directory, and hand-built principals.
//!
//! Tests that need real authorization decisions use the account root user with the default
//! key policy as the caller (allowed once the decision engine is in place).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support shared by several test binaries, each using part of it; test code panics on failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use kmsd_core::clock::ManualClock;
use kmsd_core::error::ApiError;
use kmsd_core::kms::{Kms, KmsCall};
use kmsd_core::principal::{Principal, PrincipalDirectory, RequestMeta};
use kmsd_core::store::{MemStore, Mutation, Store, StoreError};
use kmsd_crypto::RootKey;
use kmsd_policy::{Caller, Policy, PolicyKind, PolicySet, PolicySourceType, SourcedPolicy};
use serde_json::{json, Value};

pub const ACCT: &str = "111122223333";
pub const OTHER: &str = "444455556666";
pub const REGION: &str = "us-east-1";
pub const T0: i64 = 1_700_000_000_000;

/// A store whose commits can be made to fail, or held (a slow fsync) while a test holds
/// `hold`.
#[derive(Debug, Default)]
pub struct FlakyStore {
    pub inner: MemStore,
    pub fail: AtomicBool,
    /// Commits fail as a store that cannot be reached (the shared database down).
    pub unreachable: AtomicBool,
    pub hold: std::sync::Mutex<()>,
    /// Commits waiting at `hold` right now.
    pub waiting: std::sync::atomic::AtomicUsize,
}

impl Store for FlakyStore {
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.load(table)
    }
    fn commit(&self, m: &[Mutation]) -> Result<(), StoreError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let held = self.hold.lock();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        drop(held);
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Backend("disk full".into()));
        }
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        self.inner.commit(m)
    }
}

/// Accounts and principals that exist.
#[derive(Debug, Default)]
pub struct FakeDirectory {
    pub accounts: BTreeSet<String>,
    pub principals: BTreeSet<String>,
}

impl PrincipalDirectory for FakeDirectory {
    fn account_exists(&self, account: &str) -> bool {
        self.accounts.contains(account)
    }
    fn principal_exists(&self, arn: &str) -> bool {
        if self.principals.contains(arn) {
            return true;
        }
        if self.accounts.contains(arn) {
            return true;
        }
        arn.strip_prefix("arn:aws:iam::")
            .and_then(|r| r.strip_suffix(":root"))
            .is_some_and(|a| self.accounts.contains(a))
    }
}

pub fn directory() -> Arc<FakeDirectory> {
    let mut d = FakeDirectory::default();
    d.accounts.insert(ACCT.into());
    d.accounts.insert(OTHER.into());
    for p in [
        format!("arn:aws:iam::{ACCT}:user/alice"),
        format!("arn:aws:iam::{ACCT}:user/bob"),
        format!("arn:aws:iam::{OTHER}:user/carol"),
        format!("arn:aws:iam::{ACCT}:role/app"),
    ] {
        d.principals.insert(p);
    }
    Arc::new(d)
}

pub struct World {
    pub kms: Kms,
    pub store: Arc<FlakyStore>,
    pub clock: Arc<ManualClock>,
    pub root_key: Arc<RootKey>,
    pub dir: Arc<FakeDirectory>,
}

impl World {
    pub fn new() -> World {
        let store = Arc::new(FlakyStore::default());
        let clock = Arc::new(ManualClock::new(T0));
        let root_key = Arc::new(RootKey::generate().unwrap());
        let dir = directory();
        let kms = Kms::open(store.clone(), clock.clone(), root_key.clone(), dir.clone()).unwrap();
        World {
            kms,
            store,
            clock,
            root_key,
            dir,
        }
    }

    /// A second Kms over the same store (what a restart sees).
    pub fn reopen(&self) -> Result<Kms, ApiError> {
        Kms::open(
            self.store.clone(),
            self.clock.clone(),
            self.root_key.clone(),
            self.dir.clone(),
        )
    }

    pub fn call_full(&self, op: &str, p: &Principal, input: Value) -> KmsCall {
        self.kms.call(op, p, &meta(REGION), &input)
    }

    pub fn call(&self, op: &str, p: &Principal, input: Value) -> Result<Value, ApiError> {
        self.call_full(op, p, input).result
    }

    /// As root of ACCT; panics on error.
    pub fn ok(&self, op: &str, input: Value) -> Value {
        match self.call(op, &root(ACCT), input) {
            Ok(v) => v,
            Err(e) => panic!("{op} failed: {e}"),
        }
    }

    /// As root of ACCT; the error (panics on success).
    pub fn err(&self, op: &str, input: Value) -> ApiError {
        match self.call(op, &root(ACCT), input) {
            Ok(v) => panic!("{op} unexpectedly succeeded: {v}"),
            Err(e) => e,
        }
    }

    /// A fresh key as root of ACCT; returns its id.
    pub fn key(&self) -> String {
        let v = self.ok("CreateKey", json!({}));
        v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string()
    }

    /// Every record of every KMS table (to prove that a failed call changed nothing).
    pub fn dump(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for t in [
            "kms_keys",
            "kms_material",
            "kms_grants",
            "kms_aliases",
            "kms_import",
        ] {
            for (k, v) in self.store.load(t).unwrap() {
                out.push((format!("{t}/{k}"), v));
            }
        }
        out
    }
}

pub fn meta(region: &str) -> RequestMeta {
    RequestMeta {
        source_ip: Some(IpAddr::from([10, 0, 0, 1])),
        secure_transport: true,
        time_millis: T0,
        region: region.to_string(),
        user_agent: Some("test".into()),
        request_id: "req-1".into(),
    }
}

pub fn root(account: &str) -> Principal {
    Principal {
        caller: Caller::Root {
            account: account.to_string(),
        },
        policies: Arc::new(PolicySet::default()),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

/// An IAM user with inline identity policies.
pub fn user(account: &str, name: &str, policies: &[Value]) -> Principal {
    let identity = policies
        .iter()
        .enumerate()
        .map(|(i, p)| SourcedPolicy {
            id: format!("{name}-policy-{i}"),
            source_type: PolicySourceType::User,
            policy: Arc::new(Policy::parse(&p.to_string(), PolicyKind::Identity).unwrap()),
        })
        .collect();
    Principal {
        caller: Caller::User {
            account: account.to_string(),
            arn: format!("arn:aws:iam::{account}:user/{name}"),
            name: name.to_string(),
            unique_id: format!("AIDA{}", name.to_uppercase()),
        },
        policies: Arc::new(PolicySet {
            identity,
            ..PolicySet::default()
        }),
        tags: Arc::new(BTreeMap::new()),
        token_issue_time: None,
        source_identity: None,
    }
}

/// `{"Version": ..., "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}`.
pub fn allow(action: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]})
}

pub fn arn(id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCT}:key/{id}")
}

pub fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

pub fn assert_err(e: &ApiError, code: &str, msg: Option<&str>) {
    assert_eq!(e.code, code, "{e}");
    if let Some(m) = msg {
        assert_eq!(e.message.as_deref(), Some(m), "{e}");
    }
}
