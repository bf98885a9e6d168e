"""The agentickit exception tree.

Every error says what went wrong and what to change. Misuse is raised when the mistake is made
(construction, configuration); run errors are raised by a run and carry what is known about it.

```
AgentickitError
├── UserError                  misuse: fix the code or the config
│   ├── ConfigError            a config file or key is wrong (file, key path, expectation)
│   ├── UnknownProviderError   "provider:model" names a provider we do not have
│   └── MissingAPIKeyError     the provider needs a key and none was found
├── RunError                   something failed while running
│   ├── ProviderError          the model provider failed
│   │   ├── ProviderHTTPError  ... with an HTTP status and body
│   │   │   ├── AuthenticationError   401/403
│   │   │   ├── BadRequestError       400/404/422
│   │   │   ├── RateLimitError        429 (retried with backoff first)
│   │   │   └── ServerError           5xx (retried with backoff first)
│   │   ├── ProviderTimeoutError      the provider did not answer in time
│   │   ├── ProviderConnectionError   the provider could not be reached
│   │   └── BadResponseError          the provider answered something we cannot read
│   │       ├── TruncatedResponseError   ... a stream that stopped before its end (retried)
│   │       └── ResponseTooLargeError    ... a response past the size cap
│   ├── RunTimeoutError        the run's own deadline passed
│   ├── RunCancelledError      the run was cancelled (stream.cancel(), on_chunk returned False)
│   ├── UsageLimitExceeded     max_tool_rounds (or another limit) reached
│   ├── ToolError              a tool failed in a way the run cannot hide from the caller
│   │   └── ToolArgumentsError the model sent arguments that fail validation
│   ├── WorkflowError          a workflow is malformed or failed
│   │   └── WorkflowTimeoutError   ... because its timeout ran out (also a RunTimeoutError)
│   └── MCPError               an MCP server failed (start, connect, call)
```
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "AgentickitError",
    "AuthenticationError",
    "BadRequestError",
    "BadResponseError",
    "ConfigError",
    "MCPError",
    "MissingAPIKeyError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeoutError",
    "RateLimitError",
    "ResponseTooLargeError",
    "RunCancelledError",
    "RunError",
    "RunTimeoutError",
    "ServerError",
    "ToolArgumentsError",
    "ToolError",
    "TruncatedResponseError",
    "UnknownProviderError",
    "UsageLimitExceeded",
    "UserError",
    "WorkflowError",
    "WorkflowTimeoutError",
)


class AgentickitError(Exception):
    """Base class of every error agentickit raises."""


class UserError(AgentickitError):
    """The framework was used wrongly; the message says what to change."""


class ConfigError(UserError):
    """A configuration value is missing, unknown or of the wrong type."""


class UnknownProviderError(UserError):
    """An LLM provider name is not one agentickit knows."""


class MissingAPIKeyError(UserError):
    """A provider needs an API key and none was configured."""


class RunError(AgentickitError):
    """A run failed. Subclasses say why."""


class ProviderError(RunError):
    """The model provider failed to produce a usable answer.

    Attributes:
        provider: the provider name (`openai`, `anthropic`, ...).
        model: the model name.

    """

    def __init__(self, message: str, *, provider: str | None = None, model: str | None = None) -> None:
        super().__init__(message)
        self.provider = provider
        self.model = model


class ProviderHTTPError(ProviderError):
    """The provider answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        body: the response body, decoded as far as possible.
        retry_after: seconds the server asked us to wait, if it said.

    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        status: int,
        body: Any = None,
        retry_after: float | None = None,
        provider: str | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, model=model)
        self.status = status
        self.body = body
        self.retry_after = retry_after


class AuthenticationError(ProviderHTTPError):
    """The provider rejected the API key (401/403): check the key and its permissions."""


class BadRequestError(ProviderHTTPError):
    """The provider rejected the request (400/404/422): usually a wrong model name or parameter."""


class RateLimitError(ProviderHTTPError):
    """The provider said 429 Too Many Requests, and retries did not get through."""

    retryable = True


class ServerError(ProviderHTTPError):
    """The provider failed with a 5xx status, and retries did not get through."""

    retryable = True


class ProviderTimeoutError(ProviderError):
    """The provider did not answer within the configured timeout."""

    retryable = True


class ProviderConnectionError(ProviderError):
    """The provider could not be reached (connection refused, DNS, reset)."""

    retryable = True


class BadResponseError(ProviderError):
    """The provider answered with something that is not a valid completion (malformed JSON, missing fields)."""


class TruncatedResponseError(BadResponseError):
    """A stream closed cleanly before it was complete (no `finish_reason`, no `[DONE]`).

    Retried like a dropped connection when nothing of the answer reached the caller yet.
    """

    retryable = True


class ResponseTooLargeError(BadResponseError):
    """A response grew past the configured size cap (`options["max_response_bytes"]`)."""


class RunTimeoutError(RunError, TimeoutError):
    """The run did not finish within its `timeout`."""


class RunCancelledError(RunError):
    """The run was cancelled before it finished."""


class UsageLimitExceeded(RunError):
    """A usage limit such as `max_tool_rounds` was reached before the model gave a final answer."""


class ToolError(RunError):
    """A tool failed.

    Attributes:
        tool_name: the tool's name.

    """

    def __init__(self, message: str, *, tool_name: str | None = None) -> None:
        super().__init__(message)
        self.tool_name = tool_name


class ToolArgumentsError(ToolError):
    """The model called a tool with arguments that fail validation."""


class WorkflowError(RunError):
    """A workflow is malformed (duplicate names, unknown dependencies, cycles) or failed.

    Attributes:
        result: for a failed run, the partial `WorkflowResult` (every step's status and output).

    """

    def __init__(self, message: str, *, result: Any = None) -> None:
        super().__init__(message)
        self.result = result


class WorkflowTimeoutError(WorkflowError, RunTimeoutError):
    """A workflow's `timeout` ran out; `result` holds what finished (catch it as either parent)."""


class MCPError(RunError):
    """An MCP server could not be started, reached or called."""


def is_retryable(exc: BaseException) -> bool:
    """Whether a provider error is worth retrying (429, 5xx, timeouts, connection failures)."""
    return bool(getattr(exc, "retryable", False))
