"""End to end over HTTP: the local platform answers like the real edge would."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from helpers.local_platform import RATE_LIMIT, LocalPlatform

pytestmark = pytest.mark.integration


def test_spa_is_served_at_the_root(local_platform: LocalPlatform) -> None:
    with local_platform.client() as http:
        response = http.get("/")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert '<input id="search"' in response.text
        # the response headers policy applies to S3 content too
        assert response.headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert http.get("/app.js").headers["content-type"].startswith("text/javascript")


def test_search_returns_prefix_matches(local_platform: LocalPlatform) -> None:
    with local_platform.client() as http:
        response = http.get("/api/catalog/search", params={"q": "CR"})
        assert response.status_code == 200
        names = [r["name"] for r in response.json()["results"]]
        assert names == ["Crème Brûlée Torch", "Crystal Water Carafe"]
        assert response.headers["cache-control"] == "public, max-age=30"


def test_search_is_cached_at_the_edge_per_query(local_platform: LocalPlatform) -> None:
    with local_platform.client() as http:
        first = http.get("/api/catalog/search", params={"q": "desk"})
        again = http.get("/api/catalog/search", params={"q": "desk"})
        other = http.get("/api/catalog/search", params={"q": "desk l"})
        assert first.headers["x-cache"].startswith("Miss")
        assert again.headers["x-cache"].startswith("Hit")
        assert other.headers["x-cache"].startswith("Miss")  # query string is in the key
        assert again.json() == first.json()


def test_unknown_product_stays_a_json_404(local_platform: LocalPlatform) -> None:
    with local_platform.client() as http:
        response = http.get("/api/catalog/products/no-such-product")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert response.json()["message"] == "product no-such-product not found"


def test_deep_link_to_an_spa_route_gets_index_html(local_platform: LocalPlatform) -> None:
    with local_platform.client() as http:
        response = http.get("/products/p-1001")
        assert response.status_code == 200
        assert '<input id="search"' in response.text
        assert http.get("/missing.js").status_code == 403  # a real file path is not rewritten


def test_an_anonymous_review_is_refused_and_not_stored(local_platform: LocalPlatform) -> None:
    # GIVEN a visitor who has not signed in (no Authorization header)
    product = f"p-{uuid.uuid4().hex[:8]}"
    path = f"/api/reviews/products/{product}/reviews"
    with local_platform.client() as http:
        # WHEN they post a review
        created = http.post(path, json={"rating": 4, "text": "Solid."})
        # THEN it is a 401 and the product still has no review (reading stays public)
        assert created.status_code == 401
        listed = http.get(path)
        assert listed.status_code == 200
        assert listed.json()["reviews"] == []


def test_view_counter_increments(local_platform: LocalPlatform) -> None:
    path = f"/api/reviews/products/p-{uuid.uuid4().hex[:8]}/views"
    with local_platform.client() as http:
        assert [http.post(path).json()["views"] for _ in range(3)] == [1, 2, 3]


def test_direct_api_call_without_the_secret_is_forbidden(local_platform: LocalPlatform) -> None:
    domain = local_platform.apis["catalog"]
    with local_platform.client() as http:
        direct = http.get("/live/api/catalog/search", params={"q": "c"},
                          headers={"host": domain})
        assert direct.status_code == 403
        assert direct.json() == {"message": "Forbidden"}
        forged = http.get("/live/api/catalog/search", params={"q": "c"},
                          headers={"host": domain, "x-api-key": "guessed-secret-value-123"})
        assert forged.status_code == 403


def test_waf_rate_limit_blocks_one_client_only(local_platform: LocalPlatform) -> None:
    # GIVEN a client at another loopback address sending more than the limit
    with local_platform.client(source_ip="127.0.0.2") as noisy:
        statuses = [noisy.get("/style.css").status_code for _ in range(RATE_LIMIT + 5)]
    # THEN it is blocked past the limit, and other clients are not
    assert statuses[:RATE_LIMIT] == [200] * RATE_LIMIT
    assert set(statuses[RATE_LIMIT:]) == {403}
    with local_platform.client() as quiet:
        assert quiet.get("/style.css").status_code == 200


def test_deploy_service_goes_into_the_running_local_cloud(
        local_platform: LocalPlatform) -> None:
    # the command a team runs while `tox -e local` is up: a no-op redeploy, said so
    proc = subprocess.run(
        [sys.executable, "-m", "archway.shared.cli", "deploy", "service", "catalog",
         "--root", str(local_platform.root)],
        capture_output=True, text=True, timeout=120, cwd=local_platform.root)
    assert proc.returncode == 0, proc.stderr
    assert "svc-catalog      skipped   no changes" in proc.stdout
    assert "1 of 1 stacks ok" in proc.stdout


def test_a_second_archway_local_refuses_and_leaves_the_first_running(
        local_platform: LocalPlatform) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "archway.shared.cli", "local", "--root", str(local_platform.root),
         "--port", "1"], capture_output=True, text=True, timeout=60, cwd=local_platform.root)
    assert proc.returncode == 1
    assert "archway local is already running for this repository" in proc.stderr
    with local_platform.client() as http:
        assert http.get("/").status_code == 200
    assert (local_platform.root / "build" / "local" / ".cloud" / "cloud.json").exists()
