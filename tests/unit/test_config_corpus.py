"""A corpus of realistic bad configs: each gives exit 2 and one line naming file, key and
value, with nothing written to build/; the real configs still pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from unit.config_corpus.cases import CASES, SEARCH_FN
from unit.config_corpus.edits import CATALOG, PLATFORM, function, replace, route

from archway.shared.cli import main
from archway.shared.config import load_config
from archway.shared.model import resolve


def synth(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["synth", "--root", str(root), "--env", "all"])
    captured = capsys.readouterr()
    return code, captured.err.splitlines()


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_gives_one_line_naming_file_key_and_value(
    name: str, repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the real config with one realistic mistake
    case = CASES[name]
    for edit in case.edits:
        edit(repo_copy)
    # WHEN synthesizing every environment through the CLI entry point
    code, lines = synth(repo_copy, capsys)
    # THEN exit 2, exactly one line: file and key first, then the bad value; no build/
    assert code == 2, lines
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: " + case.where), line
    assert case.value in line, line
    for word in case.also:
        assert word in line, (word, line)
    assert len(line) < 400, line
    assert not (repo_copy / "build").exists()


def test_the_real_configs_pass(repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the repository's own config, unchanged
    # WHEN synthesizing every environment
    code, lines = synth(repo_copy, capsys)
    # THEN it succeeds and writes every environment
    assert code == 0, lines
    assert {p.name for p in (repo_copy / "build").iterdir()} >= {"dev", "local", "prod"}


@pytest.mark.parametrize("name", ["alias bomb", "octal-looking account id", "latin-1 file",
                                  "function collides with access logs"])
def test_as_a_user_runs_it(name: str, repo_copy: Path) -> None:
    # GIVEN a sample of the corpus
    for edit in CASES[name].edits:
        edit(repo_copy)
    # WHEN running the real console entry point in a child process
    proc = subprocess.run(
        [sys.executable, "-m", "archway.shared.cli", "synth", "--root", str(repo_copy),
         "--env", "all"], capture_output=True, text=True, timeout=60)
    # THEN exit 2, one stderr line, nothing on stdout, no build/
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("error: " + CASES[name].where)
    assert proc.stdout == ""
    assert not (repo_copy / "build").exists()


GOOD_VARIATIONS = {
    "dotted path segment": route("/feeds/all.json"),
    "function without a route may run 15 minutes": function(
        "nightly-reindex", "handler: search.handler\n    timeout: 900"),
    "anchors and merge keys": replace(
        CATALOG, "  search:\n    handler: search.handler\n    memory: 256\n    timeout: 5\n",
        "  search: &small\n    handler: search.handler\n    memory: 256\n    timeout: 5\n"),
    "quoted country code NO": replace(PLATFORM, "geo_block: []", 'geo_block: ["NO"]'),
    "handler in a package": function("pkg-handler", "handler: catalog_keys.normalize"),
    "static segment beside a parameter": route("/products/featured", "products"),
}


@pytest.mark.parametrize("name", sorted(GOOD_VARIATIONS))
def test_legitimate_variations_still_pass(
    name: str, repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the real config changed in a way AWS accepts
    GOOD_VARIATIONS[name](repo_copy)
    # WHEN synthesizing every environment
    code, lines = synth(repo_copy, capsys)
    # THEN it passes
    assert code == 0, lines


def function_environment_bytes(root: Path, env: str) -> int:
    platform = resolve(load_config(root), env)
    function = platform.service("catalog").functions["search"]
    return sum(len(k) + len(v) for k, v in function.environment.items())


def test_an_error_in_a_later_environment_writes_nothing(
    repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a finished build, then a variable sized so that dev fits Lambda's 4 KB but
    # local (longer table names) does not: only the second environment is bad
    assert synth(repo_copy, capsys)[0] == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns)
              for p in sorted((repo_copy / "build").rglob("*")) if p.is_file()}
    replace(CATALOG, SEARCH_FN, SEARCH_FN + '    environment: {BANNER: ""}\n')(repo_copy)
    dev, local = (function_environment_bytes(repo_copy, env) for env in ("dev", "local"))
    assert local > dev
    size = 4096 - local + 1
    replace(CATALOG, 'BANNER: ""', f'BANNER: "{"x" * size}"')(repo_copy)
    # WHEN synthesizing every environment
    code, lines = synth(repo_copy, capsys)
    # THEN exit 2 naming local, and build/ is exactly as it was: dev was not rewritten
    assert code == 2
    assert lines == [
        f"error: {CATALOG}: functions.search.environment: variables total 4097 bytes in local "
        f"({6 + size} of them yours, the rest table names and settings Archway adds); Lambda "
        "allows 4096"]
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns)
             for p in sorted((repo_copy / "build").rglob("*")) if p.is_file()}
    assert after == before


def test_an_internal_error_is_one_line_and_exit_3(
    repo_copy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a bug somewhere below the CLI (simulated in the model)
    import archway.shared.commands as commands

    def broken(root: Path, env: str) -> None:
        raise KeyError("products")

    monkeypatch.setattr(commands, "load_platform", broken)
    # WHEN synthesizing
    code, lines = synth(repo_copy, capsys)
    # THEN one line says it is a bug, no traceback, exit 3, nothing written
    assert code == 3
    assert lines == ["error: internal error (KeyError: 'products'): this is a bug in Archway, "
                     "please report it (rerun with --debug for the traceback)"]
    assert not (repo_copy / "build").exists()
