"""Structured output: typed answers that are validated, corrected and streamed.

```python
agent = ak.Agent("extract", llm=..., output_type=Invoice)        # the provider's default mode
agent = ak.Agent("extract", llm=..., output_type=ak.ToolCallOutput(Invoice))
result = await agent.run("...")                                 # result.output: Invoice
```

The modes (`NativeOutput`, `ToolCallOutput`, `PromptedOutput`) are light value objects; the schema
work (pydantic) is imported only when an output type is first used, so `import agentickit` stays fast.
"""

from ._modes import DEFAULT_TOOL_NAME, NativeOutput, OutputMode, OutputSpec, PromptedOutput, ToolCallOutput

__all__ = ("DEFAULT_TOOL_NAME", "NativeOutput", "OutputMode", "OutputSpec", "PromptedOutput", "ToolCallOutput")
