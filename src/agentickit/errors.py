"""The agentickit exception tree.

Every error says what went wrong and what to change. Misuse is raised when the mistake is made
(construction, configuration); run errors are raised by a run and carry what is known about it.

```
AgentickitError
├── UserError                  misuse: fix the code or the config
│   ├── ConfigError            a config file or key is wrong (file, key path, expectation)
│   │   └── ConfigFileError    ... in a file: with its path, key path and TOML position
│   ├── UnknownProviderError   "provider:model" names a provider we do not have
│   ├── MissingAPIKeyError     the provider needs a key and none was found
│   └── UnsupportedContentError  the provider cannot take an input kind (audio, a document URL, ...)
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
│   │   ├── ToolArgumentsError the model sent arguments that fail validation
│   │   └── ToolTimeoutError   a tool call ran past its timeout (also a TimeoutError)
│   ├── WorkflowError          a workflow is malformed or failed
│   │   ├── WorkflowTimeoutError   ... because its timeout ran out (also a RunTimeoutError)
│   │   └── WorkflowDepthError     ... because workflows nested deeper than max_depth
│   ├── MCPError               an MCP server failed (start, connect, call)
│   └── OutputValidationError  the answer did not fit `output_type`, after `output_retries` corrections
└── ModelRetry                 raised by a tool or output validator: "tell the model why, let it try again"
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
    "ConfigFileError",
    "MCPError",
    "MissingAPIKeyError",
    "ModelRetry",
    "OutputValidationError",
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
    "ToolTimeoutError",
    "TruncatedResponseError",
    "UnknownProviderError",
    "UnsupportedContentError",
    "UsageLimitExceeded",
    "UserError",
    "WorkflowDepthError",
    "WorkflowError",
    "WorkflowTimeoutError",
)


class AgentickitError(Exception):
    """Base class of every error agentickit raises."""


class UserError(AgentickitError):
    """The framework was used wrongly; the message says what to change."""


class ConfigError(UserError):
    """A configuration value is missing, unknown or of the wrong type."""


class ConfigFileError(ConfigError):
    """A config file is wrong: not TOML, an unknown key, a wrong type or value, a missing key.

    Attributes:
        path: the file (or `"<string>"`).
        key: the key path, e.g. `llm.temperature` or `workflow.steps[1].depends_on`, if known.
        line: 1-based line of a TOML syntax error, if known.
        column: 1-based column of a TOML syntax error, if known.

    """

    def __init__(
        self,
        message: str,
        *,
        path: str,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.key = key
        self.line = line
        self.column = column


class UnknownProviderError(UserError):
    """An LLM provider name is not one agentickit knows."""


class MissingAPIKeyError(UserError):
    """A provider needs an API key and none was configured."""


class UnsupportedContentError(UserError):
    """A provider cannot take a kind of input (an image, audio, a document) that the run gave it.

    Attributes:
        provider: the provider's name.
        kind: the input's kind, e.g. `BinaryContent(audio/wav)` or `DocumentUrl`.

    """

    def __init__(self, message: str, *, provider: str, kind: str) -> None:
        super().__init__(message)
        self.provider = provider
        self.kind = kind


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
    """A usage limit (`max_tool_rounds`, or one of `UsageLimits`) was reached before the final answer.

    Attributes:
        limit: the limit's name, e.g. `total_tokens_limit` (None for `max_tool_rounds`).
        value: the value reached (or that the next step would reach).
        result: the partial `Result` (messages, usage and tool calls so far), when a run raised it.

    """

    def __init__(
        self, message: str, *, limit: str | None = None, value: float | None = None, result: Any = None
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.result = result


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


class ToolTimeoutError(ToolError, TimeoutError):
    """A tool call ran past its timeout and was cancelled.

    Attributes:
        timeout: the limit in seconds.

    """

    def __init__(self, message: str, *, tool_name: str | None = None, timeout: float) -> None:
        super().__init__(message, tool_name=tool_name)
        self.timeout = timeout


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


class WorkflowDepthError(WorkflowError):
    """Workflows nested deeper than a `max_depth` allows (often a workflow that contains itself)."""


class MCPError(RunError):
    """An MCP server could not be started, reached or called."""


class OutputValidationError(RunError):
    """The model's answer did not validate as the run's `output_type`, after every correction it was sent.

    No default-filled object is made up: the caller gets this error, with what the model last said.

    Attributes:
        raw: the model's last answer as raw text (the JSON it sent, or its prose).
        errors: why each attempt failed, oldest first (validation errors as text, `ModelRetry` reasons).
        attempts: how many answers were checked (1 + the corrections sent).
        output_type: the type the answer had to fit.
        result: the partial `Result` (messages, usage and tool calls so far), `output` unset.

    """

    def __init__(
        self,
        message: str,
        *,
        raw: str = "",
        errors: list[str] | None = None,
        attempts: int = 0,
        output_type: Any = None,
        result: Any = None,
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.errors = errors if errors is not None else []
        self.attempts = attempts
        self.output_type = output_type
        self.result = result


class ModelRetry(AgentickitError):
    """Raised by a tool or an output validator to send the model a correction: `raise ModelRetry("why")`.

    Not a run failure: the message goes back to the model (as the tool's result, or as a correction
    of its answer) and the model tries again. For an answer this counts against `output_retries`;
    once they are used up the run raises `OutputValidationError`.
    """


def is_retryable(exc: BaseException) -> bool:
    """Whether a provider error is worth retrying (429, 5xx, timeouts, connection failures)."""
    return bool(getattr(exc, "retryable", False))
