"""The configuration files' models: what teams write, validated field by field.

The same models generate the JSON Schema editors use (`archway schema`).
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from difflib import get_close_matches
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from archway.shared.config.pydantic_plugins import skip_lookup_without_plugins

skip_lookup_without_plugins()  # before the first model below is built

AccountId = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Name = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", min_length=2, max_length=40)
]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")]

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
# AWS WAF managed rule groups that need no configuration (the web ACL references them by
# vendor and name only): the baseline, use-case and IP reputation groups.
# https://docs.aws.amazon.com/waf/latest/developerguide/aws-managed-rule-groups-list.html
KNOWN_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet", "AWSManagedRulesAdminProtectionRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet", "AWSManagedRulesSQLiRuleSet",
    "AWSManagedRulesLinuxRuleSet", "AWSManagedRulesUnixRuleSet",
    "AWSManagedRulesWindowsRuleSet", "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesWordPressRuleSet", "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesAnonymousIpList",
)
# Groups that need a ManagedRuleGroupConfigs block (and are billed per request), which
# Archway does not write: Bot Control, account takeover and account creation fraud
# prevention, anti-DDoS. Same page as above.
CONFIGURED_RULE_GROUPS = (
    "AWSManagedRulesBotControlRuleSet", "AWSManagedRulesATPRuleSet",
    "AWSManagedRulesACFPRuleSet", "AWSManagedRulesAntiDDoSRuleSet",
)
# Lambda sets these itself; a function configuration may not set them.
# https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
LAMBDA_RESERVED_VARIABLES = (
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
)
# Set by Archway on every function (shared/model): tables, environment, service name.
ARCHWAY_VARIABLES = ("POWERTOOLS_SERVICE_NAME", "ARCHWAY_ENV", "ARCHWAY_CACHE_TTLS")
# Makes Powertools' Logger log each incoming event, headers (tokens) included.
# https://docs.powertools.aws.dev/lambda/python/latest/core/logger/#log-incoming-event
POWERTOOLS_LOG_EVENT = "POWERTOOLS_LOGGER_LOG_EVENT"
# A tag value: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$, at most 256 characters; "aws:" is reserved.
# https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_Tag.html
# https://docs.aws.amazon.com/tag-editor/latest/userguide/best-practices-and-strats.html
TAG_VALUE_SYMBOLS = " _.:/=+-@"
TAG_VALUE_MAX = 256
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def check_retention(value: int) -> int:
    if value not in RETENTION_DAYS:
        raise ValueError(f"must be one of CloudWatch Logs' retention periods {RETENTION_DAYS}")
    return value


# ---------------------------------------------------------------- platform.yaml


class RateLimit(Strict):
    requests: int = Field(2000, ge=10, le=2_000_000_000,
                          description="Requests allowed per client IP in one window.")
    window_seconds: Literal[60, 120, 300, 600] = Field(
        300, description="Evaluation window of the WAF rate-based rule.")


class Waf(Strict):
    managed_rule_groups: tuple[str, ...] = Field(
        MANAGED_RULE_GROUPS, description="AWS managed rule groups (vendor AWS), in priority order.")
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    geo_block: tuple[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")], ...] = Field(
        (), description="ISO 3166 country codes whose viewers are blocked.")
    ip_allow: tuple[str, ...] = Field((), description="CIDRs always allowed (skip other rules).")
    ip_deny: tuple[str, ...] = Field((), description="CIDRs always blocked.")

    @field_validator("ip_allow", "ip_deny")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        versions: dict[int, str] = {}
        for cidr in value:
            try:
                versions.setdefault(ipaddress.ip_network(cidr, strict=True).version, cidr)
            except ValueError as exc:
                raise ValueError(f"{cidr!r} is not a CIDR block ({exc})") from None
        if len(versions) > 1:
            # One IPSet has one IPAddressVersion (IPV4 or IPV6).
            # https://docs.aws.amazon.com/waf/latest/APIReference/API_IPSet.html
            raise ValueError(f"an IP set holds one address family: {versions[4]!r} is IPv4 "
                             f"but {versions[6]!r} is IPv6; keep one family")
        return value

    @field_validator("geo_block")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [code for code in value if code not in waf_country_codes()] if value else []
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a country code AWS WAF matches "
                             "(ISO 3166-1 alpha-2, e.g. RU)")
        return value

    @field_validator("managed_rule_groups")
    @classmethod
    def _groups(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for group in value:
            if group in CONFIGURED_RULE_GROUPS:
                raise ValueError(f"{group!r} needs a rule group configuration Archway does not "
                                 "write; use a group from the baseline, use-case or IP lists")
            if group not in KNOWN_RULE_GROUPS:
                close = get_close_matches(group, KNOWN_RULE_GROUPS, n=1)
                hint = f"did you mean {close[0]!r}?" if close else \
                    "see the AWS WAF managed rule groups list"
                raise ValueError(f"{group!r} is not an AWS managed rule group ({hint})")
            if value.count(group) > 1:
                raise ValueError(f"{group!r} is listed twice (rule names must be unique)")
        return value


class SecurityHeaders(Strict):
    # CloudFront quota "maximum length of a value in the Content-Security-Policy header":
    # 1783 characters (response headers policies).
    # https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html
    content_security_policy: str = Field(max_length=1783, default=
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        description="Content-Security-Policy sent with every response.")
    hsts_max_age: int = Field(63072000, ge=0, description="Strict-Transport-Security max-age.")
    frame_options: Literal["DENY", "SAMEORIGIN"] = "DENY"
    referrer_policy: Literal[
        "no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"
    ] = "strict-origin-when-cross-origin"


class Edge(Strict):
    waf: Waf = Field(default_factory=Waf)
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    security_headers: SecurityHeaders = Field(default_factory=SecurityHeaders)
    log_retention_days: int = Field(90, ge=1, le=3650,
                                    description="Days CloudFront access logs are kept.")
    routing: Literal["behaviors"] = Field(
        "behaviors", description="One cache behavior per service (the only mode for now).")


class Lambda(Strict):
    powertools_layer_version: int = Field(
        7, ge=1, description="Version of the public AWSLambdaPowertoolsPythonV3 layer.")


class Pipelines(Strict):
    """CodePipeline settings (tooling account): where the code comes from, where it goes."""

    connection_arn: Annotated[str, StringConstraints(
        pattern=r"^arn:aws[a-z-]*:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:"
                r"connection/[0-9a-f-]+$")] = Field(
        description="CodeStar connection to the repository host (tooling account).")
    repository: Annotated[str, StringConstraints(pattern=r"^[\w.-]+/[\w.-]+$")] = Field(
        description="owner/name of the repository.")
    branch: str = Field("main", description="Branch whose pushes start the pipelines.")
    promotion: tuple[str, ...] = Field(
        ("dev", "prod"), min_length=1,
        description="Environments in promotion order; a manual approval precedes each "
                    "one after the first.")
    build_image: str = Field("aws/codebuild/standard:7.0",
                             description="CodeBuild image (needs Python 3.11+).")


class Encryption(Strict):
    customer_managed_keys: bool = Field(
        False, description="Encrypt each service's tables, log groups and alarm topic with "
                           "a customer-managed KMS key of its stack (rotated yearly) instead "
                           "of AWS-owned keys. Alarm topics always use a customer-managed "
                           "key (CloudWatch must be allowed to use it).")


# Amazon Cognito user pools (see docs/auth.md). Password policy bounds: 6 to 99
# characters (Archway's floor is 8); temporary passwords valid 0 to 365 days.
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_PasswordPolicyType.html
# A prefix domain (<prefix>.auth.<region>.amazoncognito.com): lowercase letters, digits and
# hyphens, 1 to 63 characters, no hyphen first or last; AWS refuses prefixes holding
# "aws", "amazon" or "cognito".
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolDomain.html
# https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain-prefix.html
RESERVED_DOMAIN_WORDS = ("aws", "amazon", "cognito")


def _switch(value: object) -> object:
    """YAML 1.1 reads unquoted ``off``/``on`` as booleans: take them back as the words."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


