"""The world (bootstrap) file at `kmsd serve` start: validated as a whole, applied
idempotently at every start, rejected with a clear message naming the file, the entity
and the problem, and never half-applied."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from kmsd_harness import aws_error, clean_env, kmsd_bin
from worlds import ACCT_A, account, allow, doc, root_creds, user, user_creds, write_world

KEY_ID = "7a7a7a7a-1111-4222-8333-444455556666"


def base_world() -> dict:
    return {"accounts": [account(ACCT_A, users=[user(ACCT_A, "alice", inline={"K": doc(allow("kms:*"))})],
                                 keys=[{"id": KEY_ID, "region": "us-east-1", "aliases": ["alias/boot"],
                                        "tags": {"env": "test"}, "description": "declared"}])]}


def serve_once(world_path, data_dir, timeout=30, extra_args=(), env=None) -> subprocess.CompletedProcess:
    """Run `kmsd serve` expecting it to refuse to start."""
    argv = [kmsd_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir), "--bootstrap", str(world_path),
            *extra_args]
    try:
        return subprocess.run(argv, env=clean_env(extra=env), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"kmsd kept running with an invalid world file; stdout: {e.stdout!r}") from e


def test_declared_world_is_served(launch):
    server = launch(base_world())
    kms = server.client("kms", user_creds(ACCT_A, "alice"))
    md = kms.describe_key(KeyId="alias/boot")["KeyMetadata"]
    assert md["KeyId"] == KEY_ID and md["Description"] == "declared"
    assert kms.list_resource_tags(KeyId=KEY_ID)["Tags"] == [{"TagKey": "env", "TagValue": "test"}]
    policy = json.loads(kms.get_key_policy(KeyId=KEY_ID)["Policy"])
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCT_A}:root"}
    blob = kms.encrypt(KeyId=KEY_ID, Plaintext=b"declared")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"declared"


@pytest.mark.parametrize("mutate, needle", [
    (lambda w: w["accounts"][0].update({"colour": "blue"}), "colour"),
    (lambda w: w["accounts"][0]["users"][0].update({"inline_policies": {"Bad": {"Statement": [{"Effect": "Perhaps",
                                                                                              "Action": "kms:*",
                                                                                              "Resource": "*"}]}}}),
     "alice"),
    (lambda w: w["accounts"][0]["keys"][0].update({"id": "not-a-uuid"}), "not-a-uuid"),
    (lambda w: w["accounts"][0].update({"id": "12345"}), "12345"),
])
def test_invalid_world_rejected_at_start(tmp_path, mutate, needle):
    w = base_world()
    mutate(w)
    path = write_world(tmp_path, w, "broken-world.json")
    proc = serve_once(path, tmp_path / "data")
    assert proc.returncode == 2, proc.stderr  # README: exit status 2
    assert "kmsd listening" not in proc.stdout
    assert "broken-world.json" in proc.stderr, proc.stderr
    assert needle in proc.stderr, proc.stderr


def test_unparseable_world_rejected(tmp_path):
    path = tmp_path / "garbled.json"
    path.write_text("{ this is not json")
    proc = serve_once(path, tmp_path / "data")
    assert proc.returncode != 0
    assert "garbled.json" in proc.stderr


def test_nothing_half_applied(tmp_path, launch):
    data = tmp_path / "data"
    good = write_world(tmp_path / "good", base_world())
    server = launch(good, data_dir=data)
    server.terminate_ok()

    # A world that adds a valid user *and* contains an error elsewhere must not apply the user.
    w = base_world()
    w["accounts"][0]["users"].append(user(ACCT_A, "newcomer", inline={"K": doc(allow("kms:*"))}))
    w["accounts"].append(account("444455556666", roles=[{"name": "Broken", "assume_role_policy": "{not json"}]))
    bad = write_world(tmp_path / "bad", w, "bad-world.json")
    proc = serve_once(bad, data)
    assert proc.returncode != 0 and "bad-world.json" in proc.stderr

    server = launch(good, data_dir=data)
    with aws_error("UnrecognizedClientException"):
        server.client("kms", user_creds(ACCT_A, "newcomer")).list_keys()
    assert server.client("kms", user_creds(ACCT_A, "alice")).describe_key(KeyId=KEY_ID)


def test_reapplying_world_is_idempotent_and_additive(tmp_path, launch):
    data = tmp_path / "data"
    path = write_world(tmp_path / "w1", base_world())
    server = launch(path, data_dir=data)
    kms = server.client("kms", user_creds(ACCT_A, "alice"))
    blob = kms.encrypt(KeyId=KEY_ID, Plaintext=b"kept")["CiphertextBlob"]
    runtime_key = kms.create_key(Description="runtime")["KeyMetadata"]["KeyId"]
    server.terminate_ok()

    for _ in range(2):
        server.restart()
        kms = server.client("kms", user_creds(ACCT_A, "alice"))
        keys = [k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]]
        assert sorted(keys) == sorted([KEY_ID, runtime_key])
        assert [a["AliasName"] for a in kms.list_aliases(KeyId=KEY_ID)["Aliases"]] == ["alias/boot"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
        server.terminate_ok()

    # The same data directory with a world that declares one more user.
    w = base_world()
    w["accounts"][0]["users"].append(user(ACCT_A, "bob", inline={"K": doc(allow("kms:Decrypt"))}))
    server2 = launch(write_world(tmp_path / "w2", w), data_dir=data)
    assert server2.client("kms", user_creds(ACCT_A, "bob")).decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    assert server2.client("sts", root_creds(ACCT_A)).get_caller_identity()["Account"] == ACCT_A


def test_root_key_file_created_private(launch):
    server = launch(base_world())
    server.terminate_ok()
    path = server.data_dir / "root.key"
    assert path.exists(), sorted(os.listdir(server.data_dir))
    assert (path.stat().st_mode & 0o777) == 0o600


def test_root_key_file_readable_by_others_is_refused(tmp_path, launch):
    server = launch(base_world())
    server.client("kms", user_creds(ACCT_A, "alice")).encrypt(KeyId=KEY_ID, Plaintext=b"x")
    server.terminate_ok()
    os.chmod(server.data_dir / "root.key", 0o644)
    proc = serve_once(server.world, server.data_dir)
    assert proc.returncode != 0
    assert "root.key" in proc.stderr


def test_root_key_from_environment(tmp_path, launch):
    hex_key = os.urandom(32).hex()
    data = tmp_path / "envdata"
    server = launch(base_world(), data_dir=data, extra_env={"KMSD_ROOT_KEY": hex_key})
    kms = server.client("kms", user_creds(ACCT_A, "alice"))
    blob = kms.encrypt(KeyId=KEY_ID, Plaintext=b"env-rooted")["CiphertextBlob"]
    server.terminate_ok()
    assert not (data / "root.key").exists(), "KMSD_ROOT_KEY takes precedence: no key file is created"
    server.restart()
    assert server.client("kms", user_creds(ACCT_A, "alice")).decrypt(CiphertextBlob=blob)["Plaintext"] == b"env-rooted"
    server.terminate_ok()
    # Another root key must never yield the plaintext.
    other = {"KMSD_ROOT_KEY": os.urandom(32).hex()}
    p = subprocess.Popen([kmsd_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                          "--bootstrap", str(server.world)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=clean_env(extra=other))
    try:
        line = p.stdout.readline()
        if "kmsd listening on" in line:
            from kmsd_harness import client
            from botocore.exceptions import ClientError
            ep = line.split("kmsd listening on ")[1].strip()
            with pytest.raises(ClientError):
                client(ep, "kms", user_creds(ACCT_A, "alice")).decrypt(CiphertextBlob=blob)
        else:
            assert p.wait(timeout=20) != 0
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(timeout=20)


def test_invalid_root_key_env_refused(tmp_path):
    bad = "z" + os.urandom(31).hex() + "0"  # 64 characters, not hex
    proc = serve_once(write_world(tmp_path, base_world()), tmp_path / "data", env={"KMSD_ROOT_KEY": bad})
    assert proc.returncode != 0
    assert "KMSD_ROOT_KEY" in proc.stderr
    assert bad not in proc.stderr + proc.stdout, "the (secret) root key value must not be echoed"
