//! A fresh in-memory kmsd service loaded with `examples/seed-world.json`, and signed
//! wire requests to it, for the targets that go through `kmsd_wire::handle`.
//!
//! Everything is deterministic except the random IVs and ids the service makes itself: a
//! fixed root key and a manual clock at [`NOW_MILLIS`].

use std::sync::{Arc, OnceLock};

use kmsd_core::bootstrap::World;
use kmsd_core::clock::ManualClock;
use kmsd_core::service::Service;
use kmsd_core::store::MemStore;
use kmsd_crypto::RootKey;
use kmsd_sigv4::{sign, HttpRequest, Payload, SigningParams, SigningSettings};
use kmsd_wire::{WireRequest, WireResponse};

/// The seed world text.
pub const SEED_WORLD: &str = include_str!("../../examples/seed-world.json");
/// The service's clock and the requests' arrival time (2023-11-14T22:13:20Z).
pub const NOW_MILLIS: i64 = 1_700_000_000_000;

/// (access key id, secret) of the seed world's callers: two account roots and two users.
pub const CALLERS: &[(&str, &str)] = &[
    ("AKIA111122223333ROOT", "seed-root-secret-111122223333"),
    ("AKIA444455556666ROOT", "seed-root-secret-444455556666"),
    (
        "AKIAALICE00000000001",
        "seed-alice-secret-0000000000000000000001",
    ),
    (
        "AKIABOB0000000000001",
        "seed-bob-secret-000000000000000000000001",
    ),
];

fn seed_world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| match World::from_str(SEED_WORLD, "seed-world.json") {
        Ok(w) => w,
        Err(e) => panic!("seed world does not parse: {e}"),
    })
}

/// A new service over an empty in-memory store (no world applied).
pub fn empty_service(region: &str) -> Service {
    match Service::open(
        Arc::new(MemStore::new()),
        Arc::new(ManualClock::new(NOW_MILLIS)),
        Arc::new(RootKey::from_bytes([0x5a; 32])),
        region,
    ) {
        Ok(s) => s,
        Err(e) => panic!("empty service does not open: {e:?}"),
    }
}

/// A new service with the seed world applied.
pub fn seeded_service(region: &str) -> Service {
    let s = empty_service(region);
    if let Err(e) = s.apply_world(seed_world()) {
        panic!("seed world does not apply: {e:?}");
    }
    s
}

/// Sign and send one request through `kmsd_wire::handle`; `None` when a header value
/// (e.g. a fuzzed `X-Amz-Target`) cannot be sent over HTTP at all.
#[expect(
    clippy::too_many_arguments,
    reason = "each argument is one input of the standard opening of a key operation"
)]
pub fn send(
    service: &Service,
    caller: (&str, &str),
    region: &str,
    scope_service: &str,
    target: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Option<WireResponse> {
    let mut headers: Vec<(&str, &str)> =
        vec![("Host", "localhost:8080"), ("Content-Type", content_type)];
    if let Some(t) = target {
        headers.push(("X-Amz-Target", t));
    }
    let req = HttpRequest {
        method: "POST",
        uri: "/",
        headers: &headers,
        payload: Payload::Bytes(body),
    };
    let params = SigningParams {
        access_key_id: caller.0,
        secret_access_key: caller.1,
        session_token: None,
        region,
        service: scope_service,
        time: NOW_MILLIS / 1000,
        settings: SigningSettings::default(),
    };
    let signed = match sign(&req, &params) {
        Ok(s) => s,
        Err(e) => panic!("signing failed: {e:?}"),
    };
    let mut map = http::HeaderMap::new();
    for (n, v) in headers
        .iter()
        .copied()
        .chain(signed.headers.iter().map(|(n, v)| (*n, v.as_str())))
    {
        let (Ok(n), Ok(v)) = (
            http::header::HeaderName::from_bytes(n.as_bytes()),
            http::header::HeaderValue::from_str(v),
        ) else {
            return None;
        };
        map.append(n, v);
    }
    let wire = WireRequest {
        method: http::Method::POST,
        uri: http::Uri::from_static("/"),
        headers: map,
        body: bytes::Bytes::copy_from_slice(body),
        source_ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        secure: false,
        now_millis: NOW_MILLIS,
    };
    Some(kmsd_wire::handle(service, wire))
}

/// Shared response checks: no 5xx for a client's request, and the status matches the body.
pub fn check_response(resp: &WireResponse, what: &str) {
    assert!(
        resp.status < 500,
        "{what}: status {} body {}",
        resp.status,
        String::from_utf8_lossy(&resp.body)
    );
}
