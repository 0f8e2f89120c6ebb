"""cfn-lint on every rendered template, in process, cached by template hash.

cfn-lint's rules (its ~340 rule modules plus the house rules in ``lint_rules/``) are built
once per process and reused for every template, as cfn-lint's own runner does for many
files; ``Rules.run`` re-initializes each rule for each template. Several templates are
spread over worker processes (one per core) that share those rules. Three pieces of
cfn-lint's validator machinery that cost about a third of its time per template are
replaced by equivalents (``lint_speedups``: same findings).

The cache key is the template's sha256 plus cfn-lint's version and the house rules'
hash, so a new cfn-lint or a changed rule re-lints everything. The version is read from
the name of the installed distribution's dist-info folder: a warm run (every template
cached) never imports cfn-lint (nor importlib.metadata, nor the worker machinery), and
reads the templates' declared deviations from a cache keyed by their sha256 too.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archway.shared.synth import SynthResult

if TYPE_CHECKING:
    from cfnlint.rules import Rules

CACHE_FILE = ".lint-cache.json"
DEVIATIONS_CACHE = ".deviations-cache.json"  # template sha256 -> its declared deviations
RULES_DIR = Path(__file__).parent / "lint_rules"
CFN_LINT = "cfn-lint"  # the distribution's name, for its version


@dataclass(frozen=True)
class Finding:
    template: str
    rule: str
    level: str  # error | warning | informational
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.template}: {self.rule} [{self.level}] {self.path}: {self.message}"


def _append_rules() -> list[str]:
    return [str(RULES_DIR)] if _has_rules() else []


@functools.cache
def _rules() -> Rules:
    """cfn-lint's rules and the house rules, built once per process (the costly part of
    linting one template: hundreds of rule modules imported and instantiated)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    from archway.shared import lint_speedups

    lint_speedups.install()
    return Runner(ConfigMixIn(append_rules=_append_rules())).rules


def lint_template(body: str, region: str) -> list[Finding]:
    """cfn-lint's findings on one template body, as ``cfnlint.api.lint`` gives them, but
    with the process's rules (that function rebuilds them unless given the older
    ``RulesCollection`` type: cfnlint/api.py)."""
    from cfnlint.config import ConfigMixIn
    from cfnlint.decode.decode import decode_str
    from cfnlint.runner import run_template_by_data

    template, matches = decode_str(body)
    if not matches and template is not None:
        config = ConfigMixIn(regions=[region], append_rules=_append_rules())
        matches = list(run_template_by_data(template, config, _rules()))
    return [
        Finding("", m.rule.id, m.rule.severity, "/".join(str(p) for p in m.path), m.message)
        for m in matches
    ]


def _has_rules() -> bool:
    return RULES_DIR.is_dir() and any(RULES_DIR.glob("*.py"))


def installed_version(distribution: str) -> str:
    """An installed distribution's version, from its ``<name>-<version>.dist-info``
    folder's name on the import path (https://packaging.python.org/en/latest/
    specifications/recording-installed-packages/): a warm lint does not pay for
    importing importlib.metadata (~20 ms); that is the fallback."""
    prefix = re.sub(r"[-_.]+", "_", distribution).lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info") and name.lower().startswith(prefix):
                return name[len(prefix):-len(".dist-info")]
    from importlib.metadata import version

    return version(distribution)


