//! `kmsd-bench`: command-line front end of the load generator (flags, setup
//! calls such as CreateKey and the Encrypt that Decrypt mode needs, runtime
//! construction, output), and of `kmsd-bench populate` (flags and output of
//! [`kmsd_bench::populate`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

use kmsd_bench::load::{self, Connection, LoadPlan};
use kmsd_bench::populate::{self, PopulatePlan};
use kmsd_bench::report::{render_json, render_table, MachineInfo, OpReport, OpStats, Report};
use kmsd_bench::request::{
    ciphertext_from_encrypt, create_key_body, create_signing_key_body, decrypt_body, encrypt_body,
    error_code, error_message, generate_data_key_body, key_id_from_create_key, sign_body, Endpoint,
    Op, RequestBuilder,
};
use kmsd_bench::sign::{Credentials, Signer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Encrypt,
    Decrypt,
    GenerateDataKey,
    Mixed,
    Sign,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Encrypt => "encrypt",
            Mode::Decrypt => "decrypt",
            Mode::GenerateDataKey => "generate-data-key",
            Mode::Mixed => "mixed",
            Mode::Sign => "sign",
        }
    }

    fn ops(self) -> Vec<Op> {
        match self {
            Mode::Encrypt => vec![Op::Encrypt],
            Mode::Decrypt => vec![Op::Decrypt],
            Mode::GenerateDataKey => vec![Op::GenerateDataKey],
            Mode::Mixed => vec![Op::Encrypt, Op::Decrypt, Op::GenerateDataKey],
            Mode::Sign => vec![Op::Sign],
        }
    }
}

/// Where to send requests and as whom (both the load and `populate`).
#[derive(Debug, clap::Args)]
struct Target {
    /// Endpoint URL (plain http).
    #[arg(
        long,
        env = "AWS_ENDPOINT_URL",
        default_value = "http://127.0.0.1:4599"
    )]
    endpoint: String,
    /// Region of the SigV4 credential scope (for `populate`: of the keys; its IAM calls are
    /// signed for us-east-1).
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    access_key: String,
    /// Secret access key (prefer the environment variable: arguments are visible to other users).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
    /// Session token of temporary credentials.
    #[arg(long, env = "AWS_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,
}

impl Target {
    fn credentials(&self) -> Credentials {
        Credentials::new(
            self.access_key.clone(),
            self.secret_key.clone(),
            self.session_token.clone(),
        )
    }
}

/// Load generator for AWS-KMS-compatible endpoints (kmsd, moto, ...).
///
/// Sends SigV4-signed awsJson1_1 KMS calls over N keep-alive HTTP/1.1
/// connections, each connection sending its next request when the previous
/// response has arrived, and reports requests/s, latency percentiles (HDR
/// histogram) and errors by code.
#[derive(Debug, Parser)]
#[command(
    name = "kmsd-bench",
    version,
    after_help = "To fill an endpoint with many keys, IAM users and grants first: kmsd-bench populate --help"
)]
struct Cli {
    #[command(flatten)]
    target: Target,
    /// Key to use (id, ARN, alias name or alias ARN).
    #[arg(
        long,
        required_unless_present = "create_key",
        conflicts_with = "create_key"
    )]
    key_id: Option<String>,
    /// Create a symmetric key with CreateKey first and use it.
    #[arg(long)]
    create_key: bool,
    /// Operation to drive; `mixed` cycles Encrypt, Decrypt, GenerateDataKey; `sign` signs
    /// a RAW message of --plaintext-size bytes with --signing-algorithm (with --create-key,
    /// the key is made with --key-spec and KeyUsage SIGN_VERIFY).
    #[arg(long, value_enum, default_value = "encrypt")]
    op: Mode,
    /// KeySpec of the key --create-key makes in sign mode.
    #[arg(long, default_value = "ECC_NIST_P256")]
    key_spec: String,
    /// SigningAlgorithm of sign mode.
    #[arg(long, default_value = "ECDSA_SHA_256")]
    signing_algorithm: String,
    /// Another endpoint of the same KMS (a node on the same shared store); repeatable.
    /// Connections are spread round-robin over --endpoint and these; the key is made and
    /// the setup calls go through --endpoint, and the load starts once every endpoint can
    /// use the key.
    #[arg(long = "also-endpoint", value_name = "URL")]
    also_endpoints: Vec<String>,
    /// Concurrent keep-alive connections (one task each).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Measured duration (e.g. 10s, 500ms, 1m).
    #[arg(long, default_value = "10s", value_parser = kmsd_bench::parse_duration)]
    duration: Duration,
    /// Unmeasured warm-up before the measured window.
    #[arg(long, default_value = "1s", value_parser = kmsd_bench::parse_duration)]
    warmup: Duration,
    /// Plaintext bytes per Encrypt (1..=4096).
    #[arg(long, default_value_t = 32)]
    plaintext_size: usize,
    /// Sign ONE request per operation and send it again and again (reported as replay).
    #[arg(long)]
    replay: bool,
    /// Load generator runtime threads (1 = single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
    /// Sample this server process's CPU (from /proc/PID/stat) over the measured window.
    #[arg(long)]
    server_pid: Option<u32>,
}

