"""GetKeyLastUsage through boto3: a new key has no last use and tracks from its creation;
a successful cryptographic call is recorded with its operation, request id and CloudTrail
event id (the audit line's eventID); failed and non-cryptographic calls are not; ReEncrypt
records both keys; the last use survives a clean restart (written at shutdown); after a
SIGKILL only what rode along with a metadata commit survives.
"""

from __future__ import annotations

import json

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, doc, user, user_creds

REGION = "us-east-1"


def world() -> dict:
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"All": doc(allow("kms:*"))}),
        user(ACCT_A, "carol"),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def audit_events(server) -> list[dict]:
    path = server.data_dir / "audit" / "audit.log"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_new_key_has_no_last_use(kms):
    key = kms.create_key()["KeyMetadata"]
    out = kms.get_key_last_usage(KeyId=key["KeyId"])
    assert out["KeyId"] == key["Arn"]
    assert out["KeyLastUsage"] == {}
    assert out["KeyCreationDate"] == key["CreationDate"]
    assert out["TrackingStartDate"] == key["CreationDate"]


def test_encrypt_is_recorded_and_failures_are_not(kms):
    key = kms.create_key()["KeyMetadata"]
    enc = kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    out = kms.get_key_last_usage(KeyId=key["Arn"])["KeyLastUsage"]
    assert out["Operation"] == "Encrypt"
    assert out["KmsRequestId"] == enc["ResponseMetadata"]["RequestId"]
    assert len(out["CloudTrailEventId"]) == 36
    # Not cryptographic, or failed: nothing changes.
    kms.describe_key(KeyId=key["KeyId"])
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(KeyId=key["KeyId"], CiphertextBlob=enc["CiphertextBlob"],
                    EncryptionContext={"wrong": "context"})
    with aws_error("DryRunOperationException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"] == out
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    after = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
    assert after["Operation"] == "Decrypt"
    assert after["KmsRequestId"] == dec["ResponseMetadata"]["RequestId"]
    assert after["Timestamp"] >= out["Timestamp"]
    assert after["CloudTrailEventId"] != out["CloudTrailEventId"]


def test_re_encrypt_records_both_keys(kms):
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"y")["CiphertextBlob"]
    re = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=b["KeyId"])
    for k in (a, b):
        last = kms.get_key_last_usage(KeyId=k["KeyId"])["KeyLastUsage"]
        assert last["Operation"] == "ReEncrypt"
        assert last["KmsRequestId"] == re["ResponseMetadata"]["RequestId"]


def test_errors_and_authorization(server, kms):
    with aws_error("NotFoundException", 400):
        kms.get_key_last_usage(KeyId="00000000-0000-4000-8000-00000000dead")
    key = kms.create_key()["KeyMetadata"]
    carol = server.client("kms", user_creds(ACCT_A, "carol"))
    with aws_error("AccessDeniedException", 400):
        carol.get_key_last_usage(KeyId=key["Arn"])


def test_event_id_is_the_audit_line_and_survives_restarts(module_launch):
    srv = module_launch(world(), region=REGION)
    kms = srv.client("kms", user_creds(ACCT_A, "admin"))
    key = kms.create_key()["KeyMetadata"]
    kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")
    last = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
    assert last["Operation"] == "GenerateDataKey"
    srv.terminate_ok()
    events = [e for e in audit_events(srv) if e["eventName"] == "GenerateDataKey"]
    assert [e["eventID"] for e in events] == [last["CloudTrailEventId"]]
    assert events[0]["requestID"] == last["KmsRequestId"]

    # Written at shutdown: a clean restart keeps it.
    srv.restart()
    kms = srv.client("kms", user_creds(ACCT_A, "admin"))
    assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"] == last

    # A use followed by a metadata commit survives a SIGKILL; a use after it does not.
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"z")
    committed = kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]
    kms.update_key_description(KeyId=key["KeyId"], Description="commit")
    kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key["KeyId"], Plaintext=b"w")["CiphertextBlob"])
    assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]["Operation"] == "Decrypt"
    srv.kill()
    srv.restart()
    kms = srv.client("kms", user_creds(ACCT_A, "admin"))
    assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"] == committed
