"""Benchmark: synth, lint and route-lookup cost at 10, 100 and 1,000 services.

Each size is a generated repository (tests/helpers/scale.py, the generator the scale test
uses). Measured in process with time.perf_counter, median of ``--runs`` runs:
- synth: the whole ``archway synth --env dev`` (load config, resolve, write every
  template and the manifest), each run from an empty build/dev;
- lint cold: ``archway.shared.lint.lint_synth`` on those templates with no lint cache;
- lint warm: the same with the cache the cold run left (every template skipped);
- lookup: one ``CloudFrontFunction.invoke`` of the API router against a store holding
  every service, median over 1,000 requests spread over all services.
Cold lint costs about 0.6 s per template, so it runs only up to ``--max`` services.
Run: python bench/routes.py [--max 100] [--runs 5] [--sizes 10,100,1000]  (or tox -e bench)
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from archway.platform.edge import FUNCTIONS_DIR  # noqa: E402
from archway.shared.commands import synth_env  # noqa: E402
from archway.shared.lint import CACHE_FILE, lint_synth  # noqa: E402
from archway.shared.local.cf_function import CloudFrontFunction  # noqa: E402
from archway.shared.synth import SynthResult  # noqa: E402
from helpers.scale import route_entry, scale_repo  # noqa: E402

SIZES = (10, 100, 1000)
ENV = "dev"
REQUESTS = 1000


def median_of(runs: int, setup: Callable[[], object], work: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        setup()
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def bench_synth(root: Path, runs: int) -> tuple[float, SynthResult]:
    out = root / "build" / ENV
    median = median_of(runs, lambda: shutil.rmtree(out, ignore_errors=True),
                       lambda: synth_env(root, ENV))
    return median, synth_env(root, ENV)


def bench_lint(result: SynthResult, runs: int) -> tuple[float, float]:
    cache = result.out_dir / CACHE_FILE

    def lint() -> None:
        findings = lint_synth(result)
        if findings:
            sys.exit("lint findings:\n" + "\n".join(str(f) for f in findings[:20]))

    cold = median_of(runs, lambda: cache.unlink(missing_ok=True), lint)
    warm = median_of(runs, lambda: None, lint)
    return cold, warm


def bench_lookup(names: list[str]) -> float:
    gc.collect()
    data = {e.key: e.value() for e in map(route_entry, names)}
    router = CloudFrontFunction((FUNCTIONS_DIR / "api_router.js").read_text(encoding="utf-8"),
                                "api-router", store=lambda: (1, data))
    timings = []
    for index in range(REQUESTS):
        service = names[index * 7919 % len(names)]  # spread over the whole store
        event = {"version": "1.0", "context": {"eventType": "viewer-request"},
                 "viewer": {"ip": "198.51.100.11"},
                 "request": {"method": "GET", "uri": f"/api/{service}/hello", "querystring": {},
                             "headers": {"host": {"value": "shop.example.com"}},
                             "cookies": {}}}
        start = time.perf_counter()
        _, origin = router.invoke(event)
        timings.append(time.perf_counter() - start)
        if origin is None or origin["originPath"] != "/live":
            sys.exit(f"/api/{service}/hello was not routed")
    return statistics.median(timings)


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=100,
                        help="largest service count to lint (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)),
                        help="service counts (default 10,100,1000)")
    args = parser.parse_args(argv)
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix=f"archway-bench-{size}-") as tmp:
            root = Path(tmp)
            names = scale_repo(root, size)
            # Lookup before synth and lint load the process (cfn-lint's schemas, templates).
            lookup = bench_lookup(names)
            synth_s, result = bench_synth(root, args.runs)
            cold = warm = None
            if size <= args.max:
                cold, warm = bench_lint(result, args.runs)
            rows.append((size, len(result.manifest["stacks"]), synth_s, cold, warm, lookup))
            print(f"{size} services done", file=sys.stderr, flush=True)
    print(f"medians: synth/lint of {args.runs} runs, lookup of {REQUESTS} requests")
    print(f"{'services':>8} {'templates':>9} {'synth dev':>10} {'lint cold':>10} "
          f"{'lint warm':>10} {'lookup':>10}")
    for size, templates, synth_s, cold, warm, lookup in rows:
        print(f"{size:>8} {templates:>9} {seconds(synth_s):>10} {seconds(cold):>10} "
              f"{seconds(warm):>10} {lookup * 1e6:>7.0f} us")


if __name__ == "__main__":
    main()
