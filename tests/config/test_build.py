from __future__ import annotations

import itertools
import sys
import textwrap
from pathlib import Path

import pytest

import agentickit as ak
from agentickit.config import ConfigFileError, load_runnable, loads_config
from agentickit.providers import SimulatedModel

_ids = itertools.count()


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Building from a file may put the file's directory on sys.path; keep that inside each test.
    monkeypatch.setattr(sys, "path", list(sys.path))


def module(tmp_path: Path, source: str) -> str:
    """Write a module next to the config files and return its (unique) name."""
    name = f"ak_cfg_mod_{next(_ids)}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def write(tmp_path: Path, text: str, name: str = "agent.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


async def test_agent_from_config_builds_the_agent_the_file_describes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name = "assistant"
        system_prompt = "Be brief."
        [llm]
        model = "echo"
        temperature = 0.2
        max_tokens = 3
        [memory]
        history_limit = 4
        session_id = "s"
        [tools]
        timeout = "250ms"
        """,
    )
    agent = ak.Agent.from_config(str(path))
    assert agent.name == "assistant" and agent.system_prompt == "Be brief."
    assert isinstance(agent.llm, ak.LLMConfig) and agent.llm.model == "echo" and agent.llm.temperature == 0.2
    assert agent.options.max_tokens == 3 and agent.options.temperature == 0.2
    assert agent.memory is not None and agent.memory.history_limit == 4 and agent.memory.session_id == "s"
    assert agent.tool_timeout == 0.25
    result = await agent.run("one two three four five")
    assert result.content == "one two three"
    assert ak.Agent.from_config(ak.load_config(path)).name == "assistant"


async def test_preset_with_file_settings_winning() -> None:
    cfg = loads_config("preset = 'chat'\n[llm]\ntemperature = 0.0", env={})
    agent = ak.Agent.from_config(cfg)
    assert "helpful" in agent.system_prompt  # from the preset
    assert agent.memory is not None and agent.memory.history_limit == 20  # from the preset
    assert agent.options.temperature == 0.0  # the file wins over the preset's 0.7


async def test_handler_and_tools_are_imported_from_next_to_the_file(tmp_path: Path) -> None:
    mod = module(
        tmp_path,
        """
        import agentickit as ak

        async def lookup(key: str) -> str:
            '''Look a key up.'''
            return f"value of {key}"

        async def answer(input: str, caps: ak.Capabilities) -> str:
            if input == "fast":
                return "early"
            return await caps.tools.call("lookup", key=input)
        """,
    )
    path = write(tmp_path, f'handler = "{mod}:answer"\n[tools]\nfunctions = ["{mod}:lookup"]\n')
    agent = load_runnable(path)
    assert isinstance(agent, ak.Agent)
    assert (await agent.run("fast")).content == "early"
    result = await agent.run("k1")
    assert result.content == "value of k1" and result.tool_calls[0].name == "lookup"


@pytest.mark.parametrize(
    ("source", "spec", "key", "match"),
    [
        ("", "ak_cfg_missing_mod:fn", "handler", "cannot be imported: ModuleNotFoundError"),
        ("x = 1\n", "{mod}:nope", "handler", "cannot be imported: AttributeError"),
        (
            "def answer(input, caps):\n    return input\n",
            "{mod}:answer",
            "handler",
            "must be a coroutine function.*async def handler\\(input: str, caps: ak.Capabilities\\) -> str",
        ),
        ("async def answer(input):\n    return input\n", "{mod}:answer", "handler", "cannot take \\(input, caps\\)"),
    ],
)
def test_bad_handlers_in_config(tmp_path: Path, source: str, spec: str, key: str, match: str) -> None:
    mod = module(tmp_path, source)
    path = write(tmp_path, f'handler = "{spec.format(mod=mod)}"\n')
    with pytest.raises(ConfigFileError, match=match) as info:
        load_runnable(path)
    assert info.value.key == key and str(info.value).startswith(str(path))


def test_a_tool_that_is_not_callable(tmp_path: Path) -> None:
    mod = module(tmp_path, "NOT_A_TOOL = 42\n")
    path = write(tmp_path, f'[tools]\nfunctions = ["{mod}:NOT_A_TOOL"]\n')
    with pytest.raises(ConfigFileError, match=r"tools.functions\[0\] = .* is a int, not a function or ak.Tool"):
        load_runnable(path)


def test_from_config_refuses_a_workflow_file() -> None:
    cfg = loads_config("[[workflow.steps]]\nname = 'a'", env={})
    with pytest.raises(
        ConfigFileError, match="declares a \\[workflow\\]; build it with agentickit.config.load_runnable"
    ):
        ak.Agent.from_config(cfg)


# -- workflows -----------------------------------------------------------------------------------


async def test_sequential_workflow_in_one_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name = "pipeline"
        [llm]
        model = "echo"

        [agents.upper]
        handler = "{mod}:upper"

        [workflow]
        timeout = "30s"

        [[workflow.steps]]
        name = "first"
        agent = "upper"

        [[workflow.steps]]
        name = "second"
        [workflow.steps.agent]
        [workflow.steps.agent.llm]
        options = {{ reply = "second saw it" }}

        [[workflow.steps]]
        name = "third"
        """.replace(
            "{mod}",
            module(
                tmp_path,
                """
                async def upper(input, caps):
                    return input.upper()
                """,
            ),
        )
        .replace("{{", "{")
        .replace("}}", "}"),
    )
    wf = load_runnable(path)
    assert isinstance(wf, ak.SequentialWorkflow) and wf.name == "pipeline" and wf.timeout == 30.0
    result = await wf.run("hello")
    assert result.steps["first"].output == "HELLO"
    assert result.steps["second"].output == "second saw it"
    assert result.steps["third"].output == "second saw it"  # inherits the top-level echo model
    assert result.content == "second saw it"


