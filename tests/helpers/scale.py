"""Repositories with many generated services, shared by tests/functional/test_scale.py and
bench/routes.py.

A scale repo is a copy of this repository's ``config/`` and ``platform/`` (no Python: the
blueprints are imported from the installed package) plus ``count`` tiny services, each
modelled on ``services/catalog/service.yaml``: one function, one cached GET route, a
``src/`` with its handler. Services spread over ``ACCOUNTS_PER_ENV`` accounts per
environment, as many teams share a few workload accounts.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
from pathlib import Path

from archway.shared.routes import API_ID_CHARS, RouteEntry

REPO = Path(__file__).resolve().parents[2]
ACCOUNTS_PER_ENV = 10
# First digit of the generated account ids per environment (platform accounts end in 0s).
ACCOUNT_PREFIX = {"local": "1", "dev": "2", "prod": "3"}

SERVICE_YAML = """\
# Generated for scale tests: one function, one route.
name: {name}
owner: team-{name}
runtime: python3.12
accounts:
{accounts}
functions:
  hello:
    handler: hello.handler
    memory: 128
    timeout: 5
routes:
  - {{method: GET, path: /hello, function: hello, cache_ttl: 30}}
throttling: {{rate: 50, burst: 100}}
"""

HANDLER = '''\
"""GET /api/{name}/hello"""

import json


def handler(event, context):
    return {{"statusCode": 200, "headers": {{"content-type": "application/json"}},
            "body": json.dumps({{"service": "{name}"}})}}
'''


def service_name(index: int) -> str:
    """``svc0000``, ``svc0001``, ...: valid service names and route keys."""
    return f"svc{index:04d}"


def account(env: str, index: int) -> str:
    """The workload account of service ``index`` in ``env`` (one of ACCOUNTS_PER_ENV)."""
    prefix = ACCOUNT_PREFIX.get(env, "4")
    return f"{prefix}5{index % ACCOUNTS_PER_ENV:010d}"


def environments(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "config" / "environments").glob("*.yaml"))


def write_service(root: Path, name: str, index: int, envs: list[str]) -> Path:
    folder = root / "services" / name
    (folder / "src").mkdir(parents=True, exist_ok=True)
    accounts = "\n".join(f'  {env}: "{account(env, index)}"' for env in envs)
    (folder / "service.yaml").write_text(SERVICE_YAML.format(name=name, accounts=accounts),
                                         encoding="utf-8")
    (folder / "src" / "hello.py").write_text(HANDLER.format(name=name), encoding="utf-8")
    return folder


def scale_repo(root: Path, count: int) -> list[str]:
    """Make ``root`` a repository with ``count`` generated services; returns their names."""
    shutil.copytree(REPO / "config", root / "config")
    shutil.copytree(REPO / "platform", root / "platform",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    envs = environments(root)
    names = [service_name(i) for i in range(count)]
    for index, name in enumerate(names):
        write_service(root, name, index, envs)
    return names


def api_id(service: str) -> str:
    """A fake REST API id: 10 lowercase letters and digits, as API Gateway's are."""
    return hashlib.sha256(service.encode()).hexdigest()[:API_ID_CHARS]


def route_entry(service: str, stage: str = "live", region: str = "eu-west-1") -> RouteEntry:
    """The entry a deploy would register: own API domain, stage and a fresh origin secret."""
    domain = f"{api_id(service)}.execute-api.{region}.amazonaws.com"
    return RouteEntry(service, domain, stage, secrets.token_urlsafe(32)).checked()
