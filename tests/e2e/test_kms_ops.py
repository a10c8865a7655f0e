"""The first set of KMS operations through boto3, against AWS's documented behaviour.

World: account 111122223333 with `admin` (IAM allows kms:*) and users without any IAM
policy (`carol`, `dave`, `erin`, `ecuser`) who get access only through grants or key
policy statements.
"""

from __future__ import annotations

import datetime
import json
import re

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, doc, user, user_creds

REGION = "us-east-1"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ADMIN_ARN = f"arn:aws:iam::{ACCT_A}:user/admin"


def arn_of(name: str) -> str:
    return f"arn:aws:iam::{ACCT_A}:user/{name}"


def world() -> dict:
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "carol"),
        user(ACCT_A, "dave"),
        user(ACCT_A, "erin"),
        user(ACCT_A, "ecuser"),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def kms_as(server, name: str, validate: bool = True):
    return server.client("kms", user_creds(ACCT_A, name), validate=validate)


@pytest.fixture
def key(kms):
    return kms.create_key(Description="e2e key")["KeyMetadata"]


# ------------------------------------------------------------------------ key lifecycle


def test_create_key_metadata_fields(kms):
    md = kms.create_key(Description="described")["KeyMetadata"]
    assert md["AWSAccountId"] == ACCT_A
    assert UUID_RE.match(md["KeyId"])
    assert md["Arn"] == f"arn:aws:kms:{REGION}:{ACCT_A}:key/{md['KeyId']}"
    assert isinstance(md["CreationDate"], datetime.datetime)
    assert md["Enabled"] is True
    assert md["KeyState"] == "Enabled"
    assert md["Description"] == "described"
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["MultiRegion"] is False
    assert "DeletionDate" not in md
    described = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    for field in ("KeyId", "Arn", "AWSAccountId", "KeyState", "Description", "KeySpec", "Origin"):
        assert described[field] == md[field]
    assert kms.describe_key(KeyId=md["Arn"])["KeyMetadata"]["KeyId"] == md["KeyId"]


def test_default_key_policy(kms, key):
    resp = kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")
    policy = json.loads(resp["Policy"])
    assert policy["Version"] == "2012-10-17"
    statements = policy["Statement"]
    assert len(statements) == 1
    st = statements[0]
    assert st["Effect"] == "Allow"
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{ACCT_A}:root"}
    assert st["Action"] == "kms:*"
    assert st["Resource"] == "*"
    # PolicyName is optional nowadays.
    assert json.loads(kms.get_key_policy(KeyId=key["Arn"])["Policy"]) == policy
    assert kms.list_key_policies(KeyId=key["KeyId"])["PolicyNames"] == ["default"]


def test_put_key_policy_round_trips(kms, key):
    new = doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}, sid="Root"),
        allow(["kms:Encrypt"], principal={"AWS": arn_of("carol")}, sid="CarolEncrypt"),
    )
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(new))
    got = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert [s.get("Sid") for s in got["Statement"]] == ["Root", "CarolEncrypt"]
    with aws_error("MalformedPolicyDocumentException"):
        kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy="{not json")


def test_unknown_and_malformed_key_ids(kms):
    with aws_error("NotFoundException") as err:
        kms.describe_key(KeyId="fake-key-id")
    assert err["Message"] == "Invalid keyId 'fake-key-id'"
    missing = "00000000-0000-4000-8000-000000000000"
    with aws_error("NotFoundException") as err:
        kms.describe_key(KeyId=missing)
    assert err["Message"] == f"Key 'arn:aws:kms:{REGION}:{ACCT_A}:key/{missing}' does not exist"


def test_list_keys_paging(kms):
    created = {kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(3)}
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"Limit": 2}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_keys(**kwargs)
        pages += 1
        assert len(page["Keys"]) <= 2
        for k in page["Keys"]:
            assert k["KeyArn"] == f"arn:aws:kms:{REGION}:{ACCT_A}:key/{k['KeyId']}"
        seen += [k["KeyId"] for k in page["Keys"]]
        if not page["Truncated"]:
            assert "NextMarker" not in page
            break
        marker = page["NextMarker"]
        assert pages < 100
    assert pages >= 2
    assert len(seen) == len(set(seen)), "paging returned a key twice"
    assert created <= set(seen)
    everything = kms.list_keys()
    assert everything["Truncated"] is False
    assert {k["KeyId"] for k in everything["Keys"]} == set(seen)


