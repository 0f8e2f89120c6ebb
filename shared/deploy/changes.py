"""What a deploy would change: resources added, modified, removed, down to the property
(``MemorySize: 256 -> 512``); replacements, data and IAM at risk flagged; the edge's
routing as routes.

Two sources give the same shape: a CloudFormation change set described with property
values (``parse_change_set``), and a diff of the deployed template against the new one
(``diff_templates``, the local cloud's preview).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STATEFUL = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool"}
# Properties whose change makes CloudFormation replace the resource.
REPLACING = {"AWS::DynamoDB::Table": {"TableName", "KeySchema"},
             "AWS::S3::Bucket": {"BucketName"}}
SYMBOLS = {"Add": "+", "Remove": "-", "Modify": "~", "Import": "<", "Dynamic": "?"}
MASK = "****"
MAX_VALUE = 60  # longer values are cut in the text view (JSON keeps them whole)


@dataclass(frozen=True)
class PropertyChange:
    """One property of one resource: ``path`` like ``Environment.Variables.TABLE``."""

    path: str
    before: str | None = None
    after: str | None = None
    recreation: str = "Never"  # Never | Conditionally | Always (CloudFormation's words)

    def __str__(self) -> str:
        if self.before is None and self.after is None:
            return self.path
        return f"{self.path}: {_short(self.before)} -> {_short(self.after)}"


@dataclass
class Change:
    action: str  # Add | Modify | Remove
    logical: str
    kind: str
    replacement: str = "False"  # True | False | Conditional
    properties: list[PropertyChange] = field(default_factory=list)

    @property
    def risky(self) -> bool:
        """Replacing or removing data, or touching IAM: shown in red."""
        stateful = self.kind in STATEFUL and (self.action == "Remove" or
                                              self.replacement in {"True", "Conditional"})
        return stateful or self.kind.startswith("AWS::IAM::")

    @property
    def symbol(self) -> str:
        return SYMBOLS.get(self.action, "~")

    @property
    def flags(self) -> list[str]:
        flags = []
        if self.replacement == "True":
            flags.append("REPLACEMENT")
        elif self.replacement == "Conditional":
            flags.append("may replace")
        if self.kind.startswith("AWS::IAM::"):
            flags.append("IAM")
        elif self.kind in STATEFUL and (self.action == "Remove" or flags):
            flags.append("DATA")
        return flags

    def __str__(self) -> str:
        replace = " (replacement)" if self.replacement == "True" else ""
        return f"{self.action:<6} {self.logical} [{self.kind}]{replace}"

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "logical_id": self.logical, "type": self.kind,
                "replacement": self.replacement, "risky": self.risky, "flags": self.flags,
                "properties": [{"path": p.path, "before": p.before, "after": p.after,
                                "requires_recreation": p.recreation}
                               for p in self.properties]}


@dataclass
class ChangeSet:
    stack: str
    changes: list[Change] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    created: float | None = None  # CloudFormation's clock: events after it are this deploy's

    def to_dict(self) -> dict[str, Any]:
        return {"changes": [c.to_dict() for c in self.changes], "routes": list(self.routes)}

    def rows(self, stack_id: str) -> list[tuple[list[str], bool]]:
        """``[symbol, stack, resource, what, flags]`` per property (or resource) and route,
        with whether the row is risky; e.g. ``~ svc-catalog SearchFunction MemorySize:
        256 -> 512``."""
        found = []
        for change in self.changes:
            flags = " ".join(change.flags)
            details = [str(p) for p in change.properties] or [f"[{change.kind}]"]
            found += [([change.symbol, stack_id, change.logical, detail, flags], change.risky)
                      for detail in details]
        found += [([route[:1], stack_id, "route", route[2:], ""], False)
                  for route in self.routes]
        return found


# ------------------------------------------------------------ CloudFormation


def parse_change_set(stack: str, described: dict[str, Any],
                     secrets: Iterable[str] = ()) -> ChangeSet:
    """A DescribeChangeSet response (with ``IncludePropertyValues=True``) as a ChangeSet.

    Each ResourceChange carries ``Details``; a detail's ``Target`` names the attribute
    (Properties, Tags, ...), the property ``Path`` (``/Properties/MemorySize``), its
    ``BeforeValue`` / ``AfterValue`` (strings, large ones truncated by CloudFormation)
    and ``RequiresRecreation`` (Never | Conditionally | Always).
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceChange.html
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_ResourceTargetDefinition.html
    One property can appear in several details (a direct edit and a reference that
    changed with it): it is listed once. Values equal to a secret are masked.
    """
    hidden = {s for s in secrets if s}
    changes = []
    for entry in described.get("Changes", []):
        if entry.get("Type") != "Resource":
            continue
        resource = entry["ResourceChange"]
        changes.append(Change(resource["Action"], resource["LogicalResourceId"],
                              resource["ResourceType"], resource.get("Replacement", "False"),
                              _details(resource.get("Details", []), hidden)))
    created = described.get("CreationTime")
    return ChangeSet(stack, changes, created=created.timestamp() if created else None)


def all_pages(cfn: Any, first: dict[str, Any], **names: str) -> dict[str, Any]:
    """``first`` with the Changes of every further page (DescribeChangeSet's NextToken)."""
    described = dict(first)
    changes = list(first.get("Changes", []))
    token = first.get("NextToken")
    while token:
        page = cfn.describe_change_set(NextToken=token, IncludePropertyValues=True, **names)
        changes += page.get("Changes", [])
        token = page.get("NextToken")
    described["Changes"] = changes
    return described


def _details(details: list[dict[str, Any]], hidden: set[str]) -> list[PropertyChange]:
    found: dict[str, PropertyChange] = {}
    for detail in details:
        target = detail.get("Target", {})
        path = _path(target)
        known = found.get(path)
        before = _mask(target.get("BeforeValue"), hidden)
        after = _mask(target.get("AfterValue"), hidden)
        if known is not None and (known.before, known.after) != (None, None):
            before, after = known.before, known.after  # keep the first detail with values
        recreation = _worst(known.recreation if known else "Never",
                            target.get("RequiresRecreation", "Never"))
        found[path] = PropertyChange(path, before, after, recreation)
    return list(found.values())


def _path(target: dict[str, Any]) -> str:
    raw = target.get("Path") or ""
    parts = [p for p in raw.split("/") if p]
    if parts[:1] == ["Properties"]:
        parts = parts[1:]
    if parts:
        return ".".join(parts)
    return str(target.get("Name") or target.get("Attribute") or "?")


def _worst(a: str, b: str) -> str:
    order = ["Never", "Conditionally", "Always"]
    return max(a, b, key=lambda v: order.index(v) if v in order else 0)


def _mask(value: str | None, hidden: set[str]) -> str | None:
    if value is None:
        return None
    for secret in hidden:
        value = value.replace(secret, MASK)
    return value


def _short(value: str | None) -> str:
    if value is None:
        return "(none)"
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE - 3] + "..."