def _salt() -> str:
    digest = hashlib.sha256(installed_version(CFN_LINT).encode())
    if _has_rules():
        for path in sorted(RULES_DIR.glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Job:
    """One template to lint: its file name (as findings name it), path and region."""

    template: str
    path: Path
    region: str


def lint_job(job: Job) -> list[Finding]:
    body = job.path.read_text(encoding="utf-8")
    return [Finding(job.template, f.rule, f.level, f.path, f.message)
            for f in lint_template(body, job.region)]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _warm_worker() -> None:
    _rules()


Progress = Callable[[int, int], None]  # (templates linted, templates to lint)


def lint_jobs(jobs: list[Job], workers: int | None = None,
              progress: Progress | None = None) -> list[list[Finding]]:
    """Each job's findings, in the jobs' order: in this process for one template or one
    core, else over ``workers`` processes (default: one per core). ``progress`` is called
    before the first template and after each.

    On Linux the rules are built here first and the workers, forked, inherit them (built
    once in all); elsewhere each worker builds them once as it starts. The objects alive
    when the linting starts (the rules, their schemas) are kept out of the garbage
    collector's way (``gc.freeze``): no collection walks them again, and forked workers
    do not copy the memory pages holding them by touching them."""
    if not jobs:
        return []
    report = progress or (lambda done, total: None)
    report(0, len(jobs))
    workers = min(len(jobs), workers or _cores())
    if workers <= 1:
        _rules()
        with _frozen_heap():
            return [_reported(lint_job(job), index, len(jobs), report)
                    for index, job in enumerate(jobs)]
    import multiprocessing  # here: a warm lint (no job) does not pay for importing them
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("fork") if sys.platform == "linux" else None
    if context is not None:
        _rules()
    found: dict[int, list[Finding]] = {}
    with _frozen_heap(), ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                             initializer=_warm_worker) as pool:
        futures = {pool.submit(lint_job, job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            found[futures[future]] = future.result()
            report(len(found), len(jobs))
    return [found[index] for index in range(len(jobs))]


def _reported(findings: list[Finding], index: int, total: int,
              report: Progress) -> list[Finding]:
    report(index + 1, total)
    return findings


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Every object alive now moved out of the collector's generations until the end
    (https://docs.python.org/3/library/gc.html#gc.freeze: before a fork, so that children
    do not copy the pages the collector would touch)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def lint_synth(result: SynthResult, workers: int | None = None,
               progress: Progress | None = None) -> list[Finding]:
    """Lint every template of a synth, skipping those already clean in the cache.

    Templates with the same body and region (bootstrap stacks of several accounts) are
    linted once; each of them gets the findings, under its own name. ``progress`` is
    called after each template linted (cached ones are not counted)."""
    cache_path = result.out_dir / CACHE_FILE
    cache = _read_cache(cache_path)
    salt = _salt()
    clean: dict[str, bool] = {}
    todo: dict[str, list[str]] = {}  # cache key -> the templates having it
    for stack in result.manifest["stacks"]:
        key = f"{salt}:{stack['template_sha256']}:{stack['region']}"
        if cache.get(key):
            clean[key] = True
        else:
            todo.setdefault(key, []).append(stack["template"])
    regions = {s["template"]: s["region"] for s in result.manifest["stacks"]}
    jobs = [Job(names[0], result.out_dir / names[0], regions[names[0]])
            for names in todo.values()]
    found = dict(zip(todo, lint_jobs(jobs, workers, progress), strict=True))
    findings: list[Finding] = []
    for stack in result.manifest["stacks"]:
        key = f"{salt}:{stack['template_sha256']}:{stack['region']}"
        if key in found:
            findings += [replace(f, template=stack["template"]) for f in found[key]]
            clean[key] = not found[key]
    cache_path.write_text(json.dumps({k: v for k, v in clean.items() if v}, sort_keys=True))
    return findings


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def declared_deviations(result: SynthResult) -> list[str]:
    """Every deliberate deviation from a control the templates declare in their Metadata
    (``Archway::Deviations``), one line each: template, control, resources, reason.

    Read from each template once per content: kept in ``build/<env>/`` by the template's
    sha256 (as the manifest records it), so a warm lint parses no template."""
    cache_path = result.out_dir / DEVIATIONS_CACHE
    cache = _read_cache(cache_path)
    known = dict(cache)
    lines = []
    for stack in result.manifest["stacks"]:
        digest = stack["template_sha256"]
        if not isinstance(known.get(digest), list):
            known[digest] = _deviations(result.out_dir / stack["template"])
        lines += [f"{stack['template']}: {line}" for line in known[digest]]
    wanted = {stack["template_sha256"] for stack in result.manifest["stacks"]}
    if wanted != set(cache):
        _write_cache(cache_path, {k: v for k, v in known.items() if k in wanted})
    return lines


def _deviations(template: Path) -> list[str]:
    from archway.shared.naming import DEVIATIONS_KEY

    body = json.loads(template.read_text(encoding="utf-8"))
    return [f"deviation {declared['Control']} ({', '.join(declared['Resources'])}): "
            f"{declared['Reason']}"
            for declared in body.get("Metadata", {}).get(DEVIATIONS_KEY, [])]


def _write_cache(path: Path, data: object) -> None:
    try:
        path.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    except OSError:
        pass
