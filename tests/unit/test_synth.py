"""synth's housekeeping in build/<env>/."""

from __future__ import annotations

from pathlib import Path

from archway.shared.commands import load_platform

REPO = Path(__file__).resolve().parents[2]


def test_synth_keeps_the_lint_cache_and_removes_stale_templates(tmp_path: Path) -> None:
    from archway.shared.lint import CACHE_FILE
    from archway.shared.synth import synth

    platform = load_platform(REPO, "dev")
    out = tmp_path / "dev"
    out.mkdir()
    (out / CACHE_FILE).write_text("{}")
    (out / "svc-retired.json").write_text("{}")
    synth(platform, out)
    assert (out / CACHE_FILE).exists()
    assert not (out / "svc-retired.json").exists()
