"""Condition keys and policy features evaluated on real requests (request context as AWS builds it).

Each test creates a key whose key policy (or the caller's IAM policy) depends on one
fact of the request — source IP, transport, caller account, alias used, resource tags,
principal tags, policy variables, encryption-context keys — and checks both sides.
"""

from __future__ import annotations

import json
import uuid

import pytest

from kmsd_harness import aws_error, session_creds
from worlds import ACCT_A, Creds, account, allow, deny, doc, root_creds, user, user_creds

ROOT = f"arn:aws:iam::{ACCT_A}:root"


def arn_of(name: str) -> str:
    return f"arn:aws:iam::{ACCT_A}:user/{name}"


def world() -> dict:
    trust = doc({"Effect": "Allow", "Principal": {"AWS": arn_of("admin")},
                 "Action": ["sts:AssumeRole", "sts:TagSession"]})
    return {"accounts": [account(ACCT_A,
        users=[
            user(ACCT_A, "admin", inline={"All": doc(allow(["kms:*", "iam:*", "sts:*"]))}),
            user(ACCT_A, "plain"),
            user(ACCT_A, "blue", tags={"team": "blue"}),
            user(ACCT_A, "red", tags={"team": "red"}),
            user(ACCT_A, "Alice"),
        ],
        roles=[{"name": "Tagged", "assume_role_policy": trust,
                "inline_policies": {"Enc": doc(allow("kms:Encrypt", condition={
                    "StringEquals": {"aws:PrincipalTag/project": "apollo"}}))}}],
    ), account("444455556666", users=[user("444455556666", "carol", inline={
        "UseA": doc(allow(["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey", "kms:ScheduleKeyDeletion"]))}),
        user("444455556666", "dan")])]}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch(world())


@pytest.fixture(scope="module")
def admin(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def key_with(admin, *statements, tags=None, bypass=False) -> dict:
    policy = doc(allow("kms:*", principal={"AWS": ROOT}, sid="Root"), *statements)
    kwargs = {"Policy": json.dumps(policy), "BypassPolicyLockoutSafetyCheck": bypass}
    if tags:
        kwargs["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
    return admin.create_key(**kwargs)["KeyMetadata"]


def as_user(server, name, acct=ACCT_A):
    return server.client("kms", user_creds(acct, name))


def test_direct_user_principal_needs_no_iam_policy(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")}))
    assert as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")


def test_source_ip_condition(server, admin):
    ok = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                               condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert as_user(server, "plain").encrypt(KeyId=ok["Arn"], Plaintext=b"x")
    elsewhere = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                      condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=elsewhere["Arn"], Plaintext=b"x")


def test_secure_transport_deny(server, admin):
    key = key_with(admin, deny("kms:*", principal="*", sid="TlsOnly",
                               condition={"Bool": {"aws:SecureTransport": "false"}}), bypass=True)
    with aws_error("AccessDeniedException") as err:
        admin.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"].endswith("with an explicit deny in a resource-based policy")


def test_caller_account_condition_with_star_principal(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal="*",
                                condition={"StringEquals": {"kms:CallerAccount": ACCT_A}}))
    assert as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    # carol (444455556666) has an IAM allow, but the key policy's condition fails for her.
    with aws_error("AccessDeniedException"):
        as_user(server, "carol", "444455556666").encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_cross_account_needs_key_policy_and_iam(server, admin):
    key = key_with(admin, allow(["kms:Encrypt", "kms:Decrypt", "kms:ScheduleKeyDeletion"],
                                principal={"AWS": "arn:aws:iam::444455556666:root"}))
    carol = as_user(server, "carol", "444455556666")
    blob = carol.encrypt(KeyId=key["Arn"], Plaintext=b"from b")["CiphertextBlob"]
    assert carol.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from b"
    # Not a cross-account operation, even though both policies allow it: denied
    # (shared/spec/iam-evaluation.md case 30, rule E10).
    with aws_error("AccessDeniedException"):
        carol.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7)
    assert admin.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    # A key the other account is not trusted on.
    private = key_with(admin)
    with aws_error("AccessDeniedException"):
        carol.encrypt(KeyId=private["Arn"], Plaintext=b"x")


