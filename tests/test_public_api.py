from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys

import agentickit as ak


def test_all_is_sorted_unique_and_importable() -> None:
    names = list(ak.__all__)
    assert names == sorted(names), "keep __all__ sorted"
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(ak, name) is not None, name


def test_spec_names_exist() -> None:
    for name in ["Agent", "LLMConfig", "RunOptions", "Result", "Memory", "tool", "Tool", "Chunk", "ChunkType"]:
        assert hasattr(ak, name), name
    for name in ["chat_agent", "research_agent", "data_agent"]:
        assert callable(getattr(ak, name))
    assert ak.errors.RateLimitError.__mro__[1].__name__ == "ProviderHTTPError"


def test_public_option_and_result_dataclasses_are_keyword_only() -> None:
    for cls in (ak.RunOptions, ak.LLMConfig, ak.Result, ak.ToolCallRecord, ak.BatchItem):
        assert dataclasses.is_dataclass(cls)
        positional = [f.name for f in dataclasses.fields(cls) if not f.kw_only]
        assert positional == [], f"{cls.__name__} has positional fields {positional}"


def test_subpackages_have_all() -> None:
    for mod in [
        "agentickit.agent",
        "agentickit.providers",
        "agentickit.tools",
        "agentickit.memory",
        "agentickit.executors",
        "agentickit.streaming",
        "agentickit.testing",
        "agentickit.errors",
        "agentickit.telemetry",
    ]:
        module = importlib.import_module(mod)
        assert sorted(module.__all__) == list(module.__all__), mod
        for name in module.__all__:
            assert hasattr(module, name), f"{mod}.{name}"


def test_import_does_not_pull_optional_dependencies() -> None:
    code = (
        "import sys, agentickit;"
        "heavy=[m for m in ('openai','anthropic','mcp','redis','rich','asyncpg','aiosqlite','aiohttp','pydantic','opentelemetry','starlette','uvicorn')"
        " if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import agentickit imported {out}"


def test_import_loads_the_agent_core_only() -> None:
    # The journal, stores, workflows and executors (and the simulated model, config, server, MCP)
    # load with the first `ak.X` or run that needs them: `import agentickit` and a plain run do not.
    code = (
        "import sys, agentickit as ak;"
        "heavy=('agentickit.durable','agentickit.stores','agentickit.workflows','agentickit.executors',"
        "'agentickit.providers.simulated','agentickit.config','agentickit.serve','agentickit.mcp',"
        "'agentickit.simulator','agentickit.testing');"
        "print(','.join(m for m in heavy if m in sys.modules));"
        "ak.Agent('a').run_sync('hi');"
        "print(','.join(m for m in heavy[:4] if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["", ""], f"loaded eagerly: {out!r}"


def test_lazy_names_are_their_modules_objects() -> None:
    from agentickit import durable, executors, providers, stores, workflows

    assert (ak.Edit, ak.RunInfo, ak.ApprovalRequest) == (durable.Edit, durable.RunInfo, durable.ApprovalRequest)
    assert (ak.BatchItem, ak.BatchResult, ak.Executor, ak.LocalExecutor) == (
        executors.BatchItem,
        executors.BatchResult,
        executors.Executor,
        executors.LocalExecutor,
    )
    assert (ak.SimulatedModel, ak.FallbackModel) == (providers.SimulatedModel, providers.FallbackModel)
    assert (ak.durable, ak.stores, ak.executors, ak.workflows) == (durable, stores, executors, workflows)
    assert {"Edit", "SimulatedModel", "durable", "executors", "stores", "workflows"} <= set(dir(ak))


def test_unknown_attribute_error() -> None:
    try:
        ak.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")
