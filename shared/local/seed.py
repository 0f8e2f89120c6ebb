"""Sample data for the local cloud: services/<svc>/seed/<table>.json, written as-is.

Each file is a JSON list of items for the table of that name; numbers become Decimals.
Seeding is idempotent (put_item overwrites the same keys) and only ever runs against
the local cloud. Tables restored from saved local data (``skip``) are not seeded: what a
developer changed or deleted there stays as they left it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from archway.shared.errors import ConfigError
from archway.shared.model import Platform

ClientFactory = Callable[[str, str, str], Any]


def seed_files(platform: Platform) -> list[tuple[str, str, Path]]:
    """(service, table, file) for every seed file of the platform's services."""
    found = []
    for service in platform.services:
        folder = service.source_dir.parent / "seed"
        for path in sorted(folder.glob("*.json")):
            if path.stem not in service.tables:
                rel = path.relative_to(platform.root).as_posix()
                raise ConfigError(rel, "", f"no table {path.stem!r} in service {service.name!r}")
            found.append((service.name, path.stem, path))
    return found


def seed(platform: Platform, client: ClientFactory, log: Callable[[str], None] = print,
         skip: frozenset[str] | set[str] = frozenset()) -> int:
    """Write every seed file into its table; returns the number of items written."""
    total = 0
    for service_name, table_name, path in seed_files(platform):
        service = platform.service(service_name)
        table = service.tables[table_name]
        if table.physical in skip:
            log(f"kept the saved items of {service_name}/{table_name} (not seeded)")
            continue
        items = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        dynamodb = client("dynamodb", service.account, service.region)
        for chunk in _chunks(items, 25):
            requests = [{"PutRequest": {"Item": _marshal(item)}} for item in chunk]
            _write_all(dynamodb, table.physical, requests)
        log(f"seeded {len(items):>3} items into {service_name}/{table_name} "
            f"({table.physical}, account {service.account})")
        total += len(items)
    return total


def _write_all(dynamodb: Any, table: str, requests: list[dict[str, Any]]) -> None:
    pending = {table: requests}
    for _ in range(5):
        response = dynamodb.batch_write_item(RequestItems=pending)
        pending = response.get("UnprocessedItems") or {}
        if not pending:
            return
    raise RuntimeError(f"could not seed {table}: items left unprocessed")


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _marshal(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(value) for key, value in item.items()}
