"""Run `archway local` as a child process, as a user would, for tests and benchmarks.

Starts it on 127.0.0.1, waits (bounded) until it says it is serving, hands back the state
it wrote (moto endpoint, edge URL, API domains), and stops it with Ctrl-C (SIGINT), then
kills it if it does not exit in time.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from archway.shared.local.engine import state_path
from archway.shared.local.moto_server import LocalCloudError

READY = "Archway is running on"


@contextmanager
def running_local(root: Path, port: int, log: Path, timeout: float = 90.0,
                  args: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "archway.shared.cli", "local", "--root", str(root),
             "--port", str(port), *args],
            stdout=out, stderr=subprocess.STDOUT, cwd=root,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + timeout
        while READY not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise LocalCloudError(f"archway local did not start (exit code "
                                      f"{process.poll()}):\n{log.read_text()[-4000:]}")
            time.sleep(0.05)  # the ready time benchmarks read is this late at most
        yield {**json.loads(state_path(root).read_text()), "process": process}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
