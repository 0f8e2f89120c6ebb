"""Load and validate config/ and services/*/service.yaml.

Every error names the file, the key path and the bad value:
``services/catalog/service.yaml: functions.search.memory: must be between 128 and 10240 (got 64)``.

Merge rule (Sceptre-style, one rule per key): an environment file's keys override the
platform file's key of the same name as a whole value (no deep merge); today that is
``log_retention_days``. Everything else is read from the one file that owns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import annotated_types
import yaml
from pydantic import BaseModel, ValidationError

from archway.shared.config.checks import cross_check
from archway.shared.config.models import EnvironmentConfig, PlatformConfig, ServiceConfig
from archway.shared.errors import ConfigError, ConfigErrors

PLATFORM_FILE = "config/platform.yaml"
ENVIRONMENTS_DIR = "config/environments"
SERVICES_GLOB = "services/*/service.yaml"
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    """Every config file of a repository, validated and cross-checked."""

    root: Path
    platform: PlatformConfig
    environments: dict[str, EnvironmentConfig]
    services: dict[str, ServiceConfig]
    service_files: dict[str, str] = field(default_factory=dict)

    def service_dir(self, name: str) -> Path:
        return self.root / Path(self.service_files[name]).parent


def load_config(root: Path | str = ".") -> Config:
    root = Path(root).resolve()
    if not (root / PLATFORM_FILE).is_file():
        raise ConfigError(PLATFORM_FILE, "", f"not found under {root} (run from the repo root "
                          "or pass --root)")
    platform = parse_file(root, PLATFORM_FILE, PlatformConfig)
    environments = {
        path.stem: parse_file(root, _rel(root, path), EnvironmentConfig)
        for path in sorted((root / ENVIRONMENTS_DIR).glob("*.yaml"))
    }
    if not environments:
        raise ConfigError(ENVIRONMENTS_DIR, "", "no environment files (<env>.yaml) found")
    services: dict[str, ServiceConfig] = {}
    files: dict[str, str] = {}
    for path in sorted(root.glob(SERVICES_GLOB)):
        rel = _rel(root, path)
        service = parse_file(root, rel, ServiceConfig)
        if service.name in services:
            raise ConfigError(rel, "name", f"service {service.name!r} is already claimed by "
                              f"{files[service.name]}")
        services[service.name] = service
        files[service.name] = rel
    config = Config(root, platform, environments, services, files)
    errors = cross_check(config)
    if errors:
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors)
    return config


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_yaml(root: Path, rel: str) -> Any:
    try:
        text = (root / rel).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(rel, "", f"cannot read ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "yaml"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(rel, where, f"invalid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(rel, "", f"must be a mapping of keys (got {type(data).__name__})")
    return data


def parse_file(root: Path, rel: str, model: type[M]) -> M:
    data = read_yaml(root, rel)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [ConfigError(rel, _loc(e["loc"]), _message(model, e)) for e in exc.errors()]
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors) from None


def _loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _message(model: type[BaseModel], error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known key (check the spelling; see `archway schema`)"
    bounds = _bounds(model, error["loc"])
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"} and bounds:
        low, high = bounds
        text = f"must be between {low} and {high}" if None not in bounds else error["msg"]
    elif kind == "literal_error":
        text = "must be " + error["msg"].removeprefix("Input should be ")
    elif kind == "string_pattern_mismatch":
        text = f"must match {error['ctx']['pattern']}"
    elif kind == "value_error":
        text = str(error["ctx"]["error"])
    else:
        text = error["msg"][0].lower() + error["msg"][1:]
    return f"{text} (got {value!r})"


def _bounds(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, Any] | None:
    """The (low, high) bounds of the field at loc, walking nested models and dicts."""
    current: Any = model
    info = None
    for item in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            fields = {f.alias or n: f for n, f in current.model_fields.items()}
            info = fields.get(str(item))
            if info is None:
                return None
            current = info.annotation
        else:
            args = getattr(current, "__args__", ())
            current = next((a for a in reversed(args) if isinstance(a, type)), None)
    if info is None:
        return None
    low = high = None
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge | annotated_types.Gt):
            low = getattr(meta, "ge", getattr(meta, "gt", None))
        if isinstance(meta, annotated_types.Le | annotated_types.Lt):
            high = getattr(meta, "le", getattr(meta, "lt", None))
    return low, high
