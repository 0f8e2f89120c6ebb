"""The platform picture: what it connects (from the model) and that the SVG is drawable."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import combinations
from pathlib import Path

from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.deploy.diagram import build, to_mermaid, to_svg

REPO = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"


def test_every_route_leads_to_its_function_and_tables() -> None:
    # GIVEN the dev platform
    platform = load_platform(REPO, "dev")
    graph = build(platform)
    labels = {n.id: n.label for n in graph.nodes}
    edges = {(labels[e.source], labels[e.target]): e.label for e in graph.edges}
    for service in platform.services:
        api = f"REST API {service.api_name}"
        # THEN the edge's router sends the service's path pattern to its API
        assert edges[("CloudFront: *.cloudfront.net", "API router function")] == "/api/*"
        assert edges[("API router function", api)] == service.path_pattern
        for route in service.routes:
            function = service.functions[route.function]
            # and each route goes to its function
            assert (api, f"{route.method} {route.path}") in edges
            assert (f"{route.method} {route.path}", f"λ {function.physical}") in edges
        for function in service.functions.values():
            for table in function.writes:
                assert edges[(f"λ {function.physical}", f"DynamoDB: {table.physical}")] == \
                    "writes"
            written = {t.name for t in function.writes}
            for table in (t for t in function.reads if t.name not in written):
                assert edges[(f"λ {function.physical}", f"DynamoDB: {table.physical}")] == \
                    "reads"


def test_mermaid_nests_stacks_in_their_accounts() -> None:
    platform = load_platform(REPO, "prod")
    text = to_mermaid(build(platform))
    # GIVEN prod, WHEN drawn, THEN each service stack sits inside its own account's subgraph
    for service in platform.services:
        block = re.search(rf'subgraph acct_{service.account}\[.*?\n(.*?)\n  end', text, re.S)
        assert block and service.stack_name in block.group(1)
    # and the certificate exists because prod has a domain
    assert 'cert["ACM certificate shop.example.com"]' in text and "cert -.->" in text


def test_svg_is_wellformed_and_no_two_nodes_overlap() -> None:
    graph = build(load_platform(REPO, "dev"))
    root = ET.fromstring(to_svg(graph))
    boxes = {}
    for group in root.iter(f"{SVG}g"):
        if "node" in group.get("class", "").split():
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            boxes[group.get("id")] = tuple(float(rect.get(k, 0)) for k in
                                           ("x", "y", "width", "height"))
    # THEN every node is drawn once, and boxes never overlap
    assert set(boxes) == {n.id for n in graph.nodes}
    for (a, (ax, ay, aw, ah)), (b, (bx, by, bw, bh)) in combinations(boxes.items(), 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (a, b)
    # and every edge joins two drawn nodes
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "edge":
            assert group.get("data-from") in boxes and group.get("data-to") in boxes


def test_diagram_command_writes_markdown_and_svg(tmp_path: Path) -> None:
    assert main(["diagram", "--env", "dev", "--root", str(REPO), "--out", str(tmp_path)]) == 0
    page = (tmp_path / "platform-dev.md").read_text()
    assert "![archway dev](platform-dev.svg)" in page and "```mermaid\nflowchart LR" in page
    ET.parse(tmp_path / "platform-dev.svg")


def test_the_user_pool_authorizes_exactly_the_routes_that_ask() -> None:
    # GIVEN the dev platform, whose reviews POST needs a signed-in user
    platform = load_platform(REPO, "dev")
    graph = build(platform)
    labels = {n.id: n.label for n in graph.nodes}
    # WHEN reading what the pool points at
    authorized = sorted(labels[e.target] for e in graph.edges
                        if e.source == "pool" and e.label == "authorizes")
    # THEN exactly the routes with auth, and the viewer signs in on the pool's domain
    assert authorized == sorted(f"{r.method} {r.path}" for s in platform.services
                                for r in s.routes if r.auth)
    assert authorized == ["POST /api/reviews/products/{id}/reviews"]
    assert ("viewer", "login") in {(e.source, e.target) for e in graph.edges}
    assert labels["login"] == "sign-in: archway-shop-dev.auth.eu-west-1.amazoncognito.com"
