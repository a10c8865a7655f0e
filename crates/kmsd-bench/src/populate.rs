//! `kmsd-bench populate`: fills an endpoint with many KMS keys, IAM users and
//! grants on one key, so that the load can then be measured at scale.
//!
//! Order of work:
//! 1. the *loaded key* (`TrentService.CreateKey`, one call, created first);
//! 2. the other `keys - 1` keys;
//! 3. `users` IAM users (`Action=CreateUser`, awsQuery form POST signed for
//!    service `iam` in `us-east-1`); their ARNs are read from the responses;
//! 4. `grants` grants on the loaded key (`TrentService.CreateGrant`), grantee
//!    principal = the users' ARNs round robin, operations Encrypt and Decrypt;
//! 5. optionally one access key (`Action=CreateAccessKey`) for the grantee of
//!    the first grant, written to a file readable only by its owner, so the
//!    load can also run as a caller whose access comes from a grant.
//!
//! Every phase runs over N concurrent keep-alive connections (one task each)
//! taking the next index from a shared counter; every request is signed with
//! SigV4 ([`crate::sign`]) and sent with [`crate::load::Connection`]. Each
//! phase reports its count, errors by AWS error code (JSON `__type` for KMS,
//! XML `<Code>` for IAM), elapsed time, rate, latency percentiles and, with a
//! server pid, the server CPU per request. A phase stops starting requests
//! once the errors of the run exceed `max_errors`, and later phases are not
//! run. Bodies and response parsing: `populate::bodies`; rendering: `populate::render`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::Full;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cpu;
use crate::load::{CallError, Connection, CONNECTION_ERROR, CONNECT_ERROR};
use crate::report::{CpuReport, LatencySummary, MachineInfo, OpStats};
use crate::request::{create_key_body, error_code, key_id_from_create_key, Endpoint};
use crate::sign::{amz_date, Credentials, Signer};

mod bodies;
mod render;
pub use bodies::{
    access_key_from_create_access_key, create_grant_body, form_encode, iam_form,
    user_arn_from_create_user, user_name, xml_error_code, xml_text, xml_unescape,
};
pub use render::{render_json, render_table};

/// Content type of an awsQuery form POST.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";
/// IAM API version.
pub const IAM_VERSION: &str = "2010-05-08";
/// IAM is global: SDKs sign its calls for `us-east-1`.
pub const IAM_SIGNING_REGION: &str = "us-east-1";
/// Error code recorded when a 2xx response lacks the field a phase needs.
pub const BAD_RESPONSE: &str = "BadResponse";

/// What to create.
#[derive(Debug, Clone)]
pub struct PopulatePlan {
    /// Where to send.
    pub endpoint: Endpoint,
    /// The caller (normally the account's root).
    pub credentials: Credentials,
    /// Region of the keys (credential scope of the KMS calls).
    pub region: String,
    /// Keys in total, the loaded key included (at least 1).
    pub keys: usize,
    /// IAM users.
    pub users: usize,
    /// Grants on the loaded key.
    pub grants: usize,
    /// Concurrent keep-alive connections per phase.
    pub connections: usize,
    /// User names are this prefix followed by a 5-digit (or longer) index.
    pub user_prefix: String,
    /// The run fails when more requests than this fail.
    pub max_errors: u64,
    /// Server process to sample CPU of, per phase.
    pub server_pid: Option<u32>,
    /// Create an access key for the first grantee and write it here (mode 0600).
    pub grantee_credentials_out: Option<PathBuf>,
    /// Print progress to stderr at this interval (none: quiet).
    pub progress_every: Option<Duration>,
}

/// One phase's results.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `keys`, `users`, `grants` or `access-key`.
    pub phase: &'static str,
    /// The AWS operation it calls.
    pub operation: &'static str,
    /// Requests the phase was asked to make.
    pub requested: usize,
    /// Requests answered (2xx or error response) or failed in transport.
    pub completed: u64,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests.
    pub errors: u64,
    /// Failed requests by AWS error code (or transport error class).
    pub errors_by_code: BTreeMap<String, u64>,
    /// Seconds from the phase's first request to its last completion.
    pub elapsed_s: f64,
    /// `ok / elapsed_s`.
    pub ok_per_sec: f64,
    /// Latency of answered requests.
    pub latency: LatencySummary,
    /// Server CPU over the phase (with a server pid).
    pub server_cpu: Option<CpuReport>,
}

