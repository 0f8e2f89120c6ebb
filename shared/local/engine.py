"""The deploy engine on the local cloud, and where a running ``archway local`` is.

What ``archway deploy --env local`` (and the other lifecycle commands) needs of the local
cloud, apart from the cloud itself (routers, sign-in issuer, watcher: cloud.py), so that
such a command does not import them: the engine with the LocalProvider, the deploy lock
shared across processes, the assets buckets (the local stand-in for bootstrap), and the
running cloud's state file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.deploy.changes import ChangeSet
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.display import Display
from archway.shared.deploy.engine import Engine
from archway.shared.deploy.provider import Resolved, StackResult, Target
from archway.shared.deploy.routes import FileRoutes
from archway.shared.errors import ArchwayError
from archway.shared.local.probe import HandlerProbe
from archway.shared.local.processes import running_owner
from archway.shared.local.provider import LocalProvider
from archway.shared.model import Platform
from archway.shared.synth import SynthResult

STATE_FILE = "cloud.json"


class LocalCloudNotRunning(ArchwayError):
    exit_code = 1


def state_path(root: Path) -> Path:
    return root / "build" / "local" / ".cloud" / STATE_FILE


def running_endpoint(root: Path) -> str:
    """The moto endpoint of a running ``archway local``, or a clear error."""
    import urllib.request

    path = state_path(root)
    try:
        state = json.loads(path.read_text())
        endpoint = state["endpoint"]
        if running_owner(state) is None:
            raise OSError("the archway local that wrote the state file is gone")
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
            return str(endpoint)
    except (OSError, ValueError, KeyError):
        raise LocalCloudNotRunning("the local cloud is not running: start it with "
                                   "`tox -e local` (or `archway local`)") from None


def running_issuer(root: Path) -> str:
    """The URL of the running ``archway local``'s sign-in issuer, or a clear error."""
    running_endpoint(root)
    issuer = json.loads(state_path(root).read_text()).get("issuer")
    if not issuer:
        raise LocalCloudNotRunning("the local cloud has not started its sign-in issuer yet")
    return str(issuer)


def route_store_path(platform: Platform) -> Path:
    """The local stand-in of the edge's KeyValueStore (shared with archway deploy)."""
    return state_path(platform.root).parent / "routes" / f"{platform.names.route_store}.json"


@contextlib.contextmanager
def deploy_lock(root: Path) -> Iterator[None]:
    """One local deploy at a time across processes (archway local, archway deploy)."""
    path = state_path(root).parent / "deploy.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


class LocalEngine(Engine):
    """The engine on the local cloud: accounts set up on the fly (assets buckets: the
    local stand-in for archway bootstrap), deploys serialised across processes.

    Within a deploy (which holds the lock) the stack records are read once, in batches,
    and a stack whose digest is unchanged uploads nothing: its code zips went into this
    moto with its last deploy (their content-addressed keys are in its template, so in
    its digest), and records and assets live and die together with moto's memory."""

    def __init__(self, *args: Any, provider: LocalProvider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
        self._buckets_lock = threading.Lock()

    def deploy(self, selected: list[str]) -> list[StackResult]:
        read = self._read(selected)
        with deploy_lock(self.platform.root), self.provider.records_held(read):
            return super().deploy(selected)  # which reads the secrets it needs up front

    def _read(self, selected: list[str]) -> list[Target]:
        """The stacks a deploy of ``selected`` reads: those, the ones whose outputs they
        take, and (with the edge, which registers every service's route) every service."""
        wanted = set(selected)
        for stack in selected:
            wanted |= set(self.targets[stack].manifest["depends_on"])
        if "edge" in wanted:
            wanted |= {t.id for t in self.targets.values() if t.kind == "service"}
        return [t for t in self.targets.values() if t.id in wanted]

    def upload_assets(self, target: Target, params: Resolved | None = None) -> None:
        if params is not None:
            current = self.provider.describe(target)
            if current is not None and current.digest == params.digest:
                return  # unchanged: uploaded with its last deploy (see the class)
        for asset_id in target.manifest["assets"]:
            bucket = self.synth.manifest["assets"][asset_id]["bucket"]
            with self._buckets_lock:
                if bucket not in self.known_buckets:
                    if ensure_bucket(self.connections, bucket, target.account, target.region):
                        self.new_buckets.add(bucket)
                    self.known_buckets.add(bucket)
        super().upload_assets(target, params)


def local_engine(platform: Platform, result: SynthResult, endpoint: str,
                 ui: Display, probe: bool = True, summarize_new: bool = False) -> LocalEngine:
    """The engine for the local cloud. ``probe``: load each deployed stack's handlers and say
    which cannot be (the running cloud itself reports that when it mounts them)."""
    connections = ConnectionManager(platform.name, platform.home_region, endpoint_url=endpoint)
    work = state_path(platform.root).parent
    handlers = HandlerProbe(connections.client, connections.credentials, endpoint, work,
                            code_locations(platform)) if probe else None
    provider = LocalProvider(connections.client, work / "deployed", handlers,
                             changes=lambda target, change_set: show_change_set(
                                 ui, target, change_set, summarize_new))
    store = FileRoutes(route_store_path(platform))
    return LocalEngine(platform, result, connections, lambda _target: provider, ui,
                       route_store=lambda _via: store, provider=provider)


def show_change_set(ui: Display, target: Target, change_set: ChangeSet,
                    summarize_new: bool = False) -> None:
    """The change list, as an AWS deploy shows its change set (archway deploy, plan).

    ``summarize_new`` (the running local cloud, which makes every stack anew at each start):
    a stack made from nothing is one line with its number of resources, flagged when any is
    risky (IAM, data), then its routes, instead of a list of a hundred additions."""
    rows = change_set.rows(target.id)
    changes = change_set.changes
    if summarize_new and changes and all(change.symbol == "+" for change in changes):
        flags = sorted({flag for change in changes for flag in change.flags})
        count = f"{len(changes)} resource{'' if len(changes) == 1 else 's'}"
        summary = ["+", target.id, count, "new stack", " ".join(flags)]
        rows = [(summary, any(change.risky for change in changes))] + [
            (row, risky) for row, risky in rows if row[2] == "route"]
    ui.rows([row for row, _ in rows], [risky for _, risky in rows])


def code_locations(platform: Platform) -> dict[str, dict[str, str]]:
    """Stack name -> where its handler code is (as errors name it) and its requirements."""
    return {service.stack_name: {
        "source": service.source_dir.relative_to(platform.root).as_posix(),
        "requirements": str(service.source_dir.parent / "requirements.txt")}
        for service in platform.services}


def ensure_asset_buckets(engine: Engine) -> None:
    """The local stand-in for `archway bootstrap`: each target account's assets bucket."""
    buckets = {}
    for asset in engine.synth.manifest["assets"].values():
        target = next(t for t in engine.targets.values() if t.manifest["assets"]
                      and asset["bucket"].endswith(f"-{t.account}-{t.region}"))
        buckets[asset["bucket"]] = target
    for bucket, target in buckets.items():
        ensure_bucket(engine.connections, bucket, target.account, target.region)


def ensure_bucket(connections: ConnectionManager, bucket: str, account: str,
                  region: str) -> bool:
    """``bucket`` in ``account``: made (True), or already there (one call either way)."""
    s3 = connections.client("s3", account, region)
    where = ({} if region == "us-east-1" else
             {"CreateBucketConfiguration": {"LocationConstraint": region}})
    try:
        s3.create_bucket(Bucket=bucket, **where)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
        return False
    return True
