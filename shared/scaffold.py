"""``archway new service <name>``: a service folder that passes every gate once its
accounts are filled in.

Writes ``services/<name>/``: ``service.yaml`` (one table, two functions, three routes;
an account per environment from ``--account env=ID``, the local one picked free, the
others clear placeholders that fail validation until filled), a Powertools handler,
REST proxy event fixtures and handler tests on the service test kit
(``archway.shared.testing``: tables come from service.yaml). Nothing is written when
anything is wrong; the folder must not exist yet.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from archway.shared.errors import ArchwayError, ConfigError
from archway.shared.routes import SERVICE_KEY

ACCOUNT = re.compile(r"^\d{12}$")
LOCAL_ACCOUNT_BASE = 100000000000  # the local cloud's fake accounts: 1000000000NN
PLACEHOLDER = "REPLACE-WITH-{env}-ACCOUNT-ID"


class ScaffoldError(ArchwayError):
    exit_code = 2


def environments(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / "config" / "environments").glob("*.yaml"))


def used_accounts(root: Path) -> set[str]:
    """Every 12-digit id that any config file mentions (accounts, not to reuse locally)."""
    found: set[str] = set()
    for path in [*(root / "config").rglob("*.yaml"), *(root / "services").glob("*/service.yaml")]:
        found |= set(re.findall(r"\b\d{12}\b", path.read_text(encoding="utf-8")))
    return found


def accounts_for(root: Path, given: dict[str, str]) -> dict[str, str]:
    accounts = {}
    used = used_accounts(root)
    for env in environments(root):
        if env in given:
            accounts[env] = given[env]
        elif env == "local":
            accounts[env] = next(str(n) for n in range(LOCAL_ACCOUNT_BASE + 1, 10**12)
                                 if str(n) not in used)
        else:
            accounts[env] = PLACEHOLDER.format(env=env.upper())
    return accounts


def parse_accounts(values: list[str], envs: list[str]) -> dict[str, str]:
    given = {}
    for value in values:
        env, _, account = value.partition("=")
        if env not in envs:
            raise ScaffoldError(f"--account {value}: unknown environment {env!r} "
                                f"(known: {', '.join(envs)})")
        if not ACCOUNT.match(account):
            raise ScaffoldError(f"--account {value}: an account id is 12 digits "
                                f"(got {account!r})")
        given[env] = account
    return given


def service_yaml(name: str, owner: str, accounts: dict[str, str]) -> str:
    lines = "\n".join(f'  {env}: "{account}"' for env, account in accounts.items())
    return f"""# yaml-language-server: $schema=../../schema/service.schema.json
# The {name} service. Reference: services/catalog/service.yaml and `archway schema`.
name: {name}
owner: {owner}
runtime: python3.12
accounts:
{lines}

tables:
  items:
    partition_key: {{name: id, type: S}}

functions:
  items:
    handler: items.handler
    memory: 256
    timeout: 5
    reads: [items]
    writes: [items]

routes:
  - {{method: GET, path: /items, function: items}}
  - {{method: POST, path: /items, function: items}}
  - {{method: GET, path: "/items/{{id}}", function: items}}

throttling: {{rate: 50, burst: 100}}
"""


HANDLER = '''"""/api/{name}/items: list, create and read items (Powertools REST resolver)."""

from __future__ import annotations

import json
import os
import uuid
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError

app = APIGatewayRestResolver()
logger = Logger()


@cache
def table() -> Any:
    """The items table (its name comes from the ITEMS_TABLE environment variable)."""
    return boto3.resource("dynamodb").Table(os.environ["ITEMS_TABLE"])


@app.get("/api/{name}/items")
def list_items() -> Response:
    items = table().scan(Limit=50)["Items"]
    return Response(200, "application/json", {{"items": items}},
                    headers={{"Cache-Control": "no-store"}})


@app.post("/api/{name}/items")
def create_item() -> Response:
    try:
        body = json.loads(app.current_event.body or "")
    except ValueError:
        raise BadRequestError("body must be JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("name"), str) or \\
            not body["name"].strip():
        raise BadRequestError("name must be a non-empty string")
    item = {{"id": uuid.uuid4().hex, "name": body["name"].strip()[:200]}}
    table().put_item(Item=item)
    return Response(201, "application/json", item, headers={{"Cache-Control": "no-store"}})


@app.get("/api/{name}/items/<item_id>")
def get_item(item_id: str) -> Response:
    item = table().get_item(Key={{"id": item_id}}).get("Item")
    if item is None:
        raise NotFoundError(f"no item {{item_id}}")
    return Response(200, "application/json", item)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
'''

CONFTEST = '''"""{title} handler tests: Archway's service test kit (tables from service.yaml)."""

from archway.shared.testing import call, event, service, src_module, tables  # noqa: F401
'''

TESTS = '''"""{title} handlers on DynamoDB (moto), fed real API Gateway REST proxy events."""

from __future__ import annotations


