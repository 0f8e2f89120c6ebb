"""`archway logs <svc>`: the local cloud's log files, and CloudWatch Logs (moto) read through
the service account's lookup role."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local.logs import cloudwatch_tails, parse_since, show
from archway.shared.local.moto_server import MotoServer

POWERTOOLS = ('{"level":"INFO","location":"handler:12","message":"looked up",'
              '"timestamp":"2026-01-01 00:00:00,000+0000","service":"catalog","product":"p-1"}')


def _stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _write_local(root: Path, function: str, lines: list[tuple[datetime, str]]) -> Path:
    path = root / "build" / "local" / ".cloud" / "logs" / f"{function}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        for when, text in lines:
            out.write(f"{_stamp(when)} {text}\n")
    return path


@pytest.mark.parametrize(("value", "delta"), [
    ("30s", timedelta(seconds=30)), ("10m", timedelta(minutes=10)),
    ("2h", timedelta(hours=2)), ("1d", timedelta(days=1)),
])
def test_since_durations(value: str, delta: timedelta) -> None:
    assert parse_since(value) == delta


@pytest.mark.parametrize("value", ["10", "ten minutes", "-5m", "0m", "5w", ""])
def test_bad_since_is_one_line_exit_2(repo_copy: Path, value: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN --since is not a duration THEN one line, exit 2
    code = main(["logs", "catalog", f"--since={value}", "--root", str(repo_copy)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: --since: {value!r} is not a duration such as 30s, 10m, 2h or "
                   "1d\n")


def test_unknown_service_or_function_is_exit_2(repo_copy: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logs", "nope", "--root", str(repo_copy)]) == 2
    assert "no service 'nope' in the local environment (services: catalog, reviews)" in (
        capsys.readouterr().err)
    assert main(["logs", "catalog", "--function", "nope", "--root", str(repo_copy)]) == 2
    assert "service catalog has no function 'nope' (functions: search, products)" in (
        capsys.readouterr().err)


def test_local_logs_merged_in_time_order_filtered_and_readable(
        repo_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN what the local cloud wrote for catalog's two functions, an hour ago and now
    now = datetime.now(UTC)
    old = now - timedelta(hours=1)
    _write_local(repo_copy, "archway-local-catalog-search",
                 [(old, "old search line"), (now - timedelta(seconds=2), "search \x1b[31m red")])
    _write_local(repo_copy, "archway-local-catalog-products",
                 [(now - timedelta(seconds=3), POWERTOOLS)])
    _write_local(repo_copy, "archway-local-reviews-list", [(now, "another service")])
    # WHEN the last 10 minutes of catalog are asked for
    assert main(["logs", "catalog", "--since", "10m", "--root", str(repo_copy)]) == 0
    lines = capsys.readouterr().out.splitlines()
    # THEN both functions' recent lines, oldest first, prefixed, readable and escaped
    assert [line.split(" ", 1)[1] for line in lines] == [
        '[catalog/products] INFO looked up (handler:12) product="p-1"',
        "[catalog/search] search \\x1b[31m red"]
    # AND --function narrows to one function, and without --since the old line is there
    assert main(["logs", "catalog", "--function", "search", "--root", str(repo_copy)]) == 0
    out = capsys.readouterr().out
    assert "old search line" in out and "catalog/products" not in out


def test_follow_prints_lines_as_they_are_written(repo_copy: Path) -> None:
    # GIVEN a local log file and a follower
    platform = load_platform(repo_copy, "local")
    from archway.shared.local.logs import local_tails

    service = platform.service("catalog")
    path = _write_local(repo_copy, "archway-local-catalog-search",
                        [(datetime.now(UTC), "first")])
    tails = local_tails(platform, service, [service.functions["search"]],
                        datetime.now(UTC) - timedelta(minutes=1))
    seen: list[str] = []
    done = threading.Event()
    follower = threading.Thread(target=show, args=(tails, seen.append),
                                kwargs={"follow": True, "stop": done.is_set, "interval": 0.05})
    follower.start()
    try:
        # WHEN a line is written (in two pieces) after the follower started
        time.sleep(0.2)
        with open(path, "a") as out:
            out.write(f"{_stamp(datetime.now(UTC))} sec")
            out.flush()
            time.sleep(0.2)
            out.write("ond\n")
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        done.set()
        follower.join(5)
    # THEN it is printed once, whole
    assert [line.split(" ", 2)[2] for line in seen] == ["first", "second"]


def test_cloudwatch_logs_read_through_the_lookup_role(tmp_path: Path) -> None:
    platform = load_platform(Path(__file__).resolve().parents[2], "dev")
    service = platform.service("catalog")
    search = service.functions["search"]
    with MotoServer() as moto:
        connections = ConnectionManager(platform.name, platform.home_region,
                                        endpoint_url=moto.endpoint)
        # GIVEN the function logged in its account (written there as the deploy role)
        logs = connections.client("logs", service.account, service.region)
        logs.create_log_group(logGroupName=search.log_group)
        logs.create_log_stream(logGroupName=search.log_group, logStreamName="s")
        now = int(time.time() * 1000)
        logs.put_log_events(logGroupName=search.log_group, logStreamName="s", logEvents=[
            {"timestamp": now - 3_600_000, "message": "an hour ago\n"},
            {"timestamp": now - 1000, "message": POWERTOOLS + "\n"},
        ])
        used: list[str] = []
        connections.on_client = lambda client: used.append(
            client._request_signer._credentials.access_key)  # noqa: SLF001
        # WHEN the last 10 minutes are read
        tails = cloudwatch_tails(platform, service, [search, service.functions["products"]],
                                 datetime.now(UTC) - timedelta(minutes=10), connections)
        lines: list[str] = []
        show(tails, lines.append)
        # THEN the recent line, readable; the group that never logged is no error
        assert [line.split(" ", 1)[1] for line in lines] == [
            '[catalog/search] INFO looked up (handler:12) product="p-1"']
        # AND it was read as the service account's lookup role
        lookup = connections.credentials_for(service.account, service.region, "lookup")
        assert lookup is not None and used == [lookup.access_key]
        identity = connections.client("sts", service.account, service.region,
                                      "lookup").get_caller_identity()["Arn"]
        assert f":{service.account}:assumed-role/archway-lookup-{service.region}/" in identity
        # AND a follow poll returns only what is new
        logs.put_log_events(logGroupName=search.log_group, logStreamName="s",
                            logEvents=[{"timestamp": now + 5, "message": "later"}])
        assert [line.text for tail in tails for line in tail.poll()] == ["later"]


def test_a_refused_read_is_one_clear_error() -> None:
    from types import SimpleNamespace

    from botocore.exceptions import ClientError

    from archway.shared.local.logs import CloudWatchTail, LogsReadError

    class Refusing:
        exceptions = SimpleNamespace(ResourceNotFoundException=type("NotFound", (Exception,),
                                                                    {}))

        def filter_log_events(self, **_args: object) -> None:
            raise ClientError({"Error": {"Code": "AccessDeniedException",
                                         "Message": "not authorized"}}, "FilterLogEvents")

    # GIVEN a lookup role that may not read the group (an account bootstrapped before logs)
    tail = CloudWatchTail(Refusing(), "/aws/lambda/archway-dev-catalog-search", "c/s", 0)
    # THEN the error names the group and AWS's reason (exit 1), no traceback
    with pytest.raises(LogsReadError) as refused:
        tail.poll()
    assert refused.value.exit_code == 1
    assert str(refused.value) == (
        "cannot read /aws/lambda/archway-dev-catalog-search: An error occurred "
        "(AccessDeniedException) when calling the FilterLogEvents operation: not authorized")
