"""Any service's stack, built from its resolved model (one per service per environment).

REST API (REGIONAL) with resources under /api/<svc>/..., AWS_PROXY Lambda integrations,
every method guarded by the origin secret (an API key whose value is a NoEcho
parameter); a Lambda function, role and log group per function; DynamoDB tables that
survive deletion and replacement; alarms to an SNS topic. Pure: no AWS calls.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

from awacs.aws import Allow, Condition, Principal, Statement, StringEquals
from awacs.sns import Publish
from troposphere import AWSObject, GetAtt, Ref, Sub, awslambda, iam, kms, logs, sns
from troposphere import apigateway as apigw
from troposphere import dynamodb as ddb

from archway.shared.assets import Dependencies, assets_bucket, package, sha256
from archway.shared.blueprint import (
    Asset,
    StackDef,
    deviation,
    new_template,
    output,
    secret,
    stack_output,
    tags,
)
from archway.shared.blueprint import iam as grants
from archway.shared.blueprint.alarms import Alarms
from archway.shared.blueprint.keys import service_key, topic_key
from archway.shared.blueprint.template_data import encode
from archway.shared.model import FunctionModel, Platform, RouteModel, ServiceModel, TableModel
from archway.shared.naming import logical_id

LOCAL_ENV = "local"  # the embedded environment, run by the local cloud

POWERTOOLS_ACCOUNT = "017000801446"  # publisher of the public Powertools for AWS Lambda layers
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "latency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "error": "$context.error.message",
}, separators=(",", ":"))


def service_stack(platform: Platform, service: ServiceModel) -> StackDef:
    return ServiceBlueprint(platform, service).build()


class ServiceBlueprint:
    def __init__(self, platform: Platform, service: ServiceModel) -> None:
        self.platform = platform
        self.service = service
        self.stack = StackDef(
            id=f"svc-{service.name}",
            name=service.stack_name,
            account=service.account,
            region=service.region,
            template=new_template(f"Archway service {service.name} ({platform.env}), "
                                  f"owned by {service.owner}"),
            kind="service",
            termination_protection=platform.environment.termination_protection,
        )
        self.t = self.stack.template

    def build(self) -> StackDef:
        _ = self.origin_secret, self.tables, self.functions, self.stage, self.usage_plan_key
        _ = self.alarms
        self.declare_deviations()
        output(self.t, "ApiDomain", Sub("${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
               "Domain of the REST API (the edge's origin)")
        output(self.t, "ApiId", Ref(self.api), "REST API id")
        output(self.t, "Stage", Ref(self.stage), "Stage name (the edge's origin path)")
        self.stack.assets.extend(self.assets.values())
        return self.stack

    # ------------------------------------------------------------------ common

    def declare_deviations(self) -> None:
        """Security Hub FSBP controls this stack deliberately does not meet, and why:
        https://docs.aws.amazon.com/securityhub/latest/userguide/fsbp-standard.html"""
        deviation(self.t, "APIGateway.4", ["Stage"], (
            "the stage answers only requests carrying the edge's origin secret (API key); "
            "the WAF web ACL filters every request at CloudFront, in front of it"))
        if not self.service.deletion_protection and self.service.tables:
            deviation(self.t, "DynamoDB.6", sorted(
                logical_id(t, "table") for t in self.service.tables), (
                f"deletion_protection is off in config/environments/{self.platform.env}.yaml: "
                "this environment's tables may be deleted (Retain still keeps them when "
                "the stack goes)"))

    def tags(self, **extra: str) -> object:
        return tags(self.platform.name, self.platform.env, **{
            "archway:service": self.service.name, "archway:owner": self.service.owner, **extra})

    @cached_property
    def origin_secret(self) -> object:
        return self.stack.add_parameter(
            "OriginSecret", secret(self.service.name),
            "Shared secret the edge sends as x-api-key (generated at deploy time)")

    @cached_property
    def requirements(self) -> Path | None:
        """``services/<svc>/requirements.txt``, packaged into the asset. Not in the local
        environment: there the local cloud installs it for the machine it runs on (a wheel
        for Lambda's Linux would not load on a Mac), beside the same code."""
        path = self.service.source_dir.parent / "requirements.txt"
        return path if path.is_file() and self.platform.env != LOCAL_ENV else None

    @cached_property
    def assets(self) -> dict[str | None, Asset]:
        """One asset (the code) per service; with requirements, one per architecture its
        functions use (the dependencies are installed for each)."""
        if self.requirements is None:
            return {None: self._asset(self.service.name, None)}
        python = self.service.runtime.removeprefix("python")
        requirements = self.requirements.relative_to(self.platform.root).as_posix()
        return {arch: self._asset(f"{self.service.name}-{arch}",
                                  Dependencies(requirements, arch, python))
                for arch in sorted({f.config.architecture
                                    for f in self.service.functions.values()})}

    def asset_for(self, fn: FunctionModel) -> Asset:
        return self.assets[fn.config.architecture if self.requirements is not None else None]

    def _asset(self, asset_id: str, deps: Dependencies | None) -> Asset:
        path = self.service.source_dir.relative_to(self.platform.root).as_posix()
        digest = sha256(package(self.platform.root, path, deps))
        return Asset(
            id=asset_id,
            path=path,
            sha256=digest,
            bucket=assets_bucket(self.platform.name, self.service.account, self.service.region),
            key=f"assets/{self.service.name}/{digest}.zip",
            dependencies=deps,
        )

    # -------------------------------------------------------------- encryption

    @cached_property
    def data_key(self) -> kms.Key | None:
        """The stack's customer-managed key (platform.yaml encryption), or None."""
        if not self.platform.settings.encryption.customer_managed_keys:
            return None
        return service_key(self.t, "DataKey", f"{self.service.api_name}: tables, logs, alarms",
                           ["cloudwatch.amazonaws.com"], Tags=self.tags())

    def _log_encryption(self) -> dict[str, object]:
        return {"KmsKeyId": GetAtt(self.data_key, "Arn")} if self.data_key else {}

    # ------------------------------------------------------------------ tables

    @cached_property
    def tables(self) -> dict[str, ddb.Table]:
        return {name: self.t.add_resource(self._table(table))
                for name, table in self.service.tables.items()}

    def _table(self, table: TableModel) -> ddb.Table:
        cfg = table.config
        keys = [cfg.partition_key, cfg.sort_key]
        for index in cfg.indexes.values():
            keys += [index.partition_key, index.sort_key]
        attributes = {key.name: key.type for key in keys if key is not None}
        props: dict[str, object] = dict(
            TableName=table.physical,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[ddb.AttributeDefinition(AttributeName=n, AttributeType=t)
                                  for n, t in sorted(attributes.items())],
            KeySchema=_key_schema(cfg.partition_key, cfg.sort_key),
            SSESpecification=ddb.SSESpecification(
                SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=Ref(self.data_key))
            if self.data_key else ddb.SSESpecification(SSEEnabled=True),
            PointInTimeRecoverySpecification=ddb.PointInTimeRecoverySpecification(
                PointInTimeRecoveryEnabled=True),
            DeletionProtectionEnabled=self.service.deletion_protection,
            Tags=self.tags(),
        )
        if cfg.indexes:
            props["GlobalSecondaryIndexes"] = [
                ddb.GlobalSecondaryIndex(
                    IndexName=name,
                    KeySchema=_key_schema(index.partition_key, index.sort_key),
                    Projection=ddb.Projection(ProjectionType=index.projection),
                ) for name, index in sorted(cfg.indexes.items())
            ]
        if cfg.ttl_attribute:
            props["TimeToLiveSpecification"] = ddb.TimeToLiveSpecification(
                AttributeName=cfg.ttl_attribute, Enabled=True)
        if cfg.stream:
            props["StreamSpecification"] = ddb.StreamSpecification(StreamViewType=cfg.stream)
        # Data outlives the stack: deleting or replacing the stack never drops a table.
        return ddb.Table(logical_id(table.name, "table"), DeletionPolicy="Retain",
                         UpdateReplacePolicy="Retain", **props)

    # --------------------------------------------------------------- functions

    @cached_property
    def functions(self) -> dict[str, awslambda.Function]:
        return {name: self._function(fn) for name, fn in self.service.functions.items()}

    @cached_property
    def invoke_targets(self) -> dict[str, object]:
        """What the API invokes per function: the alias when provisioned, else the function."""
        targets: dict[str, object] = {}
        for name, fn in self.service.functions.items():
            function = self.functions[name]
            if fn.config.provisioned_concurrency:
                targets[name] = Ref(self._alias(fn, function))
            else:
                targets[name] = GetAtt(function, "Arn")
        return targets

    def _log_group(self, fn: FunctionModel) -> logs.LogGroup:
        return self.t.add_resource(logs.LogGroup(
            logical_id(fn.name, "logs"),
            LogGroupName=fn.log_group,
            RetentionInDays=self.service.log_retention_days,
            Tags=self.tags(),
            **self._log_encryption(),
        ))

    def _role(self, fn: FunctionModel, log_group: logs.LogGroup) -> iam.Role:
        statements = [grants.log_group_write(log_group), grants.xray_write()]
        if fn.reads:
            statements.append(grants.table_read(
                [(self.tables[t.name], bool(t.config.indexes)) for t in fn.reads]))
        if fn.writes:
            statements.append(grants.table_write([self.tables[t.name] for t in fn.writes]))
        return grants.archway_role(
            self.t, logical_id(fn.name, "role"), self.platform.name, "lambda.amazonaws.com",
            statements, RoleName=fn.physical,
            Description=f"Runs {fn.physical}: its own logs, traces and declared tables only",
            Tags=self.tags())

    def _function(self, fn: FunctionModel) -> awslambda.Function:
        cfg = fn.config
        log_group = self._log_group(fn)
        role = self._role(fn, log_group)
        props: dict[str, object] = dict(
            FunctionName=fn.physical,
            Description=f"{self.service.name}: {fn.name}",
            Code=awslambda.Code(S3Bucket=self.asset_for(fn).bucket,
                                S3Key=self.asset_for(fn).key),
            Handler=cfg.handler,
            Runtime=self.service.runtime,
            MemorySize=cfg.memory,
            Timeout=cfg.timeout,
            Architectures=[cfg.architecture],
            Role=GetAtt(role, "Arn"),
            Environment=awslambda.Environment(Variables=fn.environment),
            TracingConfig=awslambda.TracingConfig(Mode="Active"),
            LoggingConfig=awslambda.LoggingConfig(LogGroup=Ref(log_group)),
            Layers=[self._powertools_layer(cfg.architecture)],
            Tags=self.tags(),
        )
        if cfg.reserved_concurrency is not None:
            props["ReservedConcurrentExecutions"] = cfg.reserved_concurrency
        return self.t.add_resource(awslambda.Function(logical_id(fn.name, "function"), **props))

    def _powertools_layer(self, architecture: str) -> Sub:
        runtime = self.service.runtime.replace(".", "")
        version = self.platform.settings.lambda_.powertools_layer_version
        return Sub(f"arn:${{AWS::Partition}}:lambda:${{AWS::Region}}:{POWERTOOLS_ACCOUNT}:layer:"
                   f"AWSLambdaPowertoolsPythonV3-{runtime}-{architecture}:{version}")

    def _alias(self, fn: FunctionModel, function: awslambda.Function) -> awslambda.Alias:
        # A new version is published whenever the code changes (its logical id follows it).
        version = self.t.add_resource(awslambda.Version(
            logical_id(fn.name, "version", self.asset_for(fn).sha256[:8]),
            FunctionName=Ref(function),
        ))
        return self.t.add_resource(awslambda.Alias(
            logical_id(fn.name, "alias"),
            FunctionName=Ref(function),
            FunctionVersion=GetAtt(version, "Version"),
            Name="live",
            ProvisionedConcurrencyConfig=awslambda.ProvisionedConcurrencyConfiguration(
                ProvisionedConcurrentExecutions=fn.config.provisioned_concurrency),
        ))

    # --------------------------------------------------------------------- API

    @cached_property
    def api(self) -> apigw.RestApi:
        return self.t.add_resource(apigw.RestApi(
            "Api",
            Name=self.service.api_name,
            Description=f"Archway service {self.service.name}: /api/{self.service.name}/*",
            EndpointConfiguration=apigw.EndpointConfiguration(Types=["REGIONAL"]),
            ApiKeySourceType="HEADER",
            Tags=self.tags(),
        ))

    @cached_property
    def resources(self) -> dict[tuple[str, ...], apigw.Resource]:
        """One API resource per distinct path prefix of the routes, parents first."""
        made: dict[tuple[str, ...], apigw.Resource] = {}
        for route in self.service.routes:
            for depth in range(1, len(route.segments) + 1):
                path = route.segments[:depth]
                if path in made:
                    continue
                parent = made[path[:-1]] if depth > 1 else None
                made[path] = self.t.add_resource(apigw.Resource(
                    "Resource" + _path_id(path),
                    RestApiId=Ref(self.api),
                    ParentId=Ref(parent) if parent else GetAtt(self.api, "RootResourceId"),
                    PathPart=path[-1],
                ))
        return made

    @cached_property
    def methods(self) -> list[apigw.Method]:
        return [self._method(route) for route in self.service.routes]

    @cached_property
    def user_pool_arn(self) -> object:
        """The platform's user pool (stack auth, platform account), read at deploy time."""
        return self.stack.add_parameter(
            "UserPoolArn", stack_output("auth", "UserPoolArn"),
            "Cognito user pool of the platform (auth stack): who signed-in users are")

    @cached_property
    def authorizer(self) -> apigw.Authorizer:
        """One Cognito authorizer for every route that asks for a signed-in user.

        API Gateway validates the token in ``Authorization`` against the pool (signature,
        expiry, issuer) and hands its claims to the handler
        (``requestContext.authorizer.claims``); a method with OAuth scopes wants an access
        token holding one of them, a method without scopes the ID token. The pool may be
        in another account (the platform's).
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html
        https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-cross-account-cognito-authorizer.html
        """
        return self.t.add_resource(apigw.Authorizer(
            "UserAuthorizer",
            Name=f"{self.service.api_name}-users",
            RestApiId=Ref(self.api),
            Type="COGNITO_USER_POOLS",
            ProviderARNs=[Ref(self.user_pool_arn)],
            IdentitySource="method.request.header.Authorization",
        ))

    def _authorization(self, route: RouteModel) -> dict[str, object]:
        if route.auth is None:
            return {"AuthorizationType": "NONE"}
        props: dict[str, object] = {"AuthorizationType": "COGNITO_USER_POOLS",
                                    "AuthorizerId": Ref(self.authorizer)}
        if route.auth.scopes:
            props["AuthorizationScopes"] = list(route.auth.scopes)
        return props

    def _method(self, route: RouteModel) -> apigw.Method:
        target = self.invoke_targets[route.function]
        uri = Sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
                  "functions/${Target}/invocations", Target=target)
        method = self.t.add_resource(apigw.Method(
            "Method" + route.method.title() + _path_id(route.segments),
            RestApiId=Ref(self.api),
            ResourceId=Ref(self.resources[route.segments]),
            HttpMethod=route.method,
            ApiKeyRequired=True,  # the origin secret: calls that bypass the edge get 403
            Integration=apigw.Integration(
                Type="AWS_PROXY", IntegrationHttpMethod="POST", Uri=uri,
                TimeoutInMillis=29000),
            **self._authorization(route),
        ))
        return method

    @cached_property
    def invoke_permissions(self) -> list[awslambda.Permission]:
        """One invoke permission per routed function, for every route of this API.

        A permission per route adds one statement per route to the function's policy,
        which Lambda caps at 20 KB (about 56 routes on one function); one statement whose
        SourceArn is the API's execution ARN with a wildcard (``<api-id>/*``: any stage,
        method and path of this API, and of no other) grants the same calls at any size.
        https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html (policy size)
        https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html
        https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway.html (permission)
        """
        routed = dict.fromkeys(route.function for route in self.service.routes)
        return [self.t.add_resource(awslambda.Permission(
            logical_id(name, "invoke"),
            Action="lambda:InvokeFunction",
            FunctionName=self.invoke_targets[name],
            Principal="apigateway.amazonaws.com",
            SourceArn=Sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:"
                          "${Api}/*"),
        )) for name in routed]

    API_SURFACE = ("AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
                   "AWS::ApiGateway::Authorizer",
                   "AWS::Lambda::Permission", "AWS::Lambda::Alias", "AWS::Lambda::Version")

    @cached_property
    def deployment(self) -> apigw.Deployment:
        """A new logical id whenever anything the stage serves changes.

        CloudFormation deploys an API only when the Deployment resource is created, so
        its id hashes the whole rendered API surface: resources, methods with their
        integrations and authorizers, invoke permissions, aliases (provisioned
        concurrency) and versions.
        A route removal is deleted only after the new deployment exists (CloudFormation
        deletes in its cleanup phase), so the deploy engine deploys the stage once more
        after such an update (shared/deploy/cloudformation.py).
        """
        _ = self.methods, self.invoke_targets, self.invoke_permissions
        surface = {title: encode(resource) for title, resource in sorted(
            self.t.resources.items()) if resource.resource_type in self.API_SURFACE}
        digest = hashlib.sha256(json.dumps(surface, sort_keys=True).encode()).hexdigest()[:8]
        return self.t.add_resource(apigw.Deployment(
            f"Deployment{digest}",
            RestApiId=Ref(self.api),
            Description=f"API surface {digest}",
            DependsOn=[m.title for m in self.methods],
        ))

    @cached_property
    def access_logs(self) -> logs.LogGroup:
        return self.t.add_resource(logs.LogGroup(
            "ApiAccessLogs",
            LogGroupName=f"/aws/apigateway/{self.service.api_name}",
            RetentionInDays=self.service.log_retention_days,
            Tags=self.tags(),
            **self._log_encryption(),
        ))

    @cached_property
    def stage(self) -> apigw.Stage:
        throttle = self.service.throttling
        return self.t.add_resource(apigw.Stage(
            "Stage",
            RestApiId=Ref(self.api),
            DeploymentId=Ref(self.deployment),
            StageName=self.service.stage,
            TracingEnabled=True,
            AccessLogSetting=apigw.AccessLogSetting(
                DestinationArn=GetAtt(self.access_logs, "Arn"), Format=ACCESS_LOG_FORMAT),
            MethodSettings=[apigw.MethodSetting(
                ResourcePath="/*", HttpMethod="*", MetricsEnabled=True, LoggingLevel="ERROR",
                DataTraceEnabled=False, ThrottlingRateLimit=throttle.rate,
                ThrottlingBurstLimit=throttle.burst,
            )],
            Tags=self.tags(),
        ))

    @cached_property
    def api_key(self) -> apigw.ApiKey:
        return self.t.add_resource(apigw.ApiKey(
            "OriginKey",
            Name=f"{self.service.api_name}-edge",
            Description="The edge's origin secret (value from a NoEcho parameter)",
            Enabled=True,
            Value=Ref(self.origin_secret),
            Tags=self.tags(),
        ))

    @cached_property
    def usage_plan(self) -> apigw.UsagePlan:
        throttle = self.service.throttling
        return self.t.add_resource(apigw.UsagePlan(
            "EdgeUsagePlan",
            UsagePlanName=f"{self.service.api_name}-edge",
            ApiStages=[apigw.ApiStage(ApiId=Ref(self.api), Stage=Ref(self.stage))],
            Throttle=apigw.ThrottleSettings(RateLimit=throttle.rate, BurstLimit=throttle.burst),
            Tags=self.tags(),
        ))

    @cached_property
    def usage_plan_key(self) -> apigw.UsagePlanKey:
        return self.t.add_resource(apigw.UsagePlanKey(
            "EdgeUsagePlanKey",
            KeyId=Ref(self.api_key),
            KeyType="API_KEY",
            UsagePlanId=Ref(self.usage_plan),
        ))

    # ------------------------------------------------------------------ alarms

    @cached_property
    def topic(self) -> sns.Topic:
        # Encrypted at rest (FSBP SNS.1) with a key CloudWatch may use to publish.
        key = self.data_key or topic_key(
            self.t, "AlarmTopicKey", f"{self.service.api_name}: alarm topic",
            ["cloudwatch.amazonaws.com"], Tags=self.tags())
        props: dict[str, object] = dict(TopicName=f"{self.service.api_name}-alarms",
                                        KmsMasterKeyId=Ref(key), Tags=self.tags())
        if self.service.alarm_email:
            props["Subscription"] = [sns.Subscription(Protocol="email",
                                                      Endpoint=self.service.alarm_email)]
        topic = self.t.add_resource(sns.Topic("AlarmTopic", **props))
        self.t.add_resource(sns.TopicPolicy(
            "AlarmTopicPolicy",
            Topics=[Ref(topic)],
            PolicyDocument=grants.policy(Statement(
                Sid="CloudWatchAlarmsOfThisAccount",
                Effect=Allow,
                Principal=Principal("Service", ["cloudwatch.amazonaws.com"]),
                Action=[Publish],
                Resource=[Ref(topic)],
                Condition=Condition(StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})),
            )),
        ))
        return topic

    @cached_property
    def alarms(self) -> list[AWSObject]:
        alarms = Alarms(self.t, Ref(self.topic), prefix=self.service.api_name)
        made = [
            alarms.api_5xx_rate(self.service.api_name, Ref(self.stage), percent=1.0),
            alarms.api_latency_p99(self.service.api_name, Ref(self.stage), millis=2000),
        ]
        made += [alarms.lambda_error_rate(fn.name, Ref(self.functions[fn.name]), percent=0.1)
                 for fn in self.service.functions.values()]
        made += [alarms.dynamodb_throttles(t.name, Ref(self.tables[t.name]))
                 for t in self.service.tables.values()]
        return made


def _key_schema(partition: object, sort: object | None) -> list[ddb.KeySchema]:
    schema = [ddb.KeySchema(AttributeName=partition.name, KeyType="HASH")]  # type: ignore[attr-defined]
    if sort is not None:
        schema.append(ddb.KeySchema(AttributeName=sort.name, KeyType="RANGE"))  # type: ignore[attr-defined]
    return schema


def _path_id(segments: tuple[str, ...]) -> str:
    return "".join(logical_id(s[1:-1], "param") if s.startswith("{") else logical_id(s)
                   for s in segments)
