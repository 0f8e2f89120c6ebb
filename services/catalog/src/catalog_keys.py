"""Product items and their search keys: one place for the normalisation rule.

Search-as-you-type is a DynamoDB Query on the "search" index: partition
``PREFIX#<first character>``, sort key ``<normalized name>#<id>``, so every prefix of a
name is a ``begins_with`` on one partition, never a scan.

The seed file is built with the same rule; after editing names in it, recompute its keys:
    python services/catalog/src/catalog_keys.py services/catalog/seed/products.json
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """'  Crème Brûlée ' -> 'creme brulee' (accents stripped, lower case, one space)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def search_partition(normalized: str) -> str:
    return f"PREFIX#{normalized[:1]}"


def product_keys(product_id: str, name: str) -> dict[str, str]:
    """Table keys and search index keys of a product."""
    normalized = normalize(name)
    return {
        "pk": f"PRODUCT#{product_id}",
        "sk": "PRODUCT",
        "search_pk": search_partition(normalized),
        "search_sk": f"{normalized}#{product_id}",
    }


def seed_record(product: dict[str, Any]) -> dict[str, Any]:
    """A product as a seed file item: keys computed, price left a JSON number."""
    keys = product_keys(product["id"], product["name"])
    return {
        "pk": keys["pk"], "sk": keys["sk"], "id": product["id"], "name": product["name"],
        "description": product.get("description", ""), "price": product["price"],
        "category": product.get("category", ""),
        "search_pk": keys["search_pk"], "search_sk": keys["search_sk"],
    }


def product_item(product: dict[str, Any]) -> dict[str, Any]:
    """The table item of a product (price as a Decimal, as boto3 wants it)."""
    return {**seed_record(product), "price": Decimal(str(product["price"]))}


def rebuild_seed(path: Path) -> int:
    """Recompute the keys of every product in a seed file, in place; returns the count."""
    records = [seed_record(p) for p in json.loads(path.read_text(encoding="utf-8"))]
    path.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(records)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {rebuild_seed(Path(arg))} products")
