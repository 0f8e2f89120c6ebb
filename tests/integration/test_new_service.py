"""A new team goes live in a running local cloud: scaffold, test, deploy, routed by the
edge, with no restart and no edge deploy, while the other services keep answering."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from helpers.local_platform import LocalPlatform

pytestmark = pytest.mark.integration


def archway(*args: str, root: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archway.shared.cli", *args],
                          cwd=root, capture_output=True, text=True, timeout=300)


class Watcher(threading.Thread):
    """Calls an existing service through the edge until stopped; records what it got."""

    def __init__(self, platform: LocalPlatform) -> None:
        super().__init__(daemon=True)
        self.platform = platform
        self.stop = threading.Event()
        self.statuses: list[int] = []
        self.odd: list[str] = []

    def run(self) -> None:
        with self.platform.client("127.0.0.3") as http:
            while not self.stop.wait(1.0):  # under the WAF rate limit
                try:
                    response = http.get("/api/catalog/products/p-1001")
                except httpx.HTTPError:
                    self.statuses.append(0)
                    continue
                self.statuses.append(response.status_code)
                if response.status_code != 200:  # what answered, for the failure message
                    self.odd.append(f"{response.status_code} "
                                    f"{response.headers.get('x-amzn-errortype', '-')} "
                                    f"{response.text[:120]}")


def test_a_scaffolded_service_is_deployed_and_routed_without_a_restart(
        local_platform: LocalPlatform) -> None:
    root = local_platform.root
    watcher = Watcher(local_platform)
    watcher.start()
    try:
        # GIVEN a new service scaffolded by its team, whose own tests pass
        made = archway("new", "service", "orders", "--account", "dev=210000000009",
                       "--account", "prod=310000000009", "--root", str(root), root=root)
        assert made.returncode == 0, made.stderr
        tests = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
             str(root), "services/orders"], cwd=root, capture_output=True, text=True,
            timeout=300)
        assert tests.returncode == 0, tests.stdout[-3000:]
        # WHEN the team deploys it into the running local cloud
        deployed = archway("deploy", "service", "orders", "--env", "local", "--root",
                           str(root), root=root)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        # THEN the edge routes /api/orders/ to it, reads and writes included
        deadline = time.monotonic() + 30
        with local_platform.client() as http:
            while True:
                created = http.post("/api/orders/items", json={"name": "First order"})
                if created.status_code == 201:
                    break
                assert time.monotonic() < deadline, (
                    f"{created.status_code} {created.text[:200]}\n"
                    + local_platform.log.read_text()[-3000:])
                time.sleep(0.5)
            item = http.get(f"/api/orders/items/{created.json()['id']}")
            assert (item.status_code, item.json()["name"]) == (200, "First order")
            # AND a service nobody deployed is a JSON 404 from the edge, never the SPA
            nope = http.get("/api/nope/x")
            assert nope.status_code == 404
            assert nope.headers["content-type"] == "application/json"
            assert "nope" in nope.json()["message"]
    finally:
        watcher.stop.set()
        watcher.join(timeout=10)
    # AND the other services never stopped answering
    assert watcher.statuses and set(watcher.statuses) == {200}, (
        watcher.odd, local_platform.log.read_text()[-3000:])
    # AND no secret reached the deploy's output
    assert "x-api-key" not in deployed.stdout


def test_the_platform_tests_pass_with_a_new_service(tmp_path) -> None:  # noqa: ANN001
    # GIVEN a copy of the repository with a freshly scaffolded service
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "repo"
    shutil.copytree(repo, root, ignore=shutil.ignore_patterns(
        ".git", ".tox", "build", "__pycache__", "*.egg-info", "node_modules"))
    made = archway("new", "service", "orders", "--account", "dev=210000000009",
                   "--account", "prod=310000000009", "--root", str(root), root=root)
    assert made.returncode == 0, made.stderr
    # WHEN the platform's tests that read the configured services run there (what every
    # service pipeline's gate runs; the packaging test checks this checkout's install, and
    # the slower engine tests on moto iterate over the services the same way)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(root), "-m", "not integration and not browser", "tests/functional",
         "tests/unit", "tests/pipelines", "tests/deploy/test_bootstrap_and_site.py",
         "services", "--deselect", "tests/unit/test_packaging.py",
         # these build their own repositories: a new service changes nothing for them
         "--ignore", "tests/unit/test_config_properties.py",
         "--ignore", "tests/functional/test_scale.py",
         # lints templates of its own (golden snapshots and broken copies of them)
         "--ignore", "tests/unit/test_lint_engine.py"],
        cwd=root, capture_output=True, text=True, timeout=600)
    # THEN every one passes, and the new stack got its own golden snapshot
    assert run.returncode == 0, run.stdout[-4000:]
    assert (root / "tests" / "golden" / "dev" / "svc-orders.json").is_file()
