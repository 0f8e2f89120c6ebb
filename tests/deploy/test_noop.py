"""The no-op check touches nothing: no per-deploy value reaches the stack or its resources.

CloudFormation propagates stack tags to every taggable resource, so a per-deploy tag
would modify every role, table and log group each time. Here a one-property change is
deployed through the provider (botocore Stubber) and what CloudFormation is asked to do
is compared: the same stack tags and parameters, and a template that differs in exactly
that one resource's one property.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from archway.services.blueprint import service_stack
from archway.shared.commands import load_platform
from archway.shared.deploy.cloudformation import CloudFormationProvider
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.engine import digest
from archway.shared.deploy.provider import Resolved, Target
from archway.shared.naming import logical_id
from archway.shared.synth import render

REPO = Path(__file__).resolve().parents[2]


def _targets() -> tuple[Target, Target, str]:
    platform = load_platform(REPO, "dev")
    service = platform.service("catalog")
    name, fn = sorted(service.functions.items())[0]
    bigger = replace(fn, config=fn.config.model_copy(update={"memory": fn.config.memory * 2}))
    changed = replace(service, functions={**service.functions, name: bigger})
    made = []
    for model in (service, changed):
        stack = service_stack(platform, model)
        body = render(stack)
        made.append(Target(stack.id, stack.name, stack.kind, stack.account, stack.region,
                           body, str(hash(body)), False, {"parameters": {}}))
    return made[0], made[1], name


def _deploy(target: Target, previous: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """One update through the provider; returns the CreateChangeSet request it made."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", target.region, assume_role=False)
    stubbers: dict[str, Stubber] = {}
    requests: list[dict[str, Any]] = []

    def attach(client: Any) -> None:
        stubbers[client.meta.service_model.service_name] = Stubber(client)
        client.meta.events.register("provide-client-params.cloudformation.CreateChangeSet",
                                    lambda params, **_: requests.append(dict(params)))
        stubbers[client.meta.service_model.service_name].activate()

    connections.on_client = attach
    connections.client("cloudformation", target.account, target.region)
    connections.client("ssm", target.account, target.region)
    cfn_stub, ssm_stub = stubbers["cloudformation"], stubbers["ssm"]
    complete = {"Stacks": [{"StackName": target.name, "StackStatus": "UPDATE_COMPLETE",
                            "CreationTime": "2026-01-01T00:00:00Z"}]}
    cfn_stub.add_response("describe_stacks", complete)
    ssm_stub.add_response("get_parameter", {"Parameter": {"Value": previous}})
    cfn_stub.add_response("create_change_set", {"Id": "cs"})
    cfn_stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": []})
    cfn_stub.add_response("execute_change_set", {})
    cfn_stub.add_response("describe_stack_events", {"StackEvents": []})
    cfn_stub.add_response("describe_stacks", complete)
    cfn_stub.add_response("describe_stacks", complete)
    params = Resolved({}, frozenset(), digest(target, {}, frozenset()))
    ssm_stub.add_response("put_parameter", {"Version": 2},
                          {"Name": f"/archway/deployed/{target.name}",
                           "Value": params.digest, "Type": "String", "Overwrite": True,
                           "Description": ANY})
    provider = CloudFormationProvider(connections, lambda t, c: True, lambda t, line: None,
                                      poll=0)
    assert provider.deploy(target, params).outcome == "updated"
    cfn_stub.assert_no_pending_responses()
    ssm_stub.assert_no_pending_responses()
    (request,) = requests
    return request


def _changed_resources(before: dict[str, Any], after: dict[str, Any]) -> dict[str, set[str]]:
    changed = {}
    for logical in set(before["Resources"]) | set(after["Resources"]):
        old = before["Resources"].get(logical, {}).get("Properties", {})
        new = after["Resources"].get(logical, {}).get("Properties", {})
        keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        if keys or (logical in before["Resources"]) != (logical in after["Resources"]):
            changed[logical] = keys
    return changed


def test_one_property_change_modifies_exactly_that_resource(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a deployed service and the same service with one function's memory doubled
    first, second, function = _targets()
    # WHEN both are deployed one after the other
    one = _deploy(first, previous="nothing-yet", monkeypatch=monkeypatch)
    two = _deploy(second, previous=digest(first, {}, frozenset()), monkeypatch=monkeypatch)
    # THEN the stack tags (which reach every resource) are identical and carry no digest
    assert one["Tags"] == two["Tags"] == [{"Key": "archway:stack", "Value": "svc-catalog"}]
    assert one["Parameters"] == two["Parameters"]
    # and the template changes in that one function's one property, nothing else
    changed = _changed_resources(json.loads(one["TemplateBody"]),
                                 json.loads(two["TemplateBody"]))
    assert changed == {logical_id(function, "function"): {"MemorySize"}}


def test_a_redeploy_of_the_same_template_is_skipped_without_any_call_but_reads(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the digest left by the last deploy matches
    target, _, _ = _targets()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", target.region, assume_role=False)
    stubbers: dict[str, Stubber] = {}

    def attach(client: Any) -> None:
        stubbers[client.meta.service_model.service_name] = Stubber(client)
        stubbers[client.meta.service_model.service_name].activate()

    connections.on_client = attach
    connections.client("cloudformation", target.account, target.region)
    connections.client("ssm", target.account, target.region)
    params = Resolved({}, frozenset(), digest(target, {}, frozenset()))
    stubbers["cloudformation"].add_response("describe_stacks", {"Stacks": [{
        "StackName": target.name, "StackStatus": "UPDATE_COMPLETE",
        "CreationTime": "2026-01-01T00:00:00Z"}]})
    stubbers["ssm"].add_response("get_parameter", {"Parameter": {"Value": params.digest}})
    # WHEN it is deployed again
    provider = CloudFormationProvider(connections, lambda t, c: True, lambda t, line: None,
                                      poll=0)
    result = provider.deploy(target, params)
    # THEN nothing is created or written (any further call would fail the stubber)
    assert (result.outcome, result.reason) == ("skipped", "no changes")
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
