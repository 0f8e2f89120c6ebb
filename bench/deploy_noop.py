"""Benchmark: whole-process no-op deploys against the local cloud, median of 5.

`archway deploy service catalog --env local --yes` and `archway deploy all --env local
--yes` while `archway local` runs (moto on 127.0.0.1), in this repository or (``--size N``)
in a generated repository of N services (bench/_generate.py). Targets: one service under
2 s; all of 24 services under 2 s (issue #14). Wall clock and CPU seconds are printed with
the load average: on a shared machine the CPU seconds are the figure to compare.
Run: python bench/deploy_noop.py [--size 24]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _generate import bench_repo  # noqa: E402
from _local import REPO, local_cloud  # noqa: E402
from _timing import report, time_command  # noqa: E402

from archway.shared.local.launcher import running_local  # noqa: E402

ARCHWAY = [sys.executable, "-m", "archway.shared.cli"]
PORT = 8181


@contextmanager
def cloud_in(size: int | None) -> Iterator[Path]:
    """A running local cloud: this repository's, or a generated one of ``size`` services."""
    if size is None:
        with local_cloud(port=PORT):
            yield REPO
        return
    with bench_repo(size) as root:
        log = root / "build" / "bench-local.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with running_local(root, PORT, log, timeout=300):
            yield root


def cpu_of(run: Callable[[], object]) -> float:
    """CPU seconds (user + system) of the child processes ``run()`` waited for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None,
                        help="services in a generated repository (default: this repository)")
    args = parser.parse_args()
    with cloud_in(args.size) as root:
        medians: dict[str, float] = {}
        # The first deploy into a fresh cloud loads each handler once to report init errors
        # (archway local itself starts no worker): not a no-op, so not measured.
        time_command([*ARCHWAY, "deploy", "all", "--env", "local", "--yes"], runs=1,
                     cwd=str(root))

        def measure(label: str, argv: list[str]) -> None:
            timings: list[float] = []
            cpu = cpu_of(lambda: timings.extend(time_command(argv, cwd=str(root))))
            medians[label] = report(label, timings)
            print(f"{'':<48} CPU {cpu / len(timings):6.3f} s per run")

        measure("no-op deploy service catalog (whole process)",
                [*ARCHWAY, "deploy", "service", "catalog", "--env", "local", "--yes"])
        measure("no-op deploy all (whole process)",
                [*ARCHWAY, "deploy", "all", "--env", "local", "--yes"])
        measure("archway --help (interpreter + imports)", [*ARCHWAY, "--help"])
    one, every = medians["no-op deploy service catalog (whole process)"], \
        medians["no-op deploy all (whole process)"]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"target: one service under 2 s -> {'met' if one < 2 else 'NOT met'} ({one:.2f} s)")
    if args.size == 24:
        print(f"target: all of 24 services under 2 s -> {'met' if every < 2 else 'NOT met'} "
              f"({every:.2f} s)")
    print(f"deploy all / deploy one: {every / one:.2f}x; startup share of one: "
          f"{medians['archway --help (interpreter + imports)'] / one:.0%}")


if __name__ == "__main__":
    main()
