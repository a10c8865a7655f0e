"""The audit log: one CloudTrail-shaped JSON line per request, and never any plaintext.

A distinctive marker is encrypted; afterwards the whole data directory and the
server's stdout/stderr are searched for the marker, its base64 and hex forms, and for
the plaintext data key returned by GenerateDataKey.
"""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, doc, user, user_creds

ADMIN_ARN = f"arn:aws:iam::{ACCT_A}:user/admin"


def world() -> dict:
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"All": doc(allow("kms:*"))}),
        user(ACCT_A, "carol"),
    ])]}


def forms(secret: bytes) -> list[bytes]:
    out = [secret, base64.b64encode(secret), secret.hex().encode(), secret.hex().upper().encode(),
           base64.urlsafe_b64encode(secret)]
    # base64 of the secret at any of the 3 alignments inside a longer base64 text
    for pad in (1, 2):
        out.append(base64.b64encode(b"\x00" * pad + secret)[4:-4])
    return out


def grep_tree(root, needles: list[bytes]) -> list[str]:
    hits = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                data = fh.read()
            for n in needles:
                if n in data:
                    hits.append(f"{path}: {n[:24]!r}")
    return hits


@pytest.fixture(scope="module")
def run(module_launch):
    """Make a known sequence of requests, then stop the server (flushes the log)."""
    server = module_launch(world())
    admin = server.client("kms", user_creds(ACCT_A, "admin"))
    carol = server.client("kms", user_creds(ACCT_A, "carol"))
    marker = f"KMSD-AUDIT-MARKER-{uuid.uuid4().hex}".encode()
    requests = []

    key = admin.create_key(Description="audit")["KeyMetadata"]
    requests.append(("CreateKey", None))
    blob = admin.encrypt(KeyId=key["KeyId"], Plaintext=marker, EncryptionContext={"purpose": "audit"})["CiphertextBlob"]
    requests.append(("Encrypt", None))
    assert admin.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "audit"})["Plaintext"] == marker
    requests.append(("Decrypt", None))
    dk = admin.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    requests.append(("GenerateDataKey", None))
    rnd = admin.generate_random(NumberOfBytes=48)["Plaintext"]
    requests.append(("GenerateRandom", None))
    with aws_error("AccessDeniedException"):
        carol.encrypt(KeyId=key["Arn"], Plaintext=marker)
    requests.append(("Encrypt", "AccessDeniedException"))
    with aws_error("NotFoundException"):
        admin.describe_key(KeyId="00000000-0000-4000-8000-00000000dead")
    requests.append(("DescribeKey", "NotFoundException"))
    server.terminate_ok()
    return {"server": server, "key": key, "marker": marker, "data_key": dk["Plaintext"], "random": rnd,
            "requests": requests}


def audit_events(server) -> list[dict]:
    path = server.data_dir / "audit" / "audit.log"
    assert path.exists(), f"no audit log at {path}; data dir has {sorted(os.listdir(server.data_dir))}"
    lines = [l for l in path.read_text().splitlines() if l.strip()]
    events = []
    for line in lines:
        events.append(json.loads(line))  # every line is one JSON object
    return events


def test_one_line_per_request(run):
    events = audit_events(run["server"])
    names = [(e.get("eventName"), e.get("errorCode")) for e in events]
    assert names == run["requests"], names


def test_event_shape(run):
    events = audit_events(run["server"])
    for e in events:
        for field in ("eventTime", "eventName", "userIdentity", "sourceIPAddress", "requestParameters"):
            assert field in e, f"{field} missing in {e}"
        assert e["sourceIPAddress"] == "127.0.0.1"
    for e in events[:6]:  # requests that reached authorization carry the decision
        assert e.get("decision"), f"no decision in {e}"
    enc_ok = events[1]
    assert enc_ok["eventName"] == "Encrypt"
    assert enc_ok["userIdentity"]["arn"] == ADMIN_ARN
    assert "errorCode" not in enc_ok or enc_ok["errorCode"] in (None, "")
    assert "allow" in str(enc_ok["decision"]).lower()
    assert enc_ok["requestParameters"]["encryptionContext"] == {"purpose": "audit"}
    assert run["key"]["KeyId"] in json.dumps(enc_ok["requestParameters"]) or run["key"]["Arn"] in json.dumps(enc_ok)

    deciding = json.dumps(enc_ok.get("decidingStatements"))
    assert '"All"' in deciding, "the admin's IAM policy stands behind the allow"
    assert "Enable IAM User Permissions" in deciding, "so does the key policy's delegation statement"
    assert enc_ok["eventSource"] == "kms.amazonaws.com"
    assert enc_ok["resources"][0]["ARN"] == run["key"]["Arn"]
    assert enc_ok["readOnly"] is False
    assert events[2]["eventName"] == "Decrypt"
    assert events[2]["readOnly"] is True, "CloudTrail records Decrypt as readOnly (kms-api.md §9)"

    denied = events[5]
    assert denied["errorCode"] == "AccessDeniedException"
    assert denied["userIdentity"]["arn"] == f"arn:aws:iam::{ACCT_A}:user/carol"
    assert "deny" in str(denied["decision"]).lower()
    assert "is not authorized to perform: kms:Encrypt" in denied["errorMessage"]


