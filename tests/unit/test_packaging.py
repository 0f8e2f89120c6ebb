"""The repo's platform/ folder must never shadow the standard library's platform module."""

from __future__ import annotations

import subprocess
import sys
import zipfile
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


def test_wheel_carries_the_namespace_and_its_data(tmp_path: Path) -> None:
    # GIVEN the wheel pip builds from this repository
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w",
         str(tmp_path / "dist")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp_path / "dist").glob("archway-*.whl")
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # THEN its archway namespace works from anywhere, with the data files it needs,
    # and the standard library's platform module is untouched
    check = (
        "import platform, archway.platform.edge as edge, archway.shared.lint as lint;"
        "assert (edge.FUNCTIONS_DIR / 'spa_fallback.js').is_file();"
        "assert (lint.RULES_DIR / 'house.py').is_file();"
        "print(platform.python_version(), edge.__file__)")
    run = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = "
                          f"[{str(unpacked)!r}, *{_site_paths()!r}]; {check}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[1].startswith(str(unpacked))
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.split("/")[0] in TOP_LEVEL]  # only archway/...
    assert not [n for n in names if "/src/" in n]  # handler code is Lambda code, not package


def _site_paths() -> list[str]:
    """Where the dependencies live, without this checkout's editable mapping."""
    import site

    return list(site.getsitepackages())
