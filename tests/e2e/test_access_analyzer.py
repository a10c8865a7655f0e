"""IAM Access Analyzer's ValidatePolicy, CheckNoNewAccess, CheckAccessNotGranted and
CheckNoPublicAccess through
boto3's own accessanalyzer client (restJson1, SigV4 service access-analyzer, same listener),
authorized by the caller's IAM policies like AWS."""

import json

import pytest
from botocore.exceptions import ClientError

from worlds import ACCT_A, account, allow, doc, root_creds, user, user_creds

KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "Use", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:role/App"},
         "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"},
    ],
}


@pytest.fixture(scope="module")
def server(module_launch):
    return module_launch({"accounts": [account(ACCT_A, users=[
        user(ACCT_A, "analyst", inline={"aa": doc(allow(["access-analyzer:ValidatePolicy"]))}),
        user(ACCT_A, "nobody"),
    ])]})


@pytest.fixture(scope="module")
def aa(server):
    return server.client("accessanalyzer", root_creds(ACCT_A))


def test_validate_policy_clean_and_findings(aa):
    assert aa.validate_policy(policyDocument=json.dumps(KEY_POLICY),
                              policyType="RESOURCE_POLICY")["findings"] == []
    text = json.dumps({"Statement": [{"Effect": "Allow", "Action": ["kms:Decryptt"],
                                      "Resource": "*"}]}, indent=2)
    findings = aa.validate_policy(policyDocument=text, policyType="IDENTITY_POLICY")["findings"]
    by_code = {f["issueCode"]: f for f in findings}
    assert by_code["MISSING_VERSION"]["findingType"] == "WARNING"
    f = by_code["INVALID_ACTION"]
    assert f["findingType"] == "ERROR" and "kms:Decrypt" in f["findingDetails"]
    assert f["learnMoreLink"].startswith("https://docs.aws.amazon.com/")
    loc = f["locations"][0]
    assert loc["path"][-1] == {"value": "kms:Decryptt"}
    start, end = loc["span"]["start"]["offset"], loc["span"]["end"]["offset"]
    assert text[start:end] == '"kms:Decryptt"'


def test_validate_trust_policy_and_public_key_policy(aa):
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"},
         "Action": "sts:AssumeRole", "Resource": "*"}]}
    findings = aa.validate_policy(policyDocument=json.dumps(trust), policyType="RESOURCE_POLICY",
                                  validatePolicyResourceType="AWS::IAM::AssumeRolePolicyDocument")["findings"]
    assert [f["issueCode"] for f in findings] == ["ROLE_TRUST_POLICY_SYNTAX_ERROR_RESOURCE"]
    public = json.loads(json.dumps(KEY_POLICY))
    public["Statement"][1]["Principal"] = "*"
    findings = aa.validate_policy(policyDocument=json.dumps(public),
                                  policyType="RESOURCE_POLICY")["findings"]
    assert {(f["findingType"], f["issueCode"]) for f in findings} == {
        ("SECURITY_WARNING", "PUBLIC_ACCESS_WITHOUT_CONDITION")}


def test_check_no_new_access(aa):
    same = aa.check_no_new_access(newPolicyDocument=json.dumps(KEY_POLICY),
                                  existingPolicyDocument=json.dumps(KEY_POLICY),
                                  policyType="RESOURCE_POLICY")
    assert same["result"] == "PASS" and same["reasons"] == []
    wider = json.loads(json.dumps(KEY_POLICY))
    wider["Statement"][1]["Action"].append("kms:ReEncryptFrom")
    out = aa.check_no_new_access(newPolicyDocument=json.dumps(wider),
                                 existingPolicyDocument=json.dumps(KEY_POLICY),
                                 policyType="RESOURCE_POLICY")
    assert out["result"] == "FAIL"
    assert [(r["statementIndex"], r.get("statementId")) for r in out["reasons"]] == [(1, "Use")]
    # Narrowing is not new access.
    out = aa.check_no_new_access(newPolicyDocument=json.dumps(KEY_POLICY),
                                 existingPolicyDocument=json.dumps(wider),
                                 policyType="RESOURCE_POLICY")
    assert out["result"] == "PASS"
    # Identity policies; a condition that narrows is no new access, removing it is.
    cond = doc(allow(["kms:Decrypt"], condition={"StringEquals": {"kms:EncryptionContext:app": "web"}}))
    free = doc(allow(["kms:Decrypt"]))
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(cond), existingPolicyDocument=json.dumps(free),
                                  policyType="IDENTITY_POLICY")["result"] == "PASS"
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(free), existingPolicyDocument=json.dumps(cond),
                                  policyType="IDENTITY_POLICY")["result"] == "FAIL"


