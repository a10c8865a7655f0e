//! The Access Analyzer route: the path names the operation, the SigV4 gate runs for the
//! `access-analyzer` service, and the decision the domain returns is the event's.

use super::*;

fn analyzer(path: &str, body: &str) -> Req {
    Req {
        method: "POST",
        uri: path.into(),
        headers: vec![
            ("Host".into(), "localhost:4599".into()),
            ("Content-Type".into(), "application/json".into()),
        ],
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn access_analyzer_route_records_the_domains_decision() {
    // alice's policies allow nothing: the domain refuses her with Access Analyzer's code.
    let resp = analyzer("/policy/check-no-public-access", "{}")
        .sign("access-analyzer")
        .send();
    assert_json_error(&resp, 403, "AccessDeniedException");
    let a = &resp.audit;
    assert_eq!(a.event_source, "access-analyzer.amazonaws.com");
    assert_eq!(a.event_name, "CheckNoPublicAccess");
    assert!(a.read_only);
    assert_eq!(a.decision, Some("ImplicitDeny"));
    assert_eq!(a.aws_region, "eu-west-1");
    let message = json(&resp)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("access-analyzer:CheckNoPublicAccess"),
        "{message}"
    );

    // A body that is not JSON is not looked at before the caller is refused.
    let resp = analyzer("/policy/validation", "not json")
        .sign("access-analyzer")
        .send();
    assert_json_error(&resp, 403, "AccessDeniedException");
    assert_eq!(resp.audit.event_name, "ValidatePolicy");

    // Signed for another service: the gate refuses before the domain is asked.
    let resp = analyzer("/policy/validation", "{}").sign("kms").send();
    assert_json_error(&resp, 400, "InvalidSignatureException");
    assert_eq!(resp.audit.decision, None);
}
