//! Whole-server crash consistency: the real `kmsd` binary is SIGKILLed under concurrent
//! load again and again on the same data directory, and everything it acknowledged (HTTP
//! 200) must be there after each restart.
//!
//! - `kill_restart_cycles_lose_nothing_acknowledged`: `KMSD_CRASH_CYCLES` (default 50)
//!   cycles of: start, three client threads doing CreateKey, CreateAlias, CreateGrant,
//!   PutKeyPolicy, TagResource, EnableKeyRotation, RotateKeyOnDemand and Encrypt, CreateKey
//!   MultiRegion and ReplicateKey (to eu-west-1), SIGKILL
//!   after a random 20–300 ms, restart, check the previous cycle's acknowledgements
//!   (DescribeKey, ListAliases, ListGrants, GetKeyPolicy, ListResourceTags,
//!   GetKeyRotationStatus, ListKeyRotations, Decrypt; a replica is there with its material
//!   and named by its primary when acknowledged, and for a ReplicateKey killed in flight
//!   either entirely there or entirely absent). Every fifth cycle also kills a start
//!   half-way (1–80 ms after spawn: store open, bootstrap apply). At the end every
//!   acknowledgement of every cycle is checked once more, and a sweep checks that every
//!   listed key describes and every alias names a listed key, and the audit log holds a
//!   readable success record for every acknowledged call. `KMSD_CRASH_SEED` replays a run.
//! - `impossible_data_dir_is_a_clean_startup_error`: a path under a regular file, a regular
//!   file, a read-only filesystem (tmpfs mounted `ro`; skipped with a printed reason where
//!   mount is not permitted) and a garbage store file: exit non-zero, message on stderr, no
//!   panic.
//! - `full_disk_gives_clean_errors_and_loses_nothing`: the data directory on a 2 MiB tmpfs
//!   (needs root; skipped with a printed reason otherwise) filled up: requests fail with an
//!   AWS-shaped 5xx error; after freeing space and restarting, all acknowledged data is there.

#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{b64, kms, kms_ok, try_kms, try_kms_in, Rng, Server, ACCOUNT};
use serde_json::{json, Value};

const THREADS: usize = 3;
const GRANTEE: &str = "arn:aws:iam::111122223333:user/alice";
/// The Region of the replicas ReplicateKey makes (the clients sign in us-east-1).
const REPLICA_REGION: &str = "eu-west-1";

/// Everything acknowledged with HTTP 200 (and what may have been applied without an answer).
#[derive(Debug, Default, Clone)]
struct Ledger {
    keys: BTreeSet<String>,
    /// key id -> alias names.
    aliases: BTreeMap<String, BTreeSet<String>>,
    /// key id -> grant ids.
    grants: BTreeMap<String, BTreeSet<String>>,
    /// key id -> Sid of the last acknowledged PutKeyPolicy.
    policy_acked: BTreeMap<String, String>,
    /// key id -> Sids sent without an answer (the server died first).
    policy_pending: BTreeMap<String, BTreeSet<String>>,
    /// key id -> tags.
    tags: BTreeMap<String, BTreeMap<String, String>>,
    rotation_enabled: BTreeSet<String>,
    /// key id -> acknowledged RotateKeyOnDemand calls.
    on_demand: BTreeMap<String, usize>,
    /// (blob, plaintext base64, encryption context value).
    ciphertexts: Vec<(String, String, String)>,
    /// Multi-Region key id -> (blob, plaintext base64, encryption context value).
    mrk_ciphertexts: BTreeMap<String, Vec<(String, String, String)>>,
    /// Multi-Region keys whose ReplicateKey was acknowledged.
    replicas: BTreeSet<String>,
    /// Multi-Region keys whose ReplicateKey was sent without an answer.
    replicas_pending: BTreeSet<String>,
    /// Answers that are neither 200 nor a transport failure.
    unexpected: Vec<String>,
    acks: usize,
    /// Operation -> acknowledged calls.
    acks_by_op: BTreeMap<String, usize>,
}

