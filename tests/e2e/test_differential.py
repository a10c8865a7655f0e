"""Differential check: for many combinations of IAM policies, key policies and actions,
`kmsd explain --bootstrap` gives the verdict the running server enforces.

The world is generated from a fixed seed: users with IAM policies drawn from a pool, keys
with key policies drawn from a pool that refers to those users. Every (user, key, action)
is asked both ways; the request facts the server sees (source IP 127.0.0.1, plain HTTP) are
passed to explain with --context.
"""

from __future__ import annotations

import json
import random

import pytest
from botocore.exceptions import ClientError

from kmsd_harness import run_explain
from worlds import ACCT_A, account, allow, deny, doc, user, user_creds

REGION = "us-east-1"
ACCT_B = "444455556666"
N_B_USERS = 3
N_USERS = 7
N_KEYS = 9
ROOT = f"arn:aws:iam::{ACCT_A}:root"


def key_id(i: int) -> str:
    return f"{i:08x}-0000-4000-8000-00000000d1ff"


def key_arn(i: int) -> str:
    return f"arn:aws:kms:{REGION}:{ACCT_A}:key/{key_id(i)}"


def user_arn(i: int) -> str:
    return f"arn:aws:iam::{ACCT_A}:user/u{i}"


IAM_POOL = [
    None,
    doc(allow("kms:*")),
    doc(allow("kms:Encrypt")),
    doc(allow(["kms:Encrypt", "kms:DescribeKey"], [key_arn(0), key_arn(1)])),
    doc(allow("kms:*"), deny("kms:Encrypt")),
    doc(allow("kms:*", condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})),
    doc(allow("kms:*", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
    doc(allow("kms:GenerateDataKey*")),
    doc(allow("kms:*", condition={"Bool": {"aws:SecureTransport": "true"}})),
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "kms:Encrypt", "Resource": "*"}]},
]


def key_policy_pool(rng: random.Random) -> list:
    u = lambda: user_arn(rng.randrange(N_USERS))  # noqa: E731
    return [
        None,  # default key policy
        doc(allow("kms:*", principal={"AWS": ROOT}), allow("kms:Encrypt", principal={"AWS": u()})),
        doc(allow("kms:*", principal={"AWS": ROOT}), deny("kms:Encrypt", principal={"AWS": u()})),
        doc(allow("kms:*", principal={"AWS": ROOT}),
            allow(["kms:Encrypt", "kms:GenerateDataKey"], principal="*",
                  condition={"StringEquals": {"kms:CallerAccount": ACCT_A}})),
        doc(allow("kms:*", principal={"AWS": ROOT}),
            deny("kms:*", principal="*", condition={"StringNotEquals": {"aws:username": ["u0", "u1", "u2"]}})),
        doc(allow("kms:*", principal={"AWS": ROOT}),
            allow("kms:DescribeKey", principal={"AWS": [u(), u()]})),
        doc(allow(["kms:DescribeKey", "kms:Encrypt"], principal={"AWS": ROOT})),
        doc(allow("kms:*", principal={"AWS": ROOT}),
            allow(["kms:Encrypt", "kms:DescribeKey", "kms:GenerateDataKey"], principal={"AWS": f"arn:aws:iam::{ACCT_B}:root"})),
        doc(allow("kms:*", principal={"AWS": ROOT}),
            allow("kms:Encrypt", principal={"AWS": f"arn:aws:iam::{ACCT_B}:user/b{rng.randrange(N_B_USERS)}"})),
    ]


ACTIONS = {
    "kms:Encrypt": lambda c, k: c.encrypt(KeyId=k, Plaintext=b"x"),
    "kms:GenerateDataKey": lambda c, k: c.generate_data_key(KeyId=k, KeySpec="AES_128"),
    "kms:DescribeKey": lambda c, k: c.describe_key(KeyId=k),
}


def build_world(seed: int) -> dict:
    rng = random.Random(seed)
    users = []
    for i in range(N_USERS):
        pol = IAM_POOL[rng.randrange(len(IAM_POOL))]
        users.append(user(ACCT_A, f"u{i}", inline={"P": pol} if pol else None))
    pool = key_policy_pool(rng)
    keys = []
    for i in range(N_KEYS):
        k = {"id": key_id(i), "region": REGION}
        pol = pool[i % len(pool)] if i < len(pool) else pool[rng.randrange(len(pool))]
        if pol:
            k["policy"] = pol
        keys.append(k)
    b_users = []
    for i in range(N_B_USERS):
        pol = IAM_POOL[rng.randrange(len(IAM_POOL))]
        b_users.append(user(ACCT_B, f"b{i}", inline={"P": pol} if pol else None))
    return {"accounts": [account(ACCT_A, users=users, keys=keys), account(ACCT_B, users=b_users)]}


def callers():
    for i in range(N_USERS):
        yield user_arn(i), user_creds(ACCT_A, f"u{i}")
    for i in range(N_B_USERS):
        yield f"arn:aws:iam::{ACCT_B}:user/b{i}", user_creds(ACCT_B, f"b{i}")


@pytest.mark.parametrize("seed", [20261128, 4242])
def test_explain_matches_server_on_generated_world(launch, seed):
    world = build_world(seed=seed)
    server = launch(world)
    world_path = server.world
    disagreements = []
    checked = 0
    allowed = 0
    cross_account = {"Allow": 0, "Deny": 0}
    for principal, creds in callers():
        kms = server.client("kms", creds)
        for ki in range(N_KEYS):
            for action, call in ACTIONS.items():
                proc = run_explain(["--bootstrap", str(world_path), "--principal", principal, "--action", action,
                                    "--key", key_arn(ki), "--context", "aws:SourceIp=127.0.0.1",
                                    "--context", "aws:SecureTransport=false", "--format", "json"])
                assert proc.returncode in (0, 1), proc.stderr
                try:
                    call(kms, key_arn(ki))
                    api = "Allow"
                    allowed += 1
                except ClientError as e:
                    err = e.response["Error"]
                    assert err["Code"] == "AccessDeniedException", err
                    api = "Deny"
                    msg = err["Message"]
                out = json.loads(proc.stdout)
                offline = "Allow" if proc.returncode == 0 else "Deny"
                checked += 1
                if principal.startswith(f"arn:aws:iam::{ACCT_B}:"):
                    cross_account[api] += 1
                if offline != api:
                    disagreements.append((principal, ki, action, out["decision"], api))
                elif api == "Deny":
                    # The server's AccessDenied text is the message explain predicts.
                    if out.get("message") != msg:
                        disagreements.append((principal, ki, action, out.get("message"), msg))
    assert checked == (N_USERS + N_B_USERS) * N_KEYS * len(ACTIONS)
    assert 0.15 * checked < allowed < 0.85 * checked, f"generated world too one-sided: {allowed}/{checked}"
    assert cross_account["Allow"] > 0 and cross_account["Deny"] > 0, cross_account
    assert not disagreements, "\n".join(map(str, disagreements))
