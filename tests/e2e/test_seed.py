"""The two examples of the seed page ("Troubleshooting key access") over the wire.

Example 1: alice has no IAM policy, her account's key has the default key policy →
AccessDeniedException "... because no identity-based policy allows the kms:Encrypt action".
Example 2: bob assumes ExampleRole in 111122223333 and uses the key in 444455556666 →
allowed, and only while both the key policy (account 2) and the role's IAM policy
(account 1) allow it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsd_harness import aws_error, denied_message, session_creds
from worlds import (
    ACCT_A,
    ALICE_ARN,
    ALICE_KEY_ARN,
    REGION,
    ROLE_ARN,
    SEED_ALIAS,
    SEED_ALIAS_ARN,
    SEED_KEY_ARN,
    root_creds,
    seed_world,
    Creds,
    user_creds,
)


@pytest.fixture(scope="module")
def seed(module_launch):
    return module_launch(seed_world(), region=REGION)


def assume_example_role(server, session_name: str = "s1", **kw):
    sts = server.client("sts", user_creds(ACCT_A, "bob"), REGION)
    resp = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName=session_name, **kw)
    return resp, session_creds(resp)


# --------------------------------------------------------------------------- Example 1


def test_alice_encrypt_denied_with_aws_message(seed):
    kms = seed.client("kms", user_creds(ACCT_A, "alice"))
    with aws_error("AccessDeniedException", 400) as err:
        kms.encrypt(KeyId=ALICE_KEY_ARN, Plaintext=b"hello")
    assert err["Message"] == denied_message(
        ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN,
        "because no identity-based policy allows the kms:Encrypt action")


def test_alice_decrypt_denied_with_aws_message(seed):
    # The account root may use the key (default key policy delegates to the account).
    root = seed.client("kms", root_creds(ACCT_A))
    blob = root.encrypt(KeyId=ALICE_KEY_ARN, Plaintext=b"for alice")["CiphertextBlob"]
    kms = seed.client("kms", user_creds(ACCT_A, "alice"))
    with aws_error("AccessDeniedException", 400) as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"] == denied_message(
        ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN,
        "because no identity-based policy allows the kms:Decrypt action")


def test_alice_denied_also_by_bare_key_id(seed):
    kms = seed.client("kms", user_creds(ACCT_A, "alice"))
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=ALICE_KEY_ARN.split("/")[-1], Plaintext=b"x")
    # The message names the key ARN even when the request used the bare id.
    assert ALICE_KEY_ARN in err["Message"]


# --------------------------------------------------------------------------- Example 2


def test_bob_assumes_role_and_uses_cross_account_key(seed):
    resp, creds = assume_example_role(seed)
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/s1"
    assert creds.access_key_id.startswith("ASIA") and len(creds.access_key_id) == 20
    kms = seed.client("kms", creds)
    enc = kms.encrypt(KeyId=SEED_KEY_ARN, Plaintext=b"cross-account secret")
    assert enc["KeyId"] == SEED_KEY_ARN
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], KeyId=SEED_KEY_ARN)
    assert dec["Plaintext"] == b"cross-account secret"
    assert dec["KeyId"] == SEED_KEY_ARN
    dk = kms.generate_data_key(KeyId=SEED_KEY_ARN, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    assert kms.describe_key(KeyId=SEED_KEY_ARN)["KeyMetadata"]["AWSAccountId"] == "444455556666"


def test_role_session_cannot_do_what_key_policy_does_not_grant_account_a(seed):
    _, creds = assume_example_role(seed, "s2")
    kms = seed.client("kms", creds)
    with aws_error("AccessDeniedException") as err:
        kms.create_grant(KeyId=SEED_KEY_ARN, GranteePrincipal=ROLE_ARN, Operations=["Decrypt"])
    assert "kms:CreateGrant" in err["Message"]


def test_bob_himself_cannot_use_the_key(seed):
    kms = seed.client("kms", user_creds(ACCT_A, "bob"))
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=SEED_KEY_ARN, Plaintext=b"x")


def test_alice_cannot_assume_the_role(seed):
    sts = seed.client("sts", user_creds(ACCT_A, "alice"), REGION)
    with aws_error("AccessDenied", 403) as err:
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="nope")
    assert err["Message"].startswith(f"User: {ALICE_ARN} is not authorized to perform: sts:AssumeRole")


def test_get_caller_identity_returns_session_arn(seed):
    resp, creds = assume_example_role(seed, "who-am-i")
    ident = seed.client("sts", creds, REGION).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/who-am-i"
    assert ident["Account"] == ACCT_A
    assert ident["UserId"] == resp["AssumedRoleUser"]["AssumedRoleId"]
    assert ident["UserId"].startswith("AROA") and ident["UserId"].endswith(":who-am-i")
    bob = seed.client("sts", user_creds(ACCT_A, "bob"), REGION).get_caller_identity()
    assert bob["Arn"] == f"arn:aws:iam::{ACCT_A}:user/bob"
    assert bob["UserId"].startswith("AIDA")


def test_alias_name_resolves_in_callers_account(seed):
    _, creds = assume_example_role(seed, "alias-name")
    kms = seed.client("kms", creds)
    with aws_error("NotFoundException") as err:
        kms.encrypt(KeyId=SEED_ALIAS, Plaintext=b"x")
    # The alias name is looked up in the caller's own account (111122223333).
    assert f"arn:aws:kms:{REGION}:{ACCT_A}:{SEED_ALIAS}" in err["Message"]


def test_alias_arn_reaches_cross_account_key(seed):
    _, creds = assume_example_role(seed, "alias-arn")
    kms = seed.client("kms", creds)
    enc = kms.encrypt(KeyId=SEED_ALIAS_ARN, Plaintext=b"via alias arn")
    assert enc["KeyId"] == SEED_KEY_ARN
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"via alias arn"


# ------------------------------------------------------------- removing either side


def test_without_role_policy_access_denied(launch):
    server = launch(seed_world(role_policy=False), region=REGION)
    _, creds = assume_example_role(server, "no-iam")
    kms = server.client("kms", creds)
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=SEED_KEY_ARN, Plaintext=b"x")
    assert err["Message"] == denied_message(
        f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/no-iam", "kms:Encrypt", SEED_KEY_ARN,
        "because no identity-based policy allows the kms:Encrypt action")


def test_without_key_policy_statement_for_account_a_access_denied(launch):
    server = launch(seed_world(key_policy_trusts_a=False), region=REGION)
    _, creds = assume_example_role(server, "no-kp")
    kms = server.client("kms", creds)
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=SEED_KEY_ARN, Plaintext=b"x")
    # The caller is named, the action is named; the reason is the missing resource-side allow.
    assert f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/no-kp" in err["Message"]
    assert "kms:Encrypt" in err["Message"]
    assert "identity-based" not in err["Message"]


# ------------------------------------------------------- the shipped examples/seed-world.json

SEED_FILE = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"


def _shipped_world() -> dict:
    assert SEED_FILE.exists(), f"{SEED_FILE} is missing: the repository ships the seed world"
    return json.loads(SEED_FILE.read_text())


def _find(items, name):
    for it in items or []:
        if it.get("name") == name or it.get("id") == name:
            return it
    raise AssertionError(f"{name} not declared in {SEED_FILE}")


def _user_key(acct: dict, name: str) -> Creds:
    u = _find(acct.get("users"), name)
    assert u.get("access_keys"), f"user {name} in {SEED_FILE} has no access key"
    k = u["access_keys"][0]
    return Creds(k["access_key_id"], k["secret_access_key"])


def test_shipped_seed_world_examples(launch):
    world = _shipped_world()
    accounts = {a["id"]: a for a in world["accounts"]}
    a, b = accounts[ACCT_A], accounts["444455556666"]
    server = launch(SEED_FILE, region=REGION)

    # Example 1: alice is denied on a key of her own account.
    a_keys = a.get("keys") or []
    assert a_keys, f"{SEED_FILE} declares no key in {ACCT_A} for example 1"
    k = a_keys[0]
    a_key_arn = f"arn:aws:kms:{k.get('region', REGION)}:{ACCT_A}:key/{k['id']}"
    alice = server.client("kms", _user_key(a, "alice"), k.get("region", REGION))
    with aws_error("AccessDeniedException") as err:
        alice.encrypt(KeyId=a_key_arn, Plaintext=b"x")
    assert err["Message"] == denied_message(ALICE_ARN, "kms:Encrypt", a_key_arn,
                                            "because no identity-based policy allows the kms:Encrypt action")

    # Example 2: bob assumes ExampleRole and uses the key in 444455556666.
    _find(b.get("keys"), SEED_KEY_ARN.split("/")[-1])
    sts = server.client("sts", _user_key(a, "bob"), REGION)
    creds = session_creds(sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="shipped"))
    kms = server.client("kms", creds, REGION)
    blob = kms.encrypt(KeyId=SEED_KEY_ARN, Plaintext=b"shipped seed")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, KeyId=SEED_KEY_ARN)["Plaintext"] == b"shipped seed"
