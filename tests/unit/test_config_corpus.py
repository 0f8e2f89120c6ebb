"""A corpus of realistic bad configs: each gives exit 2 and one line naming file, key and
value, with nothing written to build/; the real configs still pass."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from unit.config_corpus.cases import CASES

from archway.shared.cli import main


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
    started = time.perf_counter()
    code, lines = synth(repo_copy, capsys)
    elapsed = time.perf_counter() - started
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
    assert elapsed < 5, f"{elapsed:.1f}s"


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
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "archway.shared.cli", "synth", "--root", str(repo_copy),
         "--env", "all"], capture_output=True, text=True, timeout=60)
    # THEN exit 2, one stderr line, nothing on stdout, no build/, and quickly
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("error: " + CASES[name].where)
    assert proc.stdout == ""
    assert not (repo_copy / "build").exists()
    assert time.perf_counter() - started < 10
