"""`agentickit serve`: serve agents and workflows from config files over HTTP (needs the `serve` extra).

```
agentickit serve agent.toml workflow.toml --port 8080          # config files as `agentickit run` takes them
agentickit serve --llm simulated --port 8080                    # one plain agent named "agent"
agentickit serve agent.toml --host 0.0.0.0 --keys keys.toml     # off loopback: API keys are required
agentickit serve --hash-key "$KEY"                              # the sha256 to put in keys.toml
```

A keys file (TOML) lists the accepted keys by their SHA-256, never the keys themselves:

```toml
[[keys]]
name = "ci"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
scopes = ["assistant"]            # agent and workflow names, or ["*"]
```
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, cast

__all__ = ("register",)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:  # pyright: ignore[reportPrivateUsage]
    """Add the `serve` subcommand."""
    p = sub.add_parser(
        "serve",
        help="serve agents and workflows over HTTP: native runs + SSE, OpenAI-compatible APIs, MCP, a playground",
        description="Serve the agents and workflows of CONFIG files (each as `agentickit run` takes it) on one "
        "HTTP server: /v1/agents|workflows/{name}/runs, /v1/chat/completions, /v1/responses, /v1/models, /mcp, "
        "/healthz, /readyz, /metrics, /openapi.json and the playground at /.",
    )
    p.add_argument("configs", nargs="*", type=Path, metavar="CONFIG", help="TOML files, each an agent or a workflow")
    p.add_argument("--llm", default=None, help="with no CONFIG: serve one agent named 'agent' on this model")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; others need --keys)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--keys", type=Path, default=None, help="a TOML file of [[keys]] (name, sha256, scopes)")
    p.add_argument("--hash-key", default=None, metavar="KEY", help="print the sha256 of KEY for a keys file, then exit")
    p.add_argument(
        "--sessions",
        default=None,
        metavar="STORE",
        help="where /v1/responses keeps conversations: a SQLite file path, redis://... or postgresql://... "
        "(default: in this process)",
    )
    p.add_argument("--max-body-bytes", type=int, default=None, help="largest request body (default 1 MiB)")
    p.add_argument("--max-messages", type=int, default=None, help="most messages per request (default 256)")
    p.add_argument("--request-timeout", type=float, default=None, help="seconds a run may take (default 300)")
    p.add_argument("--replay-buffer", type=int, default=None, help="events kept per run for Last-Event-ID")
    p.add_argument("--max-runs", type=int, default=None, help="finished runs kept for GET /v1/runs/{id}")
    p.add_argument("--cors-origin", action="append", default=None, metavar="ORIGIN", help="allow this CORS origin")
    p.add_argument("--shutdown-deadline", type=float, default=None, help="seconds in-flight runs get on shutdown")
    p.add_argument("--no-playground", action="store_true", help="do not serve the playground page at /")
    p.add_argument("--access-log", action="store_true", help="log every request (method, path, status, key name)")
    p.set_defaults(handler=_main)


def load_keys(path: Path) -> list[Any]:
    """The `APIKey`s of a keys file.

    Raises:
        ConfigError: the file is missing, not TOML, or an entry is malformed.

    """
    import tomllib

    from ..errors import ConfigError, UserError
    from ..serve import APIKey

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"keys file {str(path)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"keys file {str(path)!r} is not valid TOML: {exc}") from None
    entries: Any = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"keys file {str(path)!r}: expected [[keys]] entries with name, sha256 and scopes")
    keys: list[Any] = []
    for i, raw in enumerate(cast(list[Any], entries)):
        if not isinstance(raw, dict):
            raise ConfigError(f"keys file {str(path)!r}: keys[{i}] must be a table")
        entry = cast(dict[str, Any], raw)
        unknown = sorted(set(entry) - {"name", "sha256", "scopes"})
        if unknown:
            raise ConfigError(f"keys file {str(path)!r}: keys[{i}] has unknown fields {unknown}")
        try:
            keys.append(
                APIKey(
                    name=str(entry.get("name", "")),
                    sha256=str(entry.get("sha256", "")),
                    scopes=entry.get("scopes", ("*",)),
                )
            )
        except UserError as exc:
            raise ConfigError(f"keys file {str(path)!r}: keys[{i}]: {exc}") from None
    return keys


def session_store(spec: str) -> Any:
    """An `ak.stores` store from `--sessions`: a SQLite path, `redis://...` or `postgresql://...`."""
    from .. import stores

    if spec.startswith(("redis://", "rediss://", "unix://")):
        return stores.Redis(spec)
    if spec.startswith(("postgres://", "postgresql://")):
        return stores.Postgres(spec)
    return stores.SQLite(Path(spec))


def build_app(args: argparse.Namespace) -> Any:
    """The ASGI app the arguments describe."""
    import agentickit as ak

    from ..errors import UserError

    targets: list[Any] = []
    if args.configs:
        if args.llm is not None:
            raise UserError("--llm is for serving one plain agent; with CONFIG files, set the model in them")
        from ..config import load_runnable

        targets = [load_runnable(path) for path in args.configs]
    else:
        targets = [ak.Agent("agent", args.llm or "simulated")]
    agents = [t for t in targets if not hasattr(t, "add_step")]
    workflows = [t for t in targets if hasattr(t, "add_step")]
    settings: dict[str, Any] = {"host": args.host}
    for name in ("max_body_bytes", "max_messages", "request_timeout", "replay_buffer", "max_runs", "shutdown_deadline"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.cors_origin:
        settings["cors_origins"] = tuple(args.cors_origin)
    if args.no_playground:
        settings["playground"] = False
    if args.keys is not None:
        settings["api_keys"] = tuple(load_keys(args.keys))
    sessions = session_store(args.sessions) if args.sessions else None
    return ak.serve.app(agents=agents, workflows=workflows, sessions=sessions, **settings)


def _main(args: argparse.Namespace) -> int:
    if args.hash_key is not None:
        from ..serve import hash_key

        print(hash_key(args.hash_key))
        return 0
    import logging

    from .._utils import run_coroutine
    from ..serve import Server

    app = build_app(args)
    server = Server(app, host=args.host, port=args.port, announce=True)
    # The MCP SDK logs its session manager's start and stop at INFO: not what a server's console is for.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    if args.access_log:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("agentickit.serve.access").setLevel(logging.INFO)
    try:
        run_coroutine(server.serve())
    except KeyboardInterrupt:
        return 130
    return 0
