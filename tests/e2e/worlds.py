"""Builders for kmsd world (bootstrap) files used by the end-to-end tests.

Each test module writes the exact world it needs, in the bootstrap format of
`shared/spec/interface.md`, into a temporary directory. Credentials are derived
deterministically from a tag so that tests can name them without sharing state.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

ACCT_A = "111122223333"
ACCT_B = "444455556666"
REGION = "us-west-2"

SEED_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
SEED_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCT_B}:key/{SEED_KEY_ID}"
SEED_ALIAS = "alias/example"
SEED_ALIAS_ARN = f"arn:aws:kms:{REGION}:{ACCT_B}:{SEED_ALIAS}"
ALICE_KEY_ID = "0f1e2d3c-4b5a-4697-8877-111122223333"
ALICE_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCT_A}:key/{ALICE_KEY_ID}"
ROLE_ARN = f"arn:aws:iam::{ACCT_A}:role/ExampleRole"
ALICE_ARN = f"arn:aws:iam::{ACCT_A}:user/alice"
BOB_ARN = f"arn:aws:iam::{ACCT_A}:user/bob"
ROLE_POLICY_NAME = "CrossAccountKmsUse"

CRYPTO_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
]


@dataclass(frozen=True)
class Creds:
    """Long-term or session credentials."""

    access_key_id: str
    secret_access_key: str
    session_token: Optional[str] = None

    def as_json(self) -> dict:
        return {
            "access_key_id": self.access_key_id,
            "secret_access_key": self.secret_access_key,
        }


def creds(tag: str) -> Creds:
    """Deterministic AKIA credentials for `tag` (20-char id, 40-char secret)."""
    digest = hashlib.sha256(tag.encode()).digest()
    akid = "AKIA" + base64.b32encode(digest).decode()[:16]
    secret = base64.b64encode(hashlib.sha256(b"secret:" + tag.encode()).digest()).decode()[:40]
    return Creds(akid, secret)


def root_creds(account: str) -> Creds:
    return creds(f"root-{account}")


def user_creds(account: str, user: str) -> Creds:
    return creds(f"user-{account}-{user}")


def doc(*statements: dict, version: str = "2012-10-17") -> dict:
    return {"Version": version, "Statement": list(statements)}


def allow(actions, resources: Any = "*", condition: Optional[dict] = None, sid: Optional[str] = None,
          principal: Any = None) -> dict:
    st: dict = {"Effect": "Allow", "Action": actions, "Resource": resources}
    if sid:
        st["Sid"] = sid
    if principal is not None:
        st["Principal"] = principal
    if condition:
        st["Condition"] = condition
    return st


def deny(actions, resources: Any = "*", condition: Optional[dict] = None, sid: Optional[str] = None,
         principal: Any = None) -> dict:
    st = allow(actions, resources, condition, sid, principal)
    st["Effect"] = "Deny"
    return st


def default_key_policy(account: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def account(acct: str, root: bool = True, **fields) -> dict:
    out: dict = {"id": acct}
    if root:
        out["root_access_key"] = root_creds(acct).as_json()
    out.update(fields)
    return out


def user(acct: str, name: str, inline: Optional[dict] = None, with_key: bool = True, **fields) -> dict:
    out: dict = {"name": name}
    if inline:
        out["inline_policies"] = inline
    if with_key:
        out["access_keys"] = [user_creds(acct, name).as_json()]
    out.update(fields)
    return out


# --------------------------------------------------------------------------- seed world

SEED_KEY_POLICY = {
    "Id": "key-policy-acct-2",
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Permission to use IAM policies",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCT_B}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow account 1 to use this CMK",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"},
            "Action": CRYPTO_ACTIONS,
            "Resource": "*",
        },
    ],
}

ROLE_POLICY = doc(allow(CRYPTO_ACTIONS, [SEED_KEY_ARN]))

TRUST_BOB = doc({"Effect": "Allow", "Principal": {"AWS": BOB_ARN}, "Action": "sts:AssumeRole"})


def seed_world(role_policy: bool = True, key_policy_trusts_a: bool = True) -> dict:
    """The two examples of the seed page in one world.

    - Example 1: alice (111122223333) has no IAM policy; her account's key has the
      default key policy.
    - Example 2: bob assumes ExampleRole (trust policy names bob); the role's IAM
      policy allows crypto on the key in 444455556666, whose key policy allows
      111122223333 to use it.
    `role_policy=False` drops the role's IAM policy; `key_policy_trusts_a=False` drops the
    key policy statement for 111122223333.
    """
    role: dict = {"name": "ExampleRole", "path": "/", "assume_role_policy": TRUST_BOB}
    if role_policy:
        role["inline_policies"] = {ROLE_POLICY_NAME: ROLE_POLICY}
    key_policy = json.loads(json.dumps(SEED_KEY_POLICY))
    if not key_policy_trusts_a:
        key_policy["Statement"] = key_policy["Statement"][:1]
    return {
        "accounts": [
            account(
                ACCT_A,
                users=[user(ACCT_A, "alice"), user(ACCT_A, "bob")],
                roles=[role],
                keys=[
                    {
                        "id": ALICE_KEY_ID,
                        "region": REGION,
                        "description": "key in alice's account, default key policy",
                    }
                ],
            ),
            account(
                ACCT_B,
                keys=[
                    {
                        "id": SEED_KEY_ID,
                        "region": REGION,
                        "description": "seed example 2 key",
                        "policy": key_policy,
                        "aliases": [SEED_ALIAS],
                    }
                ],
            ),
        ]
    }


def write_world(directory: Path, world: dict, name: str = "world.json") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(world, indent=2))
    return path
