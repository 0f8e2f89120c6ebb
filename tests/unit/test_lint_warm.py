"""archway lint's warm path: the declared deviations and cfn-lint's version read without
parsing templates or importing cfn-lint, and still right when the cache is wrong."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from archway.shared.commands import synth_env
from archway.shared.lint import DEVIATIONS_CACHE, declared_deviations, installed_version


def test_deviations_are_remembered_by_template_content(repo_copy: Path) -> None:
    # GIVEN dev synthesized, and its deviations listed once (read from the templates)
    result = synth_env(repo_copy, "dev")
    first = declared_deviations(result)
    assert any(line.startswith("svc-catalog.json: deviation ") for line in first)
    cache = result.out_dir / DEVIATIONS_CACHE
    # WHEN they are listed again from the cache, and with a cache holding nonsense
    assert declared_deviations(result) == first
    digest = result.manifest["stacks"][0]["template_sha256"]
    cache.write_text(json.dumps({digest: "not a list"}))
    assert declared_deviations(result) == first
    cache.write_text("{broken")
    # THEN the same lines each time
    assert declared_deviations(result) == first
    # WHEN a template's content changes (another sha256 in the manifest)
    path = result.out_dir / "svc-catalog.json"
    body = json.loads(path.read_text())
    body["Metadata"]["Archway::Deviations"] = [
        {"Control": "X.1", "Resources": ["Thing"], "Reason": "a test"}]
    path.write_text(json.dumps(body))
    for stack in result.manifest["stacks"]:
        if stack["template"] == "svc-catalog.json":
            stack["template_sha256"] = "changed"
    # THEN its new deviations are read
    lines = [line for line in declared_deviations(result)
             if line.startswith("svc-catalog.json:")]
    assert lines == ["svc-catalog.json: deviation X.1 (Thing): a test"]


def test_installed_versions_read_from_dist_info_names() -> None:
    # GIVEN installed distributions spelled in several ways
    # WHEN their versions are read from the dist-info folders' names
    # THEN they are what importlib.metadata says
    for name in ("cfn-lint", "cfn_lint", "PyYAML", "pydantic"):
        assert installed_version(name) == version(name)
