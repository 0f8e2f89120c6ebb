"""GET /api/catalog/search?q=<prefix>&limit=<n>: search-as-you-type over product names."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError
from boto3.dynamodb.conditions import Key
from catalog_keys import normalize, search_partition
from settings import cache_control, table

ROUTE = "/api/catalog/search"
DEFAULT_LIMIT = 8
MAX_LIMIT = 20
# Only the attributes a result shows (not the description): a smaller response to read and
# parse. NAME is a DynamoDB reserved word, so it goes through a placeholder:
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ProjectionExpressions.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html
RESULT_ATTRIBUTES = "id, #name, price, category"

app = APIGatewayRestResolver()
logger = Logger()


def parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT} (got {raw!r})")
    return int(raw)


def find(query: str, limit: int) -> list[dict[str, Any]]:
    response = table("PRODUCTS_TABLE").query(
        IndexName="search",
        KeyConditionExpression=Key("search_pk").eq(search_partition(query))
        & Key("search_sk").begins_with(query),
        ProjectionExpression=RESULT_ATTRIBUTES,
        ExpressionAttributeNames={"#name": "name"},
        Limit=limit,
    )
    return [
        {"id": item["id"], "name": item["name"], "price": float(item["price"]),
         "category": item.get("category", "")}
        for item in response["Items"]
    ]


@app.get(ROUTE)
def search() -> Response:
    raw = app.current_event.get_query_string_value("q", "") or ""
    query = normalize(raw)
    if not query:
        raise BadRequestError("q must not be empty: type the start of a product name")
    limit = parse_limit(app.current_event.get_query_string_value("limit"))
    results = find(query, limit)
    return Response(200, "application/json", {"query": raw, "results": results},
                    headers={"Cache-Control": cache_control("GET", ROUTE)})


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
