"""Start `archway local` for a benchmark (loopback only, bounded in time) and stop it."""

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

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def local_cloud(port: int) -> Iterator[dict[str, Any]]:
    log = REPO / "build" / "bench-local.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "archway.shared.cli", "local", "--port", str(port)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 120
        while "Archway is running on" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"archway local did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        state = json.loads((REPO / "build" / "local" / ".cloud" / "cloud.json").read_text())
        yield state
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