def test_created_items_can_be_read_and_listed(tables, src_module, event, call) -> None:
    items = src_module("items")
    # GIVEN an item created through the API
    created = call(items, event("create_item", body={{"name": "First"}}))
    assert created.status == 201
    # WHEN it is read back by id, and the items are listed
    read = call(items, event("get_item", path_params={{"id": created.body["id"]}}))
    listed = call(items, event("list_items"))
    # THEN both show it
    assert (read.status, read.body["name"]) == (200, "First")
    assert [i["id"] for i in listed.body["items"]] == [created.body["id"]]


def test_unknown_item_is_a_json_404(tables, src_module, event, call) -> None:
    reply = call(src_module("items"), event("get_item", path_params={{"id": "nope"}}))
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "application/json"


def test_an_item_needs_a_name(tables, src_module, event, call) -> None:
    reply = call(src_module("items"), event("create_item", body={{"name": " "}}))
    assert reply.status == 400
'''


def rest_event(name: str, method: str, resource: str) -> dict[str, object]:
    """An API Gateway REST proxy event (format 1.0) as CloudFront forwards it."""
    headers = {"Accept": "application/json", "Content-Type": "application/json",
               "Host": "abcd123456.execute-api.eu-west-1.amazonaws.com",
               "User-Agent": "Amazon CloudFront", "X-Forwarded-Proto": "https"}
    return {
        "resource": resource, "path": resource, "httpMethod": method,
        "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": f"/live{resource}",
            "stage": "live", "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012", "apiId": "abcd123456", "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "Amazon CloudFront"},
            "requestTimeEpoch": 1764000000000,
        },
    }


def files(name: str, owner: str, accounts: dict[str, str]) -> dict[str, str]:
    title = name.replace("-", " ").capitalize()
    base = f"/api/{name}/items"
    events = {"list_items": ("GET", base), "create_item": ("POST", base),
              "get_item": ("GET", base + "/{id}")}
    out = {
        "service.yaml": service_yaml(name, owner, accounts),
        "src/items.py": HANDLER.format(name=name),
        "tests/conftest.py": CONFTEST.format(title=title),
        f"tests/test_{name.replace('-', '_')}_handlers.py": TESTS.format(title=title),
    }
    for event, (method, resource) in events.items():
        out[f"tests/events/{event}.json"] = json.dumps(
            rest_event(event, method, resource), indent=2) + "\n"
    return out


def new_service(root: Path, name: str, owner: str | None, account_args: list[str]) -> Path:
    if not SERVICE_KEY.match(name):
        raise ConfigError("services/", "name", "a service name is a lowercase letter, then "
                          f"letters, digits or '-', at most 63 characters (got {name!r})")
    folder = root / "services" / name
    if folder.exists():
        raise ScaffoldError(f"services/{name}/ already exists: pick another name")
    if not (root / "config" / "platform.yaml").is_file():
        raise ScaffoldError(f"{root}: not an Archway repository (no config/platform.yaml)")
    envs = environments(root)
    accounts = accounts_for(root, parse_accounts(account_args, envs))
    for relative, text in files(name, owner or f"team-{name}", accounts).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def next_steps(name: str, accounts: dict[str, str]) -> list[str]:
    missing = [env for env, account in accounts.items() if not ACCOUNT.match(account)]
    steps = []
    if missing:
        steps.append(f"fill in the account of {', '.join(missing)} in services/{name}/"
                     "service.yaml (or rerun with --account ENV=ID)")
    steps += [
        "tox                                      # gates: lint, your tests and the platform's",
        "tox -e local                             # the platform on 127.0.0.1, with "
        f"/api/{name}/items",
        f"tox -e deploy-service -- {name}          # into a running local cloud, no restart",
        "on AWS, once per new account: the platform team bootstraps it (archway bootstrap "
        "--env ENV) and deploys the edge (its route registrar then trusts the account)",
        f"tox -e deploy-service -- {name} --env dev # your stack; its route registers itself",
        f"archway deploy pipelines                  # adds the {name} pipeline (tooling "
        "account)",
    ]
    return steps


def cmd_new(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    folder = new_service(root, args.name, args.owner, args.account or [])
    text = (folder / "service.yaml").read_text(encoding="utf-8")
    accounts = dict(re.findall(r'^  (\w+): "([^"]+)"$', text, re.M))
    print(f"created services/{args.name}/ (service.yaml, src/items.py, tests/)")
    print("next:")
    for number, step in enumerate(next_steps(args.name, accounts), 1):
        print(f"  {number}. {step}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("new", help="scaffold a new service: archway new service <name>")
    kinds = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    service = kinds.add_parser("service", help="services/<name>/: service.yaml, handler, tests")
    service.add_argument("name", help="the service name (also its /api/<name>/ path)")
    service.add_argument("--owner", help="owning team (default team-<name>)")
    service.add_argument("--account", action="append", metavar="ENV=ID",
                         help="the service's AWS account in ENV (repeatable)")
    service.add_argument("--root", type=Path, default=Path("."), help="repository root")
    service.set_defaults(handler=cmd_new)
