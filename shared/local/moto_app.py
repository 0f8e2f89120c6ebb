"""moto's application behind uvicorn, so that connections to it are kept alive.

``python -m moto.server`` serves moto with werkzeug's development server, which answers
every request with ``Connection: close``: each AWS call of a handler or of the engine
then opens a new TCP connection (about 1.6 ms of a 7 ms cache miss). The same WSGI
application (moto's ``DomainDispatcherApplication``, as ``moto.server`` builds it) is
served here by uvicorn through a2wsgi: HTTP/1.1 keep-alive, one thread per request from
a pool, bound to 127.0.0.1 only. Run by MotoServer as a child process::

    python -m archway.shared.local.moto_app <host> <port> [<service>,...]

The services named are made ready before the port opens (see ``_preload``).
"""

from __future__ import annotations

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

    from archway.shared.local.quiet_server import QuietServer

    _list_moto_modules_once()
    _regions_without_service_models()
    app = DomainDispatcherApplication(create_backend_app)
    _preload(app, preload)
    config = uvicorn.Config(WSGIMiddleware(app, workers=WSGI_THREADS),  # type: ignore[arg-type]
                            host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off", timeout_keep_alive=KEEP_ALIVE,
                            timeout_graceful_shutdown=2)
    server = QuietServer(config)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run does when it could not start (the port taken)


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


if __name__ == "__main__":
    main(sys.argv[1:])
