"""The AWS Encryption SDK CLI (envelope encryption via GenerateDataKey/Decrypt) through kmsd.

The pinned botocore honours AWS_ENDPOINT_URL_KMS (service-specific endpoint from the
environment), which is how the unmodified tool is pointed at kmsd.
"""

from __future__ import annotations

import os
import subprocess

import boto3
import pytest

from kmsd_harness import clean_env, run_encryption_cli
from worlds import ACCT_A, account, allow, doc, user, user_creds, root_creds

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "writer", inline={"Gen": doc(allow(["kms:GenerateDataKey", "kms:Encrypt"]))}),
    ])]})


@pytest.fixture(scope="module")
def key_arn(server):
    return server.client("kms", root_creds(ACCT_A)).create_key(Description="esdk")["KeyMetadata"]["Arn"]


def esdk(server, creds, *args, timeout=120):
    env = clean_env(creds, REGION, {"AWS_ENDPOINT_URL_KMS": server.endpoint})
    return run_encryption_cli(args, env, timeout)


def test_botocore_honours_aws_endpoint_url_kms(server, monkeypatch):
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    c = root_creds(ACCT_A)
    kms = boto3.session.Session(aws_access_key_id=c.access_key_id, aws_secret_access_key=c.secret_access_key,
                                region_name=REGION).client("kms")
    assert kms.meta.endpoint_url == server.endpoint
    assert "Keys" in kms.list_keys()
    # The global AWS_ENDPOINT_URL is honoured as well.
    monkeypatch.delenv("AWS_ENDPOINT_URL_KMS")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint)
    kms = boto3.session.Session(aws_access_key_id=c.access_key_id, aws_secret_access_key=c.secret_access_key,
                                region_name=REGION).client("kms")
    assert kms.meta.endpoint_url == server.endpoint
    assert "Keys" in kms.list_keys()


def test_encrypt_decrypt_file_round_trip(server, key_arn, tmp_path):
    plain = tmp_path / "plain.bin"
    data = os.urandom(20000) + b"ESDK-ROUND-TRIP"
    plain.write_bytes(data)
    enc = tmp_path / "plain.bin.encrypted"
    root = root_creds(ACCT_A)
    p = esdk(server, root, "--encrypt", "--input", str(plain), "--wrapping-keys", f"key={key_arn}",
             "--encryption-context", "purpose=e2e", "--metadata-output", "/dev/null", "--output", str(enc))
    assert p.returncode == 0, f"encrypt failed:\n{p.stdout}\n{p.stderr}"
    blob = enc.read_bytes()
    assert len(blob) > len(data) and b"ESDK-ROUND-TRIP" not in blob

    out = tmp_path / "decrypted.bin"
    p = esdk(server, root, "--decrypt", "--input", str(enc), "--wrapping-keys", f"key={key_arn}",
             "--encryption-context", "purpose=e2e", "--commitment-policy", "require-encrypt-require-decrypt",
             "--metadata-output", "/dev/null", "--output", str(out))
    assert p.returncode == 0, f"decrypt failed:\n{p.stdout}\n{p.stderr}"
    assert out.read_bytes() == data

    out2 = tmp_path / "discovery.bin"
    p = esdk(server, root, "--decrypt", "--input", str(enc),
             "--wrapping-keys", "discovery=true", f"discovery-account={ACCT_A}", "discovery-partition=aws",
             "--metadata-output", "/dev/null", "--output", str(out2))
    assert p.returncode == 0, f"discovery decrypt failed:\n{p.stdout}\n{p.stderr}"
    assert out2.read_bytes() == data


def test_decrypt_without_permission_fails(server, key_arn, tmp_path):
    plain = tmp_path / "p.txt"
    plain.write_bytes(b"writer may encrypt but not decrypt")
    enc = tmp_path / "p.enc"
    writer = user_creds(ACCT_A, "writer")
    p = esdk(server, writer, "--encrypt", "--input", str(plain), "--wrapping-keys", f"key={key_arn}",
             "--metadata-output", "/dev/null", "--output", str(enc))
    assert p.returncode == 0, f"encrypt as writer failed:\n{p.stdout}\n{p.stderr}"
    out = tmp_path / "p.dec"
    p = esdk(server, writer, "--decrypt", "--input", str(enc), "--wrapping-keys", f"key={key_arn}",
             "--metadata-output", "/dev/null", "--output", str(out))
    assert p.returncode != 0
    assert not out.exists() or out.read_bytes() != plain.read_bytes()
    # The same ciphertext decrypts for a principal that is allowed.
    p = esdk(server, root_creds(ACCT_A), "--decrypt", "--input", str(enc), "--wrapping-keys", f"key={key_arn}",
             "--metadata-output", "/dev/null", "--output", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == plain.read_bytes()


def test_seed_example_2_with_the_encryption_sdk(module_launch, tmp_path):
    """Bob's ExampleRole session envelope-encrypts a file under the key in 444455556666."""
    from kmsd_harness import session_creds
    from worlds import REGION as SEED_REGION, ROLE_ARN, SEED_KEY_ARN, seed_world
    server = module_launch(seed_world(), region=SEED_REGION)
    sts = server.client("sts", user_creds(ACCT_A, "bob"), SEED_REGION)
    sess = session_creds(sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="esdk"))
    plain = tmp_path / "report.txt"
    plain.write_bytes(b"quarterly numbers\n" * 500)
    enc, out = tmp_path / "report.enc", tmp_path / "report.out"

    def run(creds, *args):
        env = clean_env(creds, SEED_REGION, {"AWS_ENDPOINT_URL_KMS": server.endpoint})
        return run_encryption_cli(args, env)

    p = run(sess, "--encrypt", "--input", str(plain), "--wrapping-keys", f"key={SEED_KEY_ARN}",
            "--metadata-output", "/dev/null", "--output", str(enc))
    assert p.returncode == 0, p.stderr
    p = run(sess, "--decrypt", "--input", str(enc), "--wrapping-keys", f"key={SEED_KEY_ARN}",
            "--metadata-output", "/dev/null", "--output", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_bytes() == plain.read_bytes()
    # alice (no IAM policy) cannot decrypt it.
    out.unlink()
    p = run(user_creds(ACCT_A, "alice"), "--decrypt", "--input", str(enc), "--wrapping-keys", f"key={SEED_KEY_ARN}",
            "--metadata-output", "/dev/null", "--output", str(out))
    assert p.returncode != 0
    assert not out.exists()
