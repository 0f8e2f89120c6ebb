"""docs/permissions.md is generated from the same data as the templates."""

from __future__ import annotations

import os
from pathlib import Path

from archway.shared.blueprint.permissions_doc import render

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "permissions.md"


def test_permissions_doc_matches_the_templates() -> None:
    # GIVEN the document rendered from the bootstrap templates synth writes
    text = render(REPO)
    if os.environ.get("ARCHWAY_UPDATE_GOLDEN") == "1":
        DOC.write_text(text, encoding="utf-8")
    # THEN the committed file is exactly that (regenerate:
    # python -m archway.shared.blueprint.permissions_doc)
    assert DOC.read_text(encoding="utf-8") == text
    # and it answers the question it exists for, naming each proof
    assert "## Can a service team's deploy escalate to administrator?\n\nNo, because" in text
    tests = (REPO / "tests/deploy/test_least_privilege.py").read_text(encoding="utf-8")
    for name in ("test_deploy_and_lookup_roles_trust_named_principals_only",
                 "test_every_handler_permission_of_every_type_used_is_granted",
                 "test_roles_are_created_and_changed_only_with_the_boundary",
                 "test_the_bootstrap_roles_are_out_of_reach",
                 "test_no_role_loses_its_boundary",
                 "test_a_role_behind_the_boundary_cannot_manage_iam_or_infrastructure",
                 "test_every_role_of_every_template_carries_the_boundary"):
        assert name in text and f"def {name}(" in tests, name