impl Ledger {
    fn merge(&mut self, o: Ledger) {
        self.keys.extend(o.keys);
        for (k, v) in o.aliases {
            self.aliases.entry(k).or_default().extend(v);
        }
        for (k, v) in o.grants {
            self.grants.entry(k).or_default().extend(v);
        }
        self.policy_acked.extend(o.policy_acked);
        for (k, v) in o.policy_pending {
            self.policy_pending.entry(k).or_default().extend(v);
        }
        for (k, v) in o.tags {
            self.tags.entry(k).or_default().extend(v);
        }
        self.rotation_enabled.extend(o.rotation_enabled);
        for (k, v) in o.on_demand {
            *self.on_demand.entry(k).or_default() += v;
        }
        self.ciphertexts.extend(o.ciphertexts);
        for (k, v) in o.mrk_ciphertexts {
            self.mrk_ciphertexts.entry(k).or_default().extend(v);
        }
        self.replicas.extend(o.replicas);
        self.replicas_pending.extend(o.replicas_pending);
        self.replicas_pending.retain(|k| !self.replicas.contains(k));
        self.unexpected.extend(o.unexpected);
        self.acks += o.acks;
        for (k, v) in o.acks_by_op {
            *self.acks_by_op.entry(k).or_default() += v;
        }
    }
}

fn policy(sid: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}

/// One client thread: random operations on keys it created in this cycle (so no other
/// thread changes them) until the server goes away.
fn client(addr: SocketAddr, seed: u64, cycle: usize, tid: usize, ledger: Arc<Mutex<Ledger>>) {
    let mut rng = Rng::new(seed);
    let mut mine: Vec<String> = Vec::new();
    let mut rotations: BTreeMap<String, usize> = BTreeMap::new();
    let mut replicated: BTreeSet<String> = BTreeSet::new();
    for n in 0.. {
        let tag = format!("c{cycle}-t{tid}-n{n}");
        let choice = if mine.is_empty() { 0 } else { rng.range(0, 14) };
        let key = if mine.is_empty() {
            String::new()
        } else {
            mine[rng.range(0, mine.len() as u64 - 1) as usize].clone()
        };
        let (op, input) = match choice {
            0 => (
                "CreateKey",
                json!({ "Description": format!("crash {tag}") }),
            ),
            1 => (
                "CreateAlias",
                json!({"AliasName": format!("alias/crash-{tag}"), "TargetKeyId": key}),
            ),
            2 => (
                "CreateGrant",
                json!({"KeyId": key, "GranteePrincipal": GRANTEE, "Operations": ["Encrypt", "Decrypt"]}),
            ),
            3 => {
                ledger
                    .lock()
                    .unwrap()
                    .policy_pending
                    .entry(key.clone())
                    .or_default()
                    .insert(tag.clone());
                (
                    "PutKeyPolicy",
                    json!({"KeyId": key, "PolicyName": "default", "Policy": policy(&tag)}),
                )
            }
            4 => (
                "TagResource",
                json!({"KeyId": key, "Tags": [{"TagKey": format!("k-{n}"), "TagValue": tag}]}),
            ),
            5 => ("EnableKeyRotation", json!({ "KeyId": key })),
            6 if rotations.get(&key).copied().unwrap_or(0) < 2 => {
                *rotations.entry(key.clone()).or_default() += 1;
                ("RotateKeyOnDemand", json!({ "KeyId": key }))
            }
            12 => (
                "CreateKey",
                json!({ "Description": format!("crash {tag}"), "MultiRegion": true }),
            ),
            13 if key.starts_with("mrk-") && !replicated.contains(&key) => {
                replicated.insert(key.clone());
                ledger.lock().unwrap().replicas_pending.insert(key.clone());
                (
                    "ReplicateKey",
                    json!({"KeyId": key, "ReplicaRegion": REPLICA_REGION, "Description": tag}),
                )
            }
            _ => {
                let len = rng.range(1, 64) as usize;
                let pt: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                (
                    "Encrypt",
                    json!({"KeyId": key, "Plaintext": b64(&pt), "EncryptionContext": {"t": tag}}),
                )
            }
        };
        let (status, v) = match try_kms(addr, op, &input) {
            Ok(x) => x,
            Err(_) => return, // killed: this request is unacknowledged
        };
        let mut l = ledger.lock().unwrap();
        if status != 200 {
            l.unexpected
                .push(format!("{op} {input}: HTTP {status} {v}"));
            continue;
        }
        l.acks += 1;
        *l.acks_by_op.entry(op.to_string()).or_default() += 1;
        match op {
            "CreateKey" => {
                let id = v["KeyMetadata"]["KeyId"].as_str().unwrap_or("").to_string();
                l.keys.insert(id.clone());
                mine.push(id);
            }
            "CreateAlias" => {
                let name = input["AliasName"].as_str().unwrap_or("").to_string();
                l.aliases.entry(key).or_default().insert(name);
            }
            "CreateGrant" => {
                let gid = v["GrantId"].as_str().unwrap_or("").to_string();
                l.grants.entry(key).or_default().insert(gid);
            }
            "PutKeyPolicy" => {
                if let Some(p) = l.policy_pending.get_mut(&key) {
                    p.remove(&tag);
                }
                l.policy_acked.insert(key, tag);
            }
            "TagResource" => {
                l.tags.entry(key).or_default().insert(format!("k-{n}"), tag);
            }
            "EnableKeyRotation" => {
                l.rotation_enabled.insert(key);
            }
            "RotateKeyOnDemand" => {
                *l.on_demand.entry(key).or_default() += 1;
            }
            "ReplicateKey" => {
                l.replicas_pending.remove(&key);
                l.replicas.insert(key);
            }
            "Encrypt" => {
                let blob = v["CiphertextBlob"].as_str().unwrap_or("").to_string();
                let pt = input["Plaintext"].as_str().unwrap_or("").to_string();
                if key.starts_with("mrk-") {
                    l.mrk_ciphertexts.entry(key).or_default().push((
                        blob.clone(),
                        pt.clone(),
                        tag.clone(),
                    ));
                }
                l.ciphertexts.push((blob, pt, tag));
            }
            _ => {}
        }
    }
}

