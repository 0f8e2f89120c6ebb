"""What the pipeline stacks mean: gates first, approval before prod, the right accounts."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from archway.pipelines.blueprint import pipeline_stacks
from archway.shared.cli import build_parser
from archway.shared.config import Config, load_config
from archway.shared.lint import lint_template
from archway.shared.synth import render
from helpers.cfn import as_list, rendered, resources, statements

REPO = Path(__file__).resolve().parents[2]
BUILDSPECS = REPO / "pipelines" / "buildspecs"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(REPO)


@pytest.fixture(scope="module")
def templates(config: Config) -> dict[str, dict[str, Any]]:
    return {stack.id: rendered(stack) for stack in pipeline_stacks(config)}


def pipeline(template: dict[str, Any]) -> dict[str, Any]:
    (resource,) = resources(template, "AWS::CodePipeline::Pipeline").values()
    return resource["Properties"]


def stage_names(template: dict[str, Any]) -> list[str]:
    return [stage["Name"] for stage in pipeline(template)["Stages"]]


def project_of(template: dict[str, Any], stage: str) -> dict[str, Any]:
    (found,) = [s for s in pipeline(template)["Stages"] if s["Name"] == stage]
    (action,) = found["Actions"]
    return template["Resources"][action["Configuration"]["ProjectName"]["Ref"]]["Properties"]


def variables(project: dict[str, Any]) -> dict[str, Any]:
    return {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}


def test_one_pipeline_per_service_and_one_for_the_platform(templates: dict) -> None:
    services = load_config(REPO).services
    assert sorted(templates) == sorted(["pipeline-platform",
                                        *(f"pipeline-{name}" for name in services)])


def test_gates_come_before_any_deploy_and_approval_right_before_prod(templates: dict) -> None:
    for template in templates.values():
        assert stage_names(template) == [
            "Source", "Gate", "Synth", "DeployDev", "ApproveProd", "DeployProd"]
        gate = project_of(template, "Gate")
        assert gate["Source"]["BuildSpec"] == "pipelines/buildspecs/gate.yml"
        approval = [s for s in pipeline(template)["Stages"] if s["Name"] == "ApproveProd"][0]
        assert approval["Actions"][0]["ActionTypeId"]["Provider"] == "Manual"


def test_gate_runs_lint_and_tests_and_reports_junit() -> None:
    gate = yaml.safe_load((BUILDSPECS / "gate.yml").read_text())
    commands = gate["phases"]["build"]["commands"]
    assert commands[0] == "tox -e lint"
    assert commands[1].startswith("tox -e test") and "--junitxml=build/reports/junit.xml" in \
        commands[1]
    (report,) = gate["reports"].values()
    assert report == {"files": ["build/reports/junit.xml"], "file-format": "JUNITXML"}


def test_triggers_follow_each_services_folders(templates: dict) -> None:
    def paths(template: dict[str, Any]) -> list[str]:
        (trigger,) = pipeline(template)["Triggers"]
        (push,) = trigger["GitConfiguration"]["Push"]
        assert push["Branches"]["Includes"] == ["main"]
        return push["FilePaths"]["Includes"]

    shared = ["shared/**", "config/**", "pyproject.toml", "tox.ini"]
    assert paths(templates["pipeline-catalog"]) == ["services/catalog/**", *shared]
    assert paths(templates["pipeline-reviews"]) == ["services/reviews/**", *shared]
    assert paths(templates["pipeline-platform"]) == ["platform/**", *shared]


def assumed_accounts(template: dict[str, Any], role_kind: str = "deploy") -> set[str]:
    role = template["Resources"]["DeployBuildRole"]
    accounts = set()
    for statement in statements(role):
        if "sts:AssumeRole" in as_list(statement["Action"]):
            for resource in as_list(statement["Resource"]):
                found = re.search(r"iam::(\d{12}):role/archway-(\w+)-", resource["Fn::Sub"])
                if found.group(2) == role_kind:
                    accounts.add(found.group(1))
    return accounts


def test_cross_account_reads_go_through_lookup_roles(config: Config, templates: dict) -> None:
    # GIVEN a service pipeline: its deploy reads the origin secret in the platform account
    platform_accounts = {config.environments[env].platform_account for env in ("dev", "prod")}
    assert assumed_accounts(templates["pipeline-catalog"], "lookup") == platform_accounts
    # the platform pipeline reads every service's ApiDomain output in the service accounts
    services = {a for svc in config.services.values() for a in svc.accounts.values()
                if a in {svc.accounts["dev"], svc.accounts["prod"]}}
    assert assumed_accounts(templates["pipeline-platform"], "lookup") == services
    # and the deploy build role has the fixed name the bootstrap trust policies match
    role = templates["pipeline-catalog"]["Resources"]["DeployBuildRole"]["Properties"]
    assert role["RoleName"] == "archway-tooling-catalog-deploy"


def test_every_build_may_clone_through_the_connection(config: Config, templates: dict) -> None:
    connection = config.platform.pipelines.connection_arn
    for template in templates.values():
        for role in ("BuildRole", "DeployBuildRole", "PipelineRole"):
            assert any("codestar-connections:UseConnection" in as_list(s["Action"])
                       and as_list(s["Resource"]) == [connection]
                       for s in statements(template["Resources"][role])), role


def test_deploys_assume_roles_in_exactly_their_accounts(config: Config, templates: dict) -> None:
    catalog = config.services["catalog"].accounts
    reviews = config.services["reviews"].accounts
    assert assumed_accounts(templates["pipeline-catalog"]) == {catalog["dev"], catalog["prod"]}
    assert assumed_accounts(templates["pipeline-reviews"]) == {reviews["dev"], reviews["prod"]}
    assert assumed_accounts(templates["pipeline-platform"]) == {
        config.environments["dev"].platform_account, config.environments["prod"].platform_account}
    for env in ("dev", "prod"):
        deploy = variables(project_of(templates["pipeline-catalog"], f"Deploy{env.title()}"))
        assert deploy["ARCHWAY_ENV"] == env
        assert deploy["ARCHWAY_TARGET_ACCOUNT"] == catalog[env]
        assert deploy["ARCHWAY_DEPLOY"] == "archway deploy service catalog --yes"
    # gate and synth builds cannot reach any target account
    for template in templates.values():
        for statement in statements(template["Resources"]["BuildRole"]):
            assert "sts:AssumeRole" not in as_list(statement["Action"])


def test_kms_key_lets_in_exactly_the_target_deploy_roles(config: Config,
                                                         templates: dict) -> None:
    template = templates["pipeline-catalog"]
    policy = template["Resources"]["ArtifactKey"]["Properties"]["KeyPolicy"]
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    assert set(by_sid) == {"AccountAdministers", "TargetDeployRolesDecrypt",
                           "ServicesPublishToTopics"}
    # CodeStar notifications may encrypt for this account's topic, and do nothing else
    publish = by_sid["ServicesPublishToTopics"]
    assert publish["Principal"] == {"Service": ["codestar-notifications.amazonaws.com"]}
    assert publish["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert publish["Condition"] == {"StringEquals": {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    targets = by_sid["TargetDeployRolesDecrypt"]
    assert targets["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    # accounts as principals (a role that does not exist yet would make KMS refuse the
    # policy), narrowed to exactly the target deploy roles by aws:PrincipalArn
    catalog = config.services["catalog"].accounts
    accounts = {r["Fn::Sub"] for r in targets["Principal"]["AWS"]}
    assert accounts == {f"arn:${{AWS::Partition}}:iam::{catalog[env]}:root"
                        for env in ("dev", "prod")}
    roles = {r["Fn::Sub"] for r in targets["Condition"]["ArnLike"]["aws:PrincipalArn"]}
    assert roles == {f"arn:${{AWS::Partition}}:iam::{catalog[env]}:role/archway-deploy-eu-west-1"
                     for env in ("dev", "prod")}
    assert by_sid["AccountAdministers"]["Principal"]["AWS"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]


def test_artifacts_are_encrypted_with_the_key_and_kept(templates: dict) -> None:
    template = templates["pipeline-platform"]
    bucket = template["Resources"]["ArtifactBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["ArtifactKey", "Arn"]}}
    store = pipeline(template)["ArtifactStore"]
    assert store["EncryptionKey"] == {"Id": {"Fn::GetAtt": ["ArtifactKey", "Arn"]},
                                      "Type": "KMS"}


def test_no_wildcard_actions_in_pipeline_and_build_roles(templates: dict) -> None:
    for template in templates.values():
        for role in resources(template, "AWS::IAM::Role").values():
            for statement in statements(role):
                assert all("*" not in a for a in as_list(statement["Action"]))
                assert "*" not in as_list(statement["Resource"])


def test_failures_notify_the_topic(templates: dict) -> None:
    rule = templates["pipeline-catalog"]["Resources"]["FailureNotifications"]["Properties"]
    assert "codepipeline-pipeline-pipeline-execution-failed" in rule["EventTypeIds"]
    assert rule["Targets"] == [{"TargetType": "SNS", "TargetAddress": {
        "Ref": "NotificationTopic"}}]


def test_cfn_lint_is_clean(config: Config) -> None:
    for stack in pipeline_stacks(config):
        assert lint_template(render(stack), stack.region) == []


def archway_commands(text: str) -> list[list[str]]:
    found = []
    for line in text.split("&&"):
        words = shlex.split(line.strip())
        if words and words[0] == "archway":
            found.append(words[1:])
    return found


def test_buildspecs_parse_and_call_commands_that_exist(config: Config,
                                                       templates: dict) -> None:
    tox_envs = set(re.findall(r"^\[testenv:([\w-]+)\]", (REPO / "tox.ini").read_text(),
                              re.MULTILINE))
    parser = build_parser()
    for path in sorted(BUILDSPECS.glob("*.yml")):
        spec = yaml.safe_load(path.read_text())
        assert spec["version"] == 0.2
        for command in (c for phase in spec["phases"].values() for c in phase["commands"]):
            for env in re.findall(r"tox -e ([\w-]+)", command):
                assert env in tox_envs, f"{path.name}: tox env {env} does not exist"
    for template in templates.values():
        for stage in ("DeployDev", "DeployProd"):
            for argv in archway_commands(variables(project_of(template, stage))["ARCHWAY_DEPLOY"]):
                parsed = parser.parse_args(argv)  # exits (fails the test) on an unknown command
                assert parsed.handler is not None


def test_synth_writes_the_pipelines_for_tooling() -> None:
    from archway.shared.commands import synth_env

    result = synth_env(REPO, "tooling")
    manifest = result.manifest
    assert manifest["env"] == "tooling"
    assert {s["account"] for s in manifest["stacks"]} == {"900000000000"}
    assert json.loads((result.out_dir / "pipeline-platform.json").read_text())["Resources"]


def test_platform_pipeline_may_deploy_edge_global_in_us_east_1(config: Config,
                                                               templates: dict) -> None:
    role = templates["pipeline-platform"]["Resources"]["DeployBuildRole"]
    (assume,) = [s for s in statements(role) if s["Sid"] == "AssumeTargetDeployRoles"]
    roles = sorted(r["Fn::Sub"].split("iam::", 1)[1] for r in assume["Resource"])
    accounts = sorted(config.environments[e].platform_account for e in ("dev", "prod"))
    assert roles == sorted(f"{a}:role/archway-deploy-{region}" for a in accounts
                           for region in ("eu-west-1", "us-east-1"))
