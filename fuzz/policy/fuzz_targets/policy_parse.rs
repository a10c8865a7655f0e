//! Fuzz the policy parser for every policy kind, then evaluate whatever parses.
#![no_main]

mod common;

use std::sync::Arc;

use kmsd_policy::{Policy, PolicyKind, RequestContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut ctx = RequestContext::new();
    ctx.set("aws:PrincipalAccount", "111122223333");
    ctx.set("aws:username", "Alice");
    ctx.set("kms:EncryptionContext:Dept", "IT");
    ctx.set_multi("kms:EncryptionContextKeys", vec!["Dept".into()]);
    for kind in [
        PolicyKind::Identity,
        PolicyKind::Key,
        PolicyKind::Trust,
        PolicyKind::Boundary,
        PolicyKind::Session,
        PolicyKind::Scp,
    ] {
        match Policy::parse(text, kind) {
            Ok(p) => common::exercise(Arc::new(p), &ctx, &["kms:Decrypt", "sts:AssumeRole"]),
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