/// Check every acknowledgement of `l` against the running server; returns the problems.
fn verify(addr: SocketAddr, l: &Ledger) -> Vec<String> {
    let mut bad = Vec::new();
    let mut problems = Vec::new();
    let mut call = |op: &str, input: Value| -> Option<Value> {
        match try_kms(addr, op, &input) {
            Ok((200, v)) => Some(v),
            Ok((s, v)) => {
                bad.push(format!("{op} {input}: HTTP {s} {v}"));
                None
            }
            Err(e) => {
                bad.push(format!("{op} {input}: {e}"));
                None
            }
        }
    };
    for k in &l.keys {
        if let Some(v) = call("DescribeKey", json!({ "KeyId": k })) {
            if v["KeyMetadata"]["KeyId"] != k.as_str() {
                problems.push(format!("DescribeKey {k}: {v}"));
            }
        }
    }
    for (k, names) in &l.aliases {
        if let Some(v) = call("ListAliases", json!({"KeyId": k, "Limit": 100})) {
            let have: BTreeSet<&str> = v["Aliases"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["AliasName"].as_str()).collect())
                .unwrap_or_default();
            for n in names {
                if !have.contains(n.as_str()) {
                    problems.push(format!("alias {n} of key {k} lost"));
                }
            }
        }
    }
    for (k, gids) in &l.grants {
        if let Some(v) = call("ListGrants", json!({"KeyId": k, "Limit": 100})) {
            let have: BTreeSet<&str> = v["Grants"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x["GrantId"].as_str()).collect())
                .unwrap_or_default();
            for g in gids {
                if !have.contains(g.as_str()) {
                    problems.push(format!("grant {g} of key {k} lost"));
                }
            }
        }
    }
    for (k, sid) in &l.policy_acked {
        if let Some(v) = call("GetKeyPolicy", json!({"KeyId": k, "PolicyName": "default"})) {
            let doc: Value =
                serde_json::from_str(v["Policy"].as_str().unwrap_or("")).unwrap_or_default();
            let got = doc["Statement"][0]["Sid"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let pending = l.policy_pending.get(k);
            if &got != sid && !pending.is_some_and(|p| p.contains(&got)) {
                problems.push(format!(
                    "key {k}: policy Sid {got:?}, acknowledged {sid:?}, in flight {pending:?}"
                ));
            }
        }
    }
    for (k, tags) in &l.tags {
        if let Some(v) = call("ListResourceTags", json!({"KeyId": k, "Limit": 50})) {
            let have: BTreeMap<&str, &str> = v["Tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|x| Some((x["TagKey"].as_str()?, x["TagValue"].as_str()?)))
                        .collect()
                })
                .unwrap_or_default();
            for (tk, tv) in tags {
                if have.get(tk.as_str()) != Some(&tv.as_str()) {
                    problems.push(format!("tag {tk}={tv} of key {k} lost"));
                }
            }
        }
    }
    for k in &l.rotation_enabled {
        if let Some(v) = call("GetKeyRotationStatus", json!({ "KeyId": k })) {
            if v["KeyRotationEnabled"] != true {
                problems.push(format!("key {k}: rotation no longer enabled: {v}"));
            }
        }
    }
    for (k, n) in &l.on_demand {
        if let Some(v) = call("ListKeyRotations", json!({"KeyId": k, "Limit": 100})) {
            let got = v["Rotations"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter(|r| r["RotationType"] == "ON_DEMAND")
                        .count()
                })
                .unwrap_or(0);
            if got < *n {
                problems.push(format!(
                    "key {k}: {got} on-demand rotations, {n} acknowledged"
                ));
            }
        }
    }
    for (blob, pt, ec) in &l.ciphertexts {
        if let Some(v) = call(
            "Decrypt",
            json!({"CiphertextBlob": blob, "EncryptionContext": {"t": ec}}),
        ) {
            if v["Plaintext"] != pt.as_str() {
                problems.push(format!("ciphertext of {ec}: wrong plaintext"));
            }
        }
    }
    bad.extend(problems);
    bad.extend(verify_replicas(addr, l));
    bad
}

