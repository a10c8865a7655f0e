//! Fuzz the condition evaluator: the input is split into a condition block and request context
//! values; the block is placed in a key policy and an identity policy and evaluated.
#![no_main]

mod common;

use std::sync::Arc;

use kmsd_policy::{Policy, PolicyKind, RequestContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Layout: <condition JSON>\n<key>=<value>\n<key>=<v1>|<v2>...
    let mut lines = text.split('\n');
    let cond = lines.next().unwrap_or("{}");
    let mut ctx = RequestContext::new();
    for line in lines {
        if let Some((k, v)) = line.split_once('=') {
            if v.contains('|') {
                ctx.set_multi(k, v.split('|').map(str::to_string).collect());
            } else {
                ctx.set(k, v);
            }
        }
    }
    for (kind, principal) in [
        (PolicyKind::Key, r#""Principal":"*","#),
        (PolicyKind::Identity, ""),
    ] {
        for version in ["2012-10-17", "2008-10-17"] {
            let doc = format!(
                r#"{{"Version":"{version}","Statement":[{{"Effect":"Allow",{principal}"Action":"kms:*","Resource":"*","Condition":{cond}}},{{"Effect":"Deny",{principal}"Action":"kms:Encrypt","Resource":"*","Condition":{cond}}}]}}"#
            );
            if let Ok(p) = Policy::parse(&doc, kind) {
                common::exercise(Arc::new(p), &ctx, &["kms:Decrypt", "kms:Encrypt"]);
            }
        }
    }
});