/// The grantee whose access key was written out.
#[derive(Debug, Clone, Serialize)]
pub struct Grantee {
    /// IAM user name.
    pub user_name: String,
    /// Its ARN (the grants' `GranteePrincipal`).
    pub user_arn: String,
    /// How many of the loaded key's grants name it.
    pub grants_on_loaded_key: usize,
    /// Where its credentials were written.
    pub credentials_file: String,
}

/// The whole populate run.
#[derive(Debug, Clone, Serialize)]
pub struct PopulateReport {
    /// Always `kmsd-bench populate`.
    pub tool: &'static str,
    /// Endpoint URL authority.
    pub endpoint: String,
    /// Region of the keys.
    pub region: String,
    /// Id of the loaded key (empty if it could not be created).
    pub loaded_key_id: String,
    /// Keys, users and grants asked for.
    pub requested: Requested,
    /// Concurrent connections per phase.
    pub connections: usize,
    /// User name prefix.
    pub user_prefix: String,
    /// Phases in the order they ran.
    pub phases: Vec<PhaseReport>,
    /// Errors over all phases.
    pub total_errors: u64,
    /// The run's error budget.
    pub max_errors: u64,
    /// Whether the run stayed within the budget and did everything asked.
    pub success: bool,
    /// The grantee user with an access key, when one was asked for.
    pub grantee: Option<Grantee>,
    /// Seconds for the whole run.
    pub elapsed_s: f64,
    /// CPUs and load average at the start and the end of the run.
    pub machine: MachineInfo,
}

/// Counts asked for.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Requested {
    /// Keys (loaded key included).
    pub keys: usize,
    /// IAM users.
    pub users: usize,
    /// Grants on the loaded key.
    pub grants: usize,
}

// ---------------------------------------------------------------- requests

/// The two wire protocols the populate phases speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// awsJson1_1 KMS call with this `X-Amz-Target`.
    Kms(&'static str),
    /// awsQuery IAM call (form POST).
    Iam,
}

impl Protocol {
    fn content_type(self) -> &'static str {
        match self {
            Protocol::Kms(_) => crate::request::CONTENT_TYPE,
            Protocol::Iam => FORM_CONTENT_TYPE,
        }
    }

    /// The AWS error code of a failed response in this protocol.
    pub fn error_code(self, status: u16, headers: &http::HeaderMap, body: &[u8]) -> String {
        match self {
            Protocol::Kms(_) => error_code(status, headers, body),
            Protocol::Iam => {
                xml_error_code(body).unwrap_or_else(|| error_code(status, headers, body))
            }
        }
    }
}

/// A `POST /` request in `protocol`, signed at `now` by `signer`.
pub fn signed_request(
    signer: &mut Signer,
    endpoint: &Endpoint,
    protocol: Protocol,
    body: Bytes,
    now: SystemTime,
) -> anyhow::Result<http::Request<Full<Bytes>>> {
    let date = amz_date(now);
    let content_type = protocol.content_type();
    let mut signed: Vec<(&str, &str)> = vec![
        ("content-type", content_type),
        ("host", &endpoint.authority),
    ];
    if let Protocol::Kms(target) = protocol {
        signed.push(("x-amz-target", target));
    }
    let sig = signer.sign("POST", "/", &signed, &body, &date);
    let mut b = http::Request::builder()
        .method(http::Method::POST)
        .uri("/")
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::HOST, endpoint.authority.as_str())
        .header("x-amz-date", sig.amz_date.as_str())
        .header(
            http::header::USER_AGENT,
            concat!("kmsd-bench/", env!("CARGO_PKG_VERSION")),
        )
        .header(http::header::AUTHORIZATION, sig.authorization.as_str());
    if let Protocol::Kms(target) = protocol {
        b = b.header("x-amz-target", target);
    }
    if let Some(token) = signer.credentials().session_token() {
        b = b.header("x-amz-security-token", token);
    }
    b.body(Full::new(body))
        .context("cannot build the request (endpoint or credentials are not valid header values)")
}

// ---------------------------------------------------------------- phases

type BodyFn = dyn Fn(usize) -> Bytes + Send + Sync;
type ExtractFn = fn(&[u8]) -> anyhow::Result<String>;

