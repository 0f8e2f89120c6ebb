"""Restarts as a developer does them: Ctrl-C, kill -9, --fresh. Data survives (but not with
--fresh), nothing is left running, and a stale state file never blocks the next start."""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from pathlib import Path

import httpx
import pytest

from archway.shared.local.launcher import running_local
from archway.shared.local.moto_server import free_port
from archway.shared.local.persistence import SAVE_INTERVAL, data_dir
from archway.shared.local.processes import alive
from helpers.local_platform import _copy_repo

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == pid:
                found.append(int(entry.name))
    return found


def _view(url: str, product: str) -> int:
    """Count one view of ``product`` (a public write) and return the stored count."""
    response = httpx.post(f"{url}/api/reviews/products/{product}/views", timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["views"])


def _saved_views(root: Path, product: str, views: int, timeout: float) -> None:
    """Wait until the periodic save wrote ``views`` views of ``product`` to disk (a loaded
    machine may take longer than one save interval to do it)."""
    deadline = time.monotonic() + timeout
    while True:
        for path in (data_dir(root)).glob("*/dynamodb/*.json"):
            try:
                items = json.loads(path.read_text())["items"]
            except (OSError, ValueError, KeyError):
                continue  # replaced while read: read again next time
            if any(product in json.dumps(item) and item.get("views") == {"N": str(views)}
                   for item in items):
                return
        assert time.monotonic() < deadline, f"{views} views of {product} never saved"
        time.sleep(0.2)


def test_data_survives_restarts_and_kill_9_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _copy_repo(root)
    product = f"p-{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "local.log"
    # GIVEN a product viewed once, then archway local stopped with Ctrl-C
    with running_local(root, port, log):
        assert _view(url, product) == 1
    assert "stopping" in log.read_text()
    # WHEN it starts again THEN the count is still there (seeding did not overwrite it),
    # and a second view is saved by the periodic save before archway local is killed
    # with kill -9
    with running_local(root, port, log) as state:
        assert _view(url, product) == 2
        assert "restored " in log.read_text()
        _saved_views(root, product, 2, timeout=SAVE_INTERVAL * 6)
        process = state["process"]
        children = _children(process.pid)
        assert state["moto_pid"] in children and len(children) > 1  # moto and workers
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        # THEN moto and every worker end with it
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in children):
            assert time.monotonic() < deadline, [p for p in children if alive(p)]
            time.sleep(0.2)
    # WHEN it starts again over the stale state file THEN it starts and has both views
    with running_local(root, port, log):
        assert _view(url, product) == 3
        assert f"removed the state of archway local pid {process.pid}" in log.read_text()
    # WHEN it starts with --fresh THEN saved data is gone and the sample data is back
    with running_local(root, port, log, args=("--fresh",)):
        assert _view(url, product) == 1
        search = httpx.get(f"{url}/api/catalog/search", params={"q": "CR"}, timeout=30)
        assert [r["name"] for r in search.json()["results"]] == [
            "Crème Brûlée Torch", "Crystal Water Carafe"]
