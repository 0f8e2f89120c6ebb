"""Workers run on the Python their runtime names when it is installed; archway local says
once at start which interpreter runs what."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from archway.shared.assets import build_zip
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local.interpreter import choose, find_interpreter, host_runtime
from archway.shared.local.moto_server import MotoServer
from archway.shared.local.runner import LambdaRunner, LocalFunction

REGION, ACCOUNT = "eu-west-1", "100000000001"


def fake_python(folder: Path, name: str, version: str, marker: Path | None = None) -> Path:
    """A ``python3.X`` that reports ``version`` and otherwise runs this machine's Python
    (recording that it ran in ``marker``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    touch = f'echo ran >> "{marker}"\n' if marker else ""
    path.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then echo "{path}"; echo {version}; '
                    f'exit 0; fi\n{touch}exec "{sys.executable}" "$@"\n')
    path.chmod(0o755)
    return path


def test_a_matching_interpreter_on_path_is_found(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN python3.98 on PATH, and a python3.97 that fails when run (a pyenv shim of a
    # version that is not selected)
    fake = fake_python(tmp_path / "bin", "python3.98", "3.98")
    broken = tmp_path / "bin" / "python3.97"
    broken.write_text("#!/bin/sh\necho 'pyenv: python3.97: command not found' >&2\nexit 127\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}/usr/bin:/bin")
    # THEN the one that runs and is that version is found; the other is not
    assert find_interpreter("python3.98") == str(fake)
    assert find_interpreter("python3.97") is None


def test_archway_local_says_once_what_runs_where() -> None:
    said: list[str] = []
    found = {"python3.98": "/opt/py/bin/python3.98"}
    # WHEN the services declare this machine's runtime, an installed one and a missing one
    chosen = choose([host_runtime(), "python3.98", "python3.97", "python3.98"], said.append,
                    find=found.get)
    # THEN the installed one is used, and each fact is said once
    assert chosen == found
    assert said == [
        f"note: this machine's Python is {host_runtime()}; handlers of python3.98 run on "
        "/opt/py/bin/python3.98",
        "note: the services declare python3.97, which Lambda runs; no such interpreter is "
        f"installed (python3.X on PATH or uv python find), so their handlers run on this "
        f"machine's {host_runtime()}"]
    # AND nothing is said when everything runs on this machine's Python
    said.clear()
    assert choose([host_runtime()], said.append, find=found.get) == {}
    assert said == []


def test_workers_run_on_the_runtimes_interpreter(tmp_path: Path) -> None:
    # GIVEN a function whose runtime is python3.98, installed here
    marker = tmp_path / "ran"
    fake = fake_python(tmp_path / "bin", "python3.98", "3.98", marker)
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    with MotoServer() as moto:
        connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
        s3 = connections.client("s3", ACCOUNT, REGION)
        s3.create_bucket(Bucket="assets",
                         CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_object(Bucket="assets", Key="app.zip", Body=build_zip(src))
        runner = LambdaRunner(connections.client, connections.credentials, moto.endpoint,
                              tmp_path / "work", interpreters={"python3.98": str(fake)})
        try:
            runner.register(LocalFunction("fn", ACCOUNT, REGION, "app.handler", 256, 10,
                                          "assets", "app.zip", runtime="python3.98"))
            # WHEN it is invoked
            result = runner.invoke("fn", {})
        finally:
            runner.close()
    # THEN it answered, from a worker started with that interpreter
    assert result.payload == {"ok": True}
    assert marker.read_text() == "ran\n"
