"""GET /api/catalog/products/{id}: one product, or a JSON 404."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from settings import cache_control, table

ROUTE = "/api/catalog/products/<id>"
TEMPLATE = "/api/catalog/products/{id}"

app = APIGatewayRestResolver()
logger = Logger()


@app.get(ROUTE)
def get_product(id: str) -> Response:  # noqa: A002 - the path parameter's name
    item = table("PRODUCTS_TABLE").get_item(Key={"pk": f"PRODUCT#{id}", "sk": "PRODUCT"})
    product = item.get("Item")
    if product is None:
        raise NotFoundError(f"product {id} not found")
    body = {
        "id": product["id"], "name": product["name"], "description": product["description"],
        "price": float(product["price"]), "category": product.get("category", ""),
    }
    return Response(200, "application/json", body,
                    headers={"Cache-Control": cache_control("GET", TEMPLATE)})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
