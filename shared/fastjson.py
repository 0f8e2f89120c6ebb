"""``json.dumps(data, indent=1, sort_keys=True)``, the same bytes, several times faster.

The standard library encodes with C only without ``indent``; with it (how templates and
the manifest are written: readable diffs) every token goes through Python generators
(https://github.com/python/cpython/blob/3.11/Lib/json/encoder.py: ``c_make_encoder`` is
used only when ``indent is None``). This encoder builds each container's text with one
join and leaves strings and numbers to the C functions the standard encoder uses, for
the data a template is: dicts with string keys, lists, strings, ints, floats, booleans
and None. Anything else (another key type, a float that is not finite, an object) is
handed to ``json.dumps`` itself, so the result is always exactly its result.
"""

from __future__ import annotations

import json
import math
from json.encoder import encode_basestring_ascii
from typing import Any

_string = encode_basestring_ascii


class _Other(Exception):
    """Data this encoder leaves to json.dumps."""


def dumps(data: Any) -> str:
    """Exactly ``json.dumps(data, indent=1, sort_keys=True)``."""
    try:
        return _encode(data, "\n")
    except (_Other, RecursionError):
        return json.dumps(data, indent=1, sort_keys=True)


def _encode(value: Any, newline: str) -> str:
    """``value`` encoded, ``newline`` being the line break plus the current indent."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)  # type: ignore[no-any-return]
    if kind is dict:
        if not value:
            return "{}"
        inner = newline + " "
        try:
            keys = sorted(value)
        except TypeError:
            raise _Other from None
        for key in keys:
            if type(key) is not str:
                raise _Other
        return ("{" + inner + ("," + inner).join(
            [_string(key) + ": " + (_string(item) if type(item) is str else _encode(item, inner))
             for key, item in [(key, value[key]) for key in keys]])
            + newline + "}")
    if kind is list or kind is tuple:
        if not value:
            return "[]"
        inner = newline + " "
        return ("[" + inner + ("," + inner).join(
            [_string(item) if type(item) is str else _encode(item, inner) for item in value])
                + newline + "]")
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    raise _Other
