//! The grants-per-key quota (50,000, AWS's default): the 50,001st CreateGrant is refused with
//! `LimitExceededException` and changes nothing, Name idempotency still answers at the quota,
//! retiring a grant makes room for exactly one more, and the grant order the decision engine
//! sees is the same before and after a restart. ListGrants pages walk from their marker with
//! the same results. An ignored test times grant creation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

mod kms_support;

use std::time::Instant;

use kms_support::*;
use serde_json::{json, Value};

const QUOTA: usize = 50_000;
const QUOTA_MESSAGE: &str =
    "The request was rejected because the grant quota for this KMS key was exceeded.";

fn alice_arn() -> String {
    format!("arn:aws:iam::{ACCT}:user/alice")
}
fn bob_arn() -> String {
    format!("arn:aws:iam::{ACCT}:user/bob")
}

/// The GrantIds of every grant on the key, through ListGrants pages of 100.
fn list_all(w: &World, key_id: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<Value> = None;
    loop {
        let mut req = json!({"KeyId": key_id, "Limit": 100});
        if let Some(m) = marker.take() {
            req["Marker"] = m;
        }
        let page = w.ok("ListGrants", req);
        for g in page["Grants"].as_array().unwrap() {
            out.push(g["GrantId"].as_str().unwrap().to_string());
        }
        if page["Truncated"] == true {
            marker = Some(page["NextMarker"].clone());
        } else {
            return out;
        }
    }
}

/// The grant a call was allowed by (its audit evidence).
fn deciding_grant(call: &kmsd_core::kms::KmsCall) -> String {
    call.audit
        .deciding
        .iter()
        .find_map(|b| match b {
            kmsd_policy::Because::Grant { grant_id, .. } => Some(grant_id.clone()),
            _ => None,
        })
        .expect("allowed by a grant")
}

/// Grant `i` of the test: alice gets most of them (the largest grantee group the engine
/// index can hold: every alice request looks at ~all of them), bob every tenth.
fn grant_request(key_id: &str, i: usize) -> Value {
    let grantee = if i % 10 == 9 { bob_arn() } else { alice_arn() };
    json!({"KeyId": key_id, "GranteePrincipal": grantee, "Operations": ["Decrypt", "Encrypt"],
           "Constraints": {"EncryptionContextSubset": {"n": i.to_string()}}})
}

