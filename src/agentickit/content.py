"""Images, audio and documents as model input: `ImageUrl`, `DocumentUrl`, `AudioUrl`, `BinaryContent`.

```python
await agent.run(["What is in this picture?", ak.ImageUrl("https://example.com/cat.png")])
await agent.run(["Summarize this", ak.BinaryContent(pdf_bytes, media_type="application/pdf")])
```

A plain string stays the common case and costs nothing extra. Non-text parts ride on
`Message.parts`; each provider maps them to its own wire format (OpenAI `image_url` /
`input_audio` / `file` parts, Anthropic `image` / `document` blocks) and raises
`UnsupportedContentError` naming the kind and the provider when its API cannot take one.
`BinaryContent` keeps its bytes once and encodes them to base64 once, however many turns of the
conversation send it again.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from .errors import UnsupportedContentError, UserError

__all__ = (
    "AudioUrl",
    "BinaryContent",
    "ContentPart",
    "DocumentUrl",
    "ImageUrl",
    "UserContent",
    "split_user_content",
    "unsupported",
)


@dataclass(frozen=True, slots=True)
class ImageUrl:
    """An image the provider fetches itself (`https://...` or a `data:` URL)."""

    url: str
    media_type: str | None = None
    """`image/png`, ...; some providers need it for `data:` URLs, most infer it."""
    kind: Literal["image-url"] = "image-url"


@dataclass(frozen=True, slots=True)
class DocumentUrl:
    """A document (PDF, text) the provider fetches itself."""

    url: str
    media_type: str | None = None
    kind: Literal["document-url"] = "document-url"


@dataclass(frozen=True, slots=True)
class AudioUrl:
    """An audio file the provider fetches itself."""

    url: str
    media_type: str | None = None
    kind: Literal["audio-url"] = "audio-url"


@dataclass(frozen=True, slots=True)
class BinaryContent:
    """Bytes with their media type: an image, audio clip or document sent inline.

    Args:
        data: the raw bytes (kept as given, never copied).
        media_type: e.g. `image/png`, `audio/wav`, `application/pdf`, `text/plain`.

    Raises:
        UserError: `data` is not bytes or `media_type` is not `type/subtype`.

    """

    data: bytes
    media_type: str
    kind: Literal["binary"] = "binary"
    _b64: list[str] = field(default_factory=list[str], repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes | bytearray | memoryview):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(f"BinaryContent.data must be bytes, got {type(self.data).__name__}")
        if not isinstance(self.media_type, str) or "/" not in self.media_type:  # pyright: ignore[reportUnnecessaryIsInstance]
            raise UserError(f"BinaryContent.media_type must look like 'image/png', got {self.media_type!r}")

    @property
    def is_image(self) -> bool:
        """Whether this is an image (`image/*`)."""
        return self.media_type.startswith("image/")

    @property
    def is_audio(self) -> bool:
        """Whether this is audio (`audio/*`)."""
        return self.media_type.startswith("audio/")

    @property
    def is_document(self) -> bool:
        """Whether this is a document (neither image nor audio: PDF, text, ...)."""
        return not (self.is_image or self.is_audio)

    @property
    def base64(self) -> str:
        """The data as base64 text, encoded on first use and then kept."""
        cached = self._b64
        if not cached:
            cached.append(base64.b64encode(self.data).decode("ascii"))
        return cached[0]

    @property
    def data_url(self) -> str:
        """A `data:` URL of the content."""
        return f"data:{self.media_type};base64,{self.base64}"

    def __repr__(self) -> str:
        return f"BinaryContent(<{len(self.data)} bytes>, media_type={self.media_type!r})"


ContentPart = ImageUrl | DocumentUrl | AudioUrl | BinaryContent
"""A non-text part of a message."""

UserContent = str | Sequence[str | ContentPart]
"""What `Agent.run` takes: a string, or a list of strings and content parts."""

_PART_TYPES = (ImageUrl, DocumentUrl, AudioUrl, BinaryContent)


def split_user_content(query: object) -> tuple[str, tuple[ContentPart, ...]]:
    """`query` as (text, non-text parts): strings are joined with blank lines, parts kept in order.

    Raises:
        UserError: `query` is neither a string nor a list of strings and content parts.

    """
    if isinstance(query, str):
        return query, ()
    if not isinstance(query, list | tuple):
        raise UserError(
            f"the query must be a string, got {type(query).__name__}; images, audio and documents go in a list "
            "of strings and content parts, e.g. ['What is this?', ak.ImageUrl(...)] (ak.ImageUrl, "
            "ak.BinaryContent, ak.DocumentUrl, ak.AudioUrl)"
        )
    texts: list[str] = []
    parts: list[ContentPart] = []
    for i, item in enumerate(query):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, _PART_TYPES):
            parts.append(item)
        else:
            raise UserError(
                f"query item {i} is a {type(item).__name__}; use strings, ak.ImageUrl, ak.BinaryContent, "  # pyright: ignore[reportUnknownArgumentType]
                "ak.DocumentUrl or ak.AudioUrl"
            )
    return "\n\n".join(texts), tuple(parts)


def describe_part(part: ContentPart) -> str:
    """A short name of a part's kind for error messages, e.g. `BinaryContent(audio/wav)`."""
    if isinstance(part, BinaryContent):
        return f"BinaryContent({part.media_type})"
    return type(part).__name__


def unsupported(part: ContentPart, provider: str, accepted: str) -> UnsupportedContentError:
    """The error for a part `provider` cannot take; `accepted` says what it does take."""
    return UnsupportedContentError(
        f"the {provider} provider cannot take {describe_part(part)} as input; it accepts {accepted}",
        provider=provider,
        kind=describe_part(part),
    )
