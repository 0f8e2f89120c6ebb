from __future__ import annotations

from pathlib import Path

import pytest

from archway.shared.config import Config, load_config
from archway.shared.model import Platform, resolve

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def config() -> Config:
    return load_config(REPO)


@pytest.fixture(scope="session")
def platforms(config: Config) -> dict[str, Platform]:
    return {env: resolve(config, env) for env in sorted(config.environments)}
