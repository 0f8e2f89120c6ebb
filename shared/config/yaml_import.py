"""PyYAML imported without compiling its pure-Python reader's printable-character pattern.

``yaml.reader.Reader.NON_PRINTABLE`` is compiled when PyYAML is imported, and this one
pattern (a negated class of large Unicode ranges) takes ~8 ms of ``re``'s compiler:
a few per cent of a synth. Archway parses with libyaml (``CSafeLoader``, which checks
printable characters itself) and uses the pure-Python reader only to word the error of a
file libyaml refused. :func:`import_yaml` imports PyYAML with that one pattern made on
first use; every other pattern is compiled as usual, and the pattern behaves as compiled
(``search``, ``match``... are the compiled pattern's).
"""

from __future__ import annotations

import re
import sys
import types
from typing import Any

# PyYAML's yaml/reader.py, Reader.NON_PRINTABLE
NON_PRINTABLE = "[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]"


class _OnFirstUse:
    """A compiled pattern, compiled when first used."""

    def __init__(self, pattern: str, flags: int) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._compiled is None:
            self._compiled = _compile(*self._args)
        return getattr(self._compiled, name)


_compile = re.compile


def import_yaml() -> types.ModuleType:
    """``import yaml``, its reader's pattern deferred when this is its first import."""
    if "yaml" in sys.modules:
        return sys.modules["yaml"]

    def compile_deferring(pattern: Any, flags: int = 0) -> Any:
        if pattern == NON_PRINTABLE and flags == 0:
            return _OnFirstUse(pattern, flags)
        return _compile(pattern, flags)

    re.compile = compile_deferring  # type: ignore[assignment]
    try:
        import yaml
    finally:
        re.compile = _compile
    return yaml
