"""The core commands: synth, lint, schema. Thin: parse options, call, print."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archway.shared import incremental
from archway.shared.errors import ArchwayError, ConfigError
from archway.shared.incremental import Inputs, State
from archway.shared.synth import (
    LOCAL,
    Rendered,
    SynthResult,
    defer_rare_imports,
    load_manifest,
)

if TYPE_CHECKING:  # the heavy modules (pydantic, troposphere) load only to render
    from archway.shared.blueprint import StackDef
    from archway.shared.config import Config
    from archway.shared.model import Platform
    from archway.shared.repackage import Repackaged


class LintFailed(ArchwayError):
    exit_code = 1


SCHEMA_DIR = "schema"  # tracked: editors read it through each config file's modeline
SCHEMAS = {"platform": "config/platform.yaml", "environment": "config/environments/*.yaml",
           "service": "services/*/service.yaml"}
TOOLING = "tooling"  # the pseudo-environment of the pipeline stacks (tooling account)


@dataclass(frozen=True)
class ToolingScope:
    root: Path
    name: str
    env: str = TOOLING


def load_platform(root: Path, env: str) -> Platform:
    from archway.shared.config import load_config
    from archway.shared.model import resolve

    return resolve(load_config(root), env)


def environments(root: Path, env: str) -> list[str]:
    """``--env all`` means every environment file plus the pipelines (``tooling``)."""
    from archway.shared.config import load_config

    if env == "all":
        config = load_config(root)
        extra = [TOOLING] if config.platform.pipelines else []
        return [*sorted(config.environments), *extra]
    return [env]


def render_env(root: Path, env: str) -> Rendered:
    """Validate and render one environment, or the pipelines for ``tooling``: in memory
    (the computed grants are cached in build/ only if all of it succeeds)."""
    defer_rare_imports()
    from archway.shared.config import load_config
    from archway.shared.synth import grants_cache, render_all

    with grants_cache(root):
        if env == TOOLING:
            from archway.pipelines.blueprint import pipeline_stacks

            config = load_config(root)
            if config.platform.pipelines is None:
                raise ConfigError("config/platform.yaml", "pipelines", "is not set: no "
                                  "pipelines to synthesize")
            return render_all(ToolingScope(config.root, config.platform.name),
                              stacks=tooling_stacks(config, pipeline_stacks(config)))
        return render_all(load_platform(root, env))


def synth_env(root: Path, env: str) -> SynthResult:
    """Synthesize one environment: validated and rendered first, then written."""
    return render_env(root, env).write()


@dataclass(frozen=True)
class Synthesized:
    """One environment's synth: its result and what was rendered for it."""

    env: str
    result: SynthResult
    rendered: list[str] | None  # the stack ids rendered again; None: all of them
    validated: bool = False  # changed service code checked, none of it packaged here
    repackaged: bool = False  # only code changed: new digests put in the last outputs

    @property
    def summary(self) -> str:
        total = len(self.result.manifest["stacks"])
        if self.rendered is None:
            return f"rendered all {total}"
        if not self.rendered and self.repackaged:
            return "changed code packages to the same bytes: nothing rendered"
        if not self.rendered and self.validated:
            return "changed code packaged by no stack here: validated, nothing rendered"
        if not self.rendered:
            return "inputs unchanged: nothing rendered, --force renders all"
        how = " (new code only)" if self.repackaged else ""
        return f"rendered {len(self.rendered)} of {total}{how}: {', '.join(self.rendered)}"


@dataclass(frozen=True)
class _Plan:
    env: str
    out_dir: Path
    state: State | None  # the last synth's, when its outputs are intact
    changed: set[str] | None  # service folders changed since; None: render all
    manifest: dict[str, Any] | None = None  # the last synth's, when its outputs are intact
    redefined: frozenset[str] = frozenset()  # of ``changed``, those whose service.yaml did

    def result(self) -> SynthResult:
        """The last synth's result, as it is on disk."""
        return SynthResult(self.out_dir, self.manifest or load_manifest(self.out_dir))


