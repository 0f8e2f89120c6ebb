"""CodePipeline stacks in the tooling account: one per service, one for the platform.

Source (CodeStar connection, triggered only by the files that matter) -> Gate (CodeBuild:
`tox -e lint` and `tox -e test`, JUnit into a report group; a finding stops everything)
-> Synth -> Deploy to the first environment -> (manual approval -> deploy) for each
later one. Deploys run `archway deploy` in CodeBuild, which assumes the bootstrap deploy
role of each target account: the same command a person runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from awacs import codebuild as cb_actions
from awacs import codestar_connections, kms, logs, s3, sns, sts
from awacs.aws import Allow, ArnLike, Condition, Principal, Statement
from troposphere import GetAtt, Ref, Sub, iam
from troposphere import codebuild as cb
from troposphere import codepipeline as cp
from troposphere import codestarnotifications as notifications
from troposphere import kms as kms_resources
from troposphere import s3 as s3_resources
from troposphere import sns as sns_resources

from archway.shared.blueprint import StackDef, deviation, new_template, output, tags
from archway.shared.blueprint.iam import archway_role, policy
from archway.shared.blueprint.keys import account_administers, services_publish
from archway.shared.blueprint.storage import access_log_delivery, private_bucket
from archway.shared.config import Config
from archway.shared.config.models import Pipelines
from archway.shared.errors import ConfigError
from archway.shared.naming import (
    GLOBAL_REGION,
    Names,
    deploy_role_name,
    lookup_role,
    pipeline_deploy_role,
)

BUILDSPECS = "pipelines/buildspecs"
SHARED_PATHS = ("shared/**", "config/**", "pyproject.toml", "tox.ini")


@dataclass(frozen=True)
class PipelineSpec:
    id: str  # "catalog" or "platform"
    file_paths: tuple[str, ...]
    deploy_command: str  # run with ARCHWAY_ENV set, in the repository root
    accounts: dict[str, str]  # env -> account the deploy touches
    regions: tuple[str, ...]  # regions of those accounts it deploys to (one role each)
    lookups: tuple[tuple[str, str], ...] = ()  # (account, region) whose lookup role it reads


def pipeline_stacks(config: Config) -> list[StackDef]:
    settings = config.platform.pipelines
    if settings is None:
        return []
    tooling = _tooling_account(config, settings)
    home = config.platform.home_region
    platform_accounts = {env: config.environments[env].platform_account
                         for env in settings.promotion}
    # A service deploy reads its origin secret in the platform account; the edge deploy
    # reads every service's ApiDomain output in the service accounts.
    specs = [PipelineSpec(
        svc, (f"services/{svc}/**", *SHARED_PATHS), f"archway deploy service {svc} --yes",
        {env: service.accounts[env] for env in settings.promotion}, (home,),
        tuple(sorted({(platform_accounts[env], home) for env in settings.promotion})))
        for svc, service in sorted(config.services.items())]
    specs.append(PipelineSpec(
        "platform", ("platform/**", *SHARED_PATHS),
        "archway deploy edge --yes && archway publish-site",
        platform_accounts, (home, GLOBAL_REGION),  # edge-global lives in us-east-1
        tuple(sorted({(service.accounts[env], home) for service in config.services.values()
                      for env in settings.promotion}))))
    return [PipelineBlueprint(config, settings, spec, tooling).build() for spec in specs]


def _tooling_account(config: Config, settings: Pipelines) -> str:
    for index, env in enumerate(settings.promotion):
        if env not in config.environments:
            raise ConfigError("config/platform.yaml", f"pipelines.promotion[{index}]", (
                f"unknown environment {env!r} (known: {', '.join(sorted(config.environments))})"))
    accounts = {config.environments[env].tooling_account for env in settings.promotion}
    if len(accounts) != 1:
        raise ConfigError("config/platform.yaml", "pipelines.promotion", (
            "the promoted environments name different tooling accounts "
            f"({', '.join(sorted(accounts))}): pipelines live in one"))
    return accounts.pop()


class PipelineBlueprint:
    def __init__(self, config: Config, settings: Pipelines, spec: PipelineSpec,
                 account: str) -> None:
        self.config = config
        self.settings = settings
        self.spec = spec
        self.region = config.platform.home_region
        self.names = Names(config.platform.name, "tooling")
        self.prefix = f"{self.names.prefix}-{spec.id}"
        self.stack = StackDef(
            id=f"pipeline-{spec.id}", name=self.names.pipeline_stack(spec.id), account=account,
            region=self.region, kind="pipeline",
            template=new_template(f"Archway pipeline {spec.id}: gates, then promotion "
                                  f"{' -> '.join(settings.promotion)}"))
        self.t = self.stack.template

    def build(self) -> StackDef:
        _ = self.pipeline, self.notifications
        output(self.t, "PipelineName", Ref(self.pipeline), "CodePipeline name")
        output(self.t, "ArtifactBucket", Ref(self.bucket), "Encrypted artifact bucket")
        return self.stack

    def tags(self) -> object:
        return tags(self.config.platform.name, "tooling", **{"archway:pipeline": self.spec.id})

    def deploy_role_arn(self, account: str, region: str) -> Sub:
        role = deploy_role_name(self.config.platform.name, region)
        return Sub(f"arn:${{AWS::Partition}}:iam::{account}:role/{role}")

    @property
    def lookup_roles(self) -> list[Sub]:
        """The read-only lookup role of every account whose outputs or secrets it reads."""
        name = self.config.platform.name
        return [Sub(f"arn:${{AWS::Partition}}:iam::{account}:role/{lookup_role(name, region)}")
                for account, region in self.spec.lookups]

    @property
    def target_roles(self) -> list[Sub]:
        """The bootstrap deploy role of every account and region this pipeline deploys to."""
        return [self.deploy_role_arn(account, region)
                for account in sorted(set(self.spec.accounts.values()))
                for region in self.spec.regions]

    # -------------------------------------------------------------- encryption

    @cached_property
    def key(self) -> kms_resources.Key:
        # The account statement lets this account's IAM policies grant use of the key (the
        # pipeline and build roles hold such grants). Other accounts' deploy roles are let
        # in by account principal narrowed with aws:PrincipalArn: a key policy that names
        # a role ARN is rejected while that role does not exist yet (an account not yet
        # bootstrapped), see
        # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
        return self.t.add_resource(kms_resources.Key(
            "ArtifactKey",
            Description=f"{self.prefix}: pipeline artifacts",
            EnableKeyRotation=True,
            KeyPolicy=policy(
                account_administers(),
                # the notification topic is encrypted with this key (FSBP SNS.1)
                services_publish(["codestar-notifications.amazonaws.com"]),
                Statement(Sid="TargetDeployRolesDecrypt", Effect=Allow,
                          Principal=Principal("AWS", [
                              Sub(f"arn:${{AWS::Partition}}:iam::{account}:root")
                              for account in sorted(set(self.spec.accounts.values()))]),
                          Action=[kms.Decrypt, kms.DescribeKey], Resource=["*"],
                          Condition=Condition(ArnLike({"aws:PrincipalArn":
                                                       self.target_roles}))),
            ),
            Tags=self.tags(),
        ))

    @cached_property
    def access_logs(self) -> s3_resources.Bucket:
        """Server access logs of the artifact bucket (FSBP S3.9).

        S3 delivers them as the logging service principal, allowed by the bucket policy
        for this account's artifact bucket only; the target must use SSE-S3:
        https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
        """
        deviation(self.t, "S3.9", ["ArtifactAccessLogs"], (
            "the access-log bucket of the artifact bucket: logging it would log the logs"))
        delivery = access_log_delivery("ArtifactAccessLogs", "", "ArtifactBucket")
        return private_bucket(
            self.t, "ArtifactAccessLogs", extra_statements=(delivery,), Tags=self.tags(),
            LifecycleConfiguration=s3_resources.LifecycleConfiguration(Rules=[
                s3_resources.LifecycleRule(Id="expire-access-logs", Status="Enabled",
                                           ExpirationInDays=365,
                                           NoncurrentVersionExpirationInDays=30)]))

    @cached_property
    def bucket(self) -> s3_resources.Bucket:
        return private_bucket(
            self.t, "ArtifactBucket", kms_key=GetAtt(self.key, "Arn"), Tags=self.tags(),
            LoggingConfiguration=s3_resources.LoggingConfiguration(
                DestinationBucketName=Ref(self.access_logs),
                LogFilePrefix="artifacts/"),
            LifecycleConfiguration=s3_resources.LifecycleConfiguration(Rules=[
                s3_resources.LifecycleRule(Id="expire-old-artifacts", Status="Enabled",
                                           ExpirationInDays=90,
                                           NoncurrentVersionExpirationInDays=30)]))

    # -------------------------------------------------------------------- roles

    def _artifacts(self, write: bool) -> list[Statement]:
        actions = [s3.GetObject, s3.GetObjectVersion, s3.GetBucketVersioning]
        if write:
            actions.append(s3.PutObject)
        return [
            Statement(Sid="Artifacts", Effect=Allow, Action=actions,
                      Resource=[GetAtt(self.bucket, "Arn"), Sub("${ArtifactBucket.Arn}/*")]),
            Statement(Sid="ArtifactKey", Effect=Allow,
                      Action=[kms.Decrypt, kms.Encrypt, kms.GenerateDataKey, kms.DescribeKey],
                      Resource=[GetAtt(self.key, "Arn")]),
        ]

    def _clone(self) -> Statement:
        """CodeBuild clones the repository itself (CODEBUILD_CLONE_REF) with the
        connection, so every build role needs UseConnection, not only the pipeline's:
        https://docs.aws.amazon.com/codepipeline/latest/userguide/action-reference-CodestarConnectionSource.html
        """
        return Statement(Sid="CloneThroughTheConnection", Effect=Allow,
                         Action=[codestar_connections.UseConnection],
                         Resource=[self.settings.connection_arn])

    def _build_logs(self) -> Statement:
        return Statement(Sid="OwnBuildLogs", Effect=Allow,
                         Action=[logs.CreateLogGroup, logs.CreateLogStream, logs.PutLogEvents],
                         Resource=[Sub("arn:${AWS::Partition}:logs:${AWS::Region}:"
                                       f"${{AWS::AccountId}}:log-group:/aws/codebuild/"
                                       f"{self.prefix}-*")])

    @cached_property
    def build_role(self) -> iam.Role:
        """Gate and synth builds: artifacts, logs, test reports; no access to any target."""
        return self._role("BuildRole", "codebuild.amazonaws.com", [
            *self._artifacts(write=True), self._build_logs(), self._clone(),
            Statement(Sid="TestReports", Effect=Allow,
                      Action=[cb_actions.CreateReportGroup, cb_actions.CreateReport,
                              cb_actions.UpdateReport, cb_actions.BatchPutTestCases],
                      Resource=[Sub("arn:${AWS::Partition}:codebuild:${AWS::Region}:"
                                    f"${{AWS::AccountId}}:report-group/{self.prefix}-*")]),
        ])

    @cached_property
    def deploy_role(self) -> iam.Role:
        """Deploy builds: may assume exactly the deploy roles of this pipeline's targets
        and the read-only lookup roles of the accounts whose outputs or secrets it reads.
        Named, so the bootstrap roles can trust it by name."""
        statements = [
            *self._artifacts(write=False), self._build_logs(), self._clone(),
            Statement(Sid="AssumeTargetDeployRoles", Effect=Allow, Action=[sts.AssumeRole],
                      Resource=self.target_roles)]
        if self.spec.lookups:
            statements.append(Statement(Sid="AssumeLookupRoles", Effect=Allow,
                                        Action=[sts.AssumeRole], Resource=self.lookup_roles))
        return self._role("DeployBuildRole", "codebuild.amazonaws.com", statements,
                          RoleName=pipeline_deploy_role(self.config.platform.name,
                                                        self.spec.id))

    @cached_property
    def pipeline_role(self) -> iam.Role:
        projects = [GetAtt(p, "Arn") for p in self.projects.values()]
        return self._role("PipelineRole", "codepipeline.amazonaws.com", [
            *self._artifacts(write=True),
            Statement(Sid="RunOwnBuilds", Effect=Allow,
                      Action=[cb_actions.StartBuild, cb_actions.BatchGetBuilds],
                      Resource=projects),
            Statement(Sid="UseTheConnection", Effect=Allow,
                      Action=[codestar_connections.UseConnection],
                      Resource=[self.settings.connection_arn]),
            Statement(Sid="ApprovalNotifications", Effect=Allow, Action=[sns.Publish],
                      Resource=[Ref(self.topic)]),
        ])

    def _role(self, title: str, service: str, statements: list[Statement],
              **props: object) -> iam.Role:
        return archway_role(self.t, title, self.config.platform.name, service, statements,
                            Tags=self.tags(), **props)

    # ------------------------------------------------------------------- builds

    @cached_property
    def report_group(self) -> cb.ReportGroup:
        return self.t.add_resource(cb.ReportGroup(
            "TestReports", Name=f"{self.prefix}-tests", Type="TEST", DeleteReports=True,
            ExportConfig=cb.ReportExportConfig(ExportConfigType="NO_EXPORT"), Tags=self.tags()))

    def _project(self, title: str, name: str, buildspec: str, role: iam.Role,
                 variables: dict[str, str]) -> cb.Project:
        env = [cb.EnvironmentVariable(Name=k, Value=v, Type="PLAINTEXT")
               for k, v in sorted(variables.items())]
        return self.t.add_resource(cb.Project(
            title,
            Name=f"{self.prefix}-{name}",
            ServiceRole=GetAtt(role, "Arn"),
            EncryptionKey=GetAtt(self.key, "Arn"),
            Source=cb.Source(Type="CODEPIPELINE", BuildSpec=f"{BUILDSPECS}/{buildspec}"),
            Artifacts=cb.Artifacts(Type="CODEPIPELINE"),
            Environment=cb.Environment(ComputeType="BUILD_GENERAL1_MEDIUM",
                                       Image=self.settings.build_image,
                                       Type="LINUX_CONTAINER", EnvironmentVariables=env),
            LogsConfig=cb.LogsConfig(CloudWatchLogs=cb.CloudWatchLogs(
                Status="ENABLED", GroupName=f"/aws/codebuild/{self.prefix}-{name}")),
            TimeoutInMinutes=60,
            Tags=self.tags(),
        ))

    @cached_property
    def projects(self) -> dict[str, cb.Project]:
        projects = {
            "gate": self._project("GateProject", "gate", "gate.yml", self.build_role,
                                  {"ARCHWAY_REPORT_GROUP": Ref(self.report_group)}),
            "synth": self._project("SynthProject", "synth", "synth.yml", self.build_role,
                                   {"ARCHWAY_ENVS": " ".join(self.settings.promotion)}),
        }
        for env in self.settings.promotion:
            projects[f"deploy-{env}"] = self._project(
                f"Deploy{env.title()}Project", f"deploy-{env}", "deploy.yml", self.deploy_role,
                {"ARCHWAY_ENV": env, "ARCHWAY_DEPLOY": self.spec.deploy_command,
                 "ARCHWAY_TARGET_ACCOUNT": self.spec.accounts[env]})
        return projects

    # ----------------------------------------------------------------- pipeline

    def _build_action(self, name: str, project: str, inputs: str,
                      outputs: str | None = None) -> cp.Actions:
        props: dict[str, object] = dict(
            Name=name,
            ActionTypeId=cp.ActionTypeId(Category="Build", Owner="AWS", Provider="CodeBuild",
                                         Version="1"),
            Configuration={"ProjectName": Ref(self.projects[project])},
            InputArtifacts=[cp.InputArtifacts(Name=inputs)],
            RunOrder=1,
        )
        if outputs:
            props["OutputArtifacts"] = [cp.OutputArtifacts(Name=outputs)]
        return cp.Actions(**props)

    def stages(self) -> list[cp.Stages]:
        source = cp.Actions(
            Name="Source",
            ActionTypeId=cp.ActionTypeId(Category="Source", Owner="AWS",
                                         Provider="CodeStarSourceConnection", Version="1"),
            Configuration={"ConnectionArn": self.settings.connection_arn,
                           "FullRepositoryId": self.settings.repository,
                           "BranchName": self.settings.branch,
                           "OutputArtifactFormat": "CODEBUILD_CLONE_REF",
                           "DetectChanges": False},
            OutputArtifacts=[cp.OutputArtifacts(Name="Source")], RunOrder=1)
        stages = [
            cp.Stages(Name="Source", Actions=[source]),
            cp.Stages(Name="Gate", Actions=[self._build_action("LintAndTest", "gate", "Source")]),
            cp.Stages(Name="Synth", Actions=[self._build_action("Synth", "synth", "Source",
                                                                "Build")]),
        ]
        for index, env in enumerate(self.settings.promotion):
            if index > 0:
                stages.append(cp.Stages(Name=f"Approve{env.title()}", Actions=[cp.Actions(
                    Name="Approve",
                    ActionTypeId=cp.ActionTypeId(Category="Approval", Owner="AWS",
                                                 Provider="Manual", Version="1"),
                    Configuration={"NotificationArn": Ref(self.topic),
                                   "CustomData": f"Promote {self.spec.id} to {env}?"},
                    RunOrder=1)]))
            stages.append(cp.Stages(Name=f"Deploy{env.title()}", Actions=[
                self._build_action("Deploy", f"deploy-{env}", "Source")]))
        return stages

    @cached_property
    def pipeline(self) -> cp.Pipeline:
        return self.t.add_resource(cp.Pipeline(
            "Pipeline",
            Name=self.prefix,
            PipelineType="V2",
            ExecutionMode="QUEUED",
            RoleArn=GetAtt(self.pipeline_role, "Arn"),
            ArtifactStore=cp.ArtifactStore(
                Type="S3", Location=Ref(self.bucket),
                EncryptionKey=cp.EncryptionKey(Id=GetAtt(self.key, "Arn"), Type="KMS")),
            Stages=self.stages(),
            Triggers=[cp.PipelineTriggerDeclaration(
                ProviderType="CodeStarSourceConnection",
                GitConfiguration=cp.GitConfiguration(
                    SourceActionName="Source",
                    Push=[cp.GitPushFilter(
                        Branches=cp.GitBranchFilterCriteria(Includes=[self.settings.branch]),
                        FilePaths=cp.GitFilePathFilterCriteria(
                            Includes=list(self.spec.file_paths)))]))],
            Tags=self.tags(),
        ))

    @cached_property
    def topic(self) -> sns_resources.Topic:
        topic = self.t.add_resource(sns_resources.Topic(
            "NotificationTopic", TopicName=f"{self.prefix}-notifications",
            KmsMasterKeyId=Ref(self.key), Tags=self.tags()))
        self.t.add_resource(sns_resources.TopicPolicy(
            "NotificationTopicPolicy", Topics=[Ref(topic)],
            PolicyDocument=policy(Statement(
                Sid="CodeStarNotifications", Effect=Allow,
                Principal=Principal("Service", ["codestar-notifications.amazonaws.com"]),
                Action=[sns.Publish], Resource=[Ref(topic)]))))
        return topic

    @cached_property
    def notifications(self) -> notifications.NotificationRule:
        return self.t.add_resource(notifications.NotificationRule(
            "FailureNotifications",
            Name=f"{self.prefix}-failures",
            DetailType="FULL",
            EventTypeIds=["codepipeline-pipeline-pipeline-execution-failed",
                          "codepipeline-pipeline-manual-approval-needed"],
            Resource=Sub("arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:"
                         "${Pipeline}"),
            Targets=[notifications.Target(TargetType="SNS", TargetAddress=Ref(self.topic))],
            Tags={"archway:platform": self.config.platform.name},
        ))
