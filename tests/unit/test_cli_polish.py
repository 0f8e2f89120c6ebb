"""Everyday CLI behaviour: --version, specific help, colour rules, the repository root
found from any subfolder, and schemas that editors find through modelines."""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from archway.shared.cli import build_parser, main
from archway.shared.commands import SCHEMA_DIR, SCHEMAS
from archway.shared.config.models import EnvironmentConfig, PlatformConfig, ServiceConfig
from archway.shared.deploy.display import Display

REPO = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert re.fullmatch(r"archway \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


def leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = []
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for child in action.choices.values():
                found += leaves(child) or [child]
    return found


def test_every_command_has_its_own_help() -> None:
    # GIVEN every command and sub-target (deploy service, destroy all, ...)
    commands = leaves(build_parser())
    progs = {p.prog for p in commands}
    assert {"archway deploy service", "archway destroy all", "archway plan",
            "archway drift", "archway diagram"} <= progs
    # THEN each help names its own usage and says something of its own
    texts = {}
    for parser in commands:
        text = parser.format_help()
        assert text.startswith(f"usage: {parser.prog} "), parser.prog
        texts[parser.prog] = parser.description or ""
    described = [prog for prog, text in texts.items() if text]
    assert len(set(texts[p] for p in described)) == len(described)


def test_deploy_service_help_is_specific(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["deploy", "service", "--help"])
    text = capsys.readouterr().out
    assert text.startswith("usage: archway deploy service")
    assert "deploy one service's stack" in text and "--continue-rollback" in text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("out", "env", "coloured"), [
    (Terminal(), {}, True),
    (Terminal(), {"NO_COLOR": "1"}, False),
    (Terminal(), {"TERM": "dumb"}, False),
    (io.StringIO(), {}, False),  # a pipe or a CI log
])
def test_colour_only_on_a_terminal_without_no_color(
        out: io.StringIO, env: dict[str, str], coloured: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    ui = Display(out)
    ui.line("svc-catalog", "failed", "boom")
    ui.rows([["~", "svc-catalog", "SearchFunction", "MemorySize: 256 -> 512"]], [True])
    assert ("\033[" in out.getvalue()) is coloured


def test_root_is_found_from_a_subfolder(repo_copy: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a shell inside a service's source folder
    monkeypatch.chdir(repo_copy / "services" / "catalog" / "src")
    # WHEN synthesizing without --root THEN the repository's build/ is written
    assert main(["synth", "--env", "dev"]) == 0
    assert (repo_copy / "build" / "dev" / "manifest.json").is_file()


def test_outside_a_repository_is_one_line_exit_2(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["synth", "--env", "dev"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"error: config/platform.yaml: not found in {tmp_path.resolve()} or any "
                   "folder above it: run archway inside an Archway repository, or pass --root")
    assert not (tmp_path / "build").exists()


def test_tracked_schemas_match_the_models() -> None:
    # The files editors read are the models' schemas today (rerun `archway schema` if not).
    for name, model in (("platform", PlatformConfig), ("environment", EnvironmentConfig),
                        ("service", ServiceConfig)):
        tracked = json.loads((REPO / SCHEMA_DIR / f"{name}.schema.json").read_text())
        assert tracked == model.model_json_schema(by_alias=True), (
            f"{SCHEMA_DIR}/{name}.schema.json is stale: run archway schema")


def test_every_config_file_names_its_schema() -> None:
    import jsonschema

    for name, pattern in SCHEMAS.items():
        files = sorted(REPO.glob(pattern))
        assert files, pattern
        for path in files:
            first = path.read_text().splitlines()[0]
            match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
            assert match, f"{path.relative_to(REPO)}: no modeline on the first line"
            schema = (path.parent / match.group(1)).resolve()
            assert schema == (REPO / SCHEMA_DIR / f"{name}.schema.json").resolve()
            # and the file is valid against the schema its editor will use
            jsonschema.validate(yaml.safe_load(path.read_text()),
                                json.loads(schema.read_text()))


def test_schema_command_writes_to_the_tracked_folder(repo_copy: Path) -> None:
    shutil.rmtree(repo_copy / SCHEMA_DIR, ignore_errors=True)
    assert main(["schema", "--root", str(repo_copy)]) == 0
    assert sorted(p.name for p in (repo_copy / SCHEMA_DIR).iterdir()) == [
        "environment.schema.json", "platform.schema.json", "service.schema.json"]


def test_a_scaffolded_service_names_its_schema(repo_copy: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    shutil.copytree(REPO / SCHEMA_DIR, repo_copy / SCHEMA_DIR)
    # GIVEN a new service scaffolded by its team
    assert main(["new", "service", "orders", "--root", str(repo_copy), "--account",
                 "dev=210000000009", "--account", "prod=310000000009"]) == 0
    path = repo_copy / "services" / "orders" / "service.yaml"
    # THEN its editor finds the schema through the first line, and the file satisfies it
    first = path.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=../../schema/service.schema.json"
    schema = json.loads((path.parent / first.split("=", 1)[1]).read_text())
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