def test_request_alias_condition(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                condition={"StringEquals": {"kms:RequestAlias": "alias/cond-ra"}}))
    admin.create_alias(AliasName="alias/cond-ra", TargetKeyId=key["KeyId"])
    plain = as_user(server, "plain")
    assert plain.encrypt(KeyId="alias/cond-ra", Plaintext=b"x")["KeyId"] == key["Arn"]
    with aws_error("AccessDeniedException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_resource_aliases_condition(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                condition={"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/finance-*"}}))
    plain = as_user(server, "plain")
    with aws_error("AccessDeniedException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    admin.create_alias(AliasName="alias/finance-cond", TargetKeyId=key["KeyId"])
    assert plain.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_resource_tag_condition_in_iam_policy(server, admin):
    iam = server.client("iam", user_creds(ACCT_A, "admin"))
    name = f"tagcond-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="BlueKeys", PolicyDocument=json.dumps(doc(
        allow("kms:Encrypt", condition={"StringEquals": {"aws:ResourceTag/team": "blue"}}))))
    kms = server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))
    blue = admin.create_key(Tags=[{"TagKey": "team", "TagValue": "blue"}])["KeyMetadata"]
    red = admin.create_key(Tags=[{"TagKey": "team", "TagValue": "red"}])["KeyMetadata"]
    assert kms.encrypt(KeyId=blue["Arn"], Plaintext=b"x")
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=red["Arn"], Plaintext=b"x")
    admin.tag_resource(KeyId=red["KeyId"], Tags=[{"TagKey": "team", "TagValue": "blue"}])
    assert kms.encrypt(KeyId=red["Arn"], Plaintext=b"x")


def test_principal_tag_condition(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal="*", condition={
        "StringEquals": {"aws:PrincipalTag/team": "blue", "kms:CallerAccount": ACCT_A}}))
    assert as_user(server, "blue").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    with aws_error("AccessDeniedException"):
        as_user(server, "red").encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_session_tags_become_principal_tags(server, admin):
    key = key_with(admin)
    sts = server.client("sts", user_creds(ACCT_A, "admin"))
    role_arn = f"arn:aws:iam::{ACCT_A}:role/Tagged"
    tagged = session_creds(sts.assume_role(RoleArn=role_arn, RoleSessionName="apollo",
                                           Tags=[{"Key": "project", "Value": "apollo"}]))
    assert server.client("kms", tagged).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    other = session_creds(sts.assume_role(RoleArn=role_arn, RoleSessionName="gemini",
                                          Tags=[{"Key": "project", "Value": "gemini"}]))
    with aws_error("AccessDeniedException"):
        server.client("kms", other).encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_username_policy_variable(server, admin):
    key = key_with(admin, allow(["kms:Encrypt", "kms:Decrypt"], principal="*", condition={
        "StringEquals": {"kms:EncryptionContext:owner": "${aws:username}", "kms:CallerAccount": ACCT_A}}))
    alice = as_user(server, "Alice")
    blob = alice.encrypt(KeyId=key["Arn"], Plaintext=b"mine", EncryptionContext={"owner": "Alice"})["CiphertextBlob"]
    assert alice.decrypt(CiphertextBlob=blob, EncryptionContext={"owner": "Alice"})["Plaintext"] == b"mine"
    with aws_error("AccessDeniedException"):
        alice.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"owner": "plain"})
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"owner": "Alice"})


def test_encryption_context_keys_for_any_value(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")}, condition={
        "ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": ["AppName"]}}))
    plain = as_user(server, "plain")
    assert plain.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"AppName": "a", "x": "y"})
    with aws_error("AccessDeniedException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    with aws_error("AccessDeniedException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Other": "a"})


def test_key_policy_deny_not_principal(server, admin):
    key = key_with(admin, {"Sid": "OnlyAdminDeletes", "Effect": "Deny",
                           "NotPrincipal": {"AWS": [arn_of("admin"), ROOT]},
                           "Action": "kms:ScheduleKeyDeletion", "Resource": "*"})
    iam = server.client("iam", user_creds(ACCT_A, "admin"))
    name = f"deleter-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="All", PolicyDocument=json.dumps(doc(allow("kms:*"))))
    other = server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))
    with aws_error("AccessDeniedException") as err:
        other.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert err["Message"].endswith("with an explicit deny in a resource-based policy")
    resp = admin.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert resp["KeyState"] == "PendingDeletion"


