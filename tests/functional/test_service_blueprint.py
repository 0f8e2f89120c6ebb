"""What a service template means: routes, guards, least privilege, data that survives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from archway.services.blueprint import service_stack
from archway.shared.config import load_config
from archway.shared.lint import lint_template
from archway.shared.model import Platform, resolve
from archway.shared.synth import render
from helpers.cfn import as_list, has_resource_properties, rendered, resources, statements, walk


def template_of(platform: Platform, name: str) -> dict[str, Any]:
    return rendered(service_stack(platform, platform.service(name)))


def resource_path(template: dict[str, Any], ref: Any) -> str:
    """The full path of an API resource, following ParentId up to the root."""
    parts = []
    while isinstance(ref, dict) and "Ref" in ref:
        resource = template["Resources"][ref["Ref"]]["Properties"]
        parts.append(resource["PathPart"])
        ref = resource["ParentId"]
    return "/" + "/".join(reversed(parts))


def function_of_uri(uri: Any) -> str:
    """Logical id of the function an AWS_PROXY integration invokes."""
    target = uri["Fn::Sub"][1]["Target"]
    return target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]


def routes(template: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(method, path) -> FunctionName of the function the route reaches."""
    table = {}
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        path = resource_path(template, props["ResourceId"])
        function = template["Resources"][function_of_uri(props["Integration"]["Uri"])]
        table[(props["HttpMethod"], path)] = function["Properties"]["FunctionName"]
    return table


def test_each_route_reaches_exactly_its_function(platforms: dict[str, Platform]) -> None:
    dev = platforms["dev"]
    assert routes(template_of(dev, "catalog")) == {
        ("GET", "/api/catalog/search"): "archway-dev-catalog-search",
        ("GET", "/api/catalog/products/{id}"): "archway-dev-catalog-products",
    }
    assert routes(template_of(dev, "reviews")) == {
        ("GET", "/api/reviews/products/{id}/reviews"): "archway-dev-reviews-reviews",
        ("POST", "/api/reviews/products/{id}/reviews"): "archway-dev-reviews-reviews",
        ("POST", "/api/reviews/products/{id}/views"): "archway-dev-reviews-views",
    }


def test_every_method_requires_the_origin_secret(platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["prod"], "reviews")
    methods = resources(template, "AWS::ApiGateway::Method").values()
    assert all(m["Properties"]["ApiKeyRequired"] is True for m in methods)
    assert all(m["Properties"]["Integration"]["Type"] == "AWS_PROXY" for m in methods)
    # the key's value is the NoEcho parameter, never a literal
    key = next(iter(resources(template, "AWS::ApiGateway::ApiKey").values()))
    assert key["Properties"]["Value"] == {"Ref": "OriginSecret"}
    assert template["Parameters"]["OriginSecret"]["NoEcho"] is True
    plan = next(iter(resources(template, "AWS::ApiGateway::UsagePlan").values()))
    assert plan["Properties"]["ApiStages"][0]["Stage"] == {"Ref": "Stage"}


def test_api_is_regional_and_the_stage_is_traced_logged_and_throttled(
        platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["dev"], "catalog")
    assert has_resource_properties(template, "AWS::ApiGateway::RestApi", {
        "EndpointConfiguration": {"Types": ["REGIONAL"]}})
    stage = template["Resources"]["Stage"]["Properties"]
    assert stage["StageName"] == "live" and stage["TracingEnabled"] is True
    log_fields = json.loads(stage["AccessLogSetting"]["Format"])
    assert {"requestId", "status", "ip", "resourcePath"} <= set(log_fields)
    assert stage["MethodSettings"] == [{
        "DataTraceEnabled": False, "HttpMethod": "*", "LoggingLevel": "ERROR",
        "MetricsEnabled": True, "ResourcePath": "/*",
        "ThrottlingBurstLimit": 400, "ThrottlingRateLimit": 200.0}]


def role_actions(template: dict[str, Any], role_name: str) -> dict[str, set[str]]:
    """action -> the resources it is allowed on, for the role with that RoleName."""
    role = next(r for r in resources(template, "AWS::IAM::Role").values()
                if r["Properties"]["RoleName"] == role_name)
    allowed: dict[str, set[str]] = {}
    for statement in statements(role):
        assert statement["Effect"] == "Allow"
        for action in as_list(statement["Action"]):
            allowed.setdefault(action, set()).update(
                json.dumps(r, sort_keys=True) for r in as_list(statement["Resource"]))
    return allowed


def dynamodb_resources(allowed: dict[str, set[str]]) -> dict[str, set[str]]:
    return {a: r for a, r in allowed.items() if a.startswith("dynamodb:")}


