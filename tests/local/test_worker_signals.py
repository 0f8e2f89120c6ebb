"""A Lambda worker leaves Ctrl-C to archway local: no traceback reaches the console."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_ctrl_c_in_the_terminal_does_not_print_a_worker_traceback(tmp_path: Path) -> None:
    # GIVEN a worker serving a trivial handler
    (tmp_path / "h.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    worker = subprocess.Popen(
        [sys.executable, "-m", "archway.shared.local.worker", str(tmp_path), "h.handler"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert worker.stdout is not None and worker.stdin is not None
    worker.stdout.read(4)  # the length of its "ready" message: it is up
    # WHEN Ctrl-C reaches it (a terminal signals the whole process group)
    os.kill(worker.pid, signal.SIGINT)
    time.sleep(0.3)
    assert worker.poll() is None  # still serving: archway local decides when it stops
    # THEN it ends quietly when archway local closes its pipe
    worker.stdin.close()
    assert worker.wait(timeout=10) == 0
    assert worker.stderr is not None
    err = worker.stderr.read()
    assert b"Traceback" not in err and b"KeyboardInterrupt" not in err
