"""Structured output: what a typed, validated answer costs over plain text (`output.structured`).

- added cost per run for a 10-field model, in process (native and tool modes) and over HTTP, against
  a plain-text run of the same model answering the same JSON text (so only the output work differs);
- the schema cache hit rate over those runs;
- the validation cost per partial object while streaming, with one partial per chunk (PydanticAI's
  documented approach validates partial output on every chunk; measured here at that same rate).
"""

from __future__ import annotations

import time
from typing import Any

from ._util import QUICK, Budget, Row, Stat, interleaved, simulator

GROUP = "output"
US = 1e6

TEN_JSON = (
    '{"a": "alpha", "b": 2, "c": 3.5, "d": true, "e": "echo", "f": 6, "g": ["x", "y", "z"], '
    '"h": "hotel", "i": 9.25, "j": 10}'
)


def _ten() -> Any:
    from pydantic import BaseModel

    class Ten(BaseModel):
        a: str
        b: int
        c: float
        d: bool
        e: str
        f: int
        g: list[str]
        h: str
        i: float
        j: int

    return Ten


async def structured() -> list[Row]:
    import agentickit as ak
    from agentickit.messages import ToolCall
    from agentickit.output._schema import cache_info, output_plan
    from agentickit.testing import FunctionModel, SimTurn

    ten = _ten()
    text_model = FunctionModel(lambda r: TEN_JSON)
    tool_model = FunctionModel(lambda r: SimTurn(tool_calls=(ToolCall("c1", "final_result", TEN_JSON),)))
    plain = ak.Agent("plain", text_model)
    native = ak.Agent("native", text_model, output_type=ak.NativeOutput(ten))
    tool = ak.Agent("tool", tool_model, output_type=ak.ToolCallOutput(ten))
    before = cache_info()

    async def run_plain() -> None:
        await plain.run("q")

    async def run_native() -> None:
        await native.run("q")

    async def run_tool() -> None:
        await tool.run("q")

    number = 300 if QUICK else 2_000
    st = await interleaved(
        {"plain": run_plain, "native": run_native, "tool": run_tool}, number=number, repeats=3 if QUICK else 9
    )
    p = st["plain"]
    rows: list[Row] = []
    for name, label in (("native", "NativeOutput"), ("tool", "ToolCallOutput")):
        s = st[name]
        rows.append(
            Row(
                id=f"output.inprocess_{name}",
                group=GROUP,
                title=f"structured output added per run, in process ({label}, 10-field model)",
                value=(s.median - p.median) * US,
                min=(s.min - p.median) * US,
                max=(s.max - p.median) * US,
                n=s.n,
                unit="us",
                baseline={"name": "plain-text run, same model and text", "value": p.median * US, "unit": "us"},
                note=f"{label} {s.median * US:.1f} us vs plain {p.median * US:.1f} us; {number:,} runs x {s.n}, interleaved",
            ).judge(Budget("<=", 20.0, "<= 20 us in process"))
        )

    async with simulator(ttft_ms=0, reply=TEN_JSON) as base:
        llm = ak.LLMConfig(provider="openai", model="sim", base_url=base, api_key="k")
        async with ak.Agent("hp", llm) as hp, ak.Agent("hn", llm, output_type=ak.NativeOutput(ten)) as hn:

            async def http_plain() -> None:
                await hp.run("q")

            async def http_native() -> None:
                await hn.run("q")

            n_http = 100 if QUICK else 300
            hs = await interleaved(
                {"plain": http_plain, "native": http_native}, number=n_http, repeats=3 if QUICK else 7
            )
    hp_s, hn_s = hs["plain"], hs["native"]
    rows.append(
        Row(
            id="output.http_native",
            group=GROUP,
            title="structured output added per run over HTTP (NativeOutput, 10-field model, simulate-llm)",
            value=(hn_s.median - hp_s.median) * US,
            min=(hn_s.min - hp_s.median) * US,
            max=(hn_s.max - hp_s.median) * US,
            n=hn_s.n,
            unit="us",
            baseline={"name": "plain-text run over HTTP, same reply", "value": hp_s.median * US, "unit": "us"},
            note=f"native {hn_s.median * US:.0f} us vs plain {hp_s.median * US:.0f} us (response_format in the body); "
            f"{n_http} sequential runs x {hn_s.n}; server in its own process",
        )
    )

    after = cache_info()
    hits, misses = after["hits"] - before["hits"], after["misses"] - before["misses"]
    rows.append(
        Row(
            id="output.schema_cache",
            group=GROUP,
            title="schema cache hit rate (runs that looked their output plan up)",
            value=100.0 * hits / max(hits + misses, 1),
            unit="%",
            n=hits + misses,
            note=f"{hits:,} hits, {misses} schemas built (one per type, at construction)",
        ).judge(Budget(">=", 99.0, ">= 99%"))
    )

    schema = output_plan(ak.NativeOutput(ten)).schema
    step = 4  # ~ one token of JSON per chunk
    prefixes = [TEN_JSON[:i] for i in range(step, len(TEN_JSON) + 1, step)]
    samples: list[float] = []
    reps = 20 if QUICK else 200
    for _ in range(5 if QUICK else 9):
        t0 = time.perf_counter()
        for _ in range(reps):
            for text in prefixes:
                schema.partial(text)
        samples.append((time.perf_counter() - t0) / (reps * len(prefixes)))
    per = Stat.of(samples)
    full = schema.validate
    t0 = time.perf_counter()
    for _ in range(reps * 10):
        full(TEN_JSON)
    full_cost = (time.perf_counter() - t0) / (reps * 10)
    rows.append(
        Row(
            id="output.partial_validation",
            group=GROUP,
            title="lenient validation per partial object while streaming (10-field model, one per ~4-char chunk)",
            value=per.median * US,
            min=per.min * US,
            max=per.max * US,
            n=per.n,
            unit="us",
            baseline={"name": "full validation of the whole answer", "value": full_cost * US, "unit": "us"},
            note=f"{len(prefixes)} partials per answer = {per.median * US * len(prefixes):.0f} us if validated per chunk "
            "(PydanticAI's documented rate); agentickit validates once per batch (network read), so an in-process "
            "or one-read answer pays one",
        )
    )
    return rows
