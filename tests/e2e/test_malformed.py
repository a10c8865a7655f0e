"""Malformed requests (signed correctly, so authentication passes) get AWS error codes and
4xx statuses — never a 500 — and the server keeps serving afterwards."""

from __future__ import annotations

import pytest

from kmsd_harness import kms_raw, query_raw, signed_request
from worlds import ACCT_A, account, root_creds

CREDS = root_creds(ACCT_A)


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A)]})


@pytest.fixture(autouse=True)
def still_serving(server):
    yield
    assert server.running(), f"kmsd died:\n{server.stderr()}"
    r = kms_raw(server.endpoint, CREDS, "ListKeys", {})
    assert r.status == 200, f"server no longer serves after a malformed request: {r.status} {r.text()}"


def kms_error(r):
    assert r.status != 500 and r.status < 500, f"HTTP {r.status}: {r.text()}"
    body = r.json()
    assert "__type" in body, body
    return r.kms_error_code()


def test_bad_json_body(server):
    r = kms_raw(server.endpoint, CREDS, "ListKeys", b'{"Limit": 5,')
    assert r.status == 400, r.text()
    assert kms_error(r) == "SerializationException"


def test_json_not_an_object(server):
    r = kms_raw(server.endpoint, CREDS, "ListKeys", b'[1, 2, 3]')
    assert r.status == 400, r.text()
    assert kms_error(r) == "SerializationException"


def test_wrong_member_type(server):
    r = kms_raw(server.endpoint, CREDS, "GenerateRandom", {"NumberOfBytes": "thirty-two"})
    assert r.status == 400, r.text()
    assert kms_error(r) == "SerializationException"


def test_blob_not_base64(server):
    key = kms_raw(server.endpoint, CREDS, "CreateKey", {}).json()["KeyMetadata"]["KeyId"]
    r = kms_raw(server.endpoint, CREDS, "Encrypt", {"KeyId": key, "Plaintext": "***not base64***"})
    assert r.status == 400, r.text()
    assert kms_error(r) == "SerializationException"


def test_missing_required_member(server):
    r = kms_raw(server.endpoint, CREDS, "Encrypt", {"Plaintext": "aGVsbG8="})
    assert r.status == 400, r.text()
    assert kms_error(r) == "ValidationException"
    assert "keyId" in r.kms_error_message()


def test_unknown_operation(server):
    r = kms_raw(server.endpoint, CREDS, "MakeMeASandwich", {})
    assert r.status == 400, r.text()
    assert kms_error(r) == "UnknownOperationException"


def test_wrong_content_type(server):
    r = kms_raw(server.endpoint, CREDS, "ListKeys", {}, content_type="text/plain")
    assert 400 <= r.status < 500, r.text()
    assert r.status != 200


def test_missing_target_header(server):
    r = signed_request(server.endpoint, "kms", CREDS, b"{}", {"Content-Type": "application/x-amz-json-1.1"})
    assert 400 <= r.status < 500, r.text()


def test_oversize_body(server):
    big = b'{"Plaintext": "' + b"A" * (8 * 1024 * 1024) + b'"}'
    r = kms_raw(server.endpoint, CREDS, "Encrypt", big)
    assert r.status in (400, 413), f"HTTP {r.status}: {r.text()[:300]}"


def test_plaintext_too_long_is_validation(server):
    import base64
    key = kms_raw(server.endpoint, CREDS, "CreateKey", {}).json()["KeyMetadata"]["KeyId"]
    r = kms_raw(server.endpoint, CREDS, "Encrypt", {"KeyId": key, "Plaintext": base64.b64encode(b"x" * 5000).decode()})
    assert r.status == 400
    assert kms_error(r) == "ValidationException"
    assert "plaintext" in r.kms_error_message()


def test_query_without_action(server):
    r = query_raw(server.endpoint, CREDS, "iam", {"Version": "2010-05-08", "UserName": "x"})
    assert r.status == 400, r.text()
    assert "<ErrorResponse" in r.text()
    assert r.query_error_code() in ("MissingAction", "InvalidAction")


def test_query_unknown_action(server):
    r = query_raw(server.endpoint, CREDS, "iam", {"Action": "LaunchRockets", "Version": "2010-05-08"})
    assert r.status == 400, r.text()
    assert r.query_error_code() == "InvalidAction"


def test_query_missing_parameter(server):
    r = query_raw(server.endpoint, CREDS, "iam", {"Action": "CreateUser", "Version": "2010-05-08"})
    assert r.status == 400, r.text()
    assert r.query_error_code() == "ValidationError"


