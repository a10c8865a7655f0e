"""IAM and STS through boto3, and their effect on KMS authorization.

The account root creates users, groups, roles and managed policies at runtime; the
new identities' credentials are then used against KMS, so each test checks both the
IAM API shape and the authorization it produces.
"""

from __future__ import annotations

import json
import uuid

import pytest

from kmsd_harness import aws_error, session_creds
from worlds import ACCT_A, Creds, account, allow, deny, doc, root_creds

REGION = "us-east-1"


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A), account("444455556666")]})


@pytest.fixture(scope="module")
def iam(server):
    return server.client("iam", root_creds(ACCT_A))


@pytest.fixture(scope="module")
def root_kms(server):
    return server.client("kms", root_creds(ACCT_A))


@pytest.fixture(scope="module")
def key(root_kms):
    return root_kms.create_key(Description="iam tests")["KeyMetadata"]


def new_user(iam, prefix: str) -> tuple[str, Creds]:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    u = iam.create_user(UserName=name)["User"]
    assert u["UserName"] == name
    assert u["Arn"] == f"arn:aws:iam::{ACCT_A}:user/{name}"
    assert u["UserId"].startswith("AIDA")
    ak = iam.create_access_key(UserName=name)["AccessKey"]
    assert ak["AccessKeyId"].startswith("AKIA") and len(ak["AccessKeyId"]) == 20
    assert len(ak["SecretAccessKey"]) == 40
    assert ak["Status"] == "Active"
    return name, Creds(ak["AccessKeyId"], ak["SecretAccessKey"])


def denied_because(principal: str, action: str, resource: str, what: str) -> str:
    return (f"User: {principal} is not authorized to perform: {action} on resource: {resource} "
            f"because no {what} allows the {action} action")


# --------------------------------------------------------------------------- users


def test_user_with_inline_policy(server, iam, key):
    name, creds = new_user(iam, "inline")
    arn = f"arn:aws:iam::{ACCT_A}:user/{name}"
    kms = server.client("kms", creds)
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"] == denied_because(arn, "kms:Encrypt", key["Arn"], "identity-based policy")

    pol = doc(allow(["kms:Encrypt", "kms:Decrypt"], key["Arn"]))
    iam.put_user_policy(UserName=name, PolicyName="UseKey", PolicyDocument=json.dumps(pol))
    got = iam.get_user_policy(UserName=name, PolicyName="UseKey")
    assert got["PolicyDocument"] == pol  # botocore URL-decodes and parses the document
    assert iam.list_user_policies(UserName=name)["PolicyNames"] == ["UseKey"]

    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"mine")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"mine"
    with aws_error("AccessDeniedException") as err:
        kms.schedule_key_deletion(KeyId=key["Arn"])
    assert err["Message"] == denied_because(arn, "kms:ScheduleKeyDeletion", key["Arn"], "identity-based policy")
    with aws_error("AccessDenied", 403):
        server.client("iam", creds).list_users()

    iam.delete_user_policy(UserName=name, PolicyName="UseKey")
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_user_errors_and_listing(iam):
    name, _ = new_user(iam, "dup")
    with aws_error("EntityAlreadyExists", 409):
        iam.create_user(UserName=name)
    with aws_error("NoSuchEntity", 404):
        iam.get_user(UserName="no-such-user-here")
    assert iam.get_user(UserName=name)["User"]["UserName"] == name
    assert name in {u["UserName"] for u in iam.list_users()["Users"]}
    keys = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert len(keys) == 1
    with aws_error("DeleteConflict", 409):
        iam.delete_user(UserName=name)
    iam.delete_access_key(UserName=name, AccessKeyId=keys[0]["AccessKeyId"])
    iam.delete_user(UserName=name)
    with aws_error("NoSuchEntity", 404):
        iam.get_user(UserName=name)
    mal, _ = new_user(iam, "mal")
    with aws_error("MalformedPolicyDocument", 400):
        iam.put_user_policy(UserName=mal, PolicyName="bad", PolicyDocument="{nope")


def test_deleted_access_key_stops_working(server, iam):
    name, creds = new_user(iam, "revoked")
    assert server.client("sts", creds).get_caller_identity()["Arn"].endswith(f"user/{name}")
    iam.delete_access_key(UserName=name, AccessKeyId=creds.access_key_id)
    with aws_error("InvalidClientTokenId", 403):
        server.client("sts", creds).get_caller_identity()


