"""Archway's house rules, run by cfn-lint beside its own (``archway lint``)."""

from __future__ import annotations

from typing import Any

from cfnlint.rules import CloudFormationLintRule, RuleMatch

STATEFUL = ["AWS::DynamoDB::Table", "AWS::S3::Bucket"]
POLICY_KEYS = {"PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"}


class StatefulRetained(CloudFormationLintRule):
    id = "E9001"
    shortdesc = "Data survives stack deletion and replacement"
    description = ("DynamoDB tables and S3 buckets need DeletionPolicy and "
                   "UpdateReplacePolicy Retain")
    source_url = ("https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
                  "aws-attribute-deletionpolicy.html")
    tags = ["resources", "archway"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches = []
        for name, resource in cfn.get_resources(STATEFUL).items():
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                if resource.get(policy) != "Retain":
                    matches.append(RuleMatch(["Resources", name], (
                        f"{resource['Type']} {name} must have {policy}: Retain "
                        f"(got {resource.get(policy, 'none')})")))
        return matches


class NoFullWildcardAction(CloudFormationLintRule):
    id = "E9002"
    shortdesc = "No policy allows every action"
    description = "An Allow statement never grants Action '*' (name the actions)"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html"
    tags = ["iam", "archway"]

    def match(self, cfn: Any) -> list[RuleMatch]:
        matches: list[RuleMatch] = []
        for name, resource in cfn.get_resources().items():
            self._walk(resource.get("Properties", {}), ["Resources", name, "Properties"],
                       matches)
        return matches

    def _walk(self, value: Any, path: list[Any], matches: list[RuleMatch]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in POLICY_KEYS and isinstance(item, dict):
                    self._check(item, [*path, key], matches)
                else:
                    self._walk(item, [*path, key], matches)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self._walk(item, [*path, index], matches)

    def _check(self, document: dict[str, Any], path: list[Any],
               matches: list[RuleMatch]) -> None:
        for index, statement in enumerate(document.get("Statement", [])):
            actions = statement.get("Action", [])
            actions = actions if isinstance(actions, list) else [actions]
            if statement.get("Effect") == "Allow" and "*" in actions:
                matches.append(RuleMatch([*path, "Statement", index, "Action"],
                                         "an Allow statement grants every action ('*')"))
