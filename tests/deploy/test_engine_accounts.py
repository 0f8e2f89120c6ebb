"""The deploy engine across accounts on moto: placement, parameters, assets, no-op, staleness.

The stacks land through the LocalProvider (moto's CloudFormation cannot run these
templates); what is checked here is the engine's part: which account and region each
stack, table, asset and secret goes to, and how values cross accounts.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from archway.shared.commands import load_platform
from archway.shared.deploy.cli import edge_staleness
from archway.shared.deploy.display import Display
from archway.shared.deploy.routes import FileRoutes
from archway.shared.local.cloud import ensure_asset_buckets, local_engine, route_store_path
from archway.shared.local.moto_server import MotoServer
from archway.shared.routes import RouteEntry
from archway.shared.synth import synth

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    root = tmp_path_factory.mktemp("repo")
    for folder in ("config", "services", "platform"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
    platform = load_platform(root, "local")
    out = io.StringIO()
    engine = local_engine(platform, synth(platform), moto.endpoint, Display(out))
    ensure_asset_buckets(engine)
    results = engine.deploy(engine.select("all"))
    return platform, engine, results, out


def test_every_stack_lands_in_its_account_and_region(deployed) -> None:  # noqa: ANN001
    platform, engine, results, _ = deployed
    assert {r.id: r.outcome for r in results} == {t: "created" for t in engine.targets}
    client = engine.connections.client
    # each table exists in its service's account only
    for service in platform.services:
        tables = client("dynamodb", service.account, service.region).list_tables()
        mine = {t.physical for t in service.tables.values()}
        others = {t.physical for s in platform.services if s.account != service.account
                  for t in s.tables.values()}
        assert mine <= set(tables["TableNames"])
        assert not others & set(tables["TableNames"])
    assert client("dynamodb", platform.account, platform.home_region) \
        .list_tables()["TableNames"] == []
    # edge-global in us-east-1 of the platform account; edge in its home region
    assert engine.provider_for(engine.targets["edge-global"]).describe(
        engine.targets["edge-global"]).status == "CREATE_COMPLETE"
    assert engine.targets["edge-global"].region == "us-east-1"


def test_assets_land_in_their_accounts_bucket(deployed) -> None:  # noqa: ANN001
    platform, engine, _, _ = deployed
    for service in platform.services:
        asset = engine.synth.manifest["assets"][service.name]
        s3 = engine.connections.client("s3", service.account, service.region)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=asset["bucket"])["Contents"]]
        assert asset["key"] in keys
        assert asset["bucket"] == f"archway-assets-{service.account}-{service.region}"


def routes(engine) -> dict[str, RouteEntry]:  # noqa: ANN001
    store = FileRoutes(route_store_path(engine.platform))
    return {k: RouteEntry.parse(k, v) for k, v in store.items().items()}


def test_deploy_registers_every_service_in_the_route_store(deployed) -> None:  # noqa: ANN001
    platform, engine, _, _ = deployed
    live = routes(engine)
    # THEN every service is routed to its own API, in its own account, with its secret
    assert sorted(live) == sorted(s.name for s in platform.services)
    for service in platform.services:
        target = engine.targets[f"svc-{service.name}"]
        outputs = engine.provider_for(target).describe(target).outputs
        entry = live[service.name]
        assert (entry.domain, entry.stage) == (outputs["ApiDomain"], service.stage)
        # the secret is shared by the service's API key and its route, kept encrypted in
        # the platform account
        assert entry.secret == engine.resolve(target).values["OriginSecret"]
    ssm = engine.connections.client("ssm", platform.account, platform.home_region)
    first = platform.services[0].name
    stored = ssm.get_parameter(Name=f"/archway/local/origin-secret/{first}")["Parameter"]
    assert stored["Type"] == "SecureString"
    # AND the registrar trusts exactly the accounts of the services and the platform
    accounts = engine.resolve(engine.targets["edge"]).values["RegistrarAccounts"]
    assert accounts.split(",") == sorted({s.account for s in platform.services}
                                         | {platform.account})
    assert {row.state for row in engine.registry(engine.targets["edge"]).table()} == \
        {"registered"}


def test_second_deploy_is_a_no_op(deployed) -> None:  # noqa: ANN001
    _, engine, _, out = deployed
    before = out.getvalue()
    results = engine.deploy(engine.select("all"))
    assert {r.outcome for r in results} == {"skipped"}
    assert "uploaded" not in out.getvalue()[len(before):]


def test_no_secret_in_any_printed_line(deployed) -> None:  # noqa: ANN001
    platform, engine, _, out = deployed
    for service in platform.services:
        secret = engine.secrets.get_or_create(service.name)
        assert secret not in out.getvalue()
        for stack in engine.targets.values():
            assert secret not in stack.template_body


def test_a_rotated_secret_reaches_the_route_without_an_edge_deploy(deployed) -> None:  # noqa: ANN001
    platform, engine, _, out = deployed
    states = {t.id: s for t, s in engine.status()}
    assert edge_staleness(engine, states) == []
    service = platform.services[-1].name
    old = routes(engine)[service].secret
    # WHEN the secret is rotated (a new value in the platform account's store)
    ssm = engine.connections.client("ssm", platform.account, platform.home_region)
    ssm.delete_parameter(Name=f"/archway/local/origin-secret/{service}")
    engine.secrets._cache.clear()  # noqa: SLF001 - a new process would not remember it
    engine.deploy(engine.select("service", service))
    # THEN the service's deploy wrote the new secret into its route; the edge is current
    new = routes(engine)[service].secret
    assert new != old
    assert new == engine.resolve(engine.targets[f"svc-{service}"]).values["OriginSecret"]
    states = {t.id: s for t, s in engine.status()}
    assert edge_staleness(engine, states) == []
    assert new not in out.getvalue()


def test_routes_of_removed_services_go_with_the_next_edge_deploy(deployed) -> None:  # noqa: ANN001
    _, engine, _, out = deployed
    # GIVEN an entry for a service that config does not have
    store = FileRoutes(route_store_path(engine.platform))
    store.put("gone", RouteEntry("gone", "x.execute-api.eu-west-1.amazonaws.com", "live",
                                 "s" * 43).value())
    assert [r.state for r in engine.registry(engine.targets["edge"]).table()
            if r.service == "gone"] == ["orphan"]
    # WHEN the edge is deployed
    engine.deploy(engine.select("edge"))
    # THEN the entry is removed, and said so
    assert "gone" not in store.items()
    assert "removed /api/gone/*" in out.getvalue()


def test_plan_shows_a_route_that_a_deploy_would_register(deployed) -> None:  # noqa: ANN001
    platform, engine, _, _ = deployed
    service = platform.services[0].name
    target = engine.targets[f"svc-{service}"]
    assert engine.route_preview(target) == []
    # GIVEN the service's entry is missing from the store
    store = FileRoutes(route_store_path(engine.platform))
    value = store.get(service)
    store.delete(service)
    try:
        # THEN the plan says the deploy registers it
        assert engine.route_preview(target) == [
            f"+ /api/{service}/* -> its API (registered by the deploy)"]
    finally:
        store.put(service, value)


@pytest.mark.parametrize(("selected", "expected"), [
    (["edge"], {"catalog", "reviews"}),  # the edge registers every service's route
    (["svc-reviews"], {"reviews"}),  # a service deploy: its own route's secret only
    (["auth"], set()),
])
def test_a_deploy_reads_the_origin_secrets_it_needs_up_front(
        deployed, selected: list[str], expected: set[str],  # noqa: ANN001
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, engine, _, _ = deployed
    asked: list[list[str]] = []
    monkeypatch.setattr(engine.secrets, "prefetch", asked.append)
    # WHEN a deploy of ``selected`` begins
    engine.prefetch_secrets(selected)
    # THEN the secrets its stacks and routes will need are read in one go, none else
    assert [set(names) for names in asked] == ([expected] if expected else [])
