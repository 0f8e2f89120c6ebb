"""`archway logs <svc>`: what a service's functions wrote, merged in time order.

- ``--env local`` (the default): the files the local cloud writes,
  ``build/local/.cloud/logs/<function>.log`` (each line after its UTC time).
- ``--env dev|prod``: CloudWatch Logs, ``FilterLogEvents`` on each function's log group
  (``/aws/lambda/<function>``) in the service's account and region, through that account's
  read-only lookup role, as other cross-account reads are
  (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_FilterLogEvents.html:
  times are milliseconds since the epoch, results come in pages with ``nextToken``).

``--since 10m`` starts that long ago (s, m, h, d); ``--follow`` keeps printing new lines until
Ctrl-C. Lines are shown as ``<time> [<service>/<function>] <text>``, Powertools' JSON readably
and control characters escaped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archway.shared.errors import ArchwayError
from archway.shared.local.text import printable, readable
from archway.shared.model import FunctionModel, Platform, ServiceModel

SINCE = re.compile(r"(\d+)([smhd])")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FOLLOW_INTERVAL = 2.0


class LogsError(ArchwayError):
    exit_code = 2


class LogsReadError(ArchwayError):
    exit_code = 1


def parse_since(value: str) -> timedelta:
    match = SINCE.fullmatch(value.strip())
    if match is None or int(match.group(1)) == 0:
        raise LogsError(f"--since: {value!r} is not a duration such as 30s, 10m, 2h or 1d")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True, order=True)
class LogLine:
    time: datetime
    source: str
    text: str

    def render(self) -> str:
        stamp = self.time.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{stamp} [{self.source}] {printable(readable(self.text))}"


def select_functions(platform: Platform, service: str,
                     function: str | None) -> tuple[ServiceModel, list[FunctionModel]]:
    names = [s.name for s in platform.services]
    if service not in names:
        raise LogsError(f"no service {service!r} in the {platform.env} environment (services: "
                        f"{', '.join(names) or 'none'})")
    model = platform.service(service)
    if function is None:
        return model, list(model.functions.values())
    if function not in model.functions:
        raise LogsError(f"--function: service {service} has no function {function!r} "
                        f"(functions: {', '.join(model.functions)})")
    return model, [model.functions[function]]


@dataclass
class FileTail:
    """One local log file, read from where the last poll stopped."""

    path: Path
    source: str
    since: datetime
    offset: int = 0
    last: datetime = EPOCH

    def poll(self) -> list[LogLine]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a partly written line waits for the next poll
        self.offset += end
        lines = []
        for raw in data[:end].decode("utf-8", "replace").splitlines():
            stamp, _, text = raw.partition(" ")
            try:
                self.last = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
            except ValueError:
                text = raw  # a line from before times were written: the previous line's time
            if self.last >= self.since:
                lines.append(LogLine(self.last, self.source, text))
        return lines


@dataclass
class CloudWatchTail:
    """One function's log group, read with FilterLogEvents from where the last poll stopped."""

    client: Any
    group: str
    source: str
    start_ms: int
    seen: set[str] = field(default_factory=set)

    def poll(self) -> list[LogLine]:
        lines, token, newest = [], None, self.start_ms
        while True:
            args: dict[str, Any] = {"logGroupName": self.group, "startTime": self.start_ms}
            if token:
                args["nextToken"] = token
            try:
                page = self.client.filter_log_events(**args)
            except self.client.exceptions.ResourceNotFoundException:
                return []  # the function has not logged anything yet
            except (ClientError, BotoCoreError) as exc:
                raise LogsReadError(f"cannot read {self.group}: {exc}") from None
            for event in page.get("events", []):
                if event["eventId"] in self.seen:
                    continue
                self.seen.add(event["eventId"])
                newest = max(newest, event["timestamp"])
                stamp = EPOCH + timedelta(milliseconds=event["timestamp"])
                lines.append(LogLine(stamp, self.source, event["message"].rstrip("\n")))
            token = page.get("nextToken")
            if not token:
                break
        self.start_ms = newest  # events of that same millisecond are told apart by id
        return lines


