"""The local API invokes a function only as its template's invoke permissions allow."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archway.services.blueprint import service_stack
from archway.shared.config import load_config
from archway.shared.local.api_router import ApiRouter
from archway.shared.local.http import Request
from archway.shared.local.intrinsics import Context
from archway.shared.local.runner import InvokeResult
from archway.shared.model import Platform, resolve
from helpers.cfn import rendered, resources

SECRET = "s" * 40
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def platforms() -> dict[str, Platform]:
    return {"local": resolve(load_config(REPO), "local")}


@dataclass
class Recorder:
    """Stands in for the Lambda runner: records which function was invoked."""

    invoked: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # physical id -> function

    async def ainvoke(self, function: str, event: bytes, timeout: float) -> InvokeResult:
        self.invoked.append(self.names.get(function, function))
        path = json.loads(event)["path"]  # the event's JSON, as the router sends it
        return InvokeResult({"statusCode": 200, "body": json.dumps({"path": path})})


def api_of(template: dict[str, Any], platform: Platform) -> tuple[ApiRouter, Recorder]:
    service = platform.service("catalog")
    ctx = Context(template, {"OriginSecret": SECRET}, service.account, service.region,
                  service.stack_name)
    recorder = Recorder()
    # (functions are named by their physical ids, as the local provider names them)
    recorder.names = {ctx.ref(f"{name}Function"): name for name in ("Search", "Products")}
    return ApiRouter.from_template(ctx, recorder), recorder  # type: ignore[arg-type]


def get(api: ApiRouter, path: str) -> int:
    request = Request("GET", f"/{api.stage}{path}", "", [("x-api-key", SECRET)], b"")
    return asyncio.run(api.handle(request)).status


def test_one_permission_per_function_serves_every_route(platforms: dict[str, Platform]) -> None:
    # GIVEN the local catalog's template as synthesized (one permission per function)
    local = platforms["local"]
    api, recorder = api_of(rendered(service_stack(local, local.service("catalog"))), local)
    # WHEN each route is called THEN its function runs
    assert get(api, "/api/catalog/search") == 200
    assert get(api, "/api/catalog/products/p-1") == 200
    assert recorder.invoked == ["Search", "Products"]


def test_a_function_without_a_permission_for_this_api_answers_500(
        platforms: dict[str, Platform]) -> None:
    local = platforms["local"]
    template = rendered(service_stack(local, local.service("catalog")))
    # GIVEN the search function's permission names another API, and products' is gone
    for name, permission in resources(template, "AWS::Lambda::Permission").items():
        if permission["Properties"]["FunctionName"]["Fn::GetAtt"][0] == "SearchFunction":
            permission["Properties"]["SourceArn"] = {"Fn::Sub": (
                "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                "otherapi01/*")}
        else:
            del template["Resources"][name]
    api, recorder = api_of(template, local)
    # WHEN the routes are called THEN API Gateway's bare 500, and no function runs
    assert get(api, "/api/catalog/search") == 500
    assert get(api, "/api/catalog/products/p-1") == 500
    assert recorder.invoked == []
