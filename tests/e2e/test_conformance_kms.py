"""KMS behaviours checked against AWS's documentation (conformance review).

Each test pins one documented AWS behaviour that the other modules do not already cover
(sources in the test docstrings). World: account 111122223333 with `admin` (IAM allows
kms:*) and `carol` (no IAM policy; access only through key policies or grants).
"""

from __future__ import annotations

import json

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, default_key_policy, doc, user, user_creds

REGION = "us-east-1"
CAROL = f"arn:aws:iam::{ACCT_A}:user/carol"
ROOT = f"arn:aws:iam::{ACCT_A}:root"


@pytest.fixture(scope="module")
def server(module_launch):
    world = {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "carol"),
        user(ACCT_A, "dave"),
    ])]}
    return module_launch(world, region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


@pytest.fixture(scope="module")
def carol(server):
    return server.client("kms", user_creds(ACCT_A, "carol"))


def with_statement(statement: dict) -> str:
    pol = default_key_policy(ACCT_A)
    pol["Statement"].append(statement)
    return json.dumps(pol)


# ------------------------------------------------------------------------- key policies


@pytest.mark.parametrize("missing", ["Action", "Resource"])
def test_key_policy_statement_missing_action_or_resource_is_accepted_but_ineffective(
        kms, carol, missing):
    """PutKeyPolicy/CreateKey `Policy`: "If either of the required Resource or Action elements
    are missing from a key policy statement, the policy statement has no effect ... the
    CreateKey and PutKeyPolicy API requests succeed"."""
    st = {"Sid": "Carol", "Effect": "Allow", "Principal": {"AWS": CAROL},
          "Action": "kms:*", "Resource": "*"}
    del st[missing]
    policy = with_statement(st)
    key = kms.create_key(Policy=policy)["KeyMetadata"]
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"])["Policy"]) == json.loads(policy)
    with aws_error("AccessDeniedException", 400):
        carol.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    with aws_error("AccessDeniedException", 400):
        carol.describe_key(KeyId=key["KeyId"])
    other = kms.create_key()["KeyMetadata"]
    kms.put_key_policy(KeyId=other["KeyId"], PolicyName="default", Policy=policy)
    with aws_error("AccessDeniedException", 400):
        carol.encrypt(KeyId=other["KeyId"], Plaintext=b"x")
    # The complete statement does let carol in: the missing element is what made it inert.
    kms.put_key_policy(KeyId=other["KeyId"], PolicyName="default", Policy=with_statement(
        {"Effect": "Allow", "Principal": {"AWS": CAROL}, "Action": "kms:*", "Resource": "*"}))
    assert carol.encrypt(KeyId=other["KeyId"], Plaintext=b"x")["KeyId"] == other["Arn"]


# ------------------------------------------------------------- condition keys per operation
# Service Authorization Reference / "AWS KMS condition keys": each key below is populated for
# the listed operation, with the request's default when the parameter is omitted.

DAVE = f"arn:aws:iam::{ACCT_A}:user/dave"


def carol_may(kms, carol_call, action: str, condition: dict, key_id: str | None = None) -> bool:
    """Key policy lets carol do `action` only under `condition`; does `carol_call(key)` pass?"""
    key_id = key_id or kms.create_key()["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=with_statement(
        {"Effect": "Allow", "Principal": {"AWS": CAROL}, "Action": action, "Resource": "*",
         "Condition": condition}))
    try:
        carol_call(key_id)
        return True
    except Exception as e:  # noqa: BLE001 - the error code is checked below
        code = getattr(e, "response", {}).get("Error", {}).get("Code")
        assert code == "AccessDeniedException", e
        return False