def test_not_action_allow(server, admin):
    iam = server.client("iam", user_creds(ACCT_A, "admin"))
    name = f"notaction-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    iam.put_user_policy(UserName=name, PolicyName="AllButDecrypt", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": ["kms:Decrypt", "iam:*"],
                                                 "Resource": "*"}]}))
    kms = server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))
    key = key_with(admin)
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)


def test_grant_subgrant_and_grant_token(server, admin):
    key = key_with(admin)
    g = admin.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("plain"),
                           Operations=["Encrypt", "Decrypt", "CreateGrant"])
    plain = as_user(server, "plain")
    # plain may delegate a subset of its own operations...
    sub = plain.create_grant(KeyId=key["Arn"], GranteePrincipal=arn_of("blue"), Operations=["Encrypt"],
                             GrantTokens=[g["GrantToken"]])
    assert as_user(server, "blue").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    # ...but not more than it has.
    with aws_error("AccessDeniedException"):
        plain.create_grant(KeyId=key["Arn"], GranteePrincipal=arn_of("red"), Operations=["GenerateDataKey"])
    admin.revoke_grant(KeyId=key["KeyId"], GrantId=sub["GrantId"])
    with aws_error("InvalidGrantTokenException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x", GrantTokens=["not a valid token"])


def test_retire_grant_by_key_and_grant_id(server, admin):
    key = key_with(admin)
    g = admin.create_grant(KeyId=key["KeyId"], GranteePrincipal=arn_of("plain"),
                           RetiringPrincipal=arn_of("blue"), Operations=["Encrypt"])
    with aws_error("AccessDeniedException"):
        as_user(server, "red").retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    as_user(server, "blue").retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_put_key_policy_lockout_and_principals(server, admin):
    key = key_with(admin)
    lockout = doc(allow("kms:Encrypt", principal={"AWS": ROOT}))
    with aws_error("MalformedPolicyDocumentException"):
        admin.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(lockout))
    # The lockout check can be bypassed explicitly; then the admin indeed lost access.
    admin.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(lockout),
                         BypassPolicyLockoutSafetyCheck=True)
    with aws_error("AccessDeniedException"):
        admin.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(doc(
            allow("kms:*", principal={"AWS": ROOT}))))
    ghost = doc(allow("kms:*", principal={"AWS": ROOT}),
                allow("kms:Encrypt", principal={"AWS": f"arn:aws:iam::{ACCT_A}:user/does-not-exist"}))
    with aws_error("MalformedPolicyDocumentException") as err:
        admin.create_key(Policy=json.dumps(ghost))
    assert "invalid principals" in err["Message"]


def test_account_id_principal_means_root(server, admin):
    key = admin.create_key(Policy=json.dumps(doc(allow("kms:*", principal={"AWS": ACCT_A}))))["KeyMetadata"]
    policy = json.loads(admin.get_key_policy(KeyId=key["KeyId"])["Policy"])
    assert admin.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    # IAM allows nothing for plain: delegation to the account gives plain nothing.
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert policy["Statement"][0]["Principal"]["AWS"] in (ACCT_A, ROOT)


def test_list_keys_is_per_account(server, admin):
    mine = {k["KeyId"] for k in admin.list_keys(Limit=1000)["Keys"]}
    b = server.client("kms", root_creds("444455556666"))
    theirs = b.create_key()["KeyMetadata"]["KeyId"]
    assert theirs not in {k["KeyId"] for k in admin.list_keys(Limit=1000)["Keys"]}
    assert mine.isdisjoint({k["KeyId"] for k in b.list_keys(Limit=1000)["Keys"]})


def test_current_time_condition(server, admin):
    past = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                 condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}))
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=past["Arn"], Plaintext=b"x")
    future = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                   condition={"DateLessThan": {"aws:CurrentTime": "2999-01-01T00:00:00Z"}}))
    assert as_user(server, "plain").encrypt(KeyId=future["Arn"], Plaintext=b"x")


