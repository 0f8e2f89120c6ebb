"""The edge's route store on AWS (CloudFront KeyValueStore data plane), with botocore's Stubber.

Every stubbed call must happen, in order, and no other call may: a registration that
should leave the store alone and still writes fails the test. The API (writes need the
store's current ETag as IfMatch; ConflictException when it moved; ListKeys pages):
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_PutKey.html
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_DeleteKey.html
https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_kvs_ListKeys.html
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from archway.shared.deploy import routes
from archway.shared.deploy.routes import (
    CONFLICT_RETRIES,
    KeyValueStoreRoutes,
    RouteError,
    RouteRegistry,
)
from archway.shared.routes import RouteEntry

ARN = "arn:aws:cloudfront::200000000000:key-value-store/6f1a2b3c-4d5e-4f60-8a9b-0c1d2e3f4a5b"
SECRET = "Zq3_SyNthetic-Origin-Secret-For-Tests-01234"  # 43 characters, like the real one
CATALOG = RouteEntry("catalog", "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "live", SECRET)
REVIEWS = RouteEntry("reviews", "f6g7h8i9j0.execute-api.eu-west-1.amazonaws.com", "live",
                     "Another-Secret-Value-For-Reviews-xxxxxxxxxx")


@pytest.fixture
def kvs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KeyValueStoreRoutes, Stubber]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("cloudfront-keyvaluestore", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield KeyValueStoreRoutes(client, ARN), stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff between conflict retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(routes.time, "sleep", recorded.append)
    return recorded


def etag_is(stubber: Stubber, etag: str) -> None:
    stubber.add_response("describe_key_value_store", {
        "ItemCount": 2, "TotalSizeInBytes": 400, "KvsARN": ARN,
        "Created": datetime(2026, 1, 1, tzinfo=UTC), "ETag": etag, "Status": "READY"},
        {"KvsARN": ARN})


def written(etag: str) -> dict[str, object]:
    return {"ItemCount": 2, "TotalSizeInBytes": 400, "ETag": etag}


def conflict(stubber: Stubber, operation: str) -> None:
    stubber.add_client_error(operation, "ConflictException", "The ETag does not match",
                             http_status_code=409)


def stored(stubber: Stubber, key: str, value: str | None) -> None:
    if value is None:
        stubber.add_client_error("get_key", "ResourceNotFoundException", "Key not found",
                                 http_status_code=404, expected_params={"KvsARN": ARN, "Key": key})
    else:
        stubber.add_response("get_key", {"Key": key, "Value": value, "ItemCount": 2,
                                         "TotalSizeInBytes": 400}, {"KvsARN": ARN, "Key": key})


def listed(stubber: Stubber, pages: list[dict[str, str]]) -> None:
    for index, page in enumerate(pages):
        response: dict[str, object] = {"Items": [{"Key": k, "Value": v} for k, v in page.items()]}
        if index < len(pages) - 1:
            response["NextToken"] = f"page-{index + 1}"
        expected = {"KvsARN": ARN} if index == 0 else {"KvsARN": ARN, "NextToken": f"page-{index}"}
        stubber.add_response("list_keys", response, expected)


# ---------------------------------------------------------------- KeyValueStoreRoutes


def test_put_sends_the_store_etag_as_if_match(kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    # GIVEN the store is at version E1
    etag_is(stubber, "E1")
    # THEN the write is conditional on E1
    stubber.add_response("put_key", written("E2"), {
        "KvsARN": ARN, "Key": "catalog", "Value": CATALOG.value(), "IfMatch": "E1"})
    # WHEN catalog's entry is put
    store.put("catalog", CATALOG.value())


def test_a_conflict_is_retried_with_a_fresh_etag(kvs: tuple[KeyValueStoreRoutes, Stubber],
                                                 sleeps: list[float]) -> None:
    store, stubber = kvs
    # GIVEN another deploy writes between our describe and our put
    etag_is(stubber, "E1")
    conflict(stubber, "put_key")
    # THEN the store is described again and the write retried with the new ETag
    etag_is(stubber, "E7")
    stubber.add_response("put_key", written("E8"), {
        "KvsARN": ARN, "Key": "catalog", "Value": CATALOG.value(), "IfMatch": "E7"})
    store.put("catalog", CATALOG.value())
    assert len(sleeps) == 1  # after a short backoff


def test_conflicts_that_never_end_are_one_clear_error(
        kvs: tuple[KeyValueStoreRoutes, Stubber], sleeps: list[float]) -> None:
    store, stubber = kvs
    # GIVEN every attempt conflicts
    for attempt in range(CONFLICT_RETRIES):
        etag_is(stubber, f"E{attempt}")
        conflict(stubber, "delete_key")
    # WHEN a key is deleted, THEN it gives up with the store and the error code, no traceback
    with pytest.raises(RouteError, match=f"route store {ARN}: ConflictException"):
        store.delete("catalog")
    assert len(sleeps) == CONFLICT_RETRIES - 1


def test_get_of_a_missing_key_is_none(kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    stored(stubber, "nope", None)
    stored(stubber, "catalog", CATALOG.value())
    assert store.get("nope") is None
    assert store.get("catalog") == CATALOG.value()


def test_delete_sends_if_match_and_a_missing_key_is_not_an_error(
        kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    # GIVEN catalog is in the store and "gone" is not
    etag_is(stubber, "E3")
    stubber.add_response("delete_key", written("E4"),
                         {"KvsARN": ARN, "Key": "catalog", "IfMatch": "E3"})
    etag_is(stubber, "E4")
    stubber.add_client_error("delete_key", "ResourceNotFoundException", "Key not found",
                             http_status_code=404,
                             expected_params={"KvsARN": ARN, "Key": "gone", "IfMatch": "E4"})
    # WHEN both are deleted, THEN both calls succeed (deregistering is idempotent)
    store.delete("catalog")
    store.delete("gone")


def test_a_put_that_is_refused_is_one_clear_error(kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    etag_is(stubber, "E1")
    stubber.add_client_error("put_key", "AccessDeniedException", "not authorized",
                             http_status_code=403)
    with pytest.raises(RouteError) as caught:
        store.put("catalog", CATALOG.value())
    assert str(caught.value) == f"route store {ARN}: AccessDeniedException: not authorized"
    assert SECRET not in str(caught.value)


def test_items_reads_every_page(kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    # GIVEN a store whose keys come in three pages
    pages = [{"a": "1", "b": "2"}, {"c": "3"}, {"d": "4"}]
    listed(stubber, pages)
    # WHEN its items are read, THEN all pages are merged
    assert store.items() == {"a": "1", "b": "2", "c": "3", "d": "4"}


# ---------------------------------------------------------------------- RouteRegistry


def registry(store: KeyValueStoreRoutes, *entries: RouteEntry,
             configured: list[str] | None = None) -> RouteRegistry:
    by_name = {e.service: e for e in entries}
    names = configured if configured is not None else list(by_name)
    return RouteRegistry(store, by_name.get, names)


def test_register_leaves_an_unchanged_entry_alone(
        kvs: tuple[KeyValueStoreRoutes, Stubber], capsys: pytest.CaptureFixture[str]) -> None:
    store, stubber = kvs
    # GIVEN the store already holds catalog's current entry
    stored(stubber, "catalog", CATALOG.value())
    # WHEN catalog is registered, THEN nothing is written (no describe, no put)
    said = registry(store, CATALOG).register("catalog")
    assert said == f"/api/catalog/* -> {CATALOG.domain}/live (unchanged)"
    out = capsys.readouterr()
    assert SECRET not in said + out.out + out.err


@pytest.mark.parametrize("before", [None, REVIEWS.value(),
                                    RouteEntry("catalog", CATALOG.domain, "live", "old").value()])
def test_register_writes_a_missing_or_different_entry(
        kvs: tuple[KeyValueStoreRoutes, Stubber], capsys: pytest.CaptureFixture[str],
        before: str | None) -> None:
    store, stubber = kvs
    # GIVEN catalog's entry is missing, points elsewhere, or has an old secret
    stored(stubber, "catalog", before)
    etag_is(stubber, "E5")
    stubber.add_response("put_key", written("E6"), {
        "KvsARN": ARN, "Key": "catalog", "Value": CATALOG.value(), "IfMatch": "E5"})
    # WHEN catalog is registered, THEN its current entry is written
    said = registry(store, CATALOG).register("catalog")
    # AND what is reported names the route, never the secret
    assert said == f"/api/catalog/* -> {CATALOG.domain}/live"
    out = capsys.readouterr()
    assert SECRET not in said + out.out + out.err


def test_register_without_a_deployed_api_writes_nothing(
        kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, _ = kvs
    said = registry(store, configured=["catalog"]).register("catalog")
    assert said == "not registered: its API is not deployed"


def test_register_refuses_an_entry_over_the_value_limit(
        kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, _ = kvs
    huge = RouteEntry("catalog", CATALOG.domain, "live", "s" * 1100)
    with pytest.raises(RouteError, match="route of catalog exceeds 1024 bytes") as caught:
        registry(store, huge).register("catalog")
    assert "sss" not in str(caught.value)


def test_table_compares_the_live_store_with_config(
        kvs: tuple[KeyValueStoreRoutes, Stubber]) -> None:
    store, stubber = kvs
    # GIVEN config has catalog, reviews, search and orders; the store has catalog current,
    # reviews pointing at an old API, orders corrupt, and a removed service "legacy"
    search = RouteEntry("search", "k1l2m3n4o5.execute-api.eu-west-1.amazonaws.com", "live",
                        "Search-Secret-xxxxxxxxxxxxxxxxxxxxxxxxxxxxx")
    old_reviews = RouteEntry("reviews", "zzzzzzzzzz.execute-api.eu-west-1.amazonaws.com",
                             "live", REVIEWS.secret)
    listed(stubber, [{"catalog": CATALOG.value(), "reviews": old_reviews.value()},
                     {"orders": "not json", "legacy": search.value()}])
    rows = registry(store, CATALOG, REVIEWS, search,
                    configured=["catalog", "reviews", "search", "orders"]).table()
    # WHEN the route table is read, THEN each service has one row with its state
    states = {row.service: row.state for row in rows}
    assert states == {"catalog": "registered", "reviews": "stale", "search": "missing",
                      "orders": "stale", "legacy": "orphan"}
    detail = {row.service: row.detail for row in rows}
    assert detail["catalog"] == f"-> {CATALOG.domain}/live"
    assert detail["reviews"].startswith(f"-> {old_reviews.domain}/live; the deployed API is "
                                        f"{REVIEWS.domain}/live")
    assert "archway deploy service search" in detail["search"]
    assert detail["orders"] == "route entry 'orders' is not an Archway route"
    # AND no row shows a secret
    shown = " ".join(f"{row.service} {row.state} {row.detail}" for row in rows)
    for secret in (SECRET, REVIEWS.secret, search.secret):
        assert secret not in shown
