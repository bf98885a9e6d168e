"""What a server may do: limits, deadlines, CORS and API keys (`ServeSettings`, `APIKey`)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass, field

from ..errors import UserError

__all__ = ("APIKey", "ServeSettings", "hash_key", "is_loopback")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored (`agentickit serve --hash-key` prints it)."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1 or `localhost`)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True, frozen=True, kw_only=True)
class APIKey:
    """One client's key, stored as its SHA-256 digest (never the key itself).

    Attributes:
        name: who holds it; written in access logs (the key never is).
        sha256: `hash_key(key)`, 64 hex digits.
        scopes: the agent and workflow names it may run, or `"*"` for all (needed for `/mcp`).

    """

    name: str
    sha256: str
    scopes: tuple[str, ...] = ("*",)

    def __post_init__(self) -> None:
        digest = self.sha256.lower()
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise UserError(
                f"API key {self.name!r}: sha256 must be 64 hex digits (the SHA-256 of the key; "
                "`agentickit serve --hash-key` prints it), not the key itself"
            )
        object.__setattr__(self, "sha256", digest)
        if isinstance(self.scopes, str):
            raise UserError(f"API key {self.name!r}: scopes is a list of names, e.g. ['assistant'] or ['*']")
        object.__setattr__(self, "scopes", tuple(self.scopes))

    def allows(self, target: str) -> bool:
        """Whether this key may run `target`."""
        return "*" in self.scopes or target in self.scopes

    def __repr__(self) -> str:
        return f"APIKey(name={self.name!r}, scopes={self.scopes!r})"


@dataclass(slots=True, frozen=True, kw_only=True)
class ServeSettings:
    """A server's limits and security. Every field is also a keyword of `ak.serve.app()` and a CLI flag.

    Attributes:
        api_keys: the accepted keys. With none, only loopback clients are served (auth is off).
        max_body_bytes: the largest request body accepted (413 beyond it).
        max_messages: the most chat messages one request may carry (400 beyond it).
        request_timeout: seconds one run may take before it ends with a `timeout` error.
        replay_buffer: events kept per run for clients that reconnect with `Last-Event-ID`.
        max_runs: finished run records kept for `GET /v1/runs/{id}` (oldest forgotten first).
        cors_origins: origins allowed by CORS; empty (the default) sends no CORS headers.
        shutdown_deadline: seconds in-flight runs get to finish on shutdown before they are cancelled.
        host: the address the server is bound to; the MCP endpoint's DNS-rebinding guard uses it.
        playground: serve the playground page at `/`.

    """

    api_keys: tuple[APIKey, ...] = ()
    max_body_bytes: int = 1 << 20
    max_messages: int = 256
    request_timeout: float = 300.0
    replay_buffer: int = 10_000
    max_runs: int = 1_000
    cors_origins: tuple[str, ...] = ()
    shutdown_deadline: float = 10.0
    host: str = "127.0.0.1"
    playground: bool = True
    _digests: tuple[bytes, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        for label, value, low in (
            ("max_body_bytes", self.max_body_bytes, 1),
            ("max_messages", self.max_messages, 1),
            ("replay_buffer", self.replay_buffer, 1),
            ("max_runs", self.max_runs, 1),
        ):
            if not isinstance(value, int) or value < low:  # pyright: ignore[reportUnnecessaryIsInstance]
                problems.append(f"{label} must be an integer >= {low}, got {value!r}")
        for label, value in (("request_timeout", self.request_timeout), ("shutdown_deadline", self.shutdown_deadline)):
            if not isinstance(value, int | float) or value <= 0:  # pyright: ignore[reportUnnecessaryIsInstance]
                problems.append(f"{label} must be seconds > 0, got {value!r}")
        if problems:
            raise UserError("serve settings: " + "; ".join(problems))
        keys = tuple(self.api_keys)
        names = [k.name for k in keys]
        if len(set(names)) != len(names):
            raise UserError(f"serve settings: API key names must be unique, got {names}")
        object.__setattr__(self, "api_keys", keys)
        object.__setattr__(self, "cors_origins", tuple(self.cors_origins))
        object.__setattr__(self, "_digests", tuple(bytes.fromhex(k.sha256) for k in keys))

    @property
    def auth(self) -> bool:
        """Whether API keys are required (they are whenever any is configured)."""
        return bool(self.api_keys)

    def authenticate(self, header: str | None) -> APIKey | None:
        """The key an `Authorization: Bearer ...` header presents, or None.

        Every stored digest is compared, in constant time, so the time taken says nothing about
        which key (or which prefix of a digest) came close.
        """
        if not header or not header[:7].lower() == "bearer ":
            return None
        presented = hashlib.sha256(header[7:].strip().encode()).digest()
        found: APIKey | None = None
        for key, digest in zip(self.api_keys, self._digests, strict=True):
            if hmac.compare_digest(presented, digest):
                found = key
        return found