def synth_all(root: Path, env: str, force: bool = False) -> list[Synthesized]:
    """Every environment of ``env`` (``all`` too), rendered where its inputs changed since
    the last synth (archway.shared.incremental; ``force``: everything) before any of
    them is written."""
    current = incremental.inputs(root)
    plans = [_plan(root, name, current, force) for name in _environment_names(root, env)]
    if all(p.changed == set() for p in plans):
        return [Synthesized(p.env, p.result(), []) for p in plans]
    quick = {p.env: _repackage(root, p, current) for p in plans if p.changed}
    if all(p.changed == set() or quick.get(p.env) is not None for p in plans):
        return [_write_repackaged(p, current, quick.get(p.env)) for p in plans]
    from archway.shared.synth import grants_cache

    with grants_cache(root):
        names = environments(root, env)  # validated: the cheap listing may be stale
        if names != [p.env for p in plans]:
            plans = [_plan(root, name, current, force=True) for name in names]
            quick = {}
        rendered = [(plan, *_render(root, plan)) for plan in plans
                    if quick.get(plan.env) is None]
    current = replace(current, grants=incremental.grants_digest(root))
    done = {plan.env: _write(plan, current, body, ids) for plan, body, ids in rendered}
    return [done.get(p.env) or _write_repackaged(p, current, quick.get(p.env))
            for p in plans]


def _repackage(root: Path, plan: _Plan, current: Inputs) -> Repackaged | None:
    """Only service code changed: the outputs from the last ones and the new code's
    digests (archway.shared.repackage), or None (render as usual)."""
    if plan.state is None or not plan.changed or plan.manifest is None or plan.redefined:
        return None
    from archway.shared.repackage import repackage

    return repackage(root, plan.out_dir, plan.state, plan.manifest, plan.changed, current)


def _write_repackaged(plan: _Plan, current: Inputs, done: Repackaged | None) -> Synthesized:
    if done is None:  # inputs unchanged
        return Synthesized(plan.env, plan.result(), [])
    assert plan.state is not None
    written = _write(plan, current, done.rendered, done.ids, plan.state.handlers)
    return replace(written, repackaged=done.assets > 0)


def _environment_names(root: Path, env: str) -> list[str]:
    """What ``--env`` names, without validating the config (``all``: every environment
    file, and ``tooling`` when platform.yaml sets pipelines)."""
    if env != "all":
        return [env]
    names = sorted(p.stem for p in (root / "config" / "environments").glob("*.yaml"))
    try:
        import yaml

        data = yaml.safe_load((root / "config" / "platform.yaml").read_bytes())
        pipelines = isinstance(data, dict) and data.get("pipelines") is not None
    except (OSError, ValueError, yaml.YAMLError):
        pipelines = False
    return [*names, *([TOOLING] if pipelines else [])]


def _plan(root: Path, env: str, current: Inputs, force: bool) -> _Plan:
    out_dir = root.resolve() / "build" / env
    state = None if force else incremental.load_state(out_dir)
    if state is None or not incremental.outputs_intact(out_dir, state):
        return _Plan(env, out_dir, None, None)
    changed = current.changed_services(state, grants=env != LOCAL)
    manifest = load_manifest(out_dir)
    if changed is not None:
        missing = incremental.missing_installs(root, manifest)
        changed = None if "" in missing else changed | missing
    if changed and env == TOOLING:  # the pipelines' bootstrap reads every environment
        changed = None
    redefined = frozenset(current.redefined(state)) if changed is not None else frozenset()
    return _Plan(env, out_dir, state, changed, manifest, redefined)


def _render(root: Path, plan: _Plan) -> tuple[Rendered | None, list[str] | None]:
    """What to write for ``plan`` (None: nothing) and the stacks rendered (None: all).
    Changed service folders: the whole config validated again, their stacks rendered."""
    if plan.state is None or plan.changed is None:
        return render_env(root, plan.env), None
    if not plan.changed:
        return None, []
    if plan.redefined:
        return _render_redefined(root, plan)
    defer_rare_imports()
    from archway.services.blueprint import service_stack
    from archway.shared.synth import render_some

    platform = load_platform(root, plan.env)  # validates every file, handler code too
    stacks = [service_stack(platform, service) for service in platform.services
              if service.source_dir.parent.name in plan.changed]
    expected = {i for name in plan.changed for i in plan.state.stacks_of.get(name, [])}
    if {stack.id for stack in stacks} != expected:  # not what the state says: render all
        return render_env(root, plan.env), None
    if not stacks:
        return None, []
    return render_some(platform, plan.out_dir, stacks, plan.result().manifest), sorted(expected)


