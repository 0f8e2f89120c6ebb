"""What a plan shows: resource changes with data and IAM flagged, edge routes as routes."""

from __future__ import annotations

import json
from pathlib import Path

from archway.platform.edge import edge_stack
from archway.shared.commands import load_platform
from archway.shared.deploy.changes import diff_templates
from archway.shared.synth import render

REPO = Path(__file__).resolve().parents[2]


def test_a_new_behavior_shows_as_a_route() -> None:
    # GIVEN an edge without its /api/* behavior, then with it
    platform = load_platform(REPO, "dev")
    new = json.loads(render(edge_stack(platform)))
    old = json.loads(json.dumps(new))
    config = old["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    config["CacheBehaviors"] = []
    # THEN the plan shows the route it adds, and the distribution as modified
    change_set = diff_templates("edge", old, new)
    assert change_set.routes == ["+ /api/* -> api-router"]
    assert [str(c) for c in change_set.changes] == [
        "Modify Distribution [AWS::CloudFront::Distribution]"]


def test_table_key_change_is_a_flagged_replacement() -> None:
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "t", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}
    changed = json.loads(json.dumps(table))
    changed["Properties"]["KeySchema"][0]["AttributeName"] = "id"
    role = {"Type": "AWS::IAM::Role", "Properties": {}}
    change_set = diff_templates("svc", {"Resources": {"T": table, "Old": role}},
                                {"Resources": {"T": changed, "New": role}})
    by_id = {c.logical: c for c in change_set.changes}
    assert (by_id["T"].action, by_id["T"].replacement, by_id["T"].risky) == (
        "Modify", "True", True)
    assert by_id["New"].risky and by_id["Old"].action == "Remove"
    assert change_set.routes == []

