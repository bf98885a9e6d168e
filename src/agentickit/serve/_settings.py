"""What a server may do: limits, deadlines, CORS, API keys and rate limits (`ServeSettings`, `APIKey`)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass, field

from ..errors import UserError
from ..tools._policies import parse_rate_limit

__all__ = ("APIKey", "RateLimiter", "ServeSettings", "hash_key", "is_loopback")


def hash_key(key: str) -> str:
    """The SHA-256 hex digest under which an API key is stored (`agentickit serve --hash-key` prints it)."""
    return hashlib.sha256(key.encode()).hexdigest()


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """Whether `host` names only this machine (127.0.0.0/8, ::1 or `localhost`).

    Asked for every request without API keys: `ipaddress` parsing costs ~5 us a call, the cache ~50 ns.
    """
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
        rate_limit: requests this key may make, e.g. `"600/m"` (429 beyond it); None takes the
            server's `rate_limit`.

    """

    name: str
    sha256: str
    scopes: tuple[str, ...] = ("*",)
    rate_limit: str | None = None

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
        if self.rate_limit is not None:
            try:
                parse_rate_limit(self.rate_limit)
            except UserError as exc:
                raise UserError(f"API key {self.name!r}: {exc}") from None

    def allows(self, target: str) -> bool:
        """Whether this key may run `target`."""
        return "*" in self.scopes or target in self.scopes

    def __repr__(self) -> str:
        return f"APIKey(name={self.name!r}, scopes={self.scopes!r}, rate_limit={self.rate_limit!r})"


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
        rate_limit: requests per key (per client address when auth is off), e.g. `"100/s"` or
            `"600/m"`, for keys that set none; beyond it a request gets 429 with `Retry-After`.
            The probes, `/openapi.json` and the playground page are not counted. None: no limit.

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
    rate_limit: str | None = None
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
        if self.rate_limit is not None:
            try:
                parse_rate_limit(self.rate_limit)
            except UserError as exc:
                problems.append(f"rate_limit: {exc}")
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


class RateLimiter:
    """Per-client request limits (GCRA): a client may use a period's quota at once, then one per interval.

    One float per client and a few arithmetic operations per request; nothing sleeps (a request over
    the limit is refused with the seconds until it would fit, for `Retry-After`).
    """

    __slots__ = ("_default", "_limits", "_tat")

    def __init__(self, settings: ServeSettings) -> None:
        self._default = None if settings.rate_limit is None else self._params(settings.rate_limit)
        self._limits = {k.name: self._params(k.rate_limit) for k in settings.api_keys if k.rate_limit is not None}
        self._tat: dict[str, float] = {}

    @staticmethod
    def _params(spec: str) -> tuple[float, float]:
        limit = parse_rate_limit(spec)
        interval = limit.interval
        # A period's worth of requests may come back to back (the usual meaning of "100/m" for an API).
        return interval, (max(1, int(limit.calls)) - 1) * interval

    @property
    def active(self) -> bool:
        """Whether any limit is configured."""
        return self._default is not None or bool(self._limits)

    def check(self, client: str, key_name: str | None) -> float:
        """0.0 if `client` may make a request now (and count it), else the seconds until it may."""
        params = self._limits.get(key_name) if key_name is not None else None
        if params is None:
            params = self._default
            if params is None:
                return 0.0
        interval, tau = params
        now = time.monotonic()
        tat = max(self._tat.get(client, now), now)
        wait = tat - tau - now
        if wait > 0:
            return wait
        table = self._tat
        table[client] = tat + interval
        if len(table) > 10_000:
            # Per client address without keys: forget the clients whose budget is whole again.
            for stale in [c for c, t in table.items() if t <= now]:
                del table[stale]
        return 0.0