def test_update_key_description(kms, key):
    kms.update_key_description(KeyId=key["KeyId"], Description="new words")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "new words"


def test_disable_enable(kms, key):
    kid = key["KeyId"]
    kms.disable_key(KeyId=kid)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled" and md["Enabled"] is False
    with aws_error("DisabledException", 400) as err:
        kms.encrypt(KeyId=kid, Plaintext=b"x")
    assert err["Message"] == f"{key['Arn']} is disabled."
    kms.enable_key(KeyId=kid)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.encrypt(KeyId=kid, Plaintext=b"x")["KeyId"] == key["Arn"]


def test_schedule_and_cancel_deletion(kms, key):
    kid = key["KeyId"]
    blob = kms.encrypt(KeyId=kid, Plaintext=b"before deletion")["CiphertextBlob"]
    for bad in (6, 31):
        with aws_error("ValidationException"):
            kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=bad)
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "Enabled"
    resp = kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert resp["KeyId"] == key["Arn"]
    assert resp["KeyState"] == "PendingDeletion"
    assert resp["PendingWindowInDays"] == 7
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now + datetime.timedelta(days=6) < resp["DeletionDate"] < now + datetime.timedelta(days=8)
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "PendingDeletion" and md["Enabled"] is False
    assert "DeletionDate" in md
    with aws_error("KMSInvalidStateException") as err:
        kms.encrypt(KeyId=kid, Plaintext=b"x")
    assert err["Message"] == f"{key['Arn']} is pending deletion."
    with aws_error("KMSInvalidStateException"):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error("KMSInvalidStateException"):
        kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    assert kid in {k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]}
    assert kms.cancel_key_deletion(KeyId=kid)["KeyId"] == key["Arn"]
    md = kms.describe_key(KeyId=kid)["KeyMetadata"]
    assert md["KeyState"] == "Disabled"
    assert "DeletionDate" not in md
    with aws_error("DisabledException"):
        kms.encrypt(KeyId=kid, Plaintext=b"x")
    with aws_error("KMSInvalidStateException") as err:
        kms.cancel_key_deletion(KeyId=kid)
    assert err["Message"] == f"{key['Arn']} is not pending deletion."
    kms.enable_key(KeyId=kid)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before deletion"


def test_default_deletion_window_is_30_days(kms, key):
    resp = kms.schedule_key_deletion(KeyId=key["KeyId"])
    assert resp["PendingWindowInDays"] == 30
    kms.cancel_key_deletion(KeyId=key["KeyId"])


# ------------------------------------------------------------------------------ aliases


def test_alias_lifecycle(kms):
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    name = "alias/e2e-lifecycle"
    alias_arn = f"arn:aws:kms:{REGION}:{ACCT_A}:{name}"
    kms.create_alias(AliasName=name, TargetKeyId=k1["KeyId"])
    entries = kms.list_aliases(KeyId=k1["KeyId"])["Aliases"]
    assert [(a["AliasName"], a["AliasArn"], a["TargetKeyId"]) for a in entries] == [(name, alias_arn, k1["KeyId"])]
    assert name in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == k1["KeyId"]
    assert kms.describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyId"] == k1["KeyId"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == k1["Arn"]

    with aws_error("AlreadyExistsException"):
        kms.create_alias(AliasName=name, TargetKeyId=k2["KeyId"])

    kms.update_alias(AliasName=name, TargetKeyId=k2["KeyId"])
    assert kms.describe_key(KeyId=name)["KeyMetadata"]["KeyId"] == k2["KeyId"]
    assert kms.encrypt(KeyId=name, Plaintext=b"x")["KeyId"] == k2["Arn"]
    assert kms.list_aliases(KeyId=k1["KeyId"])["Aliases"] == []

    kms.delete_alias(AliasName=name)
    with aws_error("NotFoundException") as err:
        kms.describe_key(KeyId=name)
    assert alias_arn in err["Message"]
    with aws_error("NotFoundException"):
        kms.delete_alias(AliasName=name)
    assert name not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}


def test_alias_reserved_and_invalid_names(kms, key):
    with aws_error("NotAuthorizedException"):
        kms.create_alias(AliasName="alias/aws/e2e", TargetKeyId=key["KeyId"])
    with aws_error("ValidationException"):
        kms.create_alias(AliasName="no-prefix", TargetKeyId=key["KeyId"])
    with aws_error("NotFoundException"):
        kms.create_alias(AliasName="alias/e2e-missing-target", TargetKeyId="00000000-0000-4000-8000-000000000001")


