//! Server metrics: what `/metrics` reports, in the Prometheus/OpenMetrics text format
//! (encoded by `prometheus-client`).
//!
//! Owns the counters and histograms and their labels: requests by service, operation and
//! outcome (`ok` or the error code), request latency by service and operation,
//! authorization decisions by service, decision and the flowchart node the path ended at, audit log write/sync latency, queued
//! audit bytes and failed audit writes, store commit latency and failed commits, and keys by
//! state. Every label value comes from a closed set — the operation tables (`KmsOp`,
//! `IamOp`, `StsOp`), the typed error codes (`KmsError`, `IamError`, `StsError`) of
//! `kmsd-core`, the decision and key-state names; anything else is counted as `other`, so
//! no label ever carries a key id, a principal, an access key or a client's text.
//!
//! Cost on the request path: each worker thread owns a [`Shard`] of counters that only it
//! writes (a relaxed load and store, no read-modify-write, no lock shared between threads);
//! a scrape sums the shards. Error outcomes, rarer, go to a per-thread map behind the
//! thread's own (uncontended) mutex. Audit and store latencies are recorded where an fsync
//! happens anyway, with shared atomics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use kmsd_core::error::{IamError, KmsError, StsError};
use kmsd_core::iam::op::{IamOp, StsOp};
use kmsd_core::kms::KmsOp;

/// Upper bounds of the latency histograms, in seconds (the last bucket is `+Inf`).
pub const LATENCY_BOUNDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const BUCKETS: usize = LATENCY_BOUNDS.len() + 1;

/// The services a request can belong to (label `service`).
pub const SERVICES: [&str; 3] = ["kms", "iam", "sts"];
/// Decisions (label `decision`), as the audit log names them.
pub const DECISIONS: [&str; 3] = ["Allow", "ExplicitDeny", "ImplicitDeny"];
/// Flowchart nodes a decision can end at (label `node`; `none` when not known, e.g. IAM and
/// STS decisions).
pub const NODES: [&str; 10] = ["N0", "N1", "N2", "N3", "N4", "N5", "N6", "T1", "T2", "none"];
const N_DECISION_SLOTS: usize = SERVICES.len() * DECISIONS.len() * NODES.len();

/// Key states (label `state`).
pub const KEY_STATES: [&str; 6] = [
    "Enabled",
    "Disabled",
    "PendingDeletion",
    "PendingImport",
    "Unavailable",
    "PendingReplicaDeletion",
];

/// Operation slots: the KMS operations, then IAM's, then STS's (each in its table's order),
/// then one `other` slot per service.
const N_KMS: usize = KmsOp::ALL.len();
const N_IAM: usize = IamOp::ALL.len();
const N_STS: usize = StsOp::ALL.len();
const N_OPERATIONS: usize = N_KMS + N_IAM + N_STS;

/// The slot of `operation` of service `service` (0 kms, 1 iam, 2 sts); `None`: not in the
/// service's operation table.
fn operation_index(service: usize, operation: &str) -> Option<usize> {
    match service {
        1 => IamOp::from_name(operation).map(|o| N_KMS + o as usize),
        2 => StsOp::from_name(operation).map(|o| N_KMS + N_IAM + o as usize),
        _ => KmsOp::from_name(operation).map(|o| o as usize),
    }
}

/// The (service, operation) labels of an operation slot.
fn op_labels(slot: usize) -> (&'static str, &'static str) {
    if slot < N_KMS {
        if let Some(op) = KmsOp::ALL.get(slot) {
            return ("kms", op.name());
        }
    } else if slot < N_KMS + N_IAM {
        if let Some(op) = IamOp::ALL.get(slot - N_KMS) {
            return ("iam", op.name());
        }
    } else if slot < N_OPERATIONS {
        if let Some(op) = StsOp::ALL.get(slot - N_KMS - N_IAM) {
            return ("sts", op.name());
        }
    }
    let service = SERVICES
        .get(slot.saturating_sub(N_OPERATIONS))
        .copied()
        .unwrap_or("kms");
    (service, "other")
}