async def test_dag_parallel_and_loop_modes() -> None:
    dag = load_runnable(
        loads_config(
            """
            [llm]
            model = "echo"
            [workflow]
            mode = "dag"
            max_concurrency = 2
            [[workflow.steps]]
            name = "a"
            [[workflow.steps]]
            name = "b"
            depends_on = ["a"]
            [[workflow.steps]]
            name = "c"
            depends_on = ["a"]
            """,
            env={},
        )
    )
    assert isinstance(dag, ak.DAGWorkflow) and dag.max_concurrency == 2
    result = await dag.run("x")
    assert set(result.steps) == {"a", "b", "c"}

    par = load_runnable(
        loads_config(
            "[workflow]\nmode = 'parallel'\nfail_fast = true\n[[workflow.steps]]\nname = 'p'\n[[workflow.steps]]\nname = 'q'",
            env={},
        )
    )
    assert isinstance(par, ak.ParallelWorkflow) and par.fail_fast is True

    loop = load_runnable(
        loads_config(
            """
            [llm.options]
            reply = "draft APPROVED"
            [workflow]
            mode = "loop"
            max_iterations = 4
            until_contains = "APPROVED"
            [[workflow.steps]]
            name = "refine"
            """,
            env={},
        )
    )
    assert isinstance(loop, ak.LoopWorkflow) and loop.max_iterations == 4
    result = await loop.run("x")
    assert result.content == "draft APPROVED"
    assert getattr(result, "stop_reason", None) == "until"


async def test_a_step_agent_from_another_file(tmp_path: Path) -> None:
    write(tmp_path, "name = 'helper'\n[llm.options]\nreply = 'from the other file'\n", name="helper.toml")
    path = write(tmp_path, "[[workflow.steps]]\nname = 'h'\nagent = 'helper.toml'\n", name="flow.toml")
    wf = load_runnable(path)
    assert (await wf.run("x")).content == "from the other file"


def test_a_missing_step_agent_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[[workflow.steps]]\nname = 'h'\nagent = 'nope.toml'\n", name="flow.toml")
    with pytest.raises(ConfigFileError, match="nope.toml: config file not found"):
        load_runnable(path)


