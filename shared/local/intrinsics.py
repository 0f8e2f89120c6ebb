"""Evaluate CloudFormation intrinsic functions against known values (local cloud).

Enough of the language for Archway's own templates: Ref, Fn::Sub, Fn::GetAtt, Fn::Join,
Fn::Select, Fn::If / Condition with Fn::Equals, Fn::Not, Fn::And, Fn::Or.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

_SUB = re.compile(r"\$\{([^}!][^}]*)\}")


def physical_id(account: str, stack: str, logical: str, length: int = 10) -> str:
    """A stable, API-Gateway-like id for an emulated resource (lower-case alphanumerics)."""
    digest = hashlib.sha256(f"{account}/{stack}/{logical}".encode()).hexdigest()
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    number = int(digest, 16)
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(alphabet))
        chars.append(alphabet[index])
    return "".join(chars)


@dataclass
class Context:
    """What a template's expressions can see: parameters, pseudo parameters, resources."""

    template: dict[str, Any]
    parameters: dict[str, str]
    account: str
    region: str
    stack_name: str
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value

    def __post_init__(self) -> None:
        self.pseudo = {
            "AWS::AccountId": self.account, "AWS::Region": self.region,
            "AWS::Partition": "aws", "AWS::StackName": self.stack_name,
            "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None,
        }

    def ref(self, name: str) -> Any:
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Resources", {}):
            return self.physical.get(name) or physical_id(self.account, self.stack_name, name)
        raise KeyError(f"unresolvable Ref {name!r}")

    def resource_type(self, logical: str) -> str:
        return str(self.template["Resources"][logical]["Type"])

    def get_att(self, logical: str, attribute: str) -> Any:
        ref = self.ref(logical)
        kind = self.resource_type(logical)
        arn = f"arn:aws:{{}}:{self.region}:{self.account}:{{}}"
        values = {
            ("AWS::DynamoDB::Table", "Arn"): arn.format("dynamodb", f"table/{ref}"),
            ("AWS::DynamoDB::Table", "StreamArn"): arn.format("dynamodb",
                                                              f"table/{ref}/stream/local"),
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{ref}",
            ("AWS::S3::Bucket", "DomainName"): f"{ref}.s3.amazonaws.com",
            ("AWS::S3::Bucket", "RegionalDomainName"): f"{ref}.s3.{self.region}.amazonaws.com",
            ("AWS::Lambda::Function", "Arn"): arn.format("lambda", f"function:{ref}"),
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{self.account}:role/{ref}",
            ("AWS::Logs::LogGroup", "Arn"): arn.format("logs", f"log-group:{ref}:*"),
            ("AWS::ApiGateway::RestApi", "RootResourceId"): f"{ref}-root",
            ("AWS::CloudFront::Distribution", "DomainName"): f"{ref}.cloudfront.net",
            ("AWS::CloudFront::Function", "FunctionMetadata.FunctionARN"):
                f"arn:aws:cloudfront::{self.account}:function/{logical}",
            ("AWS::WAFv2::WebACL", "Arn"): f"arn:aws:wafv2:{self.region}:{self.account}:"
                                           f"global/webacl/{logical}/{ref}",
            ("AWS::WAFv2::IPSet", "Arn"): f"arn:aws:wafv2:{self.region}:{self.account}:"
                                          f"global/ipset/{logical}/{ref}",
        }
        return values.get((kind, attribute), f"{ref}.{attribute}")

    def condition(self, name: str) -> bool:
        return bool(self.evaluate(self.template.get("Conditions", {})[name]))

    def evaluate(self, value: Any) -> Any:  # noqa: C901 - one branch per intrinsic
        if isinstance(value, list):
            return [v for v in (self.evaluate(item) for item in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: v for k, v in ((k, self.evaluate(v)) for k, v in value.items())
                    if v is not None}
        (name, arg), = value.items()
        if name == "Ref":
            return self.ref(arg)
        if name == "Fn::GetAtt":
            logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical, attribute)
        if name == "Fn::Sub":
            return self._sub(arg)
        if name == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self.evaluate(arg[1]))
        if name == "Fn::Select":
            return self.evaluate(arg[1])[int(arg[0])]
        if name == "Fn::If":
            branch = arg[1] if self.condition(arg[0]) else arg[2]
            return self.evaluate(branch)
        if name == "Fn::Equals":
            return self.evaluate(arg[0]) == self.evaluate(arg[1])
        if name == "Fn::Not":
            return not self.evaluate(arg[0])
        if name == "Fn::And":
            return all(self.evaluate(a) for a in arg)
        if name == "Fn::Or":
            return any(self.evaluate(a) for a in arg)
        if name == "Condition":
            return self.condition(arg)
        return {name: self.evaluate(arg)}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved = {k: self.evaluate(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved:
                return str(resolved[name])
            if "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return _SUB.sub(replace, text)
