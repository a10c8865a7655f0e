//! `kmsd serve`: open the data directory, the root key and the service, apply the bootstrap
//! world, and serve KMS, IAM and STS over HTTP/1.1 (keep-alive) until SIGTERM/SIGINT.
//!
//! Each request is buffered (bounded), handed to `kmsd_wire::handle`, its audit line is
//! committed to the audit log, and only then is the response sent. Cryptographic and
//! read-only KMS operations run inline on the runtime worker; everything that may commit
//! to the store (fsync) runs on the blocking pool.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use kmsd_core::bootstrap::World;
use kmsd_core::clock::{Clock, SystemClock};
use kmsd_core::service::Service;
use kmsd_core::store::Store;
use kmsd_crypto::RootKey;
use kmsd_wire::{WireRequest, WireResponse};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::audit_log::{AuditLog, SyncMode, DEFAULT_MAX_BYTES};
use crate::coarse_timer::CoarseTimer;
use crate::workers::{self, Accepted, Workers};
use crate::{metrics, observe};

/// Flags of `kmsd serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:4599")]
    pub listen: SocketAddr,
    /// Directory holding all durable state (store, root key file, audit log).
    #[arg(long, default_value = "./kmsd-data")]
    pub data_dir: PathBuf,
    /// World (bootstrap) file applied at every start (idempotent).
    #[arg(long)]
    pub bootstrap: Option<PathBuf>,
    /// Default region for ARNs the server prints on its own.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    #[command(flatten)]
    pub root_key: crate::root_key_args::RootKeyArgs,
    /// Rotate the audit log when it would exceed this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES)]
    pub audit_max_bytes: u64,
    /// Keep at most this many rotated audit files, deleting the oldest at rotation
    /// (default: keep every file).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub audit_keep_files: Option<u32>,
    /// When audit lines reach the disk. `always`: each response waits until its audit line
    /// is fdatasync'ed (group commit). `interval`: each response waits until its line is
    /// written to the file (it survives a crash of kmsd), and the file is fdatasync'ed at
    /// least every --audit-sync-interval-ms (a power loss can lose the lines of that last
    /// interval). Either way a request whose line cannot be written fails.
    #[arg(long, value_enum, default_value_t = AuditSync::Always)]
    pub audit_sync: AuditSync,
    /// With `--audit-sync interval`: the longest time between fdatasyncs, in milliseconds.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub audit_sync_interval_ms: u64,
    /// KMS request quotas per account and Region: `off`, or `aws-default` (AWS's documented
    /// requests per second; a throttled request gets ThrottlingException).
    #[arg(long, value_enum, default_value_t = RequestQuotas::Off)]
    pub request_quotas: RequestQuotas,
    /// Multiply every request quota by this factor (with `--request-quotas aws-default`).
    #[arg(long, default_value_t = 1.0, value_parser = positive_factor)]
    pub request_quota_scale: f64,
    /// Connection worker threads, each with its own single-threaded runtime; connections
    /// are spread over them round robin (default: the number of CPUs).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub worker_threads: Option<u16>,
    /// Do not serve the explain page at `/ui` (its API calls are SigV4-authorized either way).
    #[arg(long)]
    pub no_ui: bool,
    /// Do not serve `/metrics` (Prometheus text format; no signature needed) and do not
    /// count requests.
    #[arg(long)]
    pub no_metrics: bool,
    /// Do not serve `/healthz` and `/readyz` (no signature needed).
    #[arg(long)]
    pub no_health: bool,
    /// Serve `/metrics`, `/healthz` and `/readyz` on this address (`HOST:PORT`) instead of
    /// the main listener. The bound address is printed as `kmsd metrics on http://ADDR`.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Where durable state lives: absent, the embedded store in --data-dir (one node);
    /// `postgres://USER@HOST:PORT/DB` (password from the URL or PGPASSWORD), a PostgreSQL
    /// database shared by any number of nodes.
    #[arg(long)]
    pub store: Option<String>,
    /// This node's name in its audit lines (`kmsdNodeId`); default: host name and port.
    /// Written when --store or --node-id is given.
    #[arg(long)]
    pub node_id: Option<String>,
}

/// Values of `--audit-sync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditSync {
    Always,
    Interval,
}

