"""What a worker may import, as on Lambda: the function's code, its vendored dependencies,
and the libraries the runtime and the pinned Powertools layer provide. Nothing else.

On Lambda the import path is the function's package (/var/task, where `pip install
--target` puts a function's dependencies), then the layers (/opt/python), then the
runtime's own libraries (boto3), then the standard library; see
https://docs.aws.amazon.com/lambda/latest/dg/python-package.html and
https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html (layer paths per
runtime). Locally:

- ``runtime_layer``: a folder of links to the host's installed boto3 and Powertools for
  AWS Lambda and what they require (botocore, s3transfer, jmespath, ...), so a handler
  sees those and not the rest of archway's environment: ``import httpx`` fails locally
  as it does on Lambda unless the service declares it.
- ``vendored``: ``services/<svc>/requirements.txt``, when present, installed with
  ``pip install --target`` (binary wheels only: nothing is built on the host) into
  ``build/local/.cloud/deps/<hash>``, cached by the hash of the file and the Python version.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

from archway.shared.errors import ArchwayError

RUNTIME_DISTRIBUTIONS = ("boto3", "aws-lambda-powertools")
PIP_TIMEOUT = 600.0
_locks: dict[Path, threading.Lock] = {}
_guard = threading.Lock()


class DependencyError(ArchwayError):
    exit_code = 2


def _lock(path: Path) -> threading.Lock:
    with _guard:
        return _locks.setdefault(path, threading.Lock())


def _requirement_names(dist: metadata.Distribution) -> list[str]:
    names = []
    for requirement in dist.requires or []:
        spec, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue  # optional extras are not installed with the layer
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
        if match:
            names.append(match.group(1))
    return names


def runtime_distributions(roots: tuple[str, ...] = RUNTIME_DISTRIBUTIONS
                          ) -> list[metadata.Distribution]:
    """The runtime's distributions and everything they require, each once."""
    found: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a marker-excluded requirement (e.g. for another Python)
        found[key] = dist
        pending += _requirement_names(dist)
    return [found[k] for k in sorted(found)]


def _top_level(dist: metadata.Distribution) -> set[Path]:
    """Absolute paths of a distribution's top-level packages, modules and .dist-info."""
    entries = set()
    for file in dist.files or []:
        parts = Path(file).parts
        if not parts or parts[0] in {"..", "__pycache__"} or parts[0].endswith(".pth"):
            continue
        entries.add(Path(str(dist.locate_file(parts[0]))))
    return {e for e in entries if e.exists()}


def runtime_layer(work_dir: Path) -> Path:
    """A folder holding links to the runtime's libraries only (made once per version set)."""
    dists = runtime_distributions()
    versions = ",".join(f"{d.metadata['Name']}=={d.version}" for d in dists)
    key = hashlib.sha256(f"{sys.version}|{versions}".encode()).hexdigest()[:16]
    layer = work_dir / "layer" / key
    with _lock(layer):
        if (layer / ".complete").exists():
            return layer
        shutil.rmtree(layer, ignore_errors=True)
        layer.mkdir(parents=True)
        for dist in dists:
            for entry in _top_level(dist):
                link = layer / entry.name
                if not link.exists():
                    link.symlink_to(entry, target_is_directory=entry.is_dir())
        (layer / ".complete").write_text(versions + "\n")
    return layer


def requirements_key(requirements: Path, version: str | None = None) -> str:
    version = version or f"{sys.version_info.major}.{sys.version_info.minor}"
    python = f"{sys.implementation.name}{version}"
    data = requirements.read_bytes() + f"|{python}|{sys.platform}".encode()
    return hashlib.sha256(data).hexdigest()[:16]


def vendored(requirements: Path, work_dir: Path, python: str | None = None) -> Path | None:
    """``requirements.txt`` installed into a cached folder; None when there is none.
    ``python`` (3.12): for workers running another Python than this one."""
    if not requirements.is_file():
        return None
    target = work_dir / "deps" / requirements_key(requirements, python)
    with _lock(target):
        if (target / ".complete").exists():
            return target
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-compile", "--only-binary=:all:", "--target", str(staging),
                   "--requirement", requirements.name]
        if python is not None:
            command += ["--python-version", python]
        try:
            done = subprocess.run(command, cwd=requirements.parent, capture_output=True,
                                  text=True, timeout=PIP_TIMEOUT,
                                  env={**os.environ, "PIP_NO_INPUT": "1"})
        except subprocess.TimeoutExpired:
            raise DependencyError(f"{requirements}: pip install did not finish in "
                                  f"{PIP_TIMEOUT:.0f} s") from None
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
            raise DependencyError(f"{requirements}: pip install failed: {detail}")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        (target / ".complete").touch()
    return target
