"""archway lint's engine: rules built once, templates spread over processes, the cache.

The findings must be exactly those cfn-lint's own API gives when it builds its rules for
each template (what archway lint did before), whether templates are linted in this
process or over worker processes; a warm run must not import cfn-lint at all.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from archway.shared.lint import CACHE_FILE, RULES_DIR, Finding, lint_synth
from archway.shared.synth import SynthResult

REGION = "eu-west-1"
TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {
    "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}}
RETAINED = {**TABLE, "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
TEMPLATES = {
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
}
# the same body again (as bootstrap stacks of several accounts are): linted once, both named
TEMPLATES["bad-table-again.json"] = TEMPLATES["bad-table.json"]


def write_synth(out: Path, templates: dict[str, object]) -> SynthResult:
    """A synth's output as lint reads it: the templates and a manifest naming them."""
    out.mkdir(parents=True, exist_ok=True)
    stacks = []
    for name, template in templates.items():
        body = json.dumps(template, indent=1, sort_keys=True) + "\n"
        (out / name).write_text(body, encoding="utf-8")
        stacks.append({"template": name, "region": REGION,
                       "template_sha256": hashlib.sha256(body.encode()).hexdigest()})
    return SynthResult(out, {"stacks": stacks})


def reference(result: SynthResult) -> list[Finding]:
    """cfn-lint's public API, rules built anew for each template: the old behaviour."""
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    found = []
    for stack in result.manifest["stacks"]:
        body = (result.out_dir / stack["template"]).read_text(encoding="utf-8")
        config = ManualArgs(regions=[stack["region"]], append_rules=[str(RULES_DIR)])
        found += [Finding(stack["template"], m.rule.id, m.rule.severity,
                          "/".join(str(p) for p in m.path), m.message)
                  for m in lint(body, config=config)]
    return found


@pytest.fixture(scope="module")
def bad_synth(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return write_synth(tmp_path_factory.mktemp("lint") / "dev", TEMPLATES)


@pytest.fixture(scope="module")
def expected(bad_synth: SynthResult) -> list[Finding]:
    found = reference(bad_synth)
    rules = {f.rule for f in found}
    assert {"E9001", "E9002"} <= rules and any(not r.startswith("E9") for r in rules), rules
    return found


@pytest.mark.parametrize(("workers", "system"), [(1, "linux"), (2, "linux"), (2, "darwin")])
def test_findings_are_cfn_lints_own_in_one_process_or_several(
        bad_synth: SynthResult, expected: list[Finding], workers: int, system: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN templates breaking house rules and cfn-lint's schema checks (two of them the
    # same), no lint cache
    (bad_synth.out_dir / CACHE_FILE).unlink(missing_ok=True)
    monkeypatch.setattr(sys, "platform", system)  # not Linux: each worker builds the rules
    # WHEN they are linted here (rules built once) or over two worker processes
    found = lint_synth(bad_synth, workers=workers)
    # THEN the findings are those cfn-lint's API gives with rules built per template,
    # in the manifest's order
    assert found == expected


def test_only_clean_templates_are_cached_and_skipped(bad_synth: SynthResult,
                                                      expected: list[Finding]) -> None:
    # GIVEN a first run that found problems in three templates of four
    (bad_synth.out_dir / CACHE_FILE).unlink(missing_ok=True)
    lint_synth(bad_synth, workers=2)
    cached = json.loads((bad_synth.out_dir / CACHE_FILE).read_text())
    # THEN only the clean template is remembered
    clean_sha = next(s["template_sha256"] for s in bad_synth.manifest["stacks"]
                     if s["template"] == "clean.json")
    assert [key.split(":")[1] for key in cached] == [clean_sha]
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
