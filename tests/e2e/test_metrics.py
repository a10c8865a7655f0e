"""`/metrics`, `/healthz` and `/readyz` of a running kmsd (README "Metrics and health").

Scrapes before and after a known set of requests and checks that each counter moved by
exactly what was sent (requests by operation and outcome, decisions, latency histogram
counts, keys by state, store commits, audit writes); that nothing a client sent or a key's
identity — key ids, ARNs, aliases, access keys, a made-up operation name — appears in the
exposition; that /readyz turns 503 when the audit log's directory cannot be written and
200 again when it can; and that the flags turn the endpoints off or move them to a
listener of their own.
"""

from __future__ import annotations

import json
import re
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import subprocess

from kmsd_harness import aws_error, kmsd_bin, signed_request
from worlds import Creds

ROOT = Path(__file__).resolve().parents[2]
SEED_FILE = ROOT / "examples" / "seed-world.json"
REGION = "us-west-2"
ROOT_A = Creds("AKIA111122223333ROOT", "seed-root-secret-111122223333")
ALICE = Creds("AKIAALICE00000000001", "seed-alice-secret-0000000000000000000001")
SEED_KEY_IDS = ["0987dcba-09fe-87dc-65ba-ab0987654321", "1234abcd-12ab-34cd-56ef-1234567890ab"]

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")
LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers


