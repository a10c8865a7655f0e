//! The load loop: one tokio task per HTTP/1.1 keep-alive connection, each
//! sending its next request as soon as the previous response has been read
//! (closed loop), for a warm-up and then a measured window.
//!
//! Latency is measured from just before a request is handed to the
//! connection until its whole response body has been read. Only requests
//! that start inside the measured window are counted; CPU of the server (and
//! of this process) is sampled at the window's edges.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::cpu;
use crate::report::{CpuReport, OpStats};
use crate::request::{error_code, Endpoint, RequestBuilder};

/// Error code recorded when a connection cannot be opened.
pub const CONNECT_ERROR: &str = "ConnectError";
/// Error code recorded when a connection fails mid-request.
pub const CONNECTION_ERROR: &str = "ConnectionError";

/// Why [`Connection::call`] failed.
#[derive(Debug)]
pub enum CallError {
    /// The connection was already closed (e.g. the peer closed it after
    /// the previous response); the request was not sent.
    Closed,
    /// The request was sent (or being sent) and failed.
    Failed(anyhow::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Closed => f.write_str("connection closed"),
            CallError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for CallError {}

/// One keep-alive HTTP/1.1 connection; its driver runs in its own task.
///
/// (Polling the driver from the sending task instead was measured: it did
/// not lower the generator's CPU per request.)
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Opens a connection to `endpoint` (TCP_NODELAY) and starts its driver task.
    pub async fn open(endpoint: &Endpoint) -> anyhow::Result<Self> {
        let addr = endpoint.connect_addr();
        let stream = TcpStream::connect(&addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .context("HTTP/1.1 handshake failed")?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the peer closes.
            let _ = driver.await;
        });
        Ok(Connection { sender })
    }

    /// Sends one request and reads the whole response.
    pub async fn call(
        &mut self,
        req: http::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), CallError> {
        if self.sender.ready().await.is_err() {
            return Err(CallError::Closed);
        }
        let resp = self
            .sender
            .send_request(req)
            .await
            .map_err(|e| CallError::Failed(anyhow::Error::new(e).context("request failed")))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| {
                CallError::Failed(anyhow::Error::new(e).context("reading response body failed"))
            })?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}

/// What the load phase needs.
pub struct LoadPlan {
    /// Where to send.
    pub endpoint: Endpoint,
    /// One builder per operation; connection `i` sends them round-robin,
    /// starting at `i % len`.
    pub builders: Vec<RequestBuilder>,
    /// Concurrent connections.
    pub connections: usize,
    /// Unmeasured warm-up.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
    /// Server process to sample CPU of.
    pub server_pid: Option<u32>,
    /// Further endpoints serving the same KMS (other nodes on one shared store), each with
    /// its own builders (the Host header is signed). Connection `i` goes to target
    /// `i % (1 + also.len())`, target 0 being `endpoint`.
    pub also: Vec<(Endpoint, Vec<RequestBuilder>)>,
}

/// What the load phase measured.
pub struct LoadResult {
    /// Per operation (same order as the plan's builders), merged over connections.
    pub per_op: Vec<OpStats>,
    /// Seconds from the start of the measured window to the last completion.
    pub measured_s: f64,
    /// Server CPU seconds during the window, with its pid.
    pub server_cpu_s: Option<(u32, f64)>,
    /// This process's CPU seconds during the window.
    pub client_cpu_s: Option<f64>,
    /// 1-minute load average at the start and at the end of the window.
    pub loadavg_1m: (Option<f64>, Option<f64>),
}

struct ConnResult {
    per_op: Vec<OpStats>,
    last_done: Option<Instant>,
}

