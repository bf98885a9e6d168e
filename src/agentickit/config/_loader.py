"""Reading config files: TOML (stdlib `tomllib`), `${VAR}` expansion, `AGENTICKIT_*` overrides, validation.

Environment expansion: in any string value, `${VAR}` is replaced by the variable (an error if it is
not set) and `${VAR:-default}` by the variable or `default` when it is unset or empty; `$${` writes
a literal `${`.

Environment overrides (applied after expansion, before validation; an empty value removes the key):

| variable | key |
|---|---|
| `AGENTICKIT_NAME` | `name` |
| `AGENTICKIT_SYSTEM_PROMPT` | `system_prompt` |
| `AGENTICKIT_PRESET` | `preset` |
| `AGENTICKIT_HANDLER` | `handler` |
| `AGENTICKIT_LLM_PROVIDER` | `llm.provider` |
| `AGENTICKIT_LLM_MODEL` | `llm.model` |
| `AGENTICKIT_LLM_BASE_URL` | `llm.base_url` |
| `AGENTICKIT_LLM_API_KEY` | `llm.api_key` |
| `AGENTICKIT_LLM_TEMPERATURE` | `llm.temperature` |
| `AGENTICKIT_LLM_MAX_TOKENS` | `llm.max_tokens` |
| `AGENTICKIT_LLM_TIMEOUT` | `llm.timeout` |
| `AGENTICKIT_LLM_REQUEST_TIMEOUT` | `llm.request_timeout` |
| `AGENTICKIT_LLM_MAX_RETRIES` | `llm.max_retries` |
| `AGENTICKIT_LLM_TRANSPORT` | `llm.transport` |
| `AGENTICKIT_LLM_MAX_CONCURRENCY` | `llm.max_concurrency` |
| `AGENTICKIT_MEMORY_PROVIDER` | `memory.provider` |
| `AGENTICKIT_MEMORY_HISTORY_LIMIT` | `memory.history_limit` |
| `AGENTICKIT_MEMORY_SESSION_ID` | `memory.session_id` |
| `AGENTICKIT_MEMORY_MAX_HISTORY_TOKENS` | `memory.max_history_tokens` |
| `AGENTICKIT_MEMORY_PATH` | `memory.path` |
| `AGENTICKIT_MEMORY_DSN` | `memory.dsn` |
| `AGENTICKIT_MEMORY_URL` | `memory.url` |
| `AGENTICKIT_MEMORY_PREFIX` | `memory.prefix` |
| `AGENTICKIT_MEMORY_PGBOUNCER` | `memory.pgbouncer` |
| `AGENTICKIT_MEMORY_TTL` | `memory.ttl` |
| `AGENTICKIT_MEMORY_MAX_MESSAGES` | `memory.max_messages` |
| `AGENTICKIT_MEMORY_MAX_BYTES` | `memory.max_bytes` |
| `AGENTICKIT_MEMORY_SWEEP_INTERVAL` | `memory.sweep_interval` |
| `AGENTICKIT_MEMORY_EMBEDDER` | `memory.embedder` |
| `AGENTICKIT_MEMORY_EMBEDDING_MODEL` | `memory.embedding_model` |
| `AGENTICKIT_MEMORY_EMBEDDING_BASE_URL` | `memory.embedding_base_url` |
| `AGENTICKIT_MEMORY_EMBEDDING_DIM` | `memory.embedding_dim` |
| `AGENTICKIT_MEMORY_RAG_K` | `memory.rag_k` |
| `AGENTICKIT_MEMORY_RAG_MAX_TOKENS` | `memory.rag_max_tokens` |
| `AGENTICKIT_MEMORY_HISTORY_WEIGHT` | `memory.history_weight` |
| `AGENTICKIT_MEMORY_KNOWLEDGE_WEIGHT` | `memory.knowledge_weight` |
| `AGENTICKIT_MEMORY_VECTORS` | `memory.vectors` |
| `AGENTICKIT_MEMORY_EF_SEARCH` | `memory.ef_search` |
| `AGENTICKIT_STREAMING_BUFFER_SIZE` | `streaming.buffer_size` |
| `AGENTICKIT_STREAMING_FLUSH_INTERVAL` | `streaming.flush_interval` |
| `AGENTICKIT_STREAMING_TEXT_ONLY` | `streaming.text_only` |
| `AGENTICKIT_STREAMING_INCLUDE_THOUGHTS` | `streaming.include_thoughts` |
| `AGENTICKIT_STREAMING_INCLUDE_TOOL_CALLS` | `streaming.include_tool_calls` |
| `AGENTICKIT_STREAMING_INCLUDE_METADATA` | `streaming.include_metadata` |
| `AGENTICKIT_STREAMING_TIMEOUT` | `streaming.timeout` |
| `AGENTICKIT_TOOLS_TIMEOUT` | `tools.timeout` |
| `AGENTICKIT_TOOLS_MAX_RETRIES` | `tools.max_retries` |
| `AGENTICKIT_TOOLS_MAX_CONCURRENT` | `tools.max_concurrent` |
| `AGENTICKIT_TOOLS_RATE_LIMIT` | `tools.rate_limit` |
| `AGENTICKIT_TOOLS_CACHE_ENABLED` | `tools.cache.enabled` |
| `AGENTICKIT_TOOLS_CACHE_TTL` | `tools.cache.ttl` |
| `AGENTICKIT_TOOLS_CACHE_BACKEND` | `tools.cache.backend` |
| `AGENTICKIT_TOOLS_CACHE_URL` | `tools.cache.url` |
| `AGENTICKIT_LIMITS_REQUEST_LIMIT` | `limits.request_limit` |
| `AGENTICKIT_LIMITS_INPUT_TOKENS_LIMIT` | `limits.input_tokens_limit` |
| `AGENTICKIT_LIMITS_OUTPUT_TOKENS_LIMIT` | `limits.output_tokens_limit` |
| `AGENTICKIT_LIMITS_TOTAL_TOKENS_LIMIT` | `limits.total_tokens_limit` |
| `AGENTICKIT_LIMITS_TOOL_CALLS_LIMIT` | `limits.tool_calls_limit` |
| `AGENTICKIT_LIMITS_COST_LIMIT` | `limits.cost_limit` |

A variable that starts with one of the section prefixes above (`AGENTICKIT_LLM_`, `AGENTICKIT_MEMORY_`,
`AGENTICKIT_STREAMING_`, `AGENTICKIT_TOOLS_`, `AGENTICKIT_LIMITS_`) but names no key is an error (it is probably a typo);
other `AGENTICKIT_*` variables belong to other parts of agentickit and are left alone.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigFileError
from ._schema import Config

__all__ = ("ENV_OVERRIDES", "load_config", "loads_config")


def _override_table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for name in ("name", "system_prompt", "preset", "handler"):
        table[f"AGENTICKIT_{name.upper()}"] = (name,)
    sections: list[tuple[tuple[str, ...], type[BaseModel]]] = []
    from ._schema import LimitsSection, LLMSection, MemorySection, StreamingSection, ToolCacheSection, ToolsSection

    sections = [
        (("llm",), LLMSection),
        (("memory",), MemorySection),
        (("streaming",), StreamingSection),
        (("tools",), ToolsSection),
        (("tools", "cache"), ToolCacheSection),
        (("limits",), LimitsSection),
    ]
    for prefix, model in sections:
        for field, info in model.model_fields.items():
            if _is_scalar(info.annotation):
                path = (*prefix, field)
                table["AGENTICKIT_" + "_".join(p.upper() for p in path)] = path
    return table


def _is_scalar(annotation: Any) -> bool:
    for arg in _flatten(annotation):
        origin = typing.get_origin(arg) or arg
        if origin in (list, dict) or (isinstance(origin, type) and issubclass(origin, BaseModel)):
            return False
    return True


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        out: list[Any] = []
        for a in typing.get_args(annotation):
            out.extend(_flatten(a))
        return out
    return [annotation]


ENV_OVERRIDES: dict[str, tuple[str, ...]] = _override_table()
"""`AGENTICKIT_*` variable -> the key path it overrides (see the module docstring)."""

_SECTION_PREFIXES = (
    "AGENTICKIT_LLM_",
    "AGENTICKIT_MEMORY_",
    "AGENTICKIT_STREAMING_",
    "AGENTICKIT_TOOLS_",
    "AGENTICKIT_LIMITS_",
)
_VAR = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_KEYS = frozenset(("api_key", "headers", "env"))
"""Keys whose values are secrets: a validation error names the key, never the value."""
_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _fmt_path(parts: tuple[str | int, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _expand(value: Any, env: Mapping[str, str], path: tuple[str | int, ...], source: str, expanded: set[str]) -> Any:
    """`value` with `${VAR}`s replaced; the key paths that took a variable's value go to `expanded`.

    An error never quotes a value that came from the environment (it may be a key): it names the
    variable instead.
    """
    if isinstance(value, str):
        if "$" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            whole = m.group(0)
            if whole == "$${":
                return "${"
            body = m.group(1)
            if body is None:
                raise ConfigFileError(
                    f"{source}: {_fmt_path(path)}: unterminated '${{' in {_clip(value)}; write ${{VAR}} or $${{ for a literal",
                    path=source,
                    key=_fmt_path(path),
                )
            name, sep, default = body.partition(":-")
            if not _VAR_NAME.match(name):
                raise ConfigFileError(
                    f"{source}: {_fmt_path(path)}: {whole!r} is not a variable reference; "
                    "write ${VAR} or ${VAR:-default} (or $${ for a literal '${')",
                    path=source,
                    key=_fmt_path(path),
                )
            found = env.get(name)
            if found is None or (sep and found == ""):
                if sep:
                    return default
                raise ConfigFileError(
                    f"{source}: {_fmt_path(path)}: environment variable {name} is not set; "
                    f"set it, or give a default: ${{{name}:-default}}",
                    path=source,
                    key=_fmt_path(path),
                )
            expanded.add(_fmt_path(path))
            return found

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        table: dict[str, Any] = value  # type: ignore[assignment]
        return {k: _expand(v, env, (*path, k), source, expanded) for k, v in table.items()}
    if isinstance(value, list):
        items: list[Any] = value  # type: ignore[assignment]
        return [_expand(v, env, (*path, i), source, expanded) for i, v in enumerate(items)]
    return value


def _clip(value: str, limit: int = 80) -> str:
    """A value quoted in an error, cut short: a config value may be megabytes long."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + f"... ({len(value)} characters)"


