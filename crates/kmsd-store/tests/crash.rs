//! Crash consistency: a child process commits sequential records and prints
//! each key only after `commit` returned; the parent SIGKILLs it at random
//! moments, reopens the store and checks that every acknowledged record is
//! there, that commits are atomic (records and counter agree), and that
//! records form a gap-free prefix.
//!
//! The child is this test binary re-invoked with `KMSD_CRASH_CHILD_DIR` set.
//! SIGKILL loses the process, not the page cache, so this checks the commit
//! protocol and recovery on open; power-loss ordering is redb's own concern.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test code: a failed expectation panics"
)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kmsd_core::store::{Mutation, Store};
use kmsd_store::RedbStore;

const CHILD_DIR: &str = "KMSD_CRASH_CHILD_DIR";
const CHILD_START: &str = "KMSD_CRASH_CHILD_START";
/// Kill/reopen rounds; `KMSD_CRASH_ROUNDS` overrides for longer stress runs.
const ROUNDS: usize = 25;

fn value_for(i: u64) -> Vec<u8> {
    // Sizes vary (up to ~12 KiB) so commits span several pages sometimes.
    let len = 16 + (i as usize * 977) % 12_000;
    (0..len).map(|j| (i as usize + j) as u8).collect()
}

fn key_for(i: u64) -> String {
    format!("rec{i:08}")
}

/// Child entry point: does nothing unless re-invoked by `sigkill_never_loses_acknowledged_commits`.
#[test]
fn crash_child_entry() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let start: u64 = std::env::var(CHILD_START).unwrap().parse().unwrap();
    let store = RedbStore::open(Path::new(&dir)).unwrap();
    let mut out = std::io::stdout().lock();
    writeln!(out, "OPEN").unwrap();
    out.flush().unwrap();
    for i in start.. {
        let mut muts = vec![
            Mutation::Put {
                table: "records",
                key: key_for(i),
                value: value_for(i),
            },
            Mutation::Put {
                table: "counter",
                key: "last".into(),
                value: i.to_be_bytes().to_vec(),
            },
        ];
        if i % 7 == 0 && i > 0 {
            // Churn: rewrite an older record in the same atomic commit.
            muts.push(Mutation::Put {
                table: "records",
                key: key_for(i / 2),
                value: value_for(i / 2),
            });
        }
        store.commit(&muts).unwrap();
        writeln!(out, "ACK {i}").unwrap();
        out.flush().unwrap();
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn check(dir: &Path) -> (Option<u64>, usize) {
    let store = RedbStore::open(dir).expect("store must open cleanly after SIGKILL");
    let records = store.load("records").unwrap();
    let counter = store.load("counter").unwrap();
    let last = counter
        .first()
        .map(|(_, v)| u64::from_be_bytes(v.as_slice().try_into().unwrap()));
    // Gap-free prefix 0..=last, each value intact; counter agrees with records (atomicity).
    match last {
        None => assert!(records.is_empty()),
        Some(last) => {
            assert_eq!(
                records.len() as u64,
                last + 1,
                "records and counter disagree"
            );
            for (n, (k, v)) in records.iter().enumerate() {
                assert_eq!(k, &key_for(n as u64));
                assert_eq!(v, &value_for(n as u64), "value of {k} corrupt");
            }
        }
    }
    (last, records.len())
}

#[test]
fn sigkill_never_loses_acknowledged_commits() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let exe = std::env::current_exe().unwrap();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let mut next_start = 0u64;
    let mut max_acked: Option<u64> = None;
    let mut total_acks = 0usize;
    let rounds = std::env::var("KMSD_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS);
    let mut opens = 0usize;
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_entry",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, &dir)
            .env(CHILD_START, next_start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            let mut opened = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.ends_with("OPEN") {
                    opened = true;
                } else if let Some(n) = line.strip_prefix("ACK ") {
                    acks.push(n.parse::<u64>().unwrap());
                }
            }
            (opened, acks)
        });
        // Kill at a random moment: sometimes during open/recovery, mostly mid-commit stream.
        let delay = match rng.next() % 10 {
            0 => rng.next() % 5,
            _ => 10 + rng.next() % 150,
        };
        std::thread::sleep(Duration::from_millis(delay));
        child.kill().unwrap(); // SIGKILL on Unix
        let status = child.wait().unwrap();
        assert!(!status.success(), "child exited on its own: {status}");
        let (opened, acks) = reader.join().unwrap();
        if let Some(&m) = acks.last() {
            max_acked = Some(m);
        }
        total_acks += acks.len();
        opens += usize::from(opened);
        let (last, n) = check(&dir);
        if let Some(m) = max_acked {
            assert!(
                last.is_some_and(|l| l >= m),
                "round {round}: acked {m} but store has {last:?}"
            );
        }
        eprintln!(
            "round {round}: killed after {delay} ms, opened={opened}, acked {} this round, store holds {n}",
            acks.len()
        );
        next_start = last.map_or(0, |l| l + 1);
    }
    eprintln!("{rounds} kills, {opens} after open completed, {total_acks} acknowledged commits");
    assert!(
        opens * 2 > rounds,
        "the child rarely got past open: {opens}/{rounds}"
    );
    assert!(
        total_acks > rounds,
        "too few acknowledged commits to mean anything: {total_acks}"
    );
}