/// Error slots: the KMS codes, then IAM's, then STS's; `N_ERRORS` is `other`.
const N_KMS_ERR: usize = KmsError::ALL.len();
const N_IAM_ERR: usize = IamError::ALL.len();
const N_ERRORS: usize = N_KMS_ERR + N_IAM_ERR + StsError::ALL.len();

/// The slot of an error code of a request to service `service` (its own service's codes
/// first, so one code string always gets the same slot for a service).
fn error_index(service: usize, code: &str) -> Option<usize> {
    let kms = || KmsError::from_name(code).map(|c| c as usize);
    let iam = || IamError::from_name(code).map(|c| N_KMS_ERR + c as usize);
    let sts = || StsError::from_name(code).map(|c| N_KMS_ERR + N_IAM_ERR + c as usize);
    match service {
        1 => iam().or_else(sts).or_else(kms),
        2 => sts().or_else(iam).or_else(kms),
        _ => kms().or_else(iam).or_else(sts),
    }
}

/// The label of an error slot.
fn error_label(slot: usize) -> &'static str {
    if slot < N_KMS_ERR {
        KmsError::ALL.get(slot).map(|c| c.as_str())
    } else if slot < N_KMS_ERR + N_IAM_ERR {
        IamError::ALL.get(slot - N_KMS_ERR).map(|c| c.as_str())
    } else {
        StsError::ALL
            .get(slot - N_KMS_ERR - N_IAM_ERR)
            .map(|c| c.as_str())
    }
    .unwrap_or("other")
}

/// `kms.amazonaws.com` → 0, `iam.amazonaws.com` → 1, `sts.amazonaws.com` → 2.
fn service_index(event_source: &str) -> usize {
    match event_source.split('.').next() {
        Some("iam") => 1,
        Some("sts") => 2,
        _ => 0,
    }
}

/// Index of the bucket for `nanos`.
fn bucket(nanos: u64) -> usize {
    let secs = nanos as f64 / 1e9;
    LATENCY_BOUNDS
        .iter()
        .position(|b| secs <= *b)
        .unwrap_or(LATENCY_BOUNDS.len())
}

