"""Golden snapshots: per stack and environment, its template and manifest entry.

One file per stack (``tests/golden/<env>/<stack>.json``), so adding a service adds a
snapshot and touches no other: a stack without one gets it written (commit it) instead
of failing. Content hashes (code assets, template digests) are masked: a handler edit is
the service's own business, tested by its own tests. A difference fails with a readable
diff. Regenerate after an intended change with:
    ARCHWAY_UPDATE_GOLDEN=1 pytest tests/functional/test_golden.py
and review the diff of tests/golden/ like code.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from archway.shared.config import load_config
from archway.shared.model import resolve
from archway.shared.synth import synth

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("ARCHWAY_UPDATE_GOLDEN") == "1"
ENVS = sorted(load_config(REPO).environments)
SHA256 = re.compile(r"[0-9a-f]{64}")


def snapshot(out_dir: Path, manifest: dict[str, Any], entry: dict[str, Any]) -> str:
    """A stack's template and manifest entry (with its assets), hashes masked."""
    template = json.loads((out_dir / entry["template"]).read_text())
    assets = {a: manifest["assets"][a] for a in entry["assets"]}
    text = json.dumps({"manifest": entry, "assets": assets, "template": template},
                      indent=1, sort_keys=True)
    return SHA256.sub("<sha256>", text) + "\n"


@pytest.mark.parametrize("env", ENVS)
def test_synth_matches_golden(env: str, config, tmp_path: Path) -> None:  # noqa: ANN001
    result = synth(resolve(config, env), tmp_path / env)
    golden_dir = GOLDEN / env
    golden_dir.mkdir(parents=True, exist_ok=True)
    diffs, created = [], []
    for entry in result.manifest["stacks"]:
        text = snapshot(result.out_dir, result.manifest, entry)
        path = golden_dir / entry["template"]
        if UPDATE or not path.exists():
            created += [] if path.exists() else [path.name]
            path.write_text(text)
            continue
        expected = path.read_text()
        if text != expected:
            diffs.append("".join(difflib.unified_diff(
                expected.splitlines(True), text.splitlines(True),
                f"golden/{env}/{path.name}", f"synth/{env}/{path.name}", n=2)))
    if created:
        warnings.warn(f"new golden snapshots written: {', '.join(created)} (commit them)",
                      stacklevel=1)
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
