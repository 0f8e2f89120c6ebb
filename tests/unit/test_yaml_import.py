"""PyYAML imported with its reader's printable-character pattern compiled on first use
still refuses what PyYAML refuses, with PyYAML's words."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
if sys.argv[1] == "deferred":
    from archway.shared.config.yaml_import import import_yaml
    import_yaml()
import yaml, yaml.reader
deferred = not isinstance(yaml.reader.Reader.NON_PRINTABLE, type(__import__("re").compile("")))
results = []
for text in ("a: 1\\nb: [x, 'y']\\n", "a: \\x07", "k: \\ud7ff\\ufffe"):
    try:
        results.append(repr(yaml.load(text, Loader=yaml.SafeLoader)))
    except yaml.YAMLError as exc:
        results.append(str(exc))
print(json.dumps([deferred, results]))
"""


def _run(mode: str) -> list[object]:
    proc = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_the_deferred_pattern_reads_and_refuses_as_pyyaml_does() -> None:
    # GIVEN PyYAML imported as Archway's config loader imports it, and as usual
    deferred, ours = _run("deferred")
    plain, theirs = _run("plain")
    # WHEN its pure-Python loader reads a good file and files with characters YAML forbids
    # THEN the pattern was deferred only in the first process, and every result (data or
    # error with its position) is PyYAML's own
    assert (deferred, plain) == (True, False)
    assert ours == theirs
    assert "special characters are not allowed" in str(ours[1])
