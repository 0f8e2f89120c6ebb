"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archway.shared.local.processes import TAG, command_line, tagged, terminate

REPO = Path(__file__).resolve().parents[1]
# Every process this test run starts (moto, archway local, Lambda workers) inherits this tag,
# so leftovers are found without touching anyone else's processes on the machine.
RUN_TAG = os.environ[TAG] = f"pytest-{uuid.uuid4().hex[:12]}"
LEFTOVER_GRACE = 5.0  # seconds for children to notice their parent is gone


def leftovers(tag: str, grace: float = LEFTOVER_GRACE) -> dict[int, str]:
    deadline = time.monotonic() + grace
    while True:
        found = {pid: command_line(pid) for pid in tagged(tag)}
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind() -> Iterator[None]:
    """Fails the run if any test leaves a moto server, a worker or archway local running."""
    yield
    found = leftovers(RUN_TAG)
    for pid in found:
        terminate(pid)
    if found:
        pytest.fail("processes left running after the tests (now killed):\n" + "\n".join(
            f"  pid {pid}: {cmd[:200]}" for pid, cmd in sorted(found.items())), pytrace=False)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the repository's config and services, safe to break."""
    root = tmp_path / "repo"
    shutil.copytree(REPO / "config", root / "config")
    for service in (REPO / "services").iterdir():
        if (service / "service.yaml").is_file():
            shutil.copytree(service, root / "services" / service.name,
                            ignore=shutil.ignore_patterns("__pycache__", "tests"))
    shutil.copytree(REPO / "platform", root / "platform",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root
