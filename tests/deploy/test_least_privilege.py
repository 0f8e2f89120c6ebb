"""The execution role is computed from the registry schemas, and nobody escalates through it.

Each test answers one "because" of docs/permissions.md, by evaluating the rendered
policies (tests/helpers/iam_eval.py) rather than by reading their text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archway.shared.blueprint import StackDef
from archway.shared.blueprint.bootstrap import resource_types
from archway.shared.blueprint.permissions import (
    READ,
    UnknownResourceType,
    compute,
    covers,
)
from archway.shared.commands import TOOLING, environments, load_platform
from archway.shared.config import load_config
from archway.shared.synth import every_deployed_stack, platform_stacks
from helpers.cfn import rendered, resources
from helpers.iam_eval import Context, allowed, decide, trusts

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, TOOLING_ACCOUNT = "310000000001", "eu-west-1", "900000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/archway-boundary-{REGION}"


def _bootstrap(env: str, account: str, region: str) -> dict[str, Any]:
    for stack in platform_stacks(load_platform(REPO, env)):
        if stack.kind == "bootstrap" and (stack.account, stack.region) == (account, region):
            return rendered(stack)
    raise AssertionError(f"no bootstrap stack for {account}/{region} in {env}")


def _context(template: dict[str, Any], account: str = ACCOUNT,
             region: str = REGION) -> Context:
    refs = {"Boundary": f"arn:aws:iam::{account}:policy/archway-boundary-{region}",
            "ExecutionRole.Arn": f"arn:aws:iam::{account}:role/archway-cfn-exec-{region}",
            "AssetsBucket.Arn": f"arn:aws:s3:::archway-assets-{account}-{region}"}
    for name in template["Resources"]:
        if name.startswith(("ExecutionPolicy", "LookupReadPolicy")):
            refs[name] = f"arn:aws:iam::{account}:policy/archway-bootstrap-{name}-X"
    return Context(account=account, region=region, refs=refs,
                   parameters={"ToolingAccount": TOOLING_ACCOUNT, "CiPrincipalArn": ""})


@pytest.fixture(scope="module")
def service_account() -> dict[str, Any]:
    return _bootstrap("prod", ACCOUNT, REGION)


def execution_documents(template: dict[str, Any], ctx: Context,
                        role_name: str = "ExecutionRole") -> list[dict[str, Any]]:
    role = template["Resources"][role_name]["Properties"]
    documents = [ctx.resolve(p["PolicyDocument"]) for p in role["Policies"]]
    attached = {ctx.resolve(ref) for ref in role.get("ManagedPolicyArns", [])}
    for name, resource in resources(template, "AWS::IAM::ManagedPolicy").items():
        if ctx.refs.get(name) in attached:
            documents.append(ctx.resolve(resource["Properties"]["PolicyDocument"]))
    return documents


def lookup_role_inline(template: dict[str, Any], ctx: Context,
                       ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The lookup role's inline policies, resolved, and its boundary (None: it has none)."""
    role = template["Resources"]["LookupRole"]["Properties"]
    documents = [ctx.resolve(p["PolicyDocument"]) for p in role["Policies"]]
    return documents, (boundary_document(template, ctx) if "PermissionsBoundary" in role
                       else None)


def boundary_document(template: dict[str, Any], ctx: Context) -> dict[str, Any]:
    return ctx.resolve(template["Resources"]["Boundary"]["Properties"]["PolicyDocument"])


# ------------------------------------------------------------------ computed grants


def _every_bootstrap() -> list[StackDef]:
    stacks = []
    for env in environments(REPO, "all"):
        if env in ("local", TOOLING):
            continue
        stacks += [s for s in platform_stacks(load_platform(REPO, env)) if s.kind == "bootstrap"]
    from archway.shared.commands import synth_env

    result = synth_env(REPO, TOOLING)
    assert any(s["kind"] == "bootstrap" for s in result.manifest["stacks"])
    return stacks


