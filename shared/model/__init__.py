"""The resolved platform for one environment: what every blueprint reads.

Config says what teams want; the model says what exists in an environment, with every
physical name, account and region decided. Blueprints are pure functions of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from archway.shared.config import Config
from archway.shared.config.models import (
    BUILTIN_SCOPES,
    Domain,
    EnvironmentConfig,
    Function,
    PasswordPolicy,
    PlatformConfig,
    Route,
    Table,
    Throttling,
)
from archway.shared.errors import ConfigError
from archway.shared.naming import GLOBAL_REGION, Names, logical_id, route_path


@dataclass(frozen=True)
class TableModel:
    name: str
    physical: str
    config: Table

    @property
    def env_var(self) -> str:
        return f"{self.name.replace('-', '_').upper()}_TABLE"


@dataclass(frozen=True)
class FunctionModel:
    name: str
    physical: str
    config: Function
    reads: tuple[TableModel, ...]
    writes: tuple[TableModel, ...]
    environment: dict[str, str]

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.physical}"


@dataclass(frozen=True)
class RouteAuthModel:
    """A route only signed-in users may call (``auth:`` in service.yaml).

    ``scopes``: OAuth scopes API Gateway requires in the access token (empty: the ID token
    is expected). ``groups``: Cognito groups the handler requires (one of them); API
    Gateway's Cognito authorizer does not check groups.
    """

    scopes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteModel:
    method: str
    path: str  # the public path, /api/<svc>/...
    function: str
    cache_ttl: int
    auth: RouteAuthModel | None = None  # None: public (the origin secret only)

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.path.split("/") if part)


@dataclass(frozen=True)
class ServiceModel:
    name: str
    owner: str
    account: str
    region: str
    runtime: str
    stack_name: str
    api_name: str
    stage: str
    source_dir: Path
    tables: dict[str, TableModel]
    functions: dict[str, FunctionModel]
    routes: tuple[RouteModel, ...]
    throttling: Throttling
    log_retention_days: int
    deletion_protection: bool
    alarm_email: str | None

    @property
    def logical(self) -> str:
        return logical_id(self.name)

    @property
    def path_pattern(self) -> str:
        return f"/api/{self.name}/*"


SPA_SCOPES = ("openid", "email", "profile")  # what the SPA's client asks for by default


@dataclass(frozen=True)
class AuthModel:
    """The environment's Cognito user pool: stack ``auth`` in the platform account and
    home region, its managed login domain and the SPA's public app client."""

    stack_name: str
    account: str
    region: str
    user_pool_name: str
    client_name: str
    domain_prefix: str  # <platform.yaml auth.domain_prefix>-<env>
    mfa: str  # off | optional | on
    advanced_security: str  # off | audit | enforced
    password: PasswordPolicy
    self_sign_up: bool
    deletion_protection: bool
    resource_scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # resource server identifier -> scope names, from every route's custom scopes

    stack_id = "auth"

    @property
    def hosted_domain(self) -> str:
        """The managed login (hosted UI) domain of the pool."""
        return f"{self.domain_prefix}.auth.{self.region}.amazoncognito.com"

    @property
    def client_scopes(self) -> tuple[str, ...]:
        """Every scope the SPA's client may ask for: the OIDC ones and the custom ones."""
        custom = [f"{server}/{name}" for server, names in sorted(self.resource_scopes.items())
                  for name in names]
        return (*SPA_SCOPES, *custom)


@dataclass(frozen=True)
class Platform:
    """One environment of the platform, fully resolved."""

    name: str
    env: str
    names: Names
    home_region: str
    account: str
    tooling_account: str
    domain: Domain | None
    settings: PlatformConfig
    environment: EnvironmentConfig
    root: Path
    services: tuple[ServiceModel, ...] = field(default=())
    auth: AuthModel | None = None  # None: platform.yaml has no auth (no user pool)
    # What it was resolved from: the other environments (whose stacks may share its
    # accounts) without reading the files again.
    config: Config | None = field(default=None, repr=False, compare=False)

    global_region = GLOBAL_REGION

    def service(self, name: str) -> ServiceModel:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services)
        raise ConfigError("services/", name, f"unknown service (known: {known})")

    @property
    def site_dir(self) -> Path:
        return self.root / "platform" / "site"


def resolve(config: Config, env: str) -> Platform:
    """Resolve the platform for ``env``; unknown env is a config error naming the file."""
    if env not in config.environments:
        known = ", ".join(sorted(config.environments))
        raise ConfigError(f"config/environments/{env}.yaml", "", (
            f"unknown environment {env!r} (known: {known})"))
    environment = config.environments[env]
    names = Names(config.platform.name, env)
    retention = environment.log_retention_days or config.platform.log_retention_days
    services = tuple(
        _service(config, names, env, name, retention) for name in sorted(config.services)
    )
    return Platform(
        name=config.platform.name,
        env=env,
        names=names,
        home_region=config.platform.home_region,
        account=environment.platform_account,
        tooling_account=environment.tooling_account,
        domain=environment.domain,
        settings=config.platform,
        environment=environment,
        root=config.root,
        services=services,
        auth=_auth(config, names, env, services),
        config=config,
    )


