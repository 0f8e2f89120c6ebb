"""Run a service's real handler code in-process for unit tests.

Handler modules of different services share names (settings.py, ...): loading one
service first forgets every module loaded from another service's src/ folder.
"""

from __future__ import annotations

import copy
import importlib
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).resolve().parents[1] / "events"


def load_handler(service: str, module: str) -> ModuleType:
    src = REPO / "services" / service / "src"
    for name, loaded in list(sys.modules.items()):
        file = getattr(loaded, "__file__", None) or ""
        if "/services/" in file and "/src/" in file:
            del sys.modules[name]
    sys.path.insert(0, str(src))
    try:
        return importlib.import_module(module)
    finally:
        sys.path.remove(str(src))


@dataclass
class FakeContext:
    function_name: str = "archway-local-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:100000000001:function:archway-local-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/archway-local-test"
    log_stream_name: str = "2026/11/22/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 5000


def rest_event(method: str, resource: str, path: str, *, query: dict[str, str] | None = None,
               path_params: dict[str, str] | None = None, body: Any = None) -> dict[str, Any]:
    """A real API Gateway REST proxy event (tests/events/rest_proxy.json) for one request."""
    event = copy.deepcopy(json.loads((EVENTS / "rest_proxy.json").read_text()))
    event.update(resource=resource, path=path, httpMethod=method, pathParameters=path_params)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    context = event["requestContext"]
    context.update(resourcePath=resource, httpMethod=method, path=f"/live{path}")
    return event


def call(module: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = module.handler(event, FakeContext())
    headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(values)
    return response["statusCode"], headers, json.loads(response["body"])