/// Values of `--request-quotas`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RequestQuotas {
    Off,
    AwsDefault,
}

fn positive_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often keys whose deletion window ended are deleted.
const DELETION_SWEEP: Duration = Duration::from_secs(60);

struct State {
    service: Arc<Service>,
    clock: Arc<dyn Clock>,
    audit: AuditLog,
    ui: bool,
    /// Count requests for `/metrics`.
    count: bool,
    /// The operations endpoints, when served on the main listener.
    observe: Option<Arc<observe::Observe>>,
    /// Whether audit lines name the node, and as what (set once the port is known).
    node_id: Option<Option<String>>,
    audit_suffix: std::sync::OnceLock<Vec<u8>>,
}

/// What `/metrics` reads from the running server at scrape time.
struct ServerGauges {
    service: Arc<Service>,
    audit: AuditLog,
}

impl metrics::Gauges for ServerGauges {
    fn keys_by_state(&self) -> [u64; metrics::KEY_STATES.len()] {
        let mut out = [0; metrics::KEY_STATES.len()];
        for (state, n) in self.service.kms.key_state_counts() {
            if let Some(i) = metrics::KEY_STATES.iter().position(|s| *s == state) {
                out[i] += n;
            }
        }
        out
    }
    fn audit_queued_bytes(&self) -> u64 {
        self.audit.queued_bytes()
    }
}

/// Gives each worker thread its own audit batch (used while audit syncs are fast).
struct WorkerAudit(AuditLog);

impl workers::ThreadHooks for WorkerAudit {
    fn started(&self) {
        self.0.attach_thread();
    }
    fn before_park(&self) {
        self.0.flush_thread();
    }
    fn stopping(&self) {
        self.0.detach_thread();
    }
}

/// Run `kmsd serve`; returns the process exit status.
pub fn run(args: ServeArgs) -> i32 {
    init_tracing();
    let (service, redb) = match open_service(&args) {
        Ok((s, r)) => (Arc::new(s), r),
        Err((code, message)) => {
            eprintln!("kmsd: {message}");
            return code;
        }
    };
    let audit_dir = args.data_dir.join("audit");
    let sync_mode = match args.audit_sync {
        AuditSync::Always => SyncMode::Always,
        AuditSync::Interval => {
            SyncMode::Interval(Duration::from_millis(args.audit_sync_interval_ms))
        }
    };
    let (audit, writer) =
        match AuditLog::open(&audit_dir, "audit.log", args.audit_max_bytes, sync_mode) {
            Ok(x) => x,
            Err(e) => {
                eprintln!(
                    "kmsd: cannot open audit log in {}: {e}",
                    audit_dir.display()
                );
                return 1;
            }
        };
    if let Some(files) = args.audit_keep_files {
        audit.keep_rotated(files);
    }
    // The main thread accepts connections, handles signals and runs the deletion sweeper;
    // the workers (crate::workers) serve the connections.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kmsd: cannot start runtime: {e}");
            return 1;
        }
    };
    let workers = args
        .worker_threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let observe = Arc::new(observe::Observe {
        metrics: (!args.no_metrics).then(|| {
            metrics::Metrics::new(Arc::new(ServerGauges {
                service: service.clone(),
                audit: audit.clone(),
            }))
        }),
        health: !args.no_health,
        data_dir: args.data_dir.clone(),
        audit_dir,
    });
    let state = Arc::new(State {
        clock: service.clock.clone(),
        service,
        audit,
        ui: !args.no_ui,
        count: !args.no_metrics,
        observe: args.metrics_listen.is_none().then(|| observe.clone()),
        node_id: (args.store.is_some() || args.node_id.is_some()).then(|| args.node_id.clone()),
        audit_suffix: std::sync::OnceLock::new(),
    });
    let separate = args.metrics_listen.map(|addr| (addr, observe));
    let code = runtime.block_on(serve(
        args.listen,
        state,
        workers,
        args.data_dir.clone(),
        redb,
        separate,
    ));
    drop(runtime);
    writer.join();
    code
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}

/// Root key, store, service, bootstrap. Errors: (exit code, message).
/// The embedded store when the server runs on it (its online backup goes through the
/// admin socket); `None` on PostgreSQL.
type EmbeddedStore = Option<Arc<kmsd_store::RedbStore>>;

