"""IAM/STS behaviours checked against AWS's documentation (conformance review).

Each test pins one documented AWS behaviour that the other modules do not already cover:
- AssumeRole `SourceIdentity`: the role trust policy must allow `sts:SetSourceIdentity`
  (IAM User Guide, "Monitor and control actions taken with assumed roles"), the value is
  validated like the model says (2..64 chars, `[\\w+=,.@-]*`) and echoed in the result.
- AssumeRole session tags need `sts:TagSession` in the trust policy.
"""

from __future__ import annotations

import json
import uuid

import pytest

from kmsd_harness import aws_error
from worlds import ACCT_A, ACCT_B, Creds, account, doc, root_creds, user, user_creds

REGION = "us-east-1"
ASSUMER = f"arn:aws:iam::{ACCT_A}:user/assumer"


@pytest.fixture(scope="module")
def server(module_launch):
    world = {"accounts": [
        account(ACCT_A, users=[user(ACCT_A, "assumer")]),
        account(ACCT_B, users=[user(ACCT_B, "bob", inline={"Kms": doc(
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})})]),
    ]}
    return module_launch(world, region=REGION)


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam", root_creds(ACCT_A))


@pytest.fixture(scope="module")
def sts(server):
    return server.client("sts", user_creds(ACCT_A, "assumer"), validate=False)


def new_role(iam, actions) -> str:
    """A role whose trust policy lets `assumer` perform `actions`; returns its ARN."""
    name = f"r-{uuid.uuid4().hex[:8]}"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": ASSUMER}, "Action": actions})
    return iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def test_source_identity_needs_set_source_identity_in_trust_policy(iam, sts):
    role = new_role(iam, "sts:AssumeRole")
    with aws_error("AccessDenied", 403) as err:
        sts.assume_role(RoleArn=role, RoleSessionName="s1", SourceIdentity="alice")
    assert err["Message"] == (f"User: {ASSUMER} is not authorized to perform: "
                              f"sts:SetSourceIdentity on resource: {role}")
    # Without a source identity the same role is assumable.
    resp = sts.assume_role(RoleArn=role, RoleSessionName="s1")
    assert "SourceIdentity" not in resp


def test_source_identity_is_echoed_when_allowed(iam, sts):
    role = new_role(iam, ["sts:AssumeRole", "sts:SetSourceIdentity"])
    resp = sts.assume_role(RoleArn=role, RoleSessionName="s2", SourceIdentity="alice@example.com")
    assert resp["SourceIdentity"] == "alice@example.com"
    assert resp["AssumedRoleUser"]["Arn"].endswith(":assumed-role/" + role.split("/")[-1] + "/s2")


def test_source_identity_condition_in_trust_policy(iam, sts):
    name = f"r-{uuid.uuid4().hex[:8]}"
    trust = doc(
        {"Effect": "Allow", "Principal": {"AWS": ASSUMER}, "Action": "sts:AssumeRole"},
        {"Effect": "Allow", "Principal": {"AWS": ASSUMER}, "Action": "sts:SetSourceIdentity",
         "Condition": {"StringLike": {"sts:SourceIdentity": "*@example.com"}}},
    )
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assert sts.assume_role(RoleArn=role, RoleSessionName="ok",
                           SourceIdentity="bob@example.com")["SourceIdentity"] == "bob@example.com"
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role, RoleSessionName="no", SourceIdentity="bob@elsewhere.org")


@pytest.mark.parametrize("value", ["a", "x" * 65, "has space"])
def test_source_identity_validation(iam, sts, value):
    role = new_role(iam, ["sts:AssumeRole", "sts:SetSourceIdentity"])
    with aws_error("ValidationError", 400) as err:
        sts.assume_role(RoleArn=role, RoleSessionName="s3", SourceIdentity=value)
    assert "at 'sourceIdentity' failed to satisfy constraint" in err["Message"]


def test_session_tags_need_tag_session(iam, sts):
    role = new_role(iam, "sts:AssumeRole")
    with aws_error("AccessDenied", 403) as err:
        sts.assume_role(RoleArn=role, RoleSessionName="t1", Tags=[{"Key": "team", "Value": "blue"}])
    assert "sts:TagSession" in err["Message"]
    tagged = new_role(iam, ["sts:AssumeRole", "sts:TagSession"])
    sts.assume_role(RoleArn=tagged, RoleSessionName="t2", Tags=[{"Key": "team", "Value": "blue"}])


