"""Editing a handler while `archway local` runs redeploys its service: the next request
runs the new code (new asset, new workers), with no restart."""

from __future__ import annotations

import time

import pytest

from helpers.local_platform import LocalPlatform

pytestmark = pytest.mark.integration


def test_changed_handler_is_redeployed_and_served(local_platform: LocalPlatform) -> None:
    handler = local_platform.root / "services" / "catalog" / "src" / "products.py"
    source = handler.read_text()
    assert 'headers={"Cache-Control": cache_control("GET", TEMPLATE)}' in source
    # WHEN a developer adds a response header to the product handler
    handler.write_text(source.replace(
        'headers={"Cache-Control": cache_control("GET", TEMPLATE)}',
        'headers={"Cache-Control": cache_control("GET", TEMPLATE), "X-Catalog-Build": "2"}'))
    # THEN within a few seconds the edge serves the new code
    deadline = time.monotonic() + 30
    with local_platform.client() as http:
        while True:
            response = http.get("/api/catalog/products/p-1001")
            if response.headers.get("x-catalog-build") == "2":
                break
            assert time.monotonic() < deadline, local_platform.log.read_text()[-2000:]
            time.sleep(0.5)
    assert response.json()["name"] == "Crème Brûlée Torch"
    assert "catalog: changed, redeploying" in local_platform.log.read_text()
