from __future__ import annotations

import pytest

import agentickit as ak
from agentickit.errors import WorkflowError


async def echo(text: str) -> str:
    return text


def test_duplicate_names_are_rejected_with_the_name() -> None:
    wf = ak.DAGWorkflow("d").add_step("a", echo)
    with pytest.raises(WorkflowError, match="already has a step named 'a'"):
        wf.add_step("a", echo)


async def test_unknown_dependencies_are_rejected_before_running() -> None:
    ran: list[str] = []

    async def record(text: str) -> str:
        ran.append(text)
        return text

    wf = ak.DAGWorkflow("d").add_step("a", record).add_step("b", record, depends_on=["a", "missing"])
    with pytest.raises(WorkflowError, match="step 'b' depends on unknown step 'missing'"):
        await wf.run("x")
    assert ran == []


async def test_cycles_are_rejected_with_the_cycle_path() -> None:
    ran: list[str] = []

    async def record(text: str) -> str:
        ran.append(text)
        return text

    wf = ak.DAGWorkflow("d").add_step("start", record)
    wf.add_step("a", record, depends_on=["start", "c"]).add_step("b", record, depends_on=["a"])
    wf.add_step("c", record, depends_on=["b"])
    with pytest.raises(WorkflowError, match="dependency cycle") as info:
        await wf.run("x")
    message = str(info.value)
    # The path names each step of the cycle and closes it.
    path = message.split("cycle: ")[1].split(" (")[0].split(" -> ")
    assert path[0] == path[-1] and sorted(path[:-1]) == ["a", "b", "c"]
    assert ran == []


def test_self_dependency_is_a_cycle() -> None:
    wf = ak.DAGWorkflow("d").add_step("a", echo, depends_on=["a"])
    with pytest.raises(WorkflowError, match="a -> a"):
        wf.validate()


def test_empty_workflow() -> None:
    with pytest.raises(WorkflowError, match="has no steps"):
        ak.SequentialWorkflow("s").validate()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"timeout": 0}, "timeout must be > 0"),
        ({"retries": -1}, "retries must be >= 0"),
        ({"retry_delay": -1}, "retry_delay must be >= 0"),
        ({"depends_on": "a"}, "list of step names"),
        ({"condition": 3}, "condition must be a function"),
        ({"transform": "x"}, "transform must be a function"),
    ],
)
def test_bad_step_options(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(WorkflowError, match=match):
        ak.Step("s", echo, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b"])
def test_bad_step_names(name: str) -> None:
    with pytest.raises(WorkflowError, match="non-empty string without '/'"):
        ak.Step(name, echo)


def test_not_agent_like() -> None:
    with pytest.raises(WorkflowError, match="int is not agent-like"):
        ak.Step("s", 42)


def test_function_with_wrong_arity() -> None:
    def three(a: str, b: str, c: str) -> str:
        return a

    with pytest.raises(WorkflowError, match="takes 3 positional arguments"):
        ak.Step("s", three)


def test_add_step_misuse() -> None:
    wf = ak.SequentialWorkflow("s")
    with pytest.raises(WorkflowError, match="missing the agent"):
        wf.add_step("a")
    with pytest.raises(WorkflowError, match="not both"):
        wf.add_step(ak.Step("a", echo), echo)


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: ak.SequentialWorkflow(""), "non-empty string"),
        (lambda: ak.SequentialWorkflow("s", timeout=-1), "timeout must be > 0"),
        (lambda: ak.LoopWorkflow("l", max_iterations=0), "max_iterations must be >= 1"),
        (lambda: ak.LoopWorkflow("l", until=5), "until must be a function"),  # type: ignore[arg-type]
        (lambda: ak.SequentialWorkflow("s").as_agent(max_depth=0), "max_depth must be >= 1"),
    ],
)
def test_bad_workflow_options(factory: object, match: str) -> None:
    with pytest.raises(WorkflowError, match=match):
        factory()  # type: ignore[operator]
