"""pydantic's plugin lookup is skipped only when no installed distribution declares one."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

from archway.shared.config.pydantic_plugins import _declares_plugins

PROBE = """
import json, sys
import archway.shared.config.models  # noqa: F401  (builds every config model)
import recorder
print(json.dumps({"metadata": "importlib.metadata" in sys.modules,
                  "seen": sorted(set(recorder.SEEN))}))
"""
PLUGIN = """
SEEN = []


class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind,
                             config, plugin_settings):
        SEEN.append(schema_type.__name__)
        return None, None, None


plugin = Plugin()
"""


def _dist(folder: Path, name: str, entry_points: str | None) -> None:
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


def test_the_scan_finds_the_pydantic_group_and_distrusts_what_it_cannot_read(
        tmp_path: Path) -> None:
    # GIVEN a folder of distributions declaring other groups, or none
    plain = tmp_path / "plain"
    _dist(plain, "one", "[console_scripts]\none = one:main\n")
    _dist(plain, "two", None)
    # WHEN it is scanned, alone or with a distribution declaring a pydantic plugin,
    # an absent folder or a zip
    declared = tmp_path / "declared"
    _dist(declared, "three", "[console_scripts]\nx = y:z\n\n [pydantic] \nmine = m:p\n")
    archive = tmp_path / "lib.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("four-1.0.dist-info/entry_points.txt", "[pydantic]\nmine = m:p\n")
    # THEN only the plain folder (and absent ones) count as declaring no plugin
    assert _declares_plugins([str(plain), str(tmp_path / "absent")]) is False
    assert _declares_plugins([str(plain), str(declared)]) is True
    assert _declares_plugins([str(plain), str(archive)]) is True


def _probe(path: Path) -> dict[str, object]:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(path), "PATH": ""},
                          cwd=path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_an_installed_plugin_is_still_loaded_and_none_costs_no_metadata_import(
        tmp_path: Path) -> None:
    # GIVEN a plugin module on the path, its distribution not declaring it
    (tmp_path / "recorder.py").write_text(textwrap.dedent(PLUGIN))
    _dist(tmp_path, "recorder", "[console_scripts]\nr = recorder:main\n")
    # WHEN a process builds the config models
    result = _probe(tmp_path)
    # THEN pydantic used no plugin, and importlib.metadata was never imported
    assert result == {"metadata": False, "seen": []}
    # WHEN the distribution declares it as a pydantic plugin
    (tmp_path / "recorder-1.0.dist-info" / "entry_points.txt").write_text(
        "[pydantic]\nrecorder = recorder:plugin\n")
    result = _probe(tmp_path)
    # THEN pydantic loaded it and built every config model through it, as without Archway
    assert result["metadata"] is True
    assert {"PlatformConfig", "EnvironmentConfig", "ServiceConfig"} <= set(result["seen"])
