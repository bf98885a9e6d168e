"""Every kind of output type, by every route, and what is sent to the model for each mode."""

from __future__ import annotations

import pickle
from typing import Any, Literal

import pytest

import agentickit as ak
from agentickit.errors import OutputValidationError, UserError
from agentickit.output._schema import cache_info, output_plan
from agentickit.providers import LLMConfig
from agentickit.testing import FunctionModel, ScriptedModel, SimRequest, SimulatedModel

from .models import Color, Invoice, Line, Movie, Point, Refund


async def test_a_model_answer_is_validated_into_the_type() -> None:
    result = await ak.Agent("x", output_type=Invoice).run("extract")
    assert isinstance(result.output, Invoice)
    assert result.output.lines[0] == Line(sku="example sku", quantity=1, unit_price=1.5)
    # content stays the raw text: the JSON the model sent
    assert Invoice.model_validate_json(result.content) == result.output


async def test_plain_text_runs_keep_output_equal_to_content() -> None:
    result = await ak.Agent("x").run("hello")
    assert result.output == result.content
    assert "output_mode" not in result.metadata
    assert (await ak.Agent("x", output_type=str).run("hello")).output == result.content


@pytest.mark.parametrize(
    ("output_type", "check"),
    [
        (Point, lambda v: v == Point(1, 1)),
        (Movie, lambda v: v == {"title": "example title", "year": 1}),
        (int, lambda v: v == 1),
        (bool, lambda v: v is True),
        (list[str], lambda v: v == ["example response"]),
        (Literal["yes", "no"], lambda v: v == "yes"),
        (Color, lambda v: v is Color.RED),
        (Invoice | Refund, lambda v: isinstance(v, Invoice)),
    ],
)
@pytest.mark.parametrize("mode", [None, ak.NativeOutput, ak.ToolCallOutput, ak.PromptedOutput])
async def test_every_output_type_in_every_mode(output_type: Any, check: Any, mode: Any) -> None:
    spec = output_type if mode is None else mode(output_type)
    result = await ak.Agent("x", output_type=spec).run("q")
    assert check(result.output), result.output
    assert result.metadata["output_mode"] == ("tool" if mode is None else mode(int).mode)


async def test_a_union_of_models_returns_the_branch_the_model_chose() -> None:
    def answer(req: SimRequest) -> Any:
        return Refund(order="A-1", amount=5.0)

    result = await ak.Agent("x", FunctionModel(answer), output_type=Invoice | Refund).run("q")
    assert isinstance(result.output, Refund) and result.output.order == "A-1"


async def test_native_mode_sends_response_format_with_a_strict_schema() -> None:
    model = SimulatedModel(record=True)
    await ak.Agent("x", model, output_type=ak.NativeOutput(Line)).run("q")
    fmt = model.requests[-1].settings.response_format
    assert fmt is not None and fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert spec["name"] == "Line" and spec["strict"] is True
    assert spec["schema"]["additionalProperties"] is False
    assert not model.requests[-1].tools


async def test_a_schema_with_defaults_is_not_sent_as_strict() -> None:
    model = SimulatedModel(record=True)
    await ak.Agent("x", model, output_type=ak.NativeOutput(Refund)).run("q")
    fmt = model.requests[-1].settings.response_format
    assert fmt is not None and fmt["json_schema"]["strict"] is False
    await ak.Agent("x", model, output_type=ak.NativeOutput(Refund, strict=True, name="r")).run("q")
    fmt = model.requests[-1].settings.response_format
    assert fmt is not None and fmt["json_schema"]["strict"] is True and fmt["json_schema"]["name"] == "r"


async def test_tool_mode_offers_a_final_answer_tool_and_requires_it_when_alone() -> None:
    model = SimulatedModel(record=True)
    await ak.Agent("x", model, output_type=ak.ToolCallOutput(Line, description="the line")).run("q")
    req = model.requests[-1]
    assert [t.name for t in req.tools] == ["final_result"]
    assert req.tools[0].description == "the line"
    assert req.settings.tool_choice == "required" and req.settings.response_format is None


async def test_prompted_mode_puts_the_schema_in_the_system_prompt() -> None:
    model = SimulatedModel(record=True)
    result = await ak.Agent("x", model, system_prompt="Be exact.", output_type=ak.PromptedOutput(Line)).run("q")
    system = model.requests[-1].messages[0]
    assert system.role == "system" and system.content is not None
    assert system.content.startswith("Be exact.") and '"unit_price"' in system.content
    assert not model.requests[-1].tools and model.requests[-1].settings.response_format is None
    assert isinstance(result.output, Line)
    custom = ak.PromptedOutput(Line, template="JSON only, like {schema}")
    await ak.Agent("x", model, output_type=custom).run("q")
    assert (model.requests[-1].messages[0].content or "").startswith("JSON only, like {")
    with pytest.raises(UserError, match="must contain"):
        await ak.Agent("x", output_type=ak.PromptedOutput(Line, template="no placeholder")).run("q")


