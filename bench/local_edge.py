"""Benchmark: /api/catalog/search through the local edge at 1 and 32 clients.

Prints p50/p90/p99 latency and requests per second (with the load average), then where a
cache miss's time goes at 1 client, from the local cloud's own per-layer timers
(ARCHWAY_LOCAL_TIMING=1: a Server-Timing header on every response, see
shared/local/timing.py), medians over the requests:
  client + HTTP    = latency seen by the client - the edge's own time
  CloudFront Function, edge + WAF (the rest of the edge), API router, runner (pool and
  pipe to the worker), handler (its own call, as Lambda's REPORT Duration)
  of which DynamoDB query = the handler's query alone, boto3 resource -> moto, timed the
  same way from this process with the function's credentials
CPU per cache miss (edge, moto, workers: user + system of each process) is counted over the
timed requests only, not the warm-up ones (the first of which starts the function's worker).
Then the edge alone: requests the router function answers itself (an unknown service's
404), p50 and the edge's CPU per request.
Every request is bounded (count and 30 s timeout) and goes to 127.0.0.1 only; the client
is http.client over keep-alive connections, light enough not to be the bottleneck.
"""

from __future__ import annotations

import http.client
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_cloud  # noqa: E402

from archway.shared.local import timing  # noqa: E402

PORT = int(os.environ.get("ARCHWAY_BENCH_PORT", "8182"))  # another, to run beside a copy
REQUESTS = {1: 200, 32: 800}


@dataclass
class Run:
    latencies: list[float]  # seconds, sorted
    wall: float
    layers: list[dict[str, float]]  # per request: layer -> ms (Server-Timing)

    def percentile(self, fraction: float) -> float:
        index = min(len(self.latencies) - 1, int(len(self.latencies) * fraction))
        return self.latencies[index] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall


def measure(url: str, clients: int, count: int, cache_miss: bool, source_ip: str,
            warmed: Callable[[], None] = lambda: None) -> Run:
    """One run from its own loopback address: the WAF's per-IP rate limit stays out of it.

    Each client thread has one keep-alive ``http.client`` connection: a few microseconds
    per request, where a heavier client (httpx) made the 32-client row measure itself.
    ``warmed`` is called between the warm-up requests and the timed ones.
    """
    parsed = urlsplit(url)
    local = threading.local()
    layers: list[dict[str, float]] = []

    def one(i: int) -> float:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection(
                parsed.hostname, parsed.port, timeout=30, source_address=(source_ip, 0))
            opened.append(local.connection)
        query = f"q=c&n={i}-{time.time_ns()}" if cache_miss else "q=c"
        start = time.perf_counter()
        local.connection.request("GET", f"{parsed.path}?{query}")
        response = local.connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"{url}: {response.status} {body[:200]!r}")
        if i >= 0:
            split = timing.parse(response.getheader(timing.HEADER) or "")
            layers.append({**split, "client": elapsed * 1000})
        return elapsed

    opened: list[http.client.HTTPConnection] = []
    with ThreadPoolExecutor(max_workers=clients) as pool:
        try:
            list(pool.map(one, range(-clients, 0)))  # warm workers and connections
            warmed()
            start = time.perf_counter()
            latencies = sorted(pool.map(one, range(count)))
            wall = time.perf_counter() - start
        finally:
            for connection in opened:
                connection.close()
    return Run(latencies, wall, layers)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of ``root``'s process tree, by role: the edge
    (archway local itself), moto, the Lambda workers."""
    ticks = os.sysconf("SC_CLK_TCK")
    roles: dict[str, float] = {}
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            pending += _children(pid)
        except (OSError, IndexError):
            continue
        role = ("moto" if "moto_app" in command else "workers" if "worker.py" in command
                else "edge")
        roles[role] = roles.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return roles


def _snapshot(into: dict[str, float], root: int) -> None:
    into.update(tree_cpu(root))


def split(layers: list[dict[str, float]], query_ms: float) -> list[tuple[str, float]]:
    """Each layer's own time (medians), from the nested timers of every request."""
    def median(f: Callable[[dict[str, float]], float]) -> float:
        return statistics.median(f(x) for x in layers)

    return [
        ("client + HTTP server", median(lambda x: x["client"] - x["edge"])),
        ("CloudFront Function (V8)", median(lambda x: x.get("function", 0.0))),
        ("edge + WAF (rest)", median(
            lambda x: x["edge"] - x.get("function", 0.0) - x.get("api", 0.0))),
        ("API router", median(lambda x: x.get("api", 0.0) - x.get("invoke", 0.0))),
        ("runner (pool + pipe)", median(
            lambda x: x.get("invoke", 0.0) - x.get("handler", 0.0))),
        ("handler", median(lambda x: x.get("handler", 0.0))),
        ("  of which DynamoDB query", query_ms),
    ]


