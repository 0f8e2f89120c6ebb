"""Deterministic asset zips: the same source gives the same bytes and the same sha256."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}


def asset_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in IGNORED_SUFFIXES:
            files.append(path)
    return files


def build_zip(root: Path) -> bytes:
    """Zip ``root`` with sorted entries, fixed timestamps and modes, no caches."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in asset_files(root):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assets_bucket(platform: str, account: str, region: str) -> str:
    """The bootstrap assets bucket of one account and region."""
    return f"{platform}-assets-{account}-{region}"
