"""The local front door serves on loopback only and is stopped within a bounded time."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import httpx
import pytest

from archway.shared.local.http import Request, Response
from archway.shared.local.limits import CLOUDFRONT_MAX_URL
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


class Viewer:
    """An edge that answers what it was given: path, viewer IP and X-Forwarded-For."""

    async def handle(self, request: Request) -> tuple[Response, str]:
        body = f"{request.path}|{request.source_ip}|{request.header('x-forwarded-for')}"
        return Response(200, [("content-type", "text/plain")], body.encode()), "viewer"


@pytest.fixture
def front_door() -> Iterator[tuple[int, list[str]]]:
    lines: list[str] = []
    port = free_port()
    server = LocalServer(App(Router(Viewer(), {}), log=lines.append), port=port)
    server.start()
    yield port, lines
    server.stop()


def raw_get(port: int, target: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """A request sent byte for byte as written (no client-side path cleanup)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize(("target", "path"), [
    ("/api/catalog/../../index.html", "/index.html"),
    ("/api/./catalog/search", "/api/catalog/search"),
    ("/api/%2e%2e/%2E%2E/secret", "/secret"),
    ("/../../../etc/passwd", "/etc/passwd"),
    ("/a/b/..", "/a/"),
])
def test_dot_segments_are_resolved_before_routing(front_door: tuple[int, list[str]],
                                                  target: str, path: str) -> None:
    port, _ = front_door
    assert raw_get(port, target) == (200, f"{path}|127.0.0.1|None")


def test_log_lines_never_carry_control_characters(front_door: tuple[int, list[str]]) -> None:
    port, lines = front_door
    # WHEN a path decodes to a newline and a terminal escape
    raw_get(port, "/a%0a2026-01-01T00:00:00Z%2010.0.0.1%20GET%20/forged%20200%1b[31m")
    # THEN the log line stays one line, with both escaped
    (line,) = lines
    assert "\n" not in line and "\x1b" not in line
    assert "/a\\x0a2026-01-01T00:00:00Z 10.0.0.1 GET /forged 200\\x1b[31m" in line


@pytest.mark.parametrize("value", ["10.9.8.7", "not-an-ip, ,,", "1.2.3.4, 999.1.1.1", ""])
def test_viewer_ip_is_the_tcp_peer_whatever_x_forwarded_for_says(
        front_door: tuple[int, list[str]], value: str) -> None:
    port, lines = front_door
    status, body = raw_get(port, "/x", {"X-Forwarded-For": value})
    # THEN no 500, the viewer IP is the socket's, the header is passed on as sent
    assert status == 200
    assert body.split("|")[:2] == ["/x", "127.0.0.1"]
    assert lines[0].split()[1] == "127.0.0.1"


@pytest.mark.parametrize(("value", "viewer"), [
    ("10.9.8.7", "10.9.8.7"),
    ("203.0.113.5, 10.9.8.7", "10.9.8.7"),  # the address the trusted proxy appended
    ("10.9.8.7, not-an-ip", "127.0.0.1"),  # malformed: the TCP peer, never a 500
    ("", "127.0.0.1"),
])
def test_x_forwarded_for_is_believed_only_when_trusted_explicitly(value: str,
                                                                  viewer: str) -> None:
    # GIVEN a front door started with --trust-forwarded-for
    lines: list[str] = []
    port = free_port()
    server = LocalServer(App(Router(Viewer(), {}), log=lines.append, trust_forwarded_for=True),
                         port=port)
    server.start()
    try:
        # WHEN a request carries X-Forwarded-For
        status, body = raw_get(port, "/x", {"X-Forwarded-For": value})
    finally:
        server.stop()
    # THEN the viewer IP (what the WAF counts, what the log shows) is its last valid address
    assert status == 200
    assert body.split("|")[:2] == ["/x", viewer]
    assert lines[0].split()[1] == viewer


def test_cloudfront_url_and_request_size_quotas(front_door: tuple[int, list[str]]) -> None:
    port, _ = front_door
    # a URL of exactly 8,192 bytes is served; one byte more is refused
    at_limit = "/" + "a" * (CLOUDFRONT_MAX_URL - 1)
    assert raw_get(port, at_limit)[0] == 200
    assert raw_get(port, at_limit + "b")[0] == 414
    assert raw_get(port, "/q?" + "x" * CLOUDFRONT_MAX_URL)[0] == 414  # the query counts
    # headers within 20,480 bytes are served; over it, CloudFront's 494
    assert raw_get(port, "/h", {"x-big": "v" * 19000})[0] == 200
    assert raw_get(port, "/h", {"x-big": "v" * 10000, "x-more": "w" * 10500})[0] == 494