def test_explicit_deny_in_identity_policy(server, iam, key):
    name, creds = new_user(iam, "denied")
    arn = f"arn:aws:iam::{ACCT_A}:user/{name}"
    iam.put_user_policy(UserName=name, PolicyName="All", PolicyDocument=json.dumps(doc(allow("kms:*"))))
    iam.put_user_policy(UserName=name, PolicyName="NoDecrypt", PolicyDocument=json.dumps(doc(deny("kms:Decrypt"))))
    kms = server.client("kms", creds)
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("AccessDeniedException") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"] == (f"User: {arn} is not authorized to perform: kms:Decrypt on resource: {key['Arn']} "
                              "with an explicit deny in an identity-based policy")


# -------------------------------------------------------------------------- groups


def test_group_policy(server, iam, key):
    name, creds = new_user(iam, "grouped")
    group = f"g-{uuid.uuid4().hex[:6]}"
    g = iam.create_group(GroupName=group)["Group"]
    assert g["Arn"] == f"arn:aws:iam::{ACCT_A}:group/{group}"
    assert g["GroupId"].startswith("AGPA")
    iam.put_group_policy(GroupName=group, PolicyName="DataKeys",
                         PolicyDocument=json.dumps(doc(allow("kms:GenerateDataKey", key["Arn"]))))
    kms = server.client("kms", creds)
    with aws_error("AccessDeniedException"):
        kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert len(kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")["Plaintext"]) == 32
    iam.remove_user_from_group(GroupName=group, UserName=name)
    with aws_error("AccessDeniedException"):
        kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")


# ---------------------------------------------------------------- managed policies


def test_managed_policy_versions(server, iam, key):
    name, creds = new_user(iam, "managed")
    pname = f"KmsUse-{uuid.uuid4().hex[:6]}"
    p = iam.create_policy(PolicyName=pname, PolicyDocument=json.dumps(doc(allow("kms:Encrypt", key["Arn"]))))["Policy"]
    assert p["Arn"] == f"arn:aws:iam::{ACCT_A}:policy/{pname}"
    assert p["DefaultVersionId"] == "v1"
    assert p["PolicyId"].startswith("ANPA")
    iam.attach_user_policy(UserName=name, PolicyArn=p["Arn"])
    attached = iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]
    assert attached == [{"PolicyName": pname, "PolicyArn": p["Arn"]}]

    kms = server.client("kms", creds)
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"v1")["CiphertextBlob"]
    with aws_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)

    v2_doc = doc(allow(["kms:Encrypt", "kms:Decrypt"], key["Arn"]))
    v2 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(v2_doc), SetAsDefault=False)
    assert v2["PolicyVersion"]["VersionId"] == "v2"
    assert v2["PolicyVersion"]["IsDefaultVersion"] is False
    with aws_error("AccessDeniedException"):
        kms.decrypt(CiphertextBlob=blob)

    v3 = iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(v2_doc), SetAsDefault=True)
    assert v3["PolicyVersion"]["VersionId"] == "v3"
    assert iam.get_policy(PolicyArn=p["Arn"])["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=p["Arn"], VersionId="v3")["PolicyVersion"]
    assert got["Document"] == v2_doc and got["IsDefaultVersion"] is True
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"v1"

    with aws_error("DeleteConflict", 409):
        iam.delete_policy(PolicyArn=p["Arn"])  # still attached
    iam.detach_user_policy(UserName=name, PolicyArn=p["Arn"])
    assert iam.list_attached_user_policies(UserName=name)["AttachedPolicies"] == []
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_permissions_boundary_cuts_permissions(server, iam, key):
    name, creds = new_user(iam, "bounded")
    arn = f"arn:aws:iam::{ACCT_A}:user/{name}"
    iam.put_user_policy(UserName=name, PolicyName="All", PolicyDocument=json.dumps(doc(allow("kms:*"))))
    bname = f"EncryptOnly-{uuid.uuid4().hex[:6]}"
    boundary = iam.create_policy(PolicyName=bname, PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))["Policy"]
    kms = server.client("kms", creds)
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"bounded")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bounded"

    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=boundary["Arn"])
    assert iam.get_user(UserName=name)["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary["Arn"]
    assert kms.encrypt(KeyId=key["Arn"], Plaintext=b"still")["KeyId"] == key["Arn"]
    with aws_error("AccessDeniedException") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"] == denied_because(arn, "kms:Decrypt", key["Arn"], "permissions boundary")

    iam.delete_user_permissions_boundary(UserName=name)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"bounded"


# --------------------------------------------------------------------- roles / STS


@pytest.fixture(scope="module")
def role(server, iam, key):
    """A role trusting the account with an ExternalId condition; role policy allows crypto."""
    name = "ExtRole"
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"},
                 "Action": "sts:AssumeRole", "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}})
    r = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), MaxSessionDuration=3600)["Role"]
    assert r["Arn"] == f"arn:aws:iam::{ACCT_A}:role/{name}"
    assert r["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    iam.put_role_policy(RoleName=name, PolicyName="Crypto",
                        PolicyDocument=json.dumps(doc(allow(["kms:Encrypt", "kms:Decrypt"], key["Arn"]))))
    return r


