"""aws-sdk-rust (aws-config, aws-sdk-kms, aws-sdk-sts) against kmsd with the shipped seed world.

The client program is the separate Cargo project `tests/sdk-rust` (not a workspace member,
so the main build never compiles the AWS SDK). `scripts/test.sh` builds it and passes its
path in SDK_RUST_CHECK_BIN; without that variable this module builds it once per session
with `cargo build --manifest-path tests/sdk-rust/Cargo.toml` (about 2 minutes from clean).

The server is started with `examples/seed-world.json`, exactly as test_seed.py's shipped-world
test does, and the program gets the endpoint, region and the seed credentials (read from
that file) through its environment. Each check is one run of the program; what each one
asserts is described at the top of `tests/sdk-rust/src/main.rs`.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from kmsd_harness import clean_env
from worlds import ACCT_A, ACCT_B, REGION

ROOT = Path(__file__).resolve().parents[2]
SEED_FILE = ROOT / "examples" / "seed-world.json"
MANIFEST = ROOT / "tests" / "sdk-rust" / "Cargo.toml"
DEFAULT_BIN = ROOT / "tests" / "sdk-rust" / "target" / "debug" / "kmsd-sdk-rust-check"

# Every check the program implements; test_check_list_is_complete keeps the two in step.
CHECKS = [
    "create-describe",
    "encrypt-decrypt-context",
    "generate-data-key",
    "alias",
    "list-keys-paginator",
    "seed-alice-denied",
    "seed-bob-cross-account",
    "bad-signature",
    "sign-verify",
]


@pytest.fixture(scope="session")
def sdk_bin() -> str:
    path = os.environ.get("SDK_RUST_CHECK_BIN")
    if not path:
        build = subprocess.run(
            ["cargo", "build", "--quiet", "--locked", "--manifest-path", str(MANIFEST),
             "--target-dir", str(MANIFEST.parent / "target")],
            capture_output=True, text=True, timeout=1800,
        )
        if build.returncode != 0:
            pytest.fail(f"cargo build of tests/sdk-rust failed:\n{build.stderr[-6000:]}", pytrace=False)
        path = str(DEFAULT_BIN)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is not an executable file: build tests/sdk-rust "
                    f"(cargo build --manifest-path {MANIFEST})", pytrace=False)
    return path


def _seed_keys() -> dict:
    """Access keys of the seed world's account-A root, alice and bob, read from the file."""
    world = json.loads(SEED_FILE.read_text())
    accounts = {a["id"]: a for a in world["accounts"]}
    assert set(accounts) >= {ACCT_A, ACCT_B}, f"{SEED_FILE} lacks the seed page's accounts"
    a = accounts[ACCT_A]
    users = {u["name"]: u["access_keys"][0] for u in a["users"]}
    return {"ROOT_A": a["root_access_key"], "ALICE": users["alice"], "BOB": users["bob"]}


@pytest.fixture(scope="module")
def seed_env(module_launch) -> dict:
    server = module_launch(SEED_FILE, region=REGION)
    extra = {"SDK_CHECK_ENDPOINT": server.endpoint, "SDK_CHECK_REGION": REGION}
    for who, key in _seed_keys().items():
        extra[f"SDK_CHECK_{who}_ACCESS_KEY_ID"] = key["access_key_id"]
        extra[f"SDK_CHECK_{who}_SECRET_ACCESS_KEY"] = key["secret_access_key"]
    # No AWS_* settings of the caller's leak in: the program must use only what it is given.
    return clean_env(None, REGION, extra)


def run(sdk_bin: str, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sdk_bin, *args], env=env, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_check_list_is_complete(sdk_bin):
    out = run(sdk_bin, clean_env(), "--list")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == CHECKS


@pytest.mark.parametrize("check", CHECKS)
def test_aws_sdk_rust(sdk_bin, seed_env, check):
    out = run(sdk_bin, seed_env, check)
    assert out.returncode == 0 and out.stdout.strip() == f"ok {check}", (
        f"exit {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}")


def test_sign_verify_signature_verifies_with_cryptography(sdk_bin, seed_env):
    # The signature aws-sdk-rust got from kmsd verifies, outside kmsd, with the public key
    # GetPublicKey returned to it (Python `cryptography`), and not over another message.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    out = run(sdk_bin, seed_env, "sign-verify")
    assert out.returncode == 0 and out.stdout.strip() == "ok sign-verify", out
    line = next(l for l in out.stderr.splitlines() if l.startswith("sign-verify "))
    fields = dict(f.split("=", 1) for f in line.split()[1:])
    public = serialization.load_der_public_key(bytes.fromhex(fields["public-key"]))
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    message, signature = bytes.fromhex(fields["message"]), bytes.fromhex(fields["signature"])
    assert message == b"sdk-rust: signed by kmsd"
    public.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        public.verify(signature, message + b"!", ec.ECDSA(hashes.SHA256()))


def test_failure_is_reported(sdk_bin, seed_env):
    # The program fails (exit 1, FAIL line) when the server does not behave as checked:
    # here bob's credentials stand in for alice's, so her Encrypt is not the expected denial.
    env = dict(seed_env)
    env["SDK_CHECK_ALICE_ACCESS_KEY_ID"] = env["SDK_CHECK_BOB_ACCESS_KEY_ID"]
    env["SDK_CHECK_ALICE_SECRET_ACCESS_KEY"] = env["SDK_CHECK_BOB_SECRET_ACCESS_KEY"]
    out = run(sdk_bin, env, "seed-alice-denied")
    assert out.returncode == 1, out
    assert out.stdout.startswith("FAIL seed-alice-denied: "), out.stdout
    assert "user/bob" in out.stdout


def test_missing_environment_is_a_usage_error(sdk_bin):
    out = run(sdk_bin, clean_env(), "alias")
    assert out.returncode == 2
    assert "SDK_CHECK_ENDPOINT is not set" in out.stderr