def scrape(base: str) -> tuple[dict, str]:
    status, text, headers = get(base + "/metrics")
    assert status == 200, text
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert text.endswith("# EOF\n")
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not an exposition line: {line!r}"
        labels = tuple(sorted(LABEL_RE.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, text


def val(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: dict, after: dict, name: str, **labels) -> float:
    return val(after, name, **labels) - val(before, name, **labels)


def explain_end_node(principal: str, decision: str) -> str:
    """The last node of `kmsd explain`'s path for `principal` calling kms:Encrypt on the key of
    alias/example-1 in the seed world."""
    out = subprocess.run(
        [kmsd_bin(), "explain", "--bootstrap", str(SEED_FILE), "--principal", principal,
         "--action", "kms:Encrypt", "--key", f"arn:aws:kms:{REGION}:111122223333:key/{SEED_KEY_IDS[0]}",
         "--format", "json"], capture_output=True, text=True, timeout=60)
    x = json.loads(out.stdout)
    assert x["decision"] == decision, x
    return x["path"][-1]["node"]


@pytest.fixture(scope="module")
def seed(module_launch):
    return module_launch(SEED_FILE, region=REGION)


def test_counters_move_as_requests_are_made(seed):
    kms = seed.client("kms", ROOT_A, REGION)
    before, _ = scrape(seed.endpoint)
    for _ in range(3):
        kms.encrypt(KeyId="alias/example-1", Plaintext=b"metrics")
    with aws_error("AccessDeniedException"):
        seed.client("kms", ALICE, REGION).encrypt(KeyId="alias/example-1", Plaintext=b"x")
    with aws_error("NotFoundException"):
        kms.describe_key(KeyId="alias/no-such-alias")
    created = kms.create_key(Description="metrics test")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=created["KeyId"], PendingWindowInDays=7)
    # A made-up operation whose name carries a key ARN and an access key: counted as `other`.
    bogus = f"TrentService.Op-{created['Arn']}-AKIAALICE00000000001"
    r = signed_request(seed.endpoint, "kms", ROOT_A, b"{}",
                       {"X-Amz-Target": bogus, "Content-Type": "application/x-amz-json-1.1"}, REGION)
    assert r.status == 400
    after, text = scrape(seed.endpoint)

    req = "kmsd_requests_total"
    assert delta(before, after, req, service="kms", operation="Encrypt", outcome="ok") == 3
    assert delta(before, after, req, service="kms", operation="Encrypt",
                 outcome="AccessDeniedException") == 1
    assert delta(before, after, req, service="kms", operation="DescribeKey",
                 outcome="NotFoundException") == 1
    assert delta(before, after, req, service="kms", operation="CreateKey", outcome="ok") == 1
    assert delta(before, after, req, service="kms", operation="ScheduleKeyDeletion", outcome="ok") == 1
    assert delta(before, after, req, service="kms", operation="other",
                 outcome="UnknownOperationException") == 1
    # Latency histograms count every request of their operation.
    assert delta(before, after, "kmsd_request_duration_seconds_count",
                 service="kms", operation="Encrypt") == 4
    assert delta(before, after, "kmsd_request_duration_seconds_bucket",
                 service="kms", operation="Encrypt", le="+Inf") == 4
    # Decisions by the flowchart node the path ended at, as `kmsd explain` traces the same
    # requests: root's 3 Encrypts allowed, alice's implicitly denied; CreateKey and
    # ScheduleKeyDeletion allowed too.
    dec = "kmsd_authorization_decisions_total"
    root_end = explain_end_node("arn:aws:iam::111122223333:root", "Allow")
    alice_end = explain_end_node("arn:aws:iam::111122223333:user/alice", "ImplicitDeny")
    assert delta(before, after, dec, service="kms", decision="Allow", node=root_end) >= 3
    assert delta(before, after, dec, service="kms", decision="ImplicitDeny", node=alice_end) == 1
    allowed = sum(v - val(before, n, **dict(l)) for (n, l), v in after.items()
                  if n == dec and dict(l).get("decision") == "Allow" and dict(l).get("service") == "kms")
    assert allowed >= 5
    denied = sum(v - val(before, n, **dict(l)) for (n, l), v in after.items()
                 if n == dec and dict(l).get("decision") != "Allow")
    assert denied == 1
    # Keys by state: the seed's two keys are enabled, the new one is pending deletion.
    assert val(after, "kmsd_keys", state="Enabled") == 2
    assert val(after, "kmsd_keys", state="PendingDeletion") == 1
    # CreateKey and ScheduleKeyDeletion committed to the store; every request was audited.
    assert delta(before, after, "kmsd_store_commit_duration_seconds_count") >= 2
    assert delta(before, after, "kmsd_audit_write_duration_seconds_count") >= 1
    assert val(after, "kmsd_audit_write_failures_total") == 0
    assert val(after, "kmsd_store_commit_failures_total") == 0

    # Nothing identifying leaks into the exposition.
    for secret in [created["KeyId"], created["Arn"], "arn:aws", "alias/", "AKIA", "111122223333",
                   "444455556666", "alice", "seed-", "Op-", *SEED_KEY_IDS]:
        assert secret not in text, secret


def test_health_and_readiness(seed):
    status, body, _ = get(seed.endpoint + "/healthz")
    assert (status, body) == (200, "ok\n")
    status, body, _ = get(seed.endpoint + "/readyz")
    assert (status, body) == (200, "ready\n")

    audit_dir = seed.data_dir / "audit"
    moved = seed.data_dir / "audit-moved"
    audit_dir.rename(moved)
    # A regular file where the directory was: nothing can be created in it.
    audit_dir.write_text("not a directory")
    try:
        status, body, _ = get(seed.endpoint + "/readyz")
        assert status == 503, body
        assert "audit log directory is not writable" in body
        assert "data directory" not in body.replace("audit log directory", "")
        # Liveness is unaffected.
        assert get(seed.endpoint + "/healthz")[0] == 200
    finally:
        audit_dir.unlink()
        moved.rename(audit_dir)
    status, body, _ = get(seed.endpoint + "/readyz")
    assert (status, body) == (200, "ready\n")


def test_no_signature_needed_but_not_a_kms_api(seed):
    # The endpoints answer only GET on their exact paths; a KMS call is still signed.
    status, body, _ = get(seed.endpoint + "/metrics/extra")
    assert status != 200 or "kmsd_requests" not in body


def test_endpoints_turned_off(launch):
    server = launch(SEED_FILE, region=REGION, extra_args=["--no-metrics", "--no-health"])
    for path in ["/metrics", "/healthz", "/readyz"]:
        status, body, _ = get(server.endpoint + path)
        assert status != 200, path
        assert "kmsd_" not in body and "ready" not in body
    # The server still serves KMS.
    server.client("kms", ROOT_A, REGION).encrypt(KeyId="alias/example-1", Plaintext=b"x")


def test_endpoints_on_their_own_listener(launch):
    server = launch(SEED_FILE, region=REGION, extra_args=["--metrics-listen", "127.0.0.1:0"])
    out = server.stdout_path.read_text()
    m = re.search(r"kmsd metrics on (http://\S+)", out)
    assert m, out
    ops = m.group(1)
    server.client("kms", ROOT_A, REGION).encrypt(KeyId="alias/example-1", Plaintext=b"x")
    samples, _ = scrape(ops)
    assert val(samples, "kmsd_requests_total", service="kms", operation="Encrypt", outcome="ok") >= 1
    assert get(ops + "/healthz")[0] == 200
    assert get(ops + "/readyz")[0] == 200
    assert get(ops + "/")[0] == 404
    # The main listener no longer answers them.
    for path in ["/metrics", "/healthz", "/readyz"]:
        status, body, _ = get(server.endpoint + path)
        assert status != 200 and "kmsd_" not in body, path
