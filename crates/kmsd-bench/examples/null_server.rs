//! A do-nothing awsJson1_1 server for measuring the load generator itself:
//! it answers every request with a fixed Encrypt-shaped JSON body (CreateKey
//! gets a KeyMetadata) without checking signatures. Whatever kmsd-bench
//! reaches against it is the ceiling of the generator on this machine.
//!
//! `cargo run --release -p kmsd-bench --example null_server -- 127.0.0.1:4700 [THREADS]`

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

const ENCRYPT_RESPONSE: &[u8] = br#"{"CiphertextBlob":"AQICAHhudWxsLXNlcnZlci1jaXBoZXJ0ZXh0LWJsb2ItZm9yLWJlbmNobWFya2luZy1vbmx5AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","KeyId":"arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#;
const CREATE_KEY_RESPONSE: &[u8] =
    br#"{"KeyMetadata":{"KeyId":"00000000-0000-4000-8000-000000000000"}}"#;

async fn handle(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let create = req
        .headers()
        .get("x-amz-target")
        .is_some_and(|v| v.as_bytes() == b"TrentService.CreateKey");
    // Read (and drop) the body as a real server would.
    let _ = req.into_body().collect().await;
    let body = if create {
        CREATE_KEY_RESPONSE
    } else {
        ENCRYPT_RESPONSE
    };
    let mut resp = hyper::Response::new(Full::new(Bytes::from_static(body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    Ok(resp)
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4700".to_owned());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!("null server listening on http://{addr}");
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(handle))
                    .await;
            });
        }
    })
}
