"""GET and POST /api/reviews/products/{id}/reviews: list (newest first) and post reviews.

Anyone may list; only signed-in users may post (``auth: user`` in service.yaml: API
Gateway's Cognito authorizer lets only valid tokens through), and a review's author is the
signed-in user's username, never a name the client sends.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from boto3.dynamodb.conditions import Key
from settings import table
from users import current_user
from validation import review_input

ROUTE = "/api/reviews/products/<product_id>/reviews"
PAGE = 50

app = APIGatewayRestResolver()
logger = Logger()


def _public(item: dict[str, Any]) -> dict[str, Any]:
    return {"id": item["sk"].removeprefix("REVIEW#"), "author": item["author"],
            "rating": int(item["rating"]), "text": item["text"],
            "created_at": item["created_at"]}


@app.get(ROUTE)
def list_reviews(product_id: str) -> Response:
    response = table("REVIEWS_TABLE").query(
        KeyConditionExpression=Key("product_id").eq(product_id) & Key("sk").begins_with("REVIEW#"),
        ScanIndexForward=False,
        Limit=PAGE,
    )
    reviews = [_public(item) for item in response["Items"]]
    return Response(200, "application/json",
                    {"product_id": product_id, "reviews": reviews, "count": len(reviews)},
                    headers={"Cache-Control": "no-store"})


@app.post(ROUTE)
def post_review(product_id: str) -> Response:
    user = current_user(app.current_event.raw_event)
    try:
        body = json.loads(app.current_event.body or "")
    except ValueError:
        raise BadRequestError("body must be JSON") from None
    review = review_input(body)
    # Microseconds: reviews posted one after the other sort newest first.
    now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    item = {"product_id": product_id, "sk": f"REVIEW#{now}#{secrets.token_hex(4)}",
            "created_at": now, "author": user.username, "author_sub": user.sub, **review}
    table("REVIEWS_TABLE").put_item(Item=item)
    return Response(201, "application/json", _public(item), headers={"Cache-Control": "no-store"})


# Never log_event: the event carries the caller's Authorization header.
@logger.inject_lambda_context(log_event=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
