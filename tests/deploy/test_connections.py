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


def test_two_accounts_act_with_their_own_credentials_from_one_loaded_model(
        moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.loaders import Loader

    read: list[str] = []
    original = Loader.load_data_with_path

    def counting(self: Loader, name: str) -> object:
        read.append(name)
        return original(self, name)

    monkeypatch.setattr(Loader, "load_data_with_path", counting)
    connections = ConnectionManager("archway", "eu-west-1", endpoint_url=moto.endpoint)
    # GIVEN two accounts, one of them in two regions
    # WHEN each gets a DynamoDB and an STS client
    clients = {where: (connections.client("dynamodb", *where), connections.client("sts", *where))
               for where in (("210000000001", "eu-west-1"), ("210000000002", "eu-west-1"),
                             ("210000000002", "us-east-1"))}
    # THEN each client acts in its own account, as the deploy role of its region
    for (account, region), (dynamodb, sts) in clients.items():
        identity = sts.get_caller_identity()["Arn"]
        assert f":{account}:assumed-role/archway-deploy-{region}/" in identity
        assert dynamodb.meta.region_name == region
        own = connections.credentials_for(account, region)
        assert own is not None
        assert dynamodb._request_signer._credentials.access_key == own.access_key  # noqa: SLF001
    keys = {connections.credentials_for(a, r).access_key for a, r in clients}  # type: ignore[union-attr]
    assert len(keys) == 3
    # AND each service's model was read from disk once for all of them
    models = [path for path in read if path.endswith("service-2")]
    assert sorted(models) == sorted({*models}), models
    assert {path.split("/")[0] for path in models} == {"dynamodb", "sts"}
    # AND a client is made once per service, account, region and role
    assert connections.client("dynamodb", "210000000001", "eu-west-1") is \
        clients[("210000000001", "eu-west-1")][0]