def test_every_handler_permission_of_every_type_used_is_granted() -> None:
    # GIVEN every stack any environment (and the pipelines) deploys
    used = resource_types(every_deployed_stack(REPO))
    for stack in _every_bootstrap():
        template = rendered(stack)
        ctx = _context(template, stack.account, stack.region)
        documents = execution_documents(template, ctx)
        granted = {a.lower() for d in documents for s in d["Statement"]
                   if s["Effect"] == "Allow" for a in s["Action"]}
        # WHEN the handler permissions of the types used in that account are listed
        types = used.get((stack.account, stack.region), set())
        grants = compute(types, stack.region, "archway")
        # THEN the role's policies hold every one of them, and compute() agrees
        assert covers(grants, types, stack.region) == []
        assert {a.lower() for a in grants.actions} <= granted, stack.id


def test_the_lookup_role_reads_every_resource_drift_detection_checks() -> None:
    from archway.shared.blueprint.permissions_doc import _tooling_bootstraps

    # GIVEN every stack any environment (and the pipelines) deploys, and every bootstrap
    # (the tooling account's too: its pipelines' stacks drift like any other)
    used = resource_types(every_deployed_stack(REPO))
    tooling = _tooling_bootstraps(REPO)
    assert tooling
    for stack in _every_bootstrap() + tooling:
        template = rendered(stack)
        ctx = _context(template, stack.account, stack.region)
        documents = execution_documents(template, ctx, "LookupRole")
        types = used.get((stack.account, stack.region), set())
        # WHEN the read handler permissions of the types used there are listed
        grants = compute(types, stack.region, "archway", ops=READ)
        # THEN the lookup role (which archway drift acts as) may call every one of them
        assert covers(grants, types, stack.region, ops=READ) == [], stack.id
        for grant in grants.grants:
            for action in grant.actions:
                resource = grant.resources[0].replace("${AWS::Partition}", "aws").replace(
                    "${AWS::Region}", stack.region).replace("${AWS::AccountId}", stack.account)
                assert decide(documents, action, resource) == "allow", (stack.id, action)
        # AND it may run drift detection on the platform's stacks, and on no other stack
        own = (f"arn:aws:cloudformation:{stack.region}:{stack.account}:stack/"
               "archway-prod-svc-catalog/1")
        other = f"arn:aws:cloudformation:{stack.region}:{stack.account}:stack/payroll/1"
        for action in ("cloudformation:DetectStackDrift",
                       "cloudformation:DetectStackResourceDrift",
                       "cloudformation:DescribeStackResourceDrifts"):
            assert decide(documents, action, own) == "allow", (stack.id, action)
            assert decide(documents, action, other) == "implicit", (stack.id, action)
        assert decide(documents, "cloudformation:DescribeStackDriftDetectionStatus",
                      "*") == "allow"


def test_the_lookup_role_stays_read_only(service_account: dict) -> None:
    from archway.shared.blueprint.permissions import action_info, expand

    # GIVEN a service account's lookup role, with its computed read policies
    documents = execution_documents(service_account, _context(service_account), "LookupRole")
    actions = {a for d in documents for s in d["Statement"] if s["Effect"] == "Allow"
               for entry in s["Action"] for a in expand(entry)}
    # THEN every action it holds reads or lists: none writes, tags or manages permissions
    levels = {a: action_info(a).access_level for a in actions}  # type: ignore[union-attr]
    assert {level for level in levels.values()} <= {"Read", "List"}, levels
    # AND in particular it reads no data and decrypts nothing (Lambda's read handler lists
    # kms:Decrypt, for keys Archway's functions do not use)
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/archway-prod-catalog-products"
    assert decide(documents, "dynamodb:DescribeTable", table) == "allow"
    assert decide(documents, "dynamodb:GetItem", table) == "implicit"
    assert decide(documents, "dynamodb:Scan", table) == "implicit"
    assert decide(documents, "kms:Decrypt", "*") == "implicit"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:archway-prod-catalog-search"
    assert decide(documents, "lambda:GetFunction", function) == "allow"
    assert decide(documents, "lambda:UpdateFunctionCode", function) == "implicit"