/// Adds one on a counter only the current thread writes.
#[inline]
fn bump(c: &AtomicU64, by: u64) {
    c.store(
        c.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Operation slots, the `other` slots included.
const OPS: usize = N_OPERATIONS + SERVICES.len();

fn op_slot(service: usize, op: Option<usize>) -> usize {
    op.unwrap_or(N_OPERATIONS + service)
}

/// One worker thread's counters.
struct Shard {
    /// Successful requests by operation slot.
    ok: Box<[AtomicU64]>,
    /// Failed requests by (operation slot, error index or `ERROR_CODES.len()` for other).
    errors: Mutex<HashMap<(u16, u16), u64>>,
    /// Latency bucket counts (not cumulative) by operation slot × bucket.
    latency: Box<[AtomicU64]>,
    /// Latency sums in nanoseconds by operation slot.
    latency_ns: Box<[AtomicU64]>,
    /// Decisions by service × decision × end node.
    decisions: [AtomicU64; N_DECISION_SLOTS],
}

impl Shard {
    fn new() -> Shard {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect::<Box<[_]>>();
        Shard {
            ok: zeros(OPS),
            errors: Mutex::new(HashMap::new()),
            latency: zeros(OPS * BUCKETS),
            latency_ns: zeros(OPS),
            decisions: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Every shard ever made (threads register theirs once, at their first request).
fn shards() -> &'static Mutex<Vec<Arc<Shard>>> {
    static SHARDS: OnceLock<Mutex<Vec<Arc<Shard>>>> = OnceLock::new();
    SHARDS.get_or_init(|| Mutex::new(Vec::new()))
}

thread_local! {
    static SHARD: Arc<Shard> = {
        let s = Arc::new(Shard::new());
        shards().lock().push(s.clone());
        s
    };
}

/// What one finished request contributes.
pub struct RequestSample<'a> {
    /// The audit event's `eventSource` (`kms.amazonaws.com`, ...).
    pub event_source: &'a str,
    /// The audit event's `eventName` (the operation as the client named it).
    pub event_name: &'a str,
    /// The error code, `None` on success.
    pub error_code: Option<&'a str>,
    /// The audit event's decision (`Allow`, `ExplicitDeny`, `ImplicitDeny`), if one was made.
    pub decision: Option<&'a str>,
    /// The flowchart node the decision ended at (`N0` … `T2`), when known.
    pub end_node: Option<&'a str>,
    pub elapsed: Duration,
}

/// Count one request on the current thread's shard.
pub fn record_request(s: &RequestSample<'_>) {
    let service = service_index(s.event_source);
    let slot = op_slot(service, operation_index(service, s.event_name));
    let nanos = u64::try_from(s.elapsed.as_nanos()).unwrap_or(u64::MAX);
    SHARD.with(|shard| {
        match s.error_code {
            None => bump(&shard.ok[slot], 1),
            Some(code) => {
                let e = error_index(service, code).unwrap_or(N_ERRORS);
                // Both indices are below u16::MAX (a few hundred names).
                let key = (slot as u16, e as u16);
                *shard.errors.lock().entry(key).or_insert(0) += 1;
            }
        }
        bump(&shard.latency[slot * BUCKETS + bucket(nanos)], 1);
        bump(&shard.latency_ns[slot], nanos);
        if let Some(d) = s
            .decision
            .and_then(|d| DECISIONS.iter().position(|x| *x == d))
        {
            let node = s
                .end_node
                .and_then(|n| NODES.iter().position(|x| *x == n))
                .unwrap_or(NODES.len() - 1);
            bump(
                &shard.decisions[(service * DECISIONS.len() + d) * NODES.len() + node],
                1,
            );
        }
    });
}

/// A histogram shared between threads (for paths that fsync anyway).
pub struct SharedHistogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
}

impl SharedHistogram {
    const fn new() -> SharedHistogram {
        SharedHistogram {
            buckets: [const { AtomicU64::new(0) }; BUCKETS],
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Record one observation.
    pub fn observe(&self, d: Duration) {
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket(nanos)].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(nanos, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ([u64; BUCKETS], u64) {
        (
            std::array::from_fn(|i| self.buckets[i].load(Ordering::Relaxed)),
            self.sum_ns.load(Ordering::Relaxed),
        )
    }
}

/// Audit log batch write (+ fdatasync in `--audit-sync always`) latency.
pub static AUDIT_WRITE: SharedHistogram = SharedHistogram::new();
/// `--audit-sync interval`: latency of the periodic fdatasync.
pub static AUDIT_SYNC: SharedHistogram = SharedHistogram::new();
/// Audit batch writes that failed.
pub static AUDIT_WRITE_FAILURES: AtomicU64 = AtomicU64::new(0);
static AUDIT_HEALTHY: AtomicBool = AtomicBool::new(true);
static STORE_HEALTHY: AtomicBool = AtomicBool::new(true);

/// Note the result of the last audit write or sync (a failure also counts in
/// [`AUDIT_WRITE_FAILURES`]).
pub fn set_audit_healthy(ok: bool) {
    if !ok {
        AUDIT_WRITE_FAILURES.fetch_add(1, Ordering::Relaxed);
    }
    AUDIT_HEALTHY.store(ok, Ordering::Relaxed);
}

/// Whether the last audit write or sync succeeded.
pub fn audit_healthy() -> bool {
    AUDIT_HEALTHY.load(Ordering::Relaxed)
}

/// Whether the last store commit succeeded.
pub fn store_healthy() -> bool {
    STORE_HEALTHY.load(Ordering::Relaxed)
}

/// Store commit latency (each commit is fsynced before it returns).
pub static STORE_COMMIT: SharedHistogram = SharedHistogram::new();
/// Store commits that failed.
pub static STORE_COMMIT_FAILURES: AtomicU64 = AtomicU64::new(0);

/// Gauges read at scrape time from the running server.
pub trait Gauges: Send + Sync + 'static {
    /// Keys by state, in [`KEY_STATES`] order.
    fn keys_by_state(&self) -> [u64; KEY_STATES.len()];
    /// Audit bytes waiting in the shared queue for their write.
    fn audit_queued_bytes(&self) -> u64;
}

/// The `/metrics` collector: sums the shards and reads the gauges.
struct KmsdCollector {
    gauges: Arc<dyn Gauges>,
}

impl std::fmt::Debug for KmsdCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KmsdCollector")
    }
}

fn histogram_points(buckets: &[u64]) -> Vec<(f64, u64)> {
    LATENCY_BOUNDS
        .iter()
        .copied()
        .chain(std::iter::once(f64::MAX))
        .zip(buckets.iter().copied())
        .collect()
}

fn encode_shared_histogram(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    h: &SharedHistogram,
) -> Result<(), std::fmt::Error> {
    let (buckets, sum_ns) = h.snapshot();
    let count = buckets.iter().sum();
    let mut m = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    m.encode_histogram::<NoLabelSet>(
        sum_ns as f64 / 1e9,
        count,
        &histogram_points(&buckets),
        None,
    )
}

fn encode_counter(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    encoder
        .encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

impl Collector for KmsdCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        // Sum the shards.
        let mut ok = vec![0u64; OPS];
        let mut errors: HashMap<(u16, u16), u64> = HashMap::new();
        let mut latency = vec![0u64; OPS * BUCKETS];
        let mut latency_ns = vec![0u64; OPS];
        let mut decisions = [0u64; N_DECISION_SLOTS];
        for shard in shards().lock().iter() {
            let add = |dst: &mut [u64], src: &[AtomicU64]| {
                for (d, s) in dst.iter_mut().zip(src) {
                    *d = d.wrapping_add(s.load(Ordering::Relaxed));
                }
            };
            add(&mut ok, &shard.ok);
            add(&mut latency, &shard.latency);
            add(&mut latency_ns, &shard.latency_ns);
            add(&mut decisions, &shard.decisions);
            for (k, v) in shard.errors.lock().iter() {
                *errors.entry(*k).or_insert(0) += v;
            }
        }

        {
            let mut m = encoder.encode_descriptor(
                "kmsd_requests",
                "Requests by service, operation and outcome (ok or the error code).",
                None,
                MetricType::Counter,
            )?;
            for (slot, n) in ok.iter().enumerate().filter(|(_, n)| **n > 0) {
                let (service, operation) = op_labels(slot);
                let labels = [
                    ("service", service),
                    ("operation", operation),
                    ("outcome", "ok"),
                ];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(n, None)?;
            }
            let mut errs: Vec<_> = errors.into_iter().collect();
            errs.sort_unstable();
            for ((slot, e), n) in errs {
                let (service, operation) = op_labels(usize::from(slot));
                let code = error_label(usize::from(e));
                let labels = [
                    ("service", service),
                    ("operation", operation),
                    ("outcome", code),
                ];
                m.encode_family(&labels)?
                    .encode_counter::<NoLabelSet, _, u64>(&n, None)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "kmsd_request_duration_seconds",
                "Time from the request's body read to its response, audit line included.",
                None,
                MetricType::Histogram,
            )?;
            for slot in 0..OPS {
                let b = &latency[slot * BUCKETS..(slot + 1) * BUCKETS];
                let count: u64 = b.iter().sum();
                if count == 0 {
                    continue;
                }
                let (service, operation) = op_labels(slot);
                let labels = [("service", service), ("operation", operation)];
                m.encode_family(&labels)?.encode_histogram::<NoLabelSet>(
                    latency_ns[slot] as f64 / 1e9,
                    count,
                    &histogram_points(b),
                    None,
                )?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "kmsd_authorization_decisions",
                "Authorization decisions by service, decision and the flowchart node the path ended at.",
                None,
                MetricType::Counter,
            )?;
            for (s, service) in SERVICES.iter().enumerate() {
                for (d, decision) in DECISIONS.iter().enumerate() {
                    for (n, node) in NODES.iter().enumerate() {
                        let v = decisions[(s * DECISIONS.len() + d) * NODES.len() + n];
                        if v == 0 {
                            continue;
                        }
                        let labels = [
                            ("service", *service),
                            ("decision", *decision),
                            ("node", *node),
                        ];
                        m.encode_family(&labels)?
                            .encode_counter::<NoLabelSet, _, u64>(&v, None)?;
                    }
                }
            }
        }
        {
            let keys = self.gauges.keys_by_state();
            let mut m = encoder.encode_descriptor(
                "kmsd_keys",
                "KMS keys by key state.",
                None,
                MetricType::Gauge,
            )?;
            for (state, n) in KEY_STATES.iter().zip(keys) {
                m.encode_family(&[("state", *state)])?.encode_gauge(&n)?;
            }
        }
        encoder
            .encode_descriptor(
                "kmsd_audit_queued_bytes",
                "Audit bytes waiting in the shared queue for their write.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&self.gauges.audit_queued_bytes())?;
        encode_shared_histogram(
            &mut encoder,
            "kmsd_audit_write_duration_seconds",
            "Audit log batch writes (with their fdatasync under --audit-sync always).",
            &AUDIT_WRITE,
        )?;
        encode_shared_histogram(
            &mut encoder,
            "kmsd_audit_sync_duration_seconds",
            "Periodic audit log fdatasyncs (--audit-sync interval).",
            &AUDIT_SYNC,
        )?;
        encode_counter(
            &mut encoder,
            "kmsd_audit_write_failures",
            "Audit log writes or syncs that failed.",
            AUDIT_WRITE_FAILURES.load(Ordering::Relaxed),
        )?;
        encode_shared_histogram(
            &mut encoder,
            "kmsd_store_commit_duration_seconds",
            "Store commits (durable when they return).",
            &STORE_COMMIT,
        )?;
        encode_counter(
            &mut encoder,
            "kmsd_store_commit_failures",
            "Store commits that failed.",
            STORE_COMMIT_FAILURES.load(Ordering::Relaxed),
        )?;
        Ok(())
    }
}

/// The `/metrics` registry of a server.
pub struct Metrics {
    registry: Registry,
}

/// `Content-Type` of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Metrics {
    /// A registry reading the server's gauges at each scrape.
    pub fn new(gauges: Arc<dyn Gauges>) -> Metrics {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(KmsdCollector { gauges }));
        Metrics { registry }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// A store that times its commits into [`STORE_COMMIT`].
pub struct TimedStore(pub Arc<dyn kmsd_core::store::Store>);

impl kmsd_core::store::Store for TimedStore {
    fn load(
        &self,
        table: &'static str,
    ) -> Result<Vec<(String, Vec<u8>)>, kmsd_core::store::StoreError> {
        self.0.load(table)
    }

    fn commit(
        &self,
        mutations: &[kmsd_core::store::Mutation],
    ) -> Result<(), kmsd_core::store::StoreError> {
        let started = std::time::Instant::now();
        let res = self.0.commit(mutations);
        STORE_COMMIT.observe(started.elapsed());
        if res.is_err() {
            STORE_COMMIT_FAILURES.fetch_add(1, Ordering::Relaxed);
        }
        STORE_HEALTHY.store(res.is_ok(), Ordering::Relaxed);
        res
    }

    // The rest of the trait is forwarded as it is: a shared store's change feed and
    // catch-up must reach the wrapped store (the defaults would silently turn them off).
    fn set_sink(&self, sink: std::sync::Weak<dyn kmsd_core::store::ChangeSink>) {
        self.0.set_sink(sink);
    }

    fn sync(&self) -> Result<(), kmsd_core::store::StoreError> {
        self.0.sync()
    }

    fn is_shared(&self) -> bool {
        self.0.is_shared()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoGauges;
    impl Gauges for NoGauges {
        fn keys_by_state(&self) -> [u64; 6] {
            [3, 1, 0, 0, 0, 0]
        }
        fn audit_queued_bytes(&self) -> u64 {
            7
        }
    }

    #[test]
    fn every_slot_maps_back_to_its_name() {
        for slot in 0..OPS {
            let (service, operation) = op_labels(slot);
            let s = SERVICES
                .iter()
                .position(|x| *x == service)
                .expect("service");
            if operation == "other" {
                assert_eq!(slot, N_OPERATIONS + s);
            } else {
                assert_eq!(
                    operation_index(s, operation),
                    Some(slot),
                    "{service} {operation}"
                );
            }
        }
        assert_eq!(
            op_labels(operation_index(0, "Encrypt").expect("kms")),
            ("kms", "Encrypt")
        );
        assert_eq!(
            op_labels(operation_index(2, "AssumeRole").expect("sts")),
            ("sts", "AssumeRole")
        );
        assert_eq!(operation_index(2, "Encrypt"), None);
        for slot in 0..N_ERRORS {
            let code = error_label(slot);
            assert_ne!(code, "other");
            // The slot a code string gets is the first with that string for some service.
            assert!((0..3).any(|s| error_index(s, code).is_some()));
        }
        assert_eq!(error_label(N_ERRORS), "other");
        let denied = error_index(0, "AccessDeniedException").expect("kms code");
        assert_eq!(error_label(denied), "AccessDeniedException");
        assert!(error_index(0, "alias/secret").is_none());
    }

    #[test]
    fn buckets_follow_the_bounds() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(100_000), 0);
        assert_eq!(bucket(100_001), 1);
        assert_eq!(bucket(5_000_000_000), LATENCY_BOUNDS.len() - 1);
        assert_eq!(bucket(u64::MAX), LATENCY_BOUNDS.len());
    }

    #[test]
    fn requests_are_counted_under_closed_labels_only() {
        // Runs on its own thread: the shard is this thread's, the scrape sums every shard.
        std::thread::spawn(|| {
            for _ in 0..3 {
                record_request(&RequestSample {
                    event_source: "kms.amazonaws.com",
                    event_name: "Encrypt",
                    error_code: None,
                    decision: Some("Allow"),
                    end_node: Some("N3"),
                    elapsed: Duration::from_micros(300),
                });
            }
            record_request(&RequestSample {
                event_source: "kms.amazonaws.com",
                event_name: "arn:aws:kms:us-west-2:111122223333:key/secret-op",
                error_code: Some("AKIA111122223333ROOT"),
                decision: None,
                end_node: None,
                elapsed: Duration::from_millis(2),
            });
        })
        .join()
        .expect("recording thread");
        let text = Metrics::new(Arc::new(NoGauges)).render();
        assert!(text.contains(
            "kmsd_requests_total{service=\"kms\",operation=\"Encrypt\",outcome=\"ok\"} "
        ));
        assert!(text.contains(
            "kmsd_requests_total{service=\"kms\",operation=\"other\",outcome=\"other\"} "
        ));
        assert!(!text.contains("secret-op"));
        assert!(!text.contains("AKIA"));
        assert!(text.contains("kmsd_keys{state=\"Enabled\"} 3"));
        assert!(text.contains(
            "kmsd_authorization_decisions_total{service=\"kms\",decision=\"Allow\",node=\"N3\"} 3\n"
        ));
        assert!(text.contains("kmsd_audit_queued_bytes 7"));
        assert!(text.contains("kmsd_request_duration_seconds_bucket{le=\"0.0005\",service=\"kms\",operation=\"Encrypt\"} 3\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