_MAX_PROBLEMS = 20
"""Problems listed in one config error; the rest are counted ("and 199,980 more")."""


def _apply_overrides(data: dict[str, Any], env: Mapping[str, str], source: str) -> dict[str, str]:
    applied: dict[str, str] = {}
    for var, raw in env.items():
        if not var.startswith("AGENTICKIT_"):
            continue
        path = ENV_OVERRIDES.get(var)
        if path is None:
            if var.startswith(_SECTION_PREFIXES):
                close = difflib.get_close_matches(var, ENV_OVERRIDES, n=1, cutoff=0.75)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigFileError(
                    f"{source}: environment variable {var} overrides no config key{hint} "
                    "(see agentickit.config.ENV_OVERRIDES for the list)",
                    path=source,
                    key=None,
                )
            continue
        table: dict[str, Any] = data
        for part in path[:-1]:
            sub: Any = table.get(part)
            if not isinstance(sub, dict):
                if raw == "":
                    break
                sub = {}
                table[part] = sub
            table = typing.cast(dict[str, Any], sub)
        else:
            if raw == "":
                table.pop(path[-1], None)
            else:
                table[path[-1]] = raw
            applied[".".join(path)] = var
    return applied


def _walk_loc(data: Any, loc: tuple[int | str, ...]) -> tuple[str | int, ...]:
    """The user's key path for a pydantic error location (union and validator tags dropped)."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(cur, dict) and part in cur:
            out.append(part)
            cur = cur[part]  # pyright: ignore[reportUnknownVariableType]
        elif isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur):  # pyright: ignore[reportUnknownArgumentType]
            out.append(part)
            cur = cur[part]  # pyright: ignore[reportUnknownVariableType]
        elif last and isinstance(cur, dict) and isinstance(part, str) and not part.startswith(("function-", "str")):
            out.append(part)  # a missing key
    return tuple(out)


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The schema model that holds the keys at `path` (for "valid keys" and "did you mean")."""
    model: Any = Config
    skip_key = False
    for part in path:
        if isinstance(part, int):
            continue
        if skip_key:  # the user's own name in a table of tables (`tool_policies.NAME`)
            skip_key = False
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if model is Config and part == "agents" and len(path) > 1:
            from ._schema import AgentSection

            model = AgentSection
            continue
        info = model.model_fields.get(part)
        if info is None:
            return None
        candidates = [a for a in _flatten(info.annotation) if a is not type(None)]
        nxt: Any = None
        for c in candidates:
            origin = typing.get_origin(c)
            if origin is list:
                c = typing.get_args(c)[0]
            elif origin is dict:
                value = typing.get_args(c)[1]
                if isinstance(value, type) and issubclass(value, BaseModel):
                    c, skip_key = value, True
            if isinstance(c, type) and issubclass(c, BaseModel):
                nxt = c
        model = nxt
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _expected(err: Mapping[str, Any]) -> str:
    msg: str = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if msg.startswith("Input should be "):
        msg = "expected " + msg[len("Input should be ") :]
    return msg


