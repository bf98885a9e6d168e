"""The simulated model served over real HTTP as an OpenAI-compatible API (`agentickit simulate-llm`).

Needs aiohttp (a core dependency); `import agentickit` does not import this package.
"""

from ._server import RecordedRequest, SimulatorServer, serve

__all__ = ("RecordedRequest", "SimulatorServer", "serve")
