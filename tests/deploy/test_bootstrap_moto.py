"""`archway bootstrap` against moto's server: one stack per account and region, then no-op.

moto runs the bootstrap template's resources (bucket, roles); it stands in for the
AWS API and the accounts here, not as proof of what AWS would create.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from archway.shared.cli import main
from archway.shared.commands import load_platform
from archway.shared.deploy.bootstrap import bootstrap_targets
from archway.shared.deploy.connections import ConnectionManager
from archway.shared.local.moto_server import MotoServer

REPO = Path(__file__).resolve().parents[2]


def test_bootstrap_lands_in_every_account_then_skips(moto: MotoServer,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bootstrap", "--env", "dev", "--yes", "--root", str(REPO),
            "--endpoint-url", moto.endpoint]
    assert main(argv) == 0
    first = capsys.readouterr().out
    platform = load_platform(REPO, "dev")
    connections = ConnectionManager("archway", platform.home_region, endpoint_url=moto.endpoint)
    for account, region in bootstrap_targets(platform):
        s3 = connections.client("s3", account, region)
        buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        assert f"archway-assets-{account}-{region}" in buckets, (account, region)
        roles = [r["RoleName"] for r in
                 connections.client("iam", account, region).list_roles()["Roles"]]
        assert f"archway-deploy-{platform.home_region}" in roles or region != "eu-west-1"
    assert first.count("created") == len(bootstrap_targets(platform))
    # a second run changes nothing
    assert main(argv) == 0
    second = capsys.readouterr().out
    assert second.count("skipped") == len(bootstrap_targets(platform))


def test_the_tooling_account_bootstraps_like_any_other(
        moto: MotoServer, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # GIVEN the pipelines' pseudo-environment (docs/pipelines.md requires this step), in a
    # copy of the repository without termination protection (moto's server does not
    # implement UpdateTerminationProtection)
    root = tmp_path / "repo"
    for folder in ("config", "services", "platform", "pipelines"):
        shutil.copytree(REPO / folder, root / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
    prod = root / "config" / "environments" / "prod.yaml"
    prod.write_text(prod.read_text().replace("termination_protection: true",
                                             "termination_protection: false"))
    argv = ["bootstrap", "--env", "tooling", "--yes", "--root", str(root),
            "--endpoint-url", moto.endpoint]
    # WHEN it is bootstrapped
    assert main(argv) == 0
    out = capsys.readouterr().out
    # THEN exactly the tooling account in the home region got its roles and bucket
    platform = load_platform(REPO, "dev")
    tooling, region = platform.tooling_account, platform.home_region
    assert out.count("created") == 1 and f"{tooling}/{region}" in out
    connections = ConnectionManager("archway", region, endpoint_url=moto.endpoint)
    roles = {r["RoleName"] for r in
             connections.client("iam", tooling, region).list_roles()["Roles"]}
    assert {f"archway-deploy-{region}", f"archway-cfn-exec-{region}",
            f"archway-lookup-{region}"} <= roles
    buckets = [b["Name"] for b in connections.client("s3", tooling, region)
               .list_buckets()["Buckets"]]
    assert f"archway-assets-{tooling}-{region}" in buckets
