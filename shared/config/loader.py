"""Load and validate config/ and services/*/service.yaml.

Every error names the file, the key path and the bad value:
``services/catalog/service.yaml: functions.search.memory: must be between 128 and 10240 (got 64)``.

Merge rule (Sceptre-style, one rule per key): an environment file's keys override the
platform file's key of the same name as a whole value (no deep merge); today that is
``log_retention_days``. Everything else is read from the one file that owns it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import Any, TypeVar, Union, get_origin

import annotated_types
from pydantic import BaseModel, ValidationError

from archway.shared.config import yaml_safe
from archway.shared.config.checks import cross_check
from archway.shared.config.models import EnvironmentConfig, PlatformConfig, ServiceConfig
from archway.shared.config.yaml_safe import Document, Scalar
from archway.shared.errors import ConfigError, ConfigErrors

PLATFORM_FILE = "config/platform.yaml"
ENVIRONMENTS_DIR = "config/environments"
SERVICES_GLOB = "services/*/service.yaml"
M = TypeVar("M", bound=BaseModel)
# What pydantic's type errors mean, in the words of a YAML file.
TYPES = {
    "dict_type": "must be a mapping (key: value lines)",
    "model_type": "must be a mapping (key: value lines)",
    "model_attributes_type": "must be a mapping (key: value lines)",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
}
# What the common patterns mean, in words.
PATTERNS = {
    r"^[a-z][a-z0-9-]*[a-z0-9]$": "lowercase letters, digits and hyphens, starting with a "
                                  "letter",
    r"^[a-z][a-z0-9]*$": "lowercase letters and digits, starting with a letter",
    r"^\d{12}$": "a 12-digit AWS account id, in quotes",
    r"^[A-Z]{2}$": "a two-letter ISO 3166 country code in capitals",
    r"^[A-Za-z_][A-Za-z0-9_]*$": "letters, digits and underscores, not starting with a digit",
    r"^[a-z]{2}(-gov)?-[a-z]+-\d$": "a region name such as eu-west-1",
    r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$": "a lowercase domain name such as "
                                                    "shop.example.com",
    r"^[^@\s]+@[^@\s]+\.[^@\s]+$": "an email address",
    r"^Z[A-Z0-9]{4,31}$": "a Route 53 hosted zone id (Z followed by capitals and digits)",
    r"^[A-Za-z_][\w/.]*\.[A-Za-z_]\w*$": "module.function, e.g. search.handler",
}


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
    _wrong_extensions(root)
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


def _wrong_extensions(root: Path) -> None:
    """Refuse the files Archway would silently skip for their spelling (``service.yml``,
    ``prod.YAML``, ``Service.yaml``). Names are compared as listed, not through the file
    system, which may ignore case."""
    folders = [(root / "config", {"platform.yaml"}), (root / ENVIRONMENTS_DIR, None)]
    folders += [(path, {"service.yaml"}) for path in sorted((root / "services").glob("*"))
                if path.is_dir()]
    for folder, wanted in folders:
        for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or suffix.lower() not in {"yml", "yaml"}:
                continue
            # an environment's name is its file's stem, whatever its case (checked later)
            right = f"{stem}.yaml" if wanted is None else f"{stem.lower()}.yaml"
            if wanted is not None and right not in wanted or entry.name == right:
                continue
            raise ConfigError(_rel(root, entry), "", f"is not read: Archway reads {right!r} "
                              "(rename the file; .yml and other spellings are ignored)")


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def read_yaml(root: Path, rel: str) -> Document:
    try:
        raw = (root / rel).read_bytes()
    except OSError as exc:
        raise ConfigError(rel, "", f"cannot read ({exc.strerror})") from None
    try:
        document = yaml_safe.load(raw)
    except yaml_safe.YamlProblem as exc:
        raise ConfigError(rel, exc.where, exc.message) from None
    if not isinstance(document.data, dict):
        kind = "nothing" if document.data is None else type(document.data).__name__
        raise ConfigError(rel, "", f"must be a mapping of keys (got {kind})")
    return document


def parse_file(root: Path, rel: str, model: type[M]) -> M:
    document = read_yaml(root, rel)
    try:
        return model.model_validate(document.data)
    except ValidationError as exc:
        errors = [ConfigError(rel, _loc(e["loc"]), _message(model, e, document))
                  for e in _relevant(exc.errors())]
        raise errors[0] if len(errors) == 1 else ConfigErrors(errors) from None


def _relevant(errors: list[Any]) -> list[Any]:
    """Drop the noise a typo makes: ``domain: {nmae: x}`` also reports ``domain.name`` as
    missing; the unknown key is the one to show, first."""
    typos = {e["loc"][:-1] for e in errors if e["type"] == "extra_forbidden"}
    kept = [e for e in errors if not (e["type"] == "missing" and e["loc"][:-1] in typos)]
    return sorted(kept, key=lambda e: e["type"] != "extra_forbidden")


def _loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for index, item in enumerate(loc):
        if item == "[key]":  # pydantic's marker for "the key itself is bad"
            continue
        if isinstance(item, int) and loc[index + 1:index + 2] != ("[key]",):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _message(model: type[BaseModel], error: Any, document: Document) -> str:
    kind, value = error["type"], error.get("input")
    scalar = document.scalar(tuple(error["loc"]))
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return _unknown_key(model, error["loc"])
    coerced = _yaml_coercion(error["loc"], value, scalar) if kind == "string_type" else None
    if coerced:
        return coerced
    bounds = _bounds(model, error["loc"])
    if kind in {"greater_than_equal", "less_than_equal", "greater_than", "less_than"} and bounds:
        low, high = bounds
        text = f"must be between {low} and {high}" if None not in bounds else error["msg"]
    elif kind == "literal_error":
        text = "must be " + error["msg"].removeprefix("Input should be ")
    elif kind == "string_pattern_mismatch":
        pattern = error["ctx"]["pattern"]
        text = f"must be {PATTERNS[pattern]}" if pattern in PATTERNS else f"must match {pattern}"
    elif kind == "value_error":
        text = str(error["ctx"]["error"])
        if isinstance(value, dict | list | tuple):
            return text  # the check names the bad entry itself
    else:
        text = TYPES.get(kind) or error["msg"][0].lower() + error["msg"][1:]
    if error["loc"][-1:] == ("[key]",):
        text = "name " + text
    return f"{text} (got {shown(value)})"


def shown(value: Any, limit: int = 80) -> str:
    """A bad value as it appears in a message: repr, one line, at most ``limit`` chars."""
    if isinstance(value, dict | list | tuple):
        return _kind(value)
    text = repr(value)
    if len(text) <= limit:
        return text
    if isinstance(value, str):
        return f"{value[:limit - 10]!r}... ({len(value)} chars)"
    return text[:limit - 3] + "..."


def _kind(value: Any) -> str:
    noun = "mapping" if isinstance(value, dict) else "list"
    return f"a {noun} of {len(value)} item{'s' * (len(value) != 1)}"


def _unknown_key(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    text = "is not a known key"
    parent = _model_at(model, loc[:-1])
    if parent is not None:
        known = [f.alias or n for n, f in parent.model_fields.items()]
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if close:
            return f"{text}: did you mean {close[0]!r}? (see `archway schema`)"
    return f"{text} (check the spelling; see `archway schema`)"


def _yaml_coercion(loc: tuple[int | str, ...], value: Any, scalar: Scalar | None) -> str | None:
    """YAML 1.1 reads unquoted ``NO``/``yes`` as booleans, ``0123`` as octal, ``2024-01-01``
    as a date and an empty value as null: say so, and say what to write instead."""
    if scalar is None or scalar.quoted or isinstance(value, str):
        return None
    if value is None:
        return "is empty: write a value"
    keys = " ".join(str(part) for part in loc)
    if "account" in keys:
        advice = "quote account ids"
    elif "geo_block" in keys:
        advice = "quote country codes"
    else:
        advice = "quote the value"
    literal = _short(scalar.text)
    return (f"must be a string: YAML 1.1 reads the unquoted {literal} as {_read_as(value, scalar)}"
            f"; {advice} (write \"{literal}\")")


def _read_as(value: Any, scalar: Scalar) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int) and re.fullmatch(r"[-+]?0[0-7_]+", scalar.text):
        return f"the octal number {value}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"a {scalar.tag.rsplit(':', 1)[-1]}"  # timestamp, and anything else YAML types


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _model_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The pydantic model that holds the keys at ``loc`` (through dicts, lists, Optional)."""
    current: Any = model
    for item in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            if getattr(current, "__origin__", None) in (dict, tuple, list):
                current = _inner_model(current)  # this item is the dict key / list index
                continue
            current = _inner_model(current)  # Optional[Model]: the item is a field
            if current is None:
                return None
        fields = {f.alias or n: f for n, f in current.model_fields.items()}
        info = fields.get(str(item))
        if info is None:
            return None
        current = info.annotation
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return _inner_model(current)


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    for arg in getattr(annotation, "__args__", ()):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        inner = _inner_model(arg)
        if inner is not None:
            return inner
    return None


def _bounds(model: type[BaseModel], loc: tuple[int | str, ...]) -> tuple[Any, Any] | None:
    """The (low, high) bounds of the field at loc, walking nested models and dicts."""
    current: Any = model
    info = None
    for item in loc:
        if get_origin(current) in (Union, UnionType):  # Optional[Model]: a field of Model
            current = _inner_model(current) or current
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
