//! Setup shared by the request bench and the `request_loop` example: a service loaded from
//! `examples/seed-world.json` (in memory), SigV4-signed KMS requests as the root user of
//! 111122223333 (signed the way `kmsd-bench` signs them), and a key created through the API.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods,
    reason = "benchmark support shared by several targets, each using part of it; it panics on setup failure and signs requests with the wall clock"
)]

use std::time::{SystemTime, UNIX_EPOCH};

use kmsd_bench::request::{Endpoint, Op, RequestBuilder};
use kmsd_bench::sign::{Credentials, Signer};
use kmsd_core::bootstrap::World;
use kmsd_core::service::Service;
use kmsd_wire::{handle, WireRequest};

/// The service, a signer for its root user, and a key that user created.
pub struct Setup {
    pub service: Service,
    pub endpoint: Endpoint,
    pub signer: Signer,
    pub key_id: String,
}

impl Setup {
    pub fn new() -> Setup {
        let world_path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/seed-world.json"
        );
        let world = World::from_file(std::path::Path::new(world_path)).unwrap();
        let service = Service::from_world_in_memory(&world, "us-east-1").unwrap();
        let endpoint = Endpoint::parse("http://127.0.0.1:4599").unwrap();
        let signer = Signer::new(
            Credentials::new(
                "AKIA111122223333ROOT",
                "seed-root-secret-111122223333",
                None,
            ),
            "us-east-1",
            "kms",
        );
        let mut create = RequestBuilder::new(
            signer.clone(),
            &endpoint,
            Op::CreateKey,
            kmsd_bench::request::create_key_body("bench"),
            false,
        );
        let created = handle(&service, wire_request(&mut create));
        assert_eq!(
            created.status,
            200,
            "{}",
            String::from_utf8_lossy(&created.body)
        );
        let key_id = kmsd_bench::request::key_id_from_create_key(&created.body).unwrap();
        Setup {
            service,
            endpoint,
            signer,
            key_id,
        }
    }

    /// A builder of signed `op` requests with `body`.
    pub fn builder(&self, op: Op, body: bytes::Bytes) -> RequestBuilder {
        RequestBuilder::new(self.signer.clone(), &self.endpoint, op, body, false)
    }
}

/// The next request of `builder`, signed now, as the server hands it to the wire layer.
pub fn wire_request(builder: &mut RequestBuilder) -> WireRequest {
    let now = SystemTime::now();
    let (parts, _) = builder.build(now).unwrap().into_parts();
    WireRequest {
        method: parts.method,
        uri: parts.uri,
        headers: parts.headers,
        body: builder.body().clone(),
        source_ip: Some("127.0.0.1".parse().unwrap()),
        secure: false,
        now_millis: now.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64,
    }
}
