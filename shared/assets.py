"""Deterministic asset zips: the same source gives the same bytes and the same sha256.

A service with ``services/<svc>/requirements.txt`` gets its dependencies packaged into the
asset, as Lambda expects them (at the root of the .zip, beside the handler modules; see
https://docs.aws.amazon.com/lambda/latest/dg/python-package.html): installed with
``pip install --target`` for the function's architecture and Python version, binary wheels
only (``--only-binary=:all: --platform manylinux2014_<arch> --python-version 3.x
--implementation cp``), so nothing is built on the host and what is built for the host's
platform never reaches Lambda. Installs are cached under ``build/.cache/deps/<key>``, the key
being the hash of the requirements file, the platform and the Python version. pip reads its
usual environment variables (``PIP_INDEX_URL``, ``PIP_NO_INDEX``, ``PIP_FIND_LINKS``...).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from archway.shared.errors import ArchwayError

FIXED_TIME = (1980, 1, 1, 0, 0, 0)
IGNORED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "tests"}
IGNORED_SUFFIXES = {".pyc", ".pyo"}
# Lambda's architectures and the wheel platform tag pip installs for each; see
# https://docs.aws.amazon.com/lambda/latest/dg/python-package.html (--platform
# manylinux2014_x86_64 / manylinux2014_aarch64 with --only-binary=:all:).
WHEEL_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
# "Deployment package (.zip file archive) size: 50 MB (zipped, when uploaded through the
# Lambda API or SDKs) ... 250 MB (unzipped), including layers and custom runtimes"
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Archway hands
# Lambda its code through S3 (Code.S3Bucket/S3Key), where the 50 MB direct-upload quota does
# not apply: the unzipped quota does, and Lambda reports it in bytes (262144000).
MAX_UNZIPPED_BYTES = 262_144_000
PIP_TIMEOUT = 900.0
COMPLETE = ".complete"


class DependencyError(ArchwayError):
    exit_code = 2


@dataclass(frozen=True)
class Dependencies:
    """A service's requirements, as one function's asset needs them."""

    requirements: str  # relative to the repository root
    architecture: str  # x86_64 | arm64 (the function's Architectures)
    python: str  # "3.12" (the function's Runtime python3.12)

    @property
    def platform(self) -> str:
        return WHEEL_PLATFORMS[self.architecture]

    def key(self, root: Path) -> str:
        data = (root / self.requirements).read_bytes()
        return hashlib.sha256(data + f"|{self.platform}|cp{self.python}".encode()).hexdigest()[:16]


def asset_files(root: Path) -> list[Path]:
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.is_file() and path.suffix not in IGNORED_SUFFIXES:
            files.append(path)
    return files


def dependency_files(root: Path) -> list[Path]:
    """What pip installed, as Lambda needs it: no bytecode, no console scripts (their
    shebang names this machine's interpreter), no marker of ours."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] in {"bin", COMPLETE} or "__pycache__" in rel.parts:
            continue
        if path.is_file() and path.suffix not in IGNORED_SUFFIXES:
            files.append(path)
    return files


def _record(data: bytes) -> bytes:
    """A RECORD without the console scripts left out of the package: their hashes are of a
    first line naming this machine's interpreter, which would make the zip differ from one
    machine to the next."""
    lines = data.decode("utf-8").splitlines(keepends=True)
    return "".join(line for line in lines
                   if not line.startswith(("../../bin/", "bin/"))
                   and "__pycache__" not in line.split(",", 1)[0]).encode()


def _content(name: str, path: Path) -> bytes:
    data = path.read_bytes()
    parts = name.split("/")
    if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD":
        return _record(data)
    return data


def _entries(root: Path, deps: Path | None) -> dict[str, Path]:
    entries = {} if deps is None else {
        p.relative_to(deps).as_posix(): p for p in dependency_files(deps)}
    entries.update({p.relative_to(root).as_posix(): p for p in asset_files(root)})  # code wins
    return dict(sorted(entries.items()))


def build_zip(root: Path, deps: Path | None = None) -> bytes:
    """Zip ``root`` (and the installed dependencies ``deps`` beside it) with sorted entries,
    fixed timestamps and modes, no caches."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in _entries(root, deps).items():
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _content(name, path), compresslevel=9)
    return buffer.getvalue()


def unzipped_size(data: bytes) -> int:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def install_dependencies(root: Path, deps: Dependencies) -> Path:
    """``requirements.txt`` installed for Lambda's platform, cached by its key."""
    requirements = root / deps.requirements
    target = root / "build" / ".cache" / "deps" / deps.key(root)
    if (target / COMPLETE).exists():
        return target
    staging = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-compile", "--only-binary=:all:", "--platform", deps.platform,
               "--python-version", deps.python, "--implementation", "cp",
               "--target", str(staging), "--requirement", requirements.name]
    import subprocess  # here: only an install pays for it (~4 ms of every synth)

    try:
        done = subprocess.run(command, cwd=requirements.parent, capture_output=True, text=True,
                              timeout=PIP_TIMEOUT, env={**os.environ, "PIP_NO_INPUT": "1"})
    except subprocess.TimeoutExpired:
        raise DependencyError(f"{deps.requirements}: pip install did not finish in "
                              f"{PIP_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        detail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise DependencyError(f"{deps.requirements}: pip install for {deps.platform} "
                              f"Python {deps.python} (binary wheels only) failed: {detail}")
    (staging / COMPLETE).touch()
    shutil.rmtree(target, ignore_errors=True)
    try:
        staging.rename(target)
    except OSError:  # another process finished the same install first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def package(root: Path, source: str, deps: Dependencies | None,
            max_unzipped: int | None = None) -> bytes:
    """The asset zip of ``source`` (relative to ``root``) with its dependencies installed,
    checked against Lambda's unzipped size quota."""
    installed = install_dependencies(root, deps) if deps is not None else None
    data = build_zip(root / source, installed)
    size = unzipped_size(data)
    max_unzipped = MAX_UNZIPPED_BYTES if max_unzipped is None else max_unzipped
    if size > max_unzipped:
        where = deps.requirements if deps is not None else source
        raise DependencyError(
            f"{where}: the function package ({source} and its dependencies) is "
            f"{size:,} bytes unzipped, over Lambda's {max_unzipped:,} bytes (250 MB, layers "
            f"included; zipped: {len(data):,} bytes): drop dependencies or move them to a "
            "layer")
    return data


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assets_bucket(platform: str, account: str, region: str) -> str:
    """The bootstrap assets bucket of one account and region."""
    return f"{platform}-assets-{account}-{region}"