@pytest.fixture(scope="module")
def assumer(iam, role):
    name, creds = new_user(iam, "assumer")
    iam.put_user_policy(UserName=name, PolicyName="Assume",
                        PolicyDocument=json.dumps(doc(allow("sts:AssumeRole", role["Arn"]))))
    return creds


def test_assume_role_external_id(server, role, assumer, key):
    sts = server.client("sts", assumer)
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="noext")
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="badext", ExternalId="ext-999")
    resp = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="ok", ExternalId="ext-123")
    assert resp["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/ExtRole/ok"
    assert resp["AssumedRoleUser"]["AssumedRoleId"] == f"{role['RoleId']}:ok"
    kms = server.client("kms", session_creds(resp))
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"as role")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"as role"
    with aws_error("AccessDeniedException"):
        kms.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256")


def test_assume_role_needs_identity_policy_when_trust_names_account(server, iam, role):
    _, creds = new_user(iam, "nopolicy")
    with aws_error("AccessDenied", 403):
        server.client("sts", creds).assume_role(RoleArn=role["Arn"], RoleSessionName="xx", ExternalId="ext-123")


def test_session_policy_cuts_permissions(server, role, assumer, key):
    sts = server.client("sts", assumer)
    resp = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="scoped", ExternalId="ext-123",
                           Policy=json.dumps(doc(allow("kms:Encrypt"))))
    session_arn = f"arn:aws:sts::{ACCT_A}:assumed-role/ExtRole/scoped"
    kms = server.client("kms", session_creds(resp))
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"scoped")["CiphertextBlob"]
    with aws_error("AccessDeniedException") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"] == denied_because(session_arn, "kms:Decrypt", key["Arn"], "session policy")


def test_duration_seconds_bounds(server, role, assumer):
    sts = server.client("sts", assumer, validate=False)
    with aws_error("ValidationError", 400) as err:
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="long", ExternalId="ext-123", DurationSeconds=7200)
    assert "DurationSeconds" in err["Message"]
    with aws_error("ValidationError", 400):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="short", ExternalId="ext-123", DurationSeconds=100)
    ok = sts.assume_role(RoleArn=role["Arn"], RoleSessionName="exact", ExternalId="ext-123", DurationSeconds=900)
    import datetime
    exp = ok["Credentials"]["Expiration"]
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now + datetime.timedelta(seconds=800) < exp < now + datetime.timedelta(seconds=1000)


def test_role_session_name_validation(server, role, assumer):
    sts = server.client("sts", assumer, validate=False)
    with aws_error("ValidationError", 400):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="bad name!", ExternalId="ext-123")