def test_no_plaintext_anywhere(run):
    server = run["server"]
    needles = forms(run["marker"]) + forms(run["data_key"]) + forms(run["random"])
    hits = grep_tree(server.data_dir, needles)
    logs = server.all_logs()
    hits += [f"server output: {n[:24]!r}" for n in needles if n in logs]
    assert not hits, "plaintext found:\n" + "\n".join(hits)
    # The marker is genuinely distinctive: it is absent even as a substring.
    assert run["marker"][:18] not in logs


def test_iam_sts_and_auth_failures_are_audited_without_secrets(launch):
    from kmsd_harness import session_creds
    from worlds import Creds, root_creds

    w = world()
    w["accounts"][0]["roles"] = [{"name": "Audited", "assume_role_policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": ADMIN_ARN}, "Action": "sts:AssumeRole"})}]
    w["accounts"][0]["users"][0]["inline_policies"]["Assume"] = doc(allow("sts:AssumeRole"))
    server = launch(w)
    root = root_creds(ACCT_A)
    iam = server.client("iam", root)
    created = iam.create_user(UserName="audited")["User"]
    ak = iam.create_access_key(UserName="audited")["AccessKey"]
    assumed = server.client("sts", user_creds(ACCT_A, "admin")).assume_role(
        RoleArn=f"arn:aws:iam::{ACCT_A}:role/Audited", RoleSessionName="audit-session")
    sess = session_creds(assumed)
    assert server.client("sts", sess).get_caller_identity()["Arn"].endswith("/audit-session")
    with aws_error("UnrecognizedClientException"):
        server.client("kms", Creds("AKIAUNKNOWNAUDIT0000", "x" * 40)).list_keys()
    with aws_error("InvalidSignatureException"):
        server.client("kms", Creds(root.access_key_id, "y" * 40)).list_keys()
    server.terminate_ok()

    events = audit_events(server)
    got = [(e.get("eventName"), e.get("errorCode")) for e in events]
    assert got == [("CreateUser", None), ("CreateAccessKey", None), ("AssumeRole", None),
                   ("GetCallerIdentity", None), ("ListKeys", "UnrecognizedClientException"),
                   ("ListKeys", "InvalidSignatureException")], got
    sources = [e.get("eventSource") for e in events]
    assert sources == ["iam.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com", "sts.amazonaws.com",
                       "kms.amazonaws.com", "kms.amazonaws.com"], sources
    assert events[0]["userIdentity"]["arn"] == f"arn:aws:iam::{ACCT_A}:root"
    assert events[3]["userIdentity"]["arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/Audited/audit-session"
    assert created["UserName"] == "audited"

    secrets = [ak["SecretAccessKey"].encode(), sess.secret_access_key.encode(), sess.session_token.encode(),
               user_creds(ACCT_A, "admin").secret_access_key.encode(), root.secret_access_key.encode()]
    log_text = (server.data_dir / "audit" / "audit.log").read_bytes()
    for s in secrets:
        assert s not in log_text, f"secret {s[:6]!r}... written to the audit log"
        assert s not in server.all_logs(), f"secret {s[:6]!r}... written to server output"


def test_request_ids_match_responses(launch):
    import re
    from botocore.exceptions import ClientError
    server = launch(world())
    admin = server.client("kms", user_creds(ACCT_A, "admin"))
    ids = []
    r = admin.create_key()
    ids.append(r["ResponseMetadata"]["RequestId"])
    r2 = admin.encrypt(KeyId=r["KeyMetadata"]["KeyId"], Plaintext=b"x")
    ids.append(r2["ResponseMetadata"]["RequestId"])
    try:
        server.client("kms", user_creds(ACCT_A, "carol")).encrypt(KeyId=r["KeyMetadata"]["Arn"], Plaintext=b"x")
        raise AssertionError("carol must be denied")
    except ClientError as e:
        ids.append(e.response["ResponseMetadata"]["RequestId"])
    assert all(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", i) for i in ids), ids
    assert len(set(ids)) == 3
    server.terminate_ok()
    events = audit_events(server)
    assert [e.get("requestID") for e in events] == ids
    assert len({e.get("eventID") for e in events}) == 3
    assert events[1]["resources"][0]["ARN"] == r["KeyMetadata"]["Arn"]


def test_trace_logging_leaks_nothing(launch):
    from worlds import root_creds
    server = launch(world(), extra_env={"RUST_LOG": "trace"})
    admin = server.client("kms", user_creds(ACCT_A, "admin"))
    marker = f"TRACE-MARKER-{uuid.uuid4().hex}".encode()
    key = admin.create_key()["KeyMetadata"]["KeyId"]
    blob = admin.encrypt(KeyId=key, Plaintext=marker)["CiphertextBlob"]
    assert admin.decrypt(CiphertextBlob=blob)["Plaintext"] == marker
    dk = admin.generate_data_key(KeyId=key, KeySpec="AES_256")["Plaintext"]
    ak = server.client("iam", root_creds(ACCT_A)).create_access_key(UserName="carol")["AccessKey"]
    server.terminate_ok()
    logs = server.all_logs()
    assert len(logs) > 200, "RUST_LOG=trace should produce some output on stderr"
    needles = forms(marker) + forms(dk) + [ak["SecretAccessKey"].encode(),
                                           user_creds(ACCT_A, "admin").secret_access_key.encode(),
                                           root_creds(ACCT_A).secret_access_key.encode()]
    root_key = (server.data_dir / "root.key").read_bytes()
    needles += forms(root_key) + [root_key.strip()]
    leaked = [n[:12] for n in needles if n in logs]
    assert not leaked, f"secrets in trace output: {leaked}"
