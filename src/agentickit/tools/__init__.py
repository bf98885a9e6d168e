"""Tools: `Tool`, the `@tool` decorator, and how results reach the model."""

from ._tool import Tool, ToolFunc, result_text, tool

__all__ = ("Tool", "ToolFunc", "result_text", "tool")
