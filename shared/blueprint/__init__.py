"""What every blueprint returns, and the helpers all of them share.

A blueprint is a pure function of the resolved model: it returns a :class:`StackDef`
(the troposphere template plus where each Parameter's value comes from). Blueprints
never call AWS; the deploy engine resolves the sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from troposphere import Output, Parameter, Tags, Template

from archway.shared.assets import Dependencies
from archway.shared.naming import DEVIATIONS_KEY

SourceKind = Literal["stack_output", "secret", "service_accounts"]


@dataclass(frozen=True)
class Source:
    """Where a Parameter's value comes from at deploy time.

    ``stack_output``: output ``output`` of the stack with id ``stack`` (read in that
    stack's account and region). ``secret``: the origin secret ``name``, generated once
    and kept encrypted in the platform account; always passed as a NoEcho parameter.
    ``service_accounts``: the accounts of every service stack in the manifest, as a
    comma-separated list (the route registrar's trust).
    """

    kind: SourceKind
    stack: str | None = None
    output: str | None = None
    name: str | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def stack_output(stack: str, output: str) -> Source:
    return Source("stack_output", stack=stack, output=output)


def secret(name: str) -> Source:
    return Source("secret", name=name)


def service_accounts() -> Source:
    return Source("service_accounts")


@dataclass(frozen=True)
class Asset:
    """A zip built from a folder, uploaded to the target account's assets bucket."""

    id: str
    path: str  # relative to the repository root
    sha256: str
    bucket: str
    key: str
    dependencies: Dependencies | None = None  # requirements.txt, packaged into the zip


@dataclass
class StackDef:
    id: str  # stable id used in the manifest and the plan: svc-catalog, edge-global, edge, auth
    name: str  # the CloudFormation stack name
    account: str
    region: str
    template: Template
    sources: dict[str, Source] = field(default_factory=dict)
    assets: list[Asset] = field(default_factory=list)
    termination_protection: bool = False
    kind: Literal["service", "edge-global", "edge", "auth", "pipeline", "bootstrap"] = "service"

    @property
    def depends_on(self) -> list[str]:
        """Stacks whose outputs feed this one: declared sources make the edges."""
        return sorted({s.stack for s in self.sources.values() if s.stack})

    def add_parameter(self, name: str, source: Source, description: str,
                      **kwargs: object) -> Parameter:
        """A Parameter resolved at deploy time from ``source``; secrets are always NoEcho."""
        if source.kind == "secret":
            kwargs.setdefault("NoEcho", True)
            kwargs.setdefault("MinLength", 20)
        self.sources[name] = source
        kwargs.setdefault("Type", "String")
        return self.template.add_parameter(Parameter(name, Description=description, **kwargs))


def tags(platform: str, env: str, **extra: str) -> Tags:
    """The tags every Archway resource carries (sorted, so templates are stable)."""
    values = {"archway:platform": platform, "archway:env": env, **extra}
    return Tags(**dict(sorted(values.items())))


def output(template: Template, name: str, value: object, description: str) -> Output:
    return template.add_output(Output(name, Value=value, Description=description))


class UncappedTemplate(Template):
    """A troposphere Template that lets a blueprint add past CloudFormation's counts.

    troposphere raises a bare ValueError at the 501st resource (201st parameter or
    output) while the blueprint is still building, which would reach the user as an
    internal error. Synth checks the rendered template instead
    (``archway.shared.limits_check``) and names the config file, the count and the limit.
    """

    def add_resource(self, resource: Any) -> Any:
        return self._update(self.resources, resource)

    def add_parameter(self, parameter: Any) -> Any:
        return self._update(self.parameters, parameter)

    def add_output(self, output: Any) -> Any:
        return self._update(self.outputs, output)


def new_template(description: str) -> Template:
    template = UncappedTemplate(Description=description)
    template.set_version("2010-09-09")
    return template


def add_metadata(template: Template, key: str, value: object) -> None:
    """Set one key of the template's top-level Metadata (other keys are kept)."""
    metadata = dict(template.metadata or {})
    metadata[key] = value
    template.set_metadata(metadata)


def deviation(template: Template, control: str, resources: list[str], reason: str) -> None:
    """Declare a deliberate deviation from a Security Hub control in the template's
    Metadata (``Archway::Deviations``); ``archway lint`` lists every declaration."""
    metadata = dict(template.metadata or {})
    declared = list(metadata.get(DEVIATIONS, []))
    declared.append({"Control": control, "Resources": sorted(resources), "Reason": reason})
    metadata[DEVIATIONS] = sorted(declared, key=lambda d: (d["Control"], d["Resources"]))
    template.set_metadata(metadata)


DEVIATIONS = DEVIATIONS_KEY  # the template Metadata key (archway.shared.naming)
