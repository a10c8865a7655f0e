"""The AWS SDK for JavaScript v3 (@aws-sdk/client-kms, @aws-sdk/client-sts) against kmsd with
the shipped seed world.

The client is `tests/js/kms-client.mjs`, run with Node.js; its packages are installed from the
committed `tests/js/package-lock.json` by `.ci/run` (`npm ci`). The program creates a key,
encrypts and decrypts, expects alice's Encrypt to fail with `AccessDeniedException` (AWS's
message; the KMS model has no shape for it, so the SDK raises its `KMSServiceException` named
by the code, as against AWS) and a missing alias with the typed `NotFoundException`, and has
bob assume ExampleRole to encrypt and decrypt with the key of account 444455556666. This
module starts the server, runs the program, and checks from the server's side (boto3, the
audit log) that the calls really happened.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from kmsd_harness import clean_env
from worlds import ACCT_A, ACCT_B, REGION, Creds

ROOT = Path(__file__).resolve().parents[2]
SEED_FILE = ROOT / "examples" / "seed-world.json"
JS_DIR = ROOT / "tests" / "js"
SCRIPT = JS_DIR / "kms-client.mjs"


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.fail("node is not installed (.ci/run installs Debian's nodejs)", pytrace=False)
    if not (JS_DIR / "node_modules" / "@aws-sdk" / "client-kms").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `npm ci` in tests/js (.ci/run does)",
                    pytrace=False)
    return path


def test_sdk_js_create_encrypt_deny_assume_role(node, launch):
    server = launch(SEED_FILE, region=REGION)
    env = clean_env()
    env["KMSD_ENDPOINT"] = server.endpoint
    run = subprocess.run([node, str(SCRIPT)], cwd=JS_DIR, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, f"kms-client.mjs failed:\n{run.stdout}\n{run.stderr}"
    out = json.loads(run.stdout.strip().splitlines()[-1])

    # The key the SDK created exists on the server, in account A.
    assert out["createdKeyArn"].startswith(f"arn:aws:kms:{REGION}:{ACCT_A}:key/")
    root = Creds("AKIA111122223333ROOT", "seed-root-secret-111122223333")
    meta = server.client("kms", root, REGION).describe_key(KeyId=out["createdKeyArn"])["KeyMetadata"]
    assert meta["Description"] == "made by the JavaScript SDK"
    assert out["deniedName"] == "AccessDeniedException"
    assert out["assumedArn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/ExampleRole/js-sdk"
    assert out["crossAccountKeyId"].startswith(f"arn:aws:kms:{REGION}:{ACCT_B}:key/")

    # The audit log saw the JavaScript SDK's calls, the denial among them.
    lines = [json.loads(l) for l in (server.data_dir / "audit" / "audit.log").read_text().splitlines() if l]
    js = [l for l in lines if "aws-sdk-js" in (l.get("userAgent") or "")]
    names = {l["eventName"] for l in js}
    assert {"CreateKey", "Encrypt", "Decrypt", "AssumeRole", "GetCallerIdentity"} <= names, names
    denied = [l for l in js if l.get("errorCode") == "AccessDeniedException"]
    assert any(l["userIdentity"].get("userName") == "alice" for l in denied), denied
