"""The local cloud's own pages: the platform as ``archway diagram`` draws it, live.

``/_archway/diagram`` is an HTML page holding the SVG (inline, so it needs nothing else)
and the Mermaid source; ``/_archway/diagram.svg`` and ``/_archway/diagram.mmd`` are the
two pictures alone. They are built from the platform the cloud has mounted, so a new
service or route shows up after the redeploy that mounts it.
"""

from __future__ import annotations

from html import escape

from archway.shared.deploy.diagram import build, to_mermaid, to_svg
from archway.shared.local.http import Response
from archway.shared.local.server import PAGES_PREFIX
from archway.shared.model import Platform

DIAGRAM = f"{PAGES_PREFIX}diagram"
# The page runs no script and loads nothing: the SVG is inline.
_HEADERS = [("cache-control", "no-store"), ("x-content-type-options", "nosniff"),
            ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'")]


def diagram_pages(platform: Platform) -> dict[str, Response]:
    graph = build(platform)
    svg, mermaid = to_svg(graph), to_mermaid(graph)
    html = (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(graph.title)}</title>"
        "<style>body{font-family:sans-serif;margin:1rem}svg{max-width:100%;height:auto}"
        "pre{background:#f4f6fb;padding:1rem;overflow:auto}</style></head><body>"
        f"<h1>The {escape(platform.env)} platform</h1>"
        f"<p>Drawn from the mounted config, as <code>archway diagram --env "
        f"{escape(platform.env)}</code> writes it: <a href=\"{DIAGRAM}.svg\">SVG</a>, "
        f"<a href=\"{DIAGRAM}.mmd\">Mermaid</a>.</p>\n{svg}\n"
        f"<h2>Mermaid</h2><pre>{escape(mermaid)}</pre></body></html>\n")
    return {
        DIAGRAM: Response(200, [("content-type", "text/html; charset=utf-8"), *_HEADERS],
                          html.encode()),
        f"{DIAGRAM}.svg": Response(200, [("content-type", "image/svg+xml"), *_HEADERS],
                                   svg.encode()),
        f"{DIAGRAM}.mmd": Response(200, [("content-type", "text/plain; charset=utf-8"),
                                         *_HEADERS], mermaid.encode()),
    }
