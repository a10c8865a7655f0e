"""`kmsd access`: who may use a key, and why — offline from the world file and online."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from kmsd_harness import kmsd_bin

SEED_FILE = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"
KEY_B = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE = "arn:aws:iam::111122223333:role/ExampleRole"
# What the key policy gives account 111122223333 and the role's IAM policy gives the role:
# both sides allow exactly these.
BOTH_SIDES = {
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
    "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey",
}


def run_access(*args, env=None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    base.update(env or {})
    return subprocess.run([kmsd_bin(), "access", *args], capture_output=True, text=True,
                          timeout=120, env=base)


def by_principal(review):
    return {p["principal"]: p for p in review["principals"]}


def test_offline_role_gets_exactly_what_both_sides_allow():
    out = run_access("--bootstrap", str(SEED_FILE), "--key", KEY_B, "--format", "json")
    assert out.returncode == 0, out.stderr
    review = json.loads(out.stdout)
    assert review["key"] == KEY_B and review["account"] == "444455556666"
    entries = by_principal(review)
    role = entries[ROLE]
    assert role["cross_account"] is True
    assert {a["action"] for a in role["actions"]} == BOTH_SIDES
    # Each action says why: the key policy's statement for account 1 and the role's policy.
    for a in role["actions"]:
        nodes = {step["node"] for step in a["why"]}
        assert {"N5", "N6", "T2"} <= nodes, a
        reasons = json.dumps(a["why"])
        assert "Allow account 1 to use this CMK" in reasons
    # Neither alice nor bob himself may use the key; the key's own account root may do all.
    assert "arn:aws:iam::111122223333:user/alice" not in entries
    assert "arn:aws:iam::111122223333:user/bob" not in entries
    own_root = entries["arn:aws:iam::444455556666:root"]
    assert own_root["cross_account"] is False
    assert "kms:PutKeyPolicy" in {a["action"] for a in own_root["actions"]}
    # RetireGrant is decided per grant (retiring principal / grantee / IAM), never by the
    # key policy, so a per-key review does not claim it for anyone.
    assert all(a["action"] != "kms:RetireGrant" for e in entries.values() for a in e["actions"])


def test_offline_text_flags_cross_account():
    out = run_access("--bootstrap", str(SEED_FILE), "--key", KEY_B)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith(ROLE))
    assert "CROSS-ACCOUNT" in line


def test_bad_input_exits_2():
    out = run_access("--bootstrap", str(SEED_FILE), "--key", "not-an-arn")
    assert out.returncode == 2 and "kmsd access" in out.stderr
    out = run_access("--bootstrap", str(SEED_FILE), "--key",
                     "arn:aws:kms:us-west-2:444455556666:key/00000000-0000-0000-0000-000000000000")
    assert out.returncode == 2 and "does not exist" in out.stderr


@pytest.fixture(scope="module")
def seed(module_launch):
    return module_launch(SEED_FILE, region="us-west-2")


def test_online_matches_offline(seed):
    offline = json.loads(run_access("--bootstrap", str(SEED_FILE), "--key", KEY_B,
                                    "--format", "json").stdout)
    env = {"AWS_ACCESS_KEY_ID": "AKIA444455556666ROOT",
           "AWS_SECRET_ACCESS_KEY": "seed-root-secret-444455556666"}
    out = run_access("--endpoint", seed.endpoint, "--key", KEY_B, "--format", "json", env=env)
    assert out.returncode == 0, out.stderr
    online = json.loads(out.stdout)
    strip = lambda r: {p: sorted(a["action"] for a in e["actions"]) for p, e in by_principal(r).items()}
    assert strip(online) == strip(offline)


def test_online_needs_permission_on_the_key(seed):
    env = {"AWS_ACCESS_KEY_ID": "AKIAALICE00000000001",
           "AWS_SECRET_ACCESS_KEY": "seed-alice-secret-0000000000000000000001"}
    out = run_access("--endpoint", seed.endpoint, "--key", KEY_B, "--format", "json", env=env)
    assert out.returncode == 2
    assert "AccessDenied" in out.stderr
