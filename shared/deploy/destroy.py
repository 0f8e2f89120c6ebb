"""`archway destroy`: stacks deleted in reverse dependency order, data kept on purpose listed.

Order: the DAG of the selected stacks (``depends_on`` from the manifest, walked with
graphlib) reversed, so a consumer (the edge) goes before what it reads (the services).
Resources with ``DeletionPolicy: Retain`` (tables, buckets, log groups) outlive their
stack by design; they are listed, with names and accounts, before and after.
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html

On AWS, DeleteStack runs as the role already associated with the stack (the bootstrap's
execution role) when no RoleARN is given:
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DeleteStack.html
A stack with termination protection must have it turned off first:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-protect-stacks.html
On the local cloud the LocalProvider deletes what it made (``delete``). A service's
route is removed from the edge's route store before its stack is deleted.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from archway.shared.deploy.engine import DeployError, Engine
from archway.shared.deploy.provider import StackResult, Target
from archway.shared.errors import ArchwayError

RETAINING = {"Retain", "RetainExceptOnCreate"}
KINDS = {"AWS::DynamoDB::Table": ("table", "TableName"),
         "AWS::S3::Bucket": ("bucket", "BucketName"),
         "AWS::Logs::LogGroup": ("log group", "LogGroupName"),
         "AWS::Cognito::UserPool": ("user pool", "UserPoolName")}
POLL = 5


@dataclass(frozen=True)
class Retained:
    """A resource that stays when its stack is deleted."""

    stack: str
    logical: str
    kind: str  # table | bucket | log group | the CloudFormation type
    name: str
    account: str
    region: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name} (account {self.account}, {self.region})"


def destroy_order(targets: dict[str, Target], selected: list[str]) -> list[str]:
    """Dependents first: the reverse of a topological order of ``selected``."""
    chosen = set(selected)
    graph = {s: {d for d in targets[s].manifest.get("depends_on", []) if d in chosen}
             for s in sorted(chosen)}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        raise DeployError(f"dependency cycle between {', '.join(exc.args[1])}") from None
    return order[::-1]


def retained(target: Target, physical: dict[str, str] | None = None) -> list[Retained]:
    """Every resource of ``target`` kept on delete, named by its physical id when known."""
    kept = []
    for logical, resource in sorted(target.template.get("Resources", {}).items()):
        if resource.get("DeletionPolicy") not in RETAINING:
            continue
        kind, key = KINDS.get(resource["Type"], (resource["Type"], ""))
        name = (physical or {}).get(logical) or resource.get("Properties", {}).get(key)
        if not isinstance(name, str):
            name = f"{logical} (named by CloudFormation)"
        kept.append(Retained(target.id, logical, kind, name, target.account, target.region))
    return kept


def physical_names(engine: Engine, target: Target) -> dict[str, str]:
    """Logical -> physical id of the deployed stack (empty when it cannot be read)."""
    provider = engine.provider_for(target)
    local = getattr(provider, "physical_ids", None)
    if local is not None:
        return dict(local(target))
    cfn = engine.connections.client("cloudformation", target.account, target.region)
    try:
        resources = cfn.describe_stack_resources(StackName=target.name)["StackResources"]
    except ClientError:
        return {}
    return {r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources}


def deregister_route(engine: Engine, target: Target) -> str | None:
    """Take a service off the edge's router (its KeyValueStore entry) before its API goes,
    so the edge answers 404 for it instead of forwarding to a deleted API. Returns what
    was done, or None when there is nothing to do (not a service, or no edge yet)."""
    if target.kind != "service":
        return None
    service = target.id.removeprefix("svc-")
    registry = engine.registry(target)
    if registry is None:
        return None
    registry.deregister(service)
    return f"/api/{service}/* removed from the edge's route store"


def delete(engine: Engine, target: Target) -> StackResult:
    """Delete one stack: the provider's own delete (local) or DeleteStack (AWS)."""
    provider = engine.provider_for(target)
    own = getattr(provider, "delete", None)
    if own is not None:
        return own(target)  # type: ignore[no-any-return]
    if provider.describe(target) is None:
        return StackResult(target.id, "skipped", "not deployed")
    cfn = engine.connections.client("cloudformation", target.account, target.region)
    if target.termination_protection:
        cfn.update_termination_protection(StackName=target.name,
                                          EnableTerminationProtection=False)
    cfn.delete_stack(StackName=target.name)
    try:
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=target.name, WaiterConfig={"Delay": POLL, "MaxAttempts": 720})
    except WaiterError:
        state = provider.describe(target)
        return StackResult(target.id, "failed", f"{state.status if state else 'unknown'}: "
                           f"{first_failure(cfn, target) or 'see the stack events'}")
    return StackResult(target.id, "deleted")


def first_failure(cfn: Any, target: Target) -> str | None:
    events = cfn.describe_stack_events(StackName=target.name)["StackEvents"]
    for event in reversed(events):
        if event["ResourceStatus"] == "DELETE_FAILED":
            return (f"{event['LogicalResourceId']} ({event['ResourceType']}): "
                    f"{event.get('ResourceStatusReason', '')}")
    return None


def destroy(engine: Engine, selected: list[str]) -> list[StackResult]:
    """Delete ``selected`` dependents first; a failure stops the stacks after it."""
    results = []
    order = destroy_order(engine.targets, selected)
    for index, stack_id in enumerate(order):
        target = engine.targets[stack_id]
        engine.ui.line(stack_id, "deleting", f"{target.name} in {target.account}/{target.region}")
        try:
            removed = deregister_route(engine, target)
            if removed:
                engine.ui.line(stack_id, "route", removed)
            result = delete(engine, target)
        except (ClientError, ArchwayError) as exc:
            result = StackResult(stack_id, "failed", str(exc))
        engine.ui.result(result)
        results.append(result)
        if not result.ok:
            for later in order[index + 1:]:
                engine.ui.line(later, "skipped", f"not deleted: {stack_id} failed first")
            break
    return results
