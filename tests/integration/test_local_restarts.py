"""Restarts as a developer does them: Ctrl-C, kill -9, --fresh. Data survives (but not with
--fresh), nothing is left running, and a stale state file never blocks the next start."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from archway.shared.local.launcher import running_local
from archway.shared.local.moto_server import free_port
from archway.shared.local.persistence import SAVE_INTERVAL
from archway.shared.local.processes import alive
from helpers.local_platform import _copy_repo, sign_in

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


def _reviews(url: str, product: str) -> list[str]:
    response = httpx.get(f"{url}/api/reviews/products/{product}/reviews", timeout=30)
    assert response.status_code == 200, response.text
    return [r["text"] for r in response.json()["reviews"]]


def _post(state: dict[str, Any], product: str, text: str) -> None:
    """Post a review as alice (signed in on this run's issuer: its key is new each start)."""
    url = state["url"]
    token = sign_in(state["issuer"], url)["id_token"]
    response = httpx.post(f"{url}/api/reviews/products/{product}/reviews", timeout=30,
                          json={"rating": 5, "text": text},
                          headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text


def test_data_survives_restarts_and_kill_9_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _copy_repo(root)
    product = f"p-{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "local.log"
    # GIVEN a review posted, then archway local stopped with Ctrl-C
    with running_local(root, port, log) as state:
        _post(state, product, "first")
    assert "stopping" in log.read_text()
    # WHEN it starts again THEN the review is still there, and seeding did not overwrite it
    with running_local(root, port, log) as state:
        assert _reviews(url, product) == ["first"]
        assert "restored " in log.read_text()
        # WHEN a second review is posted, saved by the periodic save, and archway local is
        # killed with kill -9
        _post(state, product, "second")
        time.sleep(SAVE_INTERVAL + 1.5)
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
    # WHEN it starts again over the stale state file THEN it starts and has both reviews
    with running_local(root, port, log):
        assert sorted(_reviews(url, product)) == ["first", "second"]
        assert f"removed the state of archway local pid {process.pid}" in log.read_text()
    # WHEN it starts with --fresh THEN saved data is gone and the sample data is back
    with running_local(root, port, log, args=("--fresh",)):
        assert _reviews(url, product) == []
        search = httpx.get(f"{url}/api/catalog/search", params={"q": "CR"}, timeout=30)
        assert [r["name"] for r in search.json()["results"]] == [
            "Crème Brûlée Torch", "Crystal Water Carafe"]
