#!/usr/bin/env python3
"""Embedded store vs PostgreSQL store, same binary, same run (figures for BENCHMARKS.md).

    tests/e2e/.venv/bin/python scripts/bench-multi-node.py --kmsd target/release/kmsd \
        --bench target/release/kmsd-bench [--rounds 3] [--duration 5s] [--samples 200]

Starts a throwaway PostgreSQL (scripts/pg-throwaway.sh), one embedded node and two nodes on
the PostgreSQL database (all with the seed world and one root key), then:
- Encrypt: kmsd-bench (--op encrypt --create-key) against the embedded node and a PostgreSQL
  node, alternately, ROUNDS times: ok req/s, p50, p99.
- CreateKey and PutKeyPolicy, sequential boto3 calls on each store: p50/p99 (client included).
- Propagation: CreateKey on one PostgreSQL node, poll DescribeKey on the other: p50/p99.
- Three nodes under one load generator: kmsd-bench --endpoint pg1 --also-endpoint pg2
  --also-endpoint pg3 (connections spread round-robin over the three nodes, one key made on
  pg1) against the embedded node alone with the same connections, alternately, ROUNDS times.
  On one machine the three nodes share its cores: this shows that spreading over nodes costs
  nothing in correctness or throughput, not how far more machines would scale.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
WORLD = ROOT / "examples" / "seed-world.json"


def seed_root() -> tuple[str, str]:
    w = json.loads(WORLD.read_text())
    k = w["accounts"][0]["root_access_key"]
    return k["access_key_id"], k["secret_access_key"]


def start(kmsd: str, data: Path, env: dict, extra: list[str]) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([kmsd, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
                          "--bootstrap", str(WORLD), *extra], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, text=True)
    assert p.stdout is not None
    for line in p.stdout:
        m = re.search(r"kmsd listening on (http://\S+)", line)
        if m:
            return p, m.group(1)
    raise SystemExit("kmsd did not start")


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * q))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kmsd", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="5s")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--samples", type=int, default=200)
    a = ap.parse_args()

    ak, sk = seed_root()
    tmp = Path(tempfile.mkdtemp(prefix="kmsd-bench-mn-"))
    os.chmod(tmp, 0o755)
    pgdir = tmp / "pg"
    port = subprocess.run([str(ROOT / "scripts/pg-throwaway.sh"), "start", str(pgdir)],
                          capture_output=True, text=True, check=True).stdout.strip()
    url = f"postgres://kmsd@127.0.0.1:{port}/postgres"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    env["KMSD_ROOT_KEY"] = secrets.token_hex(32)
    procs = []
    try:
        p, embedded = start(a.kmsd, tmp / "embedded", env, [])
        procs.append(p)
        p, pg1 = start(a.kmsd, tmp / "pg1", env, ["--store", url, "--node-id", "pg1"])
        procs.append(p)
        p, pg2 = start(a.kmsd, tmp / "pg2", env, ["--store", url, "--node-id", "pg2"])
        procs.append(p)
        p, pg3 = start(a.kmsd, tmp / "pg3", env, ["--store", url, "--node-id", "pg3"])
        procs.append(p)
        out: dict = {"encrypt": {"embedded": [], "postgres": []},
                     "three_nodes": {"embedded": [], "postgres_3_nodes": []}}
        benv = {**env, "AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk}
        for _ in range(a.rounds):
            for name, ep in (("embedded", embedded), ("postgres", pg1)):
                r = subprocess.run([a.bench, "--endpoint", ep, "--region", "us-east-1",
                                    "--create-key", "--op", "encrypt", "--duration", a.duration,
                                    "--connections", str(a.connections), "--json"],
                                   capture_output=True, text=True, env=benv, check=True)
                out["encrypt"][name].append(json.loads(r.stdout))
        conns = str(3 * (a.connections // 3 or 1))
        for _ in range(a.rounds):
            for name, eps in (("embedded", [embedded]), ("postgres_3_nodes", [pg1, pg2, pg3])):
                also = [x for ep in eps[1:] for x in ("--also-endpoint", ep)]
                r = subprocess.run([a.bench, "--endpoint", eps[0], *also, "--region", "us-east-1",
                                    "--create-key", "--op", "encrypt", "--duration", a.duration,
                                    "--connections", conns, "--json"],
                                   capture_output=True, text=True, env=benv, check=True)
                out["three_nodes"][name].append(json.loads(r.stdout))

        def client(ep: str):
            return boto3.session.Session().client(
                "kms", endpoint_url=ep, region_name="us-east-1", aws_access_key_id=ak,
                aws_secret_access_key=sk, config=Config(retries={"total_max_attempts": 1}))

        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "kms:*", "Resource": "*"}]})
        for name, ep in (("embedded", embedded), ("postgres", pg1)):
            c = client(ep)
            c.list_keys()
            ck, pk = [], []
            for _ in range(a.samples):
                t = time.perf_counter()
                kid = c.create_key()["KeyMetadata"]["KeyId"]
                ck.append(time.perf_counter() - t)
                t = time.perf_counter()
                c.put_key_policy(KeyId=kid, PolicyName="default", Policy=policy)
                pk.append(time.perf_counter() - t)
            out[f"create_key_{name}_ms"] = {"p50": statistics.median(ck) * 1000,
                                            "p99": pct(ck, 0.99) * 1000}
            out[f"put_key_policy_{name}_ms"] = {"p50": statistics.median(pk) * 1000,
                                                "p99": pct(pk, 0.99) * 1000}
        w, r = client(pg1), client(pg2)
        r.list_keys()
        prop = []
        for _ in range(a.samples // 2):
            kid = w.create_key()["KeyMetadata"]["KeyId"]
            t = time.perf_counter()
            while True:
                try:
                    r.describe_key(KeyId=kid)
                    break
                except r.exceptions.NotFoundException:
                    time.sleep(0.002)
            prop.append(time.perf_counter() - t)
        out["propagation_ms"] = {"n": len(prop), "p50": statistics.median(prop) * 1000,
                                 "p99": pct(prop, 0.99) * 1000}
        print(json.dumps(out, indent=1))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
        subprocess.run([str(ROOT / "scripts/pg-throwaway.sh"), "stop", str(pgdir)])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
