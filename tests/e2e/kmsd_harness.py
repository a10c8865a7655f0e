"""Process harness for the end-to-end tests: start the real kmsd binary, talk to it.

- `Kmsd` starts `kmsd serve` on 127.0.0.1:0 with a data directory and a world file,
  waits for the `kmsd listening on http://ADDR` line, and stops it with SIGTERM
  (asserting exit status 0) or kills it with SIGKILL.
- `client()` builds boto3 clients with explicit credentials and no retries.
- `signed_request()` sends a raw HTTP request signed with botocore's SigV4Auth, for
  tests that need to control the body, headers or signing clock.
- `run_aws_cli()` / `run_explain()` run the aws CLI and `kmsd explain` as subprocesses.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence
from unittest import mock

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError

from worlds import Creds

LISTEN_RE = re.compile(r"kmsd listening on (http://\S+)")
START_TIMEOUT = float(os.environ.get("KMSD_START_TIMEOUT", "30"))
STOP_TIMEOUT = 20.0


def kmsd_bin() -> str:
    """The binary under test; fails the test (never skips) when it is missing."""
    path = os.environ.get("KMSD_BIN")
    if not path:
        pytest.fail(
            "KMSD_BIN is not set: build the server (cargo build -p kmsd) and run with "
            "KMSD_BIN=$PWD/target/debug/kmsd (scripts/test.sh does this)",
            pytrace=False,
        )
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"KMSD_BIN={path} is not an executable file", pytrace=False)
    return path


class Kmsd:
    """One kmsd server process (restartable on the same data directory)."""

    _seq = 0

    def __init__(self, world: Path, data_dir: Path, log_dir: Path, region: str = "us-east-1",
                 extra_args: Sequence[str] = (), extra_env: Optional[dict] = None):
        self.bin = kmsd_bin()
        self.world = world
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.region = region
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})
        self.proc: Optional[subprocess.Popen] = None
        self.endpoint: Optional[str] = None
        self.stdout_path: Optional[Path] = None
        self.stderr_path: Optional[Path] = None
        self.log_paths: list[Path] = []
        self._reader: Optional[threading.Thread] = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> "Kmsd":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        Kmsd._seq += 1
        n = Kmsd._seq
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = self.log_dir / f"kmsd-{n}.stdout"
        self.stderr_path = self.log_dir / f"kmsd-{n}.stderr"
        self.log_paths += [self.stdout_path, self.stderr_path]
        argv = [
            self.bin, "serve",
            "--listen", "127.0.0.1:0",
            "--data-dir", str(self.data_dir),
            "--bootstrap", str(self.world),
            "--region", self.region,
            *self.extra_args,
        ]
        # Hermetic: no AWS settings and no KMSD_* overrides (e.g. KMSD_ROOT_KEY) leak in.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
        env.update(self.extra_env)
        stderr_f = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr_f, env=env,
                                     stdin=subprocess.DEVNULL)
        stderr_f.close()
        lines: "queue.Queue[Optional[str]]" = queue.Queue()
        stdout_path = self.stdout_path
        proc = self.proc

        def pump() -> None:
            assert proc.stdout is not None
            with open(stdout_path, "wb") as out:
                for raw in proc.stdout:
                    out.write(raw)
                    out.flush()
                    lines.put(raw.decode("utf-8", "replace"))
            lines.put(None)

        self._reader = threading.Thread(target=pump, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._abort()
                pytest.fail(
                    f"kmsd did not print 'kmsd listening on http://ADDR' within {timeout}s\n"
                    f"argv: {argv}\nstdout so far: {''.join(seen)!r}\nstderr:\n{self.stderr()}",
                    pytrace=False,
                )
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:
                rc = self.proc.wait(timeout=5)
                pytest.fail(
                    f"kmsd exited with status {rc} before listening\nargv: {argv}\n"
                    f"stdout: {''.join(seen)!r}\nstderr:\n{self.stderr()}",
                    pytrace=False,
                )
            seen.append(line)
            m = LISTEN_RE.search(line)
            if m:
                self.endpoint = m.group(1).rstrip("/")
                return self

    def _abort(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        """Send `sig` and wait; returns the exit status (negative for a signal)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                pytest.fail(f"kmsd did not exit within {timeout}s after signal {sig}\n"
                            f"stderr:\n{self.stderr()}", pytrace=False)
        if self._reader:
            self._reader.join(timeout=5)
        return self.proc.returncode

    def terminate_ok(self) -> None:
        """SIGTERM and assert exit status 0."""
        rc = self.stop(signal.SIGTERM)
        assert rc == 0, f"kmsd exited with {rc} after SIGTERM; stderr:\n{self.stderr()}"

    def kill(self) -> None:
        rc = self.stop(signal.SIGKILL)
        assert rc == -signal.SIGKILL

    def restart(self) -> "Kmsd":
        return self.start()

    # -- output ------------------------------------------------------------------------

    def stderr(self) -> str:
        if self.stderr_path and self.stderr_path.exists():
            return self.stderr_path.read_text(errors="replace")[-8000:]
        return ""

    def all_logs(self) -> bytes:
        return b"".join(p.read_bytes() for p in self.log_paths if p.exists())

    # -- clients -----------------------------------------------------------------------

    def client(self, service: str, creds: Creds, region: Optional[str] = None, validate: bool = True):
        return client(self.endpoint, service, creds, region or self.region, validate)


