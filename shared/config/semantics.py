"""What AWS (or Lambda at run time) would reject later, rejected while reading config.

Each check returns errors naming the file, the key and the bad value; none imports or
runs service code (handlers are parsed with ``ast``).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import TYPE_CHECKING

from archway.shared.errors import ConfigError
from archway.shared.naming import route_path

if TYPE_CHECKING:
    from archway.shared.config.models import Key, ServiceConfig

# API Gateway gives up on an integration after 29 seconds (services/blueprint.py sets
# TimeoutInMillis=29000), so a routed function that runs longer only burns money.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
API_INTEGRATION_TIMEOUT = 29
# Global secondary indexes per table (default quota).
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html
MAX_GSIS = 20


def check_service(file: str, service: ServiceConfig, service_dir: Path) -> list[ConfigError]:
    return [
        *path_parameters(file, service),
        *key_types(file, service),
        *handlers(file, service, service_dir),
        *timeouts(file, service),
    ]


# ------------------------------------------------------------------------ API paths


def path_parameters(file: str, service: ServiceConfig) -> list[ConfigError]:
    """One path parameter name per level, and no name twice in one path.

    API Gateway refuses a second variable child of one resource ("A sibling ({id}) of this
    resource already has a variable path part -- only one is allowed"), by design:
    https://github.com/amazon-archives/aws-apigateway-importer/issues/202
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-settings-method-request.html
    """
    errors = []
    seen: dict[tuple[str, ...], tuple[str, int]] = {}  # parent path -> (param, route index)
    for index, route in enumerate(service.routes):
        path = route_path(service.name, route.path)
        if path is None:
            continue  # reported by checks.py
        segments = tuple(part for part in path.split("/") if part)
        params = [s for s in segments if s.startswith("{")]
        where = f"routes[{index}].path"
        repeated = next((p for p in params if params.count(p) > 1), None)
        if repeated:
            errors.append(ConfigError(file, where, (
                f"path parameter {repeated} appears twice in {route.path!r}; rename one")))
            continue
        for depth, segment in enumerate(segments):
            if not segment.startswith("{"):
                continue
            parent = segments[:depth]
            other, first = seen.setdefault(parent, (segment, index))
            if other != segment:
                errors.append(ConfigError(file, where, (
                    f"{segment} in {route.path!r} sits beside {other} of routes[{first}] under "
                    f"/{'/'.join(parent)}; API Gateway allows one parameter name per level "
                    f"(use {other})")))
                break
    return errors


# ------------------------------------------------------------------------- tables


def key_types(file: str, service: ServiceConfig) -> list[ConfigError]:
    """An attribute has one type in a table: its key schema and every index must agree.

    AttributeDefinitions holds one AttributeType per AttributeName.
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_AttributeDefinition.html
    """
    errors = []
    for tname, table in service.tables.items():
        keys: list[tuple[str, Key | None]] = [
            (f"tables.{tname}.partition_key", table.partition_key),
            (f"tables.{tname}.sort_key", table.sort_key)]
        for iname, index in table.indexes.items():
            keys += [(f"tables.{tname}.indexes.{iname}.partition_key", index.partition_key),
                     (f"tables.{tname}.indexes.{iname}.sort_key", index.sort_key)]
        errors += _one_type_per_attribute(file, keys)
        if table.sort_key and table.sort_key.name == table.partition_key.name:
            errors.append(ConfigError(file, f"tables.{tname}.sort_key.name", (
                f"{table.sort_key.name!r} is already the partition key; a key schema names "
                "two different attributes")))
        if len(table.indexes) > MAX_GSIS:
            errors.append(ConfigError(file, f"tables.{tname}.indexes", (
                f"{len(table.indexes)} global secondary indexes (DynamoDB allows {MAX_GSIS})")))
    return errors


def _one_type_per_attribute(file: str, keys: list[tuple[str, Key | None]]) -> list[ConfigError]:
    errors = []
    first: dict[str, tuple[str, str]] = {}
    for where, key in keys:
        if key is None:
            continue
        kind, origin = first.setdefault(key.name, (key.type, where))
        if kind != key.type:
            errors.append(ConfigError(file, f"{where}.type", (
                f"attribute {key.name!r} is {key.type!r} here but {kind!r} at {origin}; "
                "DynamoDB keeps one type per attribute (rename the index key or match the "
                "type)")))
    return errors


# ------------------------------------------------------------------------ handlers


def handlers(file: str, service: ServiceConfig, service_dir: Path) -> list[ConfigError]:
    errors = []
    src = service_dir / "src"
    label = f"services/{service_dir.name}/src"
    for fname, function in service.functions.items():
        problem = handler_problem(src, function.handler, label)
        if problem:
            errors.append(ConfigError(file, f"functions.{fname}.handler", (
                f"{problem} (got {function.handler!r})")))
    return errors


def handler_problem(src: Path, handler: str, label: str = "src") -> str | None:
    """Why ``module.function`` is not a function of a module inside ``src``, or None.

    Python handlers are ``module.function``; the module may sit in a package
    (``pkg.module`` or ``pkg/module``).
    https://docs.aws.amazon.com/lambda/latest/dg/python-handler.html
    """
    def show(path: Path) -> str:
        return f"{label}/{path.relative_to(src).as_posix()}"

    module, _, name = handler.rpartition(".")
    if name == "py":
        return "is a file name: write module.function (e.g. search.handler)"
    parts = module.replace("/", ".").split(".")
    if any(part in {"", ".."} for part in parts):
        return "the module must be a path inside src/ (no '..', no empty parts)"
    base = src.joinpath(*parts)
    candidates = [base.with_suffix(".py"), base / "__init__.py"]
    found = next((path for path in candidates if path.is_file()), None)
    if found is None:
        return f"no module {'/'.join(parts)}.py in {label}/"
    if not found.resolve().is_relative_to(src.resolve()):
        return f"{show(found)} resolves outside {label}/"
    try:
        tree = ast.parse(found.read_bytes(), filename=str(found))
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        reason = getattr(exc, "msg", None) or str(exc)
        return f"{show(found)} does not parse{f' (line {line})' if line else ''}: {reason}"
    if name not in _top_level_names(tree):
        functions = sorted(n.name for n in tree.body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
        listed = ", ".join(functions[:6]) + (", ..." if len(functions) > 6 else "")
        return (f"{show(found)} defines no {name!r} at top level (its functions: "
                f"{listed or 'none'})")
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


# ------------------------------------------------------------------------ timeouts


def timeouts(file: str, service: ServiceConfig) -> list[ConfigError]:
    routed = {route.function for route in service.routes}
    errors = []
    for fname, function in service.functions.items():
        if fname in routed and function.timeout > API_INTEGRATION_TIMEOUT:
            errors.append(ConfigError(file, f"functions.{fname}.timeout", (
                f"a function behind a route can use at most {API_INTEGRATION_TIMEOUT} s: "
                f"API Gateway stops waiting then (got {function.timeout})")))
    return errors
