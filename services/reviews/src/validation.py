"""Review input rules: one clear message naming the field."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler.exceptions import BadRequestError

TEXT_MAX = 2000


def review_input(body: Any) -> dict[str, Any]:
    """rating and text; the author is the signed-in user (reviews.py), never the body's."""
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object with rating and text")
    if "author" in body:
        raise BadRequestError("author is the signed-in user: do not send it")
    rating = body.get("rating")
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise BadRequestError(f"rating must be a whole number from 1 to 5 (got {rating!r})")
    text = body.get("text")
    if not isinstance(text, str) or not 1 <= len(text.strip()) <= TEXT_MAX:
        raise BadRequestError(f"text must be text of 1 to {TEXT_MAX} characters")
    unknown = sorted(set(body) - {"rating", "text"})
    if unknown:
        raise BadRequestError(f"unknown field(s): {', '.join(unknown)}")
    return {"rating": rating, "text": text.strip()}
