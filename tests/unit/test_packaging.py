"""The repo's platform/ folder must never shadow the standard library's platform module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOP_LEVEL = ("shared", "services", "platform", "pipelines")


def test_stdlib_platform_and_boto3_import_from_repo_root() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import platform, boto3; print(platform.python_version())"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.parametrize("folder", TOP_LEVEL)
def test_top_level_folders_are_namespace_portions(folder: str) -> None:
    assert not (REPO / folder / "__init__.py").exists()


def test_archway_namespace_maps_the_folders() -> None:
    proc = subprocess.run(
        [sys.executable, "-c",
         "import archway.platform.edge as e, archway.services.blueprint as b, platform;"
         "print(e.__file__); print(b.__file__); print(platform.__file__)"],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    edge, blueprint, stdlib = proc.stdout.split()
    assert Path(edge) == REPO / "platform" / "edge.py"
    assert Path(blueprint) == REPO / "services" / "blueprint.py"
    assert Path(stdlib).parent != REPO / "platform"
