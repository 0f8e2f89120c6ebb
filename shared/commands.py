"""The core commands: synth, lint, schema. Thin: parse options, call, print."""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from archway.shared.blueprint import StackDef
from archway.shared.config import Config, load_config
from archway.shared.errors import ArchwayError, ConfigError
from archway.shared.model import Platform, resolve
from archway.shared.synth import Rendered, SynthResult, grants_cache, render_all


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
    return resolve(load_config(root), env)


def environments(root: Path, env: str) -> list[str]:
    """``--env all`` means every environment file plus the pipelines (``tooling``)."""
    if env == "all":
        config = load_config(root)
        extra = [TOOLING] if config.platform.pipelines else []
        return [*sorted(config.environments), *extra]
    return [env]


def render_env(root: Path, env: str) -> Rendered:
    """Validate and render one environment, or the pipelines for ``tooling``: in memory
    (the computed grants are cached in build/ only if all of it succeeds)."""
    from archway.pipelines.blueprint import pipeline_stacks

    with grants_cache(root):
        if env == TOOLING:
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


def synth_all(root: Path, env: str) -> list[tuple[str, SynthResult]]:
    """Every environment of ``env`` (``all`` too) rendered before any of them is written."""
    with grants_cache(root):
        rendered = [(name, render_env(root, name)) for name in environments(root, env)]
    return [(name, plan.write()) for name, plan in rendered]


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
    for env, result in synth_all(args.root, args.env):
        stacks = result.manifest["stacks"]
        print(f"{env}: {len(stacks)} templates + manifest in {_show(result.out_dir)}")
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
    for env, result in synth_all(args.root, args.env):
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


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from archway.shared.cli import common
    from archway.shared.scaffold import register as register_scaffold

    register_scaffold(sub)
    parser = sub.add_parser(
        "synth", help="write build/<env>/*.json and manifest.json",
        description="Synthesize every stack of an environment (or --env all) into "
        "build/<env>/<stack>.json plus manifest.json; the same input gives the same bytes.")
    common(parser)
    parser.set_defaults(handler=cmd_synth)
    parser.epilog = "--env all synthesizes every environment"

    parser = sub.add_parser(
        "lint", help="cfn-lint every template (zero findings allowed)",
        description="Synthesize, then run cfn-lint and the house rules on every template.",
        epilog="exit codes: 0 no findings, 1 findings, 2 bad config")
    common(parser)
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
