"""moto's app as the local cloud serves it: its backend folders listed once, same answers."""

from __future__ import annotations

import pytest
from moto import backends

from archway.shared.local.moto_app import _list_moto_modules_once


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
