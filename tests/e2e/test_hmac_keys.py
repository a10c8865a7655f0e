"""HMAC KMS keys through boto3: CreateKey/DescribeKey for HMAC_224/256/384/512, GenerateMac and
VerifyMac, KMSInvalidMacException, algorithm/key-spec mismatch, wrong key usage both ways,
rotation refusals, key states, grants, IAM conditions on kms:MacAlgorithm, an explicit deny,
DryRun, message limits, and durability across a SIGKILL restart (with no message or MAC in the
data directory or the audit log).

World: account 111122223333 with `admin` (IAM allows kms:*), `macuser` (IAM allows
kms:GenerateMac/VerifyMac only with kms:MacAlgorithm HMAC_SHA_256), `nomac` (allows kms:* but
denies kms:VerifyMac) and `carol` (no IAM policy; access through grants only).
"""

from __future__ import annotations

import base64
import json

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, account, allow, deny, doc, user, user_creds

REGION = "us-east-1"
SPECS = [("HMAC_224", "HMAC_SHA_224", 28), ("HMAC_256", "HMAC_SHA_256", 32),
         ("HMAC_384", "HMAC_SHA_384", 48), ("HMAC_512", "HMAC_SHA_512", 64)]


def world() -> dict:
    mac_only_256 = allow(["kms:GenerateMac", "kms:VerifyMac"],
                         condition={"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_256"}})
    return {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "admin", inline={"KmsAdmin": doc(allow("kms:*"))}),
        user(ACCT_A, "macuser", inline={"Mac256": doc(mac_only_256)}),
        user(ACCT_A, "nomac", inline={"NoVerify": doc(allow("kms:*"), deny("kms:VerifyMac"))}),
        user(ACCT_A, "carol"),
    ])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world(), region=REGION)


@pytest.fixture(scope="module")
def kms(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def kms_as(server, name: str):
    return server.client("kms", user_creds(ACCT_A, name))


def create_hmac(kms, spec: str) -> dict:
    return kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]


@pytest.fixture(scope="module")
def key256(kms):
    return create_hmac(kms, "HMAC_256")


@pytest.mark.parametrize("spec,alg,length", SPECS)
def test_create_generate_verify_each_spec(kms, spec, alg, length):
    md = create_hmac(kms, spec)
    for m in (md, kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]):
        assert m["KeySpec"] == spec
        assert m["CustomerMasterKeySpec"] == spec
        assert m["KeyUsage"] == "GENERATE_VERIFY_MAC"
        assert m["MacAlgorithms"] == [alg]
        assert "EncryptionAlgorithms" not in m
        assert m["KeyState"] == "Enabled"
    out = kms.generate_mac(KeyId=md["KeyId"], Message=b"hello", MacAlgorithm=alg)
    assert out["KeyId"] == md["Arn"]
    assert out["MacAlgorithm"] == alg
    assert len(out["Mac"]) == length
    assert kms.generate_mac(KeyId=md["Arn"], Message=b"hello", MacAlgorithm=alg)["Mac"] == out["Mac"]
    assert kms.generate_mac(KeyId=md["KeyId"], Message=b"hellO", MacAlgorithm=alg)["Mac"] != out["Mac"]
    v = kms.verify_mac(KeyId=md["KeyId"], Message=b"hello", MacAlgorithm=alg, Mac=out["Mac"])
    assert v["MacValid"] is True
    assert v["KeyId"] == md["Arn"]
    assert v["MacAlgorithm"] == alg
    assert md["KeyId"] in [k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]]


def test_hmac_key_requires_usage(kms):
    with aws_error("ValidationException") as err:
        kms.create_key(KeySpec="HMAC_256")
    assert err["Message"] == "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys."
    with aws_error("ValidationException") as err:
        kms.create_key(KeySpec="HMAC_256", KeyUsage="ENCRYPT_DECRYPT")
    assert err["Message"] == "KeyUsage ENCRYPT_DECRYPT is not compatible with KeySpec HMAC_256"


