"""Shared fixtures for the end-to-end suite (the real kmsd binary, real AWS clients).

Fixtures:
- `kmsd_bin`: path of the binary (KMSD_BIN; the run fails when it is missing).
- `launch`: start servers for one test; each is stopped with SIGTERM at teardown and
  must exit 0.
- `module_launch`: the same, shared by all tests of a module (one server per world).
Helpers live in `kmsd_harness.py` (clients, raw signed HTTP, CLIs) and `worlds.py`
(world files and credentials).
"""

from __future__ import annotations

import pytest

from kmsd_harness import Launcher, kmsd_bin as _kmsd_bin


@pytest.fixture(scope="session")
def kmsd_bin() -> str:
    return _kmsd_bin()


@pytest.fixture
def launch(tmp_path, kmsd_bin):
    launcher = Launcher(tmp_path)
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def module_launch(tmp_path_factory, kmsd_bin):
    launcher = Launcher(tmp_path_factory.mktemp("kmsd"))
    yield launcher
    launcher.close()
