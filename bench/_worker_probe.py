"""Run a function's handler as its Lambda worker does, timing where each invoke's CPU goes.

Started by bench/local_worker.py with the live worker's interpreter, flags (-I -S),
environment and arguments, so the handler sees exactly what it sees in the worker: its
code, then its vendored dependencies and the runtime layer on the import path, the same
credentials and AWS_ENDPOINT_URL. Arguments: worker.py's path, the number of invokes,
the moto server's pid (its CPU is read from /proc), then the worker's own arguments
(code dir, handler, import paths). Reads the API Gateway event (JSON) from stdin; prints
one JSON object.

Each boto3 phase is timed by wrapping the botocore/boto3 method that does it: thread CPU
(time.thread_time_ns) and wall time, summed over the timed invokes. Standard library only
until the handler is loaded (the layer's boto3 is imported from the worker's path).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

WARM = 50
# label -> (module, class, method) of the function that does that phase, per call
PHASES = {
    "boto3 call": ("botocore.client", "BaseClient", "_make_api_call"),
    "SigV4 signing": ("botocore.signers", "RequestSigner", "sign"),
    "HTTP exchange (urllib3)": ("botocore.endpoint", "Endpoint", "_send"),
    "response parse (botocore)": ("botocore.parsers", "ResponseParser", "parse"),
    "TypeDeserializer (boto3)": ("boto3.dynamodb.transform", "TransformationInjector",
                                 "inject_attribute_value_output"),
}


def load_worker(path: str) -> Any:
    """worker.py by its path: its folder (which has an http.py) stays off sys.path."""
    spec = importlib.util.spec_from_file_location("archway_worker", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def timed(totals: dict[str, list[int]], label: str, method: Callable[..., Any]
          ) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        try:
            return method(*args, **kwargs)
        finally:
            total = totals.setdefault(label, [0, 0])
            total[0] += time.thread_time_ns() - cpu
            total[1] += time.perf_counter_ns() - wall
    return wrapper


def instrument(totals: dict[str, list[int]]) -> None:
    for label, (module_name, class_name, method_name) in PHASES.items():
        owner = getattr(importlib.import_module(module_name), class_name)
        setattr(owner, method_name, timed(totals, label, getattr(owner, method_name)))


def process_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    worker_path, count, moto_pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    code_dir, handler_path, *paths = sys.argv[4:]
    event = json.load(sys.stdin)
    worker = load_worker(worker_path)
    code_dir = os.path.abspath(code_dir)
    sys.path[:0] = [code_dir, *paths]  # as worker.serve does
    handler = worker.load_handler(code_dir, handler_path)
    if isinstance(handler, dict):
        raise SystemExit(f"the handler did not load: {handler}")
    totals: dict[str, list[int]] = {}
    instrument(totals)

    def invoke() -> tuple[int, int]:
        message = json.dumps({"timeout": 30.0, "requestId": "bench", "event": event})
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        request = json.loads(message)  # what read_message does with the pipe's bytes
        context = worker.Context(request["requestId"], time.monotonic() + request["timeout"])
        reply = worker.invoke(handler, request["event"], context)
        cpu, wall = time.thread_time_ns() - cpu, time.perf_counter_ns() - wall
        if b'"statusCode": 200' not in reply:
            raise SystemExit(f"the handler did not answer 200: {reply[:300]!r}")
        return cpu, wall

    for _ in range(WARM):
        invoke()
    totals.clear()
    moto_before = process_cpu(moto_pid)
    runs = [invoke() for _ in range(count)]
    moto_ms = (process_cpu(moto_pid) - moto_before) / count * 1000
    print(json.dumps({
        "python": sys.version.split()[0],
        "invoke_cpu_ms": statistics.median(r[0] for r in runs) / 1e6,
        "invoke_wall_ms": statistics.median(r[1] for r in runs) / 1e6,
        "invoke_cpu_mean_ms": statistics.mean(r[0] for r in runs) / 1e6,
        "moto_cpu_ms": moto_ms,
        "phases": {label: {"cpu_ms": cpu / count / 1e6, "wall_ms": wall / count / 1e6}
                   for label, (cpu, wall) in totals.items()},
    }))


if __name__ == "__main__":
    main()