# ------------------------------------------------------------ template diff


def diff_templates(stack: str, old: dict[str, Any] | None, new: dict[str, Any],
                   parameters: tuple[dict[str, str], dict[str, str]] | None = None) -> ChangeSet:
    """What changes from ``old`` to ``new``, per resource and property.

    ``parameters`` (deployed, new), printable values: a changed parameter marks every
    resource that refers to it as modified, with the parameter as the property.
    """
    before = (old or {}).get("Resources", {})
    after = new.get("Resources", {})
    changes = [Change("Add", k, after[k]["Type"]) for k in sorted(set(after) - set(before))]
    changes += [Change("Remove", k, before[k]["Type"]) for k in sorted(set(before) - set(after))]
    moved = _changed_parameters(parameters)
    for logical in sorted(set(before) & set(after)):
        kind = after[logical]["Type"]
        props = property_diff(before[logical].get("Properties", {}),
                              after[logical].get("Properties", {}))
        props += [PropertyChange(f"(parameter {name})", old_value, new_value)
                  for name, (old_value, new_value) in moved.items()
                  if _refers_to(after[logical], name)]
        others = {k for k in set(before[logical]) | set(after[logical]) if k != "Properties"
                  and before[logical].get(k) != after[logical].get(k)}
        props += [PropertyChange(attribute) for attribute in sorted(others)]
        if not props:
            continue
        replacing = REPLACING.get(kind, set())
        replaced = any(p.path.split(".")[0] in replacing for p in props)
        props = [PropertyChange(p.path, p.before, p.after,
                                "Always" if p.path.split(".")[0] in replacing else p.recreation)
                 for p in props]
        changes.append(Change("Modify", logical, kind, "True" if replaced else "False", props))
    return ChangeSet(stack, changes, route_changes(old, new))


def property_diff(old: Any, new: Any, path: str = "") -> list[PropertyChange]:
    """Leaf-level differences of two property trees; lists of different length whole."""
    if isinstance(old, dict) and isinstance(new, dict) and not _intrinsic(old, new):
        found = []
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                found.append(PropertyChange(sub, None, _text(new[key])))
            elif key not in new:
                found.append(PropertyChange(sub, _text(old[key]), None))
            else:
                found += property_diff(old[key], new[key], sub)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found += property_diff(a, b, f"{path}.{index}" if path else str(index))
        return found
    if old == new:
        return []
    return [PropertyChange(path or "(value)", _text(old), _text(new))]


def _intrinsic(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """``{"Ref": ...}`` or ``{"Fn::...": ...}``: compared as one value."""
    def single(d: dict[str, Any]) -> bool:
        return len(d) == 1 and (next(iter(d)) == "Ref" or next(iter(d)).startswith("Fn::"))

    return single(old) or single(new)


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _changed_parameters(
        parameters: tuple[dict[str, str], dict[str, str]] | None) -> dict[str, tuple[str, str]]:
    if parameters is None:
        return {}
    deployed, wanted = parameters
    return {name: (deployed.get(name, "(none)"), value) for name, value in sorted(wanted.items())
            if deployed.get(name) != value and value != MASK}


def _refers_to(resource: dict[str, Any], parameter: str) -> bool:
    text = json.dumps(resource.get("Properties", {}))
    return f'{{"Ref": "{parameter}"}}' in text or f"${{{parameter}}}" in text


# ------------------------------------------------------------ edge routes


def routes(template: dict[str, Any] | None) -> dict[str, str]:
    """path pattern -> origin id of a distribution template (default behavior as '*')."""
    for resource in (template or {}).get("Resources", {}).values():
        if resource["Type"] == "AWS::CloudFront::Distribution":
            config = resource["Properties"]["DistributionConfig"]
            table = {b["PathPattern"]: b["TargetOriginId"]
                     for b in config.get("CacheBehaviors", [])}
            table["*"] = config["DefaultCacheBehavior"]["TargetOriginId"]
            return table
    return {}


def route_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    before, after = routes(old), routes(new)
    lines = [f"+ {p} -> {after[p]}" for p in after if p not in before]
    lines += [f"- {p} -> {before[p]}" for p in before if p not in after]
    lines += [f"~ {p} -> {after[p]} (was {before[p]})" for p in after
              if p in before and before[p] != after[p]]
    return lines
