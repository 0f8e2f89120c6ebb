"""Golden snapshots: every template and the manifest of every environment, byte for byte.

A difference fails with a readable diff. Regenerate after an intended change with:
    ARCHWAY_UPDATE_GOLDEN=1 pytest tests/functional/test_golden.py
and review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from archway.shared.config import load_config
from archway.shared.model import resolve
from archway.shared.synth import synth

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("ARCHWAY_UPDATE_GOLDEN") == "1"
ENVS = sorted(load_config(REPO).environments)


@pytest.mark.parametrize("env", ENVS)
def test_synth_matches_golden(env: str, config, tmp_path: Path) -> None:  # noqa: ANN001
    result = synth(resolve(config, env), tmp_path / env)
    produced = {p.name: p.read_text() for p in sorted((tmp_path / env).glob("*.json"))
                if not p.name.startswith(".")}
    golden_dir = GOLDEN / env
    if UPDATE:
        golden_dir.mkdir(parents=True, exist_ok=True)
        for stale in golden_dir.glob("*.json"):
            stale.unlink()
        for name, text in produced.items():
            (golden_dir / name).write_text(text)
    expected = {p.name: p.read_text() for p in sorted(golden_dir.glob("*.json"))}
    assert sorted(produced) == sorted(expected), "templates added or removed: regenerate"
    diffs = [
        "".join(difflib.unified_diff(expected[name].splitlines(True), text.splitlines(True),
                                     f"golden/{env}/{name}", f"synth/{env}/{name}", n=2))
        for name, text in produced.items() if text != expected[name]
    ]
    assert not diffs, ("synth output differs from tests/golden (ARCHWAY_UPDATE_GOLDEN=1 to "
                       "accept):\n" + "\n".join(diffs)[:20000])
    assert result.manifest["env"] == env


def test_synth_is_deterministic(config, tmp_path: Path) -> None:  # noqa: ANN001
    first = synth(resolve(config, "prod"), tmp_path / "a")
    second = synth(resolve(config, "prod"), tmp_path / "b")
    for a, b in zip(first.templates, second.templates, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == \
        (tmp_path / "b" / "manifest.json").read_bytes()
