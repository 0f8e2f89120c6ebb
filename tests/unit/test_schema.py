"""`archway schema` writes JSON Schemas that accept the real files and reject bad ones."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from archway.shared.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_schemas_validate_the_repository_files(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--root", str(REPO), "--out", str(tmp_path)]) == 0
    service = json.loads((tmp_path / "service.schema.json").read_text())
    platform = json.loads((tmp_path / "platform.schema.json").read_text())
    catalog = yaml.safe_load((REPO / "services/catalog/service.yaml").read_text())
    jsonschema.validate(catalog, service)
    jsonschema.validate(yaml.safe_load((REPO / "config/platform.yaml").read_text()), platform)
    catalog["functions"]["search"]["memory"] = 64
    with pytest.raises(jsonschema.ValidationError, match="64 is less than the minimum of 128"):
        jsonschema.validate(catalog, service)
    assert "wrote" in capsys.readouterr().out
