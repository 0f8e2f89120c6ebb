"""Text that is safe to print on a terminal or to write as one log line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Control characters (newline, ESC, ...) escaped as ``\\xNN``, so a decoded request path
    or a handler's output can neither forge a log line nor send terminal escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