def test_role_boundary_and_managed_policy(server, iam, key):
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    rname = f"Bounded-{uuid.uuid4().hex[:6]}"
    role = iam.create_role(RoleName=rname, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    pol = iam.create_policy(PolicyName=f"RoleAll-{rname}", PolicyDocument=json.dumps(doc(allow("kms:*"))))["Policy"]
    iam.attach_role_policy(RoleName=rname, PolicyArn=pol["Arn"])
    assert [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=rname)["AttachedPolicies"]] == [pol["Arn"]]
    b = iam.create_policy(PolicyName=f"RoleEnc-{rname}", PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))["Policy"]
    iam.put_role_permissions_boundary(RoleName=rname, PermissionsBoundary=b["Arn"])
    # As in AWS, the account root cannot assume roles; a user allowed sts:AssumeRole can.
    with aws_error("AccessDenied", 403):
        server.client("sts", root_creds(ACCT_A)).assume_role(RoleArn=role["Arn"], RoleSessionName="bb")
    uname, ucreds = new_user(iam, "boundassumer")
    iam.put_user_policy(UserName=uname, PolicyName="Assume",
                        PolicyDocument=json.dumps(doc(allow("sts:AssumeRole", role["Arn"]))))
    resp = server.client("sts", ucreds).assume_role(RoleArn=role["Arn"], RoleSessionName="bb")
    kms = server.client("kms", session_creds(resp))
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")["CiphertextBlob"]
    with aws_error("AccessDeniedException") as err:
        kms.decrypt(CiphertextBlob=blob)
    assert err["Message"].endswith("because no permissions boundary allows the kms:Decrypt action")


def test_update_assume_role_policy(server, iam, role, assumer):
    name = role["RoleName"]
    old = iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    deny_all = doc({"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"})
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(deny_all))
    try:
        with aws_error("AccessDenied", 403):
            server.client("sts", assumer).assume_role(RoleArn=role["Arn"], RoleSessionName="xx", ExternalId="ext-123")
    finally:
        iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(old))
    assert server.client("sts", assumer).assume_role(RoleArn=role["Arn"], RoleSessionName="yy", ExternalId="ext-123")


def test_cross_account_role_assumption_needs_both_sides(server, iam):
    """A role in 444455556666 trusting 111122223333: a user there needs its own IAM allow too."""
    b_iam = server.client("iam", root_creds("444455556666"))
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    r = b_iam.create_role(RoleName="FromA", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert r["Arn"] == "arn:aws:iam::444455556666:role/FromA"
    name, creds = new_user(iam, "xacct")
    sts = server.client("sts", creds)
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=r["Arn"], RoleSessionName="xx")
    iam.put_user_policy(UserName=name, PolicyName="AssumeB",
                        PolicyDocument=json.dumps(doc(allow("sts:AssumeRole", r["Arn"]))))
    resp = sts.assume_role(RoleArn=r["Arn"], RoleSessionName="xx")
    assert resp["AssumedRoleUser"]["Arn"] == "arn:aws:sts::444455556666:assumed-role/FromA/xx"
    ident = server.client("sts", session_creds(resp)).get_caller_identity()
    assert ident["Account"] == "444455556666"


def test_simulate_principal_policy(server, iam, key):
    name, _ = new_user(iam, "sim")
    iam.put_user_policy(UserName=name, PolicyName="Enc", PolicyDocument=json.dumps(doc(allow("kms:Encrypt", key["Arn"]))))
    res = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCT_A}:user/{name}",
                                        ActionNames=["kms:Encrypt", "kms:Decrypt"], ResourceArns=[key["Arn"]])
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in res["EvaluationResults"]}
    assert decisions == {"kms:Encrypt": "allowed", "kms:Decrypt": "implicitDeny"}


def test_role_chaining_capped_at_one_hour(server, iam, role, assumer):
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    long_role = iam.create_role(RoleName=f"Long-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(trust),
                                MaxSessionDuration=43200)["Role"]
    iam.put_role_policy(RoleName=role["RoleName"], PolicyName="Chain",
                        PolicyDocument=json.dumps(doc(allow("sts:AssumeRole", long_role["Arn"]))))
    first = session_creds(server.client("sts", assumer).assume_role(
        RoleArn=role["Arn"], RoleSessionName="first", ExternalId="ext-123"))
    chained = server.client("sts", first)
    with aws_error("ValidationError", 400):
        chained.assume_role(RoleArn=long_role["Arn"], RoleSessionName="second", DurationSeconds=7200)
    ok = chained.assume_role(RoleArn=long_role["Arn"], RoleSessionName="second", DurationSeconds=3600)
    assert ok["AssumedRoleUser"]["Arn"].endswith(f"assumed-role/{long_role['RoleName']}/second")
    # Without chaining, the long role grants long sessions.
    direct = server.client("sts", assumer)
    iam.put_user_policy(UserName=_user_of(iam, assumer), PolicyName="Long",
                        PolicyDocument=json.dumps(doc(allow("sts:AssumeRole", long_role["Arn"]))))
    resp = direct.assume_role(RoleArn=long_role["Arn"], RoleSessionName="long", DurationSeconds=7200)
    assert resp["Credentials"]["AccessKeyId"].startswith("ASIA")


