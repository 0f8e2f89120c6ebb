"""LocalProvider: the deploy engine's provider for the local cloud.

moto's CloudFormation returns no outputs for stacks made through change sets and fails
on Fn::GetAtt of types it does not implement (CloudFront, WAF), so the local cloud
materializes the same templates itself: data resources (DynamoDB tables, S3 buckets)
are created on moto in the stack's account; everything else (Lambda, API Gateway,
CloudFront, WAF) is emulated by the local routers, which read the same templates.
The stack record (status, digest, outputs) is kept as an SSM parameter in the stack's
account, so it lives and dies with the local cloud.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.deploy.changes import ChangeSet, diff_templates
from archway.shared.deploy.provider import Resolved, StackResult, StackState, Target
from archway.shared.errors import ArchwayError
from archway.shared.local.intrinsics import Context, physical_id

ClientFactory = Callable[[str, str, str], Any]
RECORD_PREFIX = "/archway-local/stacks/"


class ReplacementRefused(ArchwayError):
    """What CloudFormation answers to an update that would replace a custom-named resource."""

    exit_code = 1


def record_name(stack_name: str) -> str:
    return f"{RECORD_PREFIX}{stack_name}"


def physical_ids(target: Target) -> dict[str, str]:
    """Logical id -> physical id (Ref value) for every resource of a template."""
    ids = {}
    for logical, resource in target.template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        name = next((props[k] for k in ("TableName", "BucketName", "FunctionName", "RoleName",
                                        "LogGroupName", "TopicName", "StageName")
                     if isinstance(props.get(k), str)), None)
        ids[logical] = name or physical_id(target.account, target.name, logical)
    return ids


def context(target: Target, parameters: dict[str, str]) -> Context:
    return Context(target.template, parameters, target.account, target.region, target.name,
                   physical_ids(target))


Probe = Callable[[Target, Context], list[str]]


class LocalProvider:
    def __init__(self, client: ClientFactory, templates: Path | None = None,
                 probe: Probe | None = None) -> None:
        self.client = client
        self.templates = templates
        self.probe = probe  # loads the stack's handlers after a deploy (see probe.py)

    def describe(self, target: Target) -> StackState | None:
        ssm = self.client("ssm", target.account, target.region)
        try:
            value = ssm.get_parameter(Name=record_name(target.name))["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        record = json.loads(value)
        return StackState(record["status"], record["outputs"], record["digest"],
                          record.get("parameters", {}))

    def deployed_template(self, target: Target) -> dict[str, Any] | None:
        """The template of the last deploy (kept beside the local cloud's state)."""
        if self.templates is None or self.describe(target) is None:
            return None
        path = self.templates / f"{target.name}.json"
        return dict(json.loads(path.read_text())) if path.exists() else None

    def preview(self, target: Target, params: Resolved) -> ChangeSet | None:
        current = self.describe(target)
        if current is not None and current.digest == params.digest:
            return None
        return diff_templates(target.name, self.deployed_template(target), target.template)

    def deploy(self, target: Target, params: Resolved) -> StackResult:
        current = self.describe(target)
        if current is not None and current.digest == params.digest:
            problems = self._probe(target, params)
            return StackResult(target.id, "skipped", "; ".join(["no changes", *problems]),
                               current.outputs)
        ctx = context(target, params.values)
        self._refuse_replacements(target, ctx)  # before anything changes, as CloudFormation
        for logical, resource in target.template.get("Resources", {}).items():
            kind = resource["Type"]
            if kind == "AWS::DynamoDB::Table":
                self._table(target, ctx.evaluate(resource["Properties"]))
            elif kind == "AWS::S3::Bucket":
                self._bucket(target, ctx.ref(logical), ctx.evaluate(resource["Properties"]))
        outputs = {k: str(ctx.evaluate(v["Value"]))
                   for k, v in target.template.get("Outputs", {}).items()}
        status = "CREATE_COMPLETE" if current is None else "UPDATE_COMPLETE"
        self._save(target, status, params, outputs)
        problems = self._probe(target, params)
        return StackResult(target.id, "created" if current is None else "updated",
                           "; ".join(problems), outputs)

    def _probe(self, target: Target, params: Resolved) -> list[str]:
        if self.probe is None:
            return []
        return self.probe(target, context(target, params.values))

    def _save(self, target: Target, status: str, params: Resolved,
              outputs: dict[str, str]) -> None:
        record = {"status": status, "digest": params.digest, "outputs": outputs,
                  "parameters": params.printable(), "template_sha256": target.template_sha256}
        ssm = self.client("ssm", target.account, target.region)
        ssm.put_parameter(Name=record_name(target.name), Type="String", Overwrite=True,
                          Value=json.dumps(record, sort_keys=True))
        if self.templates is not None:
            self.templates.mkdir(parents=True, exist_ok=True)
            (self.templates / f"{target.name}.json").write_text(target.template_body)

    # ------------------------------------------------------------- resources

    def _refuse_replacements(self, target: Target, ctx: Context) -> None:
        """A table's KeySchema is "Update requires: Replacement"
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html)
        and CloudFormation never replaces a resource that has a custom name: "You can't
        perform an update that causes a custom-named resource to be replaced"
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html).
        The stack update fails with the message below
        (https://repost.aws/knowledge-center/cloudformation-custom-name) and the old table
        stays as it was."""
        for logical, resource in target.template.get("Resources", {}).items():
            if resource["Type"] != "AWS::DynamoDB::Table":
                continue
            props = ctx.evaluate(resource["Properties"])
            dynamodb = self.client("dynamodb", target.account, target.region)
            try:
                existing = dynamodb.describe_table(TableName=props["TableName"])["Table"]
            except dynamodb.exceptions.ResourceNotFoundException:
                continue
            if _key(existing) != _key(props):
                raise ReplacementRefused(
                    f"{logical} ({props['TableName']}): the key schema changed from "
                    f"{_describe_key(existing)} to {_describe_key(props)}, which replaces the "
                    "table. CloudFormation cannot update a stack when a custom-named resource "
                    f"requires replacing. Rename {props['TableName']} and update the stack "
                    "again.")

    def _table(self, target: Target, props: dict[str, Any]) -> None:
        dynamodb = self.client("dynamodb", target.account, target.region)
        name = props["TableName"]
        wanted = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        try:
            existing = dynamodb.describe_table(TableName=name)["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            existing = None
        if existing is None:
            kwargs: dict[str, Any] = {
                "TableName": name, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
            }
            if wanted:
                kwargs["GlobalSecondaryIndexes"] = list(wanted.values())
            if "StreamSpecification" in props:
                kwargs["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": props["StreamSpecification"]["StreamViewType"]}
            dynamodb.create_table(**kwargs)
        else:
            # Tables are never replaced or deleted (Retain); only new indexes are added.
            have = {i["IndexName"] for i in existing.get("GlobalSecondaryIndexes", [])}
            for index_name in sorted(set(wanted) - have):
                dynamodb.update_table(
                    TableName=name, AttributeDefinitions=props["AttributeDefinitions"],
                    GlobalSecondaryIndexUpdates=[{"Create": wanted[index_name]}])
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)

    def _bucket(self, target: Target, name: str, props: dict[str, Any]) -> None:
        s3 = self.client("s3", target.account, target.region)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError:
            config = ({} if target.region == "us-east-1" else
                      {"CreateBucketConfiguration": {"LocationConstraint": target.region}})
            s3.create_bucket(Bucket=name, **config)
        versioning = props.get("VersioningConfiguration", {}).get("Status")
        if versioning:
            s3.put_bucket_versioning(Bucket=name,
                                     VersioningConfiguration={"Status": versioning})


def _key(table: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key type, attribute, attribute type) of a table's primary key."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    return [(k["KeyType"], k["AttributeName"], types.get(k["AttributeName"], "?"))
            for k in table["KeySchema"]]


def _describe_key(table: dict[str, Any]) -> str:
    return ", ".join(f"{kind} {name} ({kind_of})" for kind, name, kind_of in _key(table))
