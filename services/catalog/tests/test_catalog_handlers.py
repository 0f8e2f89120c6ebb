"""Catalog handlers against DynamoDB on moto, fed real API Gateway REST proxy events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from helpers.lambdas import call, load_handler, rest_event

SEED = Path(__file__).resolve().parents[1] / "seed" / "products.json"
TABLE = "archway-test-catalog-products"


@pytest.fixture
def products(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("PRODUCTS_TABLE", TABLE)
    monkeypatch.setenv("ARCHWAY_CACHE_TTLS", json.dumps({"GET /api/catalog/search": 30}))
    with mock_aws():
        table = boto3.resource("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                                  for n in ("pk", "sk", "search_pk", "search_sk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "search", "Projection": {"ProjectionType": "ALL"},
                "KeySchema": [{"AttributeName": "search_pk", "KeyType": "HASH"},
                              {"AttributeName": "search_sk", "KeyType": "RANGE"}]}],
        )
        yield table


@pytest.fixture
def search(products: object) -> ModuleType:
    module = load_handler("catalog", "search")
    module.table.cache_clear()
    return module


@pytest.fixture
def product_handler(products: object) -> ModuleType:
    module = load_handler("catalog", "products")
    module.table.cache_clear()
    return module


def put(products: object, *items: dict) -> None:
    keys = load_handler("catalog", "catalog_keys")
    for item in items:
        products.put_item(Item=keys.product_item(item))  # type: ignore[attr-defined]


def search_for(search: ModuleType, q: str, **extra: str) -> tuple[int, dict, dict]:
    return call(search, rest_event("GET", "/api/catalog/search", "/api/catalog/search",
                                   query={"q": q, **extra}))


def test_prefix_search_ignores_case_and_accents(products: object, search: ModuleType) -> None:
    # GIVEN products whose names carry accents and capitals
    put(products, {"id": "p1", "name": "Crème Brûlée Torch", "price": 34.9},
        {"id": "p2", "name": "Cream Whipper", "price": 20},
        {"id": "p3", "name": "Cast Iron Skillet", "price": 39})
    # WHEN a visitor types "CREME"
    status, headers, body = search_for(search, "CREME")
    # THEN only the matching product comes back, and the edge may cache it for 30 s
    assert status == 200
    assert [r["id"] for r in body["results"]] == ["p1"]
    assert body["results"][0]["name"] == "Crème Brûlée Torch"
    assert headers["Cache-Control"] == "public, max-age=30"


def test_search_matches_prefixes_not_substrings(products: object, search: ModuleType) -> None:
    # GIVEN "Whipper" appears inside a name but does not start it
    put(products, {"id": "p2", "name": "Cream Whipper", "price": 20},
        {"id": "p4", "name": "Whisk", "price": 5})
    # WHEN searching "whi"
    _, _, body = search_for(search, "whi")
    # THEN only names that start with it are found (a query on one prefix partition)
    assert [r["id"] for r in body["results"]] == ["p4"]


def test_search_respects_limit_and_orders_by_name(products: object, search: ModuleType) -> None:
    put(products, *[{"id": f"c{i}", "name": f"Cup {chr(ord('e') - i)}", "price": 1}
                    for i in range(5)])
    _, _, body = search_for(search, "cup", limit="3")
    assert [r["name"] for r in body["results"]] == ["Cup a", "Cup b", "Cup c"]


def test_search_uses_the_index_query_not_a_scan(products: object, search: ModuleType,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    put(products, {"id": "p1", "name": "Kettle", "price": 30})
    table = search.table("PRODUCTS_TABLE")
    monkeypatch.setattr(table, "scan", lambda **_: pytest.fail("search must not scan"))
    status, _, body = search_for(search, "ket")
    assert status == 200 and [r["id"] for r in body["results"]] == ["p1"]


@pytest.mark.parametrize(("q", "extra", "message"), [
    ("   ", {}, "q must contain at least one letter or digit"),
    ("a", {"limit": "500"}, "limit must be a whole number from 1 to 20 (got '500')"),
])
def test_bad_search_input_is_a_400(search: ModuleType, q: str, extra: dict, message: str) -> None:
    status, _, body = search_for(search, q, **extra)
    assert status == 400
    assert body["message"] == message


def test_product_found(products: object, product_handler: ModuleType) -> None:
    put(products, {"id": "p9", "name": "Desk Lamp", "price": 64, "description": "LED"})
    status, headers, body = call(product_handler, rest_event(
        "GET", "/api/catalog/products/{id}", "/api/catalog/products/p9", path_params={"id": "p9"}))
    assert status == 200
    assert body == {"id": "p9", "name": "Desk Lamp", "description": "LED", "price": 64.0,
                    "category": ""}
    assert headers["Cache-Control"] == "no-store"


def test_unknown_product_is_a_json_404(product_handler: ModuleType) -> None:
    status, headers, body = call(product_handler, rest_event(
        "GET", "/api/catalog/products/{id}", "/api/catalog/products/nope",
        path_params={"id": "nope"}))
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert body["message"] == "product nope not found"


def test_seed_file_keys_follow_the_normalisation_rule() -> None:
    keys = load_handler("catalog", "catalog_keys")
    for item in json.loads(SEED.read_text()):
        expected = keys.product_item(item)
        assert (item["search_pk"], item["search_sk"]) == \
            (expected["search_pk"], expected["search_sk"]), item["id"]