class Launcher:
    """Starts servers for a test or a module and stops them (SIGTERM, exit 0) at the end."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.servers: list[Kmsd] = []
        self.n = 0

    def __call__(self, world, data_dir: Optional[Path] = None, region: str = "us-east-1",
                 extra_args: Sequence[str] = (), extra_env: Optional[dict] = None) -> Kmsd:
        from worlds import write_world

        self.n += 1
        base = self.tmp / f"srv{self.n}"
        base.mkdir(parents=True, exist_ok=True)
        world_path = world if isinstance(world, Path) else write_world(base, world)
        server = Kmsd(world_path, data_dir or base / "data", base / "logs", region, extra_args, extra_env)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        failures = []
        for s in self.servers:
            if s.running():
                rc = s.stop(signal.SIGTERM)
                if rc != 0:
                    failures.append(f"{s.endpoint}: exit {rc}\n{s.stderr()}")
        assert not failures, "kmsd did not exit 0 on SIGTERM:\n" + "\n".join(failures)


def client(endpoint: str, service: str, creds: Creds, region: str = "us-east-1", validate: bool = True):
    """A boto3 client for `service` at `endpoint` with explicit credentials, no retries."""
    cfg = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=60,
        parameter_validation=validate,
    )
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        aws_session_token=creds.session_token,
        config=cfg,
    )


def session_creds(resp: dict) -> Creds:
    c = resp["Credentials"]
    return Creds(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])


@contextmanager
def aws_error(code: str, status: Optional[int] = None) -> Iterator[dict]:
    """Expect a ClientError with `code` (and HTTP `status`); yields the error dict."""
    holder: dict = {}
    with pytest.raises(ClientError) as ei:
        yield holder
    err = ei.value.response.get("Error", {})
    meta = ei.value.response.get("ResponseMetadata", {})
    holder.update(err)
    holder["HTTPStatusCode"] = meta.get("HTTPStatusCode")
    assert err.get("Code") == code, f"expected {code}, got {err} (HTTP {meta.get('HTTPStatusCode')})"
    if status is not None:
        assert meta.get("HTTPStatusCode") == status, f"{code}: HTTP {meta.get('HTTPStatusCode')} != {status}"


def denied_message(principal: str, action: str, resource: str, because: str) -> str:
    return f"User: {principal} is not authorized to perform: {action} on resource: {resource} {because}"


# ------------------------------------------------------------------------- raw HTTP


@dataclass
class RawResponse:
    status: int
    headers: dict
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body.decode())

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def kms_error_code(self) -> str:
        t = self.json().get("__type", "")
        return t.split("#")[-1].split(":")[0]

    def kms_error_message(self) -> str:
        j = self.json()
        return j.get("message", j.get("Message", ""))

    def query_error_code(self) -> str:
        m = re.search(r"<Code>([^<]*)</Code>", self.text())
        return m.group(1) if m else ""

    def query_error_message(self) -> str:
        m = re.search(r"<Message>([^<]*)</Message>", self.text())
        return m.group(1) if m else ""


_http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))


def signed_request(endpoint: str, service: str, creds: Optional[Creds], body: bytes,
                   headers: dict, region: str = "us-east-1", method: str = "POST",
                   skew_seconds: float = 0.0, tamper_body: Optional[bytes] = None,
                   token_override: Optional[str] = None) -> RawResponse:
    """Send `body` to `endpoint`, SigV4-signed by botocore for `service`/`region`.

    `skew_seconds` moves the signing clock; `tamper_body` replaces the body after
    signing; `token_override` sends a different X-Amz-Security-Token than was signed
    (None keeps the signed one). `creds=None` sends the request unsigned.
    """
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + "/", data=body, headers=dict(headers))
    if creds is not None:
        bc = botocore.credentials.Credentials(creds.access_key_id, creds.secret_access_key, creds.session_token)
        signer = botocore.auth.SigV4Auth(bc, service, region)
        if skew_seconds:
            import datetime as _dt

            fake_now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None) + _dt.timedelta(seconds=skew_seconds)
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fake_now):
                signer.add_auth(req)
        else:
            signer.add_auth(req)
    prepared = req.prepare()
    out_headers = dict(prepared.headers.items())
    if token_override is not None:
        out_headers["X-Amz-Security-Token"] = token_override
    data = prepared.body if tamper_body is None else tamper_body
    if isinstance(data, str):
        data = data.encode()
    r = _http.request(method, prepared.url, body=data, headers=out_headers, redirect=False)
    return RawResponse(r.status, dict(r.headers), r.data)


def kms_raw(endpoint: str, creds: Optional[Creds], op: str, payload, region: str = "us-east-1",
            content_type: str = "application/x-amz-json-1.1", extra_headers: Optional[dict] = None,
            **kw) -> RawResponse:
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    if isinstance(body, str):
        body = body.encode()
    headers = {"Content-Type": content_type, "X-Amz-Target": f"TrentService.{op}", **(extra_headers or {})}
    return signed_request(endpoint, "kms", creds, body, headers, region=region, **kw)


def query_raw(endpoint: str, creds: Optional[Creds], service: str, params: dict,
              region: str = "us-east-1", **kw) -> RawResponse:
    from urllib.parse import urlencode

    body = urlencode(params).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    return signed_request(endpoint, service, creds, body, headers, region=region, **kw)


# ------------------------------------------------------------------------- subprocess CLIs


def clean_env(creds: Optional[Creds] = None, region: str = "us-east-1", extra: Optional[dict] = None) -> dict:
    """Environment for AWS tools: only the given credentials, no config files."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    env["AWS_DEFAULT_REGION"] = region
    env["AWS_REGION"] = region
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_MAX_ATTEMPTS"] = "1"
    if creds is not None:
        env["AWS_ACCESS_KEY_ID"] = creds.access_key_id
        env["AWS_SECRET_ACCESS_KEY"] = creds.secret_access_key
        if creds.session_token:
            env["AWS_SESSION_TOKEN"] = creds.session_token
    if extra:
        env.update(extra)
    return env


# The AWS tools run on the interpreter that runs the tests (the pinned virtualenv), so a
# console script whose shebang points elsewhere cannot slip in another botocore.
AWS_CLI = [sys.executable, "-m", "awscli"]
ENCRYPTION_CLI = [sys.executable, "-c", "import sys; from aws_encryption_sdk_cli import cli; sys.exit(cli())"]


def run_aws_cli(endpoint: str, creds: Creds, args: Sequence[str], region: str = "us-east-1",
                cwd: Optional[Path] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [*AWS_CLI, "--endpoint-url", endpoint, "--region", region, "--output", "json", *args]
    return subprocess.run(argv, env=clean_env(creds, region), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def run_explain(args: Sequence[str], timeout: float = 60) -> subprocess.CompletedProcess:
    argv = [kmsd_bin(), "explain", *args]
    return subprocess.run(argv, env=clean_env(), capture_output=True, text=True, timeout=timeout)


def run_encryption_cli(args: Sequence[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*ENCRYPTION_CLI, *args], env=env, capture_output=True, text=True, timeout=timeout)