# --------------------------------------------------------------------------- crypto


def test_encrypt_decrypt_round_trip(kms, key):
    enc1 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn")
    enc2 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"attack at dawn")
    assert enc1["KeyId"] == key["Arn"]
    assert enc1["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert enc1["CiphertextBlob"] != enc2["CiphertextBlob"], "fresh IV per encryption"
    assert b"attack at dawn" not in enc1["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=enc1["CiphertextBlob"])
    assert dec["Plaintext"] == b"attack at dawn"
    assert dec["KeyId"] == key["Arn"]
    assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert kms.decrypt(CiphertextBlob=enc2["CiphertextBlob"], KeyId=key["Arn"])["Plaintext"] == b"attack at dawn"


def test_plaintext_size_limit(server, key):
    kms = kms_as(server, "admin", validate=False)
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"a" * 4096)["CiphertextBlob"]
    with aws_error("ValidationException"):
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"a" * 4097)


def test_decrypt_with_other_key_id_is_incorrect_key(kms, key):
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("IncorrectKeyException"):
        kms.decrypt(CiphertextBlob=blob, KeyId=other["KeyId"])


def test_tampered_ciphertext(kms, key):
    blob = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"do not touch")["CiphertextBlob"])
    for pos in (len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with aws_error("InvalidCiphertextException", 400):
            kms.decrypt(CiphertextBlob=bytes(bad))
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=bytes(blob[:-5]))
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=b"\x00" * 64)


def test_encryption_context_must_match(kms, key):
    ec = {"Dept": "Finance", "Purpose": "payroll"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"salaries", EncryptionContext=ec)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(reversed(list(ec.items()))))["Plaintext"] == b"salaries"
    for wrong in ({}, {"Dept": "Finance"}, {"Dept": "finance", "Purpose": "payroll"},
                  {"Dept": "Finance", "Purpose": "payroll", "Extra": "1"}):
        with aws_error("InvalidCiphertextException"):
            if wrong:
                kms.decrypt(CiphertextBlob=blob, EncryptionContext=wrong)
            else:
                kms.decrypt(CiphertextBlob=blob)


def test_reencrypt(kms, key):
    dest = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me", EncryptionContext={"a": "1"})["CiphertextBlob"]
    resp = kms.re_encrypt(CiphertextBlob=blob, SourceEncryptionContext={"a": "1"},
                          DestinationKeyId=dest["KeyId"], DestinationEncryptionContext={"b": "2"})
    assert resp["SourceKeyId"] == key["Arn"]
    assert resp["KeyId"] == dest["Arn"]
    assert "Plaintext" not in resp
    dec = kms.decrypt(CiphertextBlob=resp["CiphertextBlob"], EncryptionContext={"b": "2"})
    assert dec["Plaintext"] == b"move me" and dec["KeyId"] == dest["Arn"]
    with aws_error("InvalidCiphertextException"):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dest["KeyId"])


