"""KMS operations checked against AWS's documented behaviour (second conformance review).

Each test pins one documented behaviour that the other modules do not already cover; the
source is named in the docstring. One server for the module.

World: account A (111122223333) with `admin` (IAM allows kms:*), `carol` (no IAM policy),
`erin` (IAM allows kms:* but denies kms:RetireGrant) and `frank` (IAM allows only
kms:RetireGrant); account B (444455556666) with `bob` (IAM allows only kms:RetireGrant) and
`bertha` (no IAM policy) and `bill` (IAM allows kms:*).
"""

from __future__ import annotations

import json

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, ACCT_B, account, allow, default_key_policy, deny, doc, user, user_creds

REGION = "us-east-1"


def arn_a(name: str) -> str:
    return f"arn:aws:iam::{ACCT_A}:user/{name}"


@pytest.fixture(scope="module")
def server(module_launch):
    world = {"accounts": [
        account(ACCT_A, users=[
            user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
            user(ACCT_A, "carol"),
            user(ACCT_A, "erin", inline={"P": doc(allow("kms:*"), deny("kms:RetireGrant"))}),
            user(ACCT_A, "frank", inline={"P": doc(allow("kms:RetireGrant"))}),
        ]),
        account(ACCT_B, users=[
            user(ACCT_B, "bob", inline={"P": doc(allow("kms:RetireGrant"))}),
            user(ACCT_B, "bertha"),
            user(ACCT_B, "bill", inline={"P": doc(allow("kms:*"))}),
        ]),
    ]}
    return module_launch(world, region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def as_user(server, acct: str, name: str):
    return server.client("kms", user_creds(acct, name))


def grant_ids(kms, key_id: str) -> set:
    return {g["GrantId"] for g in kms.list_grants(KeyId=key_id)["Grants"]}


# ----------------------------------------------------------------------------- RetireGrant
# Developer Guide, "Retiring and revoking grants": the grant decides who may retire it (its
# retiring principal; its grantee when it includes RetireGrant; the AWS account in which it
# was created). "The kms:RetireGrant permission alone does not allow principals to retire a
# grant. The kms:RetireGrant permission is not effective in a key policy. To deny permission
# to retire a grant, you can use a Deny action with the kms:RetireGrant permission. The AWS
# account that owns the KMS key can use the kms:RetireGrant permission to delegate permission
# to retire the grant to an IAM user in the account. If the retiring principal is a different
# AWS account, administrators in the other account can use kms:RetireGrant to delegate
# permission to retire the grant to an IAM user in that account."


def test_retire_grant_explicit_iam_deny_beats_the_grant(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    g = kms.create_grant(KeyId=key, GranteePrincipal=arn_a("carol"), RetiringPrincipal=arn_a("erin"),
                         Operations=["Encrypt"])
    with aws_error("AccessDeniedException", 400) as err:
        as_user(server, ACCT_A, "erin").retire_grant(GrantToken=g["GrantToken"])
    assert "kms:RetireGrant" in err["Message"] and "explicit deny" in err["Message"]
    assert g["GrantId"] in grant_ids(kms, key)
    # Without the Deny, being the retiring principal is enough (no kms:RetireGrant needed).
    g2 = kms.create_grant(KeyId=key, GranteePrincipal=arn_a("erin"), RetiringPrincipal=arn_a("carol"),
                          Operations=["Encrypt"])
    as_user(server, ACCT_A, "carol").retire_grant(GrantToken=g2["GrantToken"])
    assert g2["GrantId"] not in grant_ids(kms, key)


def test_retire_grant_key_policy_permission_is_not_effective(server, kms):
    """A key policy statement allowing carol kms:RetireGrant does not let her retire a grant
    she is not named in; an IAM policy in the key's account does (even when the key policy
    does not delegate to the account)."""
    policy = default_key_policy(ACCT_A)
    policy["Statement"].append({"Sid": "CarolRetires", "Effect": "Allow",
                                "Principal": {"AWS": arn_a("carol")},
                                "Action": "kms:RetireGrant", "Resource": "*"})
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_a("erin"), Operations=["Decrypt"])
    with aws_error("AccessDeniedException", 400):
        as_user(server, ACCT_A, "carol").retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    assert g["GrantId"] in grant_ids(kms, key["KeyId"])

    only_admin = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn_a("admin")}, "Action": "kms:*", "Resource": "*"}]}
    key2 = kms.create_key(Policy=json.dumps(only_admin))["KeyMetadata"]
    g2 = kms.create_grant(KeyId=key2["KeyId"], GranteePrincipal=arn_a("erin"), Operations=["Decrypt"])
    as_user(server, ACCT_A, "frank").retire_grant(KeyId=key2["Arn"], GrantId=g2["GrantId"])
    assert g2["GrantId"] not in grant_ids(kms, key2["KeyId"])


def test_retire_grant_delegated_by_the_retiring_account(server, kms):
    key = kms.create_key()["KeyMetadata"]
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_a("carol"),
                         RetiringPrincipal=f"arn:aws:iam::{ACCT_B}:root", Operations=["Encrypt"])
    # bertha (account B, no IAM permission) may not; bob (IAM allows kms:RetireGrant) may.
    with aws_error("AccessDeniedException", 400):
        as_user(server, ACCT_B, "bertha").retire_grant(GrantToken=g["GrantToken"])
    assert g["GrantId"] in grant_ids(kms, key["KeyId"])
    as_user(server, ACCT_B, "bob").retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    assert g["GrantId"] not in grant_ids(kms, key["KeyId"])
    # A grant that names neither account B nor one of its principals stays out of reach.
    g2 = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_a("carol"), Operations=["Encrypt"])
    with aws_error("AccessDeniedException", 400):
        as_user(server, ACCT_B, "bob").retire_grant(GrantToken=g2["GrantToken"])


