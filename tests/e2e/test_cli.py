"""The aws CLI (v1, as pinned) against kmsd: create a key, encrypt and decrypt files."""

from __future__ import annotations

import base64
import json

import pytest

from kmsd_harness import run_aws_cli
from worlds import ACCT_A, account, user, user_creds, root_creds


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A, users=[user(ACCT_A, "nobody")])]})


def aws(server, *args, creds=None):
    proc = run_aws_cli(server.endpoint, creds or root_creds(ACCT_A), list(args))
    return proc


def ok(proc) -> dict:
    assert proc.returncode == 0, f"aws exited {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}"
    return json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_cli_create_key_encrypt_decrypt(server, tmp_path):
    md = ok(aws(server, "kms", "create-key", "--description", "from the cli"))["KeyMetadata"]
    assert md["Description"] == "from the cli"
    assert md["KeyState"] == "Enabled"
    key_arn = md["Arn"]

    secret = b"cli plaintext \x00\x01\x02 binary-safe"
    (tmp_path / "plain.bin").write_bytes(secret)
    enc = ok(aws(server, "kms", "encrypt", "--key-id", key_arn, "--plaintext", f"fileb://{tmp_path / 'plain.bin'}",
                 "--encryption-context", "app=cli"))
    assert enc["KeyId"] == key_arn
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))

    dec = ok(aws(server, "kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}",
                 "--encryption-context", "app=cli"))
    assert base64.b64decode(dec["Plaintext"]) == secret
    assert dec["KeyId"] == key_arn

    # --output text --query: the documented shell idiom.
    proc = run_aws_cli(server.endpoint, root_creds(ACCT_A),
                       ["kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}",
                        "--encryption-context", "app=cli", "--query", "Plaintext", "--output", "text"])
    assert proc.returncode == 0, proc.stderr
    assert base64.b64decode(proc.stdout.strip()) == secret


def test_cli_alias_and_describe(server):
    md = ok(aws(server, "kms", "create-key"))["KeyMetadata"]
    p = aws(server, "kms", "create-alias", "--alias-name", "alias/cli-test", "--target-key-id", md["KeyId"])
    assert p.returncode == 0, p.stderr
    described = ok(aws(server, "kms", "describe-key", "--key-id", "alias/cli-test"))["KeyMetadata"]
    assert described["KeyId"] == md["KeyId"]


def test_cli_sts_identity(server):
    ident = ok(aws(server, "sts", "get-caller-identity"))
    assert ident["Arn"] == f"arn:aws:iam::{ACCT_A}:root"
    assert ident["Account"] == ACCT_A


def test_cli_reports_access_denied(server):
    proc = aws(server, "kms", "create-key", creds=user_creds(ACCT_A, "nobody"))
    assert proc.returncode != 0
    assert "AccessDeniedException" in proc.stderr
    assert f"arn:aws:iam::{ACCT_A}:user/nobody is not authorized to perform: kms:CreateKey" in proc.stderr


def test_cli_assume_role_and_use_session(tmp_path, module_launch):
    from worlds import Creds, allow, doc
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:user/cli"}, "Action": "sts:AssumeRole"})
    server = module_launch({"accounts": [account(ACCT_A, users=[user(ACCT_A, "cli")], roles=[
        {"name": "CliRole", "assume_role_policy": trust, "inline_policies": {"K": doc(allow("kms:*"))}}])]})
    out = ok(aws(server, "sts", "assume-role", "--role-arn", f"arn:aws:iam::{ACCT_A}:role/CliRole",
                 "--role-session-name", "cli-session", creds=user_creds(ACCT_A, "cli")))
    c = out["Credentials"]
    sess = Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    ident = ok(aws(server, "sts", "get-caller-identity", creds=sess))
    assert ident["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/CliRole/cli-session"
    keys = ok(aws(server, "kms", "list-keys", creds=sess))
    assert keys["Keys"] == []  # the CLI paginates and drops Truncated/NextMarker
    # The same session is refused once the token is altered.
    bad = Creds(sess.access_key_id, sess.secret_access_key, sess.session_token[:-3] + "xyz")
    p = aws(server, "kms", "list-keys", creds=bad)
    assert p.returncode != 0 and "UnrecognizedClientException" in p.stderr


def test_cli_iam_user_lifecycle(server):
    u = ok(aws(server, "iam", "create-user", "--user-name", "cli-made"))["User"]
    assert u["Arn"] == f"arn:aws:iam::{ACCT_A}:user/cli-made"
    p = aws(server, "iam", "put-user-policy", "--user-name", "cli-made", "--policy-name", "P",
            "--policy-document", json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*"}]}))
    assert p.returncode == 0, p.stderr
    got = ok(aws(server, "iam", "get-user-policy", "--user-name", "cli-made", "--policy-name", "P"))
    assert got["PolicyDocument"]["Statement"][0]["Action"] == "kms:ListKeys"