def test_wrong_mac(kms, key256):
    mac = kms.generate_mac(KeyId=key256["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    bad = bytes([mac[0] ^ 1]) + mac[1:]
    for message, m in ((b"m", bad), (b"n", mac), (b"m", mac[:-1])):
        with aws_error("KMSInvalidMacException", 400) as err:
            kms.verify_mac(KeyId=key256["KeyId"], Message=message, MacAlgorithm="HMAC_SHA_256", Mac=m)
        assert err.get("Message", "") == ""


def test_algorithm_must_match_key_spec(kms):
    md = create_hmac(kms, "HMAC_224")
    with aws_error("InvalidKeyUsageException") as err:
        kms.generate_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert err["Message"] == "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224."


def test_wrong_key_usage_both_ways(kms, key256):
    sym = kms.create_key()["KeyMetadata"]
    with aws_error("InvalidKeyUsageException") as err:
        kms.generate_mac(KeyId=sym["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")
    assert err["Message"] == f"{sym['Arn']} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac."
    with aws_error("InvalidKeyUsageException") as err:
        kms.encrypt(KeyId=key256["KeyId"], Plaintext=b"p")
    assert err["Message"] == f"{key256['Arn']} key usage is GENERATE_VERIFY_MAC which is not valid for Encrypt."
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key(KeyId=key256["KeyId"], KeySpec="AES_256")
    with aws_error("InvalidKeyUsageException"):
        kms.generate_data_key_without_plaintext(KeyId=key256["KeyId"], KeySpec="AES_256")
    blob = kms.encrypt(KeyId=sym["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    with aws_error("InvalidKeyUsageException"):
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=key256["KeyId"])


def test_rotation_refused(kms, key256):
    for call in (kms.enable_key_rotation, kms.disable_key_rotation, kms.rotate_key_on_demand,
                 kms.list_key_rotations):
        with aws_error("UnsupportedOperationException"):
            call(KeyId=key256["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key256["KeyId"])["KeyRotationEnabled"] is False


def test_key_states(kms):
    md = create_hmac(kms, "HMAC_512")
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]
    kms.disable_key(KeyId=md["KeyId"])
    with aws_error("DisabledException") as err:
        kms.verify_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=mac)
    assert err["Message"] == f"{md['Arn']} is disabled."
    kms.enable_key(KeyId=md["KeyId"])
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    with aws_error("KMSInvalidStateException") as err:
        kms.generate_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert err["Message"] == f"{md['Arn']} is pending deletion."
    kms.cancel_key_deletion(KeyId=md["KeyId"])
    kms.enable_key(KeyId=md["KeyId"])
    assert kms.verify_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=mac)["MacValid"]


def test_dry_run(kms, key256):
    with aws_error("DryRunOperationException") as err:
        kms.generate_mac(KeyId=key256["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", DryRun=True)
    assert err["Message"] == "The request would have succeeded, but the DryRun option is set."


def test_iam_condition_on_mac_algorithm(server, kms):
    k256 = create_hmac(kms, "HMAC_256")
    k512 = create_hmac(kms, "HMAC_512")
    mu = kms_as(server, "macuser")
    mac = mu.generate_mac(KeyId=k256["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert mu.verify_mac(KeyId=k256["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]
    with aws_error("AccessDeniedException") as err:
        mu.generate_mac(KeyId=k512["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_512")
    assert "kms:GenerateMac" in err["Message"]
    with aws_error("AccessDeniedException"):
        mu.encrypt(KeyId=k256["Arn"], Plaintext=b"p")


def test_explicit_deny_on_verify_mac(server, key256):
    nm = kms_as(server, "nomac")
    mac = nm.generate_mac(KeyId=key256["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    with aws_error("AccessDeniedException") as err:
        nm.verify_mac(KeyId=key256["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_256", Mac=mac)
    assert "kms:VerifyMac" in err["Message"]


def test_grants(server, kms):
    md = create_hmac(kms, "HMAC_384")
    carol_arn = f"arn:aws:iam::{ACCT_A}:user/carol"
    carol = kms_as(server, "carol")
    with aws_error("AccessDeniedException"):
        carol.generate_mac(KeyId=md["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_384")
    for ops in (["Encrypt"], ["GenerateMac", "GenerateDataKey"], ["Sign"]):
        with aws_error("ValidationException"):
            kms.create_grant(KeyId=md["KeyId"], GranteePrincipal=carol_arn, Operations=ops)
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=md["KeyId"], GranteePrincipal=carol_arn, Operations=["GenerateMac"],
                         Constraints={"EncryptionContextSubset": {"a": "b"}})
    sym = kms.create_key()["KeyMetadata"]
    with aws_error("ValidationException"):
        kms.create_grant(KeyId=sym["KeyId"], GranteePrincipal=carol_arn, Operations=["VerifyMac"])
    g = kms.create_grant(KeyId=md["KeyId"], GranteePrincipal=carol_arn, Operations=["VerifyMac", "DescribeKey"])
    mac = kms.generate_mac(KeyId=md["KeyId"], Message=b"m", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert carol.verify_mac(KeyId=md["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_384", Mac=mac)["MacValid"]
    assert carol.describe_key(KeyId=md["Arn"])["KeyMetadata"]["KeyUsage"] == "GENERATE_VERIFY_MAC"
    with aws_error("AccessDeniedException"):
        carol.generate_mac(KeyId=md["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_384")
    kms.revoke_grant(KeyId=md["KeyId"], GrantId=g["GrantId"])
    with aws_error("AccessDeniedException"):
        carol.verify_mac(KeyId=md["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_384", Mac=mac)


def test_message_limits(kms, key256):
    big = b"x" * 4096
    mac = kms.generate_mac(KeyId=key256["KeyId"], Message=big, MacAlgorithm="HMAC_SHA_256")["Mac"]
    assert kms.verify_mac(KeyId=key256["KeyId"], Message=big, MacAlgorithm="HMAC_SHA_256", Mac=mac)["MacValid"]
    raw = kms_raw_client(kms)
    with aws_error("ValidationException"):
        raw.generate_mac(KeyId=key256["KeyId"], Message=big + b"x", MacAlgorithm="HMAC_SHA_256")


def kms_raw_client(kms):
    """The same client without boto3's parameter validation (to send out-of-range values)."""
    import boto3
    from botocore.config import Config

    creds = kms._request_signer._credentials
    return boto3.session.Session().client(
        "kms", endpoint_url=kms.meta.endpoint_url, region_name=kms.meta.region_name,
        aws_access_key_id=creds.access_key, aws_secret_access_key=creds.secret_key,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"}))


def test_hmac_keys_survive_restart(launch):
    server = launch(world(), region=REGION)
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    made = []
    for spec, alg, _ in SPECS:
        md = create_hmac(kms, spec)
        made.append((md, alg, kms.generate_mac(KeyId=md["KeyId"], Message=b"durable", MacAlgorithm=alg)["Mac"]))
    server.kill()
    server.restart()
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    for md, alg, mac in made:
        assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["MacAlgorithms"] == [alg]
        assert kms.generate_mac(KeyId=md["KeyId"], Message=b"durable", MacAlgorithm=alg)["Mac"] == mac
        assert kms.verify_mac(KeyId=md["KeyId"], Message=b"durable", MacAlgorithm=alg, Mac=mac)["MacValid"]
    server.terminate_ok()
    data = b"".join(p.read_bytes() for p in server.data_dir.rglob("*") if p.is_file())
    assert base64.b64encode(b"durable") not in data
    for _, _, mac in made:
        assert mac not in data
        assert base64.b64encode(mac) not in data
    events = [json.loads(line) for line in (server.data_dir / "audit" / "audit.log").read_text().splitlines()
              if line.strip()]
    names = [e.get("eventName") for e in events]
    # Lines written before the SIGKILL may be lost; those after the restart are all there.
    assert names.count("GenerateMac") >= 4 and names.count("VerifyMac") == 4, names
    for e in events:
        if e.get("eventName") in ("GenerateMac", "VerifyMac"):
            assert e["requestParameters"]["macAlgorithm"].startswith("HMAC_SHA_")
            assert "message" not in e["requestParameters"] and "mac" not in e["requestParameters"]