def test_mfa_condition_absent_key(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}}))
    with aws_error("AccessDeniedException"):
        as_user(server, "plain").encrypt(KeyId=key["Arn"], Plaintext=b"x")
    key2 = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                 condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}))
    assert as_user(server, "plain").encrypt(KeyId=key2["Arn"], Plaintext=b"x")


def test_unicode_encryption_context_and_description(server, admin):
    key = admin.create_key(Description="clé — 鍵 🔑")["KeyMetadata"]
    assert admin.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"] == "clé — 鍵 🔑"
    ec = {"département": "finances", "鍵": "値"}
    blob = admin.encrypt(KeyId=key["Arn"], Plaintext="données".encode(), EncryptionContext=ec)["CiphertextBlob"]
    assert admin.decrypt(CiphertextBlob=blob, EncryptionContext=ec)["Plaintext"] == "données".encode()
    with aws_error("InvalidCiphertextException"):
        admin.decrypt(CiphertextBlob=blob, EncryptionContext={"departement": "finances", "鍵": "値"})


def test_forwarded_for_header_does_not_change_source_ip(server, admin):
    from kmsd_harness import kms_raw
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")},
                                condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}))
    import base64
    body = {"KeyId": key["Arn"], "Plaintext": base64.b64encode(b"x").decode()}
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        value = "for=203.0.113.7" if header == "Forwarded" else "203.0.113.7"
        r = kms_raw(server.endpoint, user_creds(ACCT_A, "plain"), "Encrypt", body,
                    extra_headers={header: value})
        assert r.status == 400, f"{header}: {r.status} {r.text()}"
        assert r.kms_error_code() == "AccessDeniedException"


def test_grant_to_role_covers_its_sessions(server, admin):
    key = key_with(admin)
    role_arn = f"arn:aws:iam::{ACCT_A}:role/Tagged"
    admin.create_grant(KeyId=key["KeyId"], GranteePrincipal=role_arn, Operations=["GenerateDataKey"])
    sess = session_creds(server.client("sts", user_creds(ACCT_A, "admin")).assume_role(
        RoleArn=role_arn, RoleSessionName="granted"))
    dk = server.client("kms", sess).generate_data_key(KeyId=key["Arn"], KeySpec="AES_128")
    assert len(dk["Plaintext"]) == 16


def test_cross_account_grant_needs_no_iam_policy(server, admin):
    """Case 11: a grant to a principal of another account allows it (and satisfies key trust)."""
    key = key_with(admin)
    dan_arn = "arn:aws:iam::444455556666:user/dan"
    dan = as_user(server, "dan", "444455556666")
    with aws_error("AccessDeniedException"):
        dan.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    g = admin.create_grant(KeyId=key["KeyId"], GranteePrincipal=dan_arn, RetiringPrincipal=dan_arn,
                           Operations=["Encrypt", "Decrypt"])
    blob = dan.encrypt(KeyId=key["Arn"], Plaintext=b"from b", GrantTokens=[g["GrantToken"]])["CiphertextBlob"]
    assert dan.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from b"
    # The bare key id resolves in dan's own account.
    with aws_error("NotFoundException"):
        dan.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    listed = server.client("kms", root_creds("444455556666")).list_retirable_grants(RetiringPrincipal=dan_arn)
    assert g["GrantId"] in {x["GrantId"] for x in listed["Grants"]}
    dan.retire_grant(KeyId=key["Arn"], GrantId=g["GrantId"])
    with aws_error("AccessDeniedException"):
        dan.encrypt(KeyId=key["Arn"], Plaintext=b"x")


# ------------------------------------------- worked cases of shared/spec/iam-evaluation.md §8


def _iam(server):
    return server.client("iam", user_creds(ACCT_A, "admin"))


def _user_with(server, prefix, inline=None, boundary_doc=None):
    iam = _iam(server)
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    for pname, d in (inline or {}).items():
        iam.put_user_policy(UserName=name, PolicyName=pname, PolicyDocument=json.dumps(d))
    if boundary_doc:
        b = iam.create_policy(PolicyName=f"B-{name}", PolicyDocument=json.dumps(boundary_doc))["Policy"]
        iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=b["Arn"])
    return name, server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))


