"""What CloudFront sends an API origin: the viewer's X-Forwarded-For, then the TCP peer."""

from __future__ import annotations

import asyncio

import pytest

from archway.shared.local.edge_router import ApiOrigin
from archway.shared.local.http import Request, Response


@pytest.mark.parametrize(("sent", "forwarded"), [
    (None, "127.0.0.9"),
    ("203.0.113.7", "203.0.113.7, 127.0.0.9"),
    ("garbage, ,", "garbage, ,, 127.0.0.9"),
])
def test_x_forwarded_for_gets_the_peer_appended(sent: str | None, forwarded: str) -> None:
    seen: list[Request] = []

    async def api(request: Request) -> Response:
        seen.append(request)
        return Response(200)

    origin = ApiOrigin(api, "abc.execute-api.eu-west-1.amazonaws.com", "/live", {})
    headers = [("x-forwarded-for", sent)] if sent is not None else []
    asyncio.run(origin.fetch(Request("GET", "/api/x", "", headers, b"", "127.0.0.9")))
    assert seen[0].header("x-forwarded-for") == forwarded