def _render_redefined(root: Path, plan: _Plan) -> tuple[Rendered, list[str] | None]:
    """Some services' definitions changed (and nothing outside services/): every stack is
    built (the bootstrap's execution roles serve them all), and rendered are the
    platform's own stacks (edge, auth, bootstrap: they read every service's definition)
    and the changed services' stacks. Another service's stack is kept: it is built from
    the platform's files, its own folder and Archway's code alone (archway.shared.model
    ``_service`` reads ``config.services[name]``; services/blueprint.py the platform's
    name, environment and settings). When the stacks are not those of the last synth
    (an account added or dropped makes or removes a bootstrap stack), all are rendered."""
    defer_rare_imports()
    from archway.shared.synth import platform_stacks, render_all, render_some

    platform = load_platform(root, plan.env)  # validates every file, handler code too
    stacks = platform_stacks(platform)
    previous = plan.result().manifest
    if [stack.id for stack in stacks] != [entry["id"] for entry in previous["stacks"]]:
        return render_all(platform, stacks=stacks), None
    changed = {s.stack_name for s in platform.services
               if s.source_dir.parent.name in (plan.changed or set())}
    again = [s for s in stacks if s.kind != "service" or s.name in changed]
    return (render_some(platform, plan.out_dir, again, previous),
            sorted(stack.id for stack in again))


def _write(plan: _Plan, current: Inputs, rendered: Rendered | None,
           ids: list[str] | None, handlers: dict[str, dict[str, str]] | None = None,
           ) -> Synthesized:
    """Write one environment's files, then the state recording what they came from
    (``handlers``: the functions' handlers, when ``rendered`` does not know them)."""
    if rendered is None:  # inputs unchanged, or only code no stack here packages
        assert plan.state is not None
        if plan.changed:
            incremental.save_state(plan.out_dir, replace(
                plan.state, services=current.services, outside=current.outside,
                definitions=current.definitions))
        return Synthesized(plan.env, plan.result(), [], validated=bool(plan.changed))
    incremental.forget(rendered.out_dir)
    result = rendered.write()
    outputs = dict(plan.state.outputs) if plan.state is not None and ids is not None else {}
    outputs = {name: digest for name, digest in outputs.items()
               if name in rendered.kept}
    state = incremental.state_from(current, rendered.files, result.manifest,
                                   rendered.handlers if handlers is None else handlers)
    incremental.save_state(result.out_dir, replace(state, outputs={**outputs, **state.outputs}))
    return Synthesized(plan.env, result, ids)


def tooling_stacks(config: Config, pipelines: list[StackDef]) -> list[StackDef]:
    """The pipelines, then the tooling account's bootstrap (it deploys them)."""
    from archway.shared.blueprint.bootstrap import bootstrap_stacks
    from archway.shared.synth import every_deployed_stack, grants_cache

    if not pipelines:
        return pipelines
    settings = config.platform.pipelines
    protect = settings is not None and any(
        config.environments[env].termination_protection for env in settings.promotion)
    tooling = pipelines[0].account
    with grants_cache(config.root):
        return pipelines + bootstrap_stacks(
            config.platform.name, tooling, every_deployed_stack(config.root),
            config.platform.operator_roles, protect, secrets_at=None,
            targets=[(tooling, config.platform.home_region)])


def cmd_synth(args: argparse.Namespace) -> int:
    for done in synth_all(args.root, args.env, force=args.force):
        stacks = done.result.manifest["stacks"]
        print(f"{done.env}: {len(stacks)} templates + manifest in "
              f"{_show(done.result.out_dir)} ({done.summary})")
        for stack in stacks:
            print(f"  {stack['name']:<32} {stack['account']} {stack['region']}")
    return 0


