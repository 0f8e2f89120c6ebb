"""Property-based: mutate the real config files at random; the CLI answers exit 0, or exit 2
with exactly one line naming a config file, never a traceback, and build/ untouched."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archway.shared.cli import main

REPO = Path(__file__).resolve().parents[2]
FILES = ("config/platform.yaml", "config/environments/dev.yaml",
         "config/environments/prod.yaml", "services/catalog/service.yaml",
         "services/reviews/service.yaml")
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**13, 10**13), st.floats(allow_nan=False),
    st.text(max_size=80),
    st.sampled_from(["NO", "yes", "012345670123", "eu-west-9", "/a.b", "{id}", "_HANDLER",
                     "api-access", "S", "N", "x" * 300, "search.handler", "../x.handler"]),
)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=3)),
    max_leaves=6)


@contextmanager
def repo() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(REPO / "config", root / "config")
        for name in ("catalog", "reviews"):
            shutil.copytree(REPO / "services" / name, root / "services" / name,
                            ignore=shutil.ignore_patterns("__pycache__", "tests"))
        shutil.copytree(REPO / "platform", root / "platform",
                        ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        yield root


def paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path into a YAML document (mappings and lists)."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, (*prefix, index))
    return found


def mutate(data: Any, path: tuple, action: str, value: Any, key: str) -> None:
    if not path:
        data[key] = value
        return
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if action == "replace":
        parent[last] = value
    elif action == "delete":
        del parent[last]
    elif action == "duplicate" and isinstance(parent, list):
        parent.append(parent[last])
    elif action == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    else:
        parent[last] = value


def check(root: Path) -> None:
    out, errors = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(errors):
        code = main(["synth", "--root", str(root), "--env", "dev"])
    err = errors.getvalue()
    lines = err.splitlines()
    assert code in (0, 2), err
    if code == 2:
        assert len(lines) == 1, err
        assert lines[0].startswith(("error: config/", "error: services/")), err
        assert len(lines[0]) < 600, err
        assert not (root / "build").exists(), err
    else:
        assert (root / "build" / "dev" / "manifest.json").is_file()


@SETTINGS
@given(file=st.sampled_from(FILES), data=st.data(),
       action=st.sampled_from(["replace", "delete", "duplicate", "rename"]),
       value=values, key=st.text(min_size=1, max_size=20))
def test_mutated_config_gives_exit_0_or_one_line(
    file: str, data: st.DataObject, action: str, value: Any, key: str,
) -> None:
    with repo() as root:
        # GIVEN one real config file changed in one random place
        document = yaml.safe_load((root / file).read_text())
        path = data.draw(st.sampled_from(paths(document)), label="path")
        mutate(document, path, action, value, key)
        (root / file).write_text(yaml.safe_dump(document, allow_unicode=True))
        # WHEN synthesizing, THEN exit 0, or exit 2 with one line and nothing written
        check(root)


@SETTINGS
@given(file=st.sampled_from(FILES), cut=st.floats(0, 1), junk=st.binary(max_size=12))
def test_damaged_bytes_give_exit_0_or_one_line(
    file: str, cut: float, junk: bytes) -> None:
    with repo() as root:
        # GIVEN a config file cut short somewhere and random bytes spliced in
        raw = (root / file).read_bytes()
        at = int(len(raw) * cut)
        (root / file).write_bytes(raw[:at] + junk + raw[at:])
        # WHEN synthesizing, THEN exit 0, or exit 2 with one line and nothing written
        check(root)
