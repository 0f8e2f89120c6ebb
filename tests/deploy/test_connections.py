"""The connection manager's errors say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from archway.shared.deploy.connections import ConnectionManager, CredentialsError
from archway.shared.local.moto_server import MotoServer


def test_no_credentials_says_how_to_log_in(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    connections = ConnectionManager("archway", "eu-west-1")
    with pytest.raises(CredentialsError, match="no AWS credentials found: log in"):
        connections.client("s3", "210000000001", "eu-west-1")


def test_clients_act_in_the_account_of_the_regions_deploy_role(moto: MotoServer) -> None:
    connections = ConnectionManager("archway", "eu-west-1", endpoint_url=moto.endpoint)
    assert connections.role_arn("300000000000", "us-east-1") == \
        "arn:aws:iam::300000000000:role/archway-deploy-us-east-1"
    sts = connections.client("sts", "300000000000", "us-east-1")
    identity = sts.get_caller_identity()
    assert identity["Account"] == "300000000000"
    assert "archway-deploy-us-east-1" in identity["Arn"]
    assert connections.client("sts", "300000000000", "us-east-1") is sts  # cached