/// A replica is all there or not there at all: its record (DescribeKey in its Region), its
/// material (every ciphertext of its primary decrypts there) and its primary's
/// MultiRegionConfiguration agree. Acknowledged replicas must be there.
fn verify_replicas(addr: SocketAddr, l: &Ledger) -> Vec<String> {
    let mut problems = Vec::new();
    for k in l.replicas.iter().chain(&l.replicas_pending) {
        let acked = l.replicas.contains(k);
        let replica = match try_kms_in(addr, REPLICA_REGION, "DescribeKey", &json!({ "KeyId": k }))
        {
            Ok((200, v)) => Some(v),
            Ok((400, v)) if v["__type"] == "NotFoundException" => None,
            other => {
                problems.push(format!("DescribeKey {k} in {REPLICA_REGION}: {other:?}"));
                continue;
            }
        };
        let primary = match try_kms(addr, "DescribeKey", &json!({ "KeyId": k })) {
            Ok((200, v)) => v,
            other => {
                problems.push(format!("DescribeKey {k} (primary): {other:?}"));
                continue;
            }
        };
        let listed = primary["KeyMetadata"]["MultiRegionConfiguration"]["ReplicaKeys"]
            .as_array()
            .is_some_and(|a| a.iter().any(|r| r["Region"] == REPLICA_REGION));
        match replica {
            None if acked => problems.push(format!("acknowledged replica of {k} lost")),
            None if listed => problems.push(format!(
                "replica of {k} absent but its primary names it: {primary}"
            )),
            None => {}
            Some(v) => {
                let c = &v["KeyMetadata"]["MultiRegionConfiguration"];
                if c["MultiRegionKeyType"] != "REPLICA" || !listed {
                    problems.push(format!("replica of {k} half there: {v}; primary {primary}"));
                }
                for (blob, pt, ec) in l.mrk_ciphertexts.get(k).into_iter().flatten() {
                    match try_kms_in(
                        addr,
                        REPLICA_REGION,
                        "Decrypt",
                        &json!({"CiphertextBlob": blob, "EncryptionContext": {"t": ec}}),
                    ) {
                        Ok((200, d)) if d["Plaintext"] == pt.as_str() => {}
                        other => problems.push(format!(
                            "replica of {k} does not decrypt the ciphertext of {ec}: {other:?}"
                        )),
                    }
                }
            }
        }
    }
    problems
}

/// Start kmsd and SIGKILL it `after_ms` later, whether or not it is listening yet.
fn kill_during_startup(data: &Path, after_ms: u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kmsd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .arg("--bootstrap")
        .arg(common::world())
        .env_remove("KMSD_ROOT_KEY")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = child.kill();
    let _ = child.wait();
}