def test_generate_data_key_variants(kms, key):
    dk = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", EncryptionContext={"f": "1"})
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext={"f": "1"})["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=key["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    wp = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256")
    assert "Plaintext" not in wp and wp["KeyId"] == key["Arn"]
    assert len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 32
    with aws_error("ValidationException"):
        kms.generate_data_key(KeyId=key["KeyId"])


def test_generate_random(server, kms):
    a = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    b = kms.generate_random(NumberOfBytes=32)["Plaintext"]
    assert len(a) == 32 and a != b
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    raw = kms_as(server, "admin", validate=False)
    for bad in (0, 1025):
        with aws_error("ValidationException"):
            raw.generate_random(NumberOfBytes=bad)


# --------------------------------------------------------------------------- grants


def test_grant_lifecycle(server, kms, key):
    carol = kms_as(server, "carol")
    with aws_error("AccessDeniedException"):
        carol.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("carol"),
                         RetiringPrincipal=arn_of("carol"), Operations=["Encrypt", "Decrypt"], Name="carol-grant")
    assert re.fullmatch(r"[0-9a-f]{64}", g["GrantId"])
    assert g["GrantToken"]
    enc = carol.encrypt(KeyId=key["Arn"], Plaintext=b"granted", GrantTokens=[g["GrantToken"]])
    assert carol.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"granted"
    with aws_error("AccessDeniedException"):
        carol.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")

    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    mine = [x for x in grants if x["GrantId"] == g["GrantId"]]
    assert len(mine) == 1
    entry = mine[0]
    assert entry["KeyId"] == key["Arn"]
    assert entry["GranteePrincipal"] == arn_of("carol")
    assert entry["RetiringPrincipal"] == arn_of("carol")
    assert sorted(entry["Operations"]) == ["Decrypt", "Encrypt"]
    assert entry["Name"] == "carol-grant"
    assert entry["IssuingAccount"] == f"arn:aws:iam::{ACCT_A}:root"
    retirable = server.client("kms", user_creds(ACCT_A, "admin")).list_retirable_grants(
        RetiringPrincipal=arn_of("carol"))["Grants"]
    assert g["GrantId"] in {x["GrantId"] for x in retirable}

    # Same name + same parameters: the existing grant id comes back.
    again = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("carol"),
                             RetiringPrincipal=arn_of("carol"), Operations=["Encrypt", "Decrypt"], Name="carol-grant")
    assert again["GrantId"] == g["GrantId"]

    carol.retire_grant(GrantToken=g["GrantToken"])
    assert g["GrantId"] not in {x["GrantId"] for x in kms.list_grants(KeyId=key["KeyId"])["Grants"]}
    with aws_error("AccessDeniedException"):
        carol.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_revoke_grant(server, kms, key):
    dave = kms_as(server, "dave")
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"), Operations=["GenerateDataKey"])
    assert len(dave.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")["Plaintext"]) == 32
    # A grantee cannot revoke (no kms:RevokeGrant for dave).
    with aws_error("AccessDeniedException"):
        dave.revoke_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    with aws_error("AccessDeniedException"):
        dave.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    assert g["GrantId"] not in {x["GrantId"] for x in kms.list_grants(KeyId=key["KeyId"])["Grants"]}


def test_grant_encryption_context_constraints(server, kms, key):
    erin = kms_as(server, "erin")
    subset = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("erin"), Operations=["Encrypt"],
                              Constraints={"EncryptionContextSubset": {"Purpose": "test"}})
    assert erin.encrypt(KeyId=key["Arn"], Plaintext=b"x",
                        EncryptionContext={"Purpose": "test", "Extra": "ok"})["KeyId"] == key["Arn"]
    for ec in ({}, {"Purpose": "TEST"}, {"Other": "test"}):
        with aws_error("AccessDeniedException"):
            if ec:
                erin.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext=ec)
            else:
                erin.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    listed = [x for x in kms.list_grants(KeyId=key["KeyId"])["Grants"] if x["GrantId"] == subset["GrantId"]]
    assert listed[0]["Constraints"] == {"EncryptionContextSubset": {"Purpose": "test"}}
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=subset["GrantId"])

    kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("erin"), Operations=["Encrypt"],
                     Constraints={"EncryptionContextEquals": {"Purpose": "test"}})
    assert erin.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Purpose": "test"})
    with aws_error("AccessDeniedException"):
        erin.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Purpose": "test", "Extra": "no"})


def test_grant_cannot_be_used_after_key_disabled(server, kms, key):
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"), Operations=["Encrypt"])
    kms.disable_key(KeyId=key["KeyId"])
    with aws_error("DisabledException"):
        kms_as(server, "dave").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    kms.enable_key(KeyId=key["KeyId"])
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])


# ----------------------------------------------------------------------------- tags


def test_tags(kms, key):
    kid = key["KeyId"]
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == []
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "team", "TagValue": "blue"}, {"TagKey": "env", "TagValue": "dev"}])
    kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "env", "TagValue": "prod"}])
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=kid)["Tags"]}
    assert tags == {"team": "blue", "env": "prod"}
    kms.untag_resource(KeyId=kid, TagKeys=["team", "absent"])
    assert kms.list_resource_tags(KeyId=kid)["Tags"] == [{"TagKey": "env", "TagValue": "prod"}]
    with aws_error("TagException"):
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    created = kms.create_key(Tags=[{"TagKey": "born", "TagValue": "tagged"}])["KeyMetadata"]
    assert kms.list_resource_tags(KeyId=created["KeyId"])["Tags"] == [{"TagKey": "born", "TagValue": "tagged"}]


# ------------------------------------------------------------------------- rotation