fn open_service(args: &ServeArgs) -> Result<(Service, EmbeddedStore), (i32, String)> {
    create_private_dir(&args.data_dir).map_err(|e| {
        (
            1,
            format!(
                "cannot create data directory {}: {e}",
                args.data_dir.display()
            ),
        )
    })?;
    let root_key = load_root_key(args)?;

    // Parse the world before touching the store, so a bad file changes nothing.
    let world = match &args.bootstrap {
        Some(path) => Some(
            World::from_file(path)
                .map_err(|e| (2, e.to_string()))?
                .with_default_region(&args.region),
        ),
        None => None,
    };

    // The embedded store (default) or PostgreSQL; only the embedded one has an online backup
    // through the admin socket (PostgreSQL's is pg_dump).
    let (inner, redb): (Arc<dyn Store>, Option<Arc<kmsd_store::RedbStore>>) = match &args.store {
        None => {
            let redb = Arc::new(
                kmsd_store::RedbStore::open(&args.data_dir)
                    .map_err(|e| (1, format!("cannot open store: {e}")))?,
            );
            (redb.clone(), Some(redb))
        }
        Some(url) => {
            let store = crate::cluster::open_store(url)?;
            crate::cluster::check_root_key(store.as_ref(), &root_key)?;
            (store, None)
        }
    };
    let store: Arc<dyn Store> = Arc::new(metrics::TimedStore(inner));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let service = Service::open(store, clock, Arc::new(root_key), &args.region).map_err(|e| {
        let text = e.to_string();
        if text.contains("does not unwrap") {
            (2, crate::cluster::WRONG_ROOT_KEY.to_string())
        } else {
            (1, format!("cannot open service state: {e}"))
        }
    })?;
    if args.request_quotas == RequestQuotas::AwsDefault {
        service.kms.set_quotas(
            kmsd_core::kms::quota::QuotaConfig::aws_defaults().scaled(args.request_quota_scale),
        );
    }

    if let (Some(world), Some(path)) = (&world, &args.bootstrap) {
        world
            .validate(&service.kms)
            .map_err(|e| (2, e.to_string()))?;
        crate::cluster::apply_world_once(&service, world)
            .map_err(|e| (1, format!("applying {}: {e}", path.display())))?;
        tracing::info!(file = %path.display(), "bootstrap world applied");
    }
    Ok((service, redb))
}

fn load_root_key(args: &ServeArgs) -> Result<RootKey, (i32, String)> {
    let spec = args.root_key.spec(&args.data_dir.join("root.key"), true);
    let key = spec.load()?;
    tracing::info!(root_key = %key.describe(), "root key loaded");
    Ok(key)
}

pub(crate) fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

