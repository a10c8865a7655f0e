"""`kmsd explain` (offline, from a world file) on the seed examples.

Exit status 0 allowed / 1 denied / 2 bad input; `--format json` prints
{decision, path:[{node, question, answer, because}], message}. Node ids follow
shared/spec/iam-evaluation.md §5.3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kmsd_harness import run_explain
from worlds import (
    ACCT_A,
    ALICE_ARN,
    ALICE_KEY_ARN,
    ROLE_ARN,
    ROLE_POLICY_NAME,
    SEED_ALIAS_ARN,
    SEED_KEY_ARN,
    account,
    allow,
    deny,
    doc,
    seed_world,
    user,
    write_world,
)

SESSION_ARN = f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/s1"


@pytest.fixture(scope="module")
def world_file(tmp_path_factory) -> Path:
    return write_world(tmp_path_factory.mktemp("explain"), seed_world())


def explain(world: Path, principal: str, action: str, key: str, *extra: str):
    proc = run_explain(["--bootstrap", str(world), "--principal", principal, "--action", action,
                        "--key", key, "--format", "json", *extra])
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    try:
        out = json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        raise AssertionError(f"explain --format json printed non-JSON: {proc.stdout!r}") from e
    return proc.returncode, out


def node(out: dict, node_id: str) -> dict:
    for step in out["path"]:
        if step["node"] == node_id:
            return step
    raise AssertionError(f"node {node_id} not in path {[s['node'] for s in out['path']]}")


def test_alice_implicit_deny_at_n6(world_file):
    rc, out = explain(world_file, ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN)
    assert rc == 1
    assert out["decision"] == "ImplicitDeny"
    last = out["path"][-1]
    assert last["node"] == "N6"
    assert last["answer"] == "no"
    assert "IAM policy allow" in last["question"]
    # The key policy delegates to the account (N5 yes), naming the default statement.
    n5 = node(out, "N5")
    assert n5["answer"] == "yes"
    assert n5["because"], "N5 'yes' must cite the key policy statement"
    for step in out["path"]:
        assert set(step) >= {"node", "question", "answer", "because"}
        assert step["answer"] in ("yes", "no")
    assert out["message"] == (
        f"User: {ALICE_ARN} is not authorized to perform: kms:Encrypt on resource: {ALICE_KEY_ARN} "
        "because no identity-based policy allows the kms:Encrypt action")


def test_alice_decrypt_same_path(world_file):
    rc, out = explain(world_file, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 1
    assert [s["node"] for s in out["path"]][-2:] == ["N5", "N6"]
    assert "kms:Decrypt" in out["message"]


@pytest.mark.parametrize("principal", [SESSION_ARN, ROLE_ARN])
def test_bob_role_allowed_via_t2(world_file, principal):
    rc, out = explain(world_file, principal, "kms:Encrypt", SEED_KEY_ARN)
    assert rc == 0, out
    assert out["decision"] == "Allow"
    assert "message" not in out or not out["message"]
    t1 = node(out, "T1")
    assert t1["answer"] == "no"
    t2 = node(out, "T2")
    assert t2["answer"] == "yes"
    cited = json.dumps(t2["because"]) + json.dumps(node(out, "N6")["because"])
    assert ROLE_POLICY_NAME in json.dumps(t2["because"]), t2
    assert "statement" in cited
    assert node(out, "N6")["answer"] == "yes"
    n5 = node(out, "N5")
    assert n5["answer"] == "yes"
    assert "Allow account 1 to use this CMK" in json.dumps(n5["because"])


def test_bob_role_via_alias_arn(world_file):
    rc, out = explain(world_file, SESSION_ARN, "kms:Decrypt", SEED_ALIAS_ARN)
    assert rc == 0, out
    assert out["decision"] == "Allow"


def test_role_action_not_in_key_policy_denied(world_file):
    rc, out = explain(world_file, SESSION_ARN, "kms:ScheduleKeyDeletion", SEED_KEY_ARN)
    assert rc == 1
    assert out["decision"] == "ImplicitDeny"
    assert out["message"].startswith(f"User: {SESSION_ARN} is not authorized to perform: kms:ScheduleKeyDeletion")


def test_without_role_policy_denied(tmp_path):
    world = write_world(tmp_path, seed_world(role_policy=False))
    rc, out = explain(world, SESSION_ARN, "kms:Encrypt", SEED_KEY_ARN)
    assert rc == 1
    assert out["decision"] == "ImplicitDeny"
    assert node(out, "N6")["answer"] == "no"


def test_without_key_policy_statement_denied(tmp_path):
    world = write_world(tmp_path, seed_world(key_policy_trusts_a=False))
    rc, out = explain(world, SESSION_ARN, "kms:Encrypt", SEED_KEY_ARN)
    assert rc == 1
    assert out["decision"] == "ImplicitDeny"
    assert node(out, "N5")["answer"] == "no"


def test_explicit_deny_in_identity_policy(tmp_path):
    w = seed_world()
    a = w["accounts"][0]
    a["users"][0] = user(ACCT_A, "alice", inline={
        "AllowAll": doc(allow("kms:*")),
        "NoDecrypt": doc(deny("kms:Decrypt")),
    })
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 1
    assert out["decision"] == "ExplicitDeny"
    n2 = node(out, "N2")
    assert n2["answer"] == "yes"
    assert "NoDecrypt" in json.dumps(n2["because"])
    assert out["message"].endswith("with an explicit deny in an identity-based policy")
    rc, out = explain(world, ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN)
    assert rc == 0 and out["decision"] == "Allow"
    assert node(out, "T1")["answer"] == "yes"


def test_encryption_context_flag_reaches_conditions(tmp_path):
    w = seed_world()
    w["accounts"][0]["users"][0] = user(ACCT_A, "alice", inline={
        "DeptOnly": doc(allow("kms:Decrypt", condition={
            "StringEquals": {"kms:EncryptionContext:Dept": "Finance"}})),
    })
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--encryption-context", "Dept=Finance")
    assert rc == 0 and out["decision"] == "Allow"
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--encryption-context", "Dept=HR")
    assert rc == 1 and out["decision"] == "ImplicitDeny"
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 1


def test_text_format_names_nodes(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--principal", ALICE_ARN,
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 1, proc.stderr
    assert "N6" in proc.stdout
    assert "no identity-based policy allows the kms:Encrypt action" in proc.stdout


# --------------------------------------------------------------------------- exit 2


def test_bad_action_flag_exit_2(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--principal", ALICE_ARN,
                        "--action", "Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert proc.stderr.strip(), "a bad flag must be explained on stderr"
    assert proc.stdout.strip() == ""


def test_missing_required_flag_exit_2(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert "--principal" in proc.stderr


def test_principal_not_an_arn_exit_2(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--principal", "alice",
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert proc.stderr.strip()


def test_unknown_principal_exit_2(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--principal", f"arn:aws:iam::{ACCT_A}:user/nobody",
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2, proc.stdout
    assert "nobody" in proc.stderr


def test_missing_world_file_exit_2(tmp_path):
    missing = tmp_path / "nope.json"
    proc = run_explain(["--bootstrap", str(missing), "--principal", ALICE_ARN,
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert "nope.json" in proc.stderr


def test_malformed_world_json_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"accounts": [ {"id": "111122223333", }')
    proc = run_explain(["--bootstrap", str(bad), "--principal", ALICE_ARN,
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert "bad.json" in proc.stderr


def test_world_with_unknown_field_exit_2(tmp_path):
    w = seed_world()
    w["accounts"][0]["users"][0]["favourite_colour"] = "blue"
    world = write_world(tmp_path, w)
    proc = run_explain(["--bootstrap", str(world), "--principal", ALICE_ARN,
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert "favourite_colour" in proc.stderr


def test_world_with_malformed_policy_exit_2(tmp_path):
    w = {"accounts": [account(ACCT_A, users=[user(ACCT_A, "alice", inline={
        "Broken": {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "kms:*", "Resource": "*"}]}
    })])]}
    world = write_world(tmp_path, w)
    proc = run_explain(["--bootstrap", str(world), "--principal", ALICE_ARN,
                        "--action", "kms:Encrypt", "--key", ALICE_KEY_ARN])
    assert proc.returncode == 2
    assert "alice" in proc.stderr or "Broken" in proc.stderr


def test_shipped_seed_world_explains_both_examples():
    seed_file = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"
    assert seed_file.exists(), f"{seed_file} is missing: the repository ships the seed world"
    world = json.loads(seed_file.read_text())
    a = next(x for x in world["accounts"] if x["id"] == ACCT_A)
    assert a.get("keys"), f"{seed_file} declares no key in {ACCT_A} for example 1"
    k = a["keys"][0]
    a_key = f"arn:aws:kms:{k.get('region', 'us-west-2')}:{ACCT_A}:key/{k['id']}"
    rc, out = explain(seed_file, ALICE_ARN, "kms:Encrypt", a_key)
    assert rc == 1 and out["decision"] == "ImplicitDeny"
    assert out["path"][-1]["node"] == "N6" and out["path"][-1]["answer"] == "no"
    rc, out = explain(seed_file, SESSION_ARN, "kms:Encrypt", SEED_KEY_ARN)
    assert rc == 0 and out["decision"] == "Allow"
    assert node(out, "T2")["answer"] == "yes"


# --------------------------------------------------------------------------- online


def test_online_explain_matches_offline(world_file, module_launch):
    import subprocess
    from kmsd_harness import clean_env, kmsd_bin
    from worlds import REGION, root_creds
    server = module_launch(world_file, region=REGION)

    def online(principal, action, key, creds):
        proc = subprocess.run([kmsd_bin(), "explain", "--endpoint", server.endpoint, "--principal", principal,
                               "--action", action, "--key", key, "--format", "json"],
                              env=clean_env(creds, REGION), capture_output=True, text=True, timeout=60)
        return proc

    proc = online(ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN, root_creds(ACCT_A))
    assert proc.returncode == 1, proc.stderr
    on = json.loads(proc.stdout)
    _, off = explain(world_file, ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN)
    assert on["decision"] == off["decision"] == "ImplicitDeny"
    assert [(s["node"], s["answer"]) for s in on["path"]] == [(s["node"], s["answer"]) for s in off["path"]]
    assert on["message"] == off["message"]

    proc = online(SESSION_ARN, "kms:Decrypt", SEED_KEY_ARN, root_creds(ACCT_A))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["decision"] == "Allow"

    # The caller needs iam:SimulatePrincipalPolicy: alice has no IAM permissions.
    from worlds import user_creds
    proc = online(ALICE_ARN, "kms:Encrypt", ALICE_KEY_ARN, user_creds(ACCT_A, "alice"))
    assert proc.returncode == 2
    assert "SimulatePrincipalPolicy" in proc.stderr or "AccessDenied" in proc.stderr


# --------------------------------------------------------------- more flowchart paths


def test_session_policy_flag(tmp_path, world_file):
    pol = tmp_path / "session.json"
    pol.write_text(json.dumps(doc(allow("kms:Encrypt"))))
    rc, out = explain(world_file, SESSION_ARN, "kms:Decrypt", SEED_KEY_ARN, "--session-policy", str(pol))
    assert rc == 1 and out["decision"] == "ImplicitDeny"
    assert out["message"].endswith("because no session policy allows the kms:Decrypt action")
    rc, out = explain(world_file, SESSION_ARN, "kms:Encrypt", SEED_KEY_ARN, "--session-policy", str(pol))
    assert rc == 0 and out["decision"] == "Allow"


def test_context_flag_feeds_conditions(tmp_path):
    w = seed_world()
    w["accounts"][0]["keys"][0]["policy"] = doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}, sid="Root"),
        allow("kms:Decrypt", principal={"AWS": ALICE_ARN}, sid="OfficeOnly",
              condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--context", "aws:SourceIp=10.1.2.3")
    assert rc == 0 and out["decision"] == "Allow"
    n3 = node(out, "N3")
    assert n3["answer"] == "yes" and "OfficeOnly" in json.dumps(n3["because"])
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--context", "aws:SourceIp=192.0.2.1")
    assert rc == 1 and out["decision"] == "ImplicitDeny"
    rc, _ = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 1  # absent key: the positive condition is false


def test_grant_path(tmp_path):
    w = seed_world()
    w["accounts"][0]["keys"][0]["grants"] = [{
        "name": "alice-decrypt", "grantee_principal": ALICE_ARN, "operations": ["Decrypt"],
        "constraints": {"EncryptionContextSubset": {"Department": "IT"}}}]
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN,
                      "--encryption-context", "Department=IT", "--encryption-context", "Purpose=Test")
    assert rc == 0 and out["decision"] == "Allow"
    n4 = node(out, "N4")
    assert n4["answer"] == "yes"
    assert any(b.get("type") == "grant" and b.get("name") == "alice-decrypt" for b in n4["because"]), n4
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--encryption-context", "Department=it")
    assert rc == 1 and node(out, "N4")["answer"] == "no"


def test_key_policy_explicit_deny_path(tmp_path):
    w = seed_world()
    w["accounts"][0]["users"][0] = user(ACCT_A, "alice", inline={"All": doc(allow("kms:*"))})
    w["accounts"][0]["keys"][0]["policy"] = doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}, sid="Root"),
        deny("kms:Decrypt", principal={"AWS": ALICE_ARN}, sid="NotAlice"))
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 1 and out["decision"] == "ExplicitDeny"
    n1 = node(out, "N1")
    assert n1["answer"] == "yes" and "NotAlice" in json.dumps(n1["because"])
    assert out["path"][-1]["node"] == "N1"
    assert out["message"].endswith("with an explicit deny in a resource-based policy")


def test_cross_account_direct_key_policy_needs_iam(tmp_path):
    """Case 22: the key policy names the role directly, but the caller's account has no IAM allow."""
    w = seed_world(role_policy=False)
    w["accounts"][1]["keys"][0]["policy"] = doc(
        allow("kms:*", principal={"AWS": "arn:aws:iam::444455556666:root"}),
        allow("kms:Decrypt", principal={"AWS": ROLE_ARN}, sid="RoleDirect"))
    world = write_world(tmp_path, w)
    rc, out = explain(world, SESSION_ARN, "kms:Decrypt", SEED_KEY_ARN)
    assert rc == 1 and out["decision"] == "ImplicitDeny"
    assert node(out, "N3")["answer"] == "yes"
    assert node(out, "T1")["answer"] == "no"
    assert node(out, "T2")["answer"] == "no"
    assert out["message"].endswith("because no identity-based policy allows the kms:Decrypt action")


