from __future__ import annotations

from collections.abc import Iterator

import pytest

from archway.shared.local.moto_server import MotoServer


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    """moto's server on 127.0.0.1 (a child process), one per test module."""
    with MotoServer() as server:
        yield server
