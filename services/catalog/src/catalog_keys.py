"""Product items and their search keys: one place for the normalisation rule.

Search-as-you-type is a DynamoDB Query on the "search" index: partition
``PREFIX#<first character>``, sort key ``<normalized name>#<id>``, so every prefix of a
name is a ``begins_with`` on one partition, never a scan.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """'  Crème Brûlée ' -> 'creme brulee' (accents stripped, lower case, one space)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def search_partition(normalized: str) -> str:
    return f"PREFIX#{normalized[:1]}"


def product_item(product: dict[str, Any]) -> dict[str, Any]:
    """The table item of a product, with the search index keys."""
    normalized = normalize(product["name"])
    return {
        "pk": f"PRODUCT#{product['id']}",
        "sk": "PRODUCT",
        "id": product["id"],
        "name": product["name"],
        "description": product.get("description", ""),
        "price": Decimal(str(product["price"])),
        "category": product.get("category", ""),
        "search_pk": search_partition(normalized),
        "search_sk": f"{normalized}#{product['id']}",
    }
