"""moto's application behind uvicorn, so that connections to it are kept alive.

``python -m moto.server`` serves moto with werkzeug's development server, which answers
every request with ``Connection: close``: each AWS call of a handler or of the engine
then opens a new TCP connection (about 1.6 ms of a 7 ms cache miss). The same WSGI
application (moto's ``DomainDispatcherApplication``, as ``moto.server`` builds it) is
served here by uvicorn through a2wsgi: HTTP/1.1 keep-alive, one thread per request from
a pool, bound to 127.0.0.1 only. DynamoDB's item results (a handler's every query) are
written as JSON directly instead of through moto 5.2's model-driven serializer, and a
projection converts each item once. Run by MotoServer as a child process::

    python -m archway.shared.local.moto_app <host> <port> [<service>,...]

The services named are made ready before the port opens (see ``_preload``).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

WSGI_THREADS = 32  # concurrent requests into moto (Lambda workers and the engine)
KEEP_ALIVE = 300  # seconds an idle connection stays open (botocore reuses it meanwhile)


def main(argv: list[str]) -> None:
    host, port = argv[0], int(argv[1])
    preload = [name for name in (argv[2] if len(argv) > 2 else "").split(",") if name]
    if host != "127.0.0.1":
        sys.exit(f"moto_app: binds 127.0.0.1 only, got {host}")
    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs from it

    import uvicorn
    from a2wsgi import WSGIMiddleware
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from archway.shared.local import moto_dynamodb
    from archway.shared.local.quiet_server import QuietServer

    _list_moto_modules_once()
    _method_names_once()
    _regions_without_service_models()
    _serialize_item_results_directly()
    _project_once()
    moto_dynamodb.install()
    app = DomainDispatcherApplication(create_backend_app)
    _preload(app, preload)
    _freeze_heap()
    pooled = WSGIMiddleware(app, workers=WSGI_THREADS)  # type: ignore[arg-type]
    # proxy_headers=False: no proxy stands before moto (uvicorn would otherwise read
    # X-Forwarded-For on every request: 0.08 ms of a keep-alive POST's 0.29).
    config = uvicorn.Config(InlineReads(app, pooled),
                            host=host, port=port, http="httptools", log_level="warning",
                            access_log=False, lifespan="off", timeout_keep_alive=KEEP_ALIVE,
                            timeout_graceful_shutdown=2, proxy_headers=False)
    server = QuietServer(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run does when it could not start (the port taken)


# DynamoDB operations that only read moto's memory (no stream, no other service, no I/O)
# and read a bounded amount (a Query one 1 MB page, a BatchGetItem at most 100 items).
# A Scan, which moto answers by sorting and copying the whole table (the local cloud's
# saver scans every table), stays on the pool, sharing the process with the others.
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
INLINE_TARGETS = frozenset(f"DynamoDB_20120810.{operation}".encode()
                           for operation in ("GetItem", "Query", "BatchGetItem"))


class InlineReads:
    """An ASGI app answering DynamoDB's reads on the server's event loop, the rest through
    a thread pool (a2wsgi).

    a2wsgi runs each request on a pool thread that hands the request body, the response
    head and each body chunk to the event loop and waits for it: four thread hand-offs per
    request. A read of moto's DynamoDB memory needs no thread: its request is read whole,
    moto's own DynamoDB app (the one the dispatcher would choose: a SigV4 request for
    ``dynamodb``, API version 2012-08-10, at ``/``) answers it on the loop, and its answer
    is sent as it is. Measured in one process (the catalog search's Query through the ASGI
    app, minimum of 8 rounds of 200, load average 4 on 2 cores): 1.87 -> 1.31 ms of CPU
    per Query (3.20 -> 2.46 ms without moto_dynamodb). A read holds the loop while moto
    answers it, so only the bounded reads of INLINE_TARGETS are answered here."""

    def __init__(self, dispatcher: Any, pooled: Any) -> None:
        self.dispatcher = dispatcher
        self.pooled = pooled

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = self._inline_app(scope)
        if app is None:
            await self.pooled(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, headers, content = self._answer(app, scope, bytes(body))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _inline_app(self, scope: Any) -> Any:
        if scope["type"] != "http" or scope["path"] != "/" or scope["method"] != "POST":
            return None
        target = authorization = None
        for name, value in scope["headers"]:
            if name == b"x-amz-target":
                target = value
            elif name == b"authorization":
                authorization = value
        if target not in INLINE_TARGETS or authorization is None \
                or b"/dynamodb/aws4_request" not in authorization.split(b",", 1)[0]:
            return None
        return self.dispatcher.app_instances.get("dynamodb")

    @staticmethod
    def _answer(app: Any, scope: Any, body: bytes) -> tuple[int, list[Any], bytes]:
        """What moto's DynamoDB app answers, without its Flask app around moto's handler:
        the request built as the app builds it, the handler's dispatch called as the app's
        view calls it, the answer's headers as Flask's response and moto's global CORS
        give them to a request without an Origin (an SDK's; a browser's, which CORS
        answers in kind, goes through the app). Measured in one process, the catalog
        search's Query through Flask and then directly, 15 alternating rounds of 200:
        1.61 -> 1.15 ms of CPU (medians, load average 3.6 on 2 cores).
        tests/local/test_moto_app.py compares the two for reads, errors, a browser's
        request and bodies werkzeug would parse as a form."""
        from moto.core.utils import convert_to_flask_response

        view = app.view_functions.get("DynamoHandler.dispatch")
        if not isinstance(view, convert_to_flask_response) or any(
                name == b"origin" for name, _ in scope["headers"]):
            return _answer_through_flask(app, scope, body)
        return _answer_direct(view, scope, body)


# The media type of DynamoDB's requests; werkzeug parses no form from it, so the form and
# files it would find are empty and the body is the data, as set up front below.
DYNAMODB_JSON = "application/x-amz-json-1.0"


def _answer_direct(view: Any, scope: Any, body: bytes) -> tuple[int, list[Any], bytes]:
    import io

    from a2wsgi.wsgi import build_environ
    from botocore.exceptions import ClientError
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest
    from werkzeug.datastructures import ImmutableMultiDict

    request = BackendRequest(build_environ(scope, io.BytesIO(body)))  # type: ignore[arg-type]
    if request.mimetype == DYNAMODB_JSON and not request.content_encoding:
        request.__dict__["form"] = request.__dict__["files"] = ImmutableMultiDict()
        request._cached_data = body
    recorder._record_request(request)
    try:
        result = view.callback(request, request.raw_url, dict(request.headers))
    except ClientError as exc:
        result = 400, {}, exc.response["Error"]["Message"]
    status, headers, content = result if len(result) == 3 else (200, {}, result)
    raw = content.encode("utf-8") if isinstance(content, str) else bytes(content or b"")
    head = {name.lower(): str(value) for name, value in headers.items()}
    head.setdefault("content-type", "text/html; charset=utf-8")  # Flask's default
    head["content-length"] = str(len(raw))
    if not _cors_disabled():
        head["access-control-allow-origin"] = "*"
    return int(status), [(name.encode("latin1"), value.encode("latin1"))
                         for name, value in head.items()], raw


def _cors_disabled() -> bool:
    from moto import settings

    return bool(settings.DISABLE_GLOBAL_CORS)


def _answer_through_flask(app: Any, scope: Any, body: bytes) -> tuple[int, list[Any], bytes]:
    import io

    from a2wsgi.wsgi import build_environ

    environ = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type]
    chunks: list[bytes] = []
    head: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        head[:] = [int(status.split(" ", 1)[0]),
                   [(name.strip().encode("latin1").lower(), value.strip().encode("latin1"))
                    for name, value in headers]]
        return chunks.append

    iterable = app(environ, start_response)
    try:
        chunks.extend(iterable)
    finally:
        getattr(iterable, "close", lambda: None)()
    return head[0], head[1], b"".join(chunks)


def _list_moto_modules_once() -> None:
    """moto's dispatcher asks ``moto.backends.list_of_moto_modules()`` on every request,
    which lists moto's package folder and stats each of its ~150 entries again (profiled:
    the largest part of a ListTables' time in moto's own dispatch). The folders of an
    installed package do not change while it runs: list them once."""
    from moto import backends

    listing = getattr(backends, "list_of_moto_modules", None)
    if listing is None:  # another moto: nothing to do
        return
    modules = tuple(listing())
    backends.list_of_moto_modules = lambda: iter(modules)  # type: ignore[assignment]


def _method_names_once() -> None:
    """moto's ``BaseResponse.call_action`` lists its handler class's methods with
    ``inspect.getmembers`` on every request (profiled: 5% of moto's time for the catalog
    search's Query, about 0.1 ms). The classes do not change while moto runs: each is
    listed once, and each caller gets its own copy of the list."""
    from moto.core import responses

    listing = getattr(responses, "method_names_from_class", None)
    if listing is None or getattr(listing, "archway_once", False):  # another moto, or done
        return
    listed: dict[type, list[str]] = {}

    def method_names(clazz: type) -> list[str]:
        names = listed.get(clazz)
        if names is None:
            names = listed[clazz] = listing(clazz)
        return list(names)

    method_names.archway_once = True  # type: ignore[attr-defined]
    responses.method_names_from_class = method_names  # type: ignore[assignment]


# Services whose endpoint prefix (in their service model's metadata) is their own name and
# whose regions moto lists at the local cloud's start: those it uses, and EC2, whose backend
# moto's SSM imports.
OWN_PREFIX = frozenset({"ec2", "ssm", "s3", "dynamodb", "sts"})


def _regions_without_service_models() -> None:
    """moto lists a backend's regions with boto3's ``Session.get_available_regions``, which
    loads the whole service model only to read its endpoint prefix (profiled: EC2's model,
    several MB of JSON, is most of the time SSM's first request takes, because moto's SSM
    imports its EC2 backend; the others are loaded again by moto's own loader to answer
    requests). For the services of OWN_PREFIX the endpoints file alone answers, with the
    same regions (tests/local/test_moto_app.py compares them)."""
    from boto3.session import Session

    real = Session.get_available_regions

    def regions(self: Session, service_name: str, partition_name: str = "aws",
                allow_non_regional: bool = False) -> list[str]:
        if service_name not in OWN_PREFIX:
            return real(self, service_name, partition_name, allow_non_regional)
        resolver = self._session._get_internal_component("endpoint_resolver")
        return list(resolver.get_available_endpoints(service_name, partition_name,
                                                     allow_non_regional))

    Session.get_available_regions = regions  # type: ignore[method-assign]


def _preload(app: Any, services: list[str]) -> None:
    """moto imports a service's backend and builds its Flask app on that service's first
    request, under the dispatcher's one lock (profiled at the local cloud's start: SSM's
    first call imports moto's EC2 models, over a second, while every other call waits).
    Doing it before the port opens moves that work off the deploy's critical path: the
    local cloud starts moto first and synthesizes meanwhile."""
    for service in services:
        if service not in app.app_instances:
            app.app_instances[service] = app.create_app(service)


def _freeze_heap() -> None:
    """What moto has imported and built by now (its models, backends and Flask apps: about
    290,000 objects) lives as long as the process. Frozen, it leaves the garbage
    collector's generations, and the collections that a few hundred requests' garbage
    sets off stop walking it: measured in one process over 3,000 of the catalog search's
    Queries, 0.16 -> 0.05 ms of collection per Query (1.21 -> 1.14 ms of CPU).
    https://docs.python.org/3/library/gc.html#gc.freeze"""
    import gc

    gc.collect()
    gc.freeze()


# DynamoDB's data-plane operations: their results are items ({name: {type: value}}),
# counts and capacities, which moto has already turned into the wire's JSON shape.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                             "BatchGetItem"})


class NotPlain(Exception):
    """A value JSON does not carry as it is (bytes, a time): moto's serializer must."""


def _plain(value: Any) -> Any:
    """``value`` as the JSON serializer writes it: None members left out; NotPlain for a
    value that needs the output shape (binary as base64, timestamps)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise NotPlain(type(value).__name__)


def _serialize_item_results_directly() -> None:
    """moto 5.2 writes every DynamoDB answer through its generic, model-driven serializer,
    which looks up each of the ten members of every attribute value's shape under several
    aliases: profiled, over half of moto's time for the catalog search's Query (8 items of
    4 attributes). Measured in the moto process, CPU per such Query: 10.3 ms with moto 5.2.5's
    serializer, 6.2 ms with this (5.3 ms on moto 5.1.22, 7.8 on 5.0.28; medians of 300,
    load average 3.6 on 2 cores). The results of the item operations are already in the wire's JSON
    shape (moto's ``dynamo_to_dict``), so they are written with ``json.dumps`` as moto 5.1
    did; anything else, or an item holding binary, still goes through moto's serializer.
    tests/local/test_moto_app.py checks that both give the same answers."""
    try:
        from moto.dynamodb.responses import DynamoResult
    except ImportError:  # another moto: nothing to do
        return
    serializer = DynamoResult.execute_result
    if getattr(serializer, "archway_direct", False):
        return

    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model
        if operation.name in ITEM_OPERATIONS and operation.service_model.protocol == "json":
            try:
                body = json.dumps(_plain(self.result), separators=(",", ":"))
            except NotPlain:
                return serializer(self, context)
            version = operation.service_model.metadata.get("jsonVersion", "1.0")
            return 200, {"Content-Type": f"application/x-amz-json-{version}"}, body
        return serializer(self, context)

    execute_result.archway_direct = True  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


def _project_once() -> None:
    """moto's ``Item.project`` (a ProjectionExpression) converts the whole item to plain
    Python once per projected path: 4 paths, 4 conversions of every attribute of every item
    found. Where no two paths start with the same attribute, each path reads its own part of
    the item and nothing is merged into another's, so one conversion serves them all
    (measured: 110-130 us -> 55 us of CPU per item of the catalog search's 4-path
    projection); overlapping paths keep moto's own method."""
    try:
        from botocore.utils import merge_dicts
        from moto.dynamodb.models.dynamo_type import Item, serializer
        from moto.dynamodb.models.utilities import find_nested_key
    except ImportError:  # another moto: nothing to do
        return
    project = Item.project
    if getattr(project, "archway_once", False):
        return

    def project_once(self: Any, projection_expressions: list[list[str]]) -> Any:
        firsts = [path[0].split("[", 1)[0] for path in projection_expressions]
        if len(set(firsts)) != len(firsts):
            return project(self, projection_expressions)
        regular = self.to_regular_json()
        result: dict[str, Any] = {}
        for path in projection_expressions:
            merge_dicts(result, find_nested_key(path, regular))
        return Item(hash_key=self.hash_key, range_key=self.range_key,
                    attrs=serializer.serialize(result)["M"])

    project_once.archway_once = True  # type: ignore[attr-defined]
    project_once.archway_original = project  # type: ignore[attr-defined]
    Item.project = project_once  # type: ignore[method-assign]


if __name__ == "__main__":
    main(sys.argv[1:])