def test_trust_policy_may_only_specify_sts_actions(iam):
    """IAM rejects a trust policy whose actions are not STS actions (MalformedPolicyDocument,
    "AssumeRole policy may only specify STS AssumeRole actions.")."""
    name = f"r-{uuid.uuid4().hex[:8]}"
    bad = doc({"Effect": "Allow", "Principal": {"AWS": ASSUMER}, "Action": ["sts:AssumeRole", "kms:Decrypt"]})
    with aws_error("MalformedPolicyDocument", 400) as err:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(bad))
    assert "may only specify STS AssumeRole actions" in err["Message"]
    role = new_role(iam, ["sts:AssumeRole", "sts:TagSession"])
    with aws_error("MalformedPolicyDocument", 400):
        iam.update_assume_role_policy(RoleName=role.split("/")[-1], PolicyDocument=json.dumps(bad))


def test_update_role_description_and_max_session_duration(server, iam, sts):
    """UpdateRole changes Description and MaxSessionDuration (3600..43200); AssumeRole's
    DurationSeconds is then bounded by the new maximum."""
    role = new_role(iam, "sts:AssumeRole")
    name = role.split("/")[-1]
    with aws_error("ValidationError", 400):
        sts.assume_role(RoleArn=role, RoleSessionName="long", DurationSeconds=7200)
    iam.update_role(RoleName=name, Description="updated", MaxSessionDuration=7200)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["Description"] == "updated"
    assert got["MaxSessionDuration"] == 7200
    sts.assume_role(RoleArn=role, RoleSessionName="long", DurationSeconds=7200)
    unchecked = server.client("iam", root_creds(ACCT_A), validate=False)
    for bad in (3599, 43201):
        with aws_error("ValidationError", 400):
            unchecked.update_role(RoleName=name, MaxSessionDuration=bad)
    with aws_error("NoSuchEntity", 404):
        iam.update_role(RoleName="no-such-role", Description="x")


def test_transitive_session_tags_pass_through_role_chaining(server, iam, sts):
    """IAM User Guide, "Chaining roles with session tags" / AssumeRole `Tags`: a session
    created with temporary credentials inherits the caller's transitive session tags (not the
    others), and passing a session tag with the same key as an inherited one fails."""
    from kmsd_harness import session_creds

    first = new_role(iam, ["sts:AssumeRole", "sts:TagSession"])
    iam.put_role_policy(RoleName=first.split("/")[-1], PolicyName="Chain",
                        PolicyDocument=json.dumps(doc({"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession"],
                                                       "Resource": "*"})))
    name = f"r-{uuid.uuid4().hex[:8]}"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": first}, "Action": ["sts:AssumeRole", "sts:TagSession"]})
    second = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="ByTag", PolicyDocument=json.dumps(doc(
        {"Effect": "Allow", "Action": "kms:ListKeys", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
        {"Effect": "Allow", "Action": "kms:ListAliases", "Resource": "*",
         "Condition": {"StringEquals": {"aws:PrincipalTag/scratch": "1"}}},
    )))
    s1 = sts.assume_role(RoleArn=first, RoleSessionName="hop1",
                         Tags=[{"Key": "team", "Value": "blue"}, {"Key": "scratch", "Value": "1"}],
                         TransitiveTagKeys=["team"])
    sts1 = server.client("sts", session_creds(s1), validate=False)
    s2 = sts1.assume_role(RoleArn=second, RoleSessionName="hop2")
    kms2 = server.client("kms", session_creds(s2))
    kms2.list_keys()  # team=blue was inherited
    with aws_error("AccessDeniedException", 400):
        kms2.list_aliases()  # scratch was not transitive
    with aws_error("InvalidParameterValue", 400):
        sts1.assume_role(RoleArn=second, RoleSessionName="hop2b", Tags=[{"Key": "TEAM", "Value": "red"}])


