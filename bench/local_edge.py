"""Benchmark: /api/catalog/search through the local edge at 1 and 32 clients.

Prints p50/p99 latency and requests per second, and splits where the time goes:
  cache hit       = HTTP server + edge (WAF, behaviors, headers, cache), no origin
  cache miss      = the same plus API router, Lambda runner, handler and DynamoDB
  DynamoDB query  = the handler's query alone, boto3 -> moto
so origin cost = miss - hit, of which API router + runner + handler = origin - DynamoDB.
Every request is bounded (count and 30 s timeout) and goes to 127.0.0.1 only; the client
is http.client over keep-alive connections, light enough not to be the bottleneck.
"""

from __future__ import annotations

import http.client
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).parent))

from _local import local_cloud  # noqa: E402

PORT = 8182
REQUESTS = {1: 200, 32: 800}


def measure(url: str, clients: int, count: int, cache_miss: bool,
            source_ip: str) -> tuple[float, float, float]:
    """One run from its own loopback address: the WAF's per-IP rate limit stays out of it.

    Each client thread has one keep-alive ``http.client`` connection: a few microseconds
    per request, where a heavier client (httpx) made the 32-client row measure itself.
    """
    parsed = urlsplit(url)
    local = threading.local()

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
        return elapsed

    opened: list[http.client.HTTPConnection] = []
    with ThreadPoolExecutor(max_workers=clients) as pool:
        try:
            list(pool.map(one, range(-clients, 0)))  # warm workers and connections
            start = time.perf_counter()
            latencies = sorted(pool.map(one, range(count)))
            wall = time.perf_counter() - start
        finally:
            for connection in opened:
                connection.close()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return p50, p99, count / wall


def dynamodb_query(endpoint: str, count: int = 200) -> float:
    from archway.shared.commands import load_platform
    from archway.shared.deploy.connections import ConnectionManager

    platform = load_platform(Path(__file__).resolve().parents[1], "local")
    catalog = platform.service("catalog")
    connections = ConnectionManager(platform.name, platform.home_region, endpoint_url=endpoint)
    dynamodb = connections.client("dynamodb", catalog.account, catalog.region)
    table = catalog.tables["products"].physical
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        dynamodb.query(TableName=table, IndexName="search", Limit=8,
                       KeyConditionExpression="search_pk = :p AND begins_with(search_sk, :q)",
                       ExpressionAttributeValues={":p": {"S": "PREFIX#c"}, ":q": {"S": "c"}})
        timings.append(time.perf_counter() - start)
    return statistics.median(timings) * 1000


def main() -> None:
    with local_cloud(PORT) as state:
        base = f"http://127.0.0.1:{PORT}"
        edge = f"{base}/api/catalog/search"
        print(f"{'path':<34} {'clients':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        rows = {}
        addresses = (f"127.0.0.{10 + i}" for i in range(10))
        for clients, count in REQUESTS.items():
            for label, miss in (("edge, cache miss", True), ("edge, cache hit", False)):
                p50, p99, rps = measure(edge, clients, count, miss, next(addresses))
                rows[(label, clients)] = p50
                print(f"{label:<34} {clients:>7} {p50:8.1f} {p99:8.1f} {rps:8.0f}")
        query_ms = dynamodb_query(state["endpoint"])
        miss, hit = rows[("edge, cache miss", 1)], rows[("edge, cache hit", 1)]
        print(f"\nwhere time goes at 1 client (medians): HTTP + edge {hit:.1f} ms; "
              f"API router + runner + handler {miss - hit - query_ms:.1f} ms; "
              f"DynamoDB query on moto {query_ms:.1f} ms")
        print(f"cache hit / miss latency: {hit / miss:.2f}x")


if __name__ == "__main__":
    main()
