"""The service test kit: real REST proxy events, a fake Lambda context, moto tables.

A service's ``tests/conftest.py`` imports these fixtures; they find their service from
the test file's folder (the nearest one with ``service.yaml``), so no service re-declares
its tables or copies this kit::

    from archway.shared.testing import call, event, src_module, tables  # noqa: F401

- ``tables``: the service's tables on moto, created from ``service.yaml`` (keys, indexes,
  streams, TTL), with the environment variables Archway gives its functions.
- ``src_module("search")``: a fresh import of ``src/search.py`` under a unique module
  name, with ``src/`` on sys.path only while it imports its siblings (which are then
  dropped from sys.modules, so services with modules of the same names never collide).
- ``event("search", query=..., path_params=..., body=...)``: ``tests/events/search.json``
  with this request's values.
- ``call(module, event)``: the handler called like Lambda does -> ``Reply(status,
  headers, body)`` with the JSON body parsed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest
import yaml


@dataclass(frozen=True)
class ServiceKit:
    root: Path
    spec: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def src(self) -> Path:
        return self.root / "src"

    @property
    def events(self) -> Path:
        return self.root / "tests" / "events"


@cache
def service_kit(folder: Path) -> ServiceKit:
    """The service whose folder holds ``folder`` (nearest ``service.yaml`` upwards)."""
    for candidate in (folder, *folder.parents):
        if (candidate / "service.yaml").is_file():
            spec = yaml.safe_load((candidate / "service.yaml").read_text(encoding="utf-8"))
            return ServiceKit(candidate, spec)
    raise LookupError(f"no service.yaml above {folder}")


@pytest.fixture
def service(request: pytest.FixtureRequest) -> ServiceKit:
    return service_kit(Path(request.path).resolve().parent)


def load_module(kit: ServiceKit, name: str) -> ModuleType:
    """src/<name>.py as a fresh module of its own (fresh resolver, fresh table cache)."""
    siblings = {path.stem for path in kit.src.glob("*.py")}
    saved = {n: sys.modules.pop(n) for n in siblings if n in sys.modules}
    unique = f"archway_test_{kit.name.replace('-', '_')}_{name}_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(unique, kit.src / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no module {name} in {kit.src}"
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(kit.src))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(kit.src))
        for sibling in siblings:
            sys.modules.pop(sibling, None)
        sys.modules.update(saved)
    return module


@dataclass
class FakeContext:
    """The attributes of a Lambda context that Powertools' Logger reads."""

    function_name: str = "archway-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:eu-west-1:123456789012:function:archway-test")
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/archway-test"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: Any


def rest_event(kit: ServiceKit, name: str, *, path_params: dict[str, str] | None = None,
               query: dict[str, str] | None = None, body: Any = None,
               claims: dict[str, str] | None = None) -> dict[str, Any]:
    """events/<name>.json with this request's path parameters, query string and body.

    ``claims``: the signed-in user's token claims as API Gateway's Cognito authorizer
    passes them (``requestContext.authorizer.claims``); ``{}`` makes an anonymous request
    (no authorizer, no Authorization header).
    """
    path = kit.events / f"{name}.json"
    event = copy.deepcopy(json.loads(path.read_text(encoding="utf-8")))
    if path_params is not None:
        resource = event["resource"]
        for key, value in path_params.items():
            resource = resource.replace(f"{{{key}}}", value)
        event.update(path=resource, pathParameters=path_params)
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{resource}"
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    if claims is not None:
        _sign_in(event, claims)
    return event


def _sign_in(event: dict[str, Any], claims: dict[str, str]) -> None:
    if claims:
        event["requestContext"]["authorizer"] = {"claims": dict(claims)}
        return
    event["requestContext"].pop("authorizer", None)
    for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
        for name in [n for n in headers if n.lower() == "authorization"]:
            del headers[name]


def invoke(module: ModuleType, event: dict[str, Any]) -> Reply:
    """Call the handler like Lambda does; headers of both kinds merged, JSON body parsed."""
    response = module.handler(event, FakeContext())
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    return Reply(response["statusCode"], headers, json.loads(response["body"]))


def _create_table(dynamodb: Any, physical: str, table: dict[str, Any]) -> Any:
    keys = [table["partition_key"], *([table["sort_key"]] if "sort_key" in table else [])]
    indexes = table.get("indexes", {})
    attributes = {k["name"]: k["type"] for k in keys}
    kwargs: dict[str, Any] = {}
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = []
        for index_name, index in indexes.items():
            index_keys = [index["partition_key"],
                          *([index["sort_key"]] if "sort_key" in index else [])]
            attributes.update({k["name"]: k["type"] for k in index_keys})
            kwargs["GlobalSecondaryIndexes"].append({
                "IndexName": index_name, "KeySchema": _key_schema(index_keys),
                "Projection": {"ProjectionType": index.get("projection", "ALL")}})
    if table.get("stream"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True,
                                         "StreamViewType": table["stream"]}
    created = dynamodb.create_table(
        TableName=physical, BillingMode="PAY_PER_REQUEST", KeySchema=_key_schema(keys),
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                              for n, t in attributes.items()], **kwargs)
    if table.get("ttl_attribute"):
        dynamodb.meta.client.update_time_to_live(TableName=physical, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": table["ttl_attribute"]})
    return created


def _key_schema(keys: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"AttributeName": key["name"], "KeyType": kind}
            for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)]


@pytest.fixture
def tables(service: ServiceKit, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The service's tables on moto, and the environment Archway gives its functions."""
    import boto3
    from moto import mock_aws

    name, spec = service.name, service.spec
    for variable in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE",
                     "ARCHWAY_CACHE_TTLS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", name)
    monkeypatch.setenv("ARCHWAY_ENV", "test")
    ttls = {f"{r['method']} /api/{name}{r['path']}": r["cache_ttl"]
            for r in spec["routes"] if r.get("cache_ttl")}
    if ttls:
        monkeypatch.setenv("ARCHWAY_CACHE_TTLS", json.dumps(ttls, sort_keys=True))
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        created = {}
        for table_name, table in spec["tables"].items():
            physical = f"archway-test-{name}-{table_name}"
            monkeypatch.setenv(f"{table_name.replace('-', '_').upper()}_TABLE", physical)
            created[table_name] = _create_table(dynamodb, physical, table)
        yield created


@pytest.fixture
def src_module(service: ServiceKit) -> Callable[[str], ModuleType]:
    """src_module("search") -> a fresh import of src/search.py (call it in the test body,
    after the ``tables`` fixture has set the environment)."""
    return lambda name: load_module(service, name)


@pytest.fixture
def event(service: ServiceKit) -> Callable[..., dict[str, Any]]:
    return lambda name, **kwargs: rest_event(service, name, **kwargs)


@pytest.fixture
def call() -> Callable[[ModuleType, dict[str, Any]], Reply]:
    return invoke
