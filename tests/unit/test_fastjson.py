"""The templates' encoder writes exactly what json.dumps(indent=1, sort_keys=True) does."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from archway.shared import fastjson

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text())
KEYS = st.text() | st.integers() | st.booleans() | st.none()
DATA = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                    | st.tuples(inner, inner) | st.dictionaries(st.text(), inner, max_size=5)
                    | st.dictionaries(KEYS, inner, max_size=3), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(DATA)
def test_same_text_as_the_standard_encoder(data: Any) -> None:
    # GIVEN any JSON-like data (non-string keys, NaN, tuples and unicode included)
    try:
        expected = json.dumps(data, indent=1, sort_keys=True)
    except TypeError:  # keys of several types cannot be sorted: json.dumps refuses too
        return
    # WHEN encoded by the fast encoder
    # THEN the text is the standard encoder's, byte for byte
    assert fastjson.dumps(data) == expected


def test_a_template_like_document() -> None:
    # GIVEN a template with nesting, empty containers, unicode and numbers
    data = {"Resources": {"B": {"Type": "AWS::S3::Bucket", "Properties": {
        "Tags": [], "Empty": {}, "Name": "caf\u00e9 \"q\"\n", "Size": 3, "Ratio": 0.5,
        "On": True, "Off": False, "None": None, "Inf": math.inf}}}, "A": [[1, [2]], "x"]}
    # WHEN encoded
    # THEN as json.dumps(indent=1, sort_keys=True)
    assert fastjson.dumps(data) == json.dumps(data, indent=1, sort_keys=True)
