"""Fixtures shared by every test folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


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
