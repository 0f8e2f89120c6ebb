"""A REST API (API Gateway) emulated from its synthesized template.

Follows the template's resources and methods: path parameters, REST proxy events
(payload 1.0), the API key the edge sends (403 without it, as on AWS), stage throttling
(429), the 29 s integration timeout (504), the 10 MB payload limit (413), Lambda's 6 MB
invocation payload limit (413 for the request, 502 for the response), the API's binary
media types (bodies are base64-encoded only for those), 500 when no invoke permission
of the function lets this API call it (as Lambda refuses API Gateway), and 502 with API
Gateway's body when a handler fails, cannot be loaded or answers something malformed.
Methods with a ``COGNITO_USER_POOLS`` authorizer check the token against the local issuer
(oidc.py) as API Gateway checks it against the user pool (authorizer.py).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from archway.shared.local import timing
from archway.shared.local.authorizer import CognitoAuth, UserPool, authorize
from archway.shared.local.http import Request, Response
from archway.shared.local.intrinsics import Context
from archway.shared.local.limits import LAMBDA_MAX_PAYLOAD, is_binary
from archway.shared.local.runner import LambdaRunner

# API Gateway quotas for REST APIs: integration timeout 29 s (default), payload 10 MB.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
INTEGRATION_TIMEOUT = 29.0
MAX_PAYLOAD = 10 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # /api/catalog/products/{id}
    function: str  # physical function name
    api_key_required: bool
    # SourceArn patterns of the invoke permissions on the route's function (or alias);
    # None: not read from a template, nothing to check.
    invoke_arns: tuple[str, ...] | None = None
    auth: CognitoAuth | None = None  # a COGNITO_USER_POOLS authorizer on the method

    def may_invoke(self, source_arn: str) -> bool:
        """Whether the function's resource-based policy lets API Gateway invoke it for a
        request whose execution ARN is ``source_arn`` (ArnLike: '*' spans '/')."""
        return self.invoke_arns is None or any(
            fnmatch.fnmatchcase(source_arn, pattern) for pattern in self.invoke_arns)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.resource.split("/") if s]

    def match(self, path: list[str]) -> dict[str, str] | None:
        if len(path) != len(self.segments):
            return None
        params = {}
        for pattern, value in zip(self.segments, path, strict=True):
            if pattern.startswith("{"):
                params[pattern[1:-1]] = value
            elif pattern != value:
                return None
        return params

    @property
    def specificity(self) -> tuple[int, ...]:
        return tuple(0 if s.startswith("{") else 1 for s in self.segments)


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


def _error(status: int, message: str, kind: str) -> Response:
    response = Response.json(status, json.dumps({"message": message}))
    response.set_header("x-amzn-errortype", kind)
    return response


class ApiRouter:
    def __init__(self, api_id: str, stage: str, account: str, region: str, routes: list[Route],
                 api_keys: set[str], throttle: TokenBucket | None, runner: LambdaRunner,
                 service: str = "", binary_media_types: list[str] | None = None,
                 user_pool: UserPool | None = None) -> None:
        self.api_id, self.stage, self.account, self.region = api_id, stage, account, region
        self.user_pool = user_pool  # the local issuer standing in for the user pool
        self.service = service
        self.binary_media_types = binary_media_types or []
        self.routes = sorted(routes, key=lambda r: r.specificity, reverse=True)
        self.api_keys = api_keys
        self.throttle = throttle
        self.runner = runner

    @property
    def domain(self) -> str:
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"

    @classmethod
    def from_template(cls, ctx: Context, runner: LambdaRunner,
                      user_pool: UserPool | None = None) -> ApiRouter:
        resources = ctx.template["Resources"]
        (api_logical,) = [k for k, v in resources.items()
                          if v["Type"] == "AWS::ApiGateway::RestApi"]
        functions = {k: ctx.ref(k) for k, v in resources.items()
                     if v["Type"] == "AWS::Lambda::Function"}
        grants = _invoke_grants(ctx, resources)
        routes = [_route(ctx, resources, functions, props["Properties"], grants)
                  for props in resources.values() if props["Type"] == "AWS::ApiGateway::Method"]
        stage = next(v["Properties"] for v in resources.values()
                     if v["Type"] == "AWS::ApiGateway::Stage")
        keys = {str(ctx.evaluate(v["Properties"]["Value"])) for v in resources.values()
                if v["Type"] == "AWS::ApiGateway::ApiKey" and v["Properties"].get("Enabled")}
        throttle = None
        for setting in stage.get("MethodSettings", []):
            if "ThrottlingRateLimit" in setting:
                throttle = TokenBucket(float(setting["ThrottlingRateLimit"]),
                                       int(setting["ThrottlingBurstLimit"]))
        service = next((t["Value"] for t in resources[api_logical]["Properties"].get("Tags", [])
                        if t["Key"] == "archway:service"), "")
        binary = list(resources[api_logical]["Properties"].get("BinaryMediaTypes", []))
        return cls(ctx.ref(api_logical), stage["StageName"], ctx.account, ctx.region, routes,
                   keys, throttle, runner, service, binary, user_pool)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = [p for p in path.split("/") if p]
        for route in self.routes:
            if route.method == method or route.method == "ANY":
                params = route.match(parts)
                if params is not None:
                    return route, params
        return None

    async def handle(self, request: Request) -> Response:
        with timing.timed("api"):
            return await self._handle(request)

    async def _handle(self, request: Request) -> Response:
        prefix = f"/{self.stage}"
        if not (request.path == prefix or request.path.startswith(prefix + "/")):
            return _error(403, "Forbidden", "ForbiddenException")
        path = request.path[len(prefix):] or "/"
        found = self.find(request.method, path)
        if found is None:
            return _error(403, "Missing Authentication Token",
                          "MissingAuthenticationTokenException")
        route, params = found
        claims: dict[str, str] | None = None
        if route.auth is not None:
            # The authorizer runs before the API key check (an authorizer may even supply
            # the key):
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-key-source.html
            claims = authorize(route.auth, self.user_pool, request)
            if claims is None:
                return _error(401, "Unauthorized", "UnauthorizedException")
        if route.api_key_required and request.header("x-api-key") not in self.api_keys:
            return _error(403, "Forbidden", "ForbiddenException")
        if self.throttle is not None and not self.throttle.take():
            return _error(429, "Too Many Requests", "TooManyRequestsException")
        if len(request.body) > MAX_PAYLOAD:
            return _error(413, "Request Too Long", "RequestTooLongException")
        source = (f"arn:aws:execute-api:{self.region}:{self.account}:{self.api_id}/"
                  f"{self.stage}/{request.method}{path}")
        if not route.may_invoke(source):
            # "Invalid permissions on Lambda function": the caller sees a bare 500.
            # https://repost.aws/knowledge-center/api-gateway-internal-server-error
            return _error(500, "Internal server error", "InternalServerErrorException")
        event = self.event(request, route, path, params)
        if claims is not None:
            event["requestContext"]["authorizer"] = {"claims": claims}
        data = json.dumps(event).encode()  # encoded once: measured, then sent as it is
        if len(data) > LAMBDA_MAX_PAYLOAD:
            return _error(413, "Request Too Long", "RequestTooLongException")
        with timing.timed("invoke"):
            result = await self.runner.ainvoke(route.function, data, INTEGRATION_TIMEOUT)
        if result.handler_ms is not None:
            timing.record("handler", result.handler_ms)
        if result.timed_out:
            return _error(504, "Endpoint request timed out", "InternalServerErrorException")
        size = (result.payload_size if result.payload_size is not None
                else len(json.dumps(result.payload).encode()))
        if result.error is not None or size > LAMBDA_MAX_PAYLOAD:
            return _error(502, "Internal server error", "InternalServerErrorException")
        return _proxy_response(result.payload) or _error(
            502, "Internal server error", "InternalServerErrorException")

    def event(self, request: Request, route: Route, path: str,
              params: dict[str, str]) -> dict[str, Any]:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        query = parse_qsl(request.query_string, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for key, value in query:
            multi_query.setdefault(key, []).append(value)
        binary = is_binary(request.header("content-type"), self.binary_media_types)
        body: str | None = None
        if request.body:
            body = (base64.b64encode(request.body).decode() if binary
                    else request.body.decode("utf-8", "replace"))
        now = datetime.now(UTC)
        return {
            "resource": route.resource, "path": path, "httpMethod": request.method,
            "headers": headers or None, "multiValueHeaders": multi_headers or None,
            "queryStringParameters": dict(query) or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None, "stageVariables": None,
            "requestContext": {
                "accountId": self.account, "apiId": self.api_id, "resourceId": route.resource,
                "stage": self.stage, "requestId": str(uuid.uuid4()),
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {"sourceIp": request.source_ip,
                             "userAgent": request.header("user-agent"),
                             "apiKey": request.header("x-api-key") and "****"},
                "resourcePath": route.resource, "httpMethod": request.method,
                "path": f"/{self.stage}{path}", "protocol": "HTTP/1.1",
                "domainName": self.domain, "domainPrefix": self.api_id,
            },
            "body": body, "isBase64Encoded": bool(body) and binary,
        }


def _invoke_grants(ctx: Context, resources: dict[str, Any]) -> dict[str, list[str]]:
    """Logical id of a function or alias -> SourceArn patterns API Gateway may invoke it
    with (its AWS::Lambda::Permission resources for apigateway.amazonaws.com)."""
    grants: dict[str, list[str]] = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] != "AWS::Lambda::Permission" or \
                props.get("Principal") != "apigateway.amazonaws.com" or \
                props.get("Action") not in {"lambda:InvokeFunction", "lambda:*"}:
            continue
        target = props["FunctionName"]
        logical = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target.get("Ref")
        grants.setdefault(str(logical), []).append(
            str(ctx.evaluate(props["SourceArn"])) if "SourceArn" in props else "*")
    return grants


def _route(ctx: Context, resources: dict[str, Any], functions: dict[str, str],
           props: dict[str, Any], grants: dict[str, list[str]]) -> Route:
    parts = []
    ref = props["ResourceId"]
    while isinstance(ref, dict) and "Ref" in ref:
        resource = resources[ref["Ref"]]["Properties"]
        parts.append(resource["PathPart"])
        ref = resource["ParentId"]
    target = props["Integration"]["Uri"]["Fn::Sub"][1]["Target"]
    logical = target["Fn::GetAtt"][0] if "Fn::GetAtt" in target else target["Ref"]
    function_logical = logical
    if resources[logical]["Type"] == "AWS::Lambda::Alias":
        function_logical = resources[logical]["Properties"]["FunctionName"]["Ref"]
    return Route(props["HttpMethod"], "/" + "/".join(reversed(parts)),
                 functions[function_logical], bool(props.get("ApiKeyRequired")),
                 tuple(grants.get(logical, ())), CognitoAuth.from_method(ctx, resources, props))


def _proxy_response(payload: Any) -> Response | None:
    """Map a Lambda proxy result; None when it is malformed (API Gateway answers 502)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("statusCode"), int):
        return None
    headers: list[tuple[str, str]] = []
    for name, value in (payload.get("headers") or {}).items():
        headers.append((name.lower(), str(value)))
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers += [(name.lower(), str(v)) for v in values]
    body = payload.get("body") or ""
    if not isinstance(body, str):
        return None
    data = base64.b64decode(body) if payload.get("isBase64Encoded") else body.encode()
    if not any(name == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    return Response(payload["statusCode"], headers, data)
