"""Benchmark: whole-process `archway synth --env all`, median of 5.

Also times a warm re-synth (templates already written) and `archway lint --env all`
with a warm lint cache, so the cost of the lint gate's cache is visible as a ratio.
Run: python bench/synth.py  (or tox -e bench)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _timing import report, time_command  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARCHWAY = [sys.executable, "-m", "archway.shared.cli"]


def main() -> None:
    shutil.rmtree(REPO / "build", ignore_errors=True)
    cold = time_command([*ARCHWAY, "synth", "--env", "all"], runs=1, cwd=str(REPO))
    report("synth --env all (first run, empty build/)", cold)
    synth = report("synth --env all", time_command([*ARCHWAY, "synth", "--env", "all"],
                                                    cwd=str(REPO)))
    lint = report("lint --env all (warm lint cache)",
                  time_command([*ARCHWAY, "lint", "--env", "all"], cwd=str(REPO)))
    print(f"lint with warm cache / synth: {lint / synth:.2f}x")


if __name__ == "__main__":
    main()