def _error_from_validation(
    exc: ValidationError, data: dict[str, Any], source: str, env_keys: dict[str, str], secret: set[str]
) -> str:
    lines: list[str] = []
    first_key: str | None = None
    errors = exc.errors()
    for err in errors[:_MAX_PROBLEMS]:
        path = _walk_loc(data, tuple(err["loc"]))
        key = _fmt_path(path) or "(top level)"
        if first_key is None:
            first_key = key
        kind = err["type"]
        if key in env_keys:
            origin = f" (from {env_keys[key]})"
        else:
            # A section's rule (`memory: \`path\` is only used with ...`) may be about a key an
            # AGENTICKIT_* variable set: say so, or the file looks fine and the error makes no sense.
            inside = [f"{k} from {v}" for k, v in env_keys.items() if k.startswith(key + ".")]
            origin = f" ({', '.join(inside)})" if inside and key != "(top level)" else ""
        if kind == "extra_forbidden":
            parent = _model_at(path[:-1])
            valid = sorted(parent.model_fields) if parent is not None else []
            name = str(path[-1]) if path else key
            close = difflib.get_close_matches(name, valid, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            where = _fmt_path(path[:-1]) or "the top level"
            lines.append(f"{key}: unknown key{hint} (valid keys in {where}: {', '.join(valid)})")
        elif kind == "missing":
            lines.append(f"{key}: required key is missing")
        else:
            got = err.get("input")
            expected = _expected(err)
            if key in secret or any(key.startswith(k + ".") or key.startswith(k + "[") for k in secret):
                # From an environment variable: maybe a key, never quoted.
                shown = ", got the value of an environment variable (not shown)"
                expected = expected.split(", got ")[0] if ", got " in expected else expected
            elif any(part in _SECRET_KEYS for part in path) or isinstance(got, dict | list) or "got " in expected:
                shown = ""
            elif isinstance(got, str):
                shown = f", got {_clip(got)}"
            else:
                shown = f", got {got!r}"[:120]
            lines.append(f"{key}{origin}: {expected}{shown}")
    if len(errors) > _MAX_PROBLEMS:
        lines.append(f"... and {len(errors) - _MAX_PROBLEMS:,} more")
    count = len(errors)
    text = lines[0] if count == 1 else f"{count:,} problems:\n  " + "\n  ".join(lines)
    return f"{source}: {text}"


def loads_config(
    text: str, *, source: str = "<string>", env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> Config:
    """Parse and validate config text; see `load_config`.

    Raises:
        ConfigError: (a `ConfigFileError`) the text is not TOML or does not fit the schema.

    """
    try:
        raw = tomllib.loads(text)
    except RecursionError:
        raise ConfigFileError(
            f"{source}: arrays or tables nested too deeply to read (a config needs a few levels, not thousands)",
            path=source,
        ) from None
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        if m:
            line, column = int(m.group(1)), int(m.group(2))
        else:  # "(at end of document)"
            lines = text.splitlines() or [""]
            line, column = len(lines), len(lines[-1]) + 1
        reason = _TOML_POS.sub("", str(exc)).replace("(at end of document)", "at the end of the file").strip()
        raise ConfigFileError(
            f"{source}:{line}:{column}: not valid TOML: {reason} (line {line}, column {column})",
            path=source,
            line=line,
            column=column,
        ) from None
    environ: Mapping[str, str] = os.environ if env is None else env
    expanded: set[str] = set()
    try:
        data: dict[str, Any] = _expand(raw, environ, (), source, expanded)
    except RecursionError:
        raise ConfigFileError(f"{source}: arrays or tables nested too deeply to read", path=source) from None
    env_keys = _apply_overrides(data, environ, source)
    for key in env_keys:
        expanded.add(key)
    try:
        cfg = Config.model_validate(data)
    except RecursionError:
        raise ConfigFileError(f"{source}: arrays or tables nested too deeply to validate", path=source) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _fmt_path(_walk_loc(data, tuple(first["loc"]))) or None
        raise ConfigFileError(
            _error_from_validation(exc, data, source, env_keys, expanded), path=source, key=key
        ) from None
    cfg._source = source  # pyright: ignore[reportPrivateUsage]
    cfg._source_dir = base_dir  # pyright: ignore[reportPrivateUsage]
    return cfg


def load_config(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read a TOML config file into a validated `Config`.

    `${VAR}` / `${VAR:-default}` are expanded from `env` (default: `os.environ`) and `AGENTICKIT_*`
    variables override keys (see `ENV_OVERRIDES`).

    Raises:
        ConfigError: (a `ConfigFileError`) the file is missing or unreadable, is not TOML (the
            message has the line and column), has an unknown key (with the closest valid key), a
            wrong type or value, or misses a required key; the message names the file and key path.

    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigFileError(f"{p}: config file not found", path=str(p)) from None
    except IsADirectoryError:
        raise ConfigFileError(f"{p}: is a directory, not a config file", path=str(p)) from None
    except UnicodeDecodeError as exc:
        raise ConfigFileError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(p)) from None
    except OSError as exc:
        raise ConfigFileError(f"{p}: cannot read the config file: {exc.strerror}", path=str(p)) from None
    return loads_config(text, source=str(p), env=env, base_dir=p.resolve().parent)