def test_rotation(kms, key):
    kid = key["KeyId"]
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    old_blob = kms.encrypt(KeyId=kid, Plaintext=b"old material")["CiphertextBlob"]
    old_material = kms.describe_key(KeyId=kid)["KeyMetadata"].get("CurrentKeyMaterialId")

    kms.enable_key_rotation(KeyId=kid)
    st = kms.get_key_rotation_status(KeyId=kid)
    assert st["KeyRotationEnabled"] is True
    assert st["RotationPeriodInDays"] == 365
    assert "NextRotationDate" in st
    kms.enable_key_rotation(KeyId=kid, RotationPeriodInDays=90)
    assert kms.get_key_rotation_status(KeyId=kid)["RotationPeriodInDays"] == 90

    assert kms.rotate_key_on_demand(KeyId=kid)["KeyId"] == key["Arn"]
    rotations = kms.list_key_rotations(KeyId=kid)["Rotations"]
    assert len(rotations) == 1
    assert rotations[0]["RotationType"] == "ON_DEMAND"
    new_material = kms.describe_key(KeyId=kid)["KeyMetadata"].get("CurrentKeyMaterialId")
    if old_material is not None:
        assert new_material != old_material

    new_blob = kms.encrypt(KeyId=kid, Plaintext=b"new material")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old material"
    assert kms.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"new material"

    kms.disable_key_rotation(KeyId=kid)
    assert kms.get_key_rotation_status(KeyId=kid)["KeyRotationEnabled"] is False
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old material"

    kms.disable_key(KeyId=kid)
    with aws_error("DisabledException"):
        kms.rotate_key_on_demand(KeyId=kid)
    kms.enable_key(KeyId=kid)


# ----------------------------------------------------- encryption-context conditions


def test_key_policy_encryption_context_condition(server, kms):
    policy = doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}, sid="Root"),
        allow(["kms:Encrypt", "kms:Decrypt"], principal={"AWS": arn_of("ecuser")}, sid="FinanceOnly",
              condition={"StringEquals": {"kms:EncryptionContext:Dept": "Finance"}}),
    )
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    ec_user = kms_as(server, "ecuser")
    blob = ec_user.encrypt(KeyId=key["Arn"], Plaintext=b"ledger", EncryptionContext={"Dept": "Finance"})["CiphertextBlob"]
    assert ec_user.decrypt(CiphertextBlob=blob, EncryptionContext={"Dept": "Finance"})["Plaintext"] == b"ledger"
    with aws_error("AccessDeniedException") as err:
        ec_user.encrypt(KeyId=key["Arn"], Plaintext=b"ledger")
    assert err["Message"].startswith(
        f"User: {arn_of('ecuser')} is not authorized to perform: kms:Encrypt on resource: {key['Arn']}")
    with aws_error("AccessDeniedException"):
        ec_user.encrypt(KeyId=key["Arn"], Plaintext=b"ledger", EncryptionContext={"Dept": "HR"})
    with aws_error("AccessDeniedException"):
        ec_user.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext={"Dept": "Finance"})


def test_key_policy_explicit_deny_beats_iam_allow(kms):
    policy = doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}, sid="Root"),
        {"Sid": "NoAdminDecrypt", "Effect": "Deny", "Principal": {"AWS": ADMIN_ARN},
         "Action": "kms:Decrypt", "Resource": "*"},
    )
    key = kms.create_key(Policy=json.dumps(policy), BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("AccessDeniedException") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"] == (f"User: {ADMIN_ARN} is not authorized to perform: kms:Decrypt on resource: "
                              f"{key['Arn']} with an explicit deny in a resource-based policy")


# ------------------------------------------------------------- key states, misc rules


