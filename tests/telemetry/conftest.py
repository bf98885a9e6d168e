"""An in-memory OpenTelemetry SDK per test: spans in an in-memory exporter, metrics in an in-memory reader."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentickit as ak


@dataclass
class Traces:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, f"{name!r}: {[s.name for s in self.spans()]}"
        return found[0]

    def enable(self, **kwargs: Any) -> bool:
        return ak.telemetry.enable(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **kwargs)

    def metric_points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        points: list[Any] = []
        if data is None:
            return points
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == name:
                        points.extend(m.data.data_points)
        return points


@pytest.fixture
def traces() -> Iterator[Traces]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    yield Traces(exporter, reader, tp, mp)
    ak.telemetry.disable()
    tp.shutdown()
    mp.shutdown()


@pytest.fixture(params=["default", "latest"])
def flavour(request: pytest.FixtureRequest) -> str:
    return request.param


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    ctx = span.context
    assert ctx is not None
    return ctx.span_id


def attr_names(spans: list[ReadableSpan]) -> set[str]:
    names: set[str] = set()
    for s in spans:
        names.update((s.attributes or {}).keys())
        for e in s.events:
            names.update((e.attributes or {}).keys())
    return names


def all_values(spans: list[ReadableSpan]) -> list[str]:
    out: list[str] = [s.name for s in spans]
    for s in spans:
        out.extend(str(v) for v in (s.attributes or {}).values())
        for e in s.events:
            out.append(e.name)
            out.extend(str(v) for v in (e.attributes or {}).values())
        if s.status.description:
            out.append(s.status.description)
    return out