def test_help_describes_every_flag():
    import subprocess
    from kmsd_harness import kmsd_bin
    top = subprocess.run([kmsd_bin(), "--help"], capture_output=True, text=True, timeout=30)
    assert top.returncode == 0
    assert "serve" in top.stdout and "explain" in top.stdout
    serve = subprocess.run([kmsd_bin(), "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert serve.returncode == 0
    for flag in ("--listen", "--data-dir", "--bootstrap", "--region"):
        assert flag in serve.stdout, flag
    ex = subprocess.run([kmsd_bin(), "explain", "--help"], capture_output=True, text=True, timeout=30)
    assert ex.returncode == 0
    for flag in ("--bootstrap", "--endpoint", "--principal", "--action", "--key", "--context",
                 "--encryption-context", "--session-policy", "--format"):
        assert flag in ex.stdout, flag


def test_bad_format_value_exit_2(world_file):
    proc = run_explain(["--bootstrap", str(world_file), "--principal", ALICE_ARN, "--action", "kms:Encrypt",
                        "--key", ALICE_KEY_ARN, "--format", "yaml"])
    assert proc.returncode == 2
    assert "yaml" in proc.stderr


def test_current_time_defaults_to_now(tmp_path):
    w = seed_world()
    w["accounts"][0]["users"][0] = user(ACCT_A, "alice", inline={
        "Window": doc(allow("kms:Decrypt", condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"},
                                                       "DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}))})
    world = write_world(tmp_path, w)
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN)
    assert rc == 0 and out["decision"] == "Allow"
    rc, out = explain(world, ALICE_ARN, "kms:Decrypt", ALICE_KEY_ARN, "--context", "aws:CurrentTime=2019-06-01T00:00:00Z")
    assert rc == 1 and out["decision"] == "ImplicitDeny"


def test_offline_explain_agrees_with_the_server(world_file, module_launch):
    """For every caller × action × key of the seed world, explain's verdict is what the API does."""
    from botocore.exceptions import ClientError
    from kmsd_harness import session_creds
    from worlds import REGION, root_creds, user_creds
    server = module_launch(world_file, region=REGION)
    bob_sts = server.client("sts", user_creds(ACCT_A, "bob"), REGION)
    callers = {
        ALICE_ARN: user_creds(ACCT_A, "alice"),
        f"arn:aws:iam::{ACCT_A}:user/bob": user_creds(ACCT_A, "bob"),
        SESSION_ARN: session_creds(bob_sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s1")),
        f"arn:aws:iam::{ACCT_A}:root": root_creds(ACCT_A),
    }
    calls = {
        "kms:Encrypt": lambda c, k: c.encrypt(KeyId=k, Plaintext=b"x"),
        "kms:GenerateDataKey": lambda c, k: c.generate_data_key(KeyId=k, KeySpec="AES_256"),
        "kms:DescribeKey": lambda c, k: c.describe_key(KeyId=k),
        "kms:GetKeyRotationStatus": lambda c, k: c.get_key_rotation_status(KeyId=k),
    }
    disagreements = []
    for principal, creds in callers.items():
        kms = server.client("kms", creds, REGION)
        for action, call in calls.items():
            for key in (ALICE_KEY_ARN, SEED_KEY_ARN):
                rc, out = explain(world_file, principal, action, key)
                try:
                    call(kms, key)
                    api = "allowed"
                except ClientError as e:
                    code = e.response["Error"]["Code"]
                    assert code == "AccessDeniedException", (principal, action, key, e.response["Error"])
                    api = "denied"
                offline = "allowed" if rc == 0 else "denied"
                if api != offline:
                    disagreements.append((principal, action, key, offline, api))
    assert not disagreements, disagreements
