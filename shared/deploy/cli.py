"""`archway bootstrap | plan | deploy | status | publish-site`: thin wrappers on the engine.

Env ``local`` targets the running local cloud (LocalProvider); any other environment
goes to AWS through CloudFormation with the caller's credentials and each account's
deploy role; ``tooling`` is the pipelines. Exit codes: 0 done or nothing to do, 1 a
stack failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archway.shared.commands import TOOLING, load_platform, synth_env
from archway.shared.config import load_config
from archway.shared.deploy.changes import ChangeSet
from archway.shared.deploy.cloudformation import CloudFormationProvider, Confirm
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.display import Display
from archway.shared.deploy.engine import DeployError, Engine, digest, load_targets
from archway.shared.deploy.preflight import preflight
from archway.shared.deploy.provider import Provider, Resolved, StackState, Target
from archway.shared.errors import ArchwayError
from archway.shared.model import Platform


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
    """Synth, then an engine on the local cloud or on AWS (after a preflight)."""
    ui = Display(sys.stderr if getattr(args, "json", False) else None)
    platform = _platform(args.root, args.env)
    result = synth_env(args.root, args.env)
    ui.width = max([16] + [len(s["id"]) for s in result.manifest["stacks"]])
    if args.env == "local":
        from archway.shared.local.engine import local_engine, running_endpoint

        engine = local_engine(platform, result, running_endpoint(args.root), ui)
        return Session(platform, engine, ui)
    connections = ConnectionManager(platform.name, platform.home_region,
                                    profile=getattr(args, "profile", None),
                                    region=getattr(args, "region", None),
                                    endpoint_url=getattr(args, "endpoint_url", None))
    ui.line("aws", "caller", preflight(connections))
    provider = CloudFormationProvider(
        connections, confirm=_confirm(getattr(args, "yes", False), ui),
        events=lambda target, line: ui.line(target.id, "event", line),
        continue_rollback=getattr(args, "continue_rollback", False), cancelled=ui.cancelled)
    engine = Engine(platform, result, connections, lambda _t: provider, ui,
                    concurrency=getattr(args, "concurrency", 4))
    return Session(platform, engine, ui)


def show_changes(ui: Display, change_set: ChangeSet, stack_id: str | None = None) -> None:
    rows = change_set.rows(stack_id or change_set.stack)
    ui.rows([r for r, _ in rows], [risky for _, risky in rows])


def _confirm(yes: bool, ui: Display) -> Confirm:
    """Show the change set; ask (on the main thread, one stack at a time) unless --yes."""
    def confirm(target: Target, change_set: ChangeSet) -> bool:
        show_changes(ui, change_set, target.id)
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
    args.service = getattr(args, "service", None)
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
    """One preview across every account, down to the property. Nothing is executed.

    Exit codes: 0 ok; with --detailed-exitcode 0 no changes, 2 changes; 1 an error.
    """
    session = open_session(args)
    engine = session.engine
    order = engine.plan(list(engine.targets)).stacks
    with ThreadPoolExecutor(max_workers=min(engine.concurrency, len(order) or 1)) as pool:
        plans = list(pool.map(lambda stack_id: plan_stack(session, engine.targets[stack_id]),
                              order))
    failed = [p for p in plans if p.state == "failed"]
    changed = [p for p in plans if p.state in {"changes", "inputs not ready"}]
    if args.json:
        print(json.dumps({"env": args.env, "changes": bool(changed), "errors": len(failed),
                          "stacks": [p.to_dict() for p in plans]}, indent=2))
    else:
        show_plan(session.ui, plans)
        print(f"plan only, nothing was executed: {len(changed)} of {len(plans)} stack(s) "
              f"would change" + (f", {len(failed)} could not be planned" if failed else ""))
    if failed:
        return 1
    return 2 if changed and args.detailed_exitcode else 0


@dataclass
class StackPlan:
    target: Target
    state: str  # changes | no changes | inputs not ready | failed
    change_set: ChangeSet | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, object]:
        t = self.target
        return {"id": t.id, "stack": t.name, "account": t.account, "region": t.region,
                "state": self.state, "reason": self.reason,
                **(self.change_set.to_dict() if self.change_set else
                   {"changes": [], "routes": []})}


def plan_stack(session: Session, target: Target) -> StackPlan:
    engine = session.engine
    provider: Provider = engine.provider_for(target)
    try:
        params = engine.resolve(target)
    except DeployError as exc:
        return StackPlan(target, "inputs not ready", reason=str(exc))
    try:
        change_set = provider.preview(target, params)  # type: ignore[attr-defined]
        routes = engine.route_preview(target)
    except ArchwayError as exc:
        return StackPlan(target, "failed", reason=str(exc))
    if routes:
        change_set = change_set or ChangeSet(target.name)
        change_set.routes += routes
    if change_set is None or not (change_set.changes or change_set.routes):
        return StackPlan(target, "no changes")
    return StackPlan(target, "changes", change_set)


def show_plan(ui: Display, plans: list[StackPlan]) -> None:
    for plan in plans:
        t = plan.target
        where = f"{t.name} ({t.account}/{t.region})"
        if plan.state == "changes" and plan.change_set is not None:
            ui.line(t.id, "planned", f"{where}: {len(plan.change_set.changes)} resource(s) change")
        elif plan.state == "no changes":
            ui.line(t.id, "skipped", f"{where}: no changes")
        elif plan.state == "inputs not ready":
            ui.line(t.id, "planned", f"{where}: inputs not ready yet: {plan.reason}")
        else:
            ui.line(t.id, "failed", f"{where}: {plan.reason}")
    rows = [row for p in plans if p.change_set for row in p.change_set.rows(p.target.id)]
    if rows:
        print(file=ui.out)
        ui.rows([r for r, _ in rows], [risky for _, risky in rows])


def cmd_status(args: argparse.Namespace) -> int:
    """Every stack's state, the edge's staleness and the live route table. Exit 1 when a
    stack is missing, failed, busy or drifted, the edge is stale, or a route is not
    registered as config says."""
    session = open_session(args)
    engine = session.engine
    states = dict((t.id, s) for t, s in engine.status())
    rows = [stack_health(engine.targets[stack_id], state) for stack_id, state in states.items()]
    stale = edge_staleness(engine, states)
    edge = None if "edge" not in states or states["edge"] is None else \
        {"stale": bool(stale), "reasons": stale}
    routes = route_rows(session)
    healthy = all(r["health"] == "ok" for r in rows) and not stale and \
        all(r["state"] == "registered" for r in routes)
    if args.json:
        print(json.dumps({"env": args.env, "ok": healthy, "stacks": rows, "edge": edge,
                          "routes": routes}, indent=2))
        return 0 if healthy else 1
    for row in rows:
        session.ui.line(str(row["id"]), str(row["health"]),
                        f"{row['status']:<20} {row['stack']} ({row['account']}/{row['region']})"
                        + (f" drift: {row['drift']}" if row["drift"] == "DRIFTED" else ""))
    for reason in stale:
        session.ui.line("edge", "stale", reason)
    if edge is not None and not stale:
        session.ui.line("edge", "current", "deployed from this template and these inputs")
    for route in routes:
        session.ui.line("routes", route["state"], f"/api/{route['service']}/* {route['detail']}")
    return 0 if healthy else 1


def stack_health(target: Target, state: StackState | None) -> dict[str, str]:
    """ok | missing | busy | failed | drifted, with the stack's status and last drift result."""
    status = state.status if state else "NOT_DEPLOYED"
    drift = state.drift if state else "NOT_CHECKED"
    complete = status.endswith("_COMPLETE") and "ROLLBACK" not in status
    health = ("missing" if state is None else "busy" if status.endswith("_IN_PROGRESS") else
              "failed" if not complete else "drifted" if drift == "DRIFTED" else "ok")
    return {"id": target.id, "stack": target.name, "account": target.account,
            "region": target.region, "status": status, "drift": drift, "health": health}


