"""Cross-field checks: what one file alone cannot tell (each error names file and key)."""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from archway.shared.config.models import BUILTIN_SCOPES
from archway.shared.config.names import check_names, environment_names
from archway.shared.config.semantics import check_service
from archway.shared.errors import ConfigError
from archway.shared.naming import route_path
from archway.shared.routes import MAX_STORE_BYTES, MAX_VALUE_BYTES, SERVICE_KEY, entry_bytes_bound

PLATFORM_FILE = "config/platform.yaml"

if TYPE_CHECKING:
    from archway.shared.config.loader import Config
    from archway.shared.config.models import ServiceConfig



def cross_check(config: Config) -> list[ConfigError]:
    errors = environment_names(config)
    if errors:
        return errors  # every other check would repeat the environment's mistake
    for name, service in config.services.items():
        file = config.service_files[name]
        errors += _folder_name(file, service)
        errors += _functions(file, service)
        errors += _routes(file, service)
        errors += check_service(file, service, config.service_dir(name))
        for env in config.environments:
            if env not in service.accounts:
                errors.append(ConfigError(file, f"accounts.{env}", f"missing account for "
                              f"environment {env!r} (config/environments/{env}.yaml)"))
        errors += _unknown_accounts(file, service, config)
    errors += _auth(config)
    if not errors:  # names are checked once the keys they come from are known to be sound
        errors += check_names(config)
    errors += _route_store(config)
    return errors


# A Cognito prefix domain is at most 63 characters.
# https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolDomain.html
MAX_DOMAIN_PREFIX = 63


def _auth(config: Config) -> list[ConfigError]:
    """``auth:`` on a route or in an environment needs platform.yaml's ``auth`` (the user
    pool); a scope is a Cognito one or ``<resource server>/<name>``; the per-environment
    sign-in domain fits Cognito's 63 characters."""
    errors = []
    auth = config.platform.auth
    for name, service in sorted(config.services.items()):
        file = config.service_files[name]
        for index, route in enumerate(service.routes):
            route_auth = route.route_auth
            if route_auth is None:
                continue
            if auth is None:
                shown = repr(route.auth) if isinstance(route.auth, str) else "a mapping"
                errors.append(ConfigError(file, f"routes[{index}].auth", (
                    f"{route.method} {route.path} asks for signed-in users, but "
                    f"{PLATFORM_FILE} has no auth: section (no user pool) (got {shown})")))
                continue
            for at, scope in enumerate(route_auth.scopes):
                server, _, scope_name = scope.rpartition("/")
                if scope not in BUILTIN_SCOPES and not (server and scope_name):
                    errors.append(ConfigError(file, f"routes[{index}].auth.scopes[{at}]", (
                        f"must be a Cognito scope ({', '.join(BUILTIN_SCOPES)}) or "
                        f"<resource server>/<scope> (got {scope!r})")))
    for env, environment in sorted(config.environments.items()):
        if environment.auth is not None and auth is None:
            errors.append(ConfigError(f"config/environments/{env}.yaml", "auth", (
                "overrides a user pool config/platform.yaml does not declare (add auth: "
                "there, or remove this key)")))
        if auth is not None and len(f"{auth.domain_prefix}-{env}") > MAX_DOMAIN_PREFIX:
            errors.append(ConfigError(PLATFORM_FILE, "auth.domain_prefix", (
                f"the {env} sign-in domain prefix {auth.domain_prefix}-{env!r} would be "
                f"{len(auth.domain_prefix) + len(env) + 1} characters (Cognito allows "
                f"{MAX_DOMAIN_PREFIX})")))
    return errors


def _route_store(config: Config) -> list[ConfigError]:
    """Every service's route fits the edge's KeyValueStore (see archway.shared.routes)."""
    errors: list[ConfigError] = []
    for env_name, env in config.environments.items():
        total = 0
        for name in sorted(config.services):
            file = config.service_files[name]
            if not SERVICE_KEY.match(name):
                errors.append(ConfigError(file, "name", "must be a lowercase route key: a "
                                          f"letter, then letters, digits or '-' (got {name!r})"))
                continue
            size = entry_bytes_bound(name, config.platform.home_region, env.stage_name)
            if size > MAX_VALUE_BYTES:
                errors.append(ConfigError(file, "name", f"route entry would take {size} bytes, "
                                          f"over the store's {MAX_VALUE_BYTES} (got {name!r})"))
            total += size
        if total > MAX_STORE_BYTES:
            errors.append(ConfigError(f"config/environments/{env_name}.yaml", "services", (
                f"{len(config.services)} routes take {total} bytes, over the edge "
                f"KeyValueStore's {MAX_STORE_BYTES}")))
    return errors


def _unknown_accounts(file: str, service: ServiceConfig, config: Config) -> list[ConfigError]:
    """An account for an environment that has no file is a typo (``prd``) or a leftover."""
    errors = []
    known = sorted(config.environments)
    for env in service.accounts:
        if env not in config.environments:
            close = difflib.get_close_matches(env, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.append(ConfigError(file, f"accounts.{env}", (
                f"no environment {env!r} (no config/environments/{env}.yaml); {hint}"
                f"environments: {', '.join(known)}")))
    return errors


def _folder_name(file: str, service: ServiceConfig) -> list[ConfigError]:
    folder = file.split("/")[1]
    if folder != service.name:
        return [ConfigError(file, "name", f"must match its folder {folder!r} "
                            f"(got {service.name!r})")]
    return []


def _functions(file: str, service: ServiceConfig) -> list[ConfigError]:
    errors = []
    for fname, function in service.functions.items():
        for kind in ("reads", "writes"):
            for index, table in enumerate(getattr(function, kind)):
                if table not in service.tables:
                    errors.append(ConfigError(file, f"functions.{fname}.{kind}[{index}]", (
                        f"unknown table {table!r} (tables: {', '.join(service.tables) or 'none'})"
                    )))
        reserved, provisioned = function.reserved_concurrency, function.provisioned_concurrency
        if reserved is not None and provisioned is not None and provisioned > reserved:
            errors.append(ConfigError(file, f"functions.{fname}.provisioned_concurrency", (
                f"must not exceed reserved_concurrency {reserved} (got {provisioned})")))
    return errors


def _routes(file: str, service: ServiceConfig) -> list[ConfigError]:
    errors = []
    seen: dict[tuple[str, str], int] = {}
    for index, route in enumerate(service.routes):
        where = f"routes[{index}]"
        path = route_path(service.name, route.path)
        if path is None:
            errors.append(ConfigError(file, f"{where}.path", (
                f"must be under /api/{service.name}/ (got {route.path!r})")))
            continue
        key = (route.method, _shape(path))
        if key in seen:
            errors.append(ConfigError(file, where, (
                f"duplicate route {route.method} {path} (same as routes[{seen[key]}])")))
        seen.setdefault(key, index)
        if route.function not in service.functions:
            errors.append(ConfigError(file, f"{where}.function", (
                f"unknown function {route.function!r} "
                f"(functions: {', '.join(service.functions)})")))
        if route.cache_ttl and route.method != "GET":
            errors.append(ConfigError(file, f"{where}.cache_ttl", (
                f"only GET routes can be cached (got {route.method} with {route.cache_ttl})")))
    return errors


def _shape(path: str) -> str:
    """/a/{id}/b and /a/{key}/b are the same API Gateway resource shape."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))