/// Fills an endpoint with keys, IAM users and grants on one key (the
/// "loaded key"), for measuring the load at scale.
///
/// Creates the loaded key first (its id is printed and written to the JSON),
/// then `--keys - 1` more keys (CreateKey), `--users` IAM users (CreateUser),
/// and `--grants` grants on the loaded key (CreateGrant, operations Encrypt
/// and Decrypt) naming the users round robin, every call SigV4-signed over
/// `--connections` keep-alive connections. Exits non-zero when more than
/// `--max-errors` calls fail. Then `kmsd-bench --key-id LOADED_KEY ...`
/// drives the load against the loaded key.
#[derive(Debug, Parser)]
#[command(name = "kmsd-bench populate", version)]
struct PopulateCli {
    #[command(flatten)]
    target: Target,
    /// Keys to create in all, the loaded key included.
    #[arg(long, default_value_t = 100_000)]
    keys: usize,
    /// IAM users to create (named PREFIX00000, PREFIX00001, ...).
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Grants to create on the loaded key, naming the users round robin.
    #[arg(long, default_value_t = 10_000)]
    grants: usize,
    /// User name prefix.
    #[arg(long, default_value = "kmsd-bench-user-")]
    user_prefix: String,
    /// Concurrent keep-alive connections per phase.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Fail (exit 1) when more calls than this fail; phases stop early past it.
    #[arg(long, default_value_t = 10)]
    max_errors: u64,
    /// Also create an access key for the grantee of the first grant and write it
    /// (JSON: UserName, UserArn, AccessKeyId, SecretAccessKey) to this file, mode 0600.
    #[arg(long)]
    grantee_credentials_out: Option<PathBuf>,
    /// Sample this server process's CPU (from /proc/PID/stat) per phase.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Print progress to stderr this often (0 = never).
    #[arg(long, default_value = "10s", value_parser = kmsd_bench::parse_duration)]
    progress: Duration,
    /// Load generator runtime threads (1 = single-threaded runtime).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON report to this file.
    #[arg(long)]
    json_out: Option<PathBuf>,
}

