"""The SPA fallback CloudFront Function, run in V8 with real viewer-request events."""

from __future__ import annotations

import pytest

from archway.platform.edge import FUNCTIONS_DIR
from archway.shared.local.cf_function import CloudFrontFunction


@pytest.fixture(scope="module")
def spa() -> CloudFrontFunction:
    return CloudFrontFunction((FUNCTIONS_DIR / "spa_fallback.js").read_text(), "spa-fallback")


def viewer_request(uri: str) -> dict:
    return {
        "version": "1.0",
        "context": {"distributionDomainName": "d111111abcdef8.cloudfront.net",
                    "distributionId": "EDFDVBD6EXAMPLE", "eventType": "viewer-request",
                    "requestId": "4TyzHTaYWb1GX1qTfsHhEqV6HUDd_BzoBZnwfnvQc_1oF26ClkoUSEQ=="},
        "viewer": {"ip": "198.51.100.11"},
        "request": {"method": "GET", "uri": uri, "querystring": {"q": {"value": "x"}},
                    "headers": {"host": {"value": "shop.example.com"}}, "cookies": {}},
    }


@pytest.mark.parametrize(("uri", "served"), [
    ("/products/p-1001", "/index.html"),   # deep link to an SPA route
    ("/products", "/index.html"),
    ("/about/team/", "/index.html"),
    ("/app.js", "/app.js"),                # real files pass through
    ("/assets/logo.v2.svg", "/assets/logo.v2.svg"),
    ("/", "/"),                            # left to the default root object
])
def test_spa_routes_get_index_html(spa: CloudFrontFunction, uri: str, served: str) -> None:
    result = spa.run(viewer_request(uri))
    assert result["uri"] == served
    assert result["querystring"] == {"q": {"value": "x"}}  # the rest of the request is kept
