"""Plans down to the property: a change set described with property values (Stubber, the
only way to get CloudFormation's Details offline) and the local cloud's template diff."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from archway.shared.commands import load_platform
from archway.shared.deploy.changes import diff_templates
from archway.shared.deploy.cloudformation import CloudFormationProvider
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.display import table
from archway.shared.deploy.provider import Resolved, Target
from archway.shared.synth import synth

ACCOUNT, REGION, STACK = "210000000001", "eu-west-1", "archway-dev-svc-catalog"
SECRET = "s" * 40
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cfn(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[ConnectionManager, Stubber]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    connections = ConnectionManager("archway", REGION, assume_role=False)
    stubbers: list[Stubber] = []

    def attach(client: Any) -> None:
        stubbers.append(Stubber(client))
        stubbers[-1].activate()

    connections.on_client = attach
    connections.client("cloudformation", ACCOUNT, REGION)
    yield connections, stubbers[0]
    stubbers[0].assert_no_pending_responses()


def detail(path: str, before: str, after: str, recreation: str = "Never",
           source: str = "DirectModification") -> dict[str, Any]:
    return {"Target": {"Attribute": "Properties", "Name": path.split("/")[-1], "Path": path,
                       "RequiresRecreation": recreation, "BeforeValue": before,
                       "AfterValue": after, "AttributeChangeType": "Modify"},
            "Evaluation": "Static", "ChangeSource": source}


def test_preview_lists_each_changed_property_with_values(cfn) -> None:  # noqa: ANN001
    connections, stub = cfn
    # GIVEN a deployed stack and a change set whose details carry property values
    stub.add_response("describe_stacks", {"Stacks": [{
        "StackName": STACK, "StackStatus": "UPDATE_COMPLETE", "CreationTime": datetime.now(UTC)}]})
    stub.add_response("create_change_set", {"Id": "cs"})
    stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE", "Changes": [
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "SearchFunction",
            "ResourceType": "AWS::Lambda::Function", "Replacement": "False", "Details": [
                detail("/Properties/MemorySize", "256", "512"),
                # the same property again, through a changed reference: listed once
                detail("/Properties/MemorySize", "256", "512", source="ParameterReference"),
                detail("/Properties/Environment/Variables/API_KEY", "old", SECRET)]}},
        {"Type": "Resource", "ResourceChange": {
            "Action": "Modify", "LogicalResourceId": "ProductsTable",
            "ResourceType": "AWS::DynamoDB::Table", "Replacement": "True", "Details": [
                detail("/Properties/KeySchema/0/AttributeName", "pk", "id", "Always")]}}]},
        {"StackName": STACK, "ChangeSetName": ANY, "IncludePropertyValues": True})
    stub.add_response("delete_change_set", {})
    stub.add_response("get_template", {"TemplateBody": '{"Resources": {}}'})
    provider = CloudFormationProvider(connections, lambda t, c: True, lambda t, e: None, poll=0)
    target = Target("svc-catalog", STACK, "service", ACCOUNT, REGION,
                    json.dumps({"Resources": {}}), "sha")
    # WHEN the plan previews it
    change_set = provider.preview(target, Resolved({"OriginSecret": SECRET},
                                                   frozenset({"OriginSecret"}), "new"))
    # THEN each property is one row, values shown, the secret masked, the table flagged
    assert change_set is not None
    lines = table([row for row, _ in change_set.rows("svc-catalog")])
    assert lines == [
        "~  svc-catalog  SearchFunction  MemorySize: 256 -> 512",
        "~  svc-catalog  SearchFunction  Environment.Variables.API_KEY: old -> ****",
        "~  svc-catalog  ProductsTable   KeySchema.0.AttributeName: pk -> id"
        "         REPLACEMENT DATA"]  # the flags column stays aligned
    assert SECRET not in json.dumps(change_set.to_dict())
    table_change = change_set.changes[1]
    assert table_change.risky and table_change.properties[0].recreation == "Always"


def test_local_preview_diffs_the_deployed_template_per_property(tmp_path: Path) -> None:
    # GIVEN the catalog as deployed, then its search function given more memory
    for folder in ("config", "services", "platform"):
        shutil.copytree(REPO / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    before = synth(load_platform(tmp_path, "dev")).out_dir / "svc-catalog.json"
    old = json.loads(before.read_text())
    yaml_path = tmp_path / "services" / "catalog" / "service.yaml"
    text = yaml_path.read_text()
    yaml_path.write_text(text.replace("memory: 256\n    timeout: 5\n    reads: [products]\n"
                                      "  products:", "memory: 512\n    timeout: 5\n    reads: "
                                      "[products]\n  products:", 1))
    new = json.loads(
        (synth(load_platform(tmp_path, "dev")).out_dir / "svc-catalog.json").read_text())
    # WHEN the templates are diffed
    change_set = diff_templates("archway-dev-svc-catalog", old, new)
    # THEN the one property that changed is named, with both values
    rows = [" ".join(row) for row, _ in change_set.rows("svc-catalog")]
    assert rows == ["~ svc-catalog SearchFunction MemorySize: 256 -> 512 "]


def test_parameter_change_marks_the_resources_that_use_it() -> None:
    # GIVEN an edge whose template is unchanged but a service's API domain moved
    template = {"Resources": {"Distribution": {
        "Type": "AWS::CloudFront::Distribution", "Properties": {
            "DistributionConfig": {"Origins": [{"DomainName": {"Ref": "CatalogApiDomain"}}],
                                   "DefaultCacheBehavior": {"TargetOriginId": "site"}}}}}}
    # WHEN diffed with the deployed and new parameter values
    change_set = diff_templates("edge", template, template, (
        {"CatalogApiDomain": "a.example", "CatalogOriginSecret": "****"},
        {"CatalogApiDomain": "b.example", "CatalogOriginSecret": "****"}))
    # THEN the distribution changes because of that parameter, secrets never shown
    (change,) = change_set.changes
    assert (change.logical, [str(p) for p in change.properties]) == (
        "Distribution", ["(parameter CatalogApiDomain): a.example -> b.example"])
    assert not re.search(r"\*{4} ->", str(change.properties))
