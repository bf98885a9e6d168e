"""A small TOML writer for `Config.to_toml()` (the stdlib reads TOML but does not write it)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ("dumps",)

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE.match(key) else _string(key)


def _string(value: str) -> str:
    # JSON string escapes are valid TOML basic-string escapes; DEL is the one control character
    # TOML requires escaped that JSON leaves alone.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        # TOML's own date-time forms (a free-form table such as `llm.options` may hold them):
        # isoformat() writes RFC 3339, which is what TOML reads back.
        return value.isoformat()
    if isinstance(value, Mapping):
        items: Mapping[str, Any] = value  # type: ignore[assignment]
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in items.items()) + " }" if items else "{}"
    if isinstance(value, Sequence):
        seq: Sequence[Any] = value  # type: ignore[assignment]
        return "[" + ", ".join(_value(v) for v in seq) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def _is_table_array(value: Any) -> bool:
    if not isinstance(value, list) or not value:
        return False
    items: list[Any] = value  # type: ignore[assignment]
    return all(isinstance(v, Mapping) for v in items)


def _table(out: list[str], path: list[str], table: Mapping[str, Any], header: str | None) -> None:
    scalars: list[tuple[str, Any]] = []
    tables: list[tuple[str, Any]] = []
    arrays: list[tuple[str, Any]] = []
    for k, v in table.items():
        if isinstance(v, Mapping):
            tables.append((k, v))  # pyright: ignore[reportUnknownArgumentType]
        elif _is_table_array(v):
            arrays.append((k, v))
        else:
            scalars.append((k, v))
    if header is not None and (scalars or not (tables or arrays)):
        out.append("")
        out.append(header)
    for k, v in scalars:
        out.append(f"{_key(k)} = {_value(v)}")
    for k, v in tables:
        sub = [*path, k]
        _table(out, sub, v, "[" + ".".join(_key(p) for p in sub) + "]")
    for k, v in arrays:
        sub = [*path, k]
        for item in v:
            out.append("")
            out.append("[[" + ".".join(_key(p) for p in sub) + "]]")
            _table(out, sub, item, None)


def dumps(data: Mapping[str, Any]) -> str:
    """TOML text for a mapping of TOML-representable values."""
    out: list[str] = []
    _table(out, [], data, None)
    return "\n".join(out).lstrip("\n") + "\n"
