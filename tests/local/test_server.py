"""The local front door serves on loopback only and is stopped within a bounded time."""

from __future__ import annotations

import httpx
import pytest

from archway.shared.local.http import Request, Response
from archway.shared.local.moto_server import free_port
from archway.shared.local.server import App, LocalServer, Router, ServerError


class Echo:
    async def handle(self, request: Request) -> tuple[Response, str]:
        return Response(200, [("content-type", "text/plain")],
                        f"{request.method} {request.path}?{request.query_string}".encode()), "e"


class Api:
    async def handle(self, request: Request) -> Response:
        return Response(403, [], b'{"message":"Forbidden"}')


def test_refuses_non_loopback_addresses() -> None:
    with pytest.raises(ServerError, match="loopback only"):
        LocalServer(App(Router(Echo(), {})), host="0.0.0.0", port=free_port())


def test_serves_logs_and_dispatches_by_host() -> None:
    lines: list[str] = []
    port = free_port()
    server = LocalServer(App(Router(Echo(), {"abc.execute-api.eu-west-1.amazonaws.com": Api()}),
                             log=lines.append), port=port)
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/a/b", params={"q": "1"}).text == "GET /a/b?q=1"
            api_host = {"host": "abc.execute-api.eu-west-1.amazonaws.com"}
            direct = http.get("/live/x", headers=api_host)
            assert direct.status_code == 403
    finally:
        server.stop()
    assert not server.thread.is_alive()
    assert " GET /a/b?q=1 200 " in lines[0] and lines[0].split()[-2] == "e"
    assert lines[1].split()[-2] == "api-direct"
