"""`archway bootstrap | plan | deploy | status | publish-site`: thin wrappers on the engine.

Env ``local`` targets the running local cloud (LocalProvider); any other environment
goes to AWS through CloudFormation with the caller's credentials and each account's
deploy role; ``tooling`` is the pipelines. Exit codes: 0 done or nothing to do, 1 a
stack failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from archway.shared.commands import TOOLING, load_platform, synth_env
from archway.shared.config import load_config
from archway.shared.deploy.changes import ChangeSet
from archway.shared.deploy.cloudformation import CloudFormationProvider, Confirm
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.display import Display
from archway.shared.deploy.engine import DeployError, Engine, digest, load_targets
from archway.shared.deploy.provider import Provider, Resolved, Target
from archway.shared.errors import ArchwayError
from archway.shared.model import Platform

RED, RESET = "\033[31m", "\033[0m"


class NotConfirmed(ArchwayError):
    exit_code = 2


@dataclass
class Session:
    platform: Platform
    engine: Engine
    ui: Display


def _platform(root: Path, env: str) -> Platform:
    if env == TOOLING:
        config = load_config(root)
        pipelines = config.platform.pipelines
        if pipelines is None:
            raise ArchwayError("config/platform.yaml has no pipelines section")
        return load_platform(root, pipelines.promotion[0])
    return load_platform(root, env)


def open_session(args: argparse.Namespace) -> Session:
    ui = Display()
    platform = _platform(args.root, args.env)
    result = synth_env(args.root, args.env)
    if args.env == "local":
        from archway.shared.local.cloud import local_engine, running_endpoint

        engine = local_engine(platform, result, running_endpoint(args.root), ui)
        return Session(platform, engine, ui)
    connections = ConnectionManager(platform.name, platform.home_region,
                                    profile=getattr(args, "profile", None),
                                    region=getattr(args, "region", None),
                                    endpoint_url=getattr(args, "endpoint_url", None))
    provider = CloudFormationProvider(
        connections, confirm=_confirm(getattr(args, "yes", False), ui),
        events=lambda target, line: ui.line(target.id, "event", line),
        continue_rollback=getattr(args, "continue_rollback", False), cancelled=ui.cancelled)
    engine = Engine(platform, result, connections, lambda _t: provider, ui,
                    concurrency=getattr(args, "concurrency", 4))
    return Session(platform, engine, ui)


def show_changes(ui: Display, change_set: ChangeSet) -> None:
    for change in change_set.changes:
        text = str(change)
        if change.risky:
            text = f"{RED}{text}  <- data or IAM{RESET}" if ui.colour else f"{text}  <- data or IAM"
        ui.line(change_set.stack, "change", text)
    for route in change_set.routes:
        ui.line(change_set.stack, "route", route)


def _confirm(yes: bool, ui: Display) -> Confirm:
    """Show the change set; ask (on the main thread, one stack at a time) unless --yes."""
    def confirm(target: Target, change_set: ChangeSet) -> bool:
        show_changes(ui, change_set)
        return yes or ui.ask(f"deploy {target.name} to {target.account}/{target.region}? "
                             "[y/N] ")

    return confirm


def require_answerable(args: argparse.Namespace) -> None:
    """Refuse up front when a change set would need a yes nobody can give."""
    if args.env != "local" and not args.yes and not sys.stdin.isatty():
        raise NotConfirmed("no terminal to confirm change sets on: review them with "
                           f"`archway plan --env {args.env}`, then rerun with --yes")


# ------------------------------------------------------------------------ commands


def cmd_deploy(args: argparse.Namespace) -> int:
    what = args.what
    if what == "pipelines":  # every pipeline stack, in the tooling account
        args.env = TOOLING
        what = "all"
    require_answerable(args)
    session = open_session(args)
    selected = session.engine.select(what, args.service)
    results = session.engine.deploy(selected)
    for result in results:
        for key, value in sorted(result.outputs.items()):
            session.ui.line(result.id, "output", f"{key} = {value}")
    failed = [r for r in results if not r.ok]
    done = {r.id for r in results}
    missing = [s for s in selected if s not in done]
    print(f"{len(results) - len(failed)} of {len(selected)} stacks ok"
          + (f", {len(failed)} failed" if failed else "")
          + (f", {len(missing)} not attempted" if missing else ""))
    return 1 if failed or missing else 0


def cmd_plan(args: argparse.Namespace) -> int:
    """One preview across every account: per stack, what would change. Nothing runs."""
    session = open_session(args)
    engine = session.engine
    failed = 0
    for stack_id in engine.plan(list(engine.targets)).stacks:
        try:
            plan_stack(session, engine.targets[stack_id])
        except ArchwayError as exc:
            session.ui.line(stack_id, "failed", str(exc))
            failed += 1
    print("plan only: nothing was executed")
    return 1 if failed else 0


def plan_stack(session: Session, target: Target) -> None:
    engine, ui = session.engine, session.ui
    provider: Provider = engine.provider_for(target)
    try:
        params = engine.resolve(target)
    except DeployError as exc:
        ui.line(target.id, "planned", f"inputs not ready yet: {exc}")
        return
    change_set = provider.preview(target, params)  # type: ignore[attr-defined]
    routes = engine.route_preview(target)
    if routes:
        change_set = change_set or ChangeSet(target.name)
        change_set.routes += routes
    if change_set is None or not (change_set.changes or change_set.routes):
        ui.line(target.id, "skipped", "no changes")
        return
    ui.line(target.id, "planned", f"{target.name} in {target.account}/{target.region}: "
            f"{len(change_set.changes)} resource change(s)")
    show_changes(ui, change_set)


def cmd_status(args: argparse.Namespace) -> int:
    session = open_session(args)
    engine = session.engine
    states = dict((t.id, s) for t, s in engine.status())
    for stack_id, state in states.items():
        target = engine.targets[stack_id]
        status = state.status if state else "NOT_DEPLOYED"
        healthy = status.endswith("_COMPLETE") and "ROLLBACK" not in status
        label = "missing" if state is None else "ok" if healthy else "failed"
        session.ui.line(stack_id, label, f"{status:<20} {target.name} "
                        f"({target.account}/{target.region})")
    stale = edge_staleness(engine, states)
    for reason in stale:
        session.ui.line("edge", "stale", reason)
    if "edge" in states and not stale and states["edge"] is not None:
        session.ui.line("edge", "current", "deployed from this template and these inputs")
    show_routes(session)
    return 0


def show_routes(session: Session) -> None:
    """The live route table (the edge's KeyValueStore) against config."""
    edge = session.engine.targets.get("edge")
    registry = session.engine.registry(edge) if edge is not None else None
    if registry is None:
        session.ui.line("routes", "missing", "no route store: the edge is not deployed")
        return
    for row in registry.table():
        session.ui.line("routes", row.state, f"/api/{row.service}/* {row.detail}")


def edge_staleness(engine: Engine, states: dict[str, object]) -> list[str]:
    """Why the deployed edge no longer matches its inputs (empty when current)."""
    edge = engine.targets.get("edge")
    state = states.get("edge")
    if edge is None or state is None:
        return []
    try:
        params = engine.resolve(edge)
    except ArchwayError as exc:
        return [str(exc)]
    if params.digest == state.digest:  # type: ignore[attr-defined]
        return []
    deployed = state.parameters  # type: ignore[attr-defined]
    reasons = [f"{name} changed: {deployed.get(name)} -> {value}"
               for name, value in params.values.items()
               if name not in params.secret_names and deployed.get(name) not in {None, value}]
    if not reasons:
        reasons = ["an origin secret or the edge template changed since the edge was deployed"]
    return [*reasons, "redeploy with: archway deploy edge"]


def cmd_bootstrap(args: argparse.Namespace) -> int:
    if args.env == "local":
        raise ArchwayError("the local cloud bootstraps itself: run archway local")
    require_answerable(args)
    platform = _platform(args.root, args.env)
    result = synth_env(args.root, args.env)
    ui = Display()
    connections = ConnectionManager(platform.name, platform.home_region, profile=args.profile,
                                    region=args.region, endpoint_url=args.endpoint_url,
                                    assume_role=bool(args.admin_role),
                                    role_name=args.admin_role or None)
    provider = CloudFormationProvider(connections, _confirm(args.yes, ui),
                                      lambda t, line: ui.line(t.id, "event", line))
    failed = 0
    targets = load_targets(result, bootstrap=True)
    for target in targets.values():
        ui.line(target.id, "starting", f"{target.name} -> {target.account}/{target.region}")
        params = Resolved({}, frozenset(), digest(target, {}, frozenset()))
        outcome = provider.deploy(target, params)
        ui.result(outcome)
        failed += not outcome.ok
    print(f"bootstrap templates: {result.out_dir}/bootstrap-*.json (see docs/bootstrap.md)")
    return 1 if failed else 0


def cmd_publish_site(args: argparse.Namespace) -> int:
    from archway.shared.deploy.site import publish_site

    session = open_session(args)
    edge = session.engine.targets["edge"]
    state = session.engine.provider_for(edge).describe(edge)
    if state is None:
        raise ArchwayError("the edge is not deployed: archway deploy edge first")
    connections = session.engine.connections
    s3 = connections.client("s3", edge.account, edge.region)
    cloudfront = None if args.env == "local" else \
        connections.client("cloudfront", edge.account, "us-east-1")
    publish_site(session.platform.site_dir, s3, state.outputs["SiteBucket"], cloudfront,
                 state.outputs.get("DistributionId"))
    return 0


# ----------------------------------------------------------------------- register


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from archway.shared.cli import common

    def aws_options(parser: argparse.ArgumentParser) -> None:
        common(parser)
        parser.add_argument("--profile", help="AWS profile of the caller (default: env)")
        parser.add_argument("--region", help="home region override")
        parser.add_argument("--endpoint-url", help=argparse.SUPPRESS)  # moto in tests

    parser = sub.add_parser("deploy", help="deploy service <svc> | edge | all | pipelines")
    parser.add_argument("what", choices=["service", "edge", "all", "pipelines"])
    parser.add_argument("service", nargs="?", help="the service, with `deploy service`")
    aws_options(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask before executing")
    parser.add_argument("--concurrency", type=int, default=4, help="stacks in parallel")
    parser.add_argument("--continue-rollback", action="store_true",
                        help="continue an UPDATE_ROLLBACK_FAILED stack's rollback first")
    parser.set_defaults(handler=cmd_deploy)

    parser = sub.add_parser("plan", help="preview changes across all accounts (no execution)")
    aws_options(parser)
    parser.set_defaults(handler=cmd_plan)

    parser = sub.add_parser("status", help="every stack's state; whether the edge is stale")
    aws_options(parser)
    parser.set_defaults(handler=cmd_status)

    parser = sub.add_parser("bootstrap", help="once per account and region: roles, bucket")
    aws_options(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask before executing")
    parser.add_argument("--admin-role", default="OrganizationAccountAccessRole",
                        help="role to assume in each target account (default: "
                             "OrganizationAccountAccessRole; '' to use your credentials as "
                             "they are)")
    parser.set_defaults(handler=cmd_bootstrap)

    parser = sub.add_parser("publish-site", help="upload platform/site, invalidate changes")
    aws_options(parser)
    parser.set_defaults(handler=cmd_publish_site)
