"""The grants cache's key names the installed cfn-lint and policy_sentry without
importlib.metadata, and changes when either is installed in another version."""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from archway.shared.blueprint.permissions import data_version, installed


def test_installed_names_the_versions_importlib_metadata_finds() -> None:
    # GIVEN this environment's cfn-lint and policy_sentry
    # WHEN their installs are looked up from the dist-info folders on sys.path
    # THEN each names the version importlib.metadata reads from its metadata
    for name in ("cfn-lint", "policy_sentry"):
        assert f"-{version(name)}.dist-info" in installed(name)


def test_another_version_on_the_path_changes_the_key(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the cache key of this environment
    before = data_version()
    # WHEN another cfn-lint version is installed in a folder first on sys.path
    (tmp_path / "cfn_lint-0.0.1.dist-info").mkdir()
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    # THEN it is named, and the key of the computed grants differs
    assert installed("cfn-lint").startswith("cfn_lint-0.0.1.dist-info")
    assert data_version() != before
