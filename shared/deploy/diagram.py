"""`archway diagram`: the platform of one environment as a picture, from the model alone.

One graph (accounts > stacks > resources; the edge, whose API router function sends
``/api/<svc>/*`` to each service's API through the route store; the user pool and the
routes it authorizes; every route to its function and the tables it reads or writes)
rendered two ways: Mermaid (for docs and code review) and a self-contained SVG laid out
in columns (viewer, edge, API, route, function, table), with no renderer and no network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from archway.shared.model import Platform, ServiceModel

LAYERS = ("viewer", "edge", "api", "route", "function", "table")
NODE_W, NODE_H, ROW, COL = 250, 34, 48, 285
PAD, HEAD = 16, 30


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    layer: str  # one of LAYERS
    group: str | None  # the stack it belongs to (None: outside, the viewer)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Group:
    id: str
    label: str
    account: str


@dataclass
class Graph:
    title: str
    accounts: dict[str, str] = field(default_factory=dict)  # account id -> label
    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def _id(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


def build(platform: Platform) -> Graph:
    """Accounts, stacks, the edge and every route -> function -> table of ``platform``."""
    names = platform.names
    graph = Graph(f"{platform.name} {platform.env}")
    graph.accounts[platform.account] = f"platform account {platform.account}"
    host = platform.domain.name if platform.domain else "*.cloudfront.net"
    graph.groups += [
        Group("edge_global", f"{names.edge_global_stack} ({platform.global_region})",
              platform.account),
        Group("edge", f"{names.edge_stack} ({platform.home_region})", platform.account)]
    graph.nodes += [
        Node("viewer", "viewer", "viewer", None),
        Node("waf", "WAF web ACL", "edge", "edge_global"),
        Node("cdn", f"CloudFront: {host}", "edge", "edge"),
        Node("site", "S3: single-page app", "api", "edge")]
    if platform.domain:
        graph.nodes.append(Node("cert", f"ACM certificate {host}", "edge", "edge_global"))
        graph.edges.append(Edge("cert", "cdn", "TLS", dashed=True))
    graph.nodes += [Node("router", "API router function", "edge", "edge"),
                    Node("routes", f"KeyValueStore {names.route_store}", "edge", "edge")]
    graph.edges += [Edge("viewer", "cdn", "https"), Edge("waf", "cdn", "guards", dashed=True),
                    Edge("cdn", "site", "default (*)"), Edge("cdn", "router", "/api/*"),
                    Edge("routes", "router", "looks up", dashed=True)]
    if platform.auth is not None:
        auth = platform.auth
        graph.groups.append(Group("auth", f"{auth.stack_name} ({auth.region})",
                                  platform.account))
        graph.nodes += [Node("login", f"sign-in: {auth.hosted_domain}", "edge", "auth"),
                        Node("pool", f"Cognito user pool {auth.user_pool_name}", "api", "auth")]
        graph.edges += [Edge("viewer", "login", "signs in"),
                        Edge("login", "pool", "tokens", dashed=True)]
    for service in sorted(platform.services, key=lambda s: (s.account, s.name)):
        graph.accounts.setdefault(service.account, f"account {service.account}")
        if service.account != platform.account:
            graph.accounts[service.account] = f"{service.owner} account {service.account}"
        _service(graph, service)
    return graph


def _service(graph: Graph, service: ServiceModel) -> None:
    group = _id("svc", service.name)
    graph.groups.append(Group(group, f"{service.stack_name} ({service.region})",
                              service.account))
    api = _id(service.name, "api")
    graph.nodes.append(Node(api, f"REST API {service.api_name}", "api", group))
    graph.edges.append(Edge("router", api, service.path_pattern))
    for table in service.tables.values():
        graph.nodes.append(Node(_id(service.name, "table", table.name),
                                f"DynamoDB: {table.physical}", "table", group))
    for function in service.functions.values():
        fn = _id(service.name, "fn", function.name)
        graph.nodes.append(Node(fn, f"λ {function.physical}", "function", group))
        written = {t.name for t in function.writes}
        for table in function.reads:
            if table.name not in written:
                graph.edges.append(Edge(fn, _id(service.name, "table", table.name), "reads",
                                        dashed=True))
        for table in function.writes:
            graph.edges.append(Edge(fn, _id(service.name, "table", table.name), "writes"))
    for index, route in enumerate(service.routes):
        node = _id(service.name, "route", str(index))
        graph.nodes.append(Node(node, f"{route.method} {route.path}", "route", group))
        graph.edges += [Edge(api, node), Edge(node, _id(service.name, "fn", route.function))]
        if route.auth is not None:
            graph.edges.append(Edge("pool", node, "authorizes", dashed=True))


# ------------------------------------------------------------------ Mermaid


def to_mermaid(graph: Graph) -> str:
    shapes = {"viewer": ('(["', '"])'), "table": ('[("', '")]'), "function": ('[["', '"]]'),
              "route": ('["', '"]'), "api": ('["', '"]'), "edge": ('["', '"]')}
    lines = ["flowchart LR"]
    for node in (n for n in graph.nodes if n.group is None):
        lines.append(f"  {node.id}{_shape(node, shapes)}")
    for account, label in graph.accounts.items():
        lines.append(f'  subgraph acct_{account}["{label}"]')
        for group in (g for g in graph.groups if g.account == account):
            lines.append(f'    subgraph {group.id}["{group.label}"]')
            lines += [f"      {n.id}{_shape(n, shapes)}" for n in graph.nodes
                      if n.group == group.id]
            lines.append("    end")
        lines.append("  end")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{edge.label}"|' if edge.label else ""
        lines.append(f"  {edge.source} {arrow}{label} {edge.target}")
    return "\n".join(lines) + "\n"


def _shape(node: Node, shapes: dict[str, tuple[str, str]]) -> str:
    start, end = shapes[node.layer]
    return f"{start}{node.label.replace(chr(34), '#quot;')}{end}"


def markdown(graph: Graph, svg_name: str, env: str) -> str:
    return (f"# The {env} platform\n\n"
            f"Generated by `archway diagram --env {env}` from the config: do not edit by "
            "hand; rerun it after changing a service or the platform.\n\n"
            f"![{graph.title}]({svg_name})\n\n```mermaid\n{to_mermaid(graph)}```\n")


# ---------------------------------------------------------------------- SVG


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def layout(graph: Graph) -> tuple[dict[str, Box], dict[str, Box], dict[str, Box], float]:
    """Node, stack and account boxes: one band per stack (bands of an account together),
    nodes in the column of their layer, stacked within their band."""
    nodes: dict[str, Box] = {}
    groups: dict[str, Box] = {}
    accounts: dict[str, Box] = {}
    y = PAD + HEAD
    for account in graph.accounts:
        top = y
        y += HEAD
        for group in (g for g in graph.groups if g.account == account):
            members = [n for n in graph.nodes if n.group == group.id]
            depth = max((sum(1 for m in members if m.layer == layer) for layer in LAYERS),
                        default=1)
            height = HEAD + depth * ROW + PAD
            groups[group.id] = Box(PAD * 2 + COL, y, COL * (len(LAYERS) - 1), height)
            for layer in LAYERS:
                for row, node in enumerate(m for m in members if m.layer == layer):
                    nodes[node.id] = Box(_column(layer), y + HEAD + row * ROW, NODE_W, NODE_H)
            y += height + PAD
        accounts[account] = Box(PAD + COL, top, COL * (len(LAYERS) - 1) + PAD * 2, y - top)
        y += PAD
    for node in (n for n in graph.nodes if n.group is None):
        nodes[node.id] = Box(_column(node.layer), PAD + HEAD * 3, NODE_W, NODE_H)
    return nodes, groups, accounts, y


def _column(layer: str) -> float:
    return PAD * 3 + COL * LAYERS.index(layer)


def to_svg(graph: Graph) -> str:
    nodes, groups, accounts, height = layout(graph)
    width = PAD * 4 + COL * len(LAYERS)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
           f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
           'font-family="sans-serif" font-size="11">',
           f"<title>{escape(graph.title)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" '
           'markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" '
           'fill="#555"/></marker></defs>',
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           f'<text x="{PAD}" y="{PAD + 12}" font-size="15" font-weight="bold">'
           f"{escape(graph.title)}</text>"]
    for account, box in accounts.items():
        out.append(_rect(box, "#f4f6fb", "#8a94b3", graph.accounts[account], "account"))
    for group in graph.groups:
        out.append(_rect(groups[group.id], "#ffffff", "#b8c0d8", group.label, "stack"))
    for edge in graph.edges:
        out.append(_edge(nodes[edge.source], nodes[edge.target], edge))
    for node in graph.nodes:
        out.append(_node(nodes[node.id], node))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _rect(box: Box, fill: str, stroke: str, label: str, kind: str) -> str:
    return (f'<g class="{kind}"><rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" '
            f'height="{box.h:.0f}" rx="8" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{box.x + 10:.0f}" y="{box.y + 18:.0f}" font-weight="bold">'
            f"{escape(label)}</text></g>")


COLOURS = {"viewer": "#eeeeee", "edge": "#ffe3c2", "api": "#d9e8ff", "route": "#eef3ff",
           "function": "#ffd9d9", "table": "#d8f3dc"}


def _node(box: Box, node: Node) -> str:
    label = node.label if len(node.label) <= 42 else node.label[:41] + "…"
    return (f'<g class="node {node.layer}" id="{node.id}"><title>{escape(node.label)}</title>'
            f'<rect x="{box.x:.0f}" y="{box.y:.0f}" width="{box.w:.0f}" height="{box.h:.0f}" '
            f'rx="{14 if node.layer == "table" else 4}" fill="{COLOURS[node.layer]}" '
            f'stroke="#555"/><text x="{box.x + box.w / 2:.0f}" y="{box.y + box.h / 2 + 4:.0f}" '
            f'text-anchor="middle">{escape(label)}</text></g>')


def _edge(a: Box, b: Box, edge: Edge) -> str:
    x1, y1 = a.x + a.w, a.y + a.h / 2
    x2, y2 = b.x, b.y + b.h / 2
    if b.x <= a.x:  # same column (a certificate to the distribution): go around the right
        x1, x2 = a.x + a.w, b.x + b.w
    bend = max(40.0, abs(x2 - x1) / 2)
    dash = ' stroke-dasharray="4 3"' if edge.dashed else ""
    path = f"M {x1:.0f} {y1:.0f} C {x1 + bend:.0f} {y1:.0f}, {x2 - bend:.0f} {y2:.0f}, " \
           f"{x2:.0f} {y2:.0f}"
    if b.x <= a.x:
        path = f"M {x1:.0f} {y1:.0f} C {x1 + 40:.0f} {y1:.0f}, {x2 + 40:.0f} {y2:.0f}, " \
               f"{x2:.0f} {y2:.0f}"
    label = ""
    if edge.label:
        label = (f'<text x="{(x1 + x2) / 2:.0f}" y="{(y1 + y2) / 2 - 4:.0f}" '
                 f'text-anchor="middle" fill="#333" font-size="10">{escape(edge.label)}</text>')
    return (f'<g class="edge" data-from="{edge.source}" data-to="{edge.target}">'
            f'<path d="{path}" fill="none" stroke="#555"{dash} marker-end="url(#arrow)"/>'
            f"{label}</g>")
