"""Bad config gets one clear line naming file, key path and bad value; exit 2; no traceback."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from archway.shared.cli import main


def edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def catalog(root: Path) -> Path:
    return root / "services" / "catalog" / "service.yaml"


def set_memory(data: dict) -> None:
    data["functions"]["search"]["memory"] = 64


def unknown_table(data: dict) -> None:
    data["functions"]["search"]["reads"] = ["products", "prices"]


def duplicate_route(data: dict) -> None:
    data["routes"].append({"method": "GET", "path": "/products/{sku}", "function": "products"})


def outside_prefix(data: dict) -> None:
    data["routes"][0]["path"] = "/api/reviews/search"


def missing_account(data: dict) -> None:
    del data["accounts"]["prod"]


def unknown_key(data: dict) -> None:
    data["functions"]["search"]["memroy"] = 512


def bad_cache(data: dict) -> None:
    data["routes"].append({"method": "POST", "path": "/x", "function": "search", "cache_ttl": 5})


CASES = {
    "memory out of range": (set_memory, "services/catalog/service.yaml: functions.search.memory: "
                            "must be between 128 and 10240 (got 64)"),
    "unknown table": (unknown_table, "services/catalog/service.yaml: functions.search.reads[1]: "
                      "unknown table 'prices' (tables: products)"),
    "duplicate route": (duplicate_route, "services/catalog/service.yaml: routes[2]: duplicate "
                        "route GET /api/catalog/products/{sku} (same as routes[1])"),
    "route outside prefix": (outside_prefix, "services/catalog/service.yaml: routes[0].path: "
                             "must be under /api/catalog/ (got '/api/reviews/search')"),
    "missing account": (missing_account, "services/catalog/service.yaml: accounts.prod: missing "
                        "account for environment 'prod' (config/environments/prod.yaml)"),
    "unknown key": (unknown_key, "services/catalog/service.yaml: functions.search.memroy: is not "
                    "a known key"),
    "cache on POST": (bad_cache, "services/catalog/service.yaml: routes[2].cache_ttl: only GET "
                      "routes can be cached (got POST with 5)"),
}


def run(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["synth", "--root", str(root), *args])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_service_config_gives_one_line_and_exit_2(
    case: str, repo_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a service.yaml broken in one way
    change, expected = CASES[case]
    edit_yaml(catalog(repo_copy), change)
    # WHEN synthesizing
    code, err = run(repo_copy, capsys, "--env", "dev")
    # THEN one line names the file, the key path and the bad value; exit 2; nothing written
    assert code == 2
    assert err.startswith("error: " + expected), err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not (repo_copy / "build").exists()


def test_two_services_claiming_one_name(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(repo_copy / "services" / "catalog", repo_copy / "services" / "catalog2")
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert err.strip() == ("error: services/catalog2/service.yaml: name: service 'catalog' is "
                           "already claimed by services/catalog/service.yaml")


def test_names_too_long_for_aws(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    # GIVEN a service whose longest function name becomes a 69-character Lambda name in local
    service = repo_copy / "services" / "inventorymanagement1"
    catalog(repo_copy).parent.rename(service)
    function = "reindex-products-by-category-daily"

    def rename(data: dict) -> None:
        data["name"] = service.name
        data["functions"][function] = {"handler": "search.handler"}

    edit_yaml(service / "service.yaml", rename)
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert err.strip() == (
        f"error: services/inventorymanagement1/service.yaml: functions.{function}: name too "
        "long: Lambda function and IAM role 'archway-local-inventorymanagement1-"
        f"{function}' would be 69 characters (max 64)")


def test_yaml_syntax_error_names_the_line(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    catalog(repo_copy).write_text("name: catalog\nfunctions: [unclosed\n")
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert err.strip() == ("error: services/catalog/service.yaml: line 3, column 1: invalid YAML: "
                           "expected ',' or ']', but got '<stream end>' (while parsing a flow "
                           "sequence)")


def test_unknown_environment(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    code, err = run(repo_copy, capsys, "--env", "staging")
    assert code == 2
    assert err.strip() == ("error: config/environments/staging.yaml: unknown environment "
                           "'staging' (known: dev, local, prod)")


def test_bad_platform_setting(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    edit_yaml(repo_copy / "config" / "platform.yaml",
              lambda d: d["edge"]["waf"].update(rate_limit={"requests": 5}))
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert err.strip() == ("error: config/platform.yaml: edge.waf.rate_limit.requests: must be "
                           "between 10 and 2000000000 (got 5)")


def test_bad_cidr_in_waf_lists(repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    edit_yaml(repo_copy / "config" / "platform.yaml",
              lambda d: d["edge"]["waf"].update(ip_deny=["10.0.0.300/8"]))
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert "config/platform.yaml: edge.waf.ip_deny: '10.0.0.300/8' is not a CIDR block" in err


def test_whole_process_exit_code_and_no_traceback(repo_copy: Path) -> None:
    # The real console entry point, as a user runs it.
    edit_yaml(catalog(repo_copy), set_memory)
    proc = subprocess.run(
        [sys.executable, "-m", "archway.shared.cli", "synth", "--root", str(repo_copy)],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: " + CASES["memory out of range"][1]
    ]


@pytest.mark.parametrize(("region", "hint"), [
    ("eu-wset-1", "; did you mean 'eu-west-1'"),
    ("eu-west-9", ""),  # shaped like a region, but none (the hint may name neighbours)
])
def test_home_region_must_be_a_region_of_the_aws_partition(
        region: str, hint: str, repo_copy: Path, capsys: pytest.CaptureFixture) -> None:
    # GIVEN a platform whose home region is misspelt, or not a region at all
    platform = repo_copy / "config" / "platform.yaml"
    platform.write_text(platform.read_text().replace("home_region: eu-west-1",
                                                     f"home_region: {region}"))
    # WHEN synthesizing THEN one line names the file, the key and the value; exit 2
    code, err = run(repo_copy, capsys)
    assert code == 2
    assert err.startswith(f"error: config/platform.yaml: home_region: {region!r} is not a "
                          f"region of the aws partition{hint}"), err
    assert len(err.strip().splitlines()) == 1
    assert not (repo_copy / "build").exists()
