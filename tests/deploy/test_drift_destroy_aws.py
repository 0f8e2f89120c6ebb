"""Drift and destroy on AWS, with botocore's Stubber at the connection manager (moto has no
drift detection): the calls made, in order, and what the user is told."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber

from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.destroy import delete, destroy_order, retained
from archway.shared.deploy.display import Display, table
from archway.shared.deploy.drift import detect_all, rows
from archway.shared.deploy.provider import StackState, Target

REGION = "eu-west-1"
CATALOG, REVIEWS = "210000000001", "210000000002"
TEMPLATE = {"Resources": {
    "ProductsTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                      "Properties": {"TableName": "archway-dev-catalog-products"}},
    "SearchLogs": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
                   "Properties": {"LogGroupName": "/aws/lambda/archway-dev-catalog-search"}},
    "SearchFunction": {"Type": "AWS::Lambda::Function", "Properties": {}}}}


def target(stack_id: str, account: str, protected: bool = False,
           depends_on: tuple[str, ...] = ()) -> Target:
    return Target(stack_id, f"archway-dev-{stack_id}", "service", account, REGION,
                  json.dumps(TEMPLATE), "sha", protected,
                  manifest={"depends_on": list(depends_on)})


class Deployed:
    """A provider whose stacks all exist (or, after a delete, do not)."""

    def __init__(self) -> None:
        self.gone: set[str] = set()

    def describe(self, t: Target) -> StackState | None:
        return None if t.id in self.gone else StackState("UPDATE_COMPLETE", {}, "d")


@dataclass
class FakeEngine:
    """The engine's surface that drift and destroy use: targets, providers, connections."""

    connections: ConnectionManager
    targets: dict[str, Target]
    provider: Deployed = field(default_factory=Deployed)
    concurrency: int = 4
    ui: Display = field(default_factory=lambda: Display(io.StringIO()))

    def provider_for(self, _target: Target) -> Deployed:
        return self.provider

    def read_state(self, target: Target) -> StackState | None:
        return self.provider.describe(target)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ConnectionManager, dict[str, Any]]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", REGION, assume_role=False)
    stubs: dict[str, Stubber] = {}
    clients: dict[str, Any] = {}
    lookup: dict[str, Stubber] = {}  # the read-only lookup role's clients (drift)
    lookup_clients: dict[str, Any] = {}
    for account in (CATALOG, REVIEWS):
        client = connections.client("cloudformation", account, REGION)
        stubs[account] = Stubber(client)
        stubs[account].activate()
        clients[account] = client
        lookup_clients[account] = connections.client("cloudformation", account, REGION,
                                                     role="lookup")
        lookup[account] = Stubber(lookup_clients[account])
        lookup[account].activate()
    yield connections, {"stubs": stubs, "clients": clients, "lookup": lookup,
                        "lookup_clients": lookup_clients}
    for stub in (*stubs.values(), *lookup.values()):
        stub.assert_no_pending_responses()


def test_drift_runs_every_account_at_once_and_names_the_property(aws) -> None:  # noqa: ANN001
    connections, parts = aws
    # (every drift call goes through the lookup role's clients: the deploy role's have no
    # responses queued, so a call made with them fails the test)
    stubs, clients = parts["lookup"], parts["lookup_clients"]
    # GIVEN two stacks in two accounts; catalog's function was changed by hand
    for account, stack, drift in ((CATALOG, "svc-catalog", "DRIFTED"),
                                  (REVIEWS, "svc-reviews", "IN_SYNC")):
        stub = stubs[account]
        stub.add_response("detect_stack_drift", {"StackDriftDetectionId": f"id-{account}"},
                          {"StackName": f"archway-dev-{stack}"})
        stub.add_response("describe_stack_drift_detection_status", {
            "StackId": "s", "StackDriftDetectionId": f"id-{account}",
            "DetectionStatus": "DETECTION_IN_PROGRESS", "Timestamp": datetime.now(UTC)})
        stub.add_response("describe_stack_drift_detection_status", {
            "StackId": "s", "StackDriftDetectionId": f"id-{account}", "StackDriftStatus": drift,
            "DetectionStatus": "DETECTION_COMPLETE", "Timestamp": datetime.now(UTC)})
    stubs[CATALOG].add_response("describe_stack_resource_drifts", {"StackResourceDrifts": [{
        "StackId": "s", "LogicalResourceId": "SearchFunction",
        "ResourceType": "AWS::Lambda::Function", "StackResourceDriftStatus": "MODIFIED",
        "Timestamp": datetime.now(UTC), "PropertyDifferences": [{
            "PropertyPath": "/MemorySize", "ExpectedValue": "256", "ActualValue": "1024",
            "DifferenceType": "NOT_EQUAL"}]}]}, {
        "StackName": "archway-dev-svc-catalog",
        "StackResourceDriftStatusFilters": ["MODIFIED", "DELETED"]})
    # Both detections must be in flight together: each first poll waits for the other's
    # (run one after the other, the barrier times out and the test fails).
    meeting = threading.Barrier(2, timeout=5)
    first_polls: set[int] = set()

    def meet(**_: Any) -> None:
        if threading.get_ident() not in first_polls:
            first_polls.add(threading.get_ident())
            meeting.wait()

    for client in clients.values():
        client.meta.events.register(
            "before-parameter-build.cloudformation.DescribeStackDriftDetectionStatus", meet)
    engine = FakeEngine(connections, {"svc-catalog": target("svc-catalog", CATALOG),
                                      "svc-reviews": target("svc-reviews", REVIEWS)})
    # WHEN drift is detected
    results = detect_all(engine, ["svc-catalog", "svc-reviews"], poll=0)  # type: ignore[arg-type]
    # THEN one table says which stack drifted, where, and how
    assert [(r.target.id, r.status) for r in results] == [
        ("svc-catalog", "DRIFTED"), ("svc-reviews", "IN_SYNC")]
    assert table(rows(results)) == [
        "stack        account       region     drift       detail",
        "svc-catalog  210000000001  eu-west-1  DRIFTED     1 resource(s) drifted",
        "                                        MODIFIED  SearchFunction [AWS::Lambda::Function]"
        " MemorySize: expected 256, actual 1024",
        "svc-reviews  210000000002  eu-west-1  IN_SYNC"]


