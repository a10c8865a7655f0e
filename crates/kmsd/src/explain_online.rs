//! `kmsd explain --endpoint URL`: ask a running kmsd (`KmsdService.Explain`, SigV4-signed
//! with the caller's AWS credentials from the usual environment) and return its answer,
//! the same JSON object offline explain prints.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::explain::Question;

/// Credentials from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, or the
/// shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`,
/// profile `AWS_PROFILE` or `default`).
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
}

fn credentials() -> Result<Credentials, String> {
    if let (Ok(id), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) {
        return Ok(Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: std::env::var("AWS_SESSION_TOKEN").ok(),
        });
    }
    let path = match std::env::var("AWS_SHARED_CREDENTIALS_FILE") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => {
            let home = std::env::var("HOME").map_err(|_| no_credentials())?;
            std::path::Path::new(&home).join(".aws").join("credentials")
        }
    };
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let text = std::fs::read_to_string(&path).map_err(|_| no_credentials())?;
    let mut in_profile = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_profile = line.trim_matches(|c| c == '[' || c == ']').trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    match (id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
            access_key_id,
            secret_access_key,
            session_token: token,
        }),
        _ => Err(no_credentials()),
    }
}

fn no_credentials() -> String {
    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or a profile)".into()
}

/// `http://host:port[/]` → (`host:port`, host header).
fn parse_endpoint(endpoint: &str) -> Result<String, String> {
    let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
        format!("--endpoint {endpoint:?}: only http:// endpoints are supported (use a TLS proxy's plain side)")
    })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("--endpoint {endpoint:?} has no host"));
    }
    Ok(authority.to_string())
}

/// Ask the server at `endpoint` to explain `q`.
pub fn explain_online(endpoint: &str, q: &Question) -> Result<Value, String> {
    let mut context = Map::new();
    for (k, v) in q.context.iter() {
        let value = match v {
            kmsd_policy::ContextValue::Single(s) => json!([s]),
            kmsd_policy::ContextValue::Multi(m) => json!(m),
        };
        context.insert(k.to_string(), value);
    }
    let mut body = json!({
        "PrincipalArn": q.principal,
        "Action": q.action,
        "KeyId": q.key,
        "Region": q.region,
        "Context": context,
    });
    if let (Some(ec), Some(obj)) = (&q.encryption_context, body.as_object_mut()) {
        obj.insert("EncryptionContext".into(), json!(ec));
    }
    if let (Some(sp), Some(obj)) = (&q.session_policy, body.as_object_mut()) {
        obj.insert("SessionPolicy".into(), Value::String(sp.clone()));
    }
    call(endpoint, &q.region, "KmsdService.Explain", &body)
}

/// Send one SigV4-signed kmsd JSON operation (`X-Amz-Target: target`) and return the
/// decoded answer; a non-200 answer becomes an error naming its AWS code and message.
pub fn call(endpoint: &str, region: &str, target: &str, body: &Value) -> Result<Value, String> {
    let authority = parse_endpoint(endpoint)?;
    let creds = credentials()?;
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let base = [
        ("Host", authority.as_str()),
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Target", target),
    ];
    #[expect(
        clippy::disallowed_methods,
        reason = "a client signs its request with the wall clock"
    )]
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let req = kmsd_sigv4::HttpRequest {
        method: "POST",
        uri: "/",
        headers: &base,
        payload: kmsd_sigv4::Payload::Bytes(&body),
    };
    let params = kmsd_sigv4::SigningParams {
        access_key_id: &creds.access_key_id,
        secret_access_key: &creds.secret_access_key,
        session_token: creds.session_token.as_deref(),
        region,
        service: "kms",
        time: i64::try_from(now).map_err(|e| e.to_string())?,
        settings: kmsd_sigv4::SigningSettings::default(),
    };
    let signed = kmsd_sigv4::sign(&req, &params).map_err(|e| e.to_string())?;
    let mut head = format!(
        "POST / HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in base.iter() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    for (name, value) in &signed.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream =
        TcpStream::connect(&authority).map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(&body))
        .map_err(|e| format!("sending to {endpoint}: {e}"))?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| format!("reading from {endpoint}: {e}"))?;
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{endpoint}: malformed HTTP response"))?;
    let (head, rest) = response.split_at(split);
    let status_line = String::from_utf8_lossy(head);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("{endpoint}: malformed status line"))?;
    let payload = rest.get(4..).unwrap_or(&[]);
    let chunked = status_line
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let payload = if chunked {
        dechunk(payload)
    } else {
        payload.to_vec()
    };
    let value: Value = serde_json::from_slice(&payload)
        .map_err(|e| format!("{endpoint}: response is not JSON ({e})"))?;
    if status != 200 {
        let code = value
            .get("__type")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{endpoint} answered {status} {code}: {message}"));
    }
    Ok(value)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(data.get(..eol).unwrap_or(&[])).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        let Some(chunk) = data.get(start..start + size) else {
            return out;
        };
        out.extend_from_slice(chunk);
        data = data.get(start + size + 2..).unwrap_or(&[]);
    }
}