def test_state_rules_for_grants_aliases_tags(kms, key):
    kid = key["KeyId"]
    kms.disable_key(KeyId=kid)
    with aws_error("DisabledException"):
        kms.create_grant(KeyId=kid, GranteePrincipal=arn_of("dave"), Operations=["Encrypt"])
    kms.create_alias(AliasName="alias/e2e-disabled-ok", TargetKeyId=kid)  # allowed while Disabled
    kms.enable_key(KeyId=kid)
    kms.schedule_key_deletion(KeyId=kid, PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException"):
        kms.create_alias(AliasName="alias/e2e-pending", TargetKeyId=kid)
    with aws_error("KMSInvalidStateException"):
        kms.tag_resource(KeyId=kid, Tags=[{"TagKey": "a", "TagValue": "b"}])
    with aws_error("KMSInvalidStateException"):
        kms.enable_key(KeyId=kid)
    # Read-only and deletion-related operations still work.
    assert kms.describe_key(KeyId=kid)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert kms.list_grants(KeyId=kid)["Grants"] == []
    kms.delete_alias(AliasName="alias/e2e-disabled-ok")
    kms.cancel_key_deletion(KeyId=kid)


def test_dry_run(kms, key):
    with aws_error("DryRunOperationException") as err:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    assert err["Message"] == "The request would have succeeded, but the DryRun option is set."


def test_dry_run_ignore_ciphertext(kms, key):
    """DryRunModifiers IGNORE_CIPHERTEXT (Decrypt, ReEncrypt API reference): the ciphertext
    is ignored, absent or not, and the (source) key comes from KeyId / SourceKeyId."""
    kid = key["KeyId"]
    ignore = {"DryRun": True, "DryRunModifiers": ["IGNORE_CIPHERTEXT"]}
    with aws_error("DryRunOperationException"):
        kms.decrypt(KeyId=kid, CiphertextBlob=b"not a ciphertext", **ignore)
    with aws_error("DryRunOperationException"):
        kms.decrypt(KeyId=kid, **ignore)
    with aws_error("DryRunOperationException"):
        kms.re_encrypt(SourceKeyId=kid, DestinationKeyId=kid, **ignore)
    with aws_error("DryRunOperationException"):
        kms.re_encrypt(CiphertextBlob=b"garbage", SourceKeyId=kid, DestinationKeyId=kid, **ignore)
    with aws_error("ValidationException"):
        kms.re_encrypt(DestinationKeyId=kid, **ignore)
    # Without the modifier the ciphertext is checked as usual.
    with aws_error("InvalidCiphertextException"):
        kms.decrypt(KeyId=kid, CiphertextBlob=b"not a ciphertext", DryRun=True)


def test_generate_data_key_spec_and_bytes_exclusive(kms, key):
    with aws_error("ValidationException"):
        kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32)


def test_list_aliases_and_grants_paging(kms, key):
    names = [f"alias/e2e-page-{i}" for i in range(3)]
    for n in names:
        kms.create_alias(AliasName=n, TargetKeyId=key["KeyId"])
    seen, marker = [], None
    while True:
        page = kms.list_aliases(KeyId=key["KeyId"], Limit=1, **({"Marker": marker} if marker else {}))
        assert len(page["Aliases"]) <= 1
        seen += [a["AliasName"] for a in page["Aliases"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert sorted(seen) == names

    grant_ids = {kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"),
                                  Operations=["Encrypt"])["GrantId"] for _ in range(3)}
    seen_g, marker = [], None
    while True:
        page = kms.list_grants(KeyId=key["KeyId"], Limit=2, **({"Marker": marker} if marker else {}))
        assert len(page["Grants"]) <= 2
        seen_g += [g["GrantId"] for g in page["Grants"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert sorted(seen_g) == sorted(grant_ids)
    for g in grant_ids:
        kms.revoke_grant(KeyId=key["KeyId"], GrantId=g)


def test_key_arn_of_other_region(server, key):
    west = server.client("kms", user_creds(ACCT_A, "admin"), region="us-west-2")
    with aws_error("NotFoundException"):
        west.describe_key(KeyId=key["Arn"])
    with aws_error("NotFoundException"):
        west.describe_key(KeyId=key["KeyId"])
    # Keys are regional: a key created with a us-west-2 client lives there.
    k2 = west.create_key()["KeyMetadata"]
    assert k2["Arn"].startswith(f"arn:aws:kms:us-west-2:{ACCT_A}:key/")
    with aws_error("NotFoundException"):
        server.client("kms", user_creds(ACCT_A, "admin")).describe_key(KeyId=k2["KeyId"])


def test_alias_arn_and_unknown_alias(kms, key):
    kms.create_alias(AliasName="alias/e2e-arn", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{ACCT_A}:alias/e2e-arn"
    assert kms.encrypt(KeyId=alias_arn, Plaintext=b"x")["KeyId"] == key["Arn"]
    with aws_error("NotFoundException") as err:
        kms.update_alias(AliasName="alias/e2e-never-made", TargetKeyId=key["KeyId"])
    assert err["Message"] == f"Alias arn:aws:kms:{REGION}:{ACCT_A}:alias/e2e-never-made is not found."
    kms.delete_alias(AliasName="alias/e2e-arn")


# ----------------------------------------------------------- re-encrypt authorization


def test_reencrypt_needs_from_and_to(server, kms):
    from worlds import root_creds
    iam = server.client("iam", root_creds(ACCT_A))
    src = kms.create_key()["KeyMetadata"]
    dst = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=src["KeyId"], Plaintext=b"re")["CiphertextBlob"]
    name = "reenc-user"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    from worlds import Creds
    c = server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))
    iam.put_user_policy(UserName=name, PolicyName="R", PolicyDocument=json.dumps(doc(
        allow("kms:ReEncryptFrom", src["Arn"]), allow("kms:ReEncryptTo", dst["Arn"]))))
    out = c.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst["Arn"])
    assert out["KeyId"] == dst["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="R", PolicyDocument=json.dumps(doc(
        allow("kms:ReEncryptFrom", src["Arn"]))))
    with aws_error("AccessDeniedException") as err:
        c.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst["Arn"])
    assert f"kms:ReEncryptTo on resource: {dst['Arn']}" in err["Message"]
    iam.put_user_policy(UserName=name, PolicyName="R", PolicyDocument=json.dumps(doc(
        allow("kms:ReEncrypt*", dst["Arn"]))))
    with aws_error("AccessDeniedException") as err:
        c.re_encrypt(CiphertextBlob=blob, DestinationKeyId=dst["Arn"])
    assert f"kms:ReEncryptFrom on resource: {src['Arn']}" in err["Message"]


