"""A small IAM policy evaluator for rendered templates: explicit Deny wins, then Allow.

Enough of https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
for the questions the tests ask (one account, identity policies, a permissions boundary,
trust policies): Action/Resource wildcards, StringEquals, StringLike and ArnLike.
Intrinsics are resolved against a fixed account, region and partition.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Context:
    account: str = "310000000001"
    region: str = "eu-west-1"
    partition: str = "aws"
    parameters: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    conditions: dict[str, bool] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NOVALUE]
        if not isinstance(value, dict):
            return value
        if "Fn::Sub" in value:
            return self._sub(value["Fn::Sub"])
        if "Ref" in value:
            name = value["Ref"]
            if name == "AWS::NoValue":
                return NOVALUE
            return self._pseudo(name) or self.parameters.get(name) or self.refs[name]
        if "Fn::GetAtt" in value:
            return self.refs[".".join(value["Fn::GetAtt"])]
        if "Fn::If" in value:
            condition, yes, no = value["Fn::If"]
            return self.resolve(yes if self.conditions.get(condition) else no)
        return {k: self.resolve(v) for k, v in value.items()}

    def _pseudo(self, name: str) -> str | None:
        return {"AWS::Partition": self.partition, "AWS::AccountId": self.account,
                "AWS::Region": self.region}.get(name)

    def _sub(self, text: Any) -> str:
        if isinstance(text, list):
            text, extra = text
        else:
            extra = {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(self.resolve(extra[name]))
            if "." in name:
                return self.refs[name]
            return self._pseudo(name) or self.parameters.get(name) or self.refs[name]

        return re.sub(r"\$\{([^}]+)\}", replace, text)


NOVALUE = object()


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _match(pattern: str, value: str, case: bool = True) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _conditions_hold(condition: dict[str, Any], request: dict[str, str]) -> bool:
    for operator, tests in condition.items():
        for key, expected in tests.items():
            actual = request.get(key)
            if actual is None:
                return False
            wanted = _list(expected)
            if operator == "StringEquals" and actual not in wanted:
                return False
            if operator in ("StringLike", "ArnLike") and not any(
                    _match(w, actual) for w in wanted):
                return False
            if operator not in ("StringEquals", "StringLike", "ArnLike"):
                raise NotImplementedError(operator)
    return True


def _applies(statement: dict[str, Any], action: str, resource: str,
             request: dict[str, str]) -> bool:
    if not any(_match(a, action, case=False) for a in _list(statement.get("Action", []))):
        return False
    if not any(_match(r, resource) for r in _list(statement.get("Resource", []))):
        return False
    return _conditions_hold(statement.get("Condition", {}), request)


def decide(documents: list[dict[str, Any]], action: str, resource: str,
           request: dict[str, str] | None = None) -> str:
    """'allow', 'deny' (explicit) or 'implicit' for one request against these policies."""
    request = request or {}
    statements = [s for d in documents for s in d["Statement"]]
    if any(s["Effect"] == "Deny" and _applies(s, action, resource, request)
           for s in statements):
        return "deny"
    if any(s["Effect"] == "Allow" and _applies(s, action, resource, request)
           for s in statements):
        return "allow"
    return "implicit"


def allowed(identity: list[dict[str, Any]], action: str, resource: str,
            request: dict[str, str] | None = None,
            boundary: dict[str, Any] | None = None) -> bool:
    """Identity policies, capped by a permissions boundary when the role has one."""
    if decide(identity, action, resource, request) != "allow":
        return False
    return boundary is None or decide([boundary], action, resource, request) == "allow"


def trusts(trust: dict[str, Any], principal_arn: str) -> bool:
    """Whether a role session of ``principal_arn`` may sts:AssumeRole under ``trust``."""
    account = principal_arn.split(":")[4]
    for statement in trust["Statement"]:
        if statement["Effect"] != "Allow" or "sts:AssumeRole" not in _list(statement["Action"]):
            continue
        principals = _list(statement["Principal"].get("AWS", []))
        named = principal_arn in principals or any(
            p.endswith(f":{account}:root") for p in principals)
        if named and _conditions_hold(statement.get("Condition", {}),
                                      {"aws:PrincipalArn": principal_arn}):
            return True
    return False
