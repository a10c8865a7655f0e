"""Multi-Region keys through boto3 clients of two Regions against one server (a request's
Region is its signature's): CreateKey MultiRegion, ReplicateKey, a ciphertext made in
us-east-1 decrypting in eu-west-1, a MAC verifying across Regions, UpdatePrimaryRegion,
PendingReplicaDeletion, the denial of ReplicateKey without kms:CreateKey in the replica Region
(AWS's message), bad Regions, the aws CLI, and a SIGKILL restart.

World: account 111122223333 with `admin` (IAM allows kms:*) and `noreplica` (IAM allows
kms:* except kms:CreateKey in eu-west-1, by aws:RequestedRegion).
"""

from __future__ import annotations

import json

import pytest

from kmsd_harness import aws_error, denied_message, run_aws_cli
from worlds import ACCT_A, account, allow, deny, doc, user, user_creds

US = "us-east-1"
EU = "eu-west-1"
AP = "ap-southeast-2"


def world() -> dict:
    no_create_in_eu = deny("kms:CreateKey", condition={"StringEquals": {"aws:RequestedRegion": EU}})
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "noreplica", inline={"NoEu": doc(allow("kms:*"), no_create_in_eu)}),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=US)


def kms_in(server, region: str, name: str = "admin"):
    return server.client("kms", user_creds(ACCT_A, name), region=region)


def arn(region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{ACCT_A}:key/{key_id}"


def test_ciphertext_of_one_region_decrypts_in_another(server):
    us, eu = kms_in(server, US), kms_in(server, EU)
    md = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key_id = md["KeyId"]
    assert key_id.startswith("mrk-") and len(key_id) == 36
    assert md["MultiRegion"] is True
    assert md["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": arn(US, key_id), "Region": US},
        "ReplicaKeys": [],
    }
    ct = us.encrypt(KeyId=key_id, Plaintext=b"made in us-east-1",
                    EncryptionContext={"purpose": "e2e"})["CiphertextBlob"]
    with aws_error("NotFoundException", 400):
        eu.describe_key(KeyId=key_id)
    out = us.replicate_key(KeyId=key_id, ReplicaRegion=EU, Description="replica",
                           Tags=[{"TagKey": "site", "TagValue": "dublin"}])
    rm = out["ReplicaKeyMetadata"]
    assert rm["KeyId"] == key_id
    assert rm["Arn"] == arn(EU, key_id)
    assert rm["KeyState"] == "Enabled"
    assert rm["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert rm["MultiRegionConfiguration"]["PrimaryKey"] == {"Arn": arn(US, key_id), "Region": US}
    assert out["ReplicaTags"] == [{"TagKey": "site", "TagValue": "dublin"}]
    assert json.loads(out["ReplicaPolicy"])["Statement"][0]["Principal"]["AWS"] == f"arn:aws:iam::{ACCT_A}:root"
    pt = eu.decrypt(CiphertextBlob=ct, EncryptionContext={"purpose": "e2e"})
    assert pt["Plaintext"] == b"made in us-east-1"
    assert pt["KeyId"] == arn(EU, key_id)
    back = eu.encrypt(KeyId=key_id, Plaintext=b"and back")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=back)["Plaintext"] == b"and back"
    primary = us.describe_key(KeyId=key_id)["KeyMetadata"]
    assert primary["MultiRegionConfiguration"]["ReplicaKeys"] == [{"Arn": arn(EU, key_id), "Region": EU}]
    # Per Region: the replica's description and tags are its own.
    assert primary["Description"] == "primary"
    assert us.list_resource_tags(KeyId=key_id)["Tags"] == []
    with aws_error("AlreadyExistsException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=EU)


def test_mac_verifies_across_regions(server):
    us, ap = kms_in(server, US), kms_in(server, AP)
    key_id = us.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                           MultiRegion=True)["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=key_id, ReplicaRegion=AP)
    mac = us.generate_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert ap.verify_mac(KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]


def test_replicate_denied_without_create_key_in_the_replica_region(server):
    us = kms_in(server, US, "noreplica")
    key_id = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    with aws_error("AccessDeniedException", 400) as e:
        us.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    assert e["Message"] == denied_message(
        f"arn:aws:iam::{ACCT_A}:user/noreplica", "kms:CreateKey", arn(EU, key_id),
        "with an explicit deny in an identity-based policy")
    with aws_error("NotFoundException", 400):
        kms_in(server, EU).describe_key(KeyId=key_id)
    # Another Region is allowed.
    us.replicate_key(KeyId=key_id, ReplicaRegion=AP)


def test_bad_regions_and_keys(server):
    us = kms_in(server, US)
    key_id = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    single = us.create_key()["KeyMetadata"]["KeyId"]
    with aws_error("ValidationException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion="us-east-9")
    with aws_error("ValidationException", 400):
        us.replicate_key(KeyId=key_id, ReplicaRegion=US)
    with aws_error("UnsupportedOperationException", 400):
        us.replicate_key(KeyId=single, ReplicaRegion=EU)
    us.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    with aws_error("UnsupportedOperationException", 400):
        kms_in(server, EU).replicate_key(KeyId=key_id, ReplicaRegion=AP)
    # The ARN of another Region names no key here.
    with aws_error("NotFoundException", 400):
        us.describe_key(KeyId=arn(EU, key_id))
    md = us.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["MultiRegionConfiguration"]["ReplicaKeys"] == [{"Arn": arn(EU, key_id), "Region": EU}]


def test_update_primary_region_and_replica_deletion(server):
    us, eu = kms_in(server, US), kms_in(server, EU)
    key_id = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    us.update_primary_region(KeyId=key_id, PrimaryRegion=EU)
    for c in (us, eu):
        conf = c.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        assert conf["PrimaryKey"] == {"Arn": arn(EU, key_id), "Region": EU}
        assert conf["ReplicaKeys"] == [{"Arn": arn(US, key_id), "Region": US}]
    out = eu.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingReplicaDeletion"
    assert "DeletionDate" not in out
    md = eu.describe_key(KeyId=key_id)["KeyMetadata"]
    assert md["KeyState"] == "PendingReplicaDeletion"
    assert md["PendingDeletionWindowInDays"] == 7
    with aws_error("KMSInvalidStateException", 400):
        eu.encrypt(KeyId=key_id, Plaintext=b"x")
    assert us.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"] == arn(US, key_id)


def test_aws_cli_replicate_key(server):
    us = kms_in(server, US)
    key_id = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    r = run_aws_cli(server.endpoint, user_creds(ACCT_A, "admin"),
                    ["kms", "replicate-key", "--key-id", key_id, "--replica-region", AP], region=US)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["ReplicaKeyMetadata"]["Arn"] == arn(AP, key_id)
    r = run_aws_cli(server.endpoint, user_creds(ACCT_A, "admin"),
                    ["kms", "describe-key", "--key-id", key_id], region=AP)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"


def test_replicas_survive_sigkill(launch):
    server = launch(world(), region=US)
    us, eu = kms_in(server, US), kms_in(server, EU)
    key_id = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    ct = us.encrypt(KeyId=key_id, Plaintext=b"durable")["CiphertextBlob"]
    us.replicate_key(KeyId=key_id, ReplicaRegion=EU)
    server.kill()
    server.restart()
    eu = kms_in(server, EU)
    assert eu.decrypt(CiphertextBlob=ct)["Plaintext"] == b"durable"
    conf = eu.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert conf["MultiRegionKeyType"] == "REPLICA"