def _user_of(iam, creds):
    for u in iam.list_users()["Users"]:
        for k in iam.list_access_keys(UserName=u["UserName"])["AccessKeyMetadata"]:
            if k["AccessKeyId"] == creds.access_key_id:
                return u["UserName"]
    raise AssertionError("access key not found")


# ----------------------------------------------------------------------- more IAM


def test_user_tags_and_default_user(server, iam):
    name, creds = new_user(iam, "tagged")
    iam.tag_user(UserName=name, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "env", "Value": "dev"}])
    tags = {t["Key"]: t["Value"] for t in iam.get_user(UserName=name)["User"].get("Tags", [])}
    assert tags == {"team": "blue", "env": "dev"}
    iam.untag_user(UserName=name, TagKeys=["env"])
    assert iam.get_user(UserName=name)["User"]["Tags"] == [{"Key": "team", "Value": "blue"}]
    iam.put_user_policy(UserName=name, PolicyName="Self", PolicyDocument=json.dumps(doc(
        allow("iam:GetUser", f"arn:aws:iam::{ACCT_A}:user/${{aws:username}}"))))
    me = server.client("iam", creds).get_user()["User"]
    assert me["UserName"] == name


def test_role_tags(iam):
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    name = f"TagRole-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description="tagged role")
    iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}])
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Tags"] == [{"Key": "k", "Value": "v"}]
    assert role["Description"] == "tagged role"
    iam.untag_role(RoleName=name, TagKeys=["k"])
    assert iam.get_role(RoleName=name)["Role"].get("Tags", []) == []
    iam.delete_role(RoleName=name)
    with aws_error("NoSuchEntity", 404):
        iam.get_role(RoleName=name)


def test_malformed_trust_policy(iam):
    no_principal = doc({"Effect": "Allow", "Action": "sts:AssumeRole"})
    with aws_error("MalformedPolicyDocument", 400):
        iam.create_role(RoleName=f"Bad-{uuid.uuid4().hex[:6]}", AssumeRolePolicyDocument=json.dumps(no_principal))


def test_inline_policy_changes_apply_immediately(server, iam, key):
    name, creds = new_user(iam, "instant")
    kms = server.client("kms", creds)
    iam.put_user_policy(UserName=name, PolicyName="P", PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))
    assert kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    iam.put_user_policy(UserName=name, PolicyName="P", PolicyDocument=json.dumps(doc(allow("kms:Decrypt"))))
    with aws_error("AccessDeniedException"):
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")


def test_boundary_explicit_deny_named(server, iam, key):
    name, creds = new_user(iam, "bdeny")
    arn = f"arn:aws:iam::{ACCT_A}:user/{name}"
    iam.put_user_policy(UserName=name, PolicyName="All", PolicyDocument=json.dumps(doc(allow("kms:*"))))
    b = iam.create_policy(PolicyName=f"NoEnc-{uuid.uuid4().hex[:6]}",
                          PolicyDocument=json.dumps(doc(allow("kms:*"), deny("kms:Encrypt"))))["Policy"]
    iam.put_user_permissions_boundary(UserName=name, PermissionsBoundary=b["Arn"])
    with aws_error("AccessDeniedException") as err:
        server.client("kms", creds).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"] == (f"User: {arn} is not authorized to perform: kms:Encrypt on resource: {key['Arn']} "
                              "with an explicit deny in a permissions boundary")


def test_session_policy_arns(server, iam, role, assumer, key):
    p = iam.create_policy(PolicyName=f"SessDecrypt-{uuid.uuid4().hex[:6]}",
                          PolicyDocument=json.dumps(doc(allow("kms:Decrypt"))))["Policy"]
    resp = server.client("sts", assumer).assume_role(RoleArn=role["Arn"], RoleSessionName="arns",
                                                     ExternalId="ext-123", PolicyArns=[{"arn": p["Arn"]}])
    kms = server.client("kms", session_creds(resp))
    with aws_error("AccessDeniedException") as err:
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert err["Message"].endswith("because no session policy allows the kms:Encrypt action")
    blob = server.client("kms", root_creds(ACCT_A)).encrypt(KeyId=key["Arn"], Plaintext=b"y")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"y"