def _auth(config: Config, names: Names, env: str,
          services: tuple[ServiceModel, ...]) -> AuthModel | None:
    auth = config.platform.auth
    if auth is None:
        return None
    environment = config.environments[env]
    overrides = environment.auth
    pool = auth.user_pool
    scopes: dict[str, set[str]] = {}
    for route in (r for s in services for r in s.routes if r.auth):
        for scope in route.auth.scopes if route.auth else ():
            if scope not in BUILTIN_SCOPES:
                server, _, name = scope.rpartition("/")
                scopes.setdefault(server, set()).add(name)
    return AuthModel(
        stack_name=names.auth_stack,
        account=environment.platform_account,
        region=config.platform.home_region,
        user_pool_name=names.user_pool,
        client_name=names.user_pool_client,
        domain_prefix=f"{auth.domain_prefix}-{env}",
        mfa=(overrides and overrides.mfa) or pool.mfa,
        advanced_security=(overrides and overrides.advanced_security) or pool.advanced_security,
        password=pool.password,
        self_sign_up=pool.self_sign_up,
        deletion_protection=environment.deletion_protection,
        resource_scopes={k: tuple(sorted(v)) for k, v in sorted(scopes.items())},
    )


def _service(config: Config, names: Names, env: str, name: str, retention: int) -> ServiceModel:
    cfg = config.services[name]
    environment = config.environments[env]
    tables = {
        t: TableModel(t, names.table(name, t), table) for t, table in cfg.tables.items()
    }
    routes = tuple(
        RouteModel(r.method, route_path(name, r.path) or r.path, r.function, r.cache_ttl,
                   _route_auth(r))
        for r in cfg.routes
    )
    functions = {
        f: _function(names, name, env, f, fn, tables, [r for r in routes if r.function == f])
        for f, fn in cfg.functions.items()
    }
    for function in functions.values():
        _check_environment_size(config.service_files[name], env, function)
    return ServiceModel(
        name=name,
        owner=cfg.owner,
        account=cfg.accounts[env],
        region=config.platform.home_region,
        runtime=cfg.runtime,
        stack_name=names.service_stack(name),
        api_name=names.api(name),
        stage=environment.stage_name,
        source_dir=config.service_dir(name) / "src",
        tables=tables,
        functions=functions,
        routes=routes,
        throttling=cfg.throttling,
        log_retention_days=retention,
        deletion_protection=environment.deletion_protection,
        alarm_email=environment.alarm_email,
    )


def _route_auth(route: Route) -> RouteAuthModel | None:
    auth = route.route_auth
    if auth is None:
        return None
    return RouteAuthModel(tuple(auth.scopes), tuple(auth.groups))


# Lambda: the keys and values of all environment variables together, at most 4 KB.
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
MAX_ENVIRONMENT_BYTES = 4096


def _check_environment_size(file: str, env: str, function: FunctionModel) -> None:
    size = sum(len(k.encode()) + len(v.encode()) for k, v in function.environment.items())
    if size > MAX_ENVIRONMENT_BYTES:
        own = sum(len(k.encode()) + len(v.encode())
                  for k, v in function.config.environment.items())
        raise ConfigError(file, f"functions.{function.name}.environment", (
            f"variables total {size} bytes in {env} ({own} of them yours, the rest table "
            f"names and settings Archway adds); Lambda allows {MAX_ENVIRONMENT_BYTES}"))


def _function(
    names: Names, service: str, env: str, name: str, fn: Function,
    tables: dict[str, TableModel], routes: list[RouteModel],
) -> FunctionModel:
    reads = tuple(tables[t] for t in fn.reads)
    writes = tuple(tables[t] for t in fn.writes)
    environment = {
        "POWERTOOLS_SERVICE_NAME": service,
        "ARCHWAY_ENV": env,
        **{t.env_var: t.physical for t in (*reads, *writes)},
        **fn.environment,
    }
    cache_ttls = {f"{r.method} {r.path}": r.cache_ttl for r in routes if r.cache_ttl}
    if cache_ttls:
        # The API sends Cache-Control for routes that declare an edge cache TTL.
        environment["ARCHWAY_CACHE_TTLS"] = json.dumps(cache_ttls, sort_keys=True)
    return FunctionModel(name, names.function(service, name), fn, reads, writes,
                         dict(sorted(environment.items())))
