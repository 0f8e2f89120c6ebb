"""The local HTTP front door: uvicorn on 127.0.0.1 serving one ASGI app.

Requests whose Host is a service's execute-api domain go straight to that API (as a
direct call to API Gateway would: without the origin secret they get 403); paths under
``/_archway/`` are the local cloud's own pages (the platform diagram); everything else
goes through the edge. Each request is logged like a CloudFront access log line,
with control characters escaped. Before routing, as CloudFront does: the viewer's IP is
the TCP peer (an X-Forwarded-For it sends is passed on, never believed), ``.`` and ``..``
path segments are resolved, and CloudFront's URL and request-size quotas are enforced.
Only when told to (``archway local --trust-forwarded-for``, for a proxy of your own in front
of it) is the viewer IP the last address of X-Forwarded-For, the one that proxy appended; a
value that is not an IP address leaves the TCP peer.
Credentials never reach the log: the values of query parameters that carry them (an
authorization ``code`` on its way back to the SPA, tokens) are written as ``REDACTED``,
and headers and bodies are not logged at all.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from archway.shared.errors import ArchwayError
from archway.shared.local import timing
from archway.shared.local.http import Request, Response
from archway.shared.local.limits import (
    CLOUDFRONT_MAX_REQUEST_HEAD,
    CLOUDFRONT_MAX_URL,
    HEADER_TOO_LARGE,
    URL_TOO_LONG,
    remove_dot_segments,
)
from archway.shared.local.text import printable

# Paths the local edge answers itself, before the distribution's behaviours: the real
# distribution has none, and the single-page app never links there.
PAGES_PREFIX = "/_archway/"

ASGIReceive = Callable[[], Any]
SECRET_PARAMETERS = frozenset({"code", "code_verifier", "id_token", "access_token",
                               "refresh_token", "token", "password"})
ASGISend = Callable[[dict[str, Any]], Any]


class ServerError(ArchwayError):
    exit_code = 2


class Router:
    """Swappable routing table: the local cloud replaces it after every redeploy."""

    def __init__(self, edge: Any, apis: dict[str, Any],
                 pages: dict[str, Response] | None = None) -> None:
        self.edge = edge
        self.apis = apis  # execute-api domain -> ApiRouter
        self.pages = pages or {}  # local-only pages under PAGES_PREFIX (the diagram)


class App:
    def __init__(self, router: Router, log: Callable[[str], None] = print,
                 trust_forwarded_for: bool = False) -> None:
        self.router = router
        self.log = log
        self.trust_forwarded_for = trust_forwarded_for

    async def __call__(self, scope: dict[str, Any], receive: ASGIReceive,
                       send: ASGISend) -> None:
        if scope["type"] != "http":
            return
        request = await _request(scope, receive, self.trust_forwarded_for)
        timings = timing.begin() if timing.enabled() else None
        start = time.perf_counter()
        router = self.router
        host = (request.header("host") or "").split(":")[0]
        refused = None if host in router.apis else _over_cloudfront_quotas(scope)
        if refused is not None:
            response, served_by = refused, "edge-limits"
        elif host not in router.apis and request.path.startswith(PAGES_PREFIX):
            response, served_by = _page(router.pages, request), "local-page"
        elif host in router.apis:
            response, served_by = await router.apis[host].handle(request), "api-direct"
        else:
            response, served_by = await router.edge.handle(request)
        latency = (time.perf_counter() - start) * 1000
        if timings is not None:
            response.set_header(timing.HEADER, timing.header([("edge", latency), *timings]))
        stamp = _stamp()
        query = loggable_query(request.query_string)
        target = request.path + (f"?{query}" if query else "")
        cache = (response.header("x-cache") or "-").split(" ")[0]
        self.log(printable(f"{stamp} {request.source_ip} {request.method} {target} "
                           f"{response.status} {latency:.1f}ms {served_by} {cache}"))
        await _send(send, response, head=request.method == "HEAD")


_stamps: list[tuple[int, str]] = [(-1, "")]


def _stamp() -> str:
    """The log line's UTC time to the second (formatted once a second, not per request)."""
    now = int(time.time())
    second, text = _stamps[0]
    if second != now:
        text = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        _stamps[0] = (now, text)
    return text


