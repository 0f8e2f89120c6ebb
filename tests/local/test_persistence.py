"""Local data saved under build/local/data and restored on the next start."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local.moto_server import MotoServer
from archway.shared.local.persistence import (
    SavedDataError,
    Saver,
    Snapshot,
    Store,
    write_atomic,
)

REGION = "eu-west-1"
ACCOUNT = "100000000001"
STORES = [Store("dynamodb", "things", ACCOUNT, REGION), Store("s3", "files-bucket", ACCOUNT,
                                                               REGION)]


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def _deploy(client: Any) -> None:
    client("dynamodb", ACCOUNT, REGION).create_table(
        TableName="things", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    client("s3", ACCOUNT, REGION).create_bucket(
        Bucket="files-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})


def test_tables_and_buckets_survive_a_new_moto(tmp_path: Path) -> None:
    # GIVEN a table with text, number and binary items, and a bucket with an object
    items = [{"pk": {"S": f"k{i}"}, "n": {"N": str(i)}, "raw": {"B": bytes([i, 0, 255])}}
             for i in range(60)]
    with MotoServer() as first:
        client = ConnectionManager("archway", REGION, endpoint_url=first.endpoint).client
        _deploy(client)
        for item in items:
            client("dynamodb", ACCOUNT, REGION).put_item(TableName="things", Item=item)
        client("s3", ACCOUNT, REGION).put_object(
            Bucket="files-bucket", Key="a/b.png", Body=b"\x89PNG\x00", ContentType="image/png",
            Metadata={"owner": "dana"})
        snapshot = Snapshot(tmp_path, lambda: STORES, lambda: client)
        # WHEN it is saved twice with no change in between
        assert snapshot.save() == 2
        assert snapshot.save() == 0  # nothing changed: nothing written
    # AND restored into a freshly deployed, empty moto
    with MotoServer() as second:
        client = ConnectionManager("archway", REGION, endpoint_url=second.endpoint).client
        _deploy(client)
        restored = Snapshot(tmp_path, lambda: STORES, lambda: client).restore()
        # THEN every item and object is back, byte for byte
        assert restored == {"things", "files-bucket"}
        scanned = client("dynamodb", ACCOUNT, REGION).scan(TableName="things")["Items"]
        assert sorted(scanned, key=lambda i: i["pk"]["S"]) == sorted(
            items, key=lambda i: i["pk"]["S"])
        found = client("s3", ACCOUNT, REGION).get_object(Bucket="files-bucket", Key="a/b.png")
        assert (found["Body"].read(), found["ContentType"], found["Metadata"]) == (
            b"\x89PNG\x00", "image/png", {"owner": "dana"})


def test_a_crash_during_a_save_keeps_the_previous_file(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a saved file
    path = tmp_path / "table.json"
    write_atomic(path, json.dumps({"items": [1, 2, 3]}).encode())

    # WHEN the process dies between writing the new content and replacing the file
    def crash(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b'{"items": [1, 2')
    # THEN the file still holds the whole previous save
    assert json.loads(path.read_text()) == {"items": [1, 2, 3]}


def test_nothing_saved_for_stores_not_deployed(tmp_path: Path, moto: MotoServer) -> None:
    client = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint).client
    assert Snapshot(tmp_path, lambda: STORES, lambda: client).save() == 0
    assert not any(tmp_path.rglob("*.json"))


def test_unreadable_saved_table_is_one_clear_error(tmp_path: Path, moto: MotoServer) -> None:
    # GIVEN a saved table file that is not what a save writes (edited by hand, say)
    client = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint).client
    _deploy(client)
    path = STORES[0].path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text('{"rows": []}')
    # THEN the restore names the file and what to do, and nothing is half-restored
    with pytest.raises(SavedDataError) as error:
        Snapshot(tmp_path, lambda: STORES, lambda: client).restore()
    assert str(error.value) == (f"{path}: cannot restore things from it (KeyError: 'items'); "
                                "move the file away, or start with --fresh")
    assert error.value.exit_code == 2


class CountingSnapshot:
    """What the Saver drives: counts saves (the saving itself is tested above)."""

    def __init__(self) -> None:
        self.saves = 0

    def save(self) -> int:
        self.saves += 1
        return 0


def test_an_idle_cloud_saves_nothing_until_a_function_runs() -> None:
    snapshot, invokes = CountingSnapshot(), [0]
    ticked = threading.Event()

    def activity() -> int:
        ticked.set()
        return invokes[0]

    # GIVEN a saver ticking every 20 ms, just started (restored or seeded data in moto)
    saver = Saver(snapshot, interval=0.02, activity=activity).start()  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 10
        while not ticked.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        # WHEN no function runs for many ticks
        time.sleep(0.3)
        # THEN nothing was saved
        assert snapshot.saves == 0
        # WHEN a function runs
        invokes[0] += 1
        while snapshot.saves < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        # THEN the next tick saves, once
        time.sleep(0.2)
        assert snapshot.saves == 1
    finally:
        saver.stop()
    # AND a stop always saves
    assert snapshot.saves == 2
