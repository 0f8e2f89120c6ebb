"""Local data that survives restarts: service tables and buckets saved under build/local/data.

moto's server keeps everything in memory and has no snapshot or restore API (its
``/moto-api/`` offers reset, a read-only data dump and a request recorder), so the data is
dumped through the AWS APIs: every item of every service table (DynamoDB JSON, as Scan
returns it) and every object of every service bucket. A save writes one file per table
or bucket, each to a temporary file first and then ``os.replace`` (atomic on POSIX), so a
crash mid-save leaves the previous file whole. Saves run every few seconds while the cloud
runs (only what changed is written) and once more on a clean stop; a ``kill -9`` loses at
most the last interval. On start, the files are restored into the freshly deployed tables
and buckets before seeding, and tables that were restored are not seeded again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from archway.shared.errors import ArchwayError
from archway.shared.local.provider import physical_ids

if TYPE_CHECKING:
    from archway.shared.deploy.engine import Engine
    from archway.shared.local.cloud import LocalCloud
    from archway.shared.model import Platform

ClientFactory = Callable[[str, str, str], Any]
SAVE_INTERVAL = 5.0


@dataclass(frozen=True)
class Store:
    kind: str  # "dynamodb" | "s3"
    name: str  # physical table or bucket name
    account: str
    region: str

    def path(self, data_dir: Path) -> Path:
        return data_dir / f"{self.account}-{self.region}" / self.kind / f"{self.name}.json"


def data_dir(root: Path) -> Path:
    return root / "build" / "local" / "data"


def write_atomic(path: Path, data: bytes) -> None:
    """All of ``data`` or the previous content, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _encode(value: Any) -> Any:
    """DynamoDB JSON with binary values (B, BS) as base64 text, so it is plain JSON."""
    if isinstance(value, bytes | bytearray):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class SavedDataError(ArchwayError):
    exit_code = 2


class Snapshot:
    """Saves and restores the stores that ``stores()`` names, through ``client()``."""

    def __init__(self, directory: Path, stores: Callable[[], list[Store]],
                 client: Callable[[], ClientFactory]) -> None:
        self.directory = directory
        self.stores = stores
        self.client = client
        self._written: dict[Path, str] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------------- save

    def save(self) -> int:
        """Write every store whose content changed since the last save; returns how many."""
        written = 0
        with self._lock:
            for store in self.stores():
                dump = self._dump(store)
                if dump is None:
                    continue
                data = json.dumps(dump, sort_keys=True, separators=(",", ":")).encode()
                digest = hashlib.sha256(data).hexdigest()
                path = store.path(self.directory)
                if self._written.get(path) != digest:
                    write_atomic(path, data)
                    self._written[path] = digest
                    written += 1
        return written

    def _dump(self, store: Store) -> dict[str, Any] | None:
        client = self.client()(store.kind, store.account, store.region)
        try:
            if store.kind == "dynamodb":
                return {"items": _scan(client, store.name)}
            return {"objects": _objects(client, store.name)}
        except ClientError:
            return None  # not deployed (yet): nothing to save

    # ----------------------------------------------------------------- restore

    def restore(self) -> set[str]:
        """Put saved items and objects back; the names of the stores restored."""
        restored = set()
        for store in self.stores():
            path = store.path(self.directory)
            if not path.exists():
                continue
            try:
                self._restore(store, json.loads(path.read_text()))
            except (ValueError, KeyError, TypeError, ClientError) as exc:
                raise SavedDataError(
                    f"{path}: cannot restore {store.name} from it ({type(exc).__name__}: "
                    f"{exc}); move the file away, or start with --fresh") from None
            self._written[path] = hashlib.sha256(path.read_bytes()).hexdigest()
            restored.add(store.name)
        return restored

    def _restore(self, store: Store, saved: dict[str, Any]) -> None:
        client = self.client()(store.kind, store.account, store.region)
        if store.kind == "dynamodb":
            _put_items(client, store.name, _decode(saved["items"]))
            return
        for obj in saved["objects"]:
            client.put_object(Bucket=store.name, Key=obj["key"],
                              Body=base64.b64decode(obj["body"]),
                              ContentType=obj["content_type"], Metadata=obj.get("metadata", {}))

    @staticmethod
    def discard(directory: Path) -> None:
        shutil.rmtree(directory, ignore_errors=True)


def _scan(client: Any, table: str) -> list[Any]:
    items: list[Any] = []
    for page in client.get_paginator("scan").paginate(TableName=table):
        items += page.get("Items", [])
    return [_encode(item) for item in items]


def _objects(client: Any, bucket: str) -> list[dict[str, Any]]:
    objects = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for entry in page.get("Contents", []):
            found = client.get_object(Bucket=bucket, Key=entry["Key"])
            objects.append({"key": entry["Key"],
                            "body": base64.b64encode(found["Body"].read()).decode(),
                            "content_type": found.get("ContentType", "binary/octet-stream"),
                            "metadata": found.get("Metadata", {})})
    return objects


def _put_items(client: Any, table: str, items: list[Any]) -> None:
    for start in range(0, len(items), 25):
        pending = {table: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]}
        for _ in range(5):
            pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if not pending:
                break
        else:
            raise RuntimeError(f"could not restore {table}: items left unprocessed")


class Saver:
    """Saves a snapshot every ``interval`` seconds in a thread, and once more on stop.

    ``activity`` (optional) counts what can change the data (invokes of the local Lambda
    runner): a tick where it did not move saves nothing, so an idle cloud does not scan
    every table on moto every few seconds. Nothing is saved before the first invoke: what
    the cloud holds then is what was restored from the files or seeded (seeding again
    after a crash gives the same). A stop always saves.
    """

    def __init__(self, snapshot: Snapshot, interval: float = SAVE_INTERVAL,
                 out: Callable[[str], None] = print,
                 activity: Callable[[], int] | None = None) -> None:
        self.snapshot = snapshot
        self.interval = interval
        self.out = out
        self.activity = activity
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="archway-save", daemon=True)

    def start(self) -> Saver:
        self._thread.start()
        return self

    def _run(self) -> None:
        seen = self.activity() if self.activity is not None else None
        while not self._stop.wait(self.interval):
            now = self.activity() if self.activity is not None else None
            if now is None or now != seen:
                seen = now
                self._save()

    def _save(self) -> None:
        try:
            self.snapshot.save()
        except Exception as exc:  # noqa: BLE001 - a failed save is said, never fatal
            self.out(f"could not save local data: {type(exc).__name__}: {exc}")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self._save()


def stores(platform: Platform, engine: Engine | None) -> list[Store]:
    """Every service table (from the model) and every bucket a service stack declares."""
    found = [Store("dynamodb", table.physical, service.account, service.region)
             for service in platform.services for table in service.tables.values()]
    if engine is not None:
        for target in engine.targets.values():
            if target.kind != "service":
                continue
            names = physical_ids(target)
            for logical, resource in target.template.get("Resources", {}).items():
                if resource["Type"] == "AWS::S3::Bucket":
                    found.append(Store("s3", names[logical], target.account, target.region))
    return found


def cloud_snapshot(cloud: LocalCloud) -> Snapshot:
    """The snapshot of a running local cloud (follows its redeploys)."""

    def client() -> ClientFactory:
        assert cloud.engine is not None
        return cloud.engine.connections.client  # type: ignore[no-any-return]

    return Snapshot(data_dir(cloud.platform.root), lambda: stores(cloud.platform, cloud.engine),
                    client)
