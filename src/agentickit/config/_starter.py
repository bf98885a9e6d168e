"""Commented starter files written by `agentickit config init` (each loads and runs offline as written)."""

from __future__ import annotations

__all__ = ("STARTER_AGENT", "STARTER_WORKFLOW")

STARTER_AGENT = """\
# agentickit agent configuration.
# Check it:  agentickit config check agent.toml
# Run it:    agentickit run agent.toml "What can you do?"
# Strings may use ${VAR} or ${VAR:-default} from the environment; AGENTICKIT_* variables override
# keys (e.g. AGENTICKIT_LLM_MODEL, AGENTICKIT_LLM_TEMPERATURE; see agentickit.config.ENV_OVERRIDES).
# Durations are seconds (30, 0.25) or strings ("250ms", "30s", "5m", "1h").

name = "assistant"
system_prompt = "You are a helpful assistant. Answer clearly and concisely."
# preset = "chat"                      # chat | research | data: start from a preset; keys here win
# handler = "my_pkg.handlers:answer"   # async def answer(input: str, caps: ak.Capabilities) -> str

[llm]
provider = "simulated"                 # simulated (offline) | openai | azure | ollama | anthropic
# model = "gpt-4o-mini"                # required for openai, azure and anthropic
# base_url = "http://localhost:8000/v1"  # any OpenAI-compatible server (vLLM, LM Studio, OpenRouter)
# api_key = "${OPENAI_API_KEY}"        # default: the provider's environment variable
temperature = 0.2                      # 0.0 is sent as 0.0
max_tokens = 500                       # shorter answers are faster and cheaper
timeout = "60s"                        # one request to the provider
max_retries = 3                        # on 429, 5xx, timeouts (backoff honours Retry-After)

[llm.options]                          # provider-specific settings
ttft = 0.05                            # simulated: seconds to the first token
tokens_per_s = 200                     # simulated: streaming speed

[memory]                               # remove this section for stateless runs
history_limit = 10                     # history messages sent per run
# session_id = "default"               # default conversation for runs that name none

[streaming]                            # defaults of run_stream / `agentickit run --stream`
buffer_size = 100                      # real-time 25-50, interactive 50-100, batch 200-500
flush_interval = "100ms"               # coalesce deltas (0: every token at once)
text_only = false
include_thoughts = true
include_tool_calls = true

[tools]
# functions = ["my_pkg.tools:weather"] # Python tools by import path (files next to this one work too)
timeout = "30s"                        # fast tools 5s, standard 30s, slow 60s+
max_retries = 1
max_concurrent = 8                     # tool calls of this agent at once, all its runs together
# rate_limit = "10/s"                  # per tool: "10/s", "100/m", "1000/h"

[tools.cache]
enabled = false
ttl = "5m"
backend = "memory"                     # memory | redis
# url = "redis://127.0.0.1:6379/0"     # for backend = "redis"

# [[mcp.servers]]                      # MCP servers whose tools the agent may call
# name = "files"
# transport = "stdio"                  # stdio | http | sse
# command = "python"
# args = ["my_mcp_server.py"]
# timeout = "30s"                      # per tool call; starting + handshake: connect_timeout (10s)
# retries = 1                          # and cache_ttl, rate_limit, max_concurrency, as in [tools]
# [mcp.servers.tool_policies.search]   # per tool (server-side name): replaces the server's
# cache_ttl = "5m"
#
# [[mcp.servers]]
# name = "search"
# transport = "http"
# url = "http://127.0.0.1:8000/mcp"
# headers = { Authorization = "Bearer ${SEARCH_TOKEN}" }
"""

STARTER_WORKFLOW = """\
# agentickit workflow configuration: agents and how they run, in one file.
# Check it:  agentickit config check workflow.toml
# Run it:    agentickit run workflow.toml "quantum batteries"
# Top-level sections ([llm], [memory], [tools], ...) are the defaults every step's agent inherits.

name = "research"

[llm]
provider = "simulated"
temperature = 0.2

[llm.options]
ttft = 0.05

# Named agents that steps refer to with `agent = "NAME"`.
[agents.researcher]
system_prompt = "Find the key facts."

[agents.writer]
system_prompt = "Write a short, clear summary."

[workflow]
mode = "dag"                           # sequential | parallel | dag | loop
timeout = "2m"                         # what finished by then is kept
# max_concurrency = 4                  # parallel / dag
# fail_fast = false                    # parallel / dag: cancel the others on the first failure
# max_iterations = 5                   # loop
# until_contains = "APPROVED"          # loop: stop when the output contains this

[[workflow.steps]]
name = "facts"
agent = "researcher"

[[workflow.steps]]
name = "context"
agent = "researcher"

[[workflow.steps]]
name = "summary"
agent = "writer"
depends_on = ["facts", "context"]      # starts the moment both have finished

# A step may also define its agent inline, or point to another file:
# [[workflow.steps]]
# name = "review"
# agent = "reviewer.toml"              # relative to this file
"""