def test_check_access_not_granted(aa):
    out = aa.check_access_not_granted(policyDocument=json.dumps(KEY_POLICY),
                                      access=[{"actions": ["kms:ScheduleKeyDeletion"]}],
                                      policyType="RESOURCE_POLICY")
    assert out["result"] == "FAIL" and out["reasons"][0]["statementIndex"] == 0
    narrow = {"Version": "2012-10-17", "Statement": [KEY_POLICY["Statement"][1]]}
    out = aa.check_access_not_granted(policyDocument=json.dumps(narrow),
                                      access=[{"actions": ["kms:ScheduleKeyDeletion"]}],
                                      policyType="RESOURCE_POLICY")
    assert out["result"] == "PASS"


def test_bad_input_is_a_validation_error(aa):
    with pytest.raises(ClientError) as e:
        aa.check_access_not_granted(policyDocument=json.dumps(KEY_POLICY),
                                    access=[{"actions": ["kms:ScheduleKeyDeletoin"]}],
                                    policyType="RESOURCE_POLICY")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "kms:ScheduleKeyDeletion" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        aa.check_no_new_access(newPolicyDocument="{", existingPolicyDocument=json.dumps(KEY_POLICY),
                               policyType="RESOURCE_POLICY")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_authorized_by_iam_policies(server):
    analyst = server.client("accessanalyzer", user_creds(ACCT_A, "analyst"))
    assert analyst.validate_policy(policyDocument=json.dumps(KEY_POLICY),
                                   policyType="RESOURCE_POLICY")["findings"] == []
    with pytest.raises(ClientError) as e:
        analyst.check_no_new_access(newPolicyDocument=json.dumps(KEY_POLICY),
                                    existingPolicyDocument=json.dumps(KEY_POLICY),
                                    policyType="RESOURCE_POLICY")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "access-analyzer:CheckNoNewAccess" in e.value.response["Error"]["Message"]
    nobody = server.client("accessanalyzer", user_creds(ACCT_A, "nobody"))
    with pytest.raises(ClientError) as e:
        nobody.validate_policy(policyDocument="{}", policyType="IDENTITY_POLICY")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_wrong_signing_service_is_refused(server):
    """A request to an Access Analyzer path signed for "kms" is refused like AWS refuses a
    credential scope for another service."""
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import urllib3

    c = root_creds(ACCT_A)
    body = json.dumps({"policyDocument": "{}", "policyType": "IDENTITY_POLICY"})
    status = {}
    for service in ("kms", "access-analyzer"):
        req = botocore.awsrequest.AWSRequest(method="POST", url=server.endpoint + "/policy/validation",
                                             data=body, headers={"Content-Type": "application/json"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(c.access_key_id, c.secret_access_key,
                                                                 c.session_token),
                                service, "us-east-1").add_auth(req)
        prepared = req.prepare()
        r = urllib3.PoolManager().request("POST", prepared.url, body=prepared.body,
                                          headers=dict(prepared.headers.items()))
        status[service] = (r.status, json.loads(r.data or b"{}"))
    assert status["access-analyzer"][0] == 200, status
    assert status["kms"][0] in (400, 403), status
    assert "access-analyzer" in status["kms"][1].get("message", ""), status


def test_simulate_refuses_typos_naming_the_nearest(server):
    iam = server.client("iam", root_creds(ACCT_A))
    policy = json.dumps(doc(allow(["kms:Decrypt"])))
    ok = iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["kms:Decrypt"])
    assert ok["EvaluationResults"][0]["EvalDecision"] == "allowed"
    with pytest.raises(ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["kms:Decryptt"])
    assert e.value.response["Error"]["Code"] == "InvalidInput"
    assert "Did you mean kms:Decrypt?" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        iam.simulate_custom_policy(PolicyInputList=[policy], ActionNames=["kms:Decrypt"],
                                   ContextEntries=[{"ContextKeyName": "kms:CallerAcount",
                                                    "ContextKeyValues": ["1"], "ContextKeyType": "string"}])
    assert e.value.response["Error"]["Code"] == "InvalidInput"
    assert "kms:calleraccount" in e.value.response["Error"]["Message"]


TRUST = {"Version": "2012-10-17", "Statement": [
    {"Sid": "Bob", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:user/bob"},
     "Action": "sts:AssumeRole"}]}


def test_check_no_new_access_trust_policies(aa):
    """RESOURCE_POLICY documents whose actions are all sts: are read as role trust policies."""
    same = aa.check_no_new_access(newPolicyDocument=json.dumps(TRUST), existingPolicyDocument=json.dumps(TRUST),
                                  policyType="RESOURCE_POLICY")
    assert same["result"] == "PASS"
    wider = json.loads(json.dumps(TRUST))
    wider["Statement"].append({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": "444455556666"},
                               "Action": "sts:AssumeRole"})
    out = aa.check_no_new_access(newPolicyDocument=json.dumps(wider), existingPolicyDocument=json.dumps(TRUST),
                                 policyType="RESOURCE_POLICY")
    assert out["result"] == "FAIL"
    assert [(r["statementIndex"], r.get("statementId")) for r in out["reasons"]] == [(1, "Partner")]
    # An external id condition narrows: no new access; dropping it is.
    narrowed = json.loads(json.dumps(wider))
    narrowed["Statement"][1]["Condition"] = {"StringEquals": {"sts:ExternalId": "partner-1"}}
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(narrowed), existingPolicyDocument=json.dumps(wider),
                                  policyType="RESOURCE_POLICY")["result"] == "PASS"
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(wider), existingPolicyDocument=json.dumps(narrowed),
                                  policyType="RESOURCE_POLICY")["result"] == "FAIL"


