"""The bootstrap stack: once per account and region, before any deploy.

- ``AssetsBucket``: Lambda code and large templates.
- ``Boundary``: the permissions boundary every role an Archway template creates carries.
- ``DeployRole``: what ``archway deploy`` assumes; trusted by named principals only (the
  tooling account's pipeline deploy roles, the operator roles of config/platform.yaml,
  optionally one CI role), never by a whole account.
- ``ExecutionRole``: what CloudFormation acts as. Its policies are computed from the
  registry schemas of the resource types this account's templates use
  (:mod:`archway.shared.blueprint.permissions`); it may create or change roles only
  with the boundary attached and can touch neither the bootstrap roles nor the boundary.
- ``LookupRole``: read-only, for pipelines that need another account's stack outputs
  (and, in the platform account's home region, the origin secrets), and for ``archway
  drift``: drift detection, and the read handler permissions of this account's resource
  types (computed like the execution role's), which drift detection reads with.
- ``ApiGatewayAccount``: API Gateway's CloudWatch Logs role (stage access logs).

Every name uses ``${AWS::AccountId}``/``${AWS::Region}``: the JSON holds no account id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from awacs import (
    apigateway,
    cloudformation,
    cloudfront,
    cloudfront_keyvaluestore,
    codebuild,
    codestar_connections,
    dynamodb,
    iam,
    kms,
    logs,
    s3,
    sns,
    ssm,
    sts,
    xray,
)
from awacs.aws import Allow, ArnLike, Condition, Deny, Policy, Principal, Statement, StringEquals
from troposphere import Equals, GetAtt, If, Not, Parameter, Ref, Sub
from troposphere import apigateway as apigw
from troposphere import iam as iam_resources
from troposphere import s3 as s3_resources

from archway.shared.blueprint import StackDef, add_metadata, deviation, new_template, output
from archway.shared.blueprint.iam import assume_role_policy, boundary_name, policy
from archway.shared.blueprint.permissions import READ, Grants, compute
from archway.shared.blueprint.storage import private_bucket
from archway.shared.model import Platform
from archway.shared.naming import (
    GLOBAL_REGION,
    bootstrap_role_patterns,
    deploy_role_name,
    execution_role,
    lookup_role,
    pipeline_deploy_role_pattern,
)

NOVALUE = Ref("AWS::NoValue")
# A managed policy holds at most 6,144 characters (whitespace not counted) and a role
# takes at most 10 managed policies by default:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
MANAGED_POLICY_CHARS = 6144
MANAGED_POLICIES_PER_ROLE = 10
_HEADROOM = 400  # the document's own keys, and ${AWS::AccountId} resolving differently


@dataclass(frozen=True)
class BootstrapSpec:
    """What one account and region's bootstrap stack is made from."""

    platform: str
    tooling_account: str
    account: str
    region: str
    resource_types: frozenset[str]  # used by every template deployed there
    operator_roles: tuple[str, ...] = ()  # role name patterns in the tooling account
    secrets: bool = False  # the platform account's home region: origin secrets live here
    termination_protection: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def bootstrap_stack(spec: BootstrapSpec) -> StackDef:
    stack = BootstrapBlueprint(spec).build()
    stack.termination_protection = spec.termination_protection
    return stack


def resource_types(stacks: Iterable[StackDef]) -> dict[tuple[str, str], set[str]]:
    """Resource types per (account, region) of the stacks CloudFormation deploys there."""
    used: dict[tuple[str, str], set[str]] = {}
    for stack in stacks:
        if stack.kind == "bootstrap":
            continue  # made by an administrator, not by the execution role
        types = used.setdefault((stack.account, stack.region), set())
        types |= {r.resource_type for r in stack.template.resources.values()}
    return used


def bootstrap_targets(platform: Platform) -> list[tuple[str, str]]:
    """Every (account, region) an environment deploys to."""
    targets = {(s.account, s.region) for s in platform.services}
    targets |= {(platform.account, platform.home_region), (platform.account, GLOBAL_REGION)}
    return sorted(targets)