def test_drift_without_permission_is_a_failed_check_not_a_crash(aws) -> None:  # noqa: ANN001
    connections, parts = aws
    parts["lookup"][CATALOG].add_client_error(
        "detect_stack_drift", "AccessDenied", "not authorized to perform: "
        "cloudformation:DetectStackDrift", http_status_code=403)
    engine = FakeEngine(connections, {"svc-catalog": target("svc-catalog", CATALOG)})
    (result,) = detect_all(engine, ["svc-catalog"])  # type: ignore[arg-type]
    assert result.status == "FAILED" and result.bad
    assert "cloudformation:DetectStackDrift" in result.reason


def test_protected_stack_is_unprotected_then_deleted(aws) -> None:  # noqa: ANN001
    connections, parts = aws
    stub = parts["stubs"][CATALOG]
    name = "archway-dev-svc-catalog"
    # GIVEN a prod stack with termination protection
    stub.add_response("update_termination_protection", {"StackId": "s"},
                      {"StackName": name, "EnableTerminationProtection": False})
    stub.add_response("delete_stack", {}, {"StackName": name})
    stub.add_client_error("describe_stacks", "ValidationError",
                          f"Stack with id {name} does not exist")  # the waiter: gone
    engine = FakeEngine(connections, {"svc-catalog": target("svc-catalog", CATALOG, True)})
    # WHEN it is deleted THEN protection goes first, and the stack is reported deleted
    result = delete(engine, engine.targets["svc-catalog"])  # type: ignore[arg-type]
    assert (result.outcome, result.ok) == ("deleted", True)


def test_retained_resources_are_named_with_their_account() -> None:
    # GIVEN a template retaining a table and a log group, the stack's physical ids known
    kept = retained(target("svc-catalog", CATALOG),
                    {"ProductsTable": "archway-dev-catalog-products"})
    # THEN both are listed by kind, physical name, account and region; the function is not
    assert [str(r) for r in kept] == [
        "table archway-dev-catalog-products (account 210000000001, eu-west-1)",
        "log group /aws/lambda/archway-dev-catalog-search (account 210000000001, eu-west-1)"]


def test_reverse_order_follows_dependencies_through_a_chain() -> None:
    # GIVEN edge -> svc-a -> base (a chain), plus an unrelated svc-b
    targets = {"base": target("base", CATALOG), "svc-a": target("svc-a", CATALOG, False,
                                                              ("base",)),
               "edge": target("edge", CATALOG, False, ("svc-a", "svc-b")),
               "svc-b": target("svc-b", REVIEWS)}
    order = destroy_order(targets, list(targets))
    # THEN every stack is deleted before anything it depends on
    assert order.index("edge") < order.index("svc-a") < order.index("base")
    assert order.index("edge") < order.index("svc-b")
    # and a partial selection ignores dependencies outside it
    assert destroy_order(targets, ["base", "svc-a"]) == ["svc-a", "base"]


def test_status_reads_the_last_drift_result_from_the_stack(aws) -> None:  # noqa: ANN001
    from archway.shared.deploy.cli import stack_health
    from archway.shared.deploy.cloudformation import CloudFormationProvider

    connections, parts = aws
    # GIVEN a stack whose last drift detection (by anyone) found drift
    parts["stubs"][CATALOG].add_response("describe_stacks", {"Stacks": [{
        "StackName": "archway-dev-svc-catalog", "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": datetime.now(UTC),
        "DriftInformation": {"StackDriftStatus": "DRIFTED"}}]})
    # (the no-op digest lives in the stack's account's SSM, not on the stack)
    ssm = Stubber(connections.client("ssm", CATALOG, REGION))
    ssm.add_client_error("get_parameter", "ParameterNotFound")
    ssm.activate()
    provider = CloudFormationProvider(connections, lambda t, c: True, lambda t, e: None)
    stack = target("svc-catalog", CATALOG)
    # WHEN status describes it THEN it is drifted, which makes status exit 1
    assert stack_health(stack, provider.describe(stack))["health"] == "drifted"


def test_retained_names_come_from_the_deployed_stack(aws) -> None:  # noqa: ANN001
    from archway.shared.deploy.destroy import physical_names

    connections, parts = aws
    # GIVEN a log group CloudFormation named (no name in the template)
    parts["stubs"][CATALOG].add_response("describe_stack_resources", {"StackResources": [{
        "LogicalResourceId": "SearchLogs", "PhysicalResourceId": "archway-dev-SearchLogs-X1",
        "ResourceType": "AWS::Logs::LogGroup", "Timestamp": datetime.now(UTC),
        "ResourceStatus": "UPDATE_COMPLETE"}]}, {"StackName": "archway-dev-svc-catalog"})
    engine = FakeEngine(connections, {"svc-catalog": target("svc-catalog", CATALOG)})
    names = physical_names(engine, engine.targets["svc-catalog"])  # type: ignore[arg-type]
    kept = retained(engine.targets["svc-catalog"], names)
    # THEN the list shows the real name, not the template's
    assert "log group archway-dev-SearchLogs-X1 (account 210000000001, eu-west-1)" in \
        [str(r) for r in kept]
