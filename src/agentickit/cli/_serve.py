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
rate_limit = "600/m"              # optional; default: the server's --rate-limit
```

A config file's `[serve]` section sets the same things (`host`, `port`, `[[serve.api_keys]]`,
`rate_limit`, limits, `cors_origins`, `sessions`, `runs`, ...); a flag wins over the file.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, cast

from ._common import path_arg

if TYPE_CHECKING:
    from pathlib import Path

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
    p.add_argument(
        "configs", nargs="*", type=path_arg, metavar="CONFIG", help="TOML files, each an agent or a workflow"
    )
    p.add_argument("--llm", default=None, help="with no CONFIG: serve one agent named 'agent' on this model")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1; others need --keys)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080; 0 picks a free one)")
    p.add_argument("--keys", type=path_arg, default=None, help="a TOML file of [[keys]] (name, sha256, scopes)")
    p.add_argument("--hash-key", default=None, metavar="KEY", help="print the sha256 of KEY for a keys file, then exit")
    p.add_argument(
        "--sessions",
        default=None,
        metavar="STORE",
        help="where /v1/responses keeps conversations: a SQLite file path, redis://... or postgresql://... "
        "(default: in this process)",
    )
    p.add_argument(
        "--runs",
        default=None,
        metavar="STORE",
        help="where run records go, so paused runs resume after a restart: a SQLite file path, redis://... "
        "or postgresql://... (default: in this process)",
    )
    p.add_argument("--rate-limit", default=None, help='requests per key (or client address), e.g. "100/s", "600/m"')
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
        unknown = sorted(set(entry) - {"name", "sha256", "scopes", "rate_limit"})
        if unknown:
            raise ConfigError(f"keys file {str(path)!r}: keys[{i}] has unknown fields {unknown}")
        try:
            keys.append(
                APIKey(
                    name=str(entry.get("name", "")),
                    sha256=str(entry.get("sha256", "")),
                    scopes=entry.get("scopes", ("*",)),
                    rate_limit=entry.get("rate_limit"),
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
    return stores.SQLite(path_arg(spec))


_SETTINGS = (
    "max_body_bytes",
    "max_messages",
    "request_timeout",
    "replay_buffer",
    "max_runs",
    "shutdown_deadline",
    "rate_limit",
)


def serve_sections(configs: list[Any]) -> dict[str, Any]:
    """The `[serve]` keys of the served config files, merged (store paths resolved against their file).

    Raises:
        ConfigError: two files set one key to different values (the message names the key and both files).

    """
    from ..errors import ConfigError

    merged: dict[str, tuple[Any, str]] = {}
    for cfg in configs:
        section = cfg.serve
        if section is None:
            continue
        for key, value in section.model_dump(exclude_none=True).items():
            if key in ("sessions", "runs") and cfg.source_dir is not None and "://" not in value:
                value = str((cfg.source_dir / value).resolve())
            if key in merged and merged[key][0] != value:
                raise ConfigError(
                    f"{cfg.source}: serve.{key} differs from the one in {merged[key][1]}; "
                    f"set it in one file (or with the command's flag)"
                )
            merged[key] = (value, cfg.source)
    return {k: v for k, (v, _) in merged.items()}


def build_app(args: argparse.Namespace) -> tuple[Any, str, int, bool]:
    """The app the arguments and the files' `[serve]` sections describe; its host, port and access-log switch.

    A flag wins over a file's key.
    """
    import agentickit as ak

    from ..config import load_config
    from ..errors import UserError
    from ..serve import APIKey

    targets: list[Any] = []
    configs: list[Any] = []
    if args.configs:
        if args.llm is not None:
            raise UserError("--llm is for serving one plain agent; with CONFIG files, set the model in them")
        from ..config import load_runnable

        configs = [load_config(path) for path in args.configs]
        targets = [load_runnable(cfg) for cfg in configs]
    else:
        targets = [ak.Agent("agent", args.llm or "simulated")]
    agents = [t for t in targets if not hasattr(t, "add_step")]
    workflows = [t for t in targets if hasattr(t, "add_step")]
    file = serve_sections(configs)
    host: str = args.host if args.host is not None else file.get("host", "127.0.0.1")
    port: int = args.port if args.port is not None else file.get("port", 8080)
    settings: dict[str, Any] = {"host": host}
    for name in _SETTINGS:
        value = getattr(args, name)
        if value is None:
            value = file.get(name)
        if value is not None:
            settings[name] = value
    origins = args.cors_origin or file.get("cors_origins")
    if origins:
        settings["cors_origins"] = tuple(origins)
    if args.no_playground or file.get("playground") is False:
        settings["playground"] = False
    if args.keys is not None:
        settings["api_keys"] = tuple(load_keys(args.keys))
    elif file.get("api_keys"):
        settings["api_keys"] = tuple(
            APIKey(name=k["name"], sha256=k["sha256"], scopes=tuple(k["scopes"]), rate_limit=k.get("rate_limit"))
            for k in file["api_keys"]
        )
    sessions_spec = args.sessions or file.get("sessions")
    runs_spec = args.runs or file.get("runs")
    sessions = session_store(sessions_spec) if sessions_spec else None
    runs = session_store(runs_spec) if runs_spec else None
    app = ak.serve.app(agents=agents, workflows=workflows, sessions=sessions, store=runs, **settings)
    return app, host, port, bool(args.access_log or file.get("access_log"))


def _main(args: argparse.Namespace) -> int:
    if args.hash_key is not None:
        from ..serve import hash_key

        print(hash_key(args.hash_key))
        return 0
    import logging

    from .._utils import run_coroutine
    from ..serve import Server

    app, host, port, access_log = build_app(args)
    server = Server(app, host=host, port=port, announce=True)
    # The MCP SDK logs its session manager's start and stop at INFO: not what a server's console is for.
    logging.getLogger("mcp").setLevel(logging.WARNING)
    if access_log:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("agentickit.serve.access").setLevel(logging.INFO)
    _tune_gc()
    try:
        run_coroutine(server.serve())
    except KeyboardInterrupt:
        return 130
    return 0


def _tune_gc() -> None:
    """Collect less often in the server process this command owns (an app mounted elsewhere is its owner's).

    With 1,000 SSE streams open, the collector's default young-generation threshold (700 allocations)
    ran every few events, and its full collections walked every live stream's objects: measured on
    2 cores (bench serve.streams_1000, interleaved), inter-chunk p99 26-35 ms with the defaults and
    14-16 ms with these, server CPU per event 86-91 vs 67-69 us. The startup heap (modules, agents,
    the MCP server) is frozen, so no collection walks it again.
    """
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 1_000)
