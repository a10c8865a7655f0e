"""Durability: nothing acknowledged to a client is lost across SIGKILL or SIGTERM restarts."""

from __future__ import annotations

import json
import os
import stat

from kmsd_harness import aws_error, session_creds
from worlds import ACCT_A, Creds, account, allow, doc, user, user_creds, root_creds

DECLARED_KEY = "5e5e5e5e-1111-4222-8333-444455556666"


def world() -> dict:
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"}, "Action": "sts:AssumeRole"})
    return {"accounts": [account(ACCT_A,
        users=[user(ACCT_A, "admin", inline={"All": doc(allow(["kms:*", "iam:*", "sts:*"]))}),
               user(ACCT_A, "carol")],
        roles=[{"name": "Durable", "assume_role_policy": trust, "inline_policies": {"K": doc(allow("kms:*"))}}],
        keys=[{"id": DECLARED_KEY, "region": "us-east-1", "aliases": ["alias/declared"]}],
    )]}


def populate(server):
    """Create state of every kind; return what to check after a restart."""
    admin = user_creds(ACCT_A, "admin")
    kms = server.client("kms", admin)
    iam = server.client("iam", admin)
    key = kms.create_key(Description="durable", Tags=[{"TagKey": "k", "TagValue": "v"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/durable", TargetKeyId=key["KeyId"])
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCT_A}:user/carol",
                             Operations=["Decrypt", "Encrypt"])
    kms.enable_key_rotation(KeyId=key["KeyId"])
    blob_v1 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"written before the crash",
                          EncryptionContext={"c": "1"})["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    blob_v2 = kms.encrypt(KeyId="alias/durable", Plaintext=b"after rotation")["CiphertextBlob"]
    declared_blob = kms.encrypt(KeyId="alias/declared", Plaintext=b"declared key data")["CiphertextBlob"]
    disabled = kms.create_key(Description="disabled one")["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    pending = kms.create_key(Description="pending deletion")["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=pending["KeyId"], PendingWindowInDays=7)

    iam.create_user(UserName="runtime")
    ak = iam.create_access_key(UserName="runtime")["AccessKey"]
    iam.put_user_policy(UserName="runtime", PolicyName="Enc",
                        PolicyDocument=json.dumps(doc(allow("kms:Encrypt", key["Arn"]))))
    session = session_creds(server.client("sts", admin).assume_role(
        RoleArn=f"arn:aws:iam::{ACCT_A}:role/Durable", RoleSessionName="survivor"))
    return {
        "key": key, "grant": grant, "blob_v1": blob_v1, "blob_v2": blob_v2, "declared_blob": declared_blob,
        "disabled": disabled, "pending": pending,
        "runtime": Creds(ak["AccessKeyId"], ak["SecretAccessKey"]), "session": session,
    }


def verify(server, s):
    admin = user_creds(ACCT_A, "admin")
    kms = server.client("kms", admin)
    key = s["key"]
    md = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert md["Arn"] == key["Arn"] and md["Description"] == "durable" and md["KeyState"] == "Enabled"
    assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "k", "TagValue": "v"}]
    assert [a["AliasName"] for a in kms.list_aliases(KeyId=key["KeyId"])["Aliases"]] == ["alias/durable"]
    grants = kms.list_grants(KeyId=key["KeyId"])["Grants"]
    assert [g["GrantId"] for g in grants] == [s["grant"]["GrantId"]]
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    assert len(kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]) == 1
    assert kms.decrypt(CiphertextBlob=s["blob_v1"], EncryptionContext={"c": "1"})["Plaintext"] == b"written before the crash"
    assert kms.decrypt(CiphertextBlob=s["blob_v2"])["Plaintext"] == b"after rotation"
    assert kms.decrypt(CiphertextBlob=s["declared_blob"])["Plaintext"] == b"declared key data"
    assert kms.describe_key(KeyId=s["disabled"]["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.describe_key(KeyId=s["pending"]["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"

    carol = server.client("kms", user_creds(ACCT_A, "carol"))
    assert carol.decrypt(CiphertextBlob=s["blob_v2"])["Plaintext"] == b"after rotation"

    runtime = server.client("kms", s["runtime"])
    assert runtime.encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]
    with aws_error("AccessDeniedException"):
        runtime.decrypt(CiphertextBlob=s["blob_v2"])
    ident = server.client("sts", s["session"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCT_A}:assumed-role/Durable/survivor"

    # Declared entities are not duplicated by re-applying the world.
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert aliases.count("alias/declared") == 1
    keys = [k["KeyId"] for k in kms.list_keys(Limit=1000)["Keys"]]
    assert keys.count(DECLARED_KEY) == 1
    assert len(keys) == len(set(keys))


def test_sigkill_then_restart(launch):
    server = launch(world())
    state = populate(server)
    verify(server, state)
    server.kill()
    server.restart()
    verify(server, state)
    # Writes after the restart persist too.
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    later = kms.create_key(Description="after restart")["KeyMetadata"]
    server.kill()
    server.restart()
    assert kms_after(server).describe_key(KeyId=later["KeyId"])["KeyMetadata"]["Description"] == "after restart"
    verify(server, state)


def kms_after(server):
    return server.client("kms", user_creds(ACCT_A, "admin"))


def test_sigterm_then_restart(launch):
    server = launch(world())
    state = populate(server)
    server.terminate_ok()
    server.restart()
    verify(server, state)
    server.terminate_ok()
    server.restart()
    verify(server, state)


def test_declared_key_material_is_kept(launch, tmp_path):
    server = launch(world())
    kms = server.client("kms", root_creds(ACCT_A))
    blob = kms.encrypt(KeyId=DECLARED_KEY, Plaintext=b"declared")["CiphertextBlob"]
    server.terminate_ok()
    server.restart()
    assert server.client("kms", root_creds(ACCT_A)).decrypt(CiphertextBlob=blob)["Plaintext"] == b"declared"


def test_no_secret_file_readable_by_others(launch):
    server = launch(world())
    server.client("kms", root_creds(ACCT_A)).create_key()
    server.terminate_ok()
    candidates = []
    for dirpath, _, files in os.walk(server.data_dir):
        for f in files:
            if "root" in f.lower() or f.lower().endswith(".key"):
                candidates.append(os.path.join(dirpath, f))
    assert candidates, f"no root key file found under {server.data_dir}: {list(os.walk(server.data_dir))}"
    for path in candidates:
        mode = os.stat(path).st_mode
        assert not mode & (stat.S_IRWXG | stat.S_IRWXO), f"{path} has mode {oct(mode)}"


def test_ciphertext_from_another_instance_does_not_decrypt(launch):
    """Two servers declare the same key id; each generates its own material."""
    a = launch(world())
    b = launch(world())
    blob = a.client("kms", root_creds(ACCT_A)).encrypt(KeyId=DECLARED_KEY, Plaintext=b"instance a")["CiphertextBlob"]
    with aws_error("InvalidCiphertextException", 400):
        b.client("kms", root_creds(ACCT_A)).decrypt(CiphertextBlob=blob)
    assert a.client("kms", root_creds(ACCT_A)).decrypt(CiphertextBlob=blob)["Plaintext"] == b"instance a"


def test_wrong_root_key_never_yields_plaintext(launch, tmp_path):
    server = launch(world())
    blob = server.client("kms", root_creds(ACCT_A)).encrypt(KeyId=DECLARED_KEY, Plaintext=b"sealed")["CiphertextBlob"]
    server.terminate_ok()
    (server.data_dir / "root.key").write_bytes(os.urandom(32))
    os.chmod(server.data_dir / "root.key", 0o600)
    # With another root key the server either refuses to start or cannot unwrap the material;
    # it must never hand out the plaintext.
    import subprocess
    from kmsd_harness import kmsd_bin, clean_env
    proc = subprocess.Popen([kmsd_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(server.data_dir),
                             "--bootstrap", str(server.world)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(), text=True)
    try:
        line = proc.stdout.readline()
        if "kmsd listening on" in line:
            endpoint = line.split("kmsd listening on ")[1].strip()
            from kmsd_harness import client
            from botocore.exceptions import ClientError
            try:
                out = client(endpoint, "kms", root_creds(ACCT_A)).decrypt(CiphertextBlob=blob)
                raise AssertionError(f"decrypted with a wrong root key: {out.get('Plaintext')!r}")
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 500)
        else:
            assert proc.wait(timeout=20) != 0
            assert proc.stderr.read().strip(), "refusing to start must say why"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def test_kill_immediately_after_acknowledged_writes(launch):
    server = launch(world())
    acknowledged = []
    for i in range(4):
        kms = server.client("kms", user_creds(ACCT_A, "admin"))
        k = kms.create_key(Description=f"round {i}")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=f"alias/round-{i}", TargetKeyId=k)
        g = kms.create_grant(KeyId=k, GranteePrincipal=f"arn:aws:iam::{ACCT_A}:user/carol", Operations=["Encrypt"])
        acknowledged.append((k, g["GrantId"]))
        server.kill()  # right after the last acknowledged response
        server.restart()
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    for i, (k, gid) in enumerate(acknowledged):
        assert kms.describe_key(KeyId=f"alias/round-{i}")["KeyMetadata"]["KeyId"] == k
        assert [g["GrantId"] for g in kms.list_grants(KeyId=k)["Grants"]] == [gid]


def test_sigint_exits_zero_and_keeps_state(launch):
    import signal
    server = launch(world())
    kms = server.client("kms", user_creds(ACCT_A, "admin"))
    k = kms.create_key(Description="sigint")["KeyMetadata"]["KeyId"]
    rc = server.stop(signal.SIGINT)
    assert rc == 0, server.stderr()
    server.restart()
    assert server.client("kms", user_creds(ACCT_A, "admin")).describe_key(KeyId=k)["KeyMetadata"]["Description"] == "sigint"
