"""Settings: argument > environment variable > default."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3


def setting(name: str, value: str | None = None, default: str | None = None) -> str:
    result = value if value is not None else os.environ.get(name, default)
    if result is None:
        raise RuntimeError(f"setting {name} is not configured")
    return result


@cache
def table(env_var: str) -> Any:
    """The DynamoDB table named by ``env_var``, created on first use (not at import)."""
    return boto3.resource("dynamodb").Table(setting(env_var))
