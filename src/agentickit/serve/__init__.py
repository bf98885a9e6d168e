"""Serve agents and workflows over HTTP: native runs with resumable SSE, OpenAI-compatible APIs, MCP, a playground.

```python
import agentickit as ak

app = ak.serve.app(agents=[agent], workflows=[wf])    # an ASGI app (starlette)
```

or from the command line: `agentickit serve agent.toml workflow.toml --port 8080`.
Needs the `serve` extra: `pip install "agentickit[serve]"`.
"""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("starlette") is None or importlib.util.find_spec("uvicorn") is None:  # pragma: no cover
    raise ImportError('agentickit.serve needs starlette and uvicorn: pip install "agentickit[serve]"')

from ._app import app
from ._runs import InMemoryRunStore, RunStore, StoreRunStore
from ._server import Server
from ._settings import APIKey, ServeSettings, hash_key

__all__ = ("APIKey", "InMemoryRunStore", "RunStore", "ServeSettings", "Server", "StoreRunStore", "app", "hash_key")