#[test]
fn the_50001st_grant_is_refused_and_retiring_one_makes_room() {
    let started = Instant::now();
    let cpu0 = cpu_time();
    let w = World::new();
    let id = w.key();
    let named = json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"],
                       "Name": "named-grant"});
    let named_id = w.ok("CreateGrant", named.clone())["GrantId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut created = vec![named_id.clone()];
    for i in 1..QUOTA {
        let g = w.ok("CreateGrant", grant_request(&id, i));
        created.push(g["GrantId"].as_str().unwrap().to_string());
        if i == QUOTA / 2 {
            // Idempotency through the name index with many grants on the key.
            let again = w.ok("CreateGrant", named.clone());
            assert_eq!(again["GrantId"], named_id.as_str());
        }
    }
    let created_in = started.elapsed();
    created.sort();
    created.dedup();
    assert_eq!(created.len(), QUOTA, "every GrantId is new");

    // The 50,001st: refused with AWS's error, nothing stored or changed.
    let before = w.dump();
    let e = w.err("CreateGrant", grant_request(&id, QUOTA));
    assert_err(&e, "LimitExceededException", Some(QUOTA_MESSAGE));
    let e = w.err(
        "CreateGrant",
        json!({"KeyId": id, "GranteePrincipal": bob_arn(), "Operations": ["Decrypt"], "Name": "new-name"}),
    );
    assert_err(&e, "LimitExceededException", Some(QUOTA_MESSAGE));
    assert_eq!(w.dump(), before, "a refused CreateGrant writes nothing");
    assert_eq!(
        list_all(&w, &id),
        created,
        "ListGrants shows the same 50,000"
    );

    // A Name already on the key with the same parameters still answers at the quota.
    let again = w.ok("CreateGrant", named.clone());
    assert_eq!(again["GrantId"], named_id.as_str());
    assert_eq!(w.dump(), before, "the idempotent retry writes nothing");

    // The key still works, for its owner and through the grants.
    let ct = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"still works"), "EncryptionContext": {"n": "7"}}),
    )["CiphertextBlob"]
        .clone();
    let alice = user(ACCT, "alice", &[]);
    let bob = user(ACCT, "bob", &[]);
    let decrypt = json!({"CiphertextBlob": ct, "EncryptionContext": {"n": "7"}});
    let call = w.call_full("Decrypt", &alice, decrypt.clone());
    assert_eq!(
        unb64(&call.result.as_ref().unwrap()["Plaintext"]),
        b"still works"
    );
    // Alice holds two grants that allow this Decrypt: the named one (no constraint) and grant
    // 7; the engine cites the first in grant-id order.
    let alice_first = named_id.clone().min(grant_id_of(&w, &id, 7));
    assert_eq!(deciding_grant(&call), alice_first);
    let e = w.call("Decrypt", &bob, decrypt.clone()).unwrap_err();
    assert_eq!(
        e.code, "AccessDeniedException",
        "grant 7 is alice's, not bob's"
    );
    let ct9 = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"nine"), "EncryptionContext": {"n": "9"}}),
    )["CiphertextBlob"]
        .clone();
    let out = w
        .call(
            "Decrypt",
            &bob,
            json!({"CiphertextBlob": ct9, "EncryptionContext": {"n": "9"}}),
        )
        .unwrap();
    assert_eq!(unb64(&out["Plaintext"]), b"nine");

    // Retiring one grant lets exactly one more be created.
    let retired = grant_id_of(&w, &id, 7);
    w.ok(
        "RetireGrant",
        json!({"KeyId": arn(&id), "GrantId": retired}),
    );
    let e = w.call("Decrypt", &bob, decrypt.clone()).unwrap_err();
    assert_eq!(e.code, "AccessDeniedException");
    let call = w.call_full("Decrypt", &alice, decrypt.clone());
    assert_eq!(deciding_grant(&call), named_id, "grant 7 is gone");
    // Grant QUOTA + 9 goes to bob (see `grant_request`), who holds no other grant for it.
    let extra_n = QUOTA + 9;
    let extra = w.ok("CreateGrant", grant_request(&id, extra_n));
    let extra_id = extra["GrantId"].as_str().unwrap().to_string();
    let e = w.err("CreateGrant", grant_request(&id, QUOTA + 2));
    assert_err(&e, "LimitExceededException", Some(QUOTA_MESSAGE));
    let listed = |gid: &str| {
        w.ok("ListGrants", json!({"KeyId": id, "GrantId": gid}))["Grants"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(listed(&retired), 0);
    assert_eq!(listed(&extra_id), 1);
    assert!(created.iter().all(|g| *g < extra_id), "new ids sort last");

    // The new grant is usable at once (the incremental index), and after a restart the
    // engine sees the same grants in the same order and the quota still holds.
    let ct_extra = w.ok(
        "Encrypt",
        json!({"KeyId": id, "Plaintext": b64(b"extra"), "EncryptionContext": {"n": extra_n.to_string()}}),
    )["CiphertextBlob"]
        .clone();
    let dec_extra =
        json!({"CiphertextBlob": ct_extra, "EncryptionContext": {"n": extra_n.to_string()}});
    let before_restart = w.call_full("Decrypt", &bob, dec_extra.clone());
    assert_eq!(deciding_grant(&before_restart), extra_id);
    let before_alice = deciding_grant(&w.call_full("Decrypt", &alice, decrypt.clone()));
    let kms = w.reopen().unwrap();
    let after_alice = kms.call("Decrypt", &alice, &meta(REGION), &decrypt);
    assert_eq!(deciding_grant(&after_alice), before_alice);
    let after = kms.call("Decrypt", &bob, &meta(REGION), &dec_extra);
    assert_eq!(deciding_grant(&after), extra_id);
    let e = kms
        .call(
            "CreateGrant",
            &root(ACCT),
            &meta(REGION),
            &grant_request(&id, QUOTA + 3),
        )
        .result
        .unwrap_err();
    assert_err(&e, "LimitExceededException", Some(QUOTA_MESSAGE));
    let again = kms
        .call("CreateGrant", &root(ACCT), &meta(REGION), &named)
        .result
        .unwrap();
    assert_eq!(again["GrantId"], named_id.as_str());
    eprintln!(
        "grant quota test: {QUOTA} grants created in {created_in:?}, whole test {:?} (CPU {:?})",
        started.elapsed(),
        cpu_time()
            .zip(cpu0)
            .map(|(now, start)| now.saturating_sub(start))
    );
}

/// The GrantId of grant `i` (its constraint names it) through ListGrants.
fn grant_id_of(w: &World, key_id: &str, i: usize) -> String {
    let who = if i % 10 == 9 { bob_arn() } else { alice_arn() };
    let mut marker: Option<Value> = None;
    loop {
        let mut req = json!({"KeyId": key_id, "Limit": 100, "GranteePrincipal": who});
        if let Some(m) = marker.take() {
            req["Marker"] = m;
        }
        let page = w.ok("ListGrants", req);
        for g in page["Grants"].as_array().unwrap() {
            if g["Constraints"]["EncryptionContextSubset"]["n"] == i.to_string().as_str() {
                return g["GrantId"].as_str().unwrap().to_string();
            }
        }
        if page["Truncated"] == true {
            marker = Some(page["NextMarker"].clone());
        } else {
            panic!("grant {i} not found");
        }
    }
}

/// Every page of ListGrants with `filter` (Limit `limit`), as GrantIds.
fn pages(w: &World, key_id: &str, filter: &Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut marker: Option<Value> = None;
    loop {
        let mut req = filter.clone();
        req["KeyId"] = json!(key_id);
        req["Limit"] = json!(limit);
        if let Some(m) = marker.take() {
            req["Marker"] = m;
        }
        let page = w.ok("ListGrants", req);
        let items = page["Grants"].as_array().unwrap();
        assert!(items.len() <= limit);
        for g in items {
            out.push(g["GrantId"].as_str().unwrap().to_string());
        }
        if page["Truncated"] == true {
            assert_eq!(items.len(), limit, "a truncated page is full");
            marker = Some(page["NextMarker"].clone());
        } else {
            assert!(page.get("NextMarker").is_none());
            return out;
        }
    }
}

/// ListGrants walks from its marker (through the grantee index when filtered by grantee)
/// and returns exactly the grants the filters name, in GrantId order, whatever the page size;
/// an account id and its root ARN are different grantees to the filter.
#[test]
fn list_grants_pages_with_filters() {
    let w = World::new();
    let id = w.key();
    let grantees = [
        alice_arn(),
        bob_arn(),
        ACCT.to_string(),
        format!("arn:aws:iam::{ACCT}:root"),
    ];
    let mut by: Vec<(String, String)> = Vec::new();
    for i in 0..230 {
        let who = grantees[(i * 7 + i / 5) % grantees.len()].clone();
        let g = w.ok(
            "CreateGrant",
            json!({"KeyId": id, "GranteePrincipal": who, "Operations": ["Decrypt"]}),
        );
        by.push((g["GrantId"].as_str().unwrap().to_string(), who));
    }
    // Retire a few so the walk crosses holes.
    for k in [3usize, 50, 51, 199] {
        w.ok("RevokeGrant", json!({"KeyId": id, "GrantId": by[k].0}));
    }
    let gone: Vec<String> = [3usize, 50, 51, 199]
        .iter()
        .map(|k| by[*k].0.clone())
        .collect();
    by.retain(|(g, _)| !gone.contains(g));
    by.sort();
    for limit in [1usize, 7, 50, 100] {
        let all: Vec<String> = by.iter().map(|(g, _)| g.clone()).collect();
        assert_eq!(pages(&w, &id, &json!({}), limit), all, "limit {limit}");
        for who in &grantees {
            let want: Vec<String> = by
                .iter()
                .filter(|(_, p)| p == who)
                .map(|(g, _)| g.clone())
                .collect();
            assert!(!want.is_empty());
            let got = pages(&w, &id, &json!({"GranteePrincipal": who}), limit);
            assert_eq!(got, want, "{who}, limit {limit}");
        }
    }
    let (one, who) = by[17].clone();
    let got = pages(
        &w,
        &id,
        &json!({"GrantId": one, "GranteePrincipal": who}),
        5,
    );
    assert_eq!(got, vec![one.clone()]);
    let other = grantees.iter().find(|g| **g != who).unwrap();
    assert!(pages(
        &w,
        &id,
        &json!({"GrantId": one, "GranteePrincipal": other}),
        5
    )
    .is_empty());
    // A marker must name a grant the filtered list holds.
    let bobs: Vec<&String> = by
        .iter()
        .filter(|(_, p)| *p == bob_arn())
        .map(|(g, _)| g)
        .collect();
    let e = w.err(
        "ListGrants",
        json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Marker": bobs[1]}),
    );
    assert_err(&e, "InvalidMarkerException", Some("Invalid marker."));
    let e = w.err("ListGrants", json!({"KeyId": id, "Marker": gone[0]}));
    assert_err(&e, "InvalidMarkerException", Some("Invalid marker."));
    let from_bob = w.ok(
        "ListGrants",
        json!({"KeyId": id, "GranteePrincipal": bob_arn(), "Marker": bobs[1], "Limit": 2}),
    );
    let got: Vec<&str> = from_bob["Grants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["GrantId"].as_str().unwrap())
        .collect();
    assert_eq!(got, vec![bobs[1].as_str(), bobs[2].as_str()]);
    assert_eq!(from_bob["NextMarker"], bobs[3].as_str());
}

/// This thread's time on a CPU so far (Linux `/proc/thread-self/schedstat`), if readable:
/// unlike wall time it does not count the time other processes held the CPUs.
fn cpu_time() -> Option<std::time::Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(std::time::Duration::from_nanos(ns))
}

/// Time to create 10,000 and 50,000 grants on one key (all to one grantee) through
/// `Kms::call`, wall and CPU (other counts: `GRANT_TIMING_COUNTS=1000,20000`). Run:
/// `cargo test -p kmsd-core --test grant_quota -- --ignored --nocapture grant_creation_timing`.
#[test]
#[ignore]
fn grant_creation_timing() {
    let counts: Vec<usize> = std::env::var("GRANT_TIMING_COUNTS")
        .map(|v| v.split(',').map(|n| n.trim().parse().unwrap()).collect())
        .unwrap_or_else(|_| vec![10_000, QUOTA]);
    for n in counts {
        let w = World::new();
        let id = w.key();
        let t = Instant::now();
        let cpu0 = cpu_time();
        let cpu = || {
            cpu_time()
                .zip(cpu0)
                .map(|(now, start)| now.saturating_sub(start))
        };
        for i in 0..n {
            w.ok(
                "CreateGrant",
                json!({"KeyId": id, "GranteePrincipal": alice_arn(), "Operations": ["Decrypt"]}),
            );
            if (i + 1) % 10_000 == 0 {
                eprintln!(
                    "  {n}-grant run: {} created after {:?} (CPU {:?})",
                    i + 1,
                    t.elapsed(),
                    cpu()
                );
            }
        }
        eprintln!(
            "{n} grants on one key: {:?}, CPU {:?} ({:.1} µs wall per CreateGrant)",
            t.elapsed(),
            cpu(),
            t.elapsed().as_secs_f64() * 1e6 / n as f64
        );
        // The hot path: a grantee allowed through its grants (n of them on the key).
        let ct =
            w.ok("Encrypt", json!({"KeyId": id, "Plaintext": b64(b"x")}))["CiphertextBlob"].clone();
        let alice = user(ACCT, "alice", &[]);
        let rounds = 2_000u32;
        let t = Instant::now();
        let cpu0 = cpu_time();
        for _ in 0..rounds {
            w.call("Decrypt", &alice, json!({"CiphertextBlob": ct}))
                .unwrap();
        }
        let cpu = cpu_time()
            .zip(cpu0)
            .map(|(now, start)| (now - start) / rounds);
        eprintln!(
            "  Decrypt by the grantee of {n} grants: {:?} wall, CPU {cpu:?} per call",
            t.elapsed() / rounds
        );
    }
}
