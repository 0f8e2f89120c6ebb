"""Text that is safe to print on a terminal or to write as one log line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Control characters (newline, ESC, ...) escaped as ``\\xNN``, so a decoded request path
    or a handler's output can neither forge a log line nor send terminal escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def readable(line: str) -> str:
    """A Powertools structured log line (JSON) as ``LEVEL message (location) key=value``;
    any other line as it is."""
    import json

    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return line
    try:
        record = json.loads(text)
    except ValueError:
        return line
    if not isinstance(record, dict) or "level" not in record or "message" not in record:
        return line
    skip = {"level", "message", "location", "timestamp", "service", "cold_start",
            "function_name", "function_memory_size", "function_arn", "function_request_id",
            "sampling_rate", "xray_trace_id"}
    extras = " ".join(f"{k}={json.dumps(v, default=str)}" for k, v in record.items()
                      if k not in skip)
    where = f" ({record['location']})" if record.get("location") else ""
    message = record["message"]
    if not isinstance(message, str):
        message = json.dumps(message, default=str)
    return f"{record['level']} {message}{where}{' ' + extras if extras else ''}"
