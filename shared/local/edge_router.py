"""CloudFront emulated from the synthesized distribution (and WAF from its web ACL).

Cache behaviors in order with CloudFront's path-pattern rules, then the default one;
the S3 origin read from the local bucket; API origins reached in process with the
origin path and custom headers, without the viewer's Host (AllViewerExceptHostHeader);
viewer-request CloudFront Functions in V8; the response headers policy; caching by
cache policy and origin Cache-Control; the WAF rate-based rule. Nothing else: no
custom error responses exist, so none are invented.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from archway.shared.local import timing
from archway.shared.local.cf_function import CloudFrontFunction
from archway.shared.local.http import Request, Response
from archway.shared.local.limits import forwarded_for

CACHING_OPTIMIZED = {"MinTTL": 1, "DefaultTTL": 86400, "MaxTTL": 31536000,
                     "ParametersInCacheKeyAndForwardedToOrigin": {
                         "QueryStringsConfig": {"QueryStringBehavior": "none"}}}
MANAGED_CACHE_POLICIES = {"658327ea-f89d-4fab-a63d-7e88639e58f6": CACHING_OPTIMIZED}
API_ORIGINS_KEPT = 256  # origins chosen by functions (cf.updateRequestOrigin), kept made
WAF_BLOCK_BODY = (b"<html><head><title>403 Forbidden</title></head><body><h1>403 Forbidden"
                  b"</h1><p>Request blocked.</p></body></html>")


class Origin(Protocol):
    def fetch(self, request: Request) -> Awaitable[Response]: ...


@lru_cache(maxsize=256)
def path_pattern(pattern: str) -> re.Pattern[str]:
    """CloudFront path pattern: case-sensitive, '*' any run of characters, '?' one."""
    if not pattern.startswith("/"):
        pattern = "/" + pattern
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex + r"\Z", re.DOTALL)


class S3Origin:
    """The private bucket behind Origin Access Control (read in the platform account)."""

    def __init__(self, get_object: Callable[[str], tuple[bytes, dict[str, str]] | None]) -> None:
        self.get_object = get_object

    async def fetch(self, request: Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            return Response(403, [("content-type", "application/xml")], b"<Error><Code>"
                            b"AccessDenied</Code><Message>Access Denied</Message></Error>")
        found = await asyncio.to_thread(self.get_object, request.path.lstrip("/"))
        if found is None:
            # S3 answers 403 (not 404) to a reader without ListBucket, as CloudFront's OAC is
            return Response(403, [("content-type", "application/xml")], b"<Error><Code>"
                            b"AccessDenied</Code><Message>Access Denied</Message></Error>")
        body, headers = found
        response = Response(200, [(k.lower(), v) for k, v in headers.items()], body)
        if request.method == "HEAD":
            response.body = b""
        return response


class ApiOrigin:
    """A service's API: origin path prepended, custom headers added, viewer Host dropped."""

    def __init__(self, handle: Callable[[Request], Awaitable[Response]], domain: str,
                 origin_path: str, custom_headers: dict[str, str]) -> None:
        self.handle = handle
        self.domain = domain
        self.origin_path = origin_path.rstrip("/")
        self.custom_headers = custom_headers

        # What the origin request sets, in order, after the viewer's headers without them:
        # host, the custom headers (overriding any viewer value), then X-Forwarded-For
        # (the same as setting each one in turn with Request.with_header).
        added = {"host": self.domain}
        for name, value in custom_headers.items():
            added.pop(name.lower(), None)
            added[name.lower()] = value
        added.pop("x-forwarded-for", None)
        self._added = list(added.items())
        self._replaced = frozenset(added) | {"x-forwarded-for"}

    async def fetch(self, request: Request) -> Response:
        replaced = self._replaced
        headers = [(k, v) for k, v in request.headers if k not in replaced]
        headers += self._added
        headers.append(("x-forwarded-for", forwarded_for(request.header("x-forwarded-for"),
                                                         request.source_ip)))
        return await self.handle(Request(request.method, self.origin_path + request.path,
                                         request.query_string, headers, request.body,
                                         request.source_ip))