def test_check_no_new_access_identity_encryption_context_both_ways(aa):
    # "Keys within {app}" to "any keys": a context with another key is newly allowed.
    within = doc(allow(["kms:Decrypt"], condition={"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["app"]}}))
    free = doc(allow(["kms:Decrypt"]))
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(free), existingPolicyDocument=json.dumps(within),
                                  policyType="IDENTITY_POLICY")["result"] == "FAIL"
    assert aa.check_no_new_access(newPolicyDocument=json.dumps(within), existingPolicyDocument=json.dumps(free),
                                  policyType="IDENTITY_POLICY")["result"] == "PASS"


def test_check_access_not_granted_identity_policy(aa):
    policy = doc(allow(["kms:Encrypt", "kms:GenerateDataKey"]))
    out = aa.check_access_not_granted(policyDocument=json.dumps(policy), access=[{"actions": ["kms:Decrypt"]}],
                                      policyType="IDENTITY_POLICY")
    assert out["result"] == "PASS"
    out = aa.check_access_not_granted(policyDocument=json.dumps(policy), access=[{"actions": ["kms:Encrypt"]}],
                                      policyType="IDENTITY_POLICY")
    assert out["result"] == "FAIL" and out["reasons"][0]["statementIndex"] == 0
    # Resources narrow the question.
    scoped = doc(allow(["kms:Decrypt"], resources=f"arn:aws:kms:us-east-1:{ACCT_A}:key/k1"))
    out = aa.check_access_not_granted(policyDocument=json.dumps(scoped),
                                      access=[{"actions": ["kms:Decrypt"],
                                               "resources": [f"arn:aws:kms:us-east-1:{ACCT_A}:key/k2"]}],
                                      policyType="IDENTITY_POLICY")
    assert out["result"] == "PASS"


def test_check_no_public_access(aa):
    out = aa.check_no_public_access(policyDocument=json.dumps(KEY_POLICY), resourceType="AWS::KMS::Key")
    assert out["result"] == "PASS" and out["reasons"] == []
    public = json.loads(json.dumps(KEY_POLICY))
    public["Statement"][1]["Principal"] = "*"
    out = aa.check_no_public_access(policyDocument=json.dumps(public), resourceType="AWS::KMS::Key")
    assert out["result"] == "FAIL"
    assert [(r["statementIndex"], r.get("statementId")) for r in out["reasons"]] == [(1, "Use")]
    assert out["message"]
    # A condition that ties the caller to the account keeps it private; one on the
    # encryption context does not (any caller can send that context).
    limited = json.loads(json.dumps(public))
    limited["Statement"][1]["Condition"] = {"StringEquals": {"kms:CallerAccount": ACCT_A}}
    assert aa.check_no_public_access(policyDocument=json.dumps(limited),
                                     resourceType="AWS::KMS::Key")["result"] == "PASS"
    limited["Statement"][1]["Condition"] = {"StringEquals": {"kms:EncryptionContext:app": "web"}}
    assert aa.check_no_public_access(policyDocument=json.dumps(limited),
                                     resourceType="AWS::KMS::Key")["result"] == "FAIL"
    # Trust policies.
    assert aa.check_no_public_access(policyDocument=json.dumps(TRUST),
                                     resourceType="AWS::IAM::AssumeRolePolicyDocument")["result"] == "PASS"
    open_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}
    out = aa.check_no_public_access(policyDocument=json.dumps(open_trust),
                                    resourceType="AWS::IAM::AssumeRolePolicyDocument")
    assert out["result"] == "FAIL" and out["reasons"][0]["statementIndex"] == 0


def test_check_no_public_access_bad_input(aa, server):
    for kwargs, code in (
        ({"policyDocument": "{", "resourceType": "AWS::KMS::Key"}, "InvalidParameterException"),
        ({"policyDocument": json.dumps(KEY_POLICY), "resourceType": "AWS::S3::Bucket"}, "ValidationException"),
    ):
        with pytest.raises(ClientError) as e:
            aa.check_no_public_access(**kwargs)
        assert e.value.response["Error"]["Code"] == code
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    analyst = server.client("accessanalyzer", user_creds(ACCT_A, "analyst"))
    with pytest.raises(ClientError) as e:
        analyst.check_no_public_access(policyDocument=json.dumps(KEY_POLICY), resourceType="AWS::KMS::Key")
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "access-analyzer:CheckNoPublicAccess" in e.value.response["Error"]["Message"]
