"""The seam between the deploy engine and where stacks land.

The engine (plan, parameters, assets, display) is the same for every target; a
provider turns one resolved stack into reality: ``CloudFormationProvider`` on AWS
(change sets), ``LocalProvider`` on the local cloud (moto + the local routers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Outcome = Literal["created", "updated", "skipped", "failed", "planned", "deleted"]


@dataclass(frozen=True)
class Target:
    """One stack of the manifest, with its template body, ready to deploy."""

    id: str
    name: str
    kind: str
    account: str
    region: str
    template_body: str
    template_sha256: str
    termination_protection: bool = False
    manifest: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def template(self) -> dict[str, Any]:
        import json

        return json.loads(self.template_body)


@dataclass(frozen=True)
class Resolved:
    """Parameter values for one deploy. ``secret_names`` are NoEcho: never printed."""

    values: dict[str, str]
    secret_names: frozenset[str] = frozenset()
    digest: str = ""  # sha256 of template + parameters (secrets hashed): the no-op key

    def printable(self) -> dict[str, str]:
        return {k: ("****" if k in self.secret_names else v) for k, v in self.values.items()}


@dataclass(frozen=True)
class StackState:
    status: str  # CloudFormation status names, e.g. CREATE_COMPLETE
    outputs: dict[str, str]
    digest: str | None  # what the engine last deployed (kept on the stack)
    parameters: dict[str, str] = field(default_factory=dict)  # NoEcho values masked
    drift: str = "NOT_CHECKED"  # last drift detection: DRIFTED | IN_SYNC | UNKNOWN | NOT_CHECKED


@dataclass(frozen=True)
class StackResult:
    id: str
    outcome: Outcome
    reason: str = ""
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


class Provider(Protocol):
    """Where stacks land. Implementations must never log parameter values of secrets."""

    def describe(self, target: Target) -> StackState | None:
        """The stack's current state, or None when it does not exist."""
        ...

    def deploy(self, target: Target, params: Resolved) -> StackResult:
        """Create or update the stack; return 'skipped' when params.digest is unchanged."""
        ...
