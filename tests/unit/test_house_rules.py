"""Archway's cfn-lint house rules: exact errors on bad templates, silence on good ones."""

from __future__ import annotations

import json

from archway.shared.lint import lint_template

BAD_TABLE = {"Resources": {"Orders": {
    "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Delete",
    "Properties": {"BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}}}

ADMIN_ROLE = {"Resources": {"Admin": {"Type": "AWS::IAM::Role", "Properties": {
    "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
        "Action": ["sts:AssumeRole"]}]},
    "Policies": [{"PolicyName": "all", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]}}}}


def house(template: dict) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in lint_template(json.dumps(template), "eu-west-1")
            if f.rule.startswith("E9")]


def test_table_without_retain_is_an_error() -> None:
    assert house(BAD_TABLE) == [
        "E9001: AWS::DynamoDB::Table Orders must have DeletionPolicy: Retain (got Delete)",
        "E9001: AWS::DynamoDB::Table Orders must have UpdateReplacePolicy: Retain (got none)",
    ]


def test_allow_every_action_is_an_error() -> None:
    assert house(ADMIN_ROLE) == ["E9002: an Allow statement grants every action ('*')"]


def test_retained_table_passes() -> None:
    good = json.loads(json.dumps(BAD_TABLE))
    good["Resources"]["Orders"].update(DeletionPolicy="Retain", UpdateReplacePolicy="Retain")
    assert house(good) == []


def _role(*statements: dict) -> dict:
    """A Lambda role whose one inline policy holds ``statements``."""
    return {"Resources": {"Fn": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Action": ["sts:AssumeRole"]}]},
        "Policies": [{"PolicyName": "p", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": list(statements)}}]}}}}


LOG_GROUP = {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                        "log-group:/aws/lambda/archway-*"}
ROLES = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/archway-*"}


def test_unknown_actions_are_errors() -> None:
    assert house(_role({"Effect": "Allow", "Action": ["s3:REST.PUT.OBJECT", "s3:GetObject"],
                        "Resource": "*"})) == ["E9003: unknown IAM action s3:REST.PUT.OBJECT"]


def test_an_action_that_takes_only_star_never_applies_to_an_arn() -> None:
    # GIVEN the old execution role's mistake: DescribeLogGroups scoped to log groups
    found = house(_role({"Effect": "Allow", "Resource": [LOG_GROUP],
                         "Action": ["logs:DescribeLogGroups", "logs:CreateLogGroup"]}))
    # THEN exactly that action is reported (CreateLogGroup does act on log groups)
    assert found == ["E9004: logs:DescribeLogGroups supports only Resource '*': granting it "
                     "on arn:*:logs:*:*:log-group:/aws/lambda/archway-* never applies"]


def test_resources_of_another_service_cannot_match() -> None:
    found = house(_role({"Effect": "Allow", "Action": ["dynamodb:GetItem"],
                         "Resource": [LOG_GROUP]}))
    assert len(found) == 1 and found[0].startswith("E9004: dynamodb:GetItem acts on ")


def test_escalation_actions_on_every_resource_are_errors() -> None:
    assert house(_role({"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": "*"})) == [
        "E9005: iam:PassRole on every resource is a privilege-escalation path: name the "
        "resources"]


def test_role_changes_need_the_boundary_condition() -> None:
    unbounded = {"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": [ROLES]}
    assert house(_role(unbounded)) == [
        "E9005: iam:CreateRole without an iam:PermissionsBoundary condition lets a role "
        "escape the boundary"]
    bounded = {**unbounded, "Condition": {"StringEquals": {
        "iam:PermissionsBoundary": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:"
                                               "policy/archway-boundary-${AWS::Region}"}}}}
    assert house(_role(bounded)) == []