def edge_only(base: str, root: int, source_ip: str, count: int = 1000) -> tuple[float, float]:
    """p50 and the edge process's CPU per request (ms) of requests the router function
    answers itself (a 404 for a service that does not exist): HTTP, WAF and the function
    in V8, with neither moto nor a worker in the way, so the edge's own cost shows with
    less of the machine's noise."""
    parsed = urlsplit(base)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30,
                                            source_address=(source_ip, 0))

    def one(i: int) -> float:
        start = time.perf_counter()
        connection.request("GET", f"/api/no-such-service/x?n={i}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 404:
            raise SystemExit(f"{base}: {response.status} {body[:200]!r}")
        return time.perf_counter() - start

    try:
        for i in range(50):  # warm-up
            one(i)
        before = tree_cpu(root).get("edge", 0.0)
        latencies = [one(i) for i in range(count)]
    finally:
        connection.close()
    cpu = (tree_cpu(root).get("edge", 0.0) - before) / count * 1000
    return statistics.median(latencies) * 1000, cpu


def dynamodb_query(endpoint: str, count: int = 200) -> float:
    """The search handler's query, made as it makes it (a boto3 resource's Table, the
    function's account and credentials, keep-alive), from this process: median ms."""
    import boto3
    from boto3.dynamodb.conditions import Key

    from archway.shared.commands import load_platform
    from archway.shared.deploy.connections import ConnectionManager

    platform = load_platform(Path(__file__).resolve().parents[1], "local")
    catalog = platform.service("catalog")
    connections = ConnectionManager(platform.name, platform.home_region, endpoint_url=endpoint)
    env = connections.credentials(catalog.account, catalog.region)  # as the runner's
    session = boto3.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env.get("AWS_SESSION_TOKEN"),
                            region_name=catalog.region)
    table = session.resource("dynamodb", endpoint_url=endpoint).Table(
        catalog.tables["products"].physical)

    timings = []
    for _ in range(count):
        start = time.perf_counter()
        table.query(IndexName="search", Limit=8,
                    KeyConditionExpression=Key("search_pk").eq("PREFIX#c")
                    & Key("search_sk").begins_with("c"),
                    ProjectionExpression="id, #name, price, category",
                    ExpressionAttributeNames={"#name": "name"})
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000

def main() -> None:
    os.environ[timing.ENV] = "1"  # archway local adds its per-layer Server-Timing header
    with local_cloud(PORT) as state:
        base = f"http://127.0.0.1:{PORT}"
        edge = f"{base}/api/catalog/search"
        print(f"{'path':<34} {'clients':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} "
              f"{'req/s':>8} {'load':>5}")
        runs = {}
        cpu: dict[str, float] = {}
        addresses = (f"127.0.0.{10 + i}" for i in range(10))
        for clients, count in REQUESTS.items():
            for label, miss in (("edge, cache miss", True), ("edge, cache hit", False)):
                # CPU from after the warm-up: it starts the function's worker (imports:
                # ~0.6 s of CPU), which was charged to the 200 timed misses (~3 ms each)
                before: dict[str, float] = {}
                run = measure(edge, clients, count, miss, next(addresses),
                              partial(_snapshot, before, state["process"].pid))
                if (label, clients) == ("edge, cache miss", 1):
                    after = tree_cpu(state["process"].pid)
                    cpu = {role: (after[role] - before.get(role, 0.0)) / count * 1000
                           for role in after}
                runs[(label, clients)] = run
                print(f"{label:<34} {clients:>7} {run.p50:8.1f} {run.percentile(0.9):8.1f} "
                      f"{run.percentile(0.99):8.1f} {run.rps:8.0f} {os.getloadavg()[0]:5.2f}")
        only_p50, only_cpu = edge_only(base, state["process"].pid, next(addresses))
        query_ms = dynamodb_query(state["endpoint"])
        miss = runs[("edge, cache miss", 1)]
        print(f"\nwhere a cache miss's time goes at 1 client (medians of {len(miss.layers)}, "
              f"load average {os.getloadavg()[0]:.2f}):")
        for layer, ms in split(miss.layers, query_ms):
            print(f"  {layer:<28} {ms:6.2f} ms")
        print("CPU per cache miss at 1 client (less sensitive to the machine's load): "
              + ", ".join(f"{role} {ms:.2f} ms" for role, ms in sorted(cpu.items())))
        print(f"edge only (the router function's own 404, 1 client): p50 {only_p50:.2f} ms, "
              f"edge CPU {only_cpu:.2f} ms per request")
        hit = runs[("edge, cache hit", 1)]
        print(f"cache hit / miss latency: {hit.p50 / miss.p50:.2f}x")

if __name__ == "__main__":
    main()
