"""archway lint's engine: rules built once, templates spread over processes, the cache.

The findings must be exactly those cfn-lint's own API gives when it builds its rules for
each template and runs as shipped (what archway lint did before: computed in a separate
process, where none of ``archway.shared.lint_speedups`` is installed), whether templates
are linted in this process or over worker processes; a warm run must not import cfn-lint
at all.
"""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from archway.shared import lint_speedups
from archway.shared.lint import CACHE_FILE, RULES_DIR, Finding, lint_synth
from archway.shared.synth import SynthResult

REPO = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}
RETAINED = {**TABLE, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
TEMPLATES: dict[str, Any] = {
    # a house rule (E9001) and cfn-lint's own schema checks (unknown property, bad value)
    "bad-table.json": {"Resources": {"Orders": {**TABLE, "DeletionPolicy": "Delete"},
                                     "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
                                         "DelaySeconds": "soon", "Colour": "red"}}}},
    "clean.json": {"Resources": {"Orders": RETAINED}},
    # a house rule on IAM (E9002) and a reference to nothing (E3005 / E1001 family)
    "bad-role.json": {"Resources": {"Admin": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com"]},
            "Action": ["sts:AssumeRole"]}]},
        "Policies": [{"PolicyName": "all", "PolicyDocument": {
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}}]},
        "DependsOn": "Nowhere"}}},
    # informational only (I1022: Sub rather than Join): cfn-lint's default checks, which
    # archway lint runs, report errors and warnings, not this
    "join.json": {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": {"Fn::Join": ["", ["archway-", {"Ref": "AWS::Region"}]]}}}}},
    # required properties missing in one condition's scenario only (E3003, E3639, E3039)
    "conditional.json": {
        "Parameters": {"Stage": {"Type": "String", "AllowedValues": ["dev", "prod"]}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}},
        "Resources": {"Orders": {**RETAINED, "Properties": {
            **TABLE["Properties"],
            "BillingMode": {"Fn::If": ["IsProd", "PROVISIONED", "PAY_PER_REQUEST"]},
            "KeySchema": {"Fn::If": ["IsProd", TABLE["Properties"]["KeySchema"],
                                     {"Ref": "AWS::NoValue"}]}}}}},
}
# Findings that depend on what cfn-lint's validators carry down a template (the context
# lint_speedups copies in ``evolve``): each of these changes when one kind of context
# change is dropped there (checked by planting each: conditions, resources, strict types,
# values resolved from parameters, unresolvable-function mode).
STAGE = {"Stage": {"Type": "String", "AllowedValues": ["dev", "prod"]}}
IS_PROD = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
TEMPLATES |= {
    # an Fn::If inside another on the same condition: the inner branch the outer one
    # rules out is unreachable (W1028), known only from the conditions carried down
    "nested-conditions.json": {"Parameters": STAGE, "Conditions": IS_PROD, "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "DelaySeconds": {"Fn::If": ["IsProd", {"Fn::If": ["IsProd", 5, "soon"]}, 10]},
            "MessageRetentionPeriod": {"Fn::If": ["IsProd", 30,
                                                  {"Fn::If": ["IsProd", 60, 1]}]}}}}},
    # values resolved from parameters' defaults and allowed values (W1030), pseudo
    # parameters, Fn::GetAZs and Fn::Select, a map without the linted region
    "resolved-values.json": {
        "Parameters": {"Delay": {"Type": "Number", "Default": 1000},
                       "Retention": {"Type": "Number", "AllowedValues": [30, 60, 1]}},
        "Conditions": {"InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}},
        "Mappings": {"Keys": {"us-east-1": {"Id": "alias/orders"}}},
        "Resources": {
            "Fifo": {"Type": "AWS::SQS::Queue", "Properties": {
                "FifoQueue": True, "QueueName": {"Fn::Sub": "${AWS::Region}-orders"},
                "DelaySeconds": {"Ref": "Delay"}, "MessageRetentionPeriod": {"Ref": "Retention"}}},
            "Regional": {"Type": "AWS::SQS::Queue", "Properties": {
                "DelaySeconds": {"Fn::If": ["InUsEast1", "soon", 5]},
                "QueueName": {"Fn::Select": [7, {"Fn::GetAZs": ""}]}}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
                "TopicName": {"Fn::Join": ["-", [{"Ref": "AWS::Region"}, {"Fn::Select": [
                    0, {"Fn::Split": [",", "a,b"]}]}]]},
                "KmsMasterKeyId": {"Fn::FindInMap": ["Keys", {"Ref": "AWS::Region"}, "Id"]}}}}},
    # sections that may not name resources (a condition's Ref, an export's name: E1020,
    # E1010) and a map value resolved under a condition (W1034)
    "section-scopes.json": {
        "Parameters": STAGE,
        "Conditions": {**IS_PROD, "HasQueue": {"Fn::Equals": [{"Ref": "Queue"}, "orders"]}},
        "Mappings": {"Delays": {"dev": {"Seconds": 5}, "prod": {"Seconds": "later"}}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "DelaySeconds": {"Fn::If": ["IsProd", {"Fn::FindInMap": [
                "Delays", {"Ref": "Stage"}, "Seconds"]}, 0]}}}},
        "Outputs": {"Name": {"Value": {"Ref": "Queue"}, "Export": {
            "Name": {"Fn::GetAtt": ["Queue", "QueueName"]}}}}},
}
# the same body again (as bootstrap stacks of several accounts are): linted once, both named
TEMPLATES["bad-table-again.json"] = TEMPLATES["bad-table.json"]
# Archway's own templates (golden snapshots of dev: a service, a bootstrap in us-east-1,
# the edge stacks, auth), clean, as the benchmark lints them by the hundred
REAL = ["svc-catalog", "bootstrap-200000000000-us-east-1", "edge", "edge-global", "auth"]


