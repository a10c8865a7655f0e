//! IAM and STS over awsQuery, end to end: SigV4-signed form POSTs with arbitrary bodies
//! through `kmsd_wire::handle` (routing, form decoding) into the IAM/STS domain of
//! `kmsd_core` (`iam::params` decoding, dispatch), on a fresh in-memory service holding the
//! seed world.
//!
//! One input is a session of up to four calls; a body is either raw bytes or a form built
//! from the input: an `Action`, then parameters (plain, `.member.N`, tag and context-entry
//! lists) with values from a dictionary of names, ARNs and policy documents.
//!
//! Properties: no panic; no 5xx; every answer is an XML document (`<?xml` or a
//! `<…Response`/`<ErrorResponse>` element); `Params` never panics on the decoded pairs.

use arbitrary::Unstructured;

use crate::gen::{byte, pick, string};
use crate::world::{check_response, seeded_service, send, CALLERS};

const FORM_CT: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// IAM and STS actions.
pub const ACTIONS: &[&str] = &[
    "CreateUser",
    "GetUser",
    "DeleteUser",
    "ListUsers",
    "CreateAccessKey",
    "DeleteAccessKey",
    "ListAccessKeys",
    "CreateGroup",
    "AddUserToGroup",
    "RemoveUserFromGroup",
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "UpdateAssumeRolePolicy",
    "PutUserPolicy",
    "PutGroupPolicy",
    "PutRolePolicy",
    "GetUserPolicy",
    "GetGroupPolicy",
    "GetRolePolicy",
    "DeleteUserPolicy",
    "DeleteGroupPolicy",
    "DeleteRolePolicy",
    "ListUserPolicies",
    "ListGroupPolicies",
    "ListRolePolicies",
    "CreatePolicy",
    "GetPolicy",
    "CreatePolicyVersion",
    "GetPolicyVersion",
    "DeletePolicy",
    "AttachUserPolicy",
    "AttachGroupPolicy",
    "AttachRolePolicy",
    "DetachUserPolicy",
    "DetachGroupPolicy",
    "DetachRolePolicy",
    "ListAttachedUserPolicies",
    "ListAttachedGroupPolicies",
    "ListAttachedRolePolicies",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
    "DeleteUserPermissionsBoundary",
    "DeleteRolePermissionsBoundary",
    "TagUser",
    "TagRole",
    "UntagUser",
    "UntagRole",
    "SimulatePrincipalPolicy",
    "SimulateCustomPolicy",
    "GetCallerIdentity",
    "AssumeRole",
    "GetSessionToken",
    "NoSuchAction",
];

/// Parameter names (plain; list forms are made from them).
pub const PARAMS: &[&str] = &[
    "UserName",
    "GroupName",
    "RoleName",
    "PolicyName",
    "PolicyArn",
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "Path",
    "PathPrefix",
    "Description",
    "MaxSessionDuration",
    "PermissionsBoundary",
    "AccessKeyId",
    "VersionId",
    "SetAsDefault",
    "RoleArn",
    "RoleSessionName",
    "DurationSeconds",
    "ExternalId",
    "Policy",
    "PolicySourceArn",
    "CallerArn",
    "ResourcePolicy",
    "MaxItems",
    "Marker",
    "Version",
    "Action",
    "Status",
];

/// List parameters: `NAME.member.N[.FIELD]`.
pub const LISTS: &[(&str, &[&str])] = &[
    ("Tags", &[".Key", ".Value"]),
    ("TagKeys", &[""]),
    ("TransitiveTagKeys", &[""]),
    ("PolicyArns", &[".arn"]),
    ("ActionNames", &[""]),
    ("ResourceArns", &[""]),
    ("PolicyInputList", &[""]),
    ("PermissionsBoundaryPolicyInputList", &[""]),
    (
        "ContextEntries",
        &[
            ".ContextKeyName",
            ".ContextKeyType",
            ".ContextKeyValues.member.1",
        ],
    ),
];

