"""Reads of other stacks go through the read-only lookup role, never the deploy role.

On moto's server: assuming a role in an account yields credentials of that role in that
account, so the role a call was made with is visible in get_caller_identity.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archway.shared.deploy.cloudformation import CloudFormationProvider
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.deploy.provider import Target
from archway.shared.local.moto_server import MotoServer

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION, STACK = "210000000001", "eu-west-1", "archway-dev-svc-catalog"
TEMPLATE = {"Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
            "Outputs": {"ApiDomain": {"Value": "abc.execute-api.eu-west-1.amazonaws.com"}}}


def test_outputs_of_another_stack_are_read_as_the_lookup_role(moto: MotoServer) -> None:
    connections = ConnectionManager("archway", REGION, endpoint_url=moto.endpoint)
    # GIVEN a service stack deployed in its account
    connections.client("cloudformation", ACCOUNT, REGION).create_stack(
        StackName=STACK, TemplateBody=json.dumps(TEMPLATE))
    used: list[str] = []

    def record(client: object) -> None:
        if client.meta.service_model.service_name == "cloudformation":  # type: ignore[attr-defined]
            used.append(client._request_signer._credentials.access_key)  # type: ignore[attr-defined]  # noqa: SLF001

    connections.on_client = record
    target = Target("svc-catalog", STACK, "service", ACCOUNT, REGION, "{}", "sha")
    # WHEN another stack's deploy reads its outputs
    state = CloudFormationProvider(connections, lambda t, c: True, lambda t, line: None).read(
        target)
    # THEN they come back, read with the lookup role's credentials
    assert state is not None and state.outputs == {
        "ApiDomain": "abc.execute-api.eu-west-1.amazonaws.com"}
    lookup = connections.credentials_for(ACCOUNT, REGION, "lookup")
    assert lookup is not None and used == [lookup.access_key]
    identity = connections.client("sts", ACCOUNT, REGION, "lookup").get_caller_identity()["Arn"]
    assert f":{ACCOUNT}:assumed-role/archway-lookup-{REGION}/" in identity


def test_origin_secrets_are_read_as_the_platform_accounts_lookup_role(
        moto: MotoServer) -> None:
    from pathlib import Path

    from archway.shared.commands import load_platform
    from archway.shared.deploy.params import SecretStore

    platform = load_platform(Path(__file__).resolve().parents[2], "dev")
    connections = ConnectionManager("archway", platform.home_region, endpoint_url=moto.endpoint)
    store = SecretStore(connections, platform)
    # GIVEN a first deploy made the secret (through the platform account's deploy role)
    made = store.get_or_create("catalog")
    # WHEN a later deploy, with a fresh store, needs it
    calls: list[tuple[str, str]] = []

    def record(client: object) -> None:
        calls.append((client.meta.service_model.service_name,  # type: ignore[attr-defined]
                      client._request_signer._credentials.access_key))  # type: ignore[attr-defined]  # noqa: SLF001

    fresh = ConnectionManager("archway", platform.home_region, endpoint_url=moto.endpoint)
    fresh.on_client = record
    assert SecretStore(fresh, platform).get_or_create("catalog") == made
    # THEN it was read with the lookup role only: no deploy role was needed
    lookup = fresh.credentials_for(platform.account, platform.home_region, "lookup")
    assert lookup is not None and calls == [("ssm", lookup.access_key)]


def _recorded(connections: ConnectionManager) -> list[tuple[str, str]]:
    """(operation, access key) of every SSM call made through ``connections``' clients."""
    calls: list[tuple[str, str]] = []

    def record(client: Any) -> None:
        if client.meta.service_model.service_name != "ssm":
            return
        key = client._request_signer._credentials.access_key  # noqa: SLF001
        client.meta.events.register(
            "before-call.ssm", lambda model, **_: calls.append((model.name, key)))

    connections.on_client = record
    return calls


def test_an_edge_deploy_reads_origin_secrets_ten_per_call(moto: MotoServer) -> None:
    from archway.shared.commands import load_platform
    from archway.shared.deploy.params import SecretStore

    platform = load_platform(REPO, "dev")
    made = SecretStore(ConnectionManager("archway", platform.home_region,
                                         endpoint_url=moto.endpoint), platform)
    # GIVEN twelve services' secrets made by earlier deploys, and one service new
    services = [f"svc{n:02}" for n in range(12)]
    values = {name: made.get_or_create(name) for name in services}
    fresh = ConnectionManager("archway", platform.home_region, endpoint_url=moto.endpoint)
    calls = _recorded(fresh)
    store = SecretStore(fresh, platform)
    # WHEN a deploy that needs them all (the edge's) reads them
    store.prefetch([*services, "brandnew"])
    read = {name: store.get_or_create(name) for name in services}
    new = store.get_or_create("brandnew")
    # THEN two GetParameters calls through the lookup role read the twelve, the new one
    # is made without a read first, and the values are those stored
    lookup = fresh.credentials_for(platform.account, platform.home_region, "lookup")
    assert lookup is not None
    assert [c for c in calls if c[0] != "PutParameter"] == [("GetParameters",
                                                             lookup.access_key)] * 2
    assert [c[0] for c in calls if c[0] == "PutParameter"] == ["PutParameter"]
    assert read == values and new not in values.values()


def test_a_lookup_role_without_get_parameters_falls_back_to_one_read_each(
        moto: MotoServer) -> None:
    from botocore.exceptions import ClientError

    from archway.shared.commands import load_platform
    from archway.shared.deploy.params import SecretStore

    platform = load_platform(REPO, "dev")
    connections = ConnectionManager("archway", platform.home_region,
                                    endpoint_url=moto.endpoint)
    stored = SecretStore(connections, platform).get_or_create("orders")
    # GIVEN a lookup role bootstrapped before it allowed ssm:GetParameters
    fresh = ConnectionManager("archway", platform.home_region, endpoint_url=moto.endpoint)
    calls = _recorded(fresh)

    def deny(model: Any, **_: Any) -> None:
        if model.name == "GetParameters":
            raise ClientError({"Error": {"Code": "AccessDeniedException",
                                         "Message": "not authorized"}}, "GetParameters")

    record = fresh.on_client

    def record_and_deny(client: Any) -> None:
        assert record is not None
        record(client)
        client.meta.events.register("before-call.ssm", deny)

    fresh.on_client = record_and_deny
    store = SecretStore(fresh, platform)
    # WHEN a deploy prefetches, then needs the secret
    store.prefetch(["orders"])
    # THEN the refusal is not an error: the secret is read on its own, not made again
    assert store.get_or_create("orders") == stored
    assert [c[0] for c in calls] == ["GetParameters", "GetParameter"]