MfaMode = Annotated[Literal["off", "optional", "on"], BeforeValidator(_switch)]
AdvancedSecurity = Annotated[Literal["off", "audit", "enforced"], BeforeValidator(_switch)]


class PasswordPolicy(Strict):
    min_length: int = Field(12, ge=8, le=99, description="Minimum password length.")
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True
    temporary_password_validity_days: int = Field(
        3, ge=1, le=365, description="Days an administrator-set temporary password is valid.")


class UserPool(Strict):
    """The environment's Cognito user pool (platform account, home region)."""

    mfa: MfaMode = Field("optional", description="Multi-factor authentication with an "
                         "authenticator app (TOTP): off, optional (users choose) or on.")
    password: PasswordPolicy = Field(default_factory=PasswordPolicy)
    advanced_security: AdvancedSecurity = Field(
        "off", description="Threat protection (formerly advanced security): audit or "
                           "enforced puts the pool on the Plus feature plan (billed per "
                           "active user). Per environment: config/environments/<env>.yaml "
                           "auth.advanced_security.")
    self_sign_up: bool = Field(True, description="Visitors may create their own account on "
                                                 "the sign-in page (else administrators only).")


class Auth(Strict):
    """Users sign in: one Cognito user pool per environment, behind the platform's domain."""

    domain_prefix: Annotated[str, StringConstraints(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,40}[a-z0-9])?$")] = Field(
        description="Prefix of the sign-in (managed login) domain: each environment gets "
                    "<domain_prefix>-<env>.auth.<home_region>.amazoncognito.com (globally "
                    "unique per region).")
    user_pool: UserPool = Field(default_factory=UserPool)

    @field_validator("domain_prefix")
    @classmethod
    def _reserved_words(cls, value: str) -> str:
        word = next((w for w in RESERVED_DOMAIN_WORDS if w in value), None)
        if word:
            raise ValueError(f"{value!r} holds {word!r}, which Cognito refuses in a prefix "
                             "domain")
        return value


