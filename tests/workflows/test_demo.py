from __future__ import annotations

import io

import pytest

from agentickit.cli._demo_workflows import demo_workflows


async def test_demo_prints_the_three_walls_and_parallel_wins() -> None:
    rich_console = pytest.importorskip("rich.console")
    out = io.StringIO()
    walls = await demo_workflows(rich_console.Console(file=out, width=120), latency=0.02)
    assert set(walls) == {"sequential", "parallel", "dag"}
    # Shape, not speed: sequential runs three steps back to back, parallel one step's worth.
    assert walls["sequential"] >= 3 * 0.02 and walls["dag"] >= 2 * 0.02
    assert walls["parallel"] < walls["sequential"]
    text = out.getvalue()
    assert "sequential" in text and "parallel" in text and "dag" in text and "ms" in text
