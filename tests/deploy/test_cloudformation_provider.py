"""CloudFormation paths moto cannot produce, with botocore's Stubber at the connection manager.

Every stubbed call must happen, in order, and no other call may: a deploy that should
skip and still creates a change set fails the test.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from archway.shared.deploy.changes import ChangeSet
from archway.shared.deploy.cloudformation import STACK_TAG, CloudFormationProvider
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.provider import Resolved, Target

ACCOUNT, REGION, STACK = "210000000001", "eu-west-1", "archway-dev-svc-catalog"
TEMPLATE = {"Resources": {
    "ProductsTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                      "Properties": {"TableName": "archway-dev-catalog-products"}},
    "SearchRole": {"Type": "AWS::IAM::Role", "Properties": {}}}}


class Stubs:
    def __init__(self) -> None:
        self.stubbers: dict[str, Stubber] = {}

    def attach(self, client: Any) -> None:
        stubber = Stubber(client)
        stubber.activate()
        self.stubbers[client.meta.service_model.service_name] = stubber

    def __getitem__(self, service: str) -> Stubber:
        return self.stubbers[service]


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ConnectionManager, Stubs]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", REGION, assume_role=False)
    stubs = Stubs()
    connections.on_client = stubs.attach
    for service in ("cloudformation", "dynamodb", "ssm", "apigateway"):
        connections.client(service, ACCOUNT, REGION)
    yield connections, stubs
    for stubber in stubs.stubbers.values():
        stubber.assert_no_pending_responses()


def target() -> Target:
    body = json.dumps(TEMPLATE)
    return Target("svc-catalog", STACK, "service", ACCOUNT, REGION, body, "sha", False)


def stack(status: str, outputs: dict[str, str] | None = None) -> dict:
    return {"Stacks": [{
        "StackName": STACK, "StackStatus": status, "CreationTime": datetime.now(UTC),
        "Tags": [{"Key": STACK_TAG, "Value": "svc-catalog"}],
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()]}]}


DIGEST_PARAMETER = f"/archway/deployed/{STACK}"


def deployed_digest(ssm: Stubber, digest: str = "old") -> None:
    """The digest the last deploy left in the stack's account (SSM, not a stack tag)."""
    ssm.add_response("get_parameter", {"Parameter": {"Name": DIGEST_PARAMETER,
                                                     "Value": digest, "Type": "String"}},
                     {"Name": DIGEST_PARAMETER})


def remembered(ssm: Stubber, digest: str = "new-digest") -> None:
    ssm.add_response("put_parameter", {"Version": 2}, {
        "Name": DIGEST_PARAMETER, "Value": digest, "Type": "String", "Overwrite": True,
        "Description": ANY})


def provider(connections: ConnectionManager, confirm: Any = None,
             events: list[str] | None = None, **kwargs: Any) -> CloudFormationProvider:
    seen = events if events is not None else []
    return CloudFormationProvider(connections, confirm or (lambda t, c: True),
                                  lambda t, line: seen.append(line), poll=0, **kwargs)


PARAMS = Resolved({"OriginSecret": "s" * 40}, frozenset({"OriginSecret"}), "new-digest")