async fn connection_loop(
    endpoint: Arc<Endpoint>,
    mut builders: Vec<RequestBuilder>,
    first: usize,
    measure_from: Instant,
    end: Instant,
) -> ConnResult {
    let n = builders.len().max(1);
    let mut per_op: Vec<OpStats> = (0..n).map(|_| OpStats::default()).collect();
    let mut next = first % n;
    let mut conn: Option<Connection> = None;
    let mut served_on_conn: u64 = 0;
    let mut last_done = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let measuring = now >= measure_from;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match Connection::open(&endpoint).await {
                Ok(c) => {
                    served_on_conn = 0;
                    conn.insert(c)
                }
                Err(_) => {
                    if measuring {
                        if let Some(s) = per_op.get_mut(next) {
                            s.count_error(CONNECT_ERROR);
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let i = next;
        next = (next + 1) % n;
        let Some(builder) = builders.get_mut(i) else {
            break;
        };
        let req = match builder.build(SystemTime::now()) {
            Ok(r) => r,
            Err(_) => break,
        };
        let t0 = Instant::now();
        let outcome = c.call(req).await;
        let t1 = Instant::now();
        let measured = t0 >= measure_from;
        let Some(stats) = per_op.get_mut(i) else {
            break;
        };
        match outcome {
            Ok((status, headers, body)) => {
                served_on_conn += 1;
                if measured {
                    let ns = u64::try_from((t1 - t0).as_nanos()).unwrap_or(u64::MAX);
                    if status.is_success() {
                        stats.record(ns, None);
                    } else {
                        stats.record(ns, Some(&error_code(status.as_u16(), &headers, &body)));
                    }
                    last_done = Some(t1);
                }
                if headers
                    .get(http::header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
                {
                    conn = None;
                }
            }
            Err(CallError::Closed) => {
                // Closed by the peer between requests: nothing was sent.
                // Reconnect; a connection that closes before its first
                // request counts as an error so a bad server cannot spin us.
                if served_on_conn == 0 {
                    if measured {
                        stats.count_error(CONNECTION_ERROR);
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                conn = None;
            }
            Err(CallError::Failed(_)) => {
                if measured {
                    stats.count_error(CONNECTION_ERROR);
                    last_done = Some(t1);
                }
                conn = None;
            }
        }
    }
    ConnResult { per_op, last_done }
}

async fn sleep_until(t: Instant) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await;
}

/// Runs the load: warm-up, then the measured window; returns merged stats.
pub async fn run(plan: LoadPlan) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(!plan.builders.is_empty(), "no operation to send");
    anyhow::ensure!(plan.connections > 0, "--connections must be at least 1");
    let ticks = cpu::clock_ticks_per_sec();
    anyhow::ensure!(
        plan.also
            .iter()
            .all(|(_, b)| b.len() == plan.builders.len()),
        "every endpoint needs one builder per operation"
    );
    let n_ops = plan.builders.len();
    let targets: Vec<(Arc<Endpoint>, Vec<RequestBuilder>)> =
        std::iter::once((Arc::new(plan.endpoint), plan.builders))
            .chain(plan.also.into_iter().map(|(e, b)| (Arc::new(e), b)))
            .collect();
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;

    let mut tasks = Vec::with_capacity(plan.connections);
    for i in 0..plan.connections {
        let Some((endpoint, builders)) = targets.get(i % targets.len()) else {
            break;
        };
        // Operation offset: spread the operations evenly over the connections of each target.
        let first = i / targets.len();
        tasks.push(tokio::spawn(connection_loop(
            endpoint.clone(),
            builders.clone(),
            first,
            measure_from,
            end,
        )));
    }

    sleep_until(measure_from).await;
    let load_before = cpu::loadavg_1m();
    let server_before = plan
        .server_pid
        .map(|pid| cpu::process_cpu_seconds(pid, ticks))
        .transpose()?;
    let self_pid = std::process::id();
    let client_before = cpu::process_cpu_seconds(self_pid, ticks).ok();
    sleep_until(end).await;
    let server_after = plan
        .server_pid
        .map(|pid| cpu::process_cpu_seconds(pid, ticks))
        .transpose()?;
    let client_after = cpu::process_cpu_seconds(self_pid, ticks).ok();
    let load_after = cpu::loadavg_1m();

    let mut per_op: Vec<OpStats> = (0..n_ops).map(|_| OpStats::default()).collect();
    let mut last_done: Option<Instant> = None;
    for t in tasks {
        let r = t.await.context("connection task panicked")?;
        for (acc, s) in per_op.iter_mut().zip(r.per_op.iter()) {
            acc.merge(s);
        }
        last_done = match (last_done, r.last_done) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
    let measured_s = last_done
        .map(|t| t.saturating_duration_since(measure_from).as_secs_f64())
        .unwrap_or(plan.duration.as_secs_f64())
        .max(plan.duration.as_secs_f64());
    let server_cpu_s = match (plan.server_pid, server_before, server_after) {
        (Some(pid), Some(a), Some(b)) => Some((pid, (b - a).max(0.0))),
        _ => None,
    };
    let client_cpu_s = match (client_before, client_after) {
        (Some(a), Some(b)) => Some((b - a).max(0.0)),
        _ => None,
    };
    Ok(LoadResult {
        per_op,
        measured_s,
        server_cpu_s,
        client_cpu_s,
        loadavg_1m: (load_before, load_after),
    })
}

/// CPU report for `cpu_s` seconds over `duration_s` and `requests`.
pub fn cpu_report(pid: u32, cpu_s: f64, duration_s: f64, requests: u64) -> CpuReport {
    CpuReport {
        pid,
        cpu_seconds: cpu_s,
        cores_busy: if duration_s > 0.0 {
            cpu_s / duration_s
        } else {
            0.0
        },
        us_per_request: if requests > 0 {
            cpu_s * 1e6 / requests as f64
        } else {
            0.0
        },
    }
}
