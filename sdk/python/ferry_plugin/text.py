"""Numbers and strings in messages written as the Rust SDK writes them (`{}` of an f64, `{:?}`
of a string), so a plugin ported from Rust reports the same text."""

from __future__ import annotations

import math
from decimal import Decimal


def number(value: float) -> str:
    """`value` as Rust's `Display` writes an f64: the shortest digits that read back to it,
    never an exponent, no `.0` on whole numbers, `NaN`, `inf` and `-inf`."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\\0"}


def quote(text: str) -> str:
    """`text` in double quotes with Rust's `{:?}` escapes."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