/// Values worth trying.
pub const WORDS: &[&str] = &[
    "alice", "bob", "carol", "ExampleRole", "NewRole", "admins", "p", "/", "/a/b/", "//", "",
    "arn:aws:iam::111122223333:user/alice", "arn:aws:iam::111122223333:user/bob",
    "arn:aws:iam::111122223333:role/ExampleRole", "arn:aws:iam::111122223333:policy/p",
    "arn:aws:iam::111122223333:root", "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
    "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "AKIAALICE00000000001", "v1", "v2", "true", "false", "0", "900", "3600", "43200", "-1",
    "99999999999999999999", "kms:Decrypt", "kms:*", "sts:AssumeRole", "iam:CreateUser", "*",
    "aws:username", "kms:EncryptionContext:a", "string", "stringList", "numeric", "ipAddress",
    "date", "boolean", "binary", "10.0.0.1/8", "2024-01-01T00:00:00Z", "s", "ext", "k", "v",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\",\"Resource\":\"*\"}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"sts:AssumeRole\"}]}",
    "{\"Version\":\"2012-10-17\",\"Statement\":{\"Effect\":\"Deny\",\"NotAction\":\"iam:*\",\"Resource\":\"*\",\"Condition\":{\"StringLike\":{\"aws:username\":\"${aws:username}\"}}}}",
    "{\"Statement\":[]}", "{", "%", "&", "=", "é", "\u{0}",
];

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn value(u: &mut Unstructured<'_>) -> String {
    if byte(u) < 220 {
        pick(u, WORDS).to_string()
    } else {
        string(u, 40)
    }
}

fn form(u: &mut Unstructured<'_>) -> (String, Vec<u8>) {
    let action = if byte(u) < 250 {
        pick(u, ACTIONS).to_string()
    } else {
        string(u, 16)
    };
    let version =
        if action == "AssumeRole" || action == "GetCallerIdentity" || action == "GetSessionToken" {
            "2011-06-15"
        } else {
            "2010-05-08"
        };
    let mut parts = vec![
        format!("Action={}", enc(&action)),
        format!("Version={version}"),
    ];
    for _ in 0..byte(u) % 7 {
        let kind = byte(u);
        if kind < 160 {
            parts.push(format!("{}={}", pick(u, PARAMS), enc(&value(u))));
        } else if kind < 250 {
            let (name, fields) = LISTS[usize::from(byte(u)) % LISTS.len()];
            let n = byte(u) % 4;
            for f in fields.iter() {
                parts.push(format!("{name}.member.{n}{f}={}", enc(&value(u))));
            }
        } else {
            parts.push(string(u, 24));
        }
    }
    (action, parts.join("&").into_bytes())
}

/// Entry point.
pub fn run(data: &[u8]) {
    // Form decoding and the parameter accessors alone.
    let pairs: Vec<(String, String)> = form_urlencoded_pairs(data);
    let p = kmsd_core::iam::params::Params::new(&pairs);
    let _ = p.to_json();
    let _ = p.tags("Tags");
    let _ = p.int("DurationSeconds");
    let _ = p.bool("SetAsDefault");
    let _ = p.struct_members("ContextEntries", "ContextKeyName");
    let _ = kmsd_core::iam::params::lower_camel(&String::from_utf8_lossy(data));

    let service = seeded_service("us-east-1");
    let mut u = Unstructured::new(data);
    for _ in 0..1 + byte(&mut u) % 4 {
        let caller = CALLERS[usize::from(byte(&mut u)) % CALLERS.len()];
        let scope = if byte(&mut u) & 1 == 0 { "iam" } else { "sts" };
        let (action, body) = if byte(&mut u) < 30 {
            let n = crate::gen::raw_len(&mut u);
            ("raw".to_string(), u.bytes(n).unwrap_or_default().to_vec())
        } else {
            form(&mut u)
        };
        let Some(resp) = send(&service, caller, "us-east-1", scope, None, FORM_CT, &body) else {
            continue;
        };
        check_response(&resp, &action);
        let text = String::from_utf8_lossy(&resp.body);
        let t = text.trim_start();
        assert!(
            t.starts_with("<?xml") || t.starts_with('<') || t.starts_with('{'),
            "{action}: answer is not XML: {text:?}"
        );
    }
}

fn form_urlencoded_pairs(data: &[u8]) -> Vec<(String, String)> {
    // Same decoding as the router.
    form_urlencoded::parse(data).into_owned().collect()
}
