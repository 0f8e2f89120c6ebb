"""Names checked up front: every config name that becomes an AWS name or a logical id.

A name is checked as what it becomes, in every environment: a function ``reindex`` of
service ``catalog`` becomes the Lambda function and IAM role ``<platform>-<env>-catalog-
reindex`` (64 characters at most), its log group, its alarm and four logical ids. The
rules live in shared/naming.py with their AWS documentation pages.

Logical ids are compared after normalisation (``api-access`` and ``api_access`` and
``ApiAccess`` are one id), and a collision names both keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archway.shared import naming
from archway.shared.errors import ConfigError
from archway.shared.naming import NameRule, Names, logical_id, route_path

if TYPE_CHECKING:
    from archway.shared.config.loader import Config
    from archway.shared.config.models import ServiceConfig

ENV_NAME = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
RESERVED_ENVS = {
    "all": "`--env all` means every environment",
    "tooling": "it is the pipelines' pseudo-environment",
}
# CloudFormation: at most 500 resources in one template.
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
MAX_RESOURCES = 500
# Logical ids the service blueprint (services/blueprint.py) always creates, and what
# they are. A config name whose ids land on one of these would overwrite it.
FIXED_IDS = {
    "Api": "the REST API", "ApiAccessLogs": "the API's access log group", "Stage": "the stage",
    "OriginKey": "the origin API key", "OriginSecret": "the origin secret parameter",
    "EdgeUsagePlan": "the usage plan", "EdgeUsagePlanKey": "the usage plan key",
    "AlarmTopic": "the alarm topic", "AlarmTopicPolicy": "the alarm topic policy",
    "Api5xxAlarm": "the API 5XX alarm", "ApiLatencyAlarm": "the API latency alarm",
}
# The stack's KMS key: one customer-managed key for everything (platform.yaml
# encryption.customer_managed_keys), else a key for the alarm topic only.
KEY_IDS = {True: ("DataKey", "the stack's data key"),
           False: ("AlarmTopicKey", "the alarm topic's key")}
# A service with a route that asks for signed-in users gets the Cognito authorizer and the
# user pool's ARN parameter.
AUTH_IDS = {"UserAuthorizer": "the Cognito authorizer",
            "UserPoolArn": "the user pool ARN parameter"}


@dataclass(frozen=True)
class Generated:
    """One AWS name made from config: which file and key it comes from, and its rule."""

    file: str
    key: str
    name: str
    rule: NameRule


def check_names(config: Config) -> list[ConfigError]:
    """Generated names and logical ids (environment names are checked first, apart)."""
    errors = _generated(config)
    keys = config.platform.encryption.customer_managed_keys
    for name, service in config.services.items():
        errors += _logical_ids(config.service_files[name], service, keys)
    return errors


def environment_names(config: Config) -> list[ConfigError]:
    errors = []
    for env in sorted(config.environments):
        file = f"config/environments/{env}.yaml"
        if not ENV_NAME.fullmatch(env):
            errors.append(ConfigError(file, "", (
                f"environment name {_short(env)!r} (the file name) must be lowercase letters, "
                "digits and hyphens, starting with a letter: it becomes part of S3 bucket "
                "and stack names")))
        elif env in RESERVED_ENVS:
            errors.append(ConfigError(file, "", (
                f"environment name {env!r} is reserved: {RESERVED_ENVS[env]}")))
        else:
            errors += _problems(_edge_names(config, env), prefix=f"environment name {env!r}: ")
    return errors


def _edge_names(config: Config, env: str) -> list[Generated]:
    """Names of the edge stacks, made from the platform name and the environment name."""
    names = Names(config.platform.name, env)
    account = config.environments[env].platform_account
    region = config.platform.home_region
    file = f"config/environments/{env}.yaml"
    made = [
        # platform/edge.py: the SPA bucket and the CloudFront log bucket.
        Generated(file, "", f"{names.prefix}-site-{account}-{region}", naming.S3_BUCKET),
        Generated(file, "", f"{names.prefix}-edge-logs-{account}-{region}", naming.S3_BUCKET),
        Generated(file, "", f"{names.prefix}-security-headers", naming.CLOUDFRONT_FUNCTION),
        Generated(file, "", f"{names.prefix}-spa-fallback", naming.CLOUDFRONT_FUNCTION),
        Generated(file, "", names.route_store, naming.KEY_VALUE_STORE),
        Generated(file, "", names.route_registrar_role, naming.IAM_ROLE),
        # platform/edge_global.py: the web ACL and its IP sets.
        Generated(file, "", f"{names.prefix}-ip-allow", naming.WAF_NAME),
        Generated(file, "", names.edge_global_stack, naming.STACK),
    ]
    return made


def _service_names(config: Config, env: str, service: ServiceConfig) -> list[Generated]:
    names = Names(config.platform.name, env)
    file = config.service_files[service.name]
    api = names.api(service.name)
    made = [
        Generated(file, "name", names.service_stack(service.name), naming.STACK),
        Generated(file, "name", f"{api}-alarms", naming.SNS_TOPIC),
        Generated(file, "name", f"/aws/apigateway/{api}", naming.LOG_GROUP),
        Generated(file, "name", f"{api}-api-latency", naming.ALARM),
    ]
    for fname in service.functions:
        key, physical = f"functions.{fname}", names.function(service.name, fname)
        made += [Generated(file, key, physical, naming.LAMBDA_AND_ROLE),
                 Generated(file, key, f"/aws/lambda/{physical}", naming.LOG_GROUP),
                 Generated(file, key, f"{api}-{fname}-errors", naming.ALARM)]
    for tname in service.tables:
        key = f"tables.{tname}"
        made += [Generated(file, key, names.table(service.name, tname), naming.DYNAMODB_TABLE),
                 Generated(file, key, f"{api}-{tname}-throttles", naming.ALARM)]
    return made


def _generated(config: Config) -> list[ConfigError]:
    made: list[Generated] = []
    # Longest environment first: the one error per key shows the longest name.
    for env in sorted(config.environments, key=lambda e: (-len(e), e)):
        for service in config.services.values():
            made += _service_names(config, env, service)
    return _problems(made)


def _problems(made: list[Generated], prefix: str = "") -> list[ConfigError]:
    errors: list[ConfigError] = []
    blamed: set[tuple[str, str]] = set()
    for item in made:
        problem = item.rule.problem(item.name)
        if problem and (item.file, item.key) not in blamed:
            blamed.add((item.file, item.key))
            errors.append(ConfigError(item.file, item.key, prefix + problem))
    return errors


# ------------------------------------------------------------------------ logical ids


def service_logical_ids(service: ServiceConfig,
                        customer_managed_keys: bool = False) -> list[tuple[str, str]]:
    """(logical id, config key it comes from) for every id of a service's stack.

    Mirrors services/blueprint.py and shared/blueprint/alarms.py (a test compares this
    list with the ids of the rendered template, so the two cannot drift apart).
    """
    ids = [(lid, "") for lid in (*FIXED_IDS, KEY_IDS[customer_managed_keys][0])]
    if any(route.auth for route in service.routes):
        ids += [(lid, "") for lid in AUTH_IDS]
    for tname in service.tables:
        ids += [(logical_id(tname, "table"), f"tables.{tname}"),
                (logical_id(f"{tname}-throttles", "alarm"), f"tables.{tname}")]
    for fname, function in service.functions.items():
        key = f"functions.{fname}"
        ids += [(logical_id(fname, suffix), key) for suffix in ("logs", "role", "function")]
        ids.append((logical_id(f"{fname}-errors", "alarm"), key))
        if function.provisioned_concurrency:
            ids.append((logical_id(fname, "alias"), key))
    made: set[tuple[str, ...]] = set()
    for index, route in enumerate(service.routes):
        key = f"routes[{index}].path"
        path = route_path(service.name, route.path) or route.path
        segments = tuple(part for part in path.split("/") if part)
        for depth in range(1, len(segments) + 1):
            if segments[:depth] not in made:
                made.add(segments[:depth])
                ids.append(("Resource" + path_id(segments[:depth]), key))
        ids += [(f"{verb}{route.method.title()}{path_id(segments)}", key)
                for verb in ("Method", "Invoke")]
    return ids


def path_id(segments: tuple[str, ...]) -> str:
    """As services/blueprint.py names API resources: {id} -> IdParam, a-b -> AB."""
    return "".join(logical_id(s[1:-1], "param") if s.startswith("{") else logical_id(s)
                   for s in segments)


def _logical_ids(file: str, service: ServiceConfig, keys: bool) -> list[ConfigError]:
    errors: list[ConfigError] = []
    owners: dict[str, str] = {}
    ids = service_logical_ids(service, keys)
    blamed: set[str] = set()
    for lid, key in ids:
        first = owners.setdefault(lid, key)
        if first == key or key in blamed:
            continue
        blamed.add(key)  # one line per key: its route's method and permission clash too
        errors.append(ConfigError(file, key, (
            f"{_value(service, key)} becomes CloudFormation logical id {lid!r}, which "
            f"{_owner(service, first, lid)} already has (ids keep only letters and digits); "
            "rename one of them")))
    # Every id is a resource except the OriginSecret and UserPoolArn parameters; add the
    # deployment and one version per provisioned function.
    provisioned = sum(1 for f in service.functions.values() if f.provisioned_concurrency)
    count = len({lid for lid, _ in ids} - {"UserPoolArn"}) + provisioned
    if count > MAX_RESOURCES:
        errors.append(ConfigError(file, "", (
            f"the service stack would have about {count} resources (CloudFormation allows "
            f"{MAX_RESOURCES} per template); split the service")))
    return errors


def _value(service: ServiceConfig, key: str) -> str:
    """The bad value itself: a route's path, or the table/function name."""
    if key.startswith("routes["):
        return repr(service.routes[int(key[len("routes["):key.index("]")])].path)
    return repr(key.split(".", 1)[1])


def _owner(service: ServiceConfig, key: str, lid: str) -> str:
    fixed = {**FIXED_IDS, **dict(KEY_IDS.values()), **AUTH_IDS}
    return fixed[lid] if not key else f"{key} {_value(service, key)}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
