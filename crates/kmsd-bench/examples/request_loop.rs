//! Runs N signed Encrypt requests through `kmsd_wire::handle` plus the audit line, for
//! instruction-level profiling (`valgrind --tool=callgrind`), which counts instructions
//! whatever else the machine is doing. Requests are signed before the loop; run it with two
//! values of N and subtract to get the cost per request without the setup.
//!
//! `cargo build --profile bench -p kmsd-bench --example request_loop`
//! `valgrind --tool=callgrind target/release/examples/request_loop 2000`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "test code: a failed expectation panics; test helpers need no docs"
)]

#[path = "../benches/common/mod.rs"]
mod common;

use common::{wire_request, Setup};
use kmsd_bench::request::{self, Op};
use kmsd_wire::{handle, WireRequest};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let setup = Setup::new();
    let mut enc = setup.builder(
        Op::Encrypt,
        request::encrypt_body(&setup.key_id, &[0x5a; 32]),
    );
    let reqs: Vec<WireRequest> = (0..n).map(|_| wire_request(&mut enc)).collect();
    let mut line = Vec::with_capacity(4096);
    let mut ok = 0usize;
    let mut last_body = Vec::new();
    for req in reqs {
        let resp = handle(&setup.service, req);
        ok += usize::from(resp.status == 200);
        line.clear();
        resp.audit.write_json_line(&mut line);
        std::hint::black_box(&line);
        last_body = resp.body;
    }
    println!("{ok}/{n} ok");
    // REQUEST_LOOP_PRINT=1: show the last response body and audit line.
    if std::env::var_os("REQUEST_LOOP_PRINT").is_some() {
        println!("{}", String::from_utf8_lossy(&last_body));
        println!("{}", String::from_utf8_lossy(&line));
    }
}