def test_case_19a_user_arn_allow_not_limited_by_boundary(server, admin):
    name, kms = _user_with(server, "c19a", inline={"All": doc(allow("kms:*"))}, boundary_doc=doc(allow("s3:*")))
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of(name)}))
    assert kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    # Through delegation only, the boundary cuts it.
    other = key_with(admin)
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=other["Arn"], Plaintext=b"x")
    assert err["Message"].endswith("because no permissions boundary allows the kms:Encrypt action")


def test_case_19b_role_arn_allow_limited_by_boundary(server, admin):
    iam = _iam(server)
    rname = f"C19b-{uuid.uuid4().hex[:6]}"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": arn_of("admin")}, "Action": "sts:AssumeRole"})
    role = iam.create_role(RoleName=rname, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    iam.put_role_policy(RoleName=rname, PolicyName="All", PolicyDocument=json.dumps(doc(allow("kms:*"))))
    b = iam.create_policy(PolicyName=f"B-{rname}", PolicyDocument=json.dumps(doc(allow("s3:*"))))["Policy"]
    iam.put_role_permissions_boundary(RoleName=rname, PermissionsBoundary=b["Arn"])
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": role["Arn"]}))
    sess = session_creds(server.client("sts", user_creds(ACCT_A, "admin")).assume_role(
        RoleArn=role["Arn"], RoleSessionName="s1"))
    with aws_error("AccessDeniedException") as err:
        server.client("kms", sess).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"].endswith("because no permissions boundary allows the kms:Encrypt action")


def test_case_21_session_arn_allow_not_limited_by_session_policy(server, admin):
    role_arn = f"arn:aws:iam::{ACCT_A}:role/Tagged"
    session_arn = f"arn:aws:sts::{ACCT_A}:assumed-role/Tagged/c21"
    key = key_with(admin, allow("kms:Decrypt", principal={"AWS": session_arn}))
    blob = admin.encrypt(KeyId=key["Arn"], Plaintext=b"c21")["CiphertextBlob"]
    sess = session_creds(server.client("sts", user_creds(ACCT_A, "admin")).assume_role(
        RoleArn=role_arn, RoleSessionName="c21", Policy=json.dumps(doc(allow("kms:Encrypt")))))
    assert server.client("kms", sess).decrypt(CiphertextBlob=blob)["Plaintext"] == b"c21"
    other = session_creds(server.client("sts", user_creds(ACCT_A, "admin")).assume_role(
        RoleArn=role_arn, RoleSessionName="c21b"))
    with aws_error("AccessDeniedException"):
        server.client("kms", other).decrypt(CiphertextBlob=blob)


def test_case_16b_for_all_values_on_empty_set(server, admin):
    key = key_with(admin, allow("kms:Encrypt", principal={"AWS": arn_of("plain")}, condition={
        "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["Department"]}}))
    plain = as_user(server, "plain")
    assert plain.encrypt(KeyId=key["Arn"], Plaintext=b"x")  # no context: the documented trap allows
    assert plain.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Department": "IT"})
    with aws_error("AccessDeniedException"):
        plain.encrypt(KeyId=key["Arn"], Plaintext=b"x", EncryptionContext={"Department": "IT", "Other": "1"})


def test_case_27_negated_condition_on_missing_key_denies(server, admin):
    key = key_with(admin, deny("kms:*", principal="*", sid="VpceOnly",
                               condition={"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b"}}), bypass=True)
    with aws_error("AccessDeniedException") as err:
        admin.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"].endswith("with an explicit deny in a resource-based policy")


def test_case_31_alias_arn_resource_does_not_cover_decrypt(server, admin):
    key = key_with(admin)
    admin.create_alias(AliasName="alias/c31", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{ACCT_A}:alias/c31"
    _, kms = _user_with(server, "c31", inline={"AliasOnly": doc(allow(["kms:Decrypt", "kms:Encrypt"], alias_arn))})
    blob = admin.encrypt(KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId="alias/c31", Plaintext=b"x")
