"""`agentickit simulate-llm`: serve the simulated model as an OpenAI-compatible HTTP server."""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ("register",)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def register(subparsers: Any) -> None:
    """Add the `simulate-llm` subcommand."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate-llm",
        help="serve the simulated model as an OpenAI-compatible API (for load tests and benchmarks)",
        description=(
            "Serve the simulated model over HTTP: POST /v1/chat/completions (streamed and not), GET /v1/models. "
            "Put [[sim:429]], [[sim:500]], [[sim:timeout]], [[sim:malformed]], ... in a user message to script a "
            "failure. Point clients at http://HOST:PORT/v1 with any API key."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    parser.add_argument("--ttft-ms", type=_non_negative, default=0.0, help="milliseconds before the first token")
    parser.add_argument("--tokens-per-s", type=_positive, default=None, help="tokens per second (default: no delay)")
    parser.add_argument("--reply", default="echo", help="'echo' (the last user message) or a fixed reply text")
    parser.add_argument("--thoughts", default="", help="reasoning text streamed as reasoning_content")
    parser.add_argument("--model", default="sim", help="model id reported by /v1/models (default 'sim')")
    parser.add_argument("--fail-first-n", type=int, default=0, help="fail the first N requests (see --fail-with)")
    parser.add_argument(
        "--fail-with",
        default="500",
        choices=("429", "500", "401", "400", "timeout", "malformed"),
        help="the failure --fail-first-n injects (default 500)",
    )
    parser.add_argument("--retry-after", type=_non_negative, default=0.0, help="seconds sent in Retry-After on 429")
    parser.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    parser.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    from ..simulator import serve

    def announce(line: str) -> None:
        print(line, flush=True)

    try:
        serve(
            args.host,
            args.port,
            announce=announce,
            ttft_ms=args.ttft_ms,
            tokens_per_s=args.tokens_per_s,
            reply=args.reply,
            thoughts=args.thoughts,
            model_name=args.model,
            fail_first_n=args.fail_first_n,
            fail_with=args.fail_with,
            retry_after=args.retry_after,
            api_key=args.api_key,
        )
    except OSError as exc:  # the port is taken, or the host is not ours
        print(
            f"error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}); "
            "pick another port with --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 1
    return 0
