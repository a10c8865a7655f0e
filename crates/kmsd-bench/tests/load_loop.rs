//! The load loop against small in-process servers on 127.0.0.1: successes
//! are counted, error responses are counted by their AWS code, and a server
//! that closes after every response (as moto's does) costs no errors.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use kmsd_bench::load::{run, LoadPlan};
use kmsd_bench::request::{encrypt_body, Endpoint, Op, RequestBuilder};
use kmsd_bench::sign::{Credentials, Signer};

#[derive(Clone, Copy)]
enum Behaviour {
    Ok,
    NotFound,
    CloseEachResponse,
}

/// Serves until the test's runtime ends; returns the address and a counter
/// of requests that carried a SigV4 Authorization header.
async fn serve(behaviour: Behaviour) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let signed = Arc::new(AtomicU64::new(0));
    let counter = signed.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let counter = counter.clone();
                    async move {
                        let auth_ok = req
                            .headers()
                            .get("authorization")
                            .is_some_and(|v| v.as_bytes().starts_with(b"AWS4-HMAC-SHA256 "))
                            && req.headers()["x-amz-target"] == "TrentService.Encrypt";
                        if auth_ok {
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                        let _ = req.into_body().collect().await;
                        let mut resp = match behaviour {
                            Behaviour::NotFound => {
                                let mut r = hyper::Response::new(Full::new(Bytes::from_static(
                                    br#"{"__type":"NotFoundException","message":"no key"}"#,
                                )));
                                *r.status_mut() = http::StatusCode::BAD_REQUEST;
                                r
                            }
                            _ => hyper::Response::new(Full::new(Bytes::from_static(
                                br#"{"CiphertextBlob":"AAAA","KeyId":"k"}"#,
                            ))),
                        };
                        if let Behaviour::CloseEachResponse = behaviour {
                            resp.headers_mut()
                                .insert("connection", http::HeaderValue::from_static("close"));
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, signed)
}

fn plan(addr: &str, connections: usize) -> LoadPlan {
    let endpoint = Endpoint::parse(&format!("http://{addr}")).unwrap();
    let signer = Signer::new(
        Credentials::new("AKIDTEST", "secret", None),
        "us-east-1",
        "kms",
    );
    let builder = RequestBuilder::new(
        signer,
        &endpoint,
        Op::Encrypt,
        encrypt_body("k", b"0123456789abcdef0123456789abcdef"),
        false,
    );
    LoadPlan {
        endpoint,
        builders: vec![builder],
        connections,
        warmup: Duration::from_millis(50),
        duration: Duration::from_millis(300),
        server_pid: Some(std::process::id()),
        also: Vec::new(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn counts_successes_and_latency() {
    let (addr, signed) = serve(Behaviour::Ok).await;
    let r = run(plan(&addr, 4)).await.unwrap();
    let s = &r.per_op[0];
    assert!(s.ok > 10, "only {} requests", s.ok);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.latency.len(), s.ok);
    assert!(r.measured_s >= 0.3);
    // Every request the server saw was signed (warm-up included).
    assert!(signed.load(Ordering::Relaxed) >= s.ok);
    assert!(r.server_cpu_s.is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn counts_error_responses_by_code() {
    let (addr, _) = serve(Behaviour::NotFound).await;
    let r = run(plan(&addr, 2)).await.unwrap();
    let s = &r.per_op[0];
    assert_eq!(s.ok, 0);
    assert!(s.errors["NotFoundException"] > 5);
    assert_eq!(s.errors.len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn reconnects_after_connection_close_without_errors() {
    let (addr, _) = serve(Behaviour::CloseEachResponse).await;
    let r = run(plan(&addr, 2)).await.unwrap();
    let s = &r.per_op[0];
    assert!(s.ok > 5, "only {} requests", s.ok);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
}

#[tokio::test(flavor = "current_thread")]
async fn unreachable_endpoint_counts_connect_errors() {
    // Bind then drop a listener to get a local port with nothing on it.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    };
    let r = run(plan(&addr, 1)).await.unwrap();
    let s = &r.per_op[0];
    assert_eq!(s.ok, 0);
    assert!(s.errors.get("ConnectError").copied().unwrap_or(0) >= 1);
}