def test_roles_touch_only_their_tables_read_and_write_split(
        platforms: dict[str, Platform]) -> None:
    catalog = template_of(platforms["dev"], "catalog")
    search = dynamodb_resources(role_actions(catalog, "archway-dev-catalog-search"))
    # read-only: no write action at all, on the products table and its indexes only
    assert set(search) == {"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem",
                           "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:Query",
                           "dynamodb:Scan"}
    assert search["dynamodb:Query"] == {
        json.dumps({"Fn::GetAtt": ["ProductsTable", "Arn"]}),
        json.dumps({"Fn::Sub": "${ProductsTable.Arn}/index/*"}),
    }
    reviews = template_of(platforms["dev"], "reviews")
    views = dynamodb_resources(role_actions(reviews, "archway-dev-reviews-views"))
    # write-only: the counter never reads
    assert set(views) == {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem",
                          "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert views["dynamodb:UpdateItem"] == {json.dumps({"Fn::GetAtt": ["ReviewsTable", "Arn"]})}


def test_no_wildcard_action_or_resource_except_xray(platforms: dict[str, Platform]) -> None:
    for service in platforms["prod"].services:
        template = template_of(platforms["prod"], service.name)
        for role in resources(template, "AWS::IAM::Role").values():
            for statement in statements(role):
                actions = as_list(statement["Action"])
                assert all("*" not in action for action in actions), actions
                if "*" in as_list(statement["Resource"]):
                    assert set(actions) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_logs_go_to_each_functions_own_group(platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["dev"], "catalog")
    allowed = role_actions(template, "archway-dev-catalog-search")
    assert allowed["logs:PutLogEvents"] == {json.dumps({"Fn::GetAtt": ["SearchLogs", "Arn"]})}
    assert has_resource_properties(template, "AWS::Logs::LogGroup", {
        "LogGroupName": "/aws/lambda/archway-dev-catalog-search", "RetentionInDays": 14})


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_tables_are_retained_encrypted_recoverable_on_demand(
        platforms: dict[str, Platform], env: str) -> None:
    for service in platforms[env].services:
        for table in resources(template_of(platforms[env], service.name),
                               "AWS::DynamoDB::Table").values():
            assert table["DeletionPolicy"] == "Retain"
            assert table["UpdateReplacePolicy"] == "Retain"
            props = table["Properties"]
            assert props["BillingMode"] == "PAY_PER_REQUEST"
            assert props["SSESpecification"] == {"SSEEnabled": True}
            assert props["PointInTimeRecoverySpecification"] == {
                "PointInTimeRecoveryEnabled": True}
            assert props["DeletionProtectionEnabled"] is (env == "prod")


def test_functions_get_their_table_names_and_settings(platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["prod"], "catalog")
    assert has_resource_properties(template, "AWS::Lambda::Function", {
        "FunctionName": "archway-prod-catalog-search",
        "Handler": "search.handler", "MemorySize": 256, "Timeout": 5,
        "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"},
        "Environment": {"Variables": {
            "ARCHWAY_CACHE_TTLS": '{"GET /api/catalog/search": 30}',
            "ARCHWAY_ENV": "prod", "POWERTOOLS_SERVICE_NAME": "catalog",
            "PRODUCTS_TABLE": "archway-prod-catalog-products"}},
    })


def alarm_thresholds(template: dict[str, Any]) -> dict[str, float]:
    return {a["Properties"]["AlarmName"]: a["Properties"]["Threshold"]
            for a in resources(template, "AWS::CloudWatch::Alarm").values()}


