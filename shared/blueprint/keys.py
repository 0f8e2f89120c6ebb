"""Customer-managed KMS keys that AWS services may use on this account's behalf.

An SNS topic encrypted with the AWS-managed key ``alias/aws/sns`` cannot receive from
CloudWatch alarms or CodeStar notifications: those services need kms:GenerateDataKey*
and kms:Decrypt on the topic's key, which only a customer-managed key's policy can
grant: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
"""

from __future__ import annotations

from awacs import kms
from awacs.aws import Allow, ArnLike, Condition, Principal, Statement, StringEquals
from troposphere import Ref, Sub, Template
from troposphere import kms as kms_resources

from archway.shared.blueprint.iam import policy


def account_administers() -> Statement:
    # A key policy's resource is always the key itself ("*" means this key). The account
    # statement lets this account's IAM policies grant use of the key.
    return Statement(Sid="AccountAdministers", Effect=Allow,
                     Principal=Principal("AWS", [Sub("arn:${AWS::Partition}:iam::"
                                                     "${AWS::AccountId}:root")]),
                     Action=[kms.Action("*")], Resource=["*"])


def services_publish(services: list[str]) -> Statement:
    """Let AWS service principals encrypt messages for this account's topics only."""
    return Statement(Sid="ServicesPublishToTopics", Effect=Allow,
                     Principal=Principal("Service", services),
                     Action=[kms.Action("GenerateDataKey*"), kms.Decrypt], Resource=["*"],
                     Condition=Condition(StringEquals(
                         {"aws:SourceAccount": Ref("AWS::AccountId")})))


def topic_key(template: Template, title: str, description: str, services: list[str],
              **props: object) -> kms_resources.Key:
    """A rotating key for SNS topics that ``services`` publish to."""
    return template.add_resource(kms_resources.Key(
        title, Description=description, EnableKeyRotation=True,
        KeyPolicy=policy(account_administers(), services_publish(services)), **props))


def logs_use(log_groups: str = "*") -> Statement:
    """Let CloudWatch Logs of this region encrypt this account's log groups with the key:
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"""
    return Statement(
        Sid="LogsEncryptLogGroups", Effect=Allow,
        Principal=Principal("Service", [Sub("logs.${AWS::Region}.amazonaws.com")]),
        Action=[kms.Action("Encrypt*"), kms.Action("Decrypt*"), kms.Action("ReEncrypt*"),
                kms.Action("GenerateDataKey*"), kms.Action("Describe*")],
        Resource=["*"],
        Condition=Condition(ArnLike({"kms:EncryptionContext:aws:logs:arn": Sub(
            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
            + log_groups)})))


def service_key(template: Template, title: str, description: str, services: list[str],
                **props: object) -> kms_resources.Key:
    """One key for a stack's data at rest: its tables (DynamoDB acts through grants it
    makes as the table's creator), its log groups and the topics ``services`` publish to."""
    return template.add_resource(kms_resources.Key(
        title, Description=description, EnableKeyRotation=True,
        KeyPolicy=policy(account_administers(), services_publish(services), logs_use()),
        **props))