def test_list_users_paging(iam):
    for _ in range(3):
        new_user(iam, "page")
    seen, marker = [], None
    while True:
        page = iam.list_users(MaxItems=2, **({"Marker": marker} if marker else {}))
        assert len(page["Users"]) <= 2
        seen += [u["UserName"] for u in page["Users"]]
        if not page.get("IsTruncated"):
            break
        marker = page["Marker"]
    assert len(seen) == len(set(seen))
    assert set(seen) == {u["UserName"] for u in iam.list_users(MaxItems=1000)["Users"]}
    assert len(seen) >= 3


def test_simulate_principal_policy_details(server, iam, root_kms):
    name, _ = new_user(iam, "simd")
    arn = f"arn:aws:iam::{ACCT_A}:user/{name}"
    iam.put_user_policy(UserName=name, PolicyName="EncOnly", PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))
    # A key whose policy names the user directly: included by the server without being passed in.
    key = root_kms.create_key(Policy=json.dumps(doc(
        allow("kms:*", principal={"AWS": f"arn:aws:iam::{ACCT_A}:root"}),
        allow("kms:Decrypt", principal={"AWS": arn}, sid="DirectDecrypt"))))["KeyMetadata"]
    res = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["kms:Encrypt", "kms:Decrypt",
                                                                         "kms:DisableKey"],
                                        ResourceArns=[key["Arn"]])["EvaluationResults"]
    by = {r["EvalActionName"]: r for r in res}
    assert by["kms:Encrypt"]["EvalDecision"] == "allowed"
    assert by["kms:Decrypt"]["EvalDecision"] == "allowed"
    assert by["kms:DisableKey"]["EvalDecision"] == "implicitDeny"
    enc = {(m["SourcePolicyId"], m["SourcePolicyType"]) for m in by["kms:Encrypt"]["MatchedStatements"]}
    assert ("EncOnly", "user") in enc, enc
    dec = {m["SourcePolicyType"] for m in by["kms:Decrypt"]["MatchedStatements"]}
    assert "resource" in dec, by["kms:Decrypt"]["MatchedStatements"]