def test_source_identity_persists_through_role_chaining(server, iam, sts):
    """IAM User Guide, "Monitor and control actions taken with assumed roles": the source
    identity set on a session persists when that session assumes another role and cannot be
    changed."""
    from kmsd_harness import session_creds

    first = new_role(iam, ["sts:AssumeRole", "sts:SetSourceIdentity"])
    iam.put_role_policy(RoleName=first.split("/")[-1], PolicyName="Chain",
                        PolicyDocument=json.dumps(doc({"Effect": "Allow", "Action": "sts:*", "Resource": "*"})))
    name = f"r-{uuid.uuid4().hex[:8]}"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": first},
                 "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]})
    second = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    s1 = sts.assume_role(RoleArn=first, RoleSessionName="hop1", SourceIdentity="carol")
    sts1 = server.client("sts", session_creds(s1), validate=False)
    assert sts1.assume_role(RoleArn=second, RoleSessionName="hop2")["SourceIdentity"] == "carol"
    assert sts1.assume_role(RoleArn=second, RoleSessionName="hop3",
                            SourceIdentity="carol")["SourceIdentity"] == "carol"
    with aws_error("AccessDenied", 403):
        sts1.assume_role(RoleArn=second, RoleSessionName="hop4", SourceIdentity="mallory")


def test_get_session_token_credentials_cannot_call_iam(server, iam):
    """STS GetSessionToken: the temporary credentials "cannot call IAM API operations unless
    MFA authentication information is included in the request" and cannot call STS except
    AssumeRole and GetCallerIdentity; KMS works as the user."""
    from kmsd_harness import session_creds

    user_name = f"gst-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user_name)
    iam.put_user_policy(UserName=user_name, PolicyName="All", PolicyDocument=json.dumps(
        doc({"Effect": "Allow", "Action": ["iam:*", "kms:*", "sts:*"], "Resource": "*"})))
    ak = iam.create_access_key(UserName=user_name)["AccessKey"]
    from worlds import Creds
    long_term = Creds(ak["AccessKeyId"], ak["SecretAccessKey"])
    server.client("iam", long_term).get_user()  # the long-term key may
    temp = session_creds(server.client("sts", long_term).get_session_token(DurationSeconds=900))
    with aws_error("InvalidClientTokenId", 403):
        server.client("iam", temp).get_user()
    with aws_error("AccessDenied", 403):
        server.client("sts", temp).get_session_token()
    ident = server.client("sts", temp).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCT_A}:user/{user_name}"
    server.client("kms", temp).list_keys()


def test_simulator_eval_decision_details(server, iam):
    """SimulatePrincipalPolicy EvalDecisionDetails: absent when the resource is `*`, present
    but empty within one account, and per policy type for a cross-account simulation."""
    key = server.client("kms", root_creds(ACCT_A)).create_key()["KeyMetadata"]
    own = f"arn:aws:iam::{ACCT_A}:user/assumer"
    r = iam.simulate_principal_policy(PolicySourceArn=own, ActionNames=["kms:Decrypt"])
    assert "EvalDecisionDetails" not in r["EvaluationResults"][0]
    r = iam.simulate_principal_policy(PolicySourceArn=own, ActionNames=["kms:Decrypt"],
                                      ResourceArns=[key["Arn"]])
    assert r["EvaluationResults"][0]["EvalDecisionDetails"] == {}
    bob = f"arn:aws:iam::{ACCT_B}:user/bob"
    r = server.client("iam", root_creds(ACCT_B)).simulate_principal_policy(
        PolicySourceArn=bob, ActionNames=["kms:Decrypt"], ResourceArns=[key["Arn"]])
    res = r["EvaluationResults"][0]
    # Bob's own policy allows; the key's default policy does not name account B.
    assert res["EvalDecision"] == "implicitDeny"
    assert res["EvalDecisionDetails"] == {"IAM Policy": "allowed", "Resource Policy": "implicitDeny"}


