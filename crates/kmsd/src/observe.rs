//! The operations endpoints: `GET /metrics` (Prometheus/OpenMetrics text, see
//! [`crate::metrics`]), `GET /healthz` (the process is up and serving) and `GET /readyz`
//! (the store and the audit log can be written). None needs a signature and none reveals a
//! key, a principal or a secret. They are served on the main listener, or on their own
//! listener with `--metrics-listen`; `--no-metrics` and `--no-health` turn them off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response};

use crate::metrics::Metrics;

/// What the operations endpoints need.
pub struct Observe {
    /// `None`: `/metrics` is off.
    pub metrics: Option<Metrics>,
    /// `/healthz` and `/readyz` are on.
    pub health: bool,
    /// Where the store lives (`/readyz` writes a probe file there).
    pub data_dir: PathBuf,
    /// Where the audit log lives (`/readyz` writes a probe file there).
    pub audit_dir: PathBuf,
}

/// Which endpoint a request asks for, if any. Only `GET` (and `HEAD`) of the exact paths.
pub fn endpoint<B>(obs: &Observe, req: &Request<B>) -> Option<Endpoint> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return None;
    }
    match req.uri().path() {
        "/metrics" if obs.metrics.is_some() => Some(Endpoint::Metrics),
        "/healthz" if obs.health => Some(Endpoint::Healthz),
        "/readyz" if obs.health => Some(Endpoint::Readyz),
        _ => None,
    }
}

/// An operations endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Metrics,
    Healthz,
    Readyz,
}

/// Answer an operations endpoint (readiness probes the disk: run off the request thread).
pub async fn respond(obs: Arc<Observe>, ep: Endpoint) -> Response<Full<Bytes>> {
    match ep {
        Endpoint::Metrics => {
            let text = match obs.metrics.as_ref() {
                Some(m) => m.render(),
                None => String::new(),
            };
            text_response(200, crate::metrics::CONTENT_TYPE, text)
        }
        Endpoint::Healthz => text_response(200, "text/plain; charset=utf-8", "ok\n".into()),
        Endpoint::Readyz => {
            let o = obs.clone();
            let problems = tokio::task::spawn_blocking(move || readiness_problems(&o))
                .await
                .unwrap_or_else(|_| vec!["readiness check failed"]);
            if problems.is_empty() {
                text_response(200, "text/plain; charset=utf-8", "ready\n".into())
            } else {
                let mut body = String::from("not ready:");
                for p in problems {
                    body.push(' ');
                    body.push_str(p);
                    body.push(';');
                }
                body.push('\n');
                text_response(503, "text/plain; charset=utf-8", body)
            }
        }
    }
}

/// What keeps the server from being ready (empty: ready). Fixed texts only.
fn readiness_problems(obs: &Observe) -> Vec<&'static str> {
    let mut problems = Vec::new();
    if !crate::metrics::store_healthy() {
        problems.push("the last store commit failed");
    }
    if !probe_writable(&obs.data_dir) {
        problems.push("the data directory is not writable");
    }
    if !crate::metrics::audit_healthy() {
        problems.push("the last audit log write failed");
    }
    if !probe_writable(&obs.audit_dir) {
        problems.push("the audit log directory is not writable");
    }
    problems
}

/// Create, write, sync and remove a probe file in `dir` (a name of its own per probe, so
/// concurrent probes do not remove each other's file).
fn probe_writable(dir: &Path) -> bool {
    use std::io::Write;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let n = PROBES.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!(".kmsd-ready-probe-{}-{n}", std::process::id()));
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| {
            f.write_all(b"ready")?;
            f.sync_data()
        })
        .is_ok();
    let removed = std::fs::remove_file(&path).is_ok();
    ok && removed
}

fn text_response(status: u16, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    r.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    r
}

/// Serve only the operations endpoints on `listener` (`--metrics-listen`) until `shutdown`.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    obs: Arc<Observe>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let obs = obs.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let obs = obs.clone();
                        async move {
                            let resp = match endpoint(&obs, &req) {
                                Some(ep) => respond(obs, ep).await,
                                None => text_response(404, "text/plain; charset=utf-8", "not found\n".into()),
                            };
                            Ok::<_, std::convert::Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .header_read_timeout(std::time::Duration::from_secs(30))
                        .timer(hyper_util::rt::TokioTimer::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
            _ = shutdown.changed() => break,
        }
    }
}
