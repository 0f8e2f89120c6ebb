"""The YAML reader's bounds: hostile files fail fast, small and with their line."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from archway.shared.config import yaml_safe


def bomb(levels: int) -> bytes:
    """Billion laughs: each level is ten aliases of the previous one."""
    text = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for n in range(1, levels):
        text += f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 10)}]\n"
    return text.encode()


def problem(raw: bytes) -> yaml_safe.YamlProblem:
    with pytest.raises(yaml_safe.YamlProblem) as caught:
        yaml_safe.load(raw)
    return caught.value


def test_a_1_kb_alias_bomb_fails_before_expanding() -> None:
    # GIVEN 10**9 values in under 1 KB
    raw = bomb(9)
    assert len(raw) < 1024
    # WHEN reading it
    tracemalloc.start()
    error = problem(raw)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # THEN a short message, and a few MB at most (nothing was expanded)
    assert str(error) == ("line 5: aliases expand to more than 50000 values (an alias bomb?); "
                          "write the values out or use fewer aliases")
    assert peak < 20 * 2**20


def test_aliases_within_bounds_are_fine() -> None:
    # GIVEN a small alias tree (10**3 values) and a merge key
    raw = bomb(3) + b"base: &base {x: 1}\nuse:\n  <<: *base\n  y: 2\n"
    # WHEN reading, THEN the values are there, merge keys merged
    document = yaml_safe.load(raw)
    assert document.data["use"] == {"x": 1, "y": 2}
    assert len(document.data["a2"]) == 10


def test_deep_nesting_is_refused_before_python_recursion() -> None:
    # GIVEN 100,000 nested flow lists (PyYAML would hit RecursionError)
    raw = b"a: " + b"[" * 100_000 + b"]" * 100_000
    # WHEN reading, THEN one line naming the limit (no RecursionError)
    assert str(problem(raw)) == ("line 1: nested more than 32 levels deep (config files need "
                                 "a handful)")


@pytest.mark.parametrize(("raw", "message"), [
    (b"a: 1\nb:\n  c: 2\n  c: 3\n", "line 4: duplicate key 'c' (first on line 3); YAML keeps "
                                    "only the last one, so delete or merge one of them"),
    (b"name: ok\nowner: caf\xe9\n", "line 2: not UTF-8 (byte 0xe9); save the file as UTF-8"),
    (b"a: 1\n\nb: \x1b[31mred\n", "line 3: control character U+001B is not allowed; delete it"),
    (b"a: [1, 2\n", "line 2, column 1: invalid YAML: expected ',' or ']', but got '<stream "
                    "end>' (while parsing a flow sequence)"),
    (b"a: &x [*x]\n", "line 1: an alias refers to the node that contains it (recursive alias)"),
    (b"a: " + b"x" * (300 * 1024), "file is 300 KB; config files are limited to 256 KB"),
])
def test_hostile_or_broken_files_are_named_with_their_line(raw: bytes, message: str) -> None:
    assert str(problem(raw)) == message


def test_scalars_remember_how_they_were_written() -> None:
    # GIVEN an unquoted account id and a quoted country code
    document = yaml_safe.load(b"accounts:\n  dev: 012345670123\ngeo: ['NO', NO]\n")
    # THEN the reader knows the source text, the line and the quoting of each value
    dev = document.scalar(("accounts", "dev"))
    assert dev is not None
    assert (dev.text, dev.line, dev.quoted) == ("012345670123", 2, False)
    assert document.data["accounts"]["dev"] == 0o12345670123
    quoted, plain = document.scalar(("geo", 0)), document.scalar(("geo", 1))
    assert quoted is not None and quoted.quoted
    assert plain is not None and not plain.quoted
    assert document.data["geo"] == ["NO", False]


FAST_AND_SLOW = [
    "a: 1\nb: \"x\"\nc: NO\nd: 0123\ne: 2024-01-01\nf:\ng: 'quoted'\n",
    "base: &b {x: 1, y: [1, 2]}\nuse:\n  <<: *b\n  z: 3\nlist: [*b, *b]\n",
    "text: |\n  two\n  lines\nfolded: >\n  one\n  line\nplain: a b c\n",
    "items:\n  - {name: a, value: 1.5}\n  - name: b\n    value: -2\n    on: yes\n",
    "empty: {}\nnone: []\nnull_value: null\ntilde: ~\n",
]


@pytest.mark.parametrize("text", FAST_AND_SLOW + [
    path.read_text(encoding="utf-8") for path in sorted(
        (Path(__file__).parents[2]).glob("[cs]*/**/*.yaml"))])
def test_libyaml_and_pure_python_read_the_same(text: str) -> None:
    # GIVEN a YAML text
    if yaml_safe._FastLoader is None:
        pytest.skip("PyYAML without libyaml")
    # WHEN it is read with libyaml and with the pure-Python parser
    fast = yaml_safe._document(text, yaml_safe._FastLoader(text), fast=True)
    slow = yaml_safe._document(text, yaml_safe._Loader(text), fast=False)
    # THEN the data and where each scalar came from (text, line, quoting, tag) are the same
    assert fast == slow