/// Whole-store consistency: every listed key describes, every alias names a listed key.
fn sweep(addr: SocketAddr) -> Vec<String> {
    let mut problems = Vec::new();
    let mut keys = BTreeSet::new();
    let mut marker: Option<String> = None;
    loop {
        let mut input = json!({"Limit": 1000});
        if let Some(m) = &marker {
            input["Marker"] = json!(m);
        }
        let v = kms_ok(addr, "ListKeys", &input);
        for k in v["Keys"].as_array().into_iter().flatten() {
            keys.insert(k["KeyId"].as_str().unwrap_or("").to_string());
        }
        match v["NextMarker"].as_str() {
            Some(m) if v["Truncated"] == true => marker = Some(m.to_string()),
            _ => break,
        }
    }
    for k in &keys {
        let (s, v) = kms(addr, "DescribeKey", &json!({ "KeyId": k }));
        if s != 200 {
            problems.push(format!("listed key {k} does not describe: HTTP {s} {v}"));
        }
    }
    let mut marker: Option<String> = None;
    loop {
        let mut input = json!({"Limit": 100});
        if let Some(m) = &marker {
            input["Marker"] = json!(m);
        }
        let v = kms_ok(addr, "ListAliases", &input);
        for a in v["Aliases"].as_array().into_iter().flatten() {
            if let Some(t) = a["TargetKeyId"].as_str() {
                if !keys.contains(t) {
                    problems.push(format!("alias {} targets unlisted key {t}", a["AliasName"]));
                }
            }
        }
        match v["NextMarker"].as_str() {
            Some(m) if v["Truncated"] == true => marker = Some(m.to_string()),
            _ => break,
        }
    }
    if keys.is_empty() {
        problems.push("ListKeys returned no keys".to_string());
    }
    problems
}

/// Every acknowledged call has its audit line (the server sends a response only after its
/// line is on disk). Torn lines (at most one per kill) are tolerated, nothing else.
fn audit_covers(dir: &Path, l: &Ledger, kills: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let mut torn = 0usize;
    let mut ok_by_op: BTreeMap<String, usize> = BTreeMap::new();
    let mut created = BTreeSet::new();
    let mut aliases = BTreeSet::new();
    let files: Vec<_> = match std::fs::read_dir(dir) {
        Ok(d) => d.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
        Err(e) => return vec![format!("audit dir {}: {e}", dir.display())],
    };
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        for line in bytes.split(|b| *b == b'\n').filter(|x| !x.is_empty()) {
            let Ok(e) = serde_json::from_slice::<Value>(line) else {
                torn += 1;
                continue;
            };
            if !e["errorCode"].is_null() || e["eventSource"] != "kms.amazonaws.com" {
                continue;
            }
            let name = e["eventName"].as_str().unwrap_or("").to_string();
            if name == "CreateKey" {
                if let Some(id) = e["responseElements"]["keyMetadata"]["keyId"].as_str() {
                    created.insert(id.to_string());
                }
            }
            if name == "CreateAlias" {
                if let Some(a) = e["requestParameters"]["aliasName"].as_str() {
                    aliases.insert(a.to_string());
                }
            }
            *ok_by_op.entry(name).or_default() += 1;
        }
    }
    // Each kill may tear the line being written (the next start ends it).
    if torn > kills + 2 {
        problems.push(format!("{torn} unreadable audit lines for {kills} kills"));
    }
    for (op, n) in &l.acks_by_op {
        let got = ok_by_op.get(op).copied().unwrap_or(0);
        if got < *n {
            problems.push(format!(
                "{op}: {n} acknowledged, {got} successful audit records"
            ));
        }
    }
    for k in &l.keys {
        if !created.contains(k) {
            problems.push(format!(
                "no CreateKey audit record for acknowledged key {k}"
            ));
        }
    }
    for a in l.aliases.values().flatten() {
        if !aliases.contains(a) {
            problems.push(format!("no CreateAlias audit record for acknowledged {a}"));
        }
    }
    problems
}

fn assert_clean_stderr(server: &Server, when: &str) {
    let err = server.stderr();
    assert!(!err.contains("panicked"), "kmsd panicked ({when}):\n{err}");
}

