"""End to end over HTTP: the local platform answers like the real edge would."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from helpers.local_platform import RATE_LIMIT, LocalPlatform, sign_in

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
        # the SPA may fetch from the sign-in issuer (the stand-in for the pool's domain)
        policy = dict(d.strip().split(" ", 1) for d in
                      response.headers["content-security-policy"].split(";"))
        assert policy["connect-src"] == f"'self' {local_platform.issuer}"
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


def test_posted_review_is_read_back(local_platform: LocalPlatform) -> None:
    product = f"p-{uuid.uuid4().hex[:8]}"
    path = f"/api/reviews/products/{product}/reviews"
    # GIVEN bob signed in on the local issuer
    tokens = sign_in(local_platform.issuer, local_platform.url, "bob")
    signed_in = {"authorization": f"Bearer {tokens['id_token']}"}
    with local_platform.client() as http:
        # WHEN he posts a review THEN it is read back with him as its author
        created = http.post(path, json={"rating": 4, "text": "Solid."}, headers=signed_in)
        assert created.status_code == 201, created.text
        listed = http.get(path).json()
        assert [(r["author"], r["rating"], r["text"]) for r in listed["reviews"]] == [
            ("bob", 4, "Solid.")]
        bad = http.post(path, json={"rating": 9, "text": "x"}, headers=signed_in)
        assert bad.status_code == 400
        assert bad.json()["message"] == "rating must be a whole number from 1 to 5 (got 9)"


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


def test_the_console_says_which_routes_need_a_signed_in_user(
        local_platform: LocalPlatform) -> None:
    # GIVEN the console of a running archway local: its list of mounted routes
    console = local_platform.log.read_text().splitlines()
    route = "/api/reviews/products/{id}/reviews"
    mounted = {" ".join(line.split()[:2]): line for line in console
               if line.startswith("    ") and route in line}
    # THEN posting a review says it needs a signed-in user's ID token, reading does not
    assert mounted[f"POST {route}"].endswith("(signed-in: ID token)")
    assert "signed-in" not in mounted[f"GET {route}"]
    assert any(f"sign-in: local OpenID Connect issuer {local_platform.issuer}" in line
               for line in console)


def test_the_platform_diagram_is_a_page_of_the_local_cloud(
        local_platform: LocalPlatform) -> None:
    import xml.etree.ElementTree as ET

    from archway.shared.commands import load_platform

    svg_ns = "{http://www.w3.org/2000/svg}"
    platform = load_platform(local_platform.root, "local")
    with local_platform.client() as http:
        # WHEN the page, the SVG and the Mermaid source are fetched from the local edge
        page = http.get("/_archway/diagram")
        svg = http.get("/_archway/diagram.svg")
        mermaid = http.get("/_archway/diagram.mmd")
        posted = http.post("/_archway/diagram")
        unknown = http.get("/_archway/nothing")
        spa = http.get("/_archwayish")
    # THEN the page is HTML holding the picture inline, and the two sources alone
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert svg.text in page.text and "flowchart LR" in page.text
    assert svg.headers["content-type"] == "image/svg+xml"
    assert mermaid.headers["content-type"] == "text/plain; charset=utf-8"
    assert mermaid.text.startswith("flowchart LR\n")
    # AND the picture is the running platform's: every route leads to its function
    root = ET.fromstring(svg.text)
    labels = {g.get("id"): g.find(f"{svg_ns}title").text for g in root.iter(f"{svg_ns}g")
              if "node" in g.get("class", "").split()}
    edges = {(labels[g.get("data-from")], labels[g.get("data-to")])
             for g in root.iter(f"{svg_ns}g") if g.get("class") == "edge"}
    assert platform.services
    for service in platform.services:
        for route in service.routes:
            function = service.functions[route.function].physical
            assert (f"{route.method} {route.path}", f"λ {function}") in edges
            assert f'"{route.method} {route.path}"' in mermaid.text
    # AND the pages are read-only and only the /_archway/ prefix is taken from the edge
    assert posted.status_code == 405
    assert unknown.status_code == 404 and "/_archway/diagram" in unknown.text
    assert spa.status_code == 200 and '<input id="search"' in spa.text
