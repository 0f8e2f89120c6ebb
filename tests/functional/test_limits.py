"""CloudFormation's and Lambda's limits: config errors before AWS sees a template, and
invoke permissions that do not grow with routes."""

from __future__ import annotations

import fnmatch
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from archway.services.blueprint import service_stack
from archway.shared import limits_check
from archway.shared.cli import main
from archway.shared.config import load_config
from archway.shared.errors import ConfigError
from archway.shared.limits_check import MAX_FUNCTION_POLICY, Body, function_policies, problems
from archway.shared.model import Platform, resolve
from archway.shared.naming import logical_id
from helpers.cfn import rendered, resources
from helpers.iam_eval import Context
from helpers.scale import account, scale_repo

REPO = Path(__file__).resolve().parents[2]
API_ID, OTHER_API = "a1b2c3d4e5", "z9y8x7w6v5"


def big_service(root: Path, name: str, functions: int, routes_each: int) -> Path:
    """A service with ``functions`` functions of ``routes_each`` GET routes each."""
    folder = root / "services" / name
    (folder / "src").mkdir(parents=True, exist_ok=True)
    (folder / "src" / "app.py").write_text("def handler(event, context):\n    return {}\n")
    accounts = "\n".join(f'  {env}: "{account(env, 7)}"' for env in ("dev", "local", "prod"))
    lines = [f"name: {name}", f"owner: team-{name}", "runtime: python3.12",
             f"accounts:\n{accounts}", "functions:"]
    lines += [f"  f{i}: {{handler: app.handler, memory: 128, timeout: 5}}"
              for i in range(functions)]
    lines.append("routes:")
    lines += [f"  - {{method: GET, path: /f{i}/r{j}, function: f{i}}}"
              for i in range(functions) for j in range(routes_each)]
    (folder / "service.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def allows(permission: dict[str, Any], ctx: Context, source_arn: str) -> bool:
    """Whether one AWS::Lambda::Permission lets API Gateway invoke with ``source_arn``
    (Lambda matches AWS:SourceArn with ArnLike: '*' spans any characters, '/' included)."""
    props = permission["Properties"]
    return (props["Principal"] == "apigateway.amazonaws.com"
            and props["Action"] == "lambda:InvokeFunction"
            and fnmatch.fnmatchcase(source_arn, ctx.resolve(props["SourceArn"])))


def test_each_route_may_invoke_its_function_through_this_api_only(
        platforms: dict[str, Platform]) -> None:
    # GIVEN the dev catalog and reviews templates, their REST API's id known
    dev = platforms["dev"]
    for service in dev.services:
        template = rendered(service_stack(dev, service))
        ctx = Context(account=service.account, region=service.region, refs={"Api": API_ID})
        permissions = list(resources(template, "AWS::Lambda::Permission").values())
        targets = [json.dumps(p["Properties"]["FunctionName"], sort_keys=True)
                   for p in permissions]
        # THEN each function (or alias) a route invokes has exactly one permission
        assert len(targets) == len(set(targets))
        for method in resources(template, "AWS::ApiGateway::Method").values():
            target = method["Properties"]["Integration"]["Uri"]["Fn::Sub"][1]["Target"]
            assert json.dumps(target, sort_keys=True) in targets
        for route in service.routes:
            function = logical_id(route.function, "function")
            (permission,) = [p for p in permissions
                             if function in json.dumps(p["Properties"]["FunctionName"])
                             or logical_id(route.function, "alias") in
                             json.dumps(p["Properties"]["FunctionName"])]
            path = route.path.replace("{", "v-").replace("}", "")
            arn = f"arn:aws:execute-api:{service.region}:{service.account}:{API_ID}"
            # WHEN API Gateway invokes the route's function for a request on that route
            # THEN the permission allows it, on any stage
            for stage in (service.stage, "other-stage"):
                assert allows(permission, ctx, f"{arn}/{stage}/{route.method}{path}"), route
            # AND the same call from another API, or another account's, is refused
            other_api = f"arn:aws:execute-api:{service.region}:{service.account}:{OTHER_API}"
            other_account = f"arn:aws:execute-api:{service.region}:999999999999:{API_ID}"
            for source in (other_api, other_account):
                assert not allows(permission, ctx,
                                  f"{source}/{service.stage}/{route.method}{path}")


def test_many_routes_on_one_function_keep_its_policy_small(tmp_path: Path) -> None:
    # GIVEN a service whose one function serves 150 routes (per-route permissions passed
    # Lambda's 20 KB policy at about 56)
    scale_repo(tmp_path, 1)
    big_service(tmp_path, "wide", functions=1, routes_each=150)
    platform = resolve(load_config(tmp_path), "dev")
    template = rendered(service_stack(platform, platform.service("wide")))
    # THEN the function's policy holds one statement, far under the limit
    (size,) = function_policies(resources(template, "AWS::Lambda::Permission")).values()
    assert size < 1024
    assert problems(Body.of("svc-wide", "service", template, "services/wide/service.yaml")) \
        == []
    # AND the check bites on the old shape: one permission per route
    (permission,) = resources(template, "AWS::Lambda::Permission").values()
    for index in range(150):
        per_route = json.loads(json.dumps(permission))
        per_route["Properties"]["SourceArn"] = {"Fn::Sub": (
            "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
            f"${{Api}}/*/GET/api/wide/f0/r{index}")}
        template["Resources"][f"Invoke{index}"] = per_route
    (error,) = problems(Body.of("svc-wide", "service", template, "services/wide/service.yaml"))
    assert error.file == "services/wide/service.yaml"
    assert "F0Function" in error.message and f"{MAX_FUNCTION_POLICY:,} bytes" in error.message


def test_a_service_over_500_resources_is_one_config_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a repository with one small service and one of 80 functions with 2 routes each
    scale_repo(tmp_path, 1)
    big_service(tmp_path, "huge", functions=80, routes_each=2)
    # WHEN dev is synthesized from the command line
    code = main(["synth", "--env", "dev", "--root", str(tmp_path)])
    # THEN it exits 2 with one line naming the file, the stack, the count and the limit
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("error: services/huge/service.yaml: stack svc-huge would have ")
    assert "resources, over CloudFormation's limit of 500 per template" in err
    count = int(err.split("would have ")[1].split(" ")[0].replace(",", ""))
    assert count > 500
    # AND nothing is written
    assert not (tmp_path / "build").exists()


@pytest.mark.parametrize(("limit", "value", "says"), [
    ("MAX_PARAMETERS", 0, "parameters, over CloudFormation's limit of 0 per template"),
    ("MAX_OUTPUTS", 2, "outputs, over CloudFormation's limit of 2 per template"),
    ("MAX_BODY_S3", 20_000, "bytes of template body (sent through S3), over "
                            "CloudFormation's limit of 20,000 per template"),
])
def test_every_limit_names_the_file_and_numbers(
        limit: str, value: int, says: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN this repository's config and a limit the catalog's stack crosses
    scale_repo(tmp_path, 0)
    for name in ("catalog", "reviews"):
        shutil.copytree(REPO / "services" / name, tmp_path / "services" / name,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    monkeypatch.setattr(limits_check, limit, value)
    # WHEN local is synthesized THEN the catalog's file is named with its stack and numbers
    assert main(["synth", "--env", "local", "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: services/catalog/service.yaml: stack svc-catalog "), err
    assert says in err and err.count("\n") == 1
    assert not (tmp_path / "build").exists()


def test_bootstrap_templates_must_fit_in_the_request() -> None:
    # GIVEN a bootstrap template over 51,200 bytes (it creates the bucket larger ones use)
    body = json.dumps({"Resources": {"Pad": {"Type": "AWS::SNS::Topic",
                                             "Metadata": {"x": "y" * 52_000}}}})
    (error,) = problems(Body.of("bootstrap-1-eu-west-1", "bootstrap", json.loads(body),
                                "config/platform.yaml", text=body))
    # THEN it is a config error with the size and the inline limit
    assert isinstance(error, ConfigError) and error.file == "config/platform.yaml"
    assert f"{len(body):,} bytes of template body (sent in the request" in error.message
    assert "limit of 51,200" in error.message
