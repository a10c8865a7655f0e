//! The world (bootstrap) file: the seed world loads and applies; bad files are rejected
//! with a message naming the file, the entity and the problem, and change nothing;
//! applying twice (and across restarts) changes nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed expectation panics"
)]

mod iam_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use iam_support::*;
use kmsd_core::bootstrap::World;
use kmsd_core::clock::ManualClock;
use kmsd_core::store::{MemStore, Mutation, Store, StoreError};
use kmsd_crypto::RootKey;
use parking_lot::Mutex;

const KEY2: &str = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const KEY1: &str = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321";

/// A MemStore that remembers which tables were ever written.
#[derive(Default)]
struct Recording {
    inner: MemStore,
    tables: Mutex<BTreeSet<&'static str>>,
    /// Commits that touched an IAM table.
    commits: Mutex<usize>,
}

impl Store for Recording {
    fn load(&self, table: &'static str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.load(table)
    }
    fn commit(&self, mutations: &[Mutation]) -> Result<(), StoreError> {
        let mut t = self.tables.lock();
        for m in mutations {
            match m {
                Mutation::Put { table, .. } | Mutation::Delete { table, .. } => {
                    t.insert(table);
                }
            }
        }
        let iam = mutations.iter().any(|m| match m {
            Mutation::Put { table, .. } | Mutation::Delete { table, .. } => {
                table.starts_with("iam_")
            }
        });
        if iam {
            *self.commits.lock() += 1;
        }
        self.inner.commit(mutations)
    }
}

impl Recording {
    fn dump(&self) -> BTreeMap<&'static str, Vec<(String, Vec<u8>)>> {
        let tables: Vec<&'static str> = self.tables.lock().iter().copied().collect();
        tables
            .into_iter()
            .map(|t| (t, self.inner.load(t).unwrap()))
            .collect()
    }
}

struct Rec {
    store: Arc<Recording>,
    clock: Arc<ManualClock>,
    root_key: Arc<RootKey>,
}

impl Rec {
    fn new() -> Rec {
        Rec {
            store: Arc::new(Recording::default()),
            clock: Arc::new(ManualClock::new(T0_MILLIS)),
            root_key: Arc::new(RootKey::generate().unwrap()),
        }
    }
    fn service(&self) -> kmsd_core::service::Service {
        kmsd_core::service::Service::open(
            self.store.clone(),
            self.clock.clone(),
            self.root_key.clone(),
            "us-west-2",
        )
        .unwrap()
    }
}

#[test]
fn seed_world_loads_and_applies() {
    let world = seed_world();
    assert_eq!(world.accounts.len(), 2);
    let fx = fixture_with(&world);
    let alice = fx.principal(ALICE);
    assert_eq!(alice.caller.arn(), "arn:aws:iam::111122223333:user/alice");
    assert!(alice.policies.identity.is_empty());
    let bob = fx.principal(BOB);
    assert_eq!(bob.policies.identity.len(), 1);
    assert!(fx.principal(ROOT1).caller.is_root());
    assert!(fx.principal(ROOT2).caller.is_root());
    let role = fx
        .svc
        .iam
        .principal_for_arn("arn:aws:iam::111122223333:role/ExampleRole", None)
        .unwrap();
    assert_eq!(role.policies.identity.len(), 1);
    let k2 = fx.svc.kms.key_authz_view(KEY2).expect("key of account 2");
    assert!(k2.policy.policy.text().contains("key-policy-acct-2"));
    assert_eq!(k2.region, "us-west-2");
    let k1 = fx.svc.kms.key_authz_view(KEY1).expect("key of example 1");
    assert!(k1.policy.policy.text().contains("key-test-1"));
    assert_eq!(k1.aliases, vec!["alias/example-1".to_string()]);
}

