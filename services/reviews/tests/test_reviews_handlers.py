"""Reviews handlers against DynamoDB on moto, fed real API Gateway REST proxy events."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import boto3
import pytest
from moto import mock_aws

from helpers.lambdas import call, load_handler, rest_event

TABLE = "archway-test-reviews-reviews"
RESOURCE = "/api/reviews/products/{id}/reviews"


@pytest.fixture
def reviews_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("REVIEWS_TABLE", TABLE)
    with mock_aws():
        yield boto3.resource("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "product_id", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "product_id", "KeyType": "HASH"},
                       {"AttributeName": "sk", "KeyType": "RANGE"}],
        )


def handler(name: str) -> ModuleType:
    module = load_handler("reviews", name)
    module.table.cache_clear()
    return module


def post(module: ModuleType, product: str, body: object) -> tuple[int, dict, dict]:
    return call(module, rest_event("POST", RESOURCE, f"/api/reviews/products/{product}/reviews",
                                   path_params={"id": product}, body=body))


def listing(module: ModuleType, product: str) -> dict:
    status, _, body = call(module, rest_event(
        "GET", RESOURCE, f"/api/reviews/products/{product}/reviews", path_params={"id": product}))
    assert status == 200
    return body


def test_posted_reviews_are_listed_newest_first(reviews_table: object) -> None:
    reviews = handler("reviews")
    # GIVEN two reviews posted for a product and one for another
    assert post(reviews, "p1", {"author": "Ana", "rating": 5, "text": "Great"})[0] == 201
    assert post(reviews, "p1", {"author": "Bo", "rating": 3, "text": "Fine"})[0] == 201
    post(reviews, "p2", {"author": "Cy", "rating": 1, "text": "Other product"})
    # WHEN listing the first product's reviews
    body = listing(reviews, "p1")
    # THEN both come back, newest first, and nothing of the other product
    assert [(r["author"], r["rating"]) for r in body["reviews"]] == [("Bo", 3), ("Ana", 5)]
    assert body["count"] == 2


def test_view_counter_is_not_listed_as_a_review(reviews_table: object) -> None:
    call(handler("views"), rest_event("POST", "/api/reviews/products/{id}/views",
                                      "/api/reviews/products/p1/views", path_params={"id": "p1"}))
    assert listing(handler("reviews"), "p1")["reviews"] == []


@pytest.mark.parametrize(("body", "message"), [
    ("not json", "body must be JSON"),
    ([1, 2], "body must be a JSON object with author, rating and text"),
    ({"rating": 5, "text": "x"}, "author must be text of 1 to 60 characters"),
    ({"author": "A", "rating": 6, "text": "x"},
     "rating must be a whole number from 1 to 5 (got 6)"),
    ({"author": "A", "rating": True, "text": "x"},
     "rating must be a whole number from 1 to 5 (got True)"),
    ({"author": "A", "rating": 4, "text": ""}, "text must be text of 1 to 2000 characters"),
    ({"author": "A", "rating": 4, "text": "x", "admin": True}, "unknown field(s): admin"),
])
def test_bad_review_is_a_400_naming_the_field(reviews_table: object, body: object,
                                              message: str) -> None:
    status, _, response = post(handler("reviews"), "p1", body)
    assert status == 400
    assert response["message"] == message
    assert listing(handler("reviews"), "p1")["count"] == 0


def test_view_counter_counts_atomically(reviews_table: object) -> None:
    views = handler("views")
    event = rest_event("POST", "/api/reviews/products/{id}/views",
                       "/api/reviews/products/p7/views", path_params={"id": "p7"})
    assert call(views, event)[2] == {"product_id": "p7", "views": 1}
    assert call(views, event)[2] == {"product_id": "p7", "views": 2}
