"""Physical names of everything Archway creates: one place, one rule.

Every name starts with ``<platform>-<env>-`` so an execution role can be limited to
the platform's own resources and two environments never collide in one account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The template Metadata key listing a stack's deliberate deviations from a control
# (written by archway.shared.blueprint, listed by archway lint without troposphere).
DEVIATIONS_KEY = "Archway::Deviations"

GLOBAL_REGION = "us-east-1"  # CloudFront's WAF web ACL and ACM certificate live here


@dataclass(frozen=True)
class Names:
    platform: str
    env: str

    @property
    def prefix(self) -> str:
        return f"{self.platform}-{self.env}"

    def service_stack(self, service: str) -> str:
        return f"{self.prefix}-svc-{service}"

    @property
    def edge_global_stack(self) -> str:
        return f"{self.prefix}-edge-global"

    @property
    def edge_stack(self) -> str:
        return f"{self.prefix}-edge"

    @property
    def auth_stack(self) -> str:
        """The environment's Cognito user pool (platform account, home region)."""
        return f"{self.prefix}-auth"

    @property
    def user_pool(self) -> str:
        return f"{self.prefix}-users"

    @property
    def user_pool_client(self) -> str:
        """The single-page app's public app client."""
        return f"{self.prefix}-spa"

    def pipeline_stack(self, name: str) -> str:
        return f"{self.prefix}-pipeline-{name}"

    def api(self, service: str) -> str:
        return f"{self.prefix}-{service}"

    def table(self, service: str, table: str) -> str:
        return f"{self.prefix}-{service}-{table}"

    def function(self, service: str, function: str) -> str:
        return f"{self.prefix}-{service}-{function}"

    @property
    def route_store(self) -> str:
        """The edge's CloudFront KeyValueStore of API routes."""
        return f"{self.prefix}-routes"

    @property
    def route_registrar_role(self) -> str:
        return f"{self.prefix}-route-registrar"

    def secret_parameter(self, service: str) -> str:
        """SSM SecureString (platform account) holding a service's origin secret."""
        return f"/{self.platform}/{self.env}/origin-secret/{service}"


def deploy_role_name(platform: str, region: str) -> str:
    """The role ``archway bootstrap`` creates for deploys in every account and region."""
    return f"{platform}-deploy-{region}"


def route_path(service: str, path: str) -> str | None:
    """The public path of a route: ``/search`` -> ``/api/catalog/search``.

    A path already under ``/api/`` must be under the service's own prefix; None if not.
    """
    prefix = f"/api/{service}"
    if path.startswith("/api/"):
        return path if path.startswith(prefix + "/") else None
    return prefix + path


def logical_id(*parts: str) -> str:
    """CloudFormation logical id from name parts: ('products', 'search-x') -> ProductsSearchX.

    Logical ids are alphanumeric only, so every other character (``-``, ``_``, ``.``,
    braces) separates words: ``search.json`` -> ``SearchJson``. Two names that differ only
    in those characters (or the case of a word's first letter) give the same id; the
    config checks refuse such pairs before anything is built.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resources-section-structure.html
    """
    words = []
    for part in parts:
        words += re.split(r"[^A-Za-z0-9]+", part)
    return "".join(w[:1].upper() + w[1:] for w in words if w)


# ------------------------------------------------------------ naming rules of AWS resources


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts as the name of one kind of resource (each cites its API page)."""

    what: str
    pattern: str  # the allowed characters / shape, as a full-match regex
    max_length: int
    url: str
    min_length: int = 1

    def problem(self, name: str) -> str | None:
        """Why AWS would refuse ``name`` as a {what}, or None."""
        if len(name) > self.max_length:
            return (f"name too long: {self.what} {name!r} would be {len(name)} characters "
                    f"(max {self.max_length})")
        if len(name) < self.min_length:
            return f"name too short: {self.what} {name!r} needs {self.min_length} characters"
        if not re.fullmatch(self.pattern, name):
            return f"{self.what} {name!r} would not be a valid name (allowed: {self.pattern})"
        return None


S3_BUCKET = NameRule(
    "S3 bucket", r"[a-z0-9][a-z0-9.-]*[a-z0-9]", 63, min_length=3,
    url="https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html")
LAMBDA_AND_ROLE = NameRule(
    # Lambda: 64 chars of [a-zA-Z0-9-_]; the function's IAM role has the same name, and
    # role names are 64 chars of [\w+=,.@-]; the stricter of both applies.
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
    "Lambda function and IAM role", r"[A-Za-z0-9_-]+", 64,
    url="https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html")
IAM_ROLE = NameRule(
    "IAM role", r"[\w+=,.@-]+", 64,
    url="https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html")
DYNAMODB_TABLE = NameRule(
    "DynamoDB table", r"[A-Za-z0-9_.-]+", 255, min_length=3,
    url="https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
        "HowItWorks.NamingRulesDataTypes.html")
LOG_GROUP = NameRule(
    "CloudWatch Logs log group", r"[A-Za-z0-9._/#-]+", 512,
    url="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/"
        "API_CreateLogGroup.html")
STACK = NameRule(
    "CloudFormation stack", r"[A-Za-z][A-Za-z0-9-]*", 128,
    url="https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html")
SNS_TOPIC = NameRule(
    "SNS topic", r"[A-Za-z0-9_-]+", 256,
    url="https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html")
CLOUDFRONT_FUNCTION = NameRule(
    "CloudFront function", r"[A-Za-z0-9_-]+", 64,
    url="https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateFunction.html")
KEY_VALUE_STORE = NameRule(
    "CloudFront KeyValueStore", r"[A-Za-z0-9_-]+", 64,
    url="https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_CreateKeyValueStore.html")
WAF_NAME = NameRule(
    "WAF web ACL / IP set", r"[\w-]+", 128,
    url="https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html")
ALARM = NameRule(
    "CloudWatch alarm", r"[^\x00-\x1f]+", 255,
    url="https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html")
LOGICAL_ID = NameRule(
    "CloudFormation logical id", r"[A-Za-z0-9]+", 255,
    url="https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/"
        "resources-section-structure.html")


# ------------------------------------------------------- bootstrap (per account, region)
# One set per account and region (IAM names are account-wide, bootstrap is regional).


def execution_role(platform: str, region: str) -> str:
    """What CloudFormation acts as (computed from the templates' resource types)."""
    return f"{platform}-cfn-exec-{region}"


def lookup_role(platform: str, region: str) -> str:
    """Read-only: stack outputs of the platform's stacks (and, in the platform account,
    the origin secrets). Pipelines read other accounts through it, never a deploy role."""
    return f"{platform}-lookup-{region}"


def bootstrap_role_patterns(platform: str) -> tuple[str, ...]:
    """Role name patterns of everything bootstrap makes: no template may touch them."""
    return (f"{platform}-deploy-*", f"{platform}-cfn-exec-*", f"{platform}-lookup-*",
            f"{platform}-apigw-logs-*")


def pipeline_deploy_role(platform: str, pipeline: str) -> str:
    """The tooling account role a pipeline's deploy builds run as (trusted by name)."""
    return f"{platform}-tooling-{pipeline}-deploy"


def pipeline_deploy_role_pattern(platform: str) -> str:
    return f"{platform}-tooling-*-deploy"


def deployed_digest_parameter(platform: str, stack: str) -> str:
    """SSM parameter (the stack's account and region) holding what was last deployed:
    the no-op key lives here, never on the stack (stack tags reach every resource)."""
    return f"/{platform}/deployed/{stack}"
