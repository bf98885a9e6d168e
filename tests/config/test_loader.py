from __future__ import annotations

import re
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.config import (
    ENV_OVERRIDES,
    Config,
    ConfigFileError,
    LLMSection,
    load_config,
    loads_config,
    parse_duration,
)
from agentickit.config import _loader as loader_module
from agentickit.errors import ConfigError


def write(tmp_path: Path, text: str, name: str = "agent.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(text: str, env: dict[str, str] | None = None) -> ConfigFileError:
    with pytest.raises(ConfigFileError) as info:
        loads_config(text, env=env or {})
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ak.errors.UserError)
    return info.value


# -- reading -------------------------------------------------------------------------------------


def test_load_config_reads_every_section(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
name = "assistant"
system_prompt = "Be brief."
preset = "chat"

[llm]
provider = "openai"
model = "gpt-4o-mini"
base_url = "http://127.0.0.1:9/v1"
api_key = "k"
temperature = 0.0
max_tokens = 100
timeout = "30s"
max_retries = 2

[memory]
history_limit = 10
session_id = "u1"

[streaming]
buffer_size = 50
flush_interval = "100ms"
text_only = true
include_thoughts = false
include_tool_calls = false

[tools]
timeout = "5s"
max_retries = 1
max_concurrent = 4
rate_limit = "10/s"

[tools.cache]
enabled = true
ttl = "5m"
backend = "redis"
url = "redis://127.0.0.1:6379/0"

[[mcp.servers]]
name = "files"
transport = "stdio"
command = "python"
args = ["srv.py"]
timeout = 10

[[mcp.servers]]
name = "web"
transport = "http"
url = "http://127.0.0.1:8000/mcp"
""",
    )
    cfg = ak.load_config(path)
    assert isinstance(cfg, ak.Config)
    assert cfg.name == "assistant" and cfg.preset == "chat"
    assert cfg.llm is not None and cfg.llm.temperature == 0.0 and cfg.llm.timeout == 30.0
    assert cfg.streaming is not None and cfg.streaming.flush_interval == pytest.approx(0.1)
    assert cfg.tools is not None and cfg.tools.cache is not None and cfg.tools.cache.ttl == 300.0
    assert cfg.mcp is not None and [s.name for s in cfg.mcp.servers] == ["files", "web"]
    assert cfg.source == str(path) and cfg.source_dir == tmp_path.resolve()


def test_an_empty_file_is_a_default_agent() -> None:
    cfg = loads_config("", env={})
    assert cfg == Config()


# -- TOML syntax ---------------------------------------------------------------------------------


def test_toml_syntax_error_reports_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, 'name = "a"\n[llm]\nprovider "openai"\n')
    with pytest.raises(ConfigFileError) as info:
        load_config(path)
    err = info.value
    assert (err.line, err.column) == (3, 10)
    assert str(err).startswith(f"{path}:3:10: not valid TOML:")
    assert "line 3, column 10" in str(err)


def test_toml_error_at_the_end_of_the_file_still_has_a_position() -> None:
    err = error_of('name = "a"\nsystem_prompt = ')
    assert (err.line, err.column) == (2, 17)
    assert "at the end of the file" in str(err)


@pytest.mark.parametrize(
    ("kind", "match"),
    [("missing", "config file not found"), ("dir", "is a directory"), ("binary", "not UTF-8 text")],
)
def test_unreadable_files(tmp_path: Path, kind: str, match: str) -> None:
    path = tmp_path / "x.toml"
    if kind == "dir":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b'name = "\xff\xfe"')
    with pytest.raises(ConfigFileError, match=match) as info:
        load_config(path)
    assert info.value.path == str(path)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "match"),
    [
        ('[llm]\nmodle = "x"', "llm.modle", "unknown key; did you mean 'model'\\? \\(valid keys in llm: api_key"),
        ('[lm]\nprovider = "x"', "lm", "unknown key; did you mean 'llm'\\?"),
        ("sytem_prompt = 'x'", "sytem_prompt", "did you mean 'system_prompt'"),
        ("[tools.cache]\nenable = true", "tools.cache.enable", "did you mean 'enabled'"),
        (
            '[[mcp.servers]]\nname = "a"\ncommand = "x"\ntimout = 1',
            "mcp.servers[0].timout",
            "did you mean 'timeout'",
        ),
        ("[memory]\nhistory = 3", "memory.history", "did you mean 'history_limit'"),
    ],
)
def test_unknown_keys_name_the_path_and_suggest_the_closest(text: str, key: str, match: str) -> None:
    err = error_of(text)
    assert err.key == key
    assert str(err).startswith(f"<string>: {key}: ")
    assert re.search(match, str(err)), str(err)


@pytest.mark.parametrize(
    ("text", "key", "match"),
    [
        ("[llm]\ntemperature = 'hot'", "llm.temperature", "expected a valid number.*got 'hot'"),
        ("[llm]\ntemperature = 3.5", "llm.temperature", "expected less than or equal to 2"),
        ("[llm]\nmax_tokens = 0", "llm.max_tokens", "expected greater than 0"),
        ("[llm]\nmax_retries = -1", "llm.max_retries", "expected greater than or equal to 0"),
        ("[llm]\nprovider = 'opena'", "llm.provider", "expected one of .*openai.*did you mean 'openai'"),
        ("[llm]\nprovider = 'openai'", "llm", "`model` is required for provider 'openai'"),
        ("preset = 'fancy'", "preset", "expected 'chat', 'research' or 'data'"),
        ("name = 3", "name", "expected a valid string"),
        (
            "[memory]\nprovider = 'mongo'",
            "memory.provider",
            "expected 'memory', 'none', 'sqlite', 'postgres' or 'redis'",
        ),
        ("[memory]\nmax_bytes = 0", "memory.max_bytes", "expected greater than or equal to 1"),
        ("[memory]\nmax_bytes = '1 MB'", "memory.max_bytes", "expected a valid integer"),
        (
            "[memory]\nprovider = 'sqlite'\npath = 'x.db'\nmax_bytes = 10",
            "memory",
            'only used with provider = "memory"',
        ),
        ("[streaming]\nbuffer_size = 0", "streaming.buffer_size", "greater than 0"),
        ("[streaming]\ntext_only = 'maybe'", "streaming.text_only", "expected a valid boolean"),
        ("[tools]\nrate_limit = '10 per second'", "tools.rate_limit", 'expected a rate such as "10/s"'),
        ("[tools]\nfunctions = ['no_colon']", "tools.functions[0]", "import path 'package.module:name'"),
        ("[tools.cache]\nenabled = true\nbackend = 'redis'", "tools.cache", "needs `url`"),
        ("[tools.cache]\nurl = 'redis://x'", "tools.cache", "only used with backend"),
        ("handler = 'mod.fn'", "handler", "import path 'package.module:name'"),
        ("[[mcp.servers]]\ncommand = 'x'", "mcp.servers[0].name", "required key is missing"),
        ("[[mcp.servers]]\nname = 'a'", "mcp.servers[0]", 'transport "stdio" needs `command`'),
        ("[[mcp.servers]]\nname = 'a'\ntransport = 'http'", "mcp.servers[0]", 'transport "http" needs `url`'),
        (
            "[[mcp.servers]]\nname = 'a'\ntransport = 'sse'\nurl = 'http://x'\ncommand = 'y'",
            "mcp.servers[0]",
            'are for transport "stdio"',
        ),
        ("[[mcp.servers]]\nname = 'a'\ncommand = 'x'\nurl = 'http://x'", "mcp.servers[0]", "`url` is for transport"),
        (
            "[[mcp.servers]]\nname = 'a'\ncommand = 'x'\n[[mcp.servers]]\nname = 'a'\ncommand = 'y'",
            "mcp",
            "two MCP servers are named 'a'",
        ),
        ("[mcp.servers]\nname = 'a'", "mcp.servers", "expected a valid list"),
        ("[llm]\ntimeout = '5 parsecs'", "llm.timeout", "expected a duration: .*\"250ms\".*got '5 parsecs'"),
        ("[agents.x]\nname = 'x'", "(top level)", "only used by `\\[\\[workflow.steps\\]\\]`"),
    ],
)
def test_bad_values_name_the_key_and_what_is_expected(text: str, key: str, match: str) -> None:
    err = error_of(text)
    assert str(err).startswith(f"<string>: {key}"), str(err)
    assert re.search(match, str(err)), str(err)
    assert str(err).count("got") <= 1, str(err)


def test_several_problems_are_reported_together() -> None:
    err = error_of("[llm]\ntemperature = 'x'\nmax_tokens = -1\nmodle = 1")
    text = str(err)
    assert text.startswith("<string>: 3 problems:")
    for key in ("llm.temperature", "llm.max_tokens", "llm.modle"):
        assert f"\n  {key}: " in text


# -- workflow validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[workflow]\nmode = 'dag'", "workflow.steps: required key is missing"),
        ("[workflow]\nsteps = []", "workflow.steps: List should have at least 1 item|expected"),
        (
            "[[workflow.steps]]\nname = 'a'\n[[workflow.steps]]\nname = 'a'",
            "steps\\[0\\] and steps\\[1\\] are both named 'a'",
        ),
        (
            "[workflow]\nmode = 'dag'\n[[workflow.steps]]\nname = 'a'\ndepends_on = ['b']",
            "depends on unknown step 'b'; steps are: a",
        ),
        (
            "[workflow]\nmode = 'dag'\n[[workflow.steps]]\nname = 'a'\ndepends_on = ['b']\n"
            "[[workflow.steps]]\nname = 'b'\ndepends_on = ['a']",
            "the steps form a cycle: a -> b -> a",
        ),
        ("[workflow]\nmode = 'dag'\n[[workflow.steps]]\nname = 'a'\ndepends_on = ['a']", "depends on itself"),
        ("[[workflow.steps]]\nname = 'a'\n[[workflow.steps]]\nname = 'b'\ndepends_on = ['a']", 'needs mode = "dag"'),
        ("[workflow]\nmax_iterations = 3\n[[workflow.steps]]\nname = 'a'", 'apply to mode "loop", not "sequential"'),
        ("[workflow]\nfail_fast = true\n[[workflow.steps]]\nname = 'a'", 'apply to mode "parallel" or "dag"'),
        (
            "[workflow]\nmode = 'fast'\n[[workflow.steps]]\nname = 'a'",
            "workflow.mode: expected 'sequential', 'parallel'",
        ),
        (
            "[[workflow.steps]]\nname = 'a'\nagent = 'nobody'",
            "neither an \\[agents.nobody\\] table \\(defined: none\\)",
        ),
        (
            "[[workflow.steps]]\nname = 'a'\n[workflow.steps.agent]\nllm = {modle = 'x'}",
            "workflow.steps\\[0\\].agent.llm.modle: unknown key; did you mean 'model'",
        ),
    ],
)
def test_workflow_problems_are_found_before_running(text: str, match: str) -> None:
    err = error_of(text)
    assert re.search(match, str(err)), str(err)


# -- durations -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0.25, 0.25),
        ("30s", 30.0),
        ("5m", 300.0),
        ("250ms", 0.25),
        ("1h", 3600.0),
        ("1m30s", 90.0),
        ("2", 2.0),
        (" 1.5s ", 1.5),
        ("0", 0.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["5 parsecs", "-1s", -1, True, "", "ms", "5s5", "1.2.3s", None, [1]])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


# -- environment ---------------------------------------------------------------------------------


def test_env_expansion() -> None:
    cfg = loads_config(
        """
system_prompt = "Hi ${WHO}, cost $${NOT_A_VAR}"
[llm]
provider = "${PROVIDER:-simulated}"
api_key = "${KEY}"
model = "${EMPTY:-fallback}"
[llm.options]
nested = ["${WHO}"]
""",
        env={"WHO": "Ada", "KEY": "sk-1", "EMPTY": ""},
    )
    assert cfg.system_prompt == "Hi Ada, cost ${NOT_A_VAR}"
    assert cfg.llm == LLMSection(provider="simulated", api_key="sk-1", model="fallback", options={"nested": ["Ada"]})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (
            "[llm]\napi_key = '${OPENAI_KEY}'",
            "llm.api_key: environment variable OPENAI_KEY is not set; set it, or give a default: \\$\\{OPENAI_KEY:-default\\}",
        ),
        ("name = '${1BAD}'", "name: '\\$\\{1BAD\\}' is not a variable reference"),
        ("name = 'x ${OPEN'", "name: unterminated '\\$\\{'"),
        ("[llm.options]\nxs = ['${NOPE}']", "llm.options.xs\\[0\\]: environment variable NOPE is not set"),
    ],
)
def test_env_expansion_errors(text: str, match: str) -> None:
    assert re.search(match, str(error_of(text))), str(error_of(text))


def test_agentickit_overrides_win_over_the_file() -> None:
    text = "name = 'file'\n[llm]\ntemperature = 0.1\nmodel = 'echo'"
    env = {
        "AGENTICKIT_NAME": "env",
        "AGENTICKIT_LLM_TEMPERATURE": "0.5",
        "AGENTICKIT_LLM_MODEL": "",  # empty: removes the key
        "AGENTICKIT_MEMORY_HISTORY_LIMIT": "3",  # creates the section
        "AGENTICKIT_TOOLS_CACHE_ENABLED": "true",
        "AGENTICKIT_STREAMING_FLUSH_INTERVAL": "50ms",
        "AGENTICKIT_REQUIRE_SERVICES": "1",  # someone else's variable: ignored
    }
    cfg = loads_config(text, env=env)
    assert cfg.name == "env"
    assert cfg.llm is not None and cfg.llm.temperature == 0.5 and cfg.llm.model is None
    assert cfg.memory is not None and cfg.memory.history_limit == 3
    assert cfg.tools is not None and cfg.tools.cache is not None and cfg.tools.cache.enabled
    assert cfg.streaming is not None and cfg.streaming.flush_interval == pytest.approx(0.05)


def test_a_bad_override_value_names_the_variable() -> None:
    err = error_of("", env={"AGENTICKIT_LLM_TEMPERATURE": "warm"})
    assert "llm.temperature (from AGENTICKIT_LLM_TEMPERATURE): expected a valid number" in str(err)


def test_a_misspelt_override_is_an_error_with_a_suggestion() -> None:
    err = error_of("", env={"AGENTICKIT_LLM_MODLE": "x"})
    assert "AGENTICKIT_LLM_MODLE overrides no config key; did you mean AGENTICKIT_LLM_MODEL?" in str(err)


def test_the_override_list_is_documented_exactly() -> None:
    doc = loader_module.__doc__ or ""
    documented = dict(re.findall(r"\| `(AGENTICKIT_\w+)` \| `([\w.]+)` \|", doc))
    assert documented == {var: ".".join(path) for var, path in ENV_OVERRIDES.items()}


def test_load_config_uses_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AK_TEST_PROMPT", "from env")
    monkeypatch.setenv("AGENTICKIT_LLM_MAX_TOKENS", "7")
    cfg = load_config(write(tmp_path, "system_prompt = '${AK_TEST_PROMPT}'"))
    assert cfg.system_prompt == "from env"
    assert cfg.llm is not None and cfg.llm.max_tokens == 7


# -- round trip ----------------------------------------------------------------------------------


FULL = """
name = "team"
system_prompt = "Quotes \\" and \\\\ and\\nnewlines, unicode é ✓, tab\\t."
handler = "pkg.handlers:answer"

[llm]
provider = "simulated"
model = "echo"
temperature = 0.0
timeout = "2m"
[llm.options]
ttft = 0.01
script = ["a", "b"]
nested = { deep = { x = 1 } }

[memory]
provider = "none"

[streaming]
flush_interval = 0.05
text_only = false

[tools]
functions = ["pkg.tools:search"]
rate_limit = "5/m"
[tools.cache]
enabled = true

[[mcp.servers]]
name = "files"
command = "python"
args = ["-m", "srv"]

[agents.writer]
system_prompt = "Write."
[agents.writer.llm]
max_tokens = 50

[workflow]
name = "flow"
mode = "dag"
max_concurrency = 2

[[workflow.steps]]
name = "research"
[workflow.steps.agent]
preset = "research"
[[workflow.steps.agent.mcp.servers]]
name = "web"
transport = "http"
url = "http://127.0.0.1:1/mcp"

[[workflow.steps]]
name = "write"
agent = "writer"
depends_on = ["research"]
"""


def test_to_toml_round_trips() -> None:
    cfg = loads_config(FULL, env={})
    text = cfg.to_toml()
    again = loads_config(text, env={})
    assert again == cfg
    assert again.to_toml() == text
    assert "timeout = 120.0" in text  # durations are written as seconds


def test_to_toml_of_a_config_built_in_code() -> None:
    cfg = Config(name="x", llm=LLMSection(temperature=0.3, options={"reply": "hi"}))
    assert loads_config(cfg.to_toml(), env={}) == cfg
