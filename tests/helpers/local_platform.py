"""A running `archway local` (a real process, as a user starts it) for end-to-end tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from archway.shared.local.launcher import running_local
from archway.shared.local.moto_server import free_port

REPO = Path(__file__).resolve().parents[2]
RATE_LIMIT = 150  # requests per IP per minute in the test platform's WAF rule


@dataclass
class LocalPlatform:
    url: str
    root: Path
    apis: dict[str, str]
    log: Path

    def client(self, source_ip: str = "127.0.0.1") -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source_ip)
        return httpx.Client(base_url=self.url, transport=transport, timeout=30)


def _copy_repo(root: Path) -> None:
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "services", root / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))
    shutil.copytree(REPO / "platform", root / "platform",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    platform_file = root / "config" / "platform.yaml"
    settings = yaml.safe_load(platform_file.read_text())
    settings["edge"]["waf"]["rate_limit"] = {"requests": RATE_LIMIT, "window_seconds": 60}
    platform_file.write_text(yaml.safe_dump(settings, sort_keys=False))


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    root = tmp_path_factory.mktemp("platform")
    _copy_repo(root)
    port = free_port()
    log = root / "archway-local.log"
    with running_local(root, port, log) as state:
        yield LocalPlatform(f"http://127.0.0.1:{port}", root, state["apis"], log)
