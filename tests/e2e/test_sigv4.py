"""SigV4 authentication failures, as AWS reports them for KMS (JSON) and IAM/STS (query).

Raw requests are signed with botocore's own SigV4Auth, so that only the property under
test (unknown key, wrong secret, skewed clock, bad session token, altered body) is wrong.
"""

from __future__ import annotations

import dataclasses

import pytest

from kmsd_harness import aws_error, kms_raw, query_raw, session_creds
from worlds import ACCT_A, Creds, account, allow, doc, user, user_creds

ROLE_ARN = f"arn:aws:iam::{ACCT_A}:role/Worker"
UNKNOWN = Creds("AKIAUNKNOWNUNKNOWN00", "x" * 40)


def world() -> dict:
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:user/signer"},
                 "Action": "sts:AssumeRole"})
    return {"accounts": [account(ACCT_A,
        users=[user(ACCT_A, "signer", inline={"All": doc(allow(["kms:*", "iam:*"]))})],
        roles=[{"name": "Worker", "assume_role_policy": trust,
                "inline_policies": {"Kms": doc(allow("kms:*"))}}],
    )]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world())


@pytest.fixture(scope="module")
def good() -> Creds:
    return user_creds(ACCT_A, "signer")


@pytest.fixture(scope="module")
def session(server, good) -> Creds:
    return session_creds(server.client("sts", good).assume_role(RoleArn=ROLE_ARN, RoleSessionName="sig"))


def wrong_secret(c: Creds) -> Creds:
    return dataclasses.replace(c, secret_access_key="W" + c.secret_access_key[1:])


# ------------------------------------------------------------------ baseline: good requests


def test_raw_signed_requests_work(server, good):
    r = kms_raw(server.endpoint, good, "ListKeys", {})
    assert r.status == 200, r.text()
    assert "Keys" in r.json()
    r = query_raw(server.endpoint, good, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert r.status == 200, r.text()
    assert f"arn:aws:iam::{ACCT_A}:user/signer" in r.text()


# ------------------------------------------------------------------------- unknown key


def test_unknown_access_key_kms(server):
    with aws_error("UnrecognizedClientException", 400) as err:
        server.client("kms", UNKNOWN).list_keys()
    assert err["Message"].startswith("The security token included in the request is invalid")


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_unknown_access_key_query(server, service):
    c = server.client(service, UNKNOWN)
    with aws_error("InvalidClientTokenId", 403) as err:
        c.get_caller_identity() if service == "sts" else c.list_users()
    assert err["Message"].startswith("The security token included in the request is invalid")


# ------------------------------------------------------------------------- wrong secret


def test_wrong_secret_kms(server, good):
    with aws_error("InvalidSignatureException", 400) as err:
        server.client("kms", wrong_secret(good)).list_keys()
    assert "signature" in err["Message"].lower()


@pytest.mark.parametrize("service", ["sts", "iam"])
def test_wrong_secret_query(server, good, service):
    c = server.client(service, wrong_secret(good))
    with aws_error("SignatureDoesNotMatch", 403):
        c.get_caller_identity() if service == "sts" else c.list_users()


def test_body_altered_after_signing(server, good):
    r = kms_raw(server.endpoint, good, "GenerateRandom", {"NumberOfBytes": 16},
                tamper_body=b'{"NumberOfBytes": 32}')
    assert r.status == 400, r.text()
    assert r.kms_error_code() == "InvalidSignatureException"


def test_wrong_service_in_scope(server, good):
    # A KMS request signed for the "s3" service does not verify.
    from kmsd_harness import signed_request
    r = signed_request(server.endpoint, "s3", good, b"{}",
                       {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})
    assert 400 <= r.status < 500, r.text()
    assert r.status != 200


# ---------------------------------------------------------------------------- skew


def test_clock_skew_past_kms(server, good):
    r = kms_raw(server.endpoint, good, "ListKeys", {}, skew_seconds=-600)
    assert r.status == 400, r.text()
    assert r.kms_error_code() == "InvalidSignatureException"
    msg = r.kms_error_message()
    assert msg.startswith("Signature expired: "), msg
    assert "is now earlier than" in msg and "- 5 min.)" in msg


def test_clock_skew_future_kms(server, good):
    r = kms_raw(server.endpoint, good, "ListKeys", {}, skew_seconds=600)
    assert r.status == 400, r.text()
    assert r.kms_error_code() == "InvalidSignatureException"
    msg = r.kms_error_message()
    assert msg.startswith("Signature not yet current: "), msg
    assert "+ 5 min.)" in msg


def test_small_skew_accepted(server, good):
    r = kms_raw(server.endpoint, good, "ListKeys", {}, skew_seconds=-120)
    assert r.status == 200, r.text()


def test_clock_skew_sts(server, good):
    r = query_raw(server.endpoint, good, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"},
                  skew_seconds=-600)
    assert r.status == 403, r.text()
    assert r.query_error_code() == "SignatureDoesNotMatch"
    assert "Signature expired" in r.query_error_message()


# ------------------------------------------------------------------- session tokens


def test_session_credentials_work(server, session):
    ident = server.client("sts", session).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/Worker/sig"
    assert "Keys" in server.client("kms", session).list_keys()


def test_session_token_altered(server, session):
    bad = dataclasses.replace(session, session_token=session.session_token[:-4] + "AAAA")
    with aws_error("UnrecognizedClientException", 400):
        server.client("kms", bad).list_keys()
    with aws_error("InvalidClientTokenId", 403):
        server.client("sts", bad).get_caller_identity()


def test_session_token_garbage(server, session):
    bad = dataclasses.replace(session, session_token="not-a-token")
    with aws_error("UnrecognizedClientException", 400):
        server.client("kms", bad).list_keys()


def test_session_key_without_token(server, session):
    bare = dataclasses.replace(session, session_token=None)
    with aws_error("UnrecognizedClientException", 400):
        server.client("kms", bare).list_keys()
    with aws_error("InvalidClientTokenId", 403):
        server.client("sts", bare).get_caller_identity()


def test_session_token_of_another_session(server, good, session):
    other = session_creds(server.client("sts", good).assume_role(RoleArn=ROLE_ARN, RoleSessionName="other"))
    mixed = dataclasses.replace(session, session_token=other.session_token)
    with aws_error("UnrecognizedClientException", 400):
        server.client("kms", mixed).list_keys()


def test_token_on_long_term_key(server, good):
    # A stale AWS_SESSION_TOKEN next to long-term keys: AWS answers "The security token
    # included in the request is invalid".
    with_token = dataclasses.replace(good, session_token="FQoGZXIvYXdzEBYaDunknown")
    with aws_error("UnrecognizedClientException", 400):
        server.client("kms", with_token).list_keys()


def test_duration_below_minimum_rejected(server, good):
    sts = server.client("sts", good, validate=False)
    with aws_error("ValidationError", 400):
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="short", DurationSeconds=899)


