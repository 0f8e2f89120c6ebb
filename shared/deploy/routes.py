"""Service routes in the edge's KeyValueStore: registered on deploy, removed on removal.

``RouteRegistry`` is what the engine uses: ``register(service)`` writes the service's
entry (its API domain from its stack, the stage, its origin secret), ``deregister``
removes it, ``table()`` compares the live store with config. Values are never printed:
they carry the origin secret.

Two stores behind one small protocol:
- ``KeyValueStoreRoutes``: the CloudFront KeyValueStore API, acting as the edge's route
  registrar role (which may write only that store), reached by role chaining from the
  service account's deploy role. Writes need the store's current ETag (optimistic
  locking: a concurrent write fails with ConflictException and is retried):
  https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_PutKey.html
  The API signs with SigV4A (botocore needs awscrt) and needs version-2 session tokens
  from a regional STS endpoint:
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-function-restrictions.html
- ``FileRoutes``: the local cloud's stand-in, one JSON file under ``build/local/``,
  written atomically under a lock so ``archway deploy --env local`` and a running
  ``archway local`` share it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from archway.shared.errors import ArchwayError
from archway.shared.routes import RouteEntry, RouteEntryError

CONFLICT_RETRIES = 5


class RouteError(ArchwayError):
    exit_code = 1


class RouteStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...

    def delete(self, key: str) -> None: ...

    def items(self) -> dict[str, str]: ...


class KeyValueStoreRoutes:
    """The CloudFront KeyValueStore data plane (``cloudfront-keyvaluestore``)."""

    def __init__(self, client: Any, arn: str) -> None:
        self.client = client
        self.arn = arn

    def _etag(self) -> str:
        return str(self.client.describe_key_value_store(KvsARN=self.arn)["ETag"])

    def _with_etag(self, call: Callable[[str], Any], missing_ok: bool = False) -> None:
        """``call(etag)`` with the store's current ETag; a concurrent write (conflict) is
        retried with a fresh one."""
        for attempt in range(CONFLICT_RETRIES):
            try:
                call(self._etag())
                return
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code in {"ConflictException", "PreconditionFailed"} and \
                        attempt < CONFLICT_RETRIES - 1:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                if code == "ResourceNotFoundException" and missing_ok:
                    return
                raise RouteError(f"route store {self.arn}: {code}: "
                                 f"{exc.response['Error'].get('Message', '')}") from None

    def get(self, key: str) -> str | None:
        try:
            return str(self.client.get_key(KvsARN=self.arn, Key=key)["Value"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise RouteError(f"route store {self.arn}: {exc}") from None

    def put(self, key: str, value: str) -> None:
        def put_key(etag: str) -> None:
            self.client.put_key(KvsARN=self.arn, Key=key, Value=value, IfMatch=etag)
        self._with_etag(put_key)

    def delete(self, key: str) -> None:
        def delete_key(etag: str) -> None:
            self.client.delete_key(KvsARN=self.arn, Key=key, IfMatch=etag)
        self._with_etag(delete_key, missing_ok=True)

    def items(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in self.client.get_paginator("list_keys").paginate(KvsARN=self.arn):
            found.update({item["Key"]: item["Value"] for item in page.get("Items", [])})
        return found


class FileRoutes:
    """The local stand-in: ``{key: value}`` in one JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, str]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data = self.items()
            yield data
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".routes-")
            with os.fdopen(fd, "w") as out:
                json.dump(data, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)

    def get(self, key: str) -> str | None:
        return self.items().get(key)

    def put(self, key: str, value: str) -> None:
        with self._locked() as data:
            data[key] = value

    def delete(self, key: str) -> None:
        with self._locked() as data:
            data.pop(key, None)

    def items(self) -> dict[str, str]:
        try:
            return dict(json.loads(self.path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return {}
        except ValueError:
            raise RouteError(f"{self.path}: not a route store (delete it and redeploy the "
                             "services)") from None


@dataclass(frozen=True)
class RouteRow:
    """One line of the route table: config against the live store."""

    service: str
    state: str  # registered | missing | stale | orphan
    detail: str


class RouteRegistry:
    """Registration on top of a store; ``expected(service)`` gives the entry config wants."""

    def __init__(self, store: RouteStore, expected: Callable[[str], RouteEntry | None],
                 configured: list[str]) -> None:
        self.store = store
        self.expected = expected
        self.configured = configured

    def register(self, service: str) -> str:
        """Write the service's entry when it differs; returns what happened (no secret)."""
        entry = self.expected(service)
        if entry is None:
            return "not registered: its API is not deployed"
        try:
            entry.checked()
        except RouteEntryError as exc:
            raise RouteError(str(exc)) from None
        if self.store.get(entry.key) == entry.value():
            return f"/api/{service}/* -> {entry.domain}/{entry.stage} (unchanged)"
        self.store.put(entry.key, entry.value())
        return f"/api/{service}/* -> {entry.domain}/{entry.stage}"

    def deregister(self, service: str) -> None:
        self.store.delete(service)

    def prune(self) -> list[str]:
        """Remove entries of services that config no longer has; returns their names."""
        gone = sorted(set(self.store.items()) - set(self.configured))
        for service in gone:
            self.store.delete(service)
        return gone

    def table(self) -> list[RouteRow]:
        live = self.store.items()
        rows = []
        for service in self.configured:
            entry = self.expected(service)
            value = live.get(service)
            if value is None:
                rows.append(RouteRow(service, "missing", "not in the route store: deploy "
                                     f"the service (archway deploy service {service})"))
                continue
            try:
                current = RouteEntry.parse(service, value)
            except RouteEntryError as exc:
                rows.append(RouteRow(service, "stale", str(exc)))
                continue
            target = f"{current.domain}/{current.stage}"
            if entry is not None and value != entry.value():
                rows.append(RouteRow(service, "stale", f"-> {target}; the deployed API is "
                                     f"{entry.domain}/{entry.stage} or its secret changed"))
            else:
                rows.append(RouteRow(service, "registered", f"-> {target}"))
        for service in sorted(set(live) - set(self.configured)):
            rows.append(RouteRow(service, "orphan", "in the store but not in config: removed "
                                 "by the next archway deploy edge"))
        return rows
