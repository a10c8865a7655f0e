"""Every shell and Python example of README.md runs against a real server.

The fenced blocks tagged `sh` or `python` are taken from README.md in order. A block that
cannot run here (starting a long-running server, `.ci/run` itself) is preceded by an HTML
comment `<!-- readme-test: skip REASON -->`; a block expected to end with another exit
status than 0 (`kmsd explain` of a denial) by `<!-- readme-test: exit N -->`. Every other
block runs: shell blocks with bash (`-e -o pipefail`), Python blocks with the venv's
interpreter, in a scratch directory whose `./kmsd-data` is the server's data directory,
with `kmsd` and `aws` on PATH and `http://127.0.0.1:4599` replaced by the server's
endpoint. The server is started with `examples/seed-world.json`, as the README says.
So a renamed alias, flag or credential in the README fails this test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from kmsd_harness import kmsd_bin as _kmsd_bin

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SEED_FILE = ROOT / "examples" / "seed-world.json"
README_ENDPOINT = "http://127.0.0.1:4599"

MARK_RE = re.compile(r"<!--\s*readme-test:\s*(skip|exit)\s*(.*?)\s*-->")


@dataclass
class Block:
    line: int
    lang: str
    code: str
    skip: Optional[str] = None
    exit_status: int = 0

    @property
    def id(self) -> str:
        first = next((l for l in self.code.splitlines() if l.strip() and not l.startswith("#")), "")
        return f"L{self.line}-{self.lang}-{first[:40]}"


def readme_blocks() -> list[Block]:
    """All fenced blocks of README.md (any language), with their markers."""
    lines = README.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        block = Block(line=start + 1, lang=m.group(1), code="\n".join(lines[i + 1:j]) + "\n")
        # The marker: the last non-blank line before the fence.
        k = start - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        mark = MARK_RE.search(lines[k]) if k >= 0 else None
        if mark:
            if mark.group(1) == "skip":
                block.skip = mark.group(2)
            else:
                block.exit_status = int(mark.group(2))
        blocks.append(block)
        i = j + 1
    return blocks


RUNNABLE = [b for b in readme_blocks() if b.lang in ("sh", "python")]


def test_the_readme_has_examples_and_every_skip_gives_a_reason():
    assert len(RUNNABLE) >= 5, [b.id for b in RUNNABLE]
    for b in RUNNABLE:
        if b.skip is not None:
            assert b.skip, f"README.md line {b.line}: a skipped block must say why"
    # Most examples really run.
    assert sum(b.skip is None for b in RUNNABLE) >= 4
    # Markers sit only before sh/python blocks (a marker before another block is a mistake).
    for b in readme_blocks():
        if b.lang not in ("sh", "python"):
            assert b.skip is None and b.exit_status == 0, f"README.md line {b.line}"


@pytest.fixture(scope="module")
def readme_server(module_launch, tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    # The README's paths are relative to the repository root.
    (work / "examples").symlink_to(ROOT / "examples")
    server = module_launch(SEED_FILE, data_dir=work / "kmsd-data", region="us-west-2")
    return server, work


@pytest.mark.parametrize("block", [b for b in RUNNABLE if b.skip is None], ids=lambda b: b.id)
def test_readme_block_runs(block: Block, readme_server):
    server, work = readme_server
    code = block.code.replace(README_ENDPOINT, server.endpoint)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
    env["AWS_CONFIG_FILE"] = "/dev/null"
    env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["AWS_MAX_ATTEMPTS"] = "1"
    kmsd_dir = str(Path(_kmsd_bin()).parent)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([kmsd_dir, venv_bin, env.get("PATH", "")])
    if block.lang == "sh":
        argv = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        argv = [sys.executable, "-c", code]
    run = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == block.exit_status, (
        f"README.md line {block.line} ({block.lang}) exited {run.returncode}, "
        f"expected {block.exit_status}\n--- code\n{code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    )
