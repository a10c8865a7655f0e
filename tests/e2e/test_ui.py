"""The explain page at /ui in headless Chromium (Debian's `chromium`, installed by .ci/run).

Both seed examples are run through the page (and a key policy is checked before saving): it signs its calls with SigV4 in the browser,
asks the server to explain, and draws the flowchart with the path highlighted. The DOM after
the page ran is checked node by node, and a screenshot of each is saved as a test artifact in
tests/e2e/artifacts/.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

SEED_FILE = Path(__file__).resolve().parents[2] / "examples" / "seed-world.json"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ROOT_A = ("AKIA111122223333ROOT", "seed-root-secret-111122223333")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=8000", "--window-size=1300,900",
]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "chromium is not installed (.ci/run installs Debian's chromium)"
    return path


@pytest.fixture(scope="module")
def seed(module_launch):
    return module_launch(SEED_FILE, region="us-west-2")


def page_url(endpoint: str, creds, **params) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"ak": creds[0], "sk": creds[1], **params}.items())
    return f"{endpoint}/ui#{query}"


def run_page(url: str, tmp_path: Path, screenshot: Path = None, width: int = None) -> str:
    flags = [f for f in CHROMIUM_FLAGS if not (width and f.startswith("--window-size="))]
    if width:
        flags.append(f"--window-size={width},1000")
    args = [chromium(), *flags, f"--user-data-dir={tmp_path / 'chromium-profile'}"]
    if screenshot is not None:
        args += [f"--screenshot={screenshot}", url]
    else:
        args += ["--dump-dom", url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def node_answers(dom: str) -> dict:
    """node id -> answer for every node the page marked as on the path."""
    found = {}
    for m in re.finditer(r'<g class="node on-path answer-(yes|no)" data-node="([A-Z0-9]+)"', dom):
        found[m.group(2)] = m.group(1)
    return found


def test_page_is_served_embedded(seed):
    import urllib.request

    with urllib.request.urlopen(f"{seed.endpoint}/ui", timeout=10) as resp:
        body = resp.read().decode()
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/html")
    assert "<svg" in body and "KmsdService.Explain" in body
    # No external assets: everything the page needs is inline.
    assert not re.search(r'(src|href)="(https?:)?//', body)


@pytest.mark.parametrize(
    "example,decision,answers,terminal",
    [
        ("alice", "ImplicitDeny",
         {"N0": "no", "N1": "no", "N2": "no", "N3": "no", "N4": "no", "N5": "yes", "N6": "no"},
         "DENY"),
        ("bob", "Allow",
         {"N0": "no", "N1": "no", "N2": "no", "N3": "no", "N4": "no", "N5": "yes", "N6": "yes",
          "T1": "no", "T2": "yes"},
         "ALLOW"),
    ],
)
def test_seed_example_path_is_highlighted(seed, tmp_path, example, decision, answers, terminal):
    url = page_url(seed.endpoint, ROOT_A, seed=example, run="explain")
    dom = run_page(url, tmp_path)
    assert 'data-state="explained"' in dom, dom[-3000:]
    assert f'data-decision="{decision}"' in dom
    assert node_answers(dom) == answers
    assert re.search(rf'<g class="terminal \w+ reached" data-terminal="{terminal}"', dom)
    # The deciding statements are drawn beside their nodes.
    if example == "alice":
        assert "Delegate to IAM policies" in dom
        assert "because no identity-based policy allows the kms:Decrypt action" in dom
    else:
        assert "Allow account 1 to use this CMK" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"ui-{example}.png"
    run_page(url, tmp_path, screenshot=shot)
    assert shot.stat().st_size > 10_000


def test_page_needs_valid_credentials(seed, tmp_path):
    url = page_url(seed.endpoint, ("AKIA111122223333ROOT", "wrong-secret"), seed="alice", run="explain")
    dom = run_page(url, tmp_path)
    assert 'data-state="error"' in dom
    assert "InvalidSignatureException" in dom
    assert not node_answers(dom)


def test_key_access_review(seed, tmp_path):
    key = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    url = page_url(seed.endpoint, ("AKIA444455556666ROOT", "seed-root-secret-444455556666"),
                   key=key, run="review")
    dom = run_page(url, tmp_path)
    assert 'data-state="reviewed"' in dom, dom[-3000:]
    assert 'data-principal="arn:aws:iam::111122223333:role/ExampleRole"' in dom
    assert "cross-account" in dom


def test_open_a_denied_request_from_the_audit_trail(seed, tmp_path):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    kms = boto3.client(
        "kms", endpoint_url=seed.endpoint, region_name="us-west-2",
        aws_access_key_id="AKIAALICE00000000001",
        aws_secret_access_key="seed-alice-secret-0000000000000000000001",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )
    key = "arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
    with pytest.raises(ClientError) as denied:
        kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "ui-test"})
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"

    # Another account's administrator does not see alice's denial.
    other = page_url(seed.endpoint, ("AKIA444455556666ROOT", "seed-root-secret-444455556666"),
                     run="denials")
    dom = run_page(other, tmp_path)
    assert 'data-state="denials"' in dom, dom[-3000:]
    assert "user/alice" not in dom.split("<svg")[0]

    # Her account's administrator opens it: the form is filled from the audit event and the
    # explanation shows where she was stopped.
    url = page_url(seed.endpoint, ROOT_A, run="denials", open="0")
    dom = run_page(url, tmp_path)
    assert 'data-denial="0"' in dom and "kms:Encrypt" in dom
    assert 'data-state="explained"' in dom, dom[-3000:]
    assert 'data-decision="ImplicitDeny"' in dom
    answers = node_answers(dom)
    assert answers.get("N5") == "yes" and answers.get("N6") == "no"
    assert "because no identity-based policy allows the kms:Encrypt action" in dom
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui-audit-denial.png"
    run_page(url, tmp_path, screenshot=shot)
    assert shot.stat().st_size > 10_000


KEY_B = "arn:aws:kms:us-west-2:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT_B = ("AKIA444455556666ROOT", "seed-root-secret-444455556666")


def key_b_policy() -> dict:
    import json

    world = json.loads(SEED_FILE.read_text())
    return world["accounts"][1]["keys"][0]["policy"]


def policy_url(endpoint: str, policy: dict, **params) -> str:
    import json
    from urllib.parse import quote

    return page_url(endpoint, ROOT_B, key=KEY_B, **params) + "&policy=" + quote(json.dumps(policy))


def test_policy_check_shows_findings_and_the_access_diff_before_saving(seed, tmp_path):
    policy = key_b_policy()
    policy["Statement"][1]["Action"] = policy["Statement"][1]["Action"] + ["kms:CreateGrant"]
    dom = run_page(policy_url(seed.endpoint, policy, run="check"), tmp_path)
    assert 'data-state="checked"' in dom, dom[-3000:]
    assert 'data-findings="none"' in dom
    assert 'data-check="FAIL"' in dom
    assert re.search(r'<tr data-change="granted" data-principal="arn:aws:iam::111122223333:root" '
                     r'data-action="kms:CreateGrant">', dom), dom[-3000:]
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "ui-policy-check.png"
    run_page(policy_url(seed.endpoint, policy, run="check"), tmp_path, screenshot=shot)
    assert shot.stat().st_size > 10_000
    # The key's policy is unchanged: the check saved nothing.
    dom = run_page(page_url(seed.endpoint, ROOT_B, key=KEY_B, run="load"), tmp_path)
    assert "kms:CreateGrant" not in dom.split('id="policy"')[1].split("</textarea>")[0]


def test_policy_check_reports_a_typo_as_an_error_finding(seed, tmp_path):
    policy = key_b_policy()
    policy["Statement"][1]["Action"] = ["kms:Decryptt"]
    dom = run_page(policy_url(seed.endpoint, policy, run="check"), tmp_path)
    assert 'data-state="checked"' in dom, dom[-3000:]
    assert 'data-finding="INVALID_ACTION"' in dom and "Did you mean kms:Decrypt?" in dom
    assert "Fix the errors" in dom


@pytest.mark.parametrize("width", [800, 1280, 1920])
def test_layout_has_no_overflowing_text(seed, tmp_path, width):
    # Bob's example is allowed (no message) and has deciding statements beside N5, N6 and T2.
    url = page_url(seed.endpoint, ROOT_A, seed="bob", run="explain", layout="1")
    dom = run_page(url, tmp_path, width=width)
    assert 'data-decision="Allow"' in dom, dom[-3000:]
    m = re.search(r'data-overflow="([^"]*)"', dom)
    assert m is not None, dom[-2000:]
    assert m.group(1) == "", f"overflowing at {width}px: {m.group(1)}"
    assert '<div id="message"></div>' in dom  # empty on Allow, hidden by #message:empty
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"ui-bob-{width}.png"
    run_page(url, tmp_path, screenshot=shot, width=width)
    assert shot.stat().st_size > 10_000


def test_a_misspelt_action_is_an_error_naming_the_nearest(seed, tmp_path):
    url = page_url(seed.endpoint, ROOT_A, principal="arn:aws:iam::111122223333:user/alice",
                   action="kms:Decryptt",
                   key="arn:aws:kms:us-west-2:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321",
                   run="explain")
    dom = run_page(url, tmp_path)
    assert 'data-state="error"' in dom, dom[-3000:]
    assert "ValidationException" in dom and "Did you mean kms:Decrypt?" in dom
    assert not node_answers(dom)
