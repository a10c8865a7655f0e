//! `populate` against a small in-process server on 127.0.0.1 that verifies
//! every request's SigV4 signature (kmsd-sigv4's verifier) and records what
//! it was asked to create: the loaded key comes first and gets every grant,
//! grantees are the created users round robin, IAM calls are signed for
//! iam/us-east-1, the grantee's credentials file is private, and refused
//! calls beyond the error budget fail the run and stop later phases.
#![allow(clippy::unwrap_used, reason = "test code: a failed expectation panics")]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use kmsd_bench::populate::{run, PopulatePlan};
use kmsd_bench::request::Endpoint;
use kmsd_bench::sign::Credentials;
use kmsd_sigv4::{HttpRequest, Payload, RequestAuth, Verifier};

const AKID: &str = "AKIAEXAMPLE111ROOT01";
const SECRET: &str = "root-secret-of-111122223333";

#[derive(Default)]
struct Seen {
    keys: Vec<String>,
    users: Vec<String>,
    /// (KeyId, GranteePrincipal, Operations)
    grants: Vec<(String, String, serde_json::Value)>,
    access_keys_for: Vec<String>,
    /// (service, region) of each verified signature.
    scopes: Vec<(String, String)>,
    bad_signatures: usize,
}

/// Users whose name ends with one of these are refused (EntityAlreadyExists).
type Refuse = &'static [&'static str];