async fn run_populate(cli: PopulateCli) -> anyhow::Result<bool> {
    let plan = PopulatePlan {
        endpoint: Endpoint::parse(&cli.target.endpoint)?,
        credentials: cli.target.credentials(),
        region: cli.target.region.clone(),
        keys: cli.keys,
        users: cli.users,
        grants: cli.grants,
        connections: cli.connections,
        user_prefix: cli.user_prefix.clone(),
        max_errors: cli.max_errors,
        server_pid: cli.server_pid,
        grantee_credentials_out: cli.grantee_credentials_out.clone(),
        progress_every: (!cli.progress.is_zero()).then_some(cli.progress),
    };
    let report = populate::run(plan).await?;
    let json = populate::render_json(&report);
    if let Some(path) = &cli.json_out {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if cli.json {
        println!("{json}");
    } else {
        print!("{}", populate::render_table(&report));
    }
    if !report.success {
        eprintln!(
            "kmsd-bench populate: {} calls failed (more than --max-errors {}) or a phase did not run",
            report.total_errors, report.max_errors
        );
    }
    Ok(report.success)
}

/// Sends one setup call and returns the 2xx body, or an error
/// naming the AWS error code and message.
async fn setup_call(
    signer: &Signer,
    endpoint: &Endpoint,
    op: Op,
    body: bytes::Bytes,
) -> anyhow::Result<bytes::Bytes> {
    // A fresh connection per call: some servers close after each response.
    let mut conn = Connection::open(endpoint).await?;
    let mut b = RequestBuilder::new(signer.clone(), endpoint, op, body, false);
    let req = b.build(SystemTime::now())?;
    let (status, headers, body) = conn.call(req).await?;
    if !status.is_success() {
        bail!(
            "{} failed: HTTP {} {}: {}",
            op.name(),
            status.as_u16(),
            error_code(status.as_u16(), &headers, &body),
            error_message(&body).unwrap_or_default()
        );
    }
    Ok(body)
}

fn plaintext(size: usize) -> Vec<u8> {
    // A fixed, non-trivial pattern: the content does not matter to the server.
    (0..size)
        .map(|i| (i as u8).wrapping_mul(151).wrapping_add(7))
        .collect()
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    if !(1..=4096).contains(&cli.plaintext_size) {
        bail!("--plaintext-size must be between 1 and 4096 (the KMS limit)");
    }
    if cli.connections == 0 {
        bail!("--connections must be at least 1");
    }
    let endpoint = Endpoint::parse(&cli.target.endpoint)?;
    let signer = Signer::new(cli.target.credentials(), &cli.target.region, "kms");
    let key_id = match &cli.key_id {
        Some(k) => k.clone(),
        None => {
            let body = setup_call(
                &signer,
                &endpoint,
                Op::CreateKey,
                if cli.op == Mode::Sign {
                    create_signing_key_body("kmsd-bench", &cli.key_spec)
                } else {
                    create_key_body("kmsd-bench")
                },
            )
            .await?;
            let k = key_id_from_create_key(&body)?;
            eprintln!("kmsd-bench: created key {k}");
            k
        }
    };
    let pt = plaintext(cli.plaintext_size);
    let ops = cli.op.ops();
    let ciphertext = if ops.contains(&Op::Decrypt) {
        let body = setup_call(&signer, &endpoint, Op::Encrypt, encrypt_body(&key_id, &pt))
            .await
            .context("encrypting the ciphertext that Decrypt mode decrypts")?;
        Some(ciphertext_from_encrypt(&body)?)
    } else {
        None
    };

    let builders_for = |target: &Endpoint| -> Vec<RequestBuilder> {
        ops.iter()
            .map(|&op| {
                let body = match op {
                    Op::Decrypt => decrypt_body(&key_id, ciphertext.as_deref().unwrap_or_default()),
                    Op::GenerateDataKey => generate_data_key_body(&key_id),
                    Op::Sign => sign_body(&key_id, &pt, &cli.signing_algorithm),
                    _ => encrypt_body(&key_id, &pt),
                };
                RequestBuilder::new(signer.clone(), target, op, body, cli.replay)
            })
            .collect()
    };
    let mut also = Vec::with_capacity(cli.also_endpoints.len());
    for url in &cli.also_endpoints {
        let other = Endpoint::parse(url)?;
        wait_until_usable(&signer, &other, &key_id, &pt).await?;
        let b = builders_for(&other);
        also.push((other, b));
    }
    let builders = builders_for(&endpoint);

    let result = load::run(LoadPlan {
        endpoint: endpoint.clone(),
        also,
        builders,
        connections: cli.connections,
        warmup: cli.warmup,
        duration: cli.duration,
        server_pid: cli.server_pid,
    })
    .await?;

    let dur = result.measured_s;
    let mut total = OpStats::default();
    for s in &result.per_op {
        total.merge(s);
    }
    let total_name = if ops.len() == 1 {
        ops.first().map_or("total", |o| o.name())
    } else {
        "total"
    };
    let total_report = OpReport::new(total_name, &total, dur);
    let requests = total_report.requests;
    let report = Report {
        tool: "kmsd-bench",
        endpoint: std::iter::once(cli.target.endpoint.as_str())
            .chain(cli.also_endpoints.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        region: cli.target.region.clone(),
        mode: cli.op.label().to_owned(),
        signing: if cli.replay { "replay" } else { "per-request" },
        key_id,
        connections: cli.connections,
        threads: cli.threads.max(1),
        plaintext_size: cli.plaintext_size,
        warmup_s: cli.warmup.as_secs_f64(),
        duration_s: dur,
        per_op: ops
            .iter()
            .zip(result.per_op.iter())
            .map(|(op, s)| OpReport::new(op.name(), s, dur))
            .collect(),
        total: total_report,
        server_cpu: result
            .server_cpu_s
            .map(|(pid, s)| load::cpu_report(pid, s, dur, requests)),
        client_cpu: result
            .client_cpu_s
            .map(|s| load::cpu_report(std::process::id(), s, dur, requests)),
        machine: MachineInfo {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            loadavg_1m_start: result.loadavg_1m.0,
            loadavg_1m_end: result.loadavg_1m.1,
        },
    };
    let json = render_json(&report);
    if let Some(path) = &cli.json_out {
        std::fs::write(path, format!("{json}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if cli.json {
        println!("{json}");
    } else {
        print!("{}", render_table(&report));
    }
    Ok(report.total.ok > 0)
}

/// Waits (up to 10 s) until `endpoint` answers an Encrypt or Sign with `key_id`: a key made
/// on one node of a shared store reaches the others through the store's change feed.
async fn wait_until_usable(
    signer: &Signer,
    endpoint: &Endpoint,
    key_id: &str,
    pt: &[u8],
) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        // DescribeKey is not among the generator's operations; an Encrypt answers for any
        // key the caller can see (a signing key answers InvalidKeyUsage, which also proves
        // the node knows it).
        match setup_call(signer, endpoint, Op::Encrypt, encrypt_body(key_id, pt)).await {
            Ok(_) => return Ok(()),
            Err(e) if format!("{e:#}").contains("InvalidKeyUsage") => return Ok(()),
            Err(e) if std::time::Instant::now() >= deadline => {
                return Err(e.context(format!(
                    "the key did not become usable on {} within 10 s",
                    endpoint.authority
                )))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

fn runtime(threads: usize) -> Option<tokio::runtime::Runtime> {
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    };
    match rt {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("kmsd-bench: cannot start runtime: {e}");
            None
        }
    }
}

fn main_populate() -> ExitCode {
    // `kmsd-bench populate ARGS...`: parse ARGS with the populate flags.
    let args = std::env::args_os().skip(2);
    let cli = PopulateCli::parse_from(std::iter::once("kmsd-bench populate".into()).chain(args));
    let Some(rt) = runtime(cli.threads.max(1)) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(run_populate(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kmsd-bench populate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == "populate") {
        return main_populate();
    }
    let cli = Cli::parse();
    let threads = cli.threads.max(1);
    let Some(rt) = runtime(threads) else {
        return ExitCode::FAILURE;
    };
    match rt.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("kmsd-bench: no request succeeded");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kmsd-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
