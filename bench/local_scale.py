"""Benchmark: the local cloud at N = 2, 24 and 100 services, whole processes, medians.

For each size, a generated repository (bench/_generate.py) in a temporary folder, and
``--runs`` times:
- ``archway local`` ready: from starting the process to "Archway is running on" (wall
  clock: on a shared machine read it with the load average printed beside it);
- ready CPU: CPU seconds its process tree used until then (itself, moto, and the children
  it waited for): what ready costs whatever else the machine runs;
- memory: resident set size summed over its process tree (the CLI, moto, Lambda
  workers), 2 s after ready;
- idle CPU: CPU seconds of that tree over 30 s without requests, as a share of one core;
- ``archway deploy all --env local`` into it, twice (whole processes): the first loads
  each function's handler once to report init errors (archway local itself starts none),
  the second is the no-op a team sees on every later deploy;
- cache miss on ``/api/catalog/search`` at one client: p50 of 200 requests, each with
  its own query string, over one keep-alive connection (http.client: the client costs
  microseconds, not the milliseconds a heavier client would add).
Then the median per size and the per-service slope (least squares over the sizes).
Everything binds 127.0.0.1 and is bounded in time.
Run: python bench/local_scale.py [--sizes 2,24,100] [--runs 3]
"""

from __future__ import annotations

import argparse
import http.client
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _generate import bench_repo  # noqa: E402

from archway.shared.local.launcher import running_local  # noqa: E402

PORT = 8183
IDLE_SECONDS = 30.0
REQUESTS = 200
TARGETS = {  # (measure, N) -> (limit, unit), from issue #14
    ("deploy all no-op", 24): (2.0, "s"), ("ready", 24): (6.0, "s"),
    ("memory", 24): (800.0, "MiB"), ("idle CPU", 24): (2.0, "% of a core"),
    ("ready", 100): (15.0, "s"), ("memory", 100): (1536.0, "MiB"),
    ("cache miss p50", 2): (5.0, "ms"), ("cache miss p50", 24): (5.0, "ms"),
    ("cache miss p50", 100): (5.0, "ms"),
}
UNITS = {"ready": "s", "ready CPU": "s", "memory": "MiB", "idle CPU": "% of a core",
         "deploy all, first": "s", "deploy all no-op": "s", "no-op CPU": "s",
         "cache miss p50": "ms", "processes": ""}
TICKS = os.sysconf("SC_CLK_TCK")
LOAD = "load average"  # the machine's 1-minute load average when a run started
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree(root: int) -> list[int]:
    """``root`` and every process below it (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total / 2**20


def cpu_seconds(pids: list[int], reaped: bool = False) -> dict[int, float]:
    """utime + stime of each process (``reaped``: plus that of its children it waited for,
    cutime + cstime; see proc(5))."""
    used = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[pid] = sum(int(f) for f in fields[11:15 if reaped else 13]) / TICKS
    return used


def idle_cpu(root: int, seconds: float) -> float:
    """Share of one core (%) the tree used over ``seconds`` without requests."""
    before = cpu_seconds(tree(root))
    time.sleep(seconds)
    after = cpu_seconds(tree(root))
    used = sum(after[pid] - before.get(pid, 0.0) for pid in after)
    return 100 * used / seconds


def cache_miss_p50(port: int, count: int = REQUESTS) -> float:
    """p50 (ms) of ``count`` cache misses over one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                            source_address=("127.0.0.21", 0))
    timings = []
    try:
        for i in range(-5, count):  # five to warm the worker and the connection
            start = time.perf_counter()
            connection.request("GET", f"/api/catalog/search?q=c&n={i}-{time.time_ns()}")
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - start
            if response.status != 200 or response.getheader("x-cache", "").lower().startswith(
                    "hit"):
                raise SystemExit(f"cache miss expected, got {response.status} "
                                 f"{response.getheader('x-cache')}: {body[:200]!r}")
            if i >= 0:
                timings.append(elapsed)
    finally:
        connection.close()
    return statistics.median(timings) * 1000


def deploy_noop(root: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one whole ``archway deploy all`` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "archway.shared.cli", "deploy", "all",
                           "--env", "local", "--yes", "--root", str(root)],
                          capture_output=True, text=True, timeout=600, cwd=root)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "skipped" not in proc.stdout:
        raise SystemExit(f"deploy all failed or was not a no-op ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def one_run(root: Path, log: Path) -> dict[str, float]:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    with running_local(root, PORT, log, timeout=300) as state:
        ready = time.perf_counter() - start
        process = state["process"]
        ready_cpu = sum(cpu_seconds(tree(process.pid), reaped=True).values())
        time.sleep(2)
        pids = tree(process.pid)
        measured = {"ready": ready, "ready CPU": ready_cpu, "memory": rss_mib(pids),
                    "processes": float(len(pids))}
        measured["idle CPU"] = idle_cpu(process.pid, IDLE_SECONDS)
        measured["deploy all, first"] = deploy_noop(root)[0]  # loads every handler once
        measured["deploy all no-op"], measured["no-op CPU"] = deploy_noop(root)
        measured["cache miss p50"] = cache_miss_p50(PORT)
        measured[LOAD] = load
    return measured


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares change per service."""
    if len(points) < 2:
        return float("nan")
    mean_n = statistics.fmean(n for n, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    num = sum((n - mean_n) * (v - mean_v) for n, v in points)
    den = sum((n - mean_n) ** 2 for n, _ in points)
    return num / den


def verdict(name: str, size: int, value: float) -> str:
    target = TARGETS.get((name, size))
    if target is None:
        return ""
    limit, unit = target
    return f"  target <= {limit:g} {unit}: {'met' if value <= limit else 'NOT met'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,24,100")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    medians: dict[str, list[tuple[int, float]]] = {name: [] for name in UNITS}
    load: Callable[[], Any] = os.getloadavg
    for size in sizes:
        runs: list[dict[str, float]] = []
        with bench_repo(size) as root:
            log = root / "build" / "bench-local.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            for _ in range(args.runs):
                runs.append(one_run(root, log))
        print(f"\nN = {size} services ({args.runs} runs; load average "
              f"{load()[0]:.1f} on {os.cpu_count()} cores at the end, "
              f"{', '.join(f'{run.pop(LOAD):.1f}' for run in runs)} when each run started)")
        for name, unit in UNITS.items():
            values = [run[name] for run in runs]
            median = statistics.median(values)
            medians[name].append((size, median))
            spread = ", ".join(f"{v:.3g}" for v in values)
            print(f"  {name:<18} median {median:9.2f} {unit:<12} (runs: {spread})"
                  f"{verdict(name, size, median)}")
    print("\nper service (least-squares slope over the sizes):")
    for name, unit in UNITS.items():
        print(f"  {name:<18} {slope(medians[name]):+9.4f} {unit}/service")


if __name__ == "__main__":
    main()
