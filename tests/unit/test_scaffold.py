"""archway new service: what it writes, what it refuses, and that the result validates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from archway.shared.config import load_config
from archway.shared.errors import ConfigError


def fresh_name(root: Path) -> str:
    """A service name this repository does not have yet."""
    taken = {p.name for p in (root / "services").iterdir()}
    return next(f"orders{n}" for n in range(100) if f"orders{n}" not in taken)


def archway(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archway.shared.cli", *args,
                           "--root", str(root)], capture_output=True, text=True, timeout=60)


def test_a_scaffolded_service_with_accounts_validates_and_routes(repo_copy: Path) -> None:
    # WHEN a team scaffolds a service with its accounts
    name = fresh_name(repo_copy)
    done = archway(repo_copy, "new", "service", name, "--account", "dev=210000000009",
                   "--account", "prod=310000000009")
    # THEN it is told what comes next, and the repository's config accepts the service
    assert done.returncode == 0, done.stderr
    assert f"tox -e deploy-service -- {name}" in done.stdout
    service = load_config(repo_copy).services[name]
    assert service.accounts["dev"] == "210000000009"
    # the local account is a fresh fake one, not another service's
    others = {s.accounts["local"] for n, s in load_config(repo_copy).services.items()
              if n != name}
    assert service.accounts["local"] not in others
    assert [(r.method, r.path) for r in service.routes] == [
        ("GET", "/items"), ("POST", "/items"), ("GET", "/items/{id}")]
    # AND its tests read their tables from service.yaml (nothing re-declared)
    tests = (repo_copy / "services" / name / "tests")
    assert "archway.shared.testing" in (tests / "conftest.py").read_text()
    assert "KeySchema" not in "".join(p.read_text() for p in tests.rglob("*.py"))


def test_placeholders_fail_validation_until_filled(repo_copy: Path) -> None:
    # GIVEN a service scaffolded without its AWS accounts
    name = fresh_name(repo_copy)
    assert archway(repo_copy, "new", "service", name).returncode == 0
    text = (repo_copy / "services" / name / "service.yaml").read_text()
    assert yaml.safe_load(text)["accounts"]["dev"] == "REPLACE-WITH-DEV-ACCOUNT-ID"
    # THEN config refuses it, naming the file, the key and the placeholder
    try:
        load_config(repo_copy)
    except ConfigError as exc:
        assert f"services/{name}/service.yaml" in str(exc)
        assert "REPLACE-WITH-DEV-ACCOUNT-ID" in str(exc)
    else:
        raise AssertionError("a placeholder account was accepted")


def test_bad_names_and_existing_folders_are_refused_without_writing(repo_copy: Path) -> None:
    before = sorted(p.name for p in (repo_copy / "services").iterdir())
    name = fresh_name(repo_copy)
    for args, expected in [
        (("Orders_1",), "a service name is a lowercase letter"),
        (("catalog",), "services/catalog/ already exists"),
        ((name, "--account", "dev=123"), "an account id is 12 digits (got '123')"),
        ((name, "--account", "qa=210000000009"), "unknown environment 'qa'"),
    ]:
        done = archway(repo_copy, "new", "service", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in (repo_copy / "services").iterdir()) == before