async def test_the_run_option_overrides_the_agent_and_the_builder_sets_it() -> None:
    agent = ak.Agent("x", output_type=Invoice)
    assert isinstance((await agent.run("q", output_type=Line)).output, Line)
    assert isinstance((await agent.run("q", options=ak.RunOptions(output_type=Point))).output, Point)
    assert isinstance((await agent.run("q", output_type=str)).output, str)
    built = ak.Agent.builder("b").with_output(ak.NativeOutput(Line), retries=3).build()
    assert built.output_retries == 3
    result = await built.run("q")
    assert isinstance(result.output, Line) and result.metadata["output_mode"] == "native"


def test_run_sync_answers_typed() -> None:
    assert isinstance(ak.Agent("x", output_type=Line).run_sync("q").output, Line)
    assert isinstance(ak.Agent("x").run_sync("q", output_type=Point).output, Point)


async def test_schemas_are_built_once_per_type() -> None:
    output_plan(Invoice)
    before = cache_info()
    for _ in range(5):
        await ak.Agent("x", output_type=Invoice).run("q")
    after = cache_info()
    assert after["misses"] == before["misses"]
    assert after["hits"] >= before["hits"] + 5


class _NoSchema:
    pass


def test_a_type_without_a_schema_fails_at_construction_naming_it() -> None:
    with pytest.raises(UserError, match="_NoSchema"):
        ak.Agent("x", output_type=_NoSchema)
    with pytest.raises(UserError, match="_NoSchema"):
        ak.Agent.builder("b").with_output(_NoSchema).build()
    with pytest.raises(UserError, match="must be a type"):
        ak.Agent("x", output_type=42)  # the runtime check catches it
    with pytest.raises(UserError, match="output_retries"):
        ak.Agent("x", output_type=Line, output_retries=-1)


async def test_a_type_without_a_schema_fails_at_run_start_too() -> None:
    with pytest.raises(UserError, match="_NoSchema"):
        await ak.Agent("x").run("q", output_type=_NoSchema)


async def test_native_output_on_a_provider_without_it_names_the_alternatives() -> None:
    llm = LLMConfig(provider="anthropic", model="claude-3-5-haiku-20241022", api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(UserError, match=r"ToolCallOutput.*PromptedOutput"):
        await ak.Agent("x", llm, output_type=ak.NativeOutput(Line)).run("q")


def test_output_type_and_a_handler_do_not_mix() -> None:
    async def handler(text: str, caps: ak.Capabilities) -> str:
        return text

    with pytest.raises(UserError, match="handler"):
        ak.Agent("x", output_type=Line, handler=handler)


async def test_a_per_run_output_type_on_a_handler_agent_is_refused() -> None:
    async def handler(text: str, caps: ak.Capabilities) -> str:
        return text

    with pytest.raises(UserError, match="default loop"):
        await ak.Agent("x", handler=handler).run("q", output_type=Line)


async def test_an_agent_with_an_output_type_pickles_and_still_answers_typed() -> None:
    agent = ak.Agent("x", output_type=Line, output_retries=2)
    copy = pickle.loads(pickle.dumps(agent))
    assert copy.output_retries == 2
    assert isinstance((await copy.run("q")).output, Line)


async def test_function_model_objects_become_the_answer_in_every_mode() -> None:
    def answer(req: SimRequest) -> Any:
        return Point(3, 4)

    for spec in (Point, ak.NativeOutput(Point), ak.PromptedOutput(Point)):
        assert (await ak.Agent("x", FunctionModel(answer), output_type=spec).run("q")).output == Point(3, 4)
    listed = await ak.Agent("x", FunctionModel(lambda r: [1, 2]), output_type=list[int]).run("q")
    assert listed.output == [1, 2]


async def test_scripted_invalid_json_is_never_default_filled() -> None:
    agent = ak.Agent("x", ScriptedModel(["{}", "{}"]), output_type=ak.NativeOutput(Line))
    with pytest.raises(OutputValidationError) as err:
        await agent.run("q")
    assert err.value.attempts == 2 and err.value.raw == "{}"
    assert any("sku: Field required" in e for e in err.value.errors)