async fn serve(
    listen: SocketAddr,
    state: Arc<State>,
    worker_count: usize,
    data_dir: PathBuf,
    redb: Option<Arc<kmsd_store::RedbStore>>,
    separate: Option<(SocketAddr, Arc<observe::Observe>)>,
) -> i32 {
    // Handlers first: a SIGTERM sent right after the listening line must not kill us.
    let mut signals = Signals::new();
    let listener = match TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kmsd: cannot listen on {listen}: {e}");
            return 1;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kmsd: {e}");
            return 1;
        }
    };

    if let Some(node) = &state.node_id {
        let id = node
            .clone()
            .unwrap_or_else(|| crate::cluster::default_node_id(addr.port()));
        let _ = state.audit_suffix.set(crate::cluster::audit_suffix(&id));
    }

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut observe_task = None;
    if let Some((addr, obs)) = separate {
        let listener = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kmsd: cannot listen on {addr}: {e}");
                return 1;
            }
        };
        if let Ok(bound) = listener.local_addr() {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "kmsd metrics on http://{bound}");
            let _ = out.flush();
        }
        observe_task = Some(tokio::spawn(observe::serve_listener(
            listener,
            obs,
            shutdown_rx.clone(),
        )));
    }
    // Every connection task holds a clone; when all are dropped, the drain is over.
    let (conn_done_tx, mut conn_done_rx) = mpsc::channel::<()>(1);
    let on_connection: workers::ConnectionFn = {
        let state = state.clone();
        let shutdown_rx = shutdown_rx.clone();
        let conn_done_tx = conn_done_tx.clone();
        Arc::new(move |stream, peer| {
            tokio::spawn(serve_connection(
                state.clone(),
                stream,
                peer,
                shutdown_rx.clone(),
                conn_done_tx.clone(),
            ));
        })
    };
    let hooks: Arc<dyn workers::ThreadHooks> = Arc::new(WorkerAudit(state.audit.clone()));
    let mut workers = match Workers::start(worker_count, on_connection, hooks) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("kmsd: cannot start workers: {e}");
            return 1;
        }
    };

    // The admin socket (online backup) is bound before the listening line too.
    #[cfg(unix)]
    let admin = redb.and_then(|redb| {
        crate::backup::bind_admin_socket(&data_dir)
            .map(|a| tokio::spawn(crate::backup::admin_socket(a, redb, shutdown_rx.clone())))
    });
    #[cfg(not(unix))]
    let _ = (data_dir, redb);

    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "kmsd listening on http://{addr}");
        let _ = out.flush();
    }
    tracing::info!(%addr, workers = worker_count, "listening");

    let sweeper = tokio::spawn(deletion_sweeper(state.clone(), shutdown_rx.clone()));

    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match stream.into_std() {
                    Ok(stream) => workers.dispatch(Accepted { stream, peer }),
                    Err(e) => tracing::warn!(error = %e, %peer, "cannot hand connection over"),
                }
            }
            _ = signals.recv() => {
                tracing::info!("shutdown requested; finishing requests in flight");
                break;
            }
        }
    }
    drop(listener);
    workers.close_intake();
    let _ = shutdown_tx.send(true);
    drop(conn_done_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, conn_done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within the drain timeout");
    }
    let _ = sweeper.await;
    if let Some(t) = observe_task {
        let _ = t.await;
    }
    #[cfg(unix)]
    if let Some(admin) = admin {
        let _ = admin.await;
    }
    // Joining blocks; the workers' connections are all done (or given up on) by now.
    let _ = tokio::task::spawn_blocking(move || workers.stop()).await;
    // Keys' last uses since their last metadata commit (GetKeyLastUsage) are written now.
    let service = state.service.clone();
    match tokio::task::spawn_blocking(move || service.kms.flush_last_usage()).await {
        Ok(Ok(n)) => tracing::info!(keys = n, "last key usage written"),
        Ok(Err(e)) => tracing::warn!(code = ?e.code, "cannot write last key usage"),
        Err(e) => tracing::warn!(error = %e, "cannot write last key usage"),
    }
    tracing::info!("stopped");
    0
}

