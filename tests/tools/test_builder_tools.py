from __future__ import annotations

import agentickit as ak


def test_builder_takes_tools_sources_and_tool_settings() -> None:
    def weather(city: str) -> str:
        return city

    server = ak.MCPServer.stdio("python", ["server.py"])
    registry = ak.ToolRegistry()
    cache = ak.ToolCache.memory(max_entries=5)
    agent = (
        ak.Agent.builder("b")
        .with_tools(weather, server, registry)
        .with_tool_timeout(5)
        .with_max_concurrent_tools(4)
        .with_tool_cache(cache)
        .build()
    )
    assert agent.tools == (weather, server, registry)
    assert agent.tool_timeout == 5 and agent.max_concurrent_tools == 4 and agent.tool_cache is cache
    assert not server.connected  # building never starts a server
    assert list(agent.tool_map) == ["weather"]  # sources join on the first run
