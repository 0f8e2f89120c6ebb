"""archway local learns about deploys from file events, not by polling moto."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from archway.shared.local.cloud import LocalCloud, Mounted


class Following(LocalCloud):
    """The cloud's watch loop, with what a change triggers recorded instead of run."""

    def __init__(self, root: Path) -> None:
        super().__init__(SimpleNamespace(root=root), out=lambda _line: None)  # type: ignore[arg-type]
        self.followed: list[set[Path]] = []
        self.woke = threading.Event()

    def _follow(self, changed: set[Path], mounted: Mounted) -> Mounted:
        self.followed.append(changed)
        self.woke.set()
        return mounted


def test_a_deploy_from_another_process_wakes_the_cloud_and_nothing_else_does(
        tmp_path: Path) -> None:
    # GIVEN archway local following a repository
    (tmp_path / "services").mkdir()
    cloud = Following(tmp_path)
    stop = threading.Event()
    mounted: Any = Mounted(router=None, digests={})  # type: ignore[arg-type]
    watcher = threading.Thread(target=cloud.watch, args=(mounted, stop), daemon=True)
    watcher.start()
    try:
        time.sleep(1.0)  # the watcher is up
        # WHEN nothing changes for a while
        time.sleep(1.5)
        # THEN nothing is checked (the old loop looked at every stack on moto each second)
        assert cloud.followed == []
        # WHEN another process deploys a stack (the local provider writes its template)
        record = tmp_path / "build" / "local" / ".cloud" / "deployed" / "archway-local-x.json"
        subprocess.run([sys.executable, "-c",
                        f"open({str(record)!r}, 'w').write('{{}}')"], check=True, timeout=30)
        # THEN the cloud is woken with that change
        assert cloud.woke.wait(10), "the deploy was not noticed"
        assert any(record in changed for changed in cloud.followed)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--idle-timeout", "0", "a number of seconds above 0 (got '0')"),
    ("--idle-timeout", "soon", "a number of seconds above 0 (got 'soon')"),
    ("--warm-workers", "-1", "a whole number of workers, 0 or more (got '-1')"),
])
def test_bad_pool_options_are_one_line_and_exit_2(
        option: str, value: str, says: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from archway.shared.cli import main

    # WHEN archway local gets a bad pool setting
    with pytest.raises(SystemExit) as done:
        main(["local", "--root", str(tmp_path), f"{option}={value}"])
    # THEN it names the option and the value, exits 2, and nothing was started or written
    assert done.value.code == 2
    assert f"argument {option}: {says}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
