"""Processes of the local cloud end with it; a stale state file is cleaned on the next start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archway.shared.local.moto_server import MotoServer
from archway.shared.local.processes import (
    MOTO_MARKER,
    TAG,
    alive,
    clean_stale,
    is_ours,
    process_tag,
)

REPO = Path(__file__).resolve().parents[2]


def _wait_dead(pid: int, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_moto_exits_when_its_parent_is_killed(tmp_path: Path) -> None:
    # GIVEN a parent process that started a moto server, then is kill -9'd
    script = ("import sys, time\n"
              "from archway.shared.local.moto_server import MotoServer\n"
              "moto = MotoServer().start()\n"
              "print(moto.pid, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              text=True, cwd=tmp_path)
    assert parent.stdout is not None
    moto_pid = int(parent.stdout.readline())
    assert alive(moto_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    parent.stdout.close()
    # THEN the orphaned moto server ends by itself within a second or so
    assert _wait_dead(moto_pid), f"moto pid {moto_pid} outlived its parent"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)
    return proc.pid


def test_stale_state_is_cleaned_and_its_moto_stopped(tmp_path: Path) -> None:
    # GIVEN the state file of a kill -9'd archway local whose moto is somehow still up
    with MotoServer() as moto:
        assert moto.pid is not None
        state = tmp_path / "cloud.json"
        state.write_text(json.dumps({"pid": _dead_pid(), "moto_pid": moto.pid,
                                     "tag": process_tag(), "endpoint": moto.endpoint}))
        said: list[str] = []
        # WHEN the next start cleans up
        clean_stale(state, said.append)
        # THEN that moto is stopped and the state is gone
        assert _wait_dead(moto.pid)
        assert not state.exists()
        assert said[0].startswith(f"stopped the moto server (pid {moto.pid})")


def test_a_stranger_with_the_recorded_pid_is_never_killed(tmp_path: Path) -> None:
    # GIVEN a state file whose moto pid now belongs to an unrelated process
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"],
                                env={**os.environ, TAG: "someone-else"})
    try:
        state = tmp_path / "cloud.json"
        state.write_text(json.dumps({"pid": _dead_pid(), "moto_pid": stranger.pid,
                                     "tag": process_tag()}))
        assert not is_ours(stranger.pid, process_tag(), MOTO_MARKER)
        clean_stale(state, lambda _line: None)
        # THEN the stranger lives on, and the stale state is removed anyway
        assert stranger.poll() is None
        assert not state.exists()
    finally:
        stranger.kill()
        stranger.wait(timeout=10)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_stop_archway_local_and_everything_it_started(
        repo_copy: Path, sig: signal.Signals) -> None:
    # GIVEN archway local deploying (it has started moto and is about to start workers),
    # started as a script's background job is (`archway local &`: SIGINT ignored)
    from archway.shared.local.cloud import state_path

    log = repo_copy / "local.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archway.shared.cli", "local", "--root", str(repo_copy),
             "--port", "0"], stdout=out, stderr=subprocess.STDOUT, cwd=repo_copy,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_ignore_sigint)
    deadline = time.monotonic() + 60
    while not state_path(repo_copy).exists():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    moto_pid = json.loads(state_path(repo_copy).read_text())["moto_pid"]
    # WHEN it gets the signal
    proc.send_signal(sig)
    # THEN it stops cleanly: exit 0, moto gone, state file removed
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert _wait_dead(moto_pid)
    assert not state_path(repo_copy).exists()
    assert "stopping" in log.read_text()


def test_archway_local_stops_when_what_started_it_is_killed(repo_copy: Path) -> None:
    # GIVEN archway local started by another process (as tox or an IDE starts it)
    from archway.shared.local.cloud import state_path

    log = repo_copy / "local.log"
    script = ("import subprocess, sys, time\n"
              f"out = open({str(log)!r}, 'wb')\n"
              "subprocess.Popen([sys.executable, '-m', 'archway.shared.cli', 'local', '--root', "
              f"{str(repo_copy)!r}, '--port', '0'], stdout=out, stderr=subprocess.STDOUT)\n"
              "time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=repo_copy,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 60
    while not state_path(repo_copy).exists():
        assert parent.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    state = json.loads(state_path(repo_copy).read_text())
    # WHEN that process dies without a word (tox on SIGTERM, kill -9 of an IDE's runner)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    # THEN archway local stops as on SIGTERM: itself and moto gone, state file removed
    assert _wait_dead(state["pid"], timeout=30), log.read_text()
    assert _wait_dead(state["moto_pid"])
    assert not state_path(repo_copy).exists()
    assert "stopping" in log.read_text()
