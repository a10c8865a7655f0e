//! Runs N signed Encrypt requests through `kmsd_wire::handle` plus the audit line, for
//! instruction-level profiling (`valgrind --tool=callgrind`), which counts instructions
//! whatever else the machine is doing. Requests are signed before the loop.
//!
//! `cargo build --profile bench -p kmsd-wire --example request_loop`
//! `valgrind --tool=callgrind target/release/examples/request_loop 2000`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::{SystemTime, UNIX_EPOCH};

use kmsd_bench::request::{Endpoint, Op, RequestBuilder};
use kmsd_bench::sign::{Credentials, Signer};
use kmsd_core::bootstrap::World;
use kmsd_core::service::Service;
use kmsd_wire::{handle, WireRequest};

fn wire_request(builder: &mut RequestBuilder) -> WireRequest {
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

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
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
        kmsd_bench::request::create_key_body("loop"),
        false,
    );
    let created = handle(&service, wire_request(&mut create));
    let key_id = kmsd_bench::request::key_id_from_create_key(&created.body).unwrap();
    let mut enc = RequestBuilder::new(
        signer,
        &endpoint,
        Op::Encrypt,
        kmsd_bench::request::encrypt_body(&key_id, &[0x5a; 32]),
        false,
    );
    let reqs: Vec<WireRequest> = (0..n).map(|_| wire_request(&mut enc)).collect();
    let mut line = Vec::with_capacity(4096);
    let mut ok = 0usize;
    for req in reqs {
        let resp = handle(&service, req);
        ok += usize::from(resp.status == 200);
        line.clear();
        resp.audit.write_json_line(&mut line);
        std::hint::black_box(&line);
    }
    println!("{ok}/{n} ok");
}