# -------------------------------------------------------------------- no signature


def test_unsigned_kms_request(server):
    r = kms_raw(server.endpoint, None, "ListKeys", {})
    assert r.status == 400, r.text()
    assert r.kms_error_code() == "MissingAuthenticationTokenException"


def test_unsigned_query_request(server):
    r = query_raw(server.endpoint, None, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert r.status in (400, 403), r.text()
    assert r.query_error_code() in ("MissingAuthenticationToken", "MissingAuthenticationTokenException")


# ----------------------------------------------------------------- query-string auth


def test_presigned_get_caller_identity(server, good):
    import urllib3
    # GET, as EKS-style tokens do (botocore presigns query operations for POST by default).
    url = server.client("sts", good).generate_presigned_url("get_caller_identity", ExpiresIn=300, HttpMethod="GET")
    assert "X-Amz-Signature=" in url
    r = urllib3.PoolManager().request("GET", url, retries=False)
    assert r.status == 200, r.data
    assert f"arn:aws:iam::{ACCT_A}:user/signer".encode() in r.data
    # Altering a signed parameter breaks the signature.
    bad = url.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
    r = urllib3.PoolManager().request("GET", bad, retries=False)
    assert r.status == 403, r.data
    assert b"SignatureDoesNotMatch" in r.data


def test_scope_date_must_match_request_date(server, good):
    import re as _re
    from kmsd_harness import _http
    import botocore.auth, botocore.awsrequest, botocore.credentials
    req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/", data=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(good.access_key_id, good.secret_access_key),
                            "kms", "us-east-1").add_auth(req)
    p = req.prepare()
    headers = dict(p.headers.items())
    # Move the credential scope one day back while keeping X-Amz-Date.
    headers["Authorization"] = _re.sub(r"/(\d{8})/", "/20000101/", headers["Authorization"])
    r = _http.request("POST", p.url, body=p.body, headers=headers)
    assert r.status == 400, r.data
    assert b"InvalidSignatureException" in r.data
