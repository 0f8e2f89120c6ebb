"""The local deploy refuses what CloudFormation refuses: replacing a custom-named table."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.provider import Resolved, Target
from archway.shared.local.moto_server import MotoServer
from archway.shared.local.provider import LocalProvider, ReplacementRefused

REGION = "eu-west-1"
ACCOUNT = "100000000001"


def table_template(key: str, key_type: str = "S") -> dict[str, Any]:
    return {"Resources": {"Products": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "archway-local-catalog-products", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": key_type}],
        "KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}}}}


def target(template: dict[str, Any]) -> tuple[Target, Resolved]:
    body = json.dumps(template, sort_keys=True)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return (Target("svc-catalog", "archway-local-catalog", "service", ACCOUNT, REGION, body,
                   digest), Resolved({}, digest=digest))


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[tuple[LocalProvider, Any]]:
    with MotoServer() as moto:
        client = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint).client
        yield LocalProvider(client, tmp_path), client


@pytest.mark.parametrize(("key", "key_type", "was", "now"), [
    ("id", "S", "HASH pk (S)", "HASH id (S)"),
    ("pk", "N", "HASH pk (S)", "HASH pk (N)"),
])
def test_key_change_is_refused_and_the_table_untouched(
        provider: tuple[LocalProvider, Any], key: str, key_type: str, was: str,
        now: str) -> None:
    local, client = provider
    # GIVEN a deployed table holding an item
    first = target(table_template("pk"))
    assert local.deploy(*first).outcome == "created"
    dynamodb = client("dynamodb", ACCOUNT, REGION)
    dynamodb.put_item(TableName="archway-local-catalog-products", Item={"pk": {"S": "p-1"}})
    # WHEN the template changes the table's key
    changed = target(table_template(key, key_type))
    with pytest.raises(ReplacementRefused) as refused:
        local.deploy(*changed)
    # THEN the deploy is refused with CloudFormation's words
    assert str(refused.value) == (
        f"Products (archway-local-catalog-products): the key schema changed from {was} to "
        f"{now}, which replaces the table. CloudFormation cannot update a stack when a "
        "custom-named resource requires replacing. Rename archway-local-catalog-products and "
        "update the stack again.")
    # AND the table, its data and the stack record are as they were
    table = dynamodb.describe_table(TableName="archway-local-catalog-products")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert dynamodb.scan(TableName="archway-local-catalog-products")["Items"] == [
        {"pk": {"S": "p-1"}}]
    state = local.describe(first[0])
    assert state is not None and state.digest == first[1].digest


def test_unchanged_key_updates(provider: tuple[LocalProvider, Any]) -> None:
    local, _ = provider
    assert local.deploy(*target(table_template("pk"))).outcome == "created"
    template = table_template("pk")
    template["Resources"]["Products"]["Properties"]["TimeToLiveSpecification"] = {
        "AttributeName": "expires", "Enabled": True}
    assert local.deploy(*target(template)).outcome == "updated"


def function_template(handler: str) -> dict[str, Any]:
    return {"Resources": {"Fn": {"Type": "AWS::Lambda::Function", "Properties": {
        "FunctionName": "archway-local-catalog-products", "Handler": handler,
        "MemorySize": 256, "Timeout": 5, "Runtime": "python3.12",
        "Code": {"S3Bucket": "assets", "S3Key": "code.zip"}}}}}


def test_local_deploy_names_a_handler_that_cannot_load(
        provider: tuple[LocalProvider, Any], tmp_path: Path) -> None:
    from archway.shared.assets import build_zip
    from archway.shared.local.probe import HandlerProbe

    _, client = provider
    # GIVEN a function whose module has a syntax error on line 2
    src = tmp_path / "src"
    src.mkdir()
    (src / "products.py").write_text("def handler(event, context):\n    return {\n")
    (src / "ok.py").write_text("def handler(event, context):\n    return {}\n")
    s3 = client("s3", ACCOUNT, REGION)
    s3.create_bucket(Bucket="assets", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket="assets", Key="code.zip", Body=build_zip(src))
    endpoint = s3.meta.endpoint_url
    probe = HandlerProbe(client, lambda _a, _r: {}, endpoint, tmp_path / "work",
                         {"archway-local-catalog": {"source": "services/catalog/src"}})
    local = LocalProvider(client, tmp_path / "deployed", probe)
    # WHEN it is deployed
    result = local.deploy(*target(function_template("products.handler")))
    # THEN the deploy goes through, as on AWS, and says which file and line is broken
    assert result.outcome == "created"
    assert result.reason.startswith(
        "archway-local-catalog-products cannot load its handler (products.handler): "
        "services/catalog/src/products.py:2: Runtime.UserCodeSyntaxError: Syntax error in "
        "module 'products': ")
    # AND a redeploy of the same (skipped) says it again; a loadable handler says nothing
    # (from what the first load found: the asset is gone, so nothing could load it again)
    s3.delete_object(Bucket="assets", Key="code.zip")
    shutil.rmtree(tmp_path / "work" / "code")
    again = local.deploy(*target(function_template("products.handler")))
    assert again.outcome == "skipped" and "products.py:2" in again.reason
    s3.put_object(Bucket="assets", Key="code.zip", Body=build_zip(src))
    assert local.deploy(*target(function_template("ok.handler"))).reason == ""


def _listing_provider(moto: MotoServer, work: Path, out: io.StringIO,
                      summarize_new: bool) -> LocalProvider:
    """A provider that writes each deploy's change list to ``out``, as the CLI shows it."""
    from archway.shared.deploy.display import Display
    from archway.shared.local.cloud import show_change_set

    ui = Display(out)
    client = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint).client
    return LocalProvider(client, work,
                         changes=lambda t, cs: show_change_set(ui, t, cs, summarize_new))


def test_local_deploy_shows_the_change_list_as_aws_deploys_do(tmp_path: Path) -> None:
    out = io.StringIO()
    with MotoServer() as moto:
        local = _listing_provider(moto, tmp_path, out, summarize_new=False)
        # GIVEN a deployed table
        local.deploy(*target(table_template("pk")))
        first = out.getvalue()
        # WHEN a property changes, and then nothing does
        template = table_template("pk")
        template["Resources"]["Products"]["Properties"]["BillingMode"] = "PROVISIONED"
        local.deploy(*target(template))
        second = out.getvalue()[len(first):]
        local.deploy(*target(template))
        third = out.getvalue()[len(first) + len(second):]
    # THEN the first deploy lists the table as added, the second the property, before -> after
    assert first.split() == ["+", "svc-catalog", "Products", "[AWS::DynamoDB::Table]"]
    assert second.split() == ["~", "svc-catalog", "Products", "BillingMode:",
                              "PAY_PER_REQUEST", "->", "PROVISIONED"]
    # AND an unchanged stack lists nothing
    assert third == ""


def test_the_running_cloud_sums_up_a_new_stack_in_one_line(tmp_path: Path) -> None:
    out = io.StringIO()
    with MotoServer() as moto:
        local = _listing_provider(moto, tmp_path, out, summarize_new=True)
        # GIVEN the running cloud making a stack from nothing, then changing it
        local.deploy(*target(table_template("pk")))
        first = out.getvalue()
        template = table_template("pk")
        template["Resources"]["Products"]["Properties"]["BillingMode"] = "PROVISIONED"
        local.deploy(*target(template))
        second = out.getvalue()[len(first):]
    # THEN the creation is one line with its size, the change is listed in full
    assert first.split() == ["+", "svc-catalog", "1", "resource", "new", "stack"]
    assert second.split()[:4] == ["~", "svc-catalog", "Products", "BillingMode:"]
