"""Wire details clients rely on: content types, request ids, error bodies, timestamps."""

from __future__ import annotations

import json
import re

import pytest

from kmsd_harness import kms_raw, query_raw
from worlds import ACCT_A, account, root_creds, user, user_creds

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CREDS = root_creds(ACCT_A)


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A, users=[user(ACCT_A, "nobody")])]})


def header(r, name):
    for k, v in r.headers.items():
        if k.lower() == name.lower():
            return v
    return None


def test_kms_success_shape(server):
    r = kms_raw(server.endpoint, CREDS, "CreateKey", {"Description": "wire"})
    assert r.status == 200
    assert header(r, "Content-Type") == "application/x-amz-json-1.1"
    assert re.fullmatch(UUID, header(r, "x-amzn-RequestId") or "")
    md = r.json()["KeyMetadata"]
    assert isinstance(md["CreationDate"], (int, float))  # epoch seconds, not a string
    assert 1.7e9 < md["CreationDate"] < 4e9
    assert None not in md.values(), "absent optional fields are omitted, not null"


def test_kms_error_shape(server):
    r = kms_raw(server.endpoint, user_creds(ACCT_A, "nobody"), "CreateKey", {})
    assert r.status == 400
    assert header(r, "Content-Type") == "application/x-amz-json-1.1"
    assert re.fullmatch(UUID, header(r, "x-amzn-RequestId") or "")
    body = r.json()
    assert r.kms_error_code() == "AccessDeniedException"
    assert body.get("message", body.get("Message", "")).startswith(
        f"User: arn:aws:iam::{ACCT_A}:user/nobody is not authorized to perform: kms:CreateKey")


def test_invalid_ciphertext_has_no_message(server):
    key = kms_raw(server.endpoint, CREDS, "CreateKey", {}).json()["KeyMetadata"]["KeyId"]
    r = kms_raw(server.endpoint, CREDS, "Decrypt", {"KeyId": key, "CiphertextBlob": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
    assert r.status == 400
    assert r.kms_error_code() == "InvalidCiphertextException"
    assert r.kms_error_message() == ""


def test_query_success_and_error_shape(server):
    r = query_raw(server.endpoint, CREDS, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert r.status == 200
    assert (header(r, "Content-Type") or "").startswith("text/xml")
    t = r.text()
    assert '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' in t
    assert f"<Arn>arn:aws:iam::{ACCT_A}:root</Arn>" in t
    assert re.search(rf"<RequestId>{UUID}</RequestId>", t)

    r = query_raw(server.endpoint, CREDS, "iam", {"Action": "GetUser", "Version": "2010-05-08", "UserName": "ghost"})
    assert r.status == 404
    t = r.text()
    assert '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in t
    assert "<Type>Sender</Type>" in t and "<Code>NoSuchEntity</Code>" in t
    assert re.search(rf"<RequestId>{UUID}</RequestId>", t)


def test_iam_policy_documents_are_url_encoded(server):
    doc = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
                                                   "Condition": {"StringEquals": {"kms:EncryptionContext:a b": "x&y=z"}}}]}
    r = query_raw(server.endpoint, CREDS, "iam", {"Action": "PutUserPolicy", "Version": "2010-05-08",
                                                  "UserName": "nobody", "PolicyName": "P",
                                                  "PolicyDocument": json.dumps(doc)})
    assert r.status == 200, r.text()
    r = query_raw(server.endpoint, CREDS, "iam", {"Action": "GetUserPolicy", "Version": "2010-05-08",
                                                  "UserName": "nobody", "PolicyName": "P"})
    m = re.search(r"<PolicyDocument>([^<]*)</PolicyDocument>", r.text())
    assert m, r.text()
    raw = m.group(1)
    assert "{" not in raw and "%7B" in raw.upper()
    from urllib.parse import unquote
    import html
    assert json.loads(unquote(html.unescape(raw))) == doc


def test_query_api_over_signed_get(server):
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    from kmsd_harness import _http
    url = server.endpoint + "/?Action=GetUser&Version=2010-05-08&UserName=nobody"
    req = botocore.awsrequest.AWSRequest(method="GET", url=url)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(CREDS.access_key_id, CREDS.secret_access_key),
                            "iam", "us-east-1").add_auth(req)
    p = req.prepare()
    r = _http.request("GET", p.url, headers=dict(p.headers.items()))
    assert r.status == 200, r.data
    assert b"<UserName>nobody</UserName>" in r.data
    assert b"<GetUserResponse" in r.data
