//! A typical KMS decision: key policy with root delegation, key administrators, key users with an
//! encryption-context condition and a Deny; three identity policies; ten grants on the key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation panics"
)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion};
use kmsd_policy::{
    decide_kms, explain_kms, Caller, Grant, GrantConstraints, KmsRequest, Policy, PolicyKind,
    PolicySet, PolicySourceType, RequestContext, SourcedPolicy,
};

const KEY: &str = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

const KEY_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-consolepolicy-3",
  "Statement": [
    {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
     "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
    {"Sid": "Allow access for Key Administrators", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:role/KeyAdmin", "arn:aws:iam::111122223333:user/SecOps"]},
     "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
                "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource",
                "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion"],
     "Resource": "*"},
    {"Sid": "Allow use of the key", "Effect": "Allow",
     "Principal": {"AWS": ["arn:aws:iam::111122223333:role/AppRole", "arn:aws:iam::111122223333:user/Alice"]},
     "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
     "Resource": "*",
     "Condition": {"StringEquals": {"kms:EncryptionContext:app": "billing"}}},
    {"Sid": "Deny outside the organization accounts", "Effect": "Deny", "Principal": "*", "Action": "kms:*",
     "Resource": "*",
     "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}}
  ]
}"#;

fn policy(text: &str, kind: PolicyKind, id: &str, st: PolicySourceType) -> SourcedPolicy {
    match Policy::parse(text, kind) {
        Ok(p) => SourcedPolicy::new(id, st, Arc::new(p)),
        Err(e) => panic!("bench policy: {e}"),
    }
}

