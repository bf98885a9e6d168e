"""Keeping secrets out of reprs and error messages: header values, URL passwords, keys in query strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ("REDACTED", "has_userinfo", "is_secret_name", "redact_headers", "redact_url", "userinfo_message")

REDACTED = "***"

# Header / query parameter names whose values are credentials: authorization, api-key, x-api-key,
# anything with token, secret or password in it (x-auth-token, access_token), and the short names
# APIs put keys under in query strings (?key=, ?sig=, ?code=).
_SECRET_PARTS = ("authorization", "api-key", "api_key", "apikey", "token", "secret", "password", "passwd", "cookie")
_SECRET_NAMES = frozenset(("key", "auth", "sig", "signature", "code", "pwd", "x-api-key", "credential", "credentials"))


def is_secret_name(name: str) -> bool:
    """Whether a header or query parameter of this name carries a credential."""
    low = name.strip().lower()
    return low in _SECRET_NAMES or any(part in low for part in _SECRET_PARTS) or low.endswith(("-key", "_key"))


def redact_headers(headers: Mapping[str, Any]) -> dict[str, Any]:
    """`headers` with the values of credential-like names replaced by `***`."""
    return {k: (REDACTED if is_secret_name(str(k)) else v) for k, v in headers.items()}


def has_userinfo(url: str) -> bool:
    """Whether `url` has a `user[:password]@` part."""
    # urllib.parse (~2 ms to import, with ipaddress) loads with the first URL checked, not with
    # `import agentickit`; the HTTP transports that take URLs import it anyway.
    from urllib.parse import urlsplit

    try:
        return "@" in urlsplit(url).netloc
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """`url` without its password (and user name) and with credential-like query values as `***`."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a URL that cannot be parsed>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in pairs], safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def userinfo_message(url: str) -> str:
    """The error for a base_url with `user:password@` (aiohttp and the SDKs reject it at every request)."""
    return (
        f"base_url must not hold a user name or password ({redact_url(url)}); pass the key as "
        "LLMConfig(api_key=...) or as a header in options={'headers': {...}}"
    )