/// One phase: `count` calls, call `i` with body `body(i)`.
struct PhaseSpec {
    name: &'static str,
    operation: &'static str,
    protocol: Protocol,
    count: usize,
    body: Box<BodyFn>,
    /// Reads the value a later phase needs out of a 2xx body.
    extract: Option<ExtractFn>,
}

struct Shared {
    spec: PhaseSpec,
    endpoint: Endpoint,
    next: AtomicUsize,
    completed: AtomicU64,
    /// Errors of the whole run so far (all phases).
    run_errors: Arc<AtomicU64>,
    max_errors: u64,
}

impl Shared {
    fn over_budget(&self) -> bool {
        self.run_errors.load(Ordering::Relaxed) > self.max_errors
    }

    fn error(&self, stats: &mut OpStats, latency_ns: Option<u64>, code: &str) {
        match latency_ns {
            Some(ns) => stats.record(ns, Some(code)),
            None => stats.count_error(code),
        }
        self.run_errors.fetch_add(1, Ordering::Relaxed);
    }
}

struct WorkerOut {
    stats: OpStats,
    extracted: Vec<(usize, String)>,
    last_done: Option<Instant>,
}

async fn phase_worker(shared: Arc<Shared>, mut signer: Signer) -> WorkerOut {
    let mut stats = OpStats::default();
    let mut extracted = Vec::new();
    let mut last_done = None;
    let mut conn: Option<Connection> = None;
    let mut served_on_conn: u64 = 0;
    'calls: loop {
        if shared.over_budget() {
            break;
        }
        let i = shared.next.fetch_add(1, Ordering::Relaxed);
        if i >= shared.spec.count {
            break;
        }
        let body = (shared.spec.body)(i);
        // Retried only while the request was certainly not sent.
        loop {
            if shared.over_budget() {
                break 'calls;
            }
            let c = match conn.as_mut() {
                Some(c) => c,
                None => match Connection::open(&shared.endpoint).await {
                    Ok(c) => {
                        served_on_conn = 0;
                        conn.insert(c)
                    }
                    Err(_) => {
                        shared.error(&mut stats, None, CONNECT_ERROR);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let req = match signed_request(
                &mut signer,
                &shared.endpoint,
                shared.spec.protocol,
                body.clone(),
                SystemTime::now(),
            ) {
                Ok(r) => r,
                Err(_) => {
                    // The same failure would repeat for every call.
                    shared.error(&mut stats, None, "RequestBuildError");
                    shared.completed.fetch_add(1, Ordering::Relaxed);
                    break 'calls;
                }
            };
            let t0 = Instant::now();
            let outcome = c.call(req).await;
            let t1 = Instant::now();
            let ns = u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX);
            match outcome {
                Ok((status, headers, resp)) => {
                    served_on_conn += 1;
                    if status.is_success() {
                        match shared.spec.extract.map(|f| f(&resp)) {
                            None => stats.record(ns, None),
                            Some(Ok(v)) => {
                                stats.record(ns, None);
                                extracted.push((i, v));
                            }
                            Some(Err(_)) => shared.error(&mut stats, Some(ns), BAD_RESPONSE),
                        }
                    } else {
                        let code =
                            shared
                                .spec
                                .protocol
                                .error_code(status.as_u16(), &headers, &resp);
                        shared.error(&mut stats, Some(ns), &code);
                    }
                    if headers
                        .get(http::header::CONNECTION)
                        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
                    {
                        conn = None;
                    }
                }
                Err(CallError::Closed) => {
                    // Not sent: reconnect and send it again. A connection
                    // closed before its first request counts as an error so
                    // a server that refuses everything cannot spin us.
                    if served_on_conn == 0 {
                        shared.error(&mut stats, None, CONNECTION_ERROR);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    conn = None;
                    continue;
                }
                Err(CallError::Failed(_)) => {
                    // Perhaps applied, perhaps not: not retried.
                    shared.error(&mut stats, Some(ns), CONNECTION_ERROR);
                    conn = None;
                }
            }
            last_done = Some(t1);
            shared.completed.fetch_add(1, Ordering::Relaxed);
            break;
        }
    }
    WorkerOut {
        stats,
        extracted,
        last_done,
    }
}

struct PhaseOutcome {
    report: PhaseReport,
    /// Extracted values by call index.
    extracted: Vec<(usize, String)>,
}

/// Per-phase context that does not change between phases.
struct Runner<'a> {
    plan: &'a PopulatePlan,
    run_errors: Arc<AtomicU64>,
    ticks: u64,
}

impl Runner<'_> {
    fn server_cpu(&self) -> Option<f64> {
        self.plan
            .server_pid
            .and_then(|pid| cpu::process_cpu_seconds(pid, self.ticks).ok())
    }

    fn signer(&self, protocol: Protocol) -> Signer {
        let (region, service) = match protocol {
            Protocol::Kms(_) => (self.plan.region.as_str(), "kms"),
            Protocol::Iam => (IAM_SIGNING_REGION, "iam"),
        };
        Signer::new(self.plan.credentials.clone(), region, service)
    }

    /// Runs `spec` over the plan's connections; `seed` holds results of
    /// calls made before (the loaded key), merged into this phase's figures.
    async fn run(
        &self,
        spec: PhaseSpec,
        seed: Option<(OpStats, Instant)>,
    ) -> anyhow::Result<PhaseOutcome> {
        let name = spec.name;
        let operation = spec.operation;
        let protocol = spec.protocol;
        let count = spec.count;
        let (mut stats, start) = match seed {
            Some((s, t)) => (s, t),
            None => (OpStats::default(), Instant::now()),
        };
        let requested = count + usize::try_from(stats.ok + stats.error_count()).unwrap_or(0);
        let cpu_before = self.server_cpu();
        let shared = Arc::new(Shared {
            spec,
            endpoint: self.plan.endpoint.clone(),
            next: AtomicUsize::new(0),
            completed: AtomicU64::new(0),
            run_errors: self.run_errors.clone(),
            max_errors: self.plan.max_errors,
        });
        let workers = self.plan.connections.min(count.max(1));
        let mut tasks = Vec::with_capacity(workers);
        for _ in 0..workers {
            tasks.push(tokio::spawn(phase_worker(
                shared.clone(),
                self.signer(protocol),
            )));
        }
        let progress = self.plan.progress_every.filter(|_| count > 0).map(|every| {
            let shared = shared.clone();
            let done_flag = Arc::new(AtomicBool::new(false));
            let flag = done_flag.clone();
            let handle = tokio::spawn(async move {
                let t0 = Instant::now();
                loop {
                    tokio::time::sleep(every).await;
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    let done = shared.completed.load(Ordering::Relaxed);
                    let el = t0.elapsed().as_secs_f64();
                    eprintln!(
                        "kmsd-bench populate: {name}: {done}/{count} in {el:.0} s ({:.0}/s), errors so far {}",
                        done as f64 / el.max(1e-9),
                        shared.run_errors.load(Ordering::Relaxed)
                    );
                }
            });
            (handle, done_flag)
        });
        let mut extracted = Vec::new();
        let mut last_done: Option<Instant> = None;
        for t in tasks {
            let out = t.await.context("populate worker panicked")?;
            stats.merge(&out.stats);
            extracted.extend(out.extracted);
            last_done = match (last_done, out.last_done) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        if let Some((handle, flag)) = progress {
            flag.store(true, Ordering::Relaxed);
            handle.abort();
        }
        let cpu_after = self.server_cpu();
        let end = last_done.unwrap_or_else(Instant::now);
        let elapsed_s = end.saturating_duration_since(start).as_secs_f64();
        let errors = stats.error_count();
        let completed = stats.ok + errors;
        let server_cpu = match (self.plan.server_pid, cpu_before, cpu_after) {
            (Some(pid), Some(a), Some(b)) => Some(crate::load::cpu_report(
                pid,
                (b - a).max(0.0),
                elapsed_s,
                completed,
            )),
            _ => None,
        };
        extracted.sort_by_key(|(i, _)| *i);
        Ok(PhaseOutcome {
            report: PhaseReport {
                phase: name,
                operation,
                requested,
                completed,
                ok: stats.ok,
                errors,
                errors_by_code: stats.errors.clone(),
                elapsed_s,
                ok_per_sec: if elapsed_s > 0.0 {
                    stats.ok as f64 / elapsed_s
                } else {
                    0.0
                },
                latency: LatencySummary::from_histogram(&stats.latency),
                server_cpu,
            },
            extracted,
        })
    }

    /// One call on a fresh connection; its stats and, on success, its body.
    async fn single(
        &self,
        protocol: Protocol,
        body: Bytes,
    ) -> anyhow::Result<(OpStats, Result<Bytes, String>)> {
        let mut stats = OpStats::default();
        let mut conn = Connection::open(&self.plan.endpoint).await?;
        let req = signed_request(
            &mut self.signer(protocol),
            &self.plan.endpoint,
            protocol,
            body,
            SystemTime::now(),
        )?;
        let t0 = Instant::now();
        let outcome = conn.call(req).await;
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let result = match outcome {
            Ok((status, _, resp)) if status.is_success() => {
                stats.record(ns, None);
                Ok(resp)
            }
            Ok((status, headers, resp)) => {
                let code = protocol.error_code(status.as_u16(), &headers, &resp);
                stats.record(ns, Some(&code));
                Err(format!(
                    "HTTP {} {code}: {}",
                    status.as_u16(),
                    String::from_utf8_lossy(&resp)
                ))
            }
            Err(e) => {
                stats.count_error(CONNECTION_ERROR);
                Err(e.to_string())
            }
        };
        if result.is_err() {
            self.run_errors.fetch_add(1, Ordering::Relaxed);
        }
        Ok((stats, result))
    }
}

fn write_credentials_file(
    path: &std::path::Path,
    user: &str,
    arn: &str,
    access_key_id: &str,
    secret: &str,
) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let text = Zeroizing::new(
        serde_json::json!({
            "UserName": user,
            "UserArn": arn,
            "AccessKeyId": access_key_id,
            "SecretAccessKey": secret,
        })
        .to_string(),
    );
    // Replace any old file so the mode below applies.
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.write_all(b"\n"))
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Runs the populate plan. The report says whether it succeeded (errors
/// within budget and every phase run); transport setup failures are errors.
pub async fn run(plan: PopulatePlan) -> anyhow::Result<PopulateReport> {
    if plan.keys == 0 {
        bail!("--keys must be at least 1 (the loaded key)");
    }
    if plan.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if plan.grants > 0 && plan.users == 0 {
        bail!("grants need grantees: --users must be at least 1 when --grants is not 0");
    }
    if plan.grantee_credentials_out.is_some() && (plan.users == 0 || plan.grants == 0) {
        bail!("--grantee-credentials-out needs at least one user and one grant");
    }
    let t_run = Instant::now();
    let load_start = cpu::loadavg_1m();
    let runner = Runner {
        plan: &plan,
        run_errors: Arc::new(AtomicU64::new(0)),
        ticks: cpu::clock_ticks_per_sec(),
    };
    let mut report = PopulateReport {
        tool: "kmsd-bench populate",
        endpoint: plan.endpoint.authority.clone(),
        region: plan.region.clone(),
        loaded_key_id: String::new(),
        requested: Requested {
            keys: plan.keys,
            users: plan.users,
            grants: plan.grants,
        },
        connections: plan.connections,
        user_prefix: plan.user_prefix.clone(),
        phases: Vec::new(),
        total_errors: 0,
        max_errors: plan.max_errors,
        success: false,
        grantee: None,
        elapsed_s: 0.0,
        machine: MachineInfo {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg_1m_start: load_start,
            loadavg_1m_end: None,
        },
    };
    let finish = |mut r: PopulateReport, runner: &Runner<'_>, complete: bool| {
        r.total_errors = runner.run_errors.load(Ordering::Relaxed);
        r.success = complete && r.total_errors <= r.max_errors;
        r.elapsed_s = t_run.elapsed().as_secs_f64();
        r.machine.loadavg_1m_end = cpu::loadavg_1m();
        r
    };

    // 1. The loaded key, first.
    let create_key = Protocol::Kms("TrentService.CreateKey");
    let t_keys = Instant::now();
    let (seed, loaded) = runner
        .single(create_key, create_key_body("kmsd-bench loaded key"))
        .await?;
    let loaded_key_id = match loaded {
        Ok(body) => key_id_from_create_key(&body)?,
        Err(e) => bail!("CreateKey of the loaded key failed: {e}"),
    };
    eprintln!("kmsd-bench populate: loaded key {loaded_key_id}");
    report.loaded_key_id = loaded_key_id.clone();

    // 2. The other keys.
    let keys = runner
        .run(
            PhaseSpec {
                name: "keys",
                operation: "CreateKey",
                protocol: create_key,
                count: plan.keys - 1,
                body: Box::new(|i| create_key_body(&format!("kmsd-bench populate key {}", i + 1))),
                extract: None,
            },
            Some((seed, t_keys)),
        )
        .await?;
    report.phases.push(keys.report);
    if runner.run_errors.load(Ordering::Relaxed) > plan.max_errors {
        return Ok(finish(report, &runner, false));
    }

    // 3. Users.
    let prefix = plan.user_prefix.clone();
    let users = runner
        .run(
            PhaseSpec {
                name: "users",
                operation: "CreateUser",
                protocol: Protocol::Iam,
                count: plan.users,
                body: Box::new(move |i| {
                    iam_form("CreateUser", &[("UserName", &user_name(&prefix, i))])
                }),
                extract: Some(user_arn_from_create_user),
            },
            None,
        )
        .await?;
    report.phases.push(users.report);
    if runner.run_errors.load(Ordering::Relaxed) > plan.max_errors {
        return Ok(finish(report, &runner, false));
    }
    // (index, ARN) of every user created, in index order.
    let created: Arc<Vec<(usize, String)>> = Arc::new(users.extracted);
    if plan.grants > 0 && created.is_empty() {
        bail!("no IAM user was created, so no grant can name one");
    }

    // 4. Grants on the loaded key, grantees round robin.
    if plan.grants > 0 {
        let grantees = created.clone();
        let key = loaded_key_id.clone();
        let grants = runner
            .run(
                PhaseSpec {
                    name: "grants",
                    operation: "CreateGrant",
                    protocol: Protocol::Kms("TrentService.CreateGrant"),
                    count: plan.grants,
                    body: Box::new(move |i| {
                        let arn = grantees
                            .get(i % grantees.len().max(1))
                            .map_or("", |(_, a)| a.as_str());
                        create_grant_body(&key, arn)
                    }),
                    extract: None,
                },
                None,
            )
            .await?;
        report.phases.push(grants.report);
        if runner.run_errors.load(Ordering::Relaxed) > plan.max_errors {
            return Ok(finish(report, &runner, false));
        }
    }

    // 5. An access key for the grantee of the first grant.
    if let (Some(path), Some((idx, arn))) = (&plan.grantee_credentials_out, created.first()) {
        let name = user_name(&plan.user_prefix, *idx);
        let t0 = Instant::now();
        let cpu_before = runner.server_cpu();
        let (stats, result) = runner
            .single(
                Protocol::Iam,
                iam_form("CreateAccessKey", &[("UserName", &name)]),
            )
            .await?;
        let elapsed_s = t0.elapsed().as_secs_f64();
        let cpu_after = runner.server_cpu();
        report.phases.push(PhaseReport {
            phase: "access-key",
            operation: "CreateAccessKey",
            requested: 1,
            completed: stats.ok + stats.error_count(),
            ok: stats.ok,
            errors: stats.error_count(),
            errors_by_code: stats.errors.clone(),
            elapsed_s,
            ok_per_sec: stats.ok as f64 / elapsed_s.max(1e-9),
            latency: LatencySummary::from_histogram(&stats.latency),
            server_cpu: match (plan.server_pid, cpu_before, cpu_after) {
                (Some(pid), Some(a), Some(b)) => {
                    Some(crate::load::cpu_report(pid, (b - a).max(0.0), elapsed_s, 1))
                }
                _ => None,
            },
        });
        let body = match result {
            Ok(b) => b,
            Err(e) => bail!("CreateAccessKey for {name} failed: {e}"),
        };
        let (id, secret) = access_key_from_create_access_key(&body)?;
        write_credentials_file(path, &name, arn, &id, &secret)?;
        let n = created.len();
        report.grantee = Some(Grantee {
            user_name: name,
            user_arn: arn.clone(),
            // Grant g names created[g % n]; the first user gets g = 0, n, 2n, ...
            grants_on_loaded_key: plan.grants.div_ceil(n),
            credentials_file: path.display().to_string(),
        });
    }
    Ok(finish(report, &runner, true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]
mod tests;
