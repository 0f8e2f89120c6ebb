"""CloudFormationProvider: stacks on AWS through change sets, with events streamed.

Per stack: skip when the digest says nothing changed; recover from a failed create
(ROLLBACK_COMPLETE) only when no retained data would be orphaned; create a change set,
show it, ask, execute, stream events until a final status, and report the first failing
resource with its reason. Ctrl-C before execution deletes the pending change set.

The digest (template and parameters, secrets hashed) is kept in an SSM parameter of the
stack's account and region (``/<platform>/deployed/<stack>``), written after a deploy
that ends complete. It is never a stack tag: CloudFormation propagates stack tags to
every taggable resource, so a per-deploy tag value would update every role, table and
log group on every deploy:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-resource-tags.html
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from archway.shared.deploy.changes import (
    STATEFUL,
    ChangeSet,
    all_pages,
    parse_change_set,
    route_changes,
)
from archway.shared.deploy.connections import ConnectionManager, Role
from archway.shared.deploy.provider import Resolved, StackResult, StackState, Target
from archway.shared.errors import ArchwayError
from archway.shared.naming import deployed_digest_parameter

STACK_TAG = "archway:stack"  # constant per stack: it never changes a resource
MAX_BODY = 51_200
POLL = 3.0
DONE = ("_COMPLETE", "_FAILED")
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


API_ROUTES = {"AWS::ApiGateway::Method", "AWS::ApiGateway::Resource"}


def removes_routes(change_set: ChangeSet) -> bool:
    """Whether the update deletes API methods or resources (served until redeployed)."""
    return any(c.action == "Remove" and c.kind in API_ROUTES for c in change_set.changes)


class ChangeSetFailed(ArchwayError):
    exit_code = 1


Confirm = Callable[[Target, ChangeSet], bool]
Events = Callable[[Target, str], None]


class CloudFormationProvider:
    def __init__(self, connections: ConnectionManager, confirm: Confirm, events: Events,
                 continue_rollback: bool = False, poll: float = POLL,
                 cancelled: threading.Event | None = None) -> None:
        self.connections = connections
        self.cancelled = cancelled  # set on Ctrl-C: pending change sets are deleted
        self.confirm = confirm
        self.events = events
        self.continue_rollback = continue_rollback
        self.poll = poll

    def _cfn(self, target: Target) -> Any:
        return self.connections.client("cloudformation", target.account, target.region)

    def describe(self, target: Target) -> StackState | None:
        """The stack's state with the digest it was last deployed with."""
        state = self._stack(target)
        if state is None:
            return None
        return dataclasses.replace(state, digest=self._digest(target))

    def read(self, target: Target) -> StackState | None:
        """The stack's state (no digest) through its account's read-only lookup role:
        what a deploy of another stack reads (outputs), never the deploy role."""
        return self._stack(target, role="lookup")

    def _stack(self, target: Target, role: Role = "deploy") -> StackState | None:
        """CloudFormation's view only (no digest)."""
        cfn = self.connections.client("cloudformation", target.account, target.region, role)
        try:
            stack = cfn.describe_stacks(StackName=target.name)["Stacks"][0]
        except ClientError as exc:
            if "does not exist" in str(exc):
                return None
            raise
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        parameters = {p["ParameterKey"]: p.get("ParameterValue", "")
                      for p in stack.get("Parameters", [])}
        # DriftInformation: the last detection's result (archway drift runs one)
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackDriftInformation.html
        drift = stack.get("DriftInformation", {}).get("StackDriftStatus", "NOT_CHECKED")
        return StackState(stack["StackStatus"], outputs, None, parameters, drift)

    def _ssm(self, target: Target) -> Any:
        return self.connections.client("ssm", target.account, target.region)

    def _digest_name(self, target: Target) -> str:
        return deployed_digest_parameter(self.connections.platform, target.name)

    def _digest(self, target: Target) -> str | None:
        try:
            response = self._ssm(target).get_parameter(Name=self._digest_name(target))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ParameterNotFound":
                return None
            raise
        return str(response["Parameter"]["Value"])

    def _remember(self, target: Target, digest: str) -> None:
        self._ssm(target).put_parameter(
            Name=self._digest_name(target), Value=digest, Type="String", Overwrite=True,
            Description=f"archway: digest of the template and parameters of {target.name} "
                        "as last deployed (the no-op check)")

    def deployed_template(self, target: Target) -> dict[str, Any] | None:
        try:
            body = self._cfn(target).get_template(StackName=target.name)["TemplateBody"]
        except ClientError:
            return None
        return body if isinstance(body, dict) else json.loads(body)

    def preview(self, target: Target, params: Resolved) -> ChangeSet | None:
        """The change set CloudFormation would execute; deleted again, nothing runs."""
        kind = self._kind(self._stack(target))
        name = f"archway-plan-{int(time.time())}"
        try:
            changes = self._create_change_set(target, params, kind, name)
        finally:
            self._abandon(target, name, kind)
        if changes is not None:
            changes.routes = route_changes(self.deployed_template(target), target.template)
        return changes

    # ------------------------------------------------------------------ deploy

    def deploy(self, target: Target, params: Resolved) -> StackResult:
        state = self._stack(target)
        if state is not None and state.status != "REVIEW_IN_PROGRESS":
            blocked = self._recover(target, state)
            if blocked is not None:
                return blocked
            if state.status in {"ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED"}:
                state = self._stack(target)  # recovered: deleted, or rolled back
        healthy = state is not None and state.status.endswith("_COMPLETE") and \
            "ROLLBACK" not in state.status
        if healthy and self._digest(target) == params.digest:
            return StackResult(target.id, "skipped", "no changes",
                               state.outputs if state else {})
        kind = self._kind(state)
        name = f"archway-{int(time.time())}"
        try:
            change_set = self._create_change_set(target, params, kind, name)
            if change_set is None:
                self._remember(target, params.digest)
                return StackResult(target.id, "skipped", "no changes",
                                   state.outputs if state else {})
            if not self._confirmed(target, change_set):
                self._abandon(target, name, kind)
                why = "interrupted" if self._cancelled() else "not confirmed"
                return StackResult(target.id, "skipped", f"{why}: change set deleted")
        except BaseException:  # Ctrl-C, a refused prompt, a failed change set
            self._abandon(target, name, kind)
            raise
        result = self._execute(target, name, kind, change_set.created or time.time() - 1)
        if result.outcome == "updated" and removes_routes(change_set):
            self._redeploy_stage(target, result.outputs)
        if result.outcome in {"created", "updated"}:
            self._remember(target, params.digest)
        return result

    def _redeploy_stage(self, target: Target, outputs: dict[str, str]) -> None:
        """Deploy the API's stage again once CloudFormation has deleted old routes.

        CloudFormation creates the new AWS::ApiGateway::Deployment before its cleanup
        phase deletes removed methods, so that deployment still serves them
        (aws-cdk#14660). A deployment made now snapshots the API as it is.
        https://docs.aws.amazon.com/apigateway/latest/api/API_CreateDeployment.html
        """
        api, stage = outputs.get("ApiId"), outputs.get("Stage")
        if not api or not stage:
            return
        self.connections.client("apigateway", target.account, target.region).create_deployment(
            restApiId=api, stageName=stage,
            description="archway: after an update that removed routes")
        self.events(target, f"stage {stage} redeployed: removed routes are gone")

    @staticmethod
    def _kind(state: StackState | None) -> str:
        """CREATE for a new stack (or the empty shell a create change set leaves)."""
        return "CREATE" if state is None or state.status == "REVIEW_IN_PROGRESS" else "UPDATE"

    def _cancelled(self) -> bool:
        return self.cancelled is not None and self.cancelled.is_set()

    def _confirmed(self, target: Target, change_set: ChangeSet) -> bool:
        if self._cancelled():
            return False
        return self.confirm(target, change_set) and not self._cancelled()

    def _execute(self, target: Target, name: str, kind: str, since: float) -> StackResult:
        cfn = self._cfn(target)
        cfn.execute_change_set(StackName=target.name, ChangeSetName=name)
        status, failure = self._wait(target, since)
        if target.termination_protection and status.endswith("_COMPLETE"):
            cfn.update_termination_protection(StackName=target.name,
                                               EnableTerminationProtection=True)
        final = self._stack(target)
        outputs = final.outputs if final else {}
        if status in {"CREATE_COMPLETE", "UPDATE_COMPLETE"}:
            return StackResult(target.id, "created" if kind == "CREATE" else "updated", "",
                               outputs)
        return StackResult(target.id, "failed", f"{status}: {failure or 'see stack events'}")

    def _create_change_set(self, target: Target, params: Resolved, kind: str,
                           name: str) -> ChangeSet | None:
        cfn = self._cfn(target)
        body = self._template_argument(target)
        if target.kind != "bootstrap":  # after bootstrap, CloudFormation acts as its role
            body["RoleARN"] = self.execution_role_arn(target)
        cfn.create_change_set(
            StackName=target.name, ChangeSetName=name, ChangeSetType=kind,
            Parameters=[{"ParameterKey": k, "ParameterValue": v}
                        for k, v in sorted(params.values.items())],
            Capabilities=["CAPABILITY_NAMED_IAM"],
            Tags=[{"Key": STACK_TAG, "Value": target.id}],
            **body,
        )
        while True:
            # property-level Details (BeforeValue/AfterValue): see changes.parse_change_set
            described = cfn.describe_change_set(StackName=target.name, ChangeSetName=name,
                                                IncludePropertyValues=True)
            status = described["Status"]
            if status == "CREATE_COMPLETE":
                break
            if status == "FAILED":
                reason = described.get("StatusReason", "")
                if any(text in reason for text in NO_CHANGES):
                    cfn.delete_change_set(StackName=target.name, ChangeSetName=name)
                    return None
                raise ChangeSetFailed(f"{target.name}: change set failed: {reason}")
            time.sleep(self.poll)
        described = all_pages(cfn, described, StackName=target.name, ChangeSetName=name)
        return parse_change_set(target.name, described,
                                [params.values[n] for n in params.secret_names])

    def execution_role_arn(self, target: Target) -> str:
        from archway.shared.deploy.bootstrap import execution_role_name

        partition = self.connections.base_session().get_partition_for_region(target.region)
        name = execution_role_name(self.connections.platform, target.region)
        return f"arn:{partition}:iam::{target.account}:role/{name}"

    def _template_argument(self, target: Target) -> dict[str, str]:
        if len(target.template_body.encode()) <= MAX_BODY:
            return {"TemplateBody": target.template_body}
        from archway.shared.assets import assets_bucket

        bucket = assets_bucket(self.connections.platform, target.account, target.region)
        key = f"templates/{target.template_sha256}.json"
        s3 = self.connections.client("s3", target.account, target.region)
        s3.put_object(Bucket=bucket, Key=key, Body=target.template_body.encode())
        return {"TemplateURL": f"https://{bucket}.s3.{target.region}.amazonaws.com/{key}"}

    def _abandon(self, target: Target, name: str, kind: str) -> None:
        """Leave nothing behind: the change set, and the empty shell of a new stack."""
        cfn = self._cfn(target)
        try:
            cfn.delete_change_set(StackName=target.name, ChangeSetName=name)
        except ClientError:
            pass  # never made, or already deleted
        if kind != "CREATE":
            return
        try:
            state = self._stack(target)
            if state is not None and state.status == "REVIEW_IN_PROGRESS":
                cfn.delete_stack(StackName=target.name)
        except ClientError:
            pass

    def _wait(self, target: Target, since: float) -> tuple[str, str | None]:
        """Stream events until a final status; the first failing resource and its reason."""
        cfn = self._cfn(target)
        seen: set[str] = set()
        failure: str | None = None
        while True:
            events = cfn.describe_stack_events(StackName=target.name)["StackEvents"]
            for event in reversed(events):
                if event["EventId"] in seen or event["Timestamp"].timestamp() < since:
                    continue
                seen.add(event["EventId"])
                status = event["ResourceStatus"]
                reason = event.get("ResourceStatusReason", "")
                self.events(target, f"{event['LogicalResourceId']} {status} {reason}".strip())
                if failure is None and status.endswith("_FAILED") and \
                        "cancelled" not in reason.lower():
                    failure = f"{event['LogicalResourceId']} ({event['ResourceType']}): {reason}"
            stack = cfn.describe_stacks(StackName=target.name)["Stacks"][0]
            status = stack["StackStatus"]
            if status.endswith(DONE) and not status.endswith("_IN_PROGRESS"):
                return status, failure
            if self._cancelled():  # Ctrl-C: CloudFormation carries on without us
                return status, failure or ("interrupted: CloudFormation carries on; see "
                                           "archway status")
            time.sleep(self.poll)

    # ----------------------------------------------------------------- recovery

    def _recover(self, target: Target, state: StackState) -> StackResult | None:
        """Put a stack left by an earlier failure into a deployable state, or explain."""
        cfn = self._cfn(target)
        if state.status == "ROLLBACK_COMPLETE":
            kept = self._retained_data(target)
            if kept:
                return StackResult(target.id, "failed", (
                    f"{target.name} is ROLLBACK_COMPLETE after a failed create and retained "
                    f"data exists ({', '.join(kept)}): deleting and recreating the stack "
                    "would orphan it. Import or remove it by hand, then deploy again."))
            self.events(target, "ROLLBACK_COMPLETE after a failed create: nothing stateful "
                                "kept, deleting the stack to recreate it")
            cfn.delete_stack(StackName=target.name)
            cfn.get_waiter("stack_delete_complete").wait(
                StackName=target.name, WaiterConfig={"Delay": self.poll, "MaxAttempts": 600})
            return None
        if state.status == "UPDATE_ROLLBACK_FAILED":
            if not self.continue_rollback:
                return StackResult(target.id, "failed", (
                    f"{target.name} is UPDATE_ROLLBACK_FAILED: a resource could not be rolled "
                    "back. Fix its cause, then rerun with --continue-rollback."))
            cfn.continue_update_rollback(StackName=target.name)
            cfn.get_waiter("stack_rollback_complete").wait(
                StackName=target.name, WaiterConfig={"Delay": self.poll, "MaxAttempts": 600})
            return None
        if state.status.endswith("_IN_PROGRESS") and state.status != "REVIEW_IN_PROGRESS":
            return StackResult(target.id, "failed", (
                f"{target.name} is {state.status}: another deploy is running; wait for it"))
        return None

    def _retained_data(self, target: Target) -> list[str]:
        """Stateful resources of the template whose physical resource still exists."""
        kept = []
        for logical, resource in target.template.get("Resources", {}).items():
            if resource["Type"] not in STATEFUL or resource.get("DeletionPolicy") != "Retain":
                continue
            name = resource.get("Properties", {}).get(
                "TableName" if resource["Type"] == "AWS::DynamoDB::Table" else "BucketName")
            if isinstance(name, str) and self._exists(target, resource["Type"], name):
                kept.append(f"{logical} {name}")
        return kept

    def _exists(self, target: Target, kind: str, name: str) -> bool:
        try:
            if kind == "AWS::DynamoDB::Table":
                self.connections.client("dynamodb", target.account, target.region) \
                    .describe_table(TableName=name)
            else:
                self.connections.client("s3", target.account, target.region) \
                    .head_bucket(Bucket=name)
            return True
        except ClientError as exc:
            # Not allowed to look is not proof of absence: assume the data is there.
            code = exc.response["Error"]["Code"]
            return code in {"403", "AccessDenied", "AccessDeniedException"}
