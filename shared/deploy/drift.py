"""`archway drift`: has anyone changed a deployed stack by hand? Every account at once.

On AWS: DetectStackDrift starts a detection, DescribeStackDriftDetectionStatus is polled
until it leaves DETECTION_IN_PROGRESS, and for a DRIFTED stack DescribeStackResourceDrifts
(MODIFIED and DELETED) names the resources and their property differences.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackDriftDetectionStatus.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_PropertyDifference.html
A detection also updates the stack's DriftInformation, which `archway status` reports.
On the local cloud the provider compares its data resources with their templates
(``LocalProvider.detect_drift``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from archway.shared.deploy.engine import Engine
from archway.shared.deploy.provider import Target

POLL = 2.0
TIMEOUT = 600.0  # detection of a large stack takes minutes; give up after ten


@dataclass(frozen=True)
class ResourceDrift:
    logical: str
    kind: str
    status: str  # MODIFIED | DELETED
    differences: tuple[str, ...] = ()  # "MemorySize: expected 256, actual 512"


@dataclass(frozen=True)
class StackDrift:
    target: Target
    status: str  # IN_SYNC | DRIFTED | NOT_DEPLOYED | FAILED (detection could not finish)
    resources: tuple[ResourceDrift, ...] = field(default=())
    reason: str = ""

    @property
    def bad(self) -> bool:
        return self.status in {"DRIFTED", "FAILED"}

    def to_dict(self) -> dict[str, Any]:
        t = self.target
        return {"id": t.id, "stack": t.name, "account": t.account, "region": t.region,
                "drift": self.status, "reason": self.reason,
                "resources": [{"logical_id": r.logical, "type": r.kind, "status": r.status,
                               "differences": list(r.differences)} for r in self.resources]}


def detect_all(engine: Engine, selected: list[str], poll: float = POLL) -> list[StackDrift]:
    """Drift of every selected stack, detected in parallel across accounts."""
    with ThreadPoolExecutor(max_workers=max(1, min(engine.concurrency, len(selected)))) as pool:
        return list(pool.map(lambda s: detect(engine, engine.targets[s], poll), selected))


def detect(engine: Engine, target: Target, poll: float = POLL,
           clock: Callable[[], float] = time.monotonic) -> StackDrift:
    provider = engine.provider_for(target)
    own = getattr(provider, "detect_drift", None)
    if own is not None:
        return own(target)  # type: ignore[no-any-return]
    if engine.read_state(target) is None:
        return StackDrift(target, "NOT_DEPLOYED")
    # As the account's read-only lookup role: detection reads every resource of the stack
    # with the caller's credentials, and that role holds the read handler permissions of
    # the account's resource types (shared/blueprint/bootstrap.py, docs/permissions.md).
    cfn = engine.connections.client("cloudformation", target.account, target.region,
                                    role="lookup")
    try:
        return _detect_on_aws(cfn, target, poll, clock)
    except (ClientError, BotoCoreError) as exc:
        return StackDrift(target, "FAILED", reason=f"drift detection failed: {exc}")


def _detect_on_aws(cfn: Any, target: Target, poll: float,
                   clock: Callable[[], float]) -> StackDrift:
    detection = cfn.detect_stack_drift(StackName=target.name)["StackDriftDetectionId"]
    deadline = clock() + TIMEOUT
    while True:
        status = cfn.describe_stack_drift_detection_status(StackDriftDetectionId=detection)
        if status["DetectionStatus"] != "DETECTION_IN_PROGRESS":
            break
        if clock() > deadline:
            return StackDrift(target, "FAILED", reason=f"detection still running after "
                              f"{TIMEOUT:.0f} s (id {detection})")
        time.sleep(poll)
    drift = status.get("StackDriftStatus", "UNKNOWN")
    # DETECTION_FAILED: some resources could not be checked; what was checked still counts.
    reason = status.get("DetectionStatusReason", "") \
        if status["DetectionStatus"] == "DETECTION_FAILED" else ""
    resources = _drifted_resources(cfn, target) if drift == "DRIFTED" else ()
    if drift != "DRIFTED" and reason:
        return StackDrift(target, "FAILED", reason=reason)
    return StackDrift(target, drift, resources, reason)


def _drifted_resources(cfn: Any, target: Target) -> tuple[ResourceDrift, ...]:
    found = []
    token: str | None = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = cfn.describe_stack_resource_drifts(
            StackName=target.name, StackResourceDriftStatusFilters=["MODIFIED", "DELETED"],
            **kwargs)
        for drift in page["StackResourceDrifts"]:
            found.append(ResourceDrift(
                drift["LogicalResourceId"], drift["ResourceType"],
                drift["StackResourceDriftStatus"],
                tuple(f"{d['PropertyPath'].removeprefix('/')}: expected {d['ExpectedValue']}, "
                      f"actual {d['ActualValue']}" for d in drift.get("PropertyDifferences", []))))
        token = page.get("NextToken")
        if not token:
            return tuple(found)


def rows(results: list[StackDrift]) -> list[list[str]]:
    """The summary table: one row per stack, then one per drifted resource."""
    table = [["stack", "account", "region", "drift", "detail"]]
    for result in results:
        t = result.target
        detail = result.reason or (f"{len(result.resources)} resource(s) drifted"
                                   if result.resources else "")
        table.append([t.id, t.account, t.region, result.status, detail])
        for resource in result.resources:
            changes = "; ".join(resource.differences)
            table.append(["", "", "", f"  {resource.status}",
                          f"{resource.logical} [{resource.kind}]" +
                          (f" {changes}" if changes else "")])
    return table
