"""CloudFront's rules as the local edge applies them."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from archway.platform.edge_global import edge_global_stack
from archway.shared.commands import load_platform
from archway.shared.local.cf_function import CloudFrontFunction
from archway.shared.local.edge_router import (
    CACHING_OPTIMIZED,
    ApiOrigin,
    Behavior,
    EdgeRouter,
    RateLimit,
    S3Origin,
    WebAcl,
    cache_ttl,
    path_pattern,
)
from archway.shared.local.http import Request, Response
from archway.shared.local.limits import forwarded_for
from helpers.cfn import rendered

ALL = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"})
API_POLICY = {"MinTTL": 0, "DefaultTTL": 0, "MaxTTL": 3600,
              "ParametersInCacheKeyAndForwardedToOrigin": {
                  "QueryStringsConfig": {"QueryStringBehavior": "all"}}}


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    ("/api/catalog/*", "/api/catalog/search", True),
    ("/api/catalog/*", "/api/catalog/products/1/x", True),
    ("/api/catalog/*", "/api/catalogue/x", False),
    ("/api/catalog/*", "/API/catalog/x", False),       # case-sensitive
    ("/api/catalog/*", "/api/catalog", False),
    ("api/catalog/*", "/api/catalog/x", True),          # leading slash optional
    ("/images/?.png", "/images/a.png", True),
    ("/images/?.png", "/images/ab.png", False),
])
def test_path_patterns(pattern: str, path: str, matches: bool) -> None:
    assert bool(path_pattern(pattern).match(path)) is matches


class Recorder:
    def __init__(self, response: Response) -> None:
        self.response = response
        self.requests: list[Request] = []

    async def fetch(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(self.response.status, list(self.response.headers), self.response.body)


def edge(origins: dict, limit: RateLimit | None = None) -> EdgeRouter:
    behaviors = [Behavior("/api/a/*", "api-a", ALL, API_POLICY, None, None),
                 Behavior("/api/*", "api-any", ALL, API_POLICY, None, None),
                 Behavior(None, "site", frozenset({"GET", "HEAD"}), CACHING_OPTIMIZED,
                          {"SecurityHeadersConfig": {"FrameOptions": {"FrameOption": "DENY"}}},
                          None)]
    return EdgeRouter(behaviors, origins, "index.html", limit, "local")


def get(router: EdgeRouter, path: str, query: str = "", ip: str = "127.0.0.1",
        method: str = "GET") -> tuple[Response, str]:
    return asyncio.run(router.handle(Request(method, path, query, [], b"", ip)))


def test_first_matching_behavior_wins_then_default() -> None:
    a, other, site = (Recorder(Response(200, [], b"x")) for _ in range(3))
    router = edge({"api-a": a, "api-any": other, "site": site})
    assert get(router, "/api/a/x")[1] == "api-a"
    assert get(router, "/api/b/x")[1] == "api-any"
    assert get(router, "/")[1] == "site"
    assert site.requests[-1].path == "/index.html"  # default root object
    assert get(router, "/x", method="POST")[0].status == 403  # method not allowed here


def test_api_responses_cached_only_when_the_origin_says_so() -> None:
    cached = Recorder(Response(200, [("cache-control", "public, max-age=30")], b"{}"))
    router = edge({"api-a": cached, "api-any": cached, "site": cached})
    states = [get(router, "/api/a/s", "q=x")[0].header("x-cache") for _ in range(2)]
    assert states == ["Miss from cloudfront", "Hit from cloudfront"]
    assert get(router, "/api/a/s", "q=y")[0].header("x-cache").startswith("Miss")
    assert len(cached.requests) == 2
    never = Recorder(Response(200, [("cache-control", "no-store")], b"{}"))
    router = edge({"api-a": never, "api-any": never, "site": never})
    get(router, "/api/a/s")
    get(router, "/api/a/s")
    assert len(never.requests) == 2


@pytest.mark.parametrize(("control", "ttl"), [
    (None, 86400), ("max-age=60", 60), ("no-cache", 1), ("s-maxage=5, max-age=60", 5),
    ("max-age=999999999", 31536000)])
def test_caching_optimized_ttls(control: str | None, ttl: int) -> None:
    assert cache_ttl(CACHING_OPTIMIZED, control) == ttl


def test_security_headers_and_errors_pass_through() -> None:
    missing = Recorder(Response(404, [("content-type", "application/json")], b'{"m":1}'))
    router = edge({"api-a": missing, "api-any": missing, "site": missing})
    response, _ = get(router, "/api/a/nothing")
    assert (response.status, response.body) == (404, b'{"m":1}')
    site_response, _ = get(router, "/page")
    assert site_response.header("x-frame-options") == "DENY"


def test_api_origin_gets_origin_path_and_secret_not_the_viewer_host() -> None:
    seen: list[Request] = []

    async def api(request: Request) -> Response:
        seen.append(request)
        return Response(200)

    origin = ApiOrigin(api, "abc.execute-api.eu-west-1.amazonaws.com", "/live",
                       {"x-api-key": "secret-from-parameter"})
    viewer = Request("GET", "/api/a/x", "q=1", [("host", "shop.example.com"),
                                                ("x-api-key", "forged")], b"", "192.0.2.1")
    asyncio.run(origin.fetch(viewer))
    (request,) = seen
    assert request.path == "/live/api/a/x"
    assert request.header("host") == "abc.execute-api.eu-west-1.amazonaws.com"
    assert request.header("x-api-key") == "secret-from-parameter"
    assert request.query_string == "q=1"


def test_missing_s3_key_is_access_denied() -> None:
    origin = S3Origin(lambda key: None)
    response = asyncio.run(origin.fetch(Request("GET", "/nope.js")))
    assert response.status == 403 and b"AccessDenied" in response.body


def test_rate_limit_counts_per_ip() -> None:
    site = Recorder(Response(200, [], b"x"))
    router = edge({"api-a": site, "api-any": site, "site": site}, RateLimit(3, 60))
    assert [get(router, "/a.css", ip="10.0.0.1")[0].status for _ in range(4)] == [
        200, 200, 200, 403]
    assert get(router, "/a.css", ip="10.0.0.2")[0].status == 200


def test_web_acl_from_the_edge_global_template() -> None:


    platform = load_platform(Path(__file__).resolve().parents[2], "dev")
    waf = platform.settings.edge.waf.model_copy(update={
        "ip_allow": ("10.1.0.0/16",), "ip_deny": ("10.0.0.0/8",),
        "rate_limit": platform.settings.edge.waf.rate_limit.model_copy(update={"requests": 10})})
    settings = platform.settings.model_copy(update={
        "edge": platform.settings.edge.model_copy(update={"waf": waf})})
    acl = WebAcl.from_template(rendered(edge_global_stack(replace(platform, settings=settings))))
    assert acl is not None
    assert not acl.allows("10.2.3.4")                          # denied range
    assert all(acl.allows("10.1.2.3") for _ in range(20))     # allow list beats the rest
    assert [acl.allows("192.0.2.1") for _ in range(11)][-2:] == [True, False]  # rate rule


ROUTER_FUNCTION = """import cf from 'cloudfront';
async function handler(event) {
  const request = event.request;
  let domain;
  try { domain = await cf.kvs().get(request.uri.split('/')[2]); }
  catch (e) { return {statusCode: 404, statusDescription: 'Not Found',
                      body: {encoding: 'text', data: 'no ' + request.uri}}; }
  cf.updateRequestOrigin({domainName: domain, originPath: '/live'});
  return request;
}"""


def test_viewer_request_function_routes_and_answers_on_the_edge_loop() -> None:
    # GIVEN an /api/* behavior whose async function routes through its KeyValueStore
    seen: list[Request] = []

    async def api(request: Request) -> Response:
        seen.append(request)
        return Response(200, [("cache-control", "no-store")], b"routed")

    domain = "abc.execute-api.eu-west-1.amazonaws.com"
    function = CloudFrontFunction(ROUTER_FUNCTION, "router", store=lambda: (1, {"a": domain}))
    site = Recorder(Response(200, [], b"site"))
    router = EdgeRouter(
        [Behavior("/api/*", "placeholder", ALL, API_POLICY, None, function),
         Behavior(None, "site", frozenset({"GET", "HEAD"}), CACHING_OPTIMIZED, None, None)],
        {"placeholder": site, "site": site}, "index.html", None, "local",
        api_for=lambda d: api if d == domain else None)
    # WHEN a known and an unknown service are called through the edge
    routed, origin_id = get(router, "/api/a/search", "q=1")
    answered, answered_by = get(router, "/api/zz/search")
    # THEN the known one reached its API with the origin path, not the placeholder
    assert (routed.status, routed.body, origin_id) == (200, b"routed", domain)
    assert [(r.path, r.query_string) for r in seen] == [("/live/api/a/search", "q=1")]
    assert site.requests == []
    # AND the unknown one was answered by the function itself
    assert (answered.status, answered.body, answered_by) == (404, b"no /api/zz/search", "function")
    assert answered.header("x-cache") == "FunctionGeneratedResponse from cloudfront"


def _forwarded_one_header_at_a_time(origin: ApiOrigin, viewer: Request) -> Request:
    """What the API origin sends, set the way CloudFront's rules read: the viewer's headers
    without Host, then Host, each custom header and X-Forwarded-For, each set in turn."""
    forwarded = Request(viewer.method, origin.origin_path + viewer.path, viewer.query_string,
                        [(k, v) for k, v in viewer.headers if k != "host"], viewer.body,
                        viewer.source_ip).with_header("host", origin.domain)
    for name, value in origin.custom_headers.items():
        forwarded = forwarded.with_header(name, value)
    return forwarded.with_header("x-forwarded-for", forwarded_for(
        viewer.header("x-forwarded-for"), viewer.source_ip))


@pytest.mark.parametrize("custom", [
    {}, {"x-api-key": "secret"}, {"X-Api-Key": "secret", "x-origin-hint": "a"},
    {"x-api-key": "one", "X-API-KEY": "two"}, {"Host": "other.example"},
    {"x-forwarded-for": "203.0.113.9", "x-api-key": "secret"},
])
@pytest.mark.parametrize("viewer_headers", [
    [],
    [("host", "shop.example.com"), ("x-api-key", "forged"), ("accept", "*/*")],
    [("x-forwarded-for", "198.51.100.7"), ("cookie", "a=1"), ("x-api-key", "forged"),
     ("cookie", "b=2"), ("host", "shop.example.com")],
])
def test_api_origin_request_headers_are_those_set_one_at_a_time(
        custom: dict[str, str], viewer_headers: list[tuple[str, str]]) -> None:
    # GIVEN an API origin with custom headers and a viewer request with its own headers
    seen: list[Request] = []

    async def api(request: Request) -> Response:
        seen.append(request)
        return Response(200)

    origin = ApiOrigin(api, "abc.execute-api.eu-west-1.amazonaws.com", "/live", custom)
    viewer = Request("GET", "/api/a/x", "q=1", viewer_headers, b"", "192.0.2.1")
    # WHEN the request is forwarded (twice: the origin is reused across requests)
    asyncio.run(origin.fetch(viewer))
    asyncio.run(origin.fetch(viewer))
    # THEN its headers, in order, are those of setting Host, each custom header and
    # X-Forwarded-For in turn over the viewer's: custom values win over the viewer's,
    # X-Forwarded-For ends with the viewer's address
    expected = _forwarded_one_header_at_a_time(origin, viewer)
    assert [r.headers for r in seen] == [expected.headers, expected.headers]
    assert seen[0].header("x-forwarded-for").endswith("192.0.2.1")
    assert (seen[0].path, seen[0].query_string) == ("/live/api/a/x", "q=1")


def test_security_headers_replace_the_origins_and_cache_headers_come_once() -> None:
    # GIVEN a behavior with a response headers policy and an origin that sends its own
    # X-Frame-Options (twice), an X-Cache and other headers
    policy = {"SecurityHeadersConfig": {
        "FrameOptions": {"FrameOption": "DENY", "Override": True},
        "ContentTypeOptions": {"Override": True},
        "StrictTransportSecurity": {"AccessControlMaxAgeSec": 63072000,
                                    "IncludeSubdomains": True, "Override": True}}}
    origin = Recorder(Response(200, [("x-frame-options", "SAMEORIGIN"), ("etag", '"1"'),
                                     ("x-cache", "Hit from elsewhere"),
                                     ("x-frame-options", "ALLOW"), ("content-type", "text/css")],
                               b"x"))
    router = EdgeRouter([Behavior(None, "site", frozenset({"GET", "HEAD"}), CACHING_OPTIMIZED,
                                  policy, None)], {"site": origin}, None, None, "local")
    # WHEN a request misses, then hits the cache
    miss, _ = asyncio.run(router.handle(Request("GET", "/a.css")))
    hit, _ = asyncio.run(router.handle(Request("GET", "/a.css")))
    # THEN the origin's other headers come first, in order, then the policy's headers, then
    # X-Cache and Via, each once
    policy_headers = [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                      ("strict-transport-security", "max-age=63072000; includeSubDomains")]
    via = ("via", "1.1 local.cloudfront.net (CloudFront)")
    assert miss.headers == [("etag", '"1"'), ("content-type", "text/css"), *policy_headers,
                            ("x-cache", "Miss from cloudfront"), via]
    assert hit.headers == [("etag", '"1"'), ("content-type", "text/css"), *policy_headers,
                           ("x-cache", "Hit from cloudfront"), via]
