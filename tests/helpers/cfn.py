"""Read rendered CloudFormation templates the way the tests mean them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from archway.shared.blueprint import StackDef
from archway.shared.synth import render


def rendered(stack: StackDef) -> dict[str, Any]:
    """The template exactly as synth writes it (troposphere validates only here)."""
    return json.loads(render(stack))


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def matches(actual: Any, expected: Any) -> bool:
    """Partial match: every key of ``expected`` is in ``actual`` with a matching value."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(
            matches(a, e) for a, e in zip(actual, expected, strict=True))
    return actual == expected


def has_resource_properties(template: dict[str, Any], kind: str, props: dict[str, Any]) -> bool:
    return any(matches(r.get("Properties", {}), props) for r in resources(template, kind).values())


def statements(policy_holder: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every statement of every inline policy of an IAM role resource."""
    for policy in policy_holder["Properties"].get("Policies", []):
        yield from policy["PolicyDocument"]["Statement"]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)