fn handle(
    seen: &Mutex<Seen>,
    refuse: Refuse,
    headers: &http::HeaderMap,
    body: &[u8],
) -> (u16, String) {
    let hs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or("")))
        .collect();
    let view = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &hs,
        payload: Payload::Bytes(body),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut s = seen.lock().unwrap();
    match RequestAuth::from_request(&view)
        .map_err(|_| ())
        .and_then(|a| {
            Verifier::default()
                .verify(&view, &a, SECRET, now)
                .map(|_| a)
                .map_err(|_| ())
        }) {
        Ok(a) => s
            .scopes
            .push((a.credential.service.clone(), a.credential.region.clone())),
        Err(()) => {
            s.bad_signatures += 1;
            return (403, r#"{"__type":"SignatureDoesNotMatch"}"#.into());
        }
    }
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some("TrentService.CreateKey") => {
            let id = format!("key-{:06}", s.keys.len());
            s.keys.push(id.clone());
            (200, format!(r#"{{"KeyMetadata":{{"KeyId":"{id}"}}}}"#))
        }
        Some("TrentService.CreateGrant") => {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            s.grants.push((
                v["KeyId"].as_str().unwrap().to_owned(),
                v["GranteePrincipal"].as_str().unwrap().to_owned(),
                v["Operations"].clone(),
            ));
            (
                200,
                format!(r#"{{"GrantId":"g{}","GrantToken":"t"}}"#, s.grants.len()),
            )
        }
        Some(_) => (400, r#"{"__type":"UnknownOperationException"}"#.into()),
        None => {
            let params: Vec<(String, String)> = form_urlencoded_pairs(body);
            let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let name = get("UserName").unwrap_or_default();
            match get("Action").as_deref() {
                Some("CreateUser") => {
                    if refuse.iter().any(|r| name.ends_with(r)) {
                        return (
                            409,
                            format!("<ErrorResponse><Error><Type>Sender</Type><Code>EntityAlreadyExists</Code><Message>User with name {name} already exists.</Message></Error></ErrorResponse>"),
                        );
                    }
                    s.users.push(name.clone());
                    (
                        200,
                        format!("<CreateUserResponse><CreateUserResult><User><Path>/</Path><UserName>{name}</UserName><Arn>arn:aws:iam::111122223333:user/{name}</Arn></User></CreateUserResult></CreateUserResponse>"),
                    )
                }
                Some("CreateAccessKey") => {
                    s.access_keys_for.push(name.clone());
                    (
                        200,
                        format!("<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>{name}</UserName><AccessKeyId>AKIAGRANTEE000000001</AccessKeyId><SecretAccessKey>grantee-secret</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"),
                    )
                }
                _ => (
                    400,
                    "<ErrorResponse><Error><Code>InvalidAction</Code></Error></ErrorResponse>"
                        .into(),
                ),
            }
        }
    }
}

/// Minimal form decoding for the test server (the values used are plain).
fn form_urlencoded_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn serve(refuse: Refuse) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = state.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        let (status, text) = handle(&state, refuse, &parts.headers, &body);
                        let mut r = hyper::Response::new(Full::new(Bytes::from(text)));
                        *r.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        Ok::<_, Infallible>(r)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

fn plan(addr: &str, keys: usize, users: usize, grants: usize) -> PopulatePlan {
    PopulatePlan {
        endpoint: Endpoint::parse(&format!("http://{addr}")).unwrap(),
        credentials: Credentials::new(AKID, SECRET, None),
        region: "us-east-1".into(),
        keys,
        users,
        grants,
        connections: 4,
        user_prefix: "u-".into(),
        max_errors: 0,
        server_pid: None,
        grantee_credentials_out: None,
        progress_every: None,
    }
}

#[tokio::test]
async fn creates_keys_users_and_round_robin_grants_on_the_loaded_key() {
    let (addr, seen) = serve(&[]).await;
    let dir = std::env::temp_dir().join(format!("kmsd-bench-populate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let creds = dir.join("grantee.json");
    let mut p = plan(&addr, 20, 5, 12);
    p.grantee_credentials_out = Some(creds.clone());
    p.server_pid = Some(std::process::id());
    let report = run(p).await.unwrap();

    assert!(report.success, "{report:?}");
    assert_eq!(report.total_errors, 0);
    let s = seen.lock().unwrap();
    assert_eq!(s.bad_signatures, 0);
    assert_eq!(s.keys.len(), 20);
    // The loaded key is the first key created.
    assert_eq!(report.loaded_key_id, "key-000000");
    assert_eq!(s.users.len(), 5);
    let mut users = s.users.clone();
    users.sort();
    assert_eq!(
        users,
        ["u-00000", "u-00001", "u-00002", "u-00003", "u-00004"]
    );
    assert_eq!(s.grants.len(), 12);
    let mut per_user = std::collections::BTreeMap::new();
    for (key, grantee, ops) in &s.grants {
        assert_eq!(key, "key-000000");
        assert_eq!(ops, &serde_json::json!(["Encrypt", "Decrypt"]));
        *per_user.entry(grantee.clone()).or_insert(0) += 1;
    }
    // Round robin: 12 grants over 5 users is 3,3,2,2,2.
    let counts: Vec<i32> = per_user.values().copied().collect();
    assert_eq!(counts, [3, 3, 2, 2, 2]);
    assert_eq!(per_user["arn:aws:iam::111122223333:user/u-00000"], 3);
    // IAM calls are signed for iam in us-east-1, KMS calls for kms.
    let iam = s.scopes.iter().filter(|(svc, _)| svc == "iam").count();
    assert_eq!(iam, 5 + 1);
    assert!(s
        .scopes
        .iter()
        .all(|(svc, region)| region == "us-east-1" && (svc == "iam" || svc == "kms")));

    // Phases and their counts.
    let phases: Vec<(&str, usize, u64)> = report
        .phases
        .iter()
        .map(|p| (p.phase, p.requested, p.ok))
        .collect();
    assert_eq!(
        phases,
        [
            ("keys", 20, 20),
            ("users", 5, 5),
            ("grants", 12, 12),
            ("access-key", 1, 1)
        ]
    );
    assert!(report.phases.iter().all(|p| p.server_cpu.is_some()));

    // The grantee's credentials: the first user, private file.
    assert_eq!(s.access_keys_for, ["u-00000"]);
    let g = report.grantee.as_ref().unwrap();
    assert_eq!(g.user_arn, "arn:aws:iam::111122223333:user/u-00000");
    assert_eq!(g.grants_on_loaded_key, 3);
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&creds).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&creds).unwrap()).unwrap();
    assert_eq!(v["AccessKeyId"], "AKIAGRANTEE000000001");
    assert_eq!(v["SecretAccessKey"], "grantee-secret");
    assert_eq!(v["UserName"], "u-00000");
    // The JSON report never carries the secret.
    assert!(!kmsd_bench::populate::render_json(&report).contains("grantee-secret"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn errors_over_budget_fail_the_run_and_stop_later_phases() {
    let (addr, seen) = serve(&["00001", "00003"]).await;
    let mut p = plan(&addr, 3, 6, 10);
    p.max_errors = 1;
    let report = run(p).await.unwrap();
    assert!(!report.success);
    assert_eq!(report.total_errors, 2);
    let users = report.phases.iter().find(|p| p.phase == "users").unwrap();
    assert_eq!(users.errors_by_code.get("EntityAlreadyExists"), Some(&2));
    // No grant phase after the budget was exceeded.
    assert!(report.phases.iter().all(|p| p.phase != "grants"));
    assert!(seen.lock().unwrap().grants.is_empty());
}

#[tokio::test]
async fn errors_within_budget_skip_the_missing_users() {
    let (addr, seen) = serve(&["00001"]).await;
    let mut p = plan(&addr, 2, 3, 4);
    p.max_errors = 1;
    let report = run(p).await.unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(report.total_errors, 1);
    let s = seen.lock().unwrap();
    // Grants name only the users that exist: u-00000, u-00002, u-00000, u-00002.
    let grantees: Vec<&str> = s.grants.iter().map(|(_, g, _)| g.as_str()).collect();
    assert_eq!(grantees.len(), 4);
    assert!(grantees.iter().all(|g| !g.ends_with("u-00001")));
    assert_eq!(
        grantees.iter().filter(|g| g.ends_with("u-00000")).count(),
        2
    );
}

#[tokio::test]
async fn unreachable_endpoint_is_an_error() {
    // Bind then drop, so the port is very likely closed.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    assert!(run(plan(&addr, 1, 0, 0)).await.is_err());
}
