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
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.deploy.display import Display
from archway.shared.local.cloud import ensure_asset_buckets, local_engine, state_path
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
    state = state_path(root)
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"endpoint": moto.endpoint, "pid": 0, "url": "-"}))
    platform = load_platform(root, "local")
    ensure_asset_buckets(local_engine(platform, synth(platform), moto.endpoint,
                                      Display(io.StringIO())))
    assert run(root, "deploy", "all", "--yes").code == 0
    yield root


def run(root: Path, *argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([*argv, "--env", "local", "--root", str(root)])
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
    assert "0 of 4 stack(s) would change" in unchanged.out
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
