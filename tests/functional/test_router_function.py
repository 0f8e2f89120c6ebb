"""The API router CloudFront Function, run in V8 against KeyValueStores of route entries.

The code under test is the FunctionCode of the rendered edge template (what CloudFront
would run); the store holds values exactly as the deploy engine writes them (RouteEntry).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from archway.platform.edge import edge_stack
from archway.shared.local.cf_function import CloudFrontFunction, FunctionError
from archway.shared.model import Platform
from archway.shared.routes import RouteEntry
from helpers.cfn import rendered
from helpers.scale import route_entry as entry
from helpers.scale import service_name

# CloudFront Functions quota: maximum size of a function is 10 KB:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html#limits-functions
MAX_FUNCTION_BYTES = 10 * 1024


@pytest.fixture(scope="module")
def router_code(platforms: dict[str, Platform]) -> str:
    template = rendered(edge_stack(platforms["dev"]))
    return str(template["Resources"]["ApiRouterFunction"]["Properties"]["FunctionCode"])


def router(code: str, entries: list[RouteEntry]) -> CloudFrontFunction:
    data = {e.key: e.value() for e in entries}
    return CloudFrontFunction(code, "api-router", store=lambda: (1, data))


def viewer_request(uri: str, method: str = "GET") -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                    "distributionId": "EDFDVBD6EXAMPLE", "eventType": "viewer-request",
                    "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
        "viewer": {"ip": "198.51.100.11"},
        "request": {
            "method": method, "uri": uri,
            "querystring": {"q": {"value": "red shoes"}, "tag": {"value": "a", "multiValue": [
                {"value": "a"}, {"value": "b"}]}},
            "headers": {"host": {"value": "shop.example.com"},
                        "accept": {"value": "application/json"}},
            "cookies": {"session": {"value": "abc"}},
        },
    }


def assert_not_found(result: dict[str, Any], origin: dict[str, Any] | None) -> dict[str, Any]:
    assert origin is None  # nothing is routed
    assert result["statusCode"] == 404
    assert result["headers"] == {"content-type": {"value": "application/json"},
                                 "cache-control": {"value": "no-store"}}
    body = json.loads(result["body"]["data"])
    assert body["message"].startswith("Not Found")
    return dict(body)


@pytest.fixture(scope="module")
def shop() -> list[RouteEntry]:
    return [entry("catalog"), entry("reviews", stage="v2"), entry("upper")]


@pytest.fixture(scope="module")
def shop_router(router_code: str, shop: list[RouteEntry]) -> CloudFrontFunction:
    return router(router_code, shop)


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_known_service_is_sent_to_its_api_with_its_secret(
        shop_router: CloudFrontFunction, shop: list[RouteEntry], method: str) -> None:
    # GIVEN a store with catalog and reviews (stage v2)
    reviews = shop[1]
    event = viewer_request("/api/reviews/products/p-1/reviews", method)
    # WHEN a viewer calls a reviews URL
    result, origin = shop_router.invoke(copy.deepcopy(event))
    # THEN the request goes to reviews' API, under its stage, with its origin secret
    assert origin is not None
    assert origin["domainName"] == reviews.domain
    assert origin["originPath"] == "/v2"
    assert origin["customHeaders"] == {"x-api-key": reviews.secret}
    assert origin["customOriginConfig"]["protocol"] == "https"
    assert origin["originAccessControlConfig"] == {"enabled": False}
    # AND the request itself is unchanged: API Gateway sees the public path and query
    assert result == event["request"]


@pytest.mark.parametrize("uri", ["/api/nope/x", "/api/nope", "/api/catalogue/search"])
def test_unknown_service_is_a_json_404_from_the_function(
        shop_router: CloudFrontFunction, uri: str) -> None:
    # WHEN a path names no registered service
    result, origin = shop_router.invoke(viewer_request(uri))
    # THEN the function answers a JSON 404 itself (never the SPA), naming the service
    body = assert_not_found(result, origin)
    assert body["message"] == f"Not Found: no service named {uri.split('/')[2]}"


@pytest.mark.parametrize("uri", ["/api/", "/api//catalog/search", "/api/UPPER/x",
                                 "/api/Catalog/search", "/api/9lives/x", "/api/-x/y"])
def test_paths_without_a_service_name_are_a_json_404(
        shop_router: CloudFrontFunction, uri: str) -> None:
    # GIVEN a store that holds "upper" and "catalog"
    # WHEN the path's first segment is empty or not a lowercase service name
    result, origin = shop_router.invoke(viewer_request(uri))
    # THEN it is not looked up (paths are case-sensitive, as CloudFront's path patterns)
    assert assert_not_found(result, origin)["message"] == "Not Found: no service in this path"


def test_service_root_without_trailing_slash_is_routed(
        shop_router: CloudFrontFunction, shop: list[RouteEntry]) -> None:
    # WHEN a viewer calls /api/catalog (no trailing slash)
    result, origin = shop_router.invoke(viewer_request("/api/catalog"))
    # THEN it goes to catalog's API, which answers for its own root
    assert origin is not None and origin["domainName"] == shop[0].domain
    assert result["uri"] == "/api/catalog"


def test_a_service_whose_name_extends_another_is_not_routed_to_it(
        router_code: str, shop: list[RouteEntry]) -> None:
    # GIVEN catalog is registered and catalog-x is not
    event = viewer_request("/api/catalog-x/search")
    # WHEN a viewer calls /api/catalog-x/...
    result, origin = router(router_code, shop).invoke(event)
    # THEN it is not catalog's: the function answers 404 for catalog-x
    assert assert_not_found(result, origin)["message"] == \
        "Not Found: no service named catalog-x"
    # AND once catalog-x is registered, it gets its own API, not catalog's
    catalog_x = entry("catalog-x")
    _, origin = router(router_code, [*shop, catalog_x]).invoke(event)
    assert origin is not None and origin["domainName"] == catalog_x.domain != shop[0].domain
    assert origin["customHeaders"] == {"x-api-key": catalog_x.secret}


def test_a_store_of_1000_services_routes_each_to_its_own_api(router_code: str) -> None:
    # GIVEN a store holding 1,000 services, each with its own API id, stage and secret
    entries = [entry(service_name(i), stage=f"s{i % 3}") for i in range(1000)]
    assert len({e.domain for e in entries}) == 1000
    function = router(router_code, entries)
    # WHEN each service's URL is requested
    for expected in entries:
        result, origin = function.invoke(viewer_request(f"/api/{expected.service}/hello"))
        # THEN it goes to that service's API, stage and secret, and nothing else changes
        assert origin is not None, expected.service
        assert (origin["domainName"], origin["originPath"], origin["customHeaders"]) == (
            expected.domain, f"/{expected.stage}", {"x-api-key": expected.secret})
        assert result["uri"] == f"/api/{expected.service}/hello"
    # AND a service one past the last is still unknown
    result, origin = function.invoke(viewer_request(f"/api/{service_name(1000)}/hello"))
    assert_not_found(result, origin)


def test_router_code_fits_cloudfront_functions_size_limit(router_code: str) -> None:
    # The code as deployed (template FunctionCode), in bytes, under the 10 KB quota
    assert len(router_code.encode("utf-8")) <= MAX_FUNCTION_BYTES


@pytest.mark.parametrize("value", ["null", "42", "catalog.example.com", '{"d": "x"}',
                                   '{"d": 1, "p": "/live", "k": "s"}'])
def test_a_corrupt_entry_fails_the_function(router_code: str, value: str) -> None:
    # GIVEN a corrupt entry: not JSON, or JSON that is not a route
    function = CloudFrontFunction(router_code, "api-router", store=lambda: (1, {"catalog": value}))
    # WHEN catalog is requested, THEN the function throws: CloudFront answers 503
    # (function execution error), it never routes nor falls through to the SPA:
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-503-service-unavailable.html
    with pytest.raises(FunctionError, match="api-router failed"):
        function.invoke(viewer_request("/api/catalog/search"))
