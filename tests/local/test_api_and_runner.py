"""The local runner and API router with tiny real handlers, on moto's server."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archway.shared.assets import build_zip
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local import runner as runner_module
from archway.shared.local import timing
from archway.shared.local.api_router import ApiRouter, Route, TokenBucket
from archway.shared.local.http import Request
from archway.shared.local.moto_server import MotoServer, free_port
from archway.shared.local.runner import (
    LOOP_MESSAGE_MAX,
    InvokeResult,
    LambdaRunner,
    LocalFunction,
)
from archway.shared.local.server import App, LocalServer, Router

REGION = "eu-west-1"
ACCOUNTS = ("100000000001", "100000000002")
HANDLERS = {
    # same module name in two "services": they must never see each other
    "a/app.py": "NAME = 'service-a'\n"
                "import boto3, os\n"
                "def handler(event, context):\n"
                "    who = boto3.client('sts').get_caller_identity()['Account']\n"
                "    return {'statusCode': 200, 'body': __import__('json').dumps({\n"
                "        'name': NAME, 'account': who, 'pid': os.getpid(),\n"
                "        'table': os.environ.get('ITEMS_TABLE'), 'path': event['path'],\n"
                "        'params': event['pathParameters'], 'q': event['queryStringParameters'],\n"
                "        'remaining': context.get_remaining_time_in_millis() > 0})}\n",
    "b/app.py": "NAME = 'service-b'\n"
                "def handler(event, context):\n"
                "    return {'statusCode': 201, 'headers': {'x-svc': NAME}, 'body': NAME}\n",
    "bad/app.py": "import time\n"
                  "def malformed(event, context):\n    return {'status': 'oops'}\n"
                  "def crash(event, context):\n    raise ValueError('boom')\n"
                  "def slow(event, context):\n    time.sleep(5)\n"
                  "def hungry(event, context):\n"
                  "    block = bytearray(300 * 1024 * 1024)\n    time.sleep(2)\n"
                  "    return {'statusCode': 200, 'body': str(len(block))}\n"
                  "def exits(event, context):\n    import os\n    os._exit(3)\n"
                  "def echo(event, context):\n"
                  "    import json\n"
                  "    return {'statusCode': 200, 'body': json.dumps({\n"
                  "        'body': event['body'], 'b64': event['isBase64Encoded']})}\n"
                  "def sleepy(event, context):\n    time.sleep(0.05)\n"
                  "    return {'statusCode': 200, 'body': event.get('body') or 'rested'}\n"
                  "def big(event, context):\n"
                  "    return {'statusCode': 200, 'body': 'x' * (6 * 1024 * 1024 + 1)}\n",
    # user mistakes at import time: each must fail like Lambda's init, never the runner
    "broken/syntax.py": "def handler(event, context):\n    return {'statusCode': 200\n",
    "broken/missing.py": "import no_such_module_anywhere\n"
                         "def handler(event, context):\n    return {}\n",
    "broken/nofunc.py": "def other(event, context):\n    return {}\n",
    "broken/fails.py": "import os\n\n\nSETTING = os.environ['NOT_SET_ANYWHERE']\n",
    "broken/noisy.py": "import sys\n"
                       "from aws_lambda_powertools import Logger\n"
                       "logger = Logger(service='noisy')\n"
                       "def handler(event, context):\n"
                       "    print('hello from the handler')\n"
                       "    logger.info('looked up', extra={'product': 'p-1'})\n"
                       "    raise KeyError('gone')\n",
}


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def runner(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaRunner]:
    src = tmp_path_factory.mktemp("src")
    for rel, code in HANDLERS.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(code)
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    runner = LambdaRunner(connections.client, connections.credentials, moto.endpoint,
                          tmp_path_factory.mktemp("work"), workers_per_function=2)
    for account in ACCOUNTS:
        connections.client("s3", account, REGION).create_bucket(
            Bucket=f"assets-{account}", CreateBucketConfiguration={"LocationConstraint": REGION})
    for folder, account in (("a", ACCOUNTS[0]), ("b", ACCOUNTS[1]), ("bad", ACCOUNTS[0]),
                            ("broken", ACCOUNTS[0])):
        connections.client("s3", account, REGION).put_object(
            Bucket=f"assets-{account}", Key=f"{folder}.zip", Body=build_zip(src / folder))
    yield runner
    runner.close()


def function(name: str, folder: str, account: str, handler: str = "app.handler",
             timeout: int = 10, key: str | None = None) -> LocalFunction:
    return LocalFunction(name, account, REGION, handler, 128, timeout, f"assets-{account}",
                         key or f"{folder}.zip", {"ITEMS_TABLE": f"{name}-items"},
                         source=f"services/{folder}/src")


def test_each_function_runs_in_its_own_account_and_process(runner: LambdaRunner) -> None:
    runner.register(function("fn-a", "a", ACCOUNTS[0]))
    runner.register(function("fn-b", "b", ACCOUNTS[1]))
    a = runner.invoke("fn-a", {"path": "/x", "pathParameters": None,
                               "queryStringParameters": None})
    body = json.loads(a.payload["body"])
    assert (body["name"], body["account"], body["table"]) == (
        "service-a", ACCOUNTS[0], "fn-a-items")
    assert body["remaining"] is True
    b = runner.invoke("fn-b", {})
    assert b.payload["body"] == "service-b"  # same module name, other service: no collision
    # warm: the same worker answers again
    again = json.loads(runner.invoke("fn-a", {"path": "/x", "pathParameters": None,
                                              "queryStringParameters": None}).payload["body"])
    assert again["pid"] == body["pid"]


def test_new_code_key_replaces_the_workers(runner: LambdaRunner, moto: MotoServer) -> None:
    event = {"path": "/", "pathParameters": None, "queryStringParameters": None}
    runner.register(function("fn-reload", "a", ACCOUNTS[0]))
    first = json.loads(runner.invoke("fn-reload", event).payload["body"])["pid"]
    assert runner.register(function("fn-reload", "a", ACCOUNTS[0])) is False  # same code
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    s3 = connections.client("s3", ACCOUNTS[0], REGION)
    body = s3.get_object(Bucket=f"assets-{ACCOUNTS[0]}", Key="a.zip")["Body"].read()
    s3.put_object(Bucket=f"assets-{ACCOUNTS[0]}", Key="a-v2.zip", Body=body)
    assert runner.register(function("fn-reload", "a", ACCOUNTS[0], key="a-v2.zip")) is True
    second = json.loads(runner.invoke("fn-reload", event).payload["body"])["pid"]
    assert second != first


def test_timeout_kills_the_worker(runner: LambdaRunner) -> None:
    runner.register(function("fn-slow", "bad", ACCOUNTS[0], "app.slow", timeout=1))
    result = runner.invoke("fn-slow", {})
    assert result.timed_out
    assert result.error == {"errorType": "Sandbox.Timedout",
                            "errorMessage": "Task timed out after 1.00 seconds"}


def test_memory_limit_kills_the_worker(runner: LambdaRunner) -> None:
    # GIVEN a 128 MB function that touches 300 MB
    runner.register(function("fn-hungry", "bad", ACCOUNTS[0], "app.hungry", timeout=10))
    result = runner.invoke("fn-hungry", {})
    # THEN it is stopped like Lambda stops it, well before its timeout
    assert result.error is not None and result.error["errorType"] == "Runtime.OutOfMemory"
    assert result.duration_ms < 2000


def router(runner: LambdaRunner, routes: list[Route],
           throttle: TokenBucket | None = None, binary: list[str] | None = None) -> ApiRouter:
    return ApiRouter("abc1234567", "live", ACCOUNTS[0], REGION, routes, {"k" * 40}, throttle,
                     runner, "svc", binary)


def call(api: ApiRouter, method: str, path: str, key: str | None = "k" * 40,
         body: bytes = b"", query: str = "",
         content_type: str | None = None) -> tuple[int, dict, object]:
    headers = [("x-api-key", key)] if key else []
    if content_type:
        headers.append(("content-type", content_type))
    response = asyncio.run(api.handle(Request(method, path, query, headers, body)))
    try:
        parsed: object = json.loads(response.body)
    except ValueError:
        parsed = response.body.decode()
    return response.status, dict(response.headers), parsed


def test_path_parameters_and_proxy_event(runner: LambdaRunner) -> None:
    runner.register(function("fn-a", "a", ACCOUNTS[0]))
    api = router(runner, [Route("GET", "/api/svc/items/{id}", "fn-a", True),
                          Route("GET", "/api/svc/items/special", "fn-b", True)])
    runner.register(function("fn-b", "b", ACCOUNTS[1]))
    status, _, body = call(api, "GET", "/live/api/svc/items/42", query="q=a&q=b&x=1")
    assert status == 200
    assert body["path"] == "/api/svc/items/42"
    assert body["params"] == {"id": "42"}
    assert body["q"] == {"q": "b", "x": "1"}  # single-value view keeps the last
    # a literal segment beats a path parameter, as in API Gateway
    assert call(api, "GET", "/live/api/svc/items/special")[0] == 201


def test_api_gateway_errors(runner: LambdaRunner) -> None:
    for name, handler in (("fn-malformed", "app.malformed"), ("fn-crash", "app.crash")):
        runner.register(function(name, "bad", ACCOUNTS[0], handler))
    runner.register(function("fn-slow2", "bad", ACCOUNTS[0], "app.slow", timeout=1))
    api = router(runner, [Route("GET", "/api/svc/malformed", "fn-malformed", True),
                          Route("GET", "/api/svc/crash", "fn-crash", True),
                          Route("GET", "/api/svc/slow", "fn-slow2", True),
                          Route("POST", "/api/svc/upload", "fn-malformed", True)])
    assert call(api, "GET", "/live/api/svc/malformed")[::2] == (
        502, {"message": "Internal server error"})
    assert call(api, "GET", "/live/api/svc/crash")[::2] == (
        502, {"message": "Internal server error"})
    assert call(api, "GET", "/live/api/svc/slow")[0] == 504
    assert call(api, "GET", "/live/api/svc/nothing-here")[::2] == (
        403, {"message": "Missing Authentication Token"})
    assert call(api, "GET", "/live/api/svc/crash", key=None)[::2] == (
        403, {"message": "Forbidden"})
    assert call(api, "GET", "/live/api/svc/crash", key="wrong")[0] == 403
    big = b"x" * (10 * 1024 * 1024 + 1)
    assert call(api, "POST", "/live/api/svc/upload", body=big)[::2] == (
        413, {"message": "Request Too Long"})


def test_stage_throttling_gives_429(runner: LambdaRunner) -> None:
    runner.register(function("fn-b", "b", ACCOUNTS[1]))
    api = router(runner, [Route("GET", "/api/svc/b", "fn-b", True)], TokenBucket(0.01, 3))
    statuses = [call(api, "GET", "/live/api/svc/b")[0] for _ in range(5)]
    assert statuses == [201, 201, 201, 429, 429]


def test_worker_processes_stop_on_close(moto: MotoServer, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(HANDLERS["b/app.py"])
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    s3 = connections.client("s3", ACCOUNTS[1], REGION)
    s3.put_object(Bucket=f"assets-{ACCOUNTS[1]}", Key="close.zip", Body=build_zip(src))
    runner = LambdaRunner(connections.client, connections.credentials, moto.endpoint, tmp_path)
    runner.register(LocalFunction("fn-close", ACCOUNTS[1], REGION, "app.handler", 128, 5,
                                  f"assets-{ACCOUNTS[1]}", "close.zip"))
    runner.warm("fn-close")
    ((_, worker),) = runner._pools["fn-close"].idle  # noqa: SLF001 - the process under test
    runner.close()
    assert worker.process.poll() is not None


@pytest.mark.parametrize(("handler", "error_type", "message", "where"), [
    ("syntax.handler", "Runtime.UserCodeSyntaxError", "Syntax error in module 'syntax': ",
     "services/broken/src/syntax.py:2: "),
    ("missing.handler", "Runtime.ImportModuleError",
     "Unable to import module 'missing': No module named 'no_such_module_anywhere'",
     "services/broken/src/missing.py:1: "),
    ("nofunc.handler", "Runtime.HandlerNotFound", "Handler 'handler' missing on module 'nofunc'",
     "services/broken/src/nofunc.py:1: "),
    ("fails.handler", "KeyError", "'NOT_SET_ANYWHERE'", "services/broken/src/fails.py:4: "),
    ("nodots", "Runtime.MalformedHandlerName", "Bad handler 'nodots'", ""),
])
def test_init_errors_answer_like_lambda_and_name_the_file(
        runner: LambdaRunner, handler: str, error_type: str, message: str, where: str) -> None:
    # GIVEN a function whose module cannot be loaded, and a healthy one beside it
    name = f"fn-{handler.replace('.', '-')}"
    runner.register(function(name, "broken", ACCOUNTS[0], handler))
    runner.register(function("fn-b", "b", ACCOUNTS[1]))
    # WHEN it is warmed (as archway local does at deploy) and then invoked
    warm = runner.warm(name)
    result = runner.invoke(name, {})
    # THEN the deploy-time report names the file and line under services/<svc>/src
    assert warm is not None and str(warm).startswith(where + error_type + ": " + message)
    # AND the invoke answers Lambda's init error, without a traceback or a dead runner
    assert result.error is not None
    assert result.error["errorType"] == error_type
    assert result.error["errorMessage"].startswith(message)
    # AND through API Gateway it is a 502, while the other function keeps serving
    api = router(runner, [Route("GET", "/api/svc/broken", name, True),
                          Route("GET", "/api/svc/b", "fn-b", True)])
    assert call(api, "GET", "/live/api/svc/broken")[::2] == (
        502, {"message": "Internal server error"})
    assert call(api, "GET", "/live/api/svc/b")[0] == 201


def test_fixed_code_recovers(runner: LambdaRunner, moto: MotoServer, tmp_path: Path) -> None:
    # GIVEN a function with a syntax error
    runner.register(function("fn-fixme", "broken", ACCOUNTS[0], "syntax.handler"))
    assert runner.invoke("fn-fixme", {}).error is not None
    # WHEN the file is fixed and redeployed (a new asset key)
    (tmp_path / "syntax.py").write_text(
        "def handler(event, context):\n    return {'statusCode': 200, 'body': 'fixed'}\n")
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    connections.client("s3", ACCOUNTS[0], REGION).put_object(
        Bucket=f"assets-{ACCOUNTS[0]}", Key="fixed.zip", Body=build_zip(tmp_path))
    runner.register(function("fn-fixme", "broken", ACCOUNTS[0], "syntax.handler",
                             key="fixed.zip"))
    # THEN it serves
    assert runner.invoke("fn-fixme", {}).payload == {"statusCode": 200, "body": "fixed"}


def test_worker_that_exits_is_a_runtime_exit_error(runner: LambdaRunner) -> None:
    runner.register(function("fn-exits", "bad", ACCOUNTS[0], "app.exits"))
    result = runner.invoke("fn-exits", {})
    assert result.error == {"errorType": "Runtime.ExitError",
                            "errorMessage": "Runtime exited with error: exit status 3"}
    assert not result.timed_out


def test_handler_output_reaches_the_console_prefixed(
        runner: LambdaRunner, moto: MotoServer, tmp_path: Path) -> None:
    # GIVEN a runner whose console is captured (the module's runner made the buckets)
    src = tmp_path / "src"
    src.mkdir()
    (src / "noisy.py").write_text(HANDLERS["broken/noisy.py"])
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    connections.client("s3", ACCOUNTS[0], REGION).put_object(
        Bucket=f"assets-{ACCOUNTS[0]}", Key="noisy.zip", Body=build_zip(src))
    lines: list[str] = []
    noisy = LambdaRunner(connections.client, connections.credentials, moto.endpoint,
                         tmp_path / "work", console=lines.append)
    noisy.register(LocalFunction("fn-noisy", ACCOUNTS[0], REGION, "noisy.handler", 128, 5,
                                  f"assets-{ACCOUNTS[0]}", "noisy.zip"))
    # WHEN the handler prints and then fails
    result = noisy.invoke("fn-noisy", {})
    noisy.close()
    # THEN its print and its traceback are on the console, each line prefixed
    assert result.error == {"errorType": "KeyError", "errorMessage": "'gone'"}
    assert "  [fn-noisy] hello from the handler" in lines
    # AND Powertools' JSON log lines are shown readably (the file keeps the JSON)
    assert any(line.startswith("  [fn-noisy] INFO looked up (handler:") and
               line.endswith(' product="p-1"') for line in lines), lines
    assert "  [fn-noisy] KeyError: 'gone'" in lines
    assert any(line.startswith("  [fn-noisy] Traceback") for line in lines)
    # AND in the function's log file
    log = (tmp_path / "work" / "logs" / "fn-noisy.log").read_text()
    assert "hello from the handler" in log and "KeyError: 'gone'" in log
    assert '"message":"looked up"' in log
    # AND archway logs reads that file: each line with the time it was written
    from datetime import UTC, datetime, timedelta

    from archway.shared.local.logs import EPOCH, FileTail

    read = FileTail(tmp_path / "work" / "logs" / "fn-noisy.log", "svc/noisy", EPOCH).poll()
    assert "hello from the handler" in [line.text for line in read]
    assert all(datetime.now(UTC) - line.time < timedelta(minutes=5) for line in read)


PNG = b"\x89PNG\r\n\x1a\n\x00\xff"


@pytest.mark.parametrize(("binary", "content_type", "encoded"), [
    (None, "image/png", False),  # no binary media types: text, whatever the body is
    (["image~1png"], "image/png", True),  # CloudFormation's escaped slash
    (["image/*"], "image/png; q=1", True),
    (["image/png"], "text/plain", False),
    (["*/*"], "application/json", True),
])
def test_binary_media_types_decide_base64(runner: LambdaRunner, binary: list[str] | None,
                                          content_type: str, encoded: bool) -> None:
    # GIVEN an API with (or without) binary media types
    runner.register(function("fn-echo", "bad", ACCOUNTS[0], "app.echo"))
    api = router(runner, [Route("POST", "/api/svc/echo", "fn-echo", True)], binary=binary)
    # WHEN a non-text body is posted
    status, _, body = call(api, "POST", "/live/api/svc/echo", body=PNG,
                           content_type=content_type)
    # THEN it is base64-encoded only when the content type is one of them, as API Gateway does
    assert status == 200
    expected = (base64.b64encode(PNG).decode() if encoded
                else PNG.decode("utf-8", "replace"))
    assert body == {"body": expected, "b64": encoded}


def test_lambda_payload_limit(runner: LambdaRunner) -> None:
    runner.register(function("fn-echo", "bad", ACCOUNTS[0], "app.echo"))
    runner.register(function("fn-big", "bad", ACCOUNTS[0], "app.big"))
    api = router(runner, [Route("POST", "/api/svc/echo", "fn-echo", True),
                          Route("GET", "/api/svc/big", "fn-big", True)])
    # a body under API Gateway's 10 MB but whose event is over Lambda's 6 MB: 413
    over = b"x" * (6 * 1024 * 1024)
    assert call(api, "POST", "/live/api/svc/echo", body=over)[::2] == (
        413, {"message": "Request Too Long"})
    # just under the limit (event overhead included) the handler gets it
    assert call(api, "POST", "/live/api/svc/echo", body=b"x" * (6 * 1024 * 1024 - 4096))[0] == 200
    # a response over 6 MB: Lambda fails the invoke and API Gateway answers 502
    assert call(api, "GET", "/live/api/svc/big")[::2] == (
        502, {"message": "Internal server error"})


def test_invokes_during_a_redeploy_are_served_by_the_old_code(
        runner: LambdaRunner, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a function serving, and a redeploy whose asset takes a while to arrive
    event = {"path": "/", "pathParameters": None, "queryStringParameters": None}
    runner.register(function("fn-swap", "a", ACCOUNTS[0]))
    assert runner.invoke("fn-swap", event).payload["statusCode"] == 200
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    s3 = connections.client("s3", ACCOUNTS[0], REGION)
    s3.put_object(Bucket=f"assets-{ACCOUNTS[0]}", Key="b-as-a.zip", Body=s3.get_object(
        Bucket=f"assets-{ACCOUNTS[1]}", Key="b.zip")["Body"].read())
    fetch = runner._code  # noqa: SLF001 - slowed down, not replaced

    def slow_fetch(fn: LocalFunction) -> Path:
        time.sleep(1.0)
        return fetch(fn)

    monkeypatch.setattr(runner, "_code", slow_fetch)
    swap = threading.Thread(target=runner.register,
                            args=(function("fn-swap", "b", ACCOUNTS[0], key="b-as-a.zip"),))
    swap.start()
    # WHEN requests arrive meanwhile THEN the old code answers them (no error, no gap)
    during = [runner.invoke("fn-swap", event).payload["statusCode"] for _ in range(3)]
    swap.join(timeout=30)
    assert during == [200, 200, 200]
    # AND afterwards the new code does
    assert runner.invoke("fn-swap", event).payload["statusCode"] == 201


def _workers_of(runner: LambdaRunner) -> set[int]:
    """Live worker processes this test process started (from /proc, not the runner)."""
    import os

    from archway.shared.local import worker as worker_module

    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (int(stat[1]) == os.getpid() and stat[0] != "Z"
                and worker_module.__file__.encode() in cmdline
                and any(str(runner.work_dir).encode() in arg for arg in cmdline)):
            found.add(int(entry.name))
    return found


def _pid(result: object) -> int:
    return int(json.loads(result.payload["body"])["pid"])  # type: ignore[attr-defined]


EVENT = {"path": "/", "pathParameters": None, "queryStringParameters": None}


def test_a_worker_starts_on_the_first_invoke_and_stops_when_idle(
        moto: MotoServer, runner: LambdaRunner, tmp_path: Path) -> None:
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    lazy = LambdaRunner(connections.client, connections.credentials, moto.endpoint, tmp_path,
                        idle_timeout=0.5)
    try:
        # GIVEN two functions registered, as archway local mounts every service
        lazy.register(function("fn-lazy-a", "a", ACCOUNTS[0]))
        lazy.register(function("fn-lazy-b", "b", ACCOUNTS[1]))
        # THEN no worker runs before anything is invoked
        assert _workers_of(lazy) == set()
        # WHEN one of them is invoked twice
        first = _pid(lazy.invoke("fn-lazy-a", EVENT))
        # THEN its worker alone runs, and stays warm for the next invoke
        assert _workers_of(lazy) == {first}
        assert _pid(lazy.invoke("fn-lazy-a", EVENT)) == first
        # WHEN it is idle for longer than the idle timeout
        deadline = time.monotonic() + 10
        while _workers_of(lazy) and time.monotonic() < deadline:
            time.sleep(0.05)
        # THEN its worker is stopped, and the next invoke starts a new one
        assert _workers_of(lazy) == set()
        again = _pid(lazy.invoke("fn-lazy-a", EVENT))
        assert again != first and _workers_of(lazy) == {again}
    finally:
        lazy.close()
    assert _workers_of(lazy) == set()


def test_idle_workers_beyond_the_warm_bound_stop_longest_idle_first(
        moto: MotoServer, runner: LambdaRunner, tmp_path: Path) -> None:
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    bounded = LambdaRunner(connections.client, connections.credentials, moto.endpoint,
                           tmp_path, warm_workers=1)
    try:
        # GIVEN a warm pool of one worker, and two functions
        bounded.register(function("fn-warm-1", "a", ACCOUNTS[0]))
        bounded.register(function("fn-warm-2", "a", ACCOUNTS[1]))
        # WHEN one is invoked, then the other
        first = _pid(bounded.invoke("fn-warm-1", EVENT))
        second = _pid(bounded.invoke("fn-warm-2", EVENT))
        # THEN only the most recently used stays warm
        assert _workers_of(bounded) == {second}
        assert _pid(bounded.invoke("fn-warm-2", EVENT)) == second
        # AND the other starts afresh when called again, and answers
        assert _pid(bounded.invoke("fn-warm-1", EVENT)) not in {first, second}
    finally:
        bounded.close()


@pytest.mark.parametrize("enabled", [True, False])
def test_server_timing_names_each_layer_only_when_asked(
        runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch, enabled: bool) -> None:
    # GIVEN a handler that takes 50 ms behind an API served by the local front door, with
    # the per-layer timers on or off
    if enabled:
        monkeypatch.setenv(timing.ENV, "1")
    else:
        monkeypatch.delenv(timing.ENV, raising=False)
    runner.register(function("fn-sleepy", "bad", ACCOUNTS[0], "app.sleepy"))
    api = router(runner, [Route("GET", "/api/svc/rest", "fn-sleepy", True)])
    port = free_port()
    server = LocalServer(App(Router(None, {api.domain: api}), log=lambda _line: None), port=port)
    server.start()
    try:
        # WHEN it is called
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/live/api/svc/rest",
                           headers={"host": api.domain, "x-api-key": "k" * 40})
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"rested")
        header = response.getheader("server-timing")
        connection.close()
    finally:
        server.stop()
    # THEN with the timers on, Server-Timing nests the layers: the handler's own 50 ms
    # within the invoke, within the API, within the whole request; off, no header at all
    if not enabled:
        assert header is None
        return
    layers = timing.parse(header)
    assert set(layers) == {"edge", "api", "invoke", "handler"}
    assert 50 <= layers["handler"] <= layers["invoke"] <= layers["api"] <= layers["edge"]


def _on_loop_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the runner's thread path fail: what runs is the loop's."""
    async def no_thread(*args: object, **kwargs: object) -> None:
        raise AssertionError("the invoke went to a thread")

    monkeypatch.setattr(runner_module.asyncio, "to_thread", no_thread)


