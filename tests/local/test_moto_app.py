"""moto's app as the local cloud serves it: its backend folders listed once, same answers."""

from __future__ import annotations

import pytest
from moto import backends

from archway.shared.local.moto_app import (
    OWN_PREFIX,
    _list_moto_modules_once,
    _regions_without_service_models,
)


def test_moto_modules_listed_once_give_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN moto's own listing of its backend folders (restored after the test)
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    listed = list(backends.list_of_moto_modules())
    # WHEN the local cloud's moto app lists them once
    _list_moto_modules_once()
    # THEN every later call answers the same folders, in the same order, without the disk
    monkeypatch.setattr("os.listdir", lambda *_: pytest.fail("moto's folder listed again"))
    assert list(backends.list_of_moto_modules()) == listed
    assert "dynamodb" in backends.list_of_moto_modules()
    assert "dynamodb.eu-west-1.amazonaws.com" not in backends.list_of_moto_modules()


def test_regions_listed_without_service_models_are_the_same(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from boto3.session import Session

    # GIVEN boto3's own answers for the services the shortcut covers (restored after)
    monkeypatch.setattr(Session, "get_available_regions", Session.get_available_regions)
    session = Session(region_name="eu-west-1")
    expected = {(service, partition): session.get_available_regions(service, partition)
                for service in OWN_PREFIX for partition in session.get_available_partitions()}
    # WHEN the local cloud's moto app lists them from the endpoints file alone
    _regions_without_service_models()
    fresh = Session(region_name="eu-west-1")
    monkeypatch.setattr(fresh._session, "get_service_data",
                        lambda *_: pytest.fail("a service model was loaded"))
    # THEN every partition gets the same regions, without loading a service model
    assert {key: fresh.get_available_regions(*key) for key in expected} == expected
    assert "eu-west-1" in expected[("ec2", "aws")]