def test_alarm_seed_thresholds(platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["prod"], "catalog")
    assert alarm_thresholds(template) == {
        "archway-prod-catalog-api-5xx": 1.0,
        "archway-prod-catalog-api-latency": 2000,
        "archway-prod-catalog-search-errors": 0.1,
        "archway-prod-catalog-products-errors": 0.1,
        "archway-prod-catalog-products-throttles": 0,
    }
    assert has_resource_properties(template, "AWS::SNS::Topic", {
        "Subscription": [{"Protocol": "email", "Endpoint": "oncall@example.com"}]})
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_outputs_give_the_edge_what_it_needs_and_no_secret(
        platforms: dict[str, Platform]) -> None:
    template = template_of(platforms["dev"], "catalog")
    assert template["Outputs"]["ApiDomain"]["Value"] == {
        "Fn::Sub": "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert template["Outputs"]["Stage"]["Value"] == {"Ref": "Stage"}
    assert all({"Ref": "OriginSecret"} not in walk(o) for o in template["Outputs"].values())


def test_lambda_code_is_the_content_addressed_asset(tmp_path: Path) -> None:
    # GIVEN a copy of the repository
    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "repo"
    shutil.copytree(repo / "config", root / "config")
    shutil.copytree(repo / "services", root / "services",
                    ignore=shutil.ignore_patterns("__pycache__", "tests"))

    def code_key() -> str:
        platform = resolve(load_config(root), "dev")
        stack = service_stack(platform, platform.service("catalog"))
        (code,) = {json.dumps(f["Properties"]["Code"]) for f in
                   resources(rendered(stack), "AWS::Lambda::Function").values()}
        return json.loads(code)["S3Key"]

    before = code_key()
    assert code_key() == before  # same source, same key
    # WHEN a handler changes
    handler = root / "services" / "catalog" / "src" / "search.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    # THEN the code key changes (and so does every function using the asset)
    after = code_key()
    assert after != before and after.startswith("assets/catalog/")


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_cfn_lint_is_clean(platforms: dict[str, Platform], env: str) -> None:
    for service in platforms[env].services:
        stack = service_stack(platforms[env], service)
        assert lint_template(render(stack), stack.region) == []


# ------------------------------------------------------- API changes reach the stage


def _deployment(platform: Platform, service: Any) -> tuple[str, list[str]]:
    """The Deployment's logical id and what the stage points at."""
    template = rendered(service_stack(platform, service))
    (logical,) = resources(template, "AWS::ApiGateway::Deployment")
    stage = template["Resources"]["Stage"]["Properties"]
    return logical, [stage["DeploymentId"]["Ref"]]


def _with_function(service: Any, name: str, **update: Any) -> Any:
    from dataclasses import replace

    fn = service.functions[name]
    return replace(service, functions={
        **service.functions, name: replace(fn, config=fn.config.model_copy(update=update))})


def test_removing_a_route_makes_a_new_deployment(platforms: dict[str, Platform]) -> None:
    from dataclasses import replace

    dev = platforms["dev"]
    service = dev.service("catalog")
    # GIVEN the catalog as configured, and the same without its last route
    before, stage_before = _deployment(dev, service)
    fewer = replace(service, routes=service.routes[:-1])
    after, stage_after = _deployment(dev, fewer)
    # THEN the deployment is a new resource (CloudFormation deploys only on create) and
    # the stage follows it; the same model gives the same id (no churn)
    assert before != after
    assert (stage_before, stage_after) == ([before], [after])
    assert _deployment(dev, service)[0] == before


@pytest.mark.parametrize("change", [
    {"provisioned_concurrency": 2},  # the integration now invokes an alias
    {"timeout": 7},  # a property of the function only: the API surface is unchanged
])
def test_the_deployment_follows_the_api_surface_not_everything(
        platforms: dict[str, Platform], change: dict[str, Any]) -> None:
    dev = platforms["dev"]
    service = dev.service("catalog")
    before, _ = _deployment(dev, service)
    after, _ = _deployment(dev, _with_function(service, "search", **change))
    assert (before != after) is ("provisioned_concurrency" in change)


def test_changing_provisioned_concurrency_makes_a_new_deployment(
        platforms: dict[str, Platform]) -> None:
    dev = platforms["dev"]
    service = dev.service("catalog")
    two, _ = _deployment(dev, _with_function(service, "search", provisioned_concurrency=2))
    five, _ = _deployment(dev, _with_function(service, "search", provisioned_concurrency=5))
    assert two != five


class _Missing:
    """A metric with no datapoint in the period: any arithmetic on it has no value."""

    def __add__(self, other: object) -> _Missing:
        return self

    __radd__ = __add__


def _metric_math(expression: str, values: dict[str, float | None]) -> float | _Missing:
    """CloudWatch metric math for + and FILL(m, 0), enough for the throttle alarm."""
    import re

    names = {k: (_Missing() if v is None else v) for k, v in values.items()}
    python = re.sub(r"FILL\((\w+),\s*0\)", r"fill(\1)", expression)
    assert re.fullmatch(r"[\w()+ ]+", python), expression
    fill = (lambda v: 0 if isinstance(v, _Missing) else v)  # noqa: E731
    return eval(python, {"__builtins__": {}, "fill": fill}, names)  # noqa: S307


@pytest.mark.parametrize(("reads", "writes", "alarms"), [
    (None, 3.0, True),  # only writes throttled: DynamoDB sends no ReadThrottleEvents
    (2.0, None, True),
    (None, None, False),  # nothing throttled, nothing emitted
])
def test_throttle_alarm_fires_when_only_one_kind_is_throttled(
        platforms: dict[str, Platform], reads: float | None, writes: float | None,
        alarms: bool) -> None:
    template = template_of(platforms["prod"], "catalog")
    (alarm,) = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()
                if a["Properties"]["AlarmName"].endswith("-throttles")]
    (returned,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    value = _metric_math(returned["Expression"], {"reads": reads, "writes": writes})
    breaching = not isinstance(value, _Missing) and value > alarm["Threshold"]
    # missing data is notBreaching: an absent value never alarms
    assert alarm["TreatMissingData"] == "notBreaching"
    assert breaching is alarms
