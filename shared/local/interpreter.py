"""Which Python runs a function's workers: the one its runtime names, when installed.

Lambda runs a ``python3.12`` function on Python 3.12. Locally the workers run on the
interpreter found as ``python3.12`` on PATH (or by ``uv python find 3.12`` when uv is there),
checked by running it; without one, on this machine's Python, and ``archway local`` says so
once at start.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable

PROBE = "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"
TIMEOUT = 15.0


def host_runtime() -> str:
    return f"python{sys.version_info.major}.{sys.version_info.minor}"


def _checked(candidate: str | None, version: str) -> str | None:
    """The interpreter's real path when it runs and is ``version``; else None (a pyenv shim
    for a version that is not selected fails here)."""
    if not candidate:
        return None
    try:
        done = subprocess.run([candidate, "-c", PROBE], capture_output=True, text=True,
                              timeout=TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2 or lines[1] != version:
        return None
    return lines[0]


def find_interpreter(runtime: str) -> str | None:
    """An installed interpreter for ``runtime`` (python3.12): its path, or None."""
    version = runtime.removeprefix("python")
    found = _checked(shutil.which(runtime), version)
    uv = shutil.which("uv")
    if found is None and uv is not None:
        try:
            done = subprocess.run([uv, "python", "find", "--no-project", version],
                                  capture_output=True, text=True, timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if done.returncode == 0:
            found = _checked(done.stdout.strip(), version)
    return found


def choose(runtimes: Iterable[str], say: Callable[[str], None],
           find: Callable[[str], str | None] = find_interpreter) -> dict[str, str]:
    """Runtime -> interpreter for each runtime this machine's Python is not; says once what
    runs where."""
    host = host_runtime()
    chosen: dict[str, str] = {}
    missing = []
    for runtime in sorted(set(runtimes) - {host}):
        path = find(runtime)
        if path is None:
            missing.append(runtime)
        else:
            chosen[runtime] = path
    if chosen:
        say("note: this machine's Python is " + host + "; handlers of " + ", ".join(
            f"{runtime} run on {path}" for runtime, path in chosen.items()))
    if missing:
        say(f"note: the services declare {', '.join(missing)}, which Lambda runs; no such "
            f"interpreter is installed (python3.X on PATH or uv python find), so their "
            f"handlers run on this machine's {host}")
    return chosen