def test_an_invoke_on_the_loop_answers_as_from_a_thread(
        runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a function with a warm worker idle
    runner.register(function("fn-loop", "a", ACCOUNTS[0]))
    event = {"path": "/x", "pathParameters": {"id": "7"}, "queryStringParameters": None}
    from_thread = runner.invoke("fn-loop", event)
    _on_loop_only(monkeypatch)
    # WHEN it is invoked from an asyncio loop, with the event's JSON
    on_loop = asyncio.run(runner.ainvoke("fn-loop", json.dumps(event).encode()))
    # THEN the same worker answered the same payload, its size as the worker encoded it
    assert json.loads(on_loop.payload["body"]) == json.loads(from_thread.payload["body"])
    assert on_loop.payload_size == len(json.dumps(on_loop.payload).encode())
    assert on_loop.handler_ms is not None and on_loop.error is None


def test_timeout_memory_and_exit_on_the_loop_answer_like_lambda(
        runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN functions that sleep past their timeout, outgrow their memory, exit; each warm
    for name, handler, timeout in (("fn-loop-slow", "app.slow", 1),
                                   ("fn-loop-hungry", "app.hungry", 10),
                                   ("fn-loop-exits", "app.exits", 10)):
        runner.register(function(name, "bad", ACCOUNTS[0], handler, timeout=timeout))
        assert runner.warm(name) is None
    _on_loop_only(monkeypatch)

    async def all_three() -> list[InvokeResult]:
        return [await runner.ainvoke(name, b"{}")
                for name in ("fn-loop-slow", "fn-loop-hungry", "fn-loop-exits")]

    # WHEN each is invoked on the loop
    slow, hungry, exits = asyncio.run(all_three())
    # THEN each gets Lambda's answer, as from a thread
    assert slow.timed_out and slow.error == {
        "errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert hungry.error is not None and hungry.error["errorType"] == "Runtime.OutOfMemory"
    assert hungry.duration_ms < 2000
    assert exits.error == {"errorType": "Runtime.ExitError",
                           "errorMessage": "Runtime exited with error: exit status 3"}
    # AND no dead worker is left in the pool: the next invoke gets a new one that answers
    assert runner.invoke("fn-loop-exits", {}).error["errorType"] == "Runtime.ExitError"


def test_a_first_invoke_or_a_large_event_goes_through_a_thread(runner: LambdaRunner) -> None:
    # GIVEN a function with no worker yet
    runner.register(function("fn-loop-first", "bad", ACCOUNTS[0], "app.echo"))

    async def two() -> list[InvokeResult]:
        small = {"body": "hi", "isBase64Encoded": False}
        large = {"body": "x" * (LOOP_MESSAGE_MAX + 1), "isBase64Encoded": False}
        return [await runner.ainvoke("fn-loop-first", json.dumps(small).encode()),
                await runner.ainvoke("fn-loop-first", json.dumps(large).encode())]

    # WHEN it is invoked from a loop, then with an event over what the loop writes
    first, large = asyncio.run(two())
    # THEN the worker was started for the first, and the large event arrived whole
    assert json.loads(first.payload["body"]) == {"body": "hi", "b64": False}
    assert len(json.loads(large.payload["body"])["body"]) == LOOP_MESSAGE_MAX + 1


def test_a_caller_that_goes_away_leaves_the_worker_to_finish(
        runner: LambdaRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a warm worker of a function that takes 50 ms
    runner.register(function("fn-loop-sleepy", "bad", ACCOUNTS[0], "app.sleepy"))
    assert runner.warm("fn-loop-sleepy") is None
    _on_loop_only(monkeypatch)

    async def abandon_then_invoke() -> InvokeResult:
        call = asyncio.ensure_future(runner.ainvoke("fn-loop-sleepy", b'{"body": "first"}'))
        await asyncio.sleep(0.01)
        call.cancel()  # the viewer hung up mid-invoke
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.sleep(0.2)  # the abandoned invoke finishes meanwhile
        return await runner.ainvoke("fn-loop-sleepy", b'{"body": "second"}')

    # WHEN the next invoke comes
    result = asyncio.run(abandon_then_invoke())
    # THEN it got its own answer from the same warm worker, not the abandoned one's reply
    assert result.payload == {"statusCode": 200, "body": "second"}
    assert runner.workers()["fn-loop-sleepy"] == 1
