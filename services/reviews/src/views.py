"""POST /api/reviews/products/{id}/views: count a product view (atomic ADD)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from settings import table

ROUTE = "/api/reviews/products/<product_id>/views"

app = APIGatewayRestResolver()
logger = Logger()


@app.post(ROUTE)
def count_view(product_id: str) -> Response:
    result = table("REVIEWS_TABLE").update_item(
        Key={"product_id": product_id, "sk": "VIEWS"},
        UpdateExpression="ADD #views :one",
        ExpressionAttributeNames={"#views": "views"},
        ExpressionAttributeValues={":one": 1},
        ReturnValues="UPDATED_NEW",
    )
    views = int(result["Attributes"]["views"])
    return Response(200, "application/json", {"product_id": product_id, "views": views},
                    headers={"Cache-Control": "no-store"})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
