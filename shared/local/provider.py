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

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.deploy.changes import ChangeSet, diff_templates
from archway.shared.deploy.drift import ResourceDrift, StackDrift
from archway.shared.deploy.params import GET_PARAMETERS_MAX
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
                 probe: Probe | None = None,
                 changes: Callable[[Target, ChangeSet], None] | None = None) -> None:
        self.client = client
        self.templates = templates
        self.probe = probe  # loads the stack's handlers after a deploy (see probe.py)
        self.changes = changes  # shown before a deploy changes anything, as on AWS
        # Stack records as read or written during one deploy (see ``records_held``).
        self._records: dict[tuple[str, str, str], StackState | None] | None = None
        self._records_lock = threading.Lock()

    @contextlib.contextmanager
    def records_held(self, targets: Iterable[Target]) -> Iterator[None]:
        """While the caller holds the local deploy lock (no other process writes a record):
        the records of ``targets`` are read up front, ten per GetParameters call per
        account and region, then kept as this provider writes them, so a deploy reads
        each stack's record once instead of at every describe (its own no-op check, the
        change list, the outputs its consumers resolve, the route each service registers).
        Outside it every describe reads moto."""
        by_place: dict[tuple[str, str], list[Target]] = {}
        for target in targets:
            by_place.setdefault((target.account, target.region), []).append(target)
        records: dict[tuple[str, str, str], StackState | None] = {}
        for (account, region), group in by_place.items():
            records.update(self._read_records(account, region, group))
        with self._records_lock:
            self._records = records
        try:
            yield
        finally:
            with self._records_lock:
                self._records = None

    def _read_records(self, account: str, region: str,
                      targets: list[Target]) -> dict[tuple[str, str, str], StackState | None]:
        ssm = self.client("ssm", account, region)
        found: dict[tuple[str, str, str], StackState | None] = {}
        for start in range(0, len(targets), GET_PARAMETERS_MAX):
            batch = targets[start:start + GET_PARAMETERS_MAX]
            reply = ssm.get_parameters(Names=[record_name(t.name) for t in batch])
            values = {p["Name"]: p["Value"] for p in reply.get("Parameters", [])}
            for target in batch:
                value = values.get(record_name(target.name))
                found[_place(target)] = _state(value) if value is not None else None
        return found

    def _remember(self, target: Target, state: StackState | None) -> None:
        with self._records_lock:
            if self._records is not None:
                self._records[_place(target)] = state

    def describe(self, target: Target) -> StackState | None:
        with self._records_lock:
            if self._records is not None and _place(target) in self._records:
                return self._records[_place(target)]
        ssm = self.client("ssm", target.account, target.region)
        try:
            value = ssm.get_parameter(Name=record_name(target.name))["Parameter"]["Value"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ParameterNotFound":
                raise
            value = None
        state = _state(value) if value is not None else None
        with self._records_lock:  # a record read now is kept too, unless written meanwhile
            if self._records is not None:
                self._records.setdefault(_place(target), state)
        return state

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
        deployed = current.parameters if current is not None else {}
        return diff_templates(target.name, self.deployed_template(target), target.template,
                              (deployed, params.printable()))

    def deploy(self, target: Target, params: Resolved) -> StackResult:
        current = self.describe(target)
        if current is not None and current.digest == params.digest:
            problems = self._probe(target, params)
            return StackResult(target.id, "skipped", "; ".join(["no changes", *problems]),
                               current.outputs)
        ctx = context(target, params.values)
        if self.changes is not None:
            change_set = self.preview(target, params)
            if change_set is not None:
                self.changes(target, change_set)
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

    # ------------------------------------------------------------------ delete

    def physical_ids(self, target: Target) -> dict[str, str]:
        """Logical -> physical id as deployed (names evaluated with the stack's parameters)."""
        state = self.describe(target)
        ctx = context(target, state.parameters if state else {})
        return {logical: str(ctx.ref(logical))
                for logical in target.template.get("Resources", {})}

    def delete(self, target: Target) -> StackResult:
        """Delete what the stack made, except what its template retains (DeletionPolicy)."""
        if self.describe(target) is None:
            return StackResult(target.id, "skipped", "not deployed")
        names = self.physical_ids(target)
        for logical, resource in target.template.get("Resources", {}).items():
            if resource.get("DeletionPolicy") in {"Retain", "RetainExceptOnCreate"}:
                continue
            if resource["Type"] == "AWS::DynamoDB::Table":
                self._drop_table(target, names[logical])
            elif resource["Type"] == "AWS::S3::Bucket":
                self._drop_bucket(target, names[logical])
        ssm = self.client("ssm", target.account, target.region)
        ssm.delete_parameter(Name=record_name(target.name))
        self._remember(target, None)
        if self.templates is not None:
            (self.templates / f"{target.name}.json").unlink(missing_ok=True)
        return StackResult(target.id, "deleted")

    def _drop_table(self, target: Target, name: str) -> None:
        dynamodb = self.client("dynamodb", target.account, target.region)
        try:
            dynamodb.delete_table(TableName=name)
        except dynamodb.exceptions.ResourceNotFoundException:
            pass

    def _drop_bucket(self, target: Target, name: str) -> None:
        s3 = self.client("s3", target.account, target.region)
        try:
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
                doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                          for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                if doomed:
                    s3.delete_objects(Bucket=name, Delete={"Objects": doomed})
            s3.delete_bucket(Bucket=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchBucket":
                raise

    # ------------------------------------------------------------------- drift

    def detect_drift(self, target: Target) -> StackDrift:
        """The local cloud's drift: its real resources (tables, buckets) against the
        template; the emulated ones (Lambda, API, edge) are read from the template itself
        and cannot drift. The result is kept on the stack record for `archway status`."""
        state = self.describe(target)
        if state is None:
            return StackDrift(target, "NOT_DEPLOYED")
        ctx = context(target, state.parameters)
        drifted = []
        for logical, resource in sorted(target.template.get("Resources", {}).items()):
            if resource["Type"] == "AWS::DynamoDB::Table":
                found = self._table_drift(target, ctx.evaluate(resource["Properties"]))
            elif resource["Type"] == "AWS::S3::Bucket":
                found = self._bucket_drift(target, str(ctx.ref(logical)),
                                           ctx.evaluate(resource["Properties"]))
            else:
                continue
            if found is not None:
                drifted.append(ResourceDrift(logical, resource["Type"], *found))
        result = StackDrift(target, "DRIFTED" if drifted else "IN_SYNC", tuple(drifted))
        self._update_record(target, drift=result.status)
        return result

    def _table_drift(self, target: Target,
                     props: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        dynamodb = self.client("dynamodb", target.account, target.region)
        try:
            table = dynamodb.describe_table(TableName=props["TableName"])["Table"]
        except dynamodb.exceptions.ResourceNotFoundException:
            return "DELETED", ()
        expected = {
            "KeySchema": sorted(json.dumps(k, sort_keys=True) for k in props["KeySchema"]),
            "GlobalSecondaryIndexes": sorted(i["IndexName"]
                                             for i in props.get("GlobalSecondaryIndexes", [])),
            "StreamSpecification.StreamViewType":
                props.get("StreamSpecification", {}).get("StreamViewType"),
        }
        actual = {
            "KeySchema": sorted(json.dumps(k, sort_keys=True) for k in table["KeySchema"]),
            "GlobalSecondaryIndexes": sorted(i["IndexName"]
                                             for i in table.get("GlobalSecondaryIndexes", [])),
            "StreamSpecification.StreamViewType":
                table.get("StreamSpecification", {}).get("StreamViewType")
                if table.get("StreamSpecification", {}).get("StreamEnabled") else None,
        }
        return _differences(expected, actual)

    def _bucket_drift(self, target: Target, name: str,
                      props: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        s3 = self.client("s3", target.account, target.region)
        try:
            s3.head_bucket(Bucket=name)
        except ClientError:
            return "DELETED", ()
        expected = {"VersioningConfiguration.Status":
                    props.get("VersioningConfiguration", {}).get("Status")}
        actual = {"VersioningConfiguration.Status":
                  s3.get_bucket_versioning(Bucket=name).get("Status")}
        return _differences(expected, actual)

    def _update_record(self, target: Target, **changes: Any) -> None:
        ssm = self.client("ssm", target.account, target.region)
        name = record_name(target.name)
        record = json.loads(ssm.get_parameter(Name=name)["Parameter"]["Value"])
        record.update(changes)
        value = json.dumps(record, sort_keys=True)
        ssm.put_parameter(Name=name, Type="String", Overwrite=True, Value=value)
        self._remember(target, _state(value))

    def _save(self, target: Target, status: str, params: Resolved,
              outputs: dict[str, str]) -> None:
        record = {"status": status, "digest": params.digest, "outputs": outputs,
                  "parameters": params.printable(), "template_sha256": target.template_sha256}
        ssm = self.client("ssm", target.account, target.region)
        value = json.dumps(record, sort_keys=True)
        ssm.put_parameter(Name=record_name(target.name), Type="String", Overwrite=True,
                          Value=value)
        self._remember(target, _state(value))
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


def _place(target: Target) -> tuple[str, str, str]:
    return target.account, target.region, target.name


def _state(value: str) -> StackState:
    """A stack record (the SSM parameter's JSON) as the engine sees it."""
    record = json.loads(value)
    return StackState(record["status"], record["outputs"], record["digest"],
                      record.get("parameters", {}), record.get("drift", "NOT_CHECKED"))


def _key(table: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(key type, attribute, attribute type) of a table's primary key."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    return [(k["KeyType"], k["AttributeName"], types.get(k["AttributeName"], "?"))
            for k in table["KeySchema"]]


def _describe_key(table: dict[str, Any]) -> str:
    return ", ".join(f"{kind} {name} ({kind_of})" for kind, name, kind_of in _key(table))


def _differences(expected: dict[str, Any],
                 actual: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
    found = tuple(f"{key}: expected {expected[key]}, actual {actual[key]}"
                  for key in expected if expected[key] != actual[key])
    return ("MODIFIED", found) if found else None
