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
