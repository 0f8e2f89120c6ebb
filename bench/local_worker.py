"""Benchmark: where a cache miss's CPU goes inside the Lambda worker of /api/catalog/search.

bench/local_edge.py times the handler as one layer. This one opens it up, against a
running ``archway local`` (its moto, its deployed code and data):
- runtime loop: the worker process's own CPU per invoke with a handler that does nothing
  (worker.py driven over its pipe as the runner drives it: read and decode the request,
  build the context, encode and write the reply), from /proc;
- the search handler, run by bench/_worker_probe.py in a process started exactly as the
  live worker was (its interpreter, -I -S, environment, import paths: read from /proc),
  invoked as worker.py invokes it: thread CPU and wall time per invoke (medians), and
  per boto3 phase (means): SigV4 signing, the HTTP exchange with moto (urllib3: send,
  receive, headers), botocore's response parse, boto3's TypeDeserializer, the rest of
  boto3/botocore (serialize, validate, endpoint rules, events, retries); what is left is
  Powertools and the handler's own code. moto's CPU per query is read from /proc.
Each number is the median over ``--runs`` runs, printed with the load average (the
machine is shared: read CPU, which load disturbs less than wall time).
Run: python bench/local_worker.py [--runs 3] [--invokes 500]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _local import REPO, local_cloud  # noqa: E402

from archway.shared.local import runner  # noqa: E402
from archway.shared.local import worker as worker_module  # noqa: E402

PORT = 8183
HANDLER = "search.handler"  # services/catalog/service.yaml: the search function
PROBE = Path(__file__).with_name("_worker_probe.py")
# What the no-op handler answers: a proxy response as large as a search's (8 results).
NOOP = '''import json
BODY = json.dumps({"query": "c", "results": [
    {"id": f"p-{i:04}", "name": f"Copper kettle {i}", "price": 19.5, "category": "kitchen"}
    for i in range(8)]})


def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "application/json",
            "Cache-Control": "no-store"}, "body": BODY, "isBase64Encoded": False}
'''


def search_event() -> dict[str, Any]:
    """An API Gateway REST proxy event for GET /api/catalog/search?q=c."""
    event: dict[str, Any] = json.loads((REPO / "tests/events/rest_proxy.json").read_text())
    event["queryStringParameters"] = {"q": "c"}
    event["multiValueQueryStringParameters"] = {"q": ["c"]}
    return event


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def find_child(root: int, what: str, match: Callable[[list[str]], bool]) -> int:
    """The child of ``root`` whose command line ``match``es."""
    for pid in children(root):
        if match(cmdline(pid)):
            return pid
    raise SystemExit(f"no process of archway local runs {what}")


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm_search(count: int = 20) -> None:
    """Cache misses through the edge: the search function's worker starts and stays."""
    connection = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30,
                                            source_address=("127.0.0.21", 0))
    try:
        for i in range(count):
            connection.request("GET", f"/api/catalog/search?q=c&n=warm-{i}-{time.time_ns()}")
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                raise SystemExit(f"search: {response.status} {body[:200]!r}")
    finally:
        connection.close()


def runtime_loop_ms(python: str, event: bytes, invokes: int) -> float:
    """The worker process's CPU per invoke of a handler that does nothing (ms)."""
    with tempfile.TemporaryDirectory() as code:
        Path(code, "noop.py").write_text(NOOP)
        command = runner.worker_command(Path(code), "noop.handler", [], python)
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   env={"PATH": os.environ.get("PATH", "")})
        assert process.stdin is not None and process.stdout is not None
        try:
            if not worker_module.read_message(process.stdout).get("ready"):
                raise SystemExit("the no-op handler did not load")
            message = runner.request_message(event, 30.0)
            for i in range(-100, invokes):
                if i == 0:
                    before = process_cpu(process.pid)
                process.stdin.write(message)
                process.stdin.flush()
                (length,) = struct.unpack(">I", process.stdout.read(4))
                process.stdout.read(length)
            return (process_cpu(process.pid) - before) / invokes * 1000
        finally:
            process.stdin.close()
            process.wait(timeout=10)


def probe(worker_pid: int, moto_pid: int, event: bytes, invokes: int) -> dict[str, Any]:
    """The search handler's profile, in a process started as its worker was."""
    command = cmdline(worker_pid)
    script = command.index(worker_module.__file__)
    environ = Path(f"/proc/{worker_pid}/environ").read_bytes().decode().split("\0")
    env = dict(item.split("=", 1) for item in environ if "=" in item)
    done = subprocess.run(
        [*command[:script], str(PROBE), worker_module.__file__, str(invokes), str(moto_pid),
         *command[script + 1:]], input=event, env=env, capture_output=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"probe failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def report(loops: list[float], probes: list[dict[str, Any]], invokes: int) -> None:
    def median(values: list[float]) -> float:
        return statistics.median(values)

    def phase(label: str, key: str) -> float:
        return median([p["phases"].get(label, {}).get(key, 0.0) for p in probes])

    invoke_cpu = median([p["invoke_cpu_ms"] for p in probes])
    invoke_mean = median([p["invoke_cpu_mean_ms"] for p in probes])
    boto_cpu = phase("boto3 call", "cpu_ms")
    inner = ["SigV4 signing", "HTTP exchange (urllib3)", "response parse (botocore)",
             "TypeDeserializer (boto3)"]
    print(f"the search function's worker (python {probes[0]['python']}), per cache miss, "
          f"medians of {len(probes)} runs x {invokes} invokes (load average "
          f"{os.getloadavg()[0]:.2f}):")
    rows = [
        ("runtime loop (pipe, decode, context, encode)", median(loops), None),
        ("handler invoke (median)", invoke_cpu, median([p["invoke_wall_ms"] for p in probes])),
        ("handler invoke (mean)", invoke_mean, None),
        ("  boto3 query (mean)", boto_cpu, phase("boto3 call", "wall_ms")),
        *((f"    {label}", phase(label, "cpu_ms"), phase(label, "wall_ms")) for label in inner),
        ("    rest of boto3/botocore", boto_cpu - sum(phase(x, "cpu_ms") for x in inner), None),
        ("  Powertools + handler code (rest of the mean)", invoke_mean - boto_cpu, None),
        ("moto, per query", median([p["moto_cpu_ms"] for p in probes]), None),
    ]
    for label, cpu, wall in rows:
        wall_text = f"   wall {wall:5.2f} ms" if wall is not None else ""
        print(f"  {label:<46} cpu {cpu:5.2f} ms{wall_text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--invokes", type=int, default=500)
    args = parser.parse_args()
    event = json.dumps(search_event()).encode()
    with local_cloud(PORT) as state:
        warm_search()
        root = state["process"].pid
        worker_pid = find_child(root, f"{HANDLER}'s worker", lambda command: (
            worker_module.__file__ in command and HANDLER in command))
        moto_pid = find_child(root, "moto", lambda command: any(
            part.endswith(".moto_app") for part in command))
        python = cmdline(worker_pid)[0]
        loops, probes = [], []
        for _ in range(args.runs):
            loops.append(runtime_loop_ms(python, event, args.invokes))
            probes.append(probe(worker_pid, moto_pid, event, args.invokes))
        report(loops, probes, args.invokes)


if __name__ == "__main__":
    main()