class PlatformConfig(Strict):
    """config/platform.yaml"""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*$", max_length=12)] = Field(
        description="Prefix of every stack and resource name.")
    home_region: Region = Field(description="Region of the service stacks and the edge stack.")
    log_retention_days: int = Field(30, description="Default retention of Lambda/API logs.")
    edge: Edge = Field(default_factory=Edge)
    lambda_: Lambda = Field(default_factory=Lambda, alias="lambda")
    pipelines: Pipelines | None = Field(None, description="Omit to synthesize no pipelines.")
    encryption: Encryption = Field(default_factory=Encryption)
    auth: Auth | None = Field(None, description="Omit for no user pool (routes may not ask "
                                                "for auth: then).")
    operator_roles: tuple[Annotated[str, StringConstraints(
        pattern=r"^[A-Za-z0-9+=,.@_*/-]+$", max_length=512)], ...] = Field(
        (), description="Role names (with path; * wildcards) in the tooling account whose "
                        "sessions may assume the deploy and lookup roles besides the "
                        "pipelines, e.g. aws-reserved/sso.amazonaws.com/*/"
                        "AWSReservedSSO_ArchwayOperator_*.")

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int) -> int:
        return check_retention(value)

    @field_validator("home_region")
    @classmethod
    def _real_region(cls, value: str) -> str:
        regions = aws_regions()
        if value not in regions:
            close = sorted(get_close_matches(value, regions, n=3))
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(f"{value!r} is not a region of the aws partition{hint}")
        return value


@cache
def waf_country_codes() -> frozenset[str]:
    """The country codes a WAF geo match accepts, from cfn-lint's copy of the CloudFormation
    registry schema of AWS::WAFv2::WebACL (offline; loaded only when geo_block is set).
    https://docs.aws.amazon.com/waf/latest/APIReference/API_GeoMatchStatement.html
    """
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::WAFv2::WebACL")
    codes = schema.schema["definitions"]["GeoMatchStatement"]["properties"]["CountryCodes"]
    return frozenset(codes["items"]["enum"])


@cache
def aws_regions() -> tuple[str, ...]:
    """Regions of the commercial partition, from botocore's bundled endpoint data (offline).

    Only the aws partition: the edge needs CloudFront, whose WAF and certificate live in
    us-east-1 (shared/naming.py GLOBAL_REGION).
    """
    try:
        # partitions.json (7 KB) names each partition's regions and the pattern they follow
        # (which leaves out pseudo-regions such as aws-global); endpoints.json (1.2 MB, 40 ms
        # to parse) only where a botocore predates it.
        data = _botocore_data("partitions")
        aws = next(p for p in data["partitions"] if p["id"] == "aws")
        pattern = re.compile(aws["regionRegex"])
        return tuple(sorted(r for r in aws["regions"] if pattern.match(r)))
    except FileNotFoundError:
        data = _botocore_data("endpoints")
        return tuple(sorted(next(p for p in data["partitions"] if p["partition"] == "aws")
                            ["regions"]))


def _botocore_data(name: str) -> dict[str, Any]:
    """A file of botocore's bundled data, read without importing botocore (its import,
    with awscrt, costs more than reading the file: config loading is on every command's
    path). botocore ships it as ``<name>.json``, or gzipped in some releases."""
    spec = importlib.util.find_spec("botocore")
    assert spec is not None and spec.submodule_search_locations, "botocore is a dependency"
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    plain = folder / f"{name}.json"
    if plain.is_file():
        return json.loads(plain.read_bytes())
    import gzip

    return json.loads(gzip.decompress((folder / f"{name}.json.gz").read_bytes()))