def bootstrap_stacks(name: str, tooling_account: str, stacks: list[StackDef],
                     operator_roles: tuple[str, ...], termination_protection: bool,
                     secrets_at: tuple[str, str] | None,
                     targets: list[tuple[str, str]] | None = None) -> list[StackDef]:
    """One bootstrap stack per (account, region) of ``stacks`` (or of ``targets``).

    ``stacks`` should be every stack any environment deploys, so that an account shared
    by two environments gets the union of their resource types. ``secrets_at`` is the
    (account, region) holding the origin secrets, whose lookup role may read them.
    """
    used = resource_types(stacks)
    wanted = targets if targets is not None else sorted(used)
    return [bootstrap_stack(BootstrapSpec(
        platform=name, tooling_account=tooling_account, account=account, region=region,
        resource_types=frozenset(used.get((account, region), set())),
        operator_roles=operator_roles, secrets=(account, region) == secrets_at,
        termination_protection=termination_protection)) for account, region in wanted]


class BootstrapBlueprint:
    def __init__(self, spec: BootstrapSpec) -> None:
        self.spec = spec
        self.name = spec.platform
        self.stack = StackDef(
            id=f"bootstrap-{spec.account}-{spec.region}", name=f"{spec.platform}-bootstrap",
            account=spec.account, region=spec.region, kind="bootstrap",
            template=new_template(f"Archway bootstrap ({spec.platform}): assets bucket, "
                                  "permissions boundary, deploy, execution and lookup roles"))
        self.t = self.stack.template
        self.tooling = self.t.add_parameter(Parameter(
            "ToolingAccount", Type="String", Default=spec.tooling_account,
            AllowedPattern=r"\d{12}",
            Description="Account of the pipelines and of the operator roles"))
        self.principal = self.t.add_parameter(Parameter(
            "CiPrincipalArn", Type="String", Default="",
            Description="Optional extra role ARN (a CI role) allowed to deploy here"))
        self.t.add_condition("HasCiPrincipal", Not(Equals(Ref(self.principal), "")))

    def build(self) -> StackDef:
        # What the execution role was computed from, for reviewers and docs/permissions.md
        add_metadata(self.t, "Archway::ResourceTypes", sorted(self.spec.resource_types))
        _ = self.bucket, self.deploy_role, self.lookup_role, self.apigateway_account
        output(self.t, "AssetsBucket", Ref(self.bucket), "Lambda code and large templates")
        output(self.t, "DeployRoleArn", GetAtt(self.deploy_role, "Arn"), "Role archway assumes")
        output(self.t, "ExecutionRoleArn", GetAtt(self.execution_role, "Arn"),
               "Role CloudFormation uses")
        output(self.t, "LookupRoleArn", GetAtt(self.lookup_role, "Arn"),
               "Read-only role for other accounts' pipelines")
        output(self.t, "BoundaryArn", Ref(self.boundary), "Boundary of every Archway role")
        return self.stack

    def _arn(self, service: str, resource: str, region: bool = True) -> Sub:
        where = "${AWS::Region}" if region else ""
        return Sub(f"arn:${{AWS::Partition}}:{service}:{where}:${{AWS::AccountId}}:{resource}")

    def _role_arn(self, name: str) -> Sub:
        return Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{name}")

    # ------------------------------------------------------------------ storage

    @cached_property
    def bucket(self) -> s3_resources.Bucket:
        deviation(self.t, "S3.9", ["AssetsBucket"], (
            "holds content-addressed code zips and templates that only the deploy role "
            "writes and CloudFormation and Lambda read; CloudTrail records those calls"))
        # Live Lambda code is referenced by key: only superseded versions expire.
        return private_bucket(
            self.t, "AssetsBucket",
            BucketName=Sub(f"{self.name}-assets-${{AWS::AccountId}}-${{AWS::Region}}"),
            LifecycleConfiguration=s3_resources.LifecycleConfiguration(Rules=[
                s3_resources.LifecycleRule(
                    Id="expire-superseded", Status="Enabled",
                    NoncurrentVersionExpirationInDays=30,
                    AbortIncompleteMultipartUpload=s3_resources.AbortIncompleteMultipartUpload(
                        DaysAfterInitiation=1))]))

    # ------------------------------------------------------------------ trust

    def _trust(self) -> Policy:
        """The tooling account, narrowed to named roles by ``aws:PrincipalArn``.

        aws:PrincipalArn is the role's ARN (with its path) for a role session:
        https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
        A trust policy that names a role ARN fails while that role does not exist, so the
        account is the principal and the condition names the roles.
        """
        tooling = "arn:${AWS::Partition}:iam::${ToolingAccount}:role/"
        patterns: list[object] = [Sub(tooling + pipeline_deploy_role_pattern(self.name))]
        patterns += [Sub(tooling + pattern) for pattern in self.spec.operator_roles]
        patterns.append(If("HasCiPrincipal", Ref(self.principal), NOVALUE))
        return Policy(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Action=[sts.AssumeRole],
            Principal=Principal("AWS", [
                Sub("arn:${AWS::Partition}:iam::${ToolingAccount}:root"),
                If("HasCiPrincipal", Ref(self.principal), NOVALUE)]),
            Condition=Condition(ArnLike({"aws:PrincipalArn": patterns})))])

    # ------------------------------------------------------------------ boundary

    @cached_property
    def boundary(self) -> iam_resources.ManagedPolicy:
        """The most any Archway-created role may ever do, whatever its own policy says.

        Runtime work only: logs, traces, the platform's tables, buckets, topics, builds,
        parameters and key-value stores, assuming the deploy and lookup roles. No IAM at
        all, so no role behind it can create, change or pass a role.
        """
        p = self.name
        anywhere = "arn:${AWS::Partition}"
        statements = [
            Statement(Sid="RuntimeWithoutResourceScope", Effect=Allow, Action=[
                logs.CreateLogGroup, logs.CreateLogStream, logs.PutLogEvents,
                logs.DescribeLogGroups, logs.DescribeLogStreams, logs.GetLogEvents,
                logs.FilterLogEvents, xray.PutTraceSegments, xray.PutTelemetryRecords,
                kms.Decrypt, kms.Encrypt, kms.GenerateDataKey, kms.DescribeKey,
                codestar_connections.UseConnection,
                codestar_connections.Action("GetConnectionToken"),
            ], Resource=["*"]),
            Statement(Sid="PlatformData", Effect=Allow, Action=[
                dynamodb.BatchGetItem, dynamodb.BatchWriteItem, dynamodb.ConditionCheckItem,
                dynamodb.DeleteItem, dynamodb.DescribeTable, dynamodb.GetItem,
                dynamodb.PutItem, dynamodb.Query, dynamodb.Scan, dynamodb.UpdateItem,
                s3.GetObject, s3.GetObjectVersion, s3.PutObject, s3.ListBucket,
                s3.GetBucketVersioning, s3.GetBucketLocation, s3.GetBucketAcl,
                sns.Publish, ssm.GetParameter, cloudformation.DescribeStacks,
                codebuild.StartBuild, codebuild.BatchGetBuilds, codebuild.CreateReportGroup,
                codebuild.CreateReport, codebuild.UpdateReport, codebuild.BatchPutTestCases,
                cloudfront_keyvaluestore.Action("DescribeKeyValueStore"),
                cloudfront_keyvaluestore.Action("GetKey"),
                cloudfront_keyvaluestore.Action("PutKey"),
                cloudfront_keyvaluestore.Action("DeleteKey"),
                cloudfront_keyvaluestore.Action("ListKeys"),
                cloudfront_keyvaluestore.Action("UpdateKeys"),
            ], Resource=[
                self._arn("dynamodb", f"table/{p}-*"),
                self._arn("dynamodb", f"table/{p}-*/index/*"),
                Sub(f"{anywhere}:s3:::{p}-*"), Sub(f"{anywhere}:s3:::{p}-*/*"),
                self._arn("sns", f"{p}-*"), self._arn("ssm", f"parameter/{p}/*"),
                Sub(f"{anywhere}:cloudformation:*:*:stack/{p}-*"),
                self._arn("codebuild", f"project/{p}-*"),
                self._arn("codebuild", f"report-group/{p}-*"),
                self._arn("cloudfront", "key-value-store/*", region=False),
            ]),
            Statement(Sid="AssumeDeployAndLookupRoles", Effect=Allow, Action=[sts.AssumeRole],
                      Resource=[Sub(f"{anywhere}:iam::*:role/{p}-deploy-*"),
                                Sub(f"{anywhere}:iam::*:role/{p}-lookup-*")]),
            Statement(Sid="NeverIam", Effect=Deny, Action=[iam.Action("*")], Resource=["*"]),
        ]
        return self.t.add_resource(iam_resources.ManagedPolicy(
            "Boundary",
            ManagedPolicyName=Sub(f"{boundary_name(self.name)}-${{AWS::Region}}"),
            Description="Permissions boundary of every role an Archway template creates",
            PolicyDocument=policy(*statements)))

    # ------------------------------------------------------------------ roles

    @cached_property
    def deploy_role(self) -> iam_resources.Role:
        stacks = self._arn("cloudformation", f"stack/{self.name}-*")
        statements = [
            Statement(Sid="ManageOwnStacks", Effect=Allow, Action=[
                cloudformation.CreateChangeSet, cloudformation.DescribeChangeSet,
                cloudformation.ExecuteChangeSet, cloudformation.DeleteChangeSet,
                cloudformation.DescribeStacks, cloudformation.DescribeStackEvents,
                cloudformation.DescribeStackResources, cloudformation.GetTemplate,
                cloudformation.DeleteStack, cloudformation.ContinueUpdateRollback,
                cloudformation.UpdateTerminationProtection, cloudformation.CreateStack,
                cloudformation.UpdateStack], Resource=[stacks]),
            Statement(Sid="PassExecutionRole", Effect=Allow, Action=[iam.PassRole],
                      Resource=[GetAtt(self.execution_role, "Arn")],
                      Condition=Condition(StringEquals(
                          {"iam:PassedToService": "cloudformation.amazonaws.com"}))),
            Statement(Sid="Assets", Effect=Allow,
                      Action=[s3.GetObject, s3.PutObject, s3.ListBucket, s3.GetBucketLocation],
                      Resource=[GetAtt(self.bucket, "Arn"), Sub("${AssetsBucket.Arn}/*")]),
            Statement(Sid="SiteAndInvalidations", Effect=Allow,
                      Action=[s3.GetObject, s3.PutObject, s3.DeleteObject, s3.ListBucket,
                              cloudfront.CreateInvalidation],
                      Resource=[Sub(f"arn:${{AWS::Partition}}:s3:::{self.name}-*-site-*"),
                                Sub(f"arn:${{AWS::Partition}}:s3:::{self.name}-*-site-*/*"),
                                self._arn("cloudfront", "distribution/*", region=False)]),
            Statement(Sid="OriginSecrets", Effect=Allow,
                      Action=[ssm.GetParameter, ssm.PutParameter],
                      Resource=[self._arn("ssm", f"parameter/{self.name}/*")]),
            # A service's deploy registers its route through the edge's registrar role
            # in the platform account (role chaining); that role trusts deploy roles.
            Statement(Sid="RegisterRoutes", Effect=Allow, Action=[sts.AssumeRole],
                      Resource=[Sub(f"arn:${{AWS::Partition}}:iam::*:role/{self.name}-*-"
                                    "route-registrar")]),
            # After an update that removed routes the engine deploys the stage again:
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
            Statement(Sid="RedeployStages", Effect=Allow, Action=[apigateway.POST],
                      Resource=[Sub("arn:${AWS::Partition}:apigateway:${AWS::Region}::"
                                    "/restapis/*/deployments")]),
            Statement(Sid="CheckRetainedData", Effect=Allow,
                      Action=[dynamodb.DescribeTable],
                      Resource=[self._arn("dynamodb", f"table/{self.name}-*")]),
        ]
        return self.t.add_resource(iam_resources.Role(
            "DeployRole", RoleName=Sub(deploy_role_name(self.name, '${AWS::Region}')),
            Description="archway deploy: drives the platform's stacks through change sets",
            AssumeRolePolicyDocument=self._trust(),
            Policies=[iam_resources.Policy(PolicyName="deploy",
                                           PolicyDocument=policy(*statements))]))

    @cached_property
    def grants(self) -> Grants:
        return compute(self.spec.resource_types, self.spec.region, self.name)

    def _grant_statements(self, grants: Grants, sid: str,
                          boundary: bool = True) -> list[Statement]:
        """One statement per grant; with ``boundary``, grants that create or change roles
        require the permissions boundary (reads need no condition)."""
        made = []
        for index, grant in enumerate(grants.grants):
            props: dict[str, Any] = dict(
                Sid=f"{sid}{index}", Effect=Allow,
                Action=[_action(a) for a in grant.actions],
                Resource=[r if r == "*" else Sub(r) for r in grant.resources])
            if boundary and grant.boundary:
                props["Condition"] = Condition(StringEquals(
                    {"iam:PermissionsBoundary": Ref(self.boundary)}))
            made.append(Statement(**props))
        return made

    def _guardrails(self) -> Policy:
        """Explicit denies: they win over every Allow the computed policies hold."""
        protected = [self._role_arn(p) for p in bootstrap_role_patterns(self.name)]
        protected.append(Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/"
                             f"{boundary_name(self.name)}-*"))
        return policy(
            Statement(Sid="NeverTheBootstrapRolesOrTheBoundary", Effect=Deny,
                      Action=[iam.Action("*")], Resource=protected),
            # Lambda reads code from the assets bucket as the caller, so reads stay; no
            # stack may rewrite another's code or open the bucket.
            Statement(Sid="NeverTheAssetsBucket", Effect=Deny, Action=[
                s3.Action("PutBucket*"), s3.Action("DeleteBucket*"),
                s3.PutEncryptionConfiguration, s3.PutLifecycleConfiguration,
                s3.PutObject, s3.PutObjectAcl, s3.DeleteObject, s3.DeleteObjectVersion],
                Resource=[GetAtt(self.bucket, "Arn"), Sub("${AssetsBucket.Arn}/*")]),
            Statement(Sid="NeverRemoveABoundary", Effect=Deny,
                      Action=[iam.DeleteRolePermissionsBoundary,
                              iam.DeleteUserPermissionsBoundary], Resource=["*"]),
        )

    @cached_property
    def execution_policies(self) -> list[iam_resources.ManagedPolicy]:
        return self._managed_policies(
            "ExecutionPolicy", "execution role",
            "CloudFormation handler permissions ({n}/{total}), computed from the resource "
            "schemas", self._grant_statements(self.grants, "Computed"))

    def _managed_policies(self, logical: str, role: str, description: str,
                          statements: list[Statement]) -> list[iam_resources.ManagedPolicy]:
        """``statements`` packed into as few managed policies as fit, within the role's
        quota (``description`` formats ``{n}`` and ``{total}``)."""
        chunks = pack(statements, MANAGED_POLICY_CHARS - _HEADROOM)
        if len(chunks) > MANAGED_POLICIES_PER_ROLE:
            raise ValueError(f"the {role} of {self.spec.account}/{self.spec.region} "
                             f"needs {len(chunks)} managed policies (at most "
                             f"{MANAGED_POLICIES_PER_ROLE})")
        return [self.t.add_resource(iam_resources.ManagedPolicy(
            f"{logical}{index + 1}",
            Description=description.format(n=index + 1, total=len(chunks)),
            PolicyDocument=policy(*chunk))) for index, chunk in enumerate(chunks)]

    @cached_property
    def execution_role(self) -> iam_resources.Role:
        return self.t.add_resource(iam_resources.Role(
            "ExecutionRole", RoleName=Sub(execution_role(self.name, "${AWS::Region}")),
            Description="CloudFormation acts as this role for the platform's stacks",
            AssumeRolePolicyDocument=assume_role_policy("cloudformation.amazonaws.com"),
            ManagedPolicyArns=[Ref(p) for p in self.execution_policies],
            Policies=[iam_resources.Policy(PolicyName="guardrails",
                                           PolicyDocument=self._guardrails())]))

    @cached_property
    def read_grants(self) -> Grants:
        return compute(self.spec.resource_types, self.spec.region, self.name, ops=READ)

    @cached_property
    def lookup_read_policies(self) -> list[iam_resources.ManagedPolicy]:
        """What the read handlers of this account's resource types call: drift detection
        reads every resource of a stack with the caller's credentials (the lookup role's),
        not with the stack's execution role.
        https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/detect-drift-stack.html
        """
        return self._managed_policies(
            "LookupReadPolicy", "lookup role",
            "Read handler permissions ({n}/{total}) for drift detection, computed from the "
            "resource schemas", self._grant_statements(self.read_grants, "Read",
                                                             boundary=False))

    @cached_property
    def lookup_role(self) -> iam_resources.Role:
        stacks = self._arn("cloudformation", f"stack/{self.name}-*")
        # DetectStackDrift also authorizes DetectStackResourceDrift for each resource it
        # checks; the detection's status is read by its id (no stack in the request).
        # https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DetectStackDrift.html
        # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscloudformation.html
        statements = [
            Statement(Sid="PlatformStackOutputs", Effect=Allow,
                      Action=[cloudformation.DescribeStacks], Resource=[stacks]),
            Statement(Sid="DetectDrift", Effect=Allow, Action=[
                cloudformation.DetectStackDrift, cloudformation.DetectStackResourceDrift,
                cloudformation.DescribeStackResourceDrifts], Resource=[stacks]),
            Statement(Sid="DriftDetectionStatus", Effect=Allow,
                      Action=[cloudformation.DescribeStackDriftDetectionStatus],
                      Resource=["*"]),
            # archway logs --env dev|prod: FilterLogEvents acts on the log-group resource,
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html
            Statement(Sid="ReadFunctionLogs", Effect=Allow, Action=[logs.FilterLogEvents],
                      Resource=[self._arn("logs", f"log-group:/aws/lambda/{self.name}-*")]),
        ]
        if self.spec.secrets:
            # SecureStrings use the AWS managed key aws/ssm, which lets every principal
            # of the account decrypt: no kms statement is needed here.
            # https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-restrict-decryption.html
            # GetParameters (ten secrets a call, for the edge's deploy) is authorized per
            # parameter ARN, as GetParameter is:
            # https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html
            statements.append(Statement(
                Sid="ReadOriginSecrets", Effect=Allow,
                Action=[ssm.GetParameter, ssm.GetParameters],
                Resource=[self._arn("ssm", f"parameter/{self.name}/*/origin-secret/*")]))
        return self.t.add_resource(iam_resources.Role(
            "LookupRole", RoleName=Sub(lookup_role(self.name, "${AWS::Region}")),
            Description="Read-only: the platform's stack outputs, drift detection, its "
                        "functions' logs"
                        + (" and origin secrets" if self.spec.secrets else ""),
            AssumeRolePolicyDocument=self._trust(),
            ManagedPolicyArns=[Ref(p) for p in self.lookup_read_policies] or NOVALUE,
            Policies=[iam_resources.Policy(PolicyName="read-only",
                                           PolicyDocument=policy(*statements))]))

    @cached_property
    def apigateway_account(self) -> apigw.Account:
        role = self.t.add_resource(iam_resources.Role(
            "ApiGatewayLogsRole", RoleName=Sub(f"{self.name}-apigw-logs-${{AWS::Region}}"),
            AssumeRolePolicyDocument=assume_role_policy("apigateway.amazonaws.com"),
            PermissionsBoundary=Ref(self.boundary),
            ManagedPolicyArns=[Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                   "AmazonAPIGatewayPushToCloudWatchLogs")]))
        return self.t.add_resource(apigw.Account(
            "ApiGatewayAccount", CloudWatchRoleArn=GetAtt(role, "Arn")))


def _action(name: str) -> Any:
    from awacs.aws import Action

    prefix, _, action = name.partition(":")
    return Action(prefix, action)


def _size(statement: Statement) -> int:
    from archway.shared.blueprint.template_data import encode

    return len(json.dumps(encode(statement), separators=(",", ":")))


def pack(statements: list[Statement], limit: int) -> list[list[Statement]]:
    """Statements into as few documents of at most ``limit`` characters as fit, in order."""
    chunks: list[list[Statement]] = []
    size = limit + 1
    for statement in statements:
        length = _size(statement)
        if length > limit:
            raise ValueError(f"statement {statement.Sid} alone is {length} characters")
        if size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(statement)
        size += length
    return chunks
