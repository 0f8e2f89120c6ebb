"""The config checks know every logical id a service stack gets, before anything is built."""

from __future__ import annotations

from pathlib import Path

import pytest

from archway.services.blueprint import service_stack
from archway.shared.config import load_config
from archway.shared.config.names import service_logical_ids
from archway.shared.model import resolve
from archway.shared.naming import logical_id


def rendered_ids(root: Path, env: str) -> dict[str, set[str]]:
    config = load_config(root)
    platform = resolve(config, env)
    ids = {}
    for service in platform.services:
        template = service_stack(platform, service).template.to_dict()
        ids[service.name] = {
            lid for lid in (*template["Resources"], *template.get("Parameters", {}))
            # the deployment and version ids carry a content hash, not a config name
            if not lid.startswith("Deployment") and "Version" not in lid
        }
    return ids


def test_the_mirror_matches_the_rendered_templates(repo_copy: Path) -> None:
    # GIVEN the real services plus a provisioned function and a dotted route
    path = repo_copy / "services" / "catalog" / "service.yaml"
    text = path.read_text()
    text = text.replace("    reads: [products]\n\nroutes:",
                        "    reads: [products]\n    reserved_concurrency: 5\n"
                        "    provisioned_concurrency: 2\n\nroutes:")
    text = text.replace("\nthrottling:",
                        '  - {method: GET, path: "/feeds/all.json", function: products}\n\n'
                        "throttling:")
    path.write_text(text)
    # WHEN listing ids from config alone, and rendering the stacks
    config = load_config(repo_copy)
    rendered = rendered_ids(repo_copy, "dev")
    # THEN both agree, id for id
    for name, service in config.services.items():
        assert {lid for lid, _ in service_logical_ids(service)} == rendered[name]
    assert "ResourceApiCatalogFeedsAllJson" in rendered["catalog"]
    assert "ProductsAlias" in rendered["catalog"]


@pytest.mark.parametrize(("parts", "expected"), [
    (("products", "search-x"), "ProductsSearchX"),
    (("search.json",), "SearchJson"),
    (("id", "param"), "IdParam"),
    (("top_sellers",), "TopSellers"),
])
def test_logical_ids_keep_only_letters_and_digits(parts: tuple[str, ...], expected: str) -> None:
    assert logical_id(*parts) == expected
