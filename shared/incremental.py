"""Incremental synth: what an environment's templates were rendered from, and whether
that is still what is on disk, computed without importing pydantic, troposphere, awacs
or cfn-lint (make's and bazel's question: are the outputs up to date with the inputs?).

An environment's inputs are fingerprinted in three parts:

- ``shared``: everything any stack may read. The content of every file under
  ``config/`` and of the repository's ``platform/`` folder; the names found in
  ``services/`` and its folders (a new, removed or misspelled config file); Archway's
  own code (path, size and modification time of every file of the installed
  ``archway`` packages: its blueprints, rules and CloudFront Functions); the installed
  distributions (the names of the ``*.dist-info`` folders on the import path carry
  their versions: troposphere, awacs, pydantic, cfn-lint, policy_sentry...); the
  Python version and interpreter; ``ARCHWAY_*`` and ``PIP_*`` environment variables.
- ``services``: per folder ``services/<name>/``, the content of every file the loader,
  an asset or a check may read (``service.yaml``, ``src/``, ``requirements.txt``,
  data; not its own ``tests/``, caches or dot files, which no template depends on);
  apart, the content of its definition files (``definitions``) and of everything but
  its ``src/`` (``outside``).
- ``grants``: the execution roles' computed grants cached in ``build/`` (what the
  bootstrap stacks are rendered from: not an input of the local environment, which has
  none).

A synth compares them with the state the last synth of that environment left in
``build/<env>/.synth-state.json``, and checks that every file it wrote is still the same
bytes (sha256) and that no other template sits beside them. A dependency install an asset
was packaged with and no longer cached under ``build/.cache/deps`` counts as a change of
its service folder (installing again may pick other versions of loose requirements).

- all the same: nothing is rendered, nothing imported beyond this module;
- only the code of some services changed (files under ``services/<name>/src/``, the
  rest of the folder as it was: ``Inputs.outside``): the code is packaged again and its
  new digests substituted in the last outputs, the handlers recorded in the state
  checked again (archway.shared.repackage: no render, no pydantic); when that path
  cannot vouch for the result, as below;
- some services' definitions changed (``services/<name>/*.yaml``: ``Inputs.definitions``;
  their names are part of ``shared``), nothing else outside service folders: the
  config is validated again, every stack built, and the platform's own stacks (edge,
  auth, bootstrap: they read every service's definition) rendered with those of the
  changed folders; other services' stacks are kept (a service stack is built from the
  platform's files, its own folder and Archway's code alone);
- only some service folders changed (handler code, requirements): the config is
  validated again as a whole (a handler check reads the code) and the stacks packaging
  those folders are rendered again, the others kept (no other stack reads a service's
  folder: only its assets do); the pipelines (``tooling``) are rendered whole;
- anything else (a config file, Archway, a dependency, a damaged or missing output,
  no state): everything is rendered. ``archway synth --force`` always renders all.

The state records the fingerprint taken *before* rendering, so a file changed during a
synth makes the next one render again; it is written last, after the outputs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archway.shared.assets import IGNORED_DIRS, IGNORED_SUFFIXES

CACHE_DIRS = IGNORED_DIRS - {"tests"}  # src/tests/ is not packaged, but a check may read it

STATE_FILE = ".synth-state.json"
STATE_VERSION = 2
GRANTS_CACHE = ".grants-cache.json"  # archway.shared.synth.GRANTS_CACHE (not imported here)
PACKAGES = ("archway.shared", "archway.services", "archway.platform", "archway.pipelines")
ENV_PREFIXES = ("ARCHWAY_", "PIP_")
DATA_DIRS = {"lint_rules", "functions"}  # package data folders (pyproject.toml)
SKIPPED_DIRS = {"__pycache__", ".git", "node_modules", "build"}  # in Archway's packages


@dataclass(frozen=True)
class Inputs:
    """The fingerprint of what one environment's templates are rendered from."""

    shared: str
    services: dict[str, str]
    grants: str
    outside: dict[str, str] = field(default_factory=dict)  # folder -> all but its src/
    definitions: dict[str, str] = field(default_factory=dict)  # folder -> its *.yaml

    def redefined(self, state: State) -> set[str]:
        """The service folders whose definition files (``service.yaml``) changed."""
        return {name for name, digest in self.definitions.items()
                if state.definitions.get(name) != digest}

    def changed_services(self, state: State, grants: bool = True) -> set[str] | None:
        """The service folders whose content changed since ``state``, or None when
        something else changed too (everything must be rendered). ``grants``: whether
        the environment has bootstrap stacks (the local one has none)."""
        if self.shared != state.shared or (grants and self.grants != state.grants):
            return None
        if set(self.services) != set(state.services):
            return None
        return {name for name, digest in self.services.items()
                if state.services[name] != digest}