def test_decrypt_with_alias_key_id(kms):
    k1 = kms.create_key()["KeyMetadata"]
    k2 = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/e2e-dec-right", TargetKeyId=k1["KeyId"])
    kms.create_alias(AliasName="alias/e2e-dec-wrong", TargetKeyId=k2["KeyId"])
    blob = kms.encrypt(KeyId=k1["KeyId"], Plaintext=b"aliased")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId="alias/e2e-dec-right")["Plaintext"] == b"aliased"
    with aws_error("IncorrectKeyException"):
        kms.decrypt(CiphertextBlob=blob, KeyId="alias/e2e-dec-wrong")


# ----------------------------------------------------------------- validation rules


def test_rotation_period_bounds(server, key):
    kms = kms_as(server, "admin", validate=False)
    for bad in (89, 2561):
        with aws_error("ValidationException"):
            kms.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=bad)


def test_tag_limits(kms, key):
    with aws_error("TagException"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": f"k{i}", "TagValue": "v"} for i in range(51)])
    with aws_error("TagException"):
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": "dup", "TagValue": "1"}, {"TagKey": "dup", "TagValue": "2"}])
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == []


def test_hmac_key_requires_key_usage(kms):
    with aws_error("ValidationException") as err:
        kms.create_key(KeySpec="HMAC_256")
    assert err["Message"] == "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."


def test_alias_given_to_key_id_only_operation(kms, key):
    kms.create_alias(AliasName="alias/e2e-keyid-only", TargetKeyId=key["KeyId"])
    with aws_error("InvalidArnException"):
        kms.disable_key(KeyId="alias/e2e-keyid-only")
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_invalid_marker(kms):
    with aws_error("InvalidMarkerException"):
        kms.list_keys(Marker="this-is-not-a-marker")


def test_grant_operation_validation(server, kms, key):
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"), Operations=["Sign"])
    raw = kms_as(server, "admin", validate=False)
    with aws_error("ValidationException"):
        raw.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"), Operations=[])


def test_retire_grant_by_unrelated_principal_denied(server, kms, key):
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("dave"), RetiringPrincipal=arn_of("erin"),
                         Operations=["Encrypt"])
    with aws_error("AccessDeniedException"):
        kms_as(server, "carol").retire_grant(GrantToken=g["GrantToken"])
    # The grantee may not retire either: its grant lacks the RetireGrant operation.
    with aws_error("AccessDeniedException"):
        kms_as(server, "dave").retire_grant(GrantToken=g["GrantToken"])
    kms_as(server, "erin").retire_grant(GrantToken=g["GrantToken"])
    assert g["GrantId"] not in {x["GrantId"] for x in kms.list_grants(KeyId=key["KeyId"])["Grants"]}
    assert kms.list_retirable_grants(RetiringPrincipal=arn_of("erin"))["Grants"] == []