#[test]
fn apply_twice_and_restart_change_nothing() {
    let rec = Rec::new();
    let world = seed_world();
    let svc = rec.service();
    world.validate(&svc.kms).unwrap();
    world.apply(&svc.iam, &svc.kms).unwrap();
    let first = rec.store.dump();
    let commits = *rec.store.commits.lock();
    let alice_id = match svc.iam.lookup_access_key(ALICE).unwrap().principal.caller {
        kmsd_policy::Caller::User { unique_id, .. } => unique_id,
        _ => unreachable!(),
    };
    rec.clock.advance_secs(3600);
    world.apply(&svc.iam, &svc.kms).unwrap();
    assert_eq!(rec.store.dump(), first, "second apply changed the store");
    assert_eq!(
        *rec.store.commits.lock(),
        commits,
        "second apply committed IAM records"
    );
    // Restart on the same store, apply again.
    drop(svc);
    let svc2 = rec.service();
    world.apply(&svc2.iam, &svc2.kms).unwrap();
    assert_eq!(rec.store.dump(), first);
    let cred = svc2.iam.lookup_access_key(ALICE).unwrap();
    assert_eq!(
        cred.secret.as_str(),
        "seed-alice-secret-0000000000000000000001"
    );
    match cred.principal.caller {
        kmsd_policy::Caller::User { unique_id, .. } => assert_eq!(unique_id, alice_id),
        _ => unreachable!(),
    }
    // Unique ids derive from account and name: a fresh server gets the same ones.
    let fresh = fixture_with(&world);
    match fresh.principal(ALICE).caller {
        kmsd_policy::Caller::User { unique_id, .. } => assert_eq!(unique_id, alice_id),
        _ => unreachable!(),
    }
}

#[test]
fn changed_world_updates_declared_entities() {
    let rec = Rec::new();
    let svc = rec.service();
    seed_world().apply(&svc.iam, &svc.kms).unwrap();
    let text = std::fs::read_to_string(seed_path()).unwrap().replace(
        "\"tags\": { \"example\": \"1\" }",
        "\"tags\": { \"example\": \"changed\" }",
    );
    let world = World::from_str(&text, "changed.json").unwrap();
    world.apply(&svc.iam, &svc.kms).unwrap();
    let alice = svc.iam.lookup_access_key(ALICE).unwrap().principal;
    assert_eq!(
        alice.tags.get("example").map(String::as_str),
        Some("changed")
    );
}

#[test]
fn policy_documents_as_strings_and_default_key_policy() {
    let text = r#"{"accounts":[{"id":"123456789012",
      "root_access_key":{"access_key_id":"AKIA123456789012ROOT","secret_access_key":"s"},
      "policies":[{"name":"P","document":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}"}],
      "groups":[{"name":"g","managed_policies":["arn:aws:iam::123456789012:policy/P"]}],
      "users":[{"name":"u","groups":["g"],"permissions_boundary":"arn:aws:iam::123456789012:policy/P",
                "access_keys":[{"access_key_id":"AKIAUUUUUUUUUUUUUUU1","secret_access_key":"x"}]}],
      "keys":[{"id":"11111111-2222-3333-4444-555555555555"}]}]}"#;
    let world = World::from_str(text, "strings.json").unwrap();
    let fx = fixture_with(&world);
    let u = fx.principal("AKIAUUUUUUUUUUUUUUU1");
    assert_eq!(u.policies.identity.len(), 1);
    assert!(u.policies.boundary.is_some());
    let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    let view = fx
        .svc
        .kms
        .key_authz_view(arn)
        .expect("declared key in the default region");
    assert!(view
        .policy
        .policy
        .text()
        .contains("arn:aws:iam::123456789012:root"));
    // With the server's region set, a key without region goes there.
    let world = World::from_str(text, "strings.json")
        .unwrap()
        .with_default_region("eu-west-3");
    let fx = fixture_with(&world);
    assert!(fx
        .svc
        .kms
        .key_authz_view(&arn.replace("us-east-1", "eu-west-3"))
        .is_some());
}

