"""Many clients at once: every request gets its own correct answer, and state stays consistent."""

from __future__ import annotations

import concurrent.futures as cf
import os

from worlds import ACCT_A, account, allow, doc, user, user_creds


def test_parallel_crypto_and_key_creation(launch):
    names = [f"u{i}" for i in range(8)]
    server = launch({"accounts": [account(ACCT_A, users=[
        user(ACCT_A, n, inline={"K": doc(allow("kms:*"))}) for n in names])]})
    shared = server.client("kms", user_creds(ACCT_A, "u0")).create_key()["KeyMetadata"]["Arn"]

    def worker(name: str):
        kms = server.client("kms", user_creds(ACCT_A, name))
        created = []
        for i in range(15):
            pt = os.urandom(32) + name.encode()
            ec = {"worker": name, "i": str(i)}
            blob = kms.encrypt(KeyId=shared, Plaintext=pt, EncryptionContext=ec)["CiphertextBlob"]
            assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=ec)["Plaintext"] == pt
            if i % 5 == 0:
                created.append(kms.create_key(Description=f"{name}-{i}")["KeyMetadata"]["KeyId"])
        return created

    with cf.ThreadPoolExecutor(max_workers=len(names)) as pool:
        results = list(pool.map(worker, names))
    created = [k for r in results for k in r]
    assert len(created) == len(set(created)) == 3 * len(names)
    listed = {k["KeyId"] for k in server.client("kms", user_creds(ACCT_A, "u0")).list_keys(Limit=1000)["Keys"]}
    assert set(created) <= listed
    assert len(listed) == len(created) + 1


def test_parallel_alias_creation_has_one_winner(launch):
    server = launch({"accounts": [account(ACCT_A, users=[user(ACCT_A, "a", inline={"K": doc(allow("kms:*"))})])]})
    kms = server.client("kms", user_creds(ACCT_A, "a"))
    keys = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(6)]

    def claim(key_id: str) -> str:
        c = server.client("kms", user_creds(ACCT_A, "a"))
        try:
            c.create_alias(AliasName="alias/contended", TargetKeyId=key_id)
            return "ok"
        except c.exceptions.AlreadyExistsException:
            return "exists"

    with cf.ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(claim, keys))
    assert outcomes.count("ok") == 1, outcomes
    assert outcomes.count("exists") == 5, outcomes
    target = kms.describe_key(KeyId="alias/contended")["KeyMetadata"]["KeyId"]
    assert target == keys[outcomes.index("ok")]


def test_sigterm_under_load_finishes_in_flight_requests(launch):
    import signal
    import threading
    import time

    from botocore.exceptions import ClientError, EndpointConnectionError, ConnectionClosedError

    server = launch({"accounts": [account(ACCT_A, users=[user(ACCT_A, "a", inline={"K": doc(allow("kms:*"))})])]})
    key = server.client("kms", user_creds(ACCT_A, "a")).create_key()["KeyMetadata"]["Arn"]
    stop = threading.Event()
    outcomes: list[str] = []
    lock = threading.Lock()

    clients = [server.client("kms", user_creds(ACCT_A, "a")) for _ in range(6)]

    def hammer(kms):
        while not stop.is_set():
            try:
                blob = kms.encrypt(KeyId=key, Plaintext=b"load")["CiphertextBlob"]
                assert blob
                out = "ok"
            except ClientError as e:
                out = f"error {e.response['Error'].get('Code')} {e.response['ResponseMetadata'].get('HTTPStatusCode')}"
            except (EndpointConnectionError, ConnectionClosedError):
                out = "refused"
            except Exception as e:  # connection reset during shutdown is acceptable
                out = "refused" if "onnection" in str(e) else f"unexpected {e!r}"
            with lock:
                outcomes.append(out)
            if out == "refused":
                return

    threads = [threading.Thread(target=hammer, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # let the load build up before the signal
        with lock:
            if outcomes.count("ok") >= 30:
                break
        time.sleep(0.05)
    server.proc.send_signal(signal.SIGTERM)
    rc = server.proc.wait(timeout=20)
    stop.set()
    for t in threads:
        t.join(timeout=20)
    assert rc == 0, server.stderr()
    assert outcomes.count("ok") > 0
    bad = [o for o in outcomes if o not in ("ok", "refused")]
    assert not bad, bad[:5]