def test_coverage_fails_for_a_type_the_role_was_not_computed_for() -> None:
    # GIVEN grants computed for log groups only
    grants = compute({"AWS::Logs::LogGroup"}, REGION, "archway")
    # WHEN a template also uses an SNS subscription
    missing = covers(grants, {"AWS::Logs::LogGroup", "AWS::SNS::Subscription"}, REGION)
    # THEN exactly the subscription's handler actions are reported missing
    assert "AWS::SNS::Subscription: sns:Unsubscribe" in missing
    assert all(m.startswith("AWS::SNS::Subscription") for m in missing)


def test_a_type_without_handler_data_or_table_entry_is_refused() -> None:
    with pytest.raises(UnknownResourceType, match="AWS::Archway::Nothing"):
        compute({"AWS::Archway::Nothing"}, REGION, "archway")


@pytest.mark.parametrize(("env", "account", "region", "action", "resource"), [
    # the actions the issue found missing from the hand-written role
    ("prod", ACCOUNT, REGION, "logs:DescribeLogGroups", "*"),
    ("prod", ACCOUNT, REGION, "cloudwatch:ListTagsForResource",
     f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:archway-prod-catalog-5xx"),
    ("prod", ACCOUNT, REGION, "cloudwatch:UntagResource",
     f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:archway-prod-catalog-5xx"),
    ("prod", ACCOUNT, REGION, "sns:Unsubscribe", "*"),
    ("prod", "300000000000", REGION, "route53:GetHostedZone",
     "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"),
    ("prod", "300000000000", REGION, "route53:ListHostedZones", "*"),
])
def test_actions_the_handlers_call_are_allowed(env: str, account: str, region: str,
                                               action: str, resource: str) -> None:
    template = _bootstrap(env, account, region)
    documents = execution_documents(template, _context(template, account, region))
    assert decide(documents, action, resource) == "allow"


def test_named_resources_only_under_the_platform_prefix(service_account: dict) -> None:
    documents = execution_documents(service_account, _context(service_account))
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    assert decide(documents, "dynamodb:DeleteTable", table + "archway-prod-catalog-x") == "allow"
    assert decide(documents, "dynamodb:DeleteTable", table + "billing-ledger") == "implicit"
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
    assert decide(documents, "lambda:UpdateFunctionCode", function + "payroll") == "implicit"


# --------------------------------------------------------------- no escalation


@pytest.mark.parametrize("action", ["iam:CreateRole", "iam:PutRolePolicy",
                                    "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"])
def test_roles_are_created_and_changed_only_with_the_boundary(service_account: dict,
                                                              action: str) -> None:
    documents = execution_documents(service_account, _context(service_account))
    role = ROLE + "archway-prod-catalog-search"
    # GIVEN a role that would carry the boundary: allowed
    assert decide(documents, action, role, {"iam:PermissionsBoundary": BOUNDARY}) == "allow"
    # without it, or with another policy as its boundary: not allowed
    assert decide(documents, action, role) != "allow"
    other = f"arn:aws:iam::{ACCOUNT}:policy/archway-prod-admin"
    assert decide(documents, action, role, {"iam:PermissionsBoundary": other}) != "allow"
    assert decide(documents, action, role, {"iam:PermissionsBoundary":
                                            "arn:aws:iam::aws:policy/AdministratorAccess"}) \
        != "allow"


@pytest.mark.parametrize("target", ["archway-deploy-eu-west-1", "archway-cfn-exec-eu-west-1",
                                    "archway-lookup-eu-west-1", "archway-apigw-logs-eu-west-1"])
@pytest.mark.parametrize("action", ["iam:PutRolePolicy", "iam:AttachRolePolicy",
                                    "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
                                    "iam:PassRole", "iam:TagRole"])
def test_the_bootstrap_roles_are_out_of_reach(service_account: dict, target: str,
                                              action: str) -> None:
    documents = execution_documents(service_account, _context(service_account))
    # even a request that claims the boundary is refused by an explicit deny
    assert decide(documents, action, ROLE + target,
                  {"iam:PermissionsBoundary": BOUNDARY}) == "deny"


@pytest.mark.parametrize("action", ["iam:CreatePolicyVersion", "iam:DeletePolicy",
                                    "iam:SetDefaultPolicyVersion"])
def test_the_boundary_policy_is_out_of_reach(service_account: dict, action: str) -> None:
    documents = execution_documents(service_account, _context(service_account))
    assert decide(documents, action, BOUNDARY) == "deny"


def test_no_role_loses_its_boundary(service_account: dict) -> None:
    documents = execution_documents(service_account, _context(service_account))
    for role in ("archway-prod-catalog-search", "archway-deploy-eu-west-1"):
        assert decide(documents, "iam:DeleteRolePermissionsBoundary", ROLE + role,
                      {"iam:PermissionsBoundary": BOUNDARY}) == "deny"


@pytest.mark.parametrize(("action", "resource"), [
    ("iam:CreateRole", ROLE + "archway-x"), ("iam:AttachRolePolicy", ROLE + "archway-x"),
    ("iam:PassRole", ROLE + "archway-cfn-exec-eu-west-1"), ("iam:CreateUser", "*"),
    ("sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
    ("dynamodb:DeleteTable", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/archway-prod-x"),
])
def test_a_role_behind_the_boundary_cannot_manage_iam_or_infrastructure(
        service_account: dict, action: str, resource: str) -> None:
    boundary = boundary_document(service_account, _context(service_account))
    # GIVEN a function role whose own policy allowed everything: the boundary still caps it
    everything = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    assert not allowed([everything], action, resource, boundary=boundary)


def test_a_role_behind_the_boundary_still_does_its_runtime_work(service_account: dict) -> None:
    boundary = boundary_document(service_account, _context(service_account))
    everything = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/archway-prod-catalog-products"
    assert allowed([everything], "dynamodb:GetItem", table, boundary=boundary)
    assert allowed([everything], "logs:PutLogEvents", "*", boundary=boundary)


# ------------------------------------------------------------------------ trust


@pytest.mark.parametrize(("principal", "trusted"), [
    (f"arn:aws:iam::{TOOLING_ACCOUNT}:role/archway-tooling-catalog-deploy", True),
    (f"arn:aws:iam::{TOOLING_ACCOUNT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
     "AWSReservedSSO_ArchwayOperator_0123456789abcdef", True),
    (f"arn:aws:iam::{TOOLING_ACCOUNT}:role/archway-tooling-pipeline-catalog-BuildRole-X", False),
    (f"arn:aws:iam::{TOOLING_ACCOUNT}:role/Developer", False),
    (f"arn:aws:iam::{TOOLING_ACCOUNT}:user/alice", False),
    ("arn:aws:iam::123456789012:role/archway-tooling-catalog-deploy", False),
])
@pytest.mark.parametrize("role", ["DeployRole", "LookupRole"])
def test_deploy_and_lookup_roles_trust_named_principals_only(
        service_account: dict, role: str, principal: str, trusted: bool) -> None:
    ctx = _context(service_account)
    trust = ctx.resolve(service_account["Resources"][role]["Properties"][
        "AssumeRolePolicyDocument"])
    assert trusts(trust, principal) is trusted


def test_every_role_of_every_template_carries_the_boundary() -> None:
    # GIVEN every stack CloudFormation deploys (all environments and the pipelines)
    config = load_config(REPO)
    stacks = every_deployed_stack(config.root)
    assert {s.kind for s in stacks} >= {"service", "pipeline"}
    for stack in stacks:
        template = rendered(stack)
        for name, role in resources(template, "AWS::IAM::Role").items():
            ctx = Context(account=stack.account, region=stack.region)
            # THEN it names this account and region's boundary
            assert ctx.resolve(role["Properties"].get("PermissionsBoundary")) == \
                f"arn:aws:iam::{stack.account}:policy/archway-boundary-{stack.region}", \
                (stack.id, name)


@pytest.mark.parametrize(("action", "resource", "decision"), [
    ("s3:PutBucketPolicy", "arn:aws:s3:::archway-assets-310000000001-eu-west-1", "deny"),
    ("s3:PutObject", "arn:aws:s3:::archway-assets-310000000001-eu-west-1/assets/x.zip", "deny"),
    # Lambda reads the code as the caller: reading stays allowed
    ("s3:GetObject", "arn:aws:s3:::archway-assets-310000000001-eu-west-1/assets/x.zip",
     "allow"),
])
def test_no_stack_rewrites_code_or_opens_the_assets_bucket(
        service_account: dict, action: str, resource: str, decision: str) -> None:
    documents = execution_documents(service_account, _context(service_account))
    assert decide(documents, action, resource) == decision


@pytest.mark.parametrize(("role", "allowed_"), [
    ("arn:aws:iam::300000000000:role/archway-prod-route-registrar", True),
    ("arn:aws:iam::300000000000:role/OrganizationAccountAccessRole", False),
    ("arn:aws:iam::300000000000:role/archway-deploy-eu-west-1", False),
])
def test_the_deploy_role_assumes_only_route_registrars(service_account: dict, role: str,
                                                        allowed_: bool) -> None:
    ctx = _context(service_account)
    documents = [ctx.resolve(p["PolicyDocument"]) for p in
                 service_account["Resources"]["DeployRole"]["Properties"]["Policies"]]
    assert (decide(documents, "sts:AssumeRole", role) == "allow") is allowed_


def test_render_gives_a_role_made_without_the_boundary_the_boundary() -> None:
    from troposphere import Template, iam

    from archway.shared.synth import render

    # GIVEN a blueprint that made a role without the boundary, and a bootstrap stack
    made = []
    for kind in ("edge", "bootstrap"):
        template = Template()
        template.add_resource(iam.Role("Bare", AssumeRolePolicyDocument={"Statement": []}))
        made.append(json.loads(render(StackDef(
            id=kind, name="archway-dev-edge", account=ACCOUNT, region=REGION,
            template=template, kind=kind)))["Resources"]["Bare"]["Properties"])
    edge, bootstrap = made
    # THEN what CloudFormation receives carries this account's boundary; bootstrap's own
    # roles (the trust anchors) are left as they are
    assert Context().resolve(edge["PermissionsBoundary"]) == BOUNDARY
    assert "PermissionsBoundary" not in bootstrap


@pytest.mark.parametrize(("action", "group", "granted"), [
    ("logs:FilterLogEvents", "/aws/lambda/archway-prod-catalog-search", True),
    ("logs:FilterLogEvents", "/aws/lambda/someone-else", False),
    ("logs:FilterLogEvents", "/aws/apigateway/archway-prod-catalog", False),
    ("logs:PutLogEvents", "/aws/lambda/archway-prod-catalog-search", False),
    ("logs:DeleteLogGroup", "/aws/lambda/archway-prod-catalog-search", False),
])
def test_the_lookup_role_reads_the_platforms_function_logs_only(
        service_account: dict, action: str, group: str, granted: bool) -> None:
    # GIVEN the lookup role archway logs --env prod reads CloudWatch Logs with
    documents, boundary = lookup_role_inline(service_account, _context(service_account))
    # THEN it may filter the platform's function log groups, and nothing else of logs
    resource = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"
    assert allowed(documents, action, resource, boundary=boundary) is granted


@pytest.mark.parametrize(("action", "parameter", "granted"), [
    ("ssm:GetParameter", "archway/prod/origin-secret/catalog", True),
    ("ssm:GetParameters", "archway/prod/origin-secret/catalog", True),
    ("ssm:GetParameters", "archway/prod/stack-record/archway-prod-edge", False),
    ("ssm:GetParametersByPath", "archway/prod/origin-secret", False),
    ("ssm:PutParameter", "archway/prod/origin-secret/catalog", False),
])
def test_the_platform_lookup_role_reads_origin_secrets_only(
        action: str, parameter: str, granted: bool) -> None:
    # GIVEN the platform account's lookup role, through which every deploy reads the
    # origin secrets (the edge's deploy ten per GetParameters call)
    platform = load_platform(REPO, "prod")
    template = _bootstrap("prod", platform.account, platform.home_region)
    documents, boundary = lookup_role_inline(
        template, _context(template, platform.account, platform.home_region))
    # THEN it may read them, one or several at a time, and no other parameter; it writes none
    resource = f"arn:aws:ssm:{platform.home_region}:{platform.account}:parameter/{parameter}"
    assert allowed(documents, action, resource, boundary=boundary) is granted