def route_rows(session: Session) -> list[dict[str, str]]:
    """The live route table (the edge's KeyValueStore) against config: registered |
    missing | stale | orphan per service."""
    edge = session.engine.targets.get("edge")
    registry = session.engine.registry(edge) if edge is not None else None
    if registry is None:
        return [{"service": "*", "state": "missing",
                 "detail": "no route store: the edge is not deployed"}]
    return [{"service": row.service, "state": row.state, "detail": row.detail}
            for row in registry.table()]


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


def cmd_destroy(args: argparse.Namespace) -> int:
    """Delete stacks dependents first; list what is retained on purpose. Exit 1 on failure."""
    from archway.shared.deploy.destroy import destroy, destroy_order, physical_names, retained

    if protected(_platform(args.root, args.env)) and not args.i_mean_prod:
        raise NotConfirmed(f"{args.env} is a protected environment (termination or deletion "
                           "protection): add --i-mean-prod to destroy it; nothing was deleted")
    session = open_session(args)
    engine, ui = session.engine, session.ui
    order = destroy_order(engine.targets, engine.select(args.what, getattr(args, "service",
                                                                         None)))
    states = {s: engine.provider_for(engine.targets[s]).describe(engine.targets[s])
              for s in order}
    deployed = [s for s in order if states[s] is not None]
    kept = [r for s in order for r in retained(
        engine.targets[s], physical_names(engine, engine.targets[s]) if states[s] else None)]
    for stack_id in order:
        target = engine.targets[stack_id]
        ui.line(stack_id, "planned" if states[stack_id] else "skipped",
                f"{'delete' if states[stack_id] else 'not deployed:'} {target.name} "
                f"({target.account}/{target.region})")
    if not deployed:
        print("nothing to destroy")
        return 0
    show_retained(ui, kept, "kept on purpose (DeletionPolicy Retain)")
    confirm_destroy(args, len(deployed), ui)
    results = destroy(engine, deployed)
    show_retained(ui, kept, "retained: delete by hand once no longer needed")
    failed = [r for r in results if not r.ok]
    print(f"{sum(r.outcome == 'deleted' for r in results)} of {len(deployed)} stacks deleted"
          + (f", {len(failed)} failed" if failed else ""))
    return 1 if failed or len(results) < len(deployed) else 0