Tail = FileTail | CloudWatchTail


def local_tails(platform: Platform, service: ServiceModel, functions: list[FunctionModel],
                since: datetime) -> list[Tail]:
    from archway.shared.local.engine import state_path
    from archway.shared.local.runner import log_path

    work = state_path(platform.root).parent
    return [FileTail(log_path(work, f.physical), f"{service.name}/{f.name}", since)
            for f in functions]


def cloudwatch_tails(platform: Platform, service: ServiceModel, functions: list[FunctionModel],
                     since: datetime, connections: Any) -> list[Tail]:
    client = connections.client("logs", service.account, service.region, role="lookup")
    start = int((since - EPOCH).total_seconds() * 1000)
    return [CloudWatchTail(client, f.log_group, f"{service.name}/{f.name}", start)
            for f in functions]


def show(tails: Iterable[Tail], out: Callable[[str], None], follow: bool = False,
         stop: Callable[[], bool] = lambda: False, interval: float = FOLLOW_INTERVAL) -> int:
    """Print every tail's lines in time order; with ``follow``, again each interval."""
    tails = list(tails)
    shown = 0
    while True:
        batch = sorted(line for tail in tails for line in tail.poll())
        for line in batch:
            out(line.render())
        shown += len(batch)
        if not follow or stop():
            return shown
        time.sleep(interval)


def cmd_logs(args: Any) -> int:
    from archway.shared.commands import load_platform

    since = datetime.now(UTC) - parse_since(args.since) if args.since is not None else EPOCH
    platform = load_platform(args.root, args.env)
    service, functions = select_functions(platform, args.service, args.function)
    if args.env == "local":
        tails = local_tails(platform, service, functions, since)
    else:
        from archway.shared.deploy.connections import ConnectionManager
        from archway.shared.deploy.preflight import preflight

        connections = ConnectionManager(platform.name, platform.home_region,
                                        profile=args.profile)
        preflight(connections)  # unreachable or no credentials: one line, in seconds
        tails = cloudwatch_tails(platform, service, functions, since, connections)
    if not show(tails, lambda line: print(line, flush=True), follow=args.follow) and \
            not args.follow:
        where = ("build/local/.cloud/logs" if args.env == "local"
                 else "CloudWatch Logs")
        print(f"no log lines for {args.service} in {where}"
              + (f" in the last {args.since}" if args.since else ""))
    return 0


def register(sub: Any) -> None:
    import os

    parser = sub.add_parser(
        "logs", help="a service's function logs (local cloud or CloudWatch Logs)",
        description="Print what a service's functions logged, merged in time order, each line "
        "as '<time> [<service>/<function>] <text>' (Powertools' JSON shown readably). "
        "--env local (the default) reads build/local/.cloud/logs, written by archway local; "
        "--env dev|prod reads CloudWatch Logs in the service's account through its read-only "
        "lookup role.",
        epilog="examples: archway logs catalog --since 10m; archway logs reviews --function "
        "views --follow; archway logs catalog --env prod --since 1h. exit codes: 0 ok, 1 AWS "
        "unreachable or refused, 2 bad arguments")
    parser.add_argument("service", help="the service (a folder under services/)")
    parser.add_argument("--function", help="only this function of the service")
    parser.add_argument("--follow", "-f", action="store_true",
                        help="keep printing new lines until Ctrl-C")
    parser.add_argument("--since", help="start this long ago: 30s, 10m, 2h, 1d (default: all)")
    default = os.environ.get("ARCHWAY_ENV", "local")
    parser.add_argument("--env", default=default,
                        help=f"environment (default: $ARCHWAY_ENV or local; now {default})")
    parser.add_argument("--profile", help="AWS profile (other environments than local)")
    parser.add_argument("--root", type=Path, default=Path("."), help="repository root")
    parser.set_defaults(handler=cmd_logs)