# ---------------------------------------------------------- environments/<env>.yaml


class Domain(Strict):
    name: Annotated[str, StringConstraints(
        pattern=r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")] = Field(
        description="Public domain served by CloudFront.")
    hosted_zone_id: Annotated[str, StringConstraints(pattern=r"^Z[A-Z0-9]{4,31}$")] = Field(
        description="Route 53 hosted zone holding the domain (platform account).")

    @field_validator("name")
    @classmethod
    def _dns_lengths(cls, value: str) -> str:
        # DNS: labels of at most 63 characters, 253 in all (Route 53, ACM, CloudFront).
        # https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html
        long = next((label for label in value.split(".") if len(label) > 63), None)
        if long:
            raise ValueError(f"the label {long[:20]!r}... is {len(long)} characters (DNS allows "
                             "63 per label)")
        if len(value) > 253:
            raise ValueError(f"is {len(value)} characters (DNS allows 253)")
        return value


class EnvironmentAuth(Strict):
    """Per-environment overrides of platform.yaml auth.user_pool (each key given wins)."""

    mfa: MfaMode | None = None
    advanced_security: AdvancedSecurity | None = None


class EnvironmentConfig(Strict):
    """config/environments/<env>.yaml"""

    platform_account: AccountId = Field(description="Account of the edge stacks.")
    tooling_account: AccountId = Field(description="Account of the pipelines.")
    domain: Domain | None = Field(None, description="Omit to use the CloudFront domain.")
    deletion_protection: bool = Field(False, description="Table deletion protection.")
    termination_protection: bool = Field(False, description="Stack termination protection.")
    log_retention_days: int | None = Field(
        None, description="Overrides platform.yaml log_retention_days for this environment.")
    alarm_email: str | None = Field(None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    stage_name: Name = Field("live", description="API Gateway stage of every service.")
    auth: EnvironmentAuth | None = Field(
        None, description="Overrides of platform.yaml auth.user_pool for this environment "
                          "(needs platform.yaml auth).")

    @field_validator("log_retention_days")
    @classmethod
    def _check_retention(cls, value: int | None) -> int | None:
        return None if value is None else check_retention(value)


# ------------------------------------------------------------ services/<svc>/service.yaml


class Key(Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$")]
    type: Literal["S", "N", "B"] = "S"


class Index(Strict):
    partition_key: Key
    sort_key: Key | None = None
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"


class Table(Strict):
    partition_key: Key
    sort_key: Key | None = None
    indexes: dict[Name, Index] = Field(default_factory=dict,
                                       description="Global secondary indexes.")
    # AttributeName: 1 to 255 characters.
    # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TimeToLiveSpecification.html
    ttl_attribute: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    stream: Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"] | None = None


class Function(Strict):
    handler: Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][\w/.]*\.[A-Za-z_]\w*$")] = Field(
        description="module.function inside the service's src/ folder.")
    memory: int = Field(256, ge=128, le=10240, description="MB of memory.")
    # Lambda runs a function for at most 900 s; a routed function is held to API
    # Gateway's 29 s integration timeout (checks.py).
    # https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
    timeout: int = Field(10, ge=1, le=900,
                         description="Seconds (at most 29 for a function behind a route: "
                                     "API Gateway waits at most 29).")
    architecture: Literal["arm64", "x86_64"] = "arm64"
    reserved_concurrency: int | None = Field(None, ge=0, le=1000)
    provisioned_concurrency: int | None = Field(None, ge=1, le=1000)
    environment: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")],
                      str] = Field(default_factory=dict)
    reads: tuple[str, ...] = Field((), description="Tables this function reads.")
    writes: tuple[str, ...] = Field((), description="Tables this function writes.")

    @field_validator("environment")
    @classmethod
    def _no_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if key in LAMBDA_RESERVED_VARIABLES or key.startswith("AWS_"):
                raise ValueError(f"{key!r} is reserved: Lambda sets it")
            if key in ARCHWAY_VARIABLES or key.endswith("_TABLE"):
                raise ValueError(f"{key!r} is reserved: Archway sets it (and *_TABLE)")
            if key == POWERTOOLS_LOG_EVENT:
                raise ValueError(f"{key!r} would log every event whole, the caller's "
                                 "Authorization header (a token) included")
        return value


_PATH = re.compile(r"^(/([A-Za-z0-9._-]+|\{[A-Za-z_][A-Za-z0-9_]*\}))+$")


