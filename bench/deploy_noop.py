"""Benchmark: whole-process no-op deploys against the local cloud, median of 5.

`archway deploy service catalog --env local --yes` and `archway deploy all --env local
--yes` while `archway local` runs (moto on 127.0.0.1). Target: one service under 2 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _local import REPO, local_cloud  # noqa: E402
from _timing import report, time_command  # noqa: E402

ARCHWAY = [sys.executable, "-m", "archway.shared.cli"]


def main() -> None:
    with local_cloud(port=8181):
        one = report("no-op deploy service catalog (whole process)",
                     time_command([*ARCHWAY, "deploy", "service", "catalog", "--env", "local",
                                   "--yes"], cwd=str(REPO)))
        every = report("no-op deploy all (whole process)",
                       time_command([*ARCHWAY, "deploy", "all", "--env", "local", "--yes"],
                                    cwd=str(REPO)))
        baseline = report("archway --help (interpreter + imports)",
                          time_command([*ARCHWAY, "--help"], cwd=str(REPO)))
    print(f"target: one service under 2 s -> {'met' if one < 2 else 'NOT met'} ({one:.2f} s)")
    print(f"deploy all / deploy one: {every / one:.2f}x; startup share of one: "
          f"{baseline / one:.0%}")


if __name__ == "__main__":
    main()