@dataclass(frozen=True)
class State:
    """What the last synth of an environment recorded: its inputs, the bytes of what it
    wrote, and which stacks package each service folder."""

    shared: str
    services: dict[str, str]
    grants: str
    outputs: dict[str, str]  # file name -> sha256 of the bytes written
    stacks_of: dict[str, list[str]] = field(default_factory=dict)  # service folder -> ids
    outside: dict[str, str] = field(default_factory=dict)  # Inputs.outside
    # service folder -> {function: handler} (service.yaml's, checked again when only
    # the folder's code changed: archway.shared.repackage)
    handlers: dict[str, dict[str, str]] = field(default_factory=dict)
    definitions: dict[str, str] = field(default_factory=dict)  # Inputs.definitions

    def to_json(self) -> str:
        return json.dumps({"version": STATE_VERSION, "shared": self.shared,
                           "services": self.services, "grants": self.grants,
                           "outputs": self.outputs, "stacks_of": self.stacks_of,
                           "outside": self.outside, "handlers": self.handlers,
                           "definitions": self.definitions},
                          indent=1, sort_keys=True) + "\n"


def inputs(root: Path) -> Inputs:
    """The current fingerprint of ``root``'s inputs (a few ms: small files are read,
    Archway's code and the installed distributions are only listed and stat'ed)."""
    services, outside = _services(root)
    return Inputs(_shared(root), services, grants_digest(root), outside, _definitions(root))


def grants_digest(root: Path) -> str:
    return _digest_files(root, [f"build/{GRANTS_CACHE}"])