async def test_model_retries_from_config_reach_the_simulated_model() -> None:
    agent = ak.Agent.from_config(loads_config("[llm]\nmax_retries = 0\n[llm.options]\nfailures = ['500']", env={}))
    assert isinstance(agent.model, SimulatedModel) and agent.model.max_retries == 0
    with pytest.raises(ak.errors.ServerError):
        await agent.run("x")


async def test_a_step_can_be_a_workflow_declared_in_another_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "[llm]\nmodel = 'echo'\n[workflow]\nmode = 'parallel'\n[[workflow.steps]]\nname = 'x'\n[[workflow.steps]]\nname = 'y'\n",
        name="inner.toml",
    )
    path = write(tmp_path, "[[workflow.steps]]\nname = 'inner'\nagent = 'inner.toml'\n", name="outer.toml")
    outer = load_runnable(path)
    result = await outer.run("hello")
    assert "[x]" in result.content and "[y]" in result.content and "hello" in result.content


async def test_tools_section_defaults_keep_what_a_tool_declares_itself(tmp_path: Path) -> None:
    mod = module(
        tmp_path,
        """
        import agentickit as ak

        calls = []

        @ak.tool(max_concurrency=1, retry_on=(ValueError,), retry_backoff=0.0, timeout=3.0,
                 parameters={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
        def flaky(q):
            calls.append(q)
            if len(calls) < 3:
                raise ValueError("not yet")
            return "done " + q

        @ak.tool(retries=1, rate_limit="100/s", cache_ttl=5)
        def own(q: str) -> str:
            return q
        """,
    )
    path = write(
        tmp_path,
        f"""
        [tools]
        functions = ["{mod}:flaky", "{mod}:own"]
        max_retries = 2
        rate_limit = "50/s"
        [tools.cache]
        enabled = true
        ttl = 60
        """,
    )
    agent = ak.Agent.from_config(path)
    flaky, own = agent.tool_map["flaky"], agent.tool_map["own"]
    # The config's defaults reach the tool that sets none ...
    assert (flaky.retries, flaky.rate_limit, flaky.cache_ttl) == (2, "50/s", 60.0)
    # ... and nothing the tool declared is lost.
    assert (flaky.max_concurrency, flaky.retry_on, flaky.retry_backoff, flaky.timeout) == (1, (ValueError,), 0.0, 3.0)
    assert flaky.definition.parameters["required"] == ["q"]
    assert (own.retries, own.rate_limit, own.cache_ttl) == (1, "100/s", 5)
    # The imported tool itself is unchanged (other agents may use it as declared).
    imported = sys.modules[mod].flaky
    assert imported.retries == 0 and imported.cache_ttl is None
    # And the retries really run: two failures, then the answer.
    result = await agent.run("q", max_tool_rounds=2)
    assert result.tool_calls[0].result == "done " + result.tool_calls[0].args["q"]
    assert len(sys.modules[mod].calls) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("llm = ['simulated']", "needs at least two models"),
        ("llm = ['simulated', 'bogus:x']", "expected one of"),
        ("llm = ['simulated', 'openai']", "`model` is required for provider 'openai'"),
        ("llm = ['simulated', 'x:']", "expected a model as 'provider:model'"),
        ("[limits]\nrequest_limit = -1", "limits.request_limit"),
        ("[llm]\nmax_concurrency = 0", "llm.max_concurrency"),
    ],
)
def test_fallback_chains_and_limits_are_checked_when_loaded(text: str, message: str) -> None:
    with pytest.raises(ConfigFileError, match=message.replace("(", r"\(").replace("[", r"\[")):
        loads_config(text, env={})


def test_a_fallback_chain_from_config_builds_lazily_and_names_its_models() -> None:
    agent = ak.Agent.from_config(loads_config("llm = ['simulated:echo', 'openai:gpt-4o-mini']", env={}))
    assert isinstance(agent.llm, ak.FallbackModel)  # no key needed until the second model is asked
    assert [s if isinstance(s, str) else getattr(s, "model", None) for s in agent.llm.specs] == [
        "echo",
        "openai:gpt-4o-mini",
    ]