#[test]
fn kill_restart_cycles_lose_nothing_acknowledged() {
    let cycles: usize = std::env::var("KMSD_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut rng = Rng::new(common::seed("KMSD_CRASH_SEED"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let stderr = dir.path().join("kmsd.stderr");
    let started = Instant::now();
    let mut all = Ledger::default();
    let mut previous = Ledger::default();
    let mut checks = 0usize;

    for cycle in 0..cycles {
        // Every fifth cycle also kills a start half-way (store open, bootstrap apply).
        if cycle % 5 == 4 {
            kill_during_startup(&data, rng.range(1, 80));
        }
        let server = Server::start(&data, &stderr, &[]);
        assert_clean_stderr(&server, &format!("start of cycle {cycle}"));
        let problems = verify(server.addr, &previous);
        assert!(
            problems.is_empty(),
            "after kill #{cycle}: {} problem(s):\n{}",
            problems.len(),
            problems.join("\n")
        );
        checks += previous.acks;
        all.merge(std::mem::take(&mut previous));

        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let handles: Vec<_> = (0..THREADS)
            .map(|tid| {
                let ledger = ledger.clone();
                let seed = rng.next_u64();
                let addr = server.addr;
                std::thread::spawn(move || client(addr, seed, cycle, tid, ledger))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(20, 300)));
        server.kill();
        for h in handles {
            h.join().unwrap();
        }
        previous = Arc::try_unwrap(ledger).unwrap().into_inner().unwrap();
        assert!(
            previous.unexpected.is_empty(),
            "cycle {cycle}: unexpected answers:\n{}",
            previous.unexpected.join("\n")
        );
    }

    // Last restart: the last cycle's acknowledgements, then everything once more.
    let server = Server::start(&data, &stderr, &[]);
    let problems = verify(server.addr, &previous);
    assert!(
        problems.is_empty(),
        "after the last kill:\n{}",
        problems.join("\n")
    );
    all.merge(previous);
    let problems = verify(server.addr, &all);
    assert!(problems.is_empty(), "final check:\n{}", problems.join("\n"));
    let problems = sweep(server.addr);
    assert!(problems.is_empty(), "store sweep:\n{}", problems.join("\n"));
    assert!(server.terminate(), "clean SIGTERM exit after the cycles");
    let problems = audit_covers(&data.join("audit"), &all, cycles);
    assert!(problems.is_empty(), "audit log:\n{}", problems.join("\n"));
    eprintln!(
        "{cycles} kill/restart cycles in {:.1} s: {} acknowledged calls ({} keys, {} ciphertexts, {} replicas acknowledged, {} ReplicateKey calls cut by a kill), all present",
        started.elapsed().as_secs_f64(),
        all.acks,
        all.keys.len(),
        all.ciphertexts.len(),
        all.replicas.len(),
        all.replicas_pending.len()
    );
    let _ = checks;
    assert!(
        cycles < 10 || all.acks > cycles,
        "the load produced too few acknowledgements to mean anything"
    );
}

#[test]
fn impossible_data_dir_is_a_clean_startup_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    for data in [file.join("data"), file.clone()] {
        let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .arg("--bootstrap")
            .arg(common::world())
            .env_remove("KMSD_ROOT_KEY")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: {err}", data.display());
        assert!(out.status.code().is_some(), "killed by a signal: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("kmsd:"), "{err}");
        assert!(out.stdout.is_empty(), "did not start listening");
    }
    // A read-only filesystem (root ignores mode bits, so mount one): the directory exists
    // but nothing can be created in it.
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    match mount_tmpfs(&ro, "1m,ro") {
        Err(reason) => eprintln!("SKIPPED read-only data dir case: {reason}"),
        Ok(()) => {
            let _unmount = Unmount(&ro);
            for data in [ro.clone(), ro.join("data")] {
                let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
                    .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
                    .arg(&data)
                    .env_remove("KMSD_ROOT_KEY")
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(1), "{}: {err}", data.display());
                assert!(!err.contains("panicked"), "{err}");
                assert!(err.contains("kmsd:"), "{err}");
                assert!(err.to_lowercase().contains("read-only"), "{err}");
            }
        }
    }
    // A file that is no redb database where the store should be.
    let data = dir.path().join("data2");
    std::fs::create_dir(&data).unwrap();
    let stderr = dir.path().join("s");
    Server::start(&data, &stderr, &[]).kill();
    let store_files: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "redb"))
        .collect();
    assert_eq!(store_files.len(), 1, "one store file in the data directory");
    for f in &store_files {
        std::fs::write(f, b"garbage garbage garbage").unwrap();
    }
    {
        let out = Command::new(env!("CARGO_BIN_EXE_kmsd"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .env_remove("KMSD_ROOT_KEY")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(err.contains("kmsd:"), "{err}");
    }
}

/// Mount a tmpfs of `size` on `dir`; `Err(reason)` if not permitted here.
fn mount_tmpfs(dir: &Path, size: &str) -> Result<(), String> {
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output()
        .map_err(|e| format!("cannot run mount: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "mount -t tmpfs failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

struct Unmount<'a>(&'a Path);
impl Drop for Unmount<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.0).status();
    }
}

