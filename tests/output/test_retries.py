"""Invalid answers go back to the model with the errors, up to `output_retries`; then a typed error."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

import agentickit as ak
from agentickit.errors import OutputValidationError
from agentickit.testing import FunctionModel, ScriptedModel, SimRequest, SimTurn, SimulatedModel, call

from .models import Invoice, Line

GOOD = '{"sku": "A", "quantity": 2, "unit_price": 3.5}'


@pytest.mark.parametrize("mode", [ak.NativeOutput, ak.PromptedOutput, ak.ToolCallOutput])
async def test_bad_json_is_corrected_once_by_default(mode: Any) -> None:
    model = ScriptedModel(["not json at all", GOOD], record=True)
    result = await ak.Agent("x", model, output_type=mode(Line)).run("q")
    assert result.output == Line(sku="A", quantity=2, unit_price=3.5)
    assert result.metadata["output_attempts"] == 2
    correction = model.requests[-1].messages[-1]
    assert correction.role == "user" and "Invalid JSON" in (correction.content or "")


async def test_a_schema_violation_names_the_field_to_the_model() -> None:
    bad = '{"sku": "A", "quantity": 0, "unit_price": 3.5}'
    model = ScriptedModel([bad, GOOD], record=True)
    result = await ak.Agent("x", model, output_type=ak.NativeOutput(Line)).run("q")
    assert result.output.quantity == 2
    text = model.requests[-1].messages[-1].content or ""
    assert "quantity: Input should be greater than or equal to 1" in text


async def test_after_the_retries_the_error_carries_raw_text_errors_and_attempts() -> None:
    agent = ak.Agent("x", ScriptedModel(["nope", "still {", "{}"]), output_type=ak.NativeOutput(Line), output_retries=2)
    with pytest.raises(OutputValidationError) as err:
        await agent.run("q")
    e = err.value
    assert (e.attempts, e.raw, e.output_type) == (3, "{}", Line)
    assert len(e.errors) == 3 and "Invalid JSON" in e.errors[0] and "sku: Field required" in e.errors[2]
    assert "after 3 attempt(s)" in str(e) and isinstance(e, ak.errors.RunError)


async def test_zero_retries_fails_on_the_first_bad_answer_and_run_option_wins() -> None:
    agent = ak.Agent("x", ScriptedModel(["nope", GOOD]), output_type=ak.NativeOutput(Line), output_retries=0)
    with pytest.raises(OutputValidationError) as err:
        await agent.run("q")
    assert err.value.attempts == 1
    assert (await agent.run("q", output_retries=1)).output.sku == "A"


async def test_a_tool_mode_invalid_call_gets_the_errors_as_the_tool_result() -> None:
    bad = SimTurn(tool_calls=(ak.ToolCall("c1", "final_result", '{"sku": "A"}'),))
    good = SimTurn(tool_calls=(ak.ToolCall("c2", "final_result", GOOD),))
    model = ScriptedModel([bad, good], record=True)
    result = await ak.Agent("x", model, output_type=ak.ToolCallOutput(Line)).run("q")
    assert result.output.sku == "A" and result.content == GOOD
    fix = model.requests[-1].messages[-1]
    assert fix.role == "tool" and fix.tool_call_id == "c1" and "quantity: Field required" in (fix.content or "")
    # the accepted call is answered too, so the history stays valid for the next run
    assert result.messages[-1].role == "tool" and result.messages[-1].tool_call_id == "c2"


async def test_tool_mode_text_that_is_not_json_asks_for_the_tool() -> None:
    model = ScriptedModel(
        ["I think it is A", SimTurn(tool_calls=(ak.ToolCall("c", "final_result", GOOD),))], record=True
    )
    result = await ak.Agent("x", model, output_type=ak.ToolCallOutput(Line)).run("q")
    assert result.output.sku == "A"
    assert "calling the final_result tool" in (model.requests[-1].messages[-1].content or "")


async def test_an_output_validator_can_send_a_correction_sync_or_async() -> None:
    seen: list[str] = []
    threads: list[bool] = []
    model = ScriptedModel([GOOD.replace('"A"', '"bad"'), GOOD], record=True)
    agent = ak.Agent("x", model, output_type=ak.NativeOutput(Line))

    @agent.output_validator
    def known_sku(line: Line) -> Line:
        # Off the loop, in the worker pool sync tools use (not the loop's executor, which asyncio.run waits for).
        threads.append(threading.current_thread().name == "agentickit-tool")
        seen.append(line.sku)
        if line.sku == "bad":
            raise ak.ModelRetry("sku 'bad' does not exist; use one from the catalogue")
        return line

    @agent.output_validator
    async def upper(line: Line) -> Line:
        await asyncio.sleep(0)
        return line.model_copy(update={"sku": line.sku.lower()})

    result = await agent.run("q")
    assert seen == ["bad", "A"] and all(threads)  # sync validators run off the loop
    assert result.output.sku == "a"  # the async validator replaced it
    assert "does not exist" in (model.requests[-1].messages[-1].content or "")


async def test_a_validator_that_keeps_refusing_ends_in_output_validation_error() -> None:
    agent = ak.Agent("x", output_type=Line)

    @agent.output_validator
    async def never(line: Line) -> None:
        raise ak.ModelRetry("never good enough")

    with pytest.raises(OutputValidationError) as err:
        await agent.run("q")
    assert err.value.errors == ["never good enough", "never good enough"]


async def test_validators_apply_to_the_agents_own_type_only() -> None:
    agent = ak.Agent("x", output_type=Line)

    @agent.output_validator
    async def never(line: Line) -> None:
        raise ak.ModelRetry("no")

    assert isinstance((await agent.run("q", output_type=Invoice)).output, Invoice)


def test_a_validator_must_take_the_output() -> None:
    agent = ak.Agent("x", output_type=Line)
    with pytest.raises(ak.errors.UserError, match="one argument"):
        agent.output_validator(lambda a, b: None)


async def test_tools_run_first_then_the_answer_comes_in_the_schema() -> None:
    calls: list[str] = []

    async def price(sku: str) -> float:
        """The unit price of a product."""
        calls.append(sku)
        return 9.5

    for spec in (Line, ak.NativeOutput(Line), ak.PromptedOutput(Line)):
        model = SimulatedModel(record=True)
        result = await ak.Agent("x", model, tools=[price], output_type=spec).run("price of Widget")
        assert isinstance(result.output, Line)
        assert [r.name for r in result.tool_calls] == ["price"]
        assert len(model.requests) == 2
    assert calls == ["Widget"] * 3


async def test_a_tool_raising_model_retry_sends_its_reason_to_the_model() -> None:
    async def lookup(sku: str) -> str:
        """Look a product up."""
        if sku != "A-1":
            raise ak.ModelRetry(f"unknown sku {sku!r}; skus look like A-1")
        return "widget"

    lookup_tool = ak.Tool(lookup, retries=3)  # ModelRetry is for the model, not the tool's own retries
    model = ScriptedModel([call("lookup", sku="x"), call("lookup", sku="A-1"), GOOD], record=True)
    result = await ak.Agent("x", model, tools=[lookup_tool], output_type=ak.NativeOutput(Line)).run("q")
    first = result.tool_calls[0]
    assert first.error is not None and "skus look like A-1" in first.error and first.attempts == 1
    assert result.tool_calls[1].result == "widget"
    assert result.output.sku == "A"


async def test_a_function_model_can_be_wrong_first_then_right() -> None:
    answers = iter(['{"sku": 1}', Line(sku="B", quantity=1, unit_price=1.0)])

    def answer(req: SimRequest) -> Any:
        return next(answers)

    result = await ak.Agent("x", FunctionModel(answer), output_type=ak.NativeOutput(Line)).run("q")
    assert result.output.sku == "B" and result.metadata["output_attempts"] == 2


async def test_a_forced_tool_choice_is_lifted_after_the_first_round_but_the_schema_stays() -> None:
    @ak.tool
    def lookup(sku: str) -> str:
        """Look a product up."""
        return "widget"

    model = ScriptedModel([call("lookup", sku="A"), GOOD], record=True)
    agent = ak.Agent("x", model, tools=[lookup], output_type=ak.NativeOutput(Line))
    result = await agent.run("q", tool_choice="required")
    assert result.output.sku == "A"
    first, second = (r.settings for r in model.requests)
    assert first.tool_choice == "required" and second.tool_choice == "auto"
    assert first.response_format is not None and second.response_format is first.response_format
