use super::*;

const CREATE_USER: &str = r#"<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <CreateUserResult>
    <User>
      <Path>/</Path>
      <UserName>kmsd-bench-user-00007</UserName>
      <UserId>AIDAEXAMPLE</UserId>
      <Arn>arn:aws:iam::111122223333:user/kmsd-bench-user-00007</Arn>
      <CreateDate>2026-11-28T16:00:00Z</CreateDate>
      <PermissionsBoundary>
        <PermissionsBoundaryType>Policy</PermissionsBoundaryType>
        <PermissionsBoundaryArn>arn:aws:iam::aws:policy/X</PermissionsBoundaryArn>
      </PermissionsBoundary>
    </User>
  </CreateUserResult>
  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>
</CreateUserResponse>"#;

#[test]
fn user_arn_is_read_from_create_user() {
    assert_eq!(
        user_arn_from_create_user(CREATE_USER.as_bytes()).unwrap(),
        "arn:aws:iam::111122223333:user/kmsd-bench-user-00007"
    );
    // The boundary's ARN is not taken for the user's, even when it comes first.
    let boundary_first = CREATE_USER.replace(
        "<Path>/</Path>",
        "<PermissionsBoundaryArn>arn:aws:iam::aws:policy/Y</PermissionsBoundaryArn>",
    );
    assert_eq!(
        user_arn_from_create_user(boundary_first.as_bytes()).unwrap(),
        "arn:aws:iam::111122223333:user/kmsd-bench-user-00007"
    );
    assert!(user_arn_from_create_user(b"<CreateUserResponse/>").is_err());
    assert!(user_arn_from_create_user(b"<User><Arn>nope</Arn></User>").is_err());
    assert!(user_arn_from_create_user(b"<User><Arn>").is_err());
    assert!(user_arn_from_create_user(&[0xff, 0xfe]).is_err());
    // Escaped text is unescaped.
    assert_eq!(
        user_arn_from_create_user(
            b"<User><Arn>arn:aws:iam::1:user/a&amp;b&#x2B;c&#64;</Arn></User>"
        )
        .unwrap(),
        "arn:aws:iam::1:user/a&b+c@"
    );
}

#[test]
fn error_code_is_read_from_error_response() {
    let body = br#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <Error>
    <Type>Sender</Type>
    <Code>EntityAlreadyExists</Code>
    <Message>User with name x already exists.</Message>
  </Error>
  <RequestId>r</RequestId>
</ErrorResponse>"#;
    assert_eq!(xml_error_code(body).as_deref(), Some("EntityAlreadyExists"));
    assert_eq!(xml_error_code(b"<ErrorResponse></ErrorResponse>"), None);
    assert_eq!(xml_error_code(b"<Error><Code></Code></Error>"), None);
    assert_eq!(xml_error_code(b"{\"__type\":\"X\"}"), None);
    let h = http::HeaderMap::new();
    assert_eq!(
        Protocol::Iam.error_code(409, &h, body),
        "EntityAlreadyExists"
    );
    assert_eq!(Protocol::Iam.error_code(502, &h, b"<html>"), "HTTP_502");
    assert_eq!(
        Protocol::Kms("TrentService.CreateGrant").error_code(
            400,
            &h,
            br#"{"__type":"InvalidArnException","message":"m"}"#
        ),
        "InvalidArnException"
    );
}

#[test]
fn access_key_is_read_from_create_access_key() {
    let body = br#"<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey>
  <UserName>u</UserName><AccessKeyId>AKIAUSER0001</AccessKeyId><Status>Active</Status>
  <SecretAccessKey>s3cr&lt;t</SecretAccessKey></AccessKey></CreateAccessKeyResult></CreateAccessKeyResponse>"#;
    let (id, secret) = access_key_from_create_access_key(body).unwrap();
    assert_eq!(id, "AKIAUSER0001");
    assert_eq!(secret.as_str(), "s3cr<t");
    assert!(access_key_from_create_access_key(
        b"<AccessKey><AccessKeyId>A</AccessKeyId></AccessKey>"
    )
    .is_err());
    assert!(access_key_from_create_access_key(
        b"<AccessKey><AccessKeyId></AccessKeyId><SecretAccessKey>s</SecretAccessKey></AccessKey>"
    )
    .is_err());
}

#[test]
fn unescape_keeps_unknown_references() {
    assert_eq!(xml_unescape("a &lt;b&gt; &quot;&apos;"), "a <b> \"'");
    assert_eq!(xml_unescape("x &bogus; y & z"), "x &bogus; y & z");
    assert_eq!(xml_unescape("&#xD800;"), "&#xD800;");
    assert_eq!(xml_unescape("&#65;&"), "A&");
}

#[test]
fn form_bodies() {
    assert_eq!(
        iam_form("CreateUser", &[("UserName", "bench-user-00001")]),
        Bytes::from_static(b"Action=CreateUser&Version=2010-05-08&UserName=bench-user-00001")
    );
    assert_eq!(form_encode("a b+c/=&é"), "a%20b%2Bc%2F%3D%26%C3%A9");
    assert_eq!(user_name("p-", 7), "p-00007");
    assert_eq!(user_name("p-", 123_456), "p-123456");
    let v: serde_json::Value =
        serde_json::from_slice(&create_grant_body("k", "arn:aws:iam::1:user/u")).unwrap();
    assert_eq!(v["KeyId"], "k");
    assert_eq!(v["GranteePrincipal"], "arn:aws:iam::1:user/u");
    assert_eq!(v["Operations"], serde_json::json!(["Encrypt", "Decrypt"]));
}

#[test]
fn signed_requests_carry_protocol_headers() {
    let mut signer = Signer::new(
        Credentials::new("AKIAEXAMPLE111ROOT01", "root-secret", None),
        IAM_SIGNING_REGION,
        "iam",
    );
    let ep = Endpoint::parse("http://127.0.0.1:4599").unwrap();
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_440_938_160);
    let req = signed_request(
        &mut signer,
        &ep,
        Protocol::Iam,
        iam_form("CreateUser", &[("UserName", "u")]),
        t,
    )
    .unwrap();
    let h = req.headers();
    assert_eq!(h["content-type"], FORM_CONTENT_TYPE);
    assert!(h.get("x-amz-target").is_none());
    assert!(h["authorization"].to_str().unwrap().starts_with(
        "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE111ROOT01/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, Signature="
    ));
    let mut kms = Signer::new(
        Credentials::new("AKIAEXAMPLE111ROOT01", "root-secret", None),
        "eu-west-1",
        "kms",
    );
    let req = signed_request(
        &mut kms,
        &ep,
        Protocol::Kms("TrentService.CreateGrant"),
        create_grant_body("k", "a"),
        t,
    )
    .unwrap();
    let h = req.headers();
    assert_eq!(h["x-amz-target"], "TrentService.CreateGrant");
    assert!(h["authorization"].to_str().unwrap().contains(
        "/eu-west-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target,"
    ));
}