#[test]
fn full_disk_gives_clean_errors_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if let Err(reason) = mount_tmpfs(&mnt, "2m") {
        eprintln!("SKIPPED full_disk_gives_clean_errors_and_loses_nothing: {reason}");
        return;
    }
    let _unmount = Unmount(&mnt);
    let data = mnt.join("data");
    let stderr = dir.path().join("kmsd.stderr");
    let server = Server::start(&data, &stderr, &[]);
    let addr = server.addr;

    // Some acknowledged state before the disk fills.
    let mut ledger = Ledger::default();
    let key = kms_ok(addr, "CreateKey", &json!({"Description": "before full"}))["KeyMetadata"]
        ["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    ledger.keys.insert(key.clone());
    kms_ok(
        addr,
        "CreateAlias",
        &json!({"AliasName": "alias/full-disk", "TargetKeyId": key}),
    );
    ledger
        .aliases
        .entry(key.clone())
        .or_default()
        .insert("alias/full-disk".into());
    let pt = b64(b"written before the disk filled");
    let blob = kms_ok(
        addr,
        "Encrypt",
        &json!({"KeyId": key, "Plaintext": pt, "EncryptionContext": {"t": "full"}}),
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    ledger.ciphertexts.push((blob, pt, "full".into()));

    // Fill the filesystem.
    let filler = mnt.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
    }

    // Writes (and the audit lines every request needs) now fail: AWS-shaped 5xx, no panic.
    let mut failures = 0;
    let mut acked_while_full = 0;
    let mut codes = BTreeSet::new();
    for i in 0..20 {
        let (status, v) = kms(
            addr,
            "CreateKey",
            &json!({ "Description": format!("while full {i}") }),
        );
        if status == 200 {
            // The store or the page cache found room: it must then survive like any other.
            acked_while_full += 1;
            ledger
                .keys
                .insert(v["KeyMetadata"]["KeyId"].as_str().unwrap().to_string());
            continue;
        }
        assert!(status >= 500, "HTTP {status} {v}");
        codes.insert(format!("{status} {}", v["__type"]));
        assert!(
            v["__type"].as_str().is_some_and(|t| !t.is_empty()),
            "AWS-shaped error body: {v}"
        );
        failures += 1;
    }
    let (status, v) = kms(
        addr,
        "TagResource",
        &json!({"KeyId": key, "Tags": [{"TagKey": "full", "TagValue": "yes"}]}),
    );
    if status == 200 {
        ledger
            .tags
            .entry(key.clone())
            .or_default()
            .insert("full".into(), "yes".into());
    } else {
        assert!(
            status >= 500 && v["__type"].is_string(),
            "HTTP {status} {v}"
        );
        failures += 1;
    }
    assert!(
        failures > 0,
        "no request failed on a full disk ({acked_while_full} acknowledged)"
    );
    eprintln!(
        "full disk: {failures} requests failed cleanly ({codes:?}), {acked_while_full} acknowledged"
    );
    assert_clean_stderr(&server, "disk full");

    // Free the space, restart, everything acknowledged is there and the server works.
    std::fs::remove_file(&filler).unwrap();
    server.kill();
    let server = Server::start(&data, &stderr, &[]);
    let problems = verify(server.addr, &ledger);
    assert!(
        problems.is_empty(),
        "after freeing space:\n{}",
        problems.join("\n")
    );
    kms_ok(
        server.addr,
        "CreateKey",
        &json!({"Description": "after full"}),
    );
    assert!(server.terminate());
}