def test_cross_account_grant_is_issued_under_the_callers_account(server, kms):
    """GrantListEntry.IssuingAccount: "The Amazon Web Services account under which the grant
    was issued" (IAM Access Analyzer: used "to propose KMS grants issued by accounts other than
    the owner of the key"); RetireGrant: "the Amazon Web Services account in which the grant is
    created" may retire it."""
    policy = default_key_policy(ACCT_A)
    policy["Statement"].append({"Sid": "AccountB", "Effect": "Allow",
                                "Principal": {"AWS": f"arn:aws:iam::{ACCT_B}:root"},
                                "Action": ["kms:CreateGrant", "kms:ListGrants"], "Resource": "*"})
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    bill = as_user(server, ACCT_B, "bill")
    g = bill.create_grant(KeyId=key["Arn"], GranteePrincipal=f"arn:aws:iam::{ACCT_B}:user/bertha",
                          Operations=["Encrypt"])
    mine = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_a("carol"), Operations=["Encrypt"])
    issuing = {e["GrantId"]: e["IssuingAccount"] for e in kms.list_grants(KeyId=key["KeyId"])["Grants"]}
    assert issuing[g["GrantId"]] == f"arn:aws:iam::{ACCT_B}:root"
    assert issuing[mine["GrantId"]] == f"arn:aws:iam::{ACCT_A}:root"
    assert {e["GrantId"]: e["IssuingAccount"] for e in bill.list_grants(KeyId=key["Arn"])["Grants"]} == issuing
    # Account B (through IAM) may retire the grant it issued, not the other one.
    with aws_error("AccessDeniedException", 400):
        as_user(server, ACCT_B, "bob").retire_grant(KeyId=key["Arn"], GrantId=mine["GrantId"])
    as_user(server, ACCT_B, "bob").retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    assert grant_ids(kms, key["KeyId"]) == {mine["GrantId"]}


def test_list_grants_grantee_filter_is_validated(server, kms):
    """ListGrants GranteePrincipal: model pattern ^[\\w+=,.@:/-]+$ (ValidationException)."""
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    raw = server.client("kms", user_creds(ACCT_A, "admin"), validate=False)
    with aws_error("ValidationException", 400) as err:
        raw.list_grants(KeyId=key, GranteePrincipal="not a principal!")
    assert "'granteePrincipal'" in err["Message"]


# ---------------------------------------------------------------------- AWS managed keys
# DescribeKey: "If you call the DescribeKey operation on a predefined AWS alias, that is, an
# AWS alias with no key ID, KMS creates an AWS managed key. Then, it associates the alias with
# the new KMS key, and returns the KeyId and Arn of the new KMS key in the response."
# AWS managed keys: KeyManager AWS, rotated every year, key policy lets the account read the
# key's metadata and use it only through the service (kms:ViaService).


def test_describe_key_on_predefined_alias_creates_the_aws_managed_key(server, kms):
    meta = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT" and meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCT_A}:key/{meta['KeyId']}"
    # The same key every time, by alias name or alias ARN; the alias now targets it.
    again = kms.describe_key(KeyId=f"arn:aws:kms:{REGION}:{ACCT_A}:alias/aws/ebs")["KeyMetadata"]
    assert again["KeyId"] == meta["KeyId"]
    aliases = {a["AliasName"]: a for a in kms.list_aliases(KeyId=meta["KeyId"])["Aliases"]}
    assert aliases["alias/aws/ebs"]["TargetKeyId"] == meta["KeyId"]
    assert meta["KeyId"] in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    rot = kms.get_key_rotation_status(KeyId=meta["KeyId"])
    assert rot["KeyRotationEnabled"] is True and rot["RotationPeriodInDays"] == 365
    policy = json.loads(kms.get_key_policy(KeyId=meta["KeyId"])["Policy"])
    via = [s["Condition"]["StringEquals"]["kms:ViaService"] for s in policy["Statement"]
           if "Condition" in s]
    assert via == [f"ec2.{REGION}.amazonaws.com"]
    # Customers cannot manage or directly use an AWS managed key.
    with aws_error("AccessDeniedException", 400):
        kms.encrypt(KeyId="alias/aws/ebs", Plaintext=b"x")
    with aws_error("AccessDeniedException", 400):
        kms.schedule_key_deletion(KeyId=meta["KeyId"])
    with aws_error("AccessDeniedException", 400):
        kms.put_key_policy(KeyId=meta["KeyId"], PolicyName="default",
                           Policy=json.dumps(default_key_policy(ACCT_A)))
    # Customer managed keys stay CUSTOMER; an unknown alias/aws/ name is still not found.
    assert kms.create_key()["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    with aws_error("NotFoundException", 400):
        kms.describe_key(KeyId="alias/aws/no-such-service")


def test_aws_managed_key_survives_a_restart(launch):
    server = launch({"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))})])]}, region=REGION)
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    before = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert server.stop() == 0
    server.start()
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    after = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert after["KeyId"] == before["KeyId"] and after["KeyManager"] == "AWS"
    assert [a["AliasName"] for a in kms.list_aliases()["Aliases"]] == ["alias/aws/s3"]
