"""Durations in config files: numbers of seconds, or strings such as "250ms", "30s", "5m", "1h", "1m30s"."""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ("parse_duration",)

_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_EXPECTED = 'a duration: seconds as a number (30, 0.25) or a string such as "250ms", "30s", "5m", "1h", "1m30s"'


def parse_duration(value: Any) -> float:
    """Seconds from a number or a duration string.

    Raises:
        ValueError: not a duration, negative, NaN or infinite (the message says what is accepted).

    """
    if isinstance(value, bool):  # TOML `true` is not a duration, even though bool is an int
        raise ValueError(f"expected {_EXPECTED}, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for m in _PART.finditer(text):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _UNITS[m.group(2)]
                pos = m.end()
                while pos < len(text) and text[pos] == " ":
                    pos += 1
            if pos != len(text) or not text:
                raise ValueError(f"expected {_EXPECTED}, got {value!r}") from None
    else:
        raise ValueError(f"expected {_EXPECTED}, got {type(value).__name__} {value!r}")
    if seconds < 0 or seconds != seconds:
        raise ValueError(f"expected {_EXPECTED} (>= 0), got {value!r}")
    if seconds == math.inf:
        # `inf` (or "1e999s") reached the HTTP clients, whose timers cannot take it (a raw
        # OverflowError at the first request); a key that can go unlimited takes "none".
        raise ValueError(f'expected {_EXPECTED} (finite; "none" where a key allows no limit), got {value!r}')
    return seconds
