"""Several kmsd nodes on one PostgreSQL (`kmsd serve --store postgres://...`).

One throwaway PostgreSQL cluster per module (`scripts/pg-throwaway.sh`: initdb in a temporary
directory as the `postgres` OS user, a free port; never the system cluster) and three nodes
on one database, checking the contract of interface.md "Several nodes on PostgreSQL":
bootstrap applied once by nodes starting together, visibility on the other nodes within 1 s
(p50/p99 printed), a grant token used on another node at once, CreateAlias racing on three
nodes (one winner), SIGKILL of a node under write load (nothing acknowledged lost, 5 cycles),
PostgreSQL stopped and started under running nodes, a wrong root key refused, per-node audit
lines, and no plaintext, data key or root key in the database files or a pg_dump.
Skipped (saying why) only when the PostgreSQL binaries are not installed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from kmsd_harness import Kmsd, aws_error
from worlds import (ACCT_A, ACCT_B, ALICE_ARN, REGION, SEED_KEY_ID, root_creds, seed_world, user_creds,
                    write_world)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "pg-throwaway.sh"
ROOT_KEY = secrets.token_hex(32)


def _pg_bin(name: str) -> str:
    out = subprocess.run([str(SCRIPT), "bindir"], capture_output=True, text=True)
    return str(Path(out.stdout.strip()) / name)


class Cluster:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="kmsd-pg-"))
        os.chmod(self.dir, 0o755)
        out = subprocess.run([str(SCRIPT), "start", str(self.dir / "pg")], capture_output=True,
                             text=True, timeout=180)
        assert out.returncode == 0, f"cannot start PostgreSQL: {out.stderr}"
        self.port = out.stdout.strip()
        self.n = 0

    def psql(self, db: str, sql: str) -> str:
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", self.port, "-U", "kmsd", "-d", db,
                              "-At", "-c", sql], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def database(self) -> str:
        self.n += 1
        name = f"kmsd{self.n}"
        self.psql("postgres", f"CREATE DATABASE {name}")
        return name

    def url(self, db: str) -> str:
        return f"postgres://kmsd@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        subprocess.run([str(SCRIPT), "stop", str(self.dir / "pg")], timeout=120)

    def start_again(self) -> None:
        out = subprocess.run([str(SCRIPT), "restart", str(self.dir / "pg")], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def pg():
    probe = subprocess.run([str(SCRIPT), "bindir"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed; .ci/run installs them")
    c = Cluster()
    yield c
    c.close()


class Nodes:
    """Nodes on one database; all stopped (SIGTERM) at the end."""

    def __init__(self, pg: Cluster, tmp: Path, db: str, world: dict):
        self.pg, self.tmp, self.db = pg, tmp, db
        self.world_path = write_world(tmp, world)
        self.nodes: list[Kmsd] = []

    def make(self, i: int, root_key: str = ROOT_KEY) -> Kmsd:
        base = self.tmp / f"node{i}-{len(self.nodes)}"
        node = Kmsd(self.world_path, base / "data", base / "logs", REGION,
                    ["--store", self.pg.url(self.db), "--node-id", f"node-{i}"],
                    {"KMSD_ROOT_KEY": root_key})
        self.nodes.append(node)
        return node

    def start_many(self, n: int) -> list[Kmsd]:
        made = [self.make(i) for i in range(n)]
        errors: list[BaseException] = []

        def go(k: Kmsd) -> None:
            try:
                k.start(timeout=120)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=go, args=(k,)) for k in made]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        return made

    def close(self) -> None:
        for k in self.nodes:
            if k.running():
                rc = k.stop(signal.SIGTERM)
                assert rc == 0, k.stderr()


@pytest.fixture
def cluster(pg, tmp_path):
    db = pg.database()
    nodes = Nodes(pg, tmp_path, db, seed_world())
    yield nodes
    nodes.close()


def kms(node: Kmsd, creds=None):
    return node.client("kms", creds or root_creds(ACCT_A))


def wait_visible(check, limit: float = 5.0) -> float:
    """Seconds until `check()` is true (polling); fails after `limit`."""
    start = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - start
        except ClientError:
            pass
        if time.monotonic() - start > limit:
            pytest.fail(f"not visible after {limit}s")
        time.sleep(0.005)


def test_bootstrap_once_and_visibility_within_one_second(cluster, pg):
    a, b, c = cluster.start_many(3)
    # The bootstrap world was applied once: every node sees the same seed key, and the
    # database holds one record of it.
    for node in (a, b, c):
        got = kms(node, root_creds(ACCT_B)).describe_key(KeyId=SEED_KEY_ID)
        assert got["KeyMetadata"]["KeyId"] == SEED_KEY_ID
    assert pg.psql(cluster.db, f"SELECT count(*) FROM kmsd_records WHERE tbl = 'kms_keys' "
                               f"AND key = '{SEED_KEY_ID}'") == "1"

    delays: list[float] = []
    writer = kms(a)
    readers = [kms(b), kms(c)]
    iam_readers = [n.client("iam", root_creds(ACCT_A)) for n in (b, c)]
    for r in readers:  # connections open before anything is timed
        r.list_keys()
    for r in iam_readers:
        r.list_users()
    for i in range(15):
        key_id = writer.create_key(Description=f"v{i}")["KeyMetadata"]["KeyId"]
        done = time.monotonic()
        for r in readers:
            wait_visible(lambda: r.describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id)
        delays.append(time.monotonic() - done)
        writer.disable_key(KeyId=key_id)
        done = time.monotonic()
        for r in readers:
            wait_visible(lambda: r.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled")
        delays.append(time.monotonic() - done)
        alias = f"alias/vis-{i}"
        writer.create_alias(AliasName=alias, TargetKeyId=key_id)
        done = time.monotonic()
        for r in readers:
            wait_visible(lambda: r.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == key_id)
        delays.append(time.monotonic() - done)
        writer.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Sid": f"s{i}", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCT_A}:root"},
                "Action": "kms:*", "Resource": "*"}]}))
        done = time.monotonic()
        for r in readers:
            wait_visible(lambda: f"\"s{i}\"" in r.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
        delays.append(time.monotonic() - done)
    # IAM changes travel too.
    iam = a.client("iam", root_creds(ACCT_A))
    iam.create_user(UserName="carol")
    done = time.monotonic()
    for other in iam_readers:
        wait_visible(lambda: other.get_user(UserName="carol")["User"]["UserName"] == "carol")
    delays.append(time.monotonic() - done)

    labels = ["CreateKey", "DisableKey", "CreateAlias", "PutKeyPolicy"]
    slow = [(labels[i % 4] if i < len(delays) - 1 else "CreateUser", round(d, 3))
            for i, d in enumerate(delays) if d > 0.25]
    print(f"\nslow propagations: {slow}")
    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"\npropagation to two other nodes: n={len(delays)} p50={p50 * 1000:.0f} ms "
          f"p99={p99 * 1000:.0f} ms max={delays[-1] * 1000:.0f} ms")
    assert delays[-1] <= 1.0, f"a change took {delays[-1]:.3f}s to reach the other nodes"


def test_grant_token_works_on_another_node_at_once(cluster):
    a, b = cluster.start_many(2)
    key_id = kms(a).create_key()["KeyMetadata"]["KeyId"]
    # Let the key itself reach b (a key, unlike a grant, has no token).
    wait_visible(lambda: kms(b).describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id)
    alice_b = kms(b, user_creds(ACCT_A, "alice"))
    with aws_error("AccessDeniedException"):
        alice_b.encrypt(KeyId=key_id, Plaintext=b"x")
    for _ in range(5):
        g = kms(a).create_grant(KeyId=key_id, GranteePrincipal=ALICE_ARN, Operations=["Encrypt"])
        # At once, on the other node, with the token.
        out = alice_b.encrypt(KeyId=key_id, Plaintext=b"x", GrantTokens=[g["GrantToken"]])
        assert out["KeyId"].endswith(key_id)
        kms(a).revoke_grant(KeyId=key_id, GrantId=g["GrantId"])
        wait_visible(lambda: not kms(b).list_grants(KeyId=key_id)["Grants"])


def test_create_alias_race_has_one_winner(cluster):
    nodes = cluster.start_many(3)
    key_id = kms(nodes[0]).create_key()["KeyMetadata"]["KeyId"]
    for node in nodes[1:]:
        wait_visible(lambda: kms(node).describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id)
    clients = [kms(n) for n in nodes]
    for round_ in range(5):
        name = f"alias/race-{round_}"
        results: list[str] = []
        barrier = threading.Barrier(len(clients))

        def go(c) -> None:
            barrier.wait()
            try:
                c.create_alias(AliasName=name, TargetKeyId=key_id)
                results.append("ok")
            except ClientError as e:
                results.append(e.response["Error"]["Code"])

        threads = [threading.Thread(target=go, args=(c,)) for c in clients]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["AlreadyExistsException"] * 2 + ["ok"], results
    # UpdateAlias to different targets from every node: all succeed, all nodes agree.
    targets = [kms(nodes[0]).create_key()["KeyMetadata"]["KeyId"] for _ in clients]
    for node in nodes:
        for t in targets:
            wait_visible(lambda: kms(node).describe_key(KeyId=t)["KeyMetadata"]["KeyId"] == t)
    errors: list[str] = []

    def upd(c, t) -> None:
        try:
            c.update_alias(AliasName="alias/race-0", TargetKeyId=t)
        except ClientError as e:
            errors.append(e.response["Error"]["Code"])

    threads = [threading.Thread(target=upd, args=(c, t)) for c, t in zip(clients, targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    time.sleep(1.0)
    seen = {kms(n).describe_key(KeyId="alias/race-0")["KeyMetadata"]["KeyId"] for n in nodes}
    assert len(seen) == 1 and seen <= set(targets), seen


def test_sigkill_under_write_load_loses_nothing_acknowledged(cluster):
    a, b = cluster.start_many(2)
    acknowledged: list[tuple[str, str]] = []  # (key id, alias)
    lock = threading.Lock()
    for cycle in range(5):
        stop = threading.Event()

        def writer(node: Kmsd, tag: str) -> None:
            c = kms(node)
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    kid = c.create_key(Description=f"{tag}-{i}")["KeyMetadata"]["KeyId"]
                    alias = f"alias/k-{cycle}-{tag}-{i}"
                    c.create_alias(AliasName=alias, TargetKeyId=kid)
                    c.tag_resource(KeyId=kid, Tags=[{"TagKey": "t", "TagValue": tag}])
                    with lock:
                        acknowledged.append((kid, alias))
                except Exception:  # noqa: BLE001 - the node was killed mid-request
                    if not node.running():
                        return
                    time.sleep(0.05)

        threads = [threading.Thread(target=writer, args=(a, f"a{cycle}")),
                   threading.Thread(target=writer, args=(b, f"b{cycle}"))]
        for t in threads:
            t.start()
        time.sleep(1.5)
        a.kill()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join()
        a.start(timeout=120)
    assert len(acknowledged) >= 10
    time.sleep(1.0)
    for node in (a, b):
        c = kms(node)
        for kid, alias in acknowledged:
            assert c.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"] == kid
            tags = c.list_resource_tags(KeyId=kid)["Tags"]
            assert [t["TagKey"] for t in tags] == ["t"]


def test_database_down_refuses_writes_and_recovers(cluster, pg):
    a, b = cluster.start_many(2)
    key_id = kms(a).create_key()["KeyMetadata"]["KeyId"]
    blob = kms(a).encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    wait_visible(lambda: kms(b).describe_key(KeyId=key_id)["KeyMetadata"]["KeyId"] == key_id)
    kms(b).encrypt(KeyId=key_id, Plaintext=b"warm")
    pg.stop()
    try:
        for node in (a, b):
            with pytest.raises(ClientError) as ei:
                kms(node).create_key()
            err = ei.value.response
            # The database cannot be reached: AWS's retryable 503, not an internal error.
            assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
                "DependencyTimeoutException", 503), err
            with pytest.raises(ClientError) as ei:
                node.client("iam", root_creds(ACCT_A)).create_user(UserName="down")
            assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] >= 500
            # Cryptography on keys the node holds goes on.
            assert kms(node).decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"
            kms(node).encrypt(KeyId=key_id, Plaintext=b"during")
    finally:
        pg.start_again()
    # Back without a restart.
    deadline = time.monotonic() + 30
    while True:
        try:
            new_id = kms(a).create_key()["KeyMetadata"]["KeyId"]
            break
        except ClientError:
            assert time.monotonic() < deadline, "writes did not come back within 30 s"
            time.sleep(0.5)
    wait_visible(lambda: kms(b).describe_key(KeyId=new_id)["KeyMetadata"]["KeyId"] == new_id, 10)
    # The refused writes changed nothing.
    with aws_error("NoSuchEntity"):
        b.client("iam", root_creds(ACCT_A)).get_user(UserName="down")


def test_wrong_root_key_is_refused_and_changes_nothing(cluster, pg):
    (a,) = cluster.start_many(1)
    kms(a).create_key()
    before = pg.psql(cluster.db, "SELECT seq FROM kmsd_meta")
    rows = pg.psql(cluster.db, "SELECT count(*) FROM kmsd_records")
    wrong = cluster.make(9, root_key=secrets.token_hex(32))
    proc = subprocess.run(
        [wrong.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(wrong.data_dir),
         "--bootstrap", str(cluster.world_path), "--store", pg.url(cluster.db)],
        env={**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))},
             "KMSD_ROOT_KEY": secrets.token_hex(32)},
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "root key does not open" in proc.stderr
    assert pg.psql(cluster.db, "SELECT seq FROM kmsd_meta") == before
    assert pg.psql(cluster.db, "SELECT count(*) FROM kmsd_records") == rows


def test_audit_lines_name_their_node(cluster):
    nodes = cluster.start_many(3)
    for n in nodes:
        kms(n).list_keys()
    for i, n in enumerate(nodes):
        n.terminate_ok()
        lines = (n.data_dir / "audit" / "audit.log").read_text().splitlines()
        assert lines
        ids = {json.loads(line)["kmsdNodeId"] for line in lines}
        assert ids == {f"node-{i}"}


def test_no_secret_in_database_files_or_dump(cluster, pg):
    (a,) = cluster.start_many(1)
    c = kms(a)
    key_id = c.create_key()["KeyMetadata"]["KeyId"]
    marker = b"PLAINTEXT-MARKER-" + secrets.token_hex(8).encode()
    c.encrypt(KeyId=key_id, Plaintext=marker)
    dk = c.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]
    pg.psql(cluster.db, "CHECKPOINT")
    dump = subprocess.run([_pg_bin("pg_dump"), "-h", "127.0.0.1", "-p", pg.port, "-U", "kmsd",
                           cluster.db], capture_output=True, timeout=120)
    assert dump.returncode == 0, dump.stderr
    root = bytes.fromhex(ROOT_KEY)
    needles = [marker, dk, base64.b64encode(dk), dk.hex().encode(), root, ROOT_KEY.encode(),
               base64.b64encode(root)]
    assert b"kms_material" in dump.stdout  # the dump holds the (wrapped) material
    for n in needles:
        assert n not in dump.stdout
    for f in (pg.dir / "pg" / "data").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for n in needles:
                assert n not in data, f"secret found in {f}"