class LintProgress:
    """Templates linted so far: a counter rewritten in place on a terminal's stderr
    (a cold lint of 100 services takes a while); elsewhere only counted, for the summary."""

    def __init__(self, env: str, tty: bool) -> None:
        self.env, self.tty, self.done = env, tty, 0
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        self.done = done
        if self.tty:
            end = "\r\x1b[K" if done == total else ""  # the summary line replaces it
            print(f"\r{self.env}: linting templates {done}/{total}", end=end,
                  file=sys.stderr, flush=True)

    def seconds(self) -> float:
        return time.monotonic() - self.started


def cmd_lint(args: argparse.Namespace) -> int:
    from archway.shared.lint import declared_deviations, lint_synth

    total = 0
    for done in synth_all(args.root, args.env, force=args.force):
        env, result = done.env, done.result
        progress = LintProgress(env, sys.stderr.isatty())
        findings = lint_synth(result, progress=progress)
        for finding in findings:
            print(f"{env}/{finding}")
        for line in declared_deviations(result):
            print(f"{env}/{line}")
        total += len(findings)
        count = len(result.manifest["stacks"])
        print(f"{env}: {count} templates ({progress.done} linted, the rest unchanged or "
              f"the same body), {len(findings)} findings, {progress.seconds():.1f} s",
              file=sys.stderr)
    if total:
        raise LintFailed(f"cfn-lint found {total} problem(s)")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from archway.shared.config.models import EnvironmentConfig, PlatformConfig, ServiceConfig

    out: Path = args.out or args.root / SCHEMA_DIR
    out.mkdir(parents=True, exist_ok=True)
    for name, model in (("platform", PlatformConfig), ("environment", EnvironmentConfig),
                        ("service", ServiceConfig)):
        path = out / f"{name}.schema.json"
        schema = model.model_json_schema(by_alias=True)
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {_show(path)}")
    print("config files point at them with a first line like "
          "# yaml-language-server: $schema=../../schema/service.schema.json")
    return 0


def cmd_diagram(args: argparse.Namespace) -> int:
    from archway.shared.deploy.diagram import build, markdown, to_svg

    out: Path = args.out or args.root / "docs"
    out.mkdir(parents=True, exist_ok=True)
    for env in environments(args.root, args.env):
        if env == TOOLING:
            continue
        graph = build(load_platform(args.root, env))
        svg = out / f"platform-{env}.svg"
        svg.write_text(to_svg(graph), encoding="utf-8")
        page = out / f"platform-{env}.md"
        page.write_text(markdown(graph, svg.name, env), encoding="utf-8")
        print(f"wrote {_show(page)} (Mermaid) and {_show(svg)}")
    return 0


def _show(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true",
                        help="render every template even if its inputs are unchanged since "
                             "the last synth (build/<env>/.synth-state.json)")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from archway.shared.cli import common
    from archway.shared.scaffold import register as register_scaffold

    register_scaffold(sub)
    parser = sub.add_parser(
        "synth", help="write build/<env>/*.json and manifest.json",
        description="Synthesize every stack of an environment (or --env all) into "
        "build/<env>/<stack>.json plus manifest.json; the same input gives the same bytes.")
    common(parser)
    force(parser)
    parser.set_defaults(handler=cmd_synth)
    parser.epilog = "--env all synthesizes every environment"

    parser = sub.add_parser(
        "lint", help="cfn-lint every template (zero findings allowed)",
        description="Synthesize, then run cfn-lint and the house rules on every template.",
        epilog="exit codes: 0 no findings, 1 findings, 2 bad config")
    common(parser)
    force(parser)
    parser.set_defaults(handler=cmd_lint)

    parser = sub.add_parser(
        "diagram", help="the platform as Mermaid and SVG in docs/",
        description="Accounts, stacks, the edge and every route to its function and tables, "
        "from the config alone: docs/platform-<env>.md (Mermaid) and docs/platform-<env>.svg.")
    common(parser)
    parser.add_argument("--out", type=Path, default=None, help="folder (default docs/)")
    parser.set_defaults(handler=cmd_diagram)

    parser = sub.add_parser(
        "schema", help="write the JSON Schema of the config files to schema/",
        description="Write platform, environment and service JSON Schemas to schema/ (tracked); "
        "the config files name them in a yaml-language-server modeline so editors complete "
        "and check them.")
    common(parser)
    parser.add_argument("--out", type=Path, default=None, help="folder (default schema/)")
    parser.set_defaults(handler=cmd_schema)