fn identity_policies() -> Vec<SourcedPolicy> {
    vec![
        policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::billing-data/*"}]}"#,
            PolicyKind::Identity,
            "S3Access",
            PolicySourceType::UserManaged,
        ),
        policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":"arn:aws:kms:us-west-2:111122223333:key/*","Condition":{"StringEquals":{"kms:EncryptionContext:app":"billing"}}},{"Effect":"Deny","Action":"kms:ScheduleKeyDeletion","Resource":"*"}]}"#,
            PolicyKind::Identity,
            "KmsUse",
            PolicySourceType::UserManaged,
        ),
        policy(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*","cloudwatch:PutMetricData"],"Resource":"*"},{"Effect":"Deny","NotAction":["kms:*","s3:*","logs:*","cloudwatch:*","sts:*"],"Resource":"*"}]}"#,
            PolicyKind::Identity,
            "Baseline",
            PolicySourceType::Role,
        ),
    ]
}

fn grants() -> Vec<Grant> {
    (0..10)
        .map(|i| Grant {
            grant_id: format!("{i:064x}"),
            name: Some(format!("grant-{i}")),
            grantee_principal: format!("arn:aws:iam::111122223333:role/Service{i}"),
            operations: vec![
                "Decrypt".into(),
                "GenerateDataKey".into(),
                "DescribeKey".into(),
            ],
            constraints: Some(GrantConstraints {
                encryption_context_equals: None,
                encryption_context_subset: Some(BTreeMap::from([(
                    "app".to_string(),
                    format!("svc{i}"),
                )])),
            }),
        })
        .collect()
}

fn context(caller: &Caller, ec: &BTreeMap<String, String>) -> RequestContext {
    let mut ctx = RequestContext::new();
    ctx.set("aws:PrincipalArn", caller.principal_arn());
    ctx.set("aws:PrincipalAccount", caller.account());
    ctx.set("aws:PrincipalType", caller.principal_type());
    ctx.set("aws:userid", caller.userid());
    ctx.set("aws:PrincipalIsAWSService", "false");
    ctx.set("aws:SecureTransport", "true");
    ctx.set("aws:CurrentTime", "2026-01-01T00:00:00Z");
    ctx.set("aws:EpochTime", "1767225600");
    ctx.set("aws:RequestedRegion", "us-west-2");
    ctx.set("aws:ViaAWSService", "false");
    ctx.set("aws:SourceIp", "10.1.2.3");
    ctx.set("kms:CallerAccount", caller.account());
    for (k, v) in ec {
        ctx.set(&format!("kms:EncryptionContext:{k}"), v.clone());
    }
    ctx.set_multi("kms:EncryptionContextKeys", ec.keys().cloned().collect());
    ctx
}

/// On-CPU time of this thread (`/proc/thread-self/schedstat`, nanoseconds): on a shared, loaded
/// machine it leaves out the time the benchmark thread waits for a CPU.
struct CpuTime {
    wall: WallTime,
}

fn thread_cpu_ns() -> u64 {
    // Yielding makes the kernel bring the thread's runtime up to date before it is read.
    std::thread::yield_now();
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

impl Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

struct Fixture {
    kp: SourcedPolicy,
    set: PolicySet,
    grants: Vec<Grant>,
    ec: BTreeMap<String, String>,
    app: Caller,
    bob: Caller,
    app_ctx: RequestContext,
    bob_ctx: RequestContext,
}

fn fixture() -> Fixture {
    let kp = policy(
        KEY_POLICY,
        PolicyKind::Key,
        "key-policy",
        PolicySourceType::Resource,
    );
    let set = PolicySet {
        identity: identity_policies(),
        ..PolicySet::default()
    };
    let ec = BTreeMap::from([("app".to_string(), "billing".to_string())]);
    let app = Caller::AssumedRole {
        account: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/AppRole".into(),
        role_name: "AppRole".into(),
        role_unique_id: "AROAEXAMPLEAPPROLE01".into(),
        session_name: "i-0123456789abcdef0".into(),
    };
    let bob = Caller::User {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/Bob".into(),
        name: "Bob".into(),
        unique_id: "AIDAEXAMPLEBOB000001".into(),
    };
    Fixture {
        app_ctx: context(&app, &ec),
        bob_ctx: context(&bob, &ec),
        kp,
        set,
        grants: grants(),
        ec,
        app,
        bob,
    }
}

impl Fixture {
    fn request<'a>(&'a self, caller: &'a Caller, ctx: &'a RequestContext) -> KmsRequest<'a> {
        KmsRequest {
            caller,
            caller_policies: &self.set,
            action: "kms:Decrypt",
            key_arn: KEY,
            key_policy: &self.kp,
            grants: &self.grants,
            context: ctx,
            encryption_context: Some(&self.ec),
        }
    }
}

fn bench_cpu(c: &mut Criterion<CpuTime>) {
    let f = fixture();
    let app_req = f.request(&f.app, &f.app_ctx);
    let bob_req = f.request(&f.bob, &f.bob_ctx);
    c.bench_function("cpu/decide_kms/key_user", |b| {
        b.iter(|| decide_kms(black_box(&app_req)))
    });
    c.bench_function("cpu/decide_kms/delegated_iam", |b| {
        b.iter(|| decide_kms(black_box(&bob_req)))
    });
}

fn bench(c: &mut Criterion) {
    let kp = policy(
        KEY_POLICY,
        PolicyKind::Key,
        "key-policy",
        PolicySourceType::Resource,
    );
    let set = PolicySet {
        identity: identity_policies(),
        ..PolicySet::default()
    };
    let grants = grants();
    let ec = BTreeMap::from([("app".to_string(), "billing".to_string())]);

    // A key user (role session) named in the key policy: N0 N1 N2 N3 T1.
    let app = Caller::AssumedRole {
        account: "111122223333".into(),
        role_arn: "arn:aws:iam::111122223333:role/AppRole".into(),
        role_name: "AppRole".into(),
        role_unique_id: "AROAEXAMPLEAPPROLE01".into(),
        session_name: "i-0123456789abcdef0".into(),
    };
    let app_ctx = context(&app, &ec);
    let app_req = KmsRequest {
        caller: &app,
        caller_policies: &set,
        action: "kms:Decrypt",
        key_arn: KEY,
        key_policy: &kp,
        grants: &grants,
        context: &app_ctx,
        encryption_context: Some(&ec),
    };
    assert!(decide_kms(&app_req).is_allowed());

    // A user allowed through account delegation and an identity policy: N0..N6 T1, grants scanned.
    let bob = Caller::User {
        account: "111122223333".into(),
        arn: "arn:aws:iam::111122223333:user/Bob".into(),
        name: "Bob".into(),
        unique_id: "AIDAEXAMPLEBOB000001".into(),
    };
    let bob_ctx = context(&bob, &ec);
    let bob_req = KmsRequest {
        caller: &bob,
        context: &bob_ctx,
        ..app_req
    };
    assert!(decide_kms(&bob_req).is_allowed());

    c.bench_function("decide_kms/key_user", |b| {
        b.iter(|| decide_kms(black_box(&app_req)))
    });
    c.bench_function("decide_kms/delegated_iam", |b| {
        b.iter(|| decide_kms(black_box(&bob_req)))
    });
    c.bench_function("explain_kms/delegated_iam", |b| {
        b.iter(|| explain_kms(black_box(&bob_req)))
    });
    c.bench_function("policy_parse/key_policy", |b| {
        b.iter(|| Policy::parse(black_box(KEY_POLICY), PolicyKind::Key))
    });
}

criterion_group!(benches, bench);
criterion_group! {
    name = cpu_benches;
    config = Criterion::default().with_measurement(CpuTime { wall: WallTime });
    targets = bench_cpu
}
criterion_main!(benches, cpu_benches);
