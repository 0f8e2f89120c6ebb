"""The lifecycle commands as a user runs them, against the local cloud (moto on 127.0.0.1):
plan (exit codes, --json, property rows), status, destroy and drift.

The `archway local` state file points the CLI at this module's moto server, so every
command goes through argument parsing, the engine and the LocalProvider as in real use.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.deploy.display import Display
from archway.shared.deploy.routes import FileRoutes
from archway.shared.local.cloud import (
    ensure_asset_buckets,
    local_engine,
    route_store_path,
    state_path,
)
from archway.shared.local.moto_server import MotoServer
from archway.shared.synth import synth

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def root(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A repository copy whose local cloud is this module's moto server, fully deployed."""
    root = tmp_path_factory.mktemp("repo")
    for folder in ("config", "services", "platform"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    # a live process stands in for the archway local that owns the state file
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(900)",
                              "archway-local-stand-in"])
    state = state_path(root)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"endpoint": moto.endpoint, "pid": owner.pid, "url": "-"}))
    try:
        platform = load_platform(root, "local")
        ensure_asset_buckets(local_engine(platform, synth(platform), moto.endpoint,
                                          Display(io.StringIO())))
        assert run(root, "deploy", "all", "--yes").code == 0
        yield root
    finally:
        owner.kill()
        owner.wait(timeout=10)


