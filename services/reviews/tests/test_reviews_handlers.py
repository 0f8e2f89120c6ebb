"""Reviews handlers on DynamoDB (moto), fed real API Gateway REST proxy events."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Load = Callable[[str], ModuleType]
Event = Callable[..., dict[str, Any]]
Call = Callable[[ModuleType, dict[str, Any]], Any]


def post(src_module: Load, event: Event, call: Call, product: str, body: object) -> Any:
    return call(src_module("reviews"),
                event("post_review", path_params={"id": product}, body=body))


def listing(src_module: Load, event: Event, call: Call, product: str) -> Any:
    reply = call(src_module("reviews"), event("list_reviews", path_params={"id": product}))
    assert reply.status == 200
    return reply


def count_view(src_module: Load, event: Event, call: Call, product: str) -> Any:
    return call(src_module("views"), event("count_view", path_params={"id": product}))


def test_a_posted_review_is_stored_and_returned(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN the example event: a visitor posts a review of p-1001
    request = event("post_review")
    # WHEN it is handled
    reply = call(src_module("reviews"), request)
    # THEN it is created and answered with the stored review (trimmed, with its time)
    assert reply.status == 201
    assert reply.headers["Cache-Control"] == "no-store"
    assert {k: reply.body[k] for k in ("author", "rating", "text")} == {
        "author": "Zoë", "rating": 5, "text": "Caramelises sugar evenly."}
    assert reply.body["id"].startswith(reply.body["created_at"] + "#")
    stored = tables["reviews"].get_item(
        Key={"product_id": "p-1001", "sk": f"REVIEW#{reply.body['id']}"})["Item"]
    assert stored["author"] == "Zoë" and stored["rating"] == 5
    assert "expires_at" not in stored


def test_posted_reviews_are_listed_newest_first(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN two reviews posted for a product and one for another
    assert post(src_module, event, call, "p1", {"author": "Ana", "rating": 5,
                                                "text": "Great"}).status == 201
    assert post(src_module, event, call, "p1", {"author": " Bo ", "rating": 3,
                                                "text": "Fine"}).status == 201
    post(src_module, event, call, "p2", {"author": "Cy", "rating": 1, "text": "Other"})
    # WHEN listing the first product's reviews
    reply = listing(src_module, event, call, "p1")
    # THEN both come back, newest first, and nothing of the other product
    assert reply.body["product_id"] == "p1"
    assert [(r["author"], r["rating"]) for r in reply.body["reviews"]] == [("Bo", 3), ("Ana", 5)]
    assert reply.body["count"] == 2
    assert reply.headers["Cache-Control"] == "no-store"


def test_the_view_counter_is_not_listed_as_a_review(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN a product that was viewed but never reviewed
    count_view(src_module, event, call, "p1")
    # WHEN listing its reviews
    reply = listing(src_module, event, call, "p1")
    # THEN there are none
    assert reply.body == {"product_id": "p1", "reviews": [], "count": 0}


@pytest.mark.parametrize(("body", "message"), [
    ("not json", "body must be JSON"),
    ("", "body must be JSON"),
    ([1, 2], "body must be a JSON object with author, rating and text"),
    ("null", "body must be a JSON object with author, rating and text"),
    ({"rating": 5, "text": "x"}, "author must be text of 1 to 60 characters"),
    ({"author": "   ", "rating": 5, "text": "x"}, "author must be text of 1 to 60 characters"),
    ({"author": "A" * 61, "rating": 5, "text": "x"}, "author must be text of 1 to 60 characters"),
    ({"author": "A", "rating": 6, "text": "x"},
     "rating must be a whole number from 1 to 5 (got 6)"),
    ({"author": "A", "rating": 0, "text": "x"},
     "rating must be a whole number from 1 to 5 (got 0)"),
    ({"author": "A", "rating": "5", "text": "x"},
     "rating must be a whole number from 1 to 5 (got '5')"),
    ({"author": "A", "rating": 4.5, "text": "x"},
     "rating must be a whole number from 1 to 5 (got 4.5)"),
    ({"author": "A", "rating": True, "text": "x"},
     "rating must be a whole number from 1 to 5 (got True)"),
    ({"author": "A", "rating": 4, "text": ""}, "text must be text of 1 to 2000 characters"),
    ({"author": "A", "rating": 4, "text": "x" * 2001},
     "text must be text of 1 to 2000 characters"),
    ({"author": "A", "rating": 4, "text": "x", "admin": True}, "unknown field(s): admin"),
])
def test_a_bad_review_is_a_400_naming_the_field(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call,
        body: object, message: str) -> None:
    # GIVEN a review body that breaks one rule
    # WHEN it is posted
    reply = post(src_module, event, call, "p1", body)
    # THEN it is refused with a JSON 400 that names the field, and nothing is stored
    assert reply.status == 400
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.body["message"] == message
    assert listing(src_module, event, call, "p1").body["count"] == 0


def test_reviews_at_the_limits_are_accepted(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN the longest author and text allowed, and the lowest rating
    body = {"author": "A" * 60, "rating": 1, "text": "x" * 2000}
    # WHEN it is posted
    reply = post(src_module, event, call, "p1", body)
    # THEN it is stored as sent
    assert reply.status == 201
    assert (len(reply.body["author"]), reply.body["rating"], len(reply.body["text"])) == \
        (60, 1, 2000)


def test_views_are_counted_by_atomic_adds(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a views handler that may not read-then-write (that would lose concurrent views)
    views = src_module("views")
    table = views.table("REVIEWS_TABLE")
    for method in ("get_item", "put_item", "query"):
        monkeypatch.setattr(table, method, lambda **_: pytest.fail("views must use UpdateItem"))
    request = event("count_view", path_params={"id": "p7"})
    # WHEN the product page is opened twice
    first, second = call(views, request), call(views, request)
    # THEN each call counts one more view, in one UpdateItem ADD each
    assert (first.status, first.body) == (200, {"product_id": "p7", "views": 1})
    assert (second.status, second.body) == (200, {"product_id": "p7", "views": 2})
    assert second.headers["Cache-Control"] == "no-store"
    # AND another product's counter is its own
    assert count_view(src_module, event, call, "p8").body["views"] == 1
