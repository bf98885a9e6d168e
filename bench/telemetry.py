"""Telemetry (issue 19): what a hook costs while tracing is off, and what tracing adds to a run when on.

Off: each hook point is `None if _tel.active is None else ...`; timed per hook with `timeit`, minus
an empty statement measured in the same loop. On: the same agent run with telemetry off, on with the
OpenTelemetry API alone (no SDK: no-op spans), and on with the SDK, a `BatchSpanProcessor` and an
exporter that drops the batches (so the figure is ours plus the SDK's, not a collector's), all
interleaved in one run. The `<= 2%` budget is judged on a run whose simulated model takes 10 ms to
its first token; the 0-latency run shows the absolute cost per run.

A user's OTLP exporter does more than drop: it encodes every batch to protobuf on the batch
processor's thread, which holds the GIL while it does (about as much CPU per span as the SDK's own
span work). The `otlp` rows (information, no budget) use the OTLP exporter's own encoder and drop
the bytes, so they show that cost without a network or collector in the figure.
"""

from __future__ import annotations

import timeit
from collections.abc import Sequence
from typing import Any

from ._util import QUICK, Budget, Row, Stat, interleaved

GROUP = "telemetry"
_VARIANTS = (
    ("noop", "API only (no-op spans)"),
    ("batch", "SDK + batch exporter"),
    ("otlp", "SDK + batch exporter encoding OTLP"),
)
_SDK_WORK = "2 spans (invoke_agent, chat; 19 attributes) and 3 histogram records (SDK meter, no reader)"
_WORK = {
    "noop": "2 no-op spans and 3 no-op histogram records",
    "batch": _SDK_WORK,
    "otlp": _SDK_WORK + ", each span encoded to OTLP protobuf on the processor's thread",
}
US = 1e6
NS = 1e9


def _hook_cost() -> tuple[Stat, Stat]:
    from agentickit.telemetry import _hooks as _tel

    assert _tel.active is None
    env: dict[str, Any] = {"_tel": _tel, "a": object(), "b": object()}
    hook = "span = None if _tel.active is None else _tel.active.run_start(a, b)"
    number = 200_000 if QUICK else 1_000_000
    repeats = 5 if QUICK else 9
    empty = timeit.repeat("span = None", globals=env, number=number, repeat=repeats)
    full = timeit.repeat(hook, globals=env, number=number, repeat=repeats)
    return Stat.of([t / number for t in full]), Stat.of([t / number for t in empty])


class _DropExporter:
    """A span exporter that accepts every batch and keeps nothing (the cost of export itself is not ours)."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class _EncodeExporter(_DropExporter):
    """What `OTLPSpanExporter` does with a batch short of sending it: the protobuf encoding."""

    def export(self, spans: Sequence[Any]) -> Any:
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
        from opentelemetry.sdk.trace.export import SpanExportResult

        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


async def cost() -> list[Row]:
    import agentickit as ak
    from agentickit.providers.simulated import SimulatedModel

    try:
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:  # the otel extra is part of `make install`
        from ._util import Unavailable

        raise Unavailable(f"opentelemetry-sdk is not installed ({exc}); pip install 'agentickit[otel]'") from exc

    hook, empty = _hook_cost()
    rows = [
        Row(
            id="telemetry.off_hook",
            group=GROUP,
            title="telemetry off: cost of one hook point",
            value=(hook.median - empty.median) * NS,
            min=(hook.min - empty.median) * NS,
            max=(hook.max - empty.median) * NS,
            n=hook.n,
            unit="ns",
            baseline={"name": "an empty assignment in the same loop", "value": empty.median * NS, "unit": "ns"},
            note=f"`None if _tel.active is None else ...`: {hook.median * NS:.1f} ns raw, "
            f"{empty.median * NS:.1f} ns for the loop and assignment alone",
        ).judge(Budget("<=", 100.0, "<= 100 ns per hook")),
    ]

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_DropExporter()))  # type: ignore[arg-type]
    encoding = TracerProvider()
    encoding.add_span_processor(BatchSpanProcessor(_EncodeExporter()))  # type: ignore[arg-type]
    meters = MeterProvider()

    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.trace import NoOpTracerProvider

    from agentickit.telemetry import _hooks

    # Each setting built once by enable(), then switched per run (enable() itself is not per-run work).
    ak.telemetry.enable(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())
    noop_impl = _hooks.active
    ak.telemetry.enable(tracer_provider=provider, meter_provider=meters)
    batch_impl = _hooks.active
    ak.telemetry.enable(tracer_provider=encoding, meter_provider=meters)
    otlp_impl = _hooks.active
    ak.telemetry.disable()

    def variants(agent: ak.Agent) -> dict[str, Any]:
        async def off() -> None:
            await agent.run("hello")

        def on(impl: Any) -> Any:
            async def run() -> None:
                _hooks.install(impl)
                try:
                    await agent.run("hello")
                finally:
                    _hooks.install(None)

            return run

        # noop: the OpenTelemetry API with no SDK behind it (every span a no-op).
        return {"off": off, "noop": on(noop_impl), "batch": on(batch_impl), "otlp": on(otlp_impl)}

    try:
        fast = ak.Agent("bench", llm=SimulatedModel(reply="ok", tools_mode="never"))
        number = 300 if QUICK else 1_500
        s = await interleaved(variants(fast), number=number, repeats=3 if QUICK else 9)
        off = s["off"].median
        for key, label in _VARIANTS:
            on = s[key].median
            rows.append(
                Row(
                    id=f"telemetry.on_{key}_0ms",
                    group=GROUP,
                    title=f"telemetry on, {label}: added per run, 0-latency model",
                    value=(on - off) * US,
                    min=(s[key].min - off) * US,
                    max=(s[key].max - off) * US,
                    n=s[key].n,
                    unit="us",
                    baseline={"name": "the same run with telemetry off", "value": off * US, "unit": "us"},
                    note=f"{on * US:.1f} us vs {off * US:.1f} us off ({(on / off - 1) * 100:+.0f}%); " + _WORK[key],
                )
            )
        slow = ak.Agent("bench", llm=SimulatedModel(reply="ok", tools_mode="never", ttft=0.010))
        number = 10 if QUICK else 40
        s = await interleaved(variants(slow), number=number, repeats=3 if QUICK else 7, warmup=3)
        off = s["off"].median
        for key, label in _VARIANTS:
            on = s[key].median
            row = Row(
                id=f"telemetry.on_{key}_10ms",
                group=GROUP,
                title=f"telemetry on, {label}: added wall, model with 10 ms to first token",
                value=(on / off - 1) * 100,
                min=(s[key].min / off - 1) * 100,
                max=(s[key].max / off - 1) * 100,
                n=s[key].n,
                unit="%",
                baseline={"name": "the same run with telemetry off", "value": off * 1e3, "unit": "ms"},
                note=f"{on * 1e3:.3f} ms vs {off * 1e3:.3f} ms off",
            )
            # The budget is the issue's: a no-op or a batch exporter; the OTLP encoding is information.
            rows.append(row if key == "otlp" else row.judge(Budget("<=", 2.0, "<= 2% added wall")))
    finally:
        ak.telemetry.disable()
        provider.shutdown()
        encoding.shutdown()
        meters.shutdown()
    return rows