def show_retained(ui: Display, kept: list[Any], title: str) -> None:
    if kept:
        print(f"{title}:", file=ui.out)
        ui.rows([["  " + r.kind, r.name, f"account {r.account}", r.region, f"({r.stack})"]
                 for r in kept])


def protected(platform: Platform) -> bool:
    environment = platform.environment
    return platform.env == "prod" or environment.termination_protection or \
        environment.deletion_protection


def confirm_destroy(args: argparse.Namespace, count: int, ui: Display) -> None:
    """A yes: --yes, or the environment's name typed at a terminal."""
    if args.yes:
        return
    if not sys.stdin.isatty():
        raise NotConfirmed("no terminal to confirm on: rerun with --yes once you have read "
                           "the list above")
    answer = ui.prompt(f"delete {count} stack(s) of {args.env}? type the environment name "
                       "to confirm: ")
    if answer.strip() != args.env:
        raise NotConfirmed("not confirmed: nothing was deleted")


def cmd_drift(args: argparse.Namespace) -> int:
    """Drift detection on every deployed stack, all accounts in parallel. Exit 1 when any
    stack drifted or could not be checked."""
    from archway.shared.deploy.drift import detect_all, rows

    session = open_session(args)
    engine = session.engine
    selected = engine.plan(list(engine.targets)).stacks
    results = detect_all(engine, selected)
    bad = [r for r in results if r.bad]
    if args.json:
        print(json.dumps({"env": args.env, "drifted": bool(bad),
                          "stacks": [r.to_dict() for r in results]}, indent=2))
    else:
        table = rows(results)
        session.ui.rows(table, [False] + [r[3].strip() in {"DRIFTED", "FAILED", "MODIFIED",
                                                          "DELETED"} for r in table[1:]])
        print(f"{sum(r.status == 'DRIFTED' for r in results)} of {len(results)} stack(s) "
              "drifted" + (", run archway deploy to put them back (or fold the change "
                           "into config)" if bad else ""))
    return 1 if bad else 0


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
    ui.line("aws", "caller", preflight(connections))
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


def _site_config(session: Session, args: argparse.Namespace) -> dict[str, bytes]:
    """``config.json`` for the SPA from the auth stack's outputs: the user pool's managed
    login domain (on ``--env local``, the running local issuer) and the app client."""
    from archway.shared.deploy.site import site_config

    auth = session.platform.auth
    target = next((t for t in session.engine.targets.values() if t.kind == "auth"), None)
    if auth is None or target is None:
        return {}
    state = session.engine.provider_for(target).describe(target)
    if state is None:
        raise ArchwayError("the auth stack is not deployed: archway deploy all first")
    domain = f"https://{auth.hosted_domain}"
    if args.env == "local":
        from archway.shared.local.engine import running_issuer

        domain = running_issuer(args.root)
    return {"config.json": site_config(domain, str(state.outputs["ClientId"]),
                                       auth.client_scopes)}


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
                 state.outputs.get("DistributionId"), generated=_site_config(session, args))
    return 0


# ----------------------------------------------------------------------- register

