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
from archway.shared.local.cloud import ensure_asset_buckets, local_engine
from archway.shared.local.moto_server import MotoServer
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
    assert {r.id: r.outcome for r in results} == {
        "svc-catalog": "created", "svc-reviews": "created",
        "edge-global": "created", "edge": "created"}
    catalog, reviews = platform.service("catalog"), platform.service("reviews")
    client = engine.connections.client
    # each table exists in its service's account only
    assert client("dynamodb", catalog.account, catalog.region).list_tables()["TableNames"] == [
        "archway-local-catalog-products"]
    assert client("dynamodb", reviews.account, reviews.region).list_tables()["TableNames"] == [
        "archway-local-reviews-reviews"]
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
        assert keys == [asset["key"]]
        assert asset["bucket"] == f"archway-assets-{service.account}-{service.region}"


def test_edge_parameters_come_from_other_accounts(deployed) -> None:  # noqa: ANN001
    platform, engine, _, _ = deployed
    edge = engine.targets["edge"]
    params = engine.resolve(edge)
    catalog = engine.targets["svc-catalog"]
    catalog_outputs = engine.provider_for(catalog).describe(catalog).outputs
    assert params.values["CatalogApiDomain"] == catalog_outputs["ApiDomain"]
    assert catalog.account != edge.account
    # the secret is shared by the service's API key and the edge's header, kept encrypted
    # in the platform account
    assert params.values["CatalogOriginSecret"] == \
        engine.resolve(catalog).values["OriginSecret"]
    ssm = engine.connections.client("ssm", platform.account, platform.home_region)
    stored = ssm.get_parameter(Name="/archway/local/origin-secret/catalog")["Parameter"]
    assert stored["Type"] == "SecureString"


def test_second_deploy_is_a_no_op(deployed) -> None:  # noqa: ANN001
    _, engine, _, out = deployed
    before = out.getvalue()
    results = engine.deploy(engine.select("all"))
    assert {r.outcome for r in results} == {"skipped"}
    assert "uploaded" not in out.getvalue()[len(before):]


def test_no_secret_in_any_printed_line(deployed) -> None:  # noqa: ANN001
    _, engine, _, out = deployed
    for name in ("catalog", "reviews"):
        secret = engine.secrets.get_or_create(name)
        assert secret not in out.getvalue()
        for stack in engine.targets.values():
            assert secret not in stack.template_body


def test_edge_is_stale_after_a_secret_rotates(deployed) -> None:  # noqa: ANN001
    platform, engine, _, _ = deployed
    states = {t.id: s for t, s in engine.status()}
    assert edge_staleness(engine, states) == []
    # WHEN the reviews secret is rotated (a new value in the platform account's store)
    ssm = engine.connections.client("ssm", platform.account, platform.home_region)
    ssm.delete_parameter(Name="/archway/local/origin-secret/reviews")
    engine.secrets._cache.clear()  # noqa: SLF001 - a new process would not remember it
    engine.deploy(engine.select("service", "reviews"))
    # THEN the edge is stale until it is redeployed
    states = {t.id: s for t, s in engine.status()}
    assert edge_staleness(engine, states)[-1] == "redeploy with: archway deploy edge"
    engine.deploy(engine.select("edge"))
    states = {t.id: s for t, s in engine.status()}
    assert edge_staleness(engine, states) == []
