"""Which stack states `archway status` counts as unhealthy (and so exits 1 on)."""

from __future__ import annotations

import pytest

from archway.shared.deploy.cli import stack_health
from archway.shared.deploy.provider import StackState, Target

TARGET = Target("svc-catalog", "archway-dev-svc-catalog", "service", "210000000001",
                "eu-west-1", "{}", "sha")


@pytest.mark.parametrize(("state", "health"), [
    (None, "missing"),
    (StackState("UPDATE_COMPLETE", {}, "d"), "ok"),
    (StackState("UPDATE_COMPLETE", {}, "d", drift="IN_SYNC"), "ok"),
    (StackState("UPDATE_ROLLBACK_COMPLETE", {}, "d"), "failed"),
    (StackState("CREATE_FAILED", {}, "d"), "failed"),
    (StackState("UPDATE_IN_PROGRESS", {}, "d"), "busy"),
    (StackState("UPDATE_COMPLETE", {}, "d", drift="DRIFTED"), "drifted"),
])
def test_health_of_a_stack(state: StackState | None, health: str) -> None:
    # GIVEN a stack in some state WHEN status judges it THEN only complete, undrifted is ok
    assert stack_health(TARGET, state)["health"] == health