def test_create_grant_condition_keys(kms, carol):
    def grant(ops, **kw):
        return lambda k: carol.create_grant(KeyId=k, GranteePrincipal=DAVE, Operations=ops, **kw)

    only_crypto = {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}}
    assert carol_may(kms, grant(["Encrypt"]), "kms:CreateGrant", only_crypto)
    assert not carol_may(kms, grant(["Encrypt", "CreateGrant"]), "kms:CreateGrant", only_crypto)
    to_dave = {"StringEquals": {"kms:GranteePrincipal": DAVE}}
    assert carol_may(kms, grant(["Encrypt"]), "kms:CreateGrant", to_dave)
    assert not carol_may(
        kms, lambda k: carol.create_grant(KeyId=k, GranteePrincipal=CAROL, Operations=["Encrypt"]),
        "kms:CreateGrant", to_dave)
    # Direct API calls are never "for an AWS resource".
    assert carol_may(kms, grant(["Encrypt"]), "kms:CreateGrant",
                     {"Bool": {"kms:GrantIsForAWSResource": "false"}})
    assert not carol_may(kms, grant(["Encrypt"]), "kms:CreateGrant",
                         {"Bool": {"kms:GrantIsForAWSResource": "true"}})
    subset = {"StringEquals": {"kms:GrantConstraintType": "EncryptionContextSubset"}}
    assert carol_may(kms, grant(["Encrypt"], Constraints={"EncryptionContextSubset": {"a": "b"}}),
                     "kms:CreateGrant", subset)
    assert not carol_may(kms, grant(["Encrypt"]), "kms:CreateGrant", subset)


def test_defaulted_request_parameters_feed_conditions(kms, carol):
    # ScheduleKeyDeletion without PendingWindowInDays: the condition sees the default, 30.
    assert carol_may(kms, lambda k: carol.schedule_key_deletion(KeyId=k), "kms:ScheduleKeyDeletion",
                     {"NumericEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}})
    assert not carol_may(kms, lambda k: carol.schedule_key_deletion(KeyId=k, PendingWindowInDays=7),
                         "kms:ScheduleKeyDeletion",
                         {"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "14"}})
    # EnableKeyRotation without RotationPeriodInDays: 365.
    assert carol_may(kms, lambda k: carol.enable_key_rotation(KeyId=k), "kms:EnableKeyRotation",
                     {"NumericEquals": {"kms:RotationPeriodInDays": "365"}})
    # Encrypt/Decrypt without EncryptionAlgorithm: SYMMETRIC_DEFAULT.
    alg = {"StringEquals": {"kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}}
    assert carol_may(kms, lambda k: carol.encrypt(KeyId=k, Plaintext=b"x"), "kms:Encrypt", alg)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert carol_may(kms, lambda k: carol.decrypt(CiphertextBlob=blob), "kms:Decrypt", alg, key)
    # GetKeyPolicy without PolicyName: "default".
    assert carol_may(kms, lambda k: carol.get_key_policy(KeyId=k), "kms:GetKeyPolicy",
                     {"StringEquals": {"kms:PolicyName": "default"}})


def test_reencrypt_on_same_key_condition(kms, carol):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    same = {"Bool": {"kms:ReEncryptOnSameKey": "true"}}
    assert carol_may(kms, lambda k: carol.re_encrypt(CiphertextBlob=blob, DestinationKeyId=k),
                     "kms:ReEncrypt*", same, key)
    other = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.put_key_policy(KeyId=other, PolicyName="default", Policy=with_statement(
        {"Effect": "Allow", "Principal": {"AWS": CAROL}, "Action": "kms:ReEncrypt*", "Resource": "*"}))
    # Source key only allows same-key re-encryption; a different destination is refused.
    with aws_error("AccessDeniedException", 400):
        carol.re_encrypt(CiphertextBlob=blob, DestinationKeyId=other)


def test_reencrypt_grant_constraints_use_each_side_context(kms, carol):
    """ReEncryptFrom is checked with SourceEncryptionContext, ReEncryptTo with
    DestinationEncryptionContext."""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"a": "1"})["CiphertextBlob"]
    kms.create_grant(KeyId=key, GranteePrincipal=CAROL, Operations=["ReEncryptFrom", "ReEncryptTo"],
                     Constraints={"EncryptionContextSubset": {"a": "1"}})
    out = carol.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "1"},
                           DestinationKeyId=key, DestinationEncryptionContext={"a": "1", "b": "2"})
    assert out["KeyId"].endswith(key)
    with aws_error("AccessDeniedException", 400):
        carol.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "1"},
                         DestinationKeyId=key, DestinationEncryptionContext={"b": "2"})


def test_key_spec_and_customer_master_key_spec_are_exclusive(kms):
    with aws_error("ValidationException", 400):
        kms.create_key(KeySpec="SYMMETRIC_DEFAULT", CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    md = kms.create_key(CustomerMasterKeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
    assert md["KeySpec"] == md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