def run(root: Path, *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        env = [] if "--env" in argv else ["--env", "local"]
        code = main([*argv, *env, "--root", str(root)])
    return Run(code, out.getvalue(), err.getvalue())


def set_memory(root: Path, memory: int) -> None:
    path = root / "services" / "catalog" / "service.yaml"
    text = re.sub(r"(search:\n    handler: search.handler\n    memory: )\d+",
                  rf"\g<1>{memory}", path.read_text())
    path.write_text(text)


def test_plan_exit_codes_gate_ci_on_changes(root: Path) -> None:
    # GIVEN everything deployed: nothing to change
    unchanged = run(root, "plan", "--detailed-exitcode")
    assert unchanged.code == 0, unchanged.out + unchanged.err
    assert "0 of 5 stack(s) would change" in unchanged.out
    # WHEN the search function gets more memory
    set_memory(root, 512)
    try:
        changed = run(root, "plan", "--detailed-exitcode")
        plain = run(root, "plan")
        as_json = run(root, "plan", "--json")
    finally:
        set_memory(root, 256)
    # THEN the plan names the property with both values, exits 2 only when asked to
    assert changed.code == 2 and plain.code == 0
    assert re.search(r"^~ +svc-catalog +SearchFunction +MemorySize: 256 -> 512$",
                     changed.out, re.MULTILINE), changed.out
    # and --json says the same on stdout alone (progress goes to stderr)
    plan = json.loads(as_json.out)
    (catalog,) = [s for s in plan["stacks"] if s["id"] == "svc-catalog"]
    assert plan["changes"] is True and catalog["state"] == "changes"
    assert catalog["changes"][0]["properties"] == [
        {"path": "MemorySize", "before": "256", "after": "512", "requires_recreation": "Never"}]
    assert {s["state"] for s in plan["stacks"] if s["id"] != "svc-catalog"} == {"no changes"}


def test_stack_id_column_stays_aligned(root: Path) -> None:
    # GIVEN stack ids of different lengths (edge, edge-global, svc-catalog)
    result = run(root, "status")
    # THEN the status column starts at the same place on every line
    lines = [line for line in result.out.splitlines() if line.startswith("[")]
    starts = {re.match(r"\[[ \d.]+s\] (\S+ +)", line).end(1) for line in lines}  # type: ignore[union-attr]
    assert len(lines) >= 4 and len(starts) == 1, result.out


def test_status_is_zero_only_when_everything_is_healthy(root: Path) -> None:
    # GIVEN the deployed platform
    healthy = run(root, "status", "--json")
    assert healthy.code == 0, healthy.out + healthy.err
    report = json.loads(healthy.out)
    assert report["ok"] is True and report["edge"] == {"stale": False, "reasons": []}
    assert {s["health"] for s in report["stacks"]} == {"ok"}



def test_drift_finds_a_hand_made_change_and_status_reports_it(root: Path,
                                                               moto: MotoServer) -> None:
    platform = load_platform(root, "local")
    engine = local_engine(platform, synth(platform), moto.endpoint, Display(io.StringIO()))
    s3 = engine.connections.client("s3", platform.account, platform.home_region)
    bucket = f"archway-local-site-{platform.account}-{platform.home_region}"
    # GIVEN a platform in sync
    clean = run(root, "drift")
    assert clean.code == 0, clean.out + clean.err
    # WHEN someone suspends the site bucket's versioning by hand
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    drifted = run(root, "drift", "--json")
    status = run(root, "status")
    text = run(root, "drift")
    # THEN drift names the stack, the resource and the property, and exits 1
    assert drifted.code == 1
    report = {s["id"]: s for s in json.loads(drifted.out)["stacks"]}
    assert report["edge"]["drift"] == "DRIFTED"
    assert report["edge"]["resources"] == [{
        "logical_id": "SiteBucket", "type": "AWS::S3::Bucket", "status": "MODIFIED",
        "differences": ["VersioningConfiguration.Status: expected Enabled, actual Suspended"]}]
    assert {s["drift"] for k, s in report.items() if k != "edge"} == {"IN_SYNC"}
    assert re.search(r"^edge +100000000000 +eu-west-1 +DRIFTED", text.out, re.MULTILINE)
    # and status, which shows the last detection, exits 1 too
    assert status.code == 1 and re.search(r"\] edge +drifted", status.out), status.out
    # WHEN versioning is turned back on, THEN the next detection clears it
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert run(root, "drift").code == 0
    assert run(root, "status").code == 0


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, dict[str, Any]]]:
    """Every AWS call made from now on: (service, operation, parameters)."""
    import botocore.client

    made: list[tuple[str, str, dict[str, Any]]] = []
    real = botocore.client.BaseClient._make_api_call

    def record(client: Any, operation: str, params: dict[str, Any]) -> Any:
        made.append((client.meta.service_model.service_name, operation, params))
        return real(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", record)
    return made


def test_a_no_op_deploy_writes_nothing_and_a_change_after_it_is_deployed(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deployed = state_path(root).parent / "deployed" / "archway-local-svc-catalog.json"
    # GIVEN everything deployed; WHEN deploy all runs again
    calls = _calls(monkeypatch)
    noop = run(root, "deploy", "all", "--yes")
    # THEN every stack is skipped, nothing is written, no asset is looked for, and the
    # stack records and secrets are read in batches (one call per account and region)
    assert noop.code == 0, noop.out + noop.err
    assert set(re.findall(r"\] (\S+) +(?:created|updated|skipped)", noop.out)) == {
        "edge-global", "edge", "auth", "svc-catalog", "svc-reviews"}
    assert not re.search(r"\] \S+ +(created|updated)", noop.out), noop.out
    writes = [(s, op) for s, op, _ in calls if not op.startswith(("Get", "Head", "Describe",
                                                                   "List", "AssumeRole"))]
    assert writes == [] and not [op for _, op, _ in calls if op == "HeadObject"], calls
    assert not [op for s, op, _ in calls if (s, op) == ("ssm", "GetParameter")], calls
    # WHEN one property changes right after the no-op
    calls.clear()
    set_memory(root, 384)
    try:
        changed = run(root, "deploy", "all", "--yes")
        template = json.loads(deployed.read_text())
    finally:
        set_memory(root, 256)
    # THEN that stack, and only it, is deployed with the new value and its record written
    assert changed.code == 0, changed.out + changed.err
    assert re.findall(r"\] (\S+) +(?:created|updated)", changed.out) == ["svc-catalog"]
    assert template["Resources"]["SearchFunction"]["Properties"]["MemorySize"] == 384
    assert ("ssm", "PutParameter") in [(s, op) for s, op, _ in calls]
    # and deploying the original back is a change again, not a no-op
    back = run(root, "deploy", "all", "--yes")
    assert re.findall(r"\] (\S+) +(?:created|updated)", back.out) == ["svc-catalog"], back.out
    template = json.loads(deployed.read_text())
    assert template["Resources"]["SearchFunction"]["Properties"]["MemorySize"] == 256


# ------------------------------------------------------------------ destroy
# (last in this module: they take the deployed platform down)


def test_destroy_order_puts_dependents_first(root: Path) -> None:
    from archway.shared.deploy.destroy import destroy_order
    from archway.shared.deploy.engine import load_targets

    # GIVEN the stacks and what each reads: reviews the pool (auth), auth the edge's
    # domain, the edge edge-global's ARNs
    targets = load_targets(synth(load_platform(root, "local")))
    # WHEN the whole environment is destroyed
    order = destroy_order(targets, list(targets))
    # THEN every stack goes before the ones it reads
    assert set(order) == {"svc-catalog", "svc-reviews", "auth", "edge", "edge-global"}
    for reader, read in [("svc-reviews", "auth"), ("auth", "edge"), ("edge", "edge-global")]:
        assert order.index(reader) < order.index(read), order


def test_prod_needs_an_explicit_flag_and_a_terminal_or_yes(root: Path) -> None:
    # GIVEN prod (termination protection), and no terminal under pytest
    prod = run(root, "destroy", "all", "--yes", "--env", "prod")
    unasked = run(root, "destroy", "service", "catalog")
    # THEN neither deletes anything, and each says what is missing
    assert prod.code == 2 and "add --i-mean-prod" in prod.err
    assert unasked.code == 2 and "rerun with --yes" in unasked.err
    assert json.loads(run(root, "status", "--json").out)["ok"] is True


def test_destroy_service_keeps_its_table_and_lists_it(root: Path, moto: MotoServer) -> None:
    platform = load_platform(root, "local")
    catalog = platform.service("catalog")
    routes = FileRoutes(route_store_path(platform))
    assert "catalog" in routes.items()  # GIVEN the catalog registered on the edge's router
    # WHEN the catalog is destroyed
    result = run(root, "destroy", "service", "catalog", "--yes")
    # THEN its route goes first, so the edge answers 404 instead of calling a dead API
    assert result.code == 0, result.out + result.err
    assert "catalog" not in routes.items() and "reviews" in routes.items()
    route_line = result.out.index("/api/catalog/* removed from the edge's route store")
    assert route_line < result.out.index("svc-catalog      deleted")
    # and its stack is gone, its table (Retain) stays and is listed with its account
    assert re.search(r"table +archway-local-catalog-products +account 100000000001 +eu-west-1",
                     result.out), result.out
    engine = local_engine(platform, synth(platform), moto.endpoint, Display(io.StringIO()))
    dynamodb = engine.connections.client("dynamodb", catalog.account, catalog.region)
    assert dynamodb.list_tables()["TableNames"] == ["archway-local-catalog-products"]
    status = json.loads(run(root, "status", "--json").out)
    assert {s["id"]: s["health"] for s in status["stacks"]}["svc-catalog"] == "missing"
    assert run(root, "status").code == 1


def test_destroy_all_goes_dependents_first_and_keeps_the_buckets(root: Path,
                                                               moto: MotoServer) -> None:
    # WHEN everything left is destroyed
    result = run(root, "destroy", "all", "--yes")
    # THEN reviews goes before the pool it reads, the pool before the edge, the edge
    # before edge-global, and the retained buckets are listed
    assert result.code == 0, result.out + result.err
    deleted = re.findall(r"\] (\S+) +deleted", result.out)
    assert deleted == ["svc-reviews", "auth", "edge", "edge-global"]
    assert "bucket" in result.out and "archway-local-site-" in result.out
    platform = load_platform(root, "local")
    engine = local_engine(platform, synth(platform), moto.endpoint, Display(io.StringIO()))
    assert all(state is None for _, state in engine.status())
    s3 = engine.connections.client("s3", platform.account, platform.home_region)
    assert any(b["Name"].startswith("archway-local-site-") for b in s3.list_buckets()["Buckets"])
    # and a second destroy finds nothing to do
    again = run(root, "destroy", "all", "--yes")
    assert (again.code, again.out.strip().splitlines()[-1]) == (0, "nothing to destroy")
