"""The running edge and APIs answer as AWS does at the documented limits."""

from __future__ import annotations

import uuid

import pytest

from helpers.local_platform import RATE_LIMIT, LocalPlatform, sign_in

pytestmark = pytest.mark.integration


def test_rotating_x_forwarded_for_does_not_escape_the_waf(local_platform: LocalPlatform) -> None:
    # GIVEN one client that claims a new IP in X-Forwarded-For on every request
    with local_platform.client(source_ip="127.0.0.3") as sneaky:
        statuses = [sneaky.get("/style.css", headers={"x-forwarded-for": f"198.51.100.{i % 250}"
                                                      }).status_code
                    for i in range(RATE_LIMIT + 5)]
    # THEN the WAF counts its TCP address, and blocks it past the limit
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT
    assert set(statuses[RATE_LIMIT:]) == {403}


def test_dot_segments_cannot_reach_around_the_api_behaviour(
        local_platform: LocalPlatform) -> None:
    with local_platform.client(source_ip="127.0.0.4") as http:
        # /api/catalog/../../index.html is /index.html: the SPA, not a catalog route
        response = http.send(http.build_request("GET", "/api/catalog/%2e%2e/%2e%2e/index.html"))
        assert response.status_code == 200
        assert '<input id="search"' in response.text


def test_body_over_lambdas_payload_limit_is_413(local_platform: LocalPlatform) -> None:
    path = f"/api/reviews/products/p-{uuid.uuid4().hex[:8]}/reviews"
    # GIVEN a signed-in user (the authorizer answers before the payload is looked at)
    token = sign_in(local_platform.issuer, local_platform.url)["id_token"]
    with local_platform.client(source_ip="127.0.0.5") as http:
        response = http.post(path, content=b"x" * (6 * 1024 * 1024 + 1),
                             headers={"content-type": "application/json",
                                      "authorization": f"Bearer {token}"})
        assert response.status_code == 413
        assert response.json() == {"message": "Request Too Long"}


def test_cloudfront_limits_at_the_front_door(local_platform: LocalPlatform) -> None:
    with local_platform.client(source_ip="127.0.0.6") as http:
        assert http.get("/" + "a" * 8192).status_code == 414
        assert http.get("/", headers={f"x-h{i}": "v" * 1000 for i in range(21)}
                        ).status_code == 494
        assert http.get("/").status_code == 200
