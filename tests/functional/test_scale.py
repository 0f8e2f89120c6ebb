"""1,000 services: config, model and synth hold, the edge does not grow, routes fit the store.

One repository of 1,000 generated services (tests/helpers/scale.py) is synthesized once
for dev: about 27 s of CPU, most of it synth (the dev bootstrap stacks are derived from
every environment's stacks and the pipelines, so about 4,000 stacks are built).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from archway.platform.edge import edge_stack
from archway.platform.edge_global import edge_global_stack
from archway.shared.cli import main
from archway.shared.config import Config, load_config
from archway.shared.errors import ConfigError, ConfigErrors
from archway.shared.model import Platform, resolve
from archway.shared.routes import (
    API_ID_CHARS,
    MAX_KEY_BYTES,
    MAX_STORE_BYTES,
    SECRET_CHARS,
    RouteEntry,
    entry_bytes_bound,
    service_of,
)
from archway.shared.synth import SynthResult, synth
from helpers.scale import ACCOUNTS_PER_ENV, account, scale_repo, write_service

SERVICES = 1000
ENV = "dev"


@dataclass(frozen=True)
class Scaled:
    names: list[str]
    config: Config
    platform: Platform
    result: SynthResult


@pytest.fixture(scope="module")
def scaled(tmp_path_factory: pytest.TempPathFactory) -> Scaled:
    root = tmp_path_factory.mktemp("scale")
    names = scale_repo(root, SERVICES)
    config = load_config(root)
    platform = resolve(config, ENV)
    return Scaled(names, config, platform, synth(platform))


def test_1000_services_synthesize_each_into_its_own_account(scaled: Scaled) -> None:
    # GIVEN 1,000 services spread over 10 dev accounts
    # WHEN dev is synthesized (the fixture: load_config, resolve, synth)
    stacks = {s["id"]: s for s in scaled.result.manifest["stacks"]}
    # THEN every service has its stack, in its own account and the home region
    for index, name in enumerate(scaled.names):
        stack = stacks[f"svc-{name}"]
        assert stack["kind"] == "service"
        assert stack["account"] == account(ENV, index)
        assert stack["region"] == scaled.platform.home_region
        assert (scaled.result.out_dir / stack["template"]).is_file()
    service_accounts = {s["account"] for s in stacks.values() if s["kind"] == "service"}
    assert len(service_accounts) == ACCOUNTS_PER_ENV


def test_edge_templates_do_not_grow_with_services(scaled: Scaled,
                                                  platforms: dict[str, Platform],
                                                  tmp_path: Path) -> None:
    # GIVEN the repository's own dev platform (its few services) and the 1,000-service one
    few = platforms[ENV]
    assert len(few.services) < 10
    small = synth(few, tmp_path / ENV)
    for build in (edge_stack, edge_global_stack):
        # WHEN the edge stacks are synthesized for both
        name = f"{build(scaled.platform).id}.json"
        written = scaled.result.out_dir / name
        # THEN the templates written for 1,000 services are byte for byte the small ones
        assert written.read_text(encoding="utf-8") == \
            (small.out_dir / name).read_text(encoding="utf-8")


def test_every_route_fits_the_route_store(scaled: Scaled) -> None:
    # GIVEN the 1,000 configured services
    region = scaled.config.platform.home_region
    for env_name, env in scaled.config.environments.items():
        total = 0
        for service in scaled.platform.services:
            # THEN each public route path is looked up under the service's own key ...
            for route in service.routes:
                assert service_of(route.path) == service.name
            # ... the key is within the store's key limit, the largest value it can take
            # (10-character API id, 43-character secret) is a valid route entry ...
            assert len(service.name.encode()) <= MAX_KEY_BYTES
            domain = "x" * API_ID_CHARS + f".execute-api.{region}.amazonaws.com"
            RouteEntry(service.name, domain, env.stage_name, "s" * SECRET_CHARS).checked()
            total += entry_bytes_bound(service.name, region, env.stage_name)
        # ... and all of them together stay under the store's 5 MB
        assert total < MAX_STORE_BYTES, env_name


@pytest.mark.parametrize("bad", ["Orders", "9lives", "orders_v2", "orders/v2", "ordérs", "o" * 64])
def test_a_name_that_cannot_be_a_route_key_is_refused(
        tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a repository with valid services and one whose name is not a route key
    scale_repo(tmp_path, 3)
    folder = write_service(tmp_path, "badname", 3, ["dev", "local", "prod"])
    text = (folder / "service.yaml").read_text(encoding="utf-8")
    (folder / "service.yaml").write_text(text.replace("name: badname", f"name: {bad!r}"),
                                         encoding="utf-8")
    # WHEN config is loaded
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    # THEN one error names the file, the key and the bad value
    error = caught.value
    assert not isinstance(error, ConfigErrors)
    assert (error.file, error.path) == ("services/badname/service.yaml", "name")
    assert repr(bad) in error.message
    # AND the CLI prints that one line, exits 2 and writes nothing
    assert main(["synth", "--env", ENV, "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {error}\n"
    assert not (tmp_path / "build").exists()
