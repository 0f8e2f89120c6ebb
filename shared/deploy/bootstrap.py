"""The bootstrap stack: once per account and region, before any deploy.

An assets bucket, a deploy role the tooling account (and configured CI principals) may
assume, a CloudFormation execution role limited to the resource types Archway emits and
to names with the platform prefix, and API Gateway's CloudWatch Logs role. The template
is account-agnostic (``${AWS::AccountId}``/``${AWS::Region}``), so the same JSON rolls
out to a whole OU as a StackSet (docs/bootstrap.md).
"""

from __future__ import annotations

from functools import cached_property

from awacs import acm as acm_actions
from awacs import (
    apigateway,
    cloudformation,
    cloudfront,
    cloudwatch,
    codebuild,
    codepipeline,
    codestar_connections,
    codestar_notifications,
    dynamodb,
    iam,
    kms,
    logs,
    route53,
    s3,
    sns,
    ssm,
    sts,
    wafv2,
)
from awacs import awslambda as lambda_actions
from awacs.aws import Allow, Policy, Principal, Statement
from troposphere import Equals, GetAtt, If, Not, Parameter, Ref, Sub
from troposphere import apigateway as apigw
from troposphere import iam as iam_resources
from troposphere import s3 as s3_resources

from archway.shared.blueprint import StackDef, new_template, output
from archway.shared.blueprint.iam import assume_role_policy, policy
from archway.shared.blueprint.storage import private_bucket
from archway.shared.model import Platform
from archway.shared.naming import GLOBAL_REGION

NOVALUE = Ref("AWS::NoValue")


def execution_role_name(platform: str, region: str) -> str:
    return f"{platform}-cfn-exec-{region}"


def bootstrap_targets(platform: Platform) -> list[tuple[str, str]]:
    """Every (account, region) an environment deploys to."""
    targets = {(s.account, s.region) for s in platform.services}
    targets |= {(platform.account, platform.home_region), (platform.account, GLOBAL_REGION)}
    return sorted(targets)


def bootstrap_stack(platform: Platform, account: str, region: str) -> StackDef:
    stack = BootstrapBlueprint(platform.name, platform.tooling_account, account, region,
                               platform.home_region).build()
    stack.termination_protection = platform.environment.termination_protection
    return stack