def test_unchanged_digest_skips_without_a_change_set(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    stub["cloudformation"].add_response("describe_stacks", stack(
        "UPDATE_COMPLETE", {"ApiDomain": "x.example"}))
    deployed_digest(stub["ssm"], "new-digest")
    result = provider(connections).deploy(target(), PARAMS)
    assert (result.outcome, result.reason, result.outputs) == (
        "skipped", "no changes", {"ApiDomain": "x.example"})


def test_change_set_without_changes_is_a_skip(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    deployed_digest(stub["ssm"])
    cfn.add_response("create_change_set", {"Id": "cs"}, {
        "StackName": STACK, "ChangeSetName": ANY, "ChangeSetType": "UPDATE",
        "Parameters": [{"ParameterKey": "OriginSecret", "ParameterValue": "s" * 40}],
        "Capabilities": ["CAPABILITY_NAMED_IAM"], "Tags": ANY, "TemplateBody": ANY,
        # CloudFormation acts as the bootstrap's execution role, not as the deployer
        "RoleARN": f"arn:aws:iam::{ACCOUNT}:role/archway-cfn-exec-{REGION}"})
    cfn.add_response("describe_change_set", {
        "Status": "FAILED", "StatusReason": "The submitted information didn't contain "
        "changes. Submit different information to create a change set."})
    cfn.add_response("delete_change_set", {})
    remembered(stub["ssm"])  # the next deploy skips without a change set
    assert provider(connections).deploy(target(), PARAMS).outcome == "skipped"


def change_set_created(cfn: Stubber, kind: str = "UPDATE") -> None:
    cfn.add_response("create_change_set", {"Id": "cs"})
    cfn.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "ProductsTable",
            "ResourceType": "AWS::DynamoDB::Table", "Replacement": "True"}}]})


def test_failure_reports_the_first_failing_resource(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    deployed_digest(stub["ssm"])
    change_set_created(cfn)
    cfn.add_response("execute_change_set", {})
    later = datetime(2100, 1, 1, tzinfo=UTC)
    cfn.add_response("describe_stack_events", {"StackEvents": [
        {"EventId": "3", "StackId": "s", "StackName": STACK, "LogicalResourceId": STACK,
         "ResourceType": "AWS::CloudFormation::Stack", "Timestamp": later,
         "ResourceStatus": "UPDATE_ROLLBACK_IN_PROGRESS"},
        {"EventId": "2", "StackId": "s", "StackName": STACK, "LogicalResourceId": "SearchRole",
         "ResourceType": "AWS::IAM::Role", "Timestamp": later,
         "ResourceStatus": "UPDATE_FAILED", "ResourceStatusReason": "Resource update cancelled"},
        {"EventId": "1", "StackId": "s", "StackName": STACK,
         "LogicalResourceId": "ProductsTable", "ResourceType": "AWS::DynamoDB::Table",
         "Timestamp": later, "ResourceStatus": "UPDATE_FAILED",
         "ResourceStatusReason": "Table already exists: archway-dev-catalog-products"}]})
    cfn.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))
    cfn.add_response("describe_stacks", stack("UPDATE_ROLLBACK_COMPLETE"))
    shown: list[ChangeSet] = []
    events: list[str] = []
    result = provider(connections, lambda t, c: shown.append(c) or True, events).deploy(
        target(), PARAMS)
    assert result.outcome == "failed"
    assert result.reason == ("UPDATE_ROLLBACK_COMPLETE: ProductsTable (AWS::DynamoDB::Table): "
                             "Table already exists: archway-dev-catalog-products")
    # the change set was shown, with the table replacement flagged
    (change,) = shown[0].changes
    assert change.risky and change.replacement == "True"
    assert events[0].startswith("ProductsTable UPDATE_FAILED")


def test_rollback_complete_with_retained_data_stops_and_explains(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    stub["cloudformation"].add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stub["dynamodb"].add_response("describe_table", {"Table": {
        "TableName": "archway-dev-catalog-products"}},
        {"TableName": "archway-dev-catalog-products"})
    result = provider(connections).deploy(target(), PARAMS)
    assert result.outcome == "failed"
    assert "retained data exists (ProductsTable archway-dev-catalog-products)" in result.reason


def test_rollback_complete_without_data_is_deleted_and_recreated(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_response("describe_stacks", stack("ROLLBACK_COMPLETE"))
    stub["dynamodb"].add_client_error("describe_table", "ResourceNotFoundException")
    cfn.add_response("delete_stack", {}, {"StackName": STACK})
    cfn.add_client_error("describe_stacks", "ValidationError",
                         f"Stack with id {STACK} does not exist")  # the waiter: gone
    cfn.add_client_error("describe_stacks", "ValidationError",
                         f"Stack with id {STACK} does not exist")  # then: a fresh create
    cfn.add_response("create_change_set", {"Id": "cs"}, {
        "StackName": STACK, "ChangeSetName": ANY, "ChangeSetType": "CREATE",
        "Parameters": ANY, "Capabilities": ANY, "Tags": ANY, "TemplateBody": ANY,
        "RoleARN": ANY})
    cfn.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []})
    cfn.add_response("execute_change_set", {})
    cfn.add_response("describe_stack_events", {"StackEvents": []})
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"))
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE", {"ApiId": "a1"}))
    remembered(stub["ssm"])
    result = provider(connections).deploy(target(), PARAMS)
    assert (result.outcome, result.outputs) == ("created", {"ApiId": "a1"})


