"""What a deploy would change: resources added, modified, removed; data and IAM at risk;
the edge's routing as routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATEFUL = {"AWS::DynamoDB::Table", "AWS::S3::Bucket"}
# Properties whose change makes CloudFormation replace the resource.
REPLACING = {"AWS::DynamoDB::Table": {"TableName", "KeySchema"},
             "AWS::S3::Bucket": {"BucketName"}}


@dataclass
class Change:
    action: str  # Add | Modify | Remove
    logical: str
    kind: str
    replacement: str = "False"

    @property
    def risky(self) -> bool:
        """Replacing or removing data, or touching IAM: shown in red."""
        stateful = self.kind in STATEFUL and (self.action == "Remove" or
                                              self.replacement in {"True", "Conditional"})
        return stateful or self.kind.startswith("AWS::IAM::")

    def __str__(self) -> str:
        replace = " (replacement)" if self.replacement == "True" else ""
        return f"{self.action:<6} {self.logical} [{self.kind}]{replace}"


@dataclass
class ChangeSet:
    stack: str
    changes: list[Change] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    created: float | None = None  # CloudFormation's clock: events after it are this deploy's


def diff_templates(stack: str, old: dict[str, Any] | None, new: dict[str, Any]) -> ChangeSet:
    before = (old or {}).get("Resources", {})
    after = new.get("Resources", {})
    changes = [Change("Add", k, after[k]["Type"]) for k in sorted(set(after) - set(before))]
    changes += [Change("Remove", k, before[k]["Type"]) for k in sorted(set(before) - set(after))]
    for logical in sorted(set(before) & set(after)):
        if before[logical] != after[logical]:
            kind = after[logical]["Type"]
            old_props = before[logical].get("Properties", {})
            new_props = after[logical].get("Properties", {})
            replaced = any(old_props.get(p) != new_props.get(p) for p in REPLACING.get(kind, ()))
            changes.append(Change("Modify", logical, kind, "True" if replaced else "False"))
    return ChangeSet(stack, changes, route_changes(old, new))


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