/// One keep-alive HTTP/1.1 connection, on the worker that owns it, until the client closes
/// it or shutdown drains it.
async fn serve_connection(
    state: Arc<State>,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
    done: mpsc::Sender<()>,
) {
    let svc = service_fn(move |req| handle_request(state.clone(), req, peer));
    let conn = http1::Builder::new()
        .keep_alive(true)
        .timer(CoarseTimer)
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            res = conn.as_mut() => {
                if let Err(e) = res {
                    tracing::debug!(error = %e, %peer, "connection ended with error");
                }
                break;
            }
            changed = shutdown.changed(), if !draining => {
                draining = true;
                if changed.is_ok() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
    drop(done);
}

/// SIGTERM and SIGINT.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // Both handlers are registered now, before the listening line is printed.
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            async fn wait(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = wait(self.term.as_mut()) => {}
                _ = wait(self.int.as_mut()) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

async fn deletion_sweeper(state: Arc<State>, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(DELETION_SWEEP);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let service = state.service.clone();
                match tokio::task::spawn_blocking(move || service.kms.run_due_deletions()).await {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(deleted = n, "keys past their deletion date deleted"),
                    Ok(Err(e)) => tracing::error!(error = %e, "scheduled key deletion failed"),
                    Err(e) => tracing::error!(error = %e, "scheduled key deletion task failed"),
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// KMS operations that neither commit to the store nor take long (the operation table's
/// [`OpSpec::runs_inline`](kmsd_core::kms::op::OpSpec::runs_inline)) run inline on the
/// worker; everything else goes to the blocking pool.
fn runs_inline(req: &Request<Incoming>) -> bool {
    req.headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(kmsd_wire::kms::TARGET_PREFIX))
        .and_then(kmsd_core::kms::KmsOp::from_name)
        .is_some_and(|op| op.spec().runs_inline())
}

/// Read the body, stopping once it is over the wire layer's limit (which then answers
/// with an AWS-shaped error). A body that arrives in one frame (the usual case) is kept
/// as it is, without a copy.
async fn read_body(mut body: Incoming) -> Result<Bytes, String> {
    let mut first: Option<Bytes> = None;
    let mut buf: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            earlier => {
                if let Some(earlier) = earlier {
                    buf.extend_from_slice(&earlier);
                }
                buf.extend_from_slice(&data);
            }
        }
        if first.as_ref().map_or(buf.len(), Bytes::len) > kmsd_wire::route::MAX_BODY_BYTES {
            break;
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(buf)))
}

async fn handle_request(
    state: Arc<State>,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if state.ui && req.method() == http::Method::GET && matches!(req.uri().path(), "/ui" | "/ui/") {
        return Ok(ui_page());
    }
    if let Some(obs) = &state.observe {
        if let Some(ep) = observe::endpoint(obs, &req) {
            return Ok(observe::respond(obs.clone(), ep).await);
        }
    }
    let inline = runs_inline(&req);
    let (parts, body) = req.into_parts();
    let body = match tokio::time::timeout(BODY_TIMEOUT, read_body(body)).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, %peer, "request body could not be read");
            return Ok(plain(400, "request body could not be read"));
        }
        Err(_) => return Ok(plain(408, "request body timeout")),
    };
    let wire_req = WireRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body,
        source_ip: Some(peer.ip()),
        secure: false,
        now_millis: state.clock.now_millis(),
    };
    let started = std::time::Instant::now();
    let resp = if inline {
        kmsd_wire::handle(&state.service, wire_req)
    } else {
        let service = state.service.clone();
        match tokio::task::spawn_blocking(move || kmsd_wire::handle(&service, wire_req)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "request handler failed");
                return Ok(plain(500, "internal error"));
            }
        }
    };
    let resp = if state
        .audit
        .append_with(|buf| {
            resp.audit.write_json_line(buf);
            if let Some(suffix) = state.audit_suffix.get() {
                if buf.last() == Some(&b'}') {
                    buf.pop();
                    buf.extend_from_slice(suffix);
                }
            }
        })
        .await
    {
        resp
    } else {
        kmsd_wire::audit_failure_response(&resp)
    };
    if state.count {
        metrics::record_request(&metrics::RequestSample {
            event_source: &resp.audit.event_source,
            event_name: &resp.audit.event_name,
            error_code: resp.audit.error_code.as_deref(),
            decision: resp.audit.decision,
            end_node: resp.audit.end_node,
            elapsed: started.elapsed(),
        });
    }
    tracing::debug!(
        source = %resp.audit.event_source,
        event = %resp.audit.event_name,
        status = resp.status,
        error = resp.audit.error_code.as_deref().unwrap_or(""),
        micros = started.elapsed().as_micros() as u64,
        request_id = %resp.request_id,
        "request"
    );
    Ok(to_http(resp))
}

/// The explain page: static, embedded in the binary, no external assets. Every call it
/// makes is SigV4-signed in the browser and authorized like `iam:SimulatePrincipalPolicy`.
const UI_PAGE: &str = include_str!("ui/index.html");

fn ui_page() -> Response<Full<Bytes>> {
    Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(
            "content-security-policy",
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
        )
        .header("x-content-type-options", "nosniff")
        .body(Full::new(Bytes::from_static(UI_PAGE.as_bytes())))
        .unwrap_or_else(|_| plain(500, "internal error"))
}

/// `x-amzn-RequestId` (HTTP/1.1 header names are case-insensitive; hyper writes them in
/// lower case).
const REQUEST_ID_HEADER: http::HeaderName = http::HeaderName::from_static("x-amzn-requestid");

fn to_http(resp: WireResponse) -> Response<Full<Bytes>> {
    let Ok(request_id) = http::HeaderValue::from_str(&resp.request_id) else {
        return plain(500, "internal error");
    };
    let mut r = Response::new(Full::new(Bytes::from(resp.body)));
    *r.status_mut() =
        http::StatusCode::from_u16(resp.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = r.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(resp.content_type),
    );
    headers.insert(REQUEST_ID_HEADER, request_id);
    r
}

fn plain(status: u16, text: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    r
}
