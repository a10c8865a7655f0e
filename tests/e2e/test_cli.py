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
    aliases = ok(aws(server, "kms", "list-aliases", "--key-id", md["KeyId"]))["Aliases"]
    assert [a["AliasName"] for a in aliases] == ["alias/cli-test"]


def test_cli_sts_identity(server):
    ident = ok(aws(server, "sts", "get-caller-identity"))
    assert ident["Arn"] == f"arn:aws:iam::{ACCT_A}:root"
    assert ident["Account"] == ACCT_A


def test_cli_reports_access_denied(server):
    proc = aws(server, "kms", "create-key", creds=user_creds(ACCT_A, "nobody"))
    assert proc.returncode != 0
    assert "AccessDeniedException" in proc.stderr
    assert f"arn:aws:iam::{ACCT_A}:user/nobody is not authorized to perform: kms:CreateKey" in proc.stderr
