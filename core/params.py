"""Ids that arrive as text (a query parameter, a hidden field). `str.isdigit()` is the wrong test: it accepts
full-width and superscript digits ("０１", "²") that `int()` then refuses or turns into a 5,000-digit number, and the
database lookup answers 500. In core, because every app reads such ids."""

import re

_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, and small enough for a BIGINT


def parse_id(value) -> int | None:
    """The positive integer id `value` spells, or None for anything else (None, "", "abc", "０１", 10**30)."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        return None
    number = int(value)
    return number or None