class BootstrapBlueprint:
    def __init__(self, name: str, tooling_account: str, account: str, region: str,
                 home_region: str) -> None:
        self.name = name
        self.home_region = home_region
        self.stack = StackDef(
            id=f"bootstrap-{account}-{region}", name=f"{name}-bootstrap", account=account,
            region=region, kind="bootstrap",
            template=new_template(f"Archway bootstrap ({name}): assets bucket and deploy roles"))
        self.t = self.stack.template
        self.tooling = self.t.add_parameter(Parameter(
            "ToolingAccount", Type="String", Default=tooling_account, AllowedPattern=r"\d{12}",
            Description="Account whose principals (pipelines, people) may deploy here"))
        self.principal = self.t.add_parameter(Parameter(
            "CiPrincipalArn", Type="String", Default="",
            Description="Optional extra principal ARN (a CI role) allowed to deploy here"))
        self.t.add_condition("HasCiPrincipal", Not(Equals(Ref(self.principal), "")))

    def build(self) -> StackDef:
        _ = self.bucket, self.deploy_role, self.apigateway_account
        output(self.t, "AssetsBucket", Ref(self.bucket), "Lambda code and large templates")
        output(self.t, "DeployRoleArn", GetAtt(self.deploy_role, "Arn"), "Role archway assumes")
        output(self.t, "ExecutionRoleArn", GetAtt(self.execution_role, "Arn"),
               "Role CloudFormation uses")
        return self.stack

    def _name(self, what: str) -> Sub:
        return Sub(f"{self.name}-{what}-${{AWS::Region}}")

    @cached_property
    def bucket(self) -> s3_resources.Bucket:
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

    def _arn(self, service: str, resource: str, region: bool = True) -> Sub:
        where = "${AWS::Region}" if region else ""
        return Sub(f"arn:${{AWS::Partition}}:{service}:{where}:${{AWS::AccountId}}:{resource}")

    @cached_property
    def deploy_role(self) -> iam_resources.Role:
        trust = Policy(Version="2012-10-17", Statement=[Statement(
            Effect=Allow, Action=[sts.AssumeRole],
            Principal=Principal("AWS", [
                Sub("arn:${AWS::Partition}:iam::${ToolingAccount}:root"),
                If("HasCiPrincipal", Ref(self.principal), NOVALUE)]))])
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
                      Resource=[GetAtt(self.execution_role, "Arn")]),
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
            Statement(Sid="CheckRetainedData", Effect=Allow,
                      Action=[dynamodb.DescribeTable],
                      Resource=[self._arn("dynamodb", f"table/{self.name}-*")]),
        ]
        return self.t.add_resource(iam_resources.Role(
            "DeployRole", RoleName=self._name("deploy"), AssumeRolePolicyDocument=trust,
            Policies=[iam_resources.Policy(PolicyName="deploy",
                                           PolicyDocument=policy(*statements))]))

    @cached_property
    def execution_role(self) -> iam_resources.Role:
        prefix = f"{self.name}-*"
        statements = [
            Statement(Sid="NamedByThePlatform", Effect=Allow, Action=[
                dynamodb.Action("*"), lambda_actions.Action("*"), sns.Action("*"),
                logs.Action("*"), s3.Action("*"), iam.Action("*"), codebuild.Action("*"),
                codepipeline.Action("*")],
                Resource=[
                    self._arn("dynamodb", f"table/{prefix}"),
                    self._arn("lambda", f"function:{prefix}"),
                    self._arn("sns", prefix),
                    self._arn("logs", f"log-group:/aws/lambda/{prefix}"),
                    self._arn("logs", f"log-group:/aws/apigateway/{prefix}"),
                    self._arn("logs", f"log-group:/aws/codebuild/{prefix}"),
                    Sub(f"arn:${{AWS::Partition}}:s3:::{prefix}"),
                    Sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{prefix}"),
                    self._arn("codebuild", f"project/{prefix}"),
                    self._arn("codebuild", f"report-group/{prefix}"),
                    self._arn("codepipeline", prefix),
                ]),
            Statement(Sid="ServicesWithoutNameScoping", Effect=Allow, Action=[
                apigateway.Action("*"), cloudfront.Action("*"), wafv2.Action("*"),
                acm_actions.Action("*"), route53.ChangeResourceRecordSets,
                route53.GetChange, route53.ListResourceRecordSets,
                cloudwatch.PutMetricAlarm, cloudwatch.DeleteAlarms,
                cloudwatch.DescribeAlarms, cloudwatch.TagResource,
                kms.CreateKey, kms.DescribeKey, kms.EnableKeyRotation, kms.PutKeyPolicy,
                kms.TagResource, kms.ScheduleKeyDeletion, kms.GetKeyPolicy,
                kms.GetKeyRotationStatus, lambda_actions.GetLayerVersion,
                codestar_notifications.Action("*"), codestar_connections.PassConnection,
                iam.CreateServiceLinkedRole],
                # These services' resources get generated ids (no name to scope by).
                Resource=["*"]),
        ]
        return self.t.add_resource(iam_resources.Role(
            "ExecutionRole", RoleName=self._name("cfn-exec"),
            AssumeRolePolicyDocument=assume_role_policy("cloudformation.amazonaws.com"),
            Policies=[iam_resources.Policy(PolicyName="archway-resources",
                                           PolicyDocument=policy(*statements))]))

    @cached_property
    def apigateway_account(self) -> apigw.Account:
        role = self.t.add_resource(iam_resources.Role(
            "ApiGatewayLogsRole", RoleName=self._name("apigw-logs"),
            AssumeRolePolicyDocument=assume_role_policy("apigateway.amazonaws.com"),
            ManagedPolicyArns=[Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/"
                                   "AmazonAPIGatewayPushToCloudWatchLogs")]))
        return self.t.add_resource(apigw.Account(
            "ApiGatewayAccount", CloudWatchRoleArn=GetAtt(role, "Arn")))
