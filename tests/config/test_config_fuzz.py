"""Fuzzing the config loader (`loads_config`, then building what it describes), issue 11 "Keep it that way".

Properties: any text gives a `Config` or a `ConfigFileError`; a document that sets any schema key
to any TOML value gives a `Config` or a `ConfigFileError` naming that key (never a bare `TypeError`,
`KeyError`, `AttributeError`, ...); `${VAR}` expansion and `AGENTICKIT_*` overrides of any value
likewise; a valid config round-trips through `to_toml()` and builds, or fails with a `ConfigError`.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentickit.config import ENV_OVERRIDES, Config, load_runnable, loads_config
from agentickit.config._toml import dumps
from agentickit.errors import ConfigError, ConfigFileError
from tests.config.test_keys import leaf_keys

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = tuple(leaf_keys())
# Keys whose build imports user code, spawns or connects to something, or changes the process
# (telemetry): a loaded config with them is checked, not built.
_NOT_BUILT = ("handler", "tools.functions", "output.", "mcp.", "telemetry.", "executor.", "durable.", "agents")


def _toml_value(value: Any) -> str:
    return dumps({"v": value}).removeprefix("v = ").rstrip("\n")


def _document(data: dict[str, Any]) -> str:
    # The writer `Config.to_toml()` uses: its output is read back by the loader, so it is fuzzed too.
    return dumps(data)


_scalars = st.one_of(
    st.none().map(lambda _: "none"),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "5s",
            "250ms",
            "1h",
            "none",
            "openai",
            "simulated",
            "memory",
            "sqlite",
            "redis",
            "dag",
            "loop",
            "x.y:z",
            "10/s",
        ]
    ),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    """Put `value` at the dotted `key` (`[]` as one table of an array, with the keys it needs to get that far)."""
    table = data
    parts = key.split(".")
    for part in parts[:-1]:
        if part.endswith("[]"):
            name = part[:-2]
            items = table.setdefault(name, [{}])
            if not isinstance(items, list) or not items or not isinstance(items[0], dict):
                items = table[name] = [{}]
            table = items[0]
            if name == "steps":
                table.setdefault("name", "a")
            elif name == "servers":
                table.setdefault("name", "s")
                table.setdefault("command", "c")
            elif name == "api_keys":
                table.setdefault("name", "k")
                table.setdefault("sha256", "0" * 64)
        else:
            sub = table.setdefault(part, {})
            if not isinstance(sub, dict):
                sub = table[part] = {}
            table = sub
            if part == "workflow":
                table.setdefault("steps", [{"name": "a"}])
            elif part == "output":
                table.setdefault("type", "pkg.models:Answer")
    table[parts[-1].removesuffix("[]")] = value


def _names_the_key(err: ConfigFileError, key: str) -> bool:
    text = str(err)
    leaf = key.split(".")[-1].removesuffix("[]")
    section = key.split(".")[0].removesuffix("[]")
    # The full path (`llm.temperature: expected ...`), or a section's rule that names the key
    # (`memory: \`path\` is only used with ...`).
    return leaf in text and (section in text or key == leaf)


def _check_loaded(cfg: Config) -> None:
    # Compared as text: NaN (a valid TOML float) is not equal to itself.
    text = cfg.to_toml()
    assert loads_config(text, env={}).to_toml() == text


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_a_config_or_a_config_file_error(text: str) -> None:
    try:
        loads_config(text, env={})
    except ConfigFileError as exc:
        assert str(exc).startswith("<string>")


@FUZZ
@given(st.sampled_from(KEYS), _values)
def test_any_value_for_any_key_is_accepted_or_an_error_naming_the_key(key: str, value: Any) -> None:
    data: dict[str, Any] = {}
    _set(data, key, value)
    text = _document(data)
    try:
        cfg = loads_config(text, env={})
    except ConfigFileError as exc:
        assert _names_the_key(exc, key), (text, str(exc))
        return
    _check_loaded(cfg)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS), _values), min_size=1, max_size=6))
def test_documents_of_several_keys_load_round_trip_and_build_or_fail_typed(pairs: list[tuple[str, Any]]) -> None:
    data: dict[str, Any] = {}
    for key, value in pairs:
        _set(data, key, value)
    try:
        cfg = loads_config(_document(data), env={})
    except ConfigFileError:
        return
    _check_loaded(cfg)
    if any(k.startswith(_NOT_BUILT) for k, _ in pairs):
        return
    try:
        load_runnable(cfg)
    except ConfigError as exc:
        assert str(exc)


@FUZZ
@given(st.sampled_from(sorted(ENV_OVERRIDES)), st.text(max_size=20))
def test_any_override_value_is_accepted_or_an_error_naming_the_variable(var: str, value: str) -> None:
    try:
        cfg = loads_config("", env={var: value})
    except ConfigFileError as exc:
        assert var in str(exc) or ".".join(ENV_OVERRIDES[var]) in str(exc), str(exc)
        assert value not in str(exc) or len(value) < 4  # a value from the environment is never quoted
        return
    _check_loaded(cfg)


@FUZZ
@given(st.text(alphabet="${}:-_ABx", max_size=20), st.text(max_size=10))
def test_any_dollar_string_expands_or_is_an_error_naming_the_key(template: str, env_value: str) -> None:
    try:
        loads_config(f"system_prompt = {_toml_value(template)}", env={"A": env_value, "B": ""})
    except ConfigFileError as exc:
        assert "system_prompt" in str(exc), str(exc)


# -- regressions the fuzzing found (kept as plain tests) -------------------------------------------


@pytest.mark.parametrize(
    "value", ["1979-05-27T07:32:00", "1979-05-27", "07:32:00", "1979-05-27T07:32:00+01:00", "[1979-05-27]"]
)
def test_dates_in_free_form_options_round_trip(value: str) -> None:
    cfg = loads_config(f"[llm]\noptions = {{ when = {value} }}", env={})
    _check_loaded(cfg)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[llm]\ntimeout = inf", "llm.timeout"),
        ("[llm]\nrequest_timeout = '1e999'", "llm.request_timeout"),
        ("[tools]\ntimeout = inf", "tools.timeout"),
        ("[memory]\nttl = inf", "memory.ttl"),
    ],
)
def test_infinite_durations_are_an_error_naming_the_key(text: str, key: str) -> None:
    # They loaded, and `llm.timeout = inf` failed the first request with a raw OverflowError.
    with pytest.raises(ConfigFileError, match="finite") as info:
        loads_config(text, env={})
    assert str(info.value).startswith(f"<string>: {key}")


@pytest.mark.parametrize("value", ["['a.b:c']", "1", "{ x = 1 }"])
def test_an_import_path_of_the_wrong_type_is_an_error_naming_the_key(value: str) -> None:
    # A list where `handler` wants a string raised a bare TypeError from `re` inside pydantic.
    with pytest.raises(ConfigFileError, match="import path") as info:
        loads_config(f"handler = {value}", env={})
    assert str(info.value).startswith("<string>: handler")


def test_no_request_limit_survives_to_toml() -> None:
    # `to_toml()` dropped the None (TOML has no null): the reloaded config had the 600 s default.
    cfg = loads_config(
        "[llm]\nrequest_timeout = 'none'\n[agents.a.llm]\nrequest_timeout = 'none'\n[workflow]\nsteps = [{name = 's', agent = 'a'}]",
        env={},
    )
    assert cfg.llm is not None and cfg.llm.request_timeout is None
    again = loads_config(cfg.to_toml(), env={})
    assert again.llm is not None and again.llm.request_timeout is None
    assert again.agents["a"].llm is not None and again.agents["a"].llm.request_timeout is None
    assert again == cfg


def test_a_document_with_every_kind_of_value_round_trips() -> None:
    text = textwrap.dedent(
        """
        system_prompt = "tab\\tnew\\nline \\u007f del"
        [llm]
        options = { "a key" = [1, 2.5, true, "x"], nested = { inf = inf, nan = nan } }
        """
    )
    _check_loaded(loads_config(text, env={}))


def test_a_section_rule_broken_by_an_override_names_the_variable() -> None:
    # The error read `memory: \`path\` is only used with provider = "sqlite"` for a file without `path`.
    with pytest.raises(ConfigFileError) as info:
        loads_config("[memory]\nsession_id = 's'", env={"AGENTICKIT_MEMORY_PATH": "x.db"})
    assert "memory (memory.path from AGENTICKIT_MEMORY_PATH)" in str(info.value)
