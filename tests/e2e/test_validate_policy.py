"""`kmsd validate-policy` (findings, exit codes), `kmsd access --diff` (what a proposed key
policy or grant changes; CheckNoNewAccess / CheckAccessNotGranted) and typos in explain."""

import copy
import pytest
import json
import os
import subprocess
from pathlib import Path

from kmsd_harness import kmsd_bin

SEED_FILE = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"
KEY_B = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = "arn:aws:iam::111122223333:user/alice"


def run(*args, stdin=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    return subprocess.run([kmsd_bin(), *args], capture_output=True, text=True, timeout=120,
                          env=env, input=stdin)


def key_b_policy():
    world = json.loads(SEED_FILE.read_text())
    return copy.deepcopy(world["accounts"][1]["keys"][0]["policy"])


def test_clean_key_policy_has_no_findings(tmp_path):
    f = tmp_path / "p.json"
    f.write_text(json.dumps(key_b_policy(), indent=2))
    out = run("validate-policy", str(f), "--kind", "key")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no findings" in out.stdout


def test_findings_exit_1_with_codes_and_positions(tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{\n  "Statement": [\n    {"Effect": "Allow", "Principal": {"AWS": "*"},\n'
                 '     "Action": ["kms:Decryptt", "kms:*"], "Resource": "*"}\n  ]\n}\n')
    out = run("validate-policy", str(f), "--kind", "key", "--format", "json")
    assert out.returncode == 1, out.stderr
    findings = json.loads(out.stdout)["findings"]
    by_code = {x["issueCode"]: x for x in findings}
    assert by_code["MISSING_VERSION"]["findingType"] == "WARNING"
    assert by_code["PUBLIC_ACCESS_WITHOUT_CONDITION"]["findingType"] == "SECURITY_WARNING"
    invalid = by_code["INVALID_ACTION"]
    assert invalid["findingType"] == "ERROR"
    assert "Did you mean kms:Decrypt?" in invalid["findingDetails"]
    loc = invalid["locations"][0]
    assert loc["path"] == [{"key": "Statement"}, {"index": 0}, {"key": "Action"}, {"index": 0},
                           {"value": "kms:Decryptt"}]
    assert loc["span"]["start"]["line"] == 4
    text = f.read_text()
    assert text[loc["span"]["start"]["offset"]:loc["span"]["end"]["offset"]] == '"kms:Decryptt"'
    # Text output: file:line:column: TYPE CODE: message [path]
    out = run("validate-policy", str(f), "--kind", "key")
    assert out.returncode == 1
    assert f"{f}:4:" in out.stdout and "ERROR INVALID_ACTION" in out.stdout


def test_stdin_and_json_syntax_error(tmp_path):
    out = run("validate-policy", "-", "--kind", "identity", "--format", "json",
              stdin='{"Version": "2012-10-17", "Statement": [')
    assert out.returncode == 1, out.stderr
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["issueCode"] == "JSON_SYNTAX_ERROR" and finding["findingType"] == "ERROR"


def test_bad_input_exits_2(tmp_path):
    out = run("validate-policy", str(tmp_path / "missing.json"), "--kind", "key")
    assert out.returncode == 2 and "missing.json" in out.stderr
    big = tmp_path / "big.json"
    big.write_text(" " * (1024 * 1024 + 1))
    out = run("validate-policy", str(big), "--kind", "key")
    assert out.returncode == 2 and "larger than" in out.stderr
    binary = tmp_path / "bin.json"
    binary.write_bytes(b'{"\xff"}')
    out = run("validate-policy", str(binary), "--kind", "key")
    assert out.returncode == 2 and "UTF-8" in out.stderr
    out = run("validate-policy", str(big), "--kind", "bucket")
    assert out.returncode == 2


def diff(tmp_path, policy, *extra):
    f = tmp_path / "new.json"
    f.write_text(json.dumps(policy))
    return run("access", "--diff", "--bootstrap", str(SEED_FILE), "--key", KEY_B,
               "--policy", str(f), "--format", "json", *extra)


def test_diff_of_an_unchanged_policy_passes(tmp_path):
    out = diff(tmp_path, key_b_policy())
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "PASS" and doc["changes"] == []
    classes = {p["class"] for p in doc["principalsEvaluated"]}
    assert classes >= {"known", "any-principal-of-other-account", "anonymous"}


def test_diff_reports_new_access_with_paths_and_fails(tmp_path):
    # A key administration action is never allowed across accounts: no change.
    policy = key_b_policy()
    policy["Statement"][1]["Action"].append("kms:ScheduleKeyDeletion")
    out = diff(tmp_path, policy)
    assert out.returncode == 0 and json.loads(out.stdout)["changes"] == [], out.stdout
    policy = key_b_policy()
    policy["Statement"][1]["Action"].append("kms:CreateGrant")
    out = diff(tmp_path, policy)
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "FAIL"
    granted = {(c["principal"], c["action"]) for c in doc["changes"] if c["change"] == "granted"}
    # Account 1's root gains it; ExampleRole's own IAM policy does not allow CreateGrant.
    assert granted == {("arn:aws:iam::111122223333:root", "kms:CreateGrant")}
    change = next(c for c in doc["changes"] if c["principal"] == "arn:aws:iam::111122223333:root")
    assert change["before"]["decision"] != "Allow" and change["after"]["decision"] == "Allow"
    assert [s["node"] for s in change["after"]["path"]][-1] == "T2"
    assert change["before"]["path"] != change["after"]["path"]
    text = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--key", KEY_B,
               "--policy", str(tmp_path / "new.json"))
    assert text.returncode == 1
    assert "CheckNoNewAccess: FAIL" in text.stdout
    assert "+ arn:aws:iam::111122223333:root kms:CreateGrant" in text.stdout


def test_diff_sees_principals_the_world_does_not_know(tmp_path):
    policy = key_b_policy()
    policy["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    out = diff(tmp_path, policy)
    assert out.returncode == 1
    changes = json.loads(out.stdout)["changes"]
    classes = {c["class"] for c in changes if c["action"] == "kms:Decrypt"}
    assert {"any-principal-of-other-account", "anonymous"} <= classes


def test_diff_revoking_access_passes_and_lists_the_loss(tmp_path):
    policy = key_b_policy()
    policy["Statement"][1]["Action"] = ["kms:DescribeKey"]
    out = diff(tmp_path, policy)
    assert out.returncode == 0, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "PASS"
    revoked = {(c["principal"], c["action"]) for c in doc["changes"] if c["change"] == "revoked"}
    assert ("arn:aws:iam::111122223333:root", "kms:Decrypt") in revoked


def test_access_not_granted_fails_when_the_action_stays_granted(tmp_path):
    out = diff(tmp_path, key_b_policy(), "--access-not-granted", "kms:PutKeyPolicy")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["checkNoNewAccess"] == "PASS" and doc["checkAccessNotGranted"] == "FAIL"
    out = diff(tmp_path, key_b_policy(), "--access-not-granted", "kms:PutKeyPolicyy")
    assert out.returncode == 2 and "did you mean kms:PutKeyPolicy" in out.stderr


def test_diff_of_a_grant(tmp_path):
    out = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--key", KEY_B,
              "--grant-principal", ALICE, "--grant-operations", "Decrypt", "--format", "json")
    assert out.returncode == 1, out.stderr
    doc = json.loads(out.stdout)
    granted = {(c["principal"], c["action"]) for c in doc["changes"] if c["change"] == "granted"}
    assert granted == {(ALICE, "kms:Decrypt")}


def test_diff_bad_input_exits_2(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text('{"Statement": [')
    out = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--key", KEY_B, "--policy", str(f))
    assert out.returncode == 2 and "JSON" in out.stderr
    out = run("access", "--diff", "--bootstrap", str(SEED_FILE), "--key",
              KEY_B.replace("1234abcd", "ffffffff"), "--policy", str(f))
    assert out.returncode == 2


def test_explain_typo_is_an_error_naming_the_nearest_action():
    out = run("explain", "--bootstrap", str(SEED_FILE), "--principal", ALICE,
              "--action", "kms:Decryptt", "--key", KEY_B)
    assert out.returncode == 2
    assert "kms:Decryptt" in out.stderr and "Did you mean kms:Decrypt?" in out.stderr
    out = run("explain", "--bootstrap", str(SEED_FILE), "--principal", ALICE,
              "--action", "kms:Decrypt", "--key", KEY_B, "--context", "kms:CallerAcount=1")
    assert out.returncode == 2 and "kms:calleraccount" in out.stderr


@pytest.fixture(scope="module")
def seed(module_launch):
    return module_launch(SEED_FILE, region="us-west-2")


def run_env(env, *args):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    base.update(env)
    return subprocess.run([kmsd_bin(), *args], capture_output=True, text=True, timeout=120, env=base)


def test_online_diff_matches_offline(seed, tmp_path):
    policy = key_b_policy()
    policy["Statement"][1]["Action"].append("kms:CreateGrant")
    f = tmp_path / "new.json"
    f.write_text(json.dumps(policy))
    offline = json.loads(diff(tmp_path, policy).stdout)
    root_b = {"AWS_ACCESS_KEY_ID": "AKIA444455556666ROOT",
              "AWS_SECRET_ACCESS_KEY": "seed-root-secret-444455556666"}
    out = run_env(root_b, "access", "--diff", "--endpoint", seed.endpoint, "--key", KEY_B,
                  "--policy", str(f), "--format", "json")
    assert out.returncode == 1, out.stderr
    online = json.loads(out.stdout)
    pick = lambda d: sorted((c["principal"], c["action"], c["change"]) for c in d["changes"])
    assert pick(online) == pick(offline) and online["checkNoNewAccess"] == "FAIL"
    # Alice may not read key B's policy, so she may not diff it either.
    alice = {"AWS_ACCESS_KEY_ID": "AKIAALICE00000000001",
             "AWS_SECRET_ACCESS_KEY": "seed-alice-secret-0000000000000000000001"}
    out = run_env(alice, "access", "--diff", "--endpoint", seed.endpoint, "--key", KEY_B,
                  "--policy", str(f))
    assert out.returncode == 2 and "AccessDenied" in out.stderr