/// Each bad world: (file text, what the message must contain).
fn bad_worlds() -> Vec<(String, Vec<&'static str>)> {
    let seed = std::fs::read_to_string(seed_path()).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&seed).unwrap();
    let mut cases: Vec<(String, Vec<&'static str>)> = Vec::new();
    let mut with = |f: &dyn Fn(&mut serde_json::Value), expect: Vec<&'static str>| {
        let mut w = v.clone();
        f(&mut w);
        cases.push((w.to_string(), expect));
    };
    with(
        &|w| {
            w["accounts"][0]["users"][0]["nickname"] = "al".into();
        },
        vec![
            "account 111122223333, user alice",
            "unknown field `nickname`",
        ],
    );
    with(
        &|w| {
            w["extra"] = 1.into();
        },
        vec!["unknown field `extra`"],
    );
    with(
        &|w| {
            w["accounts"][1]["keys"][0]["colour"] = "red".into();
        },
        vec![
            "account 444455556666, key 1234abcd-12ab-34cd-56ef-1234567890ab",
            "unknown field `colour`",
        ],
    );
    with(
        &|w| {
            w["accounts"][0]["roles"][0]["inline_policies"]["UseKeyInAccount2"]["Statement"][0]
                ["Principal"] =
                serde_json::json!({"AWS": "arn:aws:iam::111122223333:role/ExampleRole"});
        },
        vec![
            "account 111122223333, role ExampleRole",
            "inline policy UseKeyInAccount2",
            "Principal",
        ],
    );
    with(
        &|w| {
            w["accounts"][0]["roles"][0]["assume_role_policy"] = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]});
        },
        vec![
            "account 111122223333, role ExampleRole",
            "assume_role_policy",
        ],
    );
    with(
        &|w| {
            w["accounts"][0]["users"][0]["groups"] = serde_json::json!(["nogroup"]);
        },
        vec!["user alice", "group nogroup is not declared"],
    );
    with(
        &|w| {
            w["accounts"][0]["users"][0]["managed_policies"] =
                serde_json::json!(["arn:aws:iam::111122223333:policy/Nope"]);
        },
        vec!["user alice", "policy/Nope"],
    );
    with(
        &|w| {
            w["accounts"][0]["roles"][0]["permissions_boundary"] =
                "arn:aws:iam::111122223333:policy/Nope".into();
        },
        vec!["role ExampleRole", "permissions boundary"],
    );
    with(
        &|w| {
            w["accounts"][0]["users"][1]["access_keys"][0]["access_key_id"] =
                "AKIAALICE00000000001".into();
        },
        vec!["user bob", "AKIAALICE00000000001", "also declared by"],
    );
    with(
        &|w| {
            w["accounts"][1]["keys"][0]["id"] = "not-a-uuid".into();
        },
        vec!["account 444455556666, key not-a-uuid"],
    );
    with(
        &|w| {
            w["accounts"][1]["keys"][0]["policy"]["Statement"][1]["Principal"]["AWS"] =
                "arn:aws:iam::111122223333:user/nobody".into();
        },
        vec!["key 1234abcd-12ab-34cd-56ef-1234567890ab", "user/nobody"],
    );
    with(
        &|w| {
            w["accounts"][1]["id"] = "4444".into();
        },
        vec!["account 4444", "12 digits"],
    );
    with(
        &|w| {
            w["accounts"][0]["users"][0]["name"] = "bad name".into();
        },
        vec!["user bad name"],
    );
    with(
        &|w| {
            w["accounts"][0]["roles"][0]["max_session_duration"] = 100.into();
        },
        vec!["role ExampleRole", "max_session_duration"],
    );
    with(
        &|w| {
            w["accounts"][0]["roles"][0]["assume_role_policy"]["Statement"]["Principal"]["AWS"] =
                "arn:aws:iam::111122223333:user/carol".into();
        },
        vec![
            "role ExampleRole",
            "assume_role_policy names principal arn:aws:iam::111122223333:user/carol",
        ],
    );
    v = serde_json::Value::Null;
    let _ = v;
    cases.push(("{ \"accounts\": [".to_string(), vec!["not valid JSON"]));
    cases
}

#[test]
fn bad_worlds_name_file_entity_problem_and_change_nothing() {
    let rec = Rec::new();
    let svc = rec.service();
    seed_world().apply(&svc.iam, &svc.kms).unwrap();
    let before = rec.store.dump();
    let keys_before = svc.kms.list_key_arns();
    for (text, expect) in bad_worlds() {
        let err = match World::from_str(&text, "bad-world.json") {
            Err(e) => e,
            Ok(world) => {
                let v = world
                    .validate(&svc.kms)
                    .expect_err(&format!("validate accepted: {expect:?}"));
                let a = world.apply(&svc.iam, &svc.kms).expect_err("apply accepted");
                assert_eq!(v.to_string(), a.to_string());
                v
            }
        };
        let msg = err.to_string();
        assert!(msg.starts_with("bad-world.json: "), "{msg}");
        for part in &expect {
            assert!(msg.contains(part), "message {msg:?} lacks {part:?}");
        }
        assert_eq!(
            rec.store.dump(),
            before,
            "a bad world changed the store: {msg}"
        );
        assert_eq!(svc.kms.list_key_arns(), keys_before);
    }
}

#[test]
fn from_file_names_the_file() {
    let err = World::from_file(std::path::Path::new("/nonexistent/world.json")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/world.json: cannot read"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.json");
    std::fs::write(
        &p,
        r#"{"accounts":[{"id":"123456789012","users":[{"name":"u","colour":1}]}]}"#,
    )
    .unwrap();
    let err = World::from_file(&p).unwrap_err();
    assert_eq!(err.file, p.display().to_string());
    assert_eq!(err.entity.as_deref(), Some("account 123456789012, user u"));
    assert!(err.problem.contains("unknown field `colour`"));
}