def golden(name: str) -> tuple[dict[str, Any], str]:
    """A golden snapshot's template and region."""
    snapshot = json.loads((REPO / "tests/golden/dev" / f"{name}.json").read_text())
    return snapshot["template"], snapshot["manifest"]["region"]


def broken_service() -> dict[str, Any]:
    """A real service template with findings deep inside it: a warning (an unused
    parameter), errors in a function's properties (one behind a condition), an IAM house
    rule and cfn-lint's own IAM check on the same unknown action, a role change without
    the boundary condition (E9005)."""
    template = copy.deepcopy(golden("svc-catalog")[0])
    template["Parameters"]["Stage"] = {"Type": "String", "AllowedValues": ["dev", "prod"]}
    template["Parameters"]["Unused"] = {"Type": "String"}
    template["Conditions"] = {"IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}}
    function = template["Resources"]["ProductsFunction"]["Properties"]
    function.update(Runtime="python3.7", MemorySize={"Fn::If": ["IsProd", 64, 128]})
    policy = template["Resources"]["SearchRole"]["Properties"]["Policies"][0]
    policy["PolicyDocument"]["Statement"] += [
        {"Effect": "Allow", "Action": ["dynamodb:GetItemz"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["iam:CreateRole"], "Resource": {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}}]
    return template


def write_synth(out: Path, templates: dict[str, Any],
                regions: dict[str, str] | None = None) -> SynthResult:
    """A synth's output as lint reads it: the templates and a manifest naming them."""
    out.mkdir(parents=True, exist_ok=True)
    stacks = []
    for name, template in templates.items():
        body = json.dumps(template, indent=1, sort_keys=True) + "\n"
        (out / name).write_text(body, encoding="utf-8")
        stacks.append({"template": name, "region": (regions or {}).get(name, REGION),
                       "template_sha256": hashlib.sha256(body.encode()).hexdigest()})
    return SynthResult(out, {"stacks": stacks})


# cfn-lint's public API in a new process, rules built anew for each template: the old
# behaviour, with cfn-lint as shipped (the script fails if anything replaced its create).
REFERENCE = """
import json, sys
from cfnlint.api import lint
from cfnlint.config import ManualArgs
from cfnlint.jsonschema import validators
stacks, out, rules = json.loads(sys.stdin.read())
found = []
for stack in stacks:
    body = open(out + "/" + stack["template"], encoding="utf-8").read()
    config = ManualArgs(regions=[stack["region"]], append_rules=[rules])
    found += [[stack["template"], m.rule.id, m.rule.severity,
               "/".join(str(p) for p in m.path), m.message]
              for m in lint(body, config=config)]
assert validators.create.__module__ == "cfnlint.jsonschema.validators"
print(json.dumps(found))
"""


def reference(result: SynthResult) -> list[Finding]:
    """The findings cfn-lint's API gives, template by template, in a pristine process."""
    request = json.dumps([result.manifest["stacks"], str(result.out_dir), str(RULES_DIR)])
    proc = subprocess.run([sys.executable, "-c", REFERENCE], input=request, text=True,
                          capture_output=True, timeout=600, check=True)
    return [Finding(*found) for found in json.loads(proc.stdout)]


@pytest.fixture(scope="module")
def bad_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    templates = dict(TEMPLATES)
    regions = {}
    for name in REAL:
        templates[f"{name}.json"], regions[f"{name}.json"] = golden(name)
    templates["broken-service.json"] = broken_service()
    return write_synth(tmp_path_factory.mktemp("lint") / "dev", templates, regions)


@pytest.fixture(scope="module")
def expected(bad_synth: SynthResult) -> list[Finding]:
    found = reference(bad_synth)
    rules = {f.rule for f in found}
    # every level archway lint reports, house rules and cfn-lint's own, in a real template
    assert {f.level for f in found} == {"error", "warning"}, found
    assert {"E9001", "E9002", "E9003", "E9005"} <= rules, rules
    assert any(not r.startswith("E9") for r in rules), rules
    assert {f.template for f in found if f.rule.startswith("W")} >= {"broken-service.json"}
    return found


@pytest.mark.parametrize(("workers", "system"), [(1, "linux"), (2, "linux"), (2, "darwin")])
def test_findings_are_cfn_lints_own_in_one_process_or_several(
        bad_synth: SynthResult, expected: list[Finding], workers: int, system: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN templates breaking house rules and cfn-lint's schema and IAM checks (two of
    # them the same), Archway's real templates, one of them broken, no lint cache
    (bad_synth.out_dir / CACHE_FILE).unlink(missing_ok=True)
    monkeypatch.setattr(sys, "platform", system)  # not Linux: each worker builds the rules
    # WHEN they are linted here (rules built once) or over two worker processes
    found = lint_synth(bad_synth, workers=workers)
    # THEN the findings are those cfn-lint's API gives with rules built per template,
    # in the manifest's order, though cfn-lint ran with Archway's speed-ups
    assert found == expected
    assert lint_speedups.installed()


def test_only_clean_templates_are_cached_and_skipped(bad_synth: SynthResult,
                                                      expected: list[Finding]) -> None:
    # GIVEN a first run that found problems in some templates (bad-table twice)
    (bad_synth.out_dir / CACHE_FILE).unlink(missing_ok=True)
    lint_synth(bad_synth, workers=2)
    cached = json.loads((bad_synth.out_dir / CACHE_FILE).read_text())
    # THEN only the clean templates are remembered
    bad = {f.template for f in expected}
    clean = {s["template_sha256"] for s in bad_synth.manifest["stacks"]
             if s["template"] not in bad}
    assert "clean.json" not in bad and {"bad-table.json", "broken-service.json"} <= bad
    assert sorted(key.split(":")[1] for key in cached) == sorted(clean)
    # WHEN linted again, THEN the bad templates are reported again, as before
    assert lint_synth(bad_synth, workers=2) == expected


def test_a_warm_run_never_imports_cfn_lint(tmp_path: Path) -> None:
    # GIVEN a clean template linted once (the cache now holds it)
    result = write_synth(tmp_path / "dev", {"clean.json": TEMPLATES["clean.json"]})
    assert lint_synth(result) == []
    # WHEN a new process lints it again
    script = (
        "import json, sys; from pathlib import Path;"
        "from archway.shared.lint import lint_synth; from archway.shared.synth import "
        "SynthResult;"
        f"out = Path({str(result.out_dir)!r});"
        f"found = lint_synth(SynthResult(out, {result.manifest!r}));"
        "print(json.dumps([len(found), sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('cfnlint', 'boto3', 'botocore'))]))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    # THEN it finds nothing, and neither cfn-lint nor boto3 was imported
    assert json.loads(proc.stdout) == [0, []]


def test_a_new_cfn_lint_version_relints(tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from archway.shared import lint

    # GIVEN a template linted clean and cached under this cfn-lint's version
    result = write_synth(tmp_path / "dev", {"clean.json": TEMPLATES["clean.json"]})
    lint_synth(result)
    before = json.loads((result.out_dir / CACHE_FILE).read_text())
    # WHEN the installed cfn-lint reports another version
    monkeypatch.setattr(lint, "installed_version", lambda name: "999.0.0")
    lint_synth(result)
    # THEN the cache key changed (the template was linted again under the new key)
    after = json.loads((result.out_dir / CACHE_FILE).read_text())
    assert set(after).isdisjoint(before) and len(after) == 1


def test_progress_counts_every_template_linted_once(tmp_path: Path) -> None:
    # GIVEN three templates, two of them the same body, none cached
    result = write_synth(tmp_path / "dev", {"a.json": TEMPLATES["bad-table.json"],
                                            "b.json": TEMPLATES["bad-table.json"],
                                            "c.json": TEMPLATES["clean.json"]})
    seen: list[tuple[int, int]] = []
    # WHEN they are linted over two workers with a progress callback
    lint_synth(result, workers=2, progress=lambda done, total: seen.append((done, total)))
    # THEN it counts the two distinct bodies from none, one by one, up to the total
    assert seen == [(0, 2), (1, 2), (2, 2)]
    # WHEN linted again (the clean one cached), THEN only the bad body is counted
    seen.clear()
    lint_synth(result, workers=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(0, 1), (1, 1)]


def test_a_terminal_sees_a_counter_then_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    from archway.shared.commands import LintProgress

    # GIVEN the progress of a lint of 3 templates on a terminal, and elsewhere
    tty, log = LintProgress("dev", tty=True), LintProgress("dev", tty=False)
    # WHEN each template is done
    for done in (0, 1, 2, 3):
        tty(done, 3)
        log(done, 3)
    # THEN the terminal's counter is rewritten in place and cleared at the end (for the
    # summary line); elsewhere nothing is printed, and both know how many were linted
    assert capsys.readouterr().err == ("\rdev: linting templates 0/3"
                                       "\rdev: linting templates 1/3"
                                       "\rdev: linting templates 2/3"
                                       "\rdev: linting templates 3/3\r\x1b[K")
    assert tty.done == log.done == 3


def test_another_cfn_lint_source_is_left_as_shipped() -> None:
    # GIVEN a cfn-lint whose replaced functions are not the source the speed-ups were
    # checked against (simulated: the expected digest of one changed), in a new process
    script = (
        "from archway.shared import lint_speedups as s;"
        "s.EXPECTED_SOURCE['Context.evolve'] = '0' * 16;"
        "from cfnlint.jsonschema import validators; before = validators.create;"
        "print(s.install(), s.installed(), validators.create is before)")
    # WHEN the speed-ups are installed
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    # THEN nothing is replaced: cfn-lint runs as shipped
    assert proc.stdout.split() == ["False", "False", "True"]
