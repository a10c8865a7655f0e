//! kmsd's own operations (`KmsdService.*`): routed by `KmsdOp`, behind the SigV4 gate, and
//! the audit facts the domain returns are the event's.

use super::*;

#[test]
fn kmsd_operations_are_routed() {
    let resp = Req::kms(
        "Encrypt",
        r#"{"PrincipalArn":"arn:aws:iam::111122223333:user/bob"}"#,
    )
    .header("X-Amz-Target", "KmsdService.Explain")
    .sign("kms")
    .send();
    assert_eq!(resp.status, 200, "{}", body(&resp));
    let v = json(&resp);
    assert_eq!(v["decision"], "Allow");
    assert_eq!(v["asked_by"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(resp.audit.event_name, "KmsdService.Explain");
    assert!(resp.audit.read_only);
    // The facts the domain returned are the event's.
    assert_eq!(
        resp.audit.request_parameters["PrincipalArn"],
        "arn:aws:iam::111122223333:user/bob"
    );
    assert_eq!(
        resp.audit.response_elements,
        Some(serde_json::json!({"decision": "Allow"}))
    );
    assert_eq!(resp.audit.decision, None);

    let resp = Req::kms("Encrypt", r#"{"KeyId":"k"}"#)
        .header("X-Amz-Target", "KmsdService.AccessReview")
        .sign("kms")
        .send();
    assert_json_error(&resp, 400, "AccessDeniedException");
    assert_eq!(resp.audit.decision, Some("ImplicitDeny"));
    assert_eq!(resp.audit.response_elements, None);
    assert_eq!(resp.audit.request_parameters["KeyId"], "k");

    let resp = Req::kms("Encrypt", r#"{"KeyId":"k"}"#)
        .header("X-Amz-Target", "KmsdService.Nope")
        .sign("kms")
        .send();
    assert_json_error(&resp, 400, "UnknownOperationException");
    assert_eq!(resp.audit.event_name, "KmsdService.Nope");
    assert_eq!(resp.audit.decision, None);
    assert_eq!(resp.audit.request_parameters["KeyId"], "k");

    // Unsigned: the gate applies.
    let resp = Req::kms("Encrypt", "{}")
        .header("X-Amz-Target", "KmsdService.Explain")
        .send();
    assert_json_error(&resp, 400, "MissingAuthenticationTokenException");
}