def test_update_rollback_failed_needs_continue_rollback(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    stub["cloudformation"].add_response("describe_stacks", stack("UPDATE_ROLLBACK_FAILED"))
    result = provider(connections).deploy(target(), PARAMS)
    assert result.outcome == "failed"
    assert result.reason.endswith("Fix its cause, then rerun with --continue-rollback.")


def test_ctrl_c_before_execution_leaves_no_change_set(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    deployed_digest(stub["ssm"])
    change_set_created(cfn)
    cfn.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})

    def interrupted(_target: Target, _changes: ChangeSet) -> bool:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        provider(connections, interrupted).deploy(target(), PARAMS)


def test_declined_change_set_is_deleted(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    deployed_digest(stub["ssm"])
    change_set_created(cfn)
    cfn.add_response("delete_change_set", {})
    result = provider(connections, lambda t, c: False).deploy(target(), PARAMS)
    assert (result.outcome, result.reason) == ("skipped", "not confirmed: change set deleted")


def test_prod_stacks_get_termination_protection(stubs) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    cfn.add_client_error("describe_stacks", "ValidationError",
                         f"Stack with id {STACK} does not exist")
    cfn.add_response("create_change_set", {"Id": "cs"})
    cfn.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []})
    cfn.add_response("execute_change_set", {})
    cfn.add_response("describe_stack_events", {"StackEvents": []})
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"))
    cfn.add_response("update_termination_protection", {},
                     {"StackName": STACK, "EnableTerminationProtection": True})
    cfn.add_response("describe_stacks", stack("CREATE_COMPLETE"))
    remembered(stub["ssm"])
    protected = Target("svc-catalog", STACK, "service", ACCOUNT, REGION,
                       json.dumps(TEMPLATE), "sha", termination_protection=True)
    assert provider(connections).deploy(protected, PARAMS).outcome == "created"


@pytest.mark.parametrize("removed", [True, False])
def test_an_update_that_removes_routes_deploys_the_stage_again(stubs, removed: bool) -> None:  # noqa: ANN001
    connections, stub = stubs
    cfn = stub["cloudformation"]
    # GIVEN an update whose change set removes a method (or only modifies one)
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    deployed_digest(stub["ssm"])
    cfn.add_response("create_change_set", {"Id": "cs"})
    cfn.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {
            "Action": "Remove" if removed else "Modify",
            "LogicalResourceId": "MethodGetApiCatalogSearch",
            "ResourceType": "AWS::ApiGateway::Method"}}]})
    cfn.add_response("execute_change_set", {})
    cfn.add_response("describe_stack_events", {"StackEvents": []})
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE"))
    cfn.add_response("describe_stacks", stack("UPDATE_COMPLETE",
                                              {"ApiId": "a1b2c3", "Stage": "live"}))
    # THEN after CloudFormation's cleanup deleted it, the stage is deployed again (only
    # then): the deployment CloudFormation made still served the removed route
    if removed:
        stub["apigateway"].add_response("create_deployment", {"id": "d1"}, {
            "restApiId": "a1b2c3", "stageName": "live", "description": ANY})
    remembered(stub["ssm"])
    events: list[str] = []
    assert provider(connections, events=events).deploy(target(), PARAMS).outcome == "updated"
    assert ("stage live redeployed: removed routes are gone" in events) is removed