def test_aws_managed_policies(server, iam):
    """AWS managed policies (arn:aws:iam::aws:policy/NAME) can be read, listed with Scope
    AWS, attached and used as a permissions boundary; AdministratorAccess is Allow * on *.
    Worked case 7: AdministratorAccess does not help against a key policy that names only
    someone else."""
    from worlds import Creds

    admin_arn = "arn:aws:iam::aws:policy/AdministratorAccess"
    got = iam.get_policy(PolicyArn=admin_arn)["Policy"]
    assert got["PolicyName"] == "AdministratorAccess" and got["Arn"] == admin_arn
    version = iam.get_policy_version(PolicyArn=admin_arn, VersionId=got["DefaultVersionId"])
    assert version["PolicyVersion"]["Document"]["Statement"] == [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]
    names = [p["PolicyName"] for p in iam.list_policies(Scope="AWS")["Policies"]]
    assert "AdministratorAccess" in names
    assert all(p["Arn"].startswith("arn:aws:iam::") and ":aws:" not in p["Arn"]
               for p in iam.list_policies(Scope="Local")["Policies"])

    name = f"adm-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    kms = server.client("kms", Creds(ak["AccessKeyId"], ak["SecretAccessKey"]))
    root_kms = server.client("kms", root_creds(ACCT_A))
    open_key = root_kms.create_key()["KeyMetadata"]
    with aws_error("AccessDeniedException", 400):
        kms.describe_key(KeyId=open_key["Arn"])
    iam.attach_user_policy(UserName=name, PolicyArn=admin_arn)
    attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
    assert attached == [{"PolicyName": "AdministratorAccess", "PolicyArn": admin_arn}]
    kms.describe_key(KeyId=open_key["Arn"])  # default key policy delegates to IAM
    closed = root_kms.create_key(Policy=json.dumps(doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "kms:*",
         "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalType": "Account"}}},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:user/assumer"},
         "Action": "kms:*", "Resource": "*"})))["KeyMetadata"]
    with aws_error("AccessDeniedException", 400):
        kms.describe_key(KeyId=closed["Arn"])
    # A boundary of the KMS power-user policy still allows DescribeKey, not Encrypt.
    iam.put_user_permissions_boundary(
        UserName=name, PermissionsBoundary="arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser")
    kms.describe_key(KeyId=open_key["Arn"])
    with aws_error("AccessDeniedException", 400):
        kms.encrypt(KeyId=open_key["Arn"], Plaintext=b"x")
    with aws_error("NoSuchEntity", 404):
        iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/NoSuchManagedPolicy")


def test_world_file_may_attach_aws_managed_policies(launch):
    """A world file may name AWS managed policies in managed_policies."""
    world = {"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "ops", managed_policies=["arn:aws:iam::aws:policy/AdministratorAccess"]),
    ])]}
    srv = launch(world)
    kms = srv.client("kms", user_creds(ACCT_A, "ops"))
    key = kms.create_key()["KeyMetadata"]
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def _session_kms(server, sts, role, **kw):
    c = sts.assume_role(RoleArn=role, RoleSessionName=f"s-{uuid.uuid4().hex[:6]}", **kw)["Credentials"]
    return server.client("kms", Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]))


def test_source_identity_is_in_the_request_context_of_the_session(server, iam, sts):
    """A role session carries aws:SourceIdentity into every request it makes (IAM User
    Guide, "Monitor and control actions taken with assumed roles"): a KMS permission
    conditioned on it applies only to sessions with that source identity."""
    role = new_role(iam, ["sts:AssumeRole", "sts:SetSourceIdentity"])
    iam.put_role_policy(RoleName=role.split("/")[-1], PolicyName="kms", PolicyDocument=json.dumps(doc(
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:SourceIdentity": "alice"}}})))
    key = server.client("kms", root_creds(ACCT_A)).create_key()["KeyMetadata"]["Arn"]
    _session_kms(server, sts, role, SourceIdentity="alice").encrypt(KeyId=key, Plaintext=b"x")
    for kw in ({"SourceIdentity": "bob"}, {}):
        with aws_error("AccessDeniedException", 400):
            _session_kms(server, sts, role, **kw).encrypt(KeyId=key, Plaintext=b"x")


def test_resource_account_is_the_keys_account(server, iam, sts):
    """aws:ResourceAccount (global condition key) is the account that owns the KMS key."""
    role = new_role(iam, "sts:AssumeRole")
    name = role.split("/")[-1]
    iam.put_role_policy(RoleName=name, PolicyName="kms", PolicyDocument=json.dumps(doc(
        {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceAccount": ACCT_A}}},
        {"Effect": "Allow", "Action": "kms:DescribeKey", "Resource": "*",
         "Condition": {"StringEquals": {"aws:ResourceAccount": ACCT_B}}})))
    key = server.client("kms", root_creds(ACCT_A)).create_key()["KeyMetadata"]["Arn"]
    kms = _session_kms(server, sts, role)
    kms.encrypt(KeyId=key, Plaintext=b"x")
    with aws_error("AccessDeniedException", 400):
        kms.describe_key(KeyId=key)
