"""Reviews handlers on DynamoDB (moto), fed real API Gateway REST proxy events."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Load = Callable[[str], ModuleType]
Event = Callable[..., dict[str, Any]]
Call = Callable[[ModuleType, dict[str, Any]], Any]


ZOE = {"sub": "7f3c2a10-91d4-4c6e-b2a8-5d0e4f6a1b23", "cognito:username": "zoe",
       "email": "zoe@example.com", "token_use": "id"}


def signed_in(username: str) -> dict[str, str]:
    """ID token claims of another user, as API Gateway's Cognito authorizer passes them."""
    return {**ZOE, "sub": f"sub-{username}", "cognito:username": username,
            "email": f"{username}@example.com"}


def post(src_module: Load, event: Event, call: Call, product: str, body: object,
         claims: dict[str, str] | None = None) -> Any:
    return call(src_module("reviews"), event(
        "post_review", path_params={"id": product}, body=body, claims=claims))


def listing(src_module: Load, event: Event, call: Call, product: str) -> Any:
    reply = call(src_module("reviews"), event("list_reviews", path_params={"id": product}))
    assert reply.status == 200
    return reply


def count_view(src_module: Load, event: Event, call: Call, product: str) -> Any:
    return call(src_module("views"), event("count_view", path_params={"id": product}))


def test_a_posted_review_is_stored_with_its_signed_in_author(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN the example event: zoe, signed in (the authorizer's claims), posts a review
    request = event("post_review")
    # WHEN it is handled
    reply = call(src_module("reviews"), request)
    # THEN it is created and answered with the stored review, authored by zoe
    assert reply.status == 201
    assert reply.headers["Cache-Control"] == "no-store"
    assert {k: reply.body[k] for k in ("author", "rating", "text")} == {
        "author": "zoe", "rating": 5, "text": "Caramelises sugar evenly."}
    assert reply.body["id"].startswith(reply.body["created_at"] + "#")
    stored = tables["reviews"].get_item(
        Key={"product_id": "p-1001", "sk": f"REVIEW#{reply.body['id']}"})["Item"]
    assert (stored["author"], stored["author_sub"], stored["rating"]) == (
        "zoe", ZOE["sub"], 5)
    assert "expires_at" not in stored
    # AND the user's stable id stays in the table, not in the public answer
    assert "author_sub" not in reply.body


def test_an_anonymous_review_is_a_401_and_nothing_is_stored(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN a POST that carries no signed-in user (no authorizer claims)
    # WHEN it is handled
    reply = post(src_module, event, call, "p1", {"rating": 5, "text": "Great"}, claims={})
    # THEN it is refused with a JSON 401 and nothing is stored
    assert reply.status == 401
    assert reply.body["message"] == "sign in first"
    assert listing(src_module, event, call, "p1").body["count"] == 0


def test_the_author_cannot_be_chosen_by_the_client(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN zoe signed in, sending someone else's name as the author
    body = {"author": "Ana", "rating": 1, "text": "Terrible"}
    # WHEN it is posted
    reply = post(src_module, event, call, "p1", body)
    # THEN it is refused, and nothing is stored under either name
    assert reply.status == 400
    assert reply.body["message"] == "author is the signed-in user: do not send it"
    assert listing(src_module, event, call, "p1").body["count"] == 0


def test_posted_reviews_are_listed_newest_first(
        tables: dict[str, Any], src_module: Load, event: Event, call: Call) -> None:
    # GIVEN two reviews posted for a product by two users, and one for another product
    assert post(src_module, event, call, "p1", {"rating": 5, "text": "Great"},
                signed_in("ana")).status == 201
    assert post(src_module, event, call, "p1", {"rating": 3, "text": " Fine "},
                signed_in("bo")).status == 201
    post(src_module, event, call, "p2", {"rating": 1, "text": "Other"}, signed_in("cy"))
    # WHEN listing the first product's reviews
    reply = listing(src_module, event, call, "p1")
    # THEN both come back, newest first, and nothing of the other product
    assert reply.body["product_id"] == "p1"
    assert [(r["author"], r["rating"], r["text"]) for r in reply.body["reviews"]] == [
        ("bo", 3, "Fine"), ("ana", 5, "Great")]
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
    ([1, 2], "body must be a JSON object with rating and text"),
    ("null", "body must be a JSON object with rating and text"),
    ({"rating": 6, "text": "x"}, "rating must be a whole number from 1 to 5 (got 6)"),
    ({"rating": 0, "text": "x"}, "rating must be a whole number from 1 to 5 (got 0)"),
    ({"rating": "5", "text": "x"}, "rating must be a whole number from 1 to 5 (got '5')"),
    ({"rating": 4.5, "text": "x"}, "rating must be a whole number from 1 to 5 (got 4.5)"),
    ({"rating": True, "text": "x"}, "rating must be a whole number from 1 to 5 (got True)"),
    ({"text": "x"}, "rating must be a whole number from 1 to 5 (got None)"),
    ({"rating": 4, "text": ""}, "text must be text of 1 to 2000 characters"),
    ({"rating": 4, "text": "x" * 2001}, "text must be text of 1 to 2000 characters"),
    ({"rating": 4, "text": "x", "admin": True}, "unknown field(s): admin"),
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
    # GIVEN the longest text allowed and the lowest rating
    body = {"rating": 1, "text": "x" * 2000}
    # WHEN it is posted
    reply = post(src_module, event, call, "p1", body)
    # THEN it is stored as sent
    assert reply.status == 201
    assert (reply.body["rating"], len(reply.body["text"])) == (1, 2000)


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
