"""Catalog handlers on DynamoDB (moto), fed real API Gateway REST proxy events."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SEED = Path(__file__).resolve().parents[1] / "seed" / "products.json"

Load = Callable[[str], ModuleType]
Event = Callable[..., dict[str, Any]]
Call = Callable[[ModuleType, dict[str, Any]], Any]

TORCH = {"id": "p1", "name": "Crème Brûlée Torch", "price": 34.9, "category": "kitchen"}
WHIPPER = {"id": "p2", "name": "Cream Whipper", "price": 20, "category": "kitchen"}
SKILLET = {"id": "p3", "name": "Cast Iron Skillet", "price": 39, "category": "kitchen"}
WHISK = {"id": "p4", "name": "Whisk", "price": 5, "category": "kitchen"}
ELOGE = {"id": "p5", "name": "Éloge de la fuite", "price": 8.5, "category": "books"}


def put(tables: dict[str, Any], src_module: Load, *products: dict[str, Any]) -> None:
    keys = src_module("catalog_keys")
    for product in products:
        tables["products"].put_item(Item=keys.product_item(product))


def search_for(src_module: Load, event: Event, call: Call, q: str | None,
               **extra: str) -> Any:
    query = {**({"q": q} if q is not None else {}), **extra}
    return call(src_module("search"), event("search", query=query))


@pytest.mark.parametrize(("q", "expected"), [
    ("CREME", ["p1"]),
    ("crème b", ["p1"]),
    ("  Crème   Brûlée ", ["p1"]),
    ("cre", ["p2", "p1"]),  # "cream whipper" sorts before "creme brulee"
    ("eloge", ["p5"]),
    ("ÉLOGE DE", ["p5"]),
])
def test_prefix_search_ignores_case_accents_and_spacing(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call,
        q: str, expected: list[str]) -> None:
    # GIVEN products whose names carry accents and capitals
    put(tables, src_module, TORCH, WHIPPER, SKILLET, ELOGE)
    # WHEN a visitor types the start of a name, however it is spelled
    reply = search_for(src_module, event, call, q)
    # THEN the products whose normalized names start with it come back, in name order
    assert reply.status == 200
    assert [r["id"] for r in reply.body["results"]] == expected
    assert reply.body["query"] == q


def test_search_results_carry_the_summary_fields_and_may_be_cached(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN one product
    put(tables, src_module, TORCH)
    # WHEN searching for it
    reply = search_for(src_module, event, call, "crème")
    # THEN the result is a summary with the price as a number, cacheable at the edge
    assert reply.body == {"query": "crème", "results": [
        {"id": "p1", "name": "Crème Brûlée Torch", "price": 34.9, "category": "kitchen"}]}
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["Cache-Control"] == "public, max-age=30"


def test_search_is_one_index_query_on_the_prefix_partition(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN "Whipper" inside a name that starts with "c", and a name starting with "whi"
    put(tables, src_module, WHIPPER, WHISK)
    search = src_module("search")
    table = search.table("PRODUCTS_TABLE")
    queries: list[dict[str, Any]] = []
    real_query = table.query
    monkeypatch.setattr(table, "query", lambda **kw: queries.append(kw) or real_query(**kw))
    monkeypatch.setattr(table, "scan", lambda **_: pytest.fail("search must never scan"))
    # WHEN searching "whi"
    reply = call(search, event("search", query={"q": "whi"}))
    # THEN only the name that starts with it is found, by one Query on the "search" index
    assert [r["id"] for r in reply.body["results"]] == ["p4"]
    assert len(queries) == 1
    assert queries[0]["IndexName"] == "search"
    assert queries[0]["Limit"] == 8


def test_search_limit_defaults_to_8_and_goes_up_to_20(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN 25 cups
    put(tables, src_module, *[{"id": f"c{i:02}", "name": f"Cup {i:02}", "price": 3}
                              for i in range(25)])
    # WHEN searching without a limit, and with the largest one
    default = search_for(src_module, event, call, "cup")
    largest = search_for(src_module, event, call, "cup", limit="20")
    # THEN 8, then 20 come back, in name order
    assert [r["name"] for r in default.body["results"]] == [f"Cup {i:02}" for i in range(8)]
    assert len(largest.body["results"]) == 20


@pytest.mark.parametrize(("query", "message"), [
    ({}, "q must not be empty: type the start of a product name"),
    ({"q": ""}, "q must not be empty: type the start of a product name"),
    ({"q": "   "}, "q must not be empty: type the start of a product name"),
    ({"q": "a", "limit": "21"}, "limit must be a whole number from 1 to 20 (got '21')"),
    ({"q": "a", "limit": "0"}, "limit must be a whole number from 1 to 20 (got '0')"),
    ({"q": "a", "limit": "ten"}, "limit must be a whole number from 1 to 20 (got 'ten')"),
])
def test_bad_search_input_is_a_400_with_a_clear_message(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call,
        query: dict[str, str], message: str) -> None:
    # GIVEN a search request without a usable q or limit
    request = event("search", query=query)
    # WHEN it is handled
    reply = call(src_module("search"), request)
    # THEN it is refused as a JSON 400 that says what is wrong
    assert reply.status == 400
    assert reply.body["message"] == message
    assert reply.headers["Content-Type"] == "application/json"


def test_product_found(tables: dict[str, Any], src_module: Load, event: Event,
                       call: Call) -> None:
    # GIVEN a product
    put(tables, src_module, {**TORCH, "description": "Butane torch."})
    # WHEN its page asks for it
    reply = call(src_module("products"), event("get_product", path_params={"id": "p1"}))
    # THEN all its fields come back, never cached at the edge
    assert reply.status == 200
    assert reply.body == {"id": "p1", "name": "Crème Brûlée Torch",
                          "description": "Butane torch.", "price": 34.9,
                          "category": "kitchen"}
    assert reply.headers["Cache-Control"] == "no-store"


def test_unknown_product_is_a_json_404(tables: dict[str, Any], src_module: Load,
                                       event: Event, call: Call) -> None:
    # GIVEN an empty catalog
    # WHEN a product is asked for
    reply = call(src_module("products"), event("get_product", path_params={"id": "nope"}))
    # THEN the answer is a JSON 404 naming it
    assert reply.status == 404
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["message"] == "product nope not found"


def test_seed_file_is_laid_out_with_the_normalisation_rule(src_module: Load) -> None:
    # GIVEN the seed file the local cloud writes as-is into the products table
    items = json.loads(SEED.read_text(encoding="utf-8"))
    keys = src_module("catalog_keys")
    # THEN every item is a product with the keys the handlers compute
    assert 30 <= len(items) <= 60
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        assert item == keys.seed_record(item), item["id"]
        assert isinstance(item["price"], int | float), item["id"]
    # AND normalisation matters for some of them
    assert any(keys.normalize(item["name"]) != item["name"].lower() for item in items)