def test_sts_unknown_action(server):
    r = query_raw(server.endpoint, CREDS, "sts", {"Action": "GetSomething", "Version": "2011-06-15"})
    assert r.status == 400, r.text()
    assert r.query_error_code() == "InvalidAction"


def test_garbage_authorization_header(server):
    import urllib3
    r = urllib3.PoolManager().request(
        "POST", server.endpoint + "/", body=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys",
                 "Authorization": "AWS4-HMAC-SHA256 garbage", "X-Amz-Date": "20200101T000000Z"},
        retries=False)
    assert r.status == 400, r.data
    assert b'"__type":"IncompleteSignatureException"' in r.data.replace(b" ", b"")


def test_get_root_path(server):
    import urllib3
    r = urllib3.PoolManager().request("GET", server.endpoint + "/nothing/here", retries=False)
    assert 400 <= r.status < 500


@pytest.fixture(scope="module")
def loose(server):
    """A client that skips botocore's own validation, so the server sees out-of-range values."""
    return server.client("kms", CREDS, validate=False)


@pytest.fixture(scope="module")
def key_id(loose):
    return loose.create_key()["KeyMetadata"]["KeyId"]


@pytest.mark.parametrize("call", [
    lambda k, c: c.encrypt(KeyId=k, Plaintext=b""),
    lambda k, c: c.encrypt(KeyId=k, Plaintext=b"x", GrantTokens=["t"] * 11),
    lambda k, c: c.create_alias(AliasName="alias/ünïcode", TargetKeyId=k),
    lambda k, c: c.create_alias(AliasName="alias/" + "a" * 251, TargetKeyId=k),
    lambda k, c: c.update_key_description(KeyId=k, Description="d" * 8193),
    lambda k, c: c.tag_resource(KeyId=k, Tags=[{"TagKey": "k" * 129, "TagValue": "v"}]),
    lambda k, c: c.tag_resource(KeyId=k, Tags=[{"TagKey": "k", "TagValue": "v" * 257}]),
    lambda k, c: c.list_keys(Limit=1001),
    lambda k, c: c.list_keys(Limit=0),
    lambda k, c: c.decrypt(CiphertextBlob=b"x" * 6145),
    lambda k, c: c.generate_data_key(KeyId=k, NumberOfBytes=1025),
    lambda k, c: c.generate_data_key(KeyId=k, KeySpec="AES_512"),
    lambda k, c: c.create_key(KeyUsage="MAKE_TEA"),
    lambda k, c: c.schedule_key_deletion(KeyId=k, PendingWindowInDays=0),
    lambda k, c: c.describe_key(KeyId=""),
], ids=["empty-plaintext", "11-grant-tokens", "unicode-alias", "long-alias", "long-description",
        "long-tag-key", "long-tag-value", "limit-1001", "limit-0", "big-ciphertext", "dk-1025", "dk-spec",
        "key-usage-enum", "window-0", "empty-key-id"])
def test_out_of_range_values_are_validation_errors(loose, key_id, call):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as ei:
        call(key_id, loose)
    err = ei.value.response["Error"]
    status = ei.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert status == 400, (status, err)
    assert err["Code"] == "ValidationException", err
    assert err["Message"].startswith("1 validation error detected: Value "), err


@pytest.mark.parametrize("call", [
    lambda iam, sts: iam.create_user(UserName="bad name!"),
    lambda iam, sts: iam.create_user(UserName="u" * 65),
    lambda iam, sts: iam.create_role(RoleName="r" * 65, AssumeRolePolicyDocument="{}"),
    lambda iam, sts: iam.create_role(RoleName="okrole", AssumeRolePolicyDocument="{}", MaxSessionDuration=100),
    lambda iam, sts: iam.get_policy_version(PolicyArn="arn:aws:iam::111122223333:policy/x", VersionId="version1"),
    lambda iam, sts: sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/x", RoleSessionName="a"),
    lambda iam, sts: sts.assume_role(RoleArn="short", RoleSessionName="abc"),
], ids=["user-chars", "user-long", "role-long", "max-session", "version-id", "session-name", "role-arn"])
def test_query_out_of_range_values(server, call):
    from botocore.exceptions import ClientError
    iam = server.client("iam", CREDS, validate=False)
    sts = server.client("sts", CREDS, validate=False)
    with pytest.raises(ClientError) as ei:
        call(iam, sts)
    err = ei.value.response["Error"]
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, err
    assert err["Code"] == "ValidationError", err
