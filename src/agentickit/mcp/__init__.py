"""MCP servers as tool sources, over the official `mcp` SDK (`pip install "agentickit[mcp]"`).

The SDK is imported when a server first connects, so importing this package (and building
`MCPServer` objects) costs nothing until an agent needs the tools.
"""

from ._results import to_output
from ._server import MCPServer, ToolFilter

__all__ = ("MCPServer", "ToolFilter", "to_output")