# An OAuth 2.0 scope: printable ASCII without spaces, quotes or backslashes; a custom
# scope of a resource server is <identifier>/<name>.
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ResourceServerScopeType.html
Scope = Annotated[str, StringConstraints(pattern=r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")]
# A Cognito group name: 1 to 128 characters of \p{L}\p{M}\p{S}\p{N}\p{P}.
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateGroup.html
GroupName = Annotated[str, StringConstraints(pattern=r"^[^\s,]{1,128}$")]


# OAuth scopes Cognito defines itself; any other scope is <resource server>/<name>.
# https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html
BUILTIN_SCOPES = ("openid", "email", "phone", "profile", "aws.cognito.signin.user.admin")


class RouteAuth(Strict):
    """Who may call a route: a signed-in user of the platform's pool, optionally with
    OAuth scopes (checked by API Gateway on the access token) or groups (checked by the
    handler: Cognito authorizers do not look at groups)."""

    user: Literal[True] = Field(description="A signed-in user of the platform's user pool.")
    scopes: tuple[Scope, ...] = Field(
        (), description="OAuth scopes the access token must carry (API Gateway checks; "
                        "the client then sends its access token, not its ID token).")
    groups: tuple[GroupName, ...] = Field(
        (), description="Cognito groups, one of which the user must be in (the handler "
                        "checks with current_user(event, groups=...)).")


class Route(Strict):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str = Field(description="/search or /api/<svc>/search; {name} for path parameters.")
    function: str
    cache_ttl: int = Field(0, ge=0, le=86400, description="Seconds the edge may cache (GET only).")
    auth: Literal["user"] | RouteAuth | None = Field(
        None, description="user: only signed-in users (a Cognito authorizer on the platform's "
                          "pool); or {user: true, scopes: [...], groups: [...]}. Omit for a "
                          "public route. Needs platform.yaml auth.")

    @property
    def route_auth(self) -> RouteAuth | None:
        """``auth`` in its one long form (``user`` is ``{user: true}``), or None."""
        if self.auth == "user":
            return RouteAuth(user=True)
        return self.auth if isinstance(self.auth, RouteAuth) else None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _PATH.match(value):
            # A conservative subset of API Gateway path parts: letters, digits, '.', '_', '-'
            # (dots as in /search.json are kept, as API Gateway keeps them), or one whole
            # {parameter} per part (no {proxy+}: Archway routes are explicit).
            # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-settings-method-request.html
            # https://docs.aws.amazon.com/apigateway/latest/api/API_CreateResource.html
            raise ValueError("must look like /segment/{param} (letters, digits, . _ - in a "
                             "segment; one whole {param} per segment)")
        return value


class Throttling(Strict):
    rate: float = Field(100, gt=0, le=10000, description="Steady requests per second.")
    burst: int = Field(200, ge=1, le=5000)


class ServiceConfig(Strict):
    """services/<svc>/service.yaml"""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*$", max_length=20)]
    owner: str = Field(description="Team that owns the service (its archway:owner tag).")
    runtime: Literal["python3.11", "python3.12", "python3.13"] = "python3.12"
    accounts: dict[str, AccountId] = Field(description="Account id per environment.")
    tables: dict[Name, Table] = Field(default_factory=dict)
    functions: dict[Name, Function]
    routes: tuple[Route, ...]
    throttling: Throttling = Field(default_factory=Throttling)

    @field_validator("owner")
    @classmethod
    def _tag_value(cls, value: str) -> str:
        bad = sorted({c for c in value if not (c.isalnum() or c in TAG_VALUE_SYMBOLS
                                               or unicodedata.category(c).startswith("Z"))})
        if bad:
            raise ValueError(f"becomes a tag value, which cannot hold {''.join(bad)!r} (letters, "
                             f"digits, spaces and {TAG_VALUE_SYMBOLS.strip()} only)")
        if value.lower().startswith("aws:"):
            raise ValueError("becomes a tag value, and the prefix 'aws:' is reserved for AWS")
        if len(value) > TAG_VALUE_MAX:
            raise ValueError(f"becomes a tag value: at most {TAG_VALUE_MAX} characters")
        return value

    @field_validator("routes")
    @classmethod
    def _some_routes(cls, value: tuple[Route, ...]) -> tuple[Route, ...]:
        if not value:
            # A deployment of a REST API without methods fails ("The REST API doesn't
            # contain any methods").
            # https://docs.aws.amazon.com/apigateway/latest/api/API_CreateDeployment.html
            raise ValueError("a service needs at least one route (API Gateway cannot deploy "
                             "an API without methods)")
        return value
