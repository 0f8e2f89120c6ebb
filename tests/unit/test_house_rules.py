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
