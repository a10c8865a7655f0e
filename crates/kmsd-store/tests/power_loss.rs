//! Power-loss simulation: a storage backend keeps the image as of the last
//! fsync plus the writes issued since. At a random point the "power fails":
//! every later operation errors (so nothing more can be acknowledged), and
//! the surviving image is the synced image plus a random subset of the
//! unsynced writes, some of them torn at 512-byte sector boundaries, as a disk
//! with a volatile write cache may leave it. The store reopened on that image
//! must hold every acknowledged commit, atomically.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "test code: a failed expectation panics"
)]

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use kmsd_core::store::{Mutation, Store};
use kmsd_store::RedbStore;
use redb::StorageBackend;

#[derive(Clone)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

#[derive(Default)]
struct Sim {
    image: Vec<u8>,
    synced: Vec<u8>,
    pending: Vec<Op>,
    /// Operations left before the power fails (`None`: never).
    ops_left: Option<u64>,
    dead: bool,
}

#[derive(Clone, Default)]
struct Disk(Arc<Mutex<Sim>>);

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Disk")
    }
}

fn power_off() -> io::Error {
    io::Error::other("power failure (simulated)")
}

impl Sim {
    fn step(&mut self) -> Result<(), io::Error> {
        if self.dead {
            return Err(power_off());
        }
        if let Some(n) = self.ops_left.as_mut() {
            if *n == 0 {
                self.dead = true;
                return Err(power_off());
            }
            *n -= 1;
        }
        Ok(())
    }
}

fn apply(image: &mut Vec<u8>, op: &Op) {
    match op {
        Op::SetLen(len) => image.resize(*len as usize, 0),
        Op::Write(off, data) => {
            let end = *off as usize + data.len();
            if image.len() < end {
                image.resize(end, 0);
            }
            image[*off as usize..end].copy_from_slice(data);
        }
    }
}

impl StorageBackend for Disk {
    fn len(&self) -> Result<u64, io::Error> {
        let s = self.0.lock().unwrap();
        if s.dead {
            return Err(power_off());
        }
        Ok(s.image.len() as u64)
    }
    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, io::Error> {
        let s = self.0.lock().unwrap();
        if s.dead {
            return Err(power_off());
        }
        let start = offset as usize;
        s.image
            .get(start..start + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past end"))
    }
    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let mut s = self.0.lock().unwrap();
        s.step()?;
        let op = Op::SetLen(len);
        apply(&mut s.image, &op);
        s.pending.push(op);
        Ok(())
    }
    fn sync_data(&self, _eventual: bool) -> Result<(), io::Error> {
        let mut s = self.0.lock().unwrap();
        s.step()?;
        s.synced = s.image.clone();
        s.pending.clear();
        Ok(())
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut s = self.0.lock().unwrap();
        s.step()?;
        let op = Op::Write(offset, data.to_vec());
        apply(&mut s.image, &op);
        s.pending.push(op);
        Ok(())
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

/// The image a power cut leaves: synced state plus a random subset of the
/// unsynced operations, writes possibly torn to a prefix of their sectors.
fn surviving_image(sim: &Sim, rng: &mut Rng) -> Vec<u8> {
    let mut image = sim.synced.clone();
    for op in &sim.pending {
        if rng.next() % 2 == 0 {
            continue;
        }
        match op {
            Op::Write(off, data) if data.len() > 512 && rng.next() % 4 == 0 => {
                let sectors = data.len().div_ceil(512);
                let keep = (rng.next() as usize % sectors) * 512;
                apply(&mut image, &Op::Write(*off, data[..keep].to_vec()));
            }
            other => apply(&mut image, other),
        }
    }
    image
}

fn key_for(i: u64) -> String {
    format!("rec{i:08}")
}

fn value_for(i: u64) -> Vec<u8> {
    let len = 8 + (i as usize * 733) % 6000;
    (0..len).map(|j| (i as usize ^ j) as u8).collect()
}

#[test]
fn power_loss_never_loses_acknowledged_commits() {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("power-loss seed {seed}");
    let mut rng = Rng(seed);
    let mut image = Vec::new();
    let mut next = 0u64;
    let mut acked_total = 0u64;
    let rounds: u64 = std::env::var("KMSD_POWER_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(60);
    for round in 0..rounds {
        let disk = Disk(Arc::new(Mutex::new(Sim {
            image: image.clone(),
            synced: image.clone(),
            ..Sim::default()
        })));
        // Open without faults (recovery of the previous round's image happens here).
        let store = RedbStore::open_with_backend(disk.clone())
            .unwrap_or_else(|e| panic!("round {round}: store does not open after power loss: {e}"));
        // Verify what survived.
        let records = store.load("records").unwrap();
        let counter = store.load("counter").unwrap();
        let last = counter
            .first()
            .map(|(_, v)| u64::from_be_bytes(v.as_slice().try_into().unwrap()));
        assert_eq!(
            records.len() as u64,
            last.map_or(0, |l| l + 1),
            "round {round}: not atomic"
        );
        for (n, (k, v)) in records.iter().enumerate() {
            assert_eq!(k, &key_for(n as u64));
            assert_eq!(v, &value_for(n as u64), "round {round}: {k} corrupt");
        }
        assert!(
            records.len() as u64 >= next,
            "round {round}: {} acknowledged records, only {} survived",
            next,
            records.len()
        );
        next = records.len() as u64;
        // Arm the power cut and commit until it hits.
        disk.0.lock().unwrap().ops_left = Some(rng.next() % 120);
        let mut acked = 0;
        for i in next.. {
            let muts = [
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
            if store.commit(&muts).is_err() {
                break;
            }
            acked += 1;
        }
        next += acked;
        acked_total += acked;
        let sim = disk.0.lock().unwrap();
        image = surviving_image(&sim, &mut rng);
        drop(sim);
        drop(store);
    }
    eprintln!("{acked_total} commits acknowledged across {rounds} power cuts");
    assert!(acked_total > rounds);
}
