"""Bootstrap for the deploy side: the blueprint and its targets live in
:mod:`archway.shared.blueprint.bootstrap`; synth writes the templates into
``build/<env>/`` beside the rest (``bootstrap-<account>-<region>.json``), so they are
linted, snapshotted and reviewed like any template, and ``archway bootstrap`` deploys
exactly those files.
"""

from __future__ import annotations

from archway.shared.blueprint.bootstrap import bootstrap_stacks, bootstrap_targets
from archway.shared.naming import execution_role as execution_role_name

__all__ = ["bootstrap_stacks", "bootstrap_targets", "execution_role_name"]