def load_state(out_dir: Path) -> State | None:
    """The state the last synth left in ``out_dir``, or None (none, unreadable, older)."""
    try:
        data = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
        if data["version"] != STATE_VERSION:
            return None
        return State(data["shared"], dict(data["services"]), data["grants"],
                     dict(data["outputs"]), {k: list(v) for k, v in data["stacks_of"].items()},
                     dict(data["outside"]),
                     {k: dict(v) for k, v in data["handlers"].items()},
                     dict(data["definitions"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_state(out_dir: Path, state: State) -> None:
    """Whole or not at all; a state that cannot be written only makes the next synth a
    full one."""
    try:
        with tempfile.NamedTemporaryFile("w", dir=out_dir, prefix=f"{STATE_FILE}-",
                                         delete=False, encoding="utf-8") as temp:
            temp.write(state.to_json())
        os.replace(temp.name, out_dir / STATE_FILE)
    except OSError:
        pass


def forget(out_dir: Path) -> None:
    """Drop the state (before outputs are rewritten: a crash then forces a full synth)."""
    try:
        (out_dir / STATE_FILE).unlink()
    except OSError:
        pass


def outputs_intact(out_dir: Path, state: State) -> bool:
    """Every file the last synth wrote is still its bytes, and no other template sits
    beside them (a full synth would remove it)."""
    try:
        present = {p.name for p in out_dir.iterdir()
                   if p.suffix == ".json" and not p.name.startswith(".")}
    except OSError:
        return False
    if present != set(state.outputs):
        return False
    for name, digest in state.outputs.items():
        try:
            data = (out_dir / name).read_bytes()
        except OSError:
            return False
        if hashlib.sha256(data).hexdigest() != digest:
            return False
    return True


def missing_installs(root: Path, manifest: dict[str, Any]) -> set[str]:
    """The service folders whose assets were packaged with a dependency install no longer
    cached in ``build/.cache/deps`` (installing again may pick other versions of loose
    requirements: their stacks are rendered again)."""
    from archway.shared.assets import COMPLETE, Dependencies

    missing = set()
    for asset in manifest.get("assets", {}).values():
        deps = asset.get("dependencies")
        if not deps:
            continue
        try:
            key = Dependencies(**deps).key(root)
        except (OSError, TypeError, KeyError):
            key = ""
        if not key or not (root / "build" / ".cache" / "deps" / key / COMPLETE).exists():
            parts = Path(asset["path"]).parts
            missing.add(parts[1] if len(parts) >= 2 and parts[0] == "services" else "")
    return missing


def digest_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------- inputs


def _shared(root: Path) -> str:
    digest = hashlib.sha256()
    services = os.path.join(root, "services")
    entries = _names(services)  # a service folder added, removed or renamed
    definitions = [name for folder in entries for name in _definition_files(root, folder)]
    config = _walk(os.path.join(root, "config"), "config", {"__pycache__"})
    platform = _walk(os.path.join(root, "platform"), "platform", {"__pycache__"})
    for label, files in (("config", config), ("platform", platform)):
        digest.update(f"[{label}]".encode())
        digest.update(_digest_files(root, files).encode())
    digest.update("[names]\0{}".format("\0".join(entries)).encode())
    digest.update("[definitions]\0{}".format("\0".join(definitions)).encode())
    digest.update(b"[code]")
    digest.update(_code_digest().encode())
    digest.update(b"[runtime]")
    digest.update(_runtime().encode())
    return digest.hexdigest()


def _definition_files(root: Path | str, folder: str) -> list[str]:
    """A service folder's definition files: every ``*.yaml``/``*.yml`` directly in it
    (misspelled ones too: the loader names them)."""
    return [f"services/{folder}/{name}"
            for name in _names(os.path.join(root, "services", folder))
            if name.lower().endswith((".yaml", ".yml"))]


def _definitions(root: Path) -> dict[str, str]:
    """Per folder of services/, the content of its definition files (their names are
    part of the shared fingerprint)."""
    services = os.path.join(root, "services")
    return {name: _digest_files(root, _definition_files(root, name))
            for name in _names(services) if os.path.isdir(os.path.join(services, name))}


def _services(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Per folder of services/ (any: the loader reads every services/*/service.yaml), its
    files but its own tests/ folder, caches and dot files (no asset packs them and no
    check reads them); and the same of its files outside ``src/`` (what the code asset
    packages): requirements.txt, service.yaml, data."""
    services = os.path.join(root, "services")
    digests, outside = {}, {}
    for name in _names(services):
        folder = os.path.join(services, name)
        if os.path.isdir(folder):
            files = [f for f in _walk(folder, f"services/{name}", CACHE_DIRS, dot_files=False)
                     if not f.startswith(f"services/{name}/tests/")]
            digests[name] = _digest_files(root, files)
            outside[name] = _digest_files(root, [
                f for f in files if not f.startswith(f"services/{name}/src/")])
    return digests, outside


def _names(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return []


def _walk(folder: str, rel: str, skip: Iterable[str], dot_files: bool = True) -> list[str]:
    """Every file under ``folder`` (as ``rel``/...), sorted, except in folders named in
    ``skip`` and (``dot_files`` false) dot files and folders."""
    found: list[str] = []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return found
    for entry in entries:
        if entry.name in skip or (not dot_files and entry.name.startswith(".")):
            continue
        if entry.is_dir(follow_symlinks=False):
            found += _walk(entry.path, f"{rel}/{entry.name}", skip, dot_files)
        elif os.path.splitext(entry.name)[1] not in IGNORED_SUFFIXES:
            found.append(f"{rel}/{entry.name}")
    return found


def _digest_files(root: Path | str, files: Iterable[str]) -> str:
    """sha256 over each file's name (relative to ``root``) and content ("-" for one that
    cannot be read)."""
    digest = hashlib.sha256()
    for name in files:
        try:
            with open(os.path.join(root, name), "rb") as file:
                data = file.read()
        except OSError:
            data = b"-"
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _code_digest() -> str:
    """Archway's installed code: path, size and mtime of every file of its packages."""
    digest = hashlib.sha256()
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        locations = spec.submodule_search_locations if spec is not None else None
        for location in sorted(locations or []):
            if os.path.isdir(location):  # not an editable install's finder hook
                digest.update(_code_stats(location).encode())
    return digest.hexdigest()


def _code_stats(folder: str) -> str:
    """Path, size and mtime of the files of a package folder and of its subpackages and
    data folders (not the service folders beside services/blueprint.py in a source
    checkout: those are inputs, fingerprinted per service)."""
    lines = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
            continue
        if entry.is_dir():
            if entry.name in DATA_DIRS or os.path.isfile(os.path.join(entry.path,
                                                                      "__init__.py")):
                lines.append(_code_stats(entry.path))
        elif os.path.splitext(entry.name)[1] not in IGNORED_SUFFIXES:
            stat = entry.stat()
            lines.append(f"{entry.path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return "\n".join(lines)


def _runtime() -> str:
    """The interpreter, its version, the installed distributions and the environment
    variables Archway or pip read."""
    parts = [sys.version, sys.executable, sys.implementation.cache_tag or ""]
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        try:
            names = sorted(n for n in os.listdir(entry)
                           if n.endswith((".dist-info", ".egg-info", ".egg-link", ".pth")))
        except OSError:
            continue
        if names:  # not the script's or the current folder (python -m, -c)
            parts.append(f"{os.path.realpath(entry)}:{','.join(names)}")
    parts += sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(ENV_PREFIXES))
    return "\n".join(parts)


def state_from(inputs: Inputs, outputs: dict[str, str], manifest: dict[str, Any],
               handlers: dict[str, dict[str, str]]) -> State:
    """The state to record after writing ``outputs`` (file name -> text) for
    ``manifest``: which stacks package each service folder comes from the assets;
    ``handlers``: each service folder's functions' handlers."""
    stacks_of: dict[str, list[str]] = {}
    assets = manifest.get("assets", {})
    for stack in manifest.get("stacks", []):
        for asset_id in stack.get("assets", []):
            parts = Path(assets[asset_id]["path"]).parts
            if len(parts) >= 2 and parts[0] == "services":
                ids = stacks_of.setdefault(parts[1], [])
                if stack["id"] not in ids:
                    ids.append(stack["id"])
    return State(inputs.shared, inputs.services, inputs.grants,
                 {name: digest_text(text) for name, text in outputs.items()}, stacks_of,
                 inputs.outside, handlers, inputs.definitions)
