"""`kmsd access --diff` of an identity policy (--principal/--identity-policy/--policy-name) and
of a role's trust policy (--role/--trust-policy) on the seed world: who gains or loses what,
encryption-context conditions taken as open, exit codes (0 no new access, 1 new access, 2 bad
input)."""

import json
import os
import subprocess
from pathlib import Path

from kmsd_harness import kmsd_bin

SEED_FILE = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"
KEY_A = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
KEY_B = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = "arn:aws:iam::111122223333:user/alice"
BOB = "arn:aws:iam::111122223333:user/bob"
ROLE = "arn:aws:iam::111122223333:role/ExampleRole"


def run(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    return subprocess.run([kmsd_bin(), *args], capture_output=True, text=True, timeout=120, env=env)


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def identity_diff(tmp_path, who, doc, *extra):
    f = tmp_path / "identity.json"
    f.write_text(json.dumps(doc))
    return run("access", "--diff", "--bootstrap", str(SEED_FILE), "--principal", who,
               "--identity-policy", str(f), "--format", "json", *extra)


def trust_diff(tmp_path, doc, *extra):
    f = tmp_path / "trust.json"
    f.write_text(json.dumps(doc))
    return run("access", "--diff", "--bootstrap", str(SEED_FILE), "--role", ROLE,
               "--trust-policy", str(f), "--format", "json", *extra)


def granted(doc):
    return {(c["principal"], c["action"], c["resource"]) for c in doc["changes"] if c["change"] == "granted"}


def test_identity_policy_for_a_user(tmp_path):
    out = identity_diff(tmp_path, ALICE, policy(
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:ScheduleKeyDeletion"], "Resource": "*"}))
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "FAIL"
    # Her own account's key delegates to IAM: both; account 2's key lets account 1 decrypt
    # but never administer across accounts.
    assert granted(doc) == {(ALICE, "kms:Decrypt", KEY_A), (ALICE, "kms:ScheduleKeyDeletion", KEY_A),
                            (ALICE, "kms:Decrypt", KEY_B)}
    change = next(c for c in doc["changes"] if c["resource"] == KEY_B)
    assert change["before"]["decision"] != "Allow" and change["after"]["decision"] == "Allow"
    assert change["after"]["path"]
    text = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--principal", ALICE,
               "--identity-policy", str(tmp_path / "identity.json"))
    assert text.returncode == 1
    assert "CheckNoNewAccess: FAIL" in text.stdout
    assert f"+ {ALICE} kms:Decrypt {KEY_B}" in text.stdout


def test_replacing_an_inline_policy_with_less_passes(tmp_path):
    # bob's inline policy lets him assume ExampleRole (no KMS access): replacing it with
    # nothing KMS-related changes no KMS decision.
    out = identity_diff(tmp_path, BOB, policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}),
                        "--policy-name", "AssumeExampleRole")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["changes"] == []
    # The role's own inline policy narrowed: only revocations.
    out = identity_diff(tmp_path, ROLE, policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_B}),
                        "--policy-name", "UseKeyInAccount2")
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "PASS"
    assert {c["change"] for c in doc["changes"]} == {"revoked"}
    assert any(c["action"] == "kms:Encrypt" and c["resource"] == KEY_B for c in doc["changes"])


def test_encryption_context_condition_counts_as_reachable(tmp_path):
    out = identity_diff(tmp_path, ALICE, policy(
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY_A,
         "Condition": {"StringEquals": {"kms:EncryptionContext:app": "web"}}}))
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    (change,) = [c for c in doc["changes"] if c["change"] == "granted"]
    assert "kms:EncryptionContext:app=web" in change["context"]
    assert doc["witnessesComplete"] is True


def test_access_not_granted_with_an_identity_policy(tmp_path):
    out = identity_diff(tmp_path, ALICE, policy({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}),
                        "--access-not-granted", "kms:Decrypt")
    doc = json.loads(out.stdout)
    assert doc["checkAccessNotGranted"] == "PASS" and doc["checkNoNewAccess"] == "FAIL"
    assert out.returncode == 1


def test_trust_policy_gain_and_what_it_reaches(tmp_path):
    out = trust_diff(tmp_path, policy({"Effect": "Allow", "Principal": {"AWS": [BOB, ALICE]},
                                       "Action": "sts:AssumeRole"}))
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert granted(doc) == {(ALICE, "sts:AssumeRole", ROLE)}
    (change,) = [c for c in doc["changes"] if c["change"] == "granted"]
    assert {"action": "kms:Decrypt", "key": KEY_B} in change["viaRole"]
    text = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--role", ROLE,
               "--trust-policy", str(tmp_path / "trust.json"))
    assert text.returncode == 1
    assert f"through the role: kms:Decrypt {KEY_B}" in text.stdout


def test_trust_policy_to_everyone_reaches_other_accounts(tmp_path):
    out = trust_diff(tmp_path, policy({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
                     "--access-not-granted", "kms:Decrypt")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    classes = {c["class"] for c in doc["changes"] if c["change"] == "granted"}
    assert "any-principal-of-other-account" in classes
    assert doc["checkAccessNotGranted"] == "FAIL"


def test_trust_policy_removing_bob_passes(tmp_path):
    out = trust_diff(tmp_path, policy({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                                       "Action": "sts:AssumeRole",
                                       "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}))
    doc = json.loads(out.stdout)
    # The account's principals with IAM permission gain it with MFA (an open key): alice has
    # no IAM policy for it, bob already had it.
    assert out.returncode == 0, doc["changes"]
    assert granted(doc) == set()


def test_bad_input_exits_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement": [')
    good = tmp_path / "good.json"
    good.write_text(json.dumps(policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"})))
    for args in (
        ["--principal", ALICE, "--identity-policy", str(bad)],
        ["--principal", "arn:aws:iam::111122223333:user/nobody", "--identity-policy", str(good)],
        ["--principal", "arn:aws:iam::111122223333:group/none", "--identity-policy", str(good)],
        ["--principal", "not-an-arn", "--identity-policy", str(good)],
        ["--role", ROLE, "--trust-policy", str(bad)],
        ["--role", ROLE, "--trust-policy", str(good)],
        ["--role", "arn:aws:iam::111122223333:role/Nope", "--trust-policy", str(good)],
        ["--principal", ALICE, "--identity-policy", str(tmp_path / "missing.json")],
    ):
        out = run("access", "--diff", "--bootstrap", str(SEED_FILE), *args)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "panicked" not in out.stderr
    out = run("access", "--diff", "--endpoint", "http://127.0.0.1:9", "--principal", ALICE,
              "--identity-policy", str(bad))
    assert out.returncode == 2 and "--bootstrap" in out.stderr
    # clap: --principal without --identity-policy, or beside a key policy, is a usage error.
    out = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--principal", ALICE)
    assert out.returncode == 2
    out = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--principal", ALICE,
              "--identity-policy", str(good), "--policy", str(good))
    assert out.returncode == 2 and "cannot be used with" in out.stderr
