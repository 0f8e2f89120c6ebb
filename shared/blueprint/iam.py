"""Least-privilege IAM fragments, granted from the resource side (CDK's grant* style).

Every statement names the resources it touches. The only ``*`` resource Archway emits is
for X-Ray's PutTraceSegments/PutTelemetryRecords, which support no resource scoping.
"""

from __future__ import annotations

from collections.abc import Sequence

from awacs import dynamodb, logs, sts, xray
from awacs.aws import Allow, Policy, Principal, Statement
from troposphere import AWSObject, GetAtt, Sub, Template
from troposphere import iam as iam_resources

DYNAMODB_READ = (
    dynamodb.BatchGetItem,
    dynamodb.ConditionCheckItem,
    dynamodb.DescribeTable,
    dynamodb.GetItem,
    dynamodb.Query,
    dynamodb.Scan,
)
DYNAMODB_WRITE = (
    dynamodb.BatchWriteItem,
    dynamodb.DeleteItem,
    dynamodb.PutItem,
    dynamodb.UpdateItem,
)


def assume_role_policy(service: str) -> Policy:
    """Trust policy letting one AWS service principal (e.g. lambda.amazonaws.com) assume."""
    return Policy(Version="2012-10-17", Statement=[Statement(
        Effect=Allow, Principal=Principal("Service", [service]), Action=[sts.AssumeRole],
    )])


def table_read(tables: Sequence[tuple[AWSObject, bool]]) -> Statement:
    """Read actions on these tables; ``(table, has_indexes)`` adds their indexes."""
    resources: list[object] = []
    for table, has_indexes in tables:
        resources.append(GetAtt(table, "Arn"))
        if has_indexes:
            resources.append(Sub(f"${{{table.title}.Arn}}/index/*"))
    return Statement(Sid="ReadTables", Effect=Allow, Action=list(DYNAMODB_READ),
                     Resource=resources)


def table_write(tables: Sequence[AWSObject]) -> Statement:
    return Statement(Sid="WriteTables", Effect=Allow, Action=list(DYNAMODB_WRITE),
                     Resource=[GetAtt(t, "Arn") for t in tables])


def log_group_write(log_group: AWSObject) -> Statement:
    """Write to one log group's streams (the log group's Arn attribute ends in ':*')."""
    return Statement(Sid="WriteOwnLogs", Effect=Allow,
                     Action=[logs.CreateLogStream, logs.PutLogEvents],
                     Resource=[GetAtt(log_group, "Arn")])


def xray_write() -> Statement:
    # X-Ray's trace APIs accept no resource-level scoping: '*' is the only valid resource.
    return Statement(Sid="WriteTraces", Effect=Allow,
                     Action=[xray.PutTraceSegments, xray.PutTelemetryRecords], Resource=["*"])


def policy(*statements: Statement) -> Policy:
    return Policy(Version="2012-10-17", Statement=list(statements))


def boundary_name(platform: str) -> str:
    """The permissions boundary bootstrap makes in every account and region (one per
    region: IAM is global, bootstrap stacks are regional)."""
    return f"{platform}-boundary"


def boundary_arn(platform: str) -> Sub:
    """The boundary of the stack's own account and region, as every Archway role names it."""
    return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:policy/"
               f"{boundary_name(platform)}-${{AWS::Region}}")


def archway_role(template: Template, title: str, platform: str, service: str,
                 statements: Sequence[Statement], **props: object) -> iam_resources.Role:
    """An IAM role that carries the bootstrap's permissions boundary.

    Every role an Archway template creates is made here (or carries
    :func:`boundary_arn` itself): the CloudFormation execution role may create and
    change roles only when this boundary is attached, so a role made any other way
    fails to deploy. ``service`` is the principal that assumes it
    (``lambda.amazonaws.com``); ``statements`` its one inline policy; ``props`` any other
    Role property (RoleName, Description, Tags, ...).
    """
    return template.add_resource(iam_resources.Role(
        title,
        AssumeRolePolicyDocument=props.pop("AssumeRolePolicyDocument", None)
        or assume_role_policy(service),
        PermissionsBoundary=boundary_arn(platform),
        Policies=[iam_resources.Policy(PolicyName="least-privilege",
                                       PolicyDocument=policy(*statements))],
        **props,
    ))


def enforce_boundary(template: Template, platform: str) -> list[str]:
    """Attach :func:`boundary_arn` to every role of ``template`` that lacks a boundary.

    The execution role cannot create a role without it, so a blueprint that forgot it
    would fail on AWS; synth calls this for every stack the execution role deploys
    (bootstrap's own roles excepted). Returns the roles it had to fix.
    """
    fixed = []
    for title, resource in template.resources.items():
        if resource.resource_type == "AWS::IAM::Role" and \
                "PermissionsBoundary" not in resource.properties:
            resource.PermissionsBoundary = boundary_arn(platform)
            fixed.append(title)
    return fixed
