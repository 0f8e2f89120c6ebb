"""Small helpers the benchmarks share: run a command N times, report medians."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

import _env  # noqa: F401  (the environment a user's shell gives processes)


def time_command(argv: Sequence[str], runs: int = 5, cwd: str | None = None) -> list[float]:
    """Wall-clock seconds of each of ``runs`` whole-process runs (fails loudly)."""
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, timeout=600)
        timings.append(time.perf_counter() - start)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return timings


def report(label: str, timings: list[float]) -> float:
    median = statistics.median(timings)
    spread = ", ".join(f"{t:.2f}" for t in timings)
    print(f"{label:<48} median {median:6.3f} s   (runs: {spread})")
    return median