DEPLOY_TARGETS = {
    "service": "deploy one service's stack into its team's account",
    "edge": "deploy edge-global (us-east-1: WAF, certificate), then edge (distribution)",
    "all": "deploy every stack of the environment, in dependency order",
    "pipelines": "deploy the CodePipeline stacks into the tooling account",
}
DESTROY_TARGETS = {
    "service": "delete one service's stack (its retained tables stay)",
    "edge": "delete edge, then edge-global (retained buckets stay)",
    "all": "delete every stack of the environment, dependents first",
}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from archway.shared.cli import common

    def aws_options(parser: argparse.ArgumentParser) -> None:
        common(parser)
        parser.add_argument("--profile", help="AWS profile of the caller (default: env)")
        parser.add_argument("--region", help="home region override")
        parser.add_argument("--endpoint-url", help=argparse.SUPPRESS)  # moto in tests

    deploy = sub.add_parser(
        "deploy", help="deploy service <svc> | edge | all | pipelines",
        description="Deploy stacks with change sets: each is shown and confirmed (--yes "
        "skips the question), unchanged stacks are skipped without a change set.")
    targets = deploy.add_subparsers(dest="what", required=True, metavar="TARGET")
    for what, text in DEPLOY_TARGETS.items():
        parser = targets.add_parser(what, help=text, description=text)
        if what == "service":
            parser.add_argument("service", help="the service (a folder under services/)")
        aws_options(parser)
        parser.add_argument("--yes", action="store_true", help="do not ask before executing")
        parser.add_argument("--concurrency", type=int, default=4, help="stacks in parallel")
        parser.add_argument("--continue-rollback", action="store_true",
                            help="continue an UPDATE_ROLLBACK_FAILED stack's rollback first")
        parser.set_defaults(handler=cmd_deploy)

    destroy = sub.add_parser(
        "destroy", help="delete service <svc> | edge | all, dependents first",
        description="Delete stacks in reverse dependency order after one confirmation; "
        "tables, buckets and log groups with DeletionPolicy Retain stay and are listed.")
    targets = destroy.add_subparsers(dest="what", required=True, metavar="TARGET")
    for what, text in DESTROY_TARGETS.items():
        parser = targets.add_parser(what, help=text, description=text, epilog=(
            "exit codes: 0 deleted (or nothing deployed), 1 a stack failed to delete, "
            "2 not confirmed"))
        if what == "service":
            parser.add_argument("service", help="the service (a folder under services/)")
        aws_options(parser)
        parser.add_argument("--yes", action="store_true",
                            help="do not ask (still needs --i-mean-prod for prod)")
        parser.add_argument("--i-mean-prod", action="store_true",
                            help="required to destroy a protected environment (prod)")
        parser.set_defaults(handler=cmd_destroy)

    parser = sub.add_parser(
        "plan", help="preview changes across all accounts, per property (no execution)",
        description="One preview across every account: each stack's change set down to the "
        "property (~ svc-catalog SearchFunction MemorySize: 256 -> 512); replacements, data "
        "and IAM changes flagged. Nothing is executed.",
        epilog="exit codes: 0 ok (with --detailed-exitcode: no changes), 2 changes "
        "(--detailed-exitcode), 1 a stack could not be planned")
    aws_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable plan on stdout")
    parser.add_argument("--detailed-exitcode", action="store_true",
                        help="exit 2 when anything would change, 0 when nothing would")
    parser.add_argument("--concurrency", type=int, default=4, help="stacks previewed at once")
    parser.set_defaults(handler=cmd_plan)

    parser = sub.add_parser(
        "status", help="every stack's state; whether the edge is stale",
        description="Every stack's status and last drift result, and whether the edge still "
        "matches every service's API domain and secret.",
        epilog="exit codes: 0 all deployed, healthy and current; 1 a stack is missing, "
        "failed or drifted, or the edge is stale")
    aws_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable status on stdout")
    parser.set_defaults(handler=cmd_status)

    parser = sub.add_parser(
        "drift", help="drift detection on every stack, all accounts in parallel",
        description="Has anything been changed by hand? CloudFormation drift detection "
        "(DetectStackDrift) on every deployed stack, in parallel across accounts, in one "
        "table with the drifted resources and properties.",
        epilog="exit codes: 0 every deployed stack in sync, 1 a stack drifted or could not "
        "be checked")
    aws_options(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable result")
    parser.add_argument("--concurrency", type=int, default=8, help="stacks checked at once")
    parser.set_defaults(handler=cmd_drift)

    parser = sub.add_parser(
        "bootstrap", help="once per account and region: roles, bucket",
        description="Create the assets bucket, deploy role and CloudFormation execution role "
        "in every account and region of an environment (assumes --admin-role in each).")
    aws_options(parser)
    parser.add_argument("--yes", action="store_true", help="do not ask before executing")
    parser.add_argument("--admin-role", default="OrganizationAccountAccessRole",
                        help="role to assume in each target account (default: "
                             "OrganizationAccountAccessRole; '' to use your credentials as "
                             "they are)")
    parser.set_defaults(handler=cmd_bootstrap)

    parser = sub.add_parser(
        "publish-site", help="upload platform/site, invalidate changes",
        description="Upload platform/site to the edge's bucket and invalidate only the "
        "paths that changed.")
    aws_options(parser)
    parser.set_defaults(handler=cmd_publish_site)
