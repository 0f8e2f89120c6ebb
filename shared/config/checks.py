"""Cross-field checks: what one file alone cannot tell (each error names file and key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archway.shared.config.names import check_names, environment_names
from archway.shared.config.semantics import check_service
from archway.shared.errors import ConfigError
from archway.shared.naming import route_path
from archway.shared.routes import MAX_STORE_BYTES, MAX_VALUE_BYTES, SERVICE_KEY, entry_bytes_bound

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
    if not errors:  # names are checked once the keys they come from are known to be sound
        errors += check_names(config)
    errors += _route_store(config)
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