def loggable_query(query: str) -> str:
    """The query string as the request log shows it: credentials replaced."""
    if "%" not in query and not any(name in query.lower() for name in SECRET_PARAMETERS):
        return query  # no parameter can be named like one (names decode only from %XX)
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
        return query
    return urlencode([(name, "REDACTED" if name.lower() in SECRET_PARAMETERS else value)
                      for name, value in pairs])


def _page(pages: dict[str, Response], request: Request) -> Response:
    """A local-only page (never on AWS: the distribution has no such path)."""
    page = pages.get(request.path)
    if page is None:
        return Response(404, [("content-type", "text/plain; charset=utf-8")],
                        f"no local page {request.path} (pages: {', '.join(sorted(pages))})"
                        .encode())
    if request.method not in {"GET", "HEAD"}:
        return Response(405, [("allow", "GET, HEAD"),
                              ("content-type", "text/plain; charset=utf-8")],
                        b"method not allowed")
    return Response(page.status, list(page.headers), page.body)


def forwarded_viewer(value: str | None) -> str | None:
    """The address a trusted proxy appended to X-Forwarded-For (the last one), if valid."""
    last = (value or "").split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(last))
    except ValueError:
        return None


async def _request(scope: dict[str, Any], receive: ASGIReceive,
                   trust_forwarded_for: bool = False) -> Request:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
    client = scope.get("client") or ("127.0.0.1", 0)  # the TCP peer: the viewer IP
    viewer = client[0]
    if trust_forwarded_for:
        viewer = forwarded_viewer(dict(headers).get("x-forwarded-for")) or viewer
    return Request(scope["method"], remove_dot_segments(scope["path"]),
                   scope.get("query_string", b"").decode("latin-1"), headers, body, viewer)


def _over_cloudfront_quotas(scope: dict[str, Any]) -> Response | None:
    """CloudFront's answer to a URL or request head over its quotas (see limits.py)."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    url = len(raw_path) + (len(query) + 1 if query else 0)
    if url > CLOUDFRONT_MAX_URL:
        return Response(URL_TOO_LONG, [("content-type", "text/html")],
                        b"<html><body><h1>414 ERROR</h1><p>The request could not be satisfied."
                        b" URL too long.</p></body></html>")
    head = len(scope["method"]) + 1 + url + len(" HTTP/1.1\r\n")
    head += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    if head > CLOUDFRONT_MAX_REQUEST_HEAD:
        return Response(HEADER_TOO_LARGE, [("content-type", "text/html")],
                        b"<html><body><h1>494 ERROR</h1><p>The request could not be satisfied."
                        b" Request header too large.</p></body></html>")
    return None


async def _send(send: ASGISend, response: Response, head: bool = False) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
               if k not in {"content-length", "transfer-encoding", "connection"}]
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


class LocalServer:
    """uvicorn in a background thread, loopback only, stopped within a bounded time."""

    def __init__(self, app: App, host: str = "127.0.0.1", port: int = 8080,
                 name: str = "archway-edge", option: str = "--port") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ServerError(f"the local cloud serves on loopback only (got --host {host})")
        import uvicorn

        from archway.shared.local.quiet_server import QuietServer

        # httptools (llhttp, in C) serves a keep-alive GET in 0.31 ms where h11 took 0.45
        # (medians of 2,000, load average 4.2). It does not cap a request head below
        # CloudFront's 20,480 bytes (h11 capped it at 16 KiB): the app sees and answers
        # requests up to and over that quota, as CloudFront would.
        # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from loopback
        # (any client here) as the client address; CloudFront takes the TCP peer.
        config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                                lifespan="off", access_log=False, http="httptools",
                                proxy_headers=False)
        self.server = QuietServer(config)  # wakes once a second when idle, not ten times
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.url = f"http://{host}:{port}"
        self.option = option

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise ServerError(f"could not serve on {self.url} (is the port in use? "
                                  f"choose another with {self.option})")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.request_exit()
        self.thread.join(timeout)