class StaticOrigin:
    """Always the same answer (an origin CloudFront cannot reach)."""

    def __init__(self, response: Response) -> None:
        self.response = response

    async def fetch(self, request: Request) -> Response:
        return Response(self.response.status, list(self.response.headers), self.response.body)


class RateLimit:
    """WAF rate-based rule: more than ``limit`` requests per IP in the window -> block."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, ip: str) -> bool:
        now = time.monotonic()
        with self._lock:
            seen = self._seen.setdefault(ip, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            seen.append(now)
            return len(seen) <= self.limit


class WebAcl:
    """The web ACL's rules that can be judged on loopback, in priority order: IP allow and
    deny sets and the rate-based rule. Geo matches and AWS managed rule groups have no
    local meaning and are skipped (said when the local cloud starts)."""

    def __init__(self, allow: list[str], deny: list[str], rate: RateLimit | None) -> None:
        import ipaddress

        self.allow = [ipaddress.ip_network(c) for c in allow]
        self.deny = [ipaddress.ip_network(c) for c in deny]
        self.rate = rate

    @classmethod
    def from_template(cls, template: dict[str, Any]) -> WebAcl | None:
        resources = template.get("Resources", {})
        acl = next((r for r in resources.values() if r["Type"] == "AWS::WAFv2::WebACL"), None)
        if acl is None:
            return None
        sets: dict[str, list[str]] = {"allow": [], "deny": []}
        rate = None
        for rule in sorted(acl["Properties"]["Rules"], key=lambda r: r["Priority"]):
            statement = rule["Statement"]
            if "IPSetReferenceStatement" in statement:
                logical = statement["IPSetReferenceStatement"]["Arn"]["Fn::GetAtt"][0]
                kind = "allow" if "Allow" in rule.get("Action", {}) else "deny"
                sets[kind] += resources[logical]["Properties"]["Addresses"]
            elif "RateBasedStatement" in statement:
                limit = statement["RateBasedStatement"]
                rate = RateLimit(int(limit["Limit"]), float(limit["EvaluationWindowSec"]))
        return cls(sets["allow"], sets["deny"], rate)

    def allows(self, ip: str) -> bool:
        if self.allow or self.deny:
            import ipaddress

            address = ipaddress.ip_address(ip)
            if any(address in net for net in self.allow):
                return True  # an allow rule ends evaluation
            if any(address in net for net in self.deny):
                return False
        return self.rate is None or self.rate.allow(ip)


@dataclass
class Behavior:
    pattern: str | None  # None: the default behavior
    origin: str
    methods: frozenset[str]
    cache_policy: dict[str, Any]
    headers_policy: dict[str, Any] | None
    function: CloudFrontFunction | None
    # Worked out once from the policies (every request reads them): the cache key's query
    # string behavior and the response headers policy's security headers.
    query_strings: str = field(init=False)
    security: list[tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.query_strings = (
            self.cache_policy.get("ParametersInCacheKeyAndForwardedToOrigin", {})
            .get("QueryStringsConfig", {}).get("QueryStringBehavior", "none"))
        self.security = security_headers(
            (self.headers_policy or {}).get("SecurityHeadersConfig", {}))

    def matches(self, path: str) -> bool:
        return self.pattern is None or bool(path_pattern(self.pattern).match(path))


class EdgeCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, ...], tuple[float, Response]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> tuple[Response, int] | None:
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        expires, response = entry
        ttl_left = expires - time.monotonic()
        if ttl_left <= 0:
            return None
        return response, int(ttl_left)

    def put(self, key: tuple[str, ...], response: Response, ttl: int) -> None:
        with self._lock:
            self._entries[key] = (time.monotonic() + ttl, response)


def cache_ttl(policy: dict[str, Any], cache_control: str | None) -> int:
    """Seconds to keep a response under ``policy`` given the origin's Cache-Control."""
    low, default, high = (int(policy.get("MinTTL", 0)), int(policy.get("DefaultTTL", 0)),
                          int(policy.get("MaxTTL", 0)))
    directives = {}
    for part in (cache_control or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            directives[name.lower()] = value
    if {"no-store", "no-cache", "private"} & set(directives):
        return low
    for name in ("s-maxage", "max-age"):
        if directives.get(name, "").isdigit():
            return max(low, min(high, int(directives[name])))
    return default


class FailClosedOrigin:
    """A custom origin that answers like an unsigned request to a private bucket."""

    async def fetch(self, request: Request) -> Response:
        return Response(403, [("content-type", "application/xml")], b"<Error><Code>"
                        b"AccessDenied</Code><Message>Access Denied</Message></Error>")


# An API's handler by its execute-api domain (None: no such API on the local cloud).
ApiLookup = Callable[[str], Callable[[Request], Awaitable[Response]] | None]


class EdgeRouter:
    def __init__(self, behaviors: list[Behavior], origins: dict[str, Origin],
                 default_root: str | None, waf: WebAcl | RateLimit | None,
                 distribution_domain: str, api_for: ApiLookup | None = None) -> None:
        self.behaviors = behaviors
        self.origins = origins
        self.api_for = api_for or (lambda _domain: None)
        self.default_root = default_root
        self.waf = WebAcl([], [], waf) if isinstance(waf, RateLimit) else waf
        self.domain = distribution_domain
        self.cache = EdgeCache()
        self._api_origins: dict[tuple[Any, ...], ApiOrigin] = {}

    def behavior(self, path: str) -> Behavior:
        return next(b for b in self.behaviors if b.matches(path))

    async def handle(self, request: Request) -> tuple[Response, str]:
        """The viewer's response and the origin id that served it (for the request log)."""
        if self.waf is not None and not self.waf.allows(request.source_ip):
            return Response(403, [("content-type", "text/html")], WAF_BLOCK_BODY), "waf"
        behavior = self.behavior(request.path)
        if request.method not in behavior.methods:
            return Response(403, [("content-type", "text/html")],
                            b"This distribution is not configured to allow the HTTP request "
                            b"method that was used for this request."), behavior.origin
        if request.path == "/" and self.default_root:
            request = Request(request.method, "/" + self.default_root, request.query_string,
                              request.headers, request.body, request.source_ip)
        origin, origin_id = self.origins[behavior.origin], behavior.origin
        if behavior.function is not None:
            with timing.timed("function"):
                outcome, override = await self._viewer_request(behavior.function, request)
            if isinstance(outcome, Response):
                return self._finish(outcome, behavior, "FunctionGeneratedResponse"), "function"
            request = outcome
            if override is not None:
                origin, origin_id = self._updated_origin(override), override["domainName"]
        response, cache_state = await self._fetch(behavior, request, origin)
        return self._finish(response, behavior, cache_state), origin_id

    def _updated_origin(self, update: dict[str, Any]) -> Origin:
        """The origin a function chose with cf.updateRequestOrigin: a local API by domain.

        CloudFront answers 502 when it cannot connect to an origin:
        https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-502-bad-gateway.html
        """
        domain = str(update.get("domainName", ""))
        handle = self.api_for(domain)
        if handle is None:
            return StaticOrigin(Response(502, [("content-type", "text/html")],
                                         b"CloudFront wasn't able to connect to the origin."))
        path = str(update.get("originPath", ""))
        headers = {str(k): str(v) for k, v in (update.get("customHeaders") or {}).items()}
        # The router function sends every request of a service to the same origin: made
        # once per API handle and update (bounded: a few per service, across redeploys)
        key = (handle, domain, path, tuple(headers.items()))
        origin = self._api_origins.get(key)
        if origin is None:
            if len(self._api_origins) >= API_ORIGINS_KEPT:
                self._api_origins.clear()
            origin = self._api_origins[key] = ApiOrigin(handle, domain, path, headers)
        return origin

    async def _fetch(self, behavior: Behavior, request: Request,
                     origin: Origin) -> tuple[Response, str]:
        cacheable = request.method in {"GET", "HEAD"}
        key = self._cache_key(behavior, request)
        if cacheable:
            hit = self.cache.get(key)
            if hit is not None:
                response, _ = hit
                return Response(response.status, list(response.headers), response.body), "Hit"
        response = await origin.fetch(request)
        if cacheable and response.status in {200, 203, 300, 301, 404, 410}:
            ttl = cache_ttl(behavior.cache_policy, response.header("cache-control"))
            if ttl > 0:
                self.cache.put(key, Response(response.status, list(response.headers),
                                             response.body), ttl)
        return response, "Miss"

    def _cache_key(self, behavior: Behavior, request: Request) -> tuple[str, ...]:
        query = (urlencode(sorted(parse_qsl(request.query_string, keep_blank_values=True)))
                 if behavior.query_strings == "all" else "")
        return (behavior.pattern or "*", request.method if request.method != "HEAD" else "GET",
                request.path, query)

    async def _viewer_request(self, function: CloudFrontFunction, request: Request
                              ) -> tuple[Request | Response, dict[str, Any] | None]:
        event = {
            "version": "1.0",
            "context": {"distributionDomainName": self.domain, "distributionId": "LOCAL",
                        "eventType": "viewer-request", "requestId": str(uuid.uuid4())},
            "viewer": {"ip": request.source_ip},
            "request": {
                "method": request.method, "uri": request.path,
                "querystring": {k: {"value": v} for k, v in
                                parse_qsl(request.query_string, keep_blank_values=True)},
                "headers": {k: {"value": v} for k, v in request.headers},
                "cookies": {},
            },
        }
        result, override = await function.ainvoke(event)  # in V8, on this loop
        if "statusCode" in result:
            headers = [(k.lower(), v["value"]) for k, v in (result.get("headers") or {}).items()]
            body = result.get("body") or ""
            data = (body.get("data", "") if isinstance(body, dict) else body).encode()
            return Response(int(result["statusCode"]), headers, data), None
        return Request(request.method, result.get("uri", request.path), request.query_string,
                       request.headers, request.body, request.source_ip), override

    def _finish(self, response: Response, behavior: Behavior, cache_state: str) -> Response:
        """The response headers policy's security headers, X-Cache and Via, each replacing
        any the origin sent (in one pass: as Response.set_header for each in turn)."""
        added = [*behavior.security, ("x-cache", f"{cache_state} from cloudfront"),
                 ("via", "1.1 local.cloudfront.net (CloudFront)")]
        names = {name for name, _ in added}
        response.headers = [(k, v) for k, v in response.headers if k not in names] + added
        return response


def security_headers(config: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    if "ContentSecurityPolicy" in config:
        headers.append(("content-security-policy",
                        config["ContentSecurityPolicy"]["ContentSecurityPolicy"]))
    if "ContentTypeOptions" in config:
        headers.append(("x-content-type-options", "nosniff"))
    if "FrameOptions" in config:
        headers.append(("x-frame-options", config["FrameOptions"]["FrameOption"]))
    if "ReferrerPolicy" in config:
        headers.append(("referrer-policy", config["ReferrerPolicy"]["ReferrerPolicy"]))
    if "StrictTransportSecurity" in config:
        hsts = config["StrictTransportSecurity"]
        value = f"max-age={hsts['AccessControlMaxAgeSec']}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        headers.append(("strict-transport-security", value))
    if "XSSProtection" in config:
        xss = config["XSSProtection"]
        value = "1" if xss.get("Protection") else "0"
        value += "; mode=block" if xss.get("ModeBlock") else ""
        headers.append(("x-xss-protection", value))
    return headers