def test_simulate_custom_policy(iam):
    pol = json.dumps(doc(allow("kms:Decrypt", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
                         deny("kms:ScheduleKeyDeletion")))
    res = iam.simulate_custom_policy(PolicyInputList=[pol], ActionNames=["kms:Decrypt", "kms:ScheduleKeyDeletion",
                                                                         "kms:Encrypt"],
                                     ContextEntries=[{"ContextKeyName": "aws:SourceIp", "ContextKeyValues": ["10.1.1.1"],
                                                      "ContextKeyType": "ip"}])["EvaluationResults"]
    by = {r["EvalActionName"]: r["EvalDecision"] for r in res}
    assert by == {"kms:Decrypt": "allowed", "kms:ScheduleKeyDeletion": "explicitDeny", "kms:Encrypt": "implicitDeny"}
    res = iam.simulate_custom_policy(PolicyInputList=[pol], ActionNames=["kms:Decrypt"])["EvaluationResults"]
    assert res[0]["EvalDecision"] == "implicitDeny"
    assert "aws:SourceIp" in res[0].get("MissingContextValues", [])


def test_get_caller_identity_needs_no_permission(server, iam):
    name, creds = new_user(iam, "denyall")
    iam.put_user_policy(UserName=name, PolicyName="DenyAll", PolicyDocument=json.dumps(doc(deny("*"))))
    ident = server.client("sts", creds).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::{ACCT_A}:user/{name}"
    assert ident["UserId"].startswith("AIDA") and ident["Account"] == ACCT_A
    root = server.client("sts", root_creds(ACCT_A)).get_caller_identity()
    assert root == {**root, "Arn": f"arn:aws:iam::{ACCT_A}:root", "UserId": ACCT_A, "Account": ACCT_A}


@pytest.mark.parametrize("region", ["eu-west-1", "ap-southeast-2"])
def test_iam_and_sts_accept_any_signing_region(server, region):
    iam_r = server.client("iam", root_creds(ACCT_A), region=region)
    assert isinstance(iam_r.list_users()["Users"], list)
    assert server.client("sts", root_creds(ACCT_A), region=region).get_caller_identity()["Account"] == ACCT_A


def test_iam_limits_and_conflicts(iam):
    name, _ = new_user(iam, "limits")
    iam.create_access_key(UserName=name)
    with aws_error("LimitExceeded", 409):
        iam.create_access_key(UserName=name)
    with aws_error("NoSuchEntity", 404):
        iam.attach_user_policy(UserName=name, PolicyArn=f"arn:aws:iam::{ACCT_A}:policy/NoSuchPolicy")
    p = iam.create_policy(PolicyName=f"Versions-{uuid.uuid4().hex[:6]}",
                          PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))["Policy"]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))
    with aws_error("LimitExceeded", 409):
        iam.create_policy_version(PolicyArn=p["Arn"], PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))
    # As in AWS, a policy with several versions cannot be deleted before its other versions.
    with aws_error("DeleteConflict", 409):
        iam.delete_policy(PolicyArn=p["Arn"])
    with aws_error("DeleteConflict", 409):
        iam.delete_policy_version(PolicyArn=p["Arn"], VersionId="v1")  # the default version
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=p["Arn"], VersionId=v)
    iam.delete_policy(PolicyArn=p["Arn"])
    with aws_error("NoSuchEntity", 404):
        iam.get_policy(PolicyArn=p["Arn"])

    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    rname = f"Conflict-{uuid.uuid4().hex[:6]}"
    iam.create_role(RoleName=rname, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=rname, PolicyName="P", PolicyDocument=json.dumps(doc(allow("kms:Encrypt"))))
    with aws_error("DeleteConflict", 409):
        iam.delete_role(RoleName=rname)
    assert iam.list_role_policies(RoleName=rname)["PolicyNames"] == ["P"]
    iam.delete_role_policy(RoleName=rname, PolicyName="P")
    iam.delete_role(RoleName=rname)


def test_ciphertext_of_inaccessible_foreign_key(server, root_kms):
    b_kms = server.client("kms", root_creds("444455556666"))
    b_key = b_kms.create_key()["KeyMetadata"]
    blob = b_kms.encrypt(KeyId=b_key["KeyId"], Plaintext=b"b's secret")["CiphertextBlob"]
    with aws_error("AccessDeniedException") as err:
        root_kms.decrypt(CiphertextBlob=blob)
    assert "b's secret" not in err["Message"]
    assert b_kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"b's secret"


def test_assume_role_edge_cases(server, iam, role, assumer):
    sts = server.client("sts", assumer)
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=f"arn:aws:iam::{ACCT_A}:role/NoSuchRole", RoleSessionName="ghost")
    # Session tags need sts:TagSession in the trust policy (ExtRole's trust allows only sts:AssumeRole).
    with aws_error("AccessDenied", 403):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="tags", ExternalId="ext-123",
                        Tags=[{"Key": "k", "Value": "v"}])
    with aws_error("MalformedPolicyDocument", 400):
        sts.assume_role(RoleArn=role["Arn"], RoleSessionName="badpol", ExternalId="ext-123", Policy="{not json")


def test_group_managed_policy(server, iam, key):
    name, creds = new_user(iam, "gmp")
    group = f"gm-{uuid.uuid4().hex[:6]}"
    iam.create_group(GroupName=group)
    p = iam.create_policy(PolicyName=f"GroupEnc-{uuid.uuid4().hex[:6]}",
                          PolicyDocument=json.dumps(doc(allow("kms:Encrypt", key["Arn"]))))["Policy"]
    iam.attach_group_policy(GroupName=group, PolicyArn=p["Arn"])
    assert [x["PolicyArn"] for x in iam.list_attached_group_policies(GroupName=group)["AttachedPolicies"]] == [p["Arn"]]
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert server.client("kms", creds).encrypt(KeyId=key["Arn"], Plaintext=b"x")
    iam.detach_group_policy(GroupName=group, PolicyArn=p["Arn"])
    with aws_error("AccessDeniedException"):
        server.client("kms", creds).encrypt(KeyId=key["Arn"], Plaintext=b"x")
